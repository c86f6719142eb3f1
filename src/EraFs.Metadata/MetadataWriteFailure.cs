using EraFs.Core;

namespace EraFs.Metadata;

/// <summary>Turns a failed write or sync of the metadata file into an exception naming the file.</summary>
internal static class MetadataWriteFailure
{
    public static void Guard(IBlockDevice device, string what, Action action)
    {
        try
        {
            action();
        }
        catch (IOException e)
        {
            throw new MetadataException($"{device.Name}: {what} failed: {e.Message}", e);
        }
    }
}

using EraFs.Core;

namespace EraFs.Metadata;

/// <summary>Opens metadata files as block devices, reporting failures as <see cref="MetadataException"/>.</summary>
public static class MetadataFile
{
    /// <summary>Opens (or with create, creates) the file; errors name the path.</summary>
    public static IBlockDevice Open(string path, bool writable, bool create = false)
    {
        try
        {
            return Storage.FileBlockDevice.Open(path, "metadata", writable, create);
        }
        catch (IOException e)
        {
            throw new MetadataException(e.Message, e);
        }
    }
}

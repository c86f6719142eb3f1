using EraFs.Core;

namespace EraFs.Metadata;

/// <summary>Whole-block reads and writes on a device, with I/O failures reported against the file.</summary>
internal static class BlockIo
{
    /// <summary>Reads one block; bytes past the end of the device read as zero. Returns the bytes that existed.</summary>
    public static int ReadBlock(IBlockDevice device, ulong blockNr, Span<byte> buffer)
    {
        var total = 0;
        try
        {
            while (total < BlockFormat.BlockSize)
            {
                var n = device.Read((long)blockNr * BlockFormat.BlockSize + total, buffer[total..BlockFormat.BlockSize]);
                if (n <= 0) break;
                total += n;
            }
        }
        catch (IOException e)
        {
            throw new MetadataException($"{device.Name}: reading block {blockNr} failed: {e.Message}", e);
        }
        buffer[total..BlockFormat.BlockSize].Clear();
        return total;
    }
}

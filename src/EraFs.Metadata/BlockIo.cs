using EraFs.Core;

namespace EraFs.Metadata;

/// <summary>Whole-block reads and writes on a device, with I/O failures reported against the file.</summary>
internal static class BlockIo
{
    /// <summary>Blocks a file can hold: the byte offset of every block below this fits in a long.</summary>
    public const ulong MaxBlocks = long.MaxValue / BlockFormat.BlockSize;

    /// <summary>Reads one block; bytes past the end of the device read as zero. Returns the bytes that existed.</summary>
    public static int ReadBlock(IBlockDevice device, ulong blockNr, Span<byte> buffer)
    {
        // Block numbers come from the file itself; a damaged one must not wrap into a negative or unrelated offset.
        if (blockNr >= MaxBlocks)
            throw new MetadataCorruptException($"{device.Name}: block {blockNr}: lies past the largest offset a file can have");
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

namespace EraFs.Tools.DmEra;

/// <summary>
/// dm-era metadata assembled in memory: the blocks allocated so far (numbered from 0, in allocation
/// order) inside a device of <see cref="TotalBlocks"/> blocks whose other blocks read as zero.
/// Blocks are sealed by their builders; the image only hands out numbers and serves bytes.
/// </summary>
public sealed class DmMetadataImage
{
    private readonly List<byte[]> _blocks = [];

    /// <summary>Size of the metadata device in blocks (what the space map manages).</summary>
    public ulong TotalBlocks { get; set; }

    public ulong AllocatedBlocks => (ulong)_blocks.Count;

    public long Length => (long)TotalBlocks * DmBlock.Size;

    public byte[] Allocate(out ulong location)
    {
        location = (ulong)_blocks.Count;
        var block = new byte[DmBlock.Size];
        _blocks.Add(block);
        return block;
    }

    public byte[] Block(ulong location) => _blocks[(int)location];

    /// <summary>Copies bytes from offset (zeros past the allocated blocks); returns the count, 0 at the end.</summary>
    public int Read(Span<byte> destination, long offset)
    {
        if (offset >= Length) return 0;
        var total = (int)Math.Min(destination.Length, Length - offset);
        var done = 0;
        while (done < total)
        {
            var position = offset + done;
            var index = position / DmBlock.Size;
            var within = (int)(position % DmBlock.Size);
            var n = Math.Min(total - done, DmBlock.Size - within);
            var target = destination.Slice(done, n);
            if (index < _blocks.Count) _blocks[(int)index].AsSpan(within, n).CopyTo(target);
            else target.Clear();
            done += n;
        }
        return total;
    }

    /// <summary>Writes the whole device image; unallocated blocks become holes.</summary>
    public void WriteTo(FileStream file)
    {
        file.SetLength(0);
        foreach (var block in _blocks) file.Write(block);
        file.SetLength(Length);
    }
}

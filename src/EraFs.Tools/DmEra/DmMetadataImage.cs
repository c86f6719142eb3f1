using Microsoft.Win32.SafeHandles;

namespace EraFs.Tools.DmEra;

/// <summary>Where dm-era metadata blocks go as a writer produces them: numbers are handed out in order from 0.</summary>
public interface IDmImageSink
{
    /// <summary>The next block number; the block reads as zero until written.</summary>
    ulong Allocate();

    /// <summary>Blocks allocated so far.</summary>
    ulong AllocatedBlocks { get; }

    /// <summary>Stores a sealed block at a number already allocated (each is written once, but the space map's blocks last).</summary>
    void Write(ulong location, ReadOnlySpan<byte> block);
}

/// <summary>
/// dm-era metadata written straight to a file as its blocks are produced: neighbouring blocks are
/// gathered into one write (after each of which <c>afterWrite</c> runs), and blocks never written
/// (the spare space) stay holes.
/// </summary>
public sealed class DmImageFile(SafeFileHandle file, Action? afterWrite = null) : IDmImageSink
{
    private const int GatherBlocks = 64;

    private readonly byte[] _gathered = new byte[GatherBlocks * DmBlock.Size];
    private ulong _gatheredFirst;
    private int _gatheredCount;
    private ulong _next;

    public ulong AllocatedBlocks => _next;

    public ulong Allocate() => _next++;

    public void Write(ulong location, ReadOnlySpan<byte> block)
    {
        if (_gatheredCount > 0 && (location != _gatheredFirst + (ulong)_gatheredCount || _gatheredCount == GatherBlocks)) Flush();
        if (_gatheredCount == 0) _gatheredFirst = location;
        block[..DmBlock.Size].CopyTo(_gathered.AsSpan(_gatheredCount * DmBlock.Size));
        _gatheredCount++;
    }

    /// <summary>Writes what is gathered and sizes the file to the device's whole length.</summary>
    public void Finish(ulong totalBlocks)
    {
        Flush();
        RandomAccess.SetLength(file, (long)totalBlocks * DmBlock.Size);
    }

    private void Flush()
    {
        if (_gatheredCount == 0) return;
        RandomAccess.Write(file, _gathered.AsSpan(0, _gatheredCount * DmBlock.Size), (long)_gatheredFirst * DmBlock.Size);
        _gatheredCount = 0;
        afterWrite?.Invoke();
    }
}

/// <summary>
/// dm-era metadata assembled in memory: the blocks allocated so far (numbered from 0, in allocation
/// order) inside a device of <see cref="TotalBlocks"/> blocks whose other blocks read as zero.
/// Blocks are sealed by their builders; the image only hands out numbers and serves bytes.
/// </summary>
public sealed class DmMetadataImage : IDmImageSink
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

    public ulong Allocate()
    {
        Allocate(out var location);
        return location;
    }

    public void Write(ulong location, ReadOnlySpan<byte> block) => block[..DmBlock.Size].CopyTo(_blocks[(int)location]);

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

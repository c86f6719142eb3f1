using EraFs.FileSystem;

namespace EraFs.Reliability.Tests;

/// <summary>
/// An in-memory origin with a volatile write cache (SQLite test6 semantics): writes stay pending until
/// <see cref="Sync"/>; at a power cut each pending 512-byte sector is persisted, dropped or turned to garbage.
/// Thread-safe, so concurrent writers can use it.
/// </summary>
internal sealed class VolatileOrigin(long size, int seed = 0) : IDeviceIo
{
    private const int Sector = 512;
    private readonly Lock _lock = new();
    private readonly byte[] _durable = new byte[size];
    private readonly byte[] _current = new byte[size];
    private readonly List<(long Offset, byte[] Data)> _pending = [];
    private readonly Random _random = new(seed);

    public long Size { get; } = size;
    public DateTime ModifiedUtc { get; } = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
    public long Writes { get; private set; }

    public int Read(Span<byte> buffer, long offset)
    {
        lock (_lock)
        {
            var n = (int)Math.Min(buffer.Length, Size - offset);
            _current.AsSpan((int)offset, n).CopyTo(buffer);
            return n;
        }
    }

    public int Write(ReadOnlySpan<byte> data, long offset)
    {
        lock (_lock)
        {
            Writes++;
            data.CopyTo(_current.AsSpan((int)offset));
            _pending.Add((offset, data.ToArray()));
            return data.Length;
        }
    }

    public int Zero(long offset, long length, bool punch)
    {
        var zeros = new byte[length];
        var rc = Write(zeros, offset);
        return rc < 0 ? rc : 0;
    }

    public int Sync(bool dataOnly)
    {
        lock (_lock)
        {
            foreach (var (offset, data) in _pending) data.CopyTo(_durable.AsSpan((int)offset));
            _pending.Clear();
            return 0;
        }
    }

    public int FlushDescriptor() => 0;

    /// <summary>What the image reads after a power cut now: pending sectors persisted, dropped or garbage by the mix.</summary>
    public byte[] AfterPowerCut((double Persist, double Drop) mix)
    {
        lock (_lock)
        {
            var image = (byte[])_durable.Clone();
            foreach (var (offset, data) in _pending)
            {
                for (var s = 0; s * Sector < data.Length; s++)
                {
                    var piece = data.AsSpan(s * Sector, Math.Min(Sector, data.Length - s * Sector));
                    var r = _random.NextDouble();
                    if (r < mix.Persist) piece.CopyTo(image.AsSpan((int)offset + s * Sector));
                    else if (r >= mix.Persist + mix.Drop) _random.NextBytes(image.AsSpan((int)offset + s * Sector, piece.Length));
                }
            }
            return image;
        }
    }

    /// <summary>The durable contents (as after a clean power cut with nothing pending).</summary>
    public byte[] Durable()
    {
        lock (_lock) return (byte[])_durable.Clone();
    }

    /// <summary>Blocks whose bytes differ between two images (oracle O1's D).</summary>
    public static SortedSet<ulong> ChangedBlocks(byte[] before, byte[] after, int blockSize)
    {
        var changed = new SortedSet<ulong>();
        for (var b = 0L; b * blockSize < before.Length; b++)
        {
            var len = (int)Math.Min(blockSize, before.Length - b * blockSize);
            if (!before.AsSpan((int)(b * blockSize), len).SequenceEqual(after.AsSpan((int)(b * blockSize), len))) changed.Add((ulong)b);
        }
        return changed;
    }
}

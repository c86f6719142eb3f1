using EraFs.Core;

namespace EraFs.TestSupport;

/// <summary>Thrown by <see cref="FaultyDevice"/> once its simulated power has been cut.</summary>
public sealed class PowerLossException() : IOException("simulated power loss");

/// <summary>Which error an injected I/O failure reports.</summary>
public enum FaultKind
{
    /// <summary>Input/output error (EIO).</summary>
    Eio,
    /// <summary>No space left on device (ENOSPC).</summary>
    Enospc,
}

/// <summary>
/// An in-memory device with a volatile write cache, after SQLite's crash VFS (test6.c): writes stay
/// pending until <see cref="Flush"/>; at a simulated power loss every pending write is, sector by
/// 512-byte sector, independently persisted, dropped or turned to garbage (3/8, 3/8, 1/4 by default,
/// seeded). It can also tear one write at chosen sectors and fail chosen operations with EIO or ENOSPC.
/// </summary>
public sealed class FaultyDevice : IBlockDevice
{
    public const int SectorSize = 512;

    private readonly List<(long Offset, byte[] Data)> _pending = [];
    private byte[] _durable;
    private long _durableLength;
    private byte[] _current;
    private long _length;
    private Random _random;
    private byte[]? _afterCrash;
    private long _afterCrashLength;

    /// <summary>A device whose durable contents are a copy of image (empty when null).</summary>
    public FaultyDevice(string name = "meta.bin", byte[]? image = null)
        : this(name, image?.ToArray() ?? [], image?.Length ?? 0)
    {
    }

    private FaultyDevice(string name, byte[] durable, long length)
    {
        Name = name;
        _durable = durable;
        _durableLength = length;
        _current = durable.AsSpan(0, (int)length).ToArray();
        _length = length;
        _random = new Random(0);
    }

    public string Name { get; }
    public long Length => _length;

    /// <summary>Write calls so far (the one that crashed included).</summary>
    public int Writes { get; private set; }

    /// <summary>Flush calls so far (the one that crashed included).</summary>
    public int Flushes { get; private set; }

    /// <summary>Writes plus flushes so far: the numbering <see cref="FailAtOperation"/> uses.</summary>
    public int Operations => Writes + Flushes;

    public bool Crashed { get; private set; }

    /// <summary>Cut the power during this write (1-based): it and every unflushed write meet the sector mix.</summary>
    public int? CrashAtWrite { get; set; }

    /// <summary>Cut the power at this flush (1-based), before it takes effect.</summary>
    public int? CrashAtFlush { get; set; }

    /// <summary>
    /// Cut the power during this write, persisting exactly the sectors whose bit is set (sectors past
    /// the 64th are dropped); earlier pending writes persist whole so the tear is the only damage.
    /// </summary>
    public (int Write, ulong SectorMask)? TearAtWrite { get; set; }

    /// <summary>Fail this operation (1-based, see <see cref="Operations"/>) and, when persistent, every later write and flush.</summary>
    public int? FailAtOperation { get; set; }
    public FaultKind FailKind { get; set; } = FaultKind.Eio;
    public bool FailPersistently { get; set; }

    /// <summary>Chances that a pending sector is persisted or dropped at power loss; the rest becomes garbage.</summary>
    public (double Persist, double Drop) SectorMix { get; set; } = (3.0 / 8, 3.0 / 8);

    public int Seed
    {
        set => _random = new Random(value);
    }

    /// <summary>The device as it comes back after the power loss (or, without one, its durable contents).</summary>
    public FaultyDevice Recover()
    {
        return Crashed
            ? new FaultyDevice(Name, _afterCrash!.AsSpan(0, (int)_afterCrashLength).ToArray(), _afterCrashLength)
            : new FaultyDevice(Name, _durable.AsSpan(0, (int)_durableLength).ToArray(), _durableLength);
    }

    /// <summary>A copy of what the device currently reads back.</summary>
    public byte[] Snapshot() => _current.AsSpan(0, (int)_length).ToArray();

    public int Read(long offset, Span<byte> buffer)
    {
        ThrowIfCrashed();
        if (offset >= _length) return 0;
        var n = (int)Math.Min(buffer.Length, _length - offset);
        _current.AsSpan((int)offset, n).CopyTo(buffer);
        return n;
    }

    public void Write(long offset, ReadOnlySpan<byte> data)
    {
        ThrowIfCrashed();
        Writes++;
        InjectFailure();
        var copy = data.ToArray();
        _pending.Add((offset, copy));
        Apply(ref _current, ref _length, offset, copy);
        if (TearAtWrite is { } tear && tear.Write == Writes)
        {
            var torn = _pending[^1];
            _pending.RemoveAt(_pending.Count - 1);
            foreach (var (o, d) in _pending) Apply(ref _durable, ref _durableLength, o, d);
            _pending.Clear();
            _pending.Add(torn);
            PowerLoss(sector => sector < 64 && (tear.SectorMask >> sector & 1) != 0 ? SectorFate.Persist : SectorFate.Drop);
        }
        if (CrashAtWrite == Writes) PowerLoss(_ => RandomFate());
    }

    public void Flush()
    {
        ThrowIfCrashed();
        Flushes++;
        if (CrashAtFlush == Flushes) PowerLoss(_ => RandomFate());
        InjectFailure();
        foreach (var (offset, data) in _pending) Apply(ref _durable, ref _durableLength, offset, data);
        _pending.Clear();
    }

    public void SetLength(long length)
    {
        ThrowIfCrashed();
        // Treated as a durable metadata change of the file, applied at once.
        Resize(ref _durable, ref _durableLength, length);
        Resize(ref _current, ref _length, length);
        foreach (var (offset, data) in _pending) Apply(ref _current, ref _length, offset, data);
    }

    public void Dispose()
    {
    }

    private enum SectorFate { Persist, Drop, Garbage }

    private SectorFate RandomFate()
    {
        var r = _random.NextDouble();
        return r < SectorMix.Persist ? SectorFate.Persist : r < SectorMix.Persist + SectorMix.Drop ? SectorFate.Drop : SectorFate.Garbage;
    }

    private void PowerLoss(Func<int, SectorFate> fateOfSector)
    {
        var image = _durable.AsSpan(0, (int)_durableLength).ToArray();
        var length = _durableLength;
        foreach (var (offset, data) in _pending)
        {
            for (var s = 0; s * SectorSize < data.Length; s++)
            {
                var piece = data.AsSpan(s * SectorSize, Math.Min(SectorSize, data.Length - s * SectorSize)).ToArray();
                switch (fateOfSector(s))
                {
                    case SectorFate.Persist:
                        Apply(ref image, ref length, offset + s * SectorSize, piece);
                        break;
                    case SectorFate.Garbage:
                        _random.NextBytes(piece);
                        Apply(ref image, ref length, offset + s * SectorSize, piece);
                        break;
                }
            }
        }
        _afterCrash = image;
        _afterCrashLength = length;
        _pending.Clear();
        Crashed = true;
        throw new PowerLossException();
    }

    private void InjectFailure()
    {
        if (FailAtOperation is not { } at) return;
        if (Operations == at || (FailPersistently && Operations > at))
            throw FailKind == FaultKind.Enospc
                ? new IOException("No space left on device", 28)
                : new IOException("Input/output error", 5);
    }

    private void ThrowIfCrashed()
    {
        if (Crashed) throw new PowerLossException();
    }

    private static void Apply(ref byte[] image, ref long length, long offset, ReadOnlySpan<byte> data)
    {
        var end = offset + data.Length;
        if (end > length) Resize(ref image, ref length, end);
        data.CopyTo(image.AsSpan((int)offset));
    }

    private static void Resize(ref byte[] image, ref long length, long newLength)
    {
        if (newLength > image.Length) Array.Resize(ref image, (int)Math.Max(newLength, image.Length * 2L));
        if (newLength < length) image.AsSpan((int)newLength, (int)(length - newLength)).Clear();
        length = newLength;
    }
}

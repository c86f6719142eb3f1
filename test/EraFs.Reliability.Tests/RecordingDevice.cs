using EraFs.Core;

namespace EraFs.Reliability.Tests;

/// <summary>
/// dm-log-writes for the metadata: an in-memory device that records every write, flush and resize in order,
/// so any prefix up to a flush (plus any subset of the writes after it) can be rebuilt afterwards.
/// </summary>
internal sealed class RecordingDevice(string name, byte[] image) : IBlockDevice
{
    private readonly Lock _lock = new();
    private readonly byte[] _initial = image.ToArray();
    private readonly List<Event> _events = [];
    private byte[] _current = image.ToArray();

    /// <summary>One recorded operation: a write (Data set), a flush, or a resize (Length set).</summary>
    public readonly record struct Event(long Offset, byte[]? Data, bool Flush, long? Length);

    public string Name { get; } = name;

    public long Length
    {
        get { lock (_lock) return _current.Length; }
    }

    public int Flushes { get; private set; }

    public IReadOnlyList<Event> Events
    {
        get { lock (_lock) return [.. _events]; }
    }

    public int Read(long offset, Span<byte> buffer)
    {
        lock (_lock)
        {
            if (offset >= _current.Length) return 0;
            var n = (int)Math.Min(buffer.Length, _current.Length - offset);
            _current.AsSpan((int)offset, n).CopyTo(buffer);
            return n;
        }
    }

    public void Write(long offset, ReadOnlySpan<byte> data)
    {
        lock (_lock)
        {
            Apply(ref _current, offset, data);
            _events.Add(new Event(offset, data.ToArray(), false, null));
        }
    }

    public void Flush()
    {
        lock (_lock)
        {
            Flushes++;
            _events.Add(new Event(0, null, true, null));
        }
    }

    public void SetLength(long length)
    {
        lock (_lock)
        {
            Array.Resize(ref _current, (int)length);
            _events.Add(new Event(0, null, false, length));
        }
    }

    public void Dispose()
    {
    }

    /// <summary>The image after every event before flush number <paramref name="flush"/> (0: before any), plus the chosen later writes.</summary>
    public byte[] ReplayTo(int flush, Func<int, bool> keepLaterWrite)
    {
        var image = _initial.ToArray();
        var seen = 0;
        var later = 0;
        foreach (var e in Events)
        {
            if (e.Flush)
            {
                if (seen++ == flush) break;
                continue;
            }
            // Events between flush f and f+1 count as "later": a crash may have persisted any subset of them.
            if (seen == flush && e.Data is not null && !keepLaterWrite(later++)) continue;
            if (e.Length is { } length) Array.Resize(ref image, (int)length);
            else if (e.Data is not null) Apply(ref image, e.Offset, e.Data);
        }
        return image;
    }

    private static void Apply(ref byte[] image, long offset, ReadOnlySpan<byte> data)
    {
        if (offset + data.Length > image.Length) Array.Resize(ref image, (int)(offset + data.Length));
        data.CopyTo(image.AsSpan((int)offset));
    }
}

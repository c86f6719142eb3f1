using System.Collections.Concurrent;

namespace EraFs.FileSystem;

/// <summary>What the device file system served since it mounted, counted lock-free for the metrics file.</summary>
public sealed class DeviceCounters
{
    private long _reads, _bytesRead, _writes, _bytesWritten, _discards, _bytesDiscarded, _failedWrites;
    private readonly ConcurrentDictionary<(string Control, bool Accepted), long> _controls = new();

    public long Reads => Interlocked.Read(ref _reads);

    public long BytesRead => Interlocked.Read(ref _bytesRead);

    /// <summary>Writes to <c>device</c> that reached the origin.</summary>
    public long Writes => Interlocked.Read(ref _writes);

    public long BytesWritten => Interlocked.Read(ref _bytesWritten);

    /// <summary>Writes and discards answered with an error (refused by tracking or failed at the origin).</summary>
    public long FailedWrites => Interlocked.Read(ref _failedWrites);

    /// <summary>Discards and zeroings (fallocate punch-hole or zero-range) that reached the origin.</summary>
    public long Discards => Interlocked.Read(ref _discards);

    public long BytesDiscarded => Interlocked.Read(ref _bytesDiscarded);

    /// <summary>Writes to each control file, accepted or refused.</summary>
    public IReadOnlyList<(string Control, bool Accepted, long Count)> ControlWrites =>
        [.. _controls.OrderBy(c => c.Key.Control, StringComparer.Ordinal).ThenBy(c => c.Key.Accepted).Select(c => (c.Key.Control, c.Key.Accepted, c.Value))];

    internal void Read(int bytes)
    {
        Interlocked.Increment(ref _reads);
        Interlocked.Add(ref _bytesRead, bytes);
    }

    internal void Written(int rc, long bytes) => Count(rc, bytes, ref _writes, ref _bytesWritten);

    internal void Discarded(int rc, long bytes) => Count(rc, bytes, ref _discards, ref _bytesDiscarded);

    private void Count(int rc, long bytes, ref long operations, ref long total)
    {
        if (rc < 0)
        {
            Interlocked.Increment(ref _failedWrites);
            return;
        }
        Interlocked.Increment(ref operations);
        Interlocked.Add(ref total, bytes);
    }

    internal void Control(string name, bool accepted) => _controls.AddOrUpdate((name, accepted), 1, (_, n) => n + 1);
}

namespace EraFs.FileSystem;

/// <summary>
/// Admits no two overlapping byte ranges at once, so two writes in flight to the same bytes reach the
/// origin and every leg in the same order: without it, o(A) o(B) l(B) l(A) leaves the leg holding A
/// and the origin B, and reads of that block flip with the leg they go to.
/// </summary>
internal sealed class WriteOrder
{
    private readonly List<(long Start, long End)> _inFlight = [];

    /// <summary>Waits until no admitted range overlaps [offset, offset+length), then admits it until the scope ends.</summary>
    public Scope Enter(long offset, long length)
    {
        var range = (offset, offset + Math.Max(length, 1));
        lock (_inFlight)
        {
            while (Overlaps(range)) Monitor.Wait(_inFlight);
            _inFlight.Add(range);
        }
        return new Scope(this, range);
    }

    // A handful of ranges are in flight (one per serving thread): a scan beats any index.
    private bool Overlaps((long Start, long End) range)
    {
        foreach (var r in _inFlight)
            if (r.Start < range.End && range.Start < r.End) return true;
        return false;
    }

    private void Exit((long Start, long End) range)
    {
        lock (_inFlight)
        {
            _inFlight.Remove(range);
            Monitor.PulseAll(_inFlight);
        }
    }

    /// <summary>An admitted range; disposing it lets overlapping writes go.</summary>
    public readonly struct Scope(WriteOrder order, (long Start, long End) range) : IDisposable
    {
        public void Dispose() => order.Exit(range);
    }
}

namespace EraFs.Core;

/// <summary>Blocks waiting for one group commit, gathered as runs in a reused array.</summary>
/// <remarks>Not thread-safe: the tracker guards it with its lock or owns it on the worker.</remarks>
internal sealed class MarkBatch
{
    private BlockRun[] _runs = new BlockRun[64];

    public int Count { get; private set; }

    public ReadOnlySpan<BlockRun> Runs => _runs.AsSpan(0, Count);

    public void Append(ulong start, ulong count)
    {
        if (count == 0) return;
        if (Count > 0 && _runs[Count - 1].End == start)
        {
            _runs[Count - 1] = _runs[Count - 1] with { Count = _runs[Count - 1].Count + count };
            return;
        }
        // Growing allocates, but the array is kept, so steady-state batches cost nothing.
        if (Count == _runs.Length) Array.Resize(ref _runs, _runs.Length * 2);
        _runs[Count++] = new BlockRun(start, count);
    }

    /// <summary>Sorts the runs and joins overlapping or touching ones, so the store sees as few runs as possible.</summary>
    public void SortAndMerge()
    {
        if (Count < 2) return;
        var span = _runs.AsSpan(0, Count);
        span.Sort(static (a, b) => a.Start.CompareTo(b.Start));
        var kept = 0;
        for (var i = 1; i < span.Length; i++)
        {
            var current = span[kept];
            if (span[i].Start <= current.End)
            {
                var end = Math.Max(current.End, span[i].End);
                span[kept] = new BlockRun(current.Start, end - current.Start);
            }
            else
            {
                span[++kept] = span[i];
            }
        }
        Count = kept + 1;
    }

    /// <summary>Whether the block is in one of the runs; only valid after <see cref="SortAndMerge"/>.</summary>
    public bool Contains(ulong block)
    {
        int low = 0, high = Count - 1;
        while (low <= high)
        {
            var mid = (low + high) >>> 1;
            var run = _runs[mid];
            if (block < run.Start) high = mid - 1;
            else if (block >= run.End) low = mid + 1;
            else return true;
        }
        return false;
    }

    public void Clear() => Count = 0;
}

using EraFs.Core;

namespace EraFs.Metadata;

/// <summary>Operations on ascending streams of block runs.</summary>
public static class BlockRuns
{
    /// <summary>Sorted, merged (overlapping and touching runs joined), empty runs dropped.</summary>
    public static List<BlockRun> Normalize(IEnumerable<BlockRun> runs)
    {
        var sorted = runs.Where(r => r.Count > 0).OrderBy(r => r.Start).ToList();
        var merged = new List<BlockRun>(sorted.Count);
        foreach (var run in sorted)
        {
            if (merged.Count > 0 && run.Start <= merged[^1].End)
            {
                var last = merged[^1];
                merged[^1] = new BlockRun(last.Start, Math.Max(last.End, run.End) - last.Start);
            }
            else merged.Add(run);
        }
        return merged;
    }

    /// <summary>The union of several ascending run streams, itself ascending and merged; consumes them lazily.</summary>
    public static IEnumerable<BlockRun> Union(IEnumerable<IEnumerable<BlockRun>> sources)
    {
        var queue = new PriorityQueue<IEnumerator<BlockRun>, ulong>();
        var all = new List<IEnumerator<BlockRun>>();
        try
        {
            foreach (var source in sources)
            {
                var e = source.GetEnumerator();
                all.Add(e);
                if (e.MoveNext()) queue.Enqueue(e, e.Current.Start);
            }
            ulong start = 0, end = 0;
            var open = false;
            while (queue.TryDequeue(out var e, out _))
            {
                var run = e.Current;
                if (open && run.Start <= end) end = Math.Max(end, run.End);
                else
                {
                    if (open) yield return new BlockRun(start, end - start);
                    (start, end, open) = (run.Start, run.End, true);
                }
                if (e.MoveNext()) queue.Enqueue(e, e.Current.Start);
            }
            if (open) yield return new BlockRun(start, end - start);
        }
        finally
        {
            foreach (var e in all) e.Dispose();
        }
    }

    /// <summary>The parts of ascending runs at or after a block.</summary>
    public static IEnumerable<BlockRun> From(IEnumerable<BlockRun> runs, ulong from)
    {
        foreach (var run in runs)
        {
            if (run.End <= from) continue;
            yield return run.Start >= from ? run : new BlockRun(from, run.End - from);
        }
    }
}

namespace EraFs.Tools;

/// <summary>
/// How far the streams of a history have been read, in blocks: each writeset and each era array
/// counts its blocks once per pass, so dump, export and import report through one measure
/// whichever format reads or writes them.
/// </summary>
public sealed class HistoryProgress(Action<ulong> report)
{
    private ulong _done;

    /// <summary>Blocks one pass over every stream of the history (or of its live view only) covers.</summary>
    public static ulong PassBlocks(StreamedHistory history, bool includeSnapshot = true)
    {
        ulong Of(StreamedView view) => view.Writesets.Aggregate(history.NrBlocks, (sum, w) => sum + w.NrBits);
        return Of(history.Live) + (includeSnapshot && history.Snapshot is { } s ? Of(s) : 0);
    }

    /// <summary>The same history, whose streams report the blocks they pass (cumulative over every pass).</summary>
    public StreamedHistory Observe(StreamedHistory history)
    {
        StreamedView Watched(StreamedView view) => new(view.CurrentEra, view.Writesets,
            i => Counted(view.WritesetRuns(i), r => r.End, view.Writesets[i].NrBits),
            () => Counted(view.EraRuns(), r => r.End, history.NrBlocks));
        return history with { Live = Watched(history.Live), Snapshot = history.Snapshot is { } s ? Watched(s) : null };
    }

    private IEnumerable<T> Counted<T>(IEnumerable<T> runs, Func<T, ulong> endOf, ulong length)
    {
        ulong position = 0;
        foreach (var run in runs)
        {
            var end = Math.Min(endOf(run), length);
            if (end > position)
            {
                _done += end - position;
                position = end;
                report(_done);
            }
            yield return run;
        }
        // Only a stream read to its end counts the blocks after its last run.
        _done += length - position;
        report(_done);
    }
}

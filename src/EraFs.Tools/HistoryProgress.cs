using EraFs.Core;

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

    /// <summary>Longest run a watched stream hands on in one piece: what a consumer that expands runs per block does between reports.</summary>
    public const ulong PieceBlocks = 1 << 16;

    /// <summary>
    /// The same history, whose streams report the blocks consumers are done with (cumulative over
    /// every pass). Long runs are handed on in pieces of at most <see cref="PieceBlocks"/>, which
    /// every visitor takes as it takes the XML reader's runs, so a single run over a 2 TiB origin
    /// still moves the count.
    /// </summary>
    public StreamedHistory Observe(StreamedHistory history)
    {
        StreamedView Watched(StreamedView view) => new(view.CurrentEra, view.Writesets,
            i => Counted(view.WritesetRuns(i), r => (r.Start, r.Count), (r, start, count) => new BlockRun(start, count), view.Writesets[i].NrBits),
            () => Counted(view.EraRuns(), r => (r.Start, r.Count), (r, start, count) => r with { Start = start, Count = count }, history.NrBlocks));
        return history with { Live = Watched(history.Live), Snapshot = history.Snapshot is { } s ? Watched(s) : null };
    }

    private IEnumerable<T> Counted<T>(IEnumerable<T> runs, Func<T, (ulong Start, ulong Count)> extent, Func<T, ulong, ulong, T> piece, ulong length)
    {
        ulong position = 0;
        void DoneUpTo(ulong end)
        {
            end = Math.Min(end, length);
            if (end <= position) return;
            _done += end - position;
            position = end;
            report(_done);
        }
        // The consumer asks for the next run only once it is done with the one before.
        foreach (var run in runs)
        {
            var (start, count) = extent(run);
            if (count <= PieceBlocks)
            {
                yield return run;
                DoneUpTo(start + count);
                continue;
            }
            for (ulong offset = 0; offset < count; offset += PieceBlocks)
            {
                var size = Math.Min(PieceBlocks, count - offset);
                yield return piece(run, start + offset, size);
                DoneUpTo(start + offset + size);
            }
        }
        // Only a stream read to its end counts the blocks after its last run.
        DoneUpTo(length);
    }
}

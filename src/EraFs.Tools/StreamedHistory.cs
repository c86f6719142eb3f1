using EraFs.Core;
using EraFs.Metadata;

namespace EraFs.Tools;

/// <summary>What a writeset is before its bits are read: its era and how many blocks it covers.</summary>
public readonly record struct WritesetShape(uint Era, ulong NrBits);

/// <summary>
/// One view of an era history whose shape (current era, writesets) is known up front and whose
/// content is read from its source only while it is visited, so no view ever sits in memory whole.
/// Each call of <see cref="WritesetRuns"/> or <see cref="EraRuns"/> reads the source again.
/// </summary>
public sealed class StreamedView(
    uint currentEra,
    IReadOnlyList<WritesetShape> writesets,
    Func<int, IEnumerable<BlockRun>> writesetRuns,
    Func<IEnumerable<EraRun>> eraRuns)
{
    public uint CurrentEra => currentEra;

    /// <summary>The writesets not yet folded into the era array, oldest era first.</summary>
    public IReadOnlyList<WritesetShape> Writesets => writesets;

    /// <summary>Ascending maximal set runs of writeset <paramref name="index"/>, below its NrBits.</summary>
    public IEnumerable<BlockRun> WritesetRuns(int index) => writesetRuns(index);

    /// <summary>Ascending runs of equal era; blocks no run covers are era 0.</summary>
    public IEnumerable<EraRun> EraRuns() => eraRuns();

    /// <summary>The same view with its writesets left out.</summary>
    public StreamedView WithoutWritesets(Func<WritesetShape, bool> leaveOut)
    {
        var kept = Enumerable.Range(0, writesets.Count).Where(i => !leaveOut(writesets[i])).ToList();
        return new StreamedView(currentEra, kept.ConvertAll(i => writesets[i]), i => writesetRuns(kept[i]), eraRuns);
    }

    /// <summary>
    /// The view as era_dump --logical shows it: no writesets, and each block given its newest era,
    /// that of the newest writeset holding it or else its era-array entry.
    /// </summary>
    public StreamedView Logical() =>
        new(currentEra, [], _ => [], () => NewestEras.Merge(eraRuns(), Enumerable.Range(0, writesets.Count).Select(i => (writesets[i].Era, writesetRuns(i))).ToList()));

    public void Accept(IEraHistoryVisitor visitor, uint blockSizeSectors, ulong nrBlocks)
    {
        visitor.BeginSuperblock(blockSizeSectors, nrBlocks, currentEra);
        for (var i = 0; i < writesets.Count; i++) visitor.Writeset(writesets[i].Era, writesets[i].NrBits, writesetRuns(i));
        visitor.EraArray(eraRuns());
        visitor.EndSuperblock();
    }

    /// <summary>A dense state streamed as a view (small histories, tests and salvage).</summary>
    public static StreamedView FromDense(EraState state) =>
        new(state.CurrentEra,
            state.Writesets.Select(w => new WritesetShape(w.Era, w.NrBits)).ToList(),
            i => state.Writesets[i].Runs(),
            () => RunsOf(state.Eras));

    /// <summary>Runs of equal era over a dense era array.</summary>
    public static IEnumerable<EraRun> RunsOf(uint[] eras)
    {
        var start = 0;
        for (var i = 1; i <= eras.Length; i++)
        {
            if (i < eras.Length && eras[i] == eras[start]) continue;
            yield return new EraRun((ulong)start, (ulong)(i - start), eras[start]);
            start = i;
        }
    }
}

/// <summary>
/// An era history whose views are read from their source as they are visited (the streamed form of
/// <see cref="EraHistory"/>): what every tool and the daemon's dm-era view pass along.
/// </summary>
public sealed record StreamedHistory(uint BlockSizeSectors, ulong NrBlocks, StreamedView Live, StreamedView? Snapshot)
{
    public uint BlockSizeBytes => BlockSizeSectors * 512;

    public static StreamedHistory FromDense(EraHistory history) =>
        new(history.BlockSizeSectors, history.NrBlocks, StreamedView.FromDense(history.Live),
            history.Snapshot is { } s ? StreamedView.FromDense(s) : null);

    /// <summary>Drives a visitor through the live view, or its logical form.</summary>
    public void Accept(IEraHistoryVisitor visitor, bool logical = false) =>
        (logical ? Live.Logical() : Live).Accept(visitor, BlockSizeSectors, NrBlocks);

    /// <summary>Reads every block of content once and drops it: a source that fails does so here, before anything is written.</summary>
    public void ReadThrough()
    {
        foreach (var view in Snapshot is null ? new[] { Live } : [Live, Snapshot])
        {
            for (var i = 0; i < view.Writesets.Count; i++)
                foreach (var _ in view.WritesetRuns(i)) { }
            foreach (var _ in view.EraRuns()) { }
        }
    }

    /// <summary>The whole history in dense form; only for histories known to be small.</summary>
    public EraHistory ToDense()
    {
        EraState Dense(StreamedView view)
        {
            var collector = new EraHistoryCollector();
            view.Accept(collector, BlockSizeSectors, NrBlocks);
            return collector.Result.Live;
        }
        return new EraHistory(BlockSizeSectors, NrBlocks, Dense(Live), Snapshot is null ? null : Dense(Snapshot));
    }
}

/// <summary>Merges an era array with writesets into each block's newest era, one pass over each stream.</summary>
internal static class NewestEras
{
    public static IEnumerable<EraRun> Merge(IEnumerable<EraRun> eraArray, IReadOnlyList<(uint Era, IEnumerable<BlockRun> Runs)> writesets)
    {
        var cursors = writesets.Select(w => new RunCursor(w.Era, w.Runs.GetEnumerator())).ToList();
        try
        {
            var pending = new EraRun(0, 0, 0);
            foreach (var run in eraArray)
            {
                var position = run.Start;
                while (position < run.End)
                {
                    var era = run.Era;
                    var end = run.End;
                    foreach (var cursor in cursors)
                    {
                        if (!cursor.SkipTo(position)) continue;
                        var current = cursor.Current;
                        if (current.Start <= position)
                        {
                            era = Math.Max(era, cursor.Era);
                            end = Math.Min(end, current.End);
                        }
                        else end = Math.Min(end, current.Start);
                    }
                    if (pending.Era == era && pending.End == position) pending = pending with { Count = pending.Count + (end - position) };
                    else
                    {
                        if (pending.Count > 0) yield return pending;
                        pending = new EraRun(position, end - position, era);
                    }
                    position = end;
                }
            }
            if (pending.Count > 0) yield return pending;
        }
        finally
        {
            foreach (var cursor in cursors) cursor.Dispose();
        }
    }

    /// <summary>A writeset's runs read one at a time, skipping those that end before a position.</summary>
    private sealed class RunCursor(uint era, IEnumerator<BlockRun> runs) : IDisposable
    {
        private bool _started;
        private bool _done;

        public uint Era => era;
        public BlockRun Current => runs.Current;

        /// <summary>Moves to the first run ending after position; false when there is none.</summary>
        public bool SkipTo(ulong position)
        {
            if (_done) return false;
            if (!_started)
            {
                _started = true;
                if (!runs.MoveNext()) return !(_done = true);
            }
            while (runs.Current.End <= position)
                if (!runs.MoveNext()) return !(_done = true);
            return true;
        }

        public void Dispose() => runs.Dispose();
    }
}

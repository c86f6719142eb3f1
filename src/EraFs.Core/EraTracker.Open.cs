using System.Globalization;

namespace EraFs.Core;

public sealed partial class EraTracker
{
    /// <summary>
    /// Opens tracking over an opened store. Every open starts a new era after archiving the committed current
    /// writeset, whether the last shutdown was clean or not, so no committed mark is ever lost.
    /// </summary>
    /// <exception cref="MetadataException">The metadata needs a check, or does not fit this origin or block size.</exception>
    public static EraTracker Open(IEraStore store, EraTrackerOptions options)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(options);
        var log = SafeLogger(options.Log);
        var state = store.OpenState;
        var recorded = store.Geometry;

        if (state.NeedsCheck)
            throw new MetadataException(
                $"the era metadata must be checked before use ({state.NeedsCheckReason ?? "no reason recorded"}); run the checker first");
        if (options.RequestedBlockSize is { } requested && requested != recorded.BlockSize)
            throw new MetadataException(
                $"changing the data block size (from {recorded.BlockSize} to {requested} bytes) is not supported");

        EraGeometry current;
        try
        {
            current = EraGeometry.For(options.OriginSize, recorded.BlockSize);
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new MetadataException($"the origin cannot be tracked: {e.Message}", e);
        }

        var grown = ResizeForOrigin(store, recorded, current, options.AllowShrink, log);

        uint era;
        try
        {
            era = store.Rollover();
        }
        catch (ControlRejectedException e) when (e.Error == ControlError.EraExhausted)
        {
            throw new MetadataException($"the era counter is exhausted at era {store.CurrentEra}; the history cannot be continued", e);
        }

        var tracker = new EraTracker(store, current, log);
        try
        {
            tracker._digestPending = true;
            if (state.WasClean && !SameInstant(state.RecordedOriginMtimeUtc, options.OriginMtimeUtc))
            {
                log(string.Create(CultureInfo.InvariantCulture,
                    $"warning: the origin changed while unmounted (mtime {Describe(state.RecordedOriginMtimeUtc)} recorded, {options.OriginMtimeUtc:O} now); every block counts as written in era {era} and a new generation starts"));
                tracker.CommitOnOpen(new BlockRun(0, current.NrBlocks));
                store.NewGeneration();
            }
            else
            {
                if (!state.WasClean)
                {
                    tracker._recovered = true;
                    log($"warning: the last shutdown was not clean; the committed marks were archived as era {era - 1} and era {era} starts");
                }
                if (grown.Count > 0) tracker.CommitOnOpen(grown);
            }

            // Last, so a crash anywhere above leaves the history "clean with the old mtime" and the
            // next open repeats the all-blocks marking instead of trusting a half-done open.
            store.SetClean(false, options.OriginMtimeUtc);
            tracker.Start();
            return tracker;
        }
        catch
        {
            tracker.Dispose();
            throw;
        }
    }

    /// <summary>Adapts the history to the origin's current size; returns the blocks holding bytes that did not exist before.</summary>
    private static BlockRun ResizeForOrigin(IEraStore store, EraGeometry recorded, EraGeometry current, bool allowShrink, Action<string> log)
    {
        if (current.OriginSize == recorded.OriginSize && current.NrBlocks == recorded.NrBlocks) return default;

        if (current.OriginSize < recorded.OriginSize)
        {
            if (!allowShrink)
                throw new MetadataException(string.Create(CultureInfo.InvariantCulture,
                    $"the origin shrank from {recorded.OriginSize} bytes ({recorded.NrBlocks} blocks) to {current.OriginSize} bytes ({current.NrBlocks} blocks); refusing to drop the history of the lost blocks unless shrinking is allowed"));
            store.Resize(current);
            log(string.Create(CultureInfo.InvariantCulture,
                $"warning: the origin shrank from {recorded.OriginSize} to {current.OriginSize} bytes; history of the lost blocks was dropped"));
            return default;
        }

        store.Resize(current);
        // The block holding the old end may be partial, and its new bytes count as written too.
        var firstNew = (ulong)(recorded.OriginSize / recorded.BlockSize);
        log(string.Create(CultureInfo.InvariantCulture,
            $"warning: the origin grew from {recorded.OriginSize} to {current.OriginSize} bytes; blocks {firstNew} to {current.NrBlocks - 1} count as written in the new era"));
        return new BlockRun(firstNew, current.NrBlocks - firstNew);
    }

    /// <summary>Marks a run before the worker exists (on the opening thread), durably, as written in the new era.</summary>
    private void CommitOnOpen(BlockRun run)
    {
        if (run.Count == 0) return;
        _store.CommitMarks([run]);
        _blocksWrittenThisEra += _durable.SetRange(run.Start, run.Count);
        _commits++;
    }

    private static bool SameInstant(DateTime? recorded, DateTime now) =>
        recorded is { } value && value.Ticks == now.Ticks;

    private static string Describe(DateTime? mtime) =>
        mtime is { } value ? value.ToString("O", CultureInfo.InvariantCulture) : "none";
}

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
        var current = Validate(store, options);
        var log = SafeLogger(options.Log);
        var state = store.OpenState;
        var recorded = store.Geometry;
        var grown = ResizeForOrigin(store, recorded, current, log);

        uint era;
        try
        {
            era = store.Rollover();
        }
        catch (ControlRejectedException e) when (e.Error == ControlError.EraExhausted)
        {
            throw new MetadataException($"the era counter is exhausted at era {store.CurrentEra}; the history cannot be continued", e);
        }

        var tracker = new EraTracker(store, current, log, options.WriteHorizon);
        try
        {
            tracker._digestPending = true;
            tracker._recovered = !state.WasClean;
            tracker._originCheck = CheckOrigin(state, options);
            if (!state.WasClean)
                log($"warning: the last shutdown was not clean; the committed marks were archived as era {era - 1} and era {era} starts");
            var changed = tracker._originCheck switch
            {
                OriginCheck.ChangedWhileUnmounted => string.Create(CultureInfo.InvariantCulture,
                    $"the origin changed while unmounted (mtime {Describe(state.RecordedOriginMtimeUtc)} recorded, {options.OriginMtimeUtc:O} now)"),
                OriginCheck.ChangedAfterCrash => string.Create(CultureInfo.InvariantCulture,
                    $"the origin changed after the crashed mount's last possible write (it could write until {Describe(state.WriteHorizonUtc)}, the origin changed at {LatestChange(options):O})"),
                OriginCheck.UncleanWithoutHorizon =>
                    "the crashed mount recorded no write horizon, so writes to the origin after the crash cannot be ruled out",
                _ => null,
            };
            if (changed is not null)
            {
                log($"warning: {changed}; every block counts as written in era {era} and a new generation starts");
                tracker.CommitOnOpen(new BlockRun(0, current.NrBlocks));
                store.NewGeneration();
            }
            else if (grown.Count > 0) tracker.CommitOnOpen(grown);

            // Last, so a crash anywhere above leaves the history "clean with the old mtime" (or unclean
            // with the old horizon) and the next open repeats the all-blocks marking instead of
            // trusting a half-done open. The horizon is set before the first write can reach the origin.
            store.SetClean(false, options.OriginMtimeUtc, tracker.NextHorizon());
            tracker.Start();
            return tracker;
        }
        catch
        {
            tracker.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Every refusal of <see cref="Open"/>, without writing anything: the metadata needs a check, the
    /// block size differs, the origin cannot be tracked or shrank without permission, the eras are used up.
    /// </summary>
    /// <returns>The geometry the history will have for this origin.</returns>
    public static EraGeometry Validate(IEraStore store, EraTrackerOptions options)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(options);
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
        if (current.OriginSize < recorded.OriginSize && !options.AllowShrink)
            throw new MetadataException(string.Create(CultureInfo.InvariantCulture,
                $"the origin shrank from {recorded.OriginSize} bytes ({recorded.NrBlocks} blocks) to {current.OriginSize} bytes ({current.NrBlocks} blocks); refusing to drop the history of the lost blocks unless shrinking is allowed"));
        if (store.CurrentEra == uint.MaxValue)
            throw new MetadataException($"the era counter is exhausted at era {store.CurrentEra}; the history cannot be continued");
        if (options.WriteHorizon <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(options), "the write horizon must be positive");
        return current;
    }

    /// <summary>
    /// Adapts the history to the origin's current size (a shrink was allowed by <see cref="Validate"/>);
    /// returns the blocks holding bytes that did not exist before.
    /// </summary>
    private static BlockRun ResizeForOrigin(IEraStore store, EraGeometry recorded, EraGeometry current, Action<string> log)
    {
        if (current.OriginSize == recorded.OriginSize && current.NrBlocks == recorded.NrBlocks) return default;

        if (current.OriginSize < recorded.OriginSize)
        {
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

    private static OriginCheck CheckOrigin(StoreOpenState state, EraTrackerOptions options)
    {
        if (state.WasClean)
            return SameInstant(state.RecordedOriginMtimeUtc, options.OriginMtimeUtc) ? OriginCheck.CleanShutdown : OriginCheck.ChangedWhileUnmounted;
        if (state.WriteHorizonUtc is not { } horizon) return OriginCheck.UncleanWithoutHorizon;
        return LatestChange(options) > horizon ? OriginCheck.ChangedAfterCrash : OriginCheck.UncleanShutdown;
    }

    private static DateTime LatestChange(EraTrackerOptions options) =>
        options.OriginChangedUtc is { } changed && changed > options.OriginMtimeUtc ? changed : options.OriginMtimeUtc;

    private static bool SameInstant(DateTime? recorded, DateTime now) =>
        recorded is { } value && value.Ticks == now.Ticks;

    private static string Describe(DateTime? mtime) =>
        mtime is { } value ? value.ToString("O", CultureInfo.InvariantCulture) : "none";
}

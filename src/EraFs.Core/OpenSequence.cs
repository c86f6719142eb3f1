using System.Globalization;

namespace EraFs.Core;

/// <summary>
/// Opening tracking over a store and recovering from what the last mount left: validate, fit the history
/// to the origin, start a new era, check the origin for writes that bypassed tracking, record the
/// history as in use with a write horizon, then start the worker.
/// </summary>
/// <remarks>
/// Every open starts a new era after archiving the committed current writeset, whether the last shutdown
/// was clean or not, so no committed mark is ever lost. The in-use record is written last, so a crash
/// anywhere before it leaves the history as it was and the next open repeats the whole sequence.
/// </remarks>
internal static class OpenSequence
{
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

        var commits = new GroupCommit(store, current.NrBlocks, log);
        try
        {
            var originCheck = CheckOrigin(state, options);
            var horizon = new WriteHorizon(options.WriteHorizon);
            var controls = new EraControls(store, current, commits, horizon, log, recovered: !state.WasClean, originCheck);
            if (!state.WasClean)
                log($"warning: the last shutdown was not clean; the committed marks were archived as era {era - 1} and era {era} starts");
            var changed = originCheck switch
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
                commits.CommitNow(new BlockRun(0, current.NrBlocks));
                store.NewGeneration();
            }
            else commits.CommitNow(grown);

            // Last, so a crash anywhere above leaves the history "clean with the old mtime" (or unclean
            // with the old horizon) and the next open repeats the all-blocks marking instead of
            // trusting a half-done open. The horizon is set before the first write can reach the origin.
            store.SetClean(false, options.OriginMtimeUtc, horizon.Next());
            controls.Publish();
            commits.Start(controls);
            return new EraTracker(current, commits, controls, horizon);
        }
        catch
        {
            commits.Dispose();
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

    /// <summary>What the open finds about writes to the origin that did not pass through a mount.</summary>
    public static OriginCheck CheckOrigin(StoreOpenState state, EraTrackerOptions options)
    {
        if (state.WasClean)
            return SameInstant(state.RecordedOriginMtimeUtc, options.OriginMtimeUtc) ? OriginCheck.CleanShutdown : OriginCheck.ChangedWhileUnmounted;
        if (state.WriteHorizonUtc is not { } horizon) return OriginCheck.UncleanWithoutHorizon;
        return LatestChange(options) > horizon ? OriginCheck.ChangedAfterCrash : OriginCheck.UncleanShutdown;
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

    private static Action<string> SafeLogger(Action<string>? log) => line =>
    {
        // A throwing logger must not take the worker (and every waiting writer) down with it.
        try
        {
            log?.Invoke(line);
        }
        catch (Exception)
        {
        }
    };

    private static DateTime LatestChange(EraTrackerOptions options) =>
        options.OriginChangedUtc is { } changed && changed > options.OriginMtimeUtc ? changed : options.OriginMtimeUtc;

    private static bool SameInstant(DateTime? recorded, DateTime now) =>
        recorded is { } value && value.Ticks == now.Ticks;

    private static string Describe(DateTime? mtime) =>
        mtime is { } value ? value.ToString("O", CultureInfo.InvariantCulture) : "none";
}

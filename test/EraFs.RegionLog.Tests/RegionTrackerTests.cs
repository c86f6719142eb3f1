using EraFs.Core;

namespace EraFs.RegionLog.Tests;

/// <summary>The region tracker's write path: marks durable before release, shared flushes, lazy clears, fail-safe refusals, recovery waits.</summary>
public sealed class RegionTrackerTests
{
    private const long RegionSize = 4096;

    /// <summary>A core log that counts flushes, can hold them back and can fail them.</summary>
    private sealed class ObservedLog() : CoreDirtyRegionLog(64 * 4096L, 4096L, RegionLogSync.Assume)
    {
        public int Flushes;
        public ManualResetEventSlim FlushGate { get; } = new(true);
        public bool Fail { get; set; }
        public bool DurablyDirty(ulong r) => !_durableClean.Contains(r) && _durableDirty.Contains(r);
        private readonly HashSet<ulong> _durableDirty = [];
        private readonly HashSet<ulong> _durableClean = [];

        public override void Flush()
        {
            FlushGate.Wait();
            Interlocked.Increment(ref Flushes);
            if (Fail) throw new RegionLogException("injected flush failure");
            for (var r = 0UL; r < RegionCount; r++)
            {
                if (IsClean(r)) { _durableDirty.Remove(r); _durableClean.Add(r); }
                else { _durableDirty.Add(r); _durableClean.Remove(r); }
            }
            base.Flush();
        }
    }

    [Test]
    public void A_write_is_released_only_after_its_regions_are_durably_dirty()
    {
        var log = new ObservedLog();
        using var tracker = new RegionTracker(log, 64 * RegionSize, () => true, cleanInterval: TimeSpan.FromHours(1));
        tracker.BeforeWrite(RegionSize - 100, 200);
        Assert.That(log.DurablyDirty(0) && log.DurablyDirty(1), Is.True);
        Assert.That(log.IsClean(2), Is.True);
        tracker.AfterWrite(RegionSize - 100, 200, true);
        Assert.That(tracker.DirtyRegions, Is.EqualTo(2));
    }

    [Test]
    public void May_wait_until_every_touched_region_is_marked()
    {
        var log = new ObservedLog();
        using var tracker = new RegionTracker(log, 64 * RegionSize, () => true, cleanInterval: TimeSpan.FromHours(1));
        Assert.That(tracker.MayWait(RegionSize - 100, 200), Is.True);
        tracker.BeforeWrite(RegionSize - 100, 100);
        Assert.That(tracker.MayWait(0, RegionSize), Is.False, "region 0 is marked");
        Assert.That(tracker.MayWait(RegionSize - 100, 200), Is.True, "region 1 is not");
        tracker.AfterWrite(RegionSize - 100, 100, true);
        Assert.That(tracker.MayWait(0, 0), Is.False, "an empty write never waits");
    }

    private static Thread Started(Action action)
    {
        var t = new Thread(() => action()) { IsBackground = true };
        t.Start();
        return t;
    }

    [Test]
    public void Concurrent_writers_share_one_flush()
    {
        var log = new ObservedLog();
        using var tracker = new RegionTracker(log, 64 * RegionSize, () => true, cleanInterval: TimeSpan.FromHours(1));
        log.FlushGate.Reset();
        // Dedicated threads: blocked pool threads would join the pool only slowly on two cores.
        var first = Started(() => tracker.BeforeWrite(0, 1));
        Thread.Sleep(100);
        var others = Enumerable.Range(1, 8).Select(i => Started(() => tracker.BeforeWrite(i * RegionSize, 1))).ToArray();
        Thread.Sleep(200);
        log.FlushGate.Set();
        Assert.That(new[] { first }.Concat(others).All(t => t.Join(TimeSpan.FromSeconds(10))), Is.True);
        Assert.That(log.Flushes, Is.LessThanOrEqualTo(2), "one flush for region 0, one for the eight writers that queued behind it");
    }

    [Test]
    public void Idle_regions_are_cleared_lazily_after_the_legs_were_flushed()
    {
        var log = new ObservedLog();
        var legFlushes = 0;
        using var tracker = new RegionTracker(log, 64 * RegionSize, () => { legFlushes++; return true; }, cleanInterval: TimeSpan.FromMilliseconds(50));
        tracker.BeforeWrite(0, 10);
        tracker.BeforeWrite(5 * RegionSize, 10);
        tracker.AfterWrite(0, 10, true);
        Assert.That(() => log.IsClean(0), Is.True.After(3000, 20));
        Assert.That(log.IsClean(5), Is.False, "a region with a write in flight stays dirty");
        Assert.That(legFlushes, Is.GreaterThanOrEqualTo(1));
        tracker.AfterWrite(5 * RegionSize, 10, true);
        tracker.Close();
        Assert.That(log.IsClean(5), Is.True, "a clean shutdown clears every idle region");
    }

    [Test]
    public void A_failed_leg_flush_keeps_regions_dirty()
    {
        var log = new ObservedLog();
        using var tracker = new RegionTracker(log, 64 * RegionSize, () => false, cleanInterval: TimeSpan.FromMilliseconds(20));
        tracker.BeforeWrite(0, 10);
        tracker.AfterWrite(0, 10, true);
        Thread.Sleep(200);
        Assert.That(log.IsClean(0), Is.False);
    }

    [Test]
    public void A_failed_log_flush_refuses_writes_that_need_a_new_mark_but_not_others()
    {
        var log = new ObservedLog();
        using var tracker = new RegionTracker(log, 64 * RegionSize, () => true, cleanInterval: TimeSpan.FromHours(1));
        tracker.BeforeWrite(0, 10);
        log.Fail = true;
        Assert.That(() => tracker.BeforeWrite(RegionSize, 10), Throws.TypeOf<TrackingFailedException>());
        Assert.That(log.IsClean(1) || !log.DurablyDirty(1), Is.True);
        Assert.That(() => tracker.BeforeWrite(0, 10), Throws.Nothing, "region 0 is already durably dirty");
    }

    [Test]
    public void May_wait_on_a_marked_region_while_it_is_recovered()
    {
        var log = new CoreDirtyRegionLog(8 * RegionSize, RegionSize, RegionLogSync.Default);
        using var tracker = new RegionTracker(log, 8 * RegionSize, () => true, cleanInterval: TimeSpan.FromHours(1));
        tracker.BeforeWrite(100, 10);
        tracker.AfterWrite(100, 10, true);
        Assert.That(tracker.MayWait(100, 10), Is.False, "region 0 is marked");
        Assert.That(tracker.TryBeginRecovery(out var r), Is.True);
        Assert.That(r, Is.Zero);
        Assert.That(tracker.MayWait(100, 10), Is.True, "a write to a region being recovered waits for the copy");
        tracker.EndRecovery(r, inSync: true);
        Assert.That(tracker.MayWait(100, 10), Is.True, "the log was told the recovered region is clean: the next write marks it afresh");
        tracker.BeforeWrite(100, 10);
        Assert.That(tracker.MayWait(100, 10), Is.False);
        tracker.AfterWrite(100, 10, true);
    }

    [Test]
    public void Writes_to_a_region_being_recovered_wait_for_it()
    {
        var log = new CoreDirtyRegionLog(8 * RegionSize, RegionSize, RegionLogSync.Default);
        using var tracker = new RegionTracker(log, 8 * RegionSize, () => true, cleanInterval: TimeSpan.FromHours(1));
        Assert.That(tracker.TryBeginRecovery(out var r), Is.True);
        Assert.That(r, Is.Zero);
        var write = Started(() => tracker.BeforeWrite(100, 10));
        Assert.That(write.Join(200), Is.False, "the write waits while region 0 is recovered");
        tracker.EndRecovery(r, inSync: true);
        Assert.That(write.Join(5000), Is.True);
        Assert.That(tracker.IsInSync(0), Is.True);
        Assert.That(log.SyncCount, Is.EqualTo(1UL));
    }

    [Test]
    public void Recovery_waits_for_an_in_flight_write_then_proceeds()
    {
        var log = new CoreDirtyRegionLog(8 * RegionSize, RegionSize, RegionLogSync.Default);
        using var tracker = new RegionTracker(log, 8 * RegionSize, () => true, cleanInterval: TimeSpan.FromHours(1));
        tracker.BeforeWrite(100, 10);
        var began = false;
        var recovery = Started(() => began = tracker.TryBeginRecovery(out _));
        Assert.That(recovery.Join(200), Is.False, "recovery waits while the write is in flight");
        tracker.AfterWrite(100, 10, true);
        Assert.That(recovery.Join(5000), Is.True, "the write's release wakes the recovery");
        Assert.That(began, Is.True);
    }

    [Test]
    public void Stopping_recovery_ends_its_wait_on_a_writer_that_never_finishes()
    {
        var log = new CoreDirtyRegionLog(8 * RegionSize, RegionSize, RegionLogSync.Default);
        using var tracker = new RegionTracker(log, 8 * RegionSize, () => true, cleanInterval: TimeSpan.FromHours(1));
        tracker.BeforeWrite(100, 10);
        var began = true;
        var recovery = Started(() => began = tracker.TryBeginRecovery(out _));
        Assert.That(recovery.Join(200), Is.False);
        tracker.CancelRecovery();
        Assert.That(recovery.Join(5000), Is.True, "an unmount is not held up by the writer");
        Assert.That(began, Is.False);
        Assert.That(tracker.IsInSync(0), Is.False, "the region stays out of sync for the next mount");
        Assert.That(tracker.TryBeginRecovery(out _), Is.False, "no recovery starts once stopped");
        tracker.AfterWrite(100, 10, true);
    }
}

using EraFs.TestSupport;

namespace EraFs.Core.Tests;

public class OpenSequenceTests
{
    private const long B = TrackedDevice.BlockSize;

    [Test]
    public void Every_open_starts_a_new_era_whether_the_last_stop_was_clean_or_not()
    {
        using var device = TrackedDevice.WithBlocks();
        Assert.That(device.Tracker.Status.CurrentEra, Is.EqualTo(1u));
        device.Remount(clean: true);
        Assert.That(device.Tracker.Status.CurrentEra, Is.EqualTo(2u));
        device.Remount(clean: false);
        Assert.That(device.Tracker.Status.CurrentEra, Is.EqualTo(3u));
    }

    [Test]
    public void An_unclean_stop_keeps_every_committed_mark()
    {
        using var device = TrackedDevice.WithBlocks();
        device.WriteBlock(2);
        device.WriteBlock(3);
        device.Remount(clean: false);

        Assert.Multiple(() =>
        {
            Assert.That(device.Store.WrittenSince(1), Is.EqualTo(new ulong[] { 2, 3 }));
            Assert.That(device.Store.WrittenSince(2), Is.Empty);
            Assert.That(device.Tracker.Status.RecoveredFromUncleanShutdown, Is.True);
            Assert.That(device.Log, Has.Some.Contains("not clean"));
            Assert.That(device.Store.NewGenerationCalls, Is.Zero);
            Assert.That(device.Store.RecordedClean, Is.False, "in use again");
        });
    }

    [Test]
    public void A_clean_stop_with_an_unchanged_origin_marks_nothing()
    {
        using var device = TrackedDevice.WithBlocks();
        device.WriteBlock(4);
        var commits = device.Store.CommitCalls;
        device.Remount(clean: true);
        Assert.Multiple(() =>
        {
            Assert.That(device.Store.CommitCalls, Is.EqualTo(commits));
            Assert.That(device.Store.WrittenSince(2), Is.Empty);
            Assert.That(device.Store.WrittenSince(1), Is.EqualTo(new ulong[] { 4 }));
            Assert.That(device.Log, Is.Empty);
        });
    }

    [Test]
    public void An_origin_modified_while_unmounted_is_all_written_in_a_new_generation()
    {
        using var device = TrackedDevice.WithBlocks(8 * B);
        var generation = device.Tracker.Status.Generation;
        device.Tracker.Close(MemoryEraStore.DefaultOriginMtime);
        device.Remount(clean: false, TrackedDevice.OptionsFor(8 * B, MemoryEraStore.DefaultOriginMtime.AddSeconds(1)));

        Assert.Multiple(() =>
        {
            Assert.That(device.Store.WrittenSince(2), Is.EqualTo(Enumerable.Range(0, 8).Select(i => (ulong)i)));
            Assert.That(device.Store.NewGenerationCalls, Is.EqualTo(1));
            Assert.That(device.Tracker.Status.Generation, Is.Not.EqualTo(generation));
            Assert.That(device.Tracker.Status.BlocksWrittenThisEra, Is.EqualTo(8UL));
            Assert.That(device.Log, Has.Some.Contains("changed while unmounted"));
        });
    }

    [Test]
    public void An_mtime_change_after_an_unclean_stop_is_expected_and_marks_nothing()
    {
        using var device = TrackedDevice.WithBlocks(8 * B);
        device.Remount(clean: false, TrackedDevice.OptionsFor(8 * B, MemoryEraStore.DefaultOriginMtime.AddSeconds(1)));
        Assert.Multiple(() =>
        {
            Assert.That(device.Store.WrittenSince(2), Is.Empty);
            Assert.That(device.Store.NewGenerationCalls, Is.Zero);
        });
    }

    [TestCase(16 * B, 20 * B, new ulong[] { 16, 17, 18, 19 })]
    [TestCase(16 * B + 100, 18 * B, new ulong[] { 16, 17 })]
    [TestCase(16 * B + 100, 16 * B + 200, new ulong[] { 16 })]
    public void A_grown_origin_marks_its_new_bytes_written(long before, long after, ulong[] expected)
    {
        using var device = TrackedDevice.WithBlocks(before);
        device.Remount(clean: true, TrackedDevice.OptionsFor(after));
        Assert.Multiple(() =>
        {
            Assert.That(device.Store.Geometry, Is.EqualTo(EraGeometry.For(after, TrackedDevice.BlockSize)));
            Assert.That(device.Tracker.Geometry.OriginSize, Is.EqualTo(after));
            Assert.That(device.Store.WrittenSince(2), Is.EqualTo(expected));
            Assert.That(device.Store.NewGenerationCalls, Is.Zero);
            Assert.That(device.Log, Has.Some.Contains("grew"));
        });
        device.Write(after - 1, 1);
    }

    [Test]
    public void A_shrunk_origin_is_refused_naming_both_sizes_and_changing_nothing()
    {
        using var device = TrackedDevice.WithBlocks(16 * B);
        device.Tracker.Close(MemoryEraStore.DefaultOriginMtime);
        device.Store.Remount();
        var error = Assert.Throws<MetadataException>(() => EraTracker.Open(device.Store, TrackedDevice.OptionsFor(12 * B)));
        Assert.Multiple(() =>
        {
            Assert.That(error!.Message, Does.Contain((16 * B).ToString()).And.Contain((12 * B).ToString()));
            Assert.That(device.Store.Geometry.NrBlocks, Is.EqualTo(16UL));
            Assert.That(device.Store.CurrentEra, Is.EqualTo(1u));
            Assert.That(device.Store.RecordedClean, Is.True);
        });
    }

    [Test]
    public void A_shrunk_origin_is_accepted_when_allowed()
    {
        using var device = TrackedDevice.WithBlocks(16 * B);
        device.Remount(clean: true, TrackedDevice.OptionsFor(12 * B, allowShrink: true));
        Assert.Multiple(() =>
        {
            Assert.That(device.Store.Geometry.NrBlocks, Is.EqualTo(12UL));
            Assert.That(device.Tracker.Status.CurrentEra, Is.EqualTo(2u));
            Assert.That(device.Log, Has.Some.Contains("shrank"));
        });
    }

    [Test]
    public void Metadata_that_needs_a_check_is_refused()
    {
        using var device = TrackedDevice.WithBlocks();
        device.Store.SetNeedsCheck("torn superblock");
        device.Tracker.Close(MemoryEraStore.DefaultOriginMtime);
        device.Store.Remount();
        var error = Assert.Throws<MetadataException>(() => EraTracker.Open(device.Store, device.Options));
        Assert.That(error!.Message, Does.Contain("torn superblock"));
    }

    [TestCase(8192u, false)]
    [TestCase(4096u, true)]
    [TestCase(null, true)]
    public void The_block_size_must_match_the_history(uint? requested, bool accepted)
    {
        var store = new MemoryEraStore(EraGeometry.For(16 * B, TrackedDevice.BlockSize));
        var options = TrackedDevice.OptionsFor(16 * B, blockSize: requested);
        if (accepted)
        {
            using var tracker = EraTracker.Open(store, options);
            Assert.That(tracker.Geometry.BlockSize, Is.EqualTo(TrackedDevice.BlockSize));
            return;
        }
        var error = Assert.Throws<MetadataException>(() => EraTracker.Open(store, options));
        Assert.Multiple(() =>
        {
            Assert.That(error!.Message, Does.Contain("4096").And.Contain("8192"));
            Assert.That(store.RolloverCalls, Is.Zero);
        });
    }

    [Test]
    public void A_failed_open_leaves_the_history_clean_to_retry()
    {
        var store = new MemoryEraStore(EraGeometry.For(16 * B, TrackedDevice.BlockSize)) { FailRolloverNumber = 1 };
        Assert.Throws<IOException>(() => EraTracker.Open(store, TrackedDevice.OptionsFor(16 * B)));
        Assert.That(store.RecordedClean, Is.True);
        store.Remount();
        using var tracker = EraTracker.Open(store, TrackedDevice.OptionsFor(16 * B));
        Assert.That(tracker.Status.CurrentEra, Is.EqualTo(1u));
    }
    [Test]
    public void An_origin_changed_after_a_crashed_mounts_write_horizon_is_all_written_in_a_new_generation()
    {
        using var device = TrackedDevice.WithBlocks(8 * B);
        var horizon = device.Store.WriteHorizon;
        Assert.That(horizon, Is.GreaterThan(DateTime.UtcNow), "the open recorded a horizon ahead of now");
        device.Remount(clean: false, TrackedDevice.OptionsFor(8 * B, horizon!.Value.AddMilliseconds(1)));
        Assert.Multiple(() =>
        {
            Assert.That(device.Tracker.Status.OriginCheck, Is.EqualTo(OriginCheck.ChangedAfterCrash));
            Assert.That(device.Store.WrittenSince(2), Is.EqualTo(Enumerable.Range(0, 8).Select(i => (ulong)i)));
            Assert.That(device.Store.NewGenerationCalls, Is.EqualTo(1));
            Assert.That(device.Tracker.Info, Does.Contain(("origin_check", "changed-after-crash")));
            Assert.That(device.Log, Has.Some.Contains("changed after the crashed mount's last possible write"));
        });
    }

    [Test]
    public void A_ctime_past_the_horizon_counts_even_when_the_mtime_was_set_back()
    {
        using var device = TrackedDevice.WithBlocks(8 * B);
        var options = TrackedDevice.OptionsFor(8 * B);
        device.Remount(clean: false, new EraTrackerOptions
        {
            OriginSize = options.OriginSize,
            OriginMtimeUtc = options.OriginMtimeUtc,
            OriginChangedUtc = DateTime.UtcNow.AddHours(1),
        });
        Assert.That(device.Tracker.Status.OriginCheck, Is.EqualTo(OriginCheck.ChangedAfterCrash));
        Assert.That(device.Store.WrittenSince(2).Count(), Is.EqualTo(8));
    }

    [Test]
    public void A_crash_that_recorded_no_horizon_counts_every_block_written()
    {
        // A history last used by a version that kept no horizon, or by a mount that crashed mid-open.
        var store = new MemoryEraStore(EraGeometry.For(8 * B, TrackedDevice.BlockSize));
        store.SetClean(false, MemoryEraStore.DefaultOriginMtime);
        store.Remount();
        using var tracker = EraTracker.Open(store, TrackedDevice.OptionsFor(8 * B));
        Assert.Multiple(() =>
        {
            Assert.That(tracker.Status.OriginCheck, Is.EqualTo(OriginCheck.UncleanWithoutHorizon));
            Assert.That(store.WrittenSince(tracker.Status.CurrentEra).Count(), Is.EqualTo(8));
            Assert.That(store.NewGenerationCalls, Is.EqualTo(1));
        });
    }

    [Test]
    public void A_clean_stop_and_a_crash_within_the_horizon_say_so_in_info()
    {
        using var device = TrackedDevice.WithBlocks(8 * B);
        Assert.That(device.Tracker.Status.OriginCheck, Is.EqualTo(OriginCheck.CleanShutdown));
        device.Remount(clean: false);
        Assert.That(device.Tracker.Status.OriginCheck, Is.EqualTo(OriginCheck.UncleanShutdown));
        Assert.That(device.Store.WrittenSince(2), Is.Empty);
    }

    [Test]
    public void Writes_past_half_the_horizon_renew_it_and_idle_time_does_not()
    {
        var store = new MemoryEraStore(EraGeometry.For(8 * B, TrackedDevice.BlockSize));
        var options = TrackedDevice.OptionsFor(8 * B);
        using var tracker = EraTracker.Open(store, new EraTrackerOptions
        {
            OriginSize = options.OriginSize,
            OriginMtimeUtc = options.OriginMtimeUtc,
            WriteHorizon = TimeSpan.FromMilliseconds(400),
        });
        tracker.BeforeWrite(0, B);
        var first = store.WriteHorizon!.Value;
        Thread.Sleep(600);
        Assert.That(store.WriteHorizon, Is.EqualTo(first), "no write, no renewal");

        tracker.BeforeWrite(0, B);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (store.WriteHorizon == first && DateTime.UtcNow < deadline) Thread.Sleep(10);
        Assert.That(store.WriteHorizon, Is.GreaterThan(first.AddMilliseconds(500)), "a repeat write past half the horizon renewed it");
    }

    [Test]
    public void A_digest_that_cannot_read_the_history_flags_it_for_the_next_mounts_check()
    {
        var store = new MemoryEraStore(EraGeometry.For(8 * B, TrackedDevice.BlockSize), initialEra: 3) { FailDigest = true };
        using var tracker = EraTracker.Open(store, TrackedDevice.OptionsFor(8 * B));
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!store.NeedsCheck && DateTime.UtcNow < deadline) Thread.Sleep(10);
        Assert.Multiple(() =>
        {
            Assert.That(store.NeedsCheck, Is.True, "the next mount runs the checker before trusting the history");
            Assert.That(tracker.Status.LastError, Does.StartWith("digest failed"));
        });
    }
}

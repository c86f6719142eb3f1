using EraFs.TestSupport;

namespace EraFs.Core.Tests;

public class ControlTests
{
    [Test]
    public void Checkpoints_return_increasing_eras()
    {
        using var device = TrackedDevice.WithBlocks();
        var eras = Enumerable.Range(0, 5).Select(_ => device.Tracker.Checkpoint()).ToArray();
        Assert.Multiple(() =>
        {
            Assert.That(eras, Is.EqualTo(new uint[] { 2, 3, 4, 5, 6 }));
            Assert.That(device.Tracker.LastCheckpointEra, Is.EqualTo(6u));
            Assert.That(device.Tracker.Status.CurrentEra, Is.EqualTo(6u));
            Assert.That(device.Store.CurrentEra, Is.EqualTo(6u));
        });
    }

    [Test]
    public void A_checkpoint_starts_an_era_with_no_marks()
    {
        using var device = TrackedDevice.WithBlocks();
        device.WriteBlock(2);
        device.WriteBlock(3);
        device.Tracker.Checkpoint();
        device.WriteBlock(3);
        Assert.Multiple(() =>
        {
            Assert.That(device.Tracker.Status.BlocksWrittenThisEra, Is.EqualTo(1UL));
            Assert.That(device.Store.WrittenSince(2), Is.EqualTo(new ulong[] { 3 }));
            Assert.That(device.Store.WrittenSince(1), Is.EqualTo(new ulong[] { 2, 3 }));
        });
    }

    [Test]
    public void Taking_a_snapshot_rolls_the_era_and_a_second_take_is_refused_unchanged()
    {
        using var device = TrackedDevice.WithBlocks();
        device.WriteBlock(1);
        device.Tracker.TakeMetadataSnap();
        var held = device.Tracker.Status.HeldSnapshot;
        var era = device.Tracker.Status.CurrentEra;
        device.WriteBlock(1);

        var refused = Assert.Throws<ControlRejectedException>(() => device.Tracker.TakeMetadataSnap());
        Assert.Multiple(() =>
        {
            Assert.That(held, Is.Not.Null);
            Assert.That(era, Is.EqualTo(2u));
            Assert.That(refused!.Error, Is.EqualTo(ControlError.SnapshotHeld));
            Assert.That(device.Tracker.Status.HeldSnapshot, Is.EqualTo(held));
            Assert.That(device.Tracker.Status.CurrentEra, Is.EqualTo(era));
            Assert.That(device.Tracker.Status.BlocksWrittenThisEra, Is.EqualTo(1UL));
            Assert.That(device.Store.WrittenSince(2), Is.EqualTo(new ulong[] { 1 }));
            Assert.That(device.Store.SnapshotWrittenSince(1), Is.EqualTo(new ulong[] { 1 }));
        });
    }

    [Test]
    public void Dropping_releases_the_snapshot_and_a_second_drop_is_refused()
    {
        using var device = TrackedDevice.WithBlocks();
        var none = Assert.Throws<ControlRejectedException>(() => device.Tracker.DropMetadataSnap());
        device.Tracker.TakeMetadataSnap();
        device.Tracker.DropMetadataSnap();
        var again = Assert.Throws<ControlRejectedException>(() => device.Tracker.DropMetadataSnap());
        Assert.Multiple(() =>
        {
            Assert.That(none!.Error, Is.EqualTo(ControlError.NoSnapshot));
            Assert.That(again!.Error, Is.EqualTo(ControlError.NoSnapshot));
            Assert.That(device.Tracker.Status.HeldSnapshot, Is.Null);
            Assert.That(device.Tracker.Status.CurrentEra, Is.EqualTo(2u), "dropping does not change the era");
            Assert.That(device.Tracker.State, Is.EqualTo(TrackerState.Ok));
        });
    }

    [Test]
    public void The_last_era_refuses_checkpoints_and_snapshots_but_keeps_tracking()
    {
        using var device = TrackedDevice.WithBlocks(initialEra: uint.MaxValue - 1);
        Assert.That(device.Tracker.Status.CurrentEra, Is.EqualTo(uint.MaxValue));
        device.WriteBlock(0);

        var checkpoint = Assert.Throws<ControlRejectedException>(() => device.Tracker.Checkpoint());
        var snapshot = Assert.Throws<ControlRejectedException>(() => device.Tracker.TakeMetadataSnap());
        var commits = device.Store.CommitCalls;
        device.WriteBlock(0);
        device.WriteBlock(1);
        Assert.Multiple(() =>
        {
            Assert.That(checkpoint!.Error, Is.EqualTo(ControlError.EraExhausted));
            Assert.That(snapshot!.Error, Is.EqualTo(ControlError.EraExhausted));
            Assert.That(device.Tracker.Status.CurrentEra, Is.EqualTo(uint.MaxValue));
            Assert.That(device.Tracker.Status.HeldSnapshot, Is.Null);
            Assert.That(device.Store.CommitCalls, Is.EqualTo(commits + 1), "block 0 stays marked");
            Assert.That(device.Tracker.State, Is.EqualTo(TrackerState.Ok));
        });
    }

    [Test]
    public void Opening_at_the_last_era_is_refused()
    {
        var store = new MemoryEraStore(EraGeometry.For(8 * TrackedDevice.BlockSize, TrackedDevice.BlockSize), uint.MaxValue);
        var error = Assert.Throws<MetadataException>(() => EraTracker.Open(store, TrackedDevice.OptionsFor(8 * TrackedDevice.BlockSize)));
        Assert.Multiple(() =>
        {
            Assert.That(error!.Message, Does.Contain("exhausted"));
            Assert.That(store.RecordedClean, Is.True, "nothing changed");
        });
    }

    [Test]
    public void The_worker_digests_archived_writesets_without_changing_answers()
    {
        using var device = TrackedDevice.WithBlocks(512 * TrackedDevice.BlockSize);
        device.Write(0, 300 * TrackedDevice.BlockSize);
        device.Tracker.Checkpoint();
        device.Write(100 * TrackedDevice.BlockSize, 10);
        device.Tracker.Checkpoint();
        device.WriteBlock(400);

        Assert.That(() => device.Store.ArchivedEras, Is.Empty.After(5000, 10));
        Assert.That(() => device.Tracker.Status.PendingDigest, Is.False.After(5000, 10));
        Assert.Multiple(() =>
        {
            Assert.That(device.Store.WrittenSince(1).Count(), Is.EqualTo(301));
            Assert.That(device.Store.WrittenSince(2), Is.EqualTo(new ulong[] { 100, 400 }));
            Assert.That(device.Store.WrittenSince(3), Is.EqualTo(new ulong[] { 400 }));
            Assert.That(device.Store.DigestSteps, Is.GreaterThan(3), "the digest works in small steps");
        });
    }

    [Test]
    public void Close_commits_and_records_a_clean_shutdown_with_the_flushed_mtime()
    {
        using var device = TrackedDevice.WithBlocks();
        var flushed = MemoryEraStore.DefaultOriginMtime.AddMinutes(5);
        device.WriteBlock(7);
        Assert.That(device.Store.RecordedClean, Is.False, "in use while mounted");

        device.Tracker.Close(flushed);
        Assert.Multiple(() =>
        {
            Assert.That(device.Store.RecordedClean, Is.True);
            Assert.That(device.Store.RecordedOriginMtime, Is.EqualTo(flushed));
            Assert.That(device.Tracker.State, Is.EqualTo(TrackerState.Closed));
            Assert.That(device.Tracker.Info, Does.Contain(("clean", "true")));
            Assert.Throws<TrackingFailedException>(() => device.WriteBlock(8));
            Assert.Throws<ObjectDisposedException>(() => device.Tracker.Checkpoint());
        });
    }
}

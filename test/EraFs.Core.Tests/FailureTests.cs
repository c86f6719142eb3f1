using EraFs.TestSupport;

namespace EraFs.Core.Tests;

public class FailureTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    [Test]
    public void A_failed_commit_refuses_new_marks_but_passes_marked_blocks()
    {
        using var device = TrackedDevice.WithBlocks();
        device.Store.FailCommitNumber = 2;
        device.WriteBlock(0);

        Assert.Throws<TrackingFailedException>(() => device.WriteBlock(1));
        var commits = device.Store.CommitCalls;
        Assert.Multiple(() =>
        {
            Assert.DoesNotThrow(() => device.WriteBlock(0), "an already durable block");
            Assert.Throws<TrackingFailedException>(() => device.WriteBlock(2), "a new mark after the failure");
            Assert.Throws<TrackingFailedException>(() => device.WriteBlock(1), "the block whose commit failed");
            Assert.Throws<TrackingFailedException>(() => device.Write(0, 2 * TrackedDevice.BlockSize), "a write spanning marked and unmarked blocks");
            Assert.That(device.Store.CommitCalls, Is.EqualTo(commits), "failed state refuses without trying the store");
            Assert.That(device.Tracker.State, Is.EqualTo(TrackerState.Failed));
            Assert.That(device.Tracker.Info, Does.Contain(("state", "failed")));
            Assert.That(device.Tracker.Status.LastError, Does.Contain("injected failure"));
            Assert.That(device.Store.NeedsCheck, Is.True);
            Assert.That(device.Store.WrittenSince(1), Is.EqualTo(new ulong[] { 0 }));
            Assert.That(device.Log, Has.Some.Contains("error"));
        });
    }

    [Test]
    public void Every_writer_waiting_on_a_failed_commit_or_queued_behind_it_fails()
    {
        using var device = TrackedDevice.WithBlocks();
        device.Store.FailCommitNumber = 1;
        device.Store.CommitGate.Reset();
        var first = DedicatedThread.Run(() => device.WriteBlock(0));
        Assert.That(device.Store.CommitStarted.Wait(Patience), Is.True);
        var sameBlock = DedicatedThread.Run(() => device.WriteBlock(0));
        var queued = DedicatedThread.Run(() => device.WriteBlock(4));
        Assert.That(() => device.Tracker.PendingRunCount, Is.EqualTo(1).After(5000, 10));
        device.Store.CommitGate.Set();

        foreach (var task in new[] { first, sameBlock, queued })
        {
            var error = Assert.Throws<AggregateException>(() => task.Wait(Patience));
            Assert.That(error!.InnerException, Is.TypeOf<TrackingFailedException>());
        }
        Assert.That(device.Store.CommitCalls, Is.EqualTo(1), "nothing is committed after the failure");
    }

    [Test]
    public void After_a_failure_controls_are_refused_and_close_leaves_the_history_unclean()
    {
        using var device = TrackedDevice.WithBlocks();
        device.Store.FailCommitNumber = 1;
        Assert.Throws<TrackingFailedException>(() => device.WriteBlock(0));

        var refused = Assert.Throws<ControlRejectedException>(() => device.Tracker.Checkpoint());
        Assert.That(refused!.Error, Is.EqualTo(ControlError.MetadataFailed));
        device.Tracker.Close(MemoryEraStore.DefaultOriginMtime);
        Assert.Multiple(() =>
        {
            Assert.That(device.Store.RecordedClean, Is.False);
            Assert.That(device.Tracker.State, Is.EqualTo(TrackerState.Failed));
        });

        device.Store.Remount();
        var reopen = Assert.Throws<MetadataException>(() => EraTracker.Open(device.Store, device.Options));
        Assert.That(reopen!.Message, Does.Contain("checked"));
    }

    [Test]
    public void A_rollover_that_fails_keeps_tracking_and_re_marks_blocks()
    {
        using var device = TrackedDevice.WithBlocks();
        device.WriteBlock(0);
        device.Store.FailRolloverNumber = device.Store.RolloverCalls + 1;

        var refused = Assert.Throws<ControlRejectedException>(() => device.Tracker.Checkpoint());
        var commits = device.Store.CommitCalls;
        device.WriteBlock(0);
        Assert.Multiple(() =>
        {
            Assert.That(refused!.Error, Is.EqualTo(ControlError.MetadataFailed));
            Assert.That(device.Tracker.State, Is.EqualTo(TrackerState.Ok));
            Assert.That(device.Tracker.Status.CurrentEra, Is.EqualTo(1u));
            Assert.That(device.Store.CommitCalls, Is.EqualTo(commits + 1), "after an uncertain era change, marks are made again");
            Assert.That(device.Tracker.Checkpoint(), Is.EqualTo(2u));
        });
    }
}

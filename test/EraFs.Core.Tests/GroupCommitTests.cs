using EraFs.TestSupport;

namespace EraFs.Core.Tests;

/// <summary>The group commit on its own: when blocks become durable, how failures reach writers, what the store is handed.</summary>
public class GroupCommitTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private sealed class Fixture : IDisposable
    {
        public Fixture(ulong nrBlocks = 64)
        {
            Store = new MemoryEraStore(EraGeometry.For((long)nrBlocks * 4096, 4096));
            Commits = new GroupCommit(Store, nrBlocks, _ => { });
            Host = new RecordingHost(Commits);
        }

        public MemoryEraStore Store { get; }
        public GroupCommit Commits { get; }
        public RecordingHost Host { get; }

        public Task Mark(ulong block) => DedicatedThread.Run(() => Commits.WaitForMarks(new BlockRun(block, 1)));

        public void Dispose()
        {
            Store.CommitGate.Set();
            Commits.Dispose();
        }
    }

    /// <summary>No chores; records every failure and, at each completion, whether the given block was already durable.</summary>
    private sealed class RecordingHost(GroupCommit commits) : IWorkerHost
    {
        public List<string> Failures { get; } = [];
        public List<bool> DurableAtCompletion { get; } = [];
        public ulong Watched { get; set; }

        public Action? NextChoreLocked(bool stopping) => null;

        public void CommitFailed(string reason, Exception error)
        {
            lock (Failures) Failures.Add(reason);
        }

        public void CommitCompletedLocked() => DurableAtCompletion.Add(commits.IsDurable(Watched));

        public void AbandonLocked(Exception reason)
        {
        }
    }

    [Test]
    public void A_block_is_durable_only_once_its_store_commit_returned()
    {
        using var f = new Fixture();
        f.Host.Watched = 7;
        f.Commits.Start(f.Host);
        f.Store.CommitGate.Reset();
        var writer = f.Mark(7);
        Assert.That(f.Store.CommitStarted.Wait(Patience), Is.True);

        Assert.Multiple(() =>
        {
            Assert.That(f.Commits.AllDurable(new BlockRun(7, 1)), Is.False, "durable while the store commit is still running");
            Assert.That(writer.IsCompleted, Is.False, "the writer was released before its commit returned");
        });
        f.Store.CommitGate.Set();
        Assert.Multiple(() =>
        {
            Assert.That(writer.Wait(Patience), Is.True);
            Assert.That(f.Commits.AllDurable(new BlockRun(7, 1)), Is.True);
            Assert.That(f.Host.DurableAtCompletion, Is.EqualTo(new[] { true }), "the completion is announced after the bits are set");
            Assert.That(f.Store.CurrentWriteset, Is.EqualTo(new ulong[] { 7 }));
        });
    }

    [Test]
    public void A_failed_commit_wakes_its_writers_and_those_queued_behind_it_with_the_failure()
    {
        using var f = new Fixture();
        f.Commits.Start(f.Host);
        f.Store.FailCommitNumber = 1;
        f.Store.CommitGate.Reset();
        var first = f.Mark(2);
        Assert.That(f.Store.CommitStarted.Wait(Patience), Is.True);
        var sameBlock = f.Mark(2);
        var queued = f.Mark(9);
        Assert.That(() => f.Commits.PendingRunCount, Is.EqualTo(1).After(5000, 10));
        f.Store.CommitGate.Set();

        foreach (var writer in new[] { first, sameBlock, queued })
        {
            var error = Assert.Throws<AggregateException>(() => writer.Wait(Patience));
            Assert.That(error!.InnerException, Is.TypeOf<TrackingFailedException>());
            Assert.That(error.InnerException!.Message, Does.Contain("injected failure of commit 1"));
        }
        Assert.Multiple(() =>
        {
            Assert.That(f.Host.Failures, Has.Count.EqualTo(1));
            Assert.That(f.Host.Failures[0], Does.Contain("injected failure of commit 1"));
            Assert.That(f.Commits.Failed, Is.True);
            Assert.That(f.Commits.AllDurable(new BlockRun(2, 1)), Is.False);
            Assert.That(f.Store.CommitCalls, Is.EqualTo(1), "the batch behind the failed one is never committed");
        });
    }

    [Test]
    public void Writers_queued_out_of_order_reach_the_store_as_one_sorted_merged_batch()
    {
        using var f = new Fixture();
        f.Commits.Start(f.Host);
        f.Store.CommitGate.Reset();
        var holder = f.Mark(30);
        Assert.That(f.Store.CommitStarted.Wait(Patience), Is.True);
        var writers = new List<Task>();
        var expectedPending = 0;
        foreach (var block in new ulong[] { 12, 3, 11 })
        {
            writers.Add(f.Mark(block));
            expectedPending++;
            Assert.That(() => f.Commits.PendingRunCount, Is.EqualTo(expectedPending).After(5000, 10));
        }
        f.Store.CommitGate.Set();

        Assert.Multiple(() =>
        {
            // The memory store refuses runs out of shape, so a batch that was not sorted and merged fails its writers.
            Assert.That(Task.WaitAll([holder, .. writers], Patience), Is.True);
            Assert.That(f.Store.CommitCalls, Is.EqualTo(2));
            Assert.That(f.Store.RunsCommitted, Is.EqualTo(3), "[30], then [3] and [11, 13)");
            Assert.That(f.Store.CurrentWriteset, Is.EqualTo(new ulong[] { 3, 11, 12, 30 }));
        });
    }

    [Test]
    public void Forgetting_the_marks_clears_every_durable_bit_and_moves_the_epoch_to_the_next_even_value()
    {
        using var f = new Fixture();
        f.Commits.CommitNow(new BlockRun(4, 10));
        var epoch = f.Commits.EraEpoch;
        Assert.That((f.Commits.AllDurable(new BlockRun(4, 10)), f.Commits.BlocksMarkedThisEra, f.Commits.Commits), Is.EqualTo((true, 10ul, 1ul)));

        lock (f.Commits.Gate) f.Commits.ForgetMarksLocked();

        Assert.Multiple(() =>
        {
            Assert.That(f.Commits.IsDurable(4), Is.False);
            Assert.That(f.Commits.IsDurable(13), Is.False);
            Assert.That(f.Commits.BlocksMarkedThisEra, Is.Zero);
            Assert.That(f.Commits.EraEpoch, Is.EqualTo(epoch + 2));
        });
    }

    [Test]
    public void A_failure_from_outside_refuses_new_marks_but_passes_durable_blocks()
    {
        using var f = new Fixture();
        f.Commits.CommitNow(new BlockRun(0, 2));
        f.Commits.Start(f.Host);
        lock (f.Commits.Gate) f.Commits.FailLocked("write horizon could not be committed: disk gone");

        Assert.Multiple(() =>
        {
            Assert.DoesNotThrow(() => f.Commits.WaitForMarks(new BlockRun(0, 2)));
            var refused = Assert.Throws<TrackingFailedException>(() => f.Commits.WaitForMarks(new BlockRun(1, 2)));
            Assert.That(refused!.Message, Does.Contain("disk gone"));
            Assert.That(f.Store.CommitCalls, Is.EqualTo(1), "only the commit made before the failure");
        });
    }

    [Test]
    public void Once_stopped_a_write_needing_a_mark_is_refused_and_no_work_is_taken()
    {
        using var f = new Fixture();
        f.Commits.Start(f.Host);
        f.Commits.Stop();

        Assert.Multiple(() =>
        {
            Assert.Throws<TrackingFailedException>(() => f.Commits.WaitForMarks(new BlockRun(5, 1)));
            lock (f.Commits.Gate) Assert.That(f.Commits.RefusesWorkLocked, Is.True);
            Assert.That(f.Store.CommitCalls, Is.Zero);
        });
    }
}

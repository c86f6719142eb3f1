namespace EraFs.Core.Tests;

public class ConcurrencyTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    // Long enough that a writer wrongly let through would have finished by then.
    private static readonly TimeSpan Settle = TimeSpan.FromMilliseconds(200);

    [Test]
    public void Concurrent_first_writes_share_commits_and_each_is_durable_before_it_returns()
    {
        using var device = TrackedDevice.WithBlocks(64 * TrackedDevice.BlockSize);
        device.Store.CommitDelay = TimeSpan.FromMilliseconds(20);
        const int writers = 16;
        using var start = new Barrier(writers);
        var notDurable = 0;
        var threads = Enumerable.Range(0, writers).Select(i => new Thread(() =>
        {
            start.SignalAndWait();
            var block = (ulong)i * 3;
            device.WriteBlock(block);
            if (!device.Store.CurrentWriteset.Contains(block)) Interlocked.Increment(ref notDurable);
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());

        Assert.Multiple(() =>
        {
            Assert.That(notDurable, Is.Zero, "a writer returned before its mark was committed");
            Assert.That(device.Store.CommitCalls, Is.LessThan(writers));
            Assert.That(device.Store.WrittenSince(1).Count(), Is.EqualTo(writers));
            Assert.That(device.Store.ConcurrentCallSeen, Is.False);
        });
    }

    [Test]
    public void Writers_arriving_during_a_commit_join_one_following_commit()
    {
        using var device = TrackedDevice.WithBlocks(64 * TrackedDevice.BlockSize);
        device.Store.CommitGate.Reset();
        var first = DedicatedThread.Run(() => device.WriteBlock(0));
        Assert.That(device.Store.CommitStarted.Wait(Patience), Is.True);

        var followers = Enumerable.Range(1, 8).Select(i => DedicatedThread.Run(() => device.WriteBlock((ulong)i * 2))).ToArray();
        Assert.That(() => device.Tracker.PendingRunCount, Is.EqualTo(8).After(5000, 10));
        device.Store.CommitGate.Set();

        Assert.That(Task.WaitAll([first, .. followers], Patience), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(device.Store.CommitCalls, Is.EqualTo(2));
            Assert.That(device.Store.RunsCommitted, Is.EqualTo(9));
        });
    }

    [Test]
    public void A_second_writer_to_a_block_being_committed_waits_for_that_commit()
    {
        using var device = TrackedDevice.WithBlocks();
        device.Store.CommitGate.Reset();
        var first = DedicatedThread.Run(() => device.WriteBlock(3));
        Assert.That(device.Store.CommitStarted.Wait(Patience), Is.True);

        var second = DedicatedThread.Run(() => device.Write(3 * TrackedDevice.BlockSize + 100, 10));
        Assert.Multiple(() =>
        {
            Assert.That(second.Wait(Settle), Is.False, "the second writer bypassed the in-flight commit");
            Assert.That(first.IsCompleted, Is.False);
        });

        device.Store.CommitGate.Set();
        Assert.Multiple(() =>
        {
            Assert.That(Task.WaitAll([first, second], Patience), Is.True);
            Assert.That(device.Store.CommitCalls, Is.EqualTo(1), "the second writer needed no commit of its own");
            Assert.That(device.Store.CurrentWriteset, Does.Contain(3UL));
        });
    }

    [Test]
    public void A_second_writer_to_a_queued_block_waits_for_the_commit_that_carries_it()
    {
        using var device = TrackedDevice.WithBlocks();
        device.Store.CommitGate.Reset();
        var holder = DedicatedThread.Run(() => device.WriteBlock(0));
        Assert.That(device.Store.CommitStarted.Wait(Patience), Is.True);
        var queued = DedicatedThread.Run(() => device.WriteBlock(5));
        Assert.That(() => device.Tracker.PendingRunCount, Is.EqualTo(1).After(5000, 10));
        var second = DedicatedThread.Run(() => device.WriteBlock(5));

        Assert.That(second.Wait(Settle), Is.False);
        device.Store.CommitGate.Set();
        Assert.Multiple(() =>
        {
            Assert.That(Task.WaitAll([holder, queued, second], Patience), Is.True);
            Assert.That(device.Store.CommitCalls, Is.EqualTo(2));
            Assert.That(device.Store.CurrentWriteset, Is.EqualTo(new ulong[] { 0, 5 }));
        });
    }

    [Test]
    public void Status_and_info_do_not_wait_for_a_held_commit()
    {
        using var device = TrackedDevice.WithBlocks();
        device.Store.CommitGate.Reset();
        var writer = DedicatedThread.Run(() => device.WriteBlock(1));
        Assert.That(device.Store.CommitStarted.Wait(Patience), Is.True);

        var reader = DedicatedThread.Run(() => (device.Tracker.StatusLine, device.Tracker.Info.Count, device.Tracker.State));
        Assert.That(reader.Wait(TimeSpan.FromSeconds(2)), Is.True, "status blocked behind the commit");
        Assert.That(writer.IsCompleted, Is.False);
        device.Store.CommitGate.Set();
        Assert.That(writer.Wait(Patience), Is.True);
    }

    [Test]
    public void Status_does_not_wait_for_a_checkpoint_held_behind_a_commit()
    {
        using var device = TrackedDevice.WithBlocks();
        device.Store.CommitGate.Reset();
        var writer = DedicatedThread.Run(() => device.WriteBlock(1));
        Assert.That(device.Store.CommitStarted.Wait(Patience), Is.True);
        var checkpoint = DedicatedThread.Run(device.Tracker.Checkpoint);

        Assert.Multiple(() =>
        {
            Assert.That(DedicatedThread.Run(() => device.Tracker.StatusLine).Wait(TimeSpan.FromSeconds(2)), Is.True);
            Assert.That(checkpoint.Wait(Settle), Is.False, "the checkpoint ran before pending marks were committed");
        });
        device.Store.CommitGate.Set();
        Assert.Multiple(() =>
        {
            Assert.That(checkpoint.Wait(Patience), Is.True);
            Assert.That(checkpoint.Result, Is.EqualTo(2u));
            Assert.That(device.Store.WrittenSince(1), Does.Contain(1UL));
            Assert.That(device.Store.WrittenSince(2), Does.Not.Contain(1UL));
        });
    }

    [Test]
    public void Every_write_is_found_written_since_the_era_it_started_in_under_load()
    {
        using var device = TrackedDevice.WithBlocks(64 * TrackedDevice.BlockSize);
        using var stop = new CancellationTokenSource();
        var missed = new List<string>();
        var writers = Enumerable.Range(0, 6).Select(seed => DedicatedThread.Run(() =>
        {
            var random = new Random(seed);
            while (!stop.IsCancellationRequested)
            {
                var block = (ulong)random.Next(64);
                var era = device.Tracker.Status.CurrentEra;
                device.WriteBlock(block);
                if (!device.Store.WrittenSince(era).Contains(block))
                    lock (missed) missed.Add($"block {block} not written since era {era}");
            }
        })).ToArray();
        var checkpoints = DedicatedThread.Run(() =>
        {
            for (var i = 0; i < 30; i++)
            {
                device.Tracker.Checkpoint();
                Thread.Sleep(5);
            }
        });

        Assert.That(checkpoints.Wait(TimeSpan.FromSeconds(30)), Is.True);
        stop.Cancel();
        Assert.That(Task.WaitAll(writers, Patience), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(missed, Is.Empty);
            Assert.That(device.Store.ConcurrentCallSeen, Is.False);
            Assert.That(device.Tracker.State, Is.EqualTo(TrackerState.Ok));
        });
    }
}

using System.Diagnostics;
using EraFs.Core;
using EraFs.FileSystem;
using EraFs.Metadata;
using EraFs.TestSupport;

namespace EraFs.Reliability.Tests;

/// <summary>S7 (slow commits racing same-block writes, dm-era bug 1) and S9 (checkpoints and snapshots concurrent with writes).</summary>
[TestFixture]
[Category("Reliability")]
public class ConcurrencyScenarioTests
{
    private const int BlockSize = 64 * 1024;

    [Test]
    public void S7_a_second_write_to_a_block_whose_commit_is_slow_waits_for_that_commit()
    {
        var report = new ScenarioReport("S7 slow commit races");
        var geometry = EraGeometry.For(16L * BlockSize, BlockSize);
        // Regression: a BeforeWrite on another tracker by this same thread must not excuse this one.
        using (var otherStore = new MemoryEraStore(geometry))
        using (var other = EraTracker.Open(otherStore, new EraTrackerOptions { OriginSize = geometry.OriginSize, OriginMtimeUtc = MemoryEraStore.DefaultOriginMtime }))
        {
            other.Checkpoint();
            other.BeforeWrite(0, 10);
        }
        using var store = new MemoryEraStore(geometry);
        using var tracker = EraTracker.Open(store, new EraTrackerOptions { OriginSize = geometry.OriginSize, OriginMtimeUtc = MemoryEraStore.DefaultOriginMtime });
        var origin = new VolatileOrigin(geometry.OriginSize);
        using var log = new DaemonLog(new StringWriter());
        var fs = new DeviceFileSystem(origin, tracker, [], log, writeOrderCheck: (offset, length) => tracker.AssertMarkedDurable(offset, length));
        var races = Scale.Pick(50, 1000);
        Watchdog.Run(report.Name, Scale.Watchdog, () =>
        {
            for (var race = 0; race < races; race++)
            {
                var block = race % 16;
                tracker.Checkpoint();
                while (store.CommitStarted.Wait(0)) { }
                var originWrites = origin.Writes;
                store.CommitGate.Reset();
                var first = Task.Run(() => fs.Write(DeviceFileSystem.DeviceInode, 0, new byte[4096], (long)block * BlockSize));
                Assert.That(store.CommitStarted.Wait(TimeSpan.FromSeconds(10)), Is.True, "the first write's commit started");
                var second = Task.Run(() => fs.Write(DeviceFileSystem.DeviceInode, 0, new byte[4096], (long)block * BlockSize + 4096));
                // The second writer finds the block's mark in flight; give it time to (wrongly) overtake the commit.
                Thread.Sleep(race % 5 + 1);
                if (first.IsCompleted || second.IsCompleted) report.Fail("early acknowledgements", $"race {race}");
                if (origin.Writes != originWrites) report.Fail("writes reaching the origin before their mark", $"race {race}");
                // A kill now: nothing was acknowledged, nothing reached the origin, the store holds no mark yet.
                var markedAtKill = store.CurrentWriteset.Contains((ulong)block);
                report.Observe(0, markedAtKill ? 1 : 0, 16, $"race {race}");
                store.CommitGate.Set();
                Assert.That(Task.WaitAll([first, second], TimeSpan.FromSeconds(10)), Is.True, "both writes finish once the commit does");
                var lost = store.CurrentWriteset.Contains((ulong)block) ? 0 : 1;
                report.Observe(lost, 0, 0, $"race {race} after commit");
                report.Try();
            }
        });
        report.Count("commits", store.CommitCalls);
        report.Finish();
    }

    [Test]
    public void S9_checkpoints_and_snapshots_concurrent_with_writes()
    {
        var report = new ScenarioReport("S9 checkpoints concurrent with writes");
        using var dir = new TestDirectory("s9");
        var path = dir.File("meta.bin");
        const ulong nrBlocks = 1024;
        using (var created = MetadataStore.Create(path, EraGeometry.For((long)nrBlocks * TrackedStack.BlockSize, TrackedStack.BlockSize)))
            created.SetClean(true, TrackedStack.OriginMtime);
        var duration = TimeSpan.FromSeconds(Scale.Pick(8, 300));
        var stack = TrackedStack.Open(MetadataStore.Open(path), new VolatileOrigin((long)nrBlocks * TrackedStack.BlockSize));
        var latencies = new List<double>();
        long progress = 0;
        var errors = new List<Exception>();
        var stop = new CancellationTokenSource(duration);
        var lastEra = stack.OpenEra;
        void Guard(Action body)
        {
            try
            {
                body();
            }
            catch (Exception e)
            {
                lock (errors) errors.Add(e);
                stop.Cancel();
            }
        }
        var writers = Enumerable.Range(0, 2).Select(w => new Thread(() => Guard(() =>
        {
            var random = new Random(w);
            while (!stop.IsCancellationRequested)
            {
                var length = random.Next(1, 3 * TrackedStack.BlockSize);
                var rc = stack.Write(random.NextInt64(0, (long)nrBlocks * TrackedStack.BlockSize - length), length, random);
                if (rc < 0) throw new AssertionException($"write failed: {rc}");
                Interlocked.Increment(ref progress);
            }
        }))).ToList();
        var controller = new Thread(() => Guard(() =>
        {
            var random = new Random(9);
            while (!stop.IsCancellationRequested)
            {
                Thread.Sleep(random.Next(1, 11));
                var file = random.Next(10) switch { 0 => "take_metadata_snap", 1 => "drop_metadata_snap", _ => "checkpoint" };
                var watch = Stopwatch.StartNew();
                var rc = stack.Control(file, "1\n");
                if (file == "checkpoint")
                {
                    if (rc != 0) throw new AssertionException($"checkpoint failed: {rc}");
                    lock (latencies) latencies.Add(watch.Elapsed.TotalMilliseconds);
                    var era = stack.Tracker.LastCheckpointEra!.Value;
                    if (era <= lastEra) report.Fail("eras not strictly increasing", $"checkpoint returned {era} after {lastEra}");
                    lastEra = era;
                }
                Interlocked.Increment(ref progress);
            }
        }));
        var dumper = new Thread(() => Guard(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var reader = MetadataReader.Open(path);
                _ = reader.WrittenSince(1).Count();
                try
                {
                    if (reader.HeldSnapshot is not null) _ = reader.WrittenSince(1, useSnapshot: true).Count();
                }
                catch (MetadataException e) when (e.Message.StartsWith("no metadata snapshot held", StringComparison.Ordinal))
                {
                    // Dropped by the controller while this dump was reading it: a refusal, not damage.
                    report.Count("snapshot dumps cut short by a drop");
                }
                report.Count("dumps");
            }
        }));
        Thread[] all = [.. writers, controller, dumper];
        foreach (var t in all) t.Start();
        Watchdog.WatchProgress(() => Interlocked.Read(ref progress), () => all.Any(t => t.IsAlive), TimeSpan.FromSeconds(10), report.Name);
        Assert.That(errors, Is.Empty, string.Join("\n", errors));

        using (var a = MetadataReader.Open(path))
        using (var b = MetadataReader.Open(path))
            if (!a.WrittenSince(1).SequenceEqual(b.WrittenSince(1))) report.Fail("dumps differing without I/O between them", "end");
        var run = CrashOracle.Capture(stack);
        if (stack.OrderViolations > 0) report.Fail("write-order violations", "S9");
        stack.Close();
        stack.Dispose();
        report.Try(run.Writes.Count);
        CrashOracle.Check(new FaultyDevice("meta.bin", File.ReadAllBytes(path)), run, report, "after the run", reopen: false);
        latencies.Sort();
        report.Count("checkpoints", latencies.Count);
        report.Count($"ms p99 checkpoint latency (not asserted)", latencies.Count == 0 ? 0 : (long)Math.Ceiling(latencies[(int)(latencies.Count * 0.99)]));
        report.Finish();
    }

    [Test]
    public void Write_order_check_fires_when_the_origin_is_written_before_the_mark_is_durable()
    {
#if DEBUG
        var geometry = EraGeometry.For(16L * BlockSize, BlockSize);
        // Regression: a BeforeWrite on another tracker by this same thread must not excuse this one.
        using (var otherStore = new MemoryEraStore(geometry))
        using (var other = EraTracker.Open(otherStore, new EraTrackerOptions { OriginSize = geometry.OriginSize, OriginMtimeUtc = MemoryEraStore.DefaultOriginMtime }))
        {
            other.Checkpoint();
            other.BeforeWrite(0, 10);
        }
        using var store = new MemoryEraStore(geometry);
        using var tracker = EraTracker.Open(store, new EraTrackerOptions { OriginSize = geometry.OriginSize, OriginMtimeUtc = MemoryEraStore.DefaultOriginMtime });
        // The origin path taken directly, without BeforeWrite: exactly what the check exists to catch.
        var ex = Assert.Throws<InvalidOperationException>(() => tracker.AssertMarkedDurable(3 * BlockSize, 10));
        Assert.That(ex!.Message, Does.StartWith("write order broken"));
        tracker.BeforeWrite(3 * BlockSize, 10);
        Assert.DoesNotThrow(() => tracker.AssertMarkedDurable(3 * BlockSize, 10), "after BeforeWrite returned the mark is durable");
        Assert.Throws<InvalidOperationException>(() => tracker.AssertMarkedDurable(3 * BlockSize, BlockSize + 1), "the next block is still unmarked");
#else
        Assert.Ignore("the write-order check exists in debug builds only");
#endif
    }
}

using EraFs.Core;
using EraFs.TestSupport;

namespace EraFs.Reliability.Tests;

/// <summary>
/// S2, S3, S4, S6 and S8 through the real write path (DeviceFileSystem, EraTracker, MetadataStore) with the
/// metadata on a fault-injecting device: every run is recovered and checked with oracles O1, O2 and O5.
/// The store-level crash tests in EraFs.Metadata.Tests cover the store alone; these add the tracker's ordering.
/// </summary>
[TestFixture]
[Category("Reliability")]
[Parallelizable(ParallelScope.Children)]
public class CrashScenarioTests
{
    private const ulong SmallBlocks = 16;

    internal static void CrashAndCheck(FaultyDevice meta, ulong nrBlocks, IReadOnlyList<Op> ops, int seed, ScenarioReport report,
        string where, (double Persist, double Drop)? imageMix = null)
    {
        var origin = new VolatileOrigin((long)nrBlocks * TrackedStack.BlockSize, seed);
        var imageAtOpen = origin.Durable();
        // Fresh metadata is at era 0; the open that never finished would have started era 1.
        CrashRun run = new([], 1, 0, nrBlocks);
        TrackedStack? stack = null;
        try
        {
            stack = TrackedStack.Open(meta, origin);
        }
        catch (Exception) when (meta.Crashed || meta.FailAtOperation is not null)
        {
            report.Count("opens failed");
        }
        if (stack is not null)
        {
            using (stack)
            {
                Op.Run(stack, ops, new Random(seed), () => meta.Crashed);
                try
                {
                    if (!meta.Crashed) stack.Close();
                }
                catch (Exception) when (meta.Crashed)
                {
                }
                if (stack.OrderViolations > 0) report.Fail("write-order violations", where);
                if (stack.RefusedWritesThatReachedOrigin > 0) report.Fail("refused writes that reached the origin", where);
                run = CrashOracle.Capture(stack, imageMix is null ? null : imageAtOpen, imageMix is { } mix ? origin.AfterPowerCut(mix) : null);
            }
        }
        report.Try();
        if (meta.Crashed) report.Count("crashes reached");
        CrashOracle.Check(meta.Recover(), run, report, where);
    }

    /// <summary>How many flushes, writes and operations a workload makes on a healthy device.</summary>
    internal static FaultyDevice DryRun(byte[] fresh, ulong nrBlocks, IReadOnlyList<Op> ops, int seed)
    {
        var meta = new FaultyDevice("meta.bin", fresh);
        using var stack = TrackedStack.Open(meta, new VolatileOrigin((long)nrBlocks * TrackedStack.BlockSize, seed));
        Op.Run(stack, ops, new Random(seed), () => false);
        stack.Close();
        return meta;
    }

    [Test]
    public void S2_crash_at_every_metadata_sync_point()
    {
        var report = new ScenarioReport("S2 crash at every sync point");
        var fresh = TrackedStack.FreshMetadata(SmallBlocks);
        var workloads = Op.Exhaustive(3).ToList();
        var randomCount = Scale.Pick(40, 3000);
        for (var i = 0; i < randomCount; i++) workloads.Add(Op.Random(1000 + i, 1 + i % 20, SmallBlocks));
        Watchdog.Run(report.Name, Scale.Watchdog, () =>
        {
            for (var w = 0; w < workloads.Count; w++)
            {
                var flushes = DryRun(fresh, SmallBlocks, workloads[w], w).Flushes;
                for (var k = 1; k <= flushes; k++)
                    CrashAndCheck(new FaultyDevice("meta.bin", fresh) { CrashAtFlush = k, Seed = k }, SmallBlocks, workloads[w], w, report,
                        $"workload {w} flush {k}");
            }
        });
        report.Count("workloads", workloads.Count);
        report.Finish();
    }

    [Test]
    public void S3_power_loss_persists_drops_or_garbles_pending_sectors()
    {
        var report = new ScenarioReport("S3 simulated power loss");
        const ulong nrBlocks = 64;
        var fresh = TrackedStack.FreshMetadata(nrBlocks);
        var seeds = Scale.Pick(2000, 200_000);
        Watchdog.Run(report.Name, Scale.Watchdog, () =>
        {
            for (var seed = 1; seed <= seeds; seed++)
            {
                var random = new Random(seed);
                var ops = Op.Random(seed, random.Next(1, 30), nrBlocks);
                var meta = new FaultyDevice("meta.bin", fresh) { Seed = seed };
                if (random.Next(2) == 0) meta.CrashAtWrite = random.Next(1, 40);
                else meta.CrashAtFlush = random.Next(1, 30);
                // Half the runs cut the image's cache as test6 does; half drop every acknowledged write (flakey drop_writes).
                (double, double) mix = seed % 2 == 0 ? (3.0 / 8, 3.0 / 8) : (0, 1);
                CrashAndCheck(meta, nrBlocks, ops, seed, report, $"seed {seed}", mix);
            }
        });
        report.Finish();
    }

    [Test]
    public void S4_torn_metadata_blocks_never_open_silently_with_fewer_marks()
    {
        var report = new ScenarioReport("S4 torn metadata blocks");
        var fresh = TrackedStack.FreshMetadata(SmallBlocks);
        Op[] ops =
        [
            new Op.Write(0, 4096), new Op.Control("checkpoint"), new Op.Write(8192, 512), new Op.Control("take_metadata_snap"),
            new Op.Write(4096 + 2048, 4096), new Op.Control("drop_metadata_snap"), new Op.Write(0, 100),
        ];
        var writes = DryRun(fresh, SmallBlocks, ops, 1).Writes;
        var maskStep = Scale.Soak ? 1 : 3;
        Watchdog.Run(report.Name, Scale.Watchdog, () =>
        {
            for (var k = 1; k <= writes; k++)
            {
                for (ulong mask = 0; mask < 256; mask += (ulong)maskStep)
                    CrashAndCheck(new FaultyDevice("meta.bin", fresh) { TearAtWrite = (k, mask) }, SmallBlocks, ops, 1, report, $"write {k} mask {mask:x2}");
                for (var g = 0; g < 8; g++)
                {
                    // Garbage in some sectors of the write being torn, the rest persisted.
                    var meta = new FaultyDevice("meta.bin", fresh) { CrashAtWrite = k, Seed = k * 8 + g, SectorMix = (0.5, 0) };
                    CrashAndCheck(meta, SmallBlocks, ops, 1, report, $"write {k} garbage {g}");
                }
            }
        });
        report.Count("metadata writes torn", writes);
        report.Finish();
    }

    [Test]
    public void S6_enospc_and_eio_on_the_metadata_at_every_io_position()
    {
        var report = new ScenarioReport("S6 ENOSPC/EIO on metadata");
        var fresh = TrackedStack.FreshMetadata(SmallBlocks);
        var workloads = Scale.Pick(6, 200);
        Watchdog.Run(report.Name, Scale.Watchdog, () =>
        {
            for (var w = 0; w < workloads; w++)
            {
                var ops = Op.Random(500 + w, 24, SmallBlocks);
                var operations = DryRun(fresh, SmallBlocks, ops, w).Operations;
                for (var op = 1; op <= operations; op++)
                {
                    foreach (var persistent in new[] { false, true })
                    {
                        var meta = new FaultyDevice("meta.bin", fresh)
                        {
                            FailAtOperation = op,
                            FailPersistently = persistent,
                            FailKind = op % 2 == 0 ? FaultKind.Enospc : FaultKind.Eio,
                        };
                        CheckFailure(meta, ops, w, report, $"workload {w} op {op} {(persistent ? "persistent" : "transient")}");
                    }
                }
            }
        });
        report.Finish();
    }

    private static void CheckFailure(FaultyDevice meta, Op[] ops, int seed, ScenarioReport report, string where)
    {
        var origin = new VolatileOrigin((long)SmallBlocks * TrackedStack.BlockSize, seed);
        CrashRun run = new([], 1, 0, SmallBlocks);
        TrackedStack? stack = null;
        try
        {
            stack = TrackedStack.Open(meta, origin);
        }
        catch (MetadataException)
        {
            report.Count("opens refused");
        }
        if (stack is not null)
        {
            using (stack)
            {
                Op.Run(stack, ops, new Random(seed), () => false);
                var refused = stack.Writes.Count(w => !w.Issued);
                if (refused > 0)
                {
                    report.Count("writes refused with EIO", refused);
                    if (stack.Tracker.State != TrackerState.Failed || stack.Tracker.Status.LastError is null)
                        report.Fail("refusals without a failed state and reason in status", where);
                }
                if (stack.RefusedWritesThatReachedOrigin > 0) report.Fail("untracked writes", where);
                if (stack.OrderViolations > 0) report.Fail("write-order violations", where);
                try
                {
                    stack.Close();
                }
                catch (MetadataException)
                {
                    // The clean flag could not be written: the next open treats the stop as a crash.
                    report.Count("closes failed");
                }
                run = CrashOracle.Capture(stack);
            }
        }
        report.Try();
        CrashOracle.Check(meta.Recover(), run, report, where);
    }

    [Test]
    public void S8_the_current_writeset_survives_a_crash_and_two_restarts()
    {
        var report = new ScenarioReport("S8 current writeset survives");
        var fresh = TrackedStack.FreshMetadata(SmallBlocks);
        foreach (var resize in new[] { false, true })
        {
            var meta = new FaultyDevice("meta.bin", fresh);
            uint era;
            using (var stack = TrackedStack.Open(meta, new VolatileOrigin((long)SmallBlocks * TrackedStack.BlockSize)))
            {
                era = stack.OpenEra;
                Assert.That(stack.Write(5 * 4096, 4096, new Random(1)), Is.EqualTo(4096));
                stack.Fs.Fsync(EraFs.FileSystem.DeviceFileSystem.DeviceInode, 0, dataOnly: true);
                meta.CrashAtFlush = meta.Flushes + 1;
                stack.Write(9 * 4096, 4096, new Random(2));
            }
            Assert.That(meta.Crashed, Is.True, "the power was cut during the second write's commit");
            var recovered = meta.Recover();
            for (var restart = 0; restart < 2; restart++)
            {
                using (var store = EraFs.Metadata.MetadataStore.Open(recovered))
                {
                    if (resize) store.Resize(store.Geometry);
                }
                using (var stack = TrackedStack.Open(recovered, new VolatileOrigin((long)SmallBlocks * TrackedStack.BlockSize))) stack.Close();
                using var reader = new EraFs.Metadata.MetadataReader(new FaultyDevice("meta.bin", recovered.Snapshot()));
                var listed = CrashOracle.Blocks(reader.WrittenSince(era));
                report.Try();
                report.Observe(listed.Contains(5) ? 0 : 1, listed.Count(b => b is not 5 and not 9), (long)SmallBlocks,
                    $"restart {restart + 1}{(resize ? " with resize to the same size" : "")}");
            }
        }
        report.Finish();
    }
}

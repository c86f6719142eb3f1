using EraFs.Core;
using EraFs.TestSupport;

namespace EraFs.Metadata.Tests;

/// <summary>
/// Power loss at every write and flush of scripted workloads (SQLite test6 sector mix, several seeds),
/// torn writes of every block a commit writes, and EIO/ENOSPC at every operation. After each, the
/// recovered metadata must open and report every acknowledged mark under its era.
/// </summary>
[Parallelizable(ParallelScope.Children)]
public class CrashTests
{
    private static readonly int[] Seeds = [1, 2, 3];

    private static IEnumerable<TestCaseData> Workloads()
    {
        yield return new TestCaseData("marks-checkpoints", 11, false, 2u).SetName("MarksAndCheckpoints");
        yield return new TestCaseData("snapshots-digest", 23, true, 4u).SetName("SnapshotsAndDigest");
    }

    [TestCaseSource(nameof(Workloads))]
    public void PowerLossAtEveryWriteAndFlush(string name, int seed, bool snapshots, uint journalBlocks)
    {
        var (baseImage, script, writes, flushes) = Prepare(seed, snapshots, journalBlocks);
        var tally = new Tally($"{name}/power-loss");
        foreach (var mixSeed in Seeds)
        {
            for (var k = 1; k <= writes; k++)
                tally.Run(new FaultyDevice("meta.bin", baseImage) { Seed = mixSeed * 1000 + k, CrashAtWrite = k }, script);
            for (var k = 1; k <= flushes; k++)
                tally.Run(new FaultyDevice("meta.bin", baseImage) { Seed = mixSeed * 1000 + k, CrashAtFlush = k }, script);
        }
        tally.Report();
    }

    [TestCaseSource(nameof(Workloads))]
    public void TornWriteOfEveryBlockWritten(string name, int seed, bool snapshots, uint journalBlocks)
    {
        var (baseImage, script, writes, _) = Prepare(seed, snapshots, journalBlocks);
        var tally = new Tally($"{name}/torn-write");
        var random = new Random(seed);
        // First half, alternate sectors and one random pattern per write (bits past the first block
        // tear multi-block writes); every one of the 256 patterns is tried on a short workload below.
        ulong[] masks = [0x0F, 0xAA];
        for (var k = 1; k <= writes; k++)
        {
            foreach (var mask in masks.Append((ulong)random.NextInt64()))
                tally.Run(new FaultyDevice("meta.bin", baseImage) { TearAtWrite = (k, mask) }, script);
        }
        tally.Report();
    }

    [TestCaseSource(nameof(Workloads))]
    public void IoErrorAtEveryOperation(string name, int seed, bool snapshots, uint journalBlocks)
    {
        var (baseImage, script, writes, flushes) = Prepare(seed, snapshots, journalBlocks);
        var tally = new Tally($"{name}/io-error");
        for (var op = 1; op <= writes + flushes; op++)
        {
            foreach (var persistent in new[] { false, true })
            {
                var device = new FaultyDevice("meta.bin", baseImage)
                {
                    FailAtOperation = op,
                    FailPersistently = persistent,
                    FailKind = op % 2 == 0 ? FaultKind.Enospc : FaultKind.Eio,
                };
                tally.Run(device, script);
            }
        }
        tally.Report();
    }

    [Test]
    public void EverySectorSubsetOfEveryBlockInAShortWorkload()
    {
        // Reliability plan S4: all 256 subsets of the eight sectors of each block written by a
        // journal append, a rollover, a digest step and a snapshot.
        WorkloadStep[] script =
        [
            new WorkloadStep.Mark([new BlockRun(5, 3), new BlockRun(40_000, 1)]),
            new WorkloadStep.Checkpoint(),
            new WorkloadStep.Mark([new BlockRun(6, 1)]),
            new WorkloadStep.Digest(),
            new WorkloadStep.Snapshot(),
            new WorkloadStep.Mark([new BlockRun(99_000, 2)]),
        ];
        var device = new FaultyDevice("meta.bin");
        using (var store = MetadataStore.Create(device, EraGeometry.For((long)CrashWorkload.NrBlocks * 4096, 4096), 4))
            store.Rollover();
        var image = device.Snapshot();
        var dryRun = new FaultyDevice("meta.bin", image);
        CrashWorkload.Run(dryRun, script);
        var tally = new Tally("short/all-sector-subsets");
        for (var k = 1; k <= dryRun.Writes; k++)
            for (ulong mask = 0; mask < 256; mask++)
                tally.Run(new FaultyDevice("meta.bin", image) { TearAtWrite = (k, mask) }, script);
        tally.Report();
    }

    [Test]
    public void CommittedCurrentWritesetSurvivesRepeatedRestarts()
    {
        // dm-era's second 2021 lost-write bug: the committed current writeset must be recovered on open.
        var (device, store) = StoreFixtures.NewStore();
        store.Rollover();
        store.CommitMarks([new BlockRun(42, 1)]);
        device.CrashAtFlush = device.Flushes + 1;
        Assert.Throws<MetadataException>(() => store.CommitMarks([new BlockRun(43, 1)]));
        var recovered = device.Recover();
        using (var again = MetadataStore.Open(recovered)) again.Resize(again.Geometry);
        using (var third = MetadataStore.Open(recovered)) Assert.That(third.Rollover(), Is.EqualTo(2u));
        using var reader = new MetadataReader(recovered);
        Assert.That(StoreFixtures.Blocks(reader.WrittenSince(1)), Does.Contain(42ul));
    }

    private static (byte[] Image, WorkloadStep[] Script, int Writes, int Flushes) Prepare(int seed, bool snapshots, uint journalBlocks)
    {
        var device = new FaultyDevice("meta.bin");
        using (var store = MetadataStore.Create(device, EraGeometry.For((long)CrashWorkload.NrBlocks * 4096, 4096), journalBlocks))
            store.Rollover();
        var image = device.Snapshot();
        var script = CrashWorkload.Build(seed, 30, snapshots);
        var dryRun = new FaultyDevice("meta.bin", image);
        var outcome = CrashWorkload.Run(dryRun, script);
        Assert.That(outcome.Acknowledged, Is.Not.Empty);
        return (image, script, dryRun.Writes, dryRun.Flushes);
    }

    /// <summary>Counts one scenario family and prints its figure line.</summary>
    private sealed class Tally(string name)
    {
        private int _points, _lost, _falsePositives, _refused;

        public void Run(FaultyDevice device, WorkloadStep[] script)
        {
            var outcome = CrashWorkload.Run(device, script);
            _points++;
            try
            {
                var (lost, falsePositives) = CrashWorkload.Check(device.Recover(), outcome, name);
                _lost += lost;
                _falsePositives += falsePositives;
            }
            catch (MetadataException e)
            {
                _refused++;
                TestContext.Out.WriteLine($"{name}: recovery refused: {e.Message}");
            }
        }

        public void Report()
        {
            var line = $"metadata-crash {name}: {_points} points tried, {_lost} lost, {_falsePositives} false positives";
            if (_refused > 0) line += $", {_refused} refused to open";
            TestContext.Out.WriteLine(line);
            Console.WriteLine(line);
            Assert.That(_lost, Is.Zero, line);
            Assert.That(_refused, Is.Zero, line);
            Assert.That(_falsePositives, Is.Zero, line);
        }
    }
}

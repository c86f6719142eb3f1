using EraFs.Core;
using EraFs.TestSupport;
using static EraFs.Metadata.Tests.StoreFixtures;

namespace EraFs.Metadata.Tests;

/// <summary>dm-era semantics of the store: marks, rollover, snapshots, digest, resize, exhaustion, reopen.</summary>
public class StoreSemanticsTests
{
    [Test]
    public void FreshStoreStartsAtEraZeroAndFirstRolloverGivesOne()
    {
        var (_, store) = NewStore();
        Assert.That(store.CurrentEra, Is.Zero);
        Assert.That(store.HeldSnapshot, Is.Null);
        Assert.That(store.Rollover(), Is.EqualTo(1u));
        Assert.That(store.OpenState, Is.EqualTo(new StoreOpenState(false, null, false, null)));
    }

    [Test]
    public void MarksAreReadBackFromTheJournalAndAfterFolding()
    {
        var (device, store) = NewStore(journalBlocks: 4);
        store.Rollover();
        var expected = new HashSet<ulong>();
        for (ulong i = 0; i < 20; i++)
        {
            store.CommitMarks(Runs((i * 7, 3)).ToArray());
            expected.UnionWith(Blocks(Runs((i * 7, 3))));
        }
        using var reader = new MetadataReader(Reloaded(device));
        Assert.That(Blocks(reader.CurrentWritesetRuns()), Is.EquivalentTo(expected));
        Assert.That(Blocks(reader.WrittenSince(1)), Is.EquivalentTo(expected));
        Assert.That(reader.WrittenSince(2), Is.Empty);
    }

    [Test]
    public void AGroupCommitCostsOneWriteAndOneFlushAndOpenWritesNothing()
    {
        var (device, store) = NewStore(journalBlocks: 8);
        store.Rollover();
        for (var i = 0; i < 8; i++)
        {
            var (writes, flushes) = (device.Writes, device.Flushes);
            store.CommitMarks(Runs(((ulong)i * 100, 2), ((ulong)i * 100 + 50, 1)).ToArray());
            Assert.That((device.Writes - writes, device.Flushes - flushes), Is.EqualTo((1, 1)), $"commit {i}");
        }
        var reopened = Reloaded(device);
        using (MetadataStore.Open(reopened)) { }
        using (new MetadataReader(reopened)) { }
        Assert.That((reopened.Writes, reopened.Flushes), Is.EqualTo((0, 0)));
    }

    [TestCase(10ul, 2ul, 5ul, 1ul, TestName = "Unsorted")]
    [TestCase(10ul, 5ul, 12ul, 1ul, TestName = "Overlapping")]
    [TestCase(10ul, 2ul, 12ul, 1ul, TestName = "Touching")]
    [TestCase(10ul, 2ul, 20ul, 0ul, TestName = "Empty")]
    public void CommitMarksRefusesRunsOutOfShapeAndWritesNothing(ulong firstStart, ulong firstCount, ulong secondStart, ulong secondCount)
    {
        var (device, store) = NewStore();
        store.Rollover();
        store.CommitMarks(Runs((1, 1)).ToArray());
        var (image, operations) = (device.Snapshot(), device.Operations);

        Assert.Throws<ArgumentException>(() => store.CommitMarks(Runs((firstStart, firstCount), (secondStart, secondCount)).ToArray()));

        Assert.That(device.Operations, Is.EqualTo(operations));
        Assert.That(device.Snapshot(), Is.EqualTo(image));
        store.CommitMarks(Runs((firstStart, firstCount)).ToArray());
        using var reader = new MetadataReader(Reloaded(device));
        Assert.That(reader.CurrentWritesetRuns().ToList(), Is.EqualTo(Runs((1, 1), (firstStart, firstCount))));
    }

    [Test]
    public void RolloverArchivesTheWritesetUnderItsEra()
    {
        var (device, store) = NewStore();
        store.Rollover();
        store.CommitMarks(Runs((10, 5)).ToArray());
        Assert.That(store.Rollover(), Is.EqualTo(2u));
        store.CommitMarks(Runs((12, 1), (40_000, 2)).ToArray());
        using var reader = new MetadataReader(Reloaded(device));
        Assert.That(reader.ArchivedWritesets().Select(a => a.Era), Is.EqualTo(new[] { 0u, 1u }));
        Assert.That(reader.ArchivedWritesetRuns(1).ToList(), Is.EqualTo(Runs((10, 5))));
        Assert.That(reader.CurrentWritesetRuns().ToList(), Is.EqualTo(Runs((12, 1), (40_000, 2))));
        Assert.That(reader.WrittenSince(1).ToList(), Is.EqualTo(Runs((10, 5), (40_000, 2))));
        Assert.That(reader.WrittenSince(2).ToList(), Is.EqualTo(Runs((12, 1), (40_000, 2))));
    }

    [Test]
    public void DigestFoldsOldestWritesetsIntoTheEraArray()
    {
        var (device, store) = NewStore();
        store.Rollover();
        store.CommitMarks(Runs((0, 4), (70_000, 1)).ToArray());
        store.Rollover();
        store.CommitMarks(Runs((2, 4)).ToArray());
        store.Rollover();
        var steps = 0;
        while (store.DigestStep()) steps++;
        Assert.That(steps, Is.GreaterThan(0));
        Assert.That(store.ArchivedWritesets, Is.Empty);
        using var reader = new MetadataReader(Reloaded(device));
        Assert.That(reader.EraArrayRuns().ToList(), Is.EqualTo(new[]
        {
            new EraRun(0, 2, 1), new EraRun(2, 4, 2), new EraRun(6, 69_994, 0), new EraRun(70_000, 1, 1), new EraRun(70_001, 29_999, 0),
        }));
        Assert.That(reader.WrittenSince(2).ToList(), Is.EqualTo(Runs((2, 4))));
        Assert.That(reader.WrittenSince(1).ToList(), Is.EqualTo(Runs((0, 6), (70_000, 1))));
        Assert.That(store.DigestStep(), Is.False);
    }

    [Test]
    public void SnapshotStaysFrozenWhileTheLiveStateMovesOn()
    {
        var (device, store) = NewStore();
        store.Rollover();
        store.CommitMarks(Runs((1, 1)).ToArray());
        store.TakeSnapshot();
        Assert.That(store.CurrentEra, Is.EqualTo(2u));
        Assert.That(store.HeldSnapshot, Is.Not.Null);
        var held = store.HeldSnapshot;
        store.CommitMarks(Runs((9, 1)).ToArray());
        store.Rollover();
        while (store.DigestStep()) { }
        store.CommitMarks(Runs((30, 1)).ToArray());

        using var reader = new MetadataReader(Reloaded(device));
        Assert.That(reader.HeldSnapshot, Is.EqualTo(held));
        Assert.That(reader.SnapshotEra, Is.EqualTo(2u));
        Assert.That(reader.WrittenSince(1, useSnapshot: true).ToList(), Is.EqualTo(Runs((1, 1))));
        Assert.That(reader.WrittenSince(1).ToList(), Is.EqualTo(Runs((1, 1), (9, 1), (30, 1))));
        Assert.That(reader.EraArrayRuns(useSnapshot: true).Single(), Is.EqualTo(new EraRun(0, 100_000, 0)));

        var e = Assert.Throws<ControlRejectedException>(store.TakeSnapshot);
        Assert.That(e!.Error, Is.EqualTo(ControlError.SnapshotHeld));
        Assert.That(e.Message, Is.EqualTo("metadata snapshot already held"));
        store.DropSnapshot();
        Assert.That(store.HeldSnapshot, Is.Null);
        var again = Assert.Throws<ControlRejectedException>(store.DropSnapshot);
        Assert.That(again!.Error, Is.EqualTo(ControlError.NoSnapshot));

        using var after = new MetadataReader(Reloaded(device));
        var none = Assert.Throws<MetadataException>(() => after.WrittenSince(1, useSnapshot: true).ToList());
        Assert.That(none!.Message, Is.EqualTo("no metadata snapshot held in meta.bin"));
    }

    [Test]
    public void DroppingTheSnapshotFreesItsBlocks()
    {
        var (_, store) = NewStore();
        store.Rollover();
        store.CommitMarks(Runs((0, 50_000)).ToArray());
        store.Rollover();
        store.TakeSnapshot();
        while (store.DigestStep()) { }
        var held = store.Usage.Used;
        store.DropSnapshot();
        Assert.That(store.Usage.Used, Is.LessThan(held));
    }

    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    public void SnapshotCyclesKeepEveryBlocksEraAsWritten(int seed)
    {
        // Blocks only a dropped snapshot reached are freed by a new reachability walk and reused
        // at once; whatever was cached for their old content must not be served for the new.
        const ulong nrBlocks = 100_000;
        var (device, store) = NewStore(nrBlocks);
        var random = new Random(seed);
        var lastEra = new uint[nrBlocks];
        var written = new bool[nrBlocks];
        store.Rollover();
        for (var step = 0; step < 60; step++)
        {
            var marks = new SortedSet<ulong>();
            for (var i = 0; i < 40; i++)
            {
                var start = (ulong)random.NextInt64((long)nrBlocks - 600);
                for (var b = start; b < start + (ulong)random.Next(1, 600); b++) marks.Add(b);
            }
            var runs = new List<BlockRun>();
            foreach (var b in marks)
            {
                if (runs.Count > 0 && runs[^1].Start + runs[^1].Count == b) runs[^1] = new BlockRun(runs[^1].Start, runs[^1].Count + 1);
                else runs.Add(new BlockRun(b, 1));
                lastEra[b] = store.CurrentEra;
                written[b] = true;
            }
            store.CommitMarks(runs.ToArray());
            store.Rollover();
            if (store.HeldSnapshot is null && random.Next(3) == 0) store.TakeSnapshot();
            while (random.Next(2) == 0 && store.DigestStep()) { }
            if (store.HeldSnapshot is not null && random.Next(3) == 0) store.DropSnapshot();
        }
        while (store.DigestStep()) { }
        using var reader = new MetadataReader(Reloaded(device));
        foreach (var since in new uint[] { 1, 10, 30, 50, 58, 60 })
        {
            var expected = Enumerable.Range(0, (int)nrBlocks).Select(b => (ulong)b).Where(b => written[b] && lastEra[b] >= since);
            Assert.That(Blocks(reader.WrittenSince(since)), Is.EquivalentTo(expected), $"written since era {since}");
        }
    }

    [Test]
    public void ManyEraCyclesKeepTheFileBounded()
    {
        var (device, store) = NewStore();
        for (var i = 0; i < 300; i++)
        {
            store.CommitMarks(Runs(((ulong)(i * 331 % 99_000), 5)).ToArray());
            store.Rollover();
            while (store.DigestStep()) { }
        }
        var total = store.Usage.Total;
        for (var i = 0; i < 300; i++)
        {
            store.CommitMarks(Runs(((ulong)(i * 331 % 99_000), 5)).ToArray());
            store.Rollover();
            while (store.DigestStep()) { }
        }
        Assert.That(store.Usage.Total, Is.LessThanOrEqualTo(total + 8));
        Assert.That(device.Length / BlockFormat.BlockSize, Is.LessThanOrEqualTo((long)store.Usage.Total));
    }

    [Test]
    public void ResizeGrowsAndShrinks()
    {
        var (device, store) = NewStore(nrBlocks: 1000);
        store.Rollover();
        store.CommitMarks(Runs((900, 100)).ToArray());
        store.Rollover();
        store.CommitMarks(Runs((990, 10)).ToArray());
        while (store.DigestStep()) { }
        store.Resize(Geometry(950));
        Assert.That(store.Geometry.NrBlocks, Is.EqualTo(950ul));
        store.Resize(Geometry(2000));
        using var reader = new MetadataReader(Reloaded(device));
        Assert.That(reader.Geometry.NrBlocks, Is.EqualTo(2000ul));
        Assert.That(reader.WrittenSince(1).ToList(), Is.EqualTo(Runs((900, 50))));
        Assert.That(reader.EraArrayRuns().ToList(), Is.EqualTo(new[] { new EraRun(0, 900, 0), new EraRun(900, 50, 1), new EraRun(950, 1050, 0) }));
        store.CommitMarks(Runs((1500, 1)).ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => store.CommitMarks(Runs((1999, 2)).ToArray()));
    }

    [Test]
    public void EraExhaustionRefusesAndChangesNothing()
    {
        var (device, store) = NewStore();
        store.Dispose();
        var image = device.Snapshot();
        var (sb, slot) = Superblock.ReadNewest(device);
        var block = new byte[BlockFormat.BlockSize];
        (sb with { CurrentEra = uint.MaxValue - 1, Sequence = sb.Sequence + 1 }).Pack(block, (ulong)(1 - slot));
        block.CopyTo(image, (1 - slot) * BlockFormat.BlockSize);
        var reopened = new FaultyDevice("meta.bin", image);
        using var late = MetadataStore.Open(reopened);
        Assert.That(late.Rollover(), Is.EqualTo(uint.MaxValue));
        var sequence = late.Sequence;
        var e = Assert.Throws<ControlRejectedException>(() => late.Rollover());
        Assert.That(e!.Error, Is.EqualTo(ControlError.EraExhausted));
        Assert.That(late.CurrentEra, Is.EqualTo(uint.MaxValue));
        Assert.That(late.Sequence, Is.EqualTo(sequence));
        Assert.Throws<ControlRejectedException>(late.TakeSnapshot);
    }

    [Test]
    public void TheWriteHorizonSurvivesACrashAndACleanStopClearsIt()
    {
        var (device, store) = NewStore();
        var mtime = new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc);
        var horizon = new DateTime(2026, 12, 2, 7, 0, 0, 123, DateTimeKind.Utc);
        store.SetClean(false, mtime, horizon);
        store.CommitMarks(Runs((1, 1)).ToArray());
        using (var crashed = MetadataStore.Open(Reloaded(device)))
            Assert.That(crashed.OpenState, Is.EqualTo(new StoreOpenState(false, mtime, false, null, horizon)));

        store.ExtendWriteHorizon(horizon.AddSeconds(5));
        using (var renewed = MetadataStore.Open(Reloaded(device)))
        {
            Assert.That(renewed.OpenState.WriteHorizonUtc, Is.EqualTo(horizon.AddSeconds(5)));
            Assert.That(renewed.OpenState.WasClean, Is.False, "a renewal keeps the history in use");
        }

        store.SetClean(true, mtime);
        using var clean = MetadataStore.Open(Reloaded(device));
        Assert.That(clean.OpenState, Is.EqualTo(new StoreOpenState(true, mtime, false, null)));
    }

    [Test]
    public void ReopenPreservesEverything()
    {
        var (device, store) = NewStore();
        store.SetClean(false, DateTime.UnixEpoch);
        store.Rollover();
        store.CommitMarks(Runs((3, 3)).ToArray());
        store.Rollover();
        store.CommitMarks(Runs((7, 1)).ToArray());
        store.TakeSnapshot();
        store.CommitMarks(Runs((8, 1)).ToArray());
        store.SetNeedsCheck("test reason");
        var mtime = new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc);
        store.SetClean(true, mtime);
        store.CommitMarks(Runs((9, 1)).ToArray());

        using var reopened = MetadataStore.Open(Reloaded(device));
        Assert.That(reopened.Generation, Is.EqualTo(store.Generation));
        Assert.That(reopened.CurrentEra, Is.EqualTo(3u));
        Assert.That(reopened.HeldSnapshot, Is.EqualTo(store.HeldSnapshot));
        Assert.That(reopened.OpenState, Is.EqualTo(new StoreOpenState(true, mtime, true, "test reason")));
        Assert.That(reopened.Usage, Is.EqualTo(store.Usage));
        Assert.That(reopened.ArchivedWritesets, Is.EqualTo(store.ArchivedWritesets));
        reopened.CommitMarks(Runs((10, 1)).ToArray());
        using var reader = new MetadataReader(Reloaded(device));
        Assert.That(Blocks(reader.WrittenSince(3)), Is.EquivalentTo(new ulong[] { 8, 9 }));
        var generation = reopened.Generation;
        reopened.NewGeneration();
        Assert.That(reopened.Generation, Is.Not.EqualTo(generation));
    }

    [Test]
    public void CreateRefusesToOverwriteAndSparseTerabyteStaysSmall()
    {
        var dir = Directory.CreateTempSubdirectory("erafs-meta-");
        try
        {
            var path = Path.Combine(dir.FullName, "meta.bin");
            var terabyte = EraGeometry.For(1L << 40, 4096);
            using (var store = MetadataStore.Create(path, terabyte))
            {
                store.Rollover();
                store.CommitMarks([new BlockRun(0, 1), new BlockRun(terabyte.NrBlocks - 1, 1)]);
                store.Rollover();
                while (store.DigestStep()) { }
            }
            Assert.That(new FileInfo(path).Length, Is.LessThan(1 << 20));
            var e = Assert.Throws<MetadataException>(() => MetadataStore.Create(path, terabyte));
            Assert.That(e!.Message, Does.Contain("refusing to overwrite"));
            using (var reader = MetadataReader.Open(path))
            {
                Assert.That(reader.Geometry, Is.EqualTo(terabyte));
                Assert.That(reader.WrittenSince(1).ToList(),
                    Is.EqualTo(new[] { new BlockRun(0, 1), new BlockRun(terabyte.NrBlocks - 1, 1) }));
                Assert.That(reader.EraArrayRuns().Count(), Is.EqualTo(3));
            }
            using (var reopened = MetadataStore.Open(path))
                Assert.That(reopened.Usage.Used, Is.LessThan(100ul));
            using (MetadataStore.Create(path, terabyte, force: true)) { }
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Test]
    public void ReaderFollowsALiveWriterThatCommitsMidEnumeration()
    {
        var (device, store) = NewStore(journalBlocks: 2);
        store.Rollover();
        for (ulong i = 0; i < 10; i++) store.CommitMarks(Runs((i * 5000, 1)).ToArray());
        using var reader = new MetadataReader(device);
        var seen = new List<BlockRun>();
        foreach (var run in reader.WrittenSince(1))
        {
            seen.Add(run);
            // Churn: each commit folds the tiny journal and reuses freed blocks.
            store.CommitMarks(Runs((run.Start + 1, 1)).ToArray());
            store.CommitMarks(Runs((run.Start + 2, 1)).ToArray());
            store.CommitMarks(Runs((run.Start + 3, 1)).ToArray());
        }
        var blocks = Blocks(seen);
        for (ulong i = 0; i < 10; i++) Assert.That(blocks, Does.Contain(i * 5000));
        Assert.That(reader.Sequence, Is.GreaterThan(1ul));
    }

    [Test]
    public void IoErrorsLeaveTheLastDurableStateAndTheStoreUsable()
    {
        for (var op = 1; op <= 6; op++)
        {
            var (device, store) = NewStore(journalBlocks: 2);
            store.Rollover();
            device.FailAtOperation = device.Operations + op;
            device.FailKind = op % 2 == 0 ? FaultKind.Enospc : FaultKind.Eio;
            var acknowledged = new HashSet<ulong>();
            for (ulong i = 0; i < 6; i++)
            {
                try
                {
                    store.CommitMarks(Runs((i * 10, 1)).ToArray());
                    acknowledged.Add(i * 10);
                }
                catch (MetadataException e)
                {
                    Assert.That(e.Message, Does.StartWith("meta.bin: "));
                }
            }
            Assert.That(acknowledged, Has.Count.EqualTo(5), $"one failure at op {op}");
            using var reader = new MetadataReader(device.Recover());
            Assert.That(Blocks(reader.WrittenSince(1)), Is.SupersetOf(acknowledged));
        }
    }

    [Test]
    public void DamageToACommittedJournalBlockFollowedByLaterCommitsIsRefusedNotTruncated()
    {
        var (device, store) = NewStore(journalBlocks: 8);
        store.Rollover();
        for (ulong i = 0; i < 3; i++) store.CommitMarks(Runs((i * 10, 2)).ToArray());
        var image = device.Snapshot();
        var journalBlock1 = 3 * 4096;
        image[journalBlock1 + 100] ^= 0x40;
        var damaged = new FaultyDevice(image: image);
        var e = Assert.Throws<MetadataCorruptException>(() => MetadataStore.Open(damaged));
        Assert.That(e!.Message, Does.Contain("block 3").And.Contain("committed after it is intact"));
    }

    [Test]
    public void DamageToTheLastJournalBlockEndsTheJournalThere()
    {
        var (device, store) = NewStore(journalBlocks: 8);
        store.Rollover();
        for (ulong i = 0; i < 3; i++) store.CommitMarks(Runs((i * 10, 2)).ToArray());
        var image = device.Snapshot();
        image[4 * 4096 + 100] ^= 0x40;
        using var reader = new MetadataReader(new FaultyDevice(image: image));
        Assert.That(Blocks(reader.CurrentWritesetRuns()), Is.EquivalentTo(new ulong[] { 0, 1, 10, 11 }));
    }
}

using System.Text;
using EraFs.Core;
using EraFs.TestSupport;

namespace EraFs.Metadata.Tests;

/// <summary>Block, superblock and journal encodings, and the messages that name damaged structures.</summary>
public class FormatTests
{
    [Test]
    public void Crc32CMatchesTheStandardCheckValue() =>
        Assert.That(Crc32C.Compute(Encoding.ASCII.GetBytes("123456789")), Is.EqualTo(0xE3069283u));

    [Test]
    public void SuperblockRoundTripsEveryField()
    {
        var sb = new Superblock
        {
            Sequence = 77,
            Generation = Guid.NewGuid(),
            Geometry = EraGeometry.For(10_000_000, 8192),
            Clean = true,
            OriginMtimeUtc = new DateTime(2026, 11, 21, 6, 0, 0, DateTimeKind.Utc),
            NeedsCheck = true,
            NeedsCheckReason = "fdatasync failed: EIO",
            CurrentEra = 12,
            CurrentWritesetRoot = 100,
            EraArrayRoot = 101,
            CatalogHead = 102,
            SnapshotRoot = 103,
            JournalStart = 2,
            JournalLength = 64,
            JournalEpoch = 9,
            TotalBlocks = 200,
        };
        var block = new byte[BlockFormat.BlockSize];
        sb.Pack(block, 1);
        var back = Superblock.TryUnpack(block, 1, out var problem);
        Assert.That(problem, Is.Empty);
        Assert.That(back, Is.EqualTo(sb));
    }

    [Test]
    public void SealedBlockChecksAndNamesWhatIsWrong()
    {
        var block = new byte[BlockFormat.BlockSize];
        block[100] = 7;
        BlockFormat.Seal(block, BlockKind.EraPage, 17);
        Assert.That(BlockFormat.Check(block, BlockKind.EraPage, 17), Is.Null);
        Assert.That(BlockFormat.Check(block, BlockKind.BitsetPage, 17), Does.Contain("expected a writeset page"));
        Assert.That(BlockFormat.Check(block, BlockKind.EraPage, 18), Does.Contain("claims to be block 17"));
        block[200] ^= 1;
        var e = Assert.Throws<MetadataCorruptException>(() => BlockFormat.Verify(block, BlockKind.EraPage, 17, "meta.bin"));
        Assert.That(e!.Message, Is.EqualTo("meta.bin: block 17 (era array page): checksum mismatch"));
    }

    [Test]
    public void BothSuperblockSlotsBadIsRefusedByName()
    {
        var (device, store) = StoreFixtures.NewStore();
        store.Rollover();
        var image = device.Snapshot();
        image[BlockFormat.HeaderSize + 40] ^= 0xFF;
        image[BlockFormat.BlockSize + BlockFormat.HeaderSize + 40] ^= 0xFF;
        var e = Assert.Throws<MetadataCorruptException>(() => MetadataStore.Open(new FaultyDevice("meta.bin", image)));
        Assert.That(e!.Message, Is.EqualTo("meta.bin: superblock: bad checksum in both slots"));
    }

    [Test]
    public void BadMagicIsRefused()
    {
        var (device, _) = StoreFixtures.NewStore();
        var image = device.Snapshot();
        image[BlockFormat.HeaderSize] ^= 0xFF;
        BlockFormat.Seal(image.AsSpan(0, BlockFormat.BlockSize), BlockKind.Superblock, 0);
        var e = Assert.Throws<MetadataCorruptException>(() => MetadataStore.Open(new FaultyDevice("meta.bin", image)));
        Assert.That(e!.Message, Does.StartWith("meta.bin: superblock: ").And.Contain("bad magic"));
    }

    [Test]
    public void EmptyFileIsRefused()
    {
        var e = Assert.Throws<MetadataCorruptException>(() => MetadataStore.Open(new FaultyDevice("meta.bin")));
        Assert.That(e!.Message, Is.EqualTo("meta.bin: superblock: empty in both slots"));
    }

    [Test]
    public void NewestValidSlotWinsAndATornNewestFallsBack()
    {
        var (device, store) = StoreFixtures.NewStore();
        store.Rollover();
        store.Rollover();
        var image = device.Snapshot();
        var (sb, slot) = Superblock.ReadNewest(new FaultyDevice("m", image));
        Assert.That(sb.CurrentEra, Is.EqualTo(2u));
        image[slot * BlockFormat.BlockSize + 300] ^= 1;
        Assert.That(Superblock.ReadNewest(new FaultyDevice("m", image)).Superblock.CurrentEra, Is.EqualTo(1u));
    }

    [Test]
    public void DamagedEraPageIsReportedWithBlockAndStructure()
    {
        var (device, store) = StoreFixtures.NewStore();
        store.Rollover();
        store.CommitMarks(StoreFixtures.Runs((5, 3)).ToArray());
        store.Rollover();
        while (store.DigestStep()) { }
        var image = device.Snapshot();
        using var reader = new MetadataReader(new FaultyDevice("meta.bin", image));
        var eraPage = FindBlockOfKind(image, BlockKind.EraPage);
        image[(int)eraPage * BlockFormat.BlockSize + 500] ^= 0x40;
        using var damaged = new MetadataReader(new FaultyDevice("meta.bin", image));
        var e = Assert.Throws<MetadataCorruptException>(() => damaged.EraArrayRuns().ToList());
        Assert.That(e!.Message, Is.EqualTo($"meta.bin: block {eraPage} (era array page): checksum mismatch"));
    }

    [Test]
    public void DamagedIndexNodeIsRefusedAtOpen()
    {
        var (device, store) = StoreFixtures.NewStore();
        store.Rollover();
        store.CommitMarks(StoreFixtures.Runs((5, 3)).ToArray());
        store.Rollover();
        var image = device.Snapshot();
        var node = FindBlockOfKind(image, BlockKind.IndexNode);
        image[(int)node * BlockFormat.BlockSize + 4000] ^= 1;
        var e = Assert.Throws<MetadataCorruptException>(() => MetadataStore.Open(new FaultyDevice("meta.bin", image)));
        Assert.That(e!.Message, Is.EqualTo($"meta.bin: block {node} (index node): checksum mismatch"));
    }

    [Test]
    public void JournalRecordsRoundTripStopAtATornLastAppendAndRefuseDamageBeforeLaterCommits()
    {
        var (device, store) = StoreFixtures.NewStore(journalBlocks: 8);
        store.Rollover();
        store.CommitMarks(StoreFixtures.Runs((1, 2), (10, 1)).ToArray());
        store.CommitMarks(StoreFixtures.Runs((50, 5)).ToArray());
        var (sb, _) = Superblock.ReadNewest(device);
        var runs = new List<BlockRun>();
        var tail = MarkJournal.Replay(device, sb, runs);
        Assert.That(tail.NextIndex, Is.EqualTo(2u));
        Assert.That(runs, Is.EqualTo(StoreFixtures.Runs((1, 2), (10, 1), (50, 5))));

        var lastDamaged = device.Snapshot();
        lastDamaged[(int)(sb.JournalStart + 1) * BlockFormat.BlockSize + 100] ^= 1;
        var replayed = new List<BlockRun>();
        Assert.That(MarkJournal.Replay(new FaultyDevice("m", lastDamaged), sb, replayed).NextIndex, Is.EqualTo(1u));
        Assert.That(replayed, Is.EqualTo(StoreFixtures.Runs((1, 2), (10, 1))));

        var firstDamaged = device.Snapshot();
        firstDamaged[(int)sb.JournalStart * BlockFormat.BlockSize + 100] ^= 1;
        Assert.Throws<MetadataCorruptException>(() => MarkJournal.Replay(new FaultyDevice("m", firstDamaged), sb, []));
    }

    [Test]
    public void ManyRunsSpanSeveralJournalBlocks()
    {
        var (device, store) = StoreFixtures.NewStore(journalBlocks: 8);
        var runs = Enumerable.Range(0, 1200).Select(i => new BlockRun((ulong)i * 3, 1)).ToArray();
        store.CommitMarks(runs);
        using var reader = new MetadataReader(StoreFixtures.Reloaded(device));
        Assert.That(reader.CurrentWritesetRuns().ToList(), Is.EqualTo(runs));
        var (sb, _) = Superblock.ReadNewest(device);
        Assert.That(MarkJournal.Replay(device, sb, []).NextIndex, Is.EqualTo(3u));
    }

    [Test]
    public void BitsetPageRunsMatchABitByBitScan()
    {
        var random = new Random(3);
        for (var trial = 0; trial < 20; trial++)
        {
            var page = new byte[BlockFormat.BlockSize];
            var density = random.NextDouble();
            for (var i = BlockFormat.HeaderSize; i < page.Length; i++)
                page[i] = random.NextDouble() < density ? (byte)random.Next(256) : (byte)(random.Next(2) * 0xFF);
            var limit = (ulong)random.Next(1, BlockFormat.BitsPerPage + 1);
            var expected = new List<(ulong Start, ulong Count)>();
            for (ulong bit = 0; bit < limit; bit++)
            {
                if ((page[BlockFormat.HeaderSize + (int)(bit / 8)] >> (int)(bit % 8) & 1) == 0) continue;
                if (expected.Count > 0 && expected[^1].Start + expected[^1].Count == bit)
                    expected[^1] = (expected[^1].Start, expected[^1].Count + 1);
                else expected.Add((bit, 1));
            }
            Assert.That(WritesetBits.RunsInPage(page, limit), Is.EqualTo(expected), $"trial {trial}, limit {limit}");
        }
    }

    private static ulong FindBlockOfKind(byte[] image, BlockKind kind)
    {
        var blocks = (ulong)image.Length / BlockFormat.BlockSize;
        for (ulong b = 2; b < blocks; b++)
            if (BlockFormat.Check(image.AsSpan((int)b * BlockFormat.BlockSize, BlockFormat.BlockSize), kind, b) == null)
                return b;
        throw new AssertionException($"no {kind} block in the image");
    }
}

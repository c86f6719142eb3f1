using System.Buffers.Binary;
using EraFs.Core;
using EraFs.Metadata;
using EraFs.TestSupport;
using EraFs.Tools.DmEra;

namespace EraFs.Tools.Tests;

[TestFixture]
public class DmFormatTests
{
    [Test]
    public void Checksum_matches_the_superblock_era_restore_wrote()
    {
        // Block 0 as Debian's era_restore 0.9.0 wrote it for the reference example (16 blocks of 128
        // sectors, current era 5, 64-block file, 11 blocks allocated): csum ef809ddc.
        var block = new byte[DmBlock.Size];
        BinaryPrimitives.WriteUInt64LittleEndian(block.AsSpan(0x20), DmSuperblock.Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(block.AsSpan(0x28), 1);
        new DmSpaceMapRoot(64, 11, 1, 2).Pack(block.AsSpan(0x2C));
        BinaryPrimitives.WriteUInt32LittleEndian(block.AsSpan(0xAC), 128);
        BinaryPrimitives.WriteUInt32LittleEndian(block.AsSpan(0xB0), 8);
        BinaryPrimitives.WriteUInt32LittleEndian(block.AsSpan(0xB4), 16);
        BinaryPrimitives.WriteUInt32LittleEndian(block.AsSpan(0xB8), 5);
        BinaryPrimitives.WriteUInt64LittleEndian(block.AsSpan(0xC8), 4);
        BinaryPrimitives.WriteUInt64LittleEndian(block.AsSpan(0xD0), 5);
        Assert.That(DmBlock.Checksum(block, DmBlockKind.Superblock), Is.EqualTo(0xDC9D80EFu));
    }

    [Test]
    public void A_sealed_block_checks_and_names_what_is_wrong()
    {
        var block = new byte[DmBlock.Size];
        block[100] = 7;
        DmBlock.Seal(block, DmBlockKind.ArrayBlock, 17);
        Assert.That(DmBlock.Check(block, DmBlockKind.ArrayBlock, 17), Is.Null);
        Assert.DoesNotThrow(() => DmBlock.Verify(block, DmBlockKind.ArrayBlock, 17));
        Assert.That(DmBlock.Check(block, DmBlockKind.BtreeNode, 17), Is.EqualTo("bad checksum in btree node"));
        Assert.That(DmBlock.Check(block, DmBlockKind.ArrayBlock, 18), Is.EqualTo("array block claims to be block 17"));
        block[200] ^= 1;
        var e = Assert.Throws<DmFormatException>(() => DmBlock.Verify(block, DmBlockKind.ArrayBlock, 17));
        Assert.That((e!.Block, e.Message), Is.EqualTo((17ul, "block 17: bad checksum in array block")));
    }

    [Test]
    public void A_damaged_field_names_the_block_and_its_kind()
    {
        var e = DmBlock.Corrupt(4, DmBlockKind.Superblock, "data block size is 0");
        Assert.That((e.Block, e.Message), Is.EqualTo((4ul, "block 4: superblock: data block size is 0")));
        Assert.That(DmBlock.Describe((DmBlockKind)99), Is.EqualTo("block kind 99"));
    }

    [Test]
    public void Space_map_blocks_are_byte_identical_to_era_restores()
    {
        EraTools.RequireBinaries();
        using var dir = new TestDirectory("space-map");
        var xml = dir.File("in.xml");
        File.WriteAllText(xml, "<superblock uuid=\"\" block_size=\"128\" nr_blocks=\"16\" current_era=\"5\">\n" +
            "  <writeset era=\"3\" nr_bits=\"16\">\n    <bit block=\"2\" value=\"true\"/>\n  </writeset>\n" +
            "  <writeset era=\"4\" nr_bits=\"16\">\n    <bit block=\"9\" value=\"true\"/>\n  </writeset>\n" +
            "  <era_array>\n    <era block=\"0\" era=\"1\"/>\n  </era_array>\n</superblock>\n");
        var restored = dir.File("restored.bin");
        using (var f = new FileStream(restored, FileMode.Create)) f.SetLength(64 * DmBlock.Size);
        EraTools.Run("era_restore", "-i", xml, "-o", restored).Ok();
        var theirs = File.ReadAllBytes(restored);

        // era_restore allocated 11 blocks of a 64-block file: superblock, index, reference-count
        // tree, one bitmap, then 7 for the trees and arrays.
        var image = new DmMetadataImage();
        image.Allocate(out _);
        var reserved = DmSpaceMap.Reserve(image, 1);
        while (image.AllocatedBlocks < 11) image.Allocate(out _);
        image.TotalBlocks = 64;
        var root = DmSpaceMap.Finish(image, reserved);

        for (ulong b = 1; b <= 3; b++)
            Assert.That(image.Block(b), Is.EqualTo(theirs.AsSpan((int)b * DmBlock.Size, DmBlock.Size).ToArray()), $"block {b}");
        var field = new byte[32];
        root.Pack(field);
        Assert.That(field, Is.EqualTo(theirs.AsSpan(0x2C, 32).ToArray()), "space map root in the superblock");
    }

    [Test]
    public void Built_btrees_keep_the_tools_invariants_at_every_level()
    {
        var image = new DmMetadataImage();
        var entries = Enumerable.Range(0, 60_000).Select(i => ((ulong)i * 3, BitConverter.GetBytes((ulong)i))).ToList();
        var root = DmBtree.Build(image, entries, 8);
        var walked = DmBtree.Walk(new DmImageReader(image), root, 8, "test").Select(e => e.Key).ToList();
        Assert.That(walked, Is.EqualTo(entries.Select(e => e.Item1)));
        for (ulong b = 0; b < image.AllocatedBlocks; b++)
        {
            var node = image.Block(b);
            var count = BinaryPrimitives.ReadUInt32LittleEndian(node.AsSpan(16));
            var max = BinaryPrimitives.ReadUInt32LittleEndian(node.AsSpan(20));
            Assert.That(max % 3, Is.Zero);
            if (b != root) Assert.That(count, Is.GreaterThanOrEqualTo(max / 3), $"node {b}");
        }
    }

    [Test]
    public void Walk_reports_an_underfull_node_and_keeps_reading_the_rest()
    {
        var image = new DmMetadataImage();
        var entries = Enumerable.Range(0, 600).Select(i => ((ulong)i, BitConverter.GetBytes((ulong)i))).ToList();
        var root = DmBtree.Build(image, entries, 8);
        var leaf = image.Block(0).AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(leaf[16..], 5);
        DmBlock.Seal(leaf, DmBlockKind.BtreeNode, 0);
        var problems = new List<string>();
        var keys = DmBtree.Walk(new DmImageReader(image), root, 8, "tree", (b, p) => problems.Add($"{b}: {p}")).Count();
        Assert.That(problems, Is.EqualTo(new[] { "0: tree: non-root node has 5 entries, under a third of 252" }));
        Assert.That(keys, Is.EqualTo(400));
        Assert.Throws<DmFormatException>(() => DmBtree.Walk(new DmImageReader(image), root, 8, "tree").Count());
    }

    [Test]
    public void A_corrupt_bitset_fails_a_strict_read_and_is_left_out_with_a_report()
    {
        var history = HistoryGenerator.Generate(seed: 5, nrBlocks: 100, writesets: 3, snapshot: false, currentWrites: false);
        var image = DmEraWriter.Write(history);
        var arrayBlock = Enumerable.Range(0, (int)image.AllocatedBlocks).Last(b => image.Block((ulong)b)[12] == 8);
        image.Block((ulong)arrayBlock)[30] ^= 1;
        Assert.Throws<DmFormatException>(() => DmEraReader.Read(new DmImageReader(image)));
        var problems = new List<string>();
        var salvaged = DmEraReader.Read(new DmImageReader(image), (_, p) => problems.Add(p));
        Assert.That(problems.Single(), Does.Contain("bad checksum in array block"));
        Assert.That(salvaged.Live.Writesets, Has.Count.EqualTo(2));
    }

    [TestCase(uint.MaxValue, "more than the")]
    [TestCase(2_000_000u, "era array blocks, the metadata has")]
    public void A_huge_nr_blocks_is_refused_naming_the_superblock_before_anything_is_allocated(uint nrBlocks, string expected)
    {
        var history = HistoryGenerator.Generate(seed: 6, nrBlocks: 100, writesets: 2, snapshot: false, currentWrites: false);
        var image = DmEraWriter.Write(history);
        var superblock = image.Block(0).AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(superblock[0xB4..], nrBlocks);
        DmBlock.Seal(superblock, DmBlockKind.Superblock, 0);

        foreach (var report in new Action<ulong, string>?[] { null, (_, _) => { } })
        {
            var ex = Assert.Throws<DmFormatException>(() => DmEraReader.Read(new DmImageReader(image), report));
            Assert.That(ex!.Block, Is.Zero);
            Assert.That(ex.Problem, Does.Contain(expected));
        }
    }

    [Test]
    public void Import_keeps_the_held_snapshot()
    {
        using var dir = new TestDirectory("import-snap");
        var history = HistoryGenerator.Generate(seed: 77, nrBlocks: 3000, writesets: 6, snapshot: true);
        var image = DmEraWriter.Write(history);
        var read = DmEraReader.Read(new DmImageReader(image));
        var native = dir.File("n.era");
        EraTools.WriteNative(read, native);
        var loaded = EraTools.LoadNative(native);
        Assert.That(EraTools.Dump(loaded), Is.EqualTo(EraTools.Dump(history)));
        Assert.That(EraTools.Dump(loaded with { Live = loaded.Snapshot! }), Is.EqualTo(EraTools.Dump(history with { Live = history.Snapshot! })));
        Assert.That(MetadataChecker.Check(native), Is.Empty);
    }

    [Test]
    public void Native_checker_finds_nothing_wrong_in_what_the_store_writes_through_snapshots_digests_and_resizes()
    {
        using var dir = new TestDirectory("checker");
        var path = dir.File("m.era");
        using (var store = MetadataStore.Create(path, EraGeometry.For(200L << 20, 4096)))
        {
            var random = new Random(3);
            for (var round = 0; round < 12; round++)
            {
                for (var i = 0; i < 40; i++) store.CommitMarks([new BlockRun((ulong)random.Next(0, (int)store.Geometry.NrBlocks - 300), (ulong)random.Next(1, 300))]);
                store.Rollover();
                if (round == 4) store.TakeSnapshot();
                if (round % 3 == 0) store.DigestStep();
                if (round == 9) store.DropSnapshot();
                if (round == 10) store.TakeSnapshot();
                if (round == 6) store.Resize(EraGeometry.For(150L << 20, 4096));
                if (round == 7) store.Resize(EraGeometry.For(200L << 20, 4096));
            }
            store.CommitMarks([new BlockRun(5, 5)]);
        }
        Assert.That(MetadataChecker.Check(path), Is.Empty);
    }
}

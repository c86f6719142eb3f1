using System.Buffers.Binary;
using System.Text.RegularExpressions;
using EraFs.Metadata;
using EraFs.TestSupport;

namespace EraFs.Cli.Tests;

/// <summary>
/// The metadata tools on damaged and crafted files, through the real CLI: a salvage never turns an
/// unreadable era into "never written", a failing verb prints nothing on stdout, a damaged superblock
/// slot is reported, and huge on-disk values are refused as damage naming the block.
/// </summary>
[TestFixture]
public partial class DamagedMetadataTests
{
    private const int Block = 4096;

    /// <summary>Blocks 0..19 last written in era 2, 20..29 in era 3 (digested into the era array), 35 in era 4.</summary>
    private const string EraArrayHistory = """
        <superblock uuid="" block_size="128" nr_blocks="40" current_era="5">
          <writeset era="4" nr_bits="40">
            <bit block="35" value="true"/>
          </writeset>
          <era_array>
        """ + "\n" + ErasXml + """
          </era_array>
        </superblock>
        """;

    /// <summary>Blocks 1, 7 and 30 written in era 3 (its archived writeset is the only bitset), block 4 in era 2.</summary>
    private const string WritesetHistory = """
        <superblock uuid="" block_size="128" nr_blocks="40" current_era="5">
          <writeset era="3" nr_bits="40">
            <bit block="1" value="true"/>
            <bit block="7" value="true"/>
            <bit block="30" value="true"/>
          </writeset>
          <era_array>
            <era block="4" era="2"/>
          </era_array>
        </superblock>
        """;

    private const string ErasXml = """
            <era block="0" era="2"/><era block="1" era="2"/><era block="2" era="2"/><era block="3" era="2"/>
            <era block="4" era="2"/><era block="5" era="2"/><era block="6" era="2"/><era block="7" era="2"/>
            <era block="8" era="2"/><era block="9" era="2"/><era block="10" era="2"/><era block="11" era="2"/>
            <era block="12" era="2"/><era block="13" era="2"/><era block="14" era="2"/><era block="15" era="2"/>
            <era block="16" era="2"/><era block="17" era="2"/><era block="18" era="2"/><era block="19" era="2"/>
            <era block="20" era="3"/><era block="21" era="3"/><era block="22" era="3"/><era block="23" era="3"/>
            <era block="24" era="3"/><era block="25" era="3"/><era block="26" era="3"/><era block="27" era="3"/>
            <era block="28" era="3"/><era block="29" era="3"/>
        """;

    private TestDirectory _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new TestDirectory("damaged");

    [TearDown]
    public void TearDown() => _dir.Dispose();

    [Test]
    public void Repair_gives_blocks_of_a_damaged_era_array_page_the_current_era_never_0()
    {
        var meta = Restore("eras", EraArrayHistory);
        var truth = TrueEras(meta);
        Assert.That(truth.Values.Distinct(), Is.SupersetOf(new uint[] { 2, 3 }), "the history has blocks of eras 2 and 3");
        DamageOnly(meta, BlockKind.EraPage, seed: 1);

        var r = Erafs.Run("dump", "--repair", "--logical", meta).Ok();
        AssertNoEraBelowTruth(truth, LogicalEras(r.Stdout));
        Assert.That(r.Stderr, Does.Contain($"erafs: {meta}: repair: 40 blocks whose era could not be read were given era 5"));
        Assert.That(r.Stderr, Does.Contain("(era array page)"), "the damage itself is named");
    }

    [Test]
    public void Repair_takes_every_bit_of_a_damaged_writeset_page_as_set()
    {
        var meta = Restore("ws", WritesetHistory);
        var truth = TrueEras(meta);
        Assert.That(truth.Values.Distinct(), Is.SupersetOf(new uint[] { 2, 3 }));
        DamageOnly(meta, BlockKind.BitsetPage, seed: 2);

        var r = Erafs.Run("dump", "--repair", "--logical", meta).Ok();
        AssertNoEraBelowTruth(truth, LogicalEras(r.Stdout));
        Assert.That(r.Stderr, Does.Contain($"erafs: {meta}: repair: 40 blocks whose era could not be read were given era 3"));
        var plain = Erafs.Run("dump", "--repair", meta).Ok().Stdout;
        Assert.That(plain, Does.Contain("<writeset era=\"3\" nr_bits=\"40\">"), "the damaged writeset is kept, not left out");
    }

    [Test]
    public void Repair_gives_every_block_under_a_damaged_index_node_the_newest_era_it_may_have()
    {
        var meta = Restore("nodes", EraArrayHistory);
        var truth = TrueEras(meta);
        var bytes = File.ReadAllBytes(meta);
        var nodes = Enumerable.Range(0, bytes.Length / Block)
            .Where(b => BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(b * Block + 4)) == (ushort)BlockKind.IndexNode).ToList();
        Assert.That(nodes, Has.Count.GreaterThanOrEqualTo(2), "the era array's and era 4's trees");
        foreach (var node in nodes) bytes[node * Block + 100] ^= 0xFF;
        File.WriteAllBytes(meta, bytes);

        var r = Erafs.Run("dump", "--repair", "--logical", meta).Ok();
        AssertNoEraBelowTruth(truth, LogicalEras(r.Stdout));
        Assert.That(r.Stderr, Does.Contain("repair: 40 blocks whose era could not be read were given era 4")
            .And.Contain("repair: 40 blocks whose era could not be read were given era 5"));
        Assert.That(r.Stderr, Does.Contain("(index node)"));
    }

    [TestCase("xml")]
    [TestCase("json")]
    [TestCase("count")]
    public void A_failing_invalidate_prints_nothing_on_stdout(string format)
    {
        var meta = Restore("inv", EraArrayHistory);
        DamageOnly(meta, BlockKind.EraPage, seed: 3);

        var r = Erafs.Run("invalidate", "--written-since", "2", "--format", format, meta);
        Assert.That(r.ExitCode, Is.EqualTo(3), r.Stderr);
        Assert.That(r.Stdout, Is.Empty);
        Assert.That(r.Stderr, Does.StartWith($"erafs: {meta}: block ").And.Contain("(era array page)"));
    }

    [Test]
    public void A_copy_over_damaged_metadata_exits_3_naming_the_block_and_what_was_copied()
    {
        var meta = Restore("copy", EraArrayHistory);
        DamageOnly(meta, BlockKind.EraPage, seed: 3);
        var source = _dir.SparseFile("copy-source.img", 40L << 16);

        var r = Erafs.Run("copy", "--written-since", "2", "--from", source, "--to", _dir.File("copy-target.img"), meta);
        Assert.That(r.ExitCode, Is.EqualTo(3), r.Stderr);
        Assert.That(r.Stdout, Is.Empty);
        Assert.That(r.Stderr, Does.StartWith($"erafs: {meta}: block ").And.Contain("(era array page)").And.Contain("every range below byte offset"));
    }

    [Test]
    public void A_successful_invalidate_still_prints_its_report()
    {
        var meta = Restore("ok", EraArrayHistory);
        var r = Erafs.Run("invalidate", "--written-since", "3", "--format", "count", meta).Ok();
        Assert.That(r.Stdout, Does.StartWith("blocks: 11\n"), "blocks 20..29 and 35");
    }

    [Test]
    public void Check_is_silent_about_a_never_written_slot()
    {
        var meta = Restore("fresh", EraArrayHistory);
        Assert.That(File.ReadAllBytes(meta).AsSpan(Block, Block).IndexOfAnyExcept((byte)0), Is.LessThan(0), "restore leaves slot 1 zero");
        var r = Erafs.Run("check", meta).Ok();
        Assert.That(r.Stdout.Trim(), Is.EqualTo($"{meta}: no problems found"));
    }

    [TestCase(1, 0)]
    [TestCase(2, 1)]
    public void Check_warns_about_garbage_in_the_older_superblock_slot(int commits, int damagedSlot)
    {
        var meta = Restore("slot", EraArrayHistory);
        using (var store = MetadataStore.Open(meta))
            for (var i = 0; i < commits; i++) store.Rollover();
        Garble(meta, damagedSlot, seed: 4);

        var r = Erafs.Run("check", meta).Ok();
        Assert.That(r.Stdout, Does.Contain($"{meta}: block {damagedSlot} (superblock slot {damagedSlot}): warning: checksum mismatch; slot {1 - damagedSlot} (sequence {1 + commits}) is in use"));
        Assert.That(r.Stdout, Does.Contain("no problems found (1 warning)"));
        var quiet = Erafs.Run("check", "-q", meta);
        Assert.That((quiet.ExitCode, quiet.Stdout, quiet.Stderr), Is.EqualTo((0, "", "")));
    }

    [Test]
    public void Check_warns_about_a_zeroed_slot_that_was_written_before()
    {
        var meta = Restore("zeroed", EraArrayHistory);
        using (var store = MetadataStore.Open(meta)) store.Rollover();
        var bytes = File.ReadAllBytes(meta);
        bytes.AsSpan(0, Block).Clear();
        File.WriteAllBytes(meta, bytes);

        var r = Erafs.Run("check", meta).Ok();
        Assert.That(r.Stdout, Does.Contain($"{meta}: block 0 (superblock slot 0): warning: empty, yet it was written before sequence 2; slot 1 (sequence 2) is in use"));
    }

    [Test]
    public void Check_fails_when_both_superblock_slots_are_garbage()
    {
        var meta = Restore("both", EraArrayHistory);
        using (var store = MetadataStore.Open(meta)) store.Rollover();
        Garble(meta, 0, seed: 5);
        Garble(meta, 1, seed: 6);

        var r = Erafs.Run("check", meta);
        Assert.That(r.ExitCode, Is.EqualTo(3), r.Stdout + r.Stderr);
        Assert.That(r.Stdout, Does.Contain($"{meta}: block 0 (superblock): bad checksum in both slots"));
    }

    /// <summary>A superblock field (offset in the block, width) set to a huge value, the block resealed; the block the refusal must name.</summary>
    private static readonly object[] s_hugeFields =
    [
        new object[] { "journal start", 120, 8, ulong.MaxValue - 1, 0UL },
        new object[] { "journal length", 128, 4, (ulong)uint.MaxValue, 0UL },
        new object[] { "total blocks", 144, 8, ulong.MaxValue, 0UL },
        new object[] { "era array root", 96, 8, (1UL << 51) + 3, (1UL << 51) + 3 },
        new object[] { "current writeset root", 88, 8, ulong.MaxValue / Block, ulong.MaxValue / Block },
        new object[] { "catalog head", 104, 8, (1UL << 51) + 7, (1UL << 51) + 7 },
    ];

    [TestCaseSource(nameof(s_hugeFields))]
    public void A_huge_field_is_refused_as_damage_naming_the_block(string field, int offset, int width, ulong value, ulong block)
    {
        var meta = Restore("huge", WritesetHistory);
        var bytes = File.ReadAllBytes(meta);
        var slot = bytes.AsSpan(0, Block);
        if (width == 8) BinaryPrimitives.WriteUInt64LittleEndian(slot[offset..], value);
        else BinaryPrimitives.WriteUInt32LittleEndian(slot[offset..], (uint)value);
        BlockFormat.Seal(slot, BlockKind.Superblock, 0);
        File.WriteAllBytes(meta, bytes);

        foreach (var args in new string[][] { ["check", meta], ["dump", meta], ["invalidate", "--written-since", "0", meta] })
        {
            var r = Erafs.Run(args);
            var what = $"{args[0]} with a huge {field}";
            Assert.That(r.ExitCode, Is.EqualTo(3), $"{what}: {r.Stderr}");
            Assert.That(r.Stderr, Does.Not.Contain("internal error"), what);
            Assert.That(r.Stderr.Trim().Split('\n'), Has.Length.EqualTo(1), $"{what}: one line: {r.Stderr}");
            Assert.That(r.Stderr, Does.StartWith($"erafs: {meta}: ").And.Contain($"block {block} ("), what);
            Assert.That(r.Stdout, args[0] == "check" ? Does.Contain($"block {block} (") : Is.Empty, what);
        }
    }

    private string Restore(string name, string xml)
    {
        var input = _dir.File(name + ".xml");
        File.WriteAllText(input, xml);
        var meta = _dir.File(name + ".era");
        Erafs.Run("restore", "-i", input, "-o", meta).Ok();
        return meta;
    }

    /// <summary>Each block's newest era before any damage (the oracle).</summary>
    private static Dictionary<ulong, uint> TrueEras(string meta) => LogicalEras(Erafs.Run("dump", "--logical", meta).Ok().Stdout);

    private static Dictionary<ulong, uint> LogicalEras(string xml) =>
        EraEntry().Matches(xml).ToDictionary(m => ulong.Parse(m.Groups[1].Value), m => uint.Parse(m.Groups[2].Value));

    private static void AssertNoEraBelowTruth(Dictionary<ulong, uint> truth, Dictionary<ulong, uint> repaired)
    {
        Assert.That(repaired.Keys, Is.EquivalentTo(truth.Keys), "every block is listed");
        foreach (var (block, era) in truth.Where(t => t.Value > 0))
            Assert.That(repaired[block], Is.GreaterThanOrEqualTo(era), $"block {block}, last written in era {era}");
    }

    /// <summary>64 random bytes into the payload of the file's only block of this kind.</summary>
    private static void DamageOnly(string meta, BlockKind kind, int seed)
    {
        var bytes = File.ReadAllBytes(meta);
        var found = Enumerable.Range(0, bytes.Length / Block)
            .Where(b => BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(b * Block + 4)) == (ushort)kind).ToList();
        Assert.That(found, Has.Count.EqualTo(1), $"one {kind} block");
        new Random(seed).NextBytes(bytes.AsSpan(found[0] * Block + 200, 64));
        File.WriteAllBytes(meta, bytes);
    }

    private static void Garble(string meta, int slot, int seed)
    {
        var bytes = File.ReadAllBytes(meta);
        new Random(seed).NextBytes(bytes.AsSpan(slot * Block + 40, 64));
        File.WriteAllBytes(meta, bytes);
    }

    [GeneratedRegex("<era block=\"(\\d+)\" era=\"(\\d+)\"/>")]
    private static partial Regex EraEntry();
}

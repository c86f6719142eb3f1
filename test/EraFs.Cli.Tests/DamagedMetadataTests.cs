using System.Buffers.Binary;
using EraFs.Metadata;
using EraFs.TestSupport;

namespace EraFs.Cli.Tests;

/// <summary>
/// The metadata tools on damaged and crafted files, through the real CLI: a salvage never turns an
/// unreadable era into "never written", a failing verb prints nothing on stdout, a damaged superblock
/// slot is reported, and huge on-disk values are refused as damage naming the block.
/// </summary>
[TestFixture]
public class DamagedMetadataTests
{
    private const int Block = 4096;

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

    private TestDirectory _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new TestDirectory("damaged");

    [TearDown]
    public void TearDown() => _dir.Dispose();

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
            if (args[0] == "check") Assert.That(r.Stdout, Does.Contain($"block {block} ("), what);
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
}

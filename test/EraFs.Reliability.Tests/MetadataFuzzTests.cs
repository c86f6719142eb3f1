using System.Buffers.Binary;
using System.Diagnostics;
using EraFs.Core;
using EraFs.Metadata;
using EraFs.TestSupport;

namespace EraFs.Reliability.Tests;

/// <summary>
/// S11: a seeded mutation fuzzer over valid metadata of several sizes and eras. Every mutant must open with at least
/// the original marks, or be refused with a MetadataException naming what is wrong; never crash, hang or open with fewer marks.
/// The checker must get through every mutant without crashing too. Crafted mutants set an on-disk number to a huge value
/// and reseal the block, so the checksum passes and only range checks stand between the value and an overflow.
/// </summary>
[TestFixture]
[Category("Reliability")]
public class MetadataFuzzTests
{
    private const int Block = 4096;
    private const uint JournalBlocks = 4;

    /// <summary>A valid metadata image, an older generation of it (for splices) and what it must report.</summary>
    private sealed record Seed(byte[] Image, byte[] Older, uint Era, Dictionary<uint, HashSet<ulong>> WrittenSince);

    private static Seed Build(ulong nrBlocks, int rounds, int seed)
    {
        var random = new Random(seed);
        var device = new FaultyDevice("meta.bin");
        byte[] older = [];
        using (var store = MetadataStore.Create(device, EraGeometry.For((long)nrBlocks * Block, Block), JournalBlocks))
        {
            store.SetClean(false, TrackedStack.OriginMtime);
            for (var r = 0; r < rounds; r++)
            {
                if (r == rounds / 2) older = device.Snapshot();
                store.Rollover();
                for (var m = 0; m < random.Next(1, 6); m++)
                    store.CommitMarks([new BlockRun((ulong)random.NextInt64(0, (long)nrBlocks - 8), (ulong)random.Next(1, 8))]);
                if (random.Next(3) == 0) store.DigestStep();
                if (r == rounds - 2) store.TakeSnapshot();
            }
        }
        var image = device.Snapshot();
        using var reader = new MetadataReader(new FaultyDevice("meta.bin", image));
        var expected = new Dictionary<uint, HashSet<ulong>>();
        for (var era = 1u; era <= reader.CurrentEra; era++) expected[era] = CrashOracle.Blocks(reader.WrittenSince(era));
        return new Seed(image, older, reader.CurrentEra, expected);
    }

    [Test]
    public void S11_mutated_metadata_is_opened_whole_or_refused_by_name()
    {
        var report = new ScenarioReport("S11 metadata mutation fuzzer");
        Seed[] seeds = [Build(16, 6, 1), Build(1000, 20, 2), Build(40_000, 40, 3)];
        var mutants = Scale.Pick(5000, 300_000);
        var random = new Random(11);
        var slowest = TimeSpan.Zero;
        Watchdog.Run(report.Name, Scale.Watchdog, () =>
        {
            for (var i = 0; i < mutants; i++)
            {
                var seed = seeds[i % seeds.Length];
                var (mutant, how, knownGap) = Mutate(seed, random);
                if (how.StartsWith("crafted", StringComparison.Ordinal)) report.Count("crafted huge-value mutants");
                var watch = Stopwatch.StartNew();
                Verdict(seed, mutant, knownGap, report, $"mutant {i} ({how})");
                if (watch.Elapsed > slowest) slowest = watch.Elapsed;
                if (watch.Elapsed > TimeSpan.FromSeconds(1)) report.Fail("opens over 1 s", $"mutant {i} ({how})");
                report.Try();
            }
        });
        report.Count("ms slowest verdict (not asserted)", (long)slowest.TotalMilliseconds);
        report.Finish();
    }

    private static void Verdict(Seed seed, byte[] mutant, bool knownGap, ScenarioReport report, string where)
    {
        try
        {
            try
            {
                MetadataChecker.Check(new FaultyDevice("meta.bin", mutant), superblockOnly: false);
            }
            catch (MetadataException)
            {
                // The checker may refuse a file it cannot even open; only a crash is a failure here.
            }
            using (var reader = new MetadataReader(new FaultyDevice("meta.bin", mutant)))
            {
                var lost = 0L;
                foreach (var (era, blocks) in seed.WrittenSince)
                {
                    var listed = CrashOracle.Blocks(reader.WrittenSince(era));
                    lost += blocks.Count(b => !listed.Contains(b));
                }
                if (reader.CurrentEra < seed.Era || lost > 0)
                {
                    // Known gap (README "Guarantees"): counted and printed, not failed; anywhere else it is a bug.
                    if (knownGap) report.Count("silent accepts with fewer marks in the known gap");
                    else report.Fail("silent accepts with fewer marks", where);
                }
                if (reader.HeldSnapshot is not null) _ = reader.WrittenSince(1, useSnapshot: true).Count();
            }
            using (MetadataStore.Open(new FaultyDevice("meta.bin", mutant))) { }
            report.Count("opened intact");
        }
        catch (MetadataException e)
        {
            if (string.IsNullOrWhiteSpace(e.Message) || !e.Message.Contains("meta.bin", StringComparison.Ordinal))
                report.Fail("refusals not naming the file", $"{where}: {e.Message}");
            report.Count("refused");
        }
        catch (Exception e)
        {
            report.Fail("crashes", $"{where}: {e.GetType().Name}: {e.Message}");
        }
    }

    /// <summary>
    /// Damage the format cannot tell from a torn last commit: the newest superblock slot or a journal block (blocks
    /// 0..1+J), or a block replaced by an older, self-consistent version of itself (a lost or misdirected write).
    /// </summary>
    private static bool InKnownGap(int block) => block < 2 + JournalBlocks;

    private static (byte[] Mutant, string How, bool KnownGap) Mutate(Seed seed, Random random)
    {
        var m = seed.Image.ToArray();
        var blocks = m.Length / Block;
        switch (random.Next(9))
        {
            case 0:
                var bit = random.NextInt64(0, m.Length * 8L);
                m[bit / 8] ^= (byte)(1 << (int)(bit % 8));
                return (m, $"bit flip at {bit / 8}", InKnownGap((int)(bit / 8 / Block)));
            case 1:
                var at = random.Next(m.Length);
                m[at] = random.Next(2) == 0 ? (byte)0 : (byte)0xFF;
                return (m, $"byte {at} set to {m[at]:x2}", InKnownGap(at / Block));
            case 2:
                var cut = random.Next(0, m.Length / 512) * 512;
                return (m[..cut], $"truncated at {cut}", InKnownGap(cut / Block));
            case 3:
                var zeroed = random.Next(blocks);
                m.AsSpan(zeroed * Block, Block).Clear();
                return (m, $"block {zeroed} zeroed", InKnownGap(zeroed));
            case 4:
                var (a, b) = (random.Next(blocks), random.Next(blocks));
                var tmp = m.AsSpan(a * Block, Block).ToArray();
                m.AsSpan(b * Block, Block).CopyTo(m.AsSpan(a * Block));
                tmp.CopyTo(m.AsSpan(b * Block));
                return (m, $"blocks {a} and {b} swapped", InKnownGap(a) || InKnownGap(b));
            case 5:
                var spliced = random.Next(Math.Min(blocks, seed.Older.Length / Block));
                seed.Older.AsSpan(spliced * Block, Block).CopyTo(m.AsSpan(spliced * Block));
                return (m, $"block {spliced} from an older generation", true);
            case 7:
                return CraftSuperblockField(m, random);
            case 8:
                return CraftPointer(m, random) ?? CraftSuperblockField(m, random);
            default:
                // A field of the first blocks (superblocks, journal) set to its extreme value.
                var field = random.Next(0, Math.Min(m.Length, 4 * Block) / 8) * 8;
                var width = random.Next(2) == 0 ? 4 : 8;
                m.AsSpan(field, width).Fill(random.Next(2) == 0 ? (byte)0xFF : (byte)0);
                return (m, $"{width}-byte field at {field} set to an extreme", InKnownGap(field / Block));
        }
    }

    /// <summary>Superblock fields a reader computes with: (offset in the block, width).</summary>
    private static readonly (int Offset, int Width)[] s_superblockFields =
        [(88, 8), (96, 8), (104, 8), (112, 8), (120, 8), (128, 4), (144, 8), (64, 8), (72, 8)];

    /// <summary>Values that overflow a block-to-offset product, a start + length sum or an allocation.</summary>
    private static ulong HugeValue(Random random)
    {
        var near = (ulong)random.Next(0, 8);
        return random.Next(6) switch
        {
            0 => ulong.MaxValue - near,
            1 => (1UL << 51) + near,
            2 => (1UL << 52) - 1 - near,
            3 => (ulong)(long.MaxValue / Block) + near - 4,
            4 => (1UL << 63) + near,
            _ => uint.MaxValue - near,
        };
    }

    private static (byte[], string, bool) CraftSuperblockField(byte[] m, Random random)
    {
        var slot = random.Next(2);
        var (offset, width) = s_superblockFields[random.Next(s_superblockFields.Length)];
        var value = HugeValue(random);
        var block = m.AsSpan(slot * Block, Block);
        if (width == 8) BinaryPrimitives.WriteUInt64LittleEndian(block[offset..], value);
        else BinaryPrimitives.WriteUInt32LittleEndian(block[offset..], (uint)value);
        BlockFormat.Seal(block, BlockKind.Superblock, (ulong)slot);
        // A resealed superblock is self-consistent: the format cannot tell it from a real commit (known gap).
        return (m, $"crafted: superblock slot {slot} field at {offset} set to {value}", true);
    }

    /// <summary>A u64 of an index node, catalog or snapshot root set to a huge value and the block resealed; null when the image has none.</summary>
    private static (byte[], string, bool)? CraftPointer(byte[] m, Random random)
    {
        var candidates = Enumerable.Range((int)(2 + JournalBlocks), m.Length / Block - (int)(2 + JournalBlocks))
            .Where(b => (BlockKind)BinaryPrimitives.ReadUInt16LittleEndian(m.AsSpan(b * Block + 4)) is BlockKind.IndexNode or BlockKind.ArchiveCatalog or BlockKind.SnapshotRoot)
            .ToList();
        if (candidates.Count == 0) return null;
        var b = candidates[random.Next(candidates.Count)];
        var kind = (BlockKind)BinaryPrimitives.ReadUInt16LittleEndian(m.AsSpan(b * Block + 4));
        var at = BlockFormat.HeaderSize + random.Next(BlockFormat.PayloadSize / 8) * 8;
        var value = HugeValue(random);
        BinaryPrimitives.WriteUInt64LittleEndian(m.AsSpan(b * Block + at), value);
        BlockFormat.Seal(m.AsSpan(b * Block, Block), kind, (ulong)b);
        return (m, $"crafted: {kind} block {b} u64 at {at} set to {value}", false);
    }
}

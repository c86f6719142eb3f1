namespace EraFs.Core.Tests;

/// <summary>The one word-at-a-time run scanner, and the managed bitset over it, against a scan bit by bit.</summary>
public sealed class BitRunsTests
{
    private static bool Bit(ulong[] words, ulong b) => (words[b / 64] >> (int)(b % 64) & 1) != 0;

    private static List<BlockRun> RunsBitByBit(ulong[] words, ulong limit, ulong baseBit)
    {
        var runs = new List<BlockRun>();
        for (ulong b = 0; b < limit; b++)
        {
            if (!Bit(words, b)) continue;
            if (runs.Count > 0 && runs[^1].End == baseBit + b) runs[^1] = new BlockRun(runs[^1].Start, runs[^1].Count + 1);
            else runs.Add(new BlockRun(baseBit + b, 1));
        }
        return runs;
    }

    // Patterns that stress word boundaries: all clear, all set, alternating, long runs crossing
    // words, and random density.
    private static ulong[] Words(Random random, int count, int pattern)
    {
        var words = new ulong[count];
        for (var i = 0; i < count; i++)
            words[i] = pattern switch
            {
                0 => 0,
                1 => ulong.MaxValue,
                2 => 0xAAAA_AAAA_AAAA_AAAAUL,
                3 => random.Next(3) == 0 ? ulong.MaxValue : random.Next(2) == 0 ? 0 : (ulong)random.NextInt64() << random.Next(64),
                _ => (ulong)random.NextInt64() & (ulong)random.NextInt64(),
            };
        return words;
    }

    [Test]
    public void Runs_counts_and_next_bits_equal_a_scan_bit_by_bit()
    {
        var random = new Random(11);
        for (var trial = 0; trial < 600; trial++)
        {
            var words = Words(random, random.Next(1, 40), trial % 5);
            var limit = (ulong)random.Next(0, words.Length * 64 + 1);
            var baseBit = (ulong)random.Next(0, 1000);
            var runs = new List<BlockRun>();
            BitRuns.Append(words, limit, baseBit, runs);
            Assert.That(runs, Is.EqualTo(RunsBitByBit(words, limit, baseBit)), $"trial {trial}, limit {limit}");
            ulong set = 0;
            for (ulong b = 0; b < limit; b++) if (Bit(words, b)) set++;
            Assert.That(BitRuns.Count(words, limit), Is.EqualTo(set), $"trial {trial}");
            var from = limit == 0 ? 0 : (ulong)random.NextInt64(0, (long)limit);
            ulong nextSet = from, nextClear = from;
            while (nextSet < limit && !Bit(words, nextSet)) nextSet++;
            while (nextClear < limit && Bit(words, nextClear)) nextClear++;
            Assert.That(BitRuns.NextSet(words, from, limit), Is.EqualTo(nextSet), $"trial {trial}, from {from}");
            Assert.That(BitRuns.NextClear(words, from, limit), Is.EqualTo(nextClear), $"trial {trial}, from {from}");
        }
    }

    [Test]
    public void Pages_scanned_into_one_list_give_maximal_runs_across_them()
    {
        var random = new Random(12);
        for (var trial = 0; trial < 100; trial++)
        {
            var words = Words(random, 24, trial % 5);
            var runs = new List<BlockRun>();
            for (var page = 0; page < 3; page++)
                BitRuns.Append(words.AsSpan(page * 8, 8), 512, (ulong)page * 512, runs);
            Assert.That(runs, Is.EqualTo(RunsBitByBit(words, 24 * 64, 0)), $"trial {trial}");
        }
    }

    [Test]
    public void A_bitset_set_by_ranges_and_bits_scans_as_it_was_set_and_round_trips_through_dm_log_bytes()
    {
        var random = new Random(13);
        for (var trial = 0; trial < 200; trial++)
        {
            var length = (ulong)random.Next(1, 3000);
            var bits = new Bitset(length);
            var expected = new bool[length];
            for (var op = 0; op < 20; op++)
            {
                var start = (ulong)random.NextInt64(0, (long)length);
                var count = (ulong)random.Next(0, 300);
                if (op % 3 == 2)
                {
                    bits[start] = !expected[start];
                    expected[start] = !expected[start];
                    continue;
                }
                bits.SetRange(start, count);
                for (var b = start; b < Math.Min(length, start + count); b++) expected[b] = true;
            }
            var words = new ulong[(length + 63) / 64];
            for (ulong b = 0; b < length; b++) if (expected[b]) words[b / 64] |= 1UL << (int)(b % 64);
            Assert.That(bits.Runs(), Is.EqualTo(RunsBitByBit(words, length, 0)), $"trial {trial}");
            Assert.That(bits.PopCount(), Is.EqualTo((ulong)expected.Count(x => x)));

            // dm-log's bitmap: round_up(length, 32) bits in 32-bit little-endian words.
            var bytes = new byte[(length + 31) / 32 * 4];
            bits.WriteTo(bytes);
            for (ulong b = 0; b < length; b++)
                Assert.That((bytes[b / 8] >> (int)(b % 8) & 1) == 1, Is.EqualTo(expected[b]), $"trial {trial}, bit {b}");
            var back = new Bitset(length);
            back.ReadFrom(bytes);
            Assert.That(back.Runs(), Is.EqualTo(bits.Runs()));
        }
    }

    [Test]
    public void Bits_read_past_the_length_are_dropped_and_growing_adds_clear_bits()
    {
        var bits = new Bitset(40);
        bits.ReadFrom(Enumerable.Repeat((byte)0xFF, 8).ToArray());
        Assert.That(bits.PopCount(), Is.EqualTo(40UL));
        bits.GrowTo(200);
        Assert.That(bits.Runs(), Is.EqualTo(new[] { new BlockRun(0, 40) }));
        Assert.That(bits.NextClear(0), Is.EqualTo(40UL));
        bits.SetAll(true);
        Assert.That(bits.PopCount(), Is.EqualTo(200UL));
        Assert.That(() => bits[200], Throws.TypeOf<ArgumentOutOfRangeException>());
    }
}

/// <summary>Word access and union on the managed bitset keep every bit past its length clear.</summary>
[TestFixture]
public class BitsetWordTests
{
    [Test]
    public void SetWord_and_UnionWith_drop_bits_past_the_length()
    {
        var a = new Bitset(70);
        a.SetWord(1, ulong.MaxValue);
        Assert.That(a.PopCount(), Is.EqualTo(6), "only bits 64..69 exist in word 1");
        Assert.That(a.Runs(), Is.EqualTo(new[] { new BlockRun(64, 6) }));
        Assert.Throws<ArgumentOutOfRangeException>(() => a.SetWord(2, 1));

        var wide = new Bitset(200);
        wide.SetRange(0, 200);
        var narrow = new Bitset(65);
        narrow.UnionWith(wide);
        Assert.That(narrow.PopCount(), Is.EqualTo(65));
        Assert.That(narrow.Word(1), Is.EqualTo(1UL));
        Assert.That(narrow.WordCount, Is.EqualTo(2));
    }
}

namespace EraFs.Core.Tests;

public class BitsetAndBatchTests
{
    [TestCase(0UL, 1UL)]
    [TestCase(63UL, 2UL)]
    [TestCase(5UL, 200UL)]
    [TestCase(0UL, 1000UL)]
    [TestCase(999UL, 1UL)]
    public void SetRange_sets_exactly_the_range(ulong start, ulong count)
    {
        using var bits = new BlockBitset(1000);
        Assert.That(bits.SetRange(start, count), Is.EqualTo(count));
        Assert.Multiple(() =>
        {
            Assert.That(bits.AllSet(start, count), Is.True);
            Assert.That(start == 0 || !bits.IsSet(start - 1), Is.True, "bit before the range");
            Assert.That(start + count == 1000 || !bits.IsSet(start + count), Is.True, "bit after the range");
            Assert.That(bits.SetRange(start, count), Is.Zero, "second set finds nothing new");
        });
    }

    [Test]
    public void AllSet_is_false_when_one_bit_is_missing()
    {
        using var bits = new BlockBitset(300);
        bits.SetRange(10, 100);
        bits.SetRange(111, 50);
        Assert.Multiple(() =>
        {
            Assert.That(bits.AllSet(10, 100), Is.True);
            Assert.That(bits.AllSet(10, 150), Is.False);
            Assert.That(bits.AllSet(0, 0), Is.True);
        });
    }

    [Test]
    public void ClearAll_clears_bits_in_every_touched_page()
    {
        using var bits = new BlockBitset(1UL << 20);
        bits.SetRange(3, 1);
        bits.SetRange((1UL << 20) - 70, 70);
        bits.SetRange(40_000, 5);
        bits.ClearAll();
        Assert.Multiple(() =>
        {
            Assert.That(bits.IsSet(3), Is.False);
            Assert.That(bits.IsSet(40_002), Is.False);
            Assert.That(bits.IsSet((1UL << 20) - 1), Is.False);
            Assert.That(bits.SetRange(0, 1UL << 20), Is.EqualTo(1UL << 20));
        });
    }

    [Test]
    public void The_largest_bitmaps_cost_memory_only_where_bits_are_set()
    {
        var before = Environment.WorkingSet;
        using var durable = new BlockBitset(EraGeometry.MaxNrBlocks);
        using var requested = new BlockBitset(EraGeometry.MaxNrBlocks);
        durable.SetRange(0, 10);
        durable.SetRange(EraGeometry.MaxNrBlocks - 10, 10);
        requested.SetRange(1UL << 30, 1);
        durable.ClearAll();
        requested.ClearAll();
        Assert.Multiple(() =>
        {
            Assert.That(durable.IsSet(EraGeometry.MaxNrBlocks - 1), Is.False);
            Assert.That(Environment.WorkingSet - before, Is.LessThan(64L << 20), "2 x 256 MiB of bitmap must not become resident");
        });
    }

    [Test]
    public void Out_of_range_bits_are_refused()
    {
        using var bits = new BlockBitset(10);
        Assert.Throws<ArgumentOutOfRangeException>(() => bits.SetRange(9, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => bits.IsSet(10));
    }

    [Test]
    public void Batch_merges_overlapping_and_touching_runs_in_order()
    {
        var batch = new MarkBatch();
        batch.Append(10, 2);
        batch.Append(12, 3);
        batch.Append(0, 1);
        batch.Append(20, 5);
        batch.Append(14, 2);
        batch.Append(1, 1);
        batch.SortAndMerge();
        Assert.That(batch.Runs.ToArray(), Is.EqualTo(new[] { new BlockRun(0, 2), new BlockRun(10, 6), new BlockRun(20, 5) }));
        Assert.Multiple(() =>
        {
            Assert.That(batch.Contains(15), Is.True);
            Assert.That(batch.Contains(16), Is.False);
            Assert.That(batch.Contains(24), Is.True);
            Assert.That(batch.Contains(2), Is.False);
        });
    }

    [Test]
    public void Batch_grows_past_its_first_array()
    {
        var batch = new MarkBatch();
        for (ulong i = 0; i < 500; i++) batch.Append(i * 2, 1);
        batch.SortAndMerge();
        Assert.That(batch.Count, Is.EqualTo(500));
    }
}

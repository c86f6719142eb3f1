using EraFs.TestSupport;

namespace EraFs.Core.Tests;

public class WriteMarkingTests
{
    private const long B = TrackedDevice.BlockSize;

    // 16 full blocks and a 100-byte partial last block (block 16).
    private const long OriginSize = 16 * B + 100;

    private static IEnumerable<TestCaseData> SingleEraCases()
    {
        yield return new TestCaseData(new[] { (0L, 1L) }, new ulong[] { 0 }).SetName("one byte marks its block");
        yield return new TestCaseData(new[] { (0L, B) }, new ulong[] { 0 }).SetName("a whole block marks only that block");
        yield return new TestCaseData(new[] { (B - 1, 2L) }, new ulong[] { 0, 1 }).SetName("two bytes across a boundary mark both blocks");
        yield return new TestCaseData(new[] { (3 * B + 5, 4 * B) }, new ulong[] { 3, 4, 5, 6, 7 }).SetName("an unaligned span marks every block it touches");
        yield return new TestCaseData(new[] { (16 * B, 100L) }, new ulong[] { 16 }).SetName("the partial last block is tracked");
        yield return new TestCaseData(new[] { (15 * B + 10, B + 90) }, new ulong[] { 15, 16 }).SetName("a write ending at the device end");
        yield return new TestCaseData(new[] { (2 * B, 0L) }, Array.Empty<ulong>()).SetName("an empty write marks nothing");
        yield return new TestCaseData(new[] { (0L, OriginSize) }, Enumerable.Range(0, 17).Select(i => (ulong)i).ToArray()).SetName("a whole-device write marks all");
        yield return new TestCaseData(new[] { (B, 1L), (9 * B, 1L), (B + 7, 3L) }, new ulong[] { 1, 9 }).SetName("several writes, one repeated");
    }

    [TestCaseSource(nameof(SingleEraCases))]
    public void Writes_mark_exactly_the_blocks_they_touch((long Offset, long Length)[] writes, ulong[] expected)
    {
        using var device = new TrackedDevice(new MemoryEraStore(EraGeometry.For(OriginSize, TrackedDevice.BlockSize)));
        foreach (var (offset, length) in writes) device.Write(offset, length);

        Assert.Multiple(() =>
        {
            Assert.That(device.Tracker.Status.CurrentEra, Is.EqualTo(1u));
            Assert.That(device.Store.WrittenSince(1), Is.EqualTo(expected));
            Assert.That(device.Tracker.Status.BlocksWrittenThisEra, Is.EqualTo((ulong)expected.Length));
        });
    }

    // Eras are 1 (first open), 2 and 3 (two checkpoints); each row is the writes of one era.
    private static IEnumerable<TestCaseData> MultiEraCases()
    {
        yield return new TestCaseData(
            new[] { new ulong[] { 0, 1 }, new ulong[] { 2 }, new ulong[] { 3 } },
            new[] { new ulong[] { 0, 1, 2, 3 }, new ulong[] { 2, 3 }, new ulong[] { 3 } }).SetName("disjoint writes per era");
        yield return new TestCaseData(
            new[] { new ulong[] { 5 }, new ulong[] { 5 }, Array.Empty<ulong>() },
            new[] { new ulong[] { 5 }, new ulong[] { 5 }, Array.Empty<ulong>() }).SetName("a block rewritten in a later era");
        yield return new TestCaseData(
            new[] { new ulong[] { 7, 8 }, Array.Empty<ulong>(), new ulong[] { 8 } },
            new[] { new ulong[] { 7, 8 }, new ulong[] { 8 }, new ulong[] { 8 } }).SetName("a quiet era in between");
    }

    [TestCaseSource(nameof(MultiEraCases))]
    public void Written_since_follows_eras(ulong[][] writesPerEra, ulong[][] writtenSincePerEra)
    {
        using var device = new TrackedDevice(new MemoryEraStore(EraGeometry.For(OriginSize, TrackedDevice.BlockSize)));
        for (var i = 0; i < writesPerEra.Length; i++)
        {
            if (i > 0) Assert.That(device.Tracker.Checkpoint(), Is.EqualTo((uint)(i + 1)));
            foreach (var block in writesPerEra[i]) device.WriteBlock(block);
        }
        Assert.Multiple(() =>
        {
            for (var i = 0; i < writtenSincePerEra.Length; i++)
                Assert.That(device.Store.WrittenSince((uint)(i + 1)), Is.EqualTo(writtenSincePerEra[i]), $"written since era {i + 1}");
        });
    }

    [Test]
    public void Repeat_writes_in_an_era_need_no_commit()
    {
        using var device = new TrackedDevice(new MemoryEraStore(EraGeometry.For(OriginSize, TrackedDevice.BlockSize)));
        device.Write(0, 3 * B);
        var commits = device.Store.CommitCalls;
        for (var i = 0; i < 100; i++) device.Write(i % 3 * B + i, 10);
        Assert.That(device.Store.CommitCalls, Is.EqualTo(commits));

        device.Tracker.Checkpoint();
        device.Write(0, 1);
        Assert.That(device.Store.CommitCalls, Is.EqualTo(commits + 1), "a new era needs a new mark");
    }

    [Test]
    public void Fast_path_allocates_nothing()
    {
        using var device = new TrackedDevice(new MemoryEraStore(EraGeometry.For(OriginSize, TrackedDevice.BlockSize)));
        device.Tracker.BeforeWrite(0, 8 * B);
        device.Tracker.BeforeWrite(0, 8 * B);
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++) device.Tracker.BeforeWrite(i % 7 * B, B + 1);
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.Zero);
    }

    [TestCase(-1L, 10L)]
    [TestCase(OriginSize - 1, 2L)]
    public void Writes_outside_the_device_are_refused(long offset, long length)
    {
        using var device = new TrackedDevice(new MemoryEraStore(EraGeometry.For(OriginSize, TrackedDevice.BlockSize)));
        Assert.Throws<ArgumentOutOfRangeException>(() => device.Tracker.BeforeWrite(offset, length));
    }

    [Test]
    public void May_wait_exactly_until_every_touched_block_is_durably_marked()
    {
        using var device = new TrackedDevice(new MemoryEraStore(EraGeometry.For(OriginSize, TrackedDevice.BlockSize)));
        var tracker = device.Tracker;
        Assert.That(tracker.MayWait(B - 1, 2), Is.True, "blocks 0 and 1 are not marked yet");
        device.Write(0, 1);
        Assert.That(tracker.MayWait(0, B), Is.False, "block 0 is marked");
        Assert.That(tracker.MayWait(B - 1, 2), Is.True, "block 1 still is not");
        device.Write(B, 1);
        Assert.That(tracker.MayWait(B - 1, 2), Is.False);
        Assert.That(tracker.MayWait(5 * B, 0), Is.False, "an empty write never waits");
        tracker.Checkpoint();
        Assert.That(tracker.MayWait(0, B), Is.True, "a new era has marked nothing");
    }
}

namespace EraFs.FileSystem.Tests;

/// <summary>Which chunks a small write drops the cache of, given the large writes before it.</summary>
public sealed class LargeWriteChunksTests
{
    private const int MiB = LargeWriteChunks.ChunkSize;

    private static List<(long Offset, long Length)> Write(LargeWriteChunks chunks, long offset, int length)
    {
        var dropped = new List<(long, long)>();
        chunks.Written(offset, length, (o, l) => dropped.Add((o, l)));
        return dropped;
    }

    [Test]
    public void The_first_small_write_into_a_largely_written_chunk_drops_that_chunk_once()
    {
        var chunks = new LargeWriteChunks(8L * MiB);
        Assert.That(Write(chunks, 2L * MiB, MiB), Is.Empty, "a large write drops nothing");
        Assert.That(Write(chunks, 2L * MiB + 8192, 4096), Is.EqualTo(new[] { (2L * MiB, (long)MiB) }));
        Assert.That(Write(chunks, 2L * MiB + 4096, 4096), Is.Empty, "the chunk was already dropped");
    }

    [Test]
    public void Small_writes_into_chunks_no_large_write_touched_drop_nothing()
    {
        var chunks = new LargeWriteChunks(8L * MiB);
        Write(chunks, 0, MiB);
        Assert.That(Write(chunks, MiB, 4096), Is.Empty);
        Assert.That(Write(chunks, 7L * MiB, 512), Is.Empty);
    }

    [Test]
    public void A_write_just_under_the_threshold_is_small_and_one_at_it_is_large()
    {
        var chunks = new LargeWriteChunks(8L * MiB);
        Assert.That(Write(chunks, 0, LargeWriteChunks.LargeWrite - 4096), Is.Empty);
        Assert.That(Write(chunks, 0, 4096), Is.Empty, "a write below the threshold marks nothing");
        Write(chunks, 0, LargeWriteChunks.LargeWrite);
        Assert.That(Write(chunks, 0, 4096), Has.Count.EqualTo(1));
    }

    [Test]
    public void A_large_write_across_a_boundary_marks_both_chunks_and_a_small_one_across_it_drops_both()
    {
        var chunks = new LargeWriteChunks(8L * MiB);
        Write(chunks, 3L * MiB - 32768, LargeWriteChunks.LargeWrite);
        Assert.That(Write(chunks, 3L * MiB - 2048, 4096), Is.EqualTo(new[] { (2L * MiB, (long)MiB), (3L * MiB, (long)MiB) }));
    }

    [Test]
    public void A_partial_last_chunk_in_a_second_word_is_tracked_and_nothing_past_the_end_is()
    {
        // 64 full chunks fill the first 64-bit word; the partial 65th is the first bit of the next.
        var chunks = new LargeWriteChunks(64L * MiB + 4096);
        Write(chunks, 64L * MiB, LargeWriteChunks.LargeWrite);
        Assert.That(Write(chunks, 64L * MiB, 4096), Is.EqualTo(new[] { (64L * MiB, (long)MiB) }));
        Write(chunks, 200L * MiB, LargeWriteChunks.LargeWrite);
        Assert.That(Write(chunks, 200L * MiB, 4096), Is.Empty, "past the end: nothing marked, nothing dropped, no exception");
    }

    [Test]
    public void Many_threads_writing_small_into_one_marked_chunk_drop_it_exactly_once()
    {
        var chunks = new LargeWriteChunks(64L * MiB);
        for (var round = 0; round < 200; round++)
        {
            Write(chunks, 5L * MiB, MiB);
            var drops = 0;
            Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 8 },
                i => chunks.Written(5L * MiB + i * 4096, 4096, (_, _) => Interlocked.Increment(ref drops)));
            Assert.That(drops, Is.EqualTo(1), $"round {round}");
        }
    }
}

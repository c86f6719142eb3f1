namespace EraFs.RegionLog.Tests;

/// <summary>The region tracker's parts on their own: the shared state's counters, the mark batches and the idle clearing.</summary>
public sealed class RegionTrackerPartsTests
{
    private const long RegionSize = 4096;

    private sealed class FailingLog() : CoreDirtyRegionLog(16 * 4096L, 4096L, RegionLogSync.Assume)
    {
        public bool Fail { get; set; }

        public override void Flush()
        {
            if (Fail) throw new RegionLogException("injected flush failure");
            base.Flush();
        }
    }

    [Test]
    public void The_states_counters_always_equal_what_their_arrays_hold()
    {
        var states = new RegionStates(new CoreDirtyRegionLog(64 * RegionSize, RegionSize, RegionLogSync.Default));
        var random = new Random(5);
        for (var op = 0; op < 2000; op++)
        {
            var r = (ulong)random.Next(64);
            switch (random.Next(3))
            {
                case 0:
                    if (!states.Marked[r]) { states.Marked[r] = true; states.MarkedCount++; }
                    break;
                case 1:
                    states.Unmark(r);
                    break;
                default:
                    states.SetCachedSync(r, random.Next(2) == 0);
                    break;
            }
            Assert.That(states.MarkedCount, Is.EqualTo(states.Marked.Count(m => m)), $"op {op}");
            Assert.That(states.InSyncCount, Is.EqualTo(states.InSync.Count(s => s)), $"op {op}");
        }
    }

    [Test]
    public void A_failed_batch_leaves_its_regions_unmarked_and_free_to_be_queued_again()
    {
        var log = new FailingLog { Fail = true };
        var states = new RegionStates(log);
        var batches = new MarkBatches(states, () => { }, _ => { }, TimeSpan.FromHours(1));
        ulong batch;
        lock (states.Gate) batch = batches.Queue(2, 3);
        Assert.That(batches.AwaitMarked(2, 3, batch, out var reason), Is.False);
        Assert.That(reason, Does.Contain("injected flush failure"));
        Assert.That(states.RequestedIn[2], Is.Zero, "no region waits on a batch that is over");
        Assert.That(states.Marked[2] || states.Marked[3], Is.False);

        log.Fail = false;
        ulong retry;
        lock (states.Gate) retry = batches.Queue(2, 3);
        Assert.That(retry, Is.GreaterThan(batch), "the retry is a new batch");
        Assert.That(batches.AwaitMarked(2, 3, retry, out _), Is.True);
        Assert.That(log.IsClean(2) || log.IsClean(3), Is.False, "marked means dirty in the log");
        lock (states.Gate) Assert.That(batches.Queue(2, 3), Is.Zero, "durably marked regions queue nothing");
        batches.Stop();
    }

    [Test]
    public void The_clearer_leaves_busy_and_recovering_regions_dirty_and_unmarks_what_it_holds_back()
    {
        var log = new CoreDirtyRegionLog(16 * RegionSize, RegionSize, RegionLogSync.Assume);
        var states = new RegionStates(log);
        foreach (var r in new ulong[] { 1, 2, 3 })
        {
            log.MarkRegion(r);
            states.Marked[r] = true;
            states.MarkedCount++;
            states.CleanCandidates.Add(r);
        }
        log.Flush();
        states.Pending[1] = 1;
        states.Recovering[2] = true;

        var legsFlush = false;
        var clearer = new IdleRegionClearer(states, () => legsFlush, _ => { });
        clearer.Pass();
        Assert.That(log.IsClean(3), Is.False, "legs that cannot be flushed hold the clear back");
        Assert.That(states.Marked[3], Is.False, "a later write to it must queue a fresh mark");

        legsFlush = true;
        states.Marked[3] = true;
        states.MarkedCount++;
        states.CleanCandidates.Add(3);
        clearer.Pass();
        Assert.That(log.IsClean(3), Is.True);
        Assert.That(log.IsClean(1), Is.False, "a write is in flight on region 1");
        Assert.That(log.IsClean(2), Is.False, "region 2 is being recovered");
        Assert.That(states.Marked[1] && states.Marked[2], Is.True);
        Assert.That(clearer.Clears, Is.EqualTo(1));
    }
}

namespace EraFs.Fuse.Tests;

/// <summary>
/// The choice between pinned and spread io_uring threads, fed with window rates as a serving
/// transport would measure them, so each decision is checked without a clock.
/// </summary>
[TestFixture]
public class RingPlacementChooserTests
{
    // A workload whose rate depends only on the placement it is served in.
    private static (List<RingPlacement> Placements, RingPlacementChooser Chooser) Serve(
        RingPlacement start, double pinnedRate, double spreadRate, int windows, int steady = 10, int maxBackoff = 8)
    {
        var chooser = new RingPlacementChooser(start, steady, maxBackoff);
        var placements = new List<RingPlacement>();
        for (var i = 0; i < windows; i++)
        {
            var rate = chooser.Current == RingPlacement.Pinned ? pinnedRate : spreadRate;
            placements.Add(chooser.Current);
            chooser.EndWindow(rate);
        }
        return (placements, chooser);
    }

    [TestCase(RingPlacement.Pinned, 40_000, 16_000, RingPlacement.Pinned)]
    [TestCase(RingPlacement.Spread, 40_000, 16_000, RingPlacement.Pinned)]
    [TestCase(RingPlacement.Pinned, 58_000, 80_000, RingPlacement.Spread)]
    [TestCase(RingPlacement.Spread, 58_000, 80_000, RingPlacement.Spread)]
    public void Settles_on_the_placement_that_serves_more(RingPlacement start, double pinned, double spread, RingPlacement expected)
    {
        var (placements, chooser) = Serve(start, pinned, spread, 400);
        var better = placements.Skip(100).Count(p => p == expected);
        // After settling, the worse placement is only served during trials, and those back off.
        Assert.That(better, Is.GreaterThan(285), $"windows in {expected} out of the last 300");
        Assert.That(chooser.Current, Is.EqualTo(expected));
        Assert.That(chooser.Adoptions, Is.EqualTo(start == expected ? 0 : 1));
    }

    [Test]
    public void A_trial_is_a_settling_window_and_a_measured_one_then_a_revert_when_it_loses()
    {
        var (placements, chooser) = Serve(RingPlacement.Pinned, 40_000, 16_000, 13);
        Assert.That(placements.Take(10), Is.All.EqualTo(RingPlacement.Pinned));
        Assert.That(placements.Skip(10).Take(2), Is.All.EqualTo(RingPlacement.Spread));
        Assert.That(placements[12], Is.EqualTo(RingPlacement.Pinned));
        Assert.That(chooser.Trials, Is.EqualTo(1));
        Assert.That(chooser.Adoptions, Is.EqualTo(0));
    }

    [Test]
    public void Losing_trials_wait_twice_as_long_each_time_up_to_the_limit()
    {
        var (placements, chooser) = Serve(RingPlacement.Pinned, 40_000, 16_000, 1000, steady: 10, maxBackoff: 8);
        var trialStarts = Enumerable.Range(1, placements.Count - 1)
            .Where(i => placements[i] == RingPlacement.Spread && placements[i - 1] == RingPlacement.Pinned)
            .ToList();
        var gaps = trialStarts.Zip(trialStarts.Skip(1), (a, b) => b - a - 2).ToList();
        Assert.That(gaps.Take(4), Is.EqualTo(new[] { 20, 40, 80, 80 }));
        Assert.That(gaps.Skip(4), Is.All.EqualTo(80));
        Assert.That(chooser.Trials, Is.EqualTo(trialStarts.Count));
    }

    [Test]
    public void A_change_of_workload_ends_the_backoff()
    {
        var chooser = new RingPlacementChooser(RingPlacement.Pinned, steadyWindows: 10, maxBackoff: 8);
        // Pinned serves more at first: three lost trials stretch the wait to 80 windows.
        while (chooser.Trials < 3) chooser.EndWindow(chooser.Current == RingPlacement.Pinned ? 40_000 : 16_000);
        while (chooser.Current != RingPlacement.Pinned) chooser.EndWindow(16_000);
        for (var i = 0; i < 20; i++) chooser.EndWindow(40_000);
        // Midway through the wait the workload changes so that spreading serves more: the rate
        // drop is seen at once, and the next trial comes within 10 windows instead of 60 more.
        var before = chooser.Trials;
        var waited = 0;
        while (chooser.Trials == before && waited < 100)
        {
            chooser.EndWindow(chooser.Current == RingPlacement.Pinned ? 10_000 : 30_000);
            waited++;
        }
        Assert.That(waited, Is.LessThanOrEqualTo(10));
        chooser.EndWindow(30_000);
        chooser.EndWindow(30_000);
        Assert.That(chooser.Current, Is.EqualTo(RingPlacement.Spread));
        Assert.That(chooser.Adoptions, Is.EqualTo(1));
    }

    [Test]
    public void An_idle_mount_tries_nothing()
    {
        var (placements, chooser) = Serve(RingPlacement.Pinned, 200, 5_000, 500);
        Assert.That(placements, Is.All.EqualTo(RingPlacement.Pinned));
        Assert.That(chooser.Trials, Is.EqualTo(0));
    }

    [Test]
    public void A_trial_within_the_margin_is_not_kept()
    {
        var (placements, chooser) = Serve(RingPlacement.Pinned, 40_000, 41_000, 300);
        Assert.That(chooser.Trials, Is.GreaterThan(0));
        Assert.That(chooser.Adoptions, Is.EqualTo(0));
        Assert.That(placements.Count(p => p == RingPlacement.Spread), Is.EqualTo(2 * chooser.Trials));
    }
}

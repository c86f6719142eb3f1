using System.Diagnostics;

namespace EraFs.Core.Tests;

/// <summary>The commit latency histogram counts each duration in the first bucket whose bound holds it, cumulatively.</summary>
[TestFixture]
public class LatencyHistogramTests
{
    private static long Ticks(double seconds) => (long)(seconds * Stopwatch.Frequency);

    [Test]
    public void Durations_fall_in_the_first_bucket_that_holds_them_and_counts_are_cumulative()
    {
        var h = new LatencyHistogram([0.001, 0.01, 0.1]);
        h.Record(Ticks(0.0005));
        h.Record(Ticks(0.001));
        h.Record(Ticks(0.005));
        h.Record(Ticks(0.5));
        var s = h.Snapshot();
        Assert.That(s.CumulativeCounts, Is.EqualTo(new long[] { 2, 3, 3, 4 }), "le=0.001 holds 0.5 ms and exactly 1 ms; +Inf holds all");
        Assert.That(s.Count, Is.EqualTo(4));
        Assert.That(s.SumSeconds, Is.EqualTo(0.5065).Within(1e-6));
    }

    [Test]
    public void Bounds_must_ascend() =>
        Assert.Throws<ArgumentException>(() => _ = new LatencyHistogram([0.01, 0.001]));

    [Test]
    public void Concurrent_recording_loses_no_count()
    {
        var h = new LatencyHistogram();
        Parallel.For(0, 8, _ =>
        {
            for (var i = 0; i < 10_000; i++) h.Record(Ticks(i % 7 * 0.001));
        });
        Assert.That(h.Snapshot().Count, Is.EqualTo(80_000));
    }
}

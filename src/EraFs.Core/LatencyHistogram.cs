using System.Diagnostics;

namespace EraFs.Core;

/// <summary>Durations counted in fixed buckets, recorded lock-free and read without waiting: the data of a Prometheus histogram.</summary>
public sealed class LatencyHistogram
{
    /// <summary>Upper bounds in seconds, from a fast fdatasync on flash to a stalled disk.</summary>
    public static readonly IReadOnlyList<double> DefaultBoundsSeconds =
        [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly double[] _bounds;
    // One more than the bounds: the last counts what exceeded every bound.
    private readonly long[] _counts;
    private long _sumTicks;

    public LatencyHistogram(IReadOnlyList<double>? boundsSeconds = null)
    {
        _bounds = [.. boundsSeconds ?? DefaultBoundsSeconds];
        for (var i = 1; i < _bounds.Length; i++)
            if (!(_bounds[i] > _bounds[i - 1])) throw new ArgumentException("bucket bounds must ascend", nameof(boundsSeconds));
        _counts = new long[_bounds.Length + 1];
    }

    /// <summary>Records one duration given in <see cref="Stopwatch"/> ticks.</summary>
    public void Record(long stopwatchTicks)
    {
        var seconds = (double)stopwatchTicks / Stopwatch.Frequency;
        var bucket = Array.BinarySearch(_bounds, seconds);
        if (bucket < 0) bucket = ~bucket;
        Interlocked.Increment(ref _counts[bucket]);
        Interlocked.Add(ref _sumTicks, stopwatchTicks);
    }

    /// <summary>
    /// Cumulative counts per bound (the last is +Inf), their total and the sum of durations. Taken
    /// while others record, the total is the sum of the buckets read, so +Inf always equals the count.
    /// </summary>
    public HistogramSnapshot Snapshot()
    {
        var cumulative = new long[_counts.Length];
        long running = 0;
        for (var i = 0; i < _counts.Length; i++) cumulative[i] = running += Interlocked.Read(ref _counts[i]);
        return new HistogramSnapshot(_bounds, cumulative, running, (double)Interlocked.Read(ref _sumTicks) / Stopwatch.Frequency);
    }
}

/// <summary>A histogram as read at one moment: cumulative counts for each upper bound, then for +Inf.</summary>
public sealed record HistogramSnapshot(IReadOnlyList<double> UpperBoundsSeconds, IReadOnlyList<long> CumulativeCounts, long Count, double SumSeconds);

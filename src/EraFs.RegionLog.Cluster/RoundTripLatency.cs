using System.Diagnostics;

namespace EraFs.RegionLog.Cluster;

/// <summary>The last etcd round trips' durations, for the p50 and p99 the info file shows.</summary>
internal sealed class RoundTripLatency
{
    private const int Capacity = 4096;
    private readonly double[] _ms = new double[Capacity];
    private long _count;
    private double _totalMs;

    public long Count => Interlocked.Read(ref _count);

    /// <summary>Every round trip's time added up, in seconds (a Prometheus summary's _sum).</summary>
    public double TotalSeconds
    {
        get
        {
            lock (_ms) return _totalMs / 1000;
        }
    }

    public void Record(TimeSpan elapsed)
    {
        lock (_ms)
        {
            _ms[_count % Capacity] = elapsed.TotalMilliseconds;
            _totalMs += elapsed.TotalMilliseconds;
            _count++;
        }
    }

    /// <summary>The q-quantile (0..1) of the kept samples in milliseconds; 0 before any round trip.</summary>
    public double Quantile(double q)
    {
        double[] copy;
        lock (_ms) copy = _ms[..(int)Math.Min(_count, Capacity)];
        if (copy.Length == 0) return 0;
        Array.Sort(copy);
        return copy[Math.Min(copy.Length - 1, (int)Math.Ceiling(q * copy.Length) - 1 is var i && i < 0 ? 0 : i)];
    }

    public T Time<T>(Func<T> call)
    {
        var sw = Stopwatch.StartNew();
        try
        {
            return call();
        }
        finally
        {
            Record(sw.Elapsed);
        }
    }
}

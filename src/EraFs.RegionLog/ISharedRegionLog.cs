namespace EraFs.RegionLog;

/// <summary>
/// A log shared by several nodes (a clustered log): it may forbid every write, not only those that need
/// a new mark, and other nodes can hand it resync work at any time.
/// </summary>
public interface ISharedRegionLog
{
    /// <summary>
    /// True while this node may write; otherwise why not (it could not renew its lease in time, so
    /// others may soon treat it as dead and resync its regions). Cheap: called on every write.
    /// </summary>
    bool MayWrite(out string reason);

    /// <summary>How often a resync with nothing to do asks again: a dead node's regions may become work later.</summary>
    TimeSpan ResyncPollInterval { get; }

    /// <summary>The cluster's facts for the info file (node, members, state, latency).</summary>
    IReadOnlyList<(string Key, string Value)> ClusterInfo();

    /// <summary>The cluster's figures for the metrics file; cheap and never waits on the cluster.</summary>
    SharedLogMetrics Metrics();
}

/// <summary>
/// A shared log's figures for MOUNT/metrics: the coordination service's round trips (count, total
/// and the p50/p99 of the recent ones, in seconds), the members seen and the takeovers made.
/// </summary>
public sealed record SharedLogMetrics(long RoundTrips, double RoundTripSeconds, double RoundTripP50Seconds, double RoundTripP99Seconds,
    int Members, long Takeovers, long RegionsTakenOver);

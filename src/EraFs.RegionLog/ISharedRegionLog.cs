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
}

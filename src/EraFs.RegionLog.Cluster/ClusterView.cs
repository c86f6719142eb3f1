using Etcdserverpb;

namespace EraFs.RegionLog.Cluster;

/// <summary>One consistent read of a clustered log's keys (a single range request, so one revision), parsed.</summary>
internal sealed class ClusterView
{
    public bool BaselineInSync { get; private init; }

    /// <summary>Per-region sync overrides: true in sync.</summary>
    public Dictionary<ulong, bool> Sync { get; } = [];

    /// <summary>Out-of-sync regions reserved for the node that took them over from a dead node.</summary>
    public Dictionary<ulong, string> Reserved { get; } = [];

    /// <summary>The nodes holding a mark, per region.</summary>
    public Dictionary<ulong, List<string>> Marks { get; } = [];

    /// <summary>The node copying each region under recovery.</summary>
    public Dictionary<ulong, string> Recovering { get; } = [];

    /// <summary>Dead node to the survivor that claimed it.</summary>
    public Dictionary<string, string> Takeovers { get; } = [];

    public HashSet<string> Members { get; } = [];

    public string? ReservedFor(ulong region) => Reserved.TryGetValue(region, out var n) ? n : null;

    public static ClusterView Read(ClusterKeys keys, RangeResponse all)
    {
        var baseline = all.Kvs.FirstOrDefault(kv => kv.Key.ToStringUtf8() == keys.Baseline)?.Value.ToStringUtf8();
        var view = new ClusterView { BaselineInSync = baseline == "in-sync" };
        foreach (var kv in all.Kvs)
        {
            var key = kv.Key.ToStringUtf8();
            var value = kv.Value.ToStringUtf8();
            if (keys.TryParseMark(key, out var markRegion, out var node))
            {
                if (!view.Marks.TryGetValue(markRegion, out var nodes)) view.Marks[markRegion] = nodes = [];
                nodes.Add(node);
            }
            else if (key.StartsWith(keys.SyncPrefix, StringComparison.Ordinal) && ClusterKeys.TryParseRegion(key[keys.SyncPrefix.Length..], out var r))
            {
                view.Sync[r] = value.StartsWith('1');
                if (value.StartsWith("0 ", StringComparison.Ordinal)) view.Reserved[r] = value[2..];
            }
            else if (key.StartsWith(keys.RecoveringPrefix, StringComparison.Ordinal) && ClusterKeys.TryParseRegion(key[keys.RecoveringPrefix.Length..], out var rr))
                view.Recovering[rr] = value;
            else if (key.StartsWith(keys.MemberPrefix, StringComparison.Ordinal))
                view.Members.Add(key[keys.MemberPrefix.Length..]);
            else if (key.StartsWith(keys.TakeoverPrefix, StringComparison.Ordinal))
                view.Takeovers[key[keys.TakeoverPrefix.Length..]] = value;
        }
        return view;
    }
}

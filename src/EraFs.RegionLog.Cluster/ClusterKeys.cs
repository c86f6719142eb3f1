using System.Globalization;
using Google.Protobuf;

namespace EraFs.RegionLog.Cluster;

/// <summary>
/// The etcd key layout of one clustered log, all under <c>/erafs/&lt;log&gt;/</c> (docs/region-log.md
/// describes it). Regions are 16 lower-case hex digits, so the keys sort in region order.
/// </summary>
internal sealed class ClusterKeys
{
    public ClusterKeys(string logName)
    {
        if (!IsName(logName)) throw new ArgumentException($"cluster log name '{logName}' is not 1-64 of [A-Za-z0-9._-]");
        Prefix = $"/erafs/{logName}/";
    }

    /// <summary>Names of logs and nodes: they become key segments, so no '/' and nothing unprintable.</summary>
    public static bool IsName(string name) =>
        name.Length is > 0 and <= 64 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');

    public string Prefix { get; }

    /// <summary>"&lt;region size&gt; &lt;region count&gt;": every node of the log must agree.</summary>
    public string Geometry => Prefix + "geometry";

    /// <summary>"in-sync" or "out-of-sync": what a region without its own sync key is.</summary>
    public string Baseline => Prefix + "baseline";

    public string SyncPrefix => Prefix + "sync/";

    /// <summary>"1" in sync or "0" out of sync, overriding the baseline for one region.</summary>
    public string Sync(ulong region) => SyncPrefix + Region(region);

    public string MemberPrefix => Prefix + "members/";

    /// <summary>A live node: attached to its lease, so it vanishes when the node stops renewing.</summary>
    public string Member(string node) => MemberPrefix + node;

    public string MarkPrefix => Prefix + "marks/";

    /// <summary>All marks on one region, whichever node holds them.</summary>
    public string RegionMarks(ulong region) => MarkPrefix + Region(region) + "/";

    /// <summary>Node's mark on a region: not attached to any lease, so it outlives the node.</summary>
    public string Mark(ulong region, string node) => RegionMarks(region) + node;

    public string RecoveringPrefix => Prefix + "recovering/";

    /// <summary>The node copying a region to the legs, on that node's lease; writes to the region wait meanwhile.</summary>
    public string Recovering(ulong region) => RecoveringPrefix + Region(region);

    public string TakeoverPrefix => Prefix + "takeover/";

    /// <summary>The survivor that claimed a dead node's recovery, on the survivor's lease.</summary>
    public string Takeover(string deadNode) => TakeoverPrefix + deadNode;

    /// <summary>The lock a node holds while it writes a clustered_disk log's shared file, on its lease.</summary>
    public string DiskWriter => Prefix + "disk-writer";

    public static string Region(ulong region) => region.ToString("x16", CultureInfo.InvariantCulture);

    public static bool TryParseRegion(string text, out ulong region) =>
        ulong.TryParse(text, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out region) && text.Length == 16;

    /// <summary>Splits "marks/&lt;region&gt;/&lt;node&gt;" (relative to the mark prefix).</summary>
    public bool TryParseMark(string key, out ulong region, out string node)
    {
        region = 0;
        node = "";
        if (!key.StartsWith(MarkPrefix, StringComparison.Ordinal)) return false;
        var rest = key[MarkPrefix.Length..];
        var slash = rest.IndexOf('/');
        if (slash < 0 || !TryParseRegion(rest[..slash], out region)) return false;
        node = rest[(slash + 1)..];
        return node.Length > 0;
    }

    public static ByteString Bytes(string s) => ByteString.CopyFromUtf8(s);

    /// <summary>The range end that makes a range request cover every key starting with the prefix.</summary>
    public static ByteString PrefixEnd(string prefix)
    {
        var b = System.Text.Encoding.UTF8.GetBytes(prefix);
        b[^1]++;
        return ByteString.CopyFrom(b);
    }
}

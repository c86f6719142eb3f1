using System.Globalization;
using System.Text;
using EraFs.RegionLog;

namespace EraFs.FileSystem;

/// <summary>The region log's control files: <c>log_status</c> (dm-log INFO and TABLE) and, with legs, <c>mirror_status</c> (dm-raid1's status).</summary>
public static class RegionLogControlFiles
{
    public static IReadOnlyList<ControlFile> For(MirrorSet set)
    {
        var files = new List<ControlFile>
        {
            new("log_status", () => LogStatus(set.Regions), null),
        };
        if (set.Mirror.Legs.Count > 0) files.Add(new ControlFile("mirror_status", () => MirrorStatus(set) + "\n", null));
        return files;
    }

    public static string LogStatus(RegionTracker regions) =>
        regions.LogStatus(RegionLogStatusType.Info) + "\n" + regions.LogStatus(RegionLogStatusType.Table) + "\n";

    /// <summary>dm-raid1's INFO line: &lt;#legs&gt; &lt;leg&gt;... &lt;in-sync&gt;/&lt;regions&gt; 1 &lt;health chars&gt; &lt;log info&gt;; the origin is the first (default) leg.</summary>
    public static string MirrorStatus(MirrorSet set)
    {
        var legs = set.Mirror.Legs;
        var sb = new StringBuilder();
        sb.Append((legs.Count + 1).ToString(CultureInfo.InvariantCulture)).Append(' ').Append(set.Mirror.Origin.Path);
        foreach (var leg in legs) sb.Append(' ').Append(leg.Path);
        sb.Append(' ').Append(set.Regions.LogSyncCount().ToString(CultureInfo.InvariantCulture))
          .Append('/').Append(set.Regions.RegionCount.ToString(CultureInfo.InvariantCulture))
          .Append(" 1 A");
        foreach (var leg in legs) sb.Append(leg.Health);
        sb.Append(' ').Append(set.Regions.LogStatus(RegionLogStatusType.Info));
        return sb.ToString();
    }
}

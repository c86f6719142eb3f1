using EraFs.Daemon;
using EraFs.RegionLog;

namespace EraFs.Cli;

/// <summary>Parses the mount's region log options: <c>--log</c>, <c>--region-size</c>, <c>--sync</c>/<c>--nosync</c>.</summary>
internal static class RegionLogOptions
{
    /// <summary>True if the text names a region log type (anything else given to --log is the daemon's log file).</summary>
    public static bool IsSpec(string text) =>
        text is "core" or MirrorPlan.ClusteredCore || text.StartsWith("disk:", StringComparison.Ordinal) || text.StartsWith("userspace:", StringComparison.Ordinal)
        || text.StartsWith(MirrorPlan.ClusteredDiskPrefix, StringComparison.Ordinal);

    /// <summary>
    /// The clustered log's plan from <c>--cluster</c>, <c>--cluster-log</c>, <c>--node</c> and <c>--lease</c>:
    /// null for the other logs, which refuse those options; usage errors for anything missing or malformed.
    /// </summary>
    public static ClusterPlan? ParseCluster(string logSpec, string? endpoints, string? logName, string? node, double? leaseSeconds)
    {
        var disk = logSpec.StartsWith(MirrorPlan.ClusteredDiskPrefix, StringComparison.Ordinal);
        if (disk && logSpec.Length == MirrorPlan.ClusteredDiskPrefix.Length)
            throw new CliException("--log clustered_disk:PATH needs the shared file's PATH", ExitCode.Usage);
        if (logSpec != MirrorPlan.ClusteredCore && !disk)
        {
            if (endpoints is not null || logName is not null || node is not null || leaseSeconds is not null)
                throw new CliException("--cluster, --cluster-log, --node and --lease go with --log clustered_core or clustered_disk:PATH only", ExitCode.Usage);
            return null;
        }
        var kind = disk ? "clustered_disk:PATH" : "clustered_core";
        if (endpoints is null) throw new CliException($"--log {kind} needs --cluster URL[,URL...] (the etcd client endpoints)", ExitCode.Usage);
        if (logName is null) throw new CliException($"--log {kind} needs --cluster-log NAME (the same on every node of the mirror)", ExitCode.Usage);
        var lease = leaseSeconds ?? 5;
        if (lease is < 2 or > 3600) throw new CliException($"--lease: {lease} is not a number of seconds between 2 and 3600", ExitCode.Usage);
        var plan = new ClusterPlan(endpoints, logName, node ?? Environment.MachineName, TimeSpan.FromSeconds(lease));
        try
        {
            plan.Validate();
        }
        catch (ArgumentException e)
        {
            throw new CliException(e.Message, ExitCode.Usage);
        }
        return plan;
    }

    public static RegionLogSync ParseSync(bool sync, bool nosync) =>
        sync && nosync ? throw new CliException("--sync and --nosync exclude each other", ExitCode.Usage)
        : sync ? RegionLogSync.Force : nosync ? RegionLogSync.Assume : RegionLogSync.Default;

    public static long ParseRegionSize(string? text)
    {
        if (text is null) return RegionGeometry.DefaultRegionSize;
        var size = ByteSize.Parse(text, "--region-size");
        if (size < RegionGeometry.MinimumRegionSize || (size & (size - 1)) != 0)
            throw new CliException($"--region-size: {text} is not a power of two of at least 4KiB", ExitCode.Usage);
        return size;
    }
}

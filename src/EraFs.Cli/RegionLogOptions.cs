using EraFs.RegionLog;

namespace EraFs.Cli;

/// <summary>Parses the mount's region log options: <c>--log</c>, <c>--region-size</c>, <c>--sync</c>/<c>--nosync</c>.</summary>
internal static class RegionLogOptions
{
    /// <summary>True if the text names a region log type (anything else given to --log is the daemon's log file).</summary>
    public static bool IsSpec(string text) =>
        text == "core" || text.StartsWith("disk:", StringComparison.Ordinal) || text.StartsWith("userspace:", StringComparison.Ordinal);

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

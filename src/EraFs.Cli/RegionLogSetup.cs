using System.Net.Sockets;
using EraFs.RegionLog;
using EraFs.FileSystem;
using EraFs.Storage;
using Mono.Unix;

namespace EraFs.Cli;

/// <summary>What <c>erafs mount</c> was asked about the dirty region log and mirror legs.</summary>
internal sealed record RegionLogRequest(string Spec, long RegionSize, RegionLogSync Sync, IReadOnlyList<string> Mirrors, long ResyncBytesPerSecond);

/// <summary>Parses <c>--log core|disk:PATH|userspace:SOCKET</c> and opens the region log, the legs and the resync for a mount.</summary>
internal static class RegionLogSetup
{
    public const long DefaultResyncRate = 256L << 20;

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

    /// <summary>The file a disk log spec names (absolute), or null for the other log types.</summary>
    public static string? DiskLogPath(string spec) =>
        spec.StartsWith("disk:", StringComparison.Ordinal) ? Path.GetFullPath(spec["disk:".Length..]) : null;

    /// <summary>
    /// Opens the log the spec names over the origin's size; failures are one-line CLI errors. A
    /// userspace log is named on its daemon by a UUID derived from the origin's canonical path.
    /// </summary>
    public static IDirtyRegionLog OpenLog(string spec, string originPath, long deviceLength, long regionSize, RegionLogSync sync)
    {
        try
        {
            if (spec == "core") return new CoreDirtyRegionLog(deviceLength, regionSize, sync);
            if (spec.StartsWith("disk:", StringComparison.Ordinal))
            {
                var path = DiskLogPath(spec)!;
                var device = FileBlockDevice.Open(path, "region log", writable: true, create: true);
                try
                {
                    return new DiskDirtyRegionLog(device, deviceLength, regionSize, sync);
                }
                catch
                {
                    device.Dispose();
                    throw;
                }
            }
            if (spec.StartsWith("userspace:", StringComparison.Ordinal))
            {
                var socket = Path.GetFullPath(spec["userspace:".Length..]);
                var uuid = UserspaceDirtyRegionLog.UuidFor(UnixPath.GetCompleteRealPath(Path.GetFullPath(originPath)));
                return new UserspaceDirtyRegionLog(() => Connect(socket), socket, uuid, deviceLength, regionSize, sync);
            }
        }
        catch (Exception e) when (e is RegionLogException or IOException or ArgumentException)
        {
            throw new CliException($"--log {spec}: {e.Message}");
        }
        throw new CliException($"--log: '{spec}' is not a region log (use core, disk:PATH or userspace:SOCKET)", ExitCode.Usage);
    }

    /// <summary>A stream to the log daemon; a reply slower than 15 s counts as a lost daemon, as in dm-log-userspace.</summary>
    public static Stream Connect(string socketPath)
    {
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { ReceiveTimeout = 15000, SendTimeout = 15000 };
        try
        {
            s.Connect(new UnixDomainSocketEndPoint(socketPath));
        }
        catch (SocketException e)
        {
            s.Dispose();
            throw new IOException($"{socketPath}: {e.Message}", e);
        }
        return new NetworkStream(s, ownsSocket: true);
    }

    /// <summary>Opens legs and log and starts the mirror; on failure nothing stays open.</summary>
    public static MirrorSet Open(RegionLogRequest request, Origin origin, DaemonLog log)
    {
        var legs = new List<MirrorLeg>();
        IDirtyRegionLog? regionLog = null;
        try
        {
            foreach (var path in request.Mirrors)
            {
                try
                {
                    legs.Add(MirrorLeg.Open(Path.GetFullPath(path), origin.Size));
                }
                catch (IOException e)
                {
                    throw new CliException($"--mirror: {e.Message}");
                }
            }
            regionLog = OpenLog(request.Spec, origin.Path, origin.Size, request.RegionSize, request.Sync);
            var set = new MirrorSet(origin, legs, regionLog, request.ResyncBytesPerSecond, log);
            log.Info($"region log {regionLog.Status(RegionLogStatusType.Table).TrimEnd()}: {set.Regions.InSyncRegions}/{regionLog.RegionCount} regions in sync, {legs.Count} mirror leg(s)");
            return set;
        }
        catch
        {
            regionLog?.Dispose();
            foreach (var leg in legs) leg.Dispose();
            throw;
        }
    }
}

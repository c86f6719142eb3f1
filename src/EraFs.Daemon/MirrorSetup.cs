using System.Net.Sockets;
using EraFs.FileSystem;
using EraFs.RegionLog;
using EraFs.RegionLog.Cluster;
using EraFs.Storage;
using Mono.Unix;

namespace EraFs.Daemon;

/// <summary>Opens a mount's dirty region log (core, disk:PATH or userspace:SOCKET), its mirror legs and the resync.</summary>
internal static class MirrorSetup
{
    /// <summary>
    /// How often a clustered log clears idle regions. A new mark there costs an etcd round trip, not
    /// an fdatasync, so regions stay marked longer and more writes find theirs; after a crash at most
    /// the regions written in the last interval or so are resynced.
    /// </summary>
    public static readonly TimeSpan SharedLogCleanInterval = TimeSpan.FromSeconds(10);

    /// <summary>The file a disk log spec names (absolute), or null for the other log types.</summary>
    public static string? DiskLogPath(string spec) =>
        spec.StartsWith("disk:", StringComparison.Ordinal) ? Path.GetFullPath(spec["disk:".Length..]) : null;

    /// <summary>
    /// Opens the log the spec names over the origin's size; failures are one-line refusals. A
    /// userspace log is named on its daemon by a UUID derived from the origin's canonical path.
    /// </summary>
    public static IDirtyRegionLog OpenLog(string spec, string originPath, long deviceLength, long regionSize, RegionLogSync sync, ClusterPlan? cluster = null, Action<string>? report = null)
    {
        try
        {
            if (spec == "core") return new CoreDirtyRegionLog(deviceLength, regionSize, sync);
            if (spec == MirrorPlan.ClusteredCore || spec.StartsWith(MirrorPlan.ClusteredDiskPrefix, StringComparison.Ordinal))
            {
                if (cluster is null) throw new ArgumentException("a clustered log needs --cluster and --cluster-log");
                // The shared file is every node's: no claim, the log's etcd lock orders its writers.
                var disk = spec == MirrorPlan.ClusteredCore ? null
                    : FileBlockDevice.Open(Path.GetFullPath(spec[MirrorPlan.ClusteredDiskPrefix.Length..]), "clustered disk log", writable: true, create: true);
                return new ClusteredDirtyRegionLog(cluster.Options, deviceLength, regionSize, sync, report, disk);
            }
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
            throw new MountRefusedException($"--log {spec}: {e.Message}", inner: e);
        }
        throw new ArgumentException($"--log: '{spec}' is not a region log (use core, disk:PATH, userspace:SOCKET, clustered_core or clustered_disk:PATH)", nameof(spec));
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
    public static MirrorSet Open(MirrorPlan request, Origin origin, DaemonLog log)
    {
        var legs = new List<MirrorLeg>();
        IDirtyRegionLog? regionLog = null;
        try
        {
            foreach (var path in request.Legs)
            {
                try
                {
                    legs.Add(MirrorLeg.Open(Path.GetFullPath(path), origin.Size));
                }
                catch (IOException e)
                {
                    throw new MountRefusedException($"--mirror: {e.Message}", inner: e);
                }
            }
            regionLog = OpenLog(request.LogSpec, origin.Path, origin.Size, request.RegionSize, request.Sync, request.Cluster, line => log.Info(line));
            var set = new MirrorSet(origin, legs, regionLog, request.ResyncBytesPerSecond, log,
                regionLog is ISharedRegionLog ? SharedLogCleanInterval : null);
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

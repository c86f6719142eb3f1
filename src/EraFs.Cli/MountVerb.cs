using System.CommandLine;
using EraFs.Core;
using EraFs.FileSystem;
using EraFs.Fuse;

namespace EraFs.Cli;

/// <summary>What <c>erafs mount</c> was asked to do.</summary>
internal sealed record MountRequest(
    string Origin,
    string MountPoint,
    string? Metadata,
    bool Create,
    uint? BlockSize,
    bool Foreground,
    bool AllowOther,
    bool AllowShrink,
    string? LogPath,
    bool DaemonChild,
    IReadOnlyList<string> Args,
    RegionLogRequest? RegionLog = null,
    uint? Threads = null,
    TimeSpan? WriteHorizon = null);

/// <summary>erafs mount: opens the origin and history, serves the mount until it is unmounted.</summary>
internal static class MountVerb
{
    public static Command Command(string[] rawArgs)
    {
        var origin = new Option<string>("--origin") { Description = "Image file or block device to expose as MOUNTPOINT/device", Required = true };
        var metadata = new Option<string?>("--metadata") { Description = "Metadata file holding the era history (without it, writes are not tracked)" };
        var create = new Option<bool>("--create") { Description = "Format the metadata file if it is absent" };
        var blockSize = new Option<string?>("--block-size") { Description = "Tracking block size with --create (bytes, KiB, MiB; multiple of 4 KiB; default 64KiB)" };
        var foreground = new Option<bool>("--foreground", "-f") { Description = "Stay attached and log to stderr instead of starting a daemon" };
        var allowOther = new Option<bool>("--allow-other") { Description = "Let other users (and root) reach the mount; files stay owner-only" };
        var allowShrink = new Option<bool>("--allow-shrink") { Description = "Accept an origin that shrank since the metadata was last used" };
        var logFile = new Option<string?>("--log-file") { Description = "Daemon log file (default /var/log/erafs/<mountpoint>.log for root)" };
        var regionLog = new Option<string?>("--log") { Description = "Dirty region log: core, disk:PATH or userspace:SOCKET" };
        var regionSize = new Option<string?>("--region-size") { Description = "Region size of the dirty region log (power of two, at least 4KiB; default 512KiB)" };
        var forceSync = new Option<bool>("--sync") { Description = "Ignore the region log's state and resync every region" };
        var noSync = new Option<bool>("--nosync") { Description = "Assume every region the log knows nothing of is in sync" };
        var mirrors = new Option<string[]>("--mirror") { Description = "Mirror leg (image or block device of the origin's size); repeat for more legs", AllowMultipleArgumentsPerToken = false };
        var resyncRate = new Option<string?>("--resync-rate") { Description = "Bandwidth bound of the background resync per second (default 256MiB)" };
        var child = new Option<bool>(DaemonLauncher.ChildFlag) { Hidden = true };
        var mountPoint = new Argument<string>("MOUNTPOINT") { Description = "Empty directory to mount on" };
        var horizon = new Option<double?>("--write-horizon")
        {
            Description = "Seconds ahead the metadata records that this mount may write the origin; an outside write less than this long after a crash can go unnoticed (default 5)",
        };
        var threads = new Option<uint?>("--threads") { Description = "Most threads serving FUSE requests (default 16; each first write waiting for its commit holds one)" };
        var cmd = new Command("mount", "Mount ORIGIN as MOUNTPOINT/device; returns once the mount is ready")
        {
            origin, metadata, create, blockSize, foreground, allowOther, allowShrink, logFile, child, mountPoint,
            regionLog, regionSize, forceSync, noSync, mirrors, resyncRate, threads, horizon,
        };
        cmd.SetAction(p =>
        {
            var bs = p.GetValue(blockSize) is { } s ? (uint?)checked((uint)ByteSize.Parse(s, "--block-size")) : null;
            var passOn = rawArgs.SkipWhile(a => a != "mount").ToList();
            var meta = p.GetValue(metadata);
            var daemonLog = p.GetValue(logFile);
            var logSpec = p.GetValue(regionLog);
            if (logSpec is not null && !RegionLogSetup.IsSpec(logSpec))
                throw new CliException($"--log: '{logSpec}' is not a region log (core, disk:PATH or userspace:SOCKET); the daemon's own log file is --log-file", ExitCode.Usage);
            var legs = p.GetValue(mirrors) ?? [];
            var regions = logSpec is null && legs.Length == 0 ? null : new RegionLogRequest(
                logSpec ?? "core", RegionLogSetup.ParseRegionSize(p.GetValue(regionSize)), RegionLogSetup.ParseSync(p.GetValue(forceSync), p.GetValue(noSync)),
                legs, p.GetValue(resyncRate) is { } rate ? ByteSize.Parse(rate, "--resync-rate") : RegionLogSetup.DefaultResyncRate);
            return Run(new MountRequest(
                Path.GetFullPath(p.GetValue(origin)!), p.GetValue(mountPoint)!, meta is null ? null : Path.GetFullPath(meta), p.GetValue(create), bs,
                p.GetValue(foreground), p.GetValue(allowOther), p.GetValue(allowShrink), daemonLog,
                p.GetValue(child), passOn, regions, p.GetValue(threads), WriteHorizon(p.GetValue(horizon))), p.InvocationConfiguration.Output, p.InvocationConfiguration.Error);
        });
        return cmd;
    }

    public const uint DefaultBlockSize = 64 * 1024;

    private static TimeSpan? WriteHorizon(double? seconds) =>
        seconds is null ? null
        : seconds is > 0 and <= 3600 ? TimeSpan.FromSeconds(seconds.Value)
        : throw new CliException($"--write-horizon: {seconds} is not a number of seconds between 0 and 3600", ExitCode.Usage);

    public static int Run(MountRequest r, TextWriter stdout, TextWriter stderr)
    {
        var logPath = r.LogPath ?? DaemonLauncher.DefaultLogPath(r.MountPoint);
        if (!r.Foreground) return DaemonLauncher.Launch(r.Args, stdout, stderr, logPath, r.MountPoint);

        if (r.DaemonChild) Mono.Unix.Native.Syscall.setsid();
        var log = r.DaemonChild || r.LogPath is not null ? OpenLog(logPath) : new DaemonLog(stderr);

        using (log)
        using (var signals = new StopSignals(log))
        // Every refusal below comes before the first byte is written: the mount point and the claims
        // first, then the metadata is checked and the tracker's open validated, and only then do the
        // region log, the history and the mount change anything.
        using (var claims = MountClaims.Take(r))
        {
            var origin = OpenOrigin(r.Origin);
            EraTracker? tracker = null;
            MirrorSet? mirror = null;
            ServedMount? served = null;
            try
            {
                IEraStore? store = r.Metadata is null ? null : OpenStore(r, origin, log);
                try
                {
                    if (r.RegionLog is not null) mirror = RegionLogSetup.Open(r.RegionLog, origin, log);
                    if (store is not null) tracker = OpenTracker(r, store, origin, log);
                }
                catch
                {
                    if (tracker is null) store?.Dispose();
                    throw;
                }
                claims.Opened();
                using var snapshotView = tracker is null ? null : new MetadataSnapshotView(r.Metadata!, log);
                var options = new FuseMountOptions
                {
                    AllowOther = r.AllowOther,
                    MaxThreads = r.Threads ?? new FuseMountOptions().MaxThreads,
                    FsName = "erafs:" + Path.GetFullPath(r.Origin),
                };
                try
                {
                    served = ServedMount.Start(origin, tracker, r.MountPoint, options, log,
                        views: snapshotView is null ? null : [snapshotView.File], mirror: mirror);
                }
                catch (FuseMountException ex)
                {
                    throw new CliException(ex.Message);
                }
                log.Info($"serving {origin.Path} ({origin.Size} bytes) on {served.MountPoint}" +
                         (tracker is null ? " without tracking" : $"; {tracker.StatusLine}"));

                signals.Attach(served);
                if (r.DaemonChild) DetachFromLauncher(logPath, stdout);
                else stdout.WriteLine($"erafs: mounted on {served.MountPoint}; stop with Ctrl-C or erafs unmount");

                served.Completion.GetAwaiter().GetResult();
                return (int)ExitCode.Ok;
            }
            catch (Exception ex) when (r.DaemonChild && ex is not CliException)
            {
                log.Error($"daemon failed: {ex.Message}", ex);
                throw;
            }
            finally
            {
                if (served is not null) served.Dispose();
                else
                {
                    mirror?.Dispose();
                    tracker?.Dispose();
                    origin.Dispose();
                }
            }
        }
    }

    // The launcher waits for this line; after it, stdout and stderr point at the log so the daemon
    // holds no pipe of the shell that started it.
    private static void DetachFromLauncher(string logPath, TextWriter stdout)
    {
        stdout.WriteLine(DaemonLauncher.ReadyLine);
        stdout.Flush();
        var fd = Mono.Unix.Native.Syscall.open(logPath, Mono.Unix.Native.OpenFlags.O_WRONLY | Mono.Unix.Native.OpenFlags.O_APPEND);
        if (fd < 0) return;
        Mono.Unix.Native.Syscall.dup2(fd, 1);
        Mono.Unix.Native.Syscall.dup2(fd, 2);
        Mono.Unix.Native.Syscall.close(fd);
    }

    private static DaemonLog OpenLog(string path)
    {
        try
        {
            return DaemonLog.OpenFile(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CliException(ex.Message);
        }
    }

    private static Origin OpenOrigin(string path)
    {
        try
        {
            return Origin.Open(path);
        }
        catch (IOException ex)
        {
            throw new CliException(ex.Message);
        }
    }

    /// <summary>
    /// Opens (or with --create, formats) the history and refuses, before anything is written to it,
    /// damaged metadata and any origin or block size the tracker's open would refuse.
    /// </summary>
    private static IEraStore OpenStore(MountRequest r, Origin origin, DaemonLog log)
    {
        var meta = r.Metadata!;
        IEraStore store;
        if (!File.Exists(meta) || new FileInfo(meta).Length == 0)
        {
            if (!r.Create)
                throw new CliException($"{meta}: metadata does not exist (create it with 'erafs create' or mount with --create)");
            store = CreateVerb.CreateStore(meta, origin.Size, origin.ModifiedUtc, r.BlockSize ?? DefaultBlockSize, force: File.Exists(meta));
            log.Info($"{meta}: created metadata for {origin.Path} with {store.Geometry.BlockSize}-byte blocks");
        }
        else
        {
            store = NeedsCheckGate.Open(meta, log);
        }
        try
        {
            EraTracker.Validate(store, TrackerOptions(r, origin, log));
            return store;
        }
        catch (Exception ex) when (ex is MetadataException or ArgumentException)
        {
            store.Dispose();
            throw new CliException($"{meta}: {ex.Message}", ex is MetadataCorruptException ? ExitCode.MetadataDamaged : ExitCode.Failed);
        }
    }

    private static EraTracker OpenTracker(MountRequest r, IEraStore store, Origin origin, DaemonLog log)
    {
        try
        {
            return EraTracker.Open(store, TrackerOptions(r, origin, log));
        }
        catch (Exception ex) when (ex is MetadataException or ControlRejectedException or IOException or ArgumentException)
        {
            store.Dispose();
            throw new CliException($"{r.Metadata}: {ex.Message}");
        }
    }

    private static EraTrackerOptions TrackerOptions(MountRequest r, Origin origin, DaemonLog log) => new()
    {
        OriginSize = origin.Size,
        OriginMtimeUtc = origin.ModifiedUtc,
        OriginChangedUtc = origin.ChangedUtc,
        RequestedBlockSize = r.BlockSize,
        AllowShrink = r.AllowShrink,
        WriteHorizon = r.WriteHorizon ?? EraTrackerOptions.DefaultWriteHorizon,
        Log = log.Info,
    };
}

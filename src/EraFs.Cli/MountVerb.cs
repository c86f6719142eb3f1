using System.CommandLine;
using EraFs.Daemon;
using EraFs.FileSystem;
using EraFs.Fuse;

namespace EraFs.Cli;

/// <summary>What <c>erafs mount</c> was asked to do: the mount itself, and how the process serves it.</summary>
internal sealed record MountRequest(MountPlan Plan, bool Foreground, string? LogPath, bool DaemonChild, IReadOnlyList<string> Args);

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
        var regionLog = new Option<string?>("--log") { Description = "Dirty region log: core, disk:PATH, userspace:SOCKET, clustered_core or clustered_disk:PATH" };
        var cluster = new Option<string?>("--cluster") { Description = "With a clustered log: etcd client endpoints, URL[,URL...]" };
        var clusterLog = new Option<string?>("--cluster-log") { Description = "With a clustered log: the shared log's name, the same on every node of the mirror" };
        var node = new Option<string?>("--node") { Description = "With a clustered log: this node's name, unique in the log (default: the host name)" };
        var lease = new Option<double?>("--lease") { Description = "With a clustered log: liveness lease in seconds (default 5); writes stop before it can expire" };
        var regionSize = new Option<string?>("--region-size") { Description = "Region size of the dirty region log (power of two, at least 4KiB; default 512KiB)" };
        var forceSync = new Option<bool>("--sync") { Description = "Ignore the region log's state and resync every region" };
        var noSync = new Option<bool>("--nosync") { Description = "Assume every region the log knows nothing of is in sync" };
        var mirrors = new Option<string[]>("--mirror") { Description = "Mirror leg (image or block device of the origin's size); repeat for more legs", AllowMultipleArgumentsPerToken = false };
        var resyncRate = new Option<string?>("--resync-rate") { Description = "Bandwidth bound of the background resync per second (default 256MiB)" };
        var child = new Option<bool>(DaemonLauncher.ChildFlag) { Hidden = true };
        var mountPoint = new Argument<string>("MOUNTPOINT") { Description = "Empty directory to mount on" };
        var nonEmpty = new Option<bool>("--nonempty") { Description = "Mount over a directory that is not empty, hiding what it holds while mounted" };
        var horizon = new Option<double?>("--write-horizon")
        {
            Description = "Seconds ahead the metadata records that this mount may write the origin; an outside write less than this long after a crash can go unnoticed (default 5)",
        };
        var threads = new Option<uint?>("--threads") { Description = "Most threads serving FUSE requests (default 16; each first write waiting for its commit holds one)" };
        var transport = TransportOption();
        var options = new Option<string[]>("--options", "-o") { Description = MountOptionString.Description, HelpName = "OPTIONS" };
        var cmd = new Command("mount", "Mount ORIGIN as MOUNTPOINT/device; returns once the mount is ready")
        {
            options, origin, metadata, create, blockSize, foreground, allowOther, allowShrink, logFile, child, mountPoint,
            regionLog, regionSize, forceSync, noSync, mirrors, resyncRate, threads, horizon, nonEmpty, cluster, clusterLog, node, lease,
            transport,
        };
        cmd.SetAction(p =>
        {
            var bs = p.GetValue(blockSize) is { } s ? (uint?)checked((uint)ByteSize.Parse(s, "--block-size")) : null;
            var passOn = rawArgs.SkipWhile(a => a != "mount").ToList();
            var meta = p.GetValue(metadata);
            var daemonLog = p.GetValue(logFile);
            var logSpec = p.GetValue(regionLog);
            if (logSpec is not null && !RegionLogOptions.IsSpec(logSpec))
                throw new CliException($"--log: '{logSpec}' is not a region log (core, disk:PATH, userspace:SOCKET, clustered_core or clustered_disk:PATH); the daemon's own log file is --log-file", ExitCode.Usage);
            var legs = p.GetValue(mirrors) ?? [];
            var clusterPlan = RegionLogOptions.ParseCluster(logSpec ?? "core", p.GetValue(cluster), p.GetValue(clusterLog), p.GetValue(node), p.GetValue(lease));
            if (clusterPlan is not null && meta is not null)
                throw new CliException("--metadata cannot go with a clustered log: nodes writing one shared image would each keep their own era history, and EraFs keeps no cluster-wide one", ExitCode.Usage);
            var regions = logSpec is null && legs.Length == 0 ? null : new MirrorPlan(
                logSpec ?? "core", RegionLogOptions.ParseRegionSize(p.GetValue(regionSize)), RegionLogOptions.ParseSync(p.GetValue(forceSync), p.GetValue(noSync)),
                legs, p.GetValue(resyncRate) is { } rate ? ByteSize.Parse(rate, "--resync-rate") : MirrorPlan.DefaultResyncRate, clusterPlan);
            var plan = new MountPlan(
                Path.GetFullPath(p.GetValue(origin)!), p.GetValue(mountPoint)!, meta is null ? null : Path.GetFullPath(meta), p.GetValue(create), bs,
                p.GetValue(allowOther), p.GetValue(allowShrink), regions, p.GetValue(threads), WriteHorizon(p.GetValue(horizon)))
            {
                AllowNonEmpty = p.GetValue(nonEmpty),
                Transport = p.GetValue(transport),
            };
            return Run(new MountRequest(plan, p.GetValue(foreground), daemonLog, p.GetValue(child), passOn),
                p.InvocationConfiguration.Output, p.InvocationConfiguration.Error);
        });
        return cmd;
    }

    // A custom parser because the names are the kernel's (io_uring), not the enum's, and a wrong one
    // should be answered with the choices rather than the CLR type's name.
    private static Option<FuseTransport> TransportOption() =>
        new("--transport")
        {
            Description = $"How FUSE requests travel: {TransportName.Choices} (default auto: io_uring when the fuse module's enable_uring is on)",
            HelpName = "auto|io_uring|dev",
            DefaultValueFactory = _ => FuseTransport.Auto,
            CustomParser = result =>
            {
                var token = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
                if (TransportName.TryParse(token, out var t)) return t;
                result.AddError($"--transport: '{token}' is not a transport ({TransportName.Choices})");
                return FuseTransport.Auto;
            },
        };

    private static TimeSpan? WriteHorizon(double? seconds) =>
        seconds is null ? null
        : seconds is > 0 and <= 3600 ? TimeSpan.FromSeconds(seconds.Value)
        : throw new CliException($"--write-horizon: {seconds} is not a number of seconds between 0 and 3600", ExitCode.Usage);

    public static int Run(MountRequest r, TextWriter stdout, TextWriter stderr)
    {
        var logPath = r.LogPath ?? DaemonLauncher.DefaultLogPath(r.Plan.MountPoint);
        if (!r.Foreground) return DaemonLauncher.Launch(r.Args, stdout, stderr, logPath, r.Plan.MountPoint);

        if (r.DaemonChild) Mono.Unix.Native.Syscall.setsid();
        var log = r.DaemonChild || r.LogPath is not null ? OpenLog(logPath) : DaemonLog.ToStderr(stderr);

        using (log)
        using (var signals = new StopSignals(log))
        using (var notifier = r.DaemonChild ? null : SystemdNotifier.FromEnvironment(log))
        {
            try
            {
                if (r.Plan.Metadata is { } meta && File.Exists(meta) && new FileInfo(meta).Length > 0)
                    ToolFiles.RequireBinary(meta, "EraFs metadata");
                log.WarningSink = WarningSink(r, stdout, stderr, log);
                using var mount = MountBuilder.Start(r.Plan, log);
                signals.Attach(mount.Served);
                notifier?.Serve(mount.Served);
                log.WarningSink = null;
                if (r.DaemonChild) DetachFromLauncher(logPath, stdout);
                else stdout.WriteLine($"erafs: mounted on {mount.Served.MountPoint}; stop with Ctrl-C or erafs unmount");
                mount.Served.Completion.GetAwaiter().GetResult();
                return (int)ExitCode.Ok;
            }
            catch (MountRefusedException ex)
            {
                throw new CliException(ex.Message, ex.Refusal switch
                {
                    MountRefusal.Busy => ExitCode.Busy,
                    MountRefusal.MetadataDamaged => ExitCode.MetadataDamaged,
                    MountRefusal.Usage => ExitCode.Usage,
                    _ => ExitCode.Failed,
                });
            }
            catch (Exception ex) when (r.DaemonChild && ex is not CliException)
            {
                log.Error($"daemon failed: {ex.Message}", ex);
                throw;
            }
        }
    }

    // The daemon child tells the launcher, which prints them on the mount command's stderr; a
    // foreground mount logging to a file prints them itself; one logging to stderr already shows them.
    private static Action<string>? WarningSink(MountRequest r, TextWriter stdout, TextWriter stderr, DaemonLog log)
    {
        if (r.DaemonChild) return w =>
        {
            stdout.WriteLine(DaemonLauncher.WarningPrefix + w.ReplaceLineEndings(" "));
            stdout.Flush();
        };
        return r.LogPath is not null ? w => stderr.WriteLine($"erafs: warning: {w}") : null;
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
}

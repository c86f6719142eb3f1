using System.Globalization;
using EraFs.Core;
using EraFs.Fuse;
using EraFs.RegionLog;

namespace EraFs.FileSystem;

/// <summary>
/// One served EraFs mount from start to clean shutdown: mounts the device file system, and once the
/// kernel connection ends flushes the origin and closes the tracker so the history is marked clean.
/// </summary>
public sealed class ServedMount : IDisposable
{
    private readonly Origin _origin;
    private readonly EraTracker? _tracker;
    private readonly MirrorSet? _mirror;
    private readonly DaemonLog _log;
    private readonly DeviceFileSystem _fileSystem;
    private readonly FuseMount _mount;
    private readonly Task _completion;

    private ServedMount(Origin origin, EraTracker? tracker, string mountPoint, FuseMountOptions options, DaemonLog log,
        IReadOnlyList<ViewFile>? views, MirrorSet? mirror)
    {
        _origin = origin;
        _tracker = tracker;
        _mirror = mirror;
        _log = log;
        var controls = tracker is null
            ? EraControlFiles.Untracked(MountInfo)
            : EraControlFiles.For(tracker, MountInfo, log);
        if (mirror is not null) controls = [.. controls, .. mirror.ControlFiles];
        // An untracked mount stays the bare pass-through it promises to be: device and info only.
        if (tracker is not null || mirror is not null) controls = [.. controls, new ControlFile(MetricsFileName, Metrics, null)];
        IWriteInterceptor? interceptor = mirror is null ? tracker : new CombinedWriteInterceptor(tracker, mirror.Regions);
        _fileSystem = new DeviceFileSystem(mirror?.Mirror ?? (IDeviceIo)origin, interceptor, controls, log, views,
            writeOrderCheck: tracker is null ? null : (offset, length) => tracker.AssertMarkedDurable(offset, length));
        _mount = FuseMount.Mount(_fileSystem, mountPoint, options, log);
        _completion = _mount.Completion.ContinueWith(_ => Shutdown(), TaskScheduler.Default);
    }

    /// <summary>Mounts; throws <see cref="FuseMountException"/> (nothing left mounted) if it cannot.</summary>
    public static ServedMount Start(Origin origin, EraTracker? tracker, string mountPoint, FuseMountOptions options, DaemonLog log,
        IReadOnlyList<ViewFile>? views = null, MirrorSet? mirror = null) =>
        new(origin, tracker, mountPoint, options, log, views, mirror);

    public string MountPoint => _mount.MountPoint;

    /// <summary>The transport the mount serves over, as chosen at mount (never auto).</summary>
    public FuseTransport Transport => _mount.Transport;

    /// <summary>Queues (io_uring) or threads (/dev/fuse) serving requests.</summary>
    public int Queues => _mount.Queues;

    /// <summary>Threads serving FUSE requests now.</summary>
    public int ServingThreads => _mount.ServingThreads;

    /// <summary>Ends after the mount is gone and the origin and history were closed.</summary>
    public Task Completion => _completion;

    /// <summary>0 or a negative errno (EBUSY while a loop device still holds the device file).</summary>
    public int RequestUnmount(bool lazy)
    {
        var rc = _mount.RequestUnmount(lazy);
        if (rc == 0) _stopping.TrySetResult();
        return rc;
    }

    // Continuations run on the completing thread, so a notice goes out before the unmount moves on.
    private readonly TaskCompletionSource _stopping = new();

    /// <summary>
    /// Completes once, when the unmount begins: this process asked for it, or the kernel connection
    /// ended (umount, erafs unmount).
    /// </summary>
    public Task Stopping => _stopping.Task;

    /// <summary>One line for a service manager: the era and its writes, the region log's dirty and out-of-sync regions, the state.</summary>
    public string StatusSummary
    {
        get
        {
            var parts = new List<string>();
            var state = "serving";
            if (_tracker is { } tracker)
            {
                var s = tracker.Status;
                parts.Add(string.Create(CultureInfo.InvariantCulture, $"era {s.CurrentEra}, {s.BlocksWrittenThisEra} blocks written this era"));
                if (s.HeldSnapshot is { } held) parts.Add(string.Create(CultureInfo.InvariantCulture, $"snapshot held at {held}"));
                if (s.State == TrackerState.Failed) state = "tracking failed";
            }
            if (_mirror is { } mirror)
            {
                var regions = mirror.Regions;
                parts.Add(string.Create(CultureInfo.InvariantCulture,
                    $"{regions.DirtyRegions} dirty, {(long)regions.RegionCount - regions.InSyncRegions} out-of-sync regions of {regions.RegionCount}"));
                if (!mirror.Resync.Finished && state == "serving") state = "resyncing";
                if (mirror.Mirror.Legs.Any(l => !l.Healthy)) parts.Add("a mirror leg failed");
            }
            if (_stopping.Task.IsCompleted) state = "unmounting";
            parts.Add(state);
            return string.Join("; ", parts);
        }
    }

    /// <summary>The Prometheus metrics file, for a scrape sidecar or node_exporter's textfile collector to copy.</summary>
    public const string MetricsFileName = "metrics";

    // Every figure is a counter or a published snapshot: a scrape never waits behind a commit.
    private string Metrics()
    {
        var c = _fileSystem.Counters;
        var m = new PrometheusText()
            .Counter("erafs_device_reads_total", "Reads of MOUNT/device served.", c.Reads)
            .Counter("erafs_device_read_bytes_total", "Bytes read from MOUNT/device.", c.BytesRead)
            .Counter("erafs_device_writes_total", "Writes to MOUNT/device that reached the origin.", c.Writes)
            .Counter("erafs_device_written_bytes_total", "Bytes written to MOUNT/device that reached the origin.", c.BytesWritten)
            .Counter("erafs_device_discards_total", "Discards and zeroings of MOUNT/device (fallocate) that reached the origin.", c.Discards)
            .Counter("erafs_device_discarded_bytes_total", "Bytes discarded or zeroed.", c.BytesDiscarded)
            .Counter("erafs_device_failed_writes_total", "Writes and discards answered with an error.", c.FailedWrites)
            .Family("erafs_control_writes_total", "Writes to the control files (checkpoint, message, ...), by file and result.", "counter",
                c.ControlWrites.Select(w => (new[] { ("file", w.Control), ("result", w.Accepted ? "accepted" : "refused") }, (double)w.Count)));
        if (_mount is { } mount)
            m.Gauge("erafs_fuse_queues", "Queues serving FUSE requests, by the transport they travel over.", mount.Queues,
                ("transport", TransportName.Of(mount.Transport)));
        if (_tracker is { } tracker)
        {
            var s = tracker.Status;
            m.Counter("erafs_era_marks_total", "Blocks marked written for the first time in their era (first writes) since the mount.", tracker.BlocksMarked)
                .Counter("erafs_era_group_commits_total", "Durable group commits of marks.", s.Commits)
                .Histogram("erafs_era_commit_latency_seconds", "Time of each group commit of marks, fdatasync included.", tracker.CommitLatency.Snapshot())
                .Gauge("erafs_era_current", "The current era.", s.CurrentEra)
                .Gauge("erafs_era_written_blocks", "Blocks written in the current era.", s.BlocksWrittenThisEra)
                .Gauge("erafs_era_tracking_failed", "1 once tracking failed: writes that need a mark get EIO.", s.State == TrackerState.Failed ? 1 : 0)
                .Gauge("erafs_metadata_used_blocks", "Metadata blocks in use.", s.MetadataUsed)
                .Gauge("erafs_metadata_total_blocks", "Metadata blocks the file holds now (it grows on demand).", s.MetadataTotal)
                .Gauge("erafs_metadata_snapshot_held", "1 while a metadata snapshot is held.", s.HeldSnapshot is null ? 0 : 1);
        }
        if (_mirror is { } mirror)
        {
            var regions = mirror.Regions;
            m.Gauge("erafs_region_regions", "Regions of the dirty region log.", regions.RegionCount)
                .Gauge("erafs_region_dirty_regions", "Regions marked dirty in the log (writes in flight or not yet cleared).", regions.DirtyRegions)
                .Gauge("erafs_region_out_of_sync_regions", "Regions whose legs may differ from the origin.", regions.RegionCount - (double)regions.InSyncRegions)
                .Counter("erafs_resync_copied_bytes_total", "Bytes the resync copied from the origin to the legs.", mirror.Resync.BytesCopied)
                .Family("erafs_mirror_leg_healthy", "1 while a mirror leg takes writes, 0 once it failed.", "gauge",
                    mirror.Mirror.Legs.Select(l => (new[] { ("leg", l.Path) }, l.Healthy ? 1.0 : 0.0)));
            if (regions.Log is ISharedRegionLog shared)
            {
                var cluster = shared.Metrics();
                m.Summary("erafs_cluster_etcd_round_trip_seconds", "Round trips to etcd of the clustered region log (quantiles of the last 4096).",
                        [(0.5, cluster.RoundTripP50Seconds), (0.99, cluster.RoundTripP99Seconds)], cluster.RoundTripSeconds, cluster.RoundTrips)
                    .Gauge("erafs_cluster_members", "Nodes with a live lease in the clustered log.", cluster.Members)
                    .Counter("erafs_cluster_takeovers_total", "Dead nodes whose regions this node took over for resync.", cluster.Takeovers)
                    .Counter("erafs_cluster_regions_taken_over_total", "Regions taken over from dead nodes.", cluster.RegionsTakenOver);
            }
        }
        return m.ToString();
    }

    private IEnumerable<(string Key, string Value)> MountInfo()
    {
        var (w, r) = _fileSystem.LargestRequests;
        yield return ("pid", Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        yield return ("origin", _origin.Path);
        // A tracked mount's info already has origin_size from the tracker's geometry.
        if (_tracker is null) yield return ("origin_size", _origin.Size.ToString(CultureInfo.InvariantCulture));
        yield return ("tracking", _tracker is null ? "off" : "era");
        yield return ("max_write", _fileSystem.Connection?.MaxWrite.ToString(CultureInfo.InvariantCulture) ?? "-");
        // The kernel sends requests as soon as INIT is answered, before FuseMount.Mount has returned.
        var mount = _mount;
        yield return ("transport", mount is null ? "-" : TransportName.Of(mount.Transport));
        yield return ("queues", mount is null ? "-" : mount.Queues.ToString(CultureInfo.InvariantCulture));
        yield return ("serving_threads", mount is null ? "-" : mount.ServingThreads.ToString(CultureInfo.InvariantCulture));
        yield return ("serving_threads_peak", mount is null ? "-" : mount.PeakServingThreads.ToString(CultureInfo.InvariantCulture));
        yield return ("ring_placement", mount?.Placement is { } placement ? placement.ToString().ToLowerInvariant() : "-");
        yield return ("largest_write_seen", w.ToString(CultureInfo.InvariantCulture));
        yield return ("largest_read_seen", r.ToString(CultureInfo.InvariantCulture));
        if (_mirror is not null)
            foreach (var line in _mirror.Info()) yield return line;
        foreach (var e in _log.RecentErrors.TakeLast(1)) yield return ("last_log_error", e);
        yield return ("log_lines_lost", _log.LinesLost.ToString(CultureInfo.InvariantCulture));
    }

    private void Shutdown()
    {
        _stopping.TrySetResult();
        var rc = _origin.Sync(dataOnly: false);
        if (rc < 0) _log.Error($"{_origin.Path}: final fsync failed: {FuseErrors.Describe(rc)}");
        _mirror?.Close();
        if (_tracker is not null)
        {
            try
            {
                _tracker.Close(_origin.ModifiedUtc);
                _log.Info($"history closed cleanly: {_tracker.StatusLine}");
            }
            catch (Exception ex)
            {
                _log.Error($"closing the history failed: {ex.Message}", ex);
                throw;
            }
        }
        _log.Info($"unmounted {_mount.MountPoint}");
    }

    /// <summary>How long <see cref="Dispose"/> waits for the FUSE loop and the clean shutdown before giving up on them.</summary>
    public TimeSpan TeardownWait { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>True when Dispose found the loop still serving and left the origin and history open.</summary>
    public bool LeakedOnDispose { get; private set; }

    public void Dispose()
    {
        _mount.Dispose(TeardownWait);
        bool stopped;
        try
        {
            stopped = _completion.Wait(TeardownWait);
        }
        catch (AggregateException)
        {
            // Shutdown failed and logged it; the loop has stopped all the same.
            stopped = true;
        }
        if (!stopped)
        {
            // The loop may still call into the tracker and write the origin (a loop device holds the
            // lazily unmounted mount): freeing the bitsets or closing the fd now would be a
            // use-after-free, and a pwrite could land on whatever file reuses the descriptor.
            LeakedOnDispose = true;
            _log.Error($"the FUSE loop of {_mount.MountPoint} is still serving after {TeardownWait.TotalSeconds:0} s; the origin and the history stay open until the process exits");
            return;
        }
        _mirror?.Dispose();
        _tracker?.Dispose();
        _origin.Dispose();
    }
}

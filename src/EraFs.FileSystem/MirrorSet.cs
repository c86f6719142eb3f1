using System.Globalization;
using EraFs.RegionLog;
using EraFs.Fuse;

namespace EraFs.FileSystem;

/// <summary>
/// Everything a mount with a region log adds: the mirror the device writes through, the region
/// tracker on its write path and the background resync; closed before the era history.
/// </summary>
public sealed class MirrorSet : IDisposable
{
    private readonly IFuseLog _log;

    /// <summary>Takes ownership of the legs and the log; starts the resync.</summary>
    public MirrorSet(Origin origin, IReadOnlyList<MirrorLeg> legs, IDirtyRegionLog regionLog, long resyncBytesPerSecond, IFuseLog log, TimeSpan? cleanInterval = null)
    {
        _log = log;
        Mirror = new Mirror(origin, legs, log);
        Regions = new RegionTracker(regionLog, origin.Size, Mirror.FlushAll, line => log.Error(line), cleanInterval);
        Mirror.Attach(Regions);
        Resync = new Resync(Regions, Mirror, resyncBytesPerSecond, log);
    }

    public Mirror Mirror { get; }

    public RegionTracker Regions { get; }

    public Resync Resync { get; }

    public IReadOnlyList<ControlFile> ControlFiles => RegionLogControlFiles.For(this);

    /// <summary>Dirty-region and resync figures for the info file.</summary>
    public IEnumerable<(string Key, string Value)> Info()
    {
        static string S(long v) => v.ToString(CultureInfo.InvariantCulture);
        foreach (var line in Regions.Info()) yield return line;
        yield return ("mirror_legs", S(Mirror.Legs.Count));
        yield return ("resync", Resync.Finished ? "done" : "running");
        yield return ("resync_out_of_sync_at_mount", S(Resync.OutOfSyncAtStart));
        yield return ("resync_regions", S(Resync.RegionsResynced));
        yield return ("resync_bytes", S(Resync.BytesCopied));
        yield return ("resync_rate_limit", S(Resync.BytesPerSecond));
        yield return ("resync_seconds", Resync.Elapsed.TotalSeconds.ToString("F1", CultureInfo.InvariantCulture));
        if (Regions.Log is ISharedRegionLog shared)
            foreach (var line in shared.ClusterInfo()) yield return line;
    }

    /// <summary>Stops the resync and closes the tracker: legs flushed, idle regions cleared, log flushed.</summary>
    public void Close()
    {
        Resync.Stop();
        Regions.Close();
        _log.Info($"region log closed: {Regions.LogStatus(RegionLogStatusType.Info)}");
    }

    public void Dispose()
    {
        Resync.Dispose();
        Regions.Dispose();
        foreach (var leg in Mirror.Legs) leg.Dispose();
    }
}

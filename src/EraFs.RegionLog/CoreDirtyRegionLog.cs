using EraFs.Core;

namespace EraFs.RegionLog;

/// <summary>
/// dm-log's "core" log: clean, sync and recovering bits in memory only, so after a restart every
/// region needs resync unless the log was created with nosync. The disk log builds on it.
/// </summary>
public class CoreDirtyRegionLog : IDirtyRegionLog
{
    private ulong _syncSearch;

    public CoreDirtyRegionLog(long deviceLength, long regionSize, RegionLogSync sync)
    {
        RegionGeometry.Validate(regionSize, deviceLength);
        RegionSize = regionSize;
        SyncMode = sync;
        RegionCount = RegionGeometry.RegionCount(deviceLength, regionSize);
        CleanBits = new Bitset(RegionCount);
        SyncBits = new Bitset(RegionCount);
        RecoveringBits = new Bitset(RegionCount);
        CleanBits.SetAll(true);
        SyncBits.SetAll(sync == RegionLogSync.Assume);
        SyncCountValue = sync == RegionLogSync.Assume ? RegionCount : 0;
    }

    public long RegionSize { get; }

    public ulong RegionCount { get; }

    public RegionLogSync SyncMode { get; }

    private protected Bitset CleanBits { get; }

    private protected Bitset SyncBits { get; }

    private protected Bitset RecoveringBits { get; }

    private protected ulong SyncCountValue { get; set; }

    /// <summary>Some bit went clean to dirty since the last flush (the disk log must then sync its device).</summary>
    private protected bool Dirtied { get; set; }

    /// <summary>Some bit changed since the last flush (the disk log then rewrites its bitmap).</summary>
    private protected bool Touched { get; set; }

    public ulong SyncCount => SyncCountValue;

    public bool IsClean(ulong region) => CleanBits[Check(region)];

    public virtual bool InSync(ulong region) => SyncBits[Check(region)];

    public virtual void Flush()
    {
        Touched = false;
        Dirtied = false;
    }

    public void MarkRegion(ulong region)
    {
        if (!CleanBits[Check(region)]) return;
        CleanBits[region] = false;
        Touched = true;
        Dirtied = true;
    }

    public virtual void ClearRegion(ulong region)
    {
        if (CleanBits[Check(region)]) return;
        CleanBits[region] = true;
        Touched = true;
    }

    public bool TryGetResyncWork(out ulong region)
    {
        region = 0;
        if (SyncCountValue >= RegionCount) return false;
        // The search cursor walks forward once, as dm-log's sync_search does; regions that fail
        // resync are not retried until the log is reloaded.
        while (true)
        {
            var r = SyncBits.NextClear(_syncSearch);
            if (r >= RegionCount) return false;
            _syncSearch = r + 1;
            if (RecoveringBits[r]) continue;
            RecoveringBits[r] = true;
            Touched = true;
            region = r;
            return true;
        }
    }

    public void SetRegionSync(ulong region, bool inSync)
    {
        RecoveringBits[Check(region)] = false;
        if (inSync)
        {
            if (!SyncBits[region]) SyncBits[region] = true;
            // dm-log counts every in_sync=1 report, even for a region already in sync; this log keeps
            // the count equal to the bits so a resync reported twice cannot overstate progress.
            SyncCountValue = SyncBits.PopCount();
        }
        else if (SyncBits[region])
        {
            SyncBits[region] = false;
            SyncCountValue--;
        }
        Touched = true;
    }

    public virtual string Status(RegionLogStatusType type) => type == RegionLogStatusType.Info
        ? "1 core"
        : $"core {(SyncMode == RegionLogSync.Default ? 1 : 2)} {RegionSize / RegionGeometry.SectorSize} {RegionGeometry.SyncWord(SyncMode)}";

    public virtual void Dispose() => GC.SuppressFinalize(this);

    /// <summary>Restarts the resync search from region 0 (dm-log resets it at resume).</summary>
    private protected void ResetSyncSearch() => _syncSearch = 0;

    private ulong Check(ulong region) => region < RegionCount
        ? region
        : throw new ArgumentOutOfRangeException(nameof(region), $"region {region} is past the last region {RegionCount - 1}");
}

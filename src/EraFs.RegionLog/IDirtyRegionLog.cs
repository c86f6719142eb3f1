namespace EraFs.RegionLog;

/// <summary>
/// dm-log's dirty region log (struct dm_dirty_log_type): which regions may have writes in flight
/// (dirty) and which regions' legs are known identical (in sync). Callers serialize calls.
/// </summary>
public interface IDirtyRegionLog : IDisposable
{
    /// <summary>Region size in bytes (a power of two).</summary>
    long RegionSize { get; }

    /// <summary>Number of regions: the device length divided by the region size, rounded up.</summary>
    ulong RegionCount { get; }

    /// <summary>True if the log holds no outstanding write for the region.</summary>
    bool IsClean(ulong region);

    /// <summary>True if the region's legs are known identical; false when unknown (a lost log daemon).</summary>
    bool InSync(ulong region);

    /// <summary>Makes every mark and clear so far durable; throws <see cref="RegionLogException"/> if it cannot.</summary>
    void Flush();

    /// <summary>The region is about to be written; durable only after the next <see cref="Flush"/>.</summary>
    void MarkRegion(ulong region);

    /// <summary>Every write to the region completed on every leg; may be dropped, never blocks on I/O.</summary>
    void ClearRegion(ulong region);

    /// <summary>Picks the next out-of-sync region not being recovered and marks it recovering; false when none.</summary>
    bool TryGetResyncWork(out ulong region);

    /// <summary>Records a resync outcome and ends the region's recovery.</summary>
    void SetRegionSync(ulong region, bool inSync);

    /// <summary>Number of in-sync regions (0 when unknown).</summary>
    ulong SyncCount { get; }

    /// <summary>dm-log's INFO or TABLE status text.</summary>
    string Status(RegionLogStatusType type);
}

/// <summary>Which of dm-log's two status texts.</summary>
public enum RegionLogStatusType
{
    /// <summary>Live state, as in dmsetup status.</summary>
    Info,
    /// <summary>The constructor arguments, as in dmsetup table.</summary>
    Table,
}

/// <summary>dm-log's optional sync argument: what to assume about regions the log knows nothing of.</summary>
public enum RegionLogSync
{
    /// <summary>No argument: trust the persistent state; regions unknown to it need resync.</summary>
    Default,
    /// <summary><c>sync</c>: ignore existing state and resync everything.</summary>
    Force,
    /// <summary><c>nosync</c>: assume every region is in sync.</summary>
    Assume,
}

/// <summary>The log could not record or persist state; writes needing a new mark must not proceed.</summary>
public sealed class RegionLogException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Region geometry shared by the log types: validation and the byte-to-region mapping.</summary>
public static class RegionGeometry
{
    public const long DefaultRegionSize = 512 * 1024;
    public const long MinimumRegionSize = 4096;
    public const int SectorSize = 512;

    /// <summary>Throws <see cref="ArgumentException"/> unless the size is a power of two of at least 4 KiB and no larger than the device.</summary>
    public static void Validate(long regionSize, long deviceLength)
    {
        if (regionSize < MinimumRegionSize || (regionSize & (regionSize - 1)) != 0)
            throw new ArgumentException($"invalid region size {regionSize}: it must be a power of two of at least {MinimumRegionSize} bytes");
        if (deviceLength <= 0) throw new ArgumentException($"invalid device length {deviceLength}");
    }

    public static ulong RegionCount(long deviceLength, long regionSize) => (ulong)((deviceLength + regionSize - 1) / regionSize);

    /// <summary>dm-log's sync word for status lines and constructor strings, with its trailing space ("" for default).</summary>
    public static string SyncWord(RegionLogSync sync) => sync switch
    {
        RegionLogSync.Force => "sync ",
        RegionLogSync.Assume => "nosync ",
        _ => "",
    };

    public static RegionLogSync ParseSyncWord(string? word) => word switch
    {
        null or "" => RegionLogSync.Default,
        "sync" => RegionLogSync.Force,
        "nosync" => RegionLogSync.Assume,
        _ => throw new ArgumentException($"unrecognised sync argument to dirty region log: {word}"),
    };
}

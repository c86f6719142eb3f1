using EraFs.Core;
using System.Buffers.Binary;

namespace EraFs.RegionLog;

/// <summary>
/// dm-log's "disk" log: the core log's bits, with the clean bitmap persisted in dm-log's layout
/// (header with magic, version 2 and region count at byte 0, clean bitmap at byte 1024) so that
/// regions dirty at a crash are out of sync at the next open.
/// </summary>
public sealed class DiskDirtyRegionLog : CoreDirtyRegionLog
{
    public const uint Magic = 0x4D695272;
    public const uint Version = 2;
    public const int BitmapOffset = 1024;
    private const int BlockSize = 512;

    private readonly IBlockDevice _device;
    private readonly byte[] _area;
    private char _health = 'A';

    /// <summary>Loads the log from the device (dm-log's resume), writes it back and syncs it; throws <see cref="RegionLogException"/> on I/O failure.</summary>
    public DiskDirtyRegionLog(IBlockDevice device, long deviceLength, long regionSize, RegionLogSync sync)
        : base(deviceLength, regionSize, sync)
    {
        _device = device;
        _area = new byte[AreaLengthFor(RegionCount)];
        Load();
    }

    // dm-log's bitmap is round_up(regions, 32) bits: whole 32-bit words.
    private int BitmapBytes => BitmapBytesFor(RegionCount);

    private static int BitmapBytesFor(ulong regionCount) => (int)((regionCount + 31) / 32 * 4);

    /// <summary>Bytes of dm-log's header plus clean bitmap for this many regions, rounded up to 512.</summary>
    public static int AreaLengthFor(ulong regionCount) => (BitmapOffset + BitmapBytesFor(regionCount) + BlockSize - 1) / BlockSize * BlockSize;

    /// <summary>dm-log's disk layout of a clean bitmap (1 = clean) into an area of <see cref="AreaLengthFor"/> bytes.</summary>
    public static void Encode(Span<byte> area, ulong regionCount, Bitset clean)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(area, Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(area[4..], Version);
        BinaryPrimitives.WriteUInt64LittleEndian(area[8..], regionCount);
        clean.WriteTo(area.Slice(BitmapOffset, BitmapBytesFor(regionCount)));
    }

    /// <summary>Bytes of the header plus bitmap, rounded up to 512: what every flush rewrites.</summary>
    public int AreaLength => _area.Length;

    /// <summary>A alive, D the log device failed.</summary>
    public char Health => _health;

    private void Load()
    {
        ulong knownRegions = 0;
        try
        {
            Array.Clear(_area);
            var n = _device.Length > 0 ? _device.Read(0, _area) : 0;
            var magic = n >= 16 ? BinaryPrimitives.ReadUInt32LittleEndian(_area) : 0;
            var version = n >= 16 ? BinaryPrimitives.ReadUInt32LittleEndian(_area.AsSpan(4)) : 0;
            if (magic == Magic && version is not (1 or 2))
                throw new RegionLogException($"{_device.Name}: incompatible disk log version {version}");
            if (magic == Magic && SyncMode == RegionLogSync.Default)
                knownRegions = Math.Min(BinaryPrimitives.ReadUInt64LittleEndian(_area.AsSpan(8)), RegionCount);
            CleanBits.ReadFrom(_area.AsSpan(BitmapOffset, BitmapBytes));
        }
        catch (Exception e) when (e is IOException or ArgumentException)
        {
            _health = 'D';
            throw new RegionLogException($"{_device.Name}: cannot read the dirty region log: {e.Message}", e);
        }
        // Regions the header does not cover are new (or the log is being reset): nosync trusts them,
        // anything else makes them dirty so they are resynced.
        for (var r = knownRegions; r < RegionCount; r++) CleanBits[r] = SyncMode == RegionLogSync.Assume;
        SyncBits.CopyFrom(CleanBits);
        SyncCountValue = SyncBits.PopCount();
        ResetSyncSearch();
        WriteArea(sync: true);
    }

    public override void Flush()
    {
        if (!Touched) return;
        WriteArea(sync: Dirtied);
        base.Flush();
    }

    private void WriteArea(bool sync)
    {
        Encode(_area, RegionCount, CleanBits);
        try
        {
            _device.Write(0, _area);
            // Only a new dirty mark must be on stable storage before data moves; a lost clean mark
            // costs one extra region resync, so clears ride on the next sync.
            if (sync) _device.Flush();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _health = 'D';
            throw new RegionLogException($"{_device.Name}: writing the dirty region log failed: {e.Message}", e);
        }
    }

    public override string Status(RegionLogStatusType type) => type == RegionLogStatusType.Info
        ? $"3 disk {_device.Name} {_health}"
        : $"disk {(SyncMode == RegionLogSync.Default ? 2 : 3)} {_device.Name} {RegionSize / RegionGeometry.SectorSize} {RegionGeometry.SyncWord(SyncMode)}";

    public override void Dispose()
    {
        _device.Dispose();
        base.Dispose();
    }
}

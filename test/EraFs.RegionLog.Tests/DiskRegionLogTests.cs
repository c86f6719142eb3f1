using System.Buffers.Binary;
using EraFs.TestSupport;

namespace EraFs.RegionLog.Tests;

/// <summary>The disk log's bytes follow dm-log's layout, and dirty marks survive a reopen as out-of-sync regions.</summary>
public sealed class DiskRegionLogTests
{
    private const long RegionSize = 4096;

    [Test]
    public void Layout_is_dm_logs_byte_by_byte()
    {
        var device = new FaultyDevice("log");
        // 70 regions: the bitmap is round_up(70, 32) / 8 = 12 bytes, the area 1024 + 12 rounded to 1536.
        using (var log = new DiskDirtyRegionLog(device, 70 * RegionSize, RegionSize, RegionLogSync.Assume))
        {
            log.MarkRegion(0);
            log.MarkRegion(9);
            log.MarkRegion(69);
            log.Flush();
            Assert.That(log.AreaLength, Is.EqualTo(1536));
        }
        var image = device.Recover().Snapshot();
        Assert.That(image, Has.Length.EqualTo(1536));
        Assert.That(image[..16], Is.EqualTo(new byte[] { 0x72, 0x52, 0x69, 0x4d, 2, 0, 0, 0, 70, 0, 0, 0, 0, 0, 0, 0 }));
        Assert.That(image[16..1024], Is.All.Zero);
        var expected = new byte[12];
        for (var r = 0; r < 70; r++)
            if (r is not (0 or 9 or 69)) expected[r / 8] |= (byte)(1 << (r % 8));
        Assert.That(image[1024..1036], Is.EqualTo(expected), "clean bitmap: bit r set = clean, bits past 70 clear");
        Assert.That(image[1036..], Is.All.Zero);
    }

    [Test]
    public void Header_bytes_16_to_1023_are_written_back_as_read()
    {
        var seed = new byte[1536];
        BinaryPrimitives.WriteUInt32LittleEndian(seed, DiskDirtyRegionLog.Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(seed.AsSpan(4), 1);
        BinaryPrimitives.WriteUInt64LittleEndian(seed.AsSpan(8), 70);
        seed[100] = 0xAB;
        seed.AsSpan(1024, 9).Fill(0xFF);
        var device = new FaultyDevice("log", seed);
        using (new DiskDirtyRegionLog(device, 70 * RegionSize, RegionSize, RegionLogSync.Default))
        {
        }
        var image = device.Recover().Snapshot();
        Assert.That(image[100], Is.EqualTo(0xAB));
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(image.AsSpan(4)), Is.EqualTo(2u), "version 1 is rewritten as 2");
    }

    [Test]
    public void Regions_dirty_at_a_crash_are_out_of_sync_at_the_next_open()
    {
        var device = new FaultyDevice("log");
        var log = new DiskDirtyRegionLog(device, 64 * RegionSize, RegionSize, RegionLogSync.Assume);
        log.MarkRegion(5);
        log.MarkRegion(6);
        log.Flush();
        log.ClearRegion(6);
        log.MarkRegion(7);
        // Crash: the device keeps only what was synced; the unflushed mark of 7 never mattered
        // because no write to 7 was released before its flush.
        using var reopened = new DiskDirtyRegionLog(device.Recover(), 64 * RegionSize, RegionSize, RegionLogSync.Default);
        Assert.That(reopened.InSync(5), Is.False);
        Assert.That(reopened.InSync(6), Is.False, "the clear was never flushed, so 6 is still dirty");
        Assert.That(reopened.InSync(7), Is.True);
        Assert.That(reopened.SyncCount, Is.EqualTo(62UL));
        Assert.That(reopened.TryGetResyncWork(out var r), Is.True);
        Assert.That(r, Is.EqualTo(5UL));
    }

    [Test]
    public void Sync_forces_a_full_resync_and_growth_resyncs_new_regions()
    {
        var device = new FaultyDevice("log");
        new DiskDirtyRegionLog(device, 32 * RegionSize, RegionSize, RegionLogSync.Assume).Dispose();
        using (var grown = new DiskDirtyRegionLog(device.Recover(), 40 * RegionSize, RegionSize, RegionLogSync.Default))
        {
            Assert.That(grown.SyncCount, Is.EqualTo(32UL));
            Assert.That(grown.InSync(35), Is.False);
        }
        using var forced = new DiskDirtyRegionLog(device.Recover(), 40 * RegionSize, RegionSize, RegionLogSync.Force);
        Assert.That(forced.SyncCount, Is.Zero);
    }

    [Test]
    public void A_failing_log_device_shows_D_and_fails_the_flush()
    {
        var device = new FaultyDevice("log");
        using var log = new DiskDirtyRegionLog(device, 8 * RegionSize, RegionSize, RegionLogSync.Assume);
        device.FailAtOperation = device.Operations + 1;
        device.FailPersistently = true;
        log.MarkRegion(1);
        Assert.That(log.Flush, Throws.TypeOf<RegionLogException>());
        Assert.That(log.Status(RegionLogStatusType.Info), Is.EqualTo("3 disk log D"));
    }
}

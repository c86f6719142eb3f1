using EraFs.RegionLog;
using EraFs.Storage;
using EraFs.TestSupport;

namespace EraFs.FileSystem.Tests;

/// <summary>Real mounts with mirror legs: writes reach every leg, resync copies out-of-sync regions, a failing leg is dropped.</summary>
[TestFixture]
[Category("Mount")]
public class MirrorTests
{
    private const long Size = 8L << 20;
    private const long RegionSize = 64 * 1024;
    private TestDirectory _dir = null!;

    [SetUp]
    public void SetUp()
    {
        HostTools.RequireFuse();
        _dir = new TestDirectory("mirror");
    }

    [TearDown]
    public void TearDown() => _dir.Dispose();

    private static void WriteAt(string device, long offset, byte[] data)
    {
        using var f = new FileStream(device, FileMode.Open, FileAccess.ReadWrite);
        f.Position = offset;
        f.Write(data);
        f.Flush(flushToDisk: true);
    }

    [Test]
    public void Overlapping_writes_in_flight_reach_the_origin_and_every_leg_in_one_order()
    {
        HostTools.Require("fio");
        HostTools.Require("losetup");
        var legs = new[] { _dir.SparseFile("leg1.img", Size) };
        using var m = new MirrorMount(_dir, Size, legs, size => new CoreDirtyRegionLog(size, RegionSize, RegionLogSync.Default));
        m.WaitForResync();
        using (var loop = LoopDevice.Attach(m.DevicePath, directIo: true))
        {
            // Sixteen 4 KiB blocks under 32 writes in flight, drawn with repeats: the same block is
            // written by several requests at once all the time, which is what used to let the leg
            // keep one write and the origin another.
            HostTools.Run("fio", ["--name=overlap", $"--filename={loop.Path}", "--ioengine=libaio", "--direct=1", "--rw=randwrite", "--bs=4k",
                "--iodepth=32", "--norandommap", "--size=64k", "--time_based", "--runtime=2", "--randseed=5"], TimeSpan.FromMinutes(2)).Ok();
        }
        m.Unmount();
        Assert.That(File.ReadAllBytes(legs[0]), Is.EqualTo(File.ReadAllBytes(m.OriginPath)), "the leg equals the origin");
    }

    [Test]
    public void Resync_copies_the_origin_to_every_leg_and_writes_reach_all_of_them()
    {
        var legs = new[] { _dir.SparseFile("leg1.img", Size), _dir.SparseFile("leg2.img", Size) };
        using var m = new MirrorMount(_dir, Size, legs, size => new CoreDirtyRegionLog(size, RegionSize, RegionLogSync.Default));
        m.WaitForResync();
        Assert.That(m.Set.Resync.RegionsResynced, Is.EqualTo(Size / RegionSize), "a core log resyncs everything");
        var data = new byte[200_000];
        new Random(9).NextBytes(data);
        WriteAt(m.DevicePath, 3 * RegionSize - 17, data);
        var status = m.ReadControl("mirror_status");
        Assert.That(status, Is.EqualTo($"3 {m.OriginPath} {legs[0]} {legs[1]} 128/128 1 AAA 1 core\n"));
        Assert.That(m.ReadControl("log_status"), Is.EqualTo("1 core\ncore 1 128 \n"));
        var read = new byte[data.Length];
        for (var i = 0; i < 3; i++)
        {
            // Reads rotate over the in-sync legs: each must see the data.
            using var f = new FileStream(m.DevicePath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.None);
            f.Position = 3 * RegionSize - 17;
            f.ReadExactly(read);
            Assert.That(read, Is.EqualTo(data));
        }
        m.Unmount();
        var origin = File.ReadAllBytes(m.OriginPath);
        foreach (var leg in legs) Assert.That(File.ReadAllBytes(leg), Is.EqualTo(origin), $"{leg} equals the origin");
    }

    [Test]
    public void A_disk_log_resyncs_only_regions_dirty_at_the_last_stop()
    {
        var leg = _dir.SparseFile("leg.img", Size);
        var logFile = _dir.File("region.log");
        using (var first = new MirrorMount(_dir, Size, [leg],
                   size => new DiskDirtyRegionLog(FileBlockDevice.Open(logFile, "region log", writable: true, create: true), size, RegionSize, RegionLogSync.Default)))
        {
            first.WaitForResync();
            first.Unmount();
        }
        // Simulate a crash that left regions 5 and 6 dirty (their legs may differ).
        using (var log = new DiskDirtyRegionLog(FileBlockDevice.Open(logFile, "region log", writable: true, create: true), Size, RegionSize, RegionLogSync.Default))
        {
            log.MarkRegion(5);
            log.MarkRegion(6);
            log.Flush();
        }
        File.WriteAllBytes(leg, File.ReadAllBytes(leg).Select((b, i) => i / RegionSize is 5 or 6 ? (byte)0 : b).ToArray());
        using var second = new MirrorMount(_dir, Size, [leg],
            size => new DiskDirtyRegionLog(FileBlockDevice.Open(logFile, "region log", writable: true, create: true), size, RegionSize, RegionLogSync.Default));
        second.WaitForResync();
        Assert.That(second.Set.Resync.RegionsResynced, Is.EqualTo(2));
        Assert.That(second.ReadControl("info"), Does.Contain("resync_regions: 2\n").And.Contain("resync: done\n"));
        second.Unmount();
        Assert.That(File.ReadAllBytes(leg), Is.EqualTo(File.ReadAllBytes(second.OriginPath)));
    }

    [Test]
    public void A_leg_that_fails_writes_is_marked_D_and_the_mirror_serves_from_the_origin()
    {
        var small = _dir.Subdirectory("small");
        HostTools.Run("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", small).Ok();
        try
        {
            var bad = Path.Combine(small, "leg.img");
            using (var fs = new FileStream(bad, FileMode.Create)) fs.SetLength(Size);
            var good = _dir.SparseFile("good.img", Size);
            var logFile = _dir.File("region.log");
            using var m = new MirrorMount(_dir, Size, [good, bad],
                size => new DiskDirtyRegionLog(FileBlockDevice.Open(logFile, "region log", writable: true, create: true), size, RegionSize, RegionLogSync.Assume));
            var data = new byte[1 << 20];
            new Random(5).NextBytes(data);
            WriteAt(m.DevicePath, 2 << 20, data);
            Assert.That(m.ReadControl("mirror_status"), Does.Contain(" 1 AAD 3 disk "));
            var read = new byte[data.Length];
            using (var f = new FileStream(m.DevicePath, FileMode.Open, FileAccess.Read))
            {
                f.Position = 2 << 20;
                f.ReadExactly(read);
            }
            Assert.That(read, Is.EqualTo(data));
            m.Unmount();
            Assert.That(File.ReadAllBytes(good).AsSpan(2 << 20, data.Length).SequenceEqual(data), Is.True, "the healthy leg got the write");
            using var after = new DiskDirtyRegionLog(FileBlockDevice.Open(logFile, "region log", writable: true, create: true), Size, RegionSize, RegionLogSync.Default);
            Assert.That(after.InSync((2 << 20) / RegionSize), Is.False, "regions the failed leg missed stay dirty for the next mount's resync");
            Assert.That(after.InSync(0), Is.True);
        }
        finally
        {
            HostTools.Run("umount", "-l", small);
        }
    }
}

using EraFs.RegionLog;

namespace EraFs.FileSystem.Tests;

/// <summary>Admission and release of a device write are one scope: a throwing origin must not leak the region's in-flight count.</summary>
public class WriteScopeTests
{
    private const long RegionSize = 4096;

    private sealed class ThrowingIo : IDeviceIo
    {
        public long Size => 8 * RegionSize;
        public DateTime ModifiedUtc => DateTime.UnixEpoch;
        public int Read(Span<byte> buffer, long offset) => buffer.Length;
        public int Write(ReadOnlySpan<byte> data, long offset) => throw new IOException("injected write failure");
        public int Zero(long offset, long length, bool punch) => throw new IOException("injected discard failure");
        public int Sync(bool dataOnly) => 0;
        public int FlushDescriptor() => 0;
    }

    [TestCase(false)]
    [TestCase(true)]
    public void A_write_or_discard_that_throws_after_admission_releases_its_region(bool discard)
    {
        var log = new CoreDirtyRegionLog(8 * RegionSize, RegionSize, RegionLogSync.Default);
        using var regions = new RegionTracker(log, 8 * RegionSize, () => true, cleanInterval: TimeSpan.FromHours(1));
        using var daemonLog = new DaemonLog(TextWriter.Null);
        var fs = new DeviceFileSystem(new ThrowingIo(), regions, [], daemonLog);

        if (discard)
            Assert.Throws<IOException>(() => fs.Fallocate(DeviceFileSystem.DeviceInode, 0, 0x02 | 0x01, 100, 10));
        else
            Assert.Throws<IOException>(() => fs.Write(DeviceFileSystem.DeviceInode, 0, new byte[10], 100));

        var began = false;
        var recovery = new Thread(() => began = regions.TryBeginRecovery(out _)) { IsBackground = true };
        recovery.Start();
        var done = recovery.Join(5000);
        if (!done) regions.CancelRecovery();
        Assert.That(done && began, Is.True, "region 0 has no write in flight, so its recovery starts at once");
    }
}

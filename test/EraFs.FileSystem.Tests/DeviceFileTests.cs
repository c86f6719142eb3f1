using EraFs.Fuse;
using EraFs.TestSupport;
using Mono.Unix.Native;

namespace EraFs.FileSystem.Tests;

/// <summary>The device file through a real mount, every result checked against the origin's bytes.</summary>
[TestFixtureSource(typeof(TransportSwitch), nameof(TransportSwitch.Both))]
[Category("Mount")]
public class DeviceFileTests(FuseTransport transport) : TransportFixture(transport)
{
    private const long Size = 8L << 20;
    private TestDirectory _dir = null!;

    [SetUp]
    public void SetUp()
    {
        HostTools.RequireFuse();
        _dir = new TestDirectory("device");
    }

    [TearDown]
    public void TearDown() => _dir.Dispose();

    [Test]
    public void Device_has_the_origin_size_and_owner_only_mode()
    {
        using var m = new DeviceMount(_dir, Size + 1234, transport: Transport);
        Assert.That(Syscall.stat(m.DevicePath, out var st), Is.Zero);
        Assert.That(st.st_size, Is.EqualTo(Size + 1234));
        Assert.That((int)st.st_mode & 0x1FF, Is.EqualTo(0x180), "mode 0600");
        Assert.That((st.st_mode & FilePermissions.S_IFMT) == FilePermissions.S_IFREG, Is.True);
    }

    [Test]
    public void Reads_return_the_origin_bytes_at_every_alignment()
    {
        using var m = new DeviceMount(_dir, Size, transport: Transport);
        var origin = File.ReadAllBytes(m.OriginPath);
        using var f = new FileStream(m.DevicePath, FileMode.Open, FileAccess.Read);
        foreach (var (off, len) in new[] { (0L, 4096), (1L, 1), (4095L, 8193), (Size - 100, 100), (3L << 20, 1 << 20) })
        {
            var buf = new byte[len];
            f.Position = off;
            f.ReadExactly(buf);
            Assert.That(buf, Is.EqualTo(origin.AsSpan((int)off, len).ToArray()), $"read at {off}+{len}");
        }
        var tail = new byte[10];
        f.Position = Size - 4;
        Assert.That(f.Read(tail), Is.EqualTo(4), "a read past the end is short");
    }

    [Test]
    public void Writes_reach_the_origin_and_fsync_goes_through()
    {
        using var m = new DeviceMount(_dir, Size, transport: Transport);
        var data = new byte[300_000];
        new Random(7).NextBytes(data);
        using (var f = new FileStream(m.DevicePath, FileMode.Open, FileAccess.ReadWrite))
        {
            f.Position = 12345;
            f.Write(data);
            f.Flush(flushToDisk: true);
        }
        var origin = File.ReadAllBytes(m.OriginPath);
        Assert.That(origin.AsSpan(12345, data.Length).ToArray(), Is.EqualTo(data));
    }

    [Test]
    public void Write_past_the_end_is_refused_and_changes_nothing()
    {
        using var m = new DeviceMount(_dir, Size, transport: Transport);
        var before = File.ReadAllBytes(m.OriginPath);
        var fd = Syscall.open(m.DevicePath, OpenFlags.O_WRONLY);
        Assert.That(fd, Is.GreaterThanOrEqualTo(0));
        try
        {
            var buf = new byte[4096];
            unsafe
            {
                fixed (byte* p = buf)
                {
                    Assert.That(Syscall.pwrite(fd, p, 4096, Size), Is.EqualTo(-1));
                    Assert.That(Stdlib.GetLastError(), Is.EqualTo(Errno.EFBIG));
                }
            }
        }
        finally
        {
            Syscall.close(fd);
        }
        Assert.That(new FileInfo(m.OriginPath).Length, Is.EqualTo(Size));
        Assert.That(File.ReadAllBytes(m.OriginPath), Is.EqualTo(before));
    }

    [Test]
    public void Open_with_O_TRUNC_is_refused_and_keeps_the_bytes()
    {
        using var m = new DeviceMount(_dir, Size, transport: Transport);
        var before = File.ReadAllBytes(m.OriginPath);
        Assert.Throws<UnauthorizedAccessException>(() => File.WriteAllBytes(m.DevicePath, new byte[1]));
        Assert.That(File.ReadAllBytes(m.OriginPath), Is.EqualTo(before));
    }

    [Test]
    public void Truncate_is_refused()
    {
        using var m = new DeviceMount(_dir, Size, transport: Transport);
        Assert.That(Syscall.truncate(m.DevicePath, 4096), Is.EqualTo(-1));
        Assert.That(Stdlib.GetLastError(), Is.EqualTo(Errno.EPERM));
        Assert.That(new FileInfo(m.OriginPath).Length, Is.EqualTo(Size));
    }

    [Test]
    public void Punch_hole_and_zero_range_zero_the_origin_range()
    {
        using var m = new DeviceMount(_dir, Size, transport: Transport);
        var before = File.ReadAllBytes(m.OriginPath);
        var fd = Syscall.open(m.DevicePath, OpenFlags.O_RDWR);
        try
        {
            Assert.That(NativeFallocate(fd, 0x02 | 0x01, 65536, 131072), Is.Zero, "punch hole");
            Assert.That(NativeFallocate(fd, 0x10 | 0x01, 1 << 20, 5000), Is.Zero, "zero range");
        }
        finally
        {
            Syscall.close(fd);
        }
        var origin = File.ReadAllBytes(m.OriginPath);
        Assert.That(origin.AsSpan(65536, 131072).IndexOfAnyExcept((byte)0), Is.EqualTo(-1));
        Assert.That(origin.AsSpan(1 << 20, 5000).IndexOfAnyExcept((byte)0), Is.EqualTo(-1));
        Assert.That(origin.AsSpan(0, 65536).ToArray(), Is.EqualTo(before.AsSpan(0, 65536).ToArray()), "bytes before the hole are kept");
        Assert.That(origin.AsSpan(196608, 4096).ToArray(), Is.EqualTo(before.AsSpan(196608, 4096).ToArray()), "bytes after the hole are kept");
        Assert.That(new FileInfo(m.OriginPath).Length, Is.EqualTo(Size));
    }

    [Test]
    public void Concurrent_writers_from_several_threads_all_land()
    {
        using var m = new DeviceMount(_dir, Size, transport: Transport);
        const int threads = 8;
        const int chunk = 64 * 1024;
        var expected = File.ReadAllBytes(m.OriginPath);
        Parallel.For(0, threads, t =>
        {
            using var f = new FileStream(m.DevicePath, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
            var rnd = new Random(100 + t);
            for (var i = 0; i < 16; i++)
            {
                var slot = (long)(t * 16 + i) * chunk;
                var data = new byte[chunk];
                rnd.NextBytes(data);
                f.Position = slot;
                f.Write(data);
                lock (expected) data.CopyTo(expected, slot);
            }
        });
        Assert.That(File.ReadAllBytes(m.OriginPath), Is.EqualTo(expected));
    }

    [Test]
    public void Listing_shows_device_and_info_and_info_names_the_daemon()
    {
        using var m = new DeviceMount(_dir, Size, transport: Transport);
        Assert.That(Directory.GetFiles(m.MountPoint).Select(Path.GetFileName), Is.EquivalentTo(new[] { "device", "info" }));
        var info = m.ReadControl("info");
        Assert.That(info, Does.Contain($"pid: {Environment.ProcessId}\n"));
        Assert.That(info, Does.Contain($"origin_size: {Size}\n"));
        Assert.That(info, Does.Contain("max_write: 1048576\n"));
    }

    [Test]
    public void Unmount_after_use_flushes_and_leaves_nothing_mounted()
    {
        var m = new DeviceMount(_dir, Size, transport: Transport);
        try
        {
            using (var f = new FileStream(m.DevicePath, FileMode.Open, FileAccess.Write)) f.Write(new byte[4096]);
            m.Unmount();
            Assert.That(File.ReadAllBytes(m.OriginPath).AsSpan(0, 4096).IndexOfAnyExcept((byte)0), Is.EqualTo(-1));
            Assert.That(MountPointCheck.IsMountPoint(m.MountPoint), Is.False);
        }
        finally
        {
            m.Dispose();
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int fallocate(int fd, int mode, long offset, long len);

    private static int NativeFallocate(int fd, int mode, long offset, long len) =>
        fallocate(fd, mode, offset, len) == 0 ? 0 : System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
}

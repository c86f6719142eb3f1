using System.Diagnostics;
using EraFs.Fuse;
using EraFs.TestSupport;

namespace EraFs.Cli.Tests;

/// <summary>
/// The dirty region log through the real CLI: kill -9 under fio on a mirrored mount, remount, and
/// the resync makes every leg equal to the origin while copying only the regions dirty at the crash;
/// a lost userspace log daemon refuses writes that need a new mark.
/// </summary>
[TestFixture]
[Category("Mount")]
public class RegionLogCrashTests
{
    private const long RegionSize = 512 * 1024;
    private TestDirectory _dir = null!;
    private string _mnt = null!;
    private Process? _logServer;

    [SetUp]
    public void SetUp()
    {
        HostTools.RequireFuse();
        HostTools.Require("losetup");
        _dir = new TestDirectory("regionlog");
        _mnt = _dir.Subdirectory("mnt");
    }

    [TearDown]
    public void TearDown()
    {
        Erafs.ForceCleanup(_mnt);
        if (_logServer is { HasExited: false }) _logServer.Kill();
        _logServer?.Dispose();
        _logServer = null;
        _dir.Dispose();
    }

    private string Control(string name) => File.ReadAllText(Path.Combine(_mnt, name));

    private void Mount(string origin, string[] legs, string log)
    {
        var args = new List<string> { "mount", "--origin", origin, "--log", log, "--log-file", _dir.File("daemon.log") };
        foreach (var leg in legs) args.AddRange(["--mirror", leg]);
        args.Add(_mnt);
        Erafs.Run([.. args]).Ok();
    }

    private long WaitForResync()
    {
        Assert.That(Erafs.WaitFor(() => Control("info").Contains("resync: done\n"), TimeSpan.FromSeconds(60)), Is.True,
            "resync finished: " + Control("info"));
        var info = Control("info");
        var regions = long.Parse(info.Split('\n').First(l => l.StartsWith("regions: ", StringComparison.Ordinal))[9..]);
        Assert.That(Control("mirror_status"), Does.Contain($" {regions}/{regions} 1 "), "every region in sync");
        return long.Parse(info.Split('\n').First(l => l.StartsWith("resync_regions: ", StringComparison.Ordinal))[16..]);
    }

    /// <summary>Mounts, lets fio write the first 16 MiB through a loop device, kills the daemon, remounts; the regions resynced after the crash.</summary>
    private (long Resynced, long Total) CrashUnderFio(long size, string log)
    {
        HostTools.Require("fio");
        var origin = _dir.SparseFile("origin.img", size);
        string[] legs = [_dir.SparseFile("leg1.img", size), _dir.SparseFile("leg2.img", size)];
        Mount(origin, legs, log);
        WaitForResync();
        var pid = Erafs.DaemonPid(_mnt);
        var loop = LoopDevice.Attach(Path.Combine(_mnt, "device"));
        using (var fio = Process.Start(new ProcessStartInfo("fio",
                   $"--name=crash --filename={loop.Path} --ioengine=libaio --direct=1 --rw=randwrite --bs=4k --iodepth=16 --time_based --runtime=5 --size=16M --randseed=11")
               { RedirectStandardOutput = true, RedirectStandardError = true })!)
        {
            Thread.Sleep(2000);
            Mono.Unix.Native.Syscall.kill(pid, Mono.Unix.Native.Signum.SIGKILL);
            Assert.That(fio.WaitForExit(60_000), Is.True, "fio ends once the daemon is gone");
        }
        HostTools.Run("umount", "-l", _mnt);
        loop.Dispose();
        Assert.That(Erafs.WaitFor(() => !MountPointCheck.IsMountPoint(_mnt), TimeSpan.FromSeconds(10)), Is.True, "dead mount removed");

        Mount(origin, legs, log);
        var resynced = WaitForResync();
        Erafs.Run("unmount", _mnt).Ok();
        foreach (var leg in legs) HostTools.Run("cmp", origin, leg).Ok();
        return (resynced, size / RegionSize);
    }

    [Test]
    public void Kill_9_under_fio_with_a_disk_log_resyncs_only_the_dirty_regions()
    {
        var logFile = _dir.File("region.log");
        var (resynced, total) = CrashUnderFio(256L << 20, "disk:" + logFile);
        TestContext.Out.WriteLine($"disk log after kill -9: {resynced} of {total} regions resynced");
        Assert.That(resynced, Is.GreaterThan(0), "fio's regions were dirty at the crash");
        Assert.That(resynced, Is.LessThanOrEqualTo(16L * 1024 * 1024 / RegionSize), "only regions fio wrote can be dirty");
        Assert.That(resynced * 8, Is.LessThan(total));
        var dump = Erafs.Run("log", "dump", logFile).Ok().Stdout;
        Assert.That(dump, Does.Contain("magic: 0x4d695272\nversion: 2\nregions: 512\nclean_regions: 512\ndirty_regions: 0\n"), "a clean unmount leaves no dirty region");
    }

    [Test]
    public void Kill_9_under_fio_with_a_core_log_resyncs_every_region()
    {
        var (resynced, total) = CrashUnderFio(64L << 20, "core");
        TestContext.Out.WriteLine($"core log after kill -9: {resynced} of {total} regions resynced");
        Assert.That(resynced, Is.EqualTo(total));
    }

    [Test]
    public void A_lost_log_daemon_shows_COM_FAILURE_and_untracked_writes_get_EIO()
    {
        const long size = 32L << 20;
        var socket = _dir.File("log.sock");
        _logServer = Erafs.Start("log-server", "--socket", socket, "--log", "disk:" + _dir.File("server.log"));
        Assert.That(_logServer.StandardOutput.ReadLine(), Does.StartWith("erafs: log server listening on "));
        var origin = _dir.SparseFile("origin.img", size);
        var leg = _dir.SparseFile("leg.img", size);
        Mount(origin, [leg], "userspace:" + socket);
        WaitForResync();
        Assert.That(Control("log_status"), Does.Match(@"^3 disk \S+server\.log/erafs-[0-9a-f]{32}\.log A\nuserspace 4 erafs-[0-9a-f]{32} integrated_flush \S+log\.sock 1024 \n$"));
        var tracked = Pattern(0x11);
        Assert.That(Write(2 * RegionSize, tracked), Is.Null, "writes go through while the daemon lives");

        _logServer.Kill();
        _logServer.WaitForExit();
        Assert.That(Erafs.WaitFor(() => Control("log_status").StartsWith("userspace 1 COM_FAILURE\n", StringComparison.Ordinal), TimeSpan.FromSeconds(10)),
            Is.True, Control("log_status"));
        Assert.That(Control("mirror_status"), Does.EndWith(" 0/64 1 AA userspace 1 COM_FAILURE\n"));

        var untracked = Pattern(0x77);
        var error = Write(20 * RegionSize, untracked);
        Assert.That(error, Is.Not.Null, "a write needing a new dirty mark is refused");
        Assert.That(error!.Message, Does.Contain("Input/output error").IgnoreCase.Or.Contain("EIO"));
        Erafs.Run("unmount", _mnt).Ok();
        foreach (var path in new[] { origin, leg })
        {
            var bytes = File.ReadAllBytes(path);
            Assert.That(bytes.AsSpan((int)(20 * RegionSize), untracked.Length).SequenceEqual(untracked), Is.False, $"{path}: nothing untracked arrived");
            Assert.That(bytes.AsSpan((int)(2 * RegionSize), tracked.Length).SequenceEqual(tracked), Is.True, $"{path}: the tracked write arrived");
        }
    }

    private static byte[] Pattern(byte value) => Enumerable.Repeat(value, 64 * 1024).ToArray();

    private IOException? Write(long offset, byte[] data)
    {
        try
        {
            using var f = new FileStream(Path.Combine(_mnt, "device"), FileMode.Open, FileAccess.Write);
            f.Position = offset;
            f.Write(data);
            f.Flush(flushToDisk: true);
            return null;
        }
        catch (IOException e)
        {
            return e;
        }
    }
}

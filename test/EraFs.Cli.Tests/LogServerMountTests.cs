using System.Diagnostics;
using EraFs.RegionLog;
using EraFs.Daemon;
using EraFs.Fuse;
using EraFs.TestSupport;

namespace EraFs.Cli.Tests;

/// <summary>
/// Two mirrored mounts on one <c>erafs log-server</c> through the real CLI: each mount has its own
/// log on the server, so neither mount's CTR, writes, crash or remount reaches the other's.
/// </summary>
[TestFixture]
[Category("Mount")]
public class LogServerMountTests
{
    private const long RegionSize = 512 * 1024;
    private TestDirectory _dir = null!;
    private Process? _logServer;
    private string _socket = null!;
    private string _logDir = null!;

    [SetUp]
    public void SetUp()
    {
        HostTools.RequireFuse();
        HostTools.Require("losetup");
        _dir = new TestDirectory("logserver");
        _socket = _dir.File("log.sock");
        _logDir = _dir.File("logs");
        _logServer = Erafs.Start("log-server", "--socket", _socket, "--log", "disk:" + _logDir);
        Assert.That(_logServer.StandardOutput.ReadLine(), Does.StartWith(LogServerVerb.ReadyPrefix));
    }

    [TearDown]
    public void TearDown()
    {
        foreach (var name in new[] { "a", "b" }) Erafs.ForceCleanup(_dir.File("mnt-" + name));
        if (_logServer is { HasExited: false })
        {
            _logServer.Kill();
            _logServer.WaitForExit();
        }
        if (_logServer is not null) TestContext.Out.WriteLine("log-server stderr:\n" + _logServer.StandardError.ReadToEnd());
        _logServer?.Dispose();
        _dir.Dispose();
    }

    /// <summary>One origin with one leg, mounted through the shared log server.</summary>
    private sealed record Mirror(string Name, string Origin, string Leg, string Mount)
    {
        public string Control(string name) => File.ReadAllText(Path.Combine(Mount, name));

        public string Device => Path.Combine(Mount, "device");
    }

    private Mirror Create(string name, long size) => new(name, _dir.SparseFile($"origin-{name}.img", size),
        _dir.SparseFile($"leg-{name}.img", size), _dir.Subdirectory("mnt-" + name));

    private void Mount(Mirror m) =>
        Erafs.Run("mount", "--origin", m.Origin, "--log", "userspace:" + _socket, "--mirror", m.Leg,
            "--log-file", _dir.File($"daemon-{m.Name}.log"), m.Mount).Ok();

    private static long WaitForResync(Mirror m)
    {
        Assert.That(Erafs.WaitFor(() => m.Control("info").Contains("resync: done\n"), TimeSpan.FromSeconds(60)), Is.True,
            $"{m.Name}: resync finished: " + m.Control("info"));
        var info = m.Control("info");
        var regions = long.Parse(info.Split('\n').First(l => l.StartsWith("regions: ", StringComparison.Ordinal))[9..]);
        Assert.That(m.Control("mirror_status"), Does.Contain($" {regions}/{regions} 1 "), $"{m.Name}: every region in sync");
        return long.Parse(info.Split('\n').First(l => l.StartsWith("resync_regions: ", StringComparison.Ordinal))[16..]);
    }

    private static void Write(Mirror m, long offset, byte value)
    {
        using var f = new FileStream(m.Device, FileMode.Open, FileAccess.Write);
        f.Position = offset;
        f.Write(Enumerable.Repeat(value, 64 * 1024).ToArray());
        f.Flush(flushToDisk: true);
    }

    [Test]
    public void A_second_mount_on_the_server_leaves_the_first_mounts_log_alone()
    {
        // The second mirror is smaller, so a log built for it lacks the first mirror's upper regions.
        var a = Create("a", 64L << 20);
        var b = Create("b", 16L << 20);
        Mount(a);
        WaitForResync(a);
        Mount(b);
        WaitForResync(b);

        Assert.That(() => Write(a, 40L << 20, 0x5a), Throws.Nothing, "a write through the first mount to a region the second's log lacks");
        Write(b, 1L << 20, 0x6b);
        var statusA = a.Control("log_status");
        var statusB = b.Control("log_status");
        Assert.That(statusA, Does.Match(@"^3 disk \S+/logs/erafs-[0-9a-f]{32}\.log A\nuserspace 4 erafs-[0-9a-f]{32} integrated_flush \S+log\.sock 1024 \n$"));
        var uuidA = statusA.Split(' ')[5];
        var uuidB = statusB.Split(' ')[5];
        Assert.That(uuidB, Is.Not.EqualTo(uuidA));
        Assert.That(statusA, Does.Contain($"/logs/{uuidA}.log A\n"), "A's INFO comes from A's own log file");
        Assert.That(statusB, Does.Contain($"/logs/{uuidB}.log A\n"));
        Assert.That(a.Control("mirror_status"), Does.EndWith(" 128/128 1 AA " + statusA.Split('\n')[0] + "\n"));
        Assert.That(b.Control("mirror_status"), Does.Contain(" 32/32 1 AA "));

        Erafs.Run("unmount", b.Mount).Ok();
        Assert.That(() => Write(a, 50L << 20, 0x7c), Throws.Nothing, "the second mount's DTR left the first's log open");
        Erafs.Run("unmount", a.Mount).Ok();
        HostTools.Run("cmp", a.Origin, a.Leg).Ok();
        HostTools.Run("cmp", b.Origin, b.Leg).Ok();
        Assert.That(Directory.GetFiles(_logDir).Select(Path.GetFileName).Order(), Is.EqualTo(new[] { uuidA + ".log", uuidB + ".log" }.Order()));
    }

    [Test]
    public void A_log_file_is_locked_while_the_server_has_it_open()
    {
        var a = Create("a", 16L << 20);
        Mount(a);
        WaitForResync(a);
        var uuid = a.Control("log_status").Split(' ')[5];
        var file = Path.Combine(_logDir, uuid + ".log");
        var second = _dir.File("second.sock");
        using var other = Erafs.Start("log-server", "--socket", second, "--log", "disk:" + _logDir);
        try
        {
            Assert.That(other.StandardOutput.ReadLine(), Does.StartWith(LogServerVerb.ReadyPrefix));
            Assert.That(() => new UserspaceDirtyRegionLog(() => MirrorSetup.Connect(second), second, uuid, 16L << 20, RegionSize, RegionLogSync.Default),
                Throws.TypeOf<RegionLogException>().With.Message.Contains("refused the log"), "a second server cannot open the held file");
            var mount = Erafs.Run("mount", "--origin", _dir.SparseFile("other.img", 16L << 20), "--mirror", _dir.SparseFile("other-leg.img", 16L << 20),
                "--log", "disk:" + file, _dir.Subdirectory("other-mnt"));
            Assert.That(mount.ExitCode, Is.EqualTo(4), "a mount cannot take the held file as its disk log: " + mount.Stderr);
            Assert.That(mount.Stderr, Does.Contain($"{file}: region log is in use by another EraFs process"));
            Assert.That(Erafs.Run("log", "dump", file).Ok().Stdout, Does.Contain("regions: 32"), "readers keep working on a held log");
        }
        finally
        {
            other.Kill();
            other.WaitForExit();
        }
        Erafs.Run("unmount", a.Mount).Ok();
        Assert.That(Erafs.Run("log", "dump", file).Ok().Stdout, Does.Contain("regions: 32\nclean_regions: 32\n"), "the lock ends with the mount's DTR");
    }

    [Test]
    public void Two_mounts_killed_under_concurrent_fio_each_resync_their_own_dirty_regions()
    {
        HostTools.Require("fio");
        const long size = 64L << 20;
        var mirrors = new[] { Create("a", size), Create("b", size) };
        foreach (var m in mirrors)
        {
            Mount(m);
            WaitForResync(m);
        }
        var pids = mirrors.Select(m => Erafs.DaemonPid(m.Mount)).ToArray();
        var loops = mirrors.Select(m => LoopDevice.Attach(m.Device)).ToArray();
        var fios = loops.Select((loop, i) => Process.Start(new ProcessStartInfo("fio",
                $"--name=crash{i} --filename={loop.Path} --ioengine=libaio --direct=1 --rw=randwrite --bs=4k --iodepth=16 --time_based --runtime=5 --size=16M --randseed={11 + i}")
            { RedirectStandardOutput = true, RedirectStandardError = true })!).ToArray();
        Thread.Sleep(1500);
        Mono.Unix.Native.Syscall.kill(pids[0], Mono.Unix.Native.Signum.SIGKILL);
        Thread.Sleep(500);
        Mono.Unix.Native.Syscall.kill(pids[1], Mono.Unix.Native.Signum.SIGKILL);
        foreach (var fio in fios)
        {
            Assert.That(fio.WaitForExit(60_000), Is.True, "fio ends once the daemon is gone");
            fio.Dispose();
        }
        foreach (var m in mirrors) HostTools.Run("umount", "-l", m.Mount);
        foreach (var loop in loops) loop.Dispose();
        foreach (var m in mirrors)
            Assert.That(Erafs.WaitFor(() => !MountPointCheck.IsMountPoint(m.Mount), TimeSpan.FromSeconds(10)), Is.True, $"{m.Name}: dead mount removed");

        foreach (var m in mirrors) Mount(m);
        foreach (var m in mirrors)
        {
            var resynced = WaitForResync(m);
            TestContext.Out.WriteLine($"{m.Name}: {resynced} of {size / RegionSize} regions resynced after kill -9");
            Assert.That(resynced, Is.GreaterThan(0), $"{m.Name}: the remount found the regions its own log had dirty at the crash");
            Assert.That(resynced, Is.LessThanOrEqualTo(16L * 1024 * 1024 / RegionSize), $"{m.Name}: only regions fio wrote were dirty");
        }
        foreach (var m in mirrors) Erafs.Run("unmount", m.Mount).Ok();
        foreach (var m in mirrors) HostTools.Run("cmp", m.Origin, m.Leg).Ok();
    }
}

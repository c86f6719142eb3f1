using EraFs.Fuse;
using EraFs.TestSupport;

namespace EraFs.Cli.Tests;

/// <summary>erafs mount / unmount as a user runs them: a background daemon, signals, busy mounts.</summary>
[TestFixture]
[Category("Mount")]
public class MountCommandTests
{
    private TestDirectory _dir = null!;
    private string _image = null!;
    private string _mnt = null!;

    [SetUp]
    public void SetUp()
    {
        HostTools.RequireFuse();
        _dir = new TestDirectory("cli");
        _image = _dir.SparseFile("origin.img", 32L << 20);
        _mnt = _dir.Subdirectory("mnt");
    }

    [TearDown]
    public void TearDown()
    {
        Erafs.ForceCleanup(_mnt);
        _dir.Dispose();
    }

    [Test]
    public void Mount_returns_when_ready_and_unmount_waits_for_the_daemon()
    {
        var log = _dir.File("daemon.log");
        var r = Erafs.Run("mount", "--origin", _image, "--log-file", log, _mnt).Ok();
        Assert.That(r.Stdout, Does.Contain($"mounted on {_mnt}").And.Contain(log));
        Assert.That(File.Exists(Path.Combine(_mnt, "device")), Is.True, "ready on return");
        var pid = Erafs.DaemonPid(_mnt);
        Assert.That(pid, Is.Not.EqualTo(Environment.ProcessId));

        Erafs.Run("unmount", _mnt).Ok();
        Assert.That(MountPointCheck.IsMountPoint(_mnt), Is.False);
        Assert.That(Erafs.ProcessAlive(pid), Is.False, "unmount returns after the daemon exited");
        Assert.That(File.ReadAllText(log), Does.Contain("unmounted " + _mnt));
    }

    [Test]
    public void A_warning_at_mount_reaches_the_mount_commands_stderr_and_is_logged_as_a_warning()
    {
        var meta = _dir.File("origin.meta");
        var log = _dir.File("daemon.log");
        Erafs.Run("mount", "--origin", _image, "--metadata", meta, "--create", "--log-file", log, _mnt).Ok();
        Erafs.Run("unmount", _mnt).Ok();
        File.SetLastWriteTimeUtc(_image, DateTime.UtcNow.AddMinutes(5));

        var r = Erafs.Run("mount", "--origin", _image, "--metadata", meta, "--log-file", log, _mnt).Ok();
        Assert.That(r.Stderr, Does.Match(@"^erafs: warning: the origin changed while unmounted .*every block counts as written in era \d+ and a new generation starts\n?$"), r.Stderr);
        Assert.That(File.ReadAllText(log), Does.Contain(" warning: the origin changed while unmounted").And.Not.Contain("info: warning:"));

        Erafs.Run("unmount", _mnt).Ok();
        var quiet = Erafs.Run("mount", "--origin", _image, "--metadata", meta, "--log-file", log, _mnt).Ok();
        Assert.That(quiet.Stderr, Is.Empty, "a clean remount of an unchanged origin warns of nothing");
    }

    [Test]
    public void Sigterm_the_moment_the_mount_appears_still_unmounts_cleanly()
    {
        // Regression: a signal between the mount appearing and the handlers being registered used
        // to kill the daemon with the default action (exit 143) and leave a dead mount.
        for (var i = 0; i < 3; i++)
        {
            using var p = Erafs.Start("mount", "--foreground", "--origin", _image, _mnt);
            Assert.That(Erafs.WaitFor(() => MountPointCheck.IsMountPoint(_mnt) || p.HasExited, TimeSpan.FromSeconds(30)), Is.True);
            Mono.Unix.Native.Syscall.kill(p.Id, Mono.Unix.Native.Signum.SIGTERM);
            Assert.That(p.WaitForExit(30_000), Is.True, "exits after SIGTERM");
            Assert.That(p.ExitCode, Is.Zero, p.StandardError.ReadToEnd());
            Assert.That(MountPointCheck.IsMountPoint(_mnt), Is.False, "nothing left mounted");
        }
    }

    [Test]
    public void A_dead_mount_left_by_a_killed_daemon_is_named_and_removed_by_unmount()
    {
        Erafs.Run("mount", "--origin", _image, "--log-file", _dir.File("log"), _mnt).Ok();
        var pid = Erafs.DaemonPid(_mnt);
        Mono.Unix.Native.Syscall.kill(pid, Mono.Unix.Native.Signum.SIGKILL);
        Assert.That(Erafs.WaitFor(() => !Erafs.ProcessAlive(pid), TimeSpan.FromSeconds(10)), Is.True);

        var r = Erafs.Run("mount", "--origin", _image, "--log-file", _dir.File("log2"), _mnt);
        Assert.That(r.ExitCode, Is.EqualTo(1));
        Assert.That(r.Stderr.Trim(), Is.EqualTo($"erafs: {_mnt}: mount point is a dead FUSE mount (its daemon is gone); remove it with 'erafs unmount {_mnt}'"));

        var u = Erafs.Run("unmount", _mnt).Ok();
        Assert.That(u.Stdout, Does.Contain("removed the stale mount"));
        Assert.That(MountPointCheck.IsMountPoint(_mnt), Is.False);
        Erafs.Run("mount", "--origin", _image, "--log-file", _dir.File("log3"), _mnt).Ok();
        Erafs.Run("unmount", _mnt).Ok();
    }

    [Test]
    public void Threads_option_sets_the_most_threads_that_serve_the_mount()
    {
        var log = _dir.File("daemon.log");
        Erafs.Run("mount", "--origin", _image, "--log-file", log, "--transport", "dev", "--threads", "4", _mnt).Ok();
        Erafs.Run("unmount", _mnt).Ok();
        Assert.That(File.ReadAllText(log), Does.Contain("up to 4 while requests wait").And.Contain("max_background 64"));
    }

    [Test]
    public void Sigterm_unmounts_cleanly_in_the_foreground()
    {
        using var p = Erafs.Start("mount", "--foreground", "--origin", _image, _mnt);
        Assert.That(Erafs.WaitFor(() => File.Exists(Path.Combine(_mnt, "device")), TimeSpan.FromSeconds(30)), Is.True, "mounted");
        Mono.Unix.Native.Syscall.kill(p.Id, Mono.Unix.Native.Signum.SIGTERM);
        Assert.That(p.WaitForExit(30_000), Is.True, "exits after SIGTERM");
        Assert.That(p.ExitCode, Is.Zero);
        Assert.That(MountPointCheck.IsMountPoint(_mnt), Is.False);
        var err = p.StandardError.ReadToEnd();
        Assert.That(err, Does.Contain("SIGTERM received"));
    }

    [Test]
    public void Sigterm_with_a_loop_device_attached_detaches_and_serves_until_it_is_released()
    {
        HostTools.Require("losetup");
        var log = _dir.File("daemon.log");
        Erafs.Run("mount", "--origin", _image, "--log-file", log, _mnt).Ok();
        var pid = Erafs.DaemonPid(_mnt);
        var loop = LoopDevice.Attach(Path.Combine(_mnt, "device"));
        Mono.Unix.Native.Syscall.kill(pid, Mono.Unix.Native.Signum.SIGTERM);
        Assert.That(Erafs.WaitFor(() => !MountPointCheck.IsMountPoint(_mnt), TimeSpan.FromSeconds(10)), Is.True, "left the namespace");
        // The loop device still works through the detached mount.
        var data = new byte[4096];
        Random.Shared.NextBytes(data);
        using (var f = new FileStream(loop.Path, FileMode.Open, FileAccess.Write)) f.Write(data);
        HostTools.Run("sync").Ok();
        Assert.That(Erafs.ProcessAlive(pid), Is.True, "serving while the loop device holds the file");
        loop.Dispose();
        Assert.That(Erafs.WaitFor(() => !Erafs.ProcessAlive(pid), TimeSpan.FromSeconds(30)), Is.True, "exits once released");
        var origin = File.ReadAllBytes(_image);
        Assert.That(origin.AsSpan(0, 4096).ToArray(), Is.EqualTo(data));
    }

    [Test]
    public void Unmount_while_a_loop_device_holds_the_device_is_refused_as_busy()
    {
        Erafs.Run("mount", "--origin", _image, "--log-file", _dir.File("log"), _mnt).Ok();
        using (LoopDevice.Attach(Path.Combine(_mnt, "device")))
        {
            var r = Erafs.Run("unmount", _mnt);
            Assert.That(r.ExitCode, Is.EqualTo((int)ExitCode.Busy));
            Assert.That(r.Stderr.Trim(), Is.EqualTo($"erafs: {_mnt}: busy: a loop device or open file still holds it (detach with 'losetup -d' first)"));
            Assert.That(MountPointCheck.IsMountPoint(_mnt), Is.True, "still mounted");
        }
        Erafs.Run("unmount", _mnt).Ok();
    }

    [Test]
    public void Mount_on_a_busy_mount_point_fails_and_leaves_the_first_mount_alone()
    {
        Erafs.Run("mount", "--origin", _image, "--log-file", _dir.File("log"), _mnt).Ok();
        var r = Erafs.Run("mount", "--origin", _image, "--log-file", _dir.File("log2"), _mnt);
        Assert.That(r.ExitCode, Is.EqualTo(1));
        Assert.That(r.Stderr.Trim(), Is.EqualTo($"erafs: {_mnt}: mount point is busy (something is already mounted there)"));
        Assert.That(File.Exists(Path.Combine(_mnt, "device")), Is.True);
        Erafs.Run("unmount", _mnt).Ok();
    }

    [Test]
    public void Io_uring_with_the_module_switch_off_is_refused_in_one_line_that_says_how_to_switch_it_on()
    {
        using var off = TransportSwitch.SwitchedOff();
        var r = Erafs.Run("mount", "--origin", _image, "--log-file", _dir.File("log"), "--transport", "io_uring", _mnt);
        Assert.That(r.ExitCode, Is.EqualTo(1), r.Stderr);
        var lines = r.Stderr.Trim().Split('\n');
        Assert.That(lines, Has.Length.EqualTo(1), r.Stderr);
        Assert.That(lines[0], Does.StartWith("erafs: ").And.Contain($"echo Y > {UringParameter.Path}"));
        Assert.That(MountPointCheck.IsMountPoint(_mnt), Is.False, "nothing left mounted");
        Assert.That(UringParameter.Read(), Is.False, "EraFs never flips the module switch itself");
    }

    [TestCase(false, "dev")]
    [TestCase(true, "io_uring")]
    public void Auto_follows_the_module_switch_and_logs_why(bool switchOn, string expected)
    {
        using var held = switchOn ? TransportSwitch.Use(FuseTransport.IoUring) : TransportSwitch.SwitchedOff();
        var log = _dir.File("daemon.log");
        Erafs.Run("mount", "--origin", _image, "--log-file", log, _mnt).Ok();
        var info = File.ReadAllText(Path.Combine(_mnt, "info"));
        Erafs.Run("unmount", _mnt).Ok();
        Assert.That(info, Does.Contain($"transport: {expected}\n"));
        Assert.That(info, Does.Match(@"queues: [1-9][0-9]*\n"));
        Assert.That(info, Does.Match(switchOn ? @"ring_placement: (pinned|spread)\n" : @"ring_placement: -\n"));
        var logged = File.ReadAllText(log);
        Assert.That(logged, Does.Contain($"transport {expected}: auto, because {UringParameter.Path} is {(switchOn ? "on" : "off")}"));
        if (switchOn) Assert.That(logged, Does.Match(@"io_uring threads ended (pinned to their queue's CPU|spread); \d+ trials of the other placement, \d+ kept"));
    }
}

using System.Diagnostics;
using EraFs.TestSupport;

namespace EraFs.Reliability.Tests;

/// <summary>
/// S6 on the mirror's parts: EIO injected with strace into the daemon's writes of one mirror leg, or of the disk
/// region log. Era tracking must lose nothing (O1), the daemon must neither crash nor hang, and a failed leg is reported.
/// </summary>
[TestFixture]
[Category("Reliability")]
[Category("Mount")]
public class MirrorFaultTests
{
    private TestDirectory _dir = null!;
    private CliMount _mount = null!;
    private Process? _strace;

    [SetUp]
    public void SetUp()
    {
        HostTools.RequireFuse();
        HostTools.Require("losetup");
        HostTools.Require("fio");
        HostTools.Require("strace");
        _dir = new TestDirectory("mirror-faults");
        _mount = new CliMount(_dir, 32L << 20);
    }

    [TearDown]
    public void TearDown()
    {
        StopInjecting();
        _mount.Dispose();
        _dir.Dispose();
    }

    private void InjectEio(string path, string syscalls)
    {
        var psi = new ProcessStartInfo("strace", $"-f -qq -o /dev/null -p {_mount.Pid} -P {path} -e trace={syscalls} -e inject={syscalls}:error=EIO")
        { RedirectStandardError = true, RedirectStandardOutput = true };
        _strace = Process.Start(psi)!;
        // strace attaches to every thread before it injects anything.
        Thread.Sleep(700);
        Assert.That(_strace.HasExited, Is.False, "strace attached");
    }

    private void StopInjecting()
    {
        if (_strace is null) return;
        if (!_strace.HasExited) _strace.Kill();
        _strace.WaitForExit();
        _strace.Dispose();
        _strace = null;
    }

    [Test]
    public void S6_eio_on_a_mirror_leg_drops_the_leg_and_loses_no_tracked_block()
    {
        var report = new ScenarioReport("S6 EIO on a mirror leg");
        var leg = _dir.SparseFile("leg.img", 32L << 20);
        Watchdog.Run(report.Name, Scale.Watchdog, () =>
        {
            for (var i = 0; i < Scale.Pick(1, 10); i++)
            {
                _mount.Mount("--mirror", leg, "--log", "core");
                var (era, snapshot) = _mount.CheckpointAndSnapshot();
                var loop = _mount.AttachLoop();
                var fio = _mount.StartFio(loop.Path, 3, i);
                Thread.Sleep(300);
                InjectEio(leg, "pwrite64,pwritev,pwritev2");
                Assert.That(fio.WaitForExit(60_000), Is.True, "fio finishes");
                report.Try();
                if (fio.ExitCode != 0) report.Fail("writes failed although the origin was healthy", $"run {i}: fio exit {fio.ExitCode}");
                if (!_mount.Control("mirror_status").Contains('D')) report.Fail("failed legs not reported", $"run {i}: {_mount.Control("mirror_status")}");
                else report.Count("legs reported failed");
                StopInjecting();
                _mount.Detach(loop);
                if (ErafsCli.Run("unmount", _mount.MountPoint).ExitCode != 0) report.Fail("unmounts failed", $"run {i}");
                _mount.CheckChangedBlocks(report, era, snapshot, $"run {i}");
            }
        });
        report.Finish();
    }

    [Test]
    public void S6_eio_on_the_disk_region_log_refuses_writes_and_loses_no_tracked_block()
    {
        var report = new ScenarioReport("S6 EIO on the disk region log");
        var leg = _dir.SparseFile("leg.img", 32L << 20);
        var log = _dir.File("regions.log");
        Watchdog.Run(report.Name, Scale.Watchdog, () =>
        {
            for (var i = 0; i < Scale.Pick(1, 10); i++)
            {
                _mount.Mount("--mirror", leg, "--log", "disk:" + log);
                var (era, snapshot) = _mount.CheckpointAndSnapshot();
                var loop = _mount.AttachLoop();
                InjectEio(log, "pwrite64,pwritev,pwritev2,fdatasync,fsync");
                var fio = _mount.StartFio(loop.Path, 2, i);
                Assert.That(fio.WaitForExit(60_000), Is.True, "fio finishes");
                report.Try();
                if (!CliMount.Alive(_mount.Pid)) report.Fail("daemon crashes", $"run {i}");
                report.Count(fio.ExitCode == 0 ? "runs whose writes all succeeded" : "runs with refused writes");
                StopInjecting();
                _mount.Detach(loop);
                var unmount = ErafsCli.Run("unmount", _mount.MountPoint);
                if (unmount.ExitCode != 0) report.Count("unmounts reporting the log failure");
                _mount.CleanUpAfterCrash(TimeSpan.FromSeconds(30));
                if (!_mount.WaitForExit(_mount.Pid, TimeSpan.FromSeconds(60))) report.Fail("hangs", $"run {i}: daemon still running");
                _mount.CheckChangedBlocks(report, era, snapshot, $"run {i}");
            }
        });
        report.Finish();
    }
}

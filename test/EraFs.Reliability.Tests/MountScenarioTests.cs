using EraFs.Fuse;
using EraFs.Metadata;
using EraFs.TestSupport;
using Mono.Unix.Native;

namespace EraFs.Reliability.Tests;

/// <summary>S1 (kill -9 under fio through a loop device) and S10 (unmount while busy, aborted connections) on real mounts.</summary>
[TestFixtureSource(typeof(TransportSwitch), nameof(TransportSwitch.Both))]
[Category("Reliability")]
[Category("Mount")]
public class MountScenarioTests(FuseTransport transport) : CliMountFixture(transport)
{
    protected override long ImageSize => 256L << 20;

    [Test]
    public void S1_kill_9_under_fio_through_a_loop_device()
    {
        var report = new ScenarioReport("S1 kill -9 under fio");
        var kills = Scale.Pick(10, 1000);
        var random = new Random(1);
        Watchdog.Run(report.Name, Scale.Watchdog, () =>
        {
            var acknowledged = 0u;
            for (var i = 0; i < kills; i++)
            {
                Daemon.Mount();
                if (Daemon.Era <= acknowledged) report.Fail("eras gone back after a crash", $"kill {i}");
                var (era, snapshot) = Daemon.CheckpointAndSnapshot();
                acknowledged = era;
                var loop = Daemon.AttachLoop();
                Daemon.StartFio(loop.Path, 30, i);
                Thread.Sleep(random.Next(200, Scale.Soak ? 3000 : 1500));
                Syscall.kill(Daemon.Pid, Signum.SIGKILL);
                Daemon.CleanUpAfterCrash(TimeSpan.FromSeconds(60));
                report.Try();
                Daemon.CheckChangedBlocks(report, era, snapshot, $"kill {i}");
            }
        });
        report.Finish();
    }

    [Test]
    public void S10_unmount_while_busy_is_refused_and_changes_nothing()
    {
        var report = new ScenarioReport("S10a unmount while busy");
        Watchdog.Run(report.Name, Scale.Watchdog, () =>
        {
            for (var i = 0; i < Scale.Pick(1, 20); i++)
            {
                Daemon.Mount();
                var (era, snapshot) = Daemon.CheckpointAndSnapshot();
                var loop = Daemon.AttachLoop();
                var fio = Daemon.StartFio(loop.Path, 3, i);
                Thread.Sleep(500);
                var refused = ErafsCli.Run("unmount", Daemon.MountPoint);
                report.Try();
                if (refused.ExitCode != 4) report.Fail("busy unmounts not refused with exit 4", $"run {i}: exit {refused.ExitCode} {refused.Stderr}");
                var fusermount = HostTools.Run("fusermount3", "-u", Daemon.MountPoint);
                if (fusermount.ExitCode == 0) report.Fail("busy unmounts not refused", $"run {i}: fusermount3 -u succeeded");
                if (!CliMount.Alive(Daemon.Pid) || !Daemon.Control("info").Contains("state: ok", StringComparison.Ordinal))
                    report.Fail("mounts harmed by a refused unmount", $"run {i}");
                Assert.That(fio.WaitForExit(60_000), Is.True, "fio finishes");
                Daemon.Detach(loop);
                ErafsCli.Run("unmount", Daemon.MountPoint).Ok();
                if (!Clean()) report.Fail("unclean history after a clean unmount", $"run {i}");
                Daemon.CheckChangedBlocks(report, era, snapshot, $"run {i}");
            }
        });
        report.Finish();
    }

    [Test]
    public void S10_detach_then_lazy_unmount_closes_the_history_cleanly()
    {
        var report = new ScenarioReport("S10b losetup -d then umount -l");
        Watchdog.Run(report.Name, Scale.Watchdog, () =>
        {
            for (var i = 0; i < Scale.Pick(1, 20); i++)
            {
                Daemon.Mount();
                if (Daemon.Control("info").Contains("recovered_unclean_shutdown: true", StringComparison.Ordinal))
                    report.Fail("recoveries after a clean stop", $"run {i}");
                var (era, snapshot) = Daemon.CheckpointAndSnapshot();
                var loop = Daemon.AttachLoop();
                Assert.That(Daemon.StartFio(loop.Path, 1, i).WaitForExit(60_000), Is.True);
                Daemon.Detach(loop);
                Assert.That(MountPointCheck.Unmount(Path.GetFullPath(Daemon.MountPoint), lazy: true), Is.Zero, "umount -l");
                report.Try();
                if (!Daemon.WaitForExit(Daemon.Pid, TimeSpan.FromSeconds(60))) report.Fail("hangs", $"run {i}: daemon still running");
                if (!Clean()) report.Fail("unclean history after a lazy unmount", $"run {i}");
                Daemon.CheckChangedBlocks(report, era, snapshot, $"run {i}");
            }
        });
        report.Finish();
    }

    [Test]
    public void S10_sigterm_under_load_serves_the_loop_device_until_detached()
    {
        var report = new ScenarioReport("S10c SIGTERM under load");
        Watchdog.Run(report.Name, Scale.Watchdog, () =>
        {
            for (var i = 0; i < Scale.Pick(1, 20); i++)
            {
                Daemon.Mount();
                var (era, snapshot) = Daemon.CheckpointAndSnapshot();
                var loop = Daemon.AttachLoop();
                var fio = Daemon.StartFio(loop.Path, 2, i);
                Thread.Sleep(500);
                Syscall.kill(Daemon.Pid, Signum.SIGTERM);
                Assert.That(fio.WaitForExit(60_000), Is.True, "fio finishes");
                Daemon.Detach(loop);
                report.Try();
                if (!Daemon.WaitForExit(Daemon.Pid, TimeSpan.FromSeconds(60))) report.Fail("hangs", $"run {i}: daemon still running");
                if (!Clean()) report.Fail("unclean history after SIGTERM", $"run {i}");
                Daemon.CheckChangedBlocks(report, era, snapshot, $"run {i}");
            }
        });
        report.Finish();
    }

    [Test]
    public void S10_an_aborted_fuse_connection_loses_no_tracked_block()
    {
        const string connections = "/sys/fs/fuse/connections";
        // fusectl lists only live connections, so an empty directory says nothing; whether it is mounted does.
        if (!EraFs.Fuse.MountPointCheck.IsMountPoint(connections)) HostTools.Run("mount", "-t", "fusectl", "none", connections);
        if (!EraFs.Fuse.MountPointCheck.IsMountPoint(connections)) Assert.Ignore("fusectl cannot be mounted here");
        var report = new ScenarioReport("S10d fusectl abort");
        Watchdog.Run(report.Name, Scale.Watchdog, () =>
        {
            for (var i = 0; i < Scale.Pick(1, 20); i++)
            {
                Daemon.Mount();
                var (era, snapshot) = Daemon.CheckpointAndSnapshot();
                Assert.That(Syscall.stat(Daemon.MountPoint, out var st), Is.Zero);
                var abort = Path.Combine(connections, ((uint)st.st_dev & 0xff | ((uint)st.st_dev >> 12) & 0xfff00).ToString(), "abort");
                var loop = Daemon.AttachLoop();
                Daemon.StartFio(loop.Path, 30, i);
                Thread.Sleep(700);
                File.WriteAllText(abort, "1");
                Daemon.CleanUpAfterCrash(TimeSpan.FromSeconds(60));
                report.Try();
                if (!Daemon.WaitForExit(Daemon.Pid, TimeSpan.FromSeconds(60))) report.Fail("hangs", $"run {i}: daemon still running after the abort");
                Daemon.CheckChangedBlocks(report, era, snapshot, $"run {i}");
            }
        });
        report.Finish();
    }

    [Test]
    public void S10_a_history_created_byDaemon_is_not_reported_as_recovered_from_a_crash()
    {
        Daemon.Mount();
        Assert.That(Daemon.Control("info"), Does.Contain("recovered_unclean_shutdown: false"));
        Assert.That(File.ReadAllText(Daemon.DaemonLog), Does.Not.Contain("last shutdown was not clean"));
        ErafsCli.Run("unmount", Daemon.MountPoint).Ok();
    }

    private bool Clean()
    {
        using var reader = MetadataReader.Open(Daemon.Meta);
        return reader.Clean;
    }
}

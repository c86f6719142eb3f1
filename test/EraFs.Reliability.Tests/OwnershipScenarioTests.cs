using EraFs.TestSupport;
using Mono.Unix.Native;

namespace EraFs.Reliability.Tests;

/// <summary>
/// S14 (second mounts and tools against held files under load), S15 (an outside write after kill -9)
/// and S16 (simultaneous mounts) on real mounts: nothing a refused caller does may cost a mark.
/// </summary>
[TestFixture]
[Category("Reliability")]
[Category("Mount")]
public class OwnershipScenarioTests : CliMountFixture
{
    protected override long ImageSize => 128L << 20;

    [Test]
    public void S14_secondDaemons_and_tools_against_held_files_under_fio()
    {
        var report = new ScenarioReport("S14 second mount under fio");
        var other = Dir.SparseFile("other.img", 128L << 20);
        var otherMeta = Dir.File("other.era");
        var second = Dir.Subdirectory("mnt2");
        var xml = Dir.File("dump.xml");
        Watchdog.Run(report.Name, Scale.Watchdog, () =>
        {
            for (var i = 0; i < Scale.Pick(3, 50); i++)
            {
                Daemon.Mount();
                var (era, snapshot) = Daemon.CheckpointAndSnapshot();
                ErafsCli.Run("dump", "-o", xml, Daemon.Meta).Ok();
                var loop = Daemon.AttachLoop();
                var fio = Daemon.StartFio(loop.Path, 3, i);
                string[][] intruders =
                [
                    ["mount", "--origin", other, "--metadata", Daemon.Meta, "--log-file", Daemon.DaemonLog, second],
                    ["mount", "--origin", Daemon.Image, "--metadata", otherMeta, "--create", "--log-file", Daemon.DaemonLog, second],
                    ["restore", "-i", xml, "-o", Daemon.Meta, "--force"],
                    ["create", "--origin", Daemon.Image, "--metadata", Daemon.Meta, "--force"],
                ];
                foreach (var args in intruders)
                {
                    var r = ErafsCli.Run(args);
                    report.Try();
                    if (r.ExitCode != 4 || !r.Stderr.Contains($"pid {Daemon.Pid}", StringComparison.Ordinal))
                        report.Fail("intruders not refused with exit 4 naming the holder", $"run {i} {args[0]}: exit {r.ExitCode} {r.Stderr.Trim()}");
                    else report.Count("refusals");
                    if (Fuse.MountPointCheck.IsMountPoint(Path.GetFullPath(second)))
                    {
                        report.Fail("second mounts served", $"run {i}");
                        Fuse.MountPointCheck.Unmount(Path.GetFullPath(second), lazy: true);
                    }
                }
                if (File.Exists(otherMeta)) report.Fail("refused --create left a metadata file", $"run {i}");
                fio.WaitForExit(60_000);
                Daemon.Detach(loop);
                ErafsCli.Run("unmount", Daemon.MountPoint).Ok();
                Daemon.CheckChangedBlocks(report, era, snapshot, $"run {i}");
            }
        });
        report.Finish();
    }

    [Test]
    public void S15_an_outside_write_to_the_origin_after_kill_9_is_reported()
    {
        var report = new ScenarioReport("S15 outside write after kill -9");
        var random = new Random(15);
        var nrBlocks = new FileInfo(Daemon.Image).Length / CliMount.BlockSize;
        Watchdog.Run(report.Name, Scale.Watchdog, () =>
        {
            for (var i = 0; i < Scale.Pick(3, 30); i++)
            {
                Daemon.Mount("--write-horizon", "1");
                var (era, snapshot) = Daemon.CheckpointAndSnapshot();
                var loop = Daemon.AttachLoop();
                Daemon.StartFio(loop.Path, 30, i);
                Thread.Sleep(random.Next(300, 1500));
                Syscall.kill(Daemon.Pid, Signum.SIGKILL);
                Daemon.CleanUpAfterCrash(TimeSpan.FromSeconds(60));
                // Past the crashed mount's 1 s horizon, as a script touching the image later would be.
                Thread.Sleep(2000);
                var block = random.NextInt64(nrBlocks);
                using (var origin = new FileStream(Daemon.Image, FileMode.Open, FileAccess.Write))
                {
                    origin.Position = block * CliMount.BlockSize;
                    var data = new byte[CliMount.BlockSize];
                    random.NextBytes(data);
                    origin.Write(data);
                }
                Daemon.Mount();
                report.Try();
                var info = Daemon.Control("info");
                if (!info.Contains("origin_check: changed-after-crash", StringComparison.Ordinal))
                    report.Fail("outside writes not detected", $"run {i}: {info.Split('\n').FirstOrDefault(l => l.StartsWith("origin_check", StringComparison.Ordinal))}");
                else report.Count("detected");
                ErafsCli.Run("unmount", Daemon.MountPoint).Ok();
                Daemon.CheckChangedBlocks(report, era, snapshot, $"run {i}");
            }
        });
        report.Finish();
    }

    [Test]
    public void S16_simultaneousDaemons_of_one_history()
    {
        var report = new ScenarioReport("S16 simultaneous mounts");
        var mountPoints = new[] { Daemon.MountPoint, Dir.Subdirectory("mnt2") };
        Watchdog.Run(report.Name, Scale.Watchdog, () =>
        {
            for (var round = 0; round < Scale.Pick(5, 100); round++)
            {
                var start = new ManualResetEventSlim();
                var results = new HostTools.Result[2];
                var threads = Enumerable.Range(0, 2).Select(i => new Thread(() =>
                {
                    start.Wait();
                    results[i] = ErafsCli.Run("mount", "--origin", Daemon.Image, "--metadata", Daemon.Meta, "--create",
                        "--log-file", Daemon.DaemonLog, mountPoints[i]);
                })).ToList();
                threads.ForEach(t => t.Start());
                start.Set();
                threads.ForEach(t => t.Join());
                report.Try();
                var winners = Enumerable.Range(0, 2).Where(i => results[i].ExitCode == 0).ToList();
                if (winners.Count != 1 || results[1 - winners[0]].ExitCode != 4)
                {
                    report.Fail("rounds without exactly one winner", $"round {round}: exits {results[0].ExitCode}/{results[1].ExitCode}");
                    foreach (var m in mountPoints) ErafsCli.Run("unmount", m);
                    continue;
                }
                var winner = mountPoints[winners[0]];
                var device = Path.Combine(winner, "device");
                var era = uint.Parse(File.ReadAllText(Path.Combine(winner, "status")).Split(' ')[2]);
                var block = (ulong)(round % 1000);
                using (var f = new FileStream(device, FileMode.Open, FileAccess.Write, FileShare.ReadWrite))
                {
                    f.Position = (long)block * CliMount.BlockSize;
                    f.Write(new byte[4096]);
                }
                ErafsCli.Run("unmount", winner).Ok();
                var lost = Daemon.WrittenSince(era).Contains(block) ? 0 : 1;
                report.Observe(lost, 0, 0, $"round {round}");
                if (ErafsCli.Run("check", "-q", Daemon.Meta).ExitCode != 0) report.Fail("histories damaged by the loser", $"round {round}");
            }
        });
        report.Finish();
    }
}

using System.Diagnostics;
using EraFs.Fuse;
using EraFs.TestSupport;

namespace EraFs.Reliability.Tests;

/// <summary>
/// S17 clustered mirror: two nodes (mounts of one origin and leg with --log clustered_core on a real
/// three-member etcd) write disjoint halves under fio; one is killed -9 at a random moment; the
/// survivor takes its regions over and resyncs them while its own fio runs. Lost: regions where the
/// leg differs from the origin after the survivor unmounted. False positives: regions recovered
/// outside the half the dead node was writing.
/// </summary>
[TestFixture]
[Category("Reliability")]
[Category("Mount")]
public class ClusterScenarioTests
{
    private const long Size = 16L << 20;
    private const long RegionSize = 512 * 1024;

    [Test]
    public void S17_a_node_killed_under_fio_loses_no_region_and_its_regions_are_recovered_by_the_survivor()
    {
        HostTools.RequireFuse();
        HostTools.Require("losetup");
        HostTools.Require("fio");
        using var etcd = EtcdCluster.Start();
        var report = new ScenarioReport("S17 clustered mirror, kill -9 of a node");
        var rounds = Scale.Pick(2, 10);
        var random = new Random(13);
        for (var round = 0; round < rounds; round++)
        {
            using var dir = new TestDirectory("s17");
            var origin = dir.SparseFile("origin.img", Size);
            var leg = dir.SparseFile("leg.img", Size);
            string[] nodes = ["a", "b"];
            var mounts = nodes.Select(n => dir.Subdirectory("mnt-" + n)).ToArray();
            var loops = new List<LoopDevice>();
            var fios = new List<Process>();
            try
            {
                for (var i = 0; i < 2; i++)
                {
                    ErafsCli.Run("mount", "--origin", origin, "--mirror", leg, "--log", "clustered_core", "--nosync", "--cluster", etcd.Endpoints,
                        "--cluster-log", $"s17-{round}", "--node", nodes[i], "--lease", "4", "--log-file", dir.File($"daemon-{nodes[i]}.log"), mounts[i]).Ok();
                }
                var victim = round % 2;
                var survivor = 1 - victim;
                var pid = int.Parse(Field(mounts[victim], "pid"));
                for (var i = 0; i < 2; i++)
                {
                    var loop = LoopDevice.Attach(Path.Combine(mounts[i], "device"), directIo: true);
                    loops.Add(loop);
                    fios.Add(Process.Start(new ProcessStartInfo("fio",
                        $"--name=s17{i} --filename={loop.Path} --ioengine=libaio --direct=1 --rw=randwrite --bs=4k --iodepth=8 --time_based " +
                        $"--runtime={(i == victim ? 30 : 6)} --offset={i * Size / 2} --size={Size / 2} --randseed={round * 2 + i + 1}")
                    { RedirectStandardOutput = true, RedirectStandardError = true })!);
                }
                // Kill at a random moment once the victim holds marks (its fio may start late on a loaded machine).
                if (!WaitFor(() => long.Parse(Field(mounts[victim], "dirty_regions")) > 0, TimeSpan.FromSeconds(30)))
                    report.Fail("victim never marked a region", $"round {round}");
                Thread.Sleep(random.Next(1500));
                Mono.Unix.Native.Syscall.kill(pid, Mono.Unix.Native.Signum.SIGKILL);
                report.Try();
                report.Count("kills");
                foreach (var fio in fios) Assert.That(fio.WaitForExit(120_000), Is.True, "fio ended");
                if (fios[survivor].ExitCode != 0) report.Fail("survivor write errors", $"round {round}: {fios[survivor].StandardError.ReadToEnd()}");
                // The survivor's member scan and its takeover are one pass under the log's lock: once the
                // dead node has left the members and nothing is left to resync, its recovery is done.
                if (!WaitFor(() => Field(mounts[survivor], "cluster_members") == nodes[survivor] && Field(mounts[survivor], "cluster_recovering") == "0",
                        TimeSpan.FromSeconds(60)))
                    report.Fail("dead node not recovered", $"round {round}: {File.ReadAllText(Path.Combine(mounts[survivor], "info"))}");
                var recovered = long.Parse(Field(mounts[survivor], "cluster_regions_taken_over"));
                if (recovered > 0) report.Count("kills that left marks");
                report.Count("regions recovered", recovered);
                loops[survivor].Dispose();
                loops[victim].Dispose();
                loops.Clear();
                HostTools.Run("umount", "-l", mounts[victim]);
                ErafsCli.Run("unmount", mounts[survivor]).Ok();
                var lost = DifferingRegions(origin, leg);
                // The dead node wrote only its half: more regions recovered than that half holds are
                // false positives (the survivor does not list which regions it took over).
                var beyondHalf = Math.Max(0, recovered - Size / 2 / RegionSize);
                report.Observe(lost, beyondHalf, Size / RegionSize, $"round {round}");
            }
            finally
            {
                foreach (var fio in fios)
                {
                    if (!fio.HasExited) fio.Kill();
                    fio.Dispose();
                }
                foreach (var loop in loops) loop.Dispose();
                foreach (var m in mounts)
                    if (MountPointCheck.IsMountPoint(m)) MountPointCheck.Unmount(m, lazy: true);
            }
        }
        report.Finish();
    }

    private static string Field(string mount, string key) =>
        File.ReadAllText(Path.Combine(mount, "info")).Split('\n').First(l => l.StartsWith(key + ": ", StringComparison.Ordinal))[(key.Length + 2)..];

    private static bool WaitFor(Func<bool> condition, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < timeout)
        {
            if (condition()) return true;
            Thread.Sleep(50);
        }
        return condition();
    }

    /// <summary>Regions whose bytes differ between the origin and the leg.</summary>
    private static long DifferingRegions(string origin, string leg)
    {
        using var a = File.OpenRead(origin);
        using var b = File.OpenRead(leg);
        var x = new byte[RegionSize];
        var y = new byte[RegionSize];
        long differing = 0;
        for (long off = 0; off < Size; off += RegionSize)
        {
            a.ReadExactly(x);
            b.ReadExactly(y);
            if (!x.AsSpan().SequenceEqual(y)) differing++;
        }
        return differing;
    }
}

using System.Diagnostics;
using EraFs.TestSupport;

namespace EraFs.Cli.Tests;

/// <summary>
/// Two "nodes" of one clustered mirror through the real CLI: two mounts of the same origin and leg
/// files, each with its own mount point and loop device (direct I/O), sharing one log in a real
/// three-member etcd that the test starts on 127.0.0.1.
/// </summary>
[TestFixture]
[Category("Mount")]
public class ClusterMountTests
{

    /// <summary>Two nodes a and b mounted on a fresh etcd and idle, then fio writing a's half through a loop device.</summary>
    private (int PidA, LoopDevice LoopA, Process FioA) TwoNodesWithAWriting(int seed, int runtimeSeconds)
    {
        HostTools.RequireFuse();
        HostTools.Require("losetup");
        HostTools.Require("fio");
        _etcd = EtcdCluster.Start();
        Mount("a").Ok();
        Mount("b").Ok();
        WaitIdle("a");
        WaitIdle("b");
        var pidA = Erafs.DaemonPid(MountPoint("a"));
        var loopA = LoopDevice.Attach(Path.Combine(MountPoint("a"), "device"), directIo: true);
        return (pidA, loopA, Fio(loopA.Path, 0, seed, runtimeSeconds));
    }
    private const long Size = 32L << 20;
    private const long RegionSize = 512 * 1024;
    private TestDirectory _dir = null!;
    private EtcdCluster? _etcd;
    private string _origin = null!;
    private string _leg = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = new TestDirectory("cluster");
        _origin = _dir.SparseFile("origin.img", Size);
        _leg = _dir.SparseFile("leg.img", Size);
    }

    [TearDown]
    public void TearDown()
    {
        foreach (var name in new[] { "a", "b" }) Erafs.ForceCleanup(_dir.File("mnt-" + name));
        _etcd?.Dispose();
        _dir.Dispose();
    }

    private string MountPoint(string node) => _dir.File("mnt-" + node);

    private HostTools.Result Mount(string node, params string[] extra)
    {
        var mnt = Directory.Exists(MountPoint(node)) ? MountPoint(node) : _dir.Subdirectory("mnt-" + node);
        return Erafs.Run([
            "mount", "--origin", _origin, "--mirror", _leg, "--log", "clustered_core", "--cluster", _etcd!.Endpoints,
            "--cluster-log", "shared", "--node", node, "--lease", "4", "--log-file", _dir.File($"daemon-{node}.log"), .. extra, mnt,
        ]);
    }

    private string Info(string node) => File.ReadAllText(Path.Combine(MountPoint(node), "info"));

    private string Field(string node, string key) =>
        Info(node).Split('\n').First(l => l.StartsWith(key + ": ", StringComparison.Ordinal))[(key.Length + 2)..];

    [Test]
    public void A_clustered_log_refuses_metadata_missing_cluster_options_and_clustered_disk_as_usage_errors()
    {
        var mnt = _dir.Subdirectory("mnt-a");
        var meta = Erafs.Run("mount", "--origin", _origin, "--mirror", _leg, "--metadata", _dir.File("m.meta"), "--create",
            "--log", "clustered_core", "--cluster", "http://127.0.0.1:1", "--cluster-log", "x", mnt);
        Assert.That(meta.ExitCode, Is.EqualTo(2), meta.Stderr);
        Assert.That(meta.Stderr, Does.Contain("--metadata cannot go with a clustered log").And.Contain("cluster-wide"));
        Assert.That(File.Exists(_dir.File("m.meta")), Is.False, "nothing was created");

        var noCluster = Erafs.Run("mount", "--origin", _origin, "--mirror", _leg, "--log", "clustered_core", "--cluster-log", "x", mnt);
        Assert.That(noCluster.ExitCode, Is.EqualTo(2));
        Assert.That(noCluster.Stderr, Does.Contain("needs --cluster URL"));

        var disk = Erafs.Run("mount", "--origin", _origin, "--mirror", _leg, "--log", "clustered_disk:" + _dir.File("l"), mnt);
        Assert.That(disk.ExitCode, Is.EqualTo(2));
        Assert.That(disk.Stderr, Does.Contain("clustered_disk:PATH is not implemented yet"));

        var stray = Erafs.Run("mount", "--origin", _origin, "--mirror", _leg, "--node", "a", mnt);
        Assert.That(stray.ExitCode, Is.EqualTo(2));
        Assert.That(stray.Stderr, Does.Contain("go with --log clustered_core only"));
    }

    [Test]
    public void Two_nodes_share_one_log_and_after_both_unmount_the_leg_equals_the_origin()
    {
        HostTools.RequireFuse();
        HostTools.Require("losetup");
        _etcd = EtcdCluster.Start();
        Mount("a").Ok();
        Mount("b").Ok();
        WaitIdle("a");
        WaitIdle("b");
        Assert.That(Field("a", "cluster_node"), Is.EqualTo("a"));
        Assert.That(Erafs.WaitFor(() => Field("a", "cluster_members") == "a,b", TimeSpan.FromSeconds(10)), Is.True, Info("a"));
        Assert.That(Field("b", "cluster_state"), Is.EqualTo("joined"));
        Assert.That(File.ReadAllText(Path.Combine(MountPoint("a"), "log_status")), Does.StartWith("3 clustered_core shared joined\nclustered_core 3 shared a 1024 "));

        using (var loopA = LoopDevice.Attach(Path.Combine(MountPoint("a"), "device"), directIo: true))
        using (var loopB = LoopDevice.Attach(Path.Combine(MountPoint("b"), "device"), directIo: true))
        {
            // Disjoint halves, one region shared at the boundary's either side, written by both at once.
            var fios = new[]
            {
                Fio(loopA.Path, 0, 11),
                Fio(loopB.Path, Size / 2, 12),
            };
            foreach (var fio in fios)
            {
                Assert.That(fio.WaitForExit(120_000), Is.True, "fio finished");
                Assert.That(fio.ExitCode, Is.Zero, fio.StandardError.ReadToEnd());
                fio.Dispose();
            }
        }
        var marks = long.Parse(Field("a", "cluster_marks_committed")) + long.Parse(Field("b", "cluster_marks_committed"));
        TestContext.Out.WriteLine($"marks committed by both nodes: {marks}; a: etcd p50 {Field("a", "etcd_round_trip_p50_ms")} ms, p99 {Field("a", "etcd_round_trip_p99_ms")} ms");
        Assert.That(marks, Is.GreaterThan(0));
        PrometheusParser.Require();
        var metrics = PrometheusParser.Parse(File.ReadAllText(Path.Combine(MountPoint("a"), "metrics")));
        Assert.That(metrics["erafs_cluster_etcd_round_trip_seconds"]["type"].GetString(), Is.EqualTo("summary"));
        Assert.That(PrometheusParser.Sample(metrics, "erafs_cluster_etcd_round_trip_seconds_count"), Is.GreaterThan(0));
        var p99 = PrometheusParser.Sample(metrics, "erafs_cluster_etcd_round_trip_seconds", ("quantile", "0.99"));
        Assert.That(p99, Is.GreaterThan(0).And.GreaterThanOrEqualTo(PrometheusParser.Sample(metrics, "erafs_cluster_etcd_round_trip_seconds", ("quantile", "0.5"))));
        Assert.That(PrometheusParser.Sample(metrics, "erafs_cluster_members"), Is.EqualTo(2));
        Erafs.Run("unmount", MountPoint("a")).Ok();
        Erafs.Run("unmount", MountPoint("b")).Ok();
        HostTools.Run("cmp", _origin, _leg).Ok();
    }

    [Test]
    public void A_node_killed_under_fio_has_its_dirty_regions_resynced_by_the_survivor_whose_own_fio_runs_on()
    {
        var (pidA, loopA, fioA) = TwoNodesWithAWriting(seed: 21, runtimeSeconds: 30);
        var loopB = LoopDevice.Attach(Path.Combine(MountPoint("b"), "device"), directIo: true);
        var fioB = Fio(loopB.Path, Size / 2, 22, runtimeSeconds: 8);
        WaitMarked("a");
        Mono.Unix.Native.Syscall.kill(pidA, Mono.Unix.Native.Signum.SIGKILL);
        Assert.That(fioA.WaitForExit(60_000), Is.True, "a's fio ends once its daemon is gone");
        fioA.Dispose();
        HostTools.Run("umount", "-l", MountPoint("a"));
        loopA.Dispose();

        Assert.That(fioB.WaitForExit(120_000), Is.True);
        Assert.That(fioB.ExitCode, Is.Zero, "the survivor's own writes ran on without an error: " + fioB.StandardError.ReadToEnd());
        fioB.Dispose();
        Assert.That(Erafs.WaitFor(() => long.Parse(Field("b", "cluster_regions_taken_over")) > 0 && Field("b", "cluster_recovering") == "0", TimeSpan.FromSeconds(60)),
            Is.True, "b took over a's regions and resynced them: " + Info("b"));
        var takenOver = long.Parse(Field("b", "cluster_regions_taken_over"));
        TestContext.Out.WriteLine($"b took over {takenOver} region(s) of {Size / RegionSize}; a wrote {Size / 2 / RegionSize}");
        Assert.That(takenOver, Is.LessThanOrEqualTo(Size / 2 / RegionSize), "only regions a was writing: its half");
        Assert.That(Field("b", "cluster_takeovers"), Is.EqualTo("1"));
        loopB.Dispose();
        Erafs.Run("unmount", MountPoint("b")).Ok();
        HostTools.Run("cmp", _origin, _leg).Ok();
    }

    [Test]
    public void Writes_go_on_with_one_etcd_member_down_fail_without_quorum_leaving_the_origin_unchanged_and_resume_after_restart()
    {
        HostTools.RequireFuse();
        _etcd = EtcdCluster.Start();
        Mount("a", "--nosync").Ok();
        WaitIdle("a");
        Assert.That(TryWrite("a", 0, 0x11), Is.Null, "a write with every member up");

        _etcd.Kill(0);
        Assert.That(Erafs.WaitFor(() => TryWrite("a", 1 * RegionSize, 0x22) is null, TimeSpan.FromSeconds(15)), Is.True, "writes go on with two of three members");

        _etcd.Kill(1);
        var sw = Stopwatch.StartNew();
        var error = TryWrite("a", 10 * RegionSize, 0x33);
        TestContext.Out.WriteLine($"write without quorum failed after {sw.ElapsedMilliseconds} ms: {error}");
        Assert.That(error, Is.Not.Null, "a write to an unmarked region fails without quorum");
        Assert.That(ReadOrigin(10 * RegionSize, 64 * 1024).All(b => b == 0), Is.True, "nothing of it reached the origin");
        Assert.That(Field("a", "cluster_state"), Is.AnyOf("fenced", "no-quorum"));

        _etcd.Restart(0, waitHealthy: false);
        _etcd.Restart(1);
        sw.Restart();
        Assert.That(Erafs.WaitFor(() => TryWrite("a", 10 * RegionSize, 0x44) is null, TimeSpan.FromSeconds(30)), Is.True,
            "writes resume without a remount: " + Info("a"));
        TestContext.Out.WriteLine($"writes resumed {sw.ElapsedMilliseconds} ms after the restart; {Field("a", "cluster_state")}");
        Assert.That(ReadOrigin(10 * RegionSize, 64 * 1024).All(b => b == 0x44), Is.True);
        Erafs.Run("unmount", MountPoint("a")).Ok();
        HostTools.Run("cmp", _origin, _leg).Ok();
    }

    [Test]
    public void A_node_stopped_past_its_lease_is_taken_over_and_after_it_continues_it_re_joins_before_writing_and_the_leg_equals_the_origin()
    {
        var (pidA, loopA, fioA) = TwoNodesWithAWriting(seed: 31, runtimeSeconds: 12);
        WaitMarked("a");
        Mono.Unix.Native.Syscall.kill(pidA, Mono.Unix.Native.Signum.SIGSTOP);
        try
        {
            Assert.That(Erafs.WaitFor(() => long.Parse(Field("b", "cluster_regions_taken_over")) > 0 && Field("b", "cluster_recovering") == "0",
                TimeSpan.FromSeconds(60)), Is.True, "b took over the stopped node's regions and resynced them: " + Info("b"));
        }
        finally
        {
            Mono.Unix.Native.Syscall.kill(pidA, Mono.Unix.Native.Signum.SIGCONT);
        }
        Assert.That(fioA.WaitForExit(120_000), Is.True);
        fioA.Dispose();
        loopA.Dispose();
        Assert.That(Erafs.WaitFor(() => Field("a", "cluster_state") == "joined", TimeSpan.FromSeconds(30)), Is.True, "a re-joined: " + Info("a"));
        var daemonLog = File.ReadAllText(_dir.File("daemon-a.log"));
        Assert.That(daemonLog, Does.Contain("fenced").And.Contain("re-joined log shared"), daemonLog);
        Assert.That(TryWrite("a", 3 * RegionSize, 0x55), Is.Null, "a writes again after re-joining");
        TestContext.Out.WriteLine($"b took over {Field("b", "cluster_regions_taken_over")} region(s) of the stopped node");
        Erafs.Run("unmount", MountPoint("a")).Ok();
        Erafs.Run("unmount", MountPoint("b")).Ok();
        HostTools.Run("cmp", _origin, _leg).Ok();
    }

    /// <summary>Writes 64 KiB through the node's device and syncs; the error, or null when it succeeded.</summary>
    private string? TryWrite(string node, long offset, byte value)
    {
        try
        {
            using var f = new FileStream(Path.Combine(MountPoint(node), "device"), FileMode.Open, FileAccess.Write);
            f.Position = offset;
            f.Write(Enumerable.Repeat(value, 64 * 1024).ToArray());
            f.Flush(flushToDisk: true);
            return null;
        }
        catch (IOException e)
        {
            return e.Message;
        }
    }

    private byte[] ReadOrigin(long offset, int length)
    {
        using var f = new FileStream(_origin, FileMode.Open, FileAccess.Read);
        f.Position = offset;
        var buffer = new byte[length];
        f.ReadExactly(buffer);
        return buffer;
    }

    /// <summary>Waits until the node holds marks, i.e. its fio is writing (fio may start late on a loaded machine).</summary>
    private void WaitMarked(string node) =>
        Assert.That(Erafs.WaitFor(() => long.Parse(Field(node, "dirty_regions")) > 0, TimeSpan.FromSeconds(30)), Is.True, $"{node} writes: " + Info(node));

    private void WaitIdle(string node) =>
        Assert.That(Erafs.WaitFor(() => Info(node).Contains("resync: done\n"), TimeSpan.FromSeconds(60)), Is.True, $"{node}: initial resync finished: " + Info(node));

    private static Process Fio(string device, long offset, int seed, int runtimeSeconds = 4) =>
        Process.Start(new ProcessStartInfo("fio",
            $"--name=n{seed} --filename={device} --ioengine=libaio --direct=1 --rw=randwrite --bs=4k --iodepth=8 --time_based --runtime={runtimeSeconds} " +
            $"--offset={offset} --size={Size / 2} --randseed={seed}")
        { RedirectStandardOutput = true, RedirectStandardError = true })!;
}

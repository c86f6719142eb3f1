using System.Buffers.Binary;
using System.Diagnostics;
using System.Security.Cryptography;
using EraFs.Fuse;
using EraFs.TestSupport;

namespace EraFs.Cli.Tests;

/// <summary>
/// No silent false negative through the real CLI: a mount owns its files, a refused mount or tool
/// changes nothing, and writes to the origin after a crash are caught at the next mount.
/// </summary>
[TestFixture]
[Category("Mount")]
public class OwnershipTests : TrackedMountFixture
{
    private const int BlockSize = 64 * 1024;

    private string Log => Dir.File("daemon.log");

    private static string Sha(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

    private static void WriteBlock(string device, long block, int bytes = 4096, byte fill = 0x5a)
    {
        using var f = new FileStream(device, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
        f.Position = block * BlockSize;
        f.Write(Enumerable.Repeat(fill, bytes).ToArray());
        f.Flush(flushToDisk: true);
    }

    private List<ulong> WrittenSince(uint era) =>
        ImageDiff.ParseInvalidateXml(Erafs.Run("invalidate", "--written-since", era.ToString(), Meta).Ok().Stdout).ToList();

    private string InfoValue(string key) =>
        Control("info").Split('\n').First(l => l.StartsWith(key + ": ", StringComparison.Ordinal))[(key.Length + 2)..];

    private void KillDaemon()
    {
        var pid = Erafs.DaemonPid(Mnt);
        Process.GetProcessById(pid).Kill();
        Assert.That(Erafs.WaitFor(() => !Erafs.ProcessAlive(pid), TimeSpan.FromSeconds(30)), Is.True, "daemon gone after kill -9");
        MountPointCheck.Unmount(Mnt, lazy: true);
    }

    [Test]
    public void A_second_mount_of_held_metadata_is_refused_with_exit_4_and_no_mark_is_lost()
    {
        Mount();
        var pid = Erafs.DaemonPid(Mnt);
        var before = Sha(Meta);
        var second = Dir.Subdirectory("mnt2");
        var other = Dir.SparseFile("other.img", 64L << 20);
        try
        {
            var r = Erafs.Run("mount", "--origin", other, "--metadata", Meta, "--log-file", Log, second);
            Assert.That(r.ExitCode, Is.EqualTo(4), r.Stderr);
            Assert.That(r.Stderr.Trim(), Is.EqualTo($"erafs: {Meta}: metadata is in use by another EraFs process (pid {pid}, erafs mount on {Mnt}); refusing to mount it twice"));
            Assert.That(MountPointCheck.IsMountPoint(second), Is.False);
            Assert.That(Sha(Meta), Is.EqualTo(before), "the refused mount wrote nothing");

            var sameOrigin = Erafs.Run("mount", "--origin", Image, "--metadata", Dir.File("fresh.era"), "--create", "--log-file", Log, second);
            Assert.That(sameOrigin.ExitCode, Is.EqualTo(4), sameOrigin.Stderr);
            Assert.That(sameOrigin.Stderr, Does.Contain($"{Image}: origin is in use by another EraFs process (pid {pid}, erafs mount on {Mnt})"));
            Assert.That(File.Exists(Dir.File("fresh.era")), Is.False, "the refused --create left no file behind");
        }
        finally
        {
            Erafs.ForceCleanup(second);
        }

        WriteBlock(Path.Combine(Mnt, "device"), 6);
        Erafs.Run("unmount", Mnt).Ok();
        Assert.That(WrittenSince(1), Does.Contain(6UL), "the write through the first mount is in the history");
        Erafs.Run("check", Meta).Ok();
    }

    [Test]
    public void Tools_refuse_to_replace_held_metadata_and_read_only_tools_keep_working()
    {
        Mount();
        WriteBlock(Path.Combine(Mnt, "device"), 3);
        var xml = Dir.File("dump.xml");
        Erafs.Run("dump", "-o", xml, Meta).Ok();
        var dmEra = Dir.File("dm.era");
        Erafs.Run("export", "--format", "dm-era", "-o", dmEra, Meta).Ok();
        var before = Sha(Meta);
        var pid = Erafs.DaemonPid(Mnt);

        foreach (var args in new[]
                 {
                     new[] { "restore", "-i", xml, "-o", Meta, "--force" },
                     ["import", "-i", dmEra, "-o", Meta, "--origin", Image, "--force"],
                     ["create", "--origin", Image, "--metadata", Meta, "--force"],
                 })
        {
            var r = Erafs.Run(args);
            Assert.That(r.ExitCode, Is.EqualTo(4), $"{args[0]}: {r.Stderr}");
            Assert.That(r.Stderr, Does.Contain($"{Meta}: metadata is in use by another EraFs process (pid {pid}, erafs mount on {Mnt})"), args[0]);
            Assert.That(Sha(Meta), Is.EqualTo(before), $"{args[0]} changed the live metadata");
        }

        Assert.That(WrittenSince(1), Does.Contain(3UL), "invalidate reads a live mount's metadata");
        var check = Erafs.Run("check", Meta).Ok();
        Assert.That(check.Stdout, Does.Contain("metadata is live (held by pid " + pid));
        Erafs.Run("unmount", Mnt).Ok();

        var unmounted = Sha(Meta);
        var noForce = Erafs.Run("restore", "-i", xml, "-o", Meta);
        Assert.That(noForce.ExitCode, Is.EqualTo(1));
        Assert.That(noForce.Stderr.Trim(), Is.EqualTo($"erafs: {Meta}: already exists and is not empty (use --force to replace its history)"));
        var importNoForce = Erafs.Run("import", "-i", dmEra, "-o", Meta, "--origin", Image);
        Assert.That(importNoForce.ExitCode, Is.EqualTo(1), importNoForce.Stderr);
        Assert.That(Erafs.Run("restore", "-i", xml, "-o", Dir.File("copy.era")).ExitCode, Is.Zero, "a new file needs no --force");
        Assert.That(Sha(Meta), Is.EqualTo(unmounted), "refused tools left the metadata alone");
        Erafs.Run("restore", "-i", xml, "-o", Meta, "--force").Ok();
    }

    [Test]
    public void Two_mounts_started_at_the_same_instant_exactly_one_wins_and_the_loser_changes_nothing()
    {
        var mounts = new[] { Mnt, Dir.Subdirectory("mnt2") };
        try
        {
            for (var round = 0; round < 3; round++)
            {
                var start = new ManualResetEventSlim();
                var results = new HostTools.Result[2];
                var threads = Enumerable.Range(0, 2).Select(i => new Thread(() =>
                {
                    start.Wait();
                    results[i] = Erafs.Run("mount", "--origin", Image, "--metadata", Meta, "--create", "--log-file", Log, mounts[i]);
                })).ToList();
                threads.ForEach(t => t.Start());
                start.Set();
                threads.ForEach(t => t.Join());

                var winners = Enumerable.Range(0, 2).Where(i => results[i].ExitCode == 0).ToList();
                Assert.That(winners, Has.Count.EqualTo(1), $"round {round}: {results[0].Stderr} | {results[1].Stderr}");
                var loser = 1 - winners[0];
                Assert.That(results[loser].ExitCode, Is.EqualTo(4), results[loser].Stderr);
                Assert.That(MountPointCheck.IsMountPoint(mounts[loser]), Is.False);

                var winner = mounts[winners[0]];
                WriteBlock(Path.Combine(winner, "device"), 10 + round);
                Erafs.Run("unmount", winner).Ok();
                Erafs.Run("check", Meta).Ok();
                Assert.That(WrittenSince(1), Does.Contain(10UL + (ulong)round), $"round {round}: the winner's write is tracked");
            }
        }
        finally
        {
            foreach (var m in mounts) Erafs.ForceCleanup(m);
        }
    }

    [Test]
    public void A_write_to_the_origin_after_kill_9_is_reported_at_the_next_mount()
    {
        Erafs.Run("mount", "--origin", Image, "--metadata", Meta, "--create", "--write-horizon", "1", "--log-file", Log, Mnt).Ok();
        WriteBlock(Path.Combine(Mnt, "device"), 2);
        KillDaemon();
        // Past the crashed mount's horizon (1 s from its last renewal), as a user's script would be.
        Thread.Sleep(2500);
        using (var origin = new FileStream(Image, FileMode.Open, FileAccess.Write))
        {
            origin.Position = 200L * BlockSize;
            origin.Write(new byte[64 * 1024].Select((_, i) => (byte)i).ToArray());
        }

        Erafs.Run("mount", "--origin", Image, "--metadata", Meta, "--log-file", Log, Mnt).Ok();
        var era = uint.Parse(InfoValue("current_era"));
        Assert.That(InfoValue("origin_check"), Is.EqualTo("changed-after-crash"));
        Assert.That(InfoValue("recovered_unclean_shutdown"), Is.EqualTo("true"));
        Erafs.Run("unmount", Mnt).Ok();
        var listed = WrittenSince(era);
        Assert.That(listed, Does.Contain(200UL), "the block written behind our back is reported");
        Assert.That(listed, Has.Count.EqualTo(1024), "every block counts as written: EraFs cannot know which changed");
        Assert.That(File.ReadAllText(Log), Does.Contain("warning: the origin changed after the crashed mount's last possible write"));
    }

    [Test]
    public void Kill_9_without_an_outside_write_is_not_taken_for_a_changed_origin()
    {
        Erafs.Run("mount", "--origin", Image, "--metadata", Meta, "--create", "--write-horizon", "1", "--log-file", Log, Mnt).Ok();
        WriteBlock(Path.Combine(Mnt, "device"), 2);
        KillDaemon();
        Thread.Sleep(2500);
        Erafs.Run("mount", "--origin", Image, "--metadata", Meta, "--log-file", Log, Mnt).Ok();
        var era = uint.Parse(InfoValue("current_era"));
        Assert.That(InfoValue("origin_check"), Is.EqualTo("unclean-shutdown"));
        Erafs.Run("unmount", Mnt).Ok();
        Assert.That(WrittenSince(era), Is.Empty, "nothing wrote the origin after the crash");
        Assert.That(WrittenSince(1), Does.Contain(2UL), "the write before the crash is kept");
    }

    [Test]
    public void Sigterm_with_a_loop_device_attached_keeps_the_history_until_the_old_daemon_closes_it()
    {
        HostTools.Require("losetup");
        Mount();
        var pid = Erafs.DaemonPid(Mnt);
        var loop = LoopDevice.Attach(Path.Combine(Mnt, "device"), directIo: true);
        try
        {
            Mono.Unix.Native.Syscall.kill(pid, Mono.Unix.Native.Signum.SIGTERM);
            Assert.That(Erafs.WaitFor(() => !MountPointCheck.IsMountPoint(Mnt), TimeSpan.FromSeconds(30)), Is.True, "lazily unmounted");
            Assert.That(Erafs.ProcessAlive(pid), Is.True, "the old daemon still serves the loop device");

            var r = Erafs.Run("mount", "--origin", Image, "--metadata", Meta, "--log-file", Log, Mnt);
            Assert.That(r.ExitCode, Is.EqualTo(4), r.Stderr);
            Assert.That(r.Stderr, Does.Contain($"pid {pid}"));
            Assert.That(MountPointCheck.IsMountPoint(Mnt), Is.False);

            WriteBlock(loop.Path, 17);
        }
        finally
        {
            loop.Dispose();
        }
        Assert.That(Erafs.WaitFor(() => !Erafs.ProcessAlive(pid), TimeSpan.FromSeconds(60)), Is.True, "the old daemon exits once the loop device is gone");
        Mount();
        Erafs.Run("unmount", Mnt).Ok();
        Assert.That(WrittenSince(1), Does.Contain(17UL), "the write through the old loop device is tracked");
    }

    [Test]
    public void A_mount_refused_for_a_busy_mount_point_or_a_wrong_origin_writes_nothing()
    {
        Mount();
        Erafs.Run("unmount", Mnt).Ok();
        var before = Sha(Meta);
        var blocker = Dir.SparseFile("blocker.img", 1L << 20);
        Erafs.Run("mount", "--origin", blocker, "--log-file", Log, Mnt).Ok();
        try
        {
            var bigger = Dir.SparseFile("bigger.img", 128L << 20);
            foreach (var origin in new[] { Image, bigger })
            {
                var busy = Erafs.Run("mount", "--origin", origin, "--metadata", Meta, "--log-file", Log, Mnt);
                Assert.That(busy.ExitCode, Is.Not.Zero);
                Assert.That(busy.Stderr, Does.Contain("mount point is busy"));
                Assert.That(Sha(Meta), Is.EqualTo(before), $"refused mount of {origin} onto a busy mount point changed the metadata");
            }
        }
        finally
        {
            Erafs.Run("unmount", Mnt).Ok();
        }

        var smaller = Dir.SparseFile("smaller.img", 32L << 20);
        var shrunk = Erafs.Run("mount", "--origin", smaller, "--metadata", Meta, "--log-file", Log, Mnt);
        Assert.That(shrunk.ExitCode, Is.EqualTo(1));
        Assert.That(shrunk.Stderr, Does.Contain("the origin shrank"));
        var leg = Dir.SparseFile("leg.img", 32L << 20);
        var badLeg = Erafs.Run("mount", "--origin", Image, "--metadata", Meta, "--mirror", leg, "--log-file", Log, Mnt);
        Assert.That(badLeg.ExitCode, Is.EqualTo(1));
        Assert.That(badLeg.Stderr, Does.Contain("mirror leg has"));
        Assert.That(Sha(Meta), Is.EqualTo(before), "refused mounts changed the metadata");

        Mount();
        Assert.That(InfoValue("origin_size"), Is.EqualTo((64L << 20).ToString()), "the right origin is still accepted");
    }

    [Test]
    public void Damaged_metadata_is_refused_at_mount_with_exit_3_and_left_as_it_was(
        [Values("truncated-last-block", "era-array-page")] string damage)
    {
        Mount();
        for (var b = 0; b < 40; b++) WriteBlock(Path.Combine(Mnt, "device"), b * 7);
        File.AppendAllText(Path.Combine(Mnt, "checkpoint"), "1\n");
        Assert.That(Erafs.WaitFor(() => InfoValue("pending_digest") == "false", TimeSpan.FromSeconds(30)), Is.True, "digest done");
        Erafs.Run("unmount", Mnt).Ok();

        var bytes = File.ReadAllBytes(Meta);
        if (damage == "truncated-last-block")
        {
            File.WriteAllBytes(Meta, bytes[..^4096]);
        }
        else
        {
            var random = new Random(7);
            var damaged = 0;
            for (var offset = 0; offset < bytes.Length; offset += 4096)
            {
                if (BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(offset + 4)) != 5) continue; // BlockKind.EraPage
                random.NextBytes(bytes.AsSpan(offset + 100, 64));
                damaged++;
            }
            Assert.That(damaged, Is.Positive, "the history has era array pages");
            File.WriteAllBytes(Meta, bytes);
        }
        Assert.That(Erafs.Run("check", Meta).ExitCode, Is.EqualTo(3), "check calls it damaged");
        var before = Sha(Meta);

        var r = Erafs.Run("mount", "--origin", Image, "--metadata", Meta, "--log-file", Log, Mnt);
        Assert.That(r.ExitCode, Is.EqualTo(3), r.Stderr);
        Assert.That(r.Stderr, Does.Match($"erafs: {Meta}: metadata is damaged.*block \\d+.*erafs check {Meta}.*dump --repair"));
        Assert.That(MountPointCheck.IsMountPoint(Mnt), Is.False);
        Assert.That(Sha(Meta), Is.EqualTo(before), "the refused mount wrote nothing");
    }
}

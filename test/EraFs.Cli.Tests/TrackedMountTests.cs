using System.Security.Cryptography;
using EraFs.Fuse;
using EraFs.TestSupport;

namespace EraFs.Cli.Tests;

/// <summary>Era tracking end to end: ext4 on a loop device over a tracked mount, snapshots, crashes, bad control input.</summary>
[TestFixtureSource(typeof(TransportSwitch), nameof(TransportSwitch.Both))]
[Category("Mount")]
public class TrackedMountTests(FuseTransport transport) : TrackedMountFixture(transport)
{
    private const int BlockSize = 64 * 1024;

    private uint Checkpoint()
    {
        File.AppendAllText(Path.Combine(Mnt, "checkpoint"), "1\n");
        return uint.Parse(Control("checkpoint").Trim());
    }

    [Test]
    public void Snapshot_invalidation_covers_every_block_ext4_changed_after_a_checkpoint()
    {
        HostTools.Require("mkfs.ext4");
        Mount();
        var fsDir = Dir.Subdirectory("ext4");
        var before = Dir.File("before.img");
        uint era;
        using (var loop = LoopDevice.Attach(Path.Combine(Mnt, "device")))
        {
            HostTools.Run("mkfs.ext4", "-q", "-F", loop.Path).Ok();
            HostTools.Run("mount", loop.Path, fsDir).Ok();
            WriteFiles(fsDir, "a", 10, seed: 1);
            HostTools.Run("umount", fsDir).Ok();

            era = Checkpoint();
            Assert.That(Control("status").Split(' ')[2], Is.EqualTo(era.ToString()), "status shows the era the checkpoint started");
            File.Copy(Image, before);

            HostTools.Run("mount", loop.Path, fsDir).Ok();
            WriteFiles(fsDir, "b", 10, seed: 2);
            File.Delete(Path.Combine(fsDir, "a3"));
            HostTools.Run("umount", fsDir).Ok();
        }
        File.AppendAllText(Path.Combine(Mnt, "take_metadata_snap"), "1\n");
        Assert.That(Control("status").TrimEnd(), Does.Not.EndWith(" -"), "status shows the held root");

        var xml = Erafs.Run("invalidate", "--written-since", era.ToString(), "--metadata-snapshot", Meta).Ok().Stdout;
        var listed = ImageDiff.ParseInvalidateXml(xml);
        var changed = ImageDiff.ChangedBlocks(before, Image, BlockSize);
        var lost = changed.Except(listed).ToList();
        TestContext.Out.WriteLine($"ext4-snapshot: {changed.Count} blocks changed, {listed.Count} listed, {lost.Count} lost, {listed.Count - changed.Count} false positives");
        Assert.That(changed, Is.Not.Empty, "the workload changed the image");
        Assert.That(lost, Is.Empty, "every changed block is listed");

        File.AppendAllText(Path.Combine(Mnt, "drop_metadata_snap"), "1\n");
        Assert.That(Control("status").TrimEnd(), Does.EndWith(" -"));
        var noSnap = Erafs.Run("invalidate", "--written-since", era.ToString(), "--metadata-snapshot", Meta);
        Assert.That(noSnap.ExitCode, Is.EqualTo(1));
        Assert.That(noSnap.Stderr, Does.Contain("no metadata snapshot held"));
        Erafs.Run("unmount", Mnt).Ok();
    }

    [Test]
    public void Kill_9_under_fio_loses_no_tracked_block()
    {
        HostTools.Require("fio");
        // Large enough that a second of 4 KiB writes changes only part of it, so over-marking shows.
        Image = Dir.SparseFile("big.img", 512L << 20);
        Mount();
        var era = Checkpoint();
        var before = Dir.File("before.img");
        File.Copy(Image, before);
        var pid = Erafs.DaemonPid(Mnt);
        var loop = LoopDevice.Attach(Path.Combine(Mnt, "device"));
        using var fio = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("fio",
            $"--name=crash --filename={loop.Path} --ioengine=libaio --direct=1 --rw=randwrite --bs=4k --iodepth=16 --time_based --runtime=20 --randseed=7")
        { RedirectStandardOutput = true, RedirectStandardError = true })!;
        Thread.Sleep(1000);
        Mono.Unix.Native.Syscall.kill(pid, Mono.Unix.Native.Signum.SIGKILL);
        Assert.That(fio.WaitForExit(60_000), Is.True, "fio ends once the daemon is gone");
        loop.Dispose();
        Assert.That(MountPointCheck.Unmount(Mnt, lazy: true), Is.Zero, "remove the dead mount");

        Mount();
        Assert.That(uint.Parse(Control("status").Split(' ')[2]), Is.GreaterThan(era), "a new era after the crash");
        Assert.That(Control("info"), Does.Contain("recovered_unclean_shutdown: true"));
        Erafs.Run("unmount", Mnt).Ok();

        var listed = ImageDiff.ParseInvalidateXml(Erafs.Run("invalidate", "--written-since", era.ToString(), Meta).Ok().Stdout);
        var changed = ImageDiff.ChangedBlocks(before, Image, BlockSize);
        var lost = changed.Except(listed).ToList();
        TestContext.Out.WriteLine($"kill-9-fio: {changed.Count} blocks changed, {listed.Count} listed, {lost.Count} lost, {listed.Count - changed.Count} false positives");
        Assert.That(changed, Is.Not.Empty, "fio wrote before the kill");
        Assert.That(listed, Has.Count.LessThan(8192), "only part of the image is reported written");
        Assert.That(lost, Is.Empty);
    }

    [Test]
    public void Refused_control_writes_give_their_errno_and_change_nothing()
    {
        Mount();
        Assert.That(Erafs.WaitFor(() => Control("info").Contains("pending_digest: false"), TimeSpan.FromSeconds(30)), Is.True);
        var status = Control("status");
        var hash = Sha256(Meta);

        Assert.That(WriteErrno("drop_metadata_snap", "1\n"), Is.EqualTo(Mono.Unix.Native.Errno.ENOENT), "drop with none held");
        Assert.That(WriteErrno("message", "checkpoint extra\n"), Is.EqualTo(Mono.Unix.Native.Errno.EINVAL));
        Assert.That(WriteErrno("message", "dropMetadata-snap\n"), Is.EqualTo(Mono.Unix.Native.Errno.EINVAL), "dm-era's old misspelling is unknown");
        Assert.That(WriteErrno("message", "\n"), Is.EqualTo(Mono.Unix.Native.Errno.EINVAL));
        Assert.That(OpenErrno("status", Mono.Unix.Native.OpenFlags.O_WRONLY), Is.EqualTo(Mono.Unix.Native.Errno.EACCES), "status is read-only");
        Assert.That(OpenErrno("info", Mono.Unix.Native.OpenFlags.O_WRONLY), Is.EqualTo(Mono.Unix.Native.Errno.EACCES));
        Assert.That(Control("status"), Is.EqualTo(status));
        Assert.That(Sha256(Meta), Is.EqualTo(hash), "metadata untouched by refused writes");

        File.AppendAllText(Path.Combine(Mnt, "take_metadata_snap"), "1\n");
        Assert.That(Erafs.WaitFor(() => Control("info").Contains("pending_digest: false"), TimeSpan.FromSeconds(30)), Is.True);
        status = Control("status");
        hash = Sha256(Meta);
        Assert.That(WriteErrno("take_metadata_snap", "1\n"), Is.EqualTo(Mono.Unix.Native.Errno.EBUSY), "second snapshot");
        Assert.That(Control("status"), Is.EqualTo(status));
        Assert.That(Sha256(Meta), Is.EqualTo(hash));
        Assert.That(WriteErrno("message", "DROP_METADATA_SNAP\n"), Is.Null, "messages are case-insensitive, as dm-era's");
        Erafs.Run("unmount", Mnt).Ok();
    }

    [Test]
    public void Successful_controls_are_logged_and_info_names_each_key_once()
    {
        Mount();
        var era = uint.Parse(InfoValue("current_era"));
        File.AppendAllText(Path.Combine(Mnt, "checkpoint"), "1\n");
        File.AppendAllText(Path.Combine(Mnt, "take_metadata_snap"), "1\n");
        var held = Control("status").Trim().Split(' ')[^1];
        File.AppendAllText(Path.Combine(Mnt, "message"), "drop_metadata_snap\n");
        var log = File.ReadAllText(Dir.File("daemon.log"));
        Assert.That(log, Does.Contain($"info: checkpoint: era {era} -> {era + 1}"));
        Assert.That(log, Does.Contain($"info: take_metadata_snap: snapshot held at metadata block {held}, era {era + 1} -> {era + 2}"));
        Assert.That(log, Does.Contain($"info: drop_metadata_snap: snapshot at metadata block {held} dropped"));

        var keys = Control("info").Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(':', 2)[0]).ToList();
        Assert.That(keys, Is.Unique, "info lists each key once");
        Assert.That(keys, Does.Contain("origin_size"));
        Erafs.Run("unmount", Mnt).Ok();
    }

    private string InfoValue(string key) =>
        Control("info").Split('\n').Single(l => l.StartsWith(key + ": ", StringComparison.Ordinal))[(key.Length + 2)..];

    private Mono.Unix.Native.Errno? WriteErrno(string file, string text)
    {
        var fd = Mono.Unix.Native.Syscall.open(Path.Combine(Mnt, file), Mono.Unix.Native.OpenFlags.O_WRONLY);
        Assert.That(fd, Is.GreaterThanOrEqualTo(0), $"open {file}");
        try
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes(text);
            unsafe
            {
                fixed (byte* p = bytes)
                {
                    return Mono.Unix.Native.Syscall.write(fd, p, (ulong)bytes.Length) < 0 ? Mono.Unix.Native.Stdlib.GetLastError() : null;
                }
            }
        }
        finally
        {
            Mono.Unix.Native.Syscall.close(fd);
        }
    }

    private Mono.Unix.Native.Errno? OpenErrno(string file, Mono.Unix.Native.OpenFlags flags)
    {
        var fd = Mono.Unix.Native.Syscall.open(Path.Combine(Mnt, file), flags);
        if (fd >= 0)
        {
            Mono.Unix.Native.Syscall.close(fd);
            return null;
        }
        return Mono.Unix.Native.Stdlib.GetLastError();
    }

    private static string Sha256(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

    private static void WriteFiles(string dir, string prefix, int count, int seed)
    {
        var rnd = new Random(seed);
        for (var i = 0; i < count; i++)
        {
            var data = new byte[rnd.Next(1000, 900_000)];
            rnd.NextBytes(data);
            File.WriteAllBytes(Path.Combine(dir, prefix + i), data);
        }
    }
}

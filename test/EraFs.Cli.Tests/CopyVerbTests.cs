using System.Text.Json;
using EraFs.TestSupport;

namespace EraFs.Cli.Tests;

/// <summary>erafs copy on a real mount: a full copy and two incrementals of a live ext4 rebuild the device exactly.</summary>
[TestFixture]
[Category("Mount")]
public class CopyVerbTests : TrackedMountFixture
{
    [Test]
    public void A_full_copy_and_two_incrementals_of_a_frozen_ext4_equal_the_device()
    {
        HostTools.Require("mkfs.ext4");
        HostTools.Require("fsfreeze");
        Mount();
        var device = Path.Combine(Mnt, "device");
        var fsDir = Dir.Subdirectory("ext4");
        var backup = Dir.File("backup.img");
        using var loop = LoopDevice.Attach(device, directIo: true);
        HostTools.Run("mkfs.ext4", "-q", "-F", loop.Path).Ok();
        HostTools.Run("mount", loop.Path, fsDir).Ok();
        try
        {
            WriteFiles(fsDir, "a", seed: 1);

            // Full: era 0 is every block; the checkpoint starts the era the first incremental copies from.
            HostTools.Run("fsfreeze", "-f", fsDir).Ok();
            File.WriteAllText(Path.Combine(Mnt, "checkpoint"), "1\n");
            var since = Control("checkpoint").Trim();
            HostTools.Run("fsfreeze", "-u", fsDir).Ok();
            var full = Copy("0", snapshot: false, backup);
            Assert.That(full.GetProperty("bytes").GetInt64(), Is.EqualTo(64L << 20), "era 0 copies the whole device");

            for (var round = 1; round <= 2; round++)
            {
                WriteFiles(fsDir, $"r{round}-", seed: 1 + round);
                File.Delete(Path.Combine(fsDir, $"a{round}"));
                HostTools.Run("fsfreeze", "-f", fsDir).Ok();
                File.WriteAllText(Path.Combine(Mnt, "take_metadata_snap"), "1\n");
                var next = Control("status").Split(' ')[2];
                // The last round stays frozen through the copy and the comparison, so nothing moves after its snapshot.
                if (round == 1) HostTools.Run("fsfreeze", "-u", fsDir).Ok();
                var incremental = Copy(since, snapshot: true, backup);
                File.WriteAllText(Path.Combine(Mnt, "drop_metadata_snap"), "1\n");
                var blocks = incremental.GetProperty("blocks").GetUInt64();
                Assert.That(blocks, Is.InRange(1UL, 1023UL), $"round {round}: only the blocks ext4 changed since era {since} are copied");
                since = next;
            }

            var cmp = HostTools.Run("cmp", backup, device);
            Assert.That(cmp.ExitCode, Is.Zero, $"the backup differs from the device: {cmp.Stdout}{cmp.Stderr}");
        }
        finally
        {
            HostTools.Run("fsfreeze", "-u", fsDir);
            HostTools.Run("umount", fsDir);
        }
    }

    [Test]
    public void A_missing_source_a_bad_era_and_an_era_not_begun_are_refused_with_one_line_naming_them()
    {
        Mount();
        var device = Path.Combine(Mnt, "device");
        var target = Dir.File("target.img");

        var missing = Erafs.Run("copy", "--written-since", "1", "--from", Dir.File("no-such.img"), "--to", target, Meta);
        Assert.That(missing.ExitCode, Is.EqualTo(1));
        Assert.That(missing.Stderr, Does.Contain($"{Dir.File("no-such.img")}: cannot open the copy's source").And.Contain("ENOENT"));
        Assert.That(File.Exists(target), Is.False, "nothing is created when the source cannot be read");

        var bad = Erafs.Run("copy", "--written-since", "seven", "--from", device, "--to", target, Meta);
        Assert.That(bad.ExitCode, Is.EqualTo(2));
        Assert.That(bad.Stderr, Does.Contain("--written-since: 'seven' is not an era"));

        var future = Erafs.Run("copy", "--written-since", "99", "--from", device, "--to", target, Meta);
        Assert.That(future.ExitCode, Is.EqualTo(1));
        Assert.That(future.Stderr, Does.Contain($"{Meta}: era 99 has not begun"));

        var noSnapshot = Erafs.Run("copy", "--written-since", "1", "--metadata-snapshot", "--from", device, "--to", target, Meta);
        Assert.That(noSnapshot.ExitCode, Is.EqualTo(1));
        Assert.That(noSnapshot.Stderr, Does.Contain("no metadata snapshot held"));
    }

    [Test]
    public void A_copy_that_runs_out_of_space_says_how_far_it_got_and_a_rerun_finishes_it()
    {
        Mount();
        var device = Path.Combine(Mnt, "device");
        WriteAt(device, 3 << 20, 1 << 20, seed: 7);
        WriteAt(device, 40 << 20, 4 << 20, seed: 8);
        // A 3 MiB tmpfs holds the first range but runs out inside the second.
        var small = Dir.Subdirectory("small");
        HostTools.Run("mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", small).Ok();
        try
        {
            var target = Path.Combine(small, "target.img");
            var r = Erafs.Run("copy", "--written-since", "1", "--from", device, "--to", target, Meta);
            Assert.That(r.ExitCode, Is.EqualTo(1), r.Stderr);
            Assert.That(r.Stderr, Does.StartWith($"erafs: {target}: cannot write").And.Contain("ENOSPC").And.Contain("copied 1 whole range, every range below byte offset ")
                .And.Contain("rerun the same command to finish"));
            var below = long.Parse(r.Stderr.Split("below byte offset ")[1].Split(' ')[0]);
            Assert.That(below, Is.InRange(40L << 20, (44L << 20) - 1), "it stopped inside the second range");

            HostTools.Run("mount", "-o", "remount,size=16m", small).Ok();
            Erafs.Run("copy", "--written-since", "1", "--from", device, "--to", target, Meta).Ok();
            Assert.That(HostTools.Run("cmp", target, device).ExitCode, Is.Zero, "the rerun finished the copy");
        }
        finally
        {
            HostTools.Run("umount", small);
        }
    }

    [Test]
    public void A_target_device_smaller_than_the_source_is_refused_before_anything_is_written()
    {
        Mount();
        var device = Path.Combine(Mnt, "device");
        var small = Dir.SparseFile("small.img", 40L << 20);
        using var loop = LoopDevice.Attach(small);
        var r = Erafs.Run("copy", "--written-since", "0", "--from", device, "--to", loop.Path, Meta);
        Assert.That(r.ExitCode, Is.EqualTo(1));
        Assert.That(r.Stderr, Does.Contain($"{loop.Path}: the target device is {40L << 20} bytes, smaller than the source {device} ({64L << 20} bytes)"));
    }

    private JsonElement Copy(string since, bool snapshot, string target)
    {
        var args = new List<string> { "copy", "--written-since", since, "--from", Path.Combine(Mnt, "device"), "--to", target, "--format", "json" };
        if (snapshot) args.Add("--metadata-snapshot");
        args.Add(Meta);
        var r = Erafs.Run(args.ToArray()).Ok();
        TestContext.Out.WriteLine($"copy --written-since {since}: {r.Stdout.Trim()}");
        return JsonDocument.Parse(r.Stdout).RootElement;
    }

    private static void WriteFiles(string dir, string prefix, int seed)
    {
        var random = new Random(seed);
        for (var i = 0; i < 4; i++)
        {
            var data = new byte[random.Next(64 << 10, 1 << 20)];
            random.NextBytes(data);
            File.WriteAllBytes(Path.Combine(dir, $"{prefix}{i}"), data);
        }
    }

    private static void WriteAt(string path, long offset, int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        using var file = new FileStream(path, FileMode.Open, FileAccess.Write);
        file.Position = offset;
        file.Write(data);
    }
}

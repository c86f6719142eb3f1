using System.Diagnostics;
using EraFs.Metadata;
using EraFs.TestSupport;

namespace EraFs.Cli.Tests;

/// <summary>MOUNT/metadata as dm-era metadata for the held snapshot, and the needs-check gate at mount.</summary>
[TestFixture]
[Category("Mount")]
public class MetadataViewMountTests : TrackedMountFixture
{

    private void Write(long block, int count = 1) =>
        HostTools.Run("dd", "if=/dev/urandom", $"of={Path.Combine(Mnt, "device")}", "bs=64k", $"count={count}", $"seek={block}",
            "oflag=direct", "conv=notrunc", "status=none").Ok();

    [Test]
    public void Era_invalidate_on_MOUNT_metadata_during_writes_matches_erafs_invalidate_on_the_snapshot()
    {
        EraTools();
        Mount();
        var view = Path.Combine(Mnt, "metadata");
        Assert.That(File.Exists(view), Is.False, "absent while no snapshot is held");
        Write(3, 2);
        File.AppendAllText(Path.Combine(Mnt, "checkpoint"), "1\n");
        var era = Control("checkpoint").Trim();
        Write(40, 3);
        Write(900);
        File.AppendAllText(Path.Combine(Mnt, "take_metadata_snap"), "1\n");

        using var writer = Process.Start(new ProcessStartInfo("bash",
            ["-c", $"for i in $(seq 1 200); do dd if=/dev/urandom of={Path.Combine(Mnt, "device")} bs=64k count=1 seek=$((RANDOM % 1000)) oflag=direct conv=notrunc status=none; done"]))!;
        var ours = Erafs.Run("invalidate", "--metadata-snapshot", "--written-since", era, Meta).Ok().Stdout;
        for (var i = 0; i < 3; i++)
        {
            var theirs = HostTools.Run("era_invalidate", "--metadata-snapshot", "--written-since", era, view).Ok().Stdout;
            Assert.That(theirs.Replace("end = ", "end="), Is.EqualTo(ours), $"read {i} while writes continue");
        }
        Assert.That(ours, Does.Contain("<range begin=\"40\" end=\"43\"/>").And.Contain("<block block=\"900\"/>").And.Not.Contain("\"3\""));
        HostTools.Run("era_check", view).Ok();
        Assert.That(HostTools.Run("era_dump", view).Ok().Stdout, Does.StartWith("<superblock uuid=\"\" block_size=\"128\" nr_blocks=\"1024\""));
        Assert.That(writer.WaitForExit(120_000), Is.True);

        File.AppendAllText(Path.Combine(Mnt, "drop_metadata_snap"), "1\n");
        Assert.That(File.Exists(view), Is.False, "absent again once the snapshot is dropped");
        Erafs.Run("unmount", Mnt).Ok();
    }

    [Test]
    public void MOUNT_metadata_vanishes_the_moment_the_snapshot_is_dropped_and_appears_the_moment_one_is_taken()
    {
        Mount();
        var view = Path.Combine(Mnt, "metadata");
        for (var round = 0; round < 3; round++)
        {
            File.AppendAllText(Path.Combine(Mnt, "take_metadata_snap"), "1\n");
            Assert.That(File.Exists(view), Is.True, $"round {round}: present as soon as the snapshot is held");
            Assert.That(new FileInfo(view).Length, Is.GreaterThan(0));
            File.AppendAllText(Path.Combine(Mnt, "drop_metadata_snap"), "1\n");
            Assert.That(File.Exists(view), Is.False, $"round {round}: gone as soon as the snapshot is dropped, no cached name");
            Assert.That(Directory.GetFiles(Mnt).Select(Path.GetFileName), Does.Not.Contain("metadata"));
        }
        Erafs.Run("unmount", Mnt).Ok();
    }

    [Test]
    public void Metadata_flagged_needs_check_mounts_after_the_checker_passes_and_the_flag_is_cleared()
    {
        Erafs.Run("create", "--origin", Image, "--metadata", Meta).Ok();
        using (var store = MetadataStore.Open(Meta)) store.SetNeedsCheck("test: writing blocks failed");
        Mount();
        Erafs.Run("unmount", Mnt).Ok();
        Assert.That(File.ReadAllText(Dir.File("daemon.log")), Does.Contain("the check found no problems, flag cleared"));
        using var reader = MetadataReader.Open(Meta);
        Assert.That(reader.NeedsCheck, Is.False);
    }

    private static void EraTools()
    {
        HostTools.Require("era_invalidate");
        HostTools.Require("era_check");
        HostTools.Require("era_dump");
    }
}

namespace EraFs.Core.Tests;

public class StatusTests
{
    [Test]
    public void The_status_line_has_dm_era_shape()
    {
        using var device = TrackedDevice.WithBlocks();
        Assert.That(device.Tracker.StatusLine, Does.Match(@"^8 \d+/\d+ 1 -$"));
        device.Tracker.TakeMetadataSnap();
        // The line is a published snapshot; the background digest may change the store's live usage
        // right after, so used/total are compared with the same snapshot, not with the store.
        var status = device.Tracker.Status;
        Assert.That(status.StatusLine, Is.EqualTo($"8 {status.MetadataUsed}/1024 2 {device.Store.HeldSnapshot}"));
        Assert.That(status.MetadataUsed, Is.InRange(1UL, 1024UL));
    }

    [Test]
    public void Info_names_every_fact_the_adapter_shows()
    {
        using var device = TrackedDevice.WithBlocks(4 * TrackedDevice.BlockSize + 100);
        device.Tracker.Checkpoint();
        device.WriteBlock(0);
        device.Write(4 * TrackedDevice.BlockSize, 100);
        var info = device.Tracker.Info.ToDictionary(e => e.Key, e => e.Value);

        Assert.Multiple(() =>
        {
            Assert.That(info["block_size"], Is.EqualTo("4096"));
            Assert.That(info["nr_blocks"], Is.EqualTo("5"));
            Assert.That(info["current_era"], Is.EqualTo("2"));
            Assert.That(info["blocks_written_this_era"], Is.EqualTo("2"));
            Assert.That(info["bytes_written_this_era"], Is.EqualTo("4196"), "the partial last block counts its real bytes");
            Assert.That(info["held_snapshot"], Is.EqualTo("-"));
            Assert.That(info["generation"], Is.EqualTo(device.Store.Generation.ToString()));
            Assert.That(info["clean"], Is.EqualTo("false"));
            Assert.That(info["last_checkpoint_era"], Is.EqualTo("2"));
            Assert.That(info["state"], Is.EqualTo("ok"));
            Assert.That(info["last_error"], Is.EqualTo("-"));
            Assert.That(info, Does.ContainKey("pending_digest"));
        });
    }

#if DEBUG
    [Test]
    public void The_write_order_check_catches_an_unmarked_write()
    {
        using var device = TrackedDevice.WithBlocks();
        device.Tracker.BeforeWrite(0, 10);
        Assert.Multiple(() =>
        {
            Assert.DoesNotThrow(() => device.Tracker.AssertMarkedDurable(0, 10));
            Assert.Throws<InvalidOperationException>(() => device.Tracker.AssertMarkedDurable(TrackedDevice.BlockSize, 10));
        });
    }
#endif
}

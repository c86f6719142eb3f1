using EraFs.Core;

namespace EraFs.Metadata;

/// <summary>
/// The order in which a change to the metadata file becomes durable; create, every store commit and
/// the history builder all go through it, so a crash between any two steps leaves the newest durable
/// superblock and everything it reaches intact.
/// </summary>
/// <remarks>
/// A transaction (<see cref="Commit"/>, or <see cref="BeginNewFile"/> then <see cref="CommitNewFile"/>
/// for a file being made):
/// <list type="number">
/// <item>a new file only: cut to nothing when begun, and grown to its full length at commit, so the
/// journal region and the other superblock slot read as zeros (no journal record, no rival superblock);</item>
/// <item>new blocks written: fresh blocks only, nothing the durable superblock reaches (a file being
/// made may have had some written ahead since it was cut: nothing points at them yet either);</item>
/// <item>fdatasync: the new blocks are stable before anything points at them;</item>
/// <item>the superblock written to the slot NOT holding the newest durable superblock;</item>
/// <item>fdatasync: the new state is durable and the old journal epoch is dead;</item>
/// <item>only now do blocks the old state used (and the new one does not) become reusable.</item>
/// </list>
/// A group commit of marks (<see cref="AppendMarks"/>):
/// <list type="number">
/// <item>journal blocks written at the tail of this epoch's region (no committed record is overwritten);</item>
/// <item>fdatasync: the marks are durable. The superblock need not change: replay finds them through
/// the epoch, the index and the checksum chain.</item>
/// </list>
/// </remarks>
internal static class MetadataCommit
{
    /// <summary>Steps 2 to 6: makes <paramref name="sb"/>, written to <paramref name="slot"/>, the newest durable state.</summary>
    public static void Commit(MetadataSpace space, Superblock sb, int slot)
    {
        var device = space.Device;
        var block = new byte[BlockFormat.BlockSize];
        sb.Pack(block, (ulong)slot);
        if (space.HasFreshBlocks)
        {
            // Steps 2 and 3.
            space.WriteFresh();
            MetadataWriteFailure.Guard(device, "syncing new metadata blocks", device.Flush);
        }
        MetadataWriteFailure.Guard(device, $"writing superblock slot {(slot == 0 ? 'A' : 'B')}", () =>
        {
            // Steps 4 and 5.
            device.Write((long)slot * BlockFormat.BlockSize, block);
            device.Flush();
        });
        // Step 6.
        space.Committed();
    }

    /// <summary>Step 1's first half for a file being made: nothing of what it held before survives.</summary>
    public static void BeginNewFile(IBlockDevice device) =>
        MetadataWriteFailure.Guard(device, "emptying the new metadata file", () => device.SetLength(0));

    /// <summary>Step 1's second half and steps 2 to 6 for a file begun with <see cref="BeginNewFile"/>: its first superblock goes to slot A.</summary>
    public static void CommitNewFile(MetadataSpace space, Superblock sb)
    {
        var device = space.Device;
        MetadataWriteFailure.Guard(device, "sizing the new metadata file", () => device.SetLength((long)sb.TotalBlocks * BlockFormat.BlockSize));
        Commit(space, sb, 0);
    }

    /// <summary>The group commit of marks: the journal blocks go at <paramref name="firstBlock"/> and are synced.</summary>
    public static void AppendMarks(IBlockDevice device, ulong firstBlock, byte[] journalBlocks)
    {
        MetadataWriteFailure.Guard(device, "committing marks", () =>
        {
            device.Write((long)firstBlock * BlockFormat.BlockSize, journalBlocks);
            device.Flush();
        });
    }
}

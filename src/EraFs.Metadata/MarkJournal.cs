using System.Buffers.Binary;
using EraFs.Core;

namespace EraFs.Metadata;

/// <summary>
/// The append-only journal of mark records that makes <see cref="MetadataStore.CommitMarks"/> cost one
/// write and one fdatasync. It lives in a fixed region of blocks named by the superblock. Block i of
/// the current epoch holds the epoch, i, the checksum of block i-1, the index its append began at
/// and up to 507 runs. Replay accepts
/// blocks 0, 1, ... while each is sound, of the superblock's epoch, at its index and chained to its
/// predecessor, so records of older epochs and leftovers of uncommitted appends are never replayed.
/// Every full commit folds the records into the current writeset and starts a new epoch.
/// </summary>
internal static class MarkJournal
{
    private const int RecordsOffset = BlockFormat.HeaderSize + 24;
    public const int RecordsPerBlock = (BlockFormat.BlockSize - RecordsOffset) / 8;

    /// <summary>Where appending continues, and the committed records found so far.</summary>
    public sealed record Tail(uint NextIndex, uint LastChecksum);

    public static int BlocksFor(int runCount) => (runCount + RecordsPerBlock - 1) / RecordsPerBlock;

    /// <summary>
    /// Null when the superblock's journal region lies after the slots and within totalBlocks, else what is
    /// wrong. Written so that huge (damaged) values cannot overflow into a region that looks valid.
    /// </summary>
    public static string? RegionProblem(Superblock sb, ulong totalBlocks)
    {
        if (totalBlocks > BlockIo.MaxBlocks) return $"records {totalBlocks} blocks, more than a file can hold";
        if (sb.JournalStart < Superblock.SlotCount || sb.JournalStart > totalBlocks || sb.JournalLength > totalBlocks - sb.JournalStart)
            return $"journal blocks {sb.JournalStart}+{sb.JournalLength} lie outside the {totalBlocks} blocks";
        return null;
    }

    /// <summary>Builds the blocks for runs appended at tail (one contiguous buffer); returns the new tail.</summary>
    public static Tail Encode(Superblock sb, Tail tail, IReadOnlyList<BlockRun> runs, out byte[] buffer)
    {
        var blocks = BlocksFor(runs.Count);
        buffer = new byte[blocks * BlockFormat.BlockSize];
        var previous = tail.LastChecksum;
        for (var b = 0; b < blocks; b++)
        {
            var block = buffer.AsSpan(b * BlockFormat.BlockSize, BlockFormat.BlockSize);
            var index = tail.NextIndex + (uint)b;
            var first = b * RecordsPerBlock;
            var count = Math.Min(RecordsPerBlock, runs.Count - first);
            BinaryPrimitives.WriteUInt64LittleEndian(block[BlockFormat.HeaderSize..], sb.JournalEpoch);
            BinaryPrimitives.WriteUInt32LittleEndian(block[(BlockFormat.HeaderSize + 8)..], index);
            BinaryPrimitives.WriteUInt32LittleEndian(block[(BlockFormat.HeaderSize + 12)..], (uint)count);
            BinaryPrimitives.WriteUInt32LittleEndian(block[(BlockFormat.HeaderSize + 16)..], previous);
            // Where this append began: lets replay tell a torn append from a damaged committed block.
            BinaryPrimitives.WriteUInt32LittleEndian(block[(BlockFormat.HeaderSize + 20)..], tail.NextIndex);
            for (var i = 0; i < count; i++)
            {
                var run = runs[first + i];
                BinaryPrimitives.WriteUInt32LittleEndian(block[(RecordsOffset + i * 8)..], (uint)run.Start);
                BinaryPrimitives.WriteUInt32LittleEndian(block[(RecordsOffset + i * 8 + 4)..], (uint)run.Count);
            }
            BlockFormat.Seal(block, BlockKind.JournalBlock, sb.JournalStart + index);
            previous = BinaryPrimitives.ReadUInt32LittleEndian(block);
        }
        return new Tail(tail.NextIndex + (uint)blocks, previous);
    }

    /// <summary>Reads the committed records of the superblock's epoch; stops at the first block that does not continue the chain.</summary>
    public static Tail Replay(IBlockDevice device, Superblock sb, List<BlockRun> runs)
    {
        if (RegionProblem(sb, sb.TotalBlocks) is { } problem)
            throw new MetadataCorruptException($"{device.Name}: superblock: {problem}");
        var buffer = new byte[BlockFormat.BlockSize];
        uint previous = 0;
        uint index = 0;
        for (; index < sb.JournalLength; index++)
        {
            BlockIo.ReadBlock(device, sb.JournalStart + index, buffer);
            var block = buffer.AsSpan();
            if (BlockFormat.Check(block, BlockKind.JournalBlock, sb.JournalStart + index) != null) break;
            if (BinaryPrimitives.ReadUInt64LittleEndian(block[BlockFormat.HeaderSize..]) != sb.JournalEpoch) break;
            if (BinaryPrimitives.ReadUInt32LittleEndian(block[(BlockFormat.HeaderSize + 8)..]) != index) break;
            if (BinaryPrimitives.ReadUInt32LittleEndian(block[(BlockFormat.HeaderSize + 16)..]) != previous) break;
            var count = BinaryPrimitives.ReadUInt32LittleEndian(block[(BlockFormat.HeaderSize + 12)..]);
            if (count > RecordsPerBlock) break;
            var batch = new List<BlockRun>((int)count);
            var valid = true;
            for (var i = 0; i < (int)count && valid; i++)
            {
                var start = BinaryPrimitives.ReadUInt32LittleEndian(block[(RecordsOffset + i * 8)..]);
                var length = BinaryPrimitives.ReadUInt32LittleEndian(block[(RecordsOffset + i * 8 + 4)..]);
                valid = (ulong)start + length <= sb.Geometry.NrBlocks;
                batch.Add(new BlockRun(start, length));
            }
            if (!valid)
                throw BlockFormat.Corrupt(device.Name, sb.JournalStart + index, BlockKind.JournalBlock,
                    $"records a run past the {sb.Geometry.NrBlocks} tracked blocks");
            runs.AddRange(batch);
            previous = BinaryPrimitives.ReadUInt32LittleEndian(block);
        }
        if (index < sb.JournalLength) RefuseIfCommittedRecordsFollow(device, sb, index, buffer);
        return new Tail(index, previous);
    }

    /// <summary>
    /// Replay stopped at <paramref name="stop"/>. A torn append only ever damages blocks of the last,
    /// unacknowledged append; an intact block of this epoch from an append that began after
    /// <paramref name="stop"/> proves the block there was committed and is now damaged, so the
    /// marks after it would be lost silently. That is corruption, not the end of the journal.
    /// </summary>
    private static void RefuseIfCommittedRecordsFollow(IBlockDevice device, Superblock sb, uint stop, byte[] buffer)
    {
        // Blocks past the end of the file read as zeros and are never intact: a damaged, huge journal
        // length must not turn this scan into billions of reads.
        var fileBlocks = (ulong)((device.Length + BlockFormat.BlockSize - 1) / BlockFormat.BlockSize);
        var end = (uint)Math.Min(sb.JournalLength, fileBlocks > sb.JournalStart ? fileBlocks - sb.JournalStart : 0);
        for (var j = stop + 1; j < end; j++)
        {
            BlockIo.ReadBlock(device, sb.JournalStart + j, buffer);
            var block = buffer.AsSpan();
            if (BlockFormat.Check(block, BlockKind.JournalBlock, sb.JournalStart + j) != null) continue;
            if (BinaryPrimitives.ReadUInt64LittleEndian(block[BlockFormat.HeaderSize..]) != sb.JournalEpoch) continue;
            if (BinaryPrimitives.ReadUInt32LittleEndian(block[(BlockFormat.HeaderSize + 8)..]) != j) continue;
            var appendStart = BinaryPrimitives.ReadUInt32LittleEndian(block[(BlockFormat.HeaderSize + 20)..]);
            if (appendStart > stop)
                throw BlockFormat.Corrupt(device.Name, sb.JournalStart + stop, BlockKind.JournalBlock,
                    $"damaged, yet journal block {sb.JournalStart + j} committed after it is intact (marks recorded here would be lost)");
        }
    }
}

using EraFs.Core;

namespace EraFs.Metadata;

/// <summary>The full copy-on-write transaction and the reachability walk behind free space.</summary>
public sealed partial class MetadataStore
{
    /// <summary>
    /// Builds the next state from the durable one (journal folded in first), commits it, and on any
    /// failure leaves the in-memory state at the last durable one.
    /// </summary>
    private void Transact(Func<Superblock, Superblock> change)
    {
        var archiveBefore = _archive.ToList();
        try
        {
            var next = change(FoldJournal(_sb));
            CommitSuperblock(next);
        }
        catch (Exception e)
        {
            _space.Abandon();
            _archive = archiveBefore;
            // The failed superblock may still reach the disk with a newer epoch than the journal we
            // would append to, so the next marks must go through a full commit that supersedes it.
            _needsFullCommit = true;
            if (e is MetadataException or ControlRejectedException) throw;
            throw new MetadataException($"{_device.Name}: metadata commit failed: {e.Message}", e);
        }
    }

    private Superblock FoldJournal(Superblock sb)
    {
        var root = sb.CurrentWritesetRoot;
        foreach (var run in _journaled) WritesetBits.SetRun(_space, ref root, run);
        return sb with { CurrentWritesetRoot = root };
    }

    private void CommitSuperblock(Superblock next)
    {
        // Sequence and epoch are never reused, even after a failed attempt, so a superblock that
        // reached the disk from a failed commit can never be mistaken for a later one.
        var sb = next with { Sequence = _nextSequence++, JournalEpoch = _nextEpoch++, TotalBlocks = _space.TotalBlocks };
        var slot = 1 - _durableSlot;
        MetadataCommit.Commit(_space, sb, slot);
        _sb = sb;
        _durableSlot = slot;
        _journaled.Clear();
        _tail = new MarkJournal.Tail(0, 0);
        _needsFullCommit = false;
    }

    private Superblock ArchiveCurrentWriteset(Superblock sb)
    {
        _archive.Add(new ArchivedWriteset(sb.CurrentEra, sb.Geometry.NrBlocks, sb.CurrentWritesetRoot, 0));
        var head = ArchiveCatalog.Replace(_space, sb.CatalogHead, _archive);
        return sb with { CurrentWritesetRoot = 0, CatalogHead = head };
    }

    /// <summary>Rebuilds block usage from the durable state: everything it or the held snapshot reaches is used.</summary>
    private void MarkReachable()
    {
        _space.ResetUsage();
        _deviceBlocks = (ulong)((_device.Length + BlockFormat.BlockSize - 1) / BlockFormat.BlockSize);
        for (ulong slot = 0; slot < Superblock.SlotCount; slot++) _space.MarkReachable(slot);
        for (ulong i = 0; i < _sb.JournalLength; i++) _space.MarkReachable(_sb.JournalStart + i);
        VisitLive(_sb, Mark);
        VisitSnapshot(_sb, block =>
        {
            Mark(block);
            _space.Pin(block);
        });
    }

    private void Mark(ulong block)
    {
        // Every block a durable state reaches was written (and synced) before it: a pointer past the
        // file's end is damage, and must not grow the usage bitmap towards its value.
        if (block < Superblock.SlotCount + (ulong)_sb.JournalLength || block >= _space.TotalBlocks || block >= _deviceBlocks)
            throw new MetadataCorruptException(
                $"{_device.Name}: a pointer names block {block}, which is not a data block of this file ({_space.TotalBlocks} blocks)");
        _space.MarkReachable(block);
    }

    private void VisitLive(Superblock sb, Action<ulong> visit) => ReachableBlocks.VisitLive(_space, sb, visit);

    private void VisitSnapshot(Superblock sb, Action<ulong> visit) => ReachableBlocks.VisitSnapshot(_space, sb, visit);
}

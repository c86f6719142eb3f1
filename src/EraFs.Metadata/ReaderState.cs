using EraFs.Core;

namespace EraFs.Metadata;

/// <summary>The frozen view of a held snapshot as a reader sees it.</summary>
internal sealed record SnapshotView(uint CurrentEra, EraGeometry Geometry, ulong EraArrayRoot, IReadOnlyList<ArchivedWriteset> Archive);

/// <summary>One committed state as a reader loaded it: superblock, archived writesets, replayed journal, snapshot.</summary>
internal sealed record ReaderState(
    Superblock Superblock,
    ReaderBlockSource Source,
    IReadOnlyList<ArchivedWriteset> Archive,
    IReadOnlyList<BlockRun> JournalRuns,
    SnapshotView? Snapshot)
{
    /// <summary>Loads the newest state; throws <see cref="StateChangedException"/> when a commit raced the load.</summary>
    public static ReaderState Load(IBlockDevice device)
    {
        var (sb, slot) = Superblock.ReadNewest(device);
        if (MarkJournal.RegionProblem(sb, sb.TotalBlocks) is { } problem)
            throw BlockFormat.Corrupt(device.Name, (ulong)slot, BlockKind.Superblock, problem);
        var source = new ReaderBlockSource(device, sb.Sequence);
        var archive = ArchiveCatalog.Load(source, sb.CatalogHead);
        var journal = new List<BlockRun>();
        try
        {
            MarkJournal.Replay(device, sb, journal);
        }
        catch (MetadataCorruptException)
        {
            // A writer that moved on may be rewriting the region; only an unchanged state makes it damage.
            source.ConfirmUnchanged();
            throw;
        }
        SnapshotView? snapshot = null;
        if (sb.SnapshotRoot != 0)
        {
            var root = SnapshotRootBlock.Load(source, sb.SnapshotRoot);
            snapshot = new SnapshotView(root.CurrentEra, root.Geometry, root.EraArrayRoot, ArchiveCatalog.Load(source, root.CatalogHead));
        }
        // The journal region is rewritten once a newer superblock is durable; records read under
        // this sequence only count if it is still the newest.
        source.ConfirmUnchanged();
        return new ReaderState(sb, source, archive, BlockRuns.Normalize(journal), snapshot);
    }
}

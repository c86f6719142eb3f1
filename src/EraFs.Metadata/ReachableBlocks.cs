namespace EraFs.Metadata;

/// <summary>
/// The metadata blocks one durable state reaches, walked the same way by the store (to rebuild its
/// usage) and the reader (to count it): the live trees with their archived writesets, and the held
/// snapshot's root, era array and archive.
/// </summary>
internal static class ReachableBlocks
{
    public static void VisitLive(IBlockSource source, Superblock sb, Action<ulong> visit)
    {
        WritesetBits.Visit(source, sb.CurrentWritesetRoot, visit);
        EraArray.Visit(source, sb.EraArrayRoot, visit);
        foreach (var archived in ArchiveCatalog.Load(source, sb.CatalogHead, visit))
            WritesetBits.Visit(source, archived.Root, visit);
    }

    public static void VisitSnapshot(IBlockSource source, Superblock sb, Action<ulong> visit)
    {
        if (sb.SnapshotRoot == 0) return;
        visit(sb.SnapshotRoot);
        var snapshot = SnapshotRootBlock.Load(source, sb.SnapshotRoot);
        EraArray.Visit(source, snapshot.EraArrayRoot, visit);
        foreach (var archived in ArchiveCatalog.Load(source, snapshot.CatalogHead, visit))
            WritesetBits.Visit(source, archived.Root, visit);
    }
}

using EraFs.Core;

namespace EraFs.Metadata;

/// <summary>An archived writeset to write: the blocks [0, NrBits) set in runs were written during Era.</summary>
public sealed record WritesetContent(uint Era, ulong NrBits, IReadOnlyList<BlockRun> Runs);

/// <summary>A frozen view to write as the held snapshot: its era (current right after its rollover), writesets and era array.</summary>
public sealed record SnapshotContent(uint Era, IReadOnlyList<WritesetContent> Archived, IReadOnlyList<EraRun> EraArray);

/// <summary>A complete history to write as new metadata (restore and import).</summary>
public sealed record HistoryContent(
    EraGeometry Geometry,
    uint CurrentEra,
    IReadOnlyList<WritesetContent> Archived,
    IReadOnlyList<BlockRun> CurrentWriteset,
    IReadOnlyList<EraRun> EraArray,
    SnapshotContent? Snapshot,
    DateTime? CleanOriginMtimeUtc);

/// <summary>
/// Writes a whole history as a fresh metadata file in one transaction, committed in
/// <see cref="MetadataCommit"/>'s order like create and every store commit. The snapshot gets its own
/// trees (nothing is shared with the live state), which open then pins like any held snapshot.
/// </summary>
public static class MetadataBuilder
{
    public static void Write(string path, HistoryContent content)
    {
        Validate(content);
        using var device = MetadataFile.Open(path, writable: true, create: true);
        Write(device, content);
    }

    internal static void Write(IBlockDevice device, HistoryContent content)
    {
        const uint journalBlocks = MetadataStore.DefaultJournalBlocks;
        var reserved = Superblock.SlotCount + (ulong)journalBlocks;
        var space = new MetadataSpace(device, reserved);
        for (ulong b = 0; b < reserved; b++) space.MarkReachable(b);

        var generation = Guid.NewGuid();
        var eraRoot = WriteEras(space, content.EraArray);
        ulong currentRoot = 0;
        foreach (var run in content.CurrentWriteset) WritesetBits.SetRun(space, ref currentRoot, run);
        var catalog = WriteArchive(space, content.Archived);
        ulong snapshotRoot = 0;
        if (content.Snapshot is { } snapshot)
        {
            var snapshotEras = WriteEras(space, snapshot.EraArray);
            var snapshotCatalog = WriteArchive(space, snapshot.Archived);
            var data = space.Allocate(BlockKind.SnapshotRoot, out snapshotRoot);
            new SnapshotRootBlock(snapshot.Era, generation, content.Geometry, snapshotEras, snapshotCatalog).Pack(data);
        }
        var sb = new Superblock
        {
            Sequence = 1,
            Generation = generation,
            Geometry = content.Geometry,
            Clean = content.CleanOriginMtimeUtc.HasValue,
            OriginMtimeUtc = content.CleanOriginMtimeUtc,
            CurrentEra = content.CurrentEra,
            CurrentWritesetRoot = currentRoot,
            EraArrayRoot = eraRoot,
            CatalogHead = catalog,
            SnapshotRoot = snapshotRoot,
            JournalStart = Superblock.SlotCount,
            JournalLength = journalBlocks,
            JournalEpoch = 1,
            TotalBlocks = space.TotalBlocks,
        };
        MetadataCommit.CommitNewFile(space, sb);
    }

    private static ulong WriteEras(MetadataSpace space, IReadOnlyList<EraRun> runs)
    {
        ulong root = 0;
        foreach (var run in runs)
            if (run.Era != 0) EraArray.SetEra(space, ref root, new BlockRun(run.Start, run.Count), run.Era);
        return root;
    }

    private static ulong WriteArchive(MetadataSpace space, IReadOnlyList<WritesetContent> archived)
    {
        var entries = new List<ArchivedWriteset>();
        foreach (var ws in archived)
        {
            ulong root = 0;
            foreach (var run in ws.Runs) WritesetBits.SetRun(space, ref root, run);
            entries.Add(new ArchivedWriteset(ws.Era, ws.NrBits, root, 0));
        }
        return ArchiveCatalog.Replace(space, 0, entries);
    }

    private static void Validate(HistoryContent content)
    {
        var nr = content.Geometry.NrBlocks;
        CheckWritesets(content.Archived, content.CurrentEra, nr, "archived");
        if (content.CurrentWriteset.Any(r => r.End > nr)) throw new ArgumentException($"current writeset reaches past {nr} blocks");
        CheckEras(content.EraArray, content.CurrentEra, nr, "era array");
        if (content.Snapshot is { } s)
        {
            CheckWritesets(s.Archived, s.Era, nr, "snapshot");
            CheckEras(s.EraArray, s.Era, nr, "snapshot era array");
        }
    }

    private static void CheckWritesets(IReadOnlyList<WritesetContent> writesets, uint currentEra, ulong nrBlocks, string what)
    {
        for (var i = 0; i < writesets.Count; i++)
        {
            var ws = writesets[i];
            if (ws.Era >= currentEra) throw new ArgumentException($"{what} writeset of era {ws.Era} is not before era {currentEra}");
            if (i > 0 && ws.Era <= writesets[i - 1].Era) throw new ArgumentException($"{what} writesets out of era order");
            if (ws.NrBits > nrBlocks || ws.Runs.Any(r => r.End > ws.NrBits)) throw new ArgumentException($"{what} writeset of era {ws.Era} reaches past its bits");
        }
    }

    private static void CheckEras(IReadOnlyList<EraRun> runs, uint currentEra, ulong nrBlocks, string what)
    {
        if (runs.Any(r => r.End > nrBlocks || r.Era > currentEra))
            throw new ArgumentException($"{what} has an entry past {nrBlocks} blocks or later than era {currentEra}");
    }
}

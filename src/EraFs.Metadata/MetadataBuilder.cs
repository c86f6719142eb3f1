using EraFs.Core;

namespace EraFs.Metadata;

/// <summary>
/// Writes a whole history as a fresh metadata file in one transaction, committed in
/// <see cref="MetadataCommit"/>'s order like create and every store commit. Content is taken as run
/// streams, one part at a time and in any order of parts, and finished pages are written ahead to the
/// new file, so the builder holds a few megabytes whatever the history's size. The snapshot gets its
/// own trees (nothing is shared with the live state), which open then pins like any held snapshot.
/// </summary>
public sealed class MetadataBuilder : IDisposable
{
    private readonly IBlockDevice _device;
    private readonly MetadataSpace _space;
    private readonly EraGeometry _geometry;
    private readonly DateTime? _cleanOriginMtimeUtc;
    private readonly Part _live;
    private Part? _snapshot;
    private ulong _currentRoot;
    private bool _committed;

    private MetadataBuilder(IBlockDevice device, EraGeometry geometry, uint currentEra, DateTime? cleanOriginMtimeUtc)
    {
        _device = device;
        _geometry = geometry;
        _cleanOriginMtimeUtc = cleanOriginMtimeUtc;
        _live = new Part(currentEra, "");
        var reserved = Superblock.SlotCount + (ulong)MetadataStore.DefaultJournalBlocks;
        _space = new MetadataSpace(device, reserved);
        for (ulong b = 0; b < reserved; b++) _space.MarkReachable(b);
        MetadataCommit.BeginNewFile(device);
    }

    /// <summary>Starts a new metadata file at path (replacing what is there) for a history of that geometry and current era.</summary>
    public static MetadataBuilder Create(string path, EraGeometry geometry, uint currentEra, DateTime? cleanOriginMtimeUtc)
    {
        var device = MetadataFile.Open(path, writable: true, create: true);
        try
        {
            return new MetadataBuilder(device, geometry, currentEra, cleanOriginMtimeUtc);
        }
        catch
        {
            device.Dispose();
            throw;
        }
    }

    internal static MetadataBuilder Create(IBlockDevice device, EraGeometry geometry, uint currentEra, DateTime? cleanOriginMtimeUtc) =>
        new(device, geometry, currentEra, cleanOriginMtimeUtc);

    /// <summary>An archived writeset of the live view, or of the snapshot once <see cref="BeginSnapshot"/> was called; eras ascend.</summary>
    public void AddArchived(uint era, ulong nrBits, IEnumerable<BlockRun> runs)
    {
        var part = Target;
        if (era >= part.Era) throw new ArgumentException($"{part.Name}archived writeset of era {era} is not before era {part.Era}");
        if (part.Archive.Count > 0 && era <= part.Archive[^1].Era) throw new ArgumentException($"{part.Name}archived writesets out of era order");
        if (nrBits > _geometry.NrBlocks) throw new ArgumentException($"{part.Name}archived writeset of era {era} reaches past its bits");
        ulong root = 0;
        foreach (var run in runs)
        {
            if (run.End > nrBits) throw new ArgumentException($"{part.Name}archived writeset of era {era} reaches past its bits");
            foreach (var piece in ByPage(run, BlockFormat.BitsPerPage))
            {
                WritesetBits.SetRun(_space, ref root, piece);
                _space.WriteAheadPages();
            }
        }
        part.Archive.Add(new ArchivedWriteset(era, nrBits, root, 0));
    }

    /// <summary>The live view's current writeset (blocks written in the current era).</summary>
    public void AddCurrent(IEnumerable<BlockRun> runs)
    {
        if (_snapshot != null) throw new InvalidOperationException("the current writeset belongs to the live view");
        foreach (var run in runs)
        {
            if (run.End > _geometry.NrBlocks) throw new ArgumentException($"current writeset reaches past {_geometry.NrBlocks} blocks");
            foreach (var piece in ByPage(run, BlockFormat.BitsPerPage))
            {
                WritesetBits.SetRun(_space, ref _currentRoot, piece);
                _space.WriteAheadPages();
            }
        }
    }

    /// <summary>
    /// The era array of the live view (or the snapshot's). Later runs override earlier ones; era 0 is
    /// only written where an earlier run of this array may have set something, since absent pages read as 0.
    /// </summary>
    public void SetEraArray(IEnumerable<EraRun> runs)
    {
        var part = Target;
        ulong highest = 0;
        foreach (var run in runs)
        {
            if (run.End > _geometry.NrBlocks || run.Era > part.Era)
                throw new ArgumentException($"{part.Name}era array has an entry past {_geometry.NrBlocks} blocks or later than era {part.Era}");
            if (run.Count == 0 || run.Era == 0 && run.Start >= highest) continue;
            foreach (var piece in ByPage(new BlockRun(run.Start, run.Count), BlockFormat.ErasPerPage))
            {
                EraArray.SetEra(_space, ref part.EraRoot, piece, run.Era);
                _space.WriteAheadPages();
            }
            highest = Math.Max(highest, run.End);
        }
    }

    /// <summary>What follows is the held snapshot's view, whose era was current right after its rollover.</summary>
    public void BeginSnapshot(uint era)
    {
        if (_snapshot != null) throw new InvalidOperationException("a snapshot was already begun");
        _snapshot = new Part(era, "snapshot ");
    }

    /// <summary>Writes the catalogs and the superblock and makes the file durable.</summary>
    public void Commit()
    {
        var generation = Guid.NewGuid();
        var catalog = ArchiveCatalog.Replace(_space, 0, _live.Archive);
        ulong snapshotRoot = 0;
        if (_snapshot is { } snapshot)
        {
            var snapshotCatalog = ArchiveCatalog.Replace(_space, 0, snapshot.Archive);
            var data = _space.Allocate(BlockKind.SnapshotRoot, out snapshotRoot);
            new SnapshotRootBlock(snapshot.Era, generation, _geometry, snapshot.EraRoot, snapshotCatalog).Pack(data);
        }
        var sb = new Superblock
        {
            Sequence = 1,
            Generation = generation,
            Geometry = _geometry,
            Clean = _cleanOriginMtimeUtc.HasValue,
            OriginMtimeUtc = _cleanOriginMtimeUtc,
            CurrentEra = _live.Era,
            CurrentWritesetRoot = _currentRoot,
            EraArrayRoot = _live.EraRoot,
            CatalogHead = catalog,
            SnapshotRoot = snapshotRoot,
            JournalStart = Superblock.SlotCount,
            JournalLength = MetadataStore.DefaultJournalBlocks,
            JournalEpoch = 1,
            TotalBlocks = _space.TotalBlocks,
        };
        MetadataCommit.CommitNewFile(_space, sb);
        _committed = true;
    }

    public void Dispose()
    {
        if (!_committed) _space.Abandon();
        _device.Dispose();
    }

    private Part Target => _snapshot ?? _live;

    /// <summary>A run cut at page boundaries, so that one long run does not make every page it covers fresh at once.</summary>
    private static IEnumerable<BlockRun> ByPage(BlockRun run, ulong perPage)
    {
        for (var start = run.Start; start < run.End;)
        {
            var end = Math.Min(run.End, (start / perPage + 1) * perPage);
            yield return new BlockRun(start, end - start);
            start = end;
        }
    }

    /// <summary>One view being written: its era, archived writesets so far and era-array root.</summary>
    private sealed class Part(uint era, string name)
    {
        public uint Era { get; } = era;
        public string Name { get; } = name;
        public List<ArchivedWriteset> Archive { get; } = [];
        public ulong EraRoot;
    }
}

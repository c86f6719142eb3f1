using EraFs.Core;
using EraFs.Metadata;

namespace EraFs.Tools;

/// <summary>Blocks a salvage gave an era it could not read for them: which view, the era given, how many blocks.</summary>
public sealed record SalvageGuess(bool InSnapshot, uint Era, ulong Blocks);

/// <summary>Converts between native metadata and the shared era-history IR.</summary>
public static class NativeHistory
{
    /// <summary>
    /// Loads the live view (archived writesets, then the current writeset under the current era when
    /// it has any block) and the held snapshot's view. With a report, damage is reported and salvaged
    /// instead of failing the whole load, never as "not written": a block whose writeset bit cannot be
    /// read is taken as set (given that writeset's era), and a block whose era-array entry cannot be read
    /// gets the view's current era, the only bound the format guarantees for an entry. How many blocks
    /// were given each era goes to <paramref name="guessed"/>.
    /// </summary>
    public static EraHistory Load(MetadataReader reader, Action<string>? report = null, Action<SalvageGuess>? guessed = null)
    {
        var geometry = reader.Geometry;
        var live = LoadState(reader, reader.CurrentEra, geometry.NrBlocks, useSnapshot: false, report, guessed);
        EraState? snapshot = null;
        if (reader.HeldSnapshot != null)
        {
            if (reader.SnapshotGeometry.NrBlocks != geometry.NrBlocks)
                throw new MetadataException($"{reader.FileName}: the held snapshot has {reader.SnapshotGeometry.NrBlocks} blocks, the live state {geometry.NrBlocks} (resized since it was taken)");
            snapshot = LoadState(reader, reader.SnapshotEra, geometry.NrBlocks, useSnapshot: true, report, guessed);
        }
        return new EraHistory(SectorsOf(geometry.BlockSize), geometry.NrBlocks, live, snapshot);
    }

    public static uint SectorsOf(uint blockSizeBytes) => blockSizeBytes / 512;

    private static EraState LoadState(MetadataReader reader, uint currentEra, ulong nrBlocks, bool useSnapshot,
        Action<string>? report, Action<SalvageGuess>? guessed)
    {
        if (report == null)
        {
            var strictWritesets = reader.ArchivedWritesets(useSnapshot)
                .Select(a => EraWriteset.FromRuns(a.Era, Math.Min(a.NrBits, nrBlocks), reader.ArchivedWritesetRuns(a.Era, useSnapshot)))
                .ToList();
            if (!useSnapshot && EraWriteset.FromRuns(currentEra, nrBlocks, reader.CurrentWritesetRuns()) is { IsEmpty: false } strictCurrent)
                strictWritesets.Add(strictCurrent);
            var strictEras = new uint[nrBlocks];
            foreach (var run in reader.EraArrayRuns(useSnapshot))
                if (run.Era != 0) Array.Fill(strictEras, run.Era, (int)run.Start, (int)run.Count);
            return new EraState(currentEra, strictWritesets, strictEras);
        }

        var salvage = new Salvage(nrBlocks, report);
        var writesets = new List<EraWriteset>();
        foreach (var archived in reader.ArchivedWritesets(useSnapshot))
            writesets.Add(salvage.Writeset(archived.Era, Math.Min(archived.NrBits, nrBlocks),
                unreadable => reader.ArchivedWritesetRuns(archived.Era, useSnapshot, unreadable)));
        if (!useSnapshot)
        {
            var current = salvage.Writeset(currentEra, nrBlocks, reader.CurrentWritesetRuns);
            if (!current.IsEmpty) writesets.Add(current);
        }
        var eras = salvage.Eras(currentEra, unreadable => reader.EraArrayRuns(useSnapshot, unreadable));
        foreach (var (era, blocks) in salvage.Guessed) guessed?.Invoke(new SalvageGuess(useSnapshot, era, blocks));
        return new EraState(currentEra, writesets, eras);
    }

    /// <summary>One view's salvage: what could not be read is reported once and given the newest era it may have.</summary>
    private sealed class Salvage(ulong nrBlocks, Action<string> report)
    {
        private readonly HashSet<string> _reported = [];
        private readonly SortedDictionary<uint, EraWriteset> _guessed = [];

        public IEnumerable<(uint Era, ulong Blocks)> Guessed => _guessed.Select(g => (g.Key, g.Value.Count));

        public EraWriteset Writeset(uint era, ulong nrBits, Func<Action<BlockRun, MetadataException>, IEnumerable<BlockRun>> runs)
        {
            var ws = EraWriteset.Empty(era, nrBits);
            void Unknown(BlockRun run, MetadataException ex)
            {
                Report(ex);
                ws.Set(run);
                Guess(era, run);
            }
            try
            {
                foreach (var run in runs(Unknown)) ws.Set(run);
            }
            catch (MetadataException ex)
            {
                // Not even the damaged range is known: any of its bits may have been set.
                Unknown(new BlockRun(0, nrBits), ex);
            }
            return ws;
        }

        public uint[] Eras(uint currentEra, Func<Action<BlockRun, MetadataException>, IEnumerable<EraRun>> runs)
        {
            var eras = new uint[nrBlocks];
            void Unknown(BlockRun run, MetadataException ex)
            {
                Report(ex);
                var end = Math.Min(run.End, nrBlocks);
                if (end <= run.Start) return;
                Array.Fill(eras, currentEra, (int)run.Start, (int)(end - run.Start));
                Guess(currentEra, run);
            }
            try
            {
                foreach (var run in runs(Unknown))
                    if (run.Era != 0) Array.Fill(eras, run.Era, (int)run.Start, (int)run.Count);
            }
            catch (MetadataException ex)
            {
                Unknown(new BlockRun(0, nrBlocks), ex);
            }
            return eras;
        }

        private void Report(MetadataException ex)
        {
            if (_reported.Add(ex.Message)) report(ex.Message);
        }

        private void Guess(uint era, BlockRun run)
        {
            if (!_guessed.TryGetValue(era, out var blocks)) _guessed[era] = blocks = EraWriteset.Empty(era, nrBlocks);
            blocks.Set(run);
        }
    }

    /// <summary>
    /// The history as it stands, streamed from the reader: the live view (archived writesets, then the
    /// current writeset under the current era when it has any block) and the held snapshot's view.
    /// Strict: damage fails the read that meets it.
    /// </summary>
    public static StreamedHistory Stream(MetadataReader reader)
    {
        var geometry = reader.Geometry;
        var nrBlocks = geometry.NrBlocks;
        var archived = reader.ArchivedWritesets().ToList();
        var liveShapes = archived.ConvertAll(a => new WritesetShape(a.Era, Math.Min(a.NrBits, nrBlocks)));
        var currentEra = reader.CurrentEra;
        var hasCurrent = reader.CurrentWritesetRuns().Any();
        if (hasCurrent) liveShapes.Add(new WritesetShape(currentEra, nrBlocks));
        var live = new StreamedView(currentEra, liveShapes,
            i => i < archived.Count ? reader.ArchivedWritesetRuns(archived[i].Era) : reader.CurrentWritesetRuns(),
            () => reader.EraArrayRuns());
        StreamedView? snapshot = null;
        if (reader.HeldSnapshot != null)
        {
            if (reader.SnapshotGeometry.NrBlocks != nrBlocks)
                throw new MetadataException($"{reader.FileName}: the held snapshot has {reader.SnapshotGeometry.NrBlocks} blocks, the live state {nrBlocks} (resized since it was taken)");
            var held = reader.ArchivedWritesets(useSnapshot: true).ToList();
            snapshot = new StreamedView(reader.SnapshotEra,
                held.ConvertAll(a => new WritesetShape(a.Era, Math.Min(a.NrBits, nrBlocks))),
                i => reader.ArchivedWritesetRuns(held[i].Era, useSnapshot: true),
                () => reader.EraArrayRuns(useSnapshot: true));
        }
        return new StreamedHistory(SectorsOf(geometry.BlockSize), nrBlocks, live, snapshot);
    }

    /// <summary>
    /// The geometry native metadata gets for a history: from the origin's size when known, else from
    /// the history's own; ArgumentException when the two disagree or EraFs cannot track the block size.
    /// </summary>
    public static EraGeometry GeometryFor(uint blockSizeSectors, ulong nrBlocks, long? originSize)
    {
        var blockSize = blockSizeSectors * 512;
        if (blockSize < EraGeometry.MinBlockSize || blockSize % EraGeometry.MinBlockSize != 0)
            throw new ArgumentException($"block size {blockSizeSectors} sectors is not a multiple of {EraGeometry.MinBlockSize} bytes, which EraFs needs");
        var size = originSize ?? (long)nrBlocks * blockSize;
        var geometry = EraGeometry.For(size, blockSize);
        if (geometry.NrBlocks != nrBlocks)
            throw new ArgumentException($"the origin of {size} bytes has {geometry.NrBlocks} blocks of {blockSize} bytes, the history {nrBlocks}");
        return geometry;
    }

    /// <summary>
    /// Writes a history as native metadata at path, read from its source as it is written: writesets
    /// before the current era are archived, the current era's becomes the current writeset; a
    /// snapshot's writesets must all precede its era.
    /// </summary>
    public static void Write(StreamedHistory history, string path, long? originSize, DateTime? cleanOriginMtimeUtc)
    {
        var geometry = GeometryFor(history.BlockSizeSectors, history.NrBlocks, originSize);
        if (history.Snapshot is { } s && s.Writesets.Any(w => w.Era >= s.CurrentEra))
            throw new ArgumentException($"the metadata snapshot holds a writeset of its own current era {s.CurrentEra}, which EraFs snapshots never have");
        using var builder = MetadataBuilder.Create(path, geometry, history.Live.CurrentEra, cleanOriginMtimeUtc);
        var live = history.Live;
        builder.SetEraArray(live.EraRuns());
        for (var i = 0; i < live.Writesets.Count; i++)
            if (live.Writesets[i].Era == live.CurrentEra) builder.AddCurrent(live.WritesetRuns(i));
        for (var i = 0; i < live.Writesets.Count; i++)
            if (live.Writesets[i].Era < live.CurrentEra) builder.AddArchived(live.Writesets[i].Era, live.Writesets[i].NrBits, live.WritesetRuns(i));
        if (history.Snapshot is { } snapshot)
        {
            builder.BeginSnapshot(snapshot.CurrentEra);
            builder.SetEraArray(snapshot.EraRuns());
            for (var i = 0; i < snapshot.Writesets.Count; i++)
                builder.AddArchived(snapshot.Writesets[i].Era, snapshot.Writesets[i].NrBits, snapshot.WritesetRuns(i));
        }
        builder.Commit();
    }
}

/// <summary>
/// Writes what an era XML reader shows it as native metadata, one writeset at a time (the XML has no
/// snapshot). The builder is made when the superblock is seen and committed at its end.
/// </summary>
public sealed class NativeHistoryWriter(string path, long? originSize, DateTime? cleanOriginMtimeUtc) : IEraHistoryVisitor, IDisposable
{
    private MetadataBuilder? _builder;
    private uint _currentEra;

    public void BeginSuperblock(uint blockSizeSectors, ulong nrBlocks, uint currentEra)
    {
        var geometry = NativeHistory.GeometryFor(blockSizeSectors, nrBlocks, originSize);
        _currentEra = currentEra;
        _builder = MetadataBuilder.Create(path, geometry, currentEra, cleanOriginMtimeUtc);
    }

    public void Writeset(uint era, ulong nrBits, IEnumerable<BlockRun> runs)
    {
        if (era == _currentEra) Builder.AddCurrent(runs);
        else Builder.AddArchived(era, nrBits, runs);
    }

    public void EraArray(IEnumerable<EraRun> runs) => Builder.SetEraArray(runs);

    public void EndSuperblock() => Builder.Commit();

    public void Dispose() => _builder?.Dispose();

    private MetadataBuilder Builder => _builder ?? throw new InvalidOperationException("no superblock seen yet");
}

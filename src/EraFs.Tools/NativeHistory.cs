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
    /// The content to write as native metadata: writesets before the current era are archived, the
    /// current era's becomes the current writeset; a snapshot's writesets must all precede its era.
    /// </summary>
    public static HistoryContent ToContent(EraHistory history, long? originSize, DateTime? cleanOriginMtimeUtc)
    {
        var blockSize = history.BlockSizeBytes;
        if (blockSize < EraGeometry.MinBlockSize || blockSize % EraGeometry.MinBlockSize != 0)
            throw new ArgumentException($"block size {history.BlockSizeSectors} sectors is not a multiple of {EraGeometry.MinBlockSize} bytes, which EraFs needs");
        var size = originSize ?? (long)history.NrBlocks * blockSize;
        var geometry = EraGeometry.For(size, blockSize);
        if (geometry.NrBlocks != history.NrBlocks)
            throw new ArgumentException($"the origin of {size} bytes has {geometry.NrBlocks} blocks of {blockSize} bytes, the history {history.NrBlocks}");
        var live = history.Live;
        var current = live.Writesets.Where(w => w.Era == live.CurrentEra).SelectMany(w => w.Runs()).ToList();
        SnapshotContent? snapshot = null;
        if (history.Snapshot is { } s)
        {
            if (s.Writesets.Any(w => w.Era >= s.CurrentEra))
                throw new ArgumentException($"the metadata snapshot holds a writeset of its own current era {s.CurrentEra}, which EraFs snapshots never have");
            snapshot = new SnapshotContent(s.CurrentEra, Archived(s), EraRuns(s.Eras));
        }
        return new HistoryContent(geometry, live.CurrentEra, Archived(live), current, EraRuns(live.Eras), snapshot, cleanOriginMtimeUtc);
    }

    private static List<WritesetContent> Archived(EraState state) =>
        state.Writesets.Where(w => w.Era < state.CurrentEra)
            .Select(w => new WritesetContent(w.Era, w.NrBits, w.Runs().ToList())).ToList();

    private static List<EraRun> EraRuns(uint[] eras)
    {
        var runs = new List<EraRun>();
        var start = 0;
        for (var i = 1; i <= eras.Length; i++)
        {
            if (i < eras.Length && eras[i] == eras[start]) continue;
            runs.Add(new EraRun((ulong)start, (ulong)(i - start), eras[start]));
            start = i;
        }
        return runs;
    }
}

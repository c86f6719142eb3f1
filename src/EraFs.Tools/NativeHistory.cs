using EraFs.Core;
using EraFs.Metadata;

namespace EraFs.Tools;

/// <summary>Converts between native metadata and the shared era-history IR.</summary>
public static class NativeHistory
{
    /// <summary>
    /// Loads the live view (archived writesets, then the current writeset under the current era when
    /// it has any block) and the held snapshot's view. With a report, a damaged writeset or era array
    /// is reported and left out (era array: all 0) instead of failing the whole load.
    /// </summary>
    public static EraHistory Load(MetadataReader reader, Action<string>? report = null)
    {
        var geometry = reader.Geometry;
        var live = LoadState(reader, reader.CurrentEra, geometry.NrBlocks, useSnapshot: false, report);
        EraState? snapshot = null;
        if (reader.HeldSnapshot != null)
        {
            if (reader.SnapshotGeometry.NrBlocks != geometry.NrBlocks)
                throw new MetadataException($"{reader.FileName}: the held snapshot has {reader.SnapshotGeometry.NrBlocks} blocks, the live state {geometry.NrBlocks} (resized since it was taken)");
            snapshot = LoadState(reader, reader.SnapshotEra, geometry.NrBlocks, useSnapshot: true, report);
        }
        return new EraHistory(SectorsOf(geometry.BlockSize), geometry.NrBlocks, live, snapshot);
    }

    public static uint SectorsOf(uint blockSizeBytes) => blockSizeBytes / 512;

    private static EraState LoadState(MetadataReader reader, uint currentEra, ulong nrBlocks, bool useSnapshot, Action<string>? report)
    {
        var writesets = new List<EraWriteset>();
        foreach (var archived in reader.ArchivedWritesets(useSnapshot))
        {
            var nrBits = Math.Min(archived.NrBits, nrBlocks);
            var ws = Salvage(report, () => EraWriteset.FromRuns(archived.Era, nrBits, reader.ArchivedWritesetRuns(archived.Era, useSnapshot)));
            if (ws != null) writesets.Add(ws);
        }
        if (!useSnapshot)
        {
            var current = Salvage(report, () => EraWriteset.FromRuns(currentEra, nrBlocks, reader.CurrentWritesetRuns()));
            if (current is { IsEmpty: false }) writesets.Add(current);
        }
        var eras = Salvage(report, () =>
        {
            var array = new uint[nrBlocks];
            foreach (var run in reader.EraArrayRuns(useSnapshot))
                if (run.Era != 0) Array.Fill(array, run.Era, (int)run.Start, (int)run.Count);
            return array;
        }) ?? new uint[nrBlocks];
        return new EraState(currentEra, writesets, eras);
    }

    private static T? Salvage<T>(Action<string>? report, Func<T> load) where T : class
    {
        try
        {
            return load();
        }
        catch (MetadataException ex) when (report != null)
        {
            report(ex.Message);
            return null;
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

using System.Buffers.Binary;
using System.Runtime.InteropServices;
using EraFs.Core;
using EraFs.Metadata;

namespace EraFs.Tools.DmEra;

/// <summary>How much of a dm-era metadata device a written history uses.</summary>
public readonly record struct DmImageSize(ulong AllocatedBlocks, ulong TotalBlocks)
{
    public long Length => (long)TotalBlocks * DmBlock.Size;
}

/// <summary>
/// Writes an era history as kernel dm-era metadata. Layout follows era_restore: superblock, space map
/// index, reference-count tree, bitmaps, then the era array, the bitsets and the writeset tree. By
/// default every writeset, the current era's included, goes into the writeset tree (as era_restore
/// does, with no live current writeset) so era_invalidate and era_dump see all of it; a kernel loading
/// this starts the next era on resume. As a live device's image, the current era's writeset instead
/// stays in the superblock, where the tools do not look, exactly as a running dm-era keeps it. A held
/// snapshot gets its own trees and a clone superblock that block 0's metadata_snap points at, as
/// take_metadata_snap leaves it. Nothing is shared, so every block's reference count is 1.
/// </summary>
/// <remarks>
/// Every structure's size follows from the geometry and the writesets' sizes alone, so the layout
/// (and the space map, which precedes everything) is known before any content is read; content is
/// then read from its source once, in block order, and each block goes to the sink as it is made.
/// </remarks>
public static class DmEraWriter
{
    /// <summary>Spare blocks beyond the history's own, so a kernel taking the metadata over can keep going.</summary>
    public const ulong MinimumSpareBlocks = 1024;

    /// <summary>Writes a small history into memory (tests and comparisons).</summary>
    public static DmMetadataImage Write(EraHistory history, bool currentInSuperblock = false)
    {
        var image = new DmMetadataImage();
        image.TotalBlocks = Write(StreamedHistory.FromDense(history), image, currentInSuperblock).TotalBlocks;
        return image;
    }

    /// <summary>Writes the history to a new sparse file at path (replacing what is there), streamed; <paramref name="afterWrite"/> runs after each write of up to 256 KiB.</summary>
    public static DmImageSize WriteFile(StreamedHistory history, string path, bool currentInSuperblock = false, Action? afterWrite = null)
    {
        var size = Plan(history, currentInSuperblock);
        using var handle = File.OpenHandle(path, FileMode.Create, FileAccess.ReadWrite);
        var file = new DmImageFile(handle, afterWrite);
        Write(history, file, currentInSuperblock);
        file.Finish(size.TotalBlocks);
        return size;
    }

    /// <summary>
    /// The size the history's image will have; ArgumentException when dm-era cannot hold it. Reads no
    /// content, so a caller can refuse before writing anything.
    /// </summary>
    public static DmImageSize Plan(StreamedHistory history, bool currentInSuperblock = false)
    {
        if (history.NrBlocks > uint.MaxValue) throw new ArgumentException($"{history.NrBlocks} blocks do not fit dm-era's 32-bit count");
        for (var bitmaps = 1; ; bitmaps++)
        {
            var used = UsedBlocks(history, bitmaps, currentInSuperblock);
            var total = Math.Min(DmSpaceMap.MaxBlocks, used + Math.Max(used, MinimumSpareBlocks));
            if (DmSpaceMap.BitmapsFor(total) <= bitmaps) return new DmImageSize(used, total);
            if (bitmaps >= DmSpaceMap.MaxBitmaps)
                throw new ArgumentException($"the history needs more than {DmSpaceMap.MaxBlocks} metadata blocks, the most dm-era can address");
        }
    }

    /// <summary>Writes the history's blocks to the sink, each once and in allocation order but the space map's, which come last.</summary>
    public static DmImageSize Write(StreamedHistory history, IDmImageSink sink, bool currentInSuperblock = false)
    {
        var size = Plan(history, currentInSuperblock);
        var bitmaps = DmSpaceMap.BitmapsFor(size.TotalBlocks);
        sink.Allocate();
        var reserved = DmSpaceMap.Reserve(sink, bitmaps);
        var live = history.Live;
        ulong currentRoot = 0;
        if (currentInSuperblock)
        {
            var (shape, runs) = CurrentOf(history);
            live = live.WithoutWritesets(w => w.Era == live.CurrentEra);
            currentRoot = Bitset(sink, shape.NrBits, runs);
        }
        var (liveTree, liveArray) = WriteState(sink, live, history.NrBlocks);
        ulong cloneLocation = 0;
        (ulong Tree, ulong Array)? snapshotRoots = null;
        if (history.Snapshot is { } snapshot)
        {
            snapshotRoots = WriteState(sink, snapshot, history.NrBlocks);
            cloneLocation = sink.Allocate();
        }
        var used = sink.AllocatedBlocks;
        if (used != size.AllocatedBlocks)
            throw new InvalidOperationException($"dm-era layout planned {size.AllocatedBlocks} blocks but wrote {used}");
        var spaceMap = DmSpaceMap.Finish(sink, reserved, used, size.TotalBlocks);
        var block = new byte[DmBlock.Size];
        if (snapshotRoots is { } roots)
        {
            (Superblock(history, history.Snapshot!, spaceMap, roots.Tree, roots.Array) with { Location = cloneLocation }).Pack(block);
            sink.Write(cloneLocation, block);
        }
        var liveSuperblock = Superblock(history, live, spaceMap, liveTree, liveArray) with { MetadataSnap = cloneLocation };
        if (currentRoot != 0)
            liveSuperblock = liveSuperblock with { CurrentWritesetBits = (uint)history.NrBlocks, CurrentWritesetRoot = currentRoot };
        liveSuperblock.Pack(block);
        sink.Write(0, block);
        return size;
    }

    private static (WritesetShape Shape, IEnumerable<BlockRun> Runs) CurrentOf(StreamedHistory history)
    {
        var live = history.Live;
        for (var i = 0; i < live.Writesets.Count; i++)
            if (live.Writesets[i].Era == live.CurrentEra) return (live.Writesets[i], live.WritesetRuns(i));
        return (new WritesetShape(live.CurrentEra, history.NrBlocks), []);
    }

    private static ulong UsedBlocks(StreamedHistory history, int bitmaps, bool currentInSuperblock)
    {
        var used = 1 + DmSpaceMap.ReservedBlocks(bitmaps);
        var live = history.Live;
        if (currentInSuperblock)
        {
            used += BitsetBlocks(CurrentOf(history).Shape.NrBits);
            live = live.WithoutWritesets(w => w.Era == live.CurrentEra);
        }
        used += StateBlocks(live, history.NrBlocks);
        if (history.Snapshot is { } snapshot) used += StateBlocks(snapshot, history.NrBlocks) + 1;
        return used;
    }

    private static ulong StateBlocks(StreamedView view, ulong nrBlocks) =>
        DmArray.BlocksFor(nrBlocks, 4) + view.Writesets.Aggregate(0UL, (sum, w) => sum + BitsetBlocks(w.NrBits)) +
        DmBtree.BlocksFor((ulong)view.Writesets.Count, 12);

    private static ulong BitsetBlocks(ulong nrBits) => DmArray.BlocksFor((nrBits + 63) / 64, 8);

    private static DmSuperblock Superblock(StreamedHistory history, StreamedView view, DmSpaceMapRoot spaceMap, ulong tree, ulong array) => new()
    {
        SpaceMap = spaceMap,
        DataBlockSize = history.BlockSizeSectors,
        NrBlocks = (uint)history.NrBlocks,
        CurrentEra = view.CurrentEra,
        WritesetTreeRoot = tree,
        EraArrayRoot = array,
    };

    private static (ulong Tree, ulong Array) WriteState(IDmImageSink sink, StreamedView view, ulong nrBlocks)
    {
        ulong array;
        using (var eras = view.EraRuns().GetEnumerator())
        {
            var fill = new EraFill(eras);
            array = DmArray.Build(sink, nrBlocks, 4, fill.Fill);
        }
        var entries = new List<(ulong, byte[])>();
        for (var i = 0; i < view.Writesets.Count; i++)
        {
            var ws = view.Writesets[i];
            var root = Bitset(sink, ws.NrBits, view.WritesetRuns(i));
            var value = new byte[12];
            BinaryPrimitives.WriteUInt32LittleEndian(value, (uint)ws.NrBits);
            BinaryPrimitives.WriteUInt64LittleEndian(value.AsSpan(4), root);
            entries.Add((ws.Era, value));
        }
        var tree = DmBtree.Build(sink, entries, 12);
        return (tree, array);
    }

    private static ulong Bitset(IDmImageSink sink, ulong nrBits, IEnumerable<BlockRun> runs)
    {
        using var enumerator = runs.GetEnumerator();
        var fill = new WordFill(enumerator, nrBits);
        return DmArray.Build(sink, (nrBits + 63) / 64, 8, fill.Fill);
    }

    /// <summary>Fills era-array blocks from ascending era runs; blocks no run covers stay 0.</summary>
    private sealed class EraFill(IEnumerator<EraRun> runs)
    {
        private bool _has = runs.MoveNext();

        public void Fill(ulong first, int count, Span<byte> slots)
        {
            var values = MemoryMarshal.Cast<byte, uint>(slots);
            var end = first + (ulong)count;
            while (_has && runs.Current.Start < end)
            {
                var run = runs.Current;
                var from = Math.Max(run.Start, first);
                var to = Math.Min(run.End, end);
                if (to > from && run.Era != 0) values.Slice((int)(from - first), (int)(to - from)).Fill(run.Era);
                if (run.End > end) return;
                _has = runs.MoveNext();
            }
        }
    }

    /// <summary>Fills bitset words from ascending set runs, never past nrBits.</summary>
    private sealed class WordFill(IEnumerator<BlockRun> runs, ulong nrBits)
    {
        private bool _has = runs.MoveNext();

        public void Fill(ulong firstWord, int count, Span<byte> slots)
        {
            var words = MemoryMarshal.Cast<byte, ulong>(slots);
            var first = firstWord * 64;
            var end = Math.Min(first + (ulong)count * 64, nrBits);
            while (_has && runs.Current.Start < end)
            {
                var run = runs.Current;
                var from = Math.Max(run.Start, first);
                var to = Math.Min(run.End, end);
                if (to > from) SetBits(words, from - first, to - from);
                if (run.End > end) return;
                _has = runs.MoveNext();
            }
        }

        private static void SetBits(Span<ulong> words, ulong from, ulong count)
        {
            var end = from + count;
            while (from < end)
            {
                var word = (int)(from / 64);
                var bit = (int)(from % 64);
                var n = (int)Math.Min(64 - (ulong)bit, end - from);
                words[word] |= (n == 64 ? ulong.MaxValue : (1UL << n) - 1) << bit;
                from += (ulong)n;
            }
        }
    }
}

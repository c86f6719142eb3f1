using System.Buffers.Binary;
using EraFs.Tools.DmEra;

namespace EraFs.Tools.Tests;

/// <summary>
/// The dm-era writer as it was before it streamed: the whole image laid out in memory from dense
/// arrays, every structure built in place. Kept only so the streamed writer can be shown to produce
/// the same bytes.
/// </summary>
internal static class DenseDmEraReference
{
    public static DmMetadataImage Write(EraHistory history, bool currentInSuperblock = false)
    {
        for (var bitmaps = 1; ; bitmaps++)
        {
            var image = Layout(history, bitmaps, currentInSuperblock);
            if (DmSpaceMap.BitmapsFor(image.TotalBlocks) <= bitmaps) return image;
        }
    }

    private static DmMetadataImage Layout(EraHistory history, int bitmaps, bool currentInSuperblock)
    {
        var image = new DmMetadataImage();
        image.Allocate(out _);
        image.Allocate(out var index);
        var refCounts = Btree(image, [], 4);
        ulong firstBitmap = 0;
        for (var i = 0; i < bitmaps; i++)
        {
            image.Allocate(out var location);
            if (i == 0) firstBitmap = location;
        }
        var reserved = new DmSpaceMap.Reserved(index, refCounts, firstBitmap, bitmaps);
        var live = history.Live;
        ulong currentRoot = 0;
        if (currentInSuperblock)
        {
            var current = live.Writesets.FirstOrDefault(w => w.Era == live.CurrentEra) ?? EraWriteset.Empty(live.CurrentEra, history.NrBlocks);
            live = live with { Writesets = live.Writesets.Where(w => w.Era != live.CurrentEra).ToList() };
            currentRoot = Bitset(image, current);
        }
        var (liveTree, liveArray) = WriteState(image, live);
        ulong cloneLocation = 0;
        (ulong Tree, ulong Array)? snapshotRoots = null;
        if (history.Snapshot is { } snapshot)
        {
            snapshotRoots = WriteState(image, snapshot);
            image.Allocate(out cloneLocation);
        }
        var used = image.AllocatedBlocks;
        image.TotalBlocks = Math.Min(DmSpaceMap.MaxBlocks, used + Math.Max(used, DmEraWriter.MinimumSpareBlocks));
        if (DmSpaceMap.BitmapsFor(image.TotalBlocks) > bitmaps) return image;
        var spaceMap = DmSpaceMap.Finish(image, reserved);
        if (snapshotRoots is { } roots)
            (Superblock(history, history.Snapshot!, spaceMap, roots.Tree, roots.Array) with { Location = cloneLocation }).Pack(image.Block(cloneLocation));
        var liveSuperblock = Superblock(history, live, spaceMap, liveTree, liveArray) with { MetadataSnap = cloneLocation };
        if (currentRoot != 0)
            liveSuperblock = liveSuperblock with { CurrentWritesetBits = (uint)history.NrBlocks, CurrentWritesetRoot = currentRoot };
        liveSuperblock.Pack(image.Block(0));
        return image;
    }

    private static DmSuperblock Superblock(EraHistory history, EraState state, DmSpaceMapRoot spaceMap, ulong tree, ulong array) => new()
    {
        SpaceMap = spaceMap,
        DataBlockSize = history.BlockSizeSectors,
        NrBlocks = (uint)history.NrBlocks,
        CurrentEra = state.CurrentEra,
        WritesetTreeRoot = tree,
        EraArrayRoot = array,
    };

    private static (ulong Tree, ulong Array) WriteState(DmMetadataImage image, EraState state)
    {
        var eras = state.Eras;
        var array = Array(image, (ulong)eras.Length, 4, (i, slot) => BinaryPrimitives.WriteUInt32LittleEndian(slot, eras[i]));
        var entries = new List<(ulong, byte[])>();
        foreach (var ws in state.Writesets)
        {
            var root = Bitset(image, ws);
            var value = new byte[12];
            BinaryPrimitives.WriteUInt32LittleEndian(value, (uint)ws.NrBits);
            BinaryPrimitives.WriteUInt64LittleEndian(value.AsSpan(4), root);
            entries.Add((ws.Era, value));
        }
        return (Btree(image, entries, 12), array);
    }

    private static ulong Bitset(DmMetadataImage image, EraWriteset ws) =>
        Array(image, (ulong)ws.Bits.WordCount, 8, (i, slot) => BinaryPrimitives.WriteUInt64LittleEndian(slot, ws.Bits.Word((int)i)));

    private static ulong Array(DmMetadataImage image, ulong count, int valueSize, Action<ulong, Span<byte>> put)
    {
        var perBlock = (ulong)DmArray.EntriesPerBlock(valueSize);
        var index = new List<(ulong, byte[])>();
        for (ulong first = 0, i = 0; first < count; first += perBlock, i++)
        {
            var n = Math.Min(perBlock, count - first);
            var span = image.Allocate(out var location).AsSpan();
            BinaryPrimitives.WriteUInt32LittleEndian(span[4..], (uint)perBlock);
            BinaryPrimitives.WriteUInt32LittleEndian(span[8..], (uint)n);
            BinaryPrimitives.WriteUInt32LittleEndian(span[12..], (uint)valueSize);
            for (ulong k = 0; k < n; k++) put(first + k, span.Slice(DmArray.HeaderSize + (int)k * valueSize, valueSize));
            DmBlock.Seal(span, DmBlockKind.ArrayBlock, location);
            index.Add((i, BitConverter.GetBytes(location)));
        }
        return Btree(image, index, 8);
    }

    private static ulong Btree(DmMetadataImage image, IReadOnlyList<(ulong Key, byte[] Value)> entries, int valueSize)
    {
        var level = Level(image, entries, valueSize, DmBtree.LeafFlag);
        while (level.Count > 1)
            level = Level(image, level.Select(n => (n.Key, BitConverter.GetBytes(n.Location))).ToList(), 8, DmBtree.InternalFlag);
        return level[0].Location;
    }

    private static List<(ulong Key, ulong Location)> Level(DmMetadataImage image, IReadOnlyList<(ulong Key, byte[] Value)> entries, int valueSize, uint flags)
    {
        var max = DmBtree.MaxEntries(valueSize);
        var nodes = Math.Max(1, (entries.Count + max - 1) / max);
        var written = new List<(ulong, ulong)>(nodes);
        var first = 0;
        for (var n = 0; n < nodes; n++)
        {
            var count = entries.Count / nodes + (n < entries.Count % nodes ? 1 : 0);
            var span = image.Allocate(out var location).AsSpan();
            BinaryPrimitives.WriteUInt32LittleEndian(span[4..], flags);
            BinaryPrimitives.WriteUInt32LittleEndian(span[16..], (uint)count);
            BinaryPrimitives.WriteUInt32LittleEndian(span[20..], (uint)max);
            BinaryPrimitives.WriteUInt32LittleEndian(span[24..], (uint)valueSize);
            var values = DmBtree.HeaderSize + 8 * max;
            for (var i = 0; i < count; i++)
            {
                var (key, value) = entries[first + i];
                BinaryPrimitives.WriteUInt64LittleEndian(span[(DmBtree.HeaderSize + 8 * i)..], key);
                value.AsSpan(0, valueSize).CopyTo(span[(values + valueSize * i)..]);
            }
            DmBlock.Seal(span, DmBlockKind.BtreeNode, location);
            written.Add((count > 0 ? entries[first].Key : 0, location));
            first += count;
        }
        return written;
    }
}

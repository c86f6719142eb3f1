using System.Buffers.Binary;

namespace EraFs.Tools.DmEra;

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
public static class DmEraWriter
{
    /// <summary>Spare blocks beyond the history's own, so a kernel taking the metadata over can keep going.</summary>
    public const ulong MinimumSpareBlocks = 1024;

    public static DmMetadataImage Write(EraHistory history, bool currentInSuperblock = false)
    {
        if (history.NrBlocks > uint.MaxValue) throw new ArgumentException($"{history.NrBlocks} blocks do not fit dm-era's 32-bit count");
        for (var bitmaps = 1; ; bitmaps++)
        {
            var image = Layout(history, bitmaps, currentInSuperblock);
            if (DmSpaceMap.BitmapsFor(image.TotalBlocks) <= bitmaps) return image;
            if (bitmaps >= DmSpaceMap.MaxBitmaps)
                throw new ArgumentException($"the history needs more than {DmSpaceMap.MaxBlocks} metadata blocks, the most dm-era can address");
        }
    }

    private static DmMetadataImage Layout(EraHistory history, int bitmaps, bool currentInSuperblock)
    {
        var image = new DmMetadataImage();
        image.Allocate(out _);
        var reserved = DmSpaceMap.Reserve(image, bitmaps);
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
        image.TotalBlocks = Math.Min(DmSpaceMap.MaxBlocks, used + Math.Max(used, MinimumSpareBlocks));
        if (DmSpaceMap.BitmapsFor(image.TotalBlocks) > bitmaps) return image;
        var spaceMap = DmSpaceMap.Finish(image, reserved);
        if (snapshotRoots is { } roots)
            (Superblock(history, history.Snapshot!, spaceMap, roots.Tree, roots.Array) with { Location = cloneLocation })
                .Pack(image.Block(cloneLocation));
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
        var array = DmArray.Build(image, (ulong)eras.Length, 4, (i, slot) => BinaryPrimitives.WriteUInt32LittleEndian(slot, eras[i]));
        var entries = new List<(ulong, byte[])>();
        foreach (var ws in state.Writesets)
        {
            var root = Bitset(image, ws);
            var value = new byte[12];
            BinaryPrimitives.WriteUInt32LittleEndian(value, (uint)ws.NrBits);
            BinaryPrimitives.WriteUInt64LittleEndian(value.AsSpan(4), root);
            entries.Add((ws.Era, value));
        }
        var tree = DmBtree.Build(image, entries, 12);
        return (tree, array);
    }

    private static ulong Bitset(DmMetadataImage image, EraWriteset ws)
    {
        var words = ws.Words;
        return DmArray.Build(image, (ulong)words.Length, 8, (i, slot) => BinaryPrimitives.WriteUInt64LittleEndian(slot, words[i]));
    }
}

using System.Buffers.Binary;

namespace EraFs.Tools.DmEra;

/// <summary>
/// The metadata space map of an image written in one go: one index block (255 entries: bitmap
/// location, free count, first possibly-free slot), bitmap blocks of 2-bit reference counts (16320
/// blocks each) and an empty reference-count tree, since every block is referenced exactly once.
/// </summary>
public static class DmSpaceMap
{
    public const int EntriesPerBitmap = (DmBlock.Size - 16) * 4;
    public const int MaxBitmaps = (DmBlock.Size - 16) / 16;
    public const ulong MaxBlocks = (ulong)MaxBitmaps * EntriesPerBitmap;
    private const int IndexEntriesOffset = 16;

    public static int BitmapsFor(ulong totalBlocks) => (int)((totalBlocks + EntriesPerBitmap - 1) / EntriesPerBitmap);

    /// <summary>Block layout reserved at the start of the image, in the order era_restore allocates them.</summary>
    public sealed record Reserved(ulong Index, ulong RefCountRoot, ulong FirstBitmap, int Bitmaps);

    /// <summary>Allocates the index, the empty reference-count tree and the bitmaps (after the superblock at 0).</summary>
    public static Reserved Reserve(IDmImageSink image, int bitmaps)
    {
        var index = image.Allocate();
        var refCounts = DmBtree.Build(image, [], 4);
        ulong first = 0;
        for (var i = 0; i < bitmaps; i++)
        {
            var location = image.Allocate();
            if (i == 0) first = location;
        }
        return new Reserved(index, refCounts, first, bitmaps);
    }

    /// <summary>Blocks <see cref="Reserve"/> allocates: the index, the empty reference-count tree and the bitmaps.</summary>
    public static ulong ReservedBlocks(int bitmaps) => 2 + (ulong)bitmaps;

    /// <summary>Marks every allocated block of an in-memory image as used once; see the other overload.</summary>
    public static DmSpaceMapRoot Finish(DmMetadataImage image, Reserved reserved) =>
        Finish(image, reserved, image.AllocatedBlocks, image.TotalBlocks);

    /// <summary>Marks blocks [0, used) as used once in a device of total blocks, writes the index and bitmaps, and returns the root for superblocks.</summary>
    public static DmSpaceMapRoot Finish(IDmImageSink image, Reserved reserved, ulong used, ulong total)
    {
        var indexBlock = new byte[DmBlock.Size];
        var index = indexBlock.AsSpan();
        var bitmapBlock = new byte[DmBlock.Size];
        for (var i = 0; i < reserved.Bitmaps; i++)
        {
            var location = reserved.FirstBitmap + (ulong)i;
            var bitmap = bitmapBlock.AsSpan();
            bitmap.Clear();
            var first = (ulong)i * EntriesPerBitmap;
            var covered = Math.Min((ulong)EntriesPerBitmap, total - first);
            var allocatedHere = used > first ? Math.Min(covered, used - first) : 0;
            for (ulong j = 0; j < allocatedHere; j++)
            {
                // Reference count 1 is the low bit of the entry's pair: bit 2j+1 of each little-endian u64.
                var bit = (int)(j % 32) * 2 + 1;
                var offset = 16 + (int)(j / 32) * 8;
                var word = BinaryPrimitives.ReadUInt64LittleEndian(bitmap[offset..]) | 1UL << bit;
                BinaryPrimitives.WriteUInt64LittleEndian(bitmap[offset..], word);
            }
            DmBlock.Seal(bitmap, DmBlockKind.SpaceMapBitmap, location);
            image.Write(location, bitmap);
            var entry = index[(IndexEntriesOffset + 16 * i)..];
            BinaryPrimitives.WriteUInt64LittleEndian(entry, location);
            BinaryPrimitives.WriteUInt32LittleEndian(entry[8..], (uint)(covered - allocatedHere));
            BinaryPrimitives.WriteUInt32LittleEndian(entry[12..], (uint)allocatedHere);
        }
        DmBlock.Seal(index, DmBlockKind.SpaceMapIndex, reserved.Index);
        image.Write(reserved.Index, index);
        return new DmSpaceMapRoot(total, used, reserved.Index, reserved.RefCountRoot);
    }
}

using System.Buffers.Binary;

namespace EraFs.Metadata;

/// <summary>
/// The archived writesets, oldest era first, as a chain of catalog blocks (next pointer, count,
/// then 24-byte entries). The chain is small (the digest keeps it short) and is rewritten whole,
/// copy-on-write, whenever it changes.
/// </summary>
internal static class ArchiveCatalog
{
    private const int EntrySize = 24;
    private const int EntriesOffset = BlockFormat.HeaderSize + 16;
    public const int EntriesPerBlock = (BlockFormat.BlockSize - EntriesOffset) / EntrySize;

    public static List<ArchivedWriteset> Load(IBlockSource source, ulong head, Action<ulong>? visit = null)
    {
        var entries = new List<ArchivedWriteset>();
        var seen = new HashSet<ulong>();
        for (var block = head; block != 0;)
        {
            if (!seen.Add(block)) throw BlockFormat.Corrupt(source.FileName, block, BlockKind.ArchiveCatalog, "catalog chain loops back here");
            visit?.Invoke(block);
            var data = source.Read(block, BlockKind.ArchiveCatalog).AsSpan();
            var next = BinaryPrimitives.ReadUInt64LittleEndian(data[BlockFormat.HeaderSize..]);
            var count = BinaryPrimitives.ReadInt32LittleEndian(data[(BlockFormat.HeaderSize + 8)..]);
            if (count is < 0 or > EntriesPerBlock) throw BlockFormat.Corrupt(source.FileName, block, BlockKind.ArchiveCatalog, $"claims {count} entries");
            for (var i = 0; i < count; i++)
            {
                var e = data.Slice(EntriesOffset + i * EntrySize, EntrySize);
                entries.Add(new ArchivedWriteset(
                    BinaryPrimitives.ReadUInt32LittleEndian(e),
                    BinaryPrimitives.ReadUInt32LittleEndian(e[4..]),
                    BinaryPrimitives.ReadUInt64LittleEndian(e[8..]),
                    BinaryPrimitives.ReadUInt64LittleEndian(e[16..])));
            }
            block = next;
        }
        for (var i = 1; i < entries.Count; i++)
            if (entries[i].Era <= entries[i - 1].Era)
                throw BlockFormat.Corrupt(source.FileName, head, BlockKind.ArchiveCatalog,
                    $"eras out of order ({entries[i - 1].Era} then {entries[i].Era})");
        return entries;
    }

    /// <summary>Frees the old chain and writes the entries as a new one; returns its head (0 when empty).</summary>
    public static ulong Replace(MetadataSpace space, ulong oldHead, IReadOnlyList<ArchivedWriteset> entries)
    {
        var oldBlocks = new List<ulong>();
        Load(space, oldHead, oldBlocks.Add);
        foreach (var block in oldBlocks) space.Free(block);

        ulong next = 0;
        var blocks = (entries.Count + EntriesPerBlock - 1) / EntriesPerBlock;
        for (var b = blocks - 1; b >= 0; b--)
        {
            var data = space.Allocate(BlockKind.ArchiveCatalog, out var blockNr).AsSpan();
            var first = b * EntriesPerBlock;
            var count = Math.Min(EntriesPerBlock, entries.Count - first);
            BinaryPrimitives.WriteUInt64LittleEndian(data[BlockFormat.HeaderSize..], next);
            BinaryPrimitives.WriteInt32LittleEndian(data[(BlockFormat.HeaderSize + 8)..], count);
            for (var i = 0; i < count; i++)
            {
                var entry = entries[first + i];
                var e = data.Slice(EntriesOffset + i * EntrySize, EntrySize);
                BinaryPrimitives.WriteUInt32LittleEndian(e, entry.Era);
                BinaryPrimitives.WriteUInt32LittleEndian(e[4..], (uint)entry.NrBits);
                BinaryPrimitives.WriteUInt64LittleEndian(e[8..], entry.Root);
                BinaryPrimitives.WriteUInt64LittleEndian(e[16..], entry.DigestedPages);
            }
            next = blockNr;
        }
        return next;
    }
}

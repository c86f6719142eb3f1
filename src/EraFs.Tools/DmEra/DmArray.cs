using System.Buffers.Binary;

namespace EraFs.Tools.DmEra;

/// <summary>
/// persistent-data dm_array: fixed-size values packed into array blocks (csum, max_entries,
/// nr_entries, value_size, blocknr, values), indexed by a btree from block index 0, 1, … to the
/// array block's location. Every array block but the last is full.
/// </summary>
public static class DmArray
{
    public const int HeaderSize = 24;

    public static int EntriesPerBlock(int valueSize) => (DmBlock.Size - HeaderSize) / valueSize;

    /// <summary>Writes an array of count values (written by <paramref name="put"/> into its slot) and returns the btree root.</summary>
    public static ulong Build(DmMetadataImage image, ulong count, int valueSize, Action<ulong, Span<byte>> put)
    {
        var perBlock = (ulong)EntriesPerBlock(valueSize);
        var index = new List<(ulong, byte[])>();
        for (ulong first = 0, i = 0; first < count; first += perBlock, i++)
        {
            var n = Math.Min(perBlock, count - first);
            var block = image.Allocate(out var location);
            var span = block.AsSpan();
            BinaryPrimitives.WriteUInt32LittleEndian(span[4..], (uint)perBlock);
            BinaryPrimitives.WriteUInt32LittleEndian(span[8..], (uint)n);
            BinaryPrimitives.WriteUInt32LittleEndian(span[12..], (uint)valueSize);
            for (ulong k = 0; k < n; k++) put(first + k, span.Slice(HeaderSize + (int)k * valueSize, valueSize));
            DmBlock.Seal(span, DmBlockKind.ArrayBlock, location);
            index.Add((i, BitConverter.GetBytes(location)));
        }
        return DmBtree.Build(image, index, 8);
    }

    /// <summary>
    /// Reads an array of expected length, calling <paramref name="take"/> for each value. Damage (bad
    /// blocks, gaps, wrong sizes) goes to report and leaves those values untouched, or throws without one.
    /// </summary>
    public static void Read(IDmBlockReader reader, ulong root, ulong count, int valueSize, string structure,
        Action<ulong, ReadOnlySpan<byte>> take, Action<ulong, string>? report = null)
    {
        var perBlock = (ulong)EntriesPerBlock(valueSize);
        var expectedBlocks = (count + perBlock - 1) / perBlock;
        ulong nextIndex = 0;
        foreach (var (key, value) in DmBtree.Walk(reader, root, 8, structure, report))
        {
            var location = BinaryPrimitives.ReadUInt64LittleEndian(value.Span);
            string? problem = null;
            if (key != nextIndex) problem = key > nextIndex ? $"gap in array indices before {key}" : $"array index {key} repeats";
            else if (key >= expectedBlocks) problem = $"array block {key} lies past the {count} entries";
            nextIndex = key + 1;
            var expectedEntries = Math.Min(perBlock, count - Math.Min(count, key * perBlock));
            byte[] block = [];
            problem ??= reader.TryRead(location, DmBlockKind.ArrayBlock, out block);
            if (problem == null)
            {
                var span = block.AsSpan();
                var max = BinaryPrimitives.ReadUInt32LittleEndian(span[4..]);
                var entries = BinaryPrimitives.ReadUInt32LittleEndian(span[8..]);
                var size = BinaryPrimitives.ReadUInt32LittleEndian(span[12..]);
                if (size != valueSize || max != perBlock) problem = $"array block holds {max} values of {size} bytes, expected {perBlock} of {valueSize}";
                else if (entries != expectedEntries) problem = $"array block {key} has {entries} entries, expected {expectedEntries}";
                else
                    for (ulong k = 0; k < entries; k++)
                        take(key * perBlock + k, span.Slice(HeaderSize + (int)k * valueSize, valueSize));
            }
            if (problem == null) continue;
            var message = $"{structure}: {problem}";
            if (report == null) throw new DmFormatException(location, message);
            report(location, message);
        }
        if (nextIndex < expectedBlocks)
        {
            var message = $"{structure}: {expectedBlocks - nextIndex} array blocks missing (have {nextIndex} of {expectedBlocks})";
            if (report == null) throw new DmFormatException(root, message);
            report(root, message);
        }
    }
}

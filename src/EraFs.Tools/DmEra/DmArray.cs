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

    /// <summary>Blocks <see cref="Build"/> writes for count values: the array blocks, then their btree.</summary>
    public static ulong BlocksFor(ulong count, int valueSize)
    {
        var arrayBlocks = (count + (ulong)EntriesPerBlock(valueSize) - 1) / (ulong)EntriesPerBlock(valueSize);
        return arrayBlocks + DmBtree.BlocksFor(arrayBlocks, valueSize: 8);
    }

    /// <summary>
    /// Writes an array of count values and returns the btree root. <paramref name="fill"/> writes the
    /// values of one array block at a time (its first index, how many, their zeroed slots), in order.
    /// </summary>
    public static ulong Build(IDmImageSink image, ulong count, int valueSize, Action<ulong, int, Span<byte>> fill)
    {
        var perBlock = (ulong)EntriesPerBlock(valueSize);
        var index = new List<(ulong, byte[])>();
        var block = new byte[DmBlock.Size];
        for (ulong first = 0, i = 0; first < count; first += perBlock, i++)
        {
            var n = Math.Min(perBlock, count - first);
            var location = image.Allocate();
            var span = block.AsSpan();
            span.Clear();
            BinaryPrimitives.WriteUInt32LittleEndian(span[4..], (uint)perBlock);
            BinaryPrimitives.WriteUInt32LittleEndian(span[8..], (uint)n);
            BinaryPrimitives.WriteUInt32LittleEndian(span[12..], (uint)valueSize);
            fill(first, (int)n, span.Slice(HeaderSize, (int)n * valueSize));
            DmBlock.Seal(span, DmBlockKind.ArrayBlock, location);
            image.Write(location, span);
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
        foreach (var (first, values) in Blocks(reader, root, count, valueSize, structure, report))
            for (var k = 0; k < values.Length / valueSize; k++)
                take(first + (ulong)k, values.Span.Slice(k * valueSize, valueSize));
    }

    /// <summary>
    /// The array's sound blocks in index order, each as its first index and its packed values, read
    /// lazily; damage as for <see cref="Read"/>.
    /// </summary>
    public static IEnumerable<(ulong First, ReadOnlyMemory<byte> Values)> Blocks(IDmBlockReader reader, ulong root, ulong count, int valueSize,
        string structure, Action<ulong, string>? report = null)
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
                {
                    yield return (key * perBlock, block.AsMemory(HeaderSize, (int)entries * valueSize));
                    continue;
                }
            }
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

using System.Buffers.Binary;

namespace EraFs.Tools.DmEra;

/// <summary>
/// persistent-data btree nodes: a 32-byte header (csum, flags, blocknr, nr_entries, max_entries,
/// value_size, padding), max_entries u64 keys, then max_entries values. Leaves hold the values;
/// internal nodes hold child block numbers keyed by the lowest key below each child.
/// </summary>
public static class DmBtree
{
    public const uint InternalFlag = 1;
    public const uint LeafFlag = 2;
    public const int HeaderSize = 32;

    /// <summary>Entries a node of this value size holds: a multiple of 3 so that nodes can split and merge in thirds.</summary>
    public static int MaxEntries(int valueSize) => (DmBlock.Size - HeaderSize) / (8 + valueSize) / 3 * 3;

    /// <summary>
    /// Builds a btree bottom-up from entries in ascending key order and returns its root. Entries are
    /// spread evenly over the fewest nodes, so every non-root node is at least half full (the tools
    /// demand a third). An empty tree is one empty leaf.
    /// </summary>
    public static ulong Build(IDmImageSink image, IReadOnlyList<(ulong Key, byte[] Value)> entries, int valueSize)
    {
        var level = WriteLevel(image, entries, valueSize, LeafFlag);
        while (level.Count > 1)
        {
            var parents = level.Select(n => (n.Key, BitConverter.GetBytes(n.Location))).ToList();
            level = WriteLevel(image, parents, 8, InternalFlag);
        }
        return level[0].Location;
    }

    private static List<(ulong Key, ulong Location)> WriteLevel(
        IDmImageSink image, IReadOnlyList<(ulong Key, byte[] Value)> entries, int valueSize, uint flags)
    {
        var max = MaxEntries(valueSize);
        var nodes = Math.Max(1, (entries.Count + max - 1) / max);
        var written = new List<(ulong, ulong)>(nodes);
        var first = 0;
        var block = new byte[DmBlock.Size];
        for (var n = 0; n < nodes; n++)
        {
            var count = entries.Count / nodes + (n < entries.Count % nodes ? 1 : 0);
            var location = image.Allocate();
            var span = block.AsSpan();
            span.Clear();
            BinaryPrimitives.WriteUInt32LittleEndian(span[4..], flags);
            BinaryPrimitives.WriteUInt32LittleEndian(span[16..], (uint)count);
            BinaryPrimitives.WriteUInt32LittleEndian(span[20..], (uint)max);
            BinaryPrimitives.WriteUInt32LittleEndian(span[24..], (uint)valueSize);
            var values = HeaderSize + 8 * max;
            for (var i = 0; i < count; i++)
            {
                var (key, value) = entries[first + i];
                BinaryPrimitives.WriteUInt64LittleEndian(span[(HeaderSize + 8 * i)..], key);
                value.AsSpan(0, valueSize).CopyTo(span[(values + valueSize * i)..]);
            }
            DmBlock.Seal(span, DmBlockKind.BtreeNode, location);
            image.Write(location, span);
            written.Add((count > 0 ? entries[first].Key : 0, location));
            first += count;
        }
        return written;
    }

    /// <summary>Blocks <see cref="Build"/> writes for that many entries: the leaves, then each level of internal nodes.</summary>
    public static ulong BlocksFor(ulong entries, int valueSize)
    {
        var nodes = Math.Max(1, (entries + (ulong)MaxEntries(valueSize) - 1) / (ulong)MaxEntries(valueSize));
        var total = nodes;
        while (nodes > 1)
        {
            nodes = (nodes + (ulong)MaxEntries(8) - 1) / (ulong)MaxEntries(8);
            total += nodes;
        }
        return total;
    }

    /// <summary>
    /// Walks a btree in key order, checking every node (checksum, location, flags, sizes, key order,
    /// fill) and yielding the leaf entries; problems go to <paramref name="report"/> and the damaged
    /// subtree is skipped, or, with a null report, throw.
    /// </summary>
    public static IEnumerable<(ulong Key, ReadOnlyMemory<byte> Value)> Walk(
        IDmBlockReader reader, ulong root, int valueSize, string structure, Action<ulong, string>? report = null)
    {
        var stack = new Stack<(ulong Location, bool IsRoot, ulong? LowKey)>();
        stack.Push((root, true, null));
        var visited = new HashSet<ulong>();
        while (stack.Count > 0)
        {
            var (location, isRoot, lowKey) = stack.Pop();
            var problem = NodeProblem(reader, location, isRoot, valueSize, visited, out var node);
            if (problem == null && lowKey is { } low && ReadKey(node, 0) < low && Entries(node) > 0)
                problem = $"first key {ReadKey(node, 0)} is below its parent's key {low}";
            if (problem != null)
            {
                var message = $"{structure}: {problem}";
                if (report == null) throw new DmFormatException(location, message);
                report(location, message);
                continue;
            }
            var flags = BinaryPrimitives.ReadUInt32LittleEndian(node.AsSpan(4));
            var count = Entries(node);
            var max = (int)BinaryPrimitives.ReadUInt32LittleEndian(node.AsSpan(20));
            var size = (int)BinaryPrimitives.ReadUInt32LittleEndian(node.AsSpan(24));
            var values = HeaderSize + 8 * max;
            if (flags == InternalFlag)
            {
                for (var i = count - 1; i >= 0; i--)
                    stack.Push((BinaryPrimitives.ReadUInt64LittleEndian(node.AsSpan(values + 8 * i)), false, ReadKey(node, i)));
                continue;
            }
            for (var i = 0; i < count; i++)
                yield return (ReadKey(node, i), node.AsMemory(values + size * i, size));
        }
    }

    private static string? NodeProblem(IDmBlockReader reader, ulong location, bool isRoot, int leafValueSize, HashSet<ulong> visited, out byte[] node)
    {
        node = [];
        if (!visited.Add(location)) return $"node {location} is reached twice";
        var read = reader.TryRead(location, DmBlockKind.BtreeNode, out node);
        if (read != null) return read;
        var flags = BinaryPrimitives.ReadUInt32LittleEndian(node.AsSpan(4));
        var count = Entries(node);
        var max = (int)BinaryPrimitives.ReadUInt32LittleEndian(node.AsSpan(20));
        var size = (int)BinaryPrimitives.ReadUInt32LittleEndian(node.AsSpan(24));
        if (flags != InternalFlag && flags != LeafFlag) return $"node has flags {flags}, neither internal nor leaf";
        var expectedSize = flags == InternalFlag ? 8 : leafValueSize;
        if (size != expectedSize) return $"value size {size}, expected {expectedSize}";
        if (max % 3 != 0 || HeaderSize + (8 + size) * max > DmBlock.Size) return $"impossible max_entries {max}";
        if (count > max) return $"{count} entries, more than max_entries {max}";
        if (!isRoot && count < max / 3) return $"non-root node has {count} entries, under a third of {max}";
        if (flags == InternalFlag && count == 0) return "internal node with no entries";
        for (var i = 1; i < count; i++)
            if (ReadKey(node, i) <= ReadKey(node, i - 1)) return $"keys out of order ({ReadKey(node, i - 1)} then {ReadKey(node, i)})";
        return null;
    }

    private static int Entries(byte[] node) => (int)BinaryPrimitives.ReadUInt32LittleEndian(node.AsSpan(16));

    private static ulong ReadKey(byte[] node, int i) => BinaryPrimitives.ReadUInt64LittleEndian(node.AsSpan(HeaderSize + 8 * i));
}

using System.Buffers.Binary;
using EraFs.Core;

namespace EraFs.Metadata;

/// <summary>
/// A sparse radix tree of fixed height mapping a page index to a leaf page block. Index nodes hold
/// 510 child pointers; pointer 0 means the whole subtree is absent, which readers treat as all zero.
/// The era array and every writeset bitset are such trees.
/// </summary>
internal static class PagedTree
{
    private const int Fanout = BlockFormat.ChildrenPerNode;

    public static ulong Capacity(int height)
    {
        ulong pages = 1;
        for (var i = 0; i < height; i++) pages *= Fanout;
        return pages;
    }

    public static ulong Child(byte[] node, int slot) =>
        BinaryPrimitives.ReadUInt64LittleEndian(node.AsSpan(BlockFormat.HeaderSize + slot * 8));

    private static void SetChild(byte[] node, int slot, ulong child) =>
        BinaryPrimitives.WriteUInt64LittleEndian(node.AsSpan(BlockFormat.HeaderSize + slot * 8), child);

    private static int SlotAt(ulong pageIndex, int level) => (int)(pageIndex / Capacity(level - 1) % Fanout);

    /// <summary>The leaf block for a page, 0 when absent.</summary>
    public static ulong FindLeaf(IBlockSource source, ulong root, int height, ulong pageIndex)
    {
        var node = root;
        for (var level = height; level >= 1 && node != 0; level--)
            node = Child(source.Read(node, BlockKind.IndexNode), SlotAt(pageIndex, level));
        return node;
    }

    /// <summary>The page made writable in this transaction (created zeroed when absent); index nodes on the path are copied as needed.</summary>
    public static byte[] WritableLeaf(MetadataSpace space, ref ulong root, int height, ulong pageIndex, BlockKind leafKind)
    {
        if (height == 0) return space.Writable(ref root, leafKind);
        var node = space.Writable(ref root, BlockKind.IndexNode);
        for (var level = height; ; level--)
        {
            var slot = SlotAt(pageIndex, level);
            var child = Child(node, slot);
            var childKind = level == 1 ? leafKind : BlockKind.IndexNode;
            var childData = space.Writable(ref child, childKind);
            SetChild(node, slot, child);
            if (level == 1) return childData;
            node = childData;
        }
    }

    /// <summary>Drops a page (and index nodes left empty), freeing its blocks.</summary>
    public static void RemoveLeaf(MetadataSpace space, ref ulong root, int height, ulong pageIndex)
    {
        if (root == 0) return;
        if (height == 0)
        {
            space.Free(root);
            root = 0;
            return;
        }
        var node = space.Writable(ref root, BlockKind.IndexNode);
        var slot = SlotAt(pageIndex, height);
        var child = Child(node, slot);
        if (child == 0) return;
        RemoveLeaf(space, ref child, height - 1, pageIndex);
        SetChild(node, slot, child);
        if (child == 0 && node.AsSpan(BlockFormat.HeaderSize).IndexOfAnyExcept((byte)0) < 0)
        {
            space.Free(root);
            root = 0;
        }
    }

    /// <summary>
    /// Present pages at or after fromPage, ascending, read lazily. With <paramref name="unreadable"/>, an
    /// index node that cannot be read is reported with the pages it covers (first, count) and skipped
    /// instead of ending the walk.
    /// </summary>
    public static IEnumerable<(ulong PageIndex, ulong Leaf)> Leaves(IBlockSource source, ulong root, int height, ulong fromPage = 0,
        Action<ulong, ulong, MetadataException>? unreadable = null) =>
        Leaves(source, root, height, 0, fromPage, unreadable);

    private static IEnumerable<(ulong PageIndex, ulong Leaf)> Leaves(IBlockSource source, ulong root, int height, ulong firstPage, ulong fromPage,
        Action<ulong, ulong, MetadataException>? unreadable)
    {
        if (root == 0) yield break;
        if (height == 0)
        {
            if (fromPage == 0) yield return (firstPage, root);
            yield break;
        }
        var span = Capacity(height - 1);
        var first = (int)Math.Min(fromPage / span, Fanout);
        byte[] node;
        try
        {
            node = source.Read(root, BlockKind.IndexNode);
        }
        catch (MetadataException ex) when (unreadable != null)
        {
            unreadable(firstPage + (ulong)first * span, (ulong)(Fanout - first) * span, ex);
            node = [];
        }
        if (node.Length == 0) yield break;
        for (var slot = first; slot < Fanout; slot++)
        {
            var child = Child(node, slot);
            if (child == 0) continue;
            var basePage = (ulong)slot * span;
            var childFrom = fromPage > basePage ? fromPage - basePage : 0;
            foreach (var item in Leaves(source, child, height - 1, firstPage + basePage, childFrom, unreadable))
                yield return item;
        }
    }

    /// <summary>Calls visit for every block of the tree (index nodes are read and checked, pages are not).</summary>
    public static void VisitBlocks(IBlockSource source, ulong root, int height, Action<ulong> visit)
    {
        if (root == 0) return;
        visit(root);
        if (height == 0) return;
        var node = source.Read(root, BlockKind.IndexNode);
        for (var slot = 0; slot < Fanout; slot++)
        {
            var child = Child(node, slot);
            if (child != 0) VisitBlocks(source, child, height - 1, visit);
        }
    }

    /// <summary>Frees every block of the tree (pinned ones stay with the snapshot).</summary>
    public static void FreeTree(MetadataSpace space, ulong root, int height)
    {
        var blocks = new List<ulong>();
        VisitBlocks(space, root, height, blocks.Add);
        foreach (var block in blocks) space.Free(block);
    }
}

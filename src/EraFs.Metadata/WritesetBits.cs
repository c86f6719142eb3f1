using System.Runtime.InteropServices;
using EraFs.Core;

namespace EraFs.Metadata;

/// <summary>A writeset stored as a sparse bitset tree: bit b set means block b was written in that era.</summary>
internal static class WritesetBits
{
    private const int Height = BlockFormat.BitsetTreeHeight;
    private const ulong PerPage = BlockFormat.BitsPerPage;

    public static void SetRun(MetadataSpace space, ref ulong root, BlockRun run)
    {
        var position = run.Start;
        while (position < run.End)
        {
            var page = position / PerPage;
            var pageEnd = Math.Min(run.End, (page + 1) * PerPage);
            var data = PagedTree.WritableLeaf(space, ref root, Height, page, BlockKind.BitsetPage);
            SetBits(data.AsSpan(BlockFormat.HeaderSize), (int)(position - page * PerPage), (int)(pageEnd - position));
            position = pageEnd;
        }
    }

    /// <summary>Clears every bit at or above nrBits.</summary>
    public static void Truncate(MetadataSpace space, ref ulong root, ulong nrBits)
    {
        var pages = PagedTree.Leaves(space, root, Height, nrBits / PerPage).ToList();
        foreach (var (page, _) in pages)
        {
            var keepBits = nrBits > page * PerPage ? (int)(nrBits - page * PerPage) : 0;
            if (keepBits == 0) PagedTree.RemoveLeaf(space, ref root, Height, page);
            else ClearBitsFrom(PagedTree.WritableLeaf(space, ref root, Height, page, BlockKind.BitsetPage), keepBits);
        }
    }

    public static void FreeAll(MetadataSpace space, ulong root) => PagedTree.FreeTree(space, root, Height);

    public static void Visit(IBlockSource source, ulong root, Action<ulong> visit) =>
        PagedTree.VisitBlocks(source, root, Height, visit);

    /// <summary>
    /// Set runs below nrBits starting at or after fromBit, ascending and maximal, read lazily. With
    /// <paramref name="unreadable"/>, bits whose page (or index node) cannot be read are reported and
    /// skipped; the caller must not take them for clear.
    /// </summary>
    public static IEnumerable<BlockRun> Runs(IBlockSource source, ulong root, ulong nrBits, ulong fromBit = 0,
        Action<BlockRun, MetadataException>? unreadable = null)
    {
        ulong runStart = 0, runEnd = 0;
        Action<ulong, ulong, MetadataException>? onNode = unreadable == null ? null : (firstPage, pages, ex) =>
        {
            var start = firstPage * PerPage;
            if (start < nrBits) unreadable(new BlockRun(start, Math.Min(nrBits - start, pages * PerPage)), ex);
        };
        foreach (var (page, leaf) in PagedTree.Leaves(source, root, Height, fromBit / PerPage, onNode))
        {
            var pageBase = page * PerPage;
            if (pageBase >= nrBits) break;
            byte[] data;
            try
            {
                data = source.Read(leaf, BlockKind.BitsetPage);
            }
            catch (MetadataException ex) when (onNode != null)
            {
                onNode(page, 1, ex);
                continue;
            }
            foreach (var (start, count) in RunsInPage(data, Math.Min(PerPage, nrBits - pageBase)))
            {
                var s = pageBase + start;
                var e = s + count;
                if (e <= fromBit) continue;
                s = Math.Max(s, fromBit);
                if (runEnd == s) { runEnd = e; continue; }
                if (runEnd > runStart) yield return new BlockRun(runStart, runEnd - runStart);
                runStart = s;
                runEnd = e;
            }
        }
        if (runEnd > runStart) yield return new BlockRun(runStart, runEnd - runStart);
    }

    /// <summary>Set runs of one page among its first limit bits.</summary>
    public static List<(ulong Start, ulong Count)> RunsInPage(byte[] page, ulong limit)
    {
        var runs = new List<BlockRun>();
        BitRuns.Append(MemoryMarshal.Cast<byte, ulong>(page.AsSpan(BlockFormat.HeaderSize, BlockFormat.PayloadSize)), limit, 0, runs);
        return runs.ConvertAll(r => (r.Start, r.Count));
    }

    private static void SetBits(Span<byte> bits, int from, int count)
    {
        var end = from + count;
        var i = from;
        for (; i < end && i % 8 != 0; i++) bits[i / 8] |= (byte)(1 << (i % 8));
        var wholeBytes = (end - i) / 8;
        bits.Slice(i / 8, wholeBytes).Fill(0xFF);
        i += wholeBytes * 8;
        for (; i < end; i++) bits[i / 8] |= (byte)(1 << (i % 8));
    }

    private static void ClearBitsFrom(byte[] page, int keepBits)
    {
        var bits = page.AsSpan(BlockFormat.HeaderSize);
        var i = keepBits;
        for (; i % 8 != 0; i++) bits[i / 8] &= (byte)~(1 << (i % 8));
        bits[(i / 8)..].Clear();
    }
}

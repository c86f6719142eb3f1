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

    /// <summary>Set runs below nrBits starting at or after fromBit, ascending and maximal, read lazily.</summary>
    public static IEnumerable<BlockRun> Runs(IBlockSource source, ulong root, ulong nrBits, ulong fromBit = 0)
    {
        ulong runStart = 0, runEnd = 0;
        foreach (var (page, leaf) in PagedTree.Leaves(source, root, Height, fromBit / PerPage))
        {
            var pageBase = page * PerPage;
            if (pageBase >= nrBits) break;
            var data = source.Read(leaf, BlockKind.BitsetPage);
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
        var runs = new List<(ulong, ulong)>();
        var words = page.AsSpan(BlockFormat.HeaderSize);
        ulong bit = 0;
        long runStart = -1;
        for (var w = 0; w < words.Length / 8 && bit < limit; w++, bit += 64)
        {
            var word = BitConverter.ToUInt64(words.Slice(w * 8, 8));
            if (word == 0 && runStart < 0) continue;
            if (word == ulong.MaxValue && runStart >= 0) continue;
            for (var i = 0; i < 64; i++)
            {
                var set = (word >> i & 1) != 0 && bit + (ulong)i < limit;
                if (set && runStart < 0) runStart = (long)bit + i;
                else if (!set && runStart >= 0)
                {
                    runs.Add(((ulong)runStart, bit + (ulong)i - (ulong)runStart));
                    runStart = -1;
                }
            }
        }
        if (runStart >= 0) runs.Add(((ulong)runStart, Math.Min(limit, bit) - (ulong)runStart));
        return runs;
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

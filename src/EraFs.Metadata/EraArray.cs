using System.Runtime.InteropServices;
using EraFs.Core;

namespace EraFs.Metadata;

/// <summary>The era array as a sparse paged tree of u32 entries; an absent page is all era 0.</summary>
internal static class EraArray
{
    private const int Height = BlockFormat.EraTreeHeight;
    private const ulong PerPage = BlockFormat.ErasPerPage;

    public static void SetEra(MetadataSpace space, ref ulong root, BlockRun run, uint era)
    {
        var position = run.Start;
        while (position < run.End)
        {
            var page = position / PerPage;
            var pageEnd = Math.Min(run.End, (page + 1) * PerPage);
            var data = PagedTree.WritableLeaf(space, ref root, Height, page, BlockKind.EraPage);
            Entries(data).Slice((int)(position - page * PerPage), (int)(pageEnd - position)).Fill(era);
            position = pageEnd;
        }
    }

    /// <summary>Forgets entries at or above nrBlocks, so a later grow starts them at era 0.</summary>
    public static void Truncate(MetadataSpace space, ref ulong root, ulong nrBlocks)
    {
        var pages = PagedTree.Leaves(space, root, Height, nrBlocks / PerPage).ToList();
        foreach (var (page, _) in pages)
        {
            var keep = nrBlocks > page * PerPage ? (int)(nrBlocks - page * PerPage) : 0;
            if (keep == 0) PagedTree.RemoveLeaf(space, ref root, Height, page);
            else PagedTree.WritableLeaf(space, ref root, Height, page, BlockKind.EraPage).AsSpan(Offset((ulong)keep)).Clear();
        }
    }

    public static void Visit(IBlockSource source, ulong root, Action<ulong> visit) =>
        PagedTree.VisitBlocks(source, root, Height, visit);

    /// <summary>
    /// Runs of equal era covering [fromBlock, nrBlocks), ascending, read lazily. With
    /// <paramref name="unreadable"/>, blocks whose page (or index node) cannot be read are reported and
    /// read as era 0; the caller must not take that 0 for "never written".
    /// </summary>
    public static IEnumerable<EraRun> Runs(IBlockSource source, ulong root, ulong nrBlocks, ulong fromBlock = 0,
        Action<BlockRun, MetadataException>? unreadable = null)
    {
        var pending = new EraRun(fromBlock, 0, 0);
        var next = fromBlock;
        var onNode = unreadable == null ? null : PageRange(nrBlocks, unreadable);
        foreach (var (page, leaf) in PagedTree.Leaves(source, root, Height, fromBlock / PerPage, onNode))
        {
            var pageBase = page * PerPage;
            if (pageBase >= nrBlocks) break;
            var data = ReadPage(source, leaf, page, nrBlocks, unreadable);
            if (data == null) continue;
            if (pageBase > next)
            {
                if (pending.Era == 0) pending = pending with { Count = pageBase - pending.Start };
                else
                {
                    yield return pending;
                    pending = new EraRun(next, pageBase - next, 0);
                }
                next = pageBase;
            }
            var pageEnd = Math.Min(pageBase + PerPage, nrBlocks);
            var entries = Entries(data).ToArray();
            var i = (int)(next - pageBase);
            var end = (int)(pageEnd - pageBase);
            while (i < end)
            {
                var era = entries[i];
                var length = entries.AsSpan(i, end - i).IndexOfAnyExcept(era);
                if (length < 0) length = end - i;
                var start = pageBase + (ulong)i;
                if (era == pending.Era && pending.End == start) pending = pending with { Count = pending.Count + (ulong)length };
                else
                {
                    if (pending.Count > 0) yield return pending;
                    pending = new EraRun(start, (ulong)length, era);
                }
                i += length;
            }
            next = pageEnd;
        }
        if (next < nrBlocks)
        {
            if (pending.Era == 0 && pending.End == next) pending = pending with { Count = nrBlocks - pending.Start };
            else
            {
                if (pending.Count > 0) yield return pending;
                pending = new EraRun(next, nrBlocks - next, 0);
            }
        }
        if (pending.Count > 0) yield return pending;
    }

    /// <summary>Turns unreadable pages into the blocks they hold, within the tracked ones.</summary>
    private static Action<ulong, ulong, MetadataException> PageRange(ulong nrBlocks, Action<BlockRun, MetadataException> unreadable) =>
        (firstPage, pages, ex) =>
        {
            var start = firstPage * PerPage;
            if (start >= nrBlocks) return;
            unreadable(new BlockRun(start, Math.Min(nrBlocks - start, pages * PerPage)), ex);
        };

    private static byte[]? ReadPage(IBlockSource source, ulong leaf, ulong page, ulong nrBlocks, Action<BlockRun, MetadataException>? unreadable)
    {
        try
        {
            return source.Read(leaf, BlockKind.EraPage);
        }
        catch (MetadataException ex) when (unreadable != null)
        {
            PageRange(nrBlocks, unreadable)(page, 1, ex);
            return null;
        }
    }

    private static int Offset(ulong slot) => BlockFormat.HeaderSize + (int)slot * 4;

    /// <summary>The page's entries; on-disk order is little-endian, as every supported host is.</summary>
    private static Span<uint> Entries(byte[] page) =>
        MemoryMarshal.Cast<byte, uint>(page.AsSpan(BlockFormat.HeaderSize, BlockFormat.ErasPerPage * 4));
}

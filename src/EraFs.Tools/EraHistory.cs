using EraFs.Core;
using EraFs.Metadata;

namespace EraFs.Tools;

/// <summary>
/// The writeset of one era: bit b set means block b was written in that era. Bits are kept as
/// dm_bitset words (bit b is bit b%64 of word b/64) so every format converts without reshuffling.
/// </summary>
public sealed record EraWriteset(uint Era, ulong NrBits, ulong[] Words)
{
    public static EraWriteset Empty(uint era, ulong nrBits) => new(era, nrBits, new ulong[(nrBits + 63) / 64]);

    public static EraWriteset FromRuns(uint era, ulong nrBits, IEnumerable<BlockRun> runs)
    {
        var ws = Empty(era, nrBits);
        foreach (var run in runs) ws.Set(run);
        return ws;
    }

    /// <summary>Sets the run's bits below NrBits.</summary>
    public void Set(BlockRun run)
    {
        for (var b = run.Start; b < Math.Min(run.End, NrBits); b++) Set(b);
    }

    public bool IsSet(ulong block) => block < NrBits && (Words[block / 64] >> (int)(block % 64) & 1) != 0;

    public void Set(ulong block) => Words[block / 64] |= 1UL << (int)(block % 64);

    public bool IsEmpty => Array.TrueForAll(Words, w => w == 0);

    public ulong Count => BitRuns.Count(Words, NrBits);

    /// <summary>Maximal runs of set bits, ascending.</summary>
    public IEnumerable<BlockRun> Runs()
    {
        var runs = new List<BlockRun>();
        BitRuns.Append(Words, NrBits, 0, runs);
        return runs;
    }
}

/// <summary>
/// One consistent view of an era history: the current era, the writesets not yet folded into the era
/// array (ascending; the live view's last one may be the current era's own, not yet archived) and the
/// era array (one entry per block).
/// </summary>
public sealed record EraState(uint CurrentEra, IReadOnlyList<EraWriteset> Writesets, uint[] Eras)
{
    /// <summary>Drives a visitor through this view, in the order the XML lists it.</summary>
    public void Accept(IEraHistoryVisitor visitor, uint blockSizeSectors) =>
        StreamedView.FromDense(this).Accept(visitor, blockSizeSectors, (ulong)Eras.Length);
}

/// <summary>
/// An era history in a format-neutral form (the IR every tool shares): geometry, the live view and,
/// when one is held, the metadata snapshot's view.
/// </summary>
public sealed record EraHistory(uint BlockSizeSectors, ulong NrBlocks, EraState Live, EraState? Snapshot)
{
    public uint BlockSizeBytes => BlockSizeSectors * 512;
}

/// <summary>
/// Receives an era history in XML order. Run streams are read lazily from their source: a visitor
/// consumes each before returning and must not keep it. Native and dm-era sources give ascending
/// maximal runs; the XML reader gives them in document order.
/// </summary>
public interface IEraHistoryVisitor
{
    void BeginSuperblock(uint blockSizeSectors, ulong nrBlocks, uint currentEra);

    /// <summary>One writeset: the set runs among its first <paramref name="nrBits"/> blocks.</summary>
    void Writeset(uint era, ulong nrBits, IEnumerable<BlockRun> runs);

    /// <summary>The era array as runs of equal era; blocks no run covers are era 0.</summary>
    void EraArray(IEnumerable<EraRun> runs);

    void EndSuperblock();
}

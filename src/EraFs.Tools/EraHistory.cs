using EraFs.Core;
using EraFs.Metadata;

namespace EraFs.Tools;

/// <summary>
/// The writeset of one era in memory: bit b set means block b was written in that era. A Core
/// <see cref="Bitset"/>, whose words are dm_bitset's (bit b is bit b%64 of word b/64), so every
/// format converts without reshuffling.
/// </summary>
public sealed class EraWriteset(uint era, Bitset bits)
{
    public uint Era { get; } = era;

    public Bitset Bits { get; } = bits;

    public ulong NrBits => Bits.Length;

    public static EraWriteset Empty(uint era, ulong nrBits) => new(era, new Bitset(nrBits));

    public static EraWriteset FromRuns(uint era, ulong nrBits, IEnumerable<BlockRun> runs)
    {
        var ws = Empty(era, nrBits);
        foreach (var run in runs) ws.Set(run);
        return ws;
    }

    /// <summary>Sets the run's bits below NrBits.</summary>
    public void Set(BlockRun run) => Bits.SetRange(run.Start, run.Count);

    public bool IsSet(ulong block) => block < NrBits && Bits[block];

    public void Set(ulong block) => Bits[block] = true;

    public bool IsEmpty => Bits.IsEmpty;

    public ulong Count => Bits.PopCount();

    /// <summary>Maximal runs of set bits, ascending.</summary>
    public IEnumerable<BlockRun> Runs() => Bits.Runs();
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

namespace EraFs.Core;

/// <summary>A run of consecutive tracking blocks: [Start, Start + Count).</summary>
public readonly record struct BlockRun(ulong Start, ulong Count)
{
    public ulong End => Start + Count;
}

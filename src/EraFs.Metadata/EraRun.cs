namespace EraFs.Metadata;

/// <summary>Consecutive tracking blocks whose era-array entry is the same era (0 = never written in a digested era).</summary>
public readonly record struct EraRun(ulong Start, ulong Count, uint Era)
{
    public ulong End => Start + Count;
}

namespace EraFs.Metadata;

/// <summary>
/// The writeset of a finished era: blocks [0, NrBits) whose bit is set in the bitset tree at Root were
/// written during Era. DigestedPages counts leading bitset pages already folded into the era array.
/// </summary>
public sealed record ArchivedWriteset(uint Era, ulong NrBits, ulong Root, ulong DigestedPages);

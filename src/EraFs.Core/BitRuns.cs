using System.Numerics;

namespace EraFs.Core;

/// <summary>The one scan for set and clear bits in little-endian 64-bit words (bit b is bit b % 64 of word b / 64), a word at a time.</summary>
/// <remarks>
/// Every bitset in EraFs, in native memory, in managed words or on a metadata page, has this bit order,
/// so each finds its runs here; only where the words live differs.
/// </remarks>
public static class BitRuns
{
    /// <summary>The first set bit at or after <paramref name="from"/> among the first <paramref name="limit"/> bits, or <paramref name="limit"/>.</summary>
    public static ulong NextSet(ReadOnlySpan<ulong> words, ulong from, ulong limit) => Next(words, from, limit, 0);

    /// <summary>The first clear bit at or after <paramref name="from"/> among the first <paramref name="limit"/> bits, or <paramref name="limit"/>.</summary>
    public static ulong NextClear(ReadOnlySpan<ulong> words, ulong from, ulong limit) => Next(words, from, limit, ulong.MaxValue);

    /// <summary>
    /// Appends the maximal runs of set bits among the first <paramref name="limit"/> bits, shifted by
    /// <paramref name="baseBit"/>; a run that continues the list's last run is merged into it, so
    /// scanning consecutive pages into one list yields maximal runs across them.
    /// </summary>
    public static void Append(ReadOnlySpan<ulong> words, ulong limit, ulong baseBit, List<BlockRun> runs)
    {
        limit = Math.Min(limit, (ulong)words.Length * 64);
        var start = NextSet(words, 0, limit);
        while (start < limit)
        {
            var end = NextClear(words, start, limit);
            var run = new BlockRun(baseBit + start, end - start);
            if (runs.Count > 0 && runs[^1].End == run.Start) runs[^1] = new BlockRun(runs[^1].Start, runs[^1].Count + run.Count);
            else runs.Add(run);
            start = end < limit ? NextSet(words, end, limit) : limit;
        }
    }

    /// <summary>The number of set bits among the first <paramref name="limit"/> bits.</summary>
    public static ulong Count(ReadOnlySpan<ulong> words, ulong limit)
    {
        limit = Math.Min(limit, (ulong)words.Length * 64);
        var whole = (int)(limit / 64);
        ulong n = 0;
        foreach (var w in words[..whole]) n += (ulong)BitOperations.PopCount(w);
        var tail = (int)(limit % 64);
        if (tail != 0) n += (ulong)BitOperations.PopCount(words[whole] & ((1UL << tail) - 1));
        return n;
    }

    // Scans for the first bit that differs from `skip`'s bits (0 for set bits, all ones for clear bits):
    // whole words equal to `skip` are passed over by a vectorised search.
    private static ulong Next(ReadOnlySpan<ulong> words, ulong from, ulong limit, ulong skip)
    {
        limit = Math.Min(limit, (ulong)words.Length * 64);
        if (from >= limit) return limit;
        var w = (int)(from / 64);
        var bits = (words[w] ^ skip) & (ulong.MaxValue << (int)(from % 64));
        if (bits == 0)
        {
            var lastWord = (int)((limit - 1) / 64);
            var found = words[(w + 1)..(lastWord + 1)].IndexOfAnyExcept(skip);
            if (found < 0) return limit;
            w += 1 + found;
            bits = words[w] ^ skip;
        }
        return Math.Min((ulong)w * 64 + (ulong)BitOperations.TrailingZeroCount(bits), limit);
    }
}

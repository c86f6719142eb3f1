using System.Numerics;

namespace EraFs.Metadata;

/// <summary>A growable set of metadata block numbers (one bit per 4 KiB block of the file).</summary>
internal sealed class BlockBitmap
{
    private ulong[] _words = new ulong[64];

    public ulong Count { get; private set; }

    public bool Contains(ulong blockNr) =>
        blockNr / 64 < (ulong)_words.Length && (_words[blockNr / 64] & (1UL << (int)(blockNr % 64))) != 0;

    /// <summary>Adds the block; false when it was already present.</summary>
    public bool Add(ulong blockNr)
    {
        var word = blockNr / 64;
        if (word >= (ulong)_words.Length) Array.Resize(ref _words, (int)Math.Max(word + 1, (ulong)_words.Length * 2));
        var mask = 1UL << (int)(blockNr % 64);
        if ((_words[word] & mask) != 0) return false;
        _words[word] |= mask;
        Count++;
        return true;
    }

    public void Remove(ulong blockNr)
    {
        if (!Contains(blockNr)) return;
        _words[blockNr / 64] &= ~(1UL << (int)(blockNr % 64));
        Count--;
    }

    public void Clear()
    {
        Array.Clear(_words);
        Count = 0;
    }

    /// <summary>The lowest absent block number at or above from.</summary>
    public ulong FirstAbsentFrom(ulong from)
    {
        var word = from / 64;
        if (word >= (ulong)_words.Length) return from;
        var bits = ~_words[word] & (ulong.MaxValue << (int)(from % 64));
        while (bits == 0)
        {
            word++;
            if (word >= (ulong)_words.Length) return word * 64;
            bits = ~_words[word];
        }
        return word * 64 + (ulong)BitOperations.TrailingZeroCount(bits);
    }
}

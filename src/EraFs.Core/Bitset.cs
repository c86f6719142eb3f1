using System.Buffers.Binary;

namespace EraFs.Core;

/// <summary>A bitset in managed 64-bit words whose runs and counts come from <see cref="BitRuns"/>; its little-endian bytes are dm's on-disk bitmaps.</summary>
/// <remarks>
/// The region log's bitmaps, a writeset read into memory and the metadata space map's used blocks are
/// all this type; the era tracker's per-block bitset is <c>BlockBitset</c> only because it lives in
/// native memory that pages no write touched never fault in. Bits at or above <see cref="Length"/> are
/// always clear, so whole-word scans and popcounts need no masking.
/// </remarks>
public sealed class Bitset
{
    private ulong[] _words;

    public Bitset(ulong length)
    {
        Length = length;
        _words = new ulong[WordsFor(length)];
    }

    public ulong Length { get; private set; }

    /// <summary>The words, bit b at bit b % 64 of word b / 64; bits past <see cref="Length"/> are clear.</summary>
    public ReadOnlySpan<ulong> Words => _words;

    public bool this[ulong bit]
    {
        get
        {
            CheckBit(bit);
            return (_words[bit / 64] & (1UL << (int)(bit % 64))) != 0;
        }
        set
        {
            CheckBit(bit);
            if (value) _words[bit / 64] |= 1UL << (int)(bit % 64);
            else _words[bit / 64] &= ~(1UL << (int)(bit % 64));
        }
    }

    /// <summary>Sets the bits of [start, start + count) that lie below <see cref="Length"/>.</summary>
    public void SetRange(ulong start, ulong count)
    {
        var end = Math.Min(Length, start + count);
        for (var b = start; b < end;)
        {
            var w = (int)(b / 64);
            var wordEnd = Math.Min(end, ((ulong)w + 1) * 64);
            var width = (int)(wordEnd - b);
            _words[w] |= (width == 64 ? ulong.MaxValue : (1UL << width) - 1) << (int)(b % 64);
            b = wordEnd;
        }
    }

    public void SetAll(bool value)
    {
        Array.Fill(_words, value ? ulong.MaxValue : 0UL);
        ClearPastLength();
    }

    /// <summary>Grows to at least <paramref name="length"/> bits, the new ones clear.</summary>
    public void GrowTo(ulong length)
    {
        if (length <= Length) return;
        if (WordsFor(length) > (ulong)_words.Length) Array.Resize(ref _words, (int)Math.Max(WordsFor(length), (ulong)_words.Length * 2));
        Length = length;
    }

    public ulong PopCount() => BitRuns.Count(_words, Length);

    public bool IsEmpty => _words.AsSpan().IndexOfAnyExcept(0UL) < 0;

    public ulong NextSet(ulong from) => BitRuns.NextSet(_words, from, Length);

    public ulong NextClear(ulong from) => BitRuns.NextClear(_words, from, Length);

    /// <summary>Maximal runs of set bits, ascending.</summary>
    public List<BlockRun> Runs()
    {
        var runs = new List<BlockRun>();
        BitRuns.Append(_words, Length, 0, runs);
        return runs;
    }

    /// <summary>Word <paramref name="index"/> as stored (bit b at bit b % 64 of word b / 64).</summary>
    public ulong Word(int index) => (ulong)index < WordsFor(Length)
        ? _words[index]
        : throw new ArgumentOutOfRangeException(nameof(index), $"word {index} lies past the {Length} bits");

    /// <summary>Sets word <paramref name="index"/>, dropping its bits at or past <see cref="Length"/>.</summary>
    public void SetWord(int index, ulong value)
    {
        if ((ulong)index >= WordsFor(Length)) throw new ArgumentOutOfRangeException(nameof(index), $"word {index} lies past the {Length} bits");
        _words[index] = value;
        if ((ulong)index == WordsFor(Length) - 1) ClearPastLength();
    }

    /// <summary>Sets every bit set in <paramref name="other"/> that lies below this bitset's length.</summary>
    public void UnionWith(Bitset other)
    {
        var n = Math.Min(_words.Length, other._words.Length);
        for (var i = 0; i < n; i++) _words[i] |= other._words[i];
        ClearPastLength();
    }

    /// <summary>The number of 64-bit words that hold <see cref="Length"/> bits.</summary>
    public int WordCount => (int)WordsFor(Length);

    public void CopyFrom(Bitset other)
    {
        if (other.Length != Length) throw new ArgumentException($"cannot copy a bitset of {other.Length} bits into one of {Length}");
        other._words.CopyTo(_words, 0);
    }

    /// <summary>Writes the first <paramref name="destination"/>.Length bytes of the little-endian words (bit b at byte b / 8, bit b % 8).</summary>
    public void WriteTo(Span<byte> destination)
    {
        Span<byte> word = stackalloc byte[8];
        for (var i = 0; i < destination.Length; i += 8)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(word, i / 8 < _words.Length ? _words[i / 8] : 0);
            word[..Math.Min(8, destination.Length - i)].CopyTo(destination[i..]);
        }
    }

    /// <summary>Reads bytes written by <see cref="WriteTo"/>; bits past <see cref="Length"/> in them are dropped.</summary>
    public void ReadFrom(ReadOnlySpan<byte> source)
    {
        Span<byte> word = stackalloc byte[8];
        Array.Clear(_words);
        for (var i = 0; i < source.Length && i / 8 < _words.Length; i += 8)
        {
            word.Clear();
            source[i..Math.Min(source.Length, i + 8)].CopyTo(word);
            _words[i / 8] = BinaryPrimitives.ReadUInt64LittleEndian(word);
        }
        ClearPastLength();
    }

    private static ulong WordsFor(ulong bits) => (bits + 63) / 64;

    private void ClearPastLength()
    {
        var used = (int)WordsFor(Length);
        Array.Clear(_words, used, _words.Length - used);
        if (Length % 64 != 0) _words[used - 1] &= (1UL << (int)(Length % 64)) - 1;
    }

    private void CheckBit(ulong bit)
    {
        if (bit >= Length) throw new ArgumentOutOfRangeException(nameof(bit), $"bit {bit} is outside [0, {Length})");
    }
}

using System.Numerics;
using System.Runtime.InteropServices;

namespace EraFs.Core;

/// <summary>One bit per tracking block, kept in zeroed native memory so pages no block touched cost no resident memory.</summary>
/// <remarks>
/// Readers may test bits from any thread without a lock. Each instance must have a single writer at a
/// time (the tracker's worker, or whoever holds the tracker's lock), because the chunk summary used by
/// <see cref="ClearAll"/> is updated without synchronisation.
/// </remarks>
internal sealed unsafe class BlockBitset : IDisposable
{
    // One summary bit per page of words: clearing then only zeroes pages that were written, so an era
    // change does not fault in the whole (possibly 256 MiB) bitmap.
    private const ulong WordsPerChunk = 512;

    private ulong* _words;
    private readonly ulong _wordCount;
    private readonly ulong[] _touchedChunks;

    public BlockBitset(ulong length)
    {
        Length = length;
        _wordCount = (length + 63) / 64;
        _words = (ulong*)NativeMemory.AllocZeroed((nuint)Math.Max(_wordCount, 1), sizeof(ulong));
        var chunks = (_wordCount + WordsPerChunk - 1) / WordsPerChunk;
        _touchedChunks = new ulong[(chunks + 63) / 64];
    }

    public ulong Length { get; }

    public bool IsSet(ulong bit)
    {
        CheckRange(bit, 1);
        return (Volatile.Read(ref _words[bit >> 6]) & (1UL << (int)(bit & 63))) != 0;
    }

    /// <summary>True when every bit of [start, start + count) is set; an empty range counts as set.</summary>
    public bool AllSet(ulong start, ulong count)
    {
        if (count == 0) return true;
        CheckRange(start, count);
        var last = start + count - 1;
        var firstWord = start >> 6;
        var lastWord = last >> 6;
        for (var w = firstWord; w <= lastWord; w++)
        {
            var mask = MaskFor(w, firstWord, lastWord, start, last);
            if ((Volatile.Read(ref _words[w]) & mask) != mask) return false;
        }
        return true;
    }

    /// <summary>Sets every bit of the range; returns how many were clear before.</summary>
    public ulong SetRange(ulong start, ulong count)
    {
        if (count == 0) return 0;
        CheckRange(start, count);
        var last = start + count - 1;
        var firstWord = start >> 6;
        var lastWord = last >> 6;
        ulong newlySet = 0;
        for (var w = firstWord; w <= lastWord; w++)
        {
            var mask = MaskFor(w, firstWord, lastWord, start, last);
            var before = Interlocked.Or(ref _words[w], mask);
            newlySet += (ulong)BitOperations.PopCount(mask & ~before);
            var chunk = w / WordsPerChunk;
            _touchedChunks[chunk >> 6] |= 1UL << (int)(chunk & 63);
        }
        return newlySet;
    }

    /// <summary>Clears every bit, zeroing only the pages that were ever set since the last clear.</summary>
    public void ClearAll()
    {
        for (var i = 0; i < _touchedChunks.Length; i++)
        {
            var summary = _touchedChunks[i];
            while (summary != 0)
            {
                var bit = (ulong)BitOperations.TrailingZeroCount(summary);
                summary &= summary - 1;
                var firstWord = ((ulong)i * 64 + bit) * WordsPerChunk;
                var words = Math.Min(WordsPerChunk, _wordCount - firstWord);
                NativeMemory.Clear(_words + firstWord, (nuint)(words * sizeof(ulong)));
            }
            _touchedChunks[i] = 0;
        }
        Interlocked.MemoryBarrier();
    }

    public void Dispose()
    {
        if (_words == null) return;
        NativeMemory.Free(_words);
        _words = null;
    }

    private static ulong MaskFor(ulong word, ulong firstWord, ulong lastWord, ulong first, ulong last)
    {
        var mask = ulong.MaxValue;
        if (word == firstWord) mask &= ulong.MaxValue << (int)(first & 63);
        if (word == lastWord) mask &= ulong.MaxValue >> (int)(63 - (last & 63));
        return mask;
    }

    private void CheckRange(ulong start, ulong count)
    {
        ObjectDisposedException.ThrowIf(_words == null, this);
        if (start >= Length || count > Length - start)
            throw new ArgumentOutOfRangeException(nameof(start), $"blocks [{start}, {start + count}) are outside [0, {Length})");
    }
}

using System.Numerics;

namespace EraFs.RegionLog;

/// <summary>
/// A bitset in dm-log's in-memory shape: round_up(count, 32) bits in 32-bit words, bit r at word r/32,
/// mask 1 &lt;&lt; (r % 32), so its little-endian bytes are exactly the on-disk bitmap.
/// </summary>
internal sealed class RegionBits(ulong count)
{
    private readonly uint[] _words = new uint[(count + 31) / 32];

    public ulong Count { get; } = count;

    /// <summary>Bytes the bitmap takes on disk: round_up(count, 32) / 8.</summary>
    public int ByteLength => _words.Length * 4;

    public bool Get(ulong r) => (_words[r / 32] & (1u << (int)(r % 32))) != 0;

    public void Set(ulong r, bool value)
    {
        if (value) _words[r / 32] |= 1u << (int)(r % 32);
        else _words[r / 32] &= ~(1u << (int)(r % 32));
    }

    public void SetAll(bool value)
    {
        Array.Fill(_words, value ? uint.MaxValue : 0u);
        ClearPadding();
    }

    /// <summary>dm-log clears the bits past the last region up to the 32-bit boundary.</summary>
    public void ClearPadding()
    {
        var tail = (int)(Count % 32);
        if (tail != 0) _words[^1] &= (1u << tail) - 1;
    }

    public ulong PopCount()
    {
        ulong n = 0;
        foreach (var w in _words) n += (ulong)BitOperations.PopCount(w);
        return n;
    }

    /// <summary>First region at or after start whose bit is clear, or Count.</summary>
    public ulong NextClear(ulong start)
    {
        for (var r = start; r < Count; r++)
        {
            var w = _words[r / 32];
            if (w == uint.MaxValue && r % 32 == 0)
            {
                r += 31;
                continue;
            }
            if (!Get(r)) return r;
        }
        return Count;
    }

    public void CopyFrom(RegionBits other) => other._words.CopyTo(_words, 0);

    public void WriteTo(Span<byte> destination)
    {
        for (var i = 0; i < _words.Length; i++)
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(destination[(i * 4)..], _words[i]);
    }

    public void ReadFrom(ReadOnlySpan<byte> source)
    {
        for (var i = 0; i < _words.Length; i++)
            _words[i] = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(source[(i * 4)..]);
    }
}

using EraFs.Core;

namespace EraFs.Metadata;

/// <summary>A growable set of metadata block numbers (one bit per 4 KiB block of the file).</summary>
internal sealed class BlockBitmap
{
    private readonly Bitset _bits = new(64 * 64);

    public ulong Count { get; private set; }

    public bool Contains(ulong blockNr) => blockNr < _bits.Length && _bits[blockNr];

    /// <summary>Adds the block; false when it was already present.</summary>
    public bool Add(ulong blockNr)
    {
        _bits.GrowTo(blockNr + 1);
        if (_bits[blockNr]) return false;
        _bits[blockNr] = true;
        Count++;
        return true;
    }

    public void Remove(ulong blockNr)
    {
        if (!Contains(blockNr)) return;
        _bits[blockNr] = false;
        Count--;
    }

    public void Clear()
    {
        _bits.SetAll(false);
        Count = 0;
    }

    /// <summary>The lowest absent block number at or above from.</summary>
    public ulong FirstAbsentFrom(ulong from) => from >= _bits.Length ? from : _bits.NextClear(from);
}

using EraFs.Core;

namespace EraFs.Metadata;

/// <summary>
/// Block allocation and the copy-on-write transaction for the writer. A block reachable from the
/// newest durable superblock is never written: changing it means copying it to a fresh block
/// (<see cref="Writable"/>). Blocks the new state stops using become free only once the new
/// superblock is durable (<see cref="Committed"/>); blocks reachable from the held snapshot are
/// pinned and never freed while it is held.
/// </summary>
internal sealed class MetadataSpace(IBlockDevice device, ulong totalBlocks) : IBlockSource
{
    private const int CleanCacheLimit = 4096;

    /// <summary>Fresh pages a file being made keeps in memory before writing them ahead (8 MiB).</summary>
    private const int WriteAheadThreshold = 2048;

    private readonly BlockBitmap _used = new();
    private readonly BlockBitmap _pinned = new();
    private readonly Dictionary<ulong, (byte[] Data, BlockKind Kind)> _fresh = [];
    private readonly BlockBitmap _writtenAhead = new();
    private readonly Stack<byte[]> _spareBuffers = new();
    private const int MaxGathered = 64;
    private byte[]? _gathered;
    private readonly List<ulong> _releasedOnCommit = [];
    private readonly Dictionary<ulong, byte[]> _clean = [];
    private ulong _searchFrom;

    public IBlockDevice Device => device;
    public string FileName => device.Name;
    public ulong TotalBlocks { get; private set; } = totalBlocks;
    public ulong UsedBlocks => _used.Count;
    public bool HasFreshBlocks => _fresh.Count > 0 || _writtenAhead.Count > 0;

    /// <summary>Marks a block as used by the durable state (reachability walk); false if it already was.</summary>
    public bool MarkReachable(ulong blockNr)
    {
        if (blockNr >= TotalBlocks) TotalBlocks = blockNr + 1;
        return _used.Add(blockNr);
    }

    public void Pin(ulong blockNr) => _pinned.Add(blockNr);

    /// <summary>Forgets all usage, before a new reachability walk.</summary>
    public void ResetUsage()
    {
        _used.Clear();
        _pinned.Clear();
        _searchFrom = 0;
    }

    public byte[] Read(ulong blockNr, BlockKind kind)
    {
        if (_fresh.TryGetValue(blockNr, out var fresh)) return fresh.Data;
        if (_clean.TryGetValue(blockNr, out var cached)) return cached;
        if (blockNr < Superblock.SlotCount || blockNr >= TotalBlocks)
            throw BlockFormat.Corrupt(device.Name, blockNr, kind, $"pointer outside the metadata (file has {TotalBlocks} blocks)");
        var buffer = new byte[BlockFormat.BlockSize];
        BlockIo.ReadBlock(device, blockNr, buffer);
        BlockFormat.Verify(buffer, kind, blockNr, device.Name);
        Cache(blockNr, buffer, kind);
        return buffer;
    }

    private void Cache(ulong blockNr, byte[] data, BlockKind kind)
    {
        // Era pages are rewritten once per digested writeset and then not read for a long time;
        // caching them only churns the cache into garbage old enough to pile up in the heap.
        if (kind == BlockKind.EraPage) return;
        if (_clean.Count >= CleanCacheLimit) _clean.Clear();
        _clean[blockNr] = data;
    }

    /// <summary>A zeroed block allocated in this transaction.</summary>
    public byte[] Allocate(BlockKind kind, out ulong blockNr)
    {
        blockNr = _used.FirstAbsentFrom(Math.Max(_searchFrom, Superblock.SlotCount));
        _searchFrom = blockNr + 1;
        _used.Add(blockNr);
        // A block freed by dropping a snapshot becomes free through a new reachability walk, not
        // through Committed(), so its old content can still sit in the cache; a reader of the block's
        // new (uncached) kind must not be served that.
        _clean.Remove(blockNr);
        if (blockNr >= TotalBlocks) TotalBlocks = blockNr + 1;
        byte[] data;
        if (_spareBuffers.TryPop(out var spare))
        {
            data = spare;
            Array.Clear(data);
        }
        else data = new byte[BlockFormat.BlockSize];
        _fresh[blockNr] = (data, kind);
        return data;
    }

    /// <summary>
    /// The block at <paramref name="blockNr"/> made writable in this transaction: itself when it is
    /// fresh, otherwise a fresh copy whose number replaces it (0 gives a new zeroed block).
    /// </summary>
    public byte[] Writable(ref ulong blockNr, BlockKind kind)
    {
        if (blockNr != 0 && _fresh.TryGetValue(blockNr, out var fresh)) return fresh.Data;
        if (blockNr != 0 && _writtenAhead.Contains(blockNr))
        {
            // Still of this transaction: take it back into memory rather than copying it.
            var data = Read(blockNr, kind);
            _clean.Remove(blockNr);
            _writtenAhead.Remove(blockNr);
            _fresh[blockNr] = (data, kind);
            return data;
        }
        if (blockNr == 0) return Allocate(kind, out blockNr);
        var source = Read(blockNr, kind);
        Free(blockNr);
        var copy = Allocate(kind, out blockNr);
        source.AsSpan(BlockFormat.HeaderSize).CopyTo(copy.AsSpan(BlockFormat.HeaderSize));
        return copy;
    }

    /// <summary>The state being built no longer uses the block.</summary>
    public void Free(ulong blockNr)
    {
        if (blockNr == 0) return;
        if (_writtenAhead.Contains(blockNr))
        {
            _writtenAhead.Remove(blockNr);
            _used.Remove(blockNr);
            _clean.Remove(blockNr);
            _searchFrom = Math.Min(_searchFrom, blockNr);
            return;
        }
        if (_fresh.Remove(blockNr))
        {
            // Never part of a durable state: reusable at once.
            _used.Remove(blockNr);
            _searchFrom = Math.Min(_searchFrom, blockNr);
            return;
        }
        if (_pinned.Contains(blockNr)) return;
        _releasedOnCommit.Add(blockNr);
    }

    /// <summary>
    /// For a file being made, which nothing durable points into yet: once many fresh pages are held,
    /// writes the era and bitset pages out early and drops them from memory (index nodes, which keep
    /// changing, stay). A page touched again is read back (<see cref="Writable"/>). The commit's sync
    /// still comes before the superblock, so the order of <see cref="MetadataCommit"/> holds.
    /// </summary>
    public void WriteAheadPages()
    {
        if (_fresh.Count < WriteAheadThreshold) return;
        // What a builder reads its content from (XML, another format's blocks) leaves garbage that the
        // GC's growing budgets let pile up to several times the builder's live set; written-ahead
        // pages are the natural point to bring the heap back to what is live.
        GC.Collect();
        var pages = _fresh.Where(f => f.Value.Kind is BlockKind.EraPage or BlockKind.BitsetPage).Select(f => f.Key).Order().ToArray();
        Write(pages);
        foreach (var blockNr in pages)
        {
            // The buffer is reused by the next allocation: pages that waited for write-ahead have lived
            // through several collections, and dropping them would fill the oldest generation with garbage.
            if (_fresh.Remove(blockNr, out var written)) _spareBuffers.Push(written.Data);
            _writtenAhead.Add(blockNr);
        }
    }

    /// <summary>Seals and writes every fresh block, coalescing neighbours into one write.</summary>
    public void WriteFresh() => Write(_fresh.Keys.Order().ToArray());

    private void Write(ulong[] order)
    {
        // One gathering buffer for the space's life: a new 256 KiB one per write would be large-object
        // garbage, which only a full collection frees.
        _gathered ??= new byte[MaxGathered * BlockFormat.BlockSize];
        var i = 0;
        while (i < order.Length)
        {
            var j = i + 1;
            while (j < order.Length && order[j] == order[j - 1] + 1 && j - i < MaxGathered) j++;
            var buffer = _gathered.AsMemory(0, (j - i) * BlockFormat.BlockSize);
            for (var k = i; k < j; k++)
            {
                var (data, kind) = _fresh[order[k]];
                BlockFormat.Seal(data, kind, order[k]);
                data.CopyTo(buffer.Span[((k - i) * BlockFormat.BlockSize)..]);
            }
            MetadataWriteFailure.Guard(device, $"writing blocks {order[i]}..{order[j - 1]}",
                () => device.Write((long)order[i] * BlockFormat.BlockSize, buffer.Span));
            i = j;
        }
    }

    /// <summary>The new superblock is durable: fresh blocks become ordinary, released blocks free.</summary>
    public void Committed()
    {
        foreach (var (blockNr, entry) in _fresh) Cache(blockNr, entry.Data, entry.Kind);
        _fresh.Clear();
        _writtenAhead.Clear();
        _spareBuffers.Clear();
        foreach (var blockNr in _releasedOnCommit)
        {
            _used.Remove(blockNr);
            _clean.Remove(blockNr);
            _searchFrom = Math.Min(_searchFrom, blockNr);
        }
        _releasedOnCommit.Clear();
    }

    /// <summary>
    /// The transaction failed. Its fresh blocks stay marked used: a superblock naming them may have
    /// reached the disk, so they must not be overwritten until a reopen walks the durable state again.
    /// </summary>
    public void Abandon()
    {
        foreach (var blockNr in _fresh.Keys) _clean.Remove(blockNr);
        _fresh.Clear();
        _writtenAhead.Clear();
        _spareBuffers.Clear();
        _releasedOnCommit.Clear();
    }
}

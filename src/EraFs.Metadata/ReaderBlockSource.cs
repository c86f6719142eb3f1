using EraFs.Core;

namespace EraFs.Metadata;

/// <summary>The committed state a reader saw moved on while it was reading; the read restarts on the newer state.</summary>
internal sealed class StateChangedException() : Exception("metadata changed while it was being read");

/// <summary>
/// Verified reads for a reader of a file a live writer may be changing. A block of the state with
/// sequence S is only overwritten after a newer superblock is durable, so a block read and then
/// confirmed by an unchanged superblock sequence is exactly the block of state S.
/// </summary>
internal sealed class ReaderBlockSource(IBlockDevice device, ulong sequence) : IBlockSource
{
    private readonly Dictionary<ulong, byte[]> _cache = [];

    public string FileName => device.Name;

    public byte[] Read(ulong blockNr, BlockKind kind)
    {
        if (_cache.TryGetValue(blockNr, out var cached)) return cached;
        var buffer = new byte[BlockFormat.BlockSize];
        // The state being read was synced before its superblock, so each of its blocks lies within the file.
        var fileBlocks = (ulong)((device.Length + BlockFormat.BlockSize - 1) / BlockFormat.BlockSize);
        var problem = blockNr >= fileBlocks ? $"pointer past the end of the file ({fileBlocks} blocks)" : null;
        if (problem == null)
        {
            BlockIo.ReadBlock(device, blockNr, buffer);
            problem = BlockFormat.Check(buffer, kind, blockNr);
        }
        ConfirmUnchanged();
        if (problem != null) throw BlockFormat.Corrupt(device.Name, blockNr, kind, problem);
        // Pages are read once by a walk and should die young; caching them would keep megabytes alive
        // long enough to reach the older generations. Index nodes and catalogs are read again.
        if (kind is BlockKind.EraPage or BlockKind.BitsetPage) return buffer;
        if (_cache.Count >= 1024) _cache.Clear();
        _cache[blockNr] = buffer;
        return buffer;
    }

    /// <summary>Throws <see cref="StateChangedException"/> when a newer superblock than the one being read exists.</summary>
    public void ConfirmUnchanged()
    {
        if (Superblock.ReadNewest(device).Superblock.Sequence != sequence) throw new StateChangedException();
    }
}

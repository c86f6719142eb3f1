namespace EraFs.FileSystem;

/// <summary>
/// The 1 MiB chunks of an origin that a large write touched since their cache was last dropped, so
/// that the first small write into one can drop that chunk's cache before it lands.
/// </summary>
/// <remarks>
/// A file system with large folios (ext4 on 6.x) caches a large write in folios as large as the
/// write, and every later 4 KiB write into such a folio walks all its buffers under the inode
/// lock: after a sequential fill, 4 KiB random writes at QD32 through a loop device with direct I/O
/// ran at 0.25x (erafs) and 0.43x (a C libfuse passthrough) their speed into an uncached image in
/// one bench run. Dropping a chunk's cache once (after writing it back)
/// lets later small writes build small folios again. A write through the device is at most 1 MiB
/// (max_write), and folios are aligned to their size, so the folios it builds never straddle two
/// chunks; a larger folio built before the mount is not dropped (the kernel keeps a folio that
/// reaches outside the range it is asked to drop). One bit per MiB: 128 KiB for a 1 TiB origin.
/// </remarks>
public sealed class LargeWriteChunks
{
    /// <summary>A write of at least this many bytes marks the chunks it touches.</summary>
    public const int LargeWrite = 64 * 1024;

    /// <summary>Bytes per chunk.</summary>
    public const int ChunkSize = 1 << ChunkShift;

    private const int ChunkShift = 20;
    private readonly long[] _bits;

    public LargeWriteChunks(long size) => _bits = new long[(((size + ChunkSize - 1) >> ChunkShift) + 63) / 64];

    /// <summary>Notes a write before it is made.</summary>
    /// <param name="offset">Where the write starts in the origin.</param>
    /// <param name="length">Its length in bytes.</param>
    /// <param name="drop">Called with (offset, length) of each chunk whose cache a small write should drop first.</param>
    public void Written(long offset, int length, Action<long, long> drop)
    {
        if (length <= 0) return;
        var first = offset >> ChunkShift;
        var last = (offset + length - 1) >> ChunkShift;
        for (var chunk = first; chunk <= last && chunk >> 6 < _bits.Length; chunk++)
        {
            var mask = 1L << (int)(chunk & 63);
            ref var word = ref _bits[chunk >> 6];
            if (length >= LargeWrite)
            {
                if ((Volatile.Read(ref word) & mask) == 0) Interlocked.Or(ref word, mask);
            }
            else if ((Volatile.Read(ref word) & mask) != 0 && (Interlocked.And(ref word, ~mask) & mask) != 0)
            {
                drop(chunk << ChunkShift, ChunkSize);
            }
        }
    }
}

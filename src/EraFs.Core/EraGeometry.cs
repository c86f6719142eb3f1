namespace EraFs.Core;

/// <summary>The tracking granularity and size an era history was made for; fixed when metadata is created.</summary>
public sealed record EraGeometry(uint BlockSize, ulong NrBlocks, long OriginSize)
{
    /// <summary>Smallest tracking block: one page, as dm-era (a multiple of 8 sectors).</summary>
    public const uint MinBlockSize = 4096;

    /// <summary>dm-era refuses 2^31 blocks or more; so do we, so that an export always fits.</summary>
    public const ulong MaxNrBlocks = (1UL << 31) - 1;

    public static ulong BlocksFor(long originSize, uint blockSize) =>
        (ulong)((originSize + blockSize - 1) / blockSize);

    /// <summary>Builds a geometry, refusing sizes dm-era would refuse.</summary>
    public static EraGeometry For(long originSize, uint blockSize)
    {
        if (blockSize < MinBlockSize || blockSize % MinBlockSize != 0)
            throw new ArgumentOutOfRangeException(nameof(blockSize),
                $"block size {blockSize} bytes is not a multiple of {MinBlockSize} bytes");
        if (originSize <= 0)
            throw new ArgumentOutOfRangeException(nameof(originSize), $"origin size {originSize} bytes is not positive");
        var nr = BlocksFor(originSize, blockSize);
        if (nr > MaxNrBlocks)
            throw new ArgumentOutOfRangeException(nameof(originSize),
                $"origin of {originSize} bytes has {nr} blocks of {blockSize} bytes; at most {MaxNrBlocks} are supported");
        return new EraGeometry(blockSize, nr, originSize);
    }

    /// <summary>The blocks a byte range touches (every one, partial first and last included).</summary>
    public BlockRun BlocksTouching(long offset, long length)
    {
        if (length <= 0) return new BlockRun((ulong)(offset / BlockSize), 0);
        var first = (ulong)(offset / BlockSize);
        var last = (ulong)((offset + length - 1) / BlockSize);
        return new BlockRun(first, last - first + 1);
    }
}

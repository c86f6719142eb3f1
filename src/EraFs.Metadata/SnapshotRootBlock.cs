using System.Buffers.Binary;
using EraFs.Core;

namespace EraFs.Metadata;

/// <summary>The frozen view a held snapshot keeps readable: era, generation, geometry, era array and archived writesets.</summary>
internal sealed record SnapshotRootBlock(uint CurrentEra, Guid Generation, EraGeometry Geometry, ulong EraArrayRoot, ulong CatalogHead)
{
    public void Pack(byte[] block)
    {
        var p = block.AsSpan(BlockFormat.HeaderSize);
        BinaryPrimitives.WriteUInt32LittleEndian(p, CurrentEra);
        BinaryPrimitives.WriteUInt32LittleEndian(p[4..], Geometry.BlockSize);
        Generation.TryWriteBytes(p[8..24]);
        BinaryPrimitives.WriteUInt64LittleEndian(p[24..], Geometry.NrBlocks);
        BinaryPrimitives.WriteInt64LittleEndian(p[32..], Geometry.OriginSize);
        BinaryPrimitives.WriteUInt64LittleEndian(p[40..], EraArrayRoot);
        BinaryPrimitives.WriteUInt64LittleEndian(p[48..], CatalogHead);
    }

    public static SnapshotRootBlock Load(IBlockSource source, ulong blockNr)
    {
        var p = source.Read(blockNr, BlockKind.SnapshotRoot).AsSpan(BlockFormat.HeaderSize);
        var blockSize = BinaryPrimitives.ReadUInt32LittleEndian(p[4..]);
        var nrBlocks = BinaryPrimitives.ReadUInt64LittleEndian(p[24..]);
        var originSize = BinaryPrimitives.ReadInt64LittleEndian(p[32..]);
        if (blockSize == 0 || originSize <= 0 || nrBlocks != EraGeometry.BlocksFor(originSize, blockSize))
            throw BlockFormat.Corrupt(source.FileName, blockNr, BlockKind.SnapshotRoot, "impossible geometry");
        return new SnapshotRootBlock(
            BinaryPrimitives.ReadUInt32LittleEndian(p),
            new Guid(p[8..24]),
            new EraGeometry(blockSize, nrBlocks, originSize),
            BinaryPrimitives.ReadUInt64LittleEndian(p[40..]),
            BinaryPrimitives.ReadUInt64LittleEndian(p[48..]));
    }
}

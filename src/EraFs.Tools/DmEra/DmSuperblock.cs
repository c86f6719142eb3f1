using System.Buffers.Binary;

namespace EraFs.Tools.DmEra;

/// <summary>
/// The dm-era superblock (block 0, or a metadata snapshot's clone elsewhere), in on-disk field order.
/// The space map root is the first 32 bytes of a 128-byte field; the rest of the block is zero.
/// </summary>
public sealed record DmSuperblock
{
    public const ulong Magic = 2126579579;
    public const uint Version = 1;

    public uint Flags { get; init; }
    public ulong Location { get; init; }
    public required DmSpaceMapRoot SpaceMap { get; init; }
    public required uint DataBlockSize { get; init; }
    public required uint NrBlocks { get; init; }
    public required uint CurrentEra { get; init; }
    public uint CurrentWritesetBits { get; init; }
    public ulong CurrentWritesetRoot { get; init; }
    public required ulong WritesetTreeRoot { get; init; }
    public required ulong EraArrayRoot { get; init; }
    public ulong MetadataSnap { get; init; }

    public void Pack(Span<byte> block)
    {
        block.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(block[0x04..], Flags);
        // 0x10: uuid, left zero as the kernel leaves it
        BinaryPrimitives.WriteUInt64LittleEndian(block[0x20..], Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(block[0x28..], Version);
        SpaceMap.Pack(block[0x2C..]);
        BinaryPrimitives.WriteUInt32LittleEndian(block[0xAC..], DataBlockSize);
        BinaryPrimitives.WriteUInt32LittleEndian(block[0xB0..], DmBlock.SectorsPerBlock);
        BinaryPrimitives.WriteUInt32LittleEndian(block[0xB4..], NrBlocks);
        BinaryPrimitives.WriteUInt32LittleEndian(block[0xB8..], CurrentEra);
        BinaryPrimitives.WriteUInt32LittleEndian(block[0xBC..], CurrentWritesetBits);
        BinaryPrimitives.WriteUInt64LittleEndian(block[0xC0..], CurrentWritesetRoot);
        BinaryPrimitives.WriteUInt64LittleEndian(block[0xC8..], WritesetTreeRoot);
        BinaryPrimitives.WriteUInt64LittleEndian(block[0xD0..], EraArrayRoot);
        BinaryPrimitives.WriteUInt64LittleEndian(block[0xD8..], MetadataSnap);
        DmBlock.Seal(block, DmBlockKind.Superblock, Location);
    }

    /// <summary>Reads and validates a superblock (checksum, location, magic, version, sizes); throws <see cref="DmFormatException"/>.</summary>
    public static DmSuperblock Unpack(IDmBlockReader reader, ulong location)
    {
        var problem = reader.TryRead(location, DmBlockKind.Superblock, out var data);
        if (problem != null) throw new DmFormatException(location, problem);
        var block = data.AsSpan();
        if (BinaryPrimitives.ReadUInt64LittleEndian(block[0x20..]) != Magic) throw DmBlock.Corrupt(location, DmBlockKind.Superblock, "bad magic (not dm-era metadata)");
        var version = BinaryPrimitives.ReadUInt32LittleEndian(block[0x28..]);
        if (version != Version) throw DmBlock.Corrupt(location, DmBlockKind.Superblock, $"unsupported version {version}");
        var metaBlockSize = BinaryPrimitives.ReadUInt32LittleEndian(block[0xB0..]);
        if (metaBlockSize != DmBlock.SectorsPerBlock) throw DmBlock.Corrupt(location, DmBlockKind.Superblock, $"metadata block size {metaBlockSize} sectors, expected {DmBlock.SectorsPerBlock}");
        var sb = new DmSuperblock
        {
            Flags = BinaryPrimitives.ReadUInt32LittleEndian(block[0x04..]),
            Location = location,
            SpaceMap = DmSpaceMapRoot.Unpack(block[0x2C..]),
            DataBlockSize = BinaryPrimitives.ReadUInt32LittleEndian(block[0xAC..]),
            NrBlocks = BinaryPrimitives.ReadUInt32LittleEndian(block[0xB4..]),
            CurrentEra = BinaryPrimitives.ReadUInt32LittleEndian(block[0xB8..]),
            CurrentWritesetBits = BinaryPrimitives.ReadUInt32LittleEndian(block[0xBC..]),
            CurrentWritesetRoot = BinaryPrimitives.ReadUInt64LittleEndian(block[0xC0..]),
            WritesetTreeRoot = BinaryPrimitives.ReadUInt64LittleEndian(block[0xC8..]),
            EraArrayRoot = BinaryPrimitives.ReadUInt64LittleEndian(block[0xD0..]),
            MetadataSnap = BinaryPrimitives.ReadUInt64LittleEndian(block[0xD8..]),
        };
        if (sb.DataBlockSize == 0) throw DmBlock.Corrupt(location, DmBlockKind.Superblock, "data block size is 0");
        if (sb.WritesetTreeRoot == 0 || sb.EraArrayRoot == 0 || sb.WritesetTreeRoot == sb.EraArrayRoot)
            throw DmBlock.Corrupt(location, DmBlockKind.Superblock, $"impossible roots (writeset tree {sb.WritesetTreeRoot}, era array {sb.EraArrayRoot})");
        return sb;
    }
}

/// <summary>The metadata space map's root as the superblock embeds it.</summary>
public sealed record DmSpaceMapRoot(ulong NrBlocks, ulong NrAllocated, ulong BitmapRoot, ulong RefCountRoot)
{
    public void Pack(Span<byte> field)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(field, NrBlocks);
        BinaryPrimitives.WriteUInt64LittleEndian(field[8..], NrAllocated);
        BinaryPrimitives.WriteUInt64LittleEndian(field[16..], BitmapRoot);
        BinaryPrimitives.WriteUInt64LittleEndian(field[24..], RefCountRoot);
    }

    public static DmSpaceMapRoot Unpack(ReadOnlySpan<byte> field) => new(
        BinaryPrimitives.ReadUInt64LittleEndian(field),
        BinaryPrimitives.ReadUInt64LittleEndian(field[8..]),
        BinaryPrimitives.ReadUInt64LittleEndian(field[16..]),
        BinaryPrimitives.ReadUInt64LittleEndian(field[24..]));
}

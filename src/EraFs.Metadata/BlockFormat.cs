using System.Buffers.Binary;
using EraFs.Core;

namespace EraFs.Metadata;

/// <summary>
/// The 4 KiB block all metadata is made of: a 16-byte header (CRC-32C of bytes 4..4096, kind, format
/// version, own block number) and 4080 bytes of payload.
/// </summary>
/// <remarks>
/// Shaped like the dm-era tools' DmBlock: Seal, Check, Verify, Corrupt and Describe take the block,
/// its kind and its number in that order; Check says what is wrong, the exception also names file and block.
/// </remarks>
public static class BlockFormat
{
    public const int BlockSize = 4096;
    public const int HeaderSize = 16;
    public const int PayloadSize = BlockSize - HeaderSize;
    public const ushort FormatVersion = 1;

    /// <summary>Era array entries (u32) per era page.</summary>
    public const int ErasPerPage = PayloadSize / 4;

    /// <summary>Writeset bits per bitset page.</summary>
    public const int BitsPerPage = PayloadSize * 8;

    /// <summary>Child pointers (u64) per index node.</summary>
    public const int ChildrenPerNode = PayloadSize / 8;

    /// <summary>Index levels above era pages: 510^3 pages of 1020 entries cover the 2^31-block limit.</summary>
    public const int EraTreeHeight = 3;

    /// <summary>Index levels above bitset pages: 510^2 pages of 32640 bits cover the 2^31-block limit.</summary>
    public const int BitsetTreeHeight = 2;

    /// <summary>The structure a block kind holds, as messages name it.</summary>
    public static string Describe(BlockKind kind) => kind switch
    {
        BlockKind.Superblock => "superblock",
        BlockKind.JournalBlock => "mark journal",
        BlockKind.IndexNode => "index node",
        BlockKind.BitsetPage => "writeset page",
        BlockKind.EraPage => "era array page",
        BlockKind.ArchiveCatalog => "archived writeset catalog",
        BlockKind.SnapshotRoot => "snapshot root",
        _ => $"block kind {(ushort)kind}",
    };

    /// <summary>Stamps the header and checksum; call last, after the payload is final.</summary>
    public static void Seal(Span<byte> block, BlockKind kind, ulong blockNr)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(block[4..], (ushort)kind);
        BinaryPrimitives.WriteUInt16LittleEndian(block[6..], FormatVersion);
        BinaryPrimitives.WriteUInt64LittleEndian(block[8..], blockNr);
        BinaryPrimitives.WriteUInt32LittleEndian(block, Crc32C.Compute(block[4..BlockSize]));
    }

    /// <summary>Null when the block is a sound block of that kind at that place, else what is wrong.</summary>
    public static string? Check(ReadOnlySpan<byte> block, BlockKind kind, ulong blockNr)
    {
        if (BinaryPrimitives.ReadUInt32LittleEndian(block) != Crc32C.Compute(block[4..BlockSize]))
            return "checksum mismatch";
        var foundKind = (BlockKind)BinaryPrimitives.ReadUInt16LittleEndian(block[4..]);
        if (foundKind != kind) return $"holds a {Describe(foundKind)}, expected a {Describe(kind)}";
        var version = BinaryPrimitives.ReadUInt16LittleEndian(block[6..]);
        if (version != FormatVersion) return $"format version {version}, only {FormatVersion} is supported";
        var self = BinaryPrimitives.ReadUInt64LittleEndian(block[8..]);
        if (self != blockNr) return $"claims to be block {self}";
        return null;
    }

    /// <summary>Throws <see cref="MetadataCorruptException"/> naming file, block and structure unless the block is sound.</summary>
    public static void Verify(ReadOnlySpan<byte> block, BlockKind kind, ulong blockNr, string fileName)
    {
        var problem = Check(block, kind, blockNr);
        if (problem != null) throw Corrupt(fileName, blockNr, kind, problem);
    }

    /// <summary>The exception for a block of that kind that is damaged: names file, block, structure and what is wrong.</summary>
    public static MetadataCorruptException Corrupt(string fileName, ulong blockNr, BlockKind kind, string problem) =>
        new($"{fileName}: block {blockNr} ({Describe(kind)}): {problem}");
}

using System.Buffers.Binary;
using EraFs.Metadata;

namespace EraFs.Tools.DmEra;

/// <summary>The kinds of 4 KiB block in dm-era metadata; each has its own checksum salt.</summary>
public enum DmBlockKind
{
    Superblock,
    BtreeNode,
    SpaceMapIndex,
    SpaceMapBitmap,
    ArrayBlock,
}

/// <summary>Block size, checksum and self-location rules shared by every dm-era metadata block.</summary>
public static class DmBlock
{
    public const int Size = 4096;

    /// <summary>Metadata block size in 512-byte sectors, as the superblock records it.</summary>
    public const uint SectorsPerBlock = Size / 512;

    public static uint Salt(DmBlockKind kind) => kind switch
    {
        DmBlockKind.Superblock => 146538381,
        DmBlockKind.BtreeNode => 121107,
        DmBlockKind.SpaceMapIndex => 160478,
        DmBlockKind.SpaceMapBitmap => 240779,
        DmBlockKind.ArrayBlock => 595846735,
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>Array blocks keep their own number after three u32 fields; every other kind right after csum and flags.</summary>
    public static int LocationOffset(DmBlockKind kind) => kind == DmBlockKind.ArrayBlock ? 16 : 8;

    public static string Describe(DmBlockKind kind) => kind switch
    {
        DmBlockKind.Superblock => "superblock",
        DmBlockKind.BtreeNode => "btree node",
        DmBlockKind.SpaceMapIndex => "space map index",
        DmBlockKind.SpaceMapBitmap => "space map bitmap",
        _ => "array block",
    };

    /// <summary>persistent-data's checksum: CRC-32C seeded with ~0 and not inverted at the end, then XORed with the kind's salt.</summary>
    public static uint Checksum(ReadOnlySpan<byte> block, DmBlockKind kind) =>
        ~Crc32C.Compute(block[4..Size]) ^ Salt(kind);

    /// <summary>Writes the block's own number and then its checksum; call once the payload is final.</summary>
    public static void Seal(Span<byte> block, DmBlockKind kind, ulong location)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(block[LocationOffset(kind)..], location);
        BinaryPrimitives.WriteUInt32LittleEndian(block, Checksum(block, kind));
    }

    /// <summary>Null when the block is a sound block of that kind at that location, else what is wrong.</summary>
    public static string? Check(ReadOnlySpan<byte> block, DmBlockKind kind, ulong location)
    {
        if (BinaryPrimitives.ReadUInt32LittleEndian(block) != Checksum(block, kind))
            return $"bad checksum in {Describe(kind)}";
        var self = BinaryPrimitives.ReadUInt64LittleEndian(block[LocationOffset(kind)..]);
        return self == location ? null : $"{Describe(kind)} claims to be block {self}";
    }
}

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

/// <summary>
/// dm-era's block header (checksum and own block number) in the same shape as the native
/// <see cref="BlockFormat"/>: <see cref="Seal"/>, <see cref="Check"/>, <see cref="Verify"/>,
/// <see cref="Corrupt"/> and <see cref="Describe"/>, taking the block, its kind and its number in that order.
/// </summary>
/// <remarks>
/// A problem names the kind in dm's own words ("bad checksum in superblock", as era_check prints it):
/// the checksum is salted by kind, so a failed checksum means "not a sound block of this kind".
/// Exceptions name no file: the reader does not know it, and the verb that opened it says it.
/// </remarks>
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

    /// <summary>The structure a block kind holds, as messages name it.</summary>
    public static string Describe(DmBlockKind kind) => kind switch
    {
        DmBlockKind.Superblock => "superblock",
        DmBlockKind.BtreeNode => "btree node",
        DmBlockKind.SpaceMapIndex => "space map index",
        DmBlockKind.SpaceMapBitmap => "space map bitmap",
        DmBlockKind.ArrayBlock => "array block",
        _ => $"block kind {(int)kind}",
    };

    /// <summary>persistent-data's checksum: CRC-32C seeded with ~0 and not inverted at the end, then XORed with the kind's salt.</summary>
    public static uint Checksum(ReadOnlySpan<byte> block, DmBlockKind kind) =>
        ~Crc32C.Compute(block[4..Size]) ^ Salt(kind);

    /// <summary>Writes the block's own number and then its checksum; call last, after the payload is final.</summary>
    public static void Seal(Span<byte> block, DmBlockKind kind, ulong blockNr)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(block[LocationOffset(kind)..], blockNr);
        BinaryPrimitives.WriteUInt32LittleEndian(block, Checksum(block, kind));
    }

    /// <summary>Null when the block is a sound block of that kind at that place, else what is wrong.</summary>
    public static string? Check(ReadOnlySpan<byte> block, DmBlockKind kind, ulong blockNr)
    {
        if (BinaryPrimitives.ReadUInt32LittleEndian(block) != Checksum(block, kind))
            return $"bad checksum in {Describe(kind)}";
        var self = BinaryPrimitives.ReadUInt64LittleEndian(block[LocationOffset(kind)..]);
        return self == blockNr ? null : $"{Describe(kind)} claims to be block {self}";
    }

    /// <summary>Throws <see cref="DmFormatException"/> naming the block and what is wrong unless the block is sound.</summary>
    public static void Verify(ReadOnlySpan<byte> block, DmBlockKind kind, ulong blockNr)
    {
        if (Check(block, kind, blockNr) is { } problem) throw new DmFormatException(blockNr, problem);
    }

    /// <summary>The exception for a block of that kind whose header is sound but whose content is not (bad magic, impossible field).</summary>
    public static DmFormatException Corrupt(ulong blockNr, DmBlockKind kind, string problem) =>
        new(blockNr, $"{Describe(kind)}: {problem}");
}

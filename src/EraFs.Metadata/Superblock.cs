using System.Buffers.Binary;
using System.Text;
using EraFs.Core;

namespace EraFs.Metadata;

/// <summary>
/// The root of one committed metadata state. Two copies live in blocks 0 and 1 (slots A and B);
/// each commit writes the slot not holding the newest durable copy, so a torn write only ever
/// damages the older one. The valid copy with the highest <see cref="Sequence"/> wins.
/// </summary>
public sealed record Superblock
{
    public const ulong Magic = 0x314D_4453_4641_5245; // "ERAFSMD1" little-endian
    public const uint Version = 1;
    public const int MaxReasonBytes = 1024;
    public const int SlotCount = 2;

    // After the needs-check reason (138 + MaxReasonBytes), 8-aligned.
    private const int WriteHorizonOffset = 1168;

    public required ulong Sequence { get; init; }
    public required Guid Generation { get; init; }
    public required EraGeometry Geometry { get; init; }
    public bool Clean { get; init; }
    public DateTime? OriginMtimeUtc { get; init; }

    /// <summary>
    /// While mounted: the instant until which the mount may write the origin without committing a later
    /// horizon. After a crash, an origin changed later than this was written by someone else.
    /// </summary>
    public DateTime? WriteHorizonUtc { get; init; }
    public bool NeedsCheck { get; init; }
    public string? NeedsCheckReason { get; init; }
    public uint CurrentEra { get; init; }

    /// <summary>Bitset tree of the current writeset as of this commit (journal records add to it).</summary>
    public ulong CurrentWritesetRoot { get; init; }

    public ulong EraArrayRoot { get; init; }

    /// <summary>First block of the archived-writeset catalog chain, 0 when there are none.</summary>
    public ulong CatalogHead { get; init; }

    /// <summary>Snapshot root block, 0 when no snapshot is held.</summary>
    public ulong SnapshotRoot { get; init; }

    public required ulong JournalStart { get; init; }
    public required uint JournalLength { get; init; }

    /// <summary>Only journal blocks stamped with this epoch belong to this state; every full commit takes a new one.</summary>
    public required ulong JournalEpoch { get; init; }

    /// <summary>Metadata blocks the file had when this state was committed.</summary>
    public required ulong TotalBlocks { get; init; }

    public void Pack(Span<byte> block, ulong slot)
    {
        block.Clear();
        var p = block[BlockFormat.HeaderSize..];
        BinaryPrimitives.WriteUInt64LittleEndian(p, Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(p[8..], Version);
        uint flags = (Clean ? 1u : 0) | (NeedsCheck ? 2u : 0) | (OriginMtimeUtc.HasValue ? 4u : 0) | (WriteHorizonUtc.HasValue ? 8u : 0);
        BinaryPrimitives.WriteUInt32LittleEndian(p[12..], flags);
        BinaryPrimitives.WriteUInt64LittleEndian(p[16..], Sequence);
        Generation.TryWriteBytes(p[24..40]);
        BinaryPrimitives.WriteUInt32LittleEndian(p[40..], Geometry.BlockSize);
        BinaryPrimitives.WriteUInt32LittleEndian(p[44..], CurrentEra);
        BinaryPrimitives.WriteUInt64LittleEndian(p[48..], Geometry.NrBlocks);
        BinaryPrimitives.WriteInt64LittleEndian(p[56..], Geometry.OriginSize);
        BinaryPrimitives.WriteInt64LittleEndian(p[64..], OriginMtimeUtc?.Ticks ?? 0);
        BinaryPrimitives.WriteUInt64LittleEndian(p[72..], CurrentWritesetRoot);
        BinaryPrimitives.WriteUInt64LittleEndian(p[80..], EraArrayRoot);
        BinaryPrimitives.WriteUInt64LittleEndian(p[88..], CatalogHead);
        BinaryPrimitives.WriteUInt64LittleEndian(p[96..], SnapshotRoot);
        BinaryPrimitives.WriteUInt64LittleEndian(p[104..], JournalStart);
        BinaryPrimitives.WriteUInt32LittleEndian(p[112..], JournalLength);
        BinaryPrimitives.WriteUInt64LittleEndian(p[120..], JournalEpoch);
        BinaryPrimitives.WriteUInt64LittleEndian(p[128..], TotalBlocks);
        var reason = Encoding.UTF8.GetBytes(NeedsCheckReason ?? "");
        var length = Math.Min(reason.Length, MaxReasonBytes);
        BinaryPrimitives.WriteUInt16LittleEndian(p[136..], (ushort)length);
        reason.AsSpan(0, length).CopyTo(p[138..]);
        BinaryPrimitives.WriteInt64LittleEndian(p[WriteHorizonOffset..], WriteHorizonUtc?.Ticks ?? 0);
        BlockFormat.Seal(block, BlockKind.Superblock, slot);
    }

    /// <summary>The superblock in a slot, or null with the reason it is unusable.</summary>
    public static Superblock? TryUnpack(ReadOnlySpan<byte> block, ulong slot, out string problem)
    {
        problem = BlockFormat.Check(block, BlockKind.Superblock, slot) ?? "";
        if (problem.Length > 0) return null;
        var p = block[BlockFormat.HeaderSize..];
        if (BinaryPrimitives.ReadUInt64LittleEndian(p) != Magic) { problem = "bad magic"; return null; }
        var version = BinaryPrimitives.ReadUInt32LittleEndian(p[8..]);
        if (version != Version) { problem = $"unsupported version {version}"; return null; }
        var flags = BinaryPrimitives.ReadUInt32LittleEndian(p[12..]);
        var blockSize = BinaryPrimitives.ReadUInt32LittleEndian(p[40..]);
        var nrBlocks = BinaryPrimitives.ReadUInt64LittleEndian(p[48..]);
        var originSize = BinaryPrimitives.ReadInt64LittleEndian(p[56..]);
        if (blockSize < EraGeometry.MinBlockSize || blockSize % EraGeometry.MinBlockSize != 0 || originSize <= 0
            || nrBlocks > EraGeometry.MaxNrBlocks || nrBlocks != EraGeometry.BlocksFor(originSize, blockSize))
        {
            problem = $"impossible geometry (block size {blockSize}, {nrBlocks} blocks, origin {originSize} bytes)";
            return null;
        }
        var journalLength = BinaryPrimitives.ReadUInt32LittleEndian(p[112..]);
        var reasonLength = BinaryPrimitives.ReadUInt16LittleEndian(p[136..]);
        if (reasonLength > MaxReasonBytes) { problem = $"needs-check reason of {reasonLength} bytes"; return null; }
        var ticks = BinaryPrimitives.ReadInt64LittleEndian(p[64..]);
        var horizon = BinaryPrimitives.ReadInt64LittleEndian(p[WriteHorizonOffset..]);
        if (ticks < 0 || ticks > DateTime.MaxValue.Ticks || horizon < 0 || horizon > DateTime.MaxValue.Ticks)
        {
            problem = "impossible origin time or write horizon";
            return null;
        }
        return new Superblock
        {
            Sequence = BinaryPrimitives.ReadUInt64LittleEndian(p[16..]),
            Generation = new Guid(p[24..40]),
            Geometry = new EraGeometry(blockSize, nrBlocks, originSize),
            Clean = (flags & 1) != 0,
            NeedsCheck = (flags & 2) != 0,
            OriginMtimeUtc = (flags & 4) != 0 ? new DateTime(ticks, DateTimeKind.Utc) : null,
            WriteHorizonUtc = (flags & 8) != 0 ? new DateTime(horizon, DateTimeKind.Utc) : null,
            NeedsCheckReason = (flags & 2) != 0 ? Encoding.UTF8.GetString(p.Slice(138, reasonLength)) : null,
            CurrentEra = BinaryPrimitives.ReadUInt32LittleEndian(p[44..]),
            CurrentWritesetRoot = BinaryPrimitives.ReadUInt64LittleEndian(p[72..]),
            EraArrayRoot = BinaryPrimitives.ReadUInt64LittleEndian(p[80..]),
            CatalogHead = BinaryPrimitives.ReadUInt64LittleEndian(p[88..]),
            SnapshotRoot = BinaryPrimitives.ReadUInt64LittleEndian(p[96..]),
            JournalStart = BinaryPrimitives.ReadUInt64LittleEndian(p[104..]),
            JournalLength = journalLength,
            JournalEpoch = BinaryPrimitives.ReadUInt64LittleEndian(p[120..]),
            TotalBlocks = BinaryPrimitives.ReadUInt64LittleEndian(p[128..]),
        };
    }

    /// <summary>
    /// Reads both slots and returns the newest valid one and which slot held it; throws
    /// <see cref="MetadataCorruptException"/> naming both problems when neither is usable.
    /// </summary>
    public static (Superblock Superblock, int Slot) ReadNewest(IBlockDevice device)
    {
        var buffer = new byte[BlockFormat.BlockSize];
        Superblock? best = null;
        var bestSlot = -1;
        var problems = new string[SlotCount];
        for (var slot = 0; slot < SlotCount; slot++)
        {
            var read = BlockIo.ReadBlock(device, (ulong)slot, buffer);
            Superblock? found = null;
            if (read == 0 || buffer.AsSpan().IndexOfAnyExcept((byte)0) < 0) problems[slot] = "empty";
            else
            {
                found = TryUnpack(buffer, (ulong)slot, out var problem);
                problems[slot] = problem == "checksum mismatch" ? "bad checksum" : problem;
            }
            if (found != null && (best == null || found.Sequence > best.Sequence)) { best = found; bestSlot = slot; }
        }
        if (best != null) return (best, bestSlot);
        if (problems[0] == problems[1])
            throw new MetadataCorruptException($"{device.Name}: superblock: {problems[0]} in both slots");
        throw new MetadataCorruptException($"{device.Name}: superblock: slot A {problems[0]}, slot B {problems[1]}");
    }
}

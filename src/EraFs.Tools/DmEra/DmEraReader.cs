using System.Buffers.Binary;
using EraFs.Core;

namespace EraFs.Tools.DmEra;

/// <summary>
/// Reads kernel dm-era metadata into an era history: the writeset tree and the superblock's live
/// current writeset (merged under the current era), the era array, and the held metadata snapshot's
/// clone when there is one. Strict by default; with a report, damaged parts are reported and skipped
/// (their writesets left out, their array entries 0) and reading goes on.
/// </summary>
public static class DmEraReader
{
    public static EraHistory Read(IDmBlockReader reader, Action<ulong, string>? report = null)
    {
        var sb = DmSuperblock.Unpack(reader, 0);
        var live = ReadState(reader, sb, "", includeCurrent: true, report);
        EraState? snapshot = null;
        if (sb.MetadataSnap != 0)
        {
            var clone = DmSuperblock.Unpack(reader, sb.MetadataSnap);
            if (clone.NrBlocks != sb.NrBlocks || clone.DataBlockSize != sb.DataBlockSize)
                throw new DmFormatException(sb.MetadataSnap, $"metadata snapshot: geometry ({clone.NrBlocks} blocks of {clone.DataBlockSize} sectors) differs from the live superblock's");
            snapshot = ReadState(reader, clone, "metadata snapshot ", includeCurrent: false, report);
        }
        return new EraHistory(sb.DataBlockSize, sb.NrBlocks, live, snapshot);
    }

    private static EraState ReadState(IDmBlockReader reader, DmSuperblock sb, string prefix, bool includeCurrent, Action<ulong, string>? report)
    {
        // nr_blocks sizes the arrays below: a damaged, huge value must be refused before anything is allocated.
        var arrayBlocks = ((ulong)sb.NrBlocks + (ulong)DmArray.EntriesPerBlock(4) - 1) / (ulong)DmArray.EntriesPerBlock(4);
        if (sb.NrBlocks > EraGeometry.MaxNrBlocks)
            throw new DmFormatException(sb.Location, $"{prefix}superblock: {sb.NrBlocks} blocks, more than the {EraGeometry.MaxNrBlocks} EraFs supports");
        if (arrayBlocks > reader.TotalBlocks)
            throw new DmFormatException(sb.Location, $"{prefix}superblock: {sb.NrBlocks} blocks need {arrayBlocks} era array blocks, the metadata has {reader.TotalBlocks} blocks");
        var writesets = new SortedDictionary<uint, EraWriteset>();
        foreach (var (key, value) in DmBtree.Walk(reader, sb.WritesetTreeRoot, 12, prefix + "writeset tree", report))
        {
            var nrBits = BinaryPrimitives.ReadUInt32LittleEndian(value.Span);
            var root = BinaryPrimitives.ReadUInt64LittleEndian(value.Span[4..]);
            if (key > sb.CurrentEra || nrBits > sb.NrBlocks)
            {
                Fail(report, sb.WritesetTreeRoot, $"{prefix}writeset tree: era {key} with {nrBits} bits does not fit current era {sb.CurrentEra} and {sb.NrBlocks} blocks");
                continue;
            }
            var ws = ReadBitset(reader, (uint)key, nrBits, root, $"{prefix}writeset of era {key}", report);
            if (ws != null) writesets[(uint)key] = ws;
        }
        if (includeCurrent && sb.CurrentWritesetRoot != 0 && sb.CurrentWritesetBits > 0)
        {
            var bits = Math.Min(sb.CurrentWritesetBits, sb.NrBlocks);
            var current = ReadBitset(reader, sb.CurrentEra, bits, sb.CurrentWritesetRoot, $"{prefix}current writeset", report);
            if (current != null)
            {
                if (writesets.TryGetValue(sb.CurrentEra, out var archived))
                    for (var i = 0; i < Math.Min(archived.Words.Length, current.Words.Length); i++) current.Words[i] |= archived.Words[i];
                if (!current.IsEmpty || archived != null) writesets[sb.CurrentEra] = current;
            }
        }
        var eras = new uint[sb.NrBlocks];
        DmArray.Read(reader, sb.EraArrayRoot, sb.NrBlocks, 4, $"{prefix}era array",
            (i, v) => eras[i] = BinaryPrimitives.ReadUInt32LittleEndian(v), report);
        for (var b = 0; b < eras.Length; b++)
            if (eras[b] > sb.CurrentEra)
            {
                Fail(report, sb.EraArrayRoot, $"{prefix}era array: block {b} has era {eras[b]}, later than current era {sb.CurrentEra}");
                eras[b] = 0;
            }
        return new EraState(sb.CurrentEra, writesets.Values.ToList(), eras);
    }

    private static EraWriteset? ReadBitset(IDmBlockReader reader, uint era, ulong nrBits, ulong root, string structure, Action<ulong, string>? report)
    {
        var ws = EraWriteset.Empty(era, nrBits);
        var damaged = false;
        DmArray.Read(reader, root, (ulong)ws.Words.Length, 8, structure,
            (i, v) => ws.Words[i] = BinaryPrimitives.ReadUInt64LittleEndian(v),
            report == null ? null : (block, problem) => { damaged = true; report(block, problem); });
        if (nrBits % 64 != 0 && ws.Words.Length > 0) ws.Words[^1] &= (1UL << (int)(nrBits % 64)) - 1;
        return damaged ? null : ws;
    }

    private static void Fail(Action<ulong, string>? report, ulong block, string problem)
    {
        if (report == null) throw new DmFormatException(block, problem);
        report(block, problem);
    }
}

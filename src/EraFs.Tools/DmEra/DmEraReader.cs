using System.Buffers.Binary;
using System.Runtime.InteropServices;
using EraFs.Core;
using EraFs.Metadata;

namespace EraFs.Tools.DmEra;

/// <summary>
/// Reads kernel dm-era metadata into an era history: the writeset tree and the superblock's live
/// current writeset (merged under the current era), the era array, and the held metadata snapshot's
/// clone when there is one. Strict by default; with a report, damaged parts are reported and skipped
/// (their writesets left out, their array entries 0) and reading goes on. <see cref="Stream"/> reads
/// the same strictly, block by block as it is visited, instead of into dense arrays.
/// </summary>
public static class DmEraReader
{
    /// <summary>
    /// The history streamed from the metadata: only the superblocks and the writeset trees are read
    /// now; bitsets and era arrays are read as they are visited, and damage fails the read that meets it.
    /// </summary>
    public static StreamedHistory Stream(IDmBlockReader reader)
    {
        var sb = DmSuperblock.Unpack(reader, 0);
        var live = StreamState(reader, sb, "", includeCurrent: true);
        StreamedView? snapshot = null;
        if (sb.MetadataSnap != 0)
        {
            var clone = DmSuperblock.Unpack(reader, sb.MetadataSnap);
            if (clone.NrBlocks != sb.NrBlocks || clone.DataBlockSize != sb.DataBlockSize)
                throw new DmFormatException(sb.MetadataSnap, $"metadata snapshot: geometry ({clone.NrBlocks} blocks of {clone.DataBlockSize} sectors) differs from the live superblock's");
            snapshot = StreamState(reader, clone, "metadata snapshot ", includeCurrent: false);
        }
        return new StreamedHistory(sb.DataBlockSize, sb.NrBlocks, live, snapshot);
    }

    private static StreamedView StreamState(IDmBlockReader reader, DmSuperblock sb, string prefix, bool includeCurrent)
    {
        CheckSize(reader, sb, prefix);
        var shapes = new List<WritesetShape>();
        var sources = new List<Func<IEnumerable<BlockRun>>>();
        foreach (var (key, value) in DmBtree.Walk(reader, sb.WritesetTreeRoot, 12, prefix + "writeset tree"))
        {
            var nrBits = BinaryPrimitives.ReadUInt32LittleEndian(value.Span);
            var root = BinaryPrimitives.ReadUInt64LittleEndian(value.Span[4..]);
            if (key > sb.CurrentEra || nrBits > sb.NrBlocks)
                Fail(null, sb.WritesetTreeRoot, $"{prefix}writeset tree: era {key} with {nrBits} bits does not fit current era {sb.CurrentEra} and {sb.NrBlocks} blocks");
            shapes.Add(new WritesetShape((uint)key, nrBits));
            var structure = $"{prefix}writeset of era {key}";
            sources.Add(() => BitsetRuns(reader, root, nrBits, structure));
        }
        if (includeCurrent && sb.CurrentWritesetRoot != 0 && sb.CurrentWritesetBits > 0)
        {
            var bits = Math.Min(sb.CurrentWritesetBits, sb.NrBlocks);
            var structure = $"{prefix}current writeset";
            IEnumerable<BlockRun> Current() => BitsetRuns(reader, sb.CurrentWritesetRoot, bits, structure);
            var archived = shapes.FindIndex(w => w.Era == sb.CurrentEra);
            if (archived >= 0)
            {
                // The kernel archives under the current era only on suspend; both halves are that era's writes.
                var archivedRuns = sources[archived];
                shapes[archived] = new WritesetShape(sb.CurrentEra, bits);
                sources[archived] = () => BlockRuns.Union([Current(), archivedRuns()]).TakeWhile(r => r.Start < bits)
                    .Select(r => new BlockRun(r.Start, Math.Min(r.End, bits) - r.Start));
            }
            else if (Current().Any())
            {
                shapes.Add(new WritesetShape(sb.CurrentEra, bits));
                sources.Add(Current);
            }
        }
        return new StreamedView(sb.CurrentEra, shapes, i => sources[i](), () => EraRuns(reader, sb, prefix));
    }

    private static IEnumerable<BlockRun> BitsetRuns(IDmBlockReader reader, ulong root, ulong nrBits, string structure)
    {
        var runs = new List<BlockRun>();
        foreach (var (first, values) in DmArray.Blocks(reader, root, (nrBits + 63) / 64, 8, structure))
        {
            var words = MemoryMarshal.Cast<byte, ulong>(values.Span);
            var firstBit = first * 64;
            BitRuns.Append(words, Math.Min((ulong)words.Length * 64, nrBits - firstBit), firstBit, runs);
            // The last run may go on in the next block.
            for (var i = 0; i < runs.Count - 1; i++) yield return runs[i];
            if (runs.Count > 1) runs.RemoveRange(0, runs.Count - 1);
        }
        foreach (var run in runs) yield return run;
    }

    private static IEnumerable<EraRun> EraRuns(IDmBlockReader reader, DmSuperblock sb, string prefix)
    {
        var pending = new EraRun(0, 0, 0);
        foreach (var (first, values) in DmArray.Blocks(reader, sb.EraArrayRoot, sb.NrBlocks, 4, $"{prefix}era array"))
        {
            var eras = MemoryMarshal.Cast<byte, uint>(values.Span).ToArray();
            var i = 0;
            while (i < eras.Length)
            {
                var era = eras[i];
                if (era > sb.CurrentEra)
                    throw new DmFormatException(sb.EraArrayRoot, $"{prefix}era array: block {first + (ulong)i} has era {era}, later than current era {sb.CurrentEra}");
                var length = eras.AsSpan(i).IndexOfAnyExcept(era);
                if (length < 0) length = eras.Length - i;
                var start = first + (ulong)i;
                if (pending.Era == era && pending.End == start && pending.Count > 0) pending = pending with { Count = pending.Count + (ulong)length };
                else
                {
                    if (pending.Count > 0) yield return pending;
                    pending = new EraRun(start, (ulong)length, era);
                }
                i += length;
            }
        }
        if (pending.Count > 0) yield return pending;
    }

    private static void CheckSize(IDmBlockReader reader, DmSuperblock sb, string prefix)
    {
        // nr_blocks sizes what is read below: a damaged, huge value must be refused before anything is allocated.
        var arrayBlocks = ((ulong)sb.NrBlocks + (ulong)DmArray.EntriesPerBlock(4) - 1) / (ulong)DmArray.EntriesPerBlock(4);
        if (sb.NrBlocks > EraGeometry.MaxNrBlocks)
            throw new DmFormatException(sb.Location, $"{prefix}superblock: {sb.NrBlocks} blocks, more than the {EraGeometry.MaxNrBlocks} EraFs supports");
        if (arrayBlocks > reader.TotalBlocks)
            throw new DmFormatException(sb.Location, $"{prefix}superblock: {sb.NrBlocks} blocks need {arrayBlocks} era array blocks, the metadata has {reader.TotalBlocks} blocks");
    }

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
        CheckSize(reader, sb, prefix);
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
                    current.Bits.UnionWith(archived.Bits);
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
        DmArray.Read(reader, root, (ulong)ws.Bits.WordCount, 8, structure,
            (i, v) => ws.Bits.SetWord((int)i, BinaryPrimitives.ReadUInt64LittleEndian(v)),
            report == null ? null : (block, problem) => { damaged = true; report(block, problem); });
        return damaged ? null : ws;
    }

    private static void Fail(Action<ulong, string>? report, ulong block, string problem)
    {
        if (report == null) throw new DmFormatException(block, problem);
        report(block, problem);
    }
}

using System.Runtime.InteropServices;
using EraFs.Core;

namespace EraFs.Metadata;

/// <summary>One thing wrong with a metadata file: where (block, structure) and what.</summary>
public sealed record MetadataProblem(ulong Block, string Structure, string Problem)
{
    public override string ToString() => $"block {Block} ({Structure}): {Problem}";
}

/// <summary>
/// Verifies every structure of a native metadata file read-only: superblock slots, mark journal,
/// era array, current writeset, archived-writeset catalog and bitsets, and the held snapshot. It keeps
/// going after damage (a bad node hides only its own subtree) and returns every problem found.
/// A damaged superblock slot beside a sound one is a warning, not a problem: a torn superblock write
/// leaves exactly that, by design, but so would damage to a newer commit, so it is never passed over.
/// </summary>
/// <summary>
/// How far a check is: metadata blocks read so far, of the data blocks the file holds (a snapshot
/// that shares blocks with the live state has some read twice), and the origin blocks the history tracks.
/// </summary>
public readonly record struct CheckProgress(ulong BlocksRead, ulong DataBlocks, ulong TrackedBlocks);

public static class MetadataChecker
{
    /// <summary>
    /// Every problem in the file; <paramref name="progress"/> hears how far the walk is after each
    /// block it reads.
    /// </summary>
    public static IReadOnlyList<MetadataProblem> Check(string path, bool superblockOnly = false, Action<MetadataProblem>? warning = null,
        Action<CheckProgress>? progress = null)
    {
        using var device = MetadataFile.Open(path, writable: false);
        return Check(device, superblockOnly, warning, progress);
    }

    internal static IReadOnlyList<MetadataProblem> Check(IBlockDevice device, bool superblockOnly, Action<MetadataProblem>? warning = null,
        Action<CheckProgress>? progress = null)
    {
        var problems = new List<MetadataProblem>();
        Superblock sb;
        int slot;
        try
        {
            (sb, slot) = Superblock.ReadNewest(device);
        }
        catch (MetadataCorruptException ex)
        {
            var problem = ex.Message[(device.Name.Length + 2)..];
            const string structure = "superblock: ";
            problems.Add(new MetadataProblem(0, "superblock", problem.StartsWith(structure, StringComparison.Ordinal) ? problem[structure.Length..] : problem));
            return problems;
        }
        if (OtherSlotWarning(device, sb, slot) is { } slotWarning) warning?.Invoke(slotWarning);
        var fileBlocks = (ulong)((device.Length + BlockFormat.BlockSize - 1) / BlockFormat.BlockSize);
        if (MarkJournal.RegionProblem(sb, sb.TotalBlocks) is { } region)
            problems.Add(new MetadataProblem((ulong)slot, "superblock", region));
        if (sb.TotalBlocks > fileBlocks)
            problems.Add(new MetadataProblem((ulong)slot, "superblock", $"records {sb.TotalBlocks} blocks but the file has {fileBlocks} (truncated?)"));
        if (superblockOnly || problems.Count > 0) return problems;

        var firstData = sb.JournalStart + sb.JournalLength;
        var walk = new Walk(device, sb, firstData, Math.Min(sb.TotalBlocks, fileBlocks), problems, progress);
        // Once before the first block, so a listener knows the size of the work even if the walk reads nothing.
        progress?.Invoke(new CheckProgress(0, Math.Min(sb.TotalBlocks, fileBlocks) - firstData, sb.Geometry.NrBlocks));
        walk.Journal();
        walk.EraTree("era array", sb.EraArrayRoot, sb.CurrentEra, sb.Geometry.NrBlocks);
        walk.BitsetTree("current writeset", sb.CurrentWritesetRoot, sb.Geometry.NrBlocks);
        walk.Archive("", sb.CatalogHead, sb.CurrentEra, sb.Geometry.NrBlocks);
        if (sb.SnapshotRoot != 0) walk.Snapshot(sb.SnapshotRoot, sb.CurrentEra);
        return problems;
    }

    /// <summary>
    /// What is wrong with the slot that does not hold the newest superblock, or null when it holds a sound
    /// older one or was never written. All zeros is "never written" only while the newest is the first
    /// commit (sequence 1, as create, restore and import leave it); every later commit alternates slots.
    /// </summary>
    private static MetadataProblem? OtherSlotWarning(IBlockDevice device, Superblock newest, int slot)
    {
        var other = 1 - slot;
        var buffer = new byte[BlockFormat.BlockSize];
        var read = BlockIo.ReadBlock(device, (ulong)other, buffer);
        var structure = $"superblock slot {other}";
        var inUse = $"slot {slot} (sequence {newest.Sequence}) is in use";
        if (read == 0 || buffer.AsSpan().IndexOfAnyExcept((byte)0) < 0)
            return newest.Sequence > 1
                ? new MetadataProblem((ulong)other, structure, $"empty, yet it was written before sequence {newest.Sequence}; {inUse}")
                : null;
        if (Superblock.TryUnpack(buffer, (ulong)other, out var problem) != null) return null;
        return new MetadataProblem((ulong)other, structure,
            $"{problem}; {inUse}. A torn superblock write leaves this; damage to a newer commit looks the same");
    }

    /// <summary>The walk over one state; the live state's blocks may each be reached once, the snapshot may share them.</summary>
    private sealed class Walk(IBlockDevice device, Superblock sb, ulong firstData, ulong totalBlocks, List<MetadataProblem> problems,
        Action<CheckProgress>? progress) : IBlockSource
    {
        private ulong _blocksRead;

        // Each state may reach a block once; the snapshot gets its own set because it shares with the live state.
        private HashSet<ulong> _reached = [];

        public string FileName => device.Name;

        public byte[] Read(ulong blockNr, BlockKind kind)
        {
            if (blockNr < firstData || blockNr >= totalBlocks)
                throw BlockFormat.Corrupt(device.Name, blockNr, kind, $"pointer outside the data blocks {firstData}..{totalBlocks - 1}");
            var buffer = new byte[BlockFormat.BlockSize];
            BlockIo.ReadBlock(device, blockNr, buffer);
            BlockFormat.Verify(buffer, kind, blockNr, device.Name);
            progress?.Invoke(new CheckProgress(++_blocksRead, totalBlocks - firstData, sb.Geometry.NrBlocks));
            return buffer;
        }

        public void Journal()
        {
            try
            {
                MarkJournal.Replay(device, sb, []);
            }
            catch (MetadataException ex)
            {
                Report(sb.JournalStart, "mark journal", ex);
            }
        }

        public void EraTree(string structure, ulong root, uint currentEra, ulong nrBlocks) =>
            Tree(structure, root, BlockFormat.EraTreeHeight, BlockKind.EraPage, 0, (page, data) =>
            {
                var entries = MemoryMarshal.Cast<byte, uint>(data.AsSpan(BlockFormat.HeaderSize, BlockFormat.ErasPerPage * 4));
                for (var i = 0; i < entries.Length; i++)
                {
                    var block = page * BlockFormat.ErasPerPage + (ulong)i;
                    if (entries[i] > currentEra)
                        return $"block {block} has era {entries[i]}, later than current era {currentEra}";
                    if (entries[i] != 0 && block >= nrBlocks)
                        return $"entry for block {block}, past the {nrBlocks} tracked blocks";
                }
                return null;
            });

        public void BitsetTree(string structure, ulong root, ulong nrBits) =>
            Tree(structure, root, BlockFormat.BitsetTreeHeight, BlockKind.BitsetPage, 0, (page, data) =>
            {
                var runs = WritesetBits.RunsInPage(data, BlockFormat.BitsPerPage);
                var last = runs.Count == 0 ? 0 : runs[^1].Start + runs[^1].Count;
                return page * BlockFormat.BitsPerPage + last > nrBits && last > 0
                    ? $"bit {page * BlockFormat.BitsPerPage + last - 1} set past the {nrBits} bits"
                    : null;
            });

        public void Archive(string prefix, ulong head, uint currentEra, ulong nrBlocks)
        {
            List<ArchivedWriteset> archive;
            try
            {
                archive = ArchiveCatalog.Load(this, head, block => Reach(block, prefix + "archived writeset catalog"));
            }
            catch (MetadataException ex)
            {
                Report(head, prefix + "archived writeset catalog", ex);
                return;
            }
            foreach (var ws in archive)
            {
                var structure = $"{prefix}writeset of era {ws.Era}";
                if (ws.Era >= currentEra)
                    problems.Add(new MetadataProblem(head, prefix + "archived writeset catalog", $"archived era {ws.Era} is not before era {currentEra}"));
                if (ws.NrBits > nrBlocks)
                    problems.Add(new MetadataProblem(head, prefix + "archived writeset catalog", $"era {ws.Era} has {ws.NrBits} bits, more than the {nrBlocks} blocks"));
                // A shrink clamps nr_bits but leaves the (possibly snapshot-shared) bitset as it was:
                // bits past the end are expected here, and readers ignore them.
                BitsetTree(structure, ws.Root, ulong.MaxValue);
            }
        }

        public void Snapshot(ulong rootBlock, uint liveEra)
        {
            _reached = [];
            SnapshotRootBlock root;
            try
            {
                root = SnapshotRootBlock.Load(this, rootBlock);
            }
            catch (MetadataException ex)
            {
                Report(rootBlock, "snapshot root", ex);
                return;
            }
            if (root.CurrentEra > liveEra)
                problems.Add(new MetadataProblem(rootBlock, "snapshot root", $"era {root.CurrentEra} is later than the live era {liveEra}"));
            EraTree("snapshot era array", root.EraArrayRoot, root.CurrentEra, root.Geometry.NrBlocks);
            Archive("snapshot ", root.CatalogHead, root.CurrentEra, root.Geometry.NrBlocks);
        }

        private void Tree(string structure, ulong root, int height, BlockKind leafKind, ulong firstPage, Func<ulong, byte[], string?> checkLeaf)
        {
            if (root == 0) return;
            if (!Reach(root, structure)) return;
            byte[] data;
            try
            {
                data = Read(root, height == 0 ? leafKind : BlockKind.IndexNode);
            }
            catch (MetadataException ex)
            {
                Report(root, structure, ex);
                return;
            }
            if (height == 0)
            {
                if (checkLeaf(firstPage, data) is { } problem) problems.Add(new MetadataProblem(root, structure, problem));
                return;
            }
            var span = PagedTree.Capacity(height - 1);
            for (var slot = 0; slot < BlockFormat.ChildrenPerNode; slot++)
            {
                var child = PagedTree.Child(data, slot);
                if (child != 0) Tree(structure, child, height - 1, leafKind, firstPage + (ulong)slot * span, checkLeaf);
            }
        }

        /// <summary>False (and a problem) when the block was already reached in this state.</summary>
        private bool Reach(ulong block, string structure)
        {
            if (_reached.Add(block)) return true;
            problems.Add(new MetadataProblem(block, structure, "block is referenced more than once"));
            return false;
        }

        private void Report(ulong block, string structure, MetadataException ex)
        {
            var message = ex.Message;
            var marker = $"{device.Name}: block ";
            if (message.StartsWith(marker, StringComparison.Ordinal))
            {
                var rest = message[marker.Length..];
                var close = rest.IndexOf("): ", StringComparison.Ordinal);
                var number = rest.IndexOf(' ', StringComparison.Ordinal);
                if (close > 0 && number > 0 && ulong.TryParse(rest[..number], out var b))
                {
                    problems.Add(new MetadataProblem(b, structure, rest[(close + 3)..]));
                    return;
                }
            }
            if (message.StartsWith(device.Name + ": ", StringComparison.Ordinal)) message = message[(device.Name.Length + 2)..];
            problems.Add(new MetadataProblem(block, structure, message));
        }
    }
}

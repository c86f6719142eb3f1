using EraFs.Core;

namespace EraFs.Metadata;

/// <summary>
/// The native metadata file: the durable era history of one origin (see docs/metadata-format.md).
/// Marks go to an append-only journal (one write, one fdatasync per group commit); every other change
/// is a copy-on-write transaction ending in a superblock written to the slot not holding the newest
/// durable one. Not thread-safe: the tracker calls it from one thread.
/// </summary>
public sealed partial class MetadataStore : IEraStore
{
    /// <summary>Journal blocks made at create: about 64 group commits between folds.</summary>
    public const uint DefaultJournalBlocks = 64;

    private readonly IBlockDevice _device;
    private readonly MetadataSpace _space;
    private ulong _deviceBlocks;
    private Superblock _sb;
    private int _durableSlot;
    private ulong _nextSequence;
    private ulong _nextEpoch;
    private List<ArchivedWriteset> _archive;
    private readonly List<BlockRun> _journaled = [];
    private MarkJournal.Tail _tail;
    private bool _needsFullCommit;
    private bool _disposed;

    private MetadataStore(IBlockDevice device, Superblock sb, int slot)
    {
        _device = device;
        _sb = sb;
        _durableSlot = slot;
        _nextSequence = sb.Sequence + 1;
        _nextEpoch = sb.JournalEpoch + 1;
        var deviceBlocks = (ulong)((device.Length + BlockFormat.BlockSize - 1) / BlockFormat.BlockSize);
        _space = new MetadataSpace(device, Math.Max(sb.TotalBlocks, deviceBlocks));
        if (MarkJournal.RegionProblem(sb, _space.TotalBlocks) is { } problem)
            throw BlockFormat.Corrupt(device.Name, (ulong)slot, BlockKind.Superblock, problem);
        _archive = ArchiveCatalog.Load(_space, sb.CatalogHead);
        MarkReachable();
        _tail = MarkJournal.Replay(device, sb, _journaled);
        OpenState = new StoreOpenState(sb.Clean, sb.OriginMtimeUtc, sb.NeedsCheck, sb.NeedsCheckReason, sb.WriteHorizonUtc);
    }

    /// <summary>Creates metadata for a new, empty history (era 0). Refuses a non-empty existing file unless force.</summary>
    public static MetadataStore Create(string path, EraGeometry geometry, bool force = false)
    {
        var existing = new FileInfo(path);
        if (existing.Exists && existing.Length > 0 && !force)
            throw new MetadataException($"{path}: already exists and is not empty; refusing to overwrite it");
        var device = MetadataFile.Open(path, writable: true, create: true);
        try
        {
            return Create(device, geometry);
        }
        catch
        {
            device.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Formats metadata and records the origin's current mtime as a clean baseline, so the first mount
    /// can tell an untouched origin (era 1 starts empty, as in dm-era) from one written meanwhile.
    /// Reopened so that a mount on it sees the clean baseline, not the unclean state the file had before.
    /// </summary>
    public static MetadataStore CreateWithBaseline(string path, EraGeometry geometry, DateTime originMtimeUtc, bool force)
    {
        using (var created = Create(path, geometry, force)) created.SetClean(true, originMtimeUtc);
        return Open(path);
    }

    /// <summary>Opens existing metadata for writing, checking every block it reads.</summary>
    public static MetadataStore Open(string path)
    {
        var device = MetadataFile.Open(path, writable: true);
        try
        {
            return Open(device);
        }
        catch
        {
            device.Dispose();
            throw;
        }
    }

    internal static MetadataStore Create(IBlockDevice device, EraGeometry geometry, uint journalBlocks = DefaultJournalBlocks)
    {
        var sb = new Superblock
        {
            Sequence = 1,
            Generation = Guid.NewGuid(),
            Geometry = geometry,
            JournalStart = Superblock.SlotCount,
            JournalLength = journalBlocks,
            JournalEpoch = 1,
            TotalBlocks = Superblock.SlotCount + journalBlocks,
        };
        MetadataCommit.BeginNewFile(device);
        MetadataCommit.CommitNewFile(new MetadataSpace(device, sb.TotalBlocks), sb);
        return new MetadataStore(device, sb, 0);
    }

    internal static MetadataStore Open(IBlockDevice device)
    {
        var (sb, slot) = Superblock.ReadNewest(device);
        return new MetadataStore(device, sb, slot);
    }

    public string FileName => _device.Name;
    public EraGeometry Geometry => _sb.Geometry;
    public uint CurrentEra => _sb.CurrentEra;
    public ulong? HeldSnapshot => _sb.SnapshotRoot == 0 ? null : _sb.SnapshotRoot;
    public (ulong Used, ulong Total) Usage => (_space.UsedBlocks, _space.TotalBlocks);
    public Guid Generation => _sb.Generation;
    public StoreOpenState OpenState { get; }

    /// <summary>Archived writesets not yet digested, oldest first.</summary>
    public IReadOnlyList<ArchivedWriteset> ArchivedWritesets => _archive;

    /// <summary>Sequence number of the newest durable superblock.</summary>
    public ulong Sequence => _sb.Sequence;

    public void CommitMarks(ReadOnlySpan<BlockRun> runs)
    {
        ThrowIfDisposed();
        foreach (var run in runs)
            if (run.End > _sb.Geometry.NrBlocks || run.End < run.Start)
                throw new ArgumentOutOfRangeException(nameof(runs),
                    $"run {run.Start}+{run.Count} lies past the {_sb.Geometry.NrBlocks} tracked blocks");
        CommitRuns.Require(runs, nameof(runs));
        if (runs.IsEmpty) return;
        var marks = runs.ToArray();
        if (_needsFullCommit || _tail.NextIndex + MarkJournal.BlocksFor(marks.Length) > _sb.JournalLength)
        {
            // Journal full (or a failed transaction may have left a newer superblock with another
            // epoch): fold the marks straight into the writeset in a full transaction.
            Transact(sb =>
            {
                var root = sb.CurrentWritesetRoot;
                foreach (var run in marks) WritesetBits.SetRun(_space, ref root, run);
                return sb with { CurrentWritesetRoot = root };
            });
            return;
        }
        var tail = MarkJournal.Encode(_sb, _tail, marks, out var buffer);
        MetadataCommit.AppendMarks(_device, _sb.JournalStart + _tail.NextIndex, buffer);
        _tail = tail;
        _journaled.AddRange(marks);
    }

    public uint Rollover()
    {
        ThrowIfDisposed();
        if (_sb.CurrentEra == uint.MaxValue)
            throw new ControlRejectedException(ControlError.EraExhausted,
                $"era {_sb.CurrentEra} is the largest era; cannot start another");
        Transact(sb => ArchiveCurrentWriteset(sb) with { CurrentEra = sb.CurrentEra + 1 });
        return _sb.CurrentEra;
    }

    public void TakeSnapshot()
    {
        ThrowIfDisposed();
        if (_sb.SnapshotRoot != 0)
            throw new ControlRejectedException(ControlError.SnapshotHeld, "metadata snapshot already held");
        Rollover();
        Transact(sb =>
        {
            var data = _space.Allocate(BlockKind.SnapshotRoot, out var rootBlock);
            new SnapshotRootBlock(sb.CurrentEra, sb.Generation, sb.Geometry, sb.EraArrayRoot, sb.CatalogHead).Pack(data);
            return sb with { SnapshotRoot = rootBlock };
        });
        VisitSnapshot(_sb, block => _space.Pin(block));
    }

    public void DropSnapshot()
    {
        ThrowIfDisposed();
        if (_sb.SnapshotRoot == 0)
            throw new ControlRejectedException(ControlError.NoSnapshot, "no metadata snapshot held");
        Transact(sb => sb with { SnapshotRoot = 0 });
        // Blocks only the snapshot reached become free: rebuild usage from the live state.
        MarkReachable();
    }

    public bool DigestStep()
    {
        ThrowIfDisposed();
        if (_archive.Count == 0) return false;
        Transact(sb =>
        {
            var oldest = _archive[0];
            var limit = Math.Min(oldest.NrBits, sb.Geometry.NrBlocks);
            var eraRoot = sb.EraArrayRoot;
            var pages = PagedTree.Leaves(_space, oldest.Root, BlockFormat.BitsetTreeHeight, oldest.DigestedPages).Take(2).ToList();
            var more = false;
            if (pages.Count > 0 && pages[0].PageIndex * BlockFormat.BitsPerPage < limit)
            {
                // One bitset page (at most 32640 blocks) per step keeps each transaction small.
                var (page, leaf) = pages[0];
                var pageBase = page * BlockFormat.BitsPerPage;
                var bits = _space.Read(leaf, BlockKind.BitsetPage);
                foreach (var (start, count) in WritesetBits.RunsInPage(bits, Math.Min(BlockFormat.BitsPerPage, limit - pageBase)))
                    EraArray.SetEra(_space, ref eraRoot, new BlockRun(pageBase + start, count), oldest.Era);
                _archive[0] = oldest with { DigestedPages = page + 1 };
                more = pages.Count > 1 && pages[1].PageIndex * BlockFormat.BitsPerPage < limit;
            }
            if (!more)
            {
                _archive.RemoveAt(0);
                WritesetBits.FreeAll(_space, oldest.Root);
            }
            var head = ArchiveCatalog.Replace(_space, sb.CatalogHead, _archive);
            return sb with { EraArrayRoot = eraRoot, CatalogHead = head };
        });
        return _archive.Count > 0;
    }

    public void Resize(EraGeometry newGeometry)
    {
        ThrowIfDisposed();
        if (newGeometry.BlockSize != _sb.Geometry.BlockSize)
            throw new ArgumentException(
                $"block size cannot change (metadata has {_sb.Geometry.BlockSize}, asked {newGeometry.BlockSize})", nameof(newGeometry));
        Transact(sb =>
        {
            var nr = newGeometry.NrBlocks;
            if (nr >= sb.Geometry.NrBlocks) return sb with { Geometry = newGeometry };
            var eraRoot = sb.EraArrayRoot;
            var writesetRoot = sb.CurrentWritesetRoot;
            EraArray.Truncate(_space, ref eraRoot, nr);
            WritesetBits.Truncate(_space, ref writesetRoot, nr);
            // Archived bitsets may be shared with the snapshot: clamp their length instead of rewriting them.
            _archive = _archive.Select(a => a with { NrBits = Math.Min(a.NrBits, nr) }).ToList();
            var head = ArchiveCatalog.Replace(_space, sb.CatalogHead, _archive);
            return sb with { Geometry = newGeometry, EraArrayRoot = eraRoot, CurrentWritesetRoot = writesetRoot, CatalogHead = head };
        });
    }

    public void NewGeneration()
    {
        ThrowIfDisposed();
        Transact(sb => sb with { Generation = Guid.NewGuid() });
    }

    public void SetNeedsCheck(string reason)
    {
        ThrowIfDisposed();
        try
        {
            Transact(sb => sb with { NeedsCheck = true, NeedsCheckReason = reason });
        }
        catch (MetadataException)
        {
            // Best effort by contract: the metadata may be the very thing that is failing.
        }
    }

    /// <summary>Clears needs-check after the metadata was checked (a tool's action, not the tracker's).</summary>
    public void ClearNeedsCheck()
    {
        ThrowIfDisposed();
        Transact(sb => sb with { NeedsCheck = false, NeedsCheckReason = null });
    }

    public void SetClean(bool clean, DateTime originMtimeUtc, DateTime? writeHorizonUtc = null)
    {
        ThrowIfDisposed();
        Transact(sb => sb with
        {
            Clean = clean,
            OriginMtimeUtc = DateTime.SpecifyKind(originMtimeUtc, DateTimeKind.Utc),
            WriteHorizonUtc = writeHorizonUtc is { } h ? DateTime.SpecifyKind(h, DateTimeKind.Utc) : null,
        });
    }

    public void ExtendWriteHorizon(DateTime untilUtc)
    {
        ThrowIfDisposed();
        Transact(sb => sb with { WriteHorizonUtc = DateTime.SpecifyKind(untilUtc, DateTimeKind.Utc) });
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _device.Dispose();
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);
}

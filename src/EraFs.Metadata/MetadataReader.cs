using EraFs.Core;

namespace EraFs.Metadata;

/// <summary>
/// Read-only access to a metadata file, safe while a live mount writes it. Properties describe the
/// newest committed state as of opening (or <see cref="Refresh"/>), current-writeset journal included.
/// Enumerations are lazy and ascending; when the writer commits during one, the reader moves to the
/// newer state and continues after the last run it returned (the live history only grows, so nothing
/// is missed). Pass useSnapshot: true to read the held metadata snapshot instead, which stays
/// unchanged until it is dropped.
/// </summary>
public sealed class MetadataReader : IDisposable
{
    /// <summary>How many times in a row a read restarts, without progress, because the writer committed meanwhile.</summary>
    public const int MaxAttempts = 50;

    private readonly IBlockDevice _device;
    private ReaderState _state;

    internal MetadataReader(IBlockDevice device)
    {
        _device = device;
        _state = LoadState();
    }

    /// <summary>Opens the file read-only and reads its newest committed state.</summary>
    public static MetadataReader Open(string path)
    {
        var device = MetadataFile.Open(path, writable: false);
        try
        {
            return new MetadataReader(device);
        }
        catch
        {
            device.Dispose();
            throw;
        }
    }

    public string FileName => _device.Name;

    /// <summary>Superblock sequence of the state being read.</summary>
    public ulong Sequence => _state.Superblock.Sequence;

    public EraGeometry Geometry => _state.Superblock.Geometry;
    public uint CurrentEra => _state.Superblock.CurrentEra;
    public Guid Generation => _state.Superblock.Generation;
    public bool Clean => _state.Superblock.Clean;
    public DateTime? OriginMtimeUtc => _state.Superblock.OriginMtimeUtc;
    public bool NeedsCheck => _state.Superblock.NeedsCheck;
    public string? NeedsCheckReason => _state.Superblock.NeedsCheckReason;

    /// <summary>Metadata block number of the held snapshot's root, or null.</summary>
    public ulong? HeldSnapshot => _state.Superblock.SnapshotRoot == 0 ? null : _state.Superblock.SnapshotRoot;

    /// <summary>The era that was current right after the snapshot's rollover (its newest archived era is one less).</summary>
    public uint SnapshotEra => RequireSnapshot(_state).CurrentEra;

    /// <summary>Geometry as recorded in the snapshot.</summary>
    public EraGeometry SnapshotGeometry => RequireSnapshot(_state).Geometry;

    /// <summary>Rereads the newest committed state.</summary>
    public void Refresh() => _state = LoadState();

    /// <summary>Archived writesets (oldest era first) not yet folded into the era array.</summary>
    public IReadOnlyList<ArchivedWriteset> ArchivedWritesets(bool useSnapshot = false) =>
        useSnapshot ? RequireSnapshot(_state).Archive : _state.Archive;

    /// <summary>
    /// Set runs of the archived writeset of one era (MetadataException when that era has none, also
    /// when a live digest removes it mid-read: dump from the snapshot for a stable view). With
    /// <paramref name="unreadable"/>, damaged pages are reported as the bit ranges they hold and skipped
    /// (a range may be reported more than once when the read restarts).
    /// </summary>
    public IEnumerable<BlockRun> ArchivedWritesetRuns(uint era, bool useSnapshot = false, Action<BlockRun, MetadataException>? unreadable = null) =>
        Resumable((state, from) =>
        {
            var (archive, geometry) = useSnapshot
                ? (RequireSnapshot(state).Archive, RequireSnapshot(state).Geometry)
                : (state.Archive, state.Superblock.Geometry);
            var entry = archive.FirstOrDefault(a => a.Era == era)
                ?? throw new MetadataException($"{FileName}: no archived writeset for era {era}");
            return WritesetBits.Runs(state.Source, entry.Root, Math.Min(entry.NrBits, geometry.NrBlocks), from, unreadable);
        }, run => run.End);

    /// <summary>Set runs of the live current writeset, journal records included; unreadable as for <see cref="ArchivedWritesetRuns"/>.</summary>
    public IEnumerable<BlockRun> CurrentWritesetRuns(Action<BlockRun, MetadataException>? unreadable = null) =>
        Resumable((state, from) => CurrentRuns(state, from, unreadable), run => run.End);

    /// <summary>
    /// The era array as runs of equal era over every tracked block, ascending. With
    /// <paramref name="unreadable"/>, blocks whose page cannot be read are reported and come as era 0.
    /// </summary>
    public IEnumerable<EraRun> EraArrayRuns(bool useSnapshot = false, Action<BlockRun, MetadataException>? unreadable = null) =>
        Resumable((state, from) => useSnapshot
            ? EraArray.Runs(state.Source, RequireSnapshot(state).EraArrayRoot, RequireSnapshot(state).Geometry.NrBlocks, from, unreadable)
            : EraArray.Runs(state.Source, state.Superblock.EraArrayRoot, state.Superblock.Geometry.NrBlocks, from, unreadable),
            run => run.End);

    /// <summary>
    /// Blocks whose last write era is at least era (inclusive): era-array entry ≥ era, or set in an
    /// archived writeset of era ≥ era, or (live view only) set in the current writeset when the current
    /// era ≥ era. Ascending, merged, streamed.
    /// </summary>
    public IEnumerable<BlockRun> WrittenSince(uint era, bool useSnapshot = false) =>
        Resumable((state, from) => BlockRuns.Union(WrittenSinceSources(state, era, useSnapshot, from)), run => run.End);

    /// <summary>
    /// Metadata blocks the newest state reaches (superblock slots, journal, live trees, held snapshot)
    /// and blocks the file holds: the used/total that a mount's status line shows right after opening.
    /// </summary>
    public (ulong Used, ulong Total) Usage()
    {
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var state = _state;
            try
            {
                var used = CountReachable(state);
                state.Source.ConfirmUnchanged();
                var fileBlocks = (ulong)((_device.Length + BlockFormat.BlockSize - 1) / BlockFormat.BlockSize);
                return (used, Math.Max(state.Superblock.TotalBlocks, fileBlocks));
            }
            catch (StateChangedException)
            {
                _state = LoadState();
            }
        }
        throw ChangingTooFast();
    }

    private static ulong CountReachable(ReaderState state)
    {
        var sb = state.Superblock;
        var source = state.Source;
        var blocks = new HashSet<ulong>();
        for (ulong slot = 0; slot < Superblock.SlotCount; slot++) blocks.Add(slot);
        for (ulong i = 0; i < sb.JournalLength; i++) blocks.Add(sb.JournalStart + i);
        void Visit(ulong block) => blocks.Add(block);
        ReachableBlocks.VisitLive(source, sb, Visit);
        ReachableBlocks.VisitSnapshot(source, sb, Visit);
        return (ulong)blocks.Count;
    }

    public void Dispose() => _device.Dispose();

    private IEnumerable<IEnumerable<BlockRun>> WrittenSinceSources(ReaderState state, uint era, bool useSnapshot, ulong from)
    {
        var snapshot = useSnapshot ? RequireSnapshot(state) : null;
        var eraRoot = snapshot?.EraArrayRoot ?? state.Superblock.EraArrayRoot;
        var nrBlocks = (snapshot?.Geometry ?? state.Superblock.Geometry).NrBlocks;
        yield return EraArray.Runs(state.Source, eraRoot, nrBlocks, from)
            .Where(r => r.Era >= era)
            .Select(r => new BlockRun(r.Start, r.Count));
        foreach (var archived in snapshot?.Archive ?? state.Archive)
            if (archived.Era >= era)
                yield return WritesetBits.Runs(state.Source, archived.Root, Math.Min(archived.NrBits, nrBlocks), from);
        if (!useSnapshot && state.Superblock.CurrentEra >= era) yield return CurrentRuns(state, from);
    }

    private static IEnumerable<BlockRun> CurrentRuns(ReaderState state, ulong from, Action<BlockRun, MetadataException>? unreadable = null) =>
        BlockRuns.Union([
            WritesetBits.Runs(state.Source, state.Superblock.CurrentWritesetRoot, state.Superblock.Geometry.NrBlocks, from, unreadable),
            BlockRuns.From(state.JournalRuns, from),
        ]);

    private SnapshotView RequireSnapshot(ReaderState state) =>
        state.Snapshot ?? throw new MetadataException($"no metadata snapshot held in {FileName}");

    /// <summary>Runs a producer over the current state; on a concurrent commit, reloads and resumes after the last item.</summary>
    private IEnumerable<T> Resumable<T>(Func<ReaderState, ulong, IEnumerable<T>> produce, Func<T, ulong> endOf)
    {
        ulong from = 0;
        for (var attempt = 1; ; attempt++)
        {
            var progressed = false;
            var state = _state;
            var finished = false;
            using (var items = produce(state, from).GetEnumerator())
            {
                while (true)
                {
                    T item;
                    try
                    {
                        if (!items.MoveNext())
                        {
                            finished = true;
                            break;
                        }
                        item = items.Current;
                    }
                    catch (StateChangedException)
                    {
                        break;
                    }
                    from = endOf(item);
                    progressed = true;
                    yield return item;
                }
            }
            if (finished) yield break;
            if (progressed) attempt = 0;
            else if (attempt >= MaxAttempts) throw ChangingTooFast();
            if (ReferenceEquals(state, _state)) _state = LoadState();
        }
    }

    private ReaderState LoadState()
    {
        string? lastDamage = null;
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            try
            {
                return ReaderState.Load(_device);
            }
            catch (StateChangedException)
            {
            }
            catch (MetadataCorruptException e) when (e.Message != lastDamage)
            {
                // A live writer appending to the journal while it is read looks like a damaged block followed by
                // intact later ones; real damage reads the same twice in a row, a race does not.
                lastDamage = e.Message;
            }
        }
        throw ChangingTooFast();
    }

    private MetadataException ChangingTooFast() =>
        new($"{FileName}: metadata kept changing while being read ({MaxAttempts} attempts)");
}

using EraFs.Core;

namespace EraFs.TestSupport;

/// <summary>An in-memory era history with dm-era's semantics, plus knobs to hold, delay, fail and count store calls.</summary>
public sealed class MemoryEraStore : IEraStore
{
    /// <summary>The origin mtime a new store records as its last clean shutdown unless told otherwise.</summary>
    public static readonly DateTime DefaultOriginMtime = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    private const int DigestBitsPerStep = 100;

    private readonly object _sync = new();
    private EraGeometry _geometry;
    private uint _era;
    private SortedSet<ulong> _current = [];
    private readonly SortedDictionary<uint, SortedSet<ulong>> _archived = [];
    private uint[] _eraArray;
    private ulong? _heldSnapshot;
    private uint[]? _snapshotEraArray;
    private SortedDictionary<uint, SortedSet<ulong>>? _snapshotArchived;
    private ulong _nextSnapshotLocation = 100;
    private Guid _generation = Guid.NewGuid();
    private bool _clean;
    private DateTime? _recordedMtime;
    private DateTime? _writeHorizon;
    private bool _needsCheck;
    private string? _needsCheckReason;
    private int _activeCalls;
    private int _commitCalls;
    private int _rolloverCalls;
    private long _runsCommitted;

    /// <summary>A store as found after a clean shutdown at <paramref name="initialEra"/> with the given recorded mtime.</summary>
    public MemoryEraStore(EraGeometry geometry, uint initialEra = 0, DateTime? recordedOriginMtime = null)
    {
        _geometry = geometry;
        _era = initialEra;
        _eraArray = new uint[geometry.NrBlocks];
        _clean = true;
        _recordedMtime = recordedOriginMtime ?? DefaultOriginMtime;
        OpenState = new StoreOpenState(_clean, _recordedMtime, false, null);
    }

    /// <summary>Released once each time a CommitMarks call starts (before it waits at <see cref="CommitGate"/>).</summary>
    public SemaphoreSlim CommitStarted { get; } = new(0);

    /// <summary>CommitMarks waits here before recording anything; reset it to hold commits in flight.</summary>
    public ManualResetEventSlim CommitGate { get; } = new(true);

    /// <summary>Extra time every CommitMarks takes, standing in for an fdatasync.</summary>
    public TimeSpan CommitDelay { get; set; }

    /// <summary>The 1-based CommitMarks call that throws an IOException, or 0 for none.</summary>
    public int FailCommitNumber { get; set; }

    /// <summary>The 1-based Rollover call that throws an IOException, or 0 for none.</summary>
    public int FailRolloverNumber { get; set; }

    /// <summary>When set, every DigestStep throws an IOException (an archived writeset that cannot be read).</summary>
    public bool FailDigest { get; set; }

    /// <summary>When set, every ExtendWriteHorizon throws an IOException.</summary>
    public bool FailHorizon { get; set; }

    public int CommitCalls => Volatile.Read(ref _commitCalls);
    public int RolloverCalls => Volatile.Read(ref _rolloverCalls);
    public long RunsCommitted => Interlocked.Read(ref _runsCommitted);
    public int NewGenerationCalls { get; private set; }
    public int DigestSteps { get; private set; }
    public bool Disposed { get; private set; }

    /// <summary>Set when two store calls overlapped, which the IEraStore contract forbids.</summary>
    public bool ConcurrentCallSeen { get; private set; }

    public bool RecordedClean { get { lock (_sync) return _clean; } }
    public DateTime? RecordedOriginMtime { get { lock (_sync) return _recordedMtime; } }
    public bool NeedsCheck { get { lock (_sync) return _needsCheck; } }
    public string? NeedsCheckReason { get { lock (_sync) return _needsCheckReason; } }
    public IReadOnlyList<uint> ArchivedEras { get { lock (_sync) return [.. _archived.Keys]; } }
    public IReadOnlyList<ulong> CurrentWriteset { get { lock (_sync) return [.. _current]; } }

    public EraGeometry Geometry { get { lock (_sync) return _geometry; } }
    public uint CurrentEra { get { lock (_sync) return _era; } }
    public ulong? HeldSnapshot { get { lock (_sync) return _heldSnapshot; } }
    public Guid Generation { get { lock (_sync) return _generation; } }
    public StoreOpenState OpenState { get; private set; }

    public (ulong Used, ulong Total) Usage
    {
        get
        {
            lock (_sync) return ((ulong)(3 + _archived.Count + (_heldSnapshot is null ? 0 : 1)), 1024);
        }
    }

    /// <summary>Simulates closing and reopening the store (after a clean close or a crash alike): OpenState is what was last recorded.</summary>
    public MemoryEraStore Remount()
    {
        lock (_sync) OpenState = new StoreOpenState(_clean, _recordedMtime, _needsCheck, _needsCheckReason, _writeHorizon);
        return this;
    }

    public void CommitMarks(ReadOnlySpan<BlockRun> runs)
    {
        using var call = EnterCall();
        var number = Interlocked.Increment(ref _commitCalls);
        CommitStarted.Release();
        CommitGate.Wait();
        if (CommitDelay > TimeSpan.Zero) Thread.Sleep(CommitDelay);
        if (number == FailCommitNumber) throw new IOException($"injected failure of commit {number}");
        lock (_sync)
        {
            foreach (var run in runs)
            {
                if (run.Count == 0 || run.End > _geometry.NrBlocks)
                    throw new ArgumentOutOfRangeException(nameof(runs), $"run [{run.Start}, {run.End}) outside {_geometry.NrBlocks} blocks");
            }
            // The same shape check as the real store, so tracker tests catch a batch that was not merged.
            CommitRuns.Require(runs, nameof(runs));
            foreach (var run in runs)
            {
                for (var b = run.Start; b < run.End; b++) _current.Add(b);
            }
            Interlocked.Add(ref _runsCommitted, runs.Length);
        }
    }

    public uint Rollover()
    {
        using var call = EnterCall();
        return RolloverCore();
    }

    public void TakeSnapshot()
    {
        using var call = EnterCall();
        lock (_sync)
        {
            if (_heldSnapshot is not null)
                throw new ControlRejectedException(ControlError.SnapshotHeld, "metadata snapshot already exists");
        }
        RolloverCore();
        lock (_sync)
        {
            // As dm-era's clone: the era array and archived writesets as of the rollover, kept while live ones change.
            _snapshotEraArray = (uint[])_eraArray.Clone();
            _snapshotArchived = new(_archived.ToDictionary(e => e.Key, e => new SortedSet<ulong>(e.Value)));
            _heldSnapshot = _nextSnapshotLocation++;
        }
    }

    public void DropSnapshot()
    {
        using var call = EnterCall();
        lock (_sync)
        {
            if (_heldSnapshot is null) throw new ControlRejectedException(ControlError.NoSnapshot, "no snap to drop");
            _heldSnapshot = null;
            _snapshotEraArray = null;
            _snapshotArchived = null;
        }
    }

    /// <summary>dm-era's digest: folds up to 100 bits of the lowest archived era into the era array per step.</summary>
    public bool DigestStep()
    {
        using var call = EnterCall();
        if (FailDigest) throw new IOException("injected digest failure");
        lock (_sync)
        {
            DigestSteps++;
            if (_archived.Count == 0) return false;
            var (era, set) = _archived.First();
            var folded = set.Take(DigestBitsPerStep).ToList();
            foreach (var block in folded)
            {
                if (block < (ulong)_eraArray.Length) _eraArray[block] = era;
                set.Remove(block);
            }
            if (set.Count == 0) _archived.Remove(era);
            return _archived.Count > 0;
        }
    }

    public void Resize(EraGeometry newGeometry)
    {
        using var call = EnterCall();
        lock (_sync)
        {
            if (newGeometry.BlockSize != _geometry.BlockSize)
                throw new ArgumentException("block size cannot change", nameof(newGeometry));
            Array.Resize(ref _eraArray, checked((int)newGeometry.NrBlocks));
            _current.RemoveWhere(b => b >= newGeometry.NrBlocks);
            _geometry = newGeometry;
        }
    }

    public void NewGeneration()
    {
        using var call = EnterCall();
        lock (_sync)
        {
            _generation = Guid.NewGuid();
            NewGenerationCalls++;
        }
    }

    public void SetNeedsCheck(string reason)
    {
        using var call = EnterCall();
        lock (_sync)
        {
            _needsCheck = true;
            _needsCheckReason = reason;
        }
    }

    public void SetClean(bool clean, DateTime originMtimeUtc, DateTime? writeHorizonUtc = null)
    {
        using var call = EnterCall();
        lock (_sync)
        {
            _clean = clean;
            _recordedMtime = originMtimeUtc;
            _writeHorizon = writeHorizonUtc;
        }
    }

    public void ExtendWriteHorizon(DateTime untilUtc)
    {
        using var call = EnterCall();
        if (FailHorizon) throw new IOException("injected write horizon failure");
        lock (_sync) _writeHorizon = untilUtc;
    }

    /// <summary>The write horizon last recorded (what a reopen after a crash compares the origin with).</summary>
    public DateTime? WriteHorizon
    {
        get { lock (_sync) return _writeHorizon; }
    }

    /// <summary>Blocks written in <paramref name="era"/> or later, from the era array, archived writesets and the current writeset.</summary>
    public IEnumerable<ulong> WrittenSince(uint era)
    {
        lock (_sync)
        {
            var blocks = Collect(_eraArray, _archived, _geometry.NrBlocks, era);
            if (_era >= era) blocks.UnionWith(_current);
            return blocks;
        }
    }

    /// <summary>What a reader of the held metadata snapshot would answer for <paramref name="era"/>; null when none is held.</summary>
    public IEnumerable<ulong>? SnapshotWrittenSince(uint era)
    {
        lock (_sync)
        {
            if (_snapshotEraArray is null || _snapshotArchived is null) return null;
            return Collect(_snapshotEraArray, _snapshotArchived, (ulong)_snapshotEraArray.Length, era);
        }
    }

    private static SortedSet<ulong> Collect(uint[] eraArray, SortedDictionary<uint, SortedSet<ulong>> archived, ulong nrBlocks, uint era)
    {
        var blocks = new SortedSet<ulong>();
        for (var b = 0; b < eraArray.Length; b++)
        {
            // Era 0 in the array means "never written since the metadata was made".
            if (eraArray[b] >= era && eraArray[b] != 0) blocks.Add((ulong)b);
        }
        foreach (var (archivedEra, set) in archived)
        {
            if (archivedEra >= era) blocks.UnionWith(set.Where(b => b < nrBlocks));
        }
        return blocks;
    }

    public void Dispose() => Disposed = true;

    private uint RolloverCore()
    {
        var number = Interlocked.Increment(ref _rolloverCalls);
        if (number == FailRolloverNumber) throw new IOException($"injected failure of rollover {number}");
        lock (_sync)
        {
            if (_era == uint.MaxValue)
                throw new ControlRejectedException(ControlError.EraExhausted, $"era {_era} is the largest");
            // dm-era archives the current writeset even when empty; the digest then discards it.
            _archived[_era] = _current;
            _current = [];
            return ++_era;
        }
    }

    private CallScope EnterCall()
    {
        if (Interlocked.Increment(ref _activeCalls) > 1) ConcurrentCallSeen = true;
        return new CallScope(this);
    }

    private readonly struct CallScope(MemoryEraStore store) : IDisposable
    {
        public void Dispose() => Interlocked.Decrement(ref store._activeCalls);
    }
}

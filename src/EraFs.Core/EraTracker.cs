using System.Diagnostics;

namespace EraFs.Core;

/// <summary>
/// dm-era's write tracking over an <see cref="IEraStore"/>: a block's mark in the current era is durable
/// before any write to it proceeds, and concurrent first writes share one group commit.
/// </summary>
public sealed partial class EraTracker : IWriteInterceptor, IDisposable
{
    private readonly IEraStore _store;
    private readonly Action<string> _log;
    private readonly EraGeometry _geometry;

    // durable: the block's mark in the current era is committed. requested: a commit holding it is
    // queued or in flight. Only the worker sets durable bits; requested bits change under _gate.
    private readonly BlockBitset _durable;
    private readonly BlockBitset _requested;

    // Guards the batches, sequence numbers, control queue and state; writers wait on it for completion.
    private readonly object _gate = new();
    private readonly AutoResetEvent _workerWake = new(false);
    private readonly Queue<ControlRequest> _controls = new();
    private MarkBatch _collecting = new();
    private MarkBatch _inFlight = new();

    // Every batch gets a sequence number; commits complete in order, so one number says what a writer
    // waits for. After a failure, no batch at or past _failedSeq ever succeeds.
    private ulong _collectingSeq = 1;
    private ulong _inFlightSeq;
    private ulong _completedSeq;
    private ulong _failedSeq = ulong.MaxValue;
    private volatile bool _failed;
    private bool _stopping;
    private bool _stopped;
    private bool _closed;

    private Thread? _worker;
    private volatile EraTrackerStatus _status = null!;

    // Worker-owned bookkeeping for the published status.
    private ulong _blocksWrittenThisEra;
    private ulong _commits;
    private uint? _lastCheckpointEra;
    private string? _lastError;
    private bool _digestPending;
    private bool _recovered;
    private OriginCheck _originCheck;
    private int _eraEpoch;

    // The write horizon: the metadata says this mount may write the origin until a wall-clock instant,
    // so after a crash an origin changed later than that was written by someone else. Renewing it is a
    // metadata commit, so it is asked for by the first write past half the horizon (monotonic clock)
    // and done by the worker; no write waits for it. A write that lands past the recorded horizon
    // before the renewal commits can only cause a false positive after a crash, never a lost write.
    private readonly TimeSpan _horizon;
    private long _renewAtTicks;
    private int _renewalWanted;

    private EraTracker(IEraStore store, EraGeometry geometry, Action<string> log, TimeSpan horizon)
    {
        _store = store;
        _geometry = geometry;
        _log = log;
        _horizon = horizon;
        _durable = new BlockBitset(geometry.NrBlocks);
        _requested = new BlockBitset(geometry.NrBlocks);
    }

    /// <summary>The latest published picture of the tracker; never blocks.</summary>
    public EraTrackerStatus Status => _status;

    /// <summary>dm-era's status line, without a newline; never blocks.</summary>
    public string StatusLine => _status.StatusLine;

    /// <summary>Key/value facts for the info file; never blocks.</summary>
    public IReadOnlyList<(string Key, string Value)> Info => _status.Info;

    public EraGeometry Geometry => _geometry;

    public TrackerState State => _status.State;

    /// <summary>The era the last <see cref="Checkpoint"/> made current, or null if none since open.</summary>
    public uint? LastCheckpointEra => _status.LastCheckpointEra;

    /// <summary>Runs waiting for the next group commit; lets tests see that writers joined a batch.</summary>
    internal int PendingRunCount
    {
        get { lock (_gate) return _collecting.Count; }
    }

#if DEBUG
    // Which tracker this thread last passed BeforeWrite on, and in which era epoch: a value left by
    // another tracker (another mount or test on the same thread) must not excuse this one.
    [ThreadStatic] private static EraTracker? t_trackerAtBeforeWrite;
    [ThreadStatic] private static int t_epochAtBeforeWrite;
#endif

    public void BeforeWrite(long offset, long length)
    {
#if DEBUG
        t_trackerAtBeforeWrite = this;
        t_epochAtBeforeWrite = Volatile.Read(ref _eraEpoch);
#endif
        if (length <= 0) return;
        if (offset < 0 || length > _geometry.OriginSize - offset)
            throw new ArgumentOutOfRangeException(nameof(offset),
                $"write of {length} bytes at {offset} falls outside the {_geometry.OriginSize}-byte device");
        if (Environment.TickCount64 >= Volatile.Read(ref _renewAtTicks) && Interlocked.Exchange(ref _renewalWanted, 1) == 0)
            _workerWake.Set();
        var run = _geometry.BlocksTouching(offset, length);
        if (_durable.AllSet(run.Start, run.Count)) return;
        WaitForMarks(run);
    }

    /// <summary>
    /// The wall-clock instant to record as the next write horizon; arms the renewal for half-way there.
    /// Measured before the commit that records it, so the instant is never later than promised.
    /// </summary>
    private DateTime NextHorizon()
    {
        var until = DateTime.UtcNow + _horizon;
        Volatile.Write(ref _renewAtTicks, Environment.TickCount64 + (long)(_horizon.TotalMilliseconds / 2));
        return until;
    }

    private void RenewHorizon()
    {
        var renewAt = Volatile.Read(ref _renewAtTicks);
        try
        {
            _store.ExtendWriteHorizon(NextHorizon());
        }
        catch (Exception e)
        {
            Volatile.Write(ref _renewAtTicks, renewAt);
            _lastError = $"write horizon could not be committed: {e.Message}";
            EnterFailed(e);
            lock (_gate)
            {
                _failedSeq = Math.Min(_failedSeq, _completedSeq + 1);
                _failed = true;
                Publish();
                Monitor.PulseAll(_gate);
            }
        }
        Volatile.Write(ref _renewalWanted, 0);
    }

    /// <summary>Era tracking needs nothing once the write is done.</summary>
    public void AfterWrite(long offset, long length, bool succeeded)
    {
    }

    /// <summary>
    /// DEBUG only: throws if the range is not marked durable although no era change happened since this
    /// thread's last <see cref="BeforeWrite"/>. The adapter calls it just before issuing the origin write.
    /// </summary>
    [Conditional("DEBUG")]
    public void AssertMarkedDurable(long offset, long length)
    {
#if DEBUG
        if (length <= 0) return;
        var run = _geometry.BlocksTouching(offset, length);
        if (_durable.AllSet(run.Start, run.Count)) return;
        // A checkpoint between this thread's BeforeWrite and now (or under way then) cleared the bits:
        // the write belongs to the era before it and was marked there.
        var eraMoved = Volatile.Read(ref _eraEpoch) != t_epochAtBeforeWrite || (t_epochAtBeforeWrite & 1) != 0;
        if (ReferenceEquals(t_trackerAtBeforeWrite, this) && eraMoved) return;
        throw new InvalidOperationException(
            $"write order broken: blocks [{run.Start}, {run.End}) are about to be written without a durable mark");
#endif
    }

    private void WaitForMarks(BlockRun run)
    {
        bool addedToBatch;
        lock (_gate)
        {
            if (_durable.AllSet(run.Start, run.Count)) return;
            if (_closed || _stopped) throw new TrackingFailedException("era tracker is closed; the write cannot be tracked");
            if (_failed) throw FailedException();

            var waitsForCollecting = false;
            var waitsForInFlight = false;
            addedToBatch = false;
            var block = run.Start;
            while (block < run.End)
            {
                if (_durable.IsSet(block))
                {
                    block++;
                }
                else if (_requested.IsSet(block))
                {
                    // A commit already covers it: wait for that one, never write around it (dm-era lost writes so).
                    if (_inFlightSeq != 0 && _inFlight.Contains(block)) waitsForInFlight = true;
                    else waitsForCollecting = true;
                    block++;
                }
                else
                {
                    var start = block;
                    while (block < run.End && !_durable.IsSet(block) && !_requested.IsSet(block)) block++;
                    _requested.SetRange(start, block - start);
                    _collecting.Append(start, block - start);
                    addedToBatch = true;
                    waitsForCollecting = true;
                }
            }
            if (!waitsForCollecting && !waitsForInFlight) return;
            var target = waitsForCollecting ? _collectingSeq : _inFlightSeq;
            if (addedToBatch) _workerWake.Set();

            while (true)
            {
                if (_completedSeq >= target && target < _failedSeq) return;
                if (_failed && target >= _failedSeq) throw FailedException();
                if (_stopped) throw new TrackingFailedException("era tracker stopped before the write's mark was committed");
                Monitor.Wait(_gate);
            }
        }
    }

    private static Action<string> SafeLogger(Action<string>? log) => line =>
    {
        // A throwing logger must not take the worker (and every waiting writer) down with it.
        try
        {
            log?.Invoke(line);
        }
        catch (Exception)
        {
        }
    };

    private TrackingFailedException FailedException() =>
        new($"era tracking has failed ({_lastError ?? "metadata commit failed"}); writes needing a new mark are refused");

    private void Start()
    {
        Publish();
        _worker = new Thread(WorkerLoop) { IsBackground = true, Name = "era-commit" };
        _worker.Start();
    }

    private void WorkerLoop()
    {
        try
        {
            RunWorker();
        }
        catch (Exception e)
        {
            // Only a bug gets here (store errors are handled where they occur); fail loudly rather than
            // leave writers and control callers waiting for a worker that is gone.
            _log($"error: era tracker worker stopped: {e}");
            lock (_gate)
            {
                _lastError = $"worker stopped: {e.Message}";
                _failedSeq = Math.Min(_failedSeq, _completedSeq + 1);
                _failed = true;
                _stopped = true;
                foreach (var request in _controls) request.Complete(0, new TrackingFailedException(_lastError, e));
                _controls.Clear();
                Monitor.PulseAll(_gate);
            }
        }
    }

    private void RunWorker()
    {
        while (true)
        {
            ControlRequest? control = null;
            var commit = false;
            var digest = false;
            var renew = false;
            lock (_gate)
            {
                if (_collecting.Count > 0 && _failed)
                {
                    // Its writers already saw the failure (their sequence is past _failedSeq).
                    _collecting.Clear();
                }
                if (_collecting.Count > 0)
                {
                    commit = TakeCollectingLocked();
                }
                else if (!_controls.TryDequeue(out control))
                {
                    if (_stopping) return;
                    renew = Volatile.Read(ref _renewalWanted) != 0 && !_failed && !_closed;
                    digest = _digestPending && !_failed;
                }
            }
            if (commit) CommitInFlight();
            else if (control is not null) RunControl(control);
            else if (renew) RenewHorizon();
            else if (digest) DigestStep();
            else _workerWake.WaitOne();
        }
    }

    private bool TakeCollectingLocked()
    {
        (_collecting, _inFlight) = (_inFlight, _collecting);
        _inFlightSeq = _collectingSeq++;
        _inFlight.SortAndMerge();
        return true;
    }

    /// <summary>Runs on the worker (with or without _gate held): commits the in-flight batch and wakes its writers.</summary>
    private void CommitInFlight()
    {
        Exception? error = null;
        try
        {
            _store.CommitMarks(_inFlight.Runs);
        }
        catch (Exception e)
        {
            error = e;
        }

        ulong newlyDurable = 0;
        if (error is null)
        {
            // Only after the commit returned: a fast-path reader seeing these bits may write at once.
            foreach (var run in _inFlight.Runs) newlyDurable += _durable.SetRange(run.Start, run.Count);
        }
        else
        {
            _lastError = $"metadata commit failed: {error.Message}";
            EnterFailed(error);
        }

        lock (_gate)
        {
            _commits++;
            _blocksWrittenThisEra += newlyDurable;
            if (error is not null)
            {
                _failedSeq = _inFlightSeq;
                _failed = true;
            }
            _completedSeq = _inFlightSeq;
            _inFlightSeq = 0;
            _inFlight.Clear();
            // Published before waking the writers, so a writer that returns sees its own marks in the status.
            Publish();
            Monitor.PulseAll(_gate);
        }
    }

    private void EnterFailed(Exception error)
    {
        var reason = $"era tracking failed: {error.GetType().Name}: {error.Message}";
        _log($"error: {reason}; writes needing a new mark now fail with EIO until the metadata is checked");
        try
        {
            _store.SetNeedsCheck(reason);
        }
        catch (Exception e)
        {
            _log($"error: could not record that the metadata needs a check: {e.Message}");
        }
    }

    private void DigestStep()
    {
        bool more;
        try
        {
            more = _store.DigestStep();
        }
        catch (Exception e)
        {
            // Folding stops; the marks of this mount are still committed, but the history they join
            // could not be read, so the next mount must check it before trusting it again.
            more = false;
            _lastError = $"digest failed: {e.Message}";
            _log($"error: digest of archived writesets stopped: {e.Message}; the metadata is flagged for a check at the next mount");
            try
            {
                _store.SetNeedsCheck($"digest failed: {e.Message}");
            }
            catch (Exception flagError)
            {
                _log($"error: could not record that the metadata needs a check: {flagError.Message}");
            }
        }
        if (more) return;
        _digestPending = false;
        Publish();
    }

    /// <summary>Worker (or opener, before the worker starts) only: reads the store, so callers of Status never touch it.</summary>
    private void Publish()
    {
        (ulong Used, ulong Total) usage;
        try
        {
            usage = _store.Usage;
        }
        catch (Exception)
        {
            // Usage is cosmetic; an unreadable space map must not stop status from being published.
            usage = _status is { } last ? (last.MetadataUsed, last.MetadataTotal) : (0, 0);
        }
        var written = _blocksWrittenThisEra;
        var lastWritten = _geometry.NrBlocks > 0 && _durable.IsSet(_geometry.NrBlocks - 1);
        _status = new EraTrackerStatus
        {
            Geometry = _geometry,
            CurrentEra = _store.CurrentEra,
            BlocksWrittenThisEra = written,
            BytesWrittenThisEra = EraTrackerStatus.BytesCovered(_geometry, written, lastWritten),
            HeldSnapshot = _store.HeldSnapshot,
            Generation = _store.Generation,
            Clean = _closed && !_failed,
            LastCheckpointEra = _lastCheckpointEra,
            State = _failed ? TrackerState.Failed : _closed ? TrackerState.Closed : TrackerState.Ok,
            LastError = _lastError,
            PendingDigest = _digestPending,
            MetadataUsed = usage.Used,
            MetadataTotal = usage.Total,
            Commits = _commits,
            RecoveredFromUncleanShutdown = _recovered,
            OriginCheck = _originCheck,
        };
    }

    /// <summary>Stops the worker without recording a clean shutdown (as a crash would) and frees the bitsets.</summary>
    public void Dispose()
    {
        StopWorker();
        _durable.Dispose();
        _requested.Dispose();
        _workerWake.Dispose();
    }

    private void StopWorker()
    {
        lock (_gate)
        {
            if (_stopped) return;
            _stopping = true;
        }
        _workerWake.Set();
        if (_worker is not null && Thread.CurrentThread != _worker) _worker.Join();
        lock (_gate)
        {
            _stopped = true;
            foreach (var request in _controls) request.Complete(0, new ObjectDisposedException(nameof(EraTracker)));
            _controls.Clear();
            Monitor.PulseAll(_gate);
        }
    }
}

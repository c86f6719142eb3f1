namespace EraFs.Core;

/// <summary>
/// dm-era's group commit: writers whose blocks are not yet marked in the current era join one batch, a
/// worker thread commits the batch with one store call, and only after that call returned are the blocks
/// durable and their writers released. The worker also runs the tracker's other store work, never while
/// a batch waits, so the store is only ever called from one thread.
/// </summary>
/// <remarks>
/// Invariants: a durable bit is set only after the store commit carrying it returned; a requested bit
/// means a queued or in-flight commit carries the block, and a second writer waits for that commit
/// rather than writing around it (dm-era lost writes so); commits complete in sequence order, and once
/// one has failed no later one succeeds.
/// </remarks>
internal sealed class GroupCommit : IDisposable
{
    private readonly IEraStore _store;
    private readonly Action<string> _log;

    // durable: the block's mark in the current era is committed. requested: a commit holding it is
    // queued or in flight. Only the worker sets durable bits; requested bits change under Gate.
    private readonly BlockBitset _durable;
    private readonly BlockBitset _requested;
    private readonly AutoResetEvent _wake = new(false);
    private MarkBatch _collecting = new();
    private MarkBatch _inFlight = new();

    // Every batch gets a sequence number; commits complete in order, so one number says what a writer
    // waits for. After a failure, no batch at or past _failedSeq ever succeeds.
    private ulong _collectingSeq = 1;
    private ulong _inFlightSeq;
    private ulong _completedSeq;
    private ulong _failedSeq = ulong.MaxValue;
    private volatile bool _failed;
    private string? _failure;
    private bool _stopping;
    private bool _stopped;
    private int _eraEpoch;

    private IWorkerHost? _host;
    private Thread? _worker;

    public GroupCommit(IEraStore store, ulong nrBlocks, Action<string> log)
    {
        _store = store;
        _log = log;
        _durable = new BlockBitset(nrBlocks);
        _requested = new BlockBitset(nrBlocks);
    }

    /// <summary>
    /// Guards the batches, sequence numbers and flags; writers and control callers wait on it. Whoever
    /// holds it across an era change keeps writers from joining a batch meanwhile.
    /// </summary>
    public object Gate { get; } = new();

    /// <summary>A commit failed (or tracking was failed from outside): writes needing a new mark are refused.</summary>
    public bool Failed => _failed;

    /// <summary>No further marks are taken (a clean close is under way or done); set on the worker.</summary>
    public bool Closed { get; private set; }

    /// <summary>The worker is stopping or gone, or the tracker closed: no new work may be queued. Read under <see cref="Gate"/>.</summary>
    public bool RefusesWorkLocked => _stopping || _stopped || Closed;

    /// <summary>Store commits of marks made, successful or not; worker (or opener) only.</summary>
    public ulong Commits { get; private set; }

    /// <summary>Blocks that became durable since the era started; worker (or opener) only.</summary>
    public ulong BlocksMarkedThisEra { get; private set; }

    /// <summary>How long each commit of marks took, the fdatasync included.</summary>
    public LatencyHistogram CommitLatency { get; } = new();

    /// <summary>Blocks marked since the tracker opened, over all eras: the first writes.</summary>
    public long BlocksMarked => Interlocked.Read(ref _blocksMarked);

    private long _blocksMarked;

    /// <summary>Odd while the durable bits are being cleared for a new era, and moved on by each era change.</summary>
    public int EraEpoch => Volatile.Read(ref _eraEpoch);

    /// <summary>Runs waiting for the next group commit.</summary>
    public int PendingRunCount
    {
        get { lock (Gate) return _collecting.Count; }
    }

    /// <summary>Lock-free: whether every block of the run is durably marked in the current era.</summary>
    public bool AllDurable(BlockRun run) => _durable.AllSet(run.Start, run.Count);

    public bool IsDurable(ulong block) => _durable.IsSet(block);

    /// <summary>Starts the worker; <paramref name="host"/> gives it other work and hears how commits end.</summary>
    public void Start(IWorkerHost host)
    {
        _host = host;
        _worker = new Thread(WorkerLoop) { IsBackground = true, Name = "era-commit" };
        _worker.Start();
    }

    /// <summary>Wakes the worker to look for work.</summary>
    public void Wake() => _wake.Set();

    /// <summary>Returns once every block of the run is durably marked; throws <see cref="TrackingFailedException"/> when it never will be.</summary>
    public void WaitForMarks(BlockRun run)
    {
        lock (Gate)
        {
            if (AllDurable(run)) return;
            if (Closed || _stopped) throw new TrackingFailedException("era tracker is closed; the write cannot be tracked");
            if (_failed) throw FailedException();

            var waitsForCollecting = false;
            var waitsForInFlight = false;
            var addedToBatch = false;
            var block = run.Start;
            while (block < run.End)
            {
                if (_durable.IsSet(block))
                {
                    block++;
                }
                else if (_requested.IsSet(block))
                {
                    // A commit already carries it: wait for that one, never write around it.
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
            if (addedToBatch) _wake.Set();

            while (true)
            {
                if (_completedSeq >= target && target < _failedSeq) return;
                if (_failed && target >= _failedSeq) throw FailedException();
                if (_stopped) throw new TrackingFailedException("era tracker stopped before the write's mark was committed");
                Monitor.Wait(Gate);
            }
        }
    }

    /// <summary>Before the worker starts (on the opening thread): marks a run durably, as written in the current era.</summary>
    public void CommitNow(BlockRun run)
    {
        if (run.Count == 0) return;
        CommitTimed([run]);
        var marked = _durable.SetRange(run.Start, run.Count);
        BlocksMarkedThisEra += marked;
        Interlocked.Add(ref _blocksMarked, (long)marked);
        Commits++;
    }

    /// <summary>Worker, holding <see cref="Gate"/>: commits what writers queued so far, before a control changes the era.</summary>
    public void CommitPendingLocked()
    {
        if (_collecting.Count == 0 || _failed) return;
        TakeCollectingLocked();
        CommitInFlight();
    }

    /// <summary>
    /// Worker, holding <see cref="Gate"/>: the store's current era changed, so no block is marked in it yet.
    /// Forgetting too much only costs extra commits; keeping a stale bit would let a write go unmarked.
    /// </summary>
    public void ForgetMarksLocked()
    {
        // Odd while clearing, so the write-order check can tell a bit it saw vanish from one never set.
        Interlocked.Increment(ref _eraEpoch);
        _durable.ClearAll();
        _requested.ClearAll();
        Interlocked.Increment(ref _eraEpoch);
        BlocksMarkedThisEra = 0;
    }

    /// <summary>Holding <see cref="Gate"/>: fails tracking for a reason found outside a commit; no later batch succeeds.</summary>
    public void FailLocked(string reason)
    {
        _failure = reason;
        _failedSeq = Math.Min(_failedSeq, _completedSeq + 1);
        _failed = true;
        Monitor.PulseAll(Gate);
    }

    /// <summary>Worker, holding <see cref="Gate"/>: a clean close began; writes needing a new mark are refused from now on.</summary>
    public void CloseLocked() => Closed = true;

    /// <summary>Stops the worker after it finished the work already queued; writers still waiting fail.</summary>
    public void Stop()
    {
        lock (Gate)
        {
            if (_stopped) return;
            _stopping = true;
        }
        _wake.Set();
        if (_worker is not null && Thread.CurrentThread != _worker) _worker.Join();
        lock (Gate)
        {
            _stopped = true;
            _host?.AbandonLocked(new ObjectDisposedException(nameof(EraTracker)));
            Monitor.PulseAll(Gate);
        }
    }

    /// <summary>Stops the worker and frees the bitsets.</summary>
    public void Dispose()
    {
        Stop();
        _durable.Dispose();
        _requested.Dispose();
        _wake.Dispose();
    }

    private TrackingFailedException FailedException() =>
        new($"era tracking has failed ({_failure ?? "metadata commit failed"}); writes needing a new mark are refused");

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
            lock (Gate)
            {
                var reason = $"worker stopped: {e.Message}";
                FailLocked(reason);
                _stopped = true;
                _host!.AbandonLocked(new TrackingFailedException(reason, e));
            }
        }
    }

    private void RunWorker()
    {
        while (true)
        {
            Action? chore = null;
            var commit = false;
            lock (Gate)
            {
                // Its writers already saw the failure (their sequence is past _failedSeq).
                if (_collecting.Count > 0 && _failed) _collecting.Clear();
                if (_collecting.Count > 0)
                {
                    TakeCollectingLocked();
                    commit = true;
                }
                else
                {
                    chore = _host!.NextChoreLocked(_stopping);
                    if (chore is null && _stopping) return;
                }
            }
            if (commit) CommitInFlight();
            else if (chore is not null) chore();
            else _wake.WaitOne();
        }
    }

    private void TakeCollectingLocked()
    {
        (_collecting, _inFlight) = (_inFlight, _collecting);
        _inFlightSeq = _collectingSeq++;
        // The one sort and merge a batch gets: the store only checks the shape.
        _inFlight.SortAndMerge();
    }

    private void CommitTimed(ReadOnlySpan<BlockRun> runs)
    {
        var start = System.Diagnostics.Stopwatch.GetTimestamp();
        _store.CommitMarks(runs);
        CommitLatency.Record(System.Diagnostics.Stopwatch.GetTimestamp() - start);
    }

    /// <summary>Worker (with or without Gate held): commits the in-flight batch and wakes its writers.</summary>
    private void CommitInFlight()
    {
        Exception? error = null;
        try
        {
            CommitTimed(_inFlight.Runs);
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
            _failure = $"metadata commit failed: {error.Message}";
            _host!.CommitFailed(_failure, error);
        }

        lock (Gate)
        {
            Commits++;
            BlocksMarkedThisEra += newlyDurable;
            Interlocked.Add(ref _blocksMarked, (long)newlyDurable);
            if (error is not null)
            {
                _failedSeq = _inFlightSeq;
                _failed = true;
            }
            _completedSeq = _inFlightSeq;
            _inFlightSeq = 0;
            _inFlight.Clear();
            // Before waking the writers, so a writer that returns sees its own marks in the status.
            _host!.CommitCompletedLocked();
            Monitor.PulseAll(Gate);
        }
    }
}

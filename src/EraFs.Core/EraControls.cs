using System.Runtime.ExceptionServices;

namespace EraFs.Core;

/// <summary>
/// The tracker's controls (checkpoint, take and drop the metadata snapshot, close), its upkeep (write
/// horizon renewal, digest) and the status it publishes, all run on the group-commit worker.
/// </summary>
/// <remarks>
/// A control runs holding the gate from first to last, after committing the marks already queued, so no
/// writer joins a batch while the era changes: writers arriving meanwhile wait for the lock and then
/// mark in the new era. The status is published only from the worker (or the opener before it starts),
/// so readers of <see cref="Status"/> never touch the store.
/// </remarks>
internal sealed class EraControls : IWorkerHost
{
    private enum ControlKind
    {
        Checkpoint,
        TakeSnapshot,
        DropSnapshot,
        Close,
    }

    private sealed class ControlRequest(ControlKind kind, DateTime originMtimeUtc)
    {
        public ControlKind Kind { get; } = kind;
        public DateTime OriginMtimeUtc { get; } = originMtimeUtc;
        public bool Done { get; private set; }
        public uint Result { get; private set; }
        public Exception? Error { get; private set; }

        public void Complete(uint result, Exception? error)
        {
            Result = result;
            Error = error;
            Done = true;
        }
    }

    private readonly IEraStore _store;
    private readonly EraGeometry _geometry;
    private readonly GroupCommit _commits;
    private readonly WriteHorizon _horizon;
    private readonly Action<string> _log;
    private readonly bool _recovered;
    private readonly OriginCheck _originCheck;

    // Under the gate.
    private readonly Queue<ControlRequest> _queue = new();

    // Worker-owned bookkeeping for the published status.
    private uint? _lastCheckpointEra;
    private string? _lastError;
    private bool _digestPending = true;
    private volatile EraTrackerStatus _status = null!;

    public EraControls(IEraStore store, EraGeometry geometry, GroupCommit commits, WriteHorizon horizon, Action<string> log,
        bool recovered, OriginCheck originCheck)
    {
        _store = store;
        _geometry = geometry;
        _commits = commits;
        _horizon = horizon;
        _log = log;
        _recovered = recovered;
        _originCheck = originCheck;
    }

    /// <summary>The latest published picture; never blocks.</summary>
    public EraTrackerStatus Status => _status;

    /// <summary>Commits pending marks, starts a new era and returns it once durable.</summary>
    public uint Checkpoint() => Run(ControlKind.Checkpoint, default);

    /// <summary>Takes dm-era's metadata snapshot (which also starts a new era); refused while one is held.</summary>
    public void TakeSnapshot() => Run(ControlKind.TakeSnapshot, default);

    /// <summary>Releases the held metadata snapshot; refused when none is held.</summary>
    public void DropSnapshot() => Run(ControlKind.DropSnapshot, default);

    /// <summary>Commits pending marks and, unless tracking failed, records a clean shutdown with the origin's mtime.</summary>
    public void Close(DateTime originMtimeAfterFlush) => Run(ControlKind.Close, originMtimeAfterFlush);

    /// <summary>Worker (or opener, before the worker starts) only: reads the store and publishes what it found.</summary>
    public void Publish()
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
        var written = _commits.BlocksMarkedThisEra;
        var lastWritten = _geometry.NrBlocks > 0 && _commits.IsDurable(_geometry.NrBlocks - 1);
        var failed = _commits.Failed;
        var closed = _commits.Closed;
        _status = new EraTrackerStatus
        {
            Geometry = _geometry,
            CurrentEra = _store.CurrentEra,
            BlocksWrittenThisEra = written,
            BytesWrittenThisEra = EraTrackerStatus.BytesCovered(_geometry, written, lastWritten),
            HeldSnapshot = _store.HeldSnapshot,
            Generation = _store.Generation,
            Clean = closed && !failed,
            LastCheckpointEra = _lastCheckpointEra,
            State = failed ? TrackerState.Failed : closed ? TrackerState.Closed : TrackerState.Ok,
            LastError = _lastError,
            PendingDigest = _digestPending,
            MetadataUsed = usage.Used,
            MetadataTotal = usage.Total,
            Commits = _commits.Commits,
            RecoveredFromUncleanShutdown = _recovered,
            OriginCheck = _originCheck,
        };
    }

    public Action? NextChoreLocked(bool stopping)
    {
        if (_queue.TryDequeue(out var request)) return () => RunControl(request);
        if (stopping) return null;
        if (_horizon.RenewalWanted && !_commits.Failed && !_commits.Closed) return RenewHorizon;
        if (_digestPending && !_commits.Failed) return DigestStep;
        return null;
    }

    public void CommitFailed(string reason, Exception error)
    {
        _lastError = reason;
        EnterFailed(error);
    }

    public void CommitCompletedLocked() => Publish();

    public void AbandonLocked(Exception reason)
    {
        foreach (var request in _queue) request.Complete(0, reason);
        _queue.Clear();
    }

    private uint Run(ControlKind kind, DateTime originMtimeUtc)
    {
        var request = new ControlRequest(kind, originMtimeUtc);
        lock (_commits.Gate)
        {
            if (_commits.RefusesWorkLocked)
                throw new ObjectDisposedException(nameof(EraTracker), "the era tracker is closed");
            _queue.Enqueue(request);
        }
        _commits.Wake();
        lock (_commits.Gate)
        {
            while (!request.Done) Monitor.Wait(_commits.Gate);
        }
        if (request.Error is not null) ExceptionDispatchInfo.Throw(request.Error);
        return request.Result;
    }

    private void RunControl(ControlRequest request)
    {
        lock (_commits.Gate)
        {
            uint result = 0;
            Exception? error = null;
            try
            {
                _commits.CommitPendingLocked();
                result = Execute(request);
            }
            catch (Exception e)
            {
                error = e;
            }
            Publish();
            request.Complete(result, error);
            Monitor.PulseAll(_commits.Gate);
        }
    }

    private uint Execute(ControlRequest request)
    {
        if (request.Kind == ControlKind.Close)
        {
            _commits.CloseLocked();
            if (_commits.Failed)
            {
                _log("warning: closing after a tracking failure; the metadata stays marked as needing a check");
                return 0;
            }
            _store.SetClean(true, request.OriginMtimeUtc);
            return 0;
        }

        if (_commits.Failed)
            throw new ControlRejectedException(ControlError.MetadataFailed,
                $"era tracking has failed ({_lastError}); check the metadata before further control requests");

        var eraBefore = _store.CurrentEra;
        if (request.Kind != ControlKind.DropSnapshot && eraBefore == uint.MaxValue)
            throw new ControlRejectedException(ControlError.EraExhausted,
                $"era {eraBefore} is the last one; no new era can be started");
        try
        {
            switch (request.Kind)
            {
                case ControlKind.Checkpoint:
                    var era = _store.Rollover();
                    StartNewEraLocked();
                    _lastCheckpointEra = era;
                    return era;
                case ControlKind.TakeSnapshot:
                    _store.TakeSnapshot();
                    StartNewEraLocked();
                    return _store.CurrentEra;
                default:
                    _store.DropSnapshot();
                    return _store.CurrentEra;
            }
        }
        catch (ControlRejectedException)
        {
            throw;
        }
        catch (Exception e)
        {
            // The store may or may not have moved to a new era before failing; forgetting which marks are
            // durable only costs extra commits, while keeping stale bits would let writes go unmarked.
            if (_store.CurrentEra != eraBefore || request.Kind != ControlKind.DropSnapshot) StartNewEraLocked();
            _lastError = $"{request.Kind} failed: {e.Message}";
            _log($"error: {_lastError}");
            throw new ControlRejectedException(ControlError.MetadataFailed, $"{request.Kind} failed: {e.Message}");
        }
    }

    private void StartNewEraLocked()
    {
        _commits.ForgetMarksLocked();
        _digestPending = true;
    }

    private void RenewHorizon()
    {
        try
        {
            _horizon.Renew(_store);
        }
        catch (Exception e)
        {
            _lastError = $"write horizon could not be committed: {e.Message}";
            EnterFailed(e);
            lock (_commits.Gate)
            {
                _commits.FailLocked(_lastError);
                Publish();
            }
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
}

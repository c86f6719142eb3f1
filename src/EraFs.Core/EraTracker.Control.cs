using System.Runtime.ExceptionServices;

namespace EraFs.Core;

public sealed partial class EraTracker
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

    /// <summary>Commits pending marks, starts a new era and returns it once durable.</summary>
    /// <exception cref="ControlRejectedException">Era exhausted, tracking failed, or metadata could not be written.</exception>
    public uint Checkpoint() => RunOnWorker(ControlKind.Checkpoint, default);

    /// <summary>Takes dm-era's metadata snapshot (which also starts a new era); refused while one is held.</summary>
    public void TakeMetadataSnap() => RunOnWorker(ControlKind.TakeSnapshot, default);

    /// <summary>Releases the held metadata snapshot; refused when none is held.</summary>
    public void DropMetadataSnap() => RunOnWorker(ControlKind.DropSnapshot, default);

    /// <summary>
    /// Commits pending marks, stops the worker and, unless tracking failed, records a clean shutdown with the
    /// origin's mtime after its final flush (so the next open can tell whether anything wrote it meanwhile).
    /// </summary>
    public void Close(DateTime originMtimeAfterFlush)
    {
        try
        {
            RunOnWorker(ControlKind.Close, originMtimeAfterFlush);
        }
        finally
        {
            StopWorker();
        }
    }

    private uint RunOnWorker(ControlKind kind, DateTime originMtimeUtc)
    {
        var request = new ControlRequest(kind, originMtimeUtc);
        lock (_gate)
        {
            if (_stopping || _stopped || _closed)
                throw new ObjectDisposedException(nameof(EraTracker), "the era tracker is closed");
            _controls.Enqueue(request);
        }
        _workerWake.Set();
        lock (_gate)
        {
            while (!request.Done) Monitor.Wait(_gate);
        }
        if (request.Error is not null) ExceptionDispatchInfo.Throw(request.Error);
        return request.Result;
    }

    /// <summary>
    /// Runs on the worker holding _gate for the whole control, so no writer joins a batch while the era
    /// changes: writers arriving meanwhile queue on the lock and then mark in the new era.
    /// </summary>
    private void RunControl(ControlRequest request)
    {
        lock (_gate)
        {
            uint result = 0;
            Exception? error = null;
            try
            {
                if (_collecting.Count > 0 && !_failed && TakeCollectingLocked()) CommitInFlight();
                result = Execute(request);
            }
            catch (Exception e)
            {
                error = e;
            }
            Publish();
            request.Complete(result, error);
            Monitor.PulseAll(_gate);
        }
    }

    private uint Execute(ControlRequest request)
    {
        if (request.Kind == ControlKind.Close)
        {
            _closed = true;
            if (_failed)
            {
                _log("warning: closing after a tracking failure; the metadata stays marked as needing a check");
                return 0;
            }
            _store.SetClean(true, request.OriginMtimeUtc);
            return 0;
        }

        if (_failed)
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

    /// <summary>Forgets every mark: the store's current era changed, so no block is marked in it yet.</summary>
    private void StartNewEraLocked()
    {
        // Odd while clearing, so the write-order check can tell a bit it saw vanish from one never set.
        Interlocked.Increment(ref _eraEpoch);
        _durable.ClearAll();
        _requested.ClearAll();
        Interlocked.Increment(ref _eraEpoch);
        _blocksWrittenThisEra = 0;
        _digestPending = true;
    }
}

using System.Globalization;

namespace EraFs.RegionLog;

/// <summary>
/// The group commit of dirty marks: regions queued by concurrent writers are marked and made durable
/// by one log flush per batch, and a region counts as marked only once the flush holding its mark returned.
/// </summary>
/// <remarks>
/// One worker thread commits batches, and between batches runs the idle pass it was given (the lazy
/// clearing) every interval, so marks and clears reach the log from one thread in a known order.
/// </remarks>
internal sealed class MarkBatches
{
    private readonly RegionStates _states;
    private readonly Action _idlePass;
    private readonly Action<string> _report;
    private readonly TimeSpan _idleInterval;
    private readonly Thread _worker;

    // Under the states' gate.
    private List<ulong> _collecting = [];
    private ulong _collectingSeq = 1;
    private ulong _completedSeq;
    private bool _stopping;
    private long _failedBatches;
    private string? _lastError;

    private long _flushes;

    public MarkBatches(RegionStates states, Action idlePass, Action<string> report, TimeSpan idleInterval)
    {
        _states = states;
        _idlePass = idlePass;
        _report = report;
        _idleInterval = idleInterval;
        _worker = new Thread(WorkerLoop) { IsBackground = true, Name = "region-log" };
        _worker.Start();
    }

    public long Flushes => Interlocked.Read(ref _flushes);

    /// <summary>
    /// Queues marks for the regions of [first, last] not yet marked and returns the batch to wait for
    /// (0: every region is already marked). Under the states' gate, with the regions counted pending.
    /// </summary>
    public ulong Queue(ulong first, ulong last)
    {
        ulong waitFor = 0;
        var queued = false;
        for (var r = first; r <= last; r++)
        {
            if (_states.Marked[r]) continue;
            if (_states.RequestedIn[r] == 0)
            {
                _states.RequestedIn[r] = _collectingSeq;
                _collecting.Add(r);
                queued = true;
            }
            waitFor = Math.Max(waitFor, _states.RequestedIn[r]);
        }
        if (queued) Monitor.PulseAll(_states.Gate);
        return waitFor;
    }

    /// <summary>Waits for the batch and tells whether every region of [first, last] is marked; the reason when not.</summary>
    public bool AwaitMarked(ulong first, ulong last, ulong batch, out string reason)
    {
        lock (_states.Gate)
        {
            while (_completedSeq < batch && !_states.Closed) Monitor.Wait(_states.Gate);
            reason = _lastError ?? "the mark could not be made durable";
            for (var r = first; r <= last; r++)
                if (!_states.Marked[r]) return false;
            return true;
        }
    }

    /// <summary>Commits what is queued and stops the worker.</summary>
    public void Stop()
    {
        lock (_states.Gate)
        {
            _stopping = true;
            Monitor.PulseAll(_states.Gate);
        }
        _worker.Join();
    }

    /// <summary>Facts for the info file, read under the gate.</summary>
    public (string Key, string Value)[] Info()
    {
        lock (_states.Gate)
        {
            var failed = ("failed_mark_batches", _failedBatches.ToString(CultureInfo.InvariantCulture));
            return _lastError is null ? [failed] : [failed, ("last_region_log_error", _lastError)];
        }
    }

    private void WorkerLoop()
    {
        // A monotonic clock, and the remaining time read once per wait: the wall clock may step, and a
        // deadline passing between the check and the wait must not become a negative timeout.
        var nextIdle = Environment.TickCount64 + (long)_idleInterval.TotalMilliseconds;
        while (true)
        {
            List<ulong> batch;
            ulong seq;
            lock (_states.Gate)
            {
                while (_collecting.Count == 0 && !_stopping && nextIdle - Environment.TickCount64 is > 0 and var remaining)
                    Monitor.Wait(_states.Gate, TimeSpan.FromMilliseconds(remaining));
                if (_collecting.Count == 0 && _stopping) return;
                batch = _collecting;
                seq = _collectingSeq;
                if (batch.Count > 0)
                {
                    _collecting = [];
                    _collectingSeq++;
                }
            }
            if (batch.Count > 0)
            {
                Commit(batch, seq);
                continue;
            }
            _idlePass();
            nextIdle = Environment.TickCount64 + (long)_idleInterval.TotalMilliseconds;
        }
    }

    private void Commit(List<ulong> batch, ulong seq)
    {
        string? error = null;
        lock (_states.LogLock)
        {
            try
            {
                foreach (var r in batch) _states.Log.MarkRegion(r);
                _states.Log.Flush();
            }
            catch (RegionLogException e)
            {
                error = e.Message;
            }
        }
        lock (_states.Gate)
        {
            foreach (var r in batch)
            {
                _states.RequestedIn[r] = 0;
                if (error is not null) continue;
                _states.Marked[r] = true;
                _states.MarkedCount++;
                if (_states.Pending[r] == 0) _states.CleanCandidates.Add(r);
            }
            Interlocked.Increment(ref _flushes);
            if (error is not null)
            {
                _failedBatches++;
                _lastError = error;
            }
            _completedSeq = seq;
            Monitor.PulseAll(_states.Gate);
        }
        if (error is not null) _report($"dirty region log flush failed; {batch.Count} region(s) not marked, their writes get EIO: {error}");
    }
}

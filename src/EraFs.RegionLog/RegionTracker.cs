using EraFs.Core;
using System.Globalization;

namespace EraFs.RegionLog;

/// <summary>
/// dm-region-hash's write path over an <see cref="IDirtyRegionLog"/>: the regions a write touches are
/// marked dirty and made durable by one log flush per batch (concurrent writers share it) before the
/// write is released; a region whose writes all completed is cleared lazily by a later pass, after
/// the legs were flushed. Writes to a region being resynced wait until its recovery ends.
/// </summary>
public sealed partial class RegionTracker : IWriteInterceptor, IDisposable
{
    private readonly IDirtyRegionLog _log;
    private readonly Func<bool> _flushLegs;
    private readonly Action<string> _report;
    private readonly TimeSpan _cleanInterval;
    private readonly long _deviceLength;

    // Guards every field below; writers wait on it. Log calls happen under _logLock only, which is
    // taken before _gate when both are needed, never the other way round.
    private readonly object _gate = new();
    private readonly object _logLock = new();
    private readonly int[] _pending;
    private readonly bool[] _marked;
    private readonly ulong[] _requestedIn;
    private readonly bool[] _recovering;
    private bool _recoveryCancelled;
    private readonly bool[] _inSync;
    private readonly HashSet<ulong> _cleanCandidates = [];
    private List<ulong> _collecting = [];
    private ulong _collectingSeq = 1;
    private ulong _completedSeq;
    private bool _stopping;
    private bool _closed;
    private readonly Thread _worker;

    private long _markedCount;
    private long _inSyncCount;
    private long _flushes;
    private long _clears;
    private long _failedBatches;
    private string? _lastError;
    private bool _clearsHeldBack;

    public RegionTracker(IDirtyRegionLog log, long deviceLength, Func<bool> flushLegs, Action<string>? report = null, TimeSpan? cleanInterval = null)
    {
        _log = log;
        _deviceLength = deviceLength;
        _flushLegs = flushLegs;
        _report = report ?? (_ => { });
        _cleanInterval = cleanInterval ?? TimeSpan.FromSeconds(1);
        var n = checked((int)log.RegionCount);
        _pending = new int[n];
        _marked = new bool[n];
        _requestedIn = new ulong[n];
        _recovering = new bool[n];
        _inSync = new bool[n];
        for (var r = 0; r < n; r++)
        {
            _inSync[r] = log.InSync((ulong)r);
            if (_inSync[r]) _inSyncCount++;
        }
        _worker = new Thread(WorkerLoop) { IsBackground = true, Name = "region-log" };
        _worker.Start();
    }

    public IDirtyRegionLog Log => _log;

    public long RegionSize => _log.RegionSize;

    public ulong RegionCount => _log.RegionCount;

    /// <summary>Regions with a durable dirty mark this tracker holds.</summary>
    public long DirtyRegions => Interlocked.Read(ref _markedCount);

    /// <summary>In-sync regions as last learned from the log.</summary>
    public long InSyncRegions => Interlocked.Read(ref _inSyncCount);

    /// <summary>Whether the region's legs are known identical (cached; never blocks on the log).</summary>
    public bool IsInSync(ulong region)
    {
        lock (_gate) return _inSync[region];
    }

    public void BeforeWrite(long offset, long length)
    {
        var ticket = Admit(offset, length);
        AwaitMarks(ticket);
    }

    public void AfterWrite(long offset, long length, bool succeeded)
    {
        if (length <= 0) return;
        var (first, last) = Regions(offset, length);
        Release(first, last);
    }

    /// <summary>Admits a write: counts it pending on its regions and queues marks; pair with <see cref="AwaitMarks"/> or <see cref="Abandon"/>.</summary>
    public RegionWrite Admit(long offset, long length)
    {
        if (length <= 0) return new RegionWrite(0, 0, 0, false);
        if (offset < 0 || length > _deviceLength - offset)
            throw new ArgumentOutOfRangeException(nameof(offset), $"write of {length} bytes at {offset} falls outside the {_deviceLength}-byte device");
        var (first, last) = Regions(offset, length);
        ulong waitFor = 0;
        var queued = false;
        lock (_gate)
        {
            if (_closed) throw new TrackingFailedException("region log is closed; the write cannot be tracked");
            while (AnyRecovering(first, last)) Monitor.Wait(_gate);
            for (var r = first; r <= last; r++)
            {
                _pending[r]++;
                if (_marked[r]) continue;
                if (_requestedIn[r] == 0)
                {
                    _requestedIn[r] = _collectingSeq;
                    _collecting.Add(r);
                    queued = true;
                }
                waitFor = Math.Max(waitFor, _requestedIn[r]);
            }
            if (queued) Monitor.PulseAll(_gate);
        }
        return new RegionWrite(first, last, waitFor, true);
    }

    /// <summary>Returns once the write's marks are durable; throws <see cref="TrackingFailedException"/> (write abandoned) if they cannot be.</summary>
    public void AwaitMarks(RegionWrite write)
    {
        if (!write.Admitted || write.WaitFor == 0) return;
        lock (_gate)
        {
            while (_completedSeq < write.WaitFor && !_closed) Monitor.Wait(_gate);
            var allMarked = true;
            for (var r = write.First; r <= write.Last; r++) allMarked &= _marked[r];
            if (allMarked) return;
        }
        Abandon(write);
        throw new TrackingFailedException($"dirty region log: {_lastError ?? "the mark could not be made durable"}; the write is refused");
    }

    /// <summary>Takes back an admitted write that will not be issued.</summary>
    public void Abandon(RegionWrite write)
    {
        if (write.Admitted) Release(write.First, write.Last);
    }

    private void Release(ulong first, ulong last)
    {
        lock (_gate)
        {
            var recoveryWaits = false;
            for (var r = first; r <= last; r++)
            {
                if (--_pending[r] != 0) continue;
                if (_marked[r]) _cleanCandidates.Add(r);
                recoveryWaits |= _recovering[r];
            }
            // TryBeginRecovery waits for exactly this: the last write in flight on its region.
            if (recoveryWaits) Monitor.PulseAll(_gate);
        }
    }

    private (ulong First, ulong Last) Regions(long offset, long length) =>
        ((ulong)(offset / _log.RegionSize), (ulong)((offset + length - 1) / _log.RegionSize));

    private bool AnyRecovering(ulong first, ulong last)
    {
        for (var r = first; r <= last; r++)
            if (_recovering[r]) return true;
        return false;
    }

    private void WorkerLoop()
    {
        // A monotonic clock, and the remaining time read once per wait: the wall clock may step, and a
        // deadline passing between the check and the wait must not become a negative timeout.
        var nextClean = Environment.TickCount64 + (long)_cleanInterval.TotalMilliseconds;
        while (true)
        {
            List<ulong> batch;
            ulong seq;
            lock (_gate)
            {
                while (_collecting.Count == 0 && !_stopping && nextClean - Environment.TickCount64 is > 0 and var remaining)
                    Monitor.Wait(_gate, TimeSpan.FromMilliseconds(remaining));
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
                CommitMarks(batch, seq);
                continue;
            }
            ClearIdleRegions();
            nextClean = Environment.TickCount64 + (long)_cleanInterval.TotalMilliseconds;
        }
    }

    private void CommitMarks(List<ulong> batch, ulong seq)
    {
        string? error = null;
        lock (_logLock)
        {
            try
            {
                foreach (var r in batch) _log.MarkRegion(r);
                _log.Flush();
            }
            catch (RegionLogException e)
            {
                error = e.Message;
            }
        }
        lock (_gate)
        {
            foreach (var r in batch)
            {
                _requestedIn[r] = 0;
                if (error is not null) continue;
                _marked[r] = true;
                _markedCount++;
                if (_pending[r] == 0) _cleanCandidates.Add(r);
            }
            Interlocked.Increment(ref _flushes);
            if (error is not null)
            {
                _failedBatches++;
                _lastError = error;
            }
            _completedSeq = seq;
            Monitor.PulseAll(_gate);
        }
        if (error is not null) _report($"dirty region log flush failed; {batch.Count} region(s) not marked, their writes get EIO: {error}");
    }

    /// <summary>
    /// Clears regions without pending writes. Taking them out of the marked set first, under the log
    /// lock, makes any new write to them queue a fresh mark that the log sees after this clear.
    /// </summary>
    private void ClearIdleRegions()
    {
        lock (_logLock)
        {
            List<ulong> idle;
            lock (_gate)
            {
                idle = [.. _cleanCandidates.Where(r => _pending[r] == 0 && _marked[r] && !_recovering[r])];
                _cleanCandidates.Clear();
                foreach (var r in idle) _marked[r] = false;
                _markedCount -= idle.Count;
            }
            if (idle.Count == 0) return;
            // A clean mark may only reach the log once the data it covers is durable on every leg.
            if (!_flushLegs())
            {
                if (!_clearsHeldBack) _report($"not every leg could be flushed; regions stay dirty in the log from now on ({idle.Count} so far)");
                _clearsHeldBack = true;
                return;
            }
            _clearsHeldBack = false;
            try
            {
                foreach (var r in idle) _log.ClearRegion(r);
                _log.Flush();
                Interlocked.Add(ref _clears, idle.Count);
            }
            catch (RegionLogException e)
            {
                _report($"clearing {idle.Count} region(s) failed (they stay dirty, which is safe): {e.Message}");
            }
        }
    }

    /// <summary>Facts for the info file.</summary>
    public IEnumerable<(string Key, string Value)> Info()
    {
        string S(long v) => v.ToString(CultureInfo.InvariantCulture);
        yield return ("region_size", S(RegionSize));
        yield return ("regions", RegionCount.ToString(CultureInfo.InvariantCulture));
        yield return ("dirty_regions", S(DirtyRegions));
        yield return ("in_sync_regions", S(InSyncRegions));
        yield return ("log_flushes", S(Interlocked.Read(ref _flushes)));
        yield return ("regions_cleared", S(Interlocked.Read(ref _clears)));
        lock (_gate)
        {
            yield return ("failed_mark_batches", S(_failedBatches));
            if (_lastError is not null) yield return ("last_region_log_error", _lastError);
        }
    }

    /// <summary>Stops the worker, clears idle regions (after flushing the legs) and flushes the log: a clean shutdown leaves every region clean.</summary>
    public void Close()
    {
        lock (_gate)
        {
            if (_closed) return;
            _stopping = true;
            Monitor.PulseAll(_gate);
        }
        _worker.Join();
        lock (_gate)
        {
            _closed = true;
            for (var r = 0UL; r < (ulong)_marked.Length; r++)
                if (_marked[r] && _pending[r] == 0) _cleanCandidates.Add(r);
            Monitor.PulseAll(_gate);
        }
        ClearIdleRegions();
        lock (_logLock)
        {
            try
            {
                _log.Flush();
            }
            catch (RegionLogException e)
            {
                _report($"final region log flush failed: {e.Message}");
            }
        }
    }

    public void Dispose()
    {
        Close();
        _log.Dispose();
    }
}

/// <summary>An admitted write's regions and the mark batch it waits for (0: none).</summary>
public readonly record struct RegionWrite(ulong First, ulong Last, ulong WaitFor, bool Admitted);

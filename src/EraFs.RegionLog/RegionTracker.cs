using EraFs.Core;
using System.Globalization;

namespace EraFs.RegionLog;

/// <summary>
/// dm-region-hash's write path over an <see cref="IDirtyRegionLog"/>: the regions a write touches are
/// marked dirty and made durable by one log flush per batch (concurrent writers share it) before the
/// write is released; a region whose writes all completed is cleared lazily by a later pass, after
/// the legs were flushed. Writes to a region being resynced wait until its recovery ends.
/// </summary>
public sealed class RegionTracker : IWriteInterceptor, IDisposable
{
    private readonly RegionStates _states;
    private readonly MarkBatches _marks;
    private readonly IdleRegionClearer _clearer;
    private readonly RegionRecovery _recovery;
    private readonly long _deviceLength;
    private readonly Action<string> _report;

    public RegionTracker(IDirtyRegionLog log, long deviceLength, Func<bool> flushLegs, Action<string>? report = null, TimeSpan? cleanInterval = null)
    {
        var say = _report = report ?? (_ => { });
        _deviceLength = deviceLength;
        _states = new RegionStates(log);
        _clearer = new IdleRegionClearer(_states, flushLegs, say);
        _recovery = new RegionRecovery(_states, say);
        _marks = new MarkBatches(_states, _clearer.Pass, say, cleanInterval ?? TimeSpan.FromSeconds(1));
    }

    public IDirtyRegionLog Log => _states.Log;

    public long RegionSize => Log.RegionSize;

    public ulong RegionCount => Log.RegionCount;

    /// <summary>Regions with a durable dirty mark this tracker holds.</summary>
    public long DirtyRegions => Interlocked.Read(ref _states.MarkedCount);

    /// <summary>In-sync regions as last learned from the log.</summary>
    public long InSyncRegions => Interlocked.Read(ref _states.InSyncCount);

    /// <summary>Whether the region's legs are known identical (cached; never blocks on the log).</summary>
    public bool IsInSync(ulong region)
    {
        lock (_states.Gate) return _states.InSync[region];
    }

    public void BeforeWrite(long offset, long length)
    {
        var ticket = Admit(offset, length);
        AwaitMarks(ticket);
    }

    public bool MayWait(long offset, long length)
    {
        if (length <= 0 || offset < 0 || length > _deviceLength - offset) return false;
        var (first, last) = Regions(offset, length);
        // Read without the gate: a stale answer only puts on a thread too many or too few. A region
        // being recovered holds its writers until its copy is done, marked or not.
        for (var r = first; r <= last; r++)
            if (!Volatile.Read(ref _states.Marked[r]) || Volatile.Read(ref _states.Recovering[r])) return true;
        return false;
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
        lock (_states.Gate)
        {
            if (_states.Closed) throw new TrackingFailedException("region log is closed; the write cannot be tracked");
            while (_states.AnyRecovering(first, last)) Monitor.Wait(_states.Gate);
            for (var r = first; r <= last; r++) _states.Pending[r]++;
            return new RegionWrite(first, last, _marks.Queue(first, last), true);
        }
    }

    /// <summary>Returns once the write's marks are durable; throws <see cref="TrackingFailedException"/> (write abandoned) if they cannot be.</summary>
    public void AwaitMarks(RegionWrite write)
    {
        if (!write.Admitted) return;
        if (write.WaitFor != 0 && !_marks.AwaitMarked(write.First, write.Last, write.WaitFor, out var reason))
        {
            Abandon(write);
            throw new TrackingFailedException($"dirty region log: {reason}; the write is refused");
        }
        // Checked after the marks, on repeat writes too: a node fenced while it waited must not write either.
        if (Log is ISharedRegionLog shared && !shared.MayWrite(out var fenced))
        {
            Abandon(write);
            throw new TrackingFailedException($"dirty region log: {fenced}; the write is refused");
        }
    }

    /// <summary>Takes back an admitted write that will not be issued.</summary>
    public void Abandon(RegionWrite write)
    {
        if (write.Admitted) Release(write.First, write.Last);
    }

    /// <summary>
    /// Takes the next out-of-sync region from the log, holds back new writes to it and waits until
    /// its writes in flight are done (dm-region-hash's quiesce). False when nothing needs resync.
    /// </summary>
    public bool TryBeginRecovery(out ulong region) => _recovery.TryBegin(out region);

    /// <summary>Ends any wait in <see cref="TryBeginRecovery"/> and makes it return false from now on (resync stopping).</summary>
    public void CancelRecovery() => _recovery.Cancel();

    /// <summary>Ends a recovery: records the outcome in the log and releases writes waiting for the region.</summary>
    public void EndRecovery(ulong region, bool inSync) => _recovery.End(region, inSync);

    /// <summary>A leg missed a write to the region: the log must no longer call it in sync.</summary>
    public void MarkOutOfSync(ulong region) => _recovery.MarkOutOfSync(region);

    /// <summary>dm-log's INFO or TABLE line for the log in use.</summary>
    public string LogStatus(RegionLogStatusType type)
    {
        lock (_states.LogLock) return Log.Status(type);
    }

    /// <summary>The log's own in-sync count (0 when it cannot be asked, as dm-log-userspace answers).</summary>
    public ulong LogSyncCount()
    {
        lock (_states.LogLock) return Log.SyncCount;
    }

    /// <summary>Facts for the info file.</summary>
    public IReadOnlyList<(string Key, string Value)> Info()
    {
        string S(long v) => v.ToString(CultureInfo.InvariantCulture);
        return
        [
            ("region_size", S(RegionSize)),
            ("regions", RegionCount.ToString(CultureInfo.InvariantCulture)),
            ("dirty_regions", S(DirtyRegions)),
            ("in_sync_regions", S(InSyncRegions)),
            ("log_flushes", S(_marks.Flushes)),
            ("regions_cleared", S(_clearer.Clears)),
            .. _marks.Info(),
        ];
    }

    /// <summary>Stops the worker, clears idle regions (after flushing the legs) and flushes the log: a clean shutdown leaves every region clean.</summary>
    public void Close()
    {
        lock (_states.Gate)
        {
            if (_states.Closed) return;
        }
        _marks.Stop();
        lock (_states.Gate)
        {
            if (_states.Closed) return;
            _states.Closed = true;
            _clearer.NominateAllIdle();
            Monitor.PulseAll(_states.Gate);
        }
        _clearer.Pass();
        lock (_states.LogLock)
        {
            try
            {
                Log.Flush();
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
        Log.Dispose();
    }

    private void Release(ulong first, ulong last)
    {
        lock (_states.Gate)
        {
            var recoveryWaits = false;
            for (var r = first; r <= last; r++)
            {
                if (--_states.Pending[r] != 0) continue;
                if (_states.Marked[r]) _states.CleanCandidates.Add(r);
                recoveryWaits |= _states.Recovering[r];
            }
            // A recovery waits for exactly this: the last write in flight on its region.
            if (recoveryWaits) Monitor.PulseAll(_states.Gate);
        }
    }

    private (ulong First, ulong Last) Regions(long offset, long length) =>
        ((ulong)(offset / RegionSize), (ulong)((offset + length - 1) / RegionSize));
}

/// <summary>An admitted write's regions and the mark batch it waits for (0: none).</summary>
public readonly record struct RegionWrite(ulong First, ulong Last, ulong WaitFor, bool Admitted);

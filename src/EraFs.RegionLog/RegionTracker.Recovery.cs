namespace EraFs.RegionLog;

public sealed partial class RegionTracker
{
    /// <summary>
    /// Takes the next out-of-sync region from the log, holds back new writes to it and waits until
    /// its writes in flight are done (dm-region-hash's quiesce). False when nothing needs resync.
    /// </summary>
    public bool TryBeginRecovery(out ulong region)
    {
        region = 0;
        lock (_gate)
        {
            if (_recoveryCancelled) return false;
        }
        lock (_logLock)
        {
            if (!_log.TryGetResyncWork(out region)) return false;
        }
        bool quiesced;
        lock (_gate)
        {
            _recovering[region] = true;
            // Release pulses when a recovering region's last write is done; a cancel ends the wait too.
            while (_pending[region] > 0 && !_recoveryCancelled) Monitor.Wait(_gate);
            quiesced = _pending[region] == 0;
        }
        if (quiesced) return true;
        EndRecovery(region, inSync: false);
        return false;
    }

    /// <summary>Ends any wait in <see cref="TryBeginRecovery"/> and makes it return false from now on (resync stopping).</summary>
    public void CancelRecovery()
    {
        lock (_gate)
        {
            _recoveryCancelled = true;
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>Ends a recovery: records the outcome in the log and releases writes waiting for the region.</summary>
    public void EndRecovery(ulong region, bool inSync)
    {
        lock (_logLock)
        {
            try
            {
                if (inSync)
                {
                    lock (_gate)
                    {
                        // The log is told the region is clean, so the next write must mark it afresh.
                        if (_marked[region])
                        {
                            _marked[region] = false;
                            _markedCount--;
                        }
                        _cleanCandidates.Remove(region);
                    }
                    _log.ClearRegion(region);
                }
                _log.SetRegionSync(region, inSync);
                _log.Flush();
            }
            catch (RegionLogException e)
            {
                _report($"recording the resync of region {region} failed: {e.Message}");
            }
            lock (_gate)
            {
                SetCachedSync(region, inSync);
                _recovering[region] = false;
                Monitor.PulseAll(_gate);
            }
        }
    }

    /// <summary>A leg missed a write to the region: the log must no longer call it in sync.</summary>
    public void MarkOutOfSync(ulong region)
    {
        lock (_logLock)
        {
            try
            {
                _log.SetRegionSync(region, false);
                _log.Flush();
            }
            catch (RegionLogException e)
            {
                _report($"recording region {region} as out of sync failed: {e.Message}");
            }
            lock (_gate) SetCachedSync(region, false);
        }
    }

    /// <summary>dm-log's INFO or TABLE line for the log in use.</summary>
    public string LogStatus(RegionLogStatusType type)
    {
        lock (_logLock) return _log.Status(type);
    }

    /// <summary>The log's own in-sync count (0 when it cannot be asked, as dm-log-userspace answers).</summary>
    public ulong LogSyncCount()
    {
        lock (_logLock) return _log.SyncCount;
    }

    private void SetCachedSync(ulong region, bool inSync)
    {
        if (_inSync[region] == inSync) return;
        _inSync[region] = inSync;
        if (inSync) _inSyncCount++;
        else _inSyncCount--;
    }
}

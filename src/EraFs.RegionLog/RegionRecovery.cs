namespace EraFs.RegionLog;

/// <summary>
/// dm-region-hash's recovery: a region taken for resync holds back new writes, waits until the writes
/// in flight on it are done (quiesce), and records its outcome in the log before writes resume.
/// </summary>
internal sealed class RegionRecovery(RegionStates states, Action<string> report)
{
    // Under the states' gate.
    private bool _cancelled;

    /// <summary>
    /// Takes the next out-of-sync region from the log, holds back new writes to it and waits until
    /// its writes in flight are done. False when nothing needs resync or recovery was cancelled.
    /// </summary>
    public bool TryBegin(out ulong region)
    {
        region = 0;
        lock (states.Gate)
        {
            if (_cancelled) return false;
        }
        lock (states.LogLock)
        {
            if (!states.Log.TryGetResyncWork(out region)) return false;
        }
        bool quiesced;
        lock (states.Gate)
        {
            states.Recovering[region] = true;
            // A region's last write pulses when the region is recovering; a cancel ends the wait too.
            while (states.Pending[region] > 0 && !_cancelled) Monitor.Wait(states.Gate);
            quiesced = states.Pending[region] == 0;
        }
        if (quiesced) return true;
        End(region, inSync: false);
        return false;
    }

    /// <summary>Ends any wait in <see cref="TryBegin"/> and makes it return false from now on.</summary>
    public void Cancel()
    {
        lock (states.Gate)
        {
            _cancelled = true;
            Monitor.PulseAll(states.Gate);
        }
    }

    /// <summary>Records the outcome in the log and releases writes waiting for the region.</summary>
    public void End(ulong region, bool inSync)
    {
        lock (states.LogLock)
        {
            try
            {
                if (inSync)
                {
                    lock (states.Gate)
                    {
                        // The log is told the region is clean, so the next write must mark it afresh.
                        states.Unmark(region);
                        states.CleanCandidates.Remove(region);
                    }
                    states.Log.ClearRegion(region);
                }
                states.Log.SetRegionSync(region, inSync);
                states.Log.Flush();
            }
            catch (RegionLogException e)
            {
                report($"recording the resync of region {region} failed: {e.Message}");
            }
            lock (states.Gate)
            {
                states.SetCachedSync(region, inSync);
                states.Recovering[region] = false;
                Monitor.PulseAll(states.Gate);
            }
        }
    }

    /// <summary>A leg missed a write to the region: the log must no longer call it in sync.</summary>
    public void MarkOutOfSync(ulong region)
    {
        lock (states.LogLock)
        {
            try
            {
                states.Log.SetRegionSync(region, false);
                states.Log.Flush();
            }
            catch (RegionLogException e)
            {
                report($"recording region {region} as out of sync failed: {e.Message}");
            }
            lock (states.Gate) states.SetCachedSync(region, false);
        }
    }
}

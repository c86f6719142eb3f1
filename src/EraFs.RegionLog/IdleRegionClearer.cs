namespace EraFs.RegionLog;

/// <summary>
/// dm-region-hash's lazy clearing: a marked region with no write in flight is cleared in the log, but
/// only after every leg was flushed, so a clean mark never covers data a leg may still lose.
/// </summary>
internal sealed class IdleRegionClearer(RegionStates states, Func<bool> flushLegs, Action<string> report)
{
    private long _clears;
    private bool _clearsHeldBack;

    public long Clears => Interlocked.Read(ref _clears);

    /// <summary>
    /// Clears regions without pending writes. Taking them out of the marked set first, under the log
    /// lock, makes any new write to them queue a fresh mark that the log sees after this clear.
    /// </summary>
    public void Pass()
    {
        lock (states.LogLock)
        {
            List<ulong> idle;
            lock (states.Gate)
            {
                idle = [.. states.CleanCandidates.Where(r => states.Pending[r] == 0 && states.Marked[r] && !states.Recovering[r])];
                states.CleanCandidates.Clear();
                foreach (var r in idle) states.Unmark(r);
            }
            if (idle.Count == 0) return;
            if (!flushLegs())
            {
                if (!_clearsHeldBack) report($"not every leg could be flushed; regions stay dirty in the log from now on ({idle.Count} so far)");
                _clearsHeldBack = true;
                return;
            }
            _clearsHeldBack = false;
            try
            {
                foreach (var r in idle) states.Log.ClearRegion(r);
                states.Log.Flush();
                Interlocked.Add(ref _clears, idle.Count);
            }
            catch (RegionLogException e)
            {
                report($"clearing {idle.Count} region(s) failed (they stay dirty, which is safe): {e.Message}");
            }
        }
    }

    /// <summary>Makes every marked region without pending writes a candidate (the final pass at close). Under the gate.</summary>
    public void NominateAllIdle()
    {
        for (var r = 0UL; r < (ulong)states.Marked.Length; r++)
            if (states.Marked[r] && states.Pending[r] == 0) states.CleanCandidates.Add(r);
    }
}

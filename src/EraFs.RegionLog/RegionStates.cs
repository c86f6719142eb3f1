namespace EraFs.RegionLog;

/// <summary>The region tracker's per-region state, shared by its parts, and the two locks that guard it.</summary>
/// <remarks>
/// <see cref="Gate"/> guards every array and counter here, and writers wait on it. Calls into the log
/// happen under <see cref="LogLock"/> only; it is taken before <see cref="Gate"/> when both are needed,
/// never the other way round.
/// </remarks>
internal sealed class RegionStates
{
    public RegionStates(IDirtyRegionLog log)
    {
        Log = log;
        var n = checked((int)log.RegionCount);
        Pending = new int[n];
        Marked = new bool[n];
        RequestedIn = new ulong[n];
        Recovering = new bool[n];
        InSync = new bool[n];
        for (var r = 0; r < n; r++)
        {
            InSync[r] = log.InSync((ulong)r);
            if (InSync[r]) InSyncCount++;
        }
    }

    public object Gate { get; } = new();

    public object LogLock { get; } = new();

    public IDirtyRegionLog Log { get; }

    /// <summary>Writes admitted and not yet released, per region.</summary>
    public int[] Pending { get; }

    /// <summary>Regions whose dirty mark is durable in the log and not yet cleared.</summary>
    public bool[] Marked { get; }

    /// <summary>The mark batch a region's mark is queued in (0: none).</summary>
    public ulong[] RequestedIn { get; }

    /// <summary>Regions being resynced: new writes to them wait.</summary>
    public bool[] Recovering { get; }

    /// <summary>The log's in-sync state, cached so a status read never blocks on the log.</summary>
    public bool[] InSync { get; }

    /// <summary>Marked regions that may have become idle since the last clean pass.</summary>
    public HashSet<ulong> CleanCandidates { get; } = [];

    public long MarkedCount;
    public long InSyncCount;
    public bool Closed;

    public bool AnyRecovering(ulong first, ulong last)
    {
        for (var r = first; r <= last; r++)
            if (Recovering[r]) return true;
        return false;
    }

    /// <summary>Forgets a region's durable mark (the log is being told it is clean). Under <see cref="Gate"/>.</summary>
    public void Unmark(ulong region)
    {
        if (!Marked[region]) return;
        Marked[region] = false;
        MarkedCount--;
    }

    /// <summary>Updates the cached in-sync state. Under <see cref="Gate"/>.</summary>
    public void SetCachedSync(ulong region, bool inSync)
    {
        if (InSync[region] == inSync) return;
        InSync[region] = inSync;
        if (inSync) InSyncCount++;
        else InSyncCount--;
    }
}

namespace EraFs.Core;

/// <summary>
/// The write horizon: the metadata says this mount may write the origin until a wall-clock instant, so
/// after a crash an origin changed later than that was written by someone else.
/// </summary>
/// <remarks>
/// Renewing it is a metadata commit, so the first write past half the horizon (monotonic clock) asks
/// for it and the worker does it; no write waits for it. A write that lands past the recorded horizon
/// before the renewal commits can only cause a false positive after a crash, never a lost write.
/// </remarks>
internal sealed class WriteHorizon(TimeSpan length)
{
    private long _renewAtTicks;
    private int _renewalWanted;

    /// <summary>Whether a renewal was asked for and has not run yet.</summary>
    public bool RenewalWanted => Volatile.Read(ref _renewalWanted) != 0;

    /// <summary>
    /// Lock-free, on every write: true only for the first write that finds the renewal due, so the
    /// caller wakes the worker once per renewal.
    /// </summary>
    public bool AskForRenewalIfDue() =>
        Environment.TickCount64 >= Volatile.Read(ref _renewAtTicks) && Interlocked.Exchange(ref _renewalWanted, 1) == 0;

    /// <summary>
    /// The wall-clock instant to record as the next horizon; arms the renewal for half-way there.
    /// Measured before the commit that records it, so the instant is never later than promised.
    /// </summary>
    public DateTime Next()
    {
        var until = DateTime.UtcNow + length;
        Volatile.Write(ref _renewAtTicks, Environment.TickCount64 + (long)(length.TotalMilliseconds / 2));
        return until;
    }

    /// <summary>
    /// Worker: records the next horizon in the store. A failed commit throws and leaves the renewal due,
    /// as if it had not been armed; either way the request has been answered.
    /// </summary>
    public void Renew(IEraStore store)
    {
        var renewAt = Volatile.Read(ref _renewAtTicks);
        try
        {
            store.ExtendWriteHorizon(Next());
        }
        catch
        {
            Volatile.Write(ref _renewAtTicks, renewAt);
            throw;
        }
        finally
        {
            Volatile.Write(ref _renewalWanted, 0);
        }
    }
}

using EraFs.RegionLog;
using EraFs.Fuse;

namespace EraFs.FileSystem;

/// <summary>
/// dm-raid1's data path: every write goes to the origin (the default leg) and to each healthy leg;
/// reads of in-sync regions rotate over the origin and the healthy legs, other reads use the origin.
/// A failing leg is marked failed and dropped; the mirror keeps serving from the origin.
/// </summary>
public sealed class Mirror(Origin origin, IReadOnlyList<MirrorLeg> legs, IFuseLog log) : IDeviceIo
{
    private readonly WriteOrder _order = new();
    private RegionTracker? _regions;
    private long _readTurn;

    public Origin Origin => origin;

    public IReadOnlyList<MirrorLeg> Legs => legs;

    public long Size => origin.Size;

    public DateTime ModifiedUtc => origin.ModifiedUtc;

    /// <summary>Tells the mirror which regions are in sync (reads) and where to record leg failures.</summary>
    public void Attach(RegionTracker regions) => _regions = regions;

    public int Read(Span<byte> buffer, long offset)
    {
        if (legs.Count == 0 || !AllInSync(offset, buffer.Length)) return origin.Read(buffer, offset);
        var turn = (int)(Interlocked.Increment(ref _readTurn) % (legs.Count + 1));
        if (turn == 0 || !legs[turn - 1].Healthy) return origin.Read(buffer, offset);
        var leg = legs[turn - 1];
        var rc = leg.Read(buffer, offset);
        if (rc >= 0 && (rc == buffer.Length || offset + rc >= origin.Size)) return rc;
        LegFailed(leg, 'R', offset, buffer.Length, rc < 0 ? FuseErrors.Describe(rc) : "short read");
        return origin.Read(buffer, offset);
    }

    public int Write(ReadOnlySpan<byte> data, long offset)
    {
        using var ordered = _order.Enter(offset, data.Length);
        if (Fenced()) return FuseErrors.EIO;
        var rc = origin.Write(data, offset);
        if (rc < 0) return rc;
        foreach (var leg in legs)
        {
            if (!leg.Healthy) continue;
            var lrc = leg.Write(data, offset);
            if (lrc < 0) LegFailed(leg, 'D', offset, data.Length, FuseErrors.Describe(lrc));
        }
        return rc;
    }

    public int Zero(long offset, long length, bool punch)
    {
        using var ordered = _order.Enter(offset, length);
        if (Fenced()) return FuseErrors.EIO;
        var rc = origin.Zero(offset, length, punch);
        if (rc < 0) return rc;
        foreach (var leg in legs)
        {
            if (!leg.Healthy) continue;
            var lrc = leg.Zero(offset, length, punch);
            if (lrc < 0) LegFailed(leg, 'D', offset, length, FuseErrors.Describe(lrc));
        }
        return 0;
    }

    public int Sync(bool dataOnly)
    {
        var rc = origin.Sync(dataOnly);
        FlushLegs(dataOnly);
        return rc;
    }

    public int FlushDescriptor() => origin.FlushDescriptor();

    /// <summary>
    /// fdatasync of the origin and every healthy leg; the region tracker calls it before clearing
    /// regions. False if the origin failed or any leg has failed: a failed leg misses writes, so
    /// the regions they touched must stay dirty until a later mount resyncs them.
    /// </summary>
    public bool FlushAll()
    {
        var rc = origin.Sync(dataOnly: true);
        if (rc < 0) log.Error($"{origin.Path}: flush before clearing regions failed: {FuseErrors.Describe(rc)}");
        FlushLegs(dataOnly: true);
        return rc >= 0 && legs.All(l => l.Healthy);
    }

    /// <summary>Copies one region from the origin to every healthy leg (resync); false if the origin could not be read or a leg has failed, so the region stays out of sync.</summary>
    public bool CopyToLegs(long offset, byte[] buffer)
    {
        var length = (int)Math.Min(buffer.Length, origin.Size - offset);
        var rc = origin.Read(buffer.AsSpan(0, length), offset);
        if (rc != length)
        {
            log.Error($"{origin.Path}: resync read of {length} bytes at {offset} failed: {(rc < 0 ? FuseErrors.Describe(rc) : "short read")}");
            return false;
        }
        // With a shared log, a node that stalled past its lease after its fence check can still land a
        // write in a region this node took over. It writes the origin before the legs, so reading the
        // origin again after the copy catches every interleaving that would leave a leg stale.
        var shared = _regions?.Log is ISharedRegionLog;
        byte[]? check = shared ? new byte[length] : null;
        for (var attempt = 0; ; attempt++)
        {
            // A fenced node's claim on the region may have lapsed with its lease: another node may be copying it.
            if (Fenced()) return false;
            foreach (var leg in legs)
            {
                if (!leg.Healthy) continue;
                var lrc = leg.Write(buffer.AsSpan(0, length), offset);
                if (lrc < 0) LegFailed(leg, 'S', offset, length, FuseErrors.Describe(lrc));
            }
            if (check is null) break;
            if (origin.Read(check, offset) != length) return false;
            if (check.AsSpan().SequenceEqual(buffer.AsSpan(0, length))) break;
            // Still changing after a few copies: leave the region out of sync; the resync comes back to it.
            if (attempt == MaxCopyAttempts - 1) return false;
            check.AsSpan().CopyTo(buffer);
        }
        return legs.All(l => l.Healthy);
    }

    private const int MaxCopyAttempts = 4;

    private void FlushLegs(bool dataOnly)
    {
        foreach (var leg in legs)
        {
            if (!leg.Healthy) continue;
            var rc = leg.Sync(dataOnly);
            if (rc < 0) LegFailed(leg, 'F', 0, 0, FuseErrors.Describe(rc));
        }
    }

    /// <summary>
    /// A node of a shared log that may not write (its lease could not be renewed in time): checked
    /// again here, next to the bytes, so a write admitted just before a stall writes nothing after it.
    /// </summary>
    private bool Fenced() => _regions?.Log is ISharedRegionLog shared && !shared.MayWrite(out _);

    private bool AllInSync(long offset, int length)
    {
        // Reads of a shared log's mirror come from the origin only: this node's in-sync view can lag
        // behind another node's (a dead node's regions turn out of sync at the survivor first).
        if (_regions?.Log is ISharedRegionLog) return false;
        if (_regions is not { } regions || length <= 0) return false;
        var last = (ulong)((Math.Min(offset + length, origin.Size) - 1) / regions.RegionSize);
        for (var r = (ulong)(offset / regions.RegionSize); r <= last; r++)
            if (!regions.IsInSync(r)) return false;
        return true;
    }

    private void LegFailed(MirrorLeg leg, char health, long offset, long length, string why)
    {
        var first = leg.Healthy;
        leg.Fail(health);
        if (first) log.Error($"mirror leg {leg.Path} failed ({health}) at {offset}+{length}: {why}; serving from the origin");
        // The leg missed data in these regions, as dm-raid1 records with set_region_sync(r, 0).
        if (_regions is { } regions && length > 0)
        {
            var last = (ulong)((Math.Min(offset + length, origin.Size) - 1) / regions.RegionSize);
            for (var r = (ulong)(offset / regions.RegionSize); r <= last; r++) regions.MarkOutOfSync(r);
        }
    }
}

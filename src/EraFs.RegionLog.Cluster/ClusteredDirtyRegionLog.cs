using System.Diagnostics;
using System.Globalization;
using EraFs.Core;
using Etcdserverpb;

namespace EraFs.RegionLog.Cluster;

/// <summary>
/// dm-log's <c>clustered_core</c> on etcd: one mirror's dirty region log shared by every node that
/// writes it. Marks are per node and committed in one etcd transaction per flush; a region is clean
/// only when no node holds a mark on it and it is in sync. A node's liveness is a key on its lease;
/// its marks are not, so they outlive it and a survivor converts them into out-of-sync regions
/// after claiming the dead node by compare-and-swap. The key layout is in docs/region-log.md.
/// </summary>
/// <remarks>
/// Calls through <see cref="IDirtyRegionLog"/> are serialized by the caller, as for every log. A
/// background thread renews the lease, fences the node when it cannot, re-joins after an expiry and
/// claims the recovery of dead nodes; it shares <see cref="_gate"/> with the interface's calls.
/// </remarks>
public sealed class ClusteredDirtyRegionLog : IDirtyRegionLog, ISharedRegionLog
{
    // etcd's default --max-txn-ops is 128: one compare per region plus the member compare must fit.
    private const int RegionsPerTxn = 100;
    private const string InSyncValue = "1";
    private const string OutOfSyncValue = "0";

    private readonly ClusterLogOptions _options;
    private readonly SharedDiskLayout? _disk;
    // Clears or sync outcomes committed since the shared file was last written. Under _gate.
    private bool _diskStale;
    private readonly ClusterKeys _keys;
    private readonly EtcdLogStore _store;
    private readonly RegionLogSync _sync;
    private readonly Action<string> _report;
    private readonly object _gate = new();
    private readonly HashSet<ulong> _pendingMarks = [];
    private readonly HashSet<ulong> _pendingClears = [];
    private readonly Dictionary<ulong, bool> _pendingSync = [];
    private readonly HashSet<ulong> _pendingReleases = [];
    // Regions whose mark (region, this node) committed and was not cleared.
    private readonly HashSet<ulong> _held = [];
    // Regions this node converted from a dead node's marks and has not resynced yet.
    private readonly HashSet<ulong> _recoveringForOthers = [];
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Thread _leaseThread;
    private readonly ManualResetEventSlim _stop = new(false);

    // The cached view of the shared sync state: baseline plus per-region overrides. Under _gate.
    private bool _baselineInSync;
    private readonly Dictionary<ulong, bool> _syncOverrides = [];
    private ulong _resyncCursor;

    private long _leaseId;
    private long _validUntilTicks;
    private volatile ClusterState _state = ClusterState.Joining;
    private volatile bool _noQuorum;
    private string[] _members = [];
    private long _marksCommitted;
    private long _takeovers;
    private long _regionsTakenOver;
    private bool _disposed;

    /// <summary>Joins the log (creating it when it is new) and starts the lease; throws <see cref="RegionLogException"/> if etcd does not answer or refuses.</summary>
    /// <remarks>
    /// With <paramref name="disk"/> (clustered_disk) the log also keeps dm-log's disk layout on that
    /// shared file current; the log owns the device from here on, also when this throws.
    /// </remarks>
    public ClusteredDirtyRegionLog(ClusterLogOptions options, long deviceLength, long regionSize, RegionLogSync sync, Action<string>? report = null,
        IBlockDevice? disk = null)
    {
        RegionGeometry.Validate(regionSize, deviceLength);
        options.Validate();
        _options = options;
        _keys = new ClusterKeys(options.LogName);
        _sync = sync;
        _report = report ?? (_ => { });
        RegionSize = regionSize;
        RegionCount = RegionGeometry.RegionCount(deviceLength, regionSize);
        _store = new EtcdLogStore(options.Endpoints, options.RequestTimeout, options.RetryBound);
        _disk = disk is null ? null : new SharedDiskLayout(disk, _keys, _store, RegionCount);
        try
        {
            lock (_gate)
            {
                JoinLocked(initial: true);
                // The file shows the state this node joined: a header, and every region not known clean dirty.
                _disk?.Write(Node, Interlocked.Read(ref _leaseId), sync: true);
            }
        }
        catch
        {
            _store.Dispose();
            _disk?.Dispose();
            throw;
        }
        _leaseThread = new Thread(LeaseLoop) { IsBackground = true, Name = "cluster-lease" };
        _leaseThread.Start();
    }

    public long RegionSize { get; }

    public ulong RegionCount { get; }

    public string Node => _options.Node;

    /// <summary>joined, fenced, no-quorum or joining, as <c>cluster_state</c> shows it.</summary>
    public string State => _state switch
    {
        ClusterState.Joined when _noQuorum => "no-quorum",
        ClusterState.Joined => "joined",
        ClusterState.Fenced => "fenced",
        _ => "joining",
    };

    /// <summary>The live nodes of the log as last read from etcd.</summary>
    public IReadOnlyList<string> Members => Volatile.Read(ref _members);

    /// <summary>Marks committed by this node's flushes.</summary>
    public long MarksCommitted => Interlocked.Read(ref _marksCommitted);

    /// <summary>Dead nodes whose recovery this node claimed.</summary>
    public long Takeovers => Interlocked.Read(ref _takeovers);

    /// <summary>Regions of dead nodes this node turned into resync work.</summary>
    public long RegionsTakenOver => Interlocked.Read(ref _regionsTakenOver);

    /// <summary>Regions taken over from dead nodes that this node has not resynced yet.</summary>
    public int RecoveringForOthers
    {
        get
        {
            lock (_gate) return _recoveringForOthers.Count;
        }
    }

    public TimeSpan ResyncPollInterval => _options.RenewInterval;

    internal RoundTripLatency Latency => _store.Latency;

    public bool MayWrite(out string reason)
    {
        if (_state != ClusterState.Joined)
        {
            reason = $"cluster node {Node} is {State} in log {_options.LogName} (it re-joins before it marks again)";
            return false;
        }
        if (_clock.ElapsedTicks >= Interlocked.Read(ref _validUntilTicks))
        {
            reason = $"cluster node {Node} could not renew its lease within its TTL minus the {_options.FenceMargin.TotalSeconds:0.#} s margin: fenced";
            return false;
        }
        reason = "";
        return true;
    }

    public bool IsClean(ulong region)
    {
        CheckRegion(region);
        var marks = _store.Range(_keys.RegionMarks(region), "is_clean", countOnly: true).Count;
        // Another node may have resynced the region since this node last looked: read its sync key too.
        var sync = _store.Get(_keys.Sync(region), "is_clean").Kvs;
        lock (_gate)
        {
            if (sync.Count == 1 && !_pendingSync.ContainsKey(region)) _syncOverrides[region] = sync[0].Value.ToStringUtf8().StartsWith('1');
            return marks == 0 && InSyncLocked(region);
        }
    }

    public bool InSync(ulong region)
    {
        CheckRegion(region);
        lock (_gate) return InSyncLocked(region);
    }

    public ulong SyncCount
    {
        get
        {
            lock (_gate)
            {
                var outOfSync = (ulong)_syncOverrides.Count(o => o.Value != _baselineInSync);
                return _baselineInSync ? RegionCount - outOfSync : outOfSync;
            }
        }
    }

    public void MarkRegion(ulong region)
    {
        CheckRegion(region);
        lock (_gate)
        {
            _pendingClears.Remove(region);
            if (!_held.Contains(region)) _pendingMarks.Add(region);
        }
    }

    public void ClearRegion(ulong region)
    {
        CheckRegion(region);
        lock (_gate)
        {
            if (_pendingMarks.Remove(region)) return;
            if (_held.Contains(region)) _pendingClears.Add(region);
        }
    }

    public void SetRegionSync(ulong region, bool inSync)
    {
        CheckRegion(region);
        lock (_gate)
        {
            _pendingSync[region] = inSync;
            _pendingReleases.Add(region);
        }
    }

    /// <summary>
    /// Commits the queued marks, clears, sync changes and recovery releases: one transaction per
    /// <see cref="RegionsPerTxn"/> regions (one per flush for any usual batch), each conditional on this
    /// node's membership and, for a new mark, on no other node recovering the region.
    /// </summary>
    public void Flush()
    {
        lock (_gate)
        {
            if (_pendingMarks.Count == 0 && _pendingClears.Count == 0 && _pendingSync.Count == 0 && _pendingReleases.Count == 0) return;
            var marks = _pendingMarks.Order().ToList();
            var clears = _pendingClears.Order().ToList();
            // Marks and clears that fail are not kept: the tracker re-queues a mark, and a lost clear
            // only leaves a region dirty. Sync changes are kept until they commit: losing an
            // out-of-sync report would call a stale leg in sync.
            _pendingMarks.Clear();
            _pendingClears.Clear();
            if (!MayWrite(out var fenced)) throw new RegionLogException(fenced);
            var syncs = _pendingSync.OrderBy(p => p.Key).ToList();
            var releases = _pendingReleases.Order().ToList();
            var items = new List<FlushItem>(marks.Count + clears.Count + syncs.Count);
            items.AddRange(marks.Select(r => new FlushItem(r, FlushKind.Mark, false)));
            items.AddRange(clears.Select(r => new FlushItem(r, FlushKind.Clear, false)));
            items.AddRange(syncs.Select(p => new FlushItem(p.Key, FlushKind.Sync, p.Value)));
            items.AddRange(releases.Where(r => !_pendingSync.ContainsKey(r)).Select(r => new FlushItem(r, FlushKind.Release, false)));
            foreach (var chunk in items.Chunk(RegionsPerTxn)) CommitChunk(chunk);
            // A new mark is on the shared file, synced, before its write may go; a failure here leaves
            // the marks out of _held, so the tracker's retry writes the file again. Clears and sync
            // outcomes only make regions cleaner, which can wait for the next renewal: rewriting the
            // file for each would read the whole log once per resynced region.
            if (_disk is not null && marks.Count > 0)
            {
                _disk.Write(Node, Interlocked.Read(ref _leaseId), sync: true);
                _diskStale = false;
            }
            else if (_disk is not null) _diskStale = true;
            foreach (var r in marks) _held.Add(r);
            foreach (var r in clears) _held.Remove(r);
            foreach (var (r, inSync) in syncs)
            {
                _syncOverrides[r] = inSync;
                _pendingSync.Remove(r);
                if (inSync) _recoveringForOthers.Remove(r);
            }
            foreach (var r in releases) _pendingReleases.Remove(r);
            Interlocked.Add(ref _marksCommitted, marks.Count);
        }
    }

    /// <summary>
    /// Picks an out-of-sync region no other node is recovering or holds a mark on, and claims it by
    /// compare-and-swap on its recovering key (on this node's lease, so a dead claimant's claim goes).
    /// </summary>
    public bool TryGetResyncWork(out ulong region)
    {
        region = 0;
        lock (_gate)
        {
            if (!MayWrite(out _)) return false;
            RangeResponse all;
            try
            {
                all = _store.Range(_keys.Prefix, "resync scan");
            }
            catch (RegionLogException e)
            {
                _report($"cluster log: cannot look for resync work: {e.Message}");
                return false;
            }
            var view = ClusterView.Read(_keys, all);
            ApplySyncView(view);
            var members = view.Members;
            var candidates = OutOfSyncRegionsLocked()
                .Where(r => !view.Recovering.TryGetValue(r, out var who) || who == Node)
                .Where(r => !view.Marks.TryGetValue(r, out var nodes) || nodes.All(n => n == Node))
                .Where(r => view.ReservedFor(r) is not { } owner || owner == Node || !members.Contains(owner))
                .ToList();
            if (candidates.Count == 0) return false;
            // Regions taken over from a dead node first, then the rest from a cursor, so the scan moves on.
            var ordered = candidates.Where(_recoveringForOthers.Contains)
                .Concat(candidates.Where(r => r >= _resyncCursor && !_recoveringForOthers.Contains(r)))
                .Concat(candidates.Where(r => r < _resyncCursor && !_recoveringForOthers.Contains(r)))
                .Take(8);
            foreach (var r in ordered)
            {
                if (!TryClaimRegionLocked(r, all.Header.Revision)) continue;
                _resyncCursor = r + 1;
                region = r;
                return true;
            }
            return false;
        }
    }

    public string Status(RegionLogStatusType type)
    {
        var kind = _disk is null ? "clustered_core" : "clustered_disk";
        if (type == RegionLogStatusType.Info) return $"3 {kind} {_options.LogName} {State}";
        var args = new List<string> { _options.LogName, Node };
        if (_disk is not null) args.Add(_disk.Path);
        args.Add((RegionSize / RegionGeometry.SectorSize).ToString(CultureInfo.InvariantCulture));
        if (_sync != RegionLogSync.Default) args.Add(RegionGeometry.SyncWord(_sync).Trim());
        return $"{kind} {args.Count} {string.Join(' ', args)} ";
    }

    public IReadOnlyList<(string Key, string Value)> ClusterInfo()
    {
        static string Ms(double v) => v.ToString("F2", CultureInfo.InvariantCulture);
        return
        [
            ("cluster_node", Node),
            ("cluster_members", string.Join(',', Members)),
            ("cluster_state", State),
            ("cluster_recovering", RecoveringForOthers.ToString(CultureInfo.InvariantCulture)),
            ("cluster_marks_committed", MarksCommitted.ToString(CultureInfo.InvariantCulture)),
            ("cluster_takeovers", Takeovers.ToString(CultureInfo.InvariantCulture)),
            ("cluster_regions_taken_over", RegionsTakenOver.ToString(CultureInfo.InvariantCulture)),
            ("etcd_round_trip_p50_ms", Ms(Latency.Quantile(0.50))),
            ("etcd_round_trip_p99_ms", Ms(Latency.Quantile(0.99))),
            ("cluster_disk_log", _disk?.Path ?? "-"),
        ];
    }

    public SharedLogMetrics Metrics() => new(
        Latency.Count, Latency.TotalSeconds, Latency.Quantile(0.50) / 1000, Latency.Quantile(0.99) / 1000,
        Members.Count, Takeovers, RegionsTakenOver);

    /// <summary>Leaves the log: stops the lease and revokes it, so the member key goes at once; marks still held stay for a survivor.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
        }
        _stop.Set();
        _leaseThread.Join();
        if (_disk is not null)
        {
            try
            {
                // A clean stop leaves the file as the cluster stands: this node's marks are cleared by now.
                lock (_gate) _disk.Write(Node, Interlocked.Read(ref _leaseId), sync: true);
            }
            catch (RegionLogException e)
            {
                _report($"cluster log {_options.LogName}: {_disk.Path} not brought up to date at the stop: {e.Message}");
            }
            _disk.Dispose();
        }
        _store.RevokeLease(Interlocked.Read(ref _leaseId));
        _state = ClusterState.Fenced;
        _store.Dispose();
        _stop.Dispose();
    }

    /// <summary>For tests: stop renewing the lease, as a node cut off from etcd would.</summary>
    internal void StopRenewing()
    {
        _stop.Set();
        _leaseThread.Join();
    }

    private bool InSyncLocked(ulong region) => _syncOverrides.TryGetValue(region, out var s) ? s : _baselineInSync;

    private IEnumerable<ulong> OutOfSyncRegionsLocked()
    {
        if (!_baselineInSync)
        {
            for (var r = 0UL; r < RegionCount; r++)
                if (!_syncOverrides.TryGetValue(r, out var s) || !s) yield return r;
            yield break;
        }
        foreach (var (r, s) in _syncOverrides.OrderBy(p => p.Key))
            if (!s) yield return r;
    }

    private void ApplySyncView(ClusterView view)
    {
        _baselineInSync = view.BaselineInSync;
        _syncOverrides.Clear();
        foreach (var (r, s) in view.Sync)
            if (r < RegionCount) _syncOverrides[r] = s;
        // A sync change not yet committed stays this node's view.
        foreach (var (r, s) in _pendingSync) _syncOverrides[r] = s;
        Volatile.Write(ref _members, [.. view.Members.Order()]);
    }

    private bool TryClaimRegionLocked(ulong region, long readRevision)
    {
        var txn = new TxnRequest();
        txn.Compare.Add(MemberIsMe());
        txn.Compare.Add(Absent(_keys.Recovering(region)));
        // No mark on the region changed since the scan that saw only this node's marks on it: a mark
        // another node adds after the scan makes the claim fail, so a copy never races its write.
        txn.Compare.Add(new Compare
        {
            Key = ClusterKeys.Bytes(_keys.RegionMarks(region)),
            RangeEnd = ClusterKeys.PrefixEnd(_keys.RegionMarks(region)),
            Target = Compare.Types.CompareTarget.Mod,
            Result = Compare.Types.CompareResult.Less,
            ModRevision = readRevision + 1,
        });
        txn.Success.Add(Put(_keys.Recovering(region), Node, Interlocked.Read(ref _leaseId)));
        txn.Failure.Add(Read(_keys.Recovering(region)));
        try
        {
            var reply = _store.Txn(txn, $"claim of region {region}");
            if (reply.Succeeded) return true;
            // A retried claim whose first attempt committed finds its own name there.
            var kvs = reply.Responses[0].ResponseRange.Kvs;
            return kvs.Count == 1 && kvs[0].Value.ToStringUtf8() == Node && kvs[0].Lease == Interlocked.Read(ref _leaseId);
        }
        catch (RegionLogException e)
        {
            _report($"cluster log: claiming region {region} for resync failed: {e.Message}");
            return false;
        }
    }

    private void CommitChunk(FlushItem[] chunk)
    {
        var txn = new TxnRequest();
        txn.Compare.Add(MemberIsMe());
        foreach (var item in chunk)
        {
            switch (item.Kind)
            {
                case FlushKind.Mark:
                    // A region another node is copying to the legs waits for that copy, on any node.
                    txn.Compare.Add(Absent(_keys.Recovering(item.Region)));
                    txn.Success.Add(Put(_keys.Mark(item.Region, Node), "", 0));
                    break;
                case FlushKind.Clear:
                    txn.Success.Add(Delete(_keys.Mark(item.Region, Node)));
                    break;
                case FlushKind.Sync:
                    txn.Success.Add(Put(_keys.Sync(item.Region), item.InSync ? InSyncValue : OutOfSyncValue, 0));
                    // The outcome ends this node's recovery of the region; the claim is on this
                    // node's lease, which the member compare proves still holds, so it is this node's.
                    if (_pendingReleases.Contains(item.Region)) txn.Success.Add(Delete(_keys.Recovering(item.Region)));
                    break;
                case FlushKind.Release:
                    txn.Success.Add(Delete(_keys.Recovering(item.Region)));
                    break;
            }
        }
        txn.Failure.Add(Read(_keys.Member(Node)));
        var bound = Stopwatch.StartNew();
        while (true)
        {
            TxnResponse reply;
            try
            {
                reply = _store.Txn(txn, $"flush of {chunk.Length} region(s)");
                _noQuorum = false;
            }
            catch (RegionLogException)
            {
                _noQuorum = true;
                throw;
            }
            if (reply.Succeeded) return;
            var member = reply.Responses[0].ResponseRange.Kvs;
            if (member.Count == 0 || member[0].Lease != Interlocked.Read(ref _leaseId))
            {
                Fence("its member key is gone (the lease expired)");
                throw new RegionLogException($"cluster node {Node} lost its membership of log {_options.LogName}; it re-joins before it marks again");
            }
            // Some region of the batch is being recovered by another node: wait for that copy.
            if (bound.Elapsed >= _options.RetryBound)
                throw new RegionLogException($"a region of the batch stayed under recovery by another node for {_options.RetryBound.TotalSeconds:0.#} s");
            if (_stop.Wait(TimeSpan.FromMilliseconds(20))) throw new RegionLogException("the log is closing");
        }
    }

    private Compare MemberIsMe() => new()
    {
        Key = ClusterKeys.Bytes(_keys.Member(Node)),
        Target = Compare.Types.CompareTarget.Lease,
        Result = Compare.Types.CompareResult.Equal,
        Lease = Interlocked.Read(ref _leaseId),
    };

    internal static RequestOp Put(string key, string value, long lease) =>
        new() { RequestPut = new PutRequest { Key = ClusterKeys.Bytes(key), Value = ClusterKeys.Bytes(value), Lease = lease } };

    internal static RequestOp Read(string key) =>
        new() { RequestRange = new RangeRequest { Key = ClusterKeys.Bytes(key) } };

    internal static RequestOp Delete(string key) =>
        new() { RequestDeleteRange = new DeleteRangeRequest { Key = ClusterKeys.Bytes(key) } };

    /// <summary>
    /// Joins (or, after an expiry, re-joins) the log: a new lease, the log created if new, the member key
    /// created only if no live node has the name, marks a previous life of this node left turned into
    /// out-of-sync regions, and the regions this node still holds marked again.
    /// </summary>
    private void JoinLocked(bool initial)
    {
        _state = ClusterState.Joining;
        var sent = _clock.ElapsedTicks;
        var lease = _store.GrantLease(_options.Lease, "lease grant");
        Interlocked.Exchange(ref _leaseId, lease);
        Interlocked.Exchange(ref _validUntilTicks, sent + (_options.Lease - _options.FenceMargin).Ticks * Stopwatch.Frequency / TimeSpan.TicksPerSecond);
        if (initial) CreateOrCheckLog();
        RegisterMember(lease);
        var view = ClusterView.Read(_keys, _store.Range(_keys.Prefix, "join scan"));
        var leftovers = view.Marks.Where(m => m.Value.Contains(Node)).Select(m => m.Key).Order().ToList();
        // A previous life of this node may have crashed mid-write on these: they need a resync. Regions
        // still held now are marked again in the same step, so their writes stay covered.
        var ops = new List<(ulong Region, bool Leftover, bool Held)>();
        foreach (var r in leftovers) ops.Add((r, true, _held.Contains(r)));
        foreach (var r in _held.Where(r => !leftovers.Contains(r)).Order()) ops.Add((r, false, true));
        foreach (var chunk in ops.Chunk(RegionsPerTxn / 2))
        {
            var txn = new TxnRequest();
            txn.Compare.Add(MemberIsMe());
            foreach (var (r, leftover, held) in chunk)
            {
                if (leftover) txn.Success.Add(Put(_keys.Sync(r), OutOfSyncValue, 0));
                if (leftover && !held) txn.Success.Add(Delete(_keys.Mark(r, Node)));
                if (leftover) continue;
                // A held region whose mark a survivor took over may be under its copy now: the mark
                // (and so this node's next write) waits for that copy, as any new mark does.
                txn.Compare.Add(Absent(_keys.Recovering(r)));
                txn.Success.Add(Put(_keys.Mark(r, Node), "", 0));
            }
            txn.Failure.Add(Read(_keys.Member(Node)));
            var bound = Stopwatch.StartNew();
            while (true)
            {
                var reply = _store.Txn(txn, "join: leftover and held marks");
                if (reply.Succeeded) break;
                var member = reply.Responses[0].ResponseRange.Kvs;
                if (member.Count == 0 || member[0].Lease != lease)
                    throw new RegionLogException($"cluster node {Node} lost its lease while joining log {_options.LogName}");
                if (bound.Elapsed >= _options.RetryBound)
                    throw new RegionLogException($"cluster node {Node}: a held region stayed under another node's recovery for {_options.RetryBound.TotalSeconds:0.#} s while re-joining");
                if (_stop.Wait(TimeSpan.FromMilliseconds(20))) throw new RegionLogException("the log is closing");
            }
        }
        if (leftovers.Count > 0)
            _report($"cluster log {_options.LogName}: {leftovers.Count} region(s) marked by an earlier run of node {Node} are out of sync now");
        view = ClusterView.Read(_keys, _store.Range(_keys.Prefix, "join scan"));
        ApplySyncView(view);
        _state = ClusterState.Joined;
    }

    private void CreateOrCheckLog()
    {
        var geometry = $"{RegionSize} {RegionCount}";
        var txn = new TxnRequest();
        txn.Compare.Add(Absent(_keys.Geometry));
        txn.Success.Add(Put(_keys.Geometry, geometry, 0));
        txn.Success.Add(Put(_keys.Baseline, _sync == RegionLogSync.Assume ? "in-sync" : "out-of-sync", 0));
        txn.Failure.Add(Read(_keys.Geometry));
        var reply = _store.Txn(txn, "log creation");
        if (reply.Succeeded)
        {
            _report($"cluster log {_options.LogName}: created ({geometry}), every region {(_sync == RegionLogSync.Assume ? "in sync" : "out of sync")}");
            return;
        }
        var kvs = reply.Responses[0].ResponseRange.Kvs;
        var existing = kvs.Count == 1 ? kvs[0].Value.ToStringUtf8() : "";
        // A retry of a creation that committed reads back its own geometry, which is the same check.
        if (existing != geometry)
            throw new RegionLogException($"cluster log {_options.LogName} has region size and count '{existing}', this mount '{geometry}'");
        if (_sync == RegionLogSync.Default) return;
        // --sync or --nosync on an existing log resets every node's view of the sync state, as it does
        // for a disk log; marks stay, so regions being written stay dirty.
        var reset = new TxnRequest();
        reset.Success.Add(Put(_keys.Baseline, _sync == RegionLogSync.Assume ? "in-sync" : "out-of-sync", 0));
        reset.Success.Add(new RequestOp
        {
            RequestDeleteRange = new DeleteRangeRequest { Key = ClusterKeys.Bytes(_keys.SyncPrefix), RangeEnd = ClusterKeys.PrefixEnd(_keys.SyncPrefix) },
        });
        _store.Txn(reset, "sync state reset");
    }

    private void RegisterMember(long lease)
    {
        var txn = new TxnRequest();
        txn.Compare.Add(Absent(_keys.Member(Node)));
        txn.Success.Add(Put(_keys.Member(Node), lease.ToString("x", CultureInfo.InvariantCulture), lease));
        txn.Failure.Add(Read(_keys.Member(Node)));
        var reply = _store.Txn(txn, "member registration");
        if (reply.Succeeded) return;
        var kvs = reply.Responses[0].ResponseRange.Kvs;
        if (kvs.Count == 1 && kvs[0].Lease == lease) return;
        _store.RevokeLease(lease);
        throw new RegionLogException($"node name {Node} is in use by a live node of cluster log {_options.LogName} (its lease ends within {_options.Lease.TotalSeconds:0.#} s of its last renewal)");
    }

    private void Fence(string why)
    {
        if (_state == ClusterState.Fenced) return;
        _state = ClusterState.Fenced;
        _report($"cluster node {Node} fenced: {why}; writes get EIO until it re-joins");
    }

    /// <summary>Renews the lease every quarter TTL, fences when renewal stays out, re-joins after an expiry and claims dead nodes.</summary>
    private void LeaseLoop()
    {
        try
        {
            RenewUntilStopped();
        }
        catch (Exception e)
        {
            // A background thread must not take the mount down; without renewals the node fences itself.
            _report($"cluster node {Node}: the lease thread failed, the node fences itself within its lease: {e}");
        }
    }

    private void RenewUntilStopped()
    {
        var ticksPerTimeSpanTick = (double)Stopwatch.Frequency / TimeSpan.TicksPerSecond;
        while (!_stop.Wait(_options.RenewInterval))
        {
            var sent = _clock.ElapsedTicks;
            long ttl;
            try
            {
                ttl = _store.KeepAliveOnce(Interlocked.Read(ref _leaseId));
            }
            catch (Exception e) when (e is Grpc.Core.RpcException or OperationCanceledException or IOException or InvalidOperationException)
            {
                if (_clock.ElapsedTicks >= Interlocked.Read(ref _validUntilTicks))
                    Fence($"no lease renewal answered ({e.Message})");
                continue;
            }
            if (ttl > 0)
            {
                // etcd answered a write-path request (renewals go through the leader): quorum is back.
                _noQuorum = false;
                // The lease ends no earlier than TTL after etcd took this renewal, which came after it was sent.
                Interlocked.Exchange(ref _validUntilTicks, sent + (long)((_options.Lease - _options.FenceMargin).Ticks * ticksPerTimeSpanTick));
                if (_state == ClusterState.Fenced)
                {
                    // The lease never expired, so no survivor can have claimed this node: its marks stand.
                    _state = ClusterState.Joined;
                    _report($"cluster node {Node}: lease renewed again, writes resume");
                }
                try
                {
                    TakeOverDeadNodes();
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    _report($"cluster log: looking for dead nodes failed (the next renewal looks again): {e.Message}");
                }
                RefreshStaleDisk();
                continue;
            }
            Fence("its lease expired");
            try
            {
                lock (_gate)
                {
                    if (_disposed) return;
                    JoinLocked(initial: false);
                }
                _report($"cluster node {Node} re-joined log {_options.LogName}");
            }
            catch (RegionLogException e)
            {
                _state = ClusterState.Fenced;
                // Give the half-made membership up, so the next renewal finds no lease and re-joins
                // from the start instead of unfencing a node whose held marks are not all back.
                _store.RevokeLease(Interlocked.Read(ref _leaseId));
                _report($"cluster node {Node}: re-joining failed, still fenced: {e.Message}");
            }
        }
    }

    /// <summary>Writes the shared file when clears or sync outcomes made it stale; a failure is retried at the next renewal.</summary>
    private void RefreshStaleDisk()
    {
        lock (_gate)
        {
            if (_disk is null || !_diskStale || _disposed || !MayWrite(out _)) return;
            try
            {
                _disk.Write(Node, Interlocked.Read(ref _leaseId), sync: false);
                _diskStale = false;
            }
            catch (RegionLogException e)
            {
                _report($"cluster log {_options.LogName}: {_disk.Path} not brought up to date (the next renewal tries again): {e.Message}");
            }
        }
    }

    /// <summary>
    /// For each node that left marks and has no live member key, tries to claim its recovery by
    /// compare-and-swap; the one survivor that wins turns its marks into out-of-sync regions reserved
    /// for itself, which its resync then copies.
    /// </summary>
    private void TakeOverDeadNodes()
    {
        lock (_gate)
        {
            if (_disposed || _state != ClusterState.Joined) return;
            ClusterView view;
            try
            {
                view = ClusterView.Read(_keys, _store.Range(_keys.Prefix, "member scan"));
            }
            catch (RegionLogException)
            {
                return;
            }
            Volatile.Write(ref _members, [.. view.Members.Order()]);
            var dead = view.Marks.SelectMany(m => m.Value).Distinct()
                .Where(n => n != Node && !view.Members.Contains(n) && !view.Takeovers.ContainsKey(n)).ToList();
            foreach (var node in dead)
            {
                try
                {
                    TakeOver(node, view.Marks.Where(m => m.Value.Contains(node)).Select(m => m.Key).Order().ToList());
                }
                catch (RegionLogException e)
                {
                    _report($"cluster log: taking over dead node {node} failed (another survivor or a later pass retries): {e.Message}");
                }
            }
        }
    }

    private void TakeOver(string deadNode, List<ulong> regions)
    {
        var claim = new TxnRequest();
        claim.Compare.Add(MemberIsMe());
        claim.Compare.Add(Absent(_keys.Takeover(deadNode)));
        claim.Compare.Add(DeadNodeAbsent(deadNode));
        claim.Success.Add(Put(_keys.Takeover(deadNode), Node, Interlocked.Read(ref _leaseId)));
        claim.Failure.Add(Read(_keys.Takeover(deadNode)));
        var reply = _store.Txn(claim, $"takeover claim of {deadNode}");
        if (!reply.Succeeded)
        {
            var kvs = reply.Responses[0].ResponseRange.Kvs;
            if (kvs.Count != 1 || kvs[0].Lease != Interlocked.Read(ref _leaseId)) return;
        }
        Interlocked.Increment(ref _takeovers);
        var reserved = $"{OutOfSyncValue} {Node}";
        foreach (var chunk in regions.Chunk(RegionsPerTxn / 2))
        {
            var txn = new TxnRequest();
            txn.Compare.Add(MemberIsMe());
            // A node that re-joined in the meantime converts its own marks; these deletes must not hit its new ones.
            txn.Compare.Add(DeadNodeAbsent(deadNode));
            foreach (var r in chunk)
            {
                txn.Success.Add(Put(_keys.Sync(r), reserved, 0));
                txn.Success.Add(Delete(_keys.Mark(r, deadNode)));
            }
            if (!_store.Txn(txn, $"takeover of {deadNode}'s marks").Succeeded) break;
            foreach (var r in chunk)
            {
                _syncOverrides[r] = false;
                _recoveringForOthers.Add(r);
            }
            Interlocked.Add(ref _regionsTakenOver, chunk.Length);
        }
        _store.Txn(new TxnRequest { Success = { Delete(_keys.Takeover(deadNode)) }, Compare = { MemberIsMe() } }, $"end of takeover of {deadNode}");
        _report($"cluster log {_options.LogName}: took over dead node {deadNode}: {regions.Count} region(s) to resync");
    }

    private Compare DeadNodeAbsent(string node) => Absent(_keys.Member(node));

    /// <summary>The key does not exist (its create revision is 0).</summary>
    internal static Compare Absent(string key) => new()
    {
        Key = ClusterKeys.Bytes(key),
        Target = Compare.Types.CompareTarget.Create,
        Result = Compare.Types.CompareResult.Equal,
        CreateRevision = 0,
    };

    private void CheckRegion(ulong region)
    {
        if (region >= RegionCount) throw new ArgumentOutOfRangeException(nameof(region), $"region {region} is past the last region {RegionCount - 1}");
    }

    private enum ClusterState
    {
        Joining,
        Joined,
        Fenced,
    }

    private enum FlushKind
    {
        Mark,
        Clear,
        Sync,
        Release,
    }

    private readonly record struct FlushItem(ulong Region, FlushKind Kind, bool InSync);
}

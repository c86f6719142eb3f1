using System.Diagnostics;
using EraFs.Core;
using Etcdserverpb;

namespace EraFs.RegionLog.Cluster;

/// <summary>
/// clustered_disk's shared file: dm-log's disk layout of the clustered log, so that `erafs log dump`
/// reads it and a single-host `--log disk:PATH` mount can take the mirror over once the cluster is
/// gone. One node at a time rewrites it whole from etcd's state, under a lock key on its lease.
/// </summary>
/// <remarks>
/// The file is computed from etcd rather than read and patched: another host's page cache of a
/// shared device can be stale, and etcd already holds every node's marks. A writer that lost the
/// lock while it wrote (its lease lapsed) writes again under a new lock, so the last write is whole.
/// </remarks>
internal sealed class SharedDiskLayout(IBlockDevice device, ClusterKeys keys, EtcdLogStore store, ulong regionCount) : IDisposable
{
    private readonly byte[] _area = new byte[DiskDirtyRegionLog.AreaLengthFor(regionCount)];
    private readonly Bitset _clean = new(regionCount);

    public string Path => device.Name;

    /// <summary>
    /// Rewrites the file from the cluster's state: a region is clean when it is in sync and no node
    /// holds a mark on it. With <paramref name="sync"/> the file is on stable storage on return, as a
    /// new mark must be before its write. Throws <see cref="RegionLogException"/> on failure.
    /// </summary>
    public void Write(string node, long lease, bool sync)
    {
        var bound = Stopwatch.StartNew();
        while (true)
        {
            Acquire(node, lease, bound);
            var view = ClusterView.Read(keys, store.Range(keys.Prefix, "disk log scan"));
            _clean.SetAll(view.BaselineInSync);
            foreach (var (region, inSync) in view.Sync)
                if (region < regionCount) _clean[region] = inSync;
            foreach (var region in view.Marks.Keys)
                if (region < regionCount) _clean[region] = false;
            DiskDirtyRegionLog.Encode(_area, regionCount, _clean);
            try
            {
                device.Write(0, _area);
                if (sync) device.Flush();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Release(node, lease);
                throw new RegionLogException($"{device.Name}: writing the clustered disk log failed: {e.Message}", e);
            }
            if (Release(node, lease)) return;
            if (bound.Elapsed >= store.RetryBound)
                throw new RegionLogException($"{device.Name}: node {node} kept losing the disk log's writer lock while writing it");
        }
    }

    private void Acquire(string node, long lease, Stopwatch bound)
    {
        while (true)
        {
            var txn = new TxnRequest();
            txn.Compare.Add(ClusteredDirtyRegionLog.Absent(keys.DiskWriter));
            txn.Success.Add(ClusteredDirtyRegionLog.Put(keys.DiskWriter, node, lease));
            txn.Failure.Add(ClusteredDirtyRegionLog.Read(keys.DiskWriter));
            var reply = store.Txn(txn, "disk log writer lock");
            if (reply.Succeeded) return;
            // A retried acquire whose first attempt committed finds its own name on its own lease.
            var kvs = reply.Responses[0].ResponseRange.Kvs;
            if (kvs.Count == 1 && kvs[0].Value.ToStringUtf8() == node && kvs[0].Lease == lease) return;
            if (bound.Elapsed >= store.RetryBound)
            {
                var holder = kvs.Count == 1 ? kvs[0].Value.ToStringUtf8() : "?";
                throw new RegionLogException($"{device.Name}: the disk log's writer lock stayed with node {holder} for {store.RetryBound.TotalSeconds:0.#} s");
            }
            Thread.Sleep(5);
        }
    }

    // True if the lock was still this node's: nobody else can have written the file meanwhile.
    private bool Release(string node, long lease)
    {
        var txn = new TxnRequest();
        txn.Compare.Add(new Compare
        {
            Key = ClusterKeys.Bytes(keys.DiskWriter),
            Target = Compare.Types.CompareTarget.Lease,
            Result = Compare.Types.CompareResult.Equal,
            Lease = lease,
        });
        txn.Success.Add(ClusteredDirtyRegionLog.Delete(keys.DiskWriter));
        return store.Txn(txn, "disk log writer unlock").Succeeded;
    }

    public void Dispose() => device.Dispose();
}

using System.Diagnostics;
using dotnet_etcd;
using EraFs.TestSupport;

namespace EraFs.RegionLog.Cluster.Tests;

/// <summary>clustered_core against a real three-member etcd: per-node marks, what a joining node sees, membership and recovery claims.</summary>
[TestFixture]
public class ClusteredLogTests
{
    private const long RegionSize = 64 * 1024;
    private const long DeviceLength = 64 * RegionSize;
    private EtcdCluster _cluster = null!;

    [OneTimeSetUp]
    public void StartCluster() => _cluster = EtcdCluster.Start();

    [OneTimeTearDown]
    public void StopCluster() => _cluster?.Dispose();

    private ClusteredDirtyRegionLog Open(string log, string node, RegionLogSync sync = RegionLogSync.Default, double leaseSeconds = 5, List<string>? said = null) =>
        new(new ClusterLogOptions { Endpoints = _cluster.Endpoints, LogName = log, Node = node, Lease = TimeSpan.FromSeconds(leaseSeconds) },
            DeviceLength, RegionSize, sync, line => { lock (said ?? []) said?.Add(line); });

    private static string NewLogName() => "t-" + Guid.NewGuid().ToString("N")[..12];

    [Test]
    public void A_region_two_nodes_marked_stays_dirty_until_both_cleared_it()
    {
        var name = NewLogName();
        using var a = Open(name, "a", RegionLogSync.Assume);
        using var b = Open(name, "b");
        a.MarkRegion(7);
        a.Flush();
        b.MarkRegion(7);
        b.Flush();
        Assert.That(a.IsClean(7), Is.False);

        a.ClearRegion(7);
        a.Flush();
        Assert.That(a.IsClean(7), Is.False, "b still holds its mark");
        Assert.That(b.IsClean(7), Is.False);

        b.ClearRegion(7);
        b.Flush();
        Assert.That(a.IsClean(7), Is.True, "no node holds a mark and the region is in sync");
        Assert.That(b.IsClean(7), Is.True);
        Assert.That(a.MarksCommitted + b.MarksCommitted, Is.EqualTo(2));
    }

    [Test]
    public void A_joining_node_sees_the_other_nodes_marks_and_the_out_of_sync_regions()
    {
        var name = NewLogName();
        using var a = Open(name, "a", RegionLogSync.Assume);
        a.MarkRegion(3);
        a.SetRegionSync(5, false);
        a.Flush();

        using var b = Open(name, "b");
        Assert.That(b.IsClean(3), Is.False, "a's mark");
        Assert.That(b.InSync(3), Is.True);
        Assert.That(b.InSync(5), Is.False, "a reported region 5 out of sync");
        Assert.That(b.SyncCount, Is.EqualTo(b.RegionCount - 1));
        Assert.That(b.Members, Is.EquivalentTo(new[] { "a", "b" }));
        Assert.That(b.TryGetResyncWork(out var work), Is.True);
        Assert.That(work, Is.EqualTo(5UL), "the only out-of-sync region");
        Assert.That(a.TryGetResyncWork(out _), Is.False, "b claimed it: one recovering node per region");
    }

    [Test]
    public void A_new_log_without_nosync_needs_every_region_resynced_and_a_second_geometry_is_refused()
    {
        var name = NewLogName();
        using var a = Open(name, "a");
        Assert.That(a.SyncCount, Is.Zero);
        var e = Assert.Throws<RegionLogException>(() =>
            new ClusteredDirtyRegionLog(new ClusterLogOptions { Endpoints = _cluster.Endpoints, LogName = name, Node = "b" },
                DeviceLength * 2, RegionSize, RegionLogSync.Default).Dispose());
        Assert.That(e!.Message, Does.Contain("region size and count"));
    }

    [Test]
    public void A_second_live_node_with_the_same_name_is_refused()
    {
        var name = NewLogName();
        using var a = Open(name, "a");
        var e = Assert.Throws<RegionLogException>(() => Open(name, "a").Dispose());
        Assert.That(e!.Message, Does.Contain("in use by a live node"));
    }

    [Test]
    public void A_write_to_a_region_another_node_recovers_waits_for_that_copy()
    {
        var name = NewLogName();
        using var a = Open(name, "a", RegionLogSync.Assume);
        using var b = Open(name, "b");
        a.SetRegionSync(9, false);
        a.Flush();
        Assert.That(a.TryGetResyncWork(out var r), Is.True);
        Assert.That(r, Is.EqualTo(9UL));

        b.MarkRegion(9);
        var flushed = Task.Run(b.Flush);
        // The mark cannot commit while a holds the region's recovery; it does once a ends it.
        Assert.That(flushed.Wait(TimeSpan.FromMilliseconds(300)), Is.False, "b's mark waits for a's copy");
        a.SetRegionSync(9, true);
        a.Flush();
        Assert.That(flushed.Wait(TimeSpan.FromSeconds(10)), Is.True, "b's mark committed after the copy ended");
        Assert.That(b.IsClean(9), Is.False);
        Assert.That(b.InSync(9) || a.InSync(9), Is.True);
    }

    [Test]
    public void A_region_another_node_holds_marked_is_not_handed_out_for_resync()
    {
        var name = NewLogName();
        using var a = Open(name, "a", RegionLogSync.Assume);
        using var b = Open(name, "b");
        a.SetRegionSync(4, false);
        a.Flush();
        b.MarkRegion(4);
        b.Flush();
        Assert.That(a.TryGetResyncWork(out _), Is.False, "b's writes to region 4 may be in flight");
        b.ClearRegion(4);
        b.Flush();
        Assert.That(a.TryGetResyncWork(out var r), Is.True);
        Assert.That(r, Is.EqualTo(4UL));
    }

    [Test]
    public void A_node_that_cannot_renew_is_fenced_before_its_lease_ends_and_exactly_one_survivor_takes_over_its_marks()
    {
        var name = NewLogName();
        var said = new List<string>();
        var dead = Open(name, "dead", RegionLogSync.Assume, leaseSeconds: 2, said: said);
        using var b = Open(name, "b", leaseSeconds: 2);
        using var c = Open(name, "c", leaseSeconds: 2);
        try
        {
            dead.MarkRegion(1);
            dead.MarkRegion(2);
            dead.Flush();
            Assert.That(dead.MayWrite(out _), Is.True);

            using var etcd = new EtcdClient(_cluster.Endpoints);
            dead.StopRenewing();
            // Poll both facts together: the node must be fenced before its member key disappears.
            var fencedFirst = false;
            var sw = Stopwatch.StartNew();
            while (sw.Elapsed < TimeSpan.FromSeconds(20))
            {
                var fenced = !dead.MayWrite(out _);
                var memberGone = etcd.Get($"/erafs/{name}/members/dead").Kvs.Count == 0;
                if (memberGone)
                {
                    fencedFirst = fenced;
                    break;
                }
                Thread.Sleep(20);
            }
            Assert.That(fencedFirst, Is.True, "writes stopped before the lease expired");
            dead.MarkRegion(3);
            Assert.Throws<RegionLogException>(dead.Flush, "a fenced node marks nothing");

            sw.Restart();
            while (b.RegionsTakenOver + c.RegionsTakenOver < 2 && sw.Elapsed < TimeSpan.FromSeconds(20)) Thread.Sleep(50);
            Assert.That(b.Takeovers + c.Takeovers, Is.EqualTo(1), "exactly one survivor claimed the dead node");
            Assert.That(b.RegionsTakenOver + c.RegionsTakenOver, Is.EqualTo(2));
            var survivor = b.Takeovers == 1 ? b : c;
            var other = survivor == b ? c : b;
            Assert.That(etcd.GetRange($"/erafs/{name}/marks/").Kvs, Is.Empty, "the dead node's marks became out-of-sync regions");
            Assert.That(other.TryGetResyncWork(out _), Is.False, "the regions are reserved for the survivor that claimed them");
            Assert.That(survivor.RecoveringForOthers, Is.EqualTo(2));
            var resynced = new List<ulong>();
            while (survivor.TryGetResyncWork(out var r))
            {
                resynced.Add(r);
                survivor.SetRegionSync(r, true);
                survivor.Flush();
            }
            Assert.That(resynced, Is.EquivalentTo(new ulong[] { 1, 2 }), "exactly the dead node's regions");
            Assert.That(survivor.RecoveringForOthers, Is.Zero);
            Assert.That(other.IsClean(1) && other.IsClean(2), Is.True);
        }
        finally
        {
            dead.Dispose();
        }
    }

    [Test]
    public void A_node_joining_during_a_recovery_sees_the_region_under_recovery_and_the_reserved_work()
    {
        var name = NewLogName();
        var dead = Open(name, "dead", RegionLogSync.Assume, leaseSeconds: 2);
        using var b = Open(name, "b", leaseSeconds: 2);
        try
        {
            dead.MarkRegion(11);
            dead.MarkRegion(12);
            dead.Flush();
            dead.StopRenewing();
            var sw = Stopwatch.StartNew();
            while (b.RegionsTakenOver < 2 && sw.Elapsed < TimeSpan.FromSeconds(20)) Thread.Sleep(50);
            Assert.That(b.RegionsTakenOver, Is.EqualTo(2));
            Assert.That(b.TryGetResyncWork(out var copying), Is.True);

            // c joins while b copies one region and the other waits for b.
            using var c = Open(name, "c", leaseSeconds: 2);
            Assert.That(c.InSync(11), Is.False);
            Assert.That(c.InSync(12), Is.False);
            Assert.That(c.TryGetResyncWork(out _), Is.False, "both regions are b's: one under copy, one reserved");
            c.MarkRegion(copying);
            var flushed = Task.Run(c.Flush);
            Assert.That(flushed.Wait(TimeSpan.FromMilliseconds(300)), Is.False, "c's write to the region under recovery waits");
            b.SetRegionSync(copying, true);
            b.Flush();
            Assert.That(flushed.Wait(TimeSpan.FromSeconds(10)), Is.True, "and goes on once b's copy ended");
        }
        finally
        {
            dead.Dispose();
        }
    }

    [Test]
    public void A_restarted_node_turns_the_marks_of_its_previous_life_into_resync_work()
    {
        var name = NewLogName();
        var first = Open(name, "n", RegionLogSync.Assume, leaseSeconds: 2);
        first.MarkRegion(6);
        first.Flush();
        // A crash: the lease is revoked (as at expiry), the mark stays behind.
        first.Dispose();

        using var again = Open(name, "n", leaseSeconds: 2);
        Assert.That(again.InSync(6), Is.False, "the previous life may have crashed mid-write on region 6");
        Assert.That(again.IsClean(6), Is.False);
        Assert.That(again.TryGetResyncWork(out var r), Is.True);
        Assert.That(r, Is.EqualTo(6UL));
    }
}

using System.Diagnostics;
using EraFs.TestSupport;

namespace EraFs.RegionLog.Cluster.Tests;

/// <summary>Marks against a cluster losing members: one down keeps quorum, two down fail a flush within the bound, and a restart brings writes back.</summary>
[TestFixture]
public class EtcdQuorumTests
{
    private const long RegionSize = 64 * 1024;

    [Test]
    public void Marks_commit_with_one_member_down_fail_within_the_bound_with_two_and_commit_again_after_restart()
    {
        using var cluster = EtcdCluster.Start();
        var options = new ClusterLogOptions { Endpoints = cluster.Endpoints, LogName = "quorum", Node = "a" };
        using var log = new ClusteredDirtyRegionLog(options, 64 * RegionSize, RegionSize, RegionLogSync.Assume);

        log.MarkRegion(1);
        log.Flush();

        cluster.Kill(0);
        var sw = Stopwatch.StartNew();
        MarkWithin(log, 2, TimeSpan.FromSeconds(15));
        TestContext.Out.WriteLine($"flush with one member down: {sw.ElapsedMilliseconds} ms");
        Assert.That(log.IsClean(2), Is.False);

        cluster.Kill(1);
        log.MarkRegion(3);
        sw.Restart();
        var e = Assert.Throws<RegionLogException>(log.Flush);
        TestContext.Out.WriteLine($"flush without quorum failed after {sw.ElapsedMilliseconds} ms (bound {options.RetryBound.TotalSeconds} s): {e!.Message}");
        Assert.That(e.Message, Does.Contain("no answer").Or.Contain("fenced"));

        cluster.Restart(0, waitHealthy: false);
        cluster.Restart(1);
        MarkWithin(log, 3, TimeSpan.FromSeconds(30));
        Assert.That(log.IsClean(3), Is.False, "the mark committed after quorum returned, on the same log");
        Assert.That(log.State, Is.EqualTo("joined"));
    }

    /// <summary>
    /// Marks and flushes, retrying (bounded) while the client finds a live endpoint or the node is still
    /// fenced; a failed flush drops its marks, so each attempt marks again, as the region tracker does.
    /// </summary>
    private static void MarkWithin(ClusteredDirtyRegionLog log, ulong region, TimeSpan bound)
    {
        var sw = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                log.MarkRegion(region);
                log.Flush();
                return;
            }
            catch (RegionLogException) when (sw.Elapsed < bound)
            {
                Thread.Sleep(200);
            }
        }
    }
}

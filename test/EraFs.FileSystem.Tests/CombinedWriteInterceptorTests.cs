using EraFs.Core;
using EraFs.RegionLog;
using EraFs.TestSupport;

namespace EraFs.FileSystem.Tests;

/// <summary>Era commit and region flush on one write path: they overlap, and a refusal by either leaves no pending region behind.</summary>
public sealed class CombinedWriteInterceptorTests
{
    private const long Size = 64 * 4096;

    private static EraTrackerOptions Options => new() { OriginSize = Size, OriginMtimeUtc = MemoryEraStore.DefaultOriginMtime };

    [Test]
    public void The_region_flush_runs_while_the_era_commit_is_held()
    {
        var store = new MemoryEraStore(EraGeometry.For(Size, 4096));
        using var era = EraTracker.Open(store, Options);
        var log = new CoreDirtyRegionLog(Size, 4096, RegionLogSync.Assume);
        using var regions = new RegionTracker(log, Size, () => true, cleanInterval: TimeSpan.FromHours(1));
        var path = new CombinedWriteInterceptor(era, regions);
        store.CommitGate.Reset();
        var writer = new Thread(() => path.BeforeWrite(4096, 100)) { IsBackground = true };
        writer.Start();
        Assert.That(() => log.IsClean(1), Is.False.After(5000, 10), "the region mark did not wait for the era commit");
        Assert.That(writer.Join(200), Is.False, "the write waits for the era commit");
        store.CommitGate.Set();
        Assert.That(writer.Join(5000), Is.True);
        path.AfterWrite(4096, 100, true);
    }

    [Test]
    public void May_wait_while_either_tracker_still_needs_a_mark()
    {
        var store = new MemoryEraStore(EraGeometry.For(Size, 4096));
        using var era = EraTracker.Open(store, Options);
        var log = new CoreDirtyRegionLog(Size, 4096, RegionLogSync.Assume);
        using var regions = new RegionTracker(log, Size, () => true, cleanInterval: TimeSpan.FromHours(1));
        var path = new CombinedWriteInterceptor(era, regions);
        Assert.That(path.MayWait(4096, 100), Is.True);
        era.BeforeWrite(4096, 100);
        Assert.That(path.MayWait(4096, 100), Is.True, "the era mark is durable, the region mark is not");
        path.BeforeWrite(4096, 100);
        Assert.That(path.MayWait(4096, 100), Is.False);
        path.AfterWrite(4096, 100, true);
        era.Checkpoint();
        Assert.That(path.MayWait(4096, 100), Is.True, "the region is still marked, the new era has no mark");
    }

    [Test]
    public void An_era_refusal_takes_the_write_back_from_the_region_tracker()
    {
        var store = new MemoryEraStore(EraGeometry.For(Size, 4096)) { FailCommitNumber = 1 };
        using var era = EraTracker.Open(store, Options);
        var log = new CoreDirtyRegionLog(Size, 4096, RegionLogSync.Assume);
        var regions = new RegionTracker(log, Size, () => true, cleanInterval: TimeSpan.FromHours(1));
        var path = new CombinedWriteInterceptor(era, regions);
        Assert.That(() => path.BeforeWrite(8192, 100), Throws.TypeOf<TrackingFailedException>());
        regions.Close();
        Assert.That(log.IsClean(2), Is.True, "no write is left pending on the region, so it is cleared at close");
    }
}


namespace EraFs.RegionLog.Tests;

/// <summary>dm-log's interface contract, the same cases for the core, disk and userspace logs.</summary>
[TestFixture(LogKind.Core)]
[TestFixture(LogKind.Disk)]
[TestFixture(LogKind.Userspace)]
public sealed class RegionLogContractTests(LogKind kind)
{
    private const long RegionSize = 64 * 1024;
    private const long DeviceLength = 40 * RegionSize + 4096;
    private LogFactory _factory = null!;
    private IDirtyRegionLog _log = null!;

    [SetUp]
    public void SetUp()
    {
        _factory = new LogFactory(kind);
        _log = _factory.Open(DeviceLength, RegionSize);
    }

    [TearDown]
    public void TearDown()
    {
        _log.Dispose();
        _factory.Dispose();
    }

    [Test]
    public void Geometry_counts_a_short_last_region()
    {
        Assert.That(_log.RegionSize, Is.EqualTo(RegionSize));
        Assert.That(_log.RegionCount, Is.EqualTo(41UL));
    }

    [Test]
    public void A_new_log_is_clean_everywhere_and_out_of_sync_by_default()
    {
        for (var r = 0UL; r < _log.RegionCount; r++)
        {
            // A fresh disk log has no clean bits on disk, so dm-log starts it dirty (and resyncs) everywhere.
            Assert.That(_log.IsClean(r), Is.EqualTo(kind != LogKind.Disk), $"region {r} clean");
            Assert.That(_log.InSync(r), Is.False, $"region {r} in sync");
        }
        Assert.That(_log.SyncCount, Is.Zero);
    }

    [Test]
    public void Mark_makes_a_region_dirty_and_clear_makes_it_clean_after_flush()
    {
        _log.ClearRegion(4);
        _log.MarkRegion(3);
        _log.MarkRegion(7);
        _log.Flush();
        Assert.That(_log.IsClean(3), Is.False);
        Assert.That(_log.IsClean(7), Is.False);
        Assert.That(_log.IsClean(4), Is.True);
        _log.ClearRegion(3);
        _log.Flush();
        Assert.That(_log.IsClean(3), Is.True);
        Assert.That(_log.IsClean(7), Is.False);
    }

    [Test]
    public void Resync_work_visits_each_out_of_sync_region_once_in_order()
    {
        var seen = new List<ulong>();
        while (_log.TryGetResyncWork(out var r))
        {
            seen.Add(r);
            _log.SetRegionSync(r, true);
            Assert.That(_log.InSync(r), Is.True);
        }
        Assert.That(seen, Is.EqualTo(Enumerable.Range(0, 41).Select(i => (ulong)i)));
        Assert.That(_log.SyncCount, Is.EqualTo(41UL));
        Assert.That(_log.TryGetResyncWork(out _), Is.False);
    }

    [Test]
    public void A_recovering_region_is_not_handed_out_twice()
    {
        Assert.That(_log.TryGetResyncWork(out var first), Is.True);
        Assert.That(_log.TryGetResyncWork(out var second), Is.True);
        Assert.That(second, Is.Not.EqualTo(first));
    }

    [Test]
    public void Set_region_sync_false_takes_a_region_out_of_sync()
    {
        while (_log.TryGetResyncWork(out var r)) _log.SetRegionSync(r, true);
        _log.SetRegionSync(5, false);
        Assert.That(_log.InSync(5), Is.False);
        Assert.That(_log.SyncCount, Is.EqualTo(40UL));
        _log.Flush();
    }

    [Test]
    public void Nosync_assumes_every_region_in_sync()
    {
        _log.Dispose();
        _log = _factory.Open(DeviceLength, RegionSize, RegionLogSync.Assume);
        Assert.That(_log.SyncCount, Is.EqualTo(_log.RegionCount));
        Assert.That(_log.InSync(40), Is.True);
        Assert.That(_log.TryGetResyncWork(out _), Is.False);
    }

    [Test]
    public void Regions_past_the_end_are_refused()
    {
        Assert.That(() => _log.IsClean(41), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => _log.MarkRegion(41), Throws.InstanceOf<ArgumentOutOfRangeException>());
    }

    [TestCase(1000L)]
    [TestCase(2048L)]
    [TestCase(3 * 4096L)]
    public void Region_sizes_must_be_powers_of_two_of_at_least_4KiB(long size)
    {
        Assert.That(() => _factory.Open(DeviceLength, size).Dispose(), Throws.ArgumentException);
    }

    [Test]
    public void Status_lines_follow_dm_log()
    {
        var info = _log.Status(RegionLogStatusType.Info);
        var table = _log.Status(RegionLogStatusType.Table);
        switch (kind)
        {
            case LogKind.Core:
                Assert.That(info, Is.EqualTo("1 core"));
                Assert.That(table, Is.EqualTo("core 1 128 "));
                break;
            case LogKind.Disk:
                Assert.That(info, Is.EqualTo("3 disk region.log A"));
                Assert.That(table, Is.EqualTo("disk 2 region.log 128 "));
                break;
            default:
                Assert.That(info, Is.EqualTo("1 core"), "the daemon's own log answers INFO");
                Assert.That(table, Does.Match(@"^userspace 4 erafs-[0-9a-f]{32} integrated_flush \S+log\.sock 128 $"));
                break;
        }
    }

    [Test]
    public void Sync_word_appears_in_the_table_line()
    {
        _log.Dispose();
        _log = _factory.Open(DeviceLength, RegionSize, RegionLogSync.Force);
        Assert.That(_log.Status(RegionLogStatusType.Table), Does.EndWith(" 128 sync "));
    }
}

using EraFs.TestSupport;

namespace EraFs.Fuse.Tests;

/// <summary>
/// The /dev/fuse serving pool on a real mount: its base serves busy requests alone; handlers that
/// announce a wait get more threads, never past the mount's most; the extra threads leave once
/// nothing waits.
/// </summary>
[TestFixture]
[Category("Mount")]
public class DevThreadPoolTests
{
    private const int Base = 2;
    private const int Most = 5;
    private TestDirectory _dir = null!;

    [SetUp]
    public void SetUp()
    {
        HostTools.RequireFuse();
        _dir = new TestDirectory("fuse-pool");
    }

    [TearDown]
    public void TearDown() => _dir.Dispose();

    private FuseMount Mount(HelloFileSystem fs, out string mp)
    {
        mp = _dir.Subdirectory("mnt");
        var options = new FuseMountOptions { Transport = FuseTransport.Dev, BaseThreads = Base, MaxThreads = Most };
        return FuseMount.Mount(fs, mp, options, new MemoryLog());
    }

    private static Task<int>[] ConcurrentReads(string path, int count) =>
        Enumerable.Range(0, count).Select(_ => Task.Factory.StartNew(() =>
        {
            using var f = File.OpenHandle(path, options: FileOptions.None);
            return RandomAccess.Read(f, new byte[4096], 0);
        }, TaskCreationOptions.LongRunning)).ToArray();

    [Test]
    public void Busy_requests_that_do_not_wait_are_served_by_the_base_alone()
    {
        var fs = new HelloFileSystem();
        using var mount = Mount(fs, out var mp);
        Assert.That(mount.ServingThreads, Is.EqualTo(Base));
        var hello = Path.Combine(mp, "hello");
        var readers = Enumerable.Range(0, 8).Select(_ => Task.Factory.StartNew(() =>
        {
            for (var i = 0; i < 200; i++) Assert.That(File.ReadAllBytes(hello), Is.EqualTo(HelloFileSystem.Greeting));
        }, TaskCreationOptions.LongRunning)).ToArray();
        Assert.That(Task.WaitAll(readers, TimeSpan.FromSeconds(60)), Is.True);
        Assert.That(mount.PeakServingThreads, Is.EqualTo(Base), "no handler waited, so no thread was added");
    }

    [Test]
    public void Waiting_handlers_get_threads_up_to_the_most_which_leave_once_nothing_waits()
    {
        var fs = new HelloFileSystem();
        using var mount = Mount(fs, out var mp);
        var slow = Path.Combine(mp, "slow");
        var reads = ConcurrentReads(slow, Most + 2);
        try
        {
            // Every held read holds its thread; a pool that did not grow would hold the base.
            Assert.That(SpinWait.SpinUntil(() => fs.SlowReadsIn == Most, TimeSpan.FromSeconds(20)), Is.True,
                $"{fs.SlowReadsIn} reads held on {mount.ServingThreads} threads");
            Thread.Sleep(200);
            Assert.That(fs.SlowReadsIn, Is.EqualTo(Most), "the two other reads wait in the kernel: the pool stops at the most");
            Assert.That(mount.ServingThreads, Is.EqualTo(Most));
        }
        finally
        {
            fs.ReleaseSlowReads();
        }
        Assert.That(Task.WaitAll(reads, TimeSpan.FromSeconds(20)), Is.True);
        Assert.That(reads.Select(r => r.Result), Is.All.EqualTo(4096));
        Assert.That(mount.PeakServingThreads, Is.EqualTo(Most));

        // Requests that do not wait, one at a time: whichever extra thread serves one, once nothing
        // has waited for a while, leaves.
        Thread.Sleep(300);
        var hello = Path.Combine(mp, "hello");
        for (var i = 0; i < 500 && mount.ServingThreads > Base; i++) File.ReadAllBytes(hello);
        Assert.That(mount.ServingThreads, Is.EqualTo(Base));
        Assert.That(File.ReadAllBytes(hello), Is.EqualTo(HelloFileSystem.Greeting));
    }
}

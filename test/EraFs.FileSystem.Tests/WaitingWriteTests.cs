using System.Runtime.InteropServices;
using EraFs.Core;
using EraFs.TestSupport;
using Mono.Unix.Native;

namespace EraFs.FileSystem.Tests;

/// <summary>
/// First writes waiting for their metadata commit, on a real /dev/fuse mount behind a loop device with
/// direct I/O (which sends them to the daemon at once, like a file system above it): each waits on
/// its own serving thread and the pool puts on more, so later first writes reach the daemon and join
/// the next commit instead of queueing in the kernel behind the base threads.
/// </summary>
[TestFixture]
[Category("Mount")]
public class WaitingWriteTests
{
    private const int BlockSize = 4096;
    private const int Writers = 8;
    private TestDirectory _dir = null!;

    [SetUp]
    public void SetUp()
    {
        HostTools.RequireFuse();
        _dir = new TestDirectory("waiting-writes");
    }

    [TearDown]
    public void TearDown() => _dir.Dispose();

    [Test]
    public void Writes_waiting_for_a_commit_get_threads_beyond_the_base()
    {
        const long size = 64L * BlockSize;
        var store = new MemoryEraStore(EraGeometry.For(size, BlockSize));
        var tracker = EraTracker.Open(store, new EraTrackerOptions { OriginSize = size, OriginMtimeUtc = MemoryEraStore.DefaultOriginMtime });
        using var m = new DeviceMount(_dir, size, tracker, baseThreads: 2);
        store.CommitGate.Reset();
        var writers = new Task[Writers];
        using var loop = LoopDevice.Attach(m.DevicePath, directIo: true);
        try
        {
            for (var i = 0; i < Writers; i++)
            {
                var block = i * 2;
                writers[i] = Task.Factory.StartNew(() => WriteDirect(loop.Path, block), TaskCreationOptions.LongRunning);
            }
            // Base 2 without the announcement: two writes in the daemon, the rest queued in the kernel.
            Assert.That(SpinWait.SpinUntil(() => m.Served.ServingThreads > Writers, TimeSpan.FromSeconds(20)), Is.True,
                $"{m.Served.ServingThreads} threads serve {Writers} first writes held at their commit");
        }
        finally
        {
            store.CommitGate.Set();
        }
        Assert.That(Task.WaitAll(writers, TimeSpan.FromSeconds(20)), Is.True);
        for (var i = 0; i < Writers; i++)
        {
            using var origin = File.OpenHandle(m.OriginPath);
            var back = new byte[BlockSize];
            RandomAccess.Read(origin, back, i * 2 * BlockSize);
            Assert.That(back, Is.All.EqualTo((byte)(i * 2 + 1)), $"block {i * 2} reached the origin");
        }
        Assert.That(store.WrittenSince(1), Is.EqualTo(Enumerable.Range(0, Writers).Select(i => (ulong)(i * 2)).ToArray()));
    }

    // O_DIRECT, so each write goes down at once and the writers' requests reach FUSE side by side.
    private static unsafe void WriteDirect(string device, int block)
    {
        var fd = Syscall.open(device, OpenFlags.O_WRONLY | OpenFlags.O_DIRECT);
        Assert.That(fd, Is.GreaterThanOrEqualTo(0), $"open {device}: {Stdlib.GetLastError()}");
        var buffer = NativeMemory.AlignedAlloc((nuint)BlockSize, 4096);
        try
        {
            new Span<byte>(buffer, (int)BlockSize).Fill((byte)(block + 1));
            Assert.That(Syscall.pwrite(fd, buffer, (ulong)BlockSize, block * BlockSize), Is.EqualTo(BlockSize), $"pwrite: {Stdlib.GetLastError()}");
        }
        finally
        {
            NativeMemory.AlignedFree(buffer);
            Syscall.close(fd);
        }
    }
}

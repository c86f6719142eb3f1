using EraFs.RegionLog;
using EraFs.Fuse;
using EraFs.TestSupport;

namespace EraFs.FileSystem.Tests;

/// <summary>An origin with random bytes and mirror legs, mounted in-process with a region log.</summary>
internal sealed class MirrorMount : IDisposable
{
    private readonly ServedMount _served;

    public MirrorMount(TestDirectory dir, long size, IReadOnlyList<string> legPaths, Func<long, IDirtyRegionLog> openLog,
        long resyncRate = 0, TimeSpan? cleanInterval = null)
    {
        OriginPath = dir.File("origin-" + Guid.NewGuid().ToString("N")[..6] + ".img");
        var bytes = new byte[size];
        new Random(3).NextBytes(bytes);
        File.WriteAllBytes(OriginPath, bytes);
        MountPoint = dir.Subdirectory("mnt-" + Guid.NewGuid().ToString("N")[..6]);
        Log = new DaemonLog(new StringWriter());
        Origin = Origin.Open(OriginPath);
        var legs = legPaths.Select(p => MirrorLeg.Open(p, size)).ToList();
        Set = new MirrorSet(Origin, legs, openLog(size), resyncRate, Log, cleanInterval);
        _served = ServedMount.Start(Origin, null, MountPoint, new FuseMountOptions(), Log, mirror: Set);
    }

    public string OriginPath { get; }

    public string MountPoint { get; }

    public string DevicePath => Path.Combine(MountPoint, "device");

    public Origin Origin { get; }

    public MirrorSet Set { get; }

    public DaemonLog Log { get; }

    public string ReadControl(string name) => File.ReadAllText(Path.Combine(MountPoint, name));

    public void WaitForResync()
    {
        var until = DateTime.UtcNow.AddSeconds(60);
        while (!Set.Resync.Finished && DateTime.UtcNow < until) Thread.Sleep(20);
        Assert.That(Set.Resync.Finished, Is.True, "resync finished");
    }

    public void Unmount()
    {
        Assert.That(_served.RequestUnmount(lazy: false), Is.Zero, "unmount");
        Assert.That(_served.Completion.Wait(TimeSpan.FromSeconds(30)), Is.True, "daemon finished");
    }

    public void Dispose() => _served.Dispose();
}

using EraFs.Core;
using EraFs.Fuse;
using EraFs.TestSupport;

namespace EraFs.FileSystem.Tests;

/// <summary>An origin image with known random bytes, mounted in-process through <see cref="ServedMount"/>.</summary>
internal sealed class DeviceMount : IDisposable
{
    private readonly ServedMount _served;

    public DeviceMount(TestDirectory dir, long size, EraTracker? tracker = null, string? originPath = null, int seed = 1,
        IReadOnlyList<ViewFile>? views = null, FuseTransport transport = FuseTransport.Dev, uint? baseThreads = null)
    {
        OriginPath = originPath ?? dir.File("origin.img");
        if (originPath is null)
        {
            var bytes = new byte[size];
            new Random(seed).NextBytes(bytes);
            File.WriteAllBytes(OriginPath, bytes);
        }
        MountPoint = dir.Subdirectory("mnt-" + Guid.NewGuid().ToString("N")[..6]);
        Log = new DaemonLog(new StringWriter());
        Origin = Origin.Open(OriginPath);
        Tracker = tracker;
        _served = ServedMount.Start(Origin, tracker, MountPoint, new FuseMountOptions { Transport = transport, BaseThreads = baseThreads }, Log, views);
    }

    public string OriginPath { get; }

    public string MountPoint { get; }

    public string DevicePath => Path.Combine(MountPoint, "device");

    public Origin Origin { get; }

    public EraTracker? Tracker { get; }

    public DaemonLog Log { get; }

    public ServedMount Served => _served;

    public string ReadControl(string name) => File.ReadAllText(Path.Combine(MountPoint, name));

    public void Unmount()
    {
        Assert.That(_served.RequestUnmount(lazy: false), Is.Zero, "unmount");
        Assert.That(_served.Completion.Wait(TimeSpan.FromSeconds(30)), Is.True, "daemon finished");
    }

    public void Dispose() => _served.Dispose();
}

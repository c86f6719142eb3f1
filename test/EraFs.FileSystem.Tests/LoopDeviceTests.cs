using EraFs.Fuse;
using EraFs.TestSupport;

namespace EraFs.FileSystem.Tests;

/// <summary>The use EraFs exists for: a loop device on MOUNT/device carrying a real file system.</summary>
[TestFixtureSource(typeof(TransportSwitch), nameof(TransportSwitch.Both))]
[Category("Mount")]
public class LoopDeviceTests(FuseTransport transport) : TransportFixture(transport)
{
    private TestDirectory _dir = null!;

    [SetUp]
    public void SetUp()
    {
        HostTools.RequireFuse();
        HostTools.Require("mkfs.ext4");
        HostTools.Require("losetup");
        _dir = new TestDirectory("loop");
    }

    [TearDown]
    public void TearDown() => _dir.Dispose();

    [TestCase(false)]
    [TestCase(true)]
    public void Ext4_on_a_loop_device_over_device_mounts_works_and_passes_fsck(bool directIo)
    {
        var origin = _dir.SparseFile("origin.img", 64L << 20);
        using var m = new DeviceMount(_dir, 0, originPath: origin, transport: Transport);
        var fsDir = _dir.Subdirectory("ext4");
        var files = new Dictionary<string, byte[]>();
        using (var loop = LoopDevice.Attach(m.DevicePath, directIo))
        {
            HostTools.Run("mkfs.ext4", "-q", "-F", loop.Path).Ok();
            HostTools.Run("mount", loop.Path, fsDir).Ok();
            try
            {
                var rnd = new Random(3);
                for (var i = 0; i < 20; i++)
                {
                    var data = new byte[rnd.Next(1, 600_000)];
                    rnd.NextBytes(data);
                    files[$"f{i}"] = data;
                    File.WriteAllBytes(Path.Combine(fsDir, $"f{i}"), data);
                }
                HostTools.Run("sync").Ok();
            }
            finally
            {
                HostTools.Run("umount", fsDir).Ok();
            }
            var fsck = HostTools.Run("fsck.ext4", "-n", "-f", loop.Path);
            Assert.That(fsck.ExitCode, Is.Zero, $"fsck -n found problems:\n{fsck.Stdout}{fsck.Stderr}");
            // Everything read through the mount is exactly the origin's bytes.
            HostTools.Run("sync").Ok();
            var throughMount = HostTools.Run("sha256sum", loop.Path).Ok().Stdout.Split(' ')[0];
            var onOrigin = HostTools.Run("sha256sum", origin).Ok().Stdout.Split(' ')[0];
            Assert.That(throughMount, Is.EqualTo(onOrigin));
        }
        m.Unmount();

        // The files are on the origin: mount the origin itself and read them back.
        using (var loop = LoopDevice.Attach(origin))
        {
            HostTools.Run("mount", "-o", "ro", loop.Path, fsDir).Ok();
            try
            {
                foreach (var (name, data) in files)
                    Assert.That(File.ReadAllBytes(Path.Combine(fsDir, name)), Is.EqualTo(data), name);
            }
            finally
            {
                HostTools.Run("umount", fsDir).Ok();
            }
        }
    }

    [Test]
    public void Teardown_leaves_the_origin_open_while_a_loop_device_still_has_the_mount_served()
    {
        var origin = _dir.SparseFile("origin.img", 8L << 20);
        var m = new DeviceMount(_dir, 0, originPath: origin, transport: Transport);
        var loop = LoopDevice.Attach(m.DevicePath);
        try
        {
            m.Served.TeardownWait = TimeSpan.FromSeconds(1);
            m.Served.Dispose();
            Assert.That(m.Served.LeakedOnDispose, Is.True, "the loop device keeps the lazily unmounted mount served");
            var buffer = new byte[4096];
            Assert.That(m.Origin.Read(buffer, 0), Is.EqualTo(buffer.Length), "the origin descriptor was not closed under the loop");
            Assert.That(m.Log.RecentErrors, Has.Some.Contains("still serving"));
        }
        finally
        {
            loop.Dispose();
        }
        Assert.That(m.Served.Completion.Wait(TimeSpan.FromSeconds(30)), Is.True, "the loop ends once the loop device is gone");
        m.Origin.Dispose();
    }
}

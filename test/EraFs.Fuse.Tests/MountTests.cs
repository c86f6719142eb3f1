using EraFs.TestSupport;

namespace EraFs.Fuse.Tests;

/// <summary>Real mounts of the smallest file system, on each transport: serving, the EIO boundary, unmounting and refused mounts.</summary>
[TestFixtureSource(typeof(TransportSwitch), nameof(TransportSwitch.Both))]
[Category("Mount")]
public class MountTests(FuseTransport transport) : TransportFixture(transport)
{
    private TestDirectory _dir = null!;
    private FuseMountOptions Options() => new() { Transport = Transport };

    [Test]
    public void Requests_travel_over_the_chosen_transport()
    {
        var mp = _dir.Subdirectory("mnt");
        var log = new MemoryLog();
        using var mount = FuseMount.Mount(new HelloFileSystem(), mp, Options(), log);
        Assert.That(File.ReadAllBytes(Path.Combine(mp, "hello")), Is.EqualTo(HelloFileSystem.Greeting));
        Assert.That(mount.Transport, Is.EqualTo(Transport));
        if (Transport == FuseTransport.IoUring)
        {
            // The lookup, open, read and release of the file above came through the ring.
            Assert.That(mount.RequestsOverUring, Is.GreaterThanOrEqualTo(3));
            Assert.That(mount.Queues, Is.EqualTo(UringTransport.PossibleCpus()));
            Assert.That(mount.Connection.Want & Kernel.FuseAbi.FUSE_OVER_IO_URING, Is.Not.Zero);
            Assert.That(log.Lines, Has.Some.Contains("over io_uring"));
        }
        else
        {
            Assert.That(mount.RequestsOverDev, Is.GreaterThanOrEqualTo(4), "INIT, lookup, open, read");
            Assert.That(mount.RequestsOverUring, Is.Zero);
            Assert.That(mount.Connection.Want & Kernel.FuseAbi.FUSE_OVER_IO_URING, Is.Zero);
        }
    }

    [SetUp]
    public void SetUp()
    {
        HostTools.RequireFuse();
        _dir = new TestDirectory("fuse");
    }

    [TearDown]
    public void TearDown()
    {
        MountPointCheck.FuseDevice = "/dev/fuse";
        _dir.Dispose();
    }

    [Test]
    public void Serves_reads_and_directory_listing_then_unmounts_cleanly()
    {
        var mp = _dir.Subdirectory("mnt");
        var fs = new HelloFileSystem();
        var log = new MemoryLog();
        using var mount = FuseMount.Mount(fs, mp, Options(), log);

        Assert.That(File.ReadAllBytes(Path.Combine(mp, "hello")), Is.EqualTo(HelloFileSystem.Greeting));
        Assert.That(Directory.GetFiles(mp).Select(Path.GetFileName), Is.EquivalentTo(new[] { "hello", "boom", "slow" }));
        Assert.That(MountPointCheck.MountType(mp), Is.EqualTo("fuse.erafs"));
        Assert.That(mount.Unmount(TimeSpan.FromSeconds(10)), Is.True);
        Assert.That(MountPointCheck.IsMountPoint(mp), Is.False);
        Assert.That(fs.Destroys, Is.EqualTo(1));
    }

    [Test]
    public void Negotiates_one_MiB_writes_and_logs_what_was_granted()
    {
        var mp = _dir.Subdirectory("mnt");
        var fs = new HelloFileSystem();
        var log = new MemoryLog();
        using var mount = FuseMount.Mount(fs, mp, Options(), log);
        Assert.That(mount.Connection.MaxWrite, Is.EqualTo(1u << 20));
        Assert.That(fs.Connection, Is.Not.Null);
        Assert.That(log.Lines, Has.Some.Contains("max_write 1048576"));
        Assert.That(log.Lines, Has.Some.Contains("max_background 64"));
    }

    [Test]
    public void Kernel_grants_the_requested_background_queue()
    {
        const string connections = "/sys/fs/fuse/connections";
        if (!MountPointCheck.IsMountPoint(connections)) HostTools.Run("mount", "-t", "fusectl", "none", connections).Ok();
        var mp = _dir.Subdirectory("mnt");
        using var mount = FuseMount.Mount(new HelloFileSystem(), mp, Options() with { MaxBackground = 48 }, new MemoryLog());
        // fusectl names each connection by the minor number of the mount's device.
        Assert.That(Mono.Unix.Native.Syscall.stat(mp, out var st), Is.Zero);
        var minor = (st.st_dev & 0xff) | ((st.st_dev >> 12) & 0xfff00);
        Assert.That(File.ReadAllText($"{connections}/{minor}/max_background").Trim(), Is.EqualTo("48"));
        Assert.That(File.ReadAllText($"{connections}/{minor}/congestion_threshold").Trim(), Is.EqualTo("36"));
    }

    [Test]
    public void Exception_in_a_handler_becomes_EIO_and_is_logged_with_its_stack()
    {
        var mp = _dir.Subdirectory("mnt");
        var log = new MemoryLog();
        using var mount = FuseMount.Mount(new HelloFileSystem(), mp, Options(), log);

        var ex = Assert.Throws<IOException>(() => File.ReadAllBytes(Path.Combine(mp, "boom")));
        Assert.That(ex!.Message, Does.Contain("Input/output error"));
        var line = log.Lines.Single(l => l.StartsWith("error: read handler", StringComparison.Ordinal));
        Assert.That(line, Does.Contain("boom on purpose"));
        Assert.That(line, Does.Contain("answered EIO"));
        Assert.That(line, Does.Contain("at EraFs.Fuse.Tests.HelloFileSystem.Read"), "the stack trace is logged");
        // The daemon keeps serving after the failed request.
        Assert.That(File.ReadAllBytes(Path.Combine(mp, "hello")), Is.EqualTo(HelloFileSystem.Greeting));
    }

    [Test]
    public void Unmount_is_refused_while_a_file_is_open()
    {
        var mp = _dir.Subdirectory("mnt");
        using var mount = FuseMount.Mount(new HelloFileSystem(), mp, Options(), new MemoryLog());
        using (File.OpenRead(Path.Combine(mp, "hello")))
        {
            Assert.That(mount.RequestUnmount(lazy: false), Is.EqualTo(FuseErrors.EBUSY));
            Assert.That(MountPointCheck.IsMountPoint(mp), Is.True);
        }
        Assert.That(mount.Unmount(TimeSpan.FromSeconds(10)), Is.True);
    }

    [Test]
    public void Missing_mount_point_is_refused_by_name()
    {
        var mp = _dir.File("absent");
        var ex = Assert.Throws<FuseMountException>(() => FuseMount.Mount(new HelloFileSystem(), mp, Options(), new MemoryLog()));
        Assert.That(ex!.Message, Is.EqualTo($"{mp}: mount point does not exist"));
    }

    [Test]
    public void Mount_point_that_is_a_file_is_refused()
    {
        var mp = _dir.SparseFile("file", 10);
        var ex = Assert.Throws<FuseMountException>(() => FuseMount.Mount(new HelloFileSystem(), mp, Options(), new MemoryLog()));
        Assert.That(ex!.Message, Is.EqualTo($"{mp}: mount point is not a directory"));
        Assert.That(MountPointCheck.IsMountPoint(mp), Is.False);
    }

    [Test]
    public void Busy_mount_point_is_refused_and_the_first_mount_is_untouched()
    {
        var mp = _dir.Subdirectory("mnt");
        using var first = FuseMount.Mount(new HelloFileSystem(), mp, Options(), new MemoryLog());
        var ex = Assert.Throws<FuseMountException>(() => FuseMount.Mount(new HelloFileSystem(), mp, Options(), new MemoryLog()));
        Assert.That(ex!.Message, Does.Contain("mount point is busy"));
        Assert.That(File.ReadAllBytes(Path.Combine(mp, "hello")), Is.EqualTo(HelloFileSystem.Greeting));
    }

    [Test]
    public void Missing_fuse_device_is_refused_and_nothing_is_mounted()
    {
        var mp = _dir.Subdirectory("mnt");
        MountPointCheck.FuseDevice = _dir.File("no-such-fuse");
        var ex = Assert.Throws<FuseMountException>(() => FuseMount.Mount(new HelloFileSystem(), mp, Options(), new MemoryLog()));
        Assert.That(ex!.Message, Does.Contain("no-such-fuse: missing"));
        Assert.That(MountPointCheck.IsMountPoint(mp), Is.False);
    }
}

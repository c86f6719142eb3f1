using EraFs.TestSupport;

namespace EraFs.Cli.Tests;

/// <summary>
/// scripts/install as an admin runs it, then the tools admins mount with: mount -t fuse.erafs, an
/// fstab line through util-linux's mount -T, plain umount and fusermount3 -u. The install is
/// machine-wide, so the fixture removes it again unless one was there before.
/// </summary>
[TestFixture]
[Category("Mount")]
[NonParallelizable]
public class InstallTests
{
    private const string Bin = "/usr/local/bin/erafs";
    private const string Lib = "/usr/local/lib/erafs";
    private const string MountHelper = "/sbin/mount.fuse.erafs";

    private TestDirectory _dir = null!;
    private bool _installedBefore;
    private string _install = null!;

    [OneTimeSetUp]
    public void InstallOnce()
    {
        HostTools.RequireFuse();
        HostTools.Require("umount");
        _install = Path.Combine(Repository.Root(), "scripts", "install");
        _installedBefore = File.Exists(Path.Combine(Lib, "install-manifest"));
        HostTools.Run("bash", [_install], TimeSpan.FromMinutes(10)).Ok();
    }

    [OneTimeTearDown]
    public void UninstallUnlessItWasThere()
    {
        if (!_installedBefore) HostTools.Run("bash", [_install, "--uninstall"]);
    }

    [SetUp]
    public void SetUp() => _dir = new TestDirectory("install");

    [TearDown]
    public void TearDown()
    {
        Erafs.ForceCleanup(_dir.File("m"));
        _dir.Dispose();
    }

    [Test]
    public void Installed_erafs_is_on_path_and_prints_its_version_and_commit()
    {
        Assert.That(File.ResolveLinkTarget(Bin, returnFinalTarget: false)?.FullName, Is.EqualTo(Path.Combine(Lib, "erafs")));
        var version = HostTools.Run(Bin, "--version").Ok().Stdout.Trim();
        Assert.That(version, Does.Match(@"^erafs \d+\.\d+\.\d+"));
        var head = HostTools.Run("git", "-C", Repository.Root(), "rev-parse", "HEAD");
        if (head.ExitCode == 0) Assert.That(version, Does.Contain($"(commit {head.Stdout.Trim()}"));
    }

    [Test]
    public void Installing_twice_is_harmless_and_leaves_one_install()
    {
        HostTools.Run("bash", [_install], TimeSpan.FromMinutes(10)).Ok();
        Assert.That(HostTools.Run(Bin, "--version").Ok().Stdout, Does.StartWith("erafs "));
        var manifest = File.ReadAllLines(Path.Combine(Lib, "install-manifest")).Where(l => !l.StartsWith('#')).ToArray();
        Assert.That(manifest, Is.EquivalentTo(new[] { $"dir:{Lib}", $"link:{Bin}", $"file:{MountHelper}" }));
        Assert.That(Directory.Exists(Lib + ".new"), Is.False, "no half-installed directory is left behind");
    }

    [Test]
    public void Mount_t_fuse_erafs_with_options_serves_and_plain_umount_closes_the_history_cleanly()
    {
        var (origin, meta, mnt, log) = Paths();
        var mount = HostTools.Run("mount", "-t", "fuse.erafs", origin, mnt,
            "-o", $"metadata={meta},create,block_size=64KiB,log_file={log},_netdev,nofail,x-systemd.automount").Ok();
        Assert.That(mount.Stdout + mount.Stderr, Does.Contain("mounted on"));
        Assert.That(File.ReadAllText("/proc/mounts"), Does.Contain($" {mnt} fuse.erafs "));
        WriteBlock(mnt, 3);
        Assert.That(File.ReadAllText(Path.Combine(mnt, "status")), Does.StartWith("8 "), "mount returned once the mount served");

        HostTools.Run("umount", mnt).Ok();
        AssertClosedCleanly(log, mnt);
        var again = Erafs.Run("mount", "--origin", origin, "--metadata", meta, "--log-file", log, mnt).Ok();
        Assert.That(again.Stderr, Does.Not.Contain("not clean"), "the next mount finds the history closed cleanly");
        Assert.That(Erafs.Run("invalidate", "--written-since", "1", "--format", "count", meta).Ok().Stdout, Does.StartWith("blocks: 1\n"),
            "the block written before the plain umount is tracked");
        HostTools.Run("fusermount3", "-u", mnt).Ok();
        AssertClosedCleanly(log, mnt);
    }

    [Test]
    public void An_fstab_line_mounts_with_mount_T()
    {
        var (origin, meta, mnt, log) = Paths();
        Erafs.Run("create", "--origin", origin, "--metadata", meta).Ok();
        var fstab = _dir.File("fstab");
        File.WriteAllText(fstab, $"# test fstab\n{origin} {mnt} fuse.erafs metadata={meta},log_file={log},defaults,noauto,user,rw 0 0\n");
        HostTools.Run("mount", "-T", fstab, mnt).Ok();
        WriteBlock(mnt, 0);
        Assert.That(File.ReadAllText("/proc/mounts"), Does.Contain($" {mnt} fuse.erafs "));
        HostTools.Run("umount", mnt).Ok();
        AssertClosedCleanly(log, mnt);
    }

    [Test]
    public void An_unknown_mount_option_is_refused_in_one_line_naming_it_and_nothing_is_mounted()
    {
        var (origin, meta, mnt, _) = Paths();
        var r = HostTools.Run("mount", "-t", "fuse.erafs", origin, mnt, "-o", $"metadata={meta},create,frobnicate=3");
        Assert.That(r.ExitCode, Is.Not.Zero);
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(1), r.Stderr);
        Assert.That(lines[0], Does.Contain("'frobnicate'"));
        Assert.That(Fuse.MountPointCheck.IsMountPoint(mnt), Is.False);
        Assert.That(File.Exists(meta), Is.False, "a refused mount creates nothing");
    }

    [Test]
    public void Umount_with_a_loop_device_attached_fails_busy_and_the_mount_keeps_serving()
    {
        HostTools.Require("losetup");
        var (origin, meta, mnt, log) = Paths();
        HostTools.Run("mount", "-t", "fuse.erafs", origin, mnt, "-o", $"metadata={meta},create,log_file={log}").Ok();
        using (LoopDevice.Attach(Path.Combine(mnt, "device")))
        {
            var r = HostTools.Run("umount", mnt);
            Assert.That(r.ExitCode, Is.Not.Zero);
            Assert.That(r.Stderr, Does.Contain("busy"));
            Assert.That(File.ReadAllText(Path.Combine(mnt, "status")), Does.StartWith("8 "));
        }
        Assert.That(Erafs.WaitFor(() => HostTools.Run("umount", mnt).ExitCode == 0, TimeSpan.FromSeconds(30)), Is.True,
            "umount succeeds once the loop device is detached");
        AssertClosedCleanly(log, mnt);
    }

    private (string Origin, string Meta, string Mount, string Log) Paths()
    {
        var origin = _dir.SparseFile("origin.img", 64L << 20);
        return (origin, _dir.File("origin.era"), _dir.Subdirectory("m"), _dir.File("daemon.log"));
    }

    private static void WriteBlock(string mnt, int block)
    {
        using var device = new FileStream(Path.Combine(mnt, "device"), FileMode.Open, FileAccess.Write);
        device.Position = block * 65536L;
        device.Write(new byte[4096].Select(_ => (byte)0x5a).ToArray());
        device.Flush(flushToDisk: true);
    }

    // The daemon exits after the unmount; its log then ends with the clean close and holds no error.
    private static void AssertClosedCleanly(string log, string mnt)
    {
        Assert.That(Erafs.WaitFor(() => File.Exists(log) && File.ReadAllText(log).Contains($"unmounted {mnt}"), TimeSpan.FromSeconds(30)),
            Is.True, $"the daemon logs its unmount: {(File.Exists(log) ? File.ReadAllText(log) : "(no log)")}");
        var text = File.ReadAllText(log);
        Assert.That(text, Does.Contain("history closed cleanly"));
        Assert.That(text, Does.Not.Contain(" error:"));
        Assert.That(Fuse.MountPointCheck.IsMountPoint(mnt), Is.False);
    }
}

/// <summary>How mount -o lists become erafs mount's flags, checked against the real mount command.</summary>
[TestFixture]
public class MountOptionStringTests
{
    private static string[] Expand(params string[] args) =>
        MountOptionString.Expand(args, Program.BuildRoot(args).Subcommands.Single(c => c.Name == "mount"));

    [Test]
    public void Every_option_spells_its_flag_and_fstab_generics_are_dropped()
    {
        var args = Expand("mount", "--origin", "img", "-o",
            "metadata=/m/x.era,create,block_size=4KiB,allow_other,mirror=/l/a:/l/b,log=disk:/l/log,region_size=1MiB,threads=4,log_file=/l/d.log,defaults,_netdev,x-systemd.requires=foo.service,nonempty", "/mnt");
        Assert.That(args, Is.EqualTo(new[]
        {
            "mount", "--origin", "img", "--metadata", "/m/x.era", "--create", "--block-size", "4KiB", "--allow-other",
            "--mirror", "/l/a", "--mirror", "/l/b", "--log", "disk:/l/log", "--region-size", "1MiB", "--threads", "4",
            "--log-file", "/l/d.log", "--nonempty", "/mnt",
        }));
    }

    [Test]
    public void Cluster_endpoints_keep_their_commas_and_quotes_protect_a_value()
    {
        var args = Expand("mount", "-o", "log=clustered_core,cluster=http://127.0.0.1:2379,http://127.0.0.1:2479,cluster_log=\"a,b\"", "/mnt");
        Assert.That(args, Is.EqualTo(new[]
        {
            "mount", "--log", "clustered_core", "--cluster", "http://127.0.0.1:2379,http://127.0.0.1:2479", "--cluster-log", "a,b", "/mnt",
        }));
    }

    [TestCase("frobnicate", "unknown mount option 'frobnicate'")]
    [TestCase("create=yes", "-o create: takes no value")]
    [TestCase("metadata", "-o metadata: needs a value")]
    [TestCase("ro", "-o ro:")]
    [TestCase("origin=/x", "unknown mount option 'origin'")]
    [TestCase("daemon_child", "unknown mount option 'daemon_child'")]
    public void A_bad_option_is_a_usage_error_naming_it(string option, string message)
    {
        var ex = Assert.Throws<CliException>(() => Expand("mount", "-o", option, "/mnt"))!;
        Assert.That(ex.Code, Is.EqualTo(ExitCode.Usage));
        Assert.That(ex.Message, Does.Contain(message));
    }

    [Test]
    public void Other_verbs_keep_their_own_dash_o()
    {
        string[] args = ["dump", "-o", "out.xml", "meta"];
        Assert.That(Expand(args), Is.SameAs(args));
    }
}

using EraFs.TestSupport;

namespace EraFs.Cli.Tests;

/// <summary>The region log's command line: option checks, --nosync, and erafs log dump.</summary>
[TestFixture]
public class RegionLogCommandTests
{
    private TestDirectory _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new TestDirectory("regionlog-cli");

    [TearDown]
    public void TearDown() => _dir.Dispose();

    [TestCase("--region-size", "3000", "not a power of two")]
    [TestCase("--region-size", "2KiB", "at least 4KiB")]
    [TestCase("--log", "userspace:", "cannot connect")]
    public void Bad_region_log_options_are_refused(string option, string value, string message)
    {
        var origin = _dir.SparseFile("origin.img", 1 << 20);
        var args = option == "--log"
            ? new[] { "mount", "--origin", origin, "--foreground", "--log", value + _dir.File("missing.sock"), _dir.Subdirectory("mnt") }
            : ["mount", "--origin", origin, "--foreground", "--log", "core", option, value, _dir.Subdirectory("mnt")];
        var r = Erafs.Run(args);
        Assert.That(r.ExitCode, Is.Not.Zero);
        Assert.That(r.Stderr, Does.Contain(message));
    }

    [Test]
    public void Sync_and_nosync_exclude_each_other()
    {
        var r = Erafs.Run("mount", "--origin", _dir.SparseFile("o.img", 1 << 20), "--log", "core", "--sync", "--nosync", _dir.Subdirectory("mnt"));
        Assert.That(r.ExitCode, Is.EqualTo(2));
        Assert.That(r.Stderr, Does.Contain("--sync and --nosync exclude each other"));
    }

    [Test]
    public void Log_server_refuses_a_disk_log_that_is_a_regular_file()
    {
        var file = _dir.File("server.log");
        File.WriteAllBytes(file, new byte[1536]);
        var r = Erafs.Run("log-server", "--socket", _dir.File("log.sock"), "--log", "disk:" + file);
        Assert.That(r.ExitCode, Is.EqualTo(2));
        Assert.That(r.Stderr.Trim().Split('\n'), Has.Length.EqualTo(1), r.Stderr);
        Assert.That(r.Stderr, Does.Contain($"{file} is a file").And.Contain("one log per client in a directory"));
        Assert.That(File.Exists(_dir.File("log.sock")), Is.False, "nothing listens");
    }

    [Test]
    public void Log_dump_prints_the_header_and_dirty_runs()
    {
        var path = _dir.File("region.log");
        var bytes = new byte[1536];
        new byte[] { 0x72, 0x52, 0x69, 0x4d, 2, 0, 0, 0, 40, 0, 0, 0, 0, 0, 0, 0 }.CopyTo(bytes, 0);
        // Regions 0-39, clean except 3, 4, 5 and 17.
        for (var r = 0; r < 40; r++)
            if (r is not (3 or 4 or 5 or 17)) bytes[1024 + r / 8] |= (byte)(1 << (r % 8));
        File.WriteAllBytes(path, bytes);
        var dump = Erafs.Run("log", "dump", path).Ok().Stdout;
        Assert.That(dump, Is.EqualTo("magic: 0x4d695272\nversion: 2\nregions: 40\nclean_regions: 36\ndirty_regions: 4\ndirty: 3-5,17\n"));
    }

    [Test]
    public void Log_dump_refuses_a_file_without_the_magic()
    {
        var path = _dir.File("bad.log");
        File.WriteAllBytes(path, new byte[2048]);
        var r = Erafs.Run("log", "dump", path);
        Assert.That(r.ExitCode, Is.EqualTo(3));
        Assert.That(r.Stderr, Does.Contain("bad magic"));
    }
}

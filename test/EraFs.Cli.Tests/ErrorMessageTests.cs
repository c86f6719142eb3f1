using EraFs.Fuse;
using EraFs.TestSupport;

namespace EraFs.Cli.Tests;

/// <summary>Bad input: one line naming the file and the problem, a failing exit code, nothing mounted or changed.</summary>
[TestFixture]
public class ErrorMessageTests
{
    private TestDirectory _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new TestDirectory("errors");

    [TearDown]
    public void TearDown() => _dir.Dispose();

    private static void AssertOneLine(HostTools.Result r, int code, string expected)
    {
        Assert.That(r.ExitCode, Is.EqualTo(code), r.Stderr);
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(1), "one line, no stack trace:\n" + r.Stderr);
        Assert.That(lines[0], Is.EqualTo(expected));
    }

    [Test]
    public void Missing_origin()
    {
        var img = _dir.File("nope.img");
        var mnt = _dir.Subdirectory("mnt");
        AssertOneLine(Erafs.Run("mount", "--foreground", "--origin", img, mnt), 1,
            $"erafs: {img}: origin cannot be opened: No such file or directory (ENOENT)");
    }

    [Test]
    public void Origin_that_is_a_directory()
    {
        var mnt = _dir.Subdirectory("mnt");
        AssertOneLine(Erafs.Run("mount", "--foreground", "--origin", _dir.Path, mnt), 1,
            $"erafs: {_dir.Path}: origin is a directory, not an image file or block device");
    }

    [Test]
    public void Empty_origin()
    {
        var img = _dir.SparseFile("empty.img", 0);
        AssertOneLine(Erafs.Run("mount", "--foreground", "--origin", img, _dir.Subdirectory("mnt")), 1,
            $"erafs: {img}: origin is empty (0 bytes)");
    }

    [Test]
    public void Missing_mount_point_in_the_background_is_reported_by_the_launcher()
    {
        HostTools.RequireFuse();
        var img = _dir.SparseFile("o.img", 1 << 20);
        var mnt = _dir.File("absent");
        AssertOneLine(Erafs.Run("mount", "--origin", img, "--log-file", _dir.File("log"), mnt), 1,
            $"erafs: {mnt}: mount point does not exist");
        Assert.That(MountPointCheck.IsMountPoint(mnt), Is.False);
    }

    [Test]
    public void Mount_point_that_is_not_empty_is_refused_unless_nonempty_is_given()
    {
        HostTools.RequireFuse();
        var img = _dir.SparseFile("o.img", 1 << 20);
        var mnt = _dir.Subdirectory("mnt");
        File.WriteAllText(Path.Combine(mnt, "keep.txt"), "mine");
        AssertOneLine(Erafs.Run("mount", "--origin", img, mnt), 1,
            $"erafs: {mnt}: mount point is not empty; mounting would hide what it holds (give --nonempty to mount over it anyway)");
        Assert.That(MountPointCheck.IsMountPoint(mnt), Is.False);

        try
        {
            Erafs.Run("mount", "--origin", img, "--nonempty", "--log-file", _dir.File("d.log"), mnt).Ok();
            Assert.That(File.Exists(Path.Combine(mnt, "device")), Is.True, "mounted over the directory");
            Erafs.Run("unmount", mnt).Ok();
        }
        finally
        {
            Erafs.ForceCleanup(mnt);
        }
        Assert.That(File.ReadAllText(Path.Combine(mnt, "keep.txt")), Is.EqualTo("mine"), "what the directory held is untouched");
    }

    [Test]
    public void Mount_point_that_is_a_file()
    {
        HostTools.RequireFuse();
        var img = _dir.SparseFile("o.img", 1 << 20);
        var mnt = _dir.SparseFile("file", 1);
        AssertOneLine(Erafs.Run("mount", "--foreground", "--origin", img, mnt), 1,
            $"erafs: {mnt}: mount point is not a directory");
    }

    [Test]
    public void Unmount_of_something_not_mounted()
    {
        var mnt = _dir.Subdirectory("mnt");
        AssertOneLine(Erafs.Run("unmount", mnt), 1, $"erafs: {mnt}: not mounted");
    }

    [Test]
    public void Verbose_adds_the_stack_trace()
    {
        var img = _dir.File("nope.img");
        var r = Erafs.Run("mount", "--foreground", "--verbose", "--origin", img, _dir.Subdirectory("mnt"));
        Assert.That(r.ExitCode, Is.EqualTo(1));
        Assert.That(r.Stderr, Does.Contain("   at EraFs."));
    }

    [TestCase("1000", "--block-size: block size 1000 bytes is not a multiple of 4096 bytes")]
    [TestCase("6KiB", "--block-size: block size 6144 bytes is not a multiple of 4096 bytes")]
    [TestCase("12XB", "--block-size: unknown unit in '12XB' (use KiB, MiB, GiB or TiB)")]
    [TestCase("lots", "--block-size: 'lots' is not a size (bytes, or a number with KiB/MiB/GiB)")]
    public void Create_with_a_bad_block_size_is_a_usage_error_and_creates_nothing(string size, string message)
    {
        var img = _dir.SparseFile("o.img", 1 << 20);
        var meta = _dir.File("meta");
        AssertOneLine(Erafs.Run("create", "--origin", img, "--metadata", meta, "--block-size", size), 2, "erafs: " + message);
        Assert.That(File.Exists(meta), Is.False);
    }
}

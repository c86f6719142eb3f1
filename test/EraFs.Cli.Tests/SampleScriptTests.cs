using EraFs.TestSupport;

namespace EraFs.Cli.Tests;

/// <summary>Runs the scripts in samples/ as a user would, with the CLI under test named by ERAFS.</summary>
[TestFixture]
[Category("Mount")]
public class SampleScriptTests
{
    private TestDirectory _dir = null!;

    [SetUp]
    public void SetUp()
    {
        HostTools.RequireFuse();
        HostTools.Require("losetup");
        _dir = new TestDirectory("samples");
    }

    [TearDown]
    public void TearDown()
    {
        Erafs.ForceCleanup(_dir.File("work/mnt"));
        _dir.Dispose();
    }

    [Test]
    public void Incremental_backup_copies_only_changed_ranges_and_the_backup_equals_the_image()
    {
        var r = RunSample("incremental-backup.sh", ("WRITES", "25"));
        Assert.That(r.Stdout, Does.Contain("backup equals the image"));
        var copied = int.Parse(r.Stdout.Split("copied ")[1].Split(' ')[0]);
        Assert.That(copied, Is.InRange(1, 25), "only the blocks the workload wrote were copied");
    }

    [Test]
    public void Cache_invalidation_lists_exactly_the_blocks_written_after_the_vendor_snapshot()
    {
        var r = RunSample("cache-invalidation.sh", ("WRITE_BLOCKS", "0 7 8 9 300 511"));
        var listed = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse);
        Assert.That(listed, Is.EqualTo(new[] { 0, 7, 8, 9, 300, 511 }));
    }

    private HostTools.Result RunSample(string script, params (string Name, string Value)[] env)
    {
        var image = _dir.SparseFile("image.img", 32L << 20);
        var work = _dir.Subdirectory("work");
        var path = Path.Combine(RepositoryRoot(), "samples", script);
        var exports = env.Append(("ERAFS", $"dotnet {Erafs.Dll}")).Select(e => $"{e.Item1}='{e.Item2}'");
        var r = HostTools.Run("bash", ["-c", $"{string.Join(' ', exports)} bash {path} {image} {work}"], TimeSpan.FromMinutes(2));
        Assert.That(r.ExitCode, Is.Zero, $"{script} failed:\n{r.Stdout}\n{r.Stderr}");
        return r;
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir != null; dir = dir.Parent)
            if (Directory.Exists(Path.Combine(dir.FullName, "samples")) && Directory.Exists(Path.Combine(dir.FullName, "src")))
                return dir.FullName;
        throw new InvalidOperationException("samples/ not found above the test directory");
    }
}

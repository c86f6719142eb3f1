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

    [Test]
    public void Without_ERAFS_a_sample_runs_the_erafs_on_PATH()
    {
        // An "installed" erafs: a command on PATH that runs the CLI under test and says it was used.
        var bin = _dir.Subdirectory("bin");
        var used = _dir.File("erafs-on-path-used");
        var shim = Path.Combine(bin, "erafs");
        File.WriteAllText(shim, $"#!/bin/sh\necho \"$*\" >> {used}\nexec dotnet {Erafs.Dll} \"$@\"\n");
        Mono.Unix.Native.Syscall.chmod(shim, Mono.Unix.Native.FilePermissions.S_IRWXU);
        var r = RunSample("cache-invalidation.sh", erafs: null, ("WRITE_BLOCKS", "5"), ("PATH", $"{bin}:{Environment.GetEnvironmentVariable("PATH")}"));
        Assert.That(r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries), Is.EqualTo(new[] { "5" }));
        Assert.That(File.ReadAllText(used), Does.Contain("mount --origin").And.Contain("invalidate --metadata-snapshot").And.Contain("copy --written-since"));
    }

    private HostTools.Result RunSample(string script, params (string Name, string Value)[] env) =>
        RunSample(script, $"dotnet {Erafs.Dll}", env);

    private HostTools.Result RunSample(string script, string? erafs, params (string Name, string Value)[] env)
    {
        var image = _dir.SparseFile("image.img", 32L << 20);
        var work = _dir.Subdirectory("work");
        var path = Path.Combine(Repository.Root(), "samples", script);
        var exports = (erafs is null ? env : env.Append(("ERAFS", erafs))).Select(e => $"{e.Item1}='{e.Item2}'");
        var unset = erafs is null ? "unset ERAFS; " : "";
        var r = HostTools.Run("bash", ["-c", $"{unset}{string.Join(' ', exports)} bash {path} {image} {work}"], TimeSpan.FromMinutes(2));
        Assert.That(r.ExitCode, Is.Zero, $"{script} failed:\n{r.Stdout}\n{r.Stderr}");
        return r;
    }
}

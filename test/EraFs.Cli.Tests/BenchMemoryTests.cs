using System.Diagnostics;
using EraFs.TestSupport;

namespace EraFs.Cli.Tests;

/// <summary>bench/memory runs end to end at a small size, its bounds hold and era_check accepts what MOUNT/metadata served.</summary>
[TestFixture]
[Category("Mount")]
public class BenchMemoryTests
{
    [Test]
    public void Bench_memory_passes_at_4G_and_era_check_accepts_the_view()
    {
        HostTools.RequireFuse();
        HostTools.Require("era_check");
        using var work = new TestDirectory("bench-memory");
        var psi = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(Path.Combine(RepositoryRoot(), "bench", "memory"));
        // The erafs this test project built, so the run needs no second build.
        psi.Environment["ERAFS_BIN"] = Path.Combine(TestContext.CurrentContext.TestDirectory, "erafs");
        psi.Environment["WORK"] = work.Path;
        psi.Environment["SIZE"] = "4G";
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.That(p.WaitForExit(TimeSpan.FromMinutes(15)), Is.True, "bench/memory finished");
        var output = stdout.Result + stderr.Result;
        TestContext.Out.WriteLine(output[Math.Max(0, output.Length - 4000)..]);
        Assert.That(p.ExitCode, Is.Zero, "bench/memory failed");
        Assert.That(stdout.Result, Does.Contain("bench memory: PASS"));
        Assert.That(stdout.Result, Does.Contain("era_check on MOUNT/metadata: ok"));
        Assert.That(Directory.Exists(Path.Combine(work.Path, "run")), Is.False, "the run's files are removed");
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "EraFs.sln"))) return dir.FullName;
        throw new InvalidOperationException("EraFs.sln not found above the test directory");
    }
}

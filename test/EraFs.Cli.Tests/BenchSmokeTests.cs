using System.Diagnostics;
using EraFs.TestSupport;

namespace EraFs.Cli.Tests;

/// <summary>The benchmark harness still runs end to end: every contestant produces numbers (none are asserted).</summary>
[TestFixture]
[Category("Mount")]
public class BenchSmokeTests
{
    [Test]
    public void Bench_smoke_run_gets_numbers_from_every_contestant()
    {
        HostTools.RequireFuse();
        var repo = Repository.Root();
        using var work = new TestDirectory("bench");
        var psi = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(Path.Combine(repo, "bench", "run"));
        psi.ArgumentList.Add("--smoke");
        // The erafs this test project built, so the smoke run needs no second build.
        psi.Environment["ERAFS_BIN"] = Path.Combine(TestContext.CurrentContext.TestDirectory, "erafs");
        psi.Environment["WORK"] = work.Path;
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.That(p.WaitForExit(TimeSpan.FromMinutes(15)), Is.True, "smoke run finished");
        var output = stdout.Result + stderr.Result;
        TestContext.Out.WriteLine(output[Math.Max(0, output.Length - 4000)..]);
        Assert.That(p.ExitCode, Is.Zero, "bench/run --smoke failed");
        Assert.That(output, Does.Match(@"bench smoke: (\d+) contestants ok"));
        var ok = int.Parse(System.Text.RegularExpressions.Regex.Match(output, @"bench smoke: (\d+) contestants ok").Groups[1].Value);
        Assert.That(ok, Is.GreaterThanOrEqualTo(5), "raw, c-passthrough, qsd, erafs and erafs-fresh at least");
    }
}

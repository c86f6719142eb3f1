using EraFs.Fuse;
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
        using var work = new TestDirectory("bench");
        // Held off, so the run itself must switch io_uring on for erafs and put the switch back.
        using var off = UringParameter.Read() is null ? null : TransportSwitch.SwitchedOff();
        var r = BenchScript.Run("run", work.Path, ["--smoke"]);
        var output = r.Stdout + r.Stderr;
        Assert.That(r.ExitCode, Is.Zero, "bench/run --smoke failed");
        Assert.That(output, Does.Match(@"bench smoke: (\d+) contestants ok"));
        var ok = int.Parse(System.Text.RegularExpressions.Regex.Match(output, @"bench smoke: (\d+) contestants ok").Groups[1].Value);
        Assert.That(ok, Is.GreaterThanOrEqualTo(6), "raw, c-passthrough, qsd, erafs, erafs-dev and erafs-fresh at least");
        Assert.That(output, Does.Contain("erafs-dev over dev ("));
        if (off is not null)
        {
            Assert.That(output, Does.Contain("erafs over io_uring ("), "erafs serves over io_uring in the bench");
            Assert.That(UringParameter.Read(), Is.False, "the run put enable_uring back");
        }
    }
}

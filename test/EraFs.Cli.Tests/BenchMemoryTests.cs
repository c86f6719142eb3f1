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
        var r = BenchScript.Run("memory", work.Path, [], new Dictionary<string, string> { ["SIZE"] = "4G" });
        Assert.That(r.ExitCode, Is.Zero, "bench/memory failed");
        Assert.That(r.Stdout, Does.Contain("bench memory: PASS"));
        Assert.That(r.Stdout, Does.Contain("era_check on MOUNT/metadata: ok"));
        Assert.That(Directory.Exists(Path.Combine(work.Path, "run")), Is.False, "the run's files are removed");
    }
}

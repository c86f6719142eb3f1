namespace EraFs.Core.Tests;

/// <summary>The progress line every long task draws: what it says, and how the meter starts and ends its line.</summary>
public sealed class ProgressMeterTests
{
    [Test]
    public void A_line_says_percent_amounts_rate_and_eta()
    {
        var line = ProgressMeter.Describe("dump", 3UL << 20, 4UL << 20, TimeSpan.FromSeconds(3), ProgressUnit.Blocks, finished: false);
        Assert.That(line, Is.EqualTo("dump: 75.0% (3.0 Mi blocks of 4.0 Mi blocks), 1.0 Mi blocks/s, ETA 1.0s"));
        var bytes = ProgressMeter.Describe("copy", 1UL << 30, 1UL << 30, TimeSpan.FromSeconds(90), ProgressUnit.Bytes, finished: true);
        Assert.That(bytes, Is.EqualTo("copy: 100.0% (1.0 GiB of 1.0 GiB), 11.4 MiB/s, in 1m30s"));
    }

    [Test]
    public void Unfinished_work_never_reads_100_percent_and_a_start_has_no_eta()
    {
        Assert.That(ProgressMeter.Describe("check", 999_999, 1_000_000, TimeSpan.FromSeconds(1), ProgressUnit.Blocks, finished: false), Does.Contain(" 99.9% "));
        Assert.That(ProgressMeter.Describe("check", 0, 1_000_000, TimeSpan.Zero, ProgressUnit.Blocks, finished: false), Does.EndWith("ETA --"));
    }

    [Test]
    public void The_first_report_draws_at_once_and_finish_ends_the_line_at_100_percent()
    {
        var output = new StringWriter();
        var meter = new ProgressMeter(output, "restore", 200, ProgressUnit.Bytes);
        meter.Report(10);
        Assert.That(output.ToString(), Does.StartWith("\rrestore: 5.0% (10 B of 200 B)"));
        meter.Finish();
        Assert.That(output.ToString(), Does.Contain("\rrestore: 100.0% (200 B of 200 B)").And.EndWith("\n"));
        meter.Report(300);
        meter.Dispose();
        Assert.That(output.ToString().Count(c => c == '\n'), Is.EqualTo(1), "nothing is drawn after the end");
    }

    [Test]
    public void A_task_that_fails_leaves_its_line_ended_without_claiming_100_percent()
    {
        var output = new StringWriter();
        using (var meter = new ProgressMeter(output, "import", 100, ProgressUnit.Blocks)) meter.Report(40);
        Assert.That(output.ToString(), Does.EndWith("\n").And.Not.Contain("100.0%"));
        var silent = new StringWriter();
        using (new ProgressMeter(silent, "import", 100, ProgressUnit.Blocks))
        {
        }
        Assert.That(silent.ToString(), Is.Empty, "a meter that never drew writes nothing");
    }
}

using EraFs.TestSupport;

namespace EraFs.FileSystem.Tests;

/// <summary>The daemon log never throws into a FUSE callback, counts what it could not write, and appends whole lines.</summary>
public class DaemonLogTests
{
    private sealed class FailingWriter : TextWriter
    {
        public override System.Text.Encoding Encoding => System.Text.Encoding.UTF8;
        public override void Write(string? value) => throw new IOException("No space left on device");
    }

    [Test]
    public void A_full_log_disk_costs_lines_not_service()
    {
        using var log = DaemonLog.OpenFile("/dev/full");
        for (var i = 0; i < 10; i++) log.Info($"line {i}");
        log.Error("an error", new InvalidOperationException("with a stack"));
        Assert.That(log.LinesLost, Is.EqualTo(11));
        Assert.That(log.RecentErrors, Does.Contain("an error"), "errors are still kept for info");
    }

    [Test]
    public void A_throwing_writer_is_counted_and_does_not_throw()
    {
        using var log = new DaemonLog(new FailingWriter());
        Assert.That(() => log.Info("hello"), Throws.Nothing);
        Assert.That(log.LinesLost, Is.EqualTo(1));
    }

    [Test]
    public void Two_processes_logs_on_one_file_interleave_whole_lines()
    {
        using var dir = new TestDirectory("daemonlog");
        var path = dir.File("mount.log");
        File.WriteAllText(path, "existing line\n");
        const int perWriter = 2000;
        var writers = Enumerable.Range(0, 2).Select(w => new Thread(() =>
        {
            using var log = DaemonLog.OpenFile(path);
            for (var i = 0; i < perWriter; i++) log.Info($"writer {w} line {i} " + new string('x', 200));
        })).ToList();
        writers.ForEach(t => t.Start());
        writers.ForEach(t => t.Join());

        var lines = File.ReadAllLines(path);
        Assert.That(lines[0], Is.EqualTo("existing line"), "appending never overwrites what was there");
        var ours = lines.Skip(1).ToList();
        Assert.That(ours, Has.Count.EqualTo(2 * perWriter));
        Assert.That(ours, Has.All.Match(@"^\S+ info: writer [01] line \d+ x{200}$"), "every line whole");
        for (var w = 0; w < 2; w++)
            Assert.That(ours.Count(l => l.Contains($" writer {w} line ", StringComparison.Ordinal)), Is.EqualTo(perWriter));
    }
}

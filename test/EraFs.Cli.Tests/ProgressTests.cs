using System.Text.RegularExpressions;
using EraFs.Fuse;
using EraFs.TestSupport;

namespace EraFs.Cli.Tests;

/// <summary>
/// Progress on stderr: on a terminal (a pseudo-terminal from script(1)) for large metadata, never in
/// a pipe unless --progress asks, and a foreground mount's resync lines.
/// </summary>
[TestFixture]
public partial class ProgressTests
{
    private TestDirectory _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new TestDirectory("progress");

    [TearDown]
    public void TearDown()
    {
        Erafs.ForceCleanup(_dir.File("mnt"));
        _dir.Dispose();
    }

    [Test]
    public void Under_a_terminal_a_dump_of_large_metadata_shows_a_percentage_and_in_a_pipe_stderr_stays_empty()
    {
        HostTools.Require("script");
        var meta = LargeMetadata();
        var xml = _dir.File("dump.xml");

        var terminal = OnTerminal("dump", "-o", xml, meta);
        Assert.That(terminal, Does.Contain("dump: ").And.Contain("%").And.Contain("100.0%"), "progress is drawn on the terminal");
        Assert.That(terminal, Does.Contain("\r"), "redrawn in place");

        var pipe = Erafs.Run("dump", "-o", xml, meta).Ok();
        Assert.That(pipe.Stderr, Is.Empty, "nothing on stderr in a pipe");

        var forced = Erafs.Run("dump", "--progress", "-o", xml, meta).Ok();
        Assert.That(forced.Stderr, Does.Contain("dump: ").And.Contain("100.0%"), "--progress draws in a pipe too");

        var off = OnTerminal("dump", "--no-progress", "-o", xml, meta);
        Assert.That(off, Does.Not.Contain("%"), "--no-progress keeps the terminal quiet");
    }

    [Test]
    public void Small_metadata_shows_no_progress_even_on_a_terminal()
    {
        HostTools.Require("script");
        var origin = _dir.SparseFile("small.img", 64L << 20);
        var meta = _dir.File("small.era");
        Erafs.Run("create", "--origin", origin, "--metadata", meta).Ok();
        Assert.That(OnTerminal("dump", "-o", _dir.File("small.xml"), meta), Does.Not.Contain("%"));
    }

    [Test]
    public void Progress_forced_in_a_pipe_reaches_100_percent_for_every_long_verb_and_changes_no_output()
    {
        // Large enough that the era array's one run is handed on in pieces while progress watches it.
        var meta = LargeMetadata();
        var origin = _dir.File("large.img");
        var small = _dir.SparseFile("small.img", 64L << 20);
        var smallMeta = _dir.File("small.era");
        Erafs.Run("create", "--origin", small, "--metadata", smallMeta).Ok();
        var plainXml = _dir.File("plain.xml");
        var plainDm = _dir.File("plain.meta");
        Erafs.Run("dump", "-o", plainXml, meta).Ok();
        Erafs.Run("export", "--format", "dm-era", "-o", plainDm, meta).Ok();

        var xml = _dir.File("history.xml");
        var dm = _dir.File("dm-era.meta");
        var imported = _dir.File("imported.era");
        var runs = new (string Verb, string[] Args)[]
        {
            ("dump", ["dump", "--progress", "-o", xml, meta]),
            ("restore", ["restore", "--progress", "-i", xml, "-o", _dir.File("restored.era"), "--origin", origin]),
            ("export", ["export", "--progress", "--format", "dm-era", "-o", dm, meta]),
            ("import", ["import", "--progress", "-i", dm, "-o", imported, "--origin", origin]),
            ("check", ["check", "--progress", meta]),
            ("copy", ["copy", "--progress", "--written-since", "0", "--from", small, "--to", _dir.File("copy.img"), smallMeta]),
        };
        foreach (var (verb, args) in runs)
        {
            var r = Erafs.Run(args).Ok();
            Assert.That(r.Stderr, Does.Contain($"{verb}: ").And.Contain("100.0%"), $"{verb} --progress");
            Assert.That(r.Stderr, Does.EndWith("\n"), $"{verb}: the meter ends its line");
        }
        Assert.That(File.ReadAllBytes(xml), Is.EqualTo(File.ReadAllBytes(plainXml)), "dump writes the same XML with progress");
        Assert.That(File.ReadAllBytes(dm), Is.EqualTo(File.ReadAllBytes(plainDm)), "export writes the same dm-era metadata with progress");
        Assert.That(Erafs.Run("dump", imported).Ok().Stdout, Is.EqualTo(File.ReadAllText(plainXml)), "import with progress keeps the history");
    }

    [Test]
    public void Progress_and_no_progress_together_are_a_usage_error()
    {
        var r = Erafs.Run("check", "--progress", "--no-progress", _dir.File("any.era"));
        Assert.That(r.ExitCode, Is.EqualTo(2));
        Assert.That(r.Stderr, Does.Contain("--progress and --no-progress contradict each other"));
    }

    [Test]
    [Category("Mount")]
    public void A_foreground_mount_prints_a_resync_line_for_each_tenth()
    {
        HostTools.RequireFuse();
        var origin = _dir.SparseFile("origin.img", 64L << 20);
        var leg = _dir.SparseFile("leg.img", 64L << 20);
        var mnt = _dir.Subdirectory("mnt");
        using var p = Erafs.Start("mount", "--foreground", "--origin", origin, "--mirror", leg, "--log", "core", "--sync", "--resync-rate", "64MiB", mnt);
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.That(Erafs.WaitFor(() => MountPointCheck.IsMountPoint(mnt) || p.HasExited, TimeSpan.FromSeconds(30)), Is.True, "mounted");
        Assert.That(Erafs.WaitFor(() => File.ReadAllText(Path.Combine(mnt, "info")).Contains("resync: done"), TimeSpan.FromSeconds(60)), Is.True, "the resync finished");
        Mono.Unix.Native.Syscall.kill(p.Id, Mono.Unix.Native.Signum.SIGTERM);
        Assert.That(p.WaitForExit(30_000), Is.True, "exits after SIGTERM");

        var lines = stderr.Result.Split('\n').Where(l => l.Contains("info: resync: ")).ToList();
        var percents = lines.Select(l => double.Parse(Percent().Match(l).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.That(percents, Has.Count.GreaterThanOrEqualTo(10), $"a line per tenth of the 128 regions:\n{stderr.Result}");
        Assert.That(percents, Is.Ordered.Ascending);
        Assert.That(lines[^1], Does.Contain("128 of 128 region(s)"));
    }

    /// <summary>
    /// Metadata for a 2 TiB sparse origin, as the issue's trial has it, at 1 MiB blocks: 2 Mi blocks,
    /// past the 1 Mi at which progress starts on its own, and quick to dump.
    /// </summary>
    private string LargeMetadata()
    {
        var origin = _dir.SparseFile("large.img", 2L << 40);
        var meta = _dir.File("large.era");
        Erafs.Run("create", "--origin", origin, "--metadata", meta, "--block-size", "1MiB").Ok();
        return meta;
    }

    /// <summary>Runs erafs with stdout and stderr on a pseudo-terminal; what the terminal showed.</summary>
    private static string OnTerminal(params string[] args)
    {
        var command = string.Join(' ', new[] { "dotnet", Erafs.Dll }.Concat(args).Select(a => $"'{a}'"));
        return HostTools.Run("script", ["-qec", command, "/dev/null"]).Ok().Stdout;
    }

    [GeneratedRegex(@"resync: ([0-9.]+)%")]
    private static partial Regex Percent();
}

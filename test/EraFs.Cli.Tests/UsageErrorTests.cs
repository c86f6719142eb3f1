using EraFs.TestSupport;

namespace EraFs.Cli.Tests;

/// <summary>A wrong command line exits 2 and says which token is wrong, with one usage line instead of the whole help.</summary>
[TestFixture]
public class UsageErrorTests
{
    private static string[] Lines(HostTools.Result r) => r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    [Test]
    public void An_unknown_option_is_named_and_answered_with_one_usage_line()
    {
        var r = Erafs.Run("mount", "--bogus", "m3");
        Assert.That(r.ExitCode, Is.EqualTo(2), r.Stderr);
        Assert.That(Lines(r), Is.EqualTo(new[]
        {
            "erafs: unknown option '--bogus'",
            "usage: erafs mount --origin ORIGIN <MOUNTPOINT> [options] (see 'erafs mount --help')",
        }));
    }

    [Test]
    public void Missing_required_options_are_each_named()
    {
        var r = Erafs.Run("create");
        Assert.That(r.ExitCode, Is.EqualTo(2), r.Stderr);
        Assert.That(Lines(r), Is.EqualTo(new[]
        {
            "erafs: Option '--origin' is required.",
            "erafs: Option '--metadata' is required.",
            "usage: erafs create --origin ORIGIN --metadata METADATA [options] (see 'erafs create --help')",
        }));
    }

    [Test]
    public void An_unknown_verb_is_named_first()
    {
        var r = Erafs.Run("frobnicate");
        Assert.That(r.ExitCode, Is.EqualTo(2), r.Stderr);
        Assert.That(Lines(r)[0], Is.EqualTo("erafs: Unrecognized command or argument 'frobnicate'."));
        Assert.That(Lines(r)[^1], Does.StartWith("usage: erafs <mount|unmount|create|"));
        Assert.That(r.Stderr, Does.Not.Contain("Description:"), "no whole help");
    }

    [Test]
    public void A_value_that_starts_with_a_dash_is_not_taken_for_an_unknown_option()
    {
        using var dir = new TestDirectory("usage");
        var meta = dir.File("absent.meta");
        var r = Erafs.Run("dump", "--output", "-dump.xml", meta);
        Assert.That(r.Stderr, Does.Not.Contain("unknown option"), r.Stderr);
        Assert.That(r.ExitCode, Is.EqualTo(1), "the metadata is missing, which is not a usage error: " + r.Stderr);
        Assert.That(r.Stderr, Does.Contain($"{meta}: EraFs metadata does not exist"));
    }
}

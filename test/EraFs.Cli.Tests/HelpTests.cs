namespace EraFs.Cli.Tests;

/// <summary>Every verb's --help ends its description with an example that runs that verb.</summary>
[TestFixture]
public class HelpTests
{
    private static IEnumerable<string> Verbs() => VerbExamples.Leaves(Program.BuildRoot([])).Select(v => v.Path);

    [Test]
    public void There_are_verbs_to_check() => Assert.That(Verbs().ToList(), Has.Count.GreaterThanOrEqualTo(11).And.Contains("log dump"));

    [TestCaseSource(nameof(Verbs))]
    public void Each_verbs_help_has_a_one_line_example_of_that_verb(string verb)
    {
        var r = Erafs.Run([.. verb.Split(' '), "--help"]);
        Assert.That(r.ExitCode, Is.Zero, r.Stderr);
        Assert.That(r.Stdout, Does.Match($@"Example:\n +erafs {verb} \S.*\n"), r.Stdout);
    }
}

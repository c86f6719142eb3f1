using System.Text.RegularExpressions;
using System.Xml.Linq;
using EraFs.TestSupport;

namespace EraFs.Cli.Tests;

/// <summary>
/// docs/architecture.md and the README's code layout stay true: the documented references are the
/// projects' real ones, and the layering rules the brief sets hold.
/// </summary>
[TestFixture]
public partial class ArchitectureTests
{
    [Test]
    public void The_documented_reference_table_is_every_projects_real_references()
    {
        var documented = DocumentedReferences();
        var actual = ActualReferences();
        Assert.That(documented.Keys, Is.EquivalentTo(actual.Keys), "projects in docs/architecture.md's table vs src/");
        foreach (var (project, refs) in actual)
            Assert.That(documented[project], Is.EquivalentTo(refs), $"{project}'s references in docs/architecture.md");
    }

    [Test]
    public void Every_source_project_has_one_row_in_the_readme_layout()
    {
        var readme = File.ReadAllText(Path.Combine(Repository.Root(), "README.md"));
        foreach (var project in ActualReferences().Keys)
            Assert.That(Regex.Matches(readme, $@"^\| `src/{Regex.Escape(project)}` \|", RegexOptions.Multiline), Has.Count.EqualTo(1),
                $"README's layout row for src/{project}");
    }

    [Test]
    public void The_core_and_the_fuse_binding_stand_alone_and_only_the_cli_builds_mounts()
    {
        var actual = ActualReferences();
        Assert.That(actual["EraFs.Core"], Is.Empty, "the tracker core references no project");
        Assert.That(actual["EraFs.Fuse"], Is.Empty, "the FUSE binding references no project, so it knows nothing of eras");
        foreach (var (project, refs) in actual)
        {
            Assert.That(refs, Does.Not.Contain("EraFs.Cli"), $"{project} must not reference the CLI");
            if (project != "EraFs.Cli")
                Assert.That(refs, Does.Not.Contain("EraFs.Daemon"), $"{project}: only the CLI starts mounts");
        }
    }

    private static Dictionary<string, string[]> ActualReferences()
    {
        var src = Path.Combine(Repository.Root(), "src");
        return Directory.GetDirectories(src)
            .Select(dir => Path.Combine(dir, Path.GetFileName(dir) + ".csproj"))
            .Where(File.Exists)
            .ToDictionary(
                csproj => Path.GetFileNameWithoutExtension(csproj),
                csproj => XDocument.Load(csproj).Descendants("ProjectReference")
                    .Select(r => Path.GetFileNameWithoutExtension(r.Attribute("Include")!.Value.Replace('\\', '/')))
                    .ToArray());
    }

    // Rows of "| `EraFs.X` | A, B |" under "The same graph as a list"; "—" means none.
    private static Dictionary<string, string[]> DocumentedReferences()
    {
        var doc = File.ReadAllText(Path.Combine(Repository.Root(), "docs", "architecture.md"));
        var table = doc[doc.IndexOf("| project | references |", StringComparison.Ordinal)..];
        table = table[..table.IndexOf("\n\n", StringComparison.Ordinal)];
        var result = new Dictionary<string, string[]>();
        foreach (Match row in ReferenceRow().Matches(table))
        {
            var refs = row.Groups[2].Value.Trim();
            result[row.Groups[1].Value] = refs.StartsWith('—')
                ? []
                : refs.Split(',', StringSplitOptions.TrimEntries).Select(r => "EraFs." + r).ToArray();
        }
        return result;
    }

    [GeneratedRegex(@"^\| `(EraFs\.[A-Za-z.]+)` \| ([^|]+) \|$", RegexOptions.Multiline)]
    private static partial Regex ReferenceRow();
}

using System.Security.Cryptography;
using EraFs.TestSupport;

namespace EraFs.Cli.Tests;

/// <summary>
/// The standard error battery for every metadata tool verb: missing input, a directory, an empty or
/// too-small file, XML where binary belongs and binary where XML belongs, a read-only output and a
/// corrupt checksum. Each must fail with one line and a non-zero exit, leaving the input's sha256
/// (and any existing output) unchanged.
/// </summary>
[TestFixture]
public class ToolErrorBatteryTests
{
    private const string Xml = """
        <superblock uuid="" block_size="128" nr_blocks="16" current_era="5">
          <writeset era="4" nr_bits="16">
            <bit block="3" value="true"/>
          </writeset>
          <era_array>
            <era block="0" era="1"/>
          </era_array>
        </superblock>
        """;

    private TestDirectory _dir = null!;
    private string _xml = null!;
    private string _native = null!;
    private string _dmEra = null!;
    private string _origin = null!;

    [OneTimeSetUp]
    public void SetUp()
    {
        _dir = new TestDirectory("battery");
        _xml = _dir.File("good.xml");
        File.WriteAllText(_xml, Xml);
        _native = _dir.File("good.era");
        Erafs.Run("restore", "-i", _xml, "-o", _native).Ok();
        _dmEra = _dir.File("good.dmera");
        Erafs.Run("export", "--format", "dm-era", "-o", _dmEra, _native).Ok();
        _origin = _dir.SparseFile("origin.img", 16 * 65536);
    }

    [OneTimeTearDown]
    public void TearDown() => _dir.Dispose();

    /// <summary>Verb, the arguments with {in} for the input under test, and what kind of input it reads.</summary>
    private static readonly object[] s_verbs =
    [
        new object[] { "check", new[] { "check", "{in}" }, "native" },
        new object[] { "dump", new[] { "dump", "{in}" }, "native" },
        new object[] { "invalidate", new[] { "invalidate", "--written-since", "0", "{in}" }, "native" },
        new object[] { "export", new[] { "export", "--format", "dm-era", "-o", "{out}", "{in}" }, "native" },
        new object[] { "import", new[] { "import", "-i", "{in}", "-o", "{out}", "--origin", "{origin}" }, "dm-era" },
        new object[] { "restore", new[] { "restore", "-i", "{in}", "-o", "{out}" }, "xml" },
    ];

    [TestCaseSource(nameof(s_verbs))]
    public void Missing_input(string verb, string[] args, string kind) =>
        AssertRefused(args, _dir.File($"absent-{verb}"), "does not exist");

    [TestCaseSource(nameof(s_verbs))]
    public void Directory_as_input(string verb, string[] args, string kind) =>
        AssertRefused(args, _dir.Subdirectory($"dir-{verb}"), "is a directory");

    [TestCaseSource(nameof(s_verbs))]
    public void Empty_input(string verb, string[] args, string kind) =>
        AssertRefused(args, Write($"empty-{verb}", []), kind == "xml" ? "empty file" : "too small");

    [TestCaseSource(nameof(s_verbs))]
    public void Too_small_input(string verb, string[] args, string kind) =>
        AssertRefused(args, Write($"small-{verb}", File.ReadAllBytes(kind == "dm-era" ? _dmEra : _native)[..100]),
            kind == "xml" ? "binary data" : "too small");

    [TestCaseSource(nameof(s_verbs))]
    public void Wrong_kind_of_input(string verb, string[] args, string kind)
    {
        if (kind == "xml") AssertRefused(args, Write($"binary-{verb}", File.ReadAllBytes(_native)), "binary data, expected era XML");
        else AssertRefused(args, Write($"xml-{verb}", File.ReadAllBytes(_xml)), "looks like XML");
    }

    [TestCaseSource(nameof(s_verbs))]
    public void Corrupt_input(string verb, string[] args, string kind)
    {
        if (kind == "xml")
        {
            // Truncated mid-element: the message carries the line and column.
            AssertRefused(args, Write($"bad-{verb}.xml", File.ReadAllBytes(_xml)[..150]), $"bad-{verb}.xml:");
            return;
        }
        var bytes = File.ReadAllBytes(kind == "dm-era" ? _dmEra : _native);
        bytes[200] ^= 0x40;
        AssertRefused(args, Write($"corrupt-{verb}", bytes), "checksum");
    }

    [TestCaseSource(nameof(s_verbs))]
    public void Read_only_output(string verb, string[] args, string kind)
    {
        args = verb switch
        {
            "dump" => ["dump", "-o", "{out}", "{in}"],
            "invalidate" => ["invalidate", "--written-since", "0", "-o", "{out}", "{in}"],
            _ => args,
        };
        if (!args.Contains("{out}")) Assert.Ignore($"{verb} writes no file");
        var readOnly = _dir.Subdirectory($"ro-{verb}");
        if (HostTools.Run("mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", readOnly).ExitCode != 0) Assert.Ignore("cannot mount a read-only tmpfs here");
        try
        {
            var input = kind switch { "xml" => _xml, "dm-era" => _dmEra, _ => _native };
            var before = Sha256(input);
            var r = Erafs.Run(Fill(args, input, Path.Combine(readOnly, "out")));
            AssertOneLine(r, "Read-only file system");
            Assert.That(Sha256(input), Is.EqualTo(before), "input untouched");
        }
        finally
        {
            HostTools.Run("umount", readOnly);
        }
    }

    [Test]
    public void Malformed_xml_leaves_an_existing_output_untouched()
    {
        var output = Write("existing.era", File.ReadAllBytes(_native));
        var before = Sha256(output);
        var bad = Write("bad.xml", System.Text.Encoding.UTF8.GetBytes(Xml.Replace("value=\"true\"", "value=\"maybe\"")));
        var r = Erafs.Run("restore", "-i", bad, "-o", output);
        AssertOneLine(r, $"{bad}:3:");
        Assert.That(r.Stderr, Does.Contain("value=\"maybe\" is not a boolean"));
        Assert.That(Sha256(output), Is.EqualTo(before));
        Assert.That(Directory.GetFiles(_dir.Path, ".existing.era*"), Is.Empty, "no temporary file left");
    }

    private void AssertRefused(string[] args, string input, string expected)
    {
        var output = _dir.File($"out-{Guid.NewGuid():N}");
        var before = File.Exists(input) ? Sha256(input) : null;
        var r = Erafs.Run(Fill(args, input, output));
        AssertOneLine(r, expected);
        if (before != null) Assert.That(Sha256(input), Is.EqualTo(before), "input untouched");
        Assert.That(File.Exists(output), Is.False, "no output written");
    }

    private static void AssertOneLine(HostTools.Result r, string expected)
    {
        Assert.That(r.ExitCode, Is.Not.Zero, r.Stdout);
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(1), "one line, no stack trace:\n" + r.Stderr);
        Assert.That(lines[0], Does.StartWith("erafs: ").And.Contain(expected));
    }

    private string[] Fill(string[] args, string input, string output) =>
        args.Select(a => a.Replace("{in}", input).Replace("{out}", output).Replace("{origin}", _origin)).ToArray();

    private string Write(string name, byte[] bytes)
    {
        var path = _dir.File(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static string Sha256(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));
}

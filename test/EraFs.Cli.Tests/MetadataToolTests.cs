using System.Security.Cryptography;
using EraFs.Metadata;
using EraFs.TestSupport;

namespace EraFs.Cli.Tests;

/// <summary>dump, restore, check and the needs-check refusal as scripts use them.</summary>
[TestFixture]
public class MetadataToolTests
{
    private const string Xml = """
        <superblock uuid="" block_size="128" nr_blocks="40" current_era="9">
          <writeset era="6" nr_bits="40">
            <bit block="2" value="true"/>
            <bit block="3" value="true"/>
          </writeset>
          <writeset era="8" nr_bits="40">
            <bit block="3" value="true"/>
            <bit block="39" value="true"/>
          </writeset>
          <writeset era="9" nr_bits="40">
            <bit block="20" value="true"/>
          </writeset>
          <era_array>
            <era block="0" era="1"/>
            <era block="5" era="4"/>
          </era_array>
        </superblock>
        """;

    private TestDirectory _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new TestDirectory("tools");

    [TearDown]
    public void TearDown() => _dir.Dispose();

    private string Restore(string name)
    {
        var xml = _dir.File(name + ".xml");
        File.WriteAllText(xml, Xml);
        var meta = _dir.File(name + ".era");
        Erafs.Run("restore", "-i", xml, "-o", meta).Ok();
        return meta;
    }

    [Test]
    public void Dump_restore_dump_is_byte_identical()
    {
        var first = Erafs.Run("dump", Restore("a")).Ok().Stdout;
        var xml = _dir.File("dumped.xml");
        File.WriteAllText(xml, first);
        var again = _dir.File("again.era");
        Erafs.Run("restore", "-i", xml, "-o", again).Ok();
        Assert.That(Erafs.Run("dump", again).Ok().Stdout, Is.EqualTo(first));
        Assert.That(first, Does.Contain("<writeset era=\"9\" nr_bits=\"40\">"), "the current era's writeset is dumped under the current era");
    }

    [Test]
    public void Logical_dump_gives_each_block_its_newest_era()
    {
        var dump = Erafs.Run("dump", "--logical", Restore("l")).Ok().Stdout;
        Assert.That(dump, Does.Not.Contain("<writeset"));
        Assert.That(dump, Does.Contain("<era block=\"3\" era=\"8\"/>").And.Contain("<era block=\"20\" era=\"9\"/>").And.Contain("<era block=\"5\" era=\"4\"/>"));
    }

    [Test]
    public void Export_import_round_trip_keeps_the_dump()
    {
        var meta = Restore("x");
        var dm = _dir.File("x.dmera");
        Erafs.Run("export", "--format", "dm-era", "-o", dm, meta).Ok();
        var origin = _dir.SparseFile("origin.img", 40 * 65536);
        var back = _dir.File("back.era");
        Erafs.Run("import", "-i", dm, "-o", back, "--origin", origin).Ok();
        Assert.That(Erafs.Run("dump", back).Ok().Stdout, Is.EqualTo(Erafs.Run("dump", meta).Ok().Stdout));
    }

    [Test]
    public void Check_reports_every_damaged_structure_and_changes_nothing()
    {
        var meta = Restore("c");
        var bytes = File.ReadAllBytes(meta);
        var blocks = bytes.Length / 4096;
        // Damage every data block after the journal (2 slots + 64 journal blocks): each structure is hit.
        for (var b = 66; b < blocks; b++) bytes[b * 4096 + 100] ^= 0xFF;
        File.WriteAllBytes(meta, bytes);
        var before = Convert.ToHexString(SHA256.HashData(bytes));

        var r = Erafs.Run("check", meta);
        Assert.That(r.ExitCode, Is.EqualTo(3), "distinct exit code for damaged metadata");
        var reported = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(reported, Has.Length.GreaterThanOrEqualTo(3), r.Stdout);
        Assert.That(reported, Has.All.Match(@"block \d+ \(.+\): "));
        Assert.That(r.Stderr.Trim().Split('\n'), Has.Length.EqualTo(1));
        Assert.That(Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(meta))), Is.EqualTo(before));
        Assert.That(Erafs.Run("check", "-q", meta).Stdout, Is.Empty);
        Assert.That(Erafs.Run("check", "--super-block-only", meta).ExitCode, Is.Zero, "the superblock itself is sound");
    }

    [Test]
    public void Repair_dump_salvages_what_is_readable()
    {
        var meta = Restore("r");
        var bytes = File.ReadAllBytes(meta);
        for (var b = 66; b < bytes.Length / 4096; b++)
            if (bytes[b * 4096 + 4] == (byte)BlockKind.EraPage) bytes[b * 4096 + 100] ^= 0xFF;
        File.WriteAllBytes(meta, bytes);
        Assert.That(Erafs.Run("dump", meta).ExitCode, Is.EqualTo(3));
        var r = Erafs.Run("dump", "--repair", meta).Ok();
        // Block 5 was last written in era 4; its page is unreadable, so it gets the current era, never 0.
        Assert.That(r.Stdout, Does.Contain("<writeset era=\"8\"").And.Contain("<era block=\"5\" era=\"9\"/>"));
        Assert.That(r.Stderr, Does.Contain("(era array page)").And.Contain("repair: 40 blocks whose era could not be read were given era 9"));
    }

    [Test]
    public void Mount_of_damaged_metadata_flagged_needs_check_is_refused_with_a_pointer_to_check()
    {
        var meta = Restore("n");
        using (var store = MetadataStore.Open(meta)) store.SetNeedsCheck("test: fdatasync failed");
        var bytes = File.ReadAllBytes(meta);
        for (var b = 66; b < bytes.Length / 4096; b++)
            if (bytes[b * 4096 + 4] == (byte)BlockKind.EraPage) bytes[b * 4096 + 100] ^= 0xFF;
        File.WriteAllBytes(meta, bytes);
        var origin = _dir.SparseFile("origin.img", 40 * 65536);
        var r = Erafs.Run("mount", "--foreground", "--origin", origin, "--metadata", meta, _dir.Subdirectory("mnt"));
        Assert.That(r.ExitCode, Is.EqualTo(3), r.Stderr);
        var lines = r.Stderr.Trim().Split('\n');
        Assert.That(lines, Has.Length.EqualTo(1), r.Stderr);
        Assert.That(lines[0], Does.Contain(meta).And.Contain("fdatasync failed").And.Contain($"run 'erafs check {meta}'"));
    }
}

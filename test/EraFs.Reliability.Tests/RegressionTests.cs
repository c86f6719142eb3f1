using EraFs.Core;
using EraFs.Metadata;
using EraFs.TestSupport;

namespace EraFs.Reliability.Tests;

/// <summary>Regression tests for bugs the reliability scenarios found, each named after the scenario that found it.</summary>
[TestFixture]
[Category("Reliability")]
public class RegressionTests
{
    [Test]
    public void S1_metadata_whose_first_checksum_byte_is_a_less_than_sign_is_not_taken_for_xml()
    {
        using var dir = new TestDirectory("s1-xml");
        var path = dir.File("meta.bin");
        using (var store = MetadataStore.Create(path, EraGeometry.For(64L * 4096, 4096)))
        {
            // Every transaction rewrites a superblock slot; about one in 256 gives slot A a CRC starting with '<'.
            for (var i = 0; i < 20_000 && ReadFirstByte(path) != (byte)'<'; i++) store.SetClean(i % 2 == 0, TrackedStack.OriginMtime);
        }
        Assume.That(ReadFirstByte(path), Is.EqualTo((byte)'<'), "no superblock checksum began with '<'");
        var r = ErafsCli.Run("invalidate", "--written-since", "0", "--format", "count", path);
        Assert.That(r.ExitCode, Is.Zero, r.Stderr);
    }

    private static byte ReadFirstByte(string path)
    {
        using var file = File.OpenRead(path);
        return (byte)file.ReadByte();
    }

    [Test]
    public void S9_a_live_reader_racing_journal_appends_is_not_told_the_metadata_is_damaged()
    {
        using var dir = new TestDirectory("s9-journal");
        var path = dir.File("meta.bin");
        const ulong nrBlocks = 100_000;
        using var store = MetadataStore.Create(path, EraGeometry.For((long)nrBlocks * 4096, 4096));
        store.Rollover();
        var stop = DateTime.UtcNow.AddSeconds(3);
        var refusals = new List<string>();
        var reader = new Thread(() =>
        {
            while (DateTime.UtcNow < stop)
            {
                try
                {
                    using var live = MetadataReader.Open(path);
                    _ = live.WrittenSince(1).Count();
                }
                catch (MetadataException e)
                {
                    lock (refusals) refusals.Add(e.Message);
                }
            }
        });
        reader.Start();
        var random = new Random(9);
        // Small group commits append to the journal, which folds into the writeset when full and starts a new epoch.
        while (DateTime.UtcNow < stop) store.CommitMarks([new BlockRun((ulong)random.NextInt64(0, (long)nrBlocks), 1)]);
        reader.Join();
        Assert.That(refusals, Is.Empty);
    }
}

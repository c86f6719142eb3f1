using EraFs.Core;

namespace EraFs.Metadata.Tests;

/// <summary>A reader on a real file while a writer thread commits, rolls over and digests.</summary>
public class LiveReaderTests
{
    private const ulong NrBlocks = 200_000;

    private static ulong BlockOf(int mark) => (ulong)mark * 7919 % NrBlocks;

    [Test]
    public void ReaderSeesEveryMarkAcknowledgedBeforeItStarted()
    {
        var dir = Directory.CreateTempSubdirectory("erafs-live-");
        var path = Path.Combine(dir.FullName, "meta.bin");
        try
        {
            var acknowledged = 0;
            var done = false;
            using var store = MetadataStore.Create(path, EraGeometry.For((long)NrBlocks * 4096, 4096));
            store.Rollover();
            var writer = Task.Run(() =>
            {
                for (var i = 0; i < 400; i++)
                {
                    store.CommitMarks([new BlockRun(BlockOf(i), 1)]);
                    Volatile.Write(ref acknowledged, i + 1);
                    if (i % 25 == 24) store.Rollover();
                    if (i % 10 == 5) store.DigestStep();
                }
                Volatile.Write(ref done, true);
            });
            var reads = 0;
            while (!Volatile.Read(ref done) || reads == 0)
            {
                var before = Volatile.Read(ref acknowledged);
                using var reader = MetadataReader.Open(path);
                var runs = reader.WrittenSince(1).ToList();
                for (var i = 0; i < before; i++)
                {
                    var block = BlockOf(i);
                    Assert.That(runs.Any(r => r.Start <= block && block < r.End), Is.True,
                        $"read {reads}: mark {i} (block {block}) acknowledged before the read is missing");
                }
                Assert.That(runs.Zip(runs.Skip(1)).All(p => p.First.End < p.Second.Start), Is.True, "ascending and merged");
                reads++;
            }
            writer.Wait();
            TestContext.Out.WriteLine($"live reader: {reads} consistent reads during 400 commits");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}

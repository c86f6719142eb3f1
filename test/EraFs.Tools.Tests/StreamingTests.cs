using EraFs.Core;
using EraFs.Metadata;
using EraFs.TestSupport;
using EraFs.Tools.DmEra;

namespace EraFs.Tools.Tests;

/// <summary>
/// The streamed history gives what the dense arrays gave: the same dm-era bytes, the same XML, the
/// same native content, for generated histories with sparse and empty writesets, long era-array
/// runs, held snapshots and block counts that are not a multiple of 64.
/// </summary>
[TestFixture]
public class StreamingTests
{
    private TestDirectory _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new TestDirectory("streaming");

    [TearDown]
    public void TearDown() => _dir.Dispose();

    private static readonly object[] s_cases =
    [
        new object[] { 1, 1UL, 1, false },
        new object[] { 2, 63UL, 3, true },
        new object[] { 3, 65UL, 0, true },
        new object[] { 4, 1019UL, 6, true },
        new object[] { 5, 32577UL, 4, true },
        new object[] { 6, 70001UL, 3, false },
        new object[] { 7, 3001UL, 9, true },
    ];

    [TestCaseSource(nameof(s_cases))]
    public void Streamed_dm_era_image_is_byte_for_byte_the_dense_one(int seed, ulong blocks, int writesets, bool snapshot)
    {
        var history = WithEmptyWriteset(HistoryGenerator.Generate(seed, blocks, writesets, snapshot));
        foreach (var currentInSuperblock in new[] { false, true })
        {
            var dense = DenseDmEraReference.Write(history, currentInSuperblock);
            var streamed = DmEraWriter.Write(history, currentInSuperblock);
            Assert.That(streamed.TotalBlocks, Is.EqualTo(dense.TotalBlocks));
            Assert.That(Bytes(streamed), Is.EqualTo(Bytes(dense)), $"currentInSuperblock {currentInSuperblock}");

            var path = _dir.File("image.bin");
            var size = DmEraWriter.WriteFile(StreamedHistory.FromDense(history), path, currentInSuperblock);
            Assert.That(size.TotalBlocks, Is.EqualTo(dense.TotalBlocks));
            Assert.That(File.ReadAllBytes(path), Is.EqualTo(Bytes(dense)), "the file holds the same bytes, holes reading as zeros");
        }
    }

    [TestCaseSource(nameof(s_cases))]
    public void Native_stream_shows_what_the_dense_load_shows(int seed, ulong blocks, int writesets, bool snapshot)
    {
        var history = HistoryGenerator.Generate(seed, blocks, writesets, snapshot);
        var native = _dir.File("n.era");
        EraTools.WriteNative(history, native);
        using var reader = MetadataReader.Open(native);
        var dense = NativeHistory.Load(reader);
        var streamed = NativeHistory.Stream(reader);
        var collected = streamed.ToDense();
        Assert.That(EraTools.Dump(collected), Is.EqualTo(EraTools.Dump(dense)));
        Assert.That(EraTools.Dump(collected, logical: true), Is.EqualTo(EraTools.Dump(dense, logical: true)));
        Assert.That(Xml(streamed, logical: false), Is.EqualTo(EraTools.Dump(dense)));
        Assert.That(Xml(streamed, logical: true), Is.EqualTo(DenseLogicalDump(dense)));
        Assert.That(streamed.Snapshot is null, Is.EqualTo(dense.Snapshot is null));
        if (dense.Snapshot is { } s)
            Assert.That(EraTools.Dump(collected with { Live = collected.Snapshot! }), Is.EqualTo(EraTools.Dump(dense with { Live = s })));
        Assert.That(Bytes(DmEraWriter.Write(collected, currentInSuperblock: true)), Is.EqualTo(Bytes(DenseDmEraReference.Write(dense, currentInSuperblock: true))));
    }

    [TestCaseSource(nameof(s_cases))]
    public void Dm_era_stream_reads_what_the_dense_reader_reads(int seed, ulong blocks, int writesets, bool snapshot)
    {
        var history = WithEmptyWriteset(HistoryGenerator.Generate(seed, blocks, writesets, snapshot));
        foreach (var currentInSuperblock in new[] { false, true })
        {
            var image = DmEraWriter.Write(history, currentInSuperblock);
            var dense = DmEraReader.Read(new DmImageReader(image));
            var streamed = DmEraReader.Stream(new DmImageReader(image)).ToDense();
            Assert.That(EraTools.Dump(streamed), Is.EqualTo(EraTools.Dump(dense)));
            Assert.That(streamed.Snapshot is null, Is.EqualTo(dense.Snapshot is null));
            if (dense.Snapshot is { } s)
                Assert.That(EraTools.Dump(streamed with { Live = streamed.Snapshot! }), Is.EqualTo(EraTools.Dump(dense with { Live = s })));
        }
    }

    [Test]
    public void A_current_writeset_also_archived_under_the_current_era_streams_as_their_union()
    {
        var history = HistoryGenerator.Generate(seed: 21, nrBlocks: 5000, writesets: 3, snapshot: false);
        var live = history.Live;
        var archivedToo = EraWriteset.FromRuns(live.CurrentEra, 5000, [new BlockRun(12, 100)]);
        var image = DmEraWriter.Write(history with { Live = live with { Writesets = [.. live.Writesets.Where(w => w.Era != live.CurrentEra), archivedToo] } });
        // Point the superblock's current writeset at the oldest archived bitset, as a crash between
        // an archive and the next rollover can leave it.
        var superblock = DmSuperblock.Unpack(new DmImageReader(image), 0);
        var (_, value) = DmBtree.Walk(new DmImageReader(image), superblock.WritesetTreeRoot, 12, "tree").First();
        var root = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(value.Span[4..]);
        (superblock with { CurrentWritesetBits = 5000, CurrentWritesetRoot = root }).Pack(image.Block(0));
        var dense = DmEraReader.Read(new DmImageReader(image));
        var streamed = DmEraReader.Stream(new DmImageReader(image)).ToDense();
        Assert.That(dense.Live.Writesets[^1].Era, Is.EqualTo(live.CurrentEra));
        Assert.That(EraTools.Dump(streamed), Is.EqualTo(EraTools.Dump(dense)));
    }

    [Test]
    public void Xml_in_any_order_restores_as_the_dense_collector_reads_it()
    {
        const string xml =
            "<superblock uuid=\"\" block_size=\"128\" nr_blocks=\"100\" current_era=\"5\">\n" +
            "  <writeset era=\"2\" nr_bits=\"100\">\n" +
            "    <bit block=\"9\" value=\"true\"/>\n    <bit block=\"3\" value=\"true\"/>\n    <bit block=\"4\" value=\"true\"/>\n" +
            "    <bit block=\"4\" value=\"false\"/>\n    <marked block_begin=\"50\" len=\"20\"/>\n    <bit block=\"10\" value=\"true\"/>\n" +
            "  </writeset>\n" +
            "  <writeset era=\"5\" nr_bits=\"100\">\n    <marked block_begin=\"0\" len=\"100\"/>\n  </writeset>\n" +
            "  <era_array>\n    <era block=\"7\" era=\"1\"/>\n    <era block=\"8\" era=\"1\"/>\n    <era block=\"2\" era=\"3\"/>\n" +
            "    <era block=\"7\" era=\"0\"/>\n    <era block=\"99\" era=\"4\"/>\n  </era_array>\n" +
            "</superblock>\n";
        var path = _dir.File("in.xml");
        File.WriteAllText(path, xml);
        var dense = XmlRestoreReader.ReadFile(path);
        Assert.That(dense.Live.Eras[7], Is.Zero, "a later entry overrides an earlier one");
        Assert.That(dense.Live.Writesets[0].Runs(), Is.EqualTo(new[] { new BlockRun(3, 2), new BlockRun(9, 2), new BlockRun(50, 20) }));
        var native = _dir.File("n.era");
        using (var stream = File.OpenRead(path))
        using (var writer = new NativeHistoryWriter(native, null, null))
            XmlRestoreReader.Read(path, stream, writer);
        Assert.That(EraTools.Dump(EraTools.LoadNative(native)), Is.EqualTo(EraTools.Dump(dense)));
        Assert.That(MetadataChecker.Check(native), Is.Empty);
    }

    [Test]
    public void A_history_larger_than_the_builders_memory_is_written_ahead_and_reads_back_whole()
    {
        // 3 Mi blocks: about 3000 era pages, past the 2048 fresh pages the builder keeps; the runs come
        // out of order so some pages written ahead are taken back and changed.
        const ulong nrBlocks = 3UL << 20;
        var eras = new uint[nrBlocks];
        var random = new Random(8);
        for (ulong b = 0; b < nrBlocks; b += (ulong)random.Next(1, 2000)) eras[b] = (uint)random.Next(1, 4);
        var writeset = EraWriteset.FromRuns(4, nrBlocks, [new BlockRun(0, nrBlocks / 2), new BlockRun(nrBlocks - 7, 7)]);
        var history = new EraHistory(HistoryGenerator.BlockSizeSectors, nrBlocks, new EraState(5, [writeset], eras), null);
        var streamed = StreamedHistory.FromDense(history);
        var shuffled = new StreamedView(5, streamed.Live.Writesets, streamed.Live.WritesetRuns,
            () => streamed.Live.EraRuns().Where(r => r.Era != 0).OrderBy(r => r.Start % 7).ToList());
        var native = _dir.File("big.era");
        NativeHistory.Write(streamed with { Live = shuffled }, native, null, null);
        Assert.That(MetadataChecker.Check(native), Is.Empty);
        using var reader = MetadataReader.Open(native);
        Assert.That(reader.EraArrayRuns(), Is.EqualTo(StreamedView.RunsOf(eras)));
        Assert.That(reader.ArchivedWritesetRuns(4), Is.EqualTo(writeset.Runs()));
    }

    private static EraHistory WithEmptyWriteset(EraHistory history)
    {
        var live = history.Live;
        if (live.Writesets.Count == 0 || live.Writesets[0].Era < 2) return history;
        var empty = EraWriteset.Empty(live.Writesets[0].Era - 1, history.NrBlocks);
        return history with { Live = live with { Writesets = [empty, .. live.Writesets] } };
    }

    private static string Xml(StreamedHistory history, bool logical)
    {
        var text = new StringWriter();
        history.Accept(new XmlDumpWriter(text), logical);
        return text.ToString();
    }

    /// <summary>The logical dump computed densely, block by block, as the writer did before it streamed.</summary>
    private static string DenseLogicalDump(EraHistory history)
    {
        var eras = (uint[])history.Live.Eras.Clone();
        foreach (var ws in history.Live.Writesets)
            for (ulong b = 0; b < ws.NrBits && b < (ulong)eras.Length; b++)
                if (ws.IsSet(b)) eras[b] = Math.Max(eras[b], ws.Era);
        return EraTools.Dump(history with { Live = new EraState(history.Live.CurrentEra, [], eras) });
    }

    private static byte[] Bytes(DmMetadataImage image)
    {
        var bytes = new byte[image.Length];
        image.Read(bytes, 0);
        return bytes;
    }
}

using System.Text;
using System.Text.Json;
using EraFs.Core;

namespace EraFs.Tools.Tests;

[TestFixture]
public class InvalidationReportTests
{
    private static readonly BlockRun[] s_runs = [new(2, 2), new(9, 1), new(11, 5)];

    [Test]
    public void Xml_has_era_invalidate_shape()
    {
        var w = new StringWriter();
        InvalidationReport.WriteXml(s_runs, w);
        Assert.That(w.ToString(), Is.EqualTo(
            "<blocks>\n  <range begin=\"2\" end=\"4\"/>\n  <block block=\"9\"/>\n  <range begin=\"11\" end=\"16\"/>\n</blocks>\n"));
    }

    [Test]
    public void Xml_with_spaced_end_is_byte_identical_to_era_invalidate_0_9_0()
    {
        var w = new StringWriter();
        InvalidationReport.WriteXml([new(2, 2), new(9, 1)], w, spacedEnd: true);
        // Captured from Debian's era_invalidate 0.9.0 --written-since 3 on the reference example.
        Assert.That(w.ToString(), Is.EqualTo("<blocks>\n  <range begin=\"2\" end = \"4\"/>\n  <block block=\"9\"/>\n</blocks>\n"));
    }

    [Test]
    public void Empty_xml_is_an_empty_blocks_element()
    {
        var w = new StringWriter();
        InvalidationReport.WriteXml([], w);
        Assert.That(w.ToString(), Is.EqualTo("<blocks>\n</blocks>\n"));
    }

    [Test]
    public void Count_counts_only_the_bytes_of_a_partial_last_block()
    {
        var g = new EraGeometry(65536, 16, 15 * 65536 + 100);
        var w = new StringWriter();
        InvalidationReport.WriteCount(s_runs, g, w);
        Assert.That(w.ToString(), Is.EqualTo($"blocks: 8\nbytes: {7 * 65536 + 100}\n"));
    }

    [Test]
    public void Json_lists_half_open_ranges_and_totals()
    {
        var g = new EraGeometry(4096, 16, 16 * 4096);
        using var ms = new MemoryStream();
        InvalidationReport.WriteJson(s_runs, g, 3, ms);
        using var doc = JsonDocument.Parse(Encoding.UTF8.GetString(ms.ToArray()));
        var root = doc.RootElement;
        Assert.That(root.GetProperty("written_since").GetUInt32(), Is.EqualTo(3));
        Assert.That(root.GetProperty("ranges").EnumerateArray().Select(r => (r[0].GetUInt64(), r[1].GetUInt64())),
            Is.EqualTo(new[] { (2UL, 4UL), (9UL, 10UL), (11UL, 16UL) }));
        Assert.That(root.GetProperty("blocks").GetUInt64(), Is.EqualTo(8));
        Assert.That(root.GetProperty("bytes").GetInt64(), Is.EqualTo(8 * 4096));
    }

    [Test]
    public void Json_streams_a_million_ranges_without_holding_them()
    {
        var g = new EraGeometry(4096, 2_000_000, 2_000_000L * 4096);
        static IEnumerable<BlockRun> Alternate()
        {
            for (ulong b = 0; b < 2_000_000; b += 2) yield return new BlockRun(b, 1);
        }
        var counting = new CountingStream();
        InvalidationReport.WriteJson(Alternate(), g, 1, counting);
        Assert.That(counting.Writes, Is.GreaterThan(100), "flushed as it goes, not once at the end");
        Assert.That(counting.Length, Is.GreaterThan(1_000_000 * 4));
    }

    private sealed class CountingStream : Stream
    {
        private long _length;
        public int Writes { get; private set; }
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => _length;
        public override long Position { get => _length; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count)
        {
            _length += count;
            Writes++;
        }
        public override void Write(ReadOnlySpan<byte> buffer)
        {
            _length += buffer.Length;
            Writes++;
        }
    }
}

using System.Globalization;
using System.Text.Json;
using EraFs.Core;

namespace EraFs.Tools;

/// <summary>How <c>erafs invalidate</c> prints the blocks to invalidate.</summary>
public enum InvalidationFormat
{
    /// <summary>era_invalidate's XML: &lt;blocks&gt; with &lt;block/&gt; and half-open &lt;range/&gt; elements.</summary>
    Xml,

    /// <summary>One JSON object with merged [begin, end) ranges, streamed.</summary>
    Json,

    /// <summary>The number of blocks and of bytes they cover.</summary>
    Count,
}

/// <summary>
/// Writes the blocks written since an era in the formats scripts parse. Runs arrive merged and
/// ascending and are written as they come, so millions of ranges never sit in memory.
/// </summary>
public static class InvalidationReport
{
    /// <summary>
    /// era_invalidate's XML. 0.9.0 prints <c>end = "E"</c> (spaces around '='); we print <c>end="E"</c>
    /// as the later releases do, unless <paramref name="spacedEnd"/> asks for 0.9.0's bytes. XML parsers
    /// read both the same.
    /// </summary>
    public static void WriteXml(IEnumerable<BlockRun> runs, TextWriter output, bool spacedEnd = false)
    {
        var endAttr = spacedEnd ? "\" end = \"" : "\" end=\"";
        output.Write("<blocks>\n");
        foreach (var r in runs)
        {
            if (r.Count == 1)
                output.Write($"  <block block=\"{r.Start.ToString(CultureInfo.InvariantCulture)}\"/>\n");
            else
                output.Write($"  <range begin=\"{r.Start.ToString(CultureInfo.InvariantCulture)}{endAttr}{r.End.ToString(CultureInfo.InvariantCulture)}\"/>\n");
        }
        output.Write("</blocks>\n");
    }

    /// <summary>
    /// {"block_size":B,"nr_blocks":N,"written_since":E,"ranges":[[begin,end],...],"blocks":C,"bytes":S}
    /// with half-open block ranges; flushed every few thousand ranges.
    /// </summary>
    public static void WriteJson(IEnumerable<BlockRun> runs, EraGeometry geometry, uint since, Stream output)
    {
        using var json = new Utf8JsonWriter(output);
        json.WriteStartObject();
        json.WriteNumber("block_size", geometry.BlockSize);
        json.WriteNumber("nr_blocks", geometry.NrBlocks);
        json.WriteNumber("written_since", since);
        json.WriteStartArray("ranges");
        ulong blocks = 0;
        long bytes = 0;
        var pending = 0;
        foreach (var r in runs)
        {
            json.WriteStartArray();
            json.WriteNumberValue(r.Start);
            json.WriteNumberValue(r.End);
            json.WriteEndArray();
            blocks += r.Count;
            bytes += BytesIn(r, geometry);
            if (++pending == 4096)
            {
                json.Flush();
                pending = 0;
            }
        }
        json.WriteEndArray();
        json.WriteNumber("blocks", blocks);
        json.WriteNumber("bytes", bytes);
        json.WriteEndObject();
        json.Flush();
        output.WriteByte((byte)'\n');
    }

    /// <summary>"blocks: N" and "bytes: M" (the last block counts only the bytes the origin has).</summary>
    public static void WriteCount(IEnumerable<BlockRun> runs, EraGeometry geometry, TextWriter output)
    {
        ulong blocks = 0;
        long bytes = 0;
        foreach (var r in runs)
        {
            blocks += r.Count;
            bytes += BytesIn(r, geometry);
        }
        output.Write($"blocks: {blocks.ToString(CultureInfo.InvariantCulture)}\nbytes: {bytes.ToString(CultureInfo.InvariantCulture)}\n");
    }

    /// <summary>Bytes of the origin a run covers: whole blocks, except a partial last block.</summary>
    public static long BytesIn(BlockRun run, EraGeometry geometry)
    {
        var start = (long)run.Start * geometry.BlockSize;
        var end = Math.Min((long)run.End * geometry.BlockSize, geometry.OriginSize);
        return Math.Max(0, end - start);
    }
}

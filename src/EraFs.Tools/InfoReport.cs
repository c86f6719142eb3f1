using System.Globalization;
using System.Text;
using System.Text.Json;
using EraFs.Metadata;
using EraFs.Storage;

namespace EraFs.Tools;

/// <summary>One named fact; Value is null (printed "-"), a bool, a whole or decimal number, a string, or a list of [begin, end) ranges or of fact lists.</summary>
public readonly record struct Fact(string Key, object? Value);

/// <summary>
/// The facts <c>erafs info</c> prints, from a mount's info file or from metadata at rest, and the
/// writers that print any fact list as <c>key: value</c> lines or as one JSON object with typed values.
/// </summary>
public static class InfoReport
{
    // Info values that stay strings in JSON even when they happen to look like a number: a path or a
    // node name of digits is still a name.
    private static readonly HashSet<string> s_textKeys = new(StringComparer.Ordinal)
    {
        "origin", "generation", "tracking", "state", "last_error", "origin_check", "last_log_error", "last_region_log_error",
        "resync", "transport", "ring_placement", "cluster_node", "cluster_members", "cluster_state", "metadata", "holder", "needs_check_reason", "origin_mtime",
    };

    /// <summary>The lines of MOUNT/info, each value typed: "-" is null, true/false a bool, digits a number, anything else text.</summary>
    public static IReadOnlyList<Fact> FromInfoFile(string text)
    {
        var facts = new List<Fact>();
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var colon = line.IndexOf(": ", StringComparison.Ordinal);
            if (colon <= 0) continue;
            var key = line[..colon];
            facts.Add(new Fact(key, Typed(key, line[(colon + 2)..])));
        }
        return facts;
    }

    private static object? Typed(string key, string value)
    {
        if (value == "-") return null;
        if (s_textKeys.Contains(key)) return value;
        if (value is "true" or "false") return value == "true";
        if (ulong.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var whole)) return whole;
        if (long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var signed)) return signed;
        if (decimal.TryParse(value, NumberStyles.AllowDecimalPoint | NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number))
            return number;
        return value;
    }

    /// <summary>
    /// What a metadata file says of itself without a mount: geometry, era, generation, clean,
    /// needs_check, held snapshot, metadata usage, and whether a mount (or tool) holds it now.
    /// MetadataException for a file that is not sound metadata.
    /// </summary>
    public static IReadOnlyList<Fact> AtRest(string metaPath)
    {
        using var reader = MetadataReader.Open(metaPath);
        var (used, total) = reader.Usage();
        var g = reader.Geometry;
        var holder = FileClaim.FindHolder(metaPath);
        return
        [
            new("metadata", Path.GetFullPath(metaPath)),
            new("block_size", (ulong)g.BlockSize),
            new("nr_blocks", g.NrBlocks),
            new("origin_size", (ulong)g.OriginSize),
            new("current_era", (ulong)reader.CurrentEra),
            new("held_snapshot", reader.HeldSnapshot),
            new("generation", reader.Generation.ToString("D")),
            new("clean", reader.Clean),
            new("needs_check", reader.NeedsCheck),
            new("needs_check_reason", reader.NeedsCheckReason),
            new("origin_mtime", reader.OriginMtimeUtc?.ToString("yyyy-MM-ddTHH:mm:ss.fffffffZ", CultureInfo.InvariantCulture)),
            new("metadata_used_blocks", used),
            new("metadata_total_blocks", total),
            new("held", holder is not null),
            new("holder_pid", holder is null ? null : (long)holder.Pid),
            new("holder", holder?.Description),
        ];
    }

    /// <summary><c>key: value</c> lines as the info file has them; null prints "-".</summary>
    public static void WriteText(IEnumerable<Fact> facts, TextWriter output)
    {
        foreach (var fact in facts) output.Write($"{fact.Key}: {Text(fact.Value)}\n");
    }

    private static string Text(object? value) => value switch
    {
        null => "-",
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "-",
    };

    /// <summary>One JSON object, keys in order, values typed; followed by a newline.</summary>
    public static string Json(IEnumerable<Fact> facts)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = false }))
            WriteObject(json, facts);
        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    private static void WriteObject(Utf8JsonWriter json, IEnumerable<Fact> facts)
    {
        json.WriteStartObject();
        foreach (var fact in facts)
        {
            json.WritePropertyName(fact.Key);
            WriteValue(json, fact.Value);
        }
        json.WriteEndObject();
    }

    private static void WriteValue(Utf8JsonWriter json, object? value)
    {
        switch (value)
        {
            case null: json.WriteNullValue(); break;
            case bool b: json.WriteBooleanValue(b); break;
            case string s: json.WriteStringValue(s); break;
            case ulong u: json.WriteNumberValue(u); break;
            case long l: json.WriteNumberValue(l); break;
            case uint u: json.WriteNumberValue(u); break;
            case int i: json.WriteNumberValue(i); break;
            case decimal d: json.WriteNumberValue(d); break;
            case double d: json.WriteNumberValue(d); break;
            case IEnumerable<(ulong Begin, ulong End)> ranges:
                json.WriteStartArray();
                foreach (var (begin, end) in ranges)
                {
                    json.WriteStartArray();
                    json.WriteNumberValue(begin);
                    json.WriteNumberValue(end);
                    json.WriteEndArray();
                }
                json.WriteEndArray();
                break;
            case IEnumerable<IEnumerable<Fact>> objects:
                json.WriteStartArray();
                foreach (var o in objects) WriteObject(json, o);
                json.WriteEndArray();
                break;
            default: throw new ArgumentException($"a fact of type {value.GetType().Name} has no JSON form", nameof(value));
        }
    }
}

using System.CommandLine;
using EraFs.Core;
using EraFs.Metadata;
using EraFs.Tools;

namespace EraFs.Cli;

/// <summary>erafs invalidate: the blocks written since an era, as era_invalidate prints them (or JSON, or a count).</summary>
internal static class InvalidateVerb
{
    public static Command Command()
    {
        var since = new Option<string>("--written-since") { Description = "Era (inclusive): blocks whose last write era is at least this", Required = true };
        var snapshot = new Option<bool>("--metadata-snapshot") { Description = "Read the held metadata snapshot instead of the newest committed state" };
        var output = new Option<string?>("--output", "-o") { Description = "Write to FILE (replaced whole, never half-written) instead of stdout" };
        var format = new Option<InvalidationFormat>("--format") { Description = "xml (era_invalidate's), json (merged ranges) or count", DefaultValueFactory = _ => InvalidationFormat.Xml };
        var meta = new Argument<string>("META") { Description = "EraFs metadata file (may belong to a live mount)" };
        var cmd = new Command("invalidate", "List the blocks written since an era") { since, snapshot, output, format, meta };
        cmd.SetAction(p => Run(p.GetValue(meta)!, ParseEra(p.GetValue(since)!), p.GetValue(snapshot), p.GetValue(format),
            p.GetValue(output), p.InvocationConfiguration.Output));
        return cmd;
    }

    /// <summary>An era from the command line, or a usage error naming the option and the text.</summary>
    internal static uint ParseEra(string text) =>
        uint.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var era)
            ? era
            : throw new CliException($"--written-since: '{text}' is not an era (a whole number from 0 to {uint.MaxValue})", ExitCode.Usage);

    /// <summary>
    /// The blocks written since an era, from the newest committed state or the held snapshot, and the
    /// geometry they index: what invalidate prints and copy copies. The runs stream from the reader.
    /// </summary>
    internal static (EraGeometry Geometry, IEnumerable<BlockRun> Runs) WrittenSince(MetadataReader reader, string metaPath, uint since, bool useSnapshot)
    {
        var current = useSnapshot ? SnapshotEra(reader) : reader.CurrentEra;
        if (since > current)
            throw new CliException($"{metaPath}: era {since} has not begun (the {(useSnapshot ? "snapshot's" : "current")} era is {current})");
        return (useSnapshot ? reader.SnapshotGeometry : reader.Geometry, reader.WrittenSince(since, useSnapshot));
    }

    public static int Run(string metaPath, uint since, bool useSnapshot, InvalidationFormat format, string? outputPath, TextWriter stdout)
    {
        ToolFiles.RequireBinary(metaPath, "EraFs metadata");
        using var reader = MetadataFiles.OpenReader(metaPath);
        var (geometry, runs) = WrittenSince(reader, metaPath, since, useSnapshot);
        OutputFile.Write(outputPath, stdout, (text, bytes) =>
        {
            switch (format)
            {
                case InvalidationFormat.Json:
                    InvalidationReport.WriteJson(runs, geometry, since, bytes());
                    break;
                case InvalidationFormat.Count:
                    InvalidationReport.WriteCount(runs, geometry, text);
                    break;
                default:
                    InvalidationReport.WriteXml(runs, text);
                    break;
            }
        });
        return (int)ExitCode.Ok;
    }

    private static uint SnapshotEra(MetadataReader reader)
    {
        try
        {
            return reader.SnapshotEra;
        }
        catch (MetadataException ex)
        {
            throw new CliException(ex.Message);
        }
    }
}

using System.CommandLine;
using EraFs.Core;
using EraFs.Tools;

namespace EraFs.Cli;

/// <summary>erafs copy: copies the ranges invalidate would list from a source to the same offsets of a target.</summary>
internal static class CopyVerb
{
    public static Command Command()
    {
        var since = new Option<string>("--written-since") { Description = "Era (inclusive): copy blocks whose last write era is at least this (0: every block)", Required = true, HelpName = "ERA" };
        var snapshot = new Option<bool>("--metadata-snapshot") { Description = "Read the held metadata snapshot instead of the newest committed state" };
        var from = new Option<string>("--from") { Description = "Where the data is read: MOUNT/device, the origin, or a snapshot of it", Required = true, HelpName = "SOURCE" };
        var to = new Option<string>("--to") { Description = "File or block device written at the same offsets (a missing file is created sparse)", Required = true, HelpName = "TARGET" };
        var format = new Option<CopySummaryFormat>("--format") { Description = "The summary as text or json", DefaultValueFactory = _ => CopySummaryFormat.Text };
        var meta = new Argument<string>("META") { Description = "EraFs metadata file (may belong to a live mount)" };
        var progress = new ProgressOptions();
        var cmd = new Command("copy", "Copy the blocks written since an era from SOURCE to TARGET") { since, snapshot, from, to, format, meta };
        progress.AddTo(cmd);
        cmd.SetAction(p => Run(p.GetValue(meta)!, InvalidateVerb.ParseEra(p.GetValue(since)!), p.GetValue(snapshot), p.GetValue(from)!, p.GetValue(to)!,
            p.GetValue(format), p.InvocationConfiguration.Output, progress.Choice(p)));
        return cmd;
    }

    public static int Run(string metaPath, uint since, bool useSnapshot, string source, string target, CopySummaryFormat format, TextWriter stdout,
        ProgressChoice progress)
    {
        ToolFiles.RequireBinary(metaPath, "EraFs metadata");
        using var reader = MetadataFiles.OpenReader(metaPath);
        var (geometry, runs) = InvalidateVerb.WrittenSince(reader, metaPath, since, useSnapshot);
        if (Directory.Exists(target)) throw new CliException($"{target}: is a directory, not a file or block device to copy to");
        using var copy = RangeCopy.Open(source, target);
        using var meter = progress.Start("copy", geometry.NrBlocks, 0, ProgressUnit.Bytes);
        // Only a meter needs the total up front: it costs one more pass over the metadata.
        if (meter is not null) meter.Total = (ulong)RangeCopy.TotalBytes(runs, geometry);
        RangeCopySummary summary;
        try
        {
            summary = copy.Copy(runs, geometry, meter is null ? null : done => meter.Report((ulong)done));
        }
        catch (RangeCopyException ex) when (ex.InnerException is MetadataCorruptException)
        {
            throw new CliException(ex.Message, ExitCode.MetadataDamaged);
        }
        meter?.Finish();
        stdout.Write(summary.Format(format));
        return (int)ExitCode.Ok;
    }
}

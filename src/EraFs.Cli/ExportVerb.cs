using System.CommandLine;
using EraFs.Core;
using EraFs.Tools;
using EraFs.Tools.DmEra;

namespace EraFs.Cli;

/// <summary>erafs export: the history (and held snapshot) as kernel dm-era metadata.</summary>
internal static class ExportVerb
{
    public static Command Command()
    {
        var format = new Option<string>("--format") { Description = "Output format: dm-era (the kernel target's on-disk metadata)", Required = true };
        format.AcceptOnlyFromAmong("dm-era");
        var output = new Option<string>("--output", "-o") { Description = "File to write (replaced whole, never half-written)", Required = true };
        var meta = new Argument<string>("META") { Description = "EraFs metadata file (may belong to a live mount)" };
        var progress = new ProgressOptions();
        var cmd = new Command("export", "Write the history as dm-era metadata") { format, output, meta };
        progress.AddTo(cmd);
        cmd.SetAction(p => Run(p.GetValue(meta)!, p.GetValue(output)!, p.InvocationConfiguration.Output, progress.Choice(p)));
        return cmd;
    }

    public static int Run(string metaPath, string outputPath, TextWriter stdout, ProgressChoice progress)
    {
        ToolFiles.RequireBinary(metaPath, "EraFs metadata");
        using var reader = MetadataFiles.OpenReader(metaPath);
        var history = NativeHistory.Stream(reader);
        DmImageSize size;
        try
        {
            size = DmEraWriter.Plan(history);
        }
        catch (ArgumentException ex)
        {
            throw new CliException($"{metaPath}: {ex.Message}");
        }
        using var meter = progress.Start("export", history.NrBlocks, 2 * HistoryProgress.PassBlocks(history), ProgressUnit.Blocks);
        if (meter is not null) history = new HistoryProgress(meter.Report).Observe(history);
        // Damage must fail the export before the output is touched, as it did when the history was loaded whole.
        history.ReadThrough();
        ToolFiles.WriteAtomically(outputPath, temp => DmEraWriter.WriteFile(history, temp));
        meter?.Finish();
        stdout.WriteLine($"{outputPath}: dm-era metadata, {size.AllocatedBlocks} of {size.TotalBlocks} blocks used, era {history.Live.CurrentEra}" +
                         (history.Snapshot is null ? "" : $", metadata snapshot of era {history.Snapshot.CurrentEra}"));
        return (int)ExitCode.Ok;
    }
}

using System.CommandLine;
using EraFs.Core;
using EraFs.Tools;
using EraFs.Tools.DmEra;

namespace EraFs.Cli;

/// <summary>erafs import: native metadata from kernel dm-era metadata, held metadata snapshot included.</summary>
internal static class ImportVerb
{
    public static Command Command()
    {
        var input = new Option<string>("--input", "-i") { Description = "dm-era metadata (a file, or a metadata device not in use)", Required = true };
        var output = new Option<string>("--output", "-o") { Description = "EraFs metadata file to write (replaced whole, never half-written)", Required = true };
        var origin = new Option<string>("--origin") { Description = "The image the history describes: its size must match, and its mtime becomes the clean baseline", Required = true };
        var force = new Option<bool>("--force") { Description = "Replace an existing metadata file (its history is lost); never one a mount holds" };
        var progress = new ProgressOptions();
        var cmd = new Command("import", "Build native metadata from dm-era metadata") { input, output, origin, force };
        progress.AddTo(cmd);
        cmd.SetAction(p => Run(p.GetValue(input)!, p.GetValue(output)!, p.GetValue(origin)!, p.GetValue(force), p.InvocationConfiguration.Output, progress.Choice(p)));
        return cmd;
    }

    public static int Run(string inputPath, string metaPath, string originPath, bool force, TextWriter stdout, ProgressChoice progress)
    {
        ToolFiles.RequireBinary(inputPath, "dm-era metadata");
        StreamedHistory history;
        DmFileReader? reader = null;
        ProgressMeter? meter = null;
        try
        {
            reader = new DmFileReader(inputPath);
            history = DmEraReader.Stream(reader);
            meter = progress.Start("import", history.NrBlocks, 2 * HistoryProgress.PassBlocks(history), ProgressUnit.Blocks);
            if (meter is not null) history = new HistoryProgress(meter.Report).Observe(history);
            // Read once through, so damage is reported (exit 3) before any output is claimed or written.
            history.ReadThrough();
        }
        catch (DmFormatException ex)
        {
            meter?.Dispose();
            reader?.Dispose();
            throw new CliException($"{inputPath}: {ex.Message}", ExitCode.MetadataDamaged);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            meter?.Dispose();
            reader?.Dispose();
            throw new CliException($"{inputPath}: {ex.Message}");
        }
        using (meter)
        using (reader)
        {
            RestoreVerb.WriteNative(history.BlockSizeSectors, history.NrBlocks, (temp, size, mtime) =>
            {
                try
                {
                    NativeHistory.Write(history, temp, size, mtime);
                }
                catch (DmFormatException ex)
                {
                    throw new CliException($"{inputPath}: {ex.Message}", ExitCode.MetadataDamaged);
                }
            }, metaPath, originPath, inputPath, force, "erafs import");
            meter?.Finish();
        }
        stdout.WriteLine($"{metaPath}: imported era {history.Live.CurrentEra}, {history.NrBlocks} blocks" +
                         (history.Snapshot is null ? "" : $", metadata snapshot of era {history.Snapshot.CurrentEra}") + $" from {inputPath}");
        return (int)ExitCode.Ok;
    }
}

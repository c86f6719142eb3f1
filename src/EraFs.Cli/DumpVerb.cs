using System.CommandLine;
using EraFs.Core;
using EraFs.Tools;

namespace EraFs.Cli;

/// <summary>erafs dump: the history as era_dump's XML, which era_restore and erafs restore accept.</summary>
internal static class DumpVerb
{
    public static Command Command()
    {
        var logical = new Option<bool>("--logical") { Description = "No writesets; each block gets its newest era" };
        var repair = new Option<bool>("--repair") { Description = "Salvage damaged metadata: a block whose era cannot be read gets the newest era it may have, never 0" };
        var output = new Option<string?>("--output", "-o") { Description = "Write to FILE (replaced whole, never half-written) instead of stdout" };
        var meta = new Argument<string>("META") { Description = "EraFs metadata file (may belong to a live mount)" };
        var progress = new ProgressOptions();
        var cmd = new Command("dump", "Dump the era history as XML") { logical, repair, output, meta };
        progress.AddTo(cmd);
        cmd.SetAction(p => Run(p.GetValue(meta)!, p.GetValue(logical), p.GetValue(repair), p.GetValue(output),
            p.InvocationConfiguration.Output, p.InvocationConfiguration.Error, progress.Choice(p)));
        return cmd;
    }

    public static int Run(string metaPath, bool logical, bool repair, string? outputPath, TextWriter stdout, TextWriter stderr, ProgressChoice progress)
    {
        ToolFiles.RequireBinary(metaPath, "EraFs metadata");
        using var reader = MetadataFiles.OpenReader(metaPath);
        StreamedHistory history;
        if (repair)
        {
            // Salvage needs to know every damaged range before it can say what it guessed: it stays dense.
            history = StreamedHistory.FromDense(NativeHistory.Load(reader,
                problem => stderr.WriteLine($"erafs: {metaPath}: repair: unreadable: {WithoutFile(problem, metaPath)}"),
                guess => stderr.WriteLine($"erafs: {metaPath}: repair: {guess.Blocks} block{(guess.Blocks == 1 ? "" : "s")} whose era could not be read " +
                                          $"{(guess.InSnapshot ? "in the metadata snapshot " : "")}{(guess.Blocks == 1 ? "was" : "were")} given era {guess.Era}")));
        }
        else
        {
            history = NativeHistory.Stream(reader);
        }
        var work = HistoryProgress.PassBlocks(history, includeSnapshot: false) + (repair ? 0 : HistoryProgress.PassBlocks(history));
        using var meter = progress.Start("dump", history.NrBlocks, work, ProgressUnit.Blocks);
        if (meter is not null) history = new HistoryProgress(meter.Report).Observe(history);
        // Damage must fail the dump before a byte of XML is written, as when the history was loaded whole.
        if (!repair) history.ReadThrough();
        OutputFile.Write(outputPath, stdout, (text, _) => history.Accept(new XmlDumpWriter(text), logical));
        meter?.Finish();
        return (int)ExitCode.Ok;
    }

    private static string WithoutFile(string message, string metaPath) =>
        message.StartsWith(metaPath + ": ", StringComparison.Ordinal) ? message[(metaPath.Length + 2)..] : message;
}

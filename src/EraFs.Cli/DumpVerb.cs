using System.CommandLine;
using EraFs.Tools;

namespace EraFs.Cli;

/// <summary>erafs dump: the history as era_dump's XML, which era_restore and erafs restore accept.</summary>
internal static class DumpVerb
{
    public static Command Command()
    {
        var logical = new Option<bool>("--logical") { Description = "No writesets; each block gets its newest era" };
        var repair = new Option<bool>("--repair") { Description = "Salvage what is readable from damaged metadata (damaged writesets are left out, a damaged era array reads as 0)" };
        var output = new Option<string?>("--output", "-o") { Description = "Write to FILE (replaced whole, never half-written) instead of stdout" };
        var meta = new Argument<string>("META") { Description = "EraFs metadata file (may belong to a live mount)" };
        var cmd = new Command("dump", "Dump the era history as XML") { logical, repair, output, meta };
        cmd.SetAction(p => Run(p.GetValue(meta)!, p.GetValue(logical), p.GetValue(repair), p.GetValue(output),
            p.InvocationConfiguration.Output, p.InvocationConfiguration.Error));
        return cmd;
    }

    public static int Run(string metaPath, bool logical, bool repair, string? outputPath, TextWriter stdout, TextWriter stderr)
    {
        ToolFiles.RequireBinary(metaPath, "EraFs metadata");
        EraHistory history;
        using (var reader = MetadataFiles.OpenReader(metaPath))
        {
            history = NativeHistory.Load(reader, repair ? problem => stderr.WriteLine($"erafs: {metaPath}: skipped: {problem}") : null);
        }
        OutputFile.Write(outputPath, stdout, (text, _) => history.Live.Accept(new XmlDumpWriter(text, logical), history.BlockSizeSectors));
        return (int)ExitCode.Ok;
    }
}

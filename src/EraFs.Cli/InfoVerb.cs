using System.CommandLine;
using EraFs.Tools;

namespace EraFs.Cli;

/// <summary>How a verb that prints facts for scripts prints them.</summary>
internal enum FactsFormat
{
    Text,
    Json,
}

/// <summary>erafs info: a mount's info file, or what a metadata file at rest says of itself (and who holds it).</summary>
internal static class InfoVerb
{
    public static Option<FactsFormat> FormatOption() =>
        new("--format")
        {
            Description = "text (key: value lines) or json (one object, typed values)",
            DefaultValueFactory = _ => FactsFormat.Text,
            // The parser's own message names the CLR enum type; a user should read the choices instead.
            CustomParser = result =>
            {
                var token = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
                if (token.Equals("text", StringComparison.OrdinalIgnoreCase)) return FactsFormat.Text;
                if (token.Equals("json", StringComparison.OrdinalIgnoreCase)) return FactsFormat.Json;
                result.AddError($"--format: '{token}' is not a format (text or json)");
                return FactsFormat.Text;
            },
        };

    public static Command Command()
    {
        var format = FormatOption();
        var target = new Argument<string>("MOUNT|META") { Description = "A mount point (its info file), or a metadata file (its facts at rest)" };
        var cmd = new Command("info", "Print a mount's facts, or a metadata file's when it is not mounted") { format, target };
        cmd.SetAction(p => Run(p.GetValue(target)!, p.GetValue(format), p.InvocationConfiguration.Output));
        return cmd;
    }

    public static int Run(string target, FactsFormat format, TextWriter stdout)
    {
        if (Directory.Exists(target))
        {
            var infoPath = Path.Combine(target, "info");
            string text;
            try
            {
                text = File.ReadAllText(infoPath);
            }
            catch (FileNotFoundException)
            {
                throw new CliException($"{target}: not an EraFs mount (it has no info file)");
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new CliException($"{infoPath}: cannot read the mount's info: {ex.Message}");
            }
            stdout.Write(format == FactsFormat.Json ? InfoReport.Json(InfoReport.FromInfoFile(text)) : text);
            return (int)ExitCode.Ok;
        }
        ToolFiles.RequireBinary(target, "EraFs metadata");
        var facts = MetadataFiles.Guarded(target, () => InfoReport.AtRest(target));
        if (format == FactsFormat.Json) stdout.Write(InfoReport.Json(facts));
        else InfoReport.WriteText(facts, stdout);
        return (int)ExitCode.Ok;
    }
}

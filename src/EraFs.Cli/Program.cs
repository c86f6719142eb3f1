using System.CommandLine;
using EraFs.Core;
using EraFs.Fuse;

namespace EraFs.Cli;

/// <summary>The erafs command line: each verb parses its options and hands them to its handler.</summary>
public static class Program
{
    internal static readonly Option<bool> s_verbose = new("--verbose", "-v") { Description = "Show stack traces with errors", Recursive = true };

    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var root = BuildRoot(args);
        var mount = root.Subcommands.Single(c => c.Name == "mount");
        try
        {
            var expanded = MountOptionString.Expand(args, mount);
            if (expanded != args) root = BuildRoot(args = expanded);
        }
        catch (CliException ex)
        {
            // One line naming the option, as mount(8) users expect from a helper.
            stderr.WriteLine($"erafs: {ex.Message}");
            return (int)ex.Code;
        }
        var config = new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false };
        var parsed = root.Parse(args);
        if (UsageErrors(parsed) is { Count: > 0 } errors)
        {
            foreach (var error in errors) stderr.WriteLine($"erafs: {error}");
            stderr.WriteLine($"usage: {UsageLine(parsed.CommandResult.Command)} (see '{CommandPath(parsed.CommandResult.Command)} --help')");
            return (int)ExitCode.Usage;
        }
        try
        {
            return parsed.Invoke(config);
        }
        catch (Exception ex)
        {
            return Report(ex, parsed.GetValue(s_verbose), stderr);
        }
    }

    /// <summary>Every verb, each with its example line.</summary>
    internal static RootCommand BuildRoot(string[] args)
    {
        var root = new RootCommand("EraFs: a FUSE block file whose writes are tracked like dm-era")
        {
            s_verbose,
            MountVerb.Command(args),
            UnmountVerb.Command(),
            CreateVerb.Command(),
            InvalidateVerb.Command(),
            CopyVerb.Command(),
            CheckVerb.Command(),
            InfoVerb.Command(),
            DumpVerb.Command(),
            RestoreVerb.Command(),
            ExportVerb.Command(),
            ImportVerb.Command(),
            LogVerb.Command(),
            LogServerVerb.Command(),
        };
        VerbExamples.Apply(root);
        root.Options.OfType<VersionOption>().Single().Action = new VersionAction();
        return root;
    }

    private static int Report(Exception ex, bool verbose, TextWriter stderr)
    {
        var code = ex switch
        {
            CliException c => c.Code,
            MetadataCorruptException => ExitCode.MetadataDamaged,
            _ => ExitCode.Failed,
        };
        var known = ex is CliException or MetadataException or FuseMountException or IOException or UnauthorizedAccessException;
        stderr.WriteLine(known ? $"erafs: {ex.Message}" : $"erafs: internal error: {ex.GetType().Name}: {ex.Message}");
        if (verbose || !known) stderr.WriteLine(ex.ToString());
        return (int)code;
    }

    /// <summary>
    /// The parse errors worth one line each, the first naming the token that went wrong. A token that
    /// looks like an option but names none is reported as such: the parser would bind it to a
    /// positional argument and complain about the next token instead.
    /// </summary>
    private static List<string> UsageErrors(ParseResult parsed)
    {
        var errors = new List<string>();
        var known = parsed.CommandResult.Command.Options.SelectMany(o => o.Aliases.Append(o.Name)).ToHashSet(StringComparer.Ordinal);
        foreach (var option in parsed.RootCommandResult.Command.Options.Where(o => o.Recursive))
            known.UnionWith(option.Aliases.Append(option.Name));
        var tokens = parsed.Tokens;
        for (var i = 0; i < tokens.Count; i++)
        {
            var token = tokens[i];
            if (token.Type != System.CommandLine.Parsing.TokenType.Argument || token.Value.Length < 2 || token.Value[0] != '-') continue;
            // "--log-file -x" gives -x to --log-file: a value that starts with '-' is not an unknown option.
            if (i > 0 && tokens[i - 1].Type == System.CommandLine.Parsing.TokenType.Option) continue;
            var name = token.Value.Split('=', 2)[0];
            if (!known.Contains(name)) errors.Add($"unknown option '{name}'");
        }
        if (errors.Count > 0) return errors;
        foreach (var error in parsed.Errors)
        {
            // The parser's suggestion lists ("Did you mean one of the following?") span lines; keep the first.
            var line = error.Message.Split('\n', 2)[0].Trim();
            if (line.Length > 0 && !errors.Contains(line)) errors.Add(line);
        }
        // "Unrecognized ... 'frobnicate'" names the token; "Required command was not provided" does not.
        return errors.OrderBy(e => e.StartsWith("Unrecognized", StringComparison.Ordinal) ? 0 : 1).ToList();
    }

    private static string CommandPath(Command command)
    {
        var names = new List<string>();
        for (Command? c = command; c is not null; c = c.Parents.OfType<Command>().FirstOrDefault())
            names.Insert(0, c is RootCommand ? "erafs" : c.Name);
        return string.Join(' ', names);
    }

    /// <summary>One line: the command path, its arguments, and its required options.</summary>
    private static string UsageLine(Command command)
    {
        var parts = new List<string> { CommandPath(command) };
        if (command.Subcommands.Count > 0) parts.Add("<" + string.Join('|', command.Subcommands.Select(c => c.Name)) + ">");
        parts.AddRange(command.Options.Where(o => o.Required).Select(o => $"{o.Name} {o.HelpName ?? o.Name.TrimStart('-').ToUpperInvariant()}"));
        parts.AddRange(command.Arguments.Where(a => !a.Hidden).Select(a => $"<{a.Name}>"));
        if (command.Options.Any(o => !o.Required && !o.Hidden)) parts.Add("[options]");
        return string.Join(' ', parts);
    }

    /// <summary><c>erafs --version</c>: the version and the commit the build was made from.</summary>
    private sealed class VersionAction : System.CommandLine.Invocation.SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            parseResult.InvocationConfiguration.Output.WriteLine($"erafs {VersionLine()}");
            return (int)ExitCode.Ok;
        }
    }

    /// <summary>"0.2.0 (commit 1234abcd...)", or the bare version for a build made outside git.</summary>
    internal static string VersionLine()
    {
        var informational = typeof(Program).Assembly
            .GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion ?? "unknown";
        var plus = informational.IndexOf('+');
        return plus < 0 ? informational : $"{informational[..plus]} (commit {informational[(plus + 1)..]})";
    }
}

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
        var root = new RootCommand("EraFs: a FUSE block file whose writes are tracked like dm-era")
        {
            s_verbose,
            MountVerb.Command(args),
            UnmountVerb.Command(),
            CreateVerb.Command(),
            InvalidateVerb.Command(),
            CheckVerb.Command(),
            DumpVerb.Command(),
            RestoreVerb.Command(),
            ExportVerb.Command(),
            ImportVerb.Command(),
            LogVerb.Command(),
            LogServerVerb.Command(),
        };
        var config = new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false };
        var parsed = root.Parse(args);
        try
        {
            return parsed.Invoke(config);
        }
        catch (Exception ex)
        {
            return Report(ex, parsed.GetValue(s_verbose), stderr);
        }
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


}


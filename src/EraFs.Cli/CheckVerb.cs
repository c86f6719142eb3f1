using System.CommandLine;
using EraFs.Core;
using EraFs.Metadata;
using EraFs.Tools;

namespace EraFs.Cli;

/// <summary>erafs check: verifies every structure of native metadata, reports each problem, never writes.</summary>
internal static class CheckVerb
{
    public static Command Command()
    {
        var superOnly = new Option<bool>("--super-block-only") { Description = "Check only the superblock" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Print nothing; the exit code says it all" };
        var format = InfoVerb.FormatOption();
        var meta = new Argument<string>("META") { Description = "EraFs metadata file (a live mount's too: the check says so, and reads the newest committed state)" };
        var progress = new ProgressOptions();
        var cmd = new Command("check", $"Verify native metadata; exit {(int)ExitCode.MetadataDamaged} if anything is wrong") { superOnly, quiet, format, meta };
        progress.AddTo(cmd);
        cmd.SetAction(p => Run(p.GetValue(meta)!, p.GetValue(superOnly), p.GetValue(quiet), p.InvocationConfiguration.Output, progress.Choice(p), p.GetValue(format)));
        return cmd;
    }

    public static int Run(string metaPath, bool superblockOnly, bool quiet, TextWriter stdout, ProgressChoice progress, FactsFormat format = FactsFormat.Text)
    {
        var warnings = new List<MetadataProblem>();
        // --quiet prints nothing unless progress is asked for by name.
        if (quiet && progress.Mode == ProgressMode.Auto) progress = ProgressChoice.None;
        ProgressMeter? meter = null;
        var started = false;
        void OnProgress(CheckProgress p)
        {
            // The size of the history is known only once the walk has read the superblock.
            if (!started) meter = progress.Start("check", p.TrackedBlocks, p.DataBlocks, ProgressUnit.Blocks);
            started = true;
            if (meter is null) return;
            meter.Total = p.DataBlocks;
            meter.Report(p.BlocksRead);
        }
        IReadOnlyList<MetadataProblem> problems;
        try
        {
            problems = Problems(metaPath, superblockOnly, warnings.Add, progress.Mode == ProgressMode.Off ? null : OnProgress);
            meter?.Finish();
        }
        finally
        {
            meter?.Dispose();
        }
        var holder = Storage.FileClaim.FindHolder(metaPath);
        if (format == FactsFormat.Json && !quiet) stdout.Write(InfoReport.Json(Report(metaPath, superblockOnly, holder, warnings, problems)));
        else if (!quiet && holder is not null)
            stdout.WriteLine($"{metaPath}: metadata is live (held by {holder}); checked its newest committed state, which the mount may already have moved past");
        if (!quiet && format == FactsFormat.Text)
        {
            foreach (var warning in warnings)
                stdout.WriteLine($"{metaPath}: block {warning.Block} ({warning.Structure}): warning: {warning.Problem}");
            foreach (var problem in problems) stdout.WriteLine($"{metaPath}: {problem}");
        }
        if (problems.Count > 0)
            throw new CliException($"{metaPath}: {problems.Count} problem{(problems.Count == 1 ? "" : "s")} found, first {problems[0]}; the metadata is damaged", ExitCode.MetadataDamaged);
        if (!quiet && format == FactsFormat.Text)
            stdout.WriteLine($"{metaPath}: no problems found{(superblockOnly ? " in the superblock" : "")}" +
                             (warnings.Count == 0 ? "" : $" ({warnings.Count} warning{(warnings.Count == 1 ? "" : "s")})"));
        return (int)ExitCode.Ok;
    }

    private static List<Fact> Report(string metaPath, bool superblockOnly, Storage.ClaimHolder? holder,
        List<MetadataProblem> warnings, IReadOnlyList<MetadataProblem> problems)
    {
        static IEnumerable<IEnumerable<Fact>> Listed(IEnumerable<MetadataProblem> list) =>
            list.Select(p => (IEnumerable<Fact>)[new("block", p.Block), new("structure", p.Structure), new("problem", p.Problem)]).ToList();
        return
        [
            new("metadata", Path.GetFullPath(metaPath)),
            new("superblock_only", superblockOnly),
            new("live", holder is not null),
            new("holder_pid", holder is null ? null : (long)holder.Pid),
            new("holder", holder?.Description),
            new("ok", problems.Count == 0),
            new("problems", Listed(problems)),
            new("warnings", Listed(warnings)),
        ];
    }

    /// <summary>
    /// Every problem in the file (warnings, such as a damaged older superblock slot, go to
    /// <paramref name="warning"/>); input errors (missing, directory, XML, too small) throw one-line CliExceptions.
    /// </summary>
    public static IReadOnlyList<MetadataProblem> Problems(string metaPath, bool superblockOnly = false, Action<MetadataProblem>? warning = null,
        Action<CheckProgress>? progress = null)
    {
        ToolFiles.RequireBinary(metaPath, "EraFs metadata");
        try
        {
            return MetadataChecker.Check(metaPath, superblockOnly, warning, progress);
        }
        catch (MetadataException ex)
        {
            throw new CliException(ex.Message.StartsWith(metaPath, StringComparison.Ordinal) ? ex.Message : $"{metaPath}: {ex.Message}", ExitCode.MetadataDamaged);
        }
    }
}

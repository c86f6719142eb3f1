using EraFs.Core;
using EraFs.FileSystem;
using EraFs.Metadata;

namespace EraFs.Cli;

/// <summary>
/// After a metadata I/O failure the store records needs-check, and the next mount must not trust the
/// file blindly: it runs the native checker first, clears the flag only if the check passes, and
/// otherwise refuses with one line telling the user to run erafs check.
/// </summary>
internal static class NeedsCheckGate
{
    public static IEraStore Open(string meta, DaemonLog log)
    {
        var store = MetadataFiles.Open(meta);
        if (!store.OpenState.NeedsCheck) return store;
        var reason = store.OpenState.NeedsCheckReason ?? "no reason recorded";
        store.Dispose();
        var problems = CheckVerb.Problems(meta);
        if (problems.Count > 0)
            throw new CliException($"{meta}: metadata was flagged for checking ({reason}) and the check found {problems.Count} problem(s), first {problems[0]}; run 'erafs check {meta}'",
                ExitCode.MetadataDamaged);
        using (var flagged = (MetadataStore)MetadataFiles.Open(meta))
            flagged.ClearNeedsCheck();
        log.Info($"{meta}: metadata was flagged for checking ({reason}); the check found no problems, flag cleared");
        // Reopen so the tracker sees the cleared flag in the store's open state.
        return MetadataFiles.Open(meta);
    }
}

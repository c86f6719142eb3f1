using EraFs.Core;
using EraFs.FileSystem;
using EraFs.Metadata;

namespace EraFs.Cli;

/// <summary>
/// A mount never serves a history it could not read back: it runs the native checker before opening
/// the metadata for writing and refuses damaged metadata (exit 3) naming the first problem. After a
/// metadata I/O failure the store records needs-check; the flag is cleared only if the check passes.
/// </summary>
internal static class NeedsCheckGate
{
    public static IEraStore Open(string meta, DaemonLog log)
    {
        var damage = CheckVerb.Problems(meta);
        if (damage.Count > 0)
            throw new CliException($"{meta}: metadata is damaged{FlagReason(meta)}: {damage.Count} problem(s), first {damage[0]}; nothing was written: run 'erafs check {meta}' for the list, or salvage it with 'erafs dump --repair {meta}' and 'erafs restore --force'",
                ExitCode.MetadataDamaged);
        var store = MetadataFiles.Open(meta);
        if (!store.OpenState.NeedsCheck) return store;
        var reason = store.OpenState.NeedsCheckReason ?? "no reason recorded";
        store.Dispose();
        using (var checkedStore = (MetadataStore)MetadataFiles.Open(meta))
            checkedStore.ClearNeedsCheck();
        log.Info($"{meta}: metadata was flagged for checking ({reason}); the check found no problems, flag cleared");
        // Reopen so the tracker sees the cleared flag in the store's open state.
        return MetadataFiles.Open(meta);
    }

    /// <summary>Why an earlier failure flagged the file, for the refusal's message; empty when unknown.</summary>
    private static string FlagReason(string meta)
    {
        try
        {
            using var store = MetadataStore.Open(meta);
            return store.OpenState.NeedsCheck ? $" (flagged for checking: {store.OpenState.NeedsCheckReason ?? "no reason recorded"})" : "";
        }
        catch (Exception e) when (e is MetadataException or IOException)
        {
            return "";
        }
    }
}

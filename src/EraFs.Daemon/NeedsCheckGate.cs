using EraFs.Core;
using EraFs.FileSystem;
using EraFs.Metadata;

namespace EraFs.Daemon;

/// <summary>
/// A mount never serves a history it could not read back: it runs the native checker before opening
/// the metadata for writing and refuses damaged metadata naming the first problem. After a metadata
/// I/O failure the store records needs-check; the flag is cleared only if the check passes.
/// </summary>
internal static class NeedsCheckGate
{
    public static IEraStore Open(string meta, DaemonLog log)
    {
        var damage = Problems(meta);
        if (damage.Count > 0)
            throw new MountRefusedException($"{meta}: metadata is damaged{FlagReason(meta)}: {damage.Count} problem(s), first {damage[0]}; nothing was written: run 'erafs check {meta}' for the list, or salvage it with 'erafs dump --repair {meta}' and 'erafs restore --force'",
                MountRefusal.MetadataDamaged);
        var store = OpenStore(meta);
        if (!store.OpenState.NeedsCheck) return store;
        var reason = store.OpenState.NeedsCheckReason ?? "no reason recorded";
        store.Dispose();
        using (var checkedStore = OpenStore(meta))
            checkedStore.ClearNeedsCheck();
        log.Info($"{meta}: metadata was flagged for checking ({reason}); the check found no problems, flag cleared");
        // Reopen so the tracker sees the cleared flag in the store's open state.
        return OpenStore(meta);
    }

    private static IReadOnlyList<MetadataProblem> Problems(string meta)
    {
        try
        {
            return MetadataChecker.Check(meta, superblockOnly: false);
        }
        catch (MetadataException ex)
        {
            throw new MountRefusedException(Named(meta, ex.Message), MountRefusal.MetadataDamaged, ex);
        }
    }

    private static MetadataStore OpenStore(string meta)
    {
        try
        {
            return MetadataStore.Open(meta);
        }
        catch (MetadataException ex)
        {
            throw new MountRefusedException(Named(meta, ex.Message), MountRefusal.MetadataDamaged, ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new MountRefusedException($"{meta}: {ex.Message}", inner: ex);
        }
    }

    private static string Named(string path, string message) =>
        message.StartsWith(path, StringComparison.Ordinal) ? message : $"{path}: {message}";

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

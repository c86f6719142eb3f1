using EraFs.Core;
using EraFs.Metadata;

namespace EraFs.Cli;

/// <summary>Opens metadata files for the verbs, turning every failure into one line naming the file.</summary>
internal static class MetadataFiles
{
    public static IEraStore Open(string path) => Guarded(path, () => MetadataStore.Open(path));

    /// <summary>Opens a metadata file read-only (safe while a live mount writes it).</summary>
    public static MetadataReader OpenReader(string path) => Guarded(path, () => MetadataReader.Open(path));

    /// <summary>Runs <paramref name="open"/> on the file, each failure one line naming it (damage exits 3).</summary>
    public static T Guarded<T>(string path, Func<T> open)
    {
        if (Directory.Exists(path)) throw new CliException($"{path}: is a directory, not a metadata file");
        if (!File.Exists(path)) throw new CliException($"{path}: metadata file does not exist");
        try
        {
            return open();
        }
        catch (MetadataException ex)
        {
            throw new CliException(ex.Message.StartsWith(path, StringComparison.Ordinal) ? ex.Message : $"{path}: {ex.Message}", ExitCode.MetadataDamaged);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"{path}: {ex.Message}");
        }
    }
}

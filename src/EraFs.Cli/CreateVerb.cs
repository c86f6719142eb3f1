using System.CommandLine;
using EraFs.Core;
using EraFs.FileSystem;
using EraFs.Metadata;

namespace EraFs.Cli;

/// <summary>erafs create: formats metadata for an origin.</summary>
internal static class CreateVerb
{
    public static Command Command()
    {
        var origin = new Option<string>("--origin") { Description = "Image file or block device the history is for", Required = true };
        var metadata = new Option<string>("--metadata") { Description = "Metadata file to create", Required = true };
        var blockSize = new Option<string>("--block-size") { Description = "Tracking block size (bytes, KiB, MiB; multiple of 4 KiB)", DefaultValueFactory = _ => "64KiB" };
        var force = new Option<bool>("--force") { Description = "Overwrite an existing metadata file (its history is lost)" };
        var cmd = new Command("create", "Format a metadata file for ORIGIN") { origin, metadata, blockSize, force };
        cmd.SetAction(p => Run(p.GetValue(origin)!, p.GetValue(metadata)!,
            checked((uint)ByteSize.Parse(p.GetValue(blockSize)!, "--block-size")), p.GetValue(force), p.InvocationConfiguration.Output));
        return cmd;
    }

    public static int Run(string originPath, string metadataPath, uint blockSize, bool force, TextWriter stdout)
    {
        long size;
        DateTime mtime;
        try
        {
            using var origin = Origin.Open(originPath);
            size = origin.Size;
            mtime = origin.ModifiedUtc;
        }
        catch (IOException ex)
        {
            throw new CliException(ex.Message);
        }
        ToolFiles.RequireReplaceable(metadataPath, force);
        Geometry(size, blockSize);
        var existed = File.Exists(metadataPath);
        using var claim = ToolFiles.ClaimOutput(metadataPath, "erafs create", create: true);
        try
        {
            using var store = CreateStore(metadataPath, size, mtime, blockSize, force);
            stdout.WriteLine($"{metadataPath}: {store.Geometry.NrBlocks} blocks of {store.Geometry.BlockSize} bytes for {originPath} ({size} bytes), era {store.CurrentEra}");
        }
        catch when (!existed)
        {
            File.Delete(metadataPath);
            throw;
        }
        return (int)ExitCode.Ok;
    }

    private static EraGeometry Geometry(long originSize, uint blockSize)
    {
        try
        {
            return EraGeometry.For(originSize, blockSize);
        }
        catch (ArgumentOutOfRangeException ex)
        {
            throw new CliException($"--block-size: {ex.Message.Split(" (Parameter")[0]}", ExitCode.Usage);
        }
    }

    /// <summary>Formats metadata with a clean baseline (see <see cref="MetadataStore.CreateWithBaseline"/>); failures are one line naming the file.</summary>
    public static IEraStore CreateStore(string metadataPath, long originSize, DateTime originMtimeUtc, uint blockSize, bool force)
    {
        var geometry = Geometry(originSize, blockSize);
        try
        {
            return MetadataStore.CreateWithBaseline(metadataPath, geometry, originMtimeUtc, force);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or MetadataException)
        {
            throw new CliException(ex.Message.StartsWith(metadataPath, StringComparison.Ordinal) ? ex.Message : $"{metadataPath}: {ex.Message}");
        }
    }
}

using System.CommandLine;
using EraFs.Core;
using EraFs.Metadata;
using EraFs.Tools;

namespace EraFs.Cli;

/// <summary>erafs restore: native metadata from era_dump XML (ours or the dm-era tools').</summary>
internal static class RestoreVerb
{
    public static Command Command()
    {
        var input = new Option<string>("--input", "-i") { Description = "era_dump XML to read", Required = true };
        var output = new Option<string>("--output", "-o") { Description = "Metadata file to write (replaced whole, never half-written)", Required = true };
        var origin = new Option<string?>("--origin") { Description = "The image the history describes: its size must match, and its mtime becomes the clean baseline" };
        var force = new Option<bool>("--force") { Description = "Replace an existing metadata file (its history is lost); never one a mount holds" };
        var progress = new ProgressOptions();
        var cmd = new Command("restore", "Build native metadata from era_dump XML") { input, output, origin, force };
        progress.AddTo(cmd);
        cmd.SetAction(p => Run(p.GetValue(input)!, p.GetValue(output)!, p.GetValue(origin), p.GetValue(force), p.InvocationConfiguration.Output, progress.Choice(p)));
        return cmd;
    }

    public static int Run(string xmlPath, string metaPath, string? originPath, bool force, TextWriter stdout, ProgressChoice progress)
    {
        ToolFiles.RequireText(xmlPath, "era XML");
        // A first pass only validates (every error is the XML's, reported before any output is claimed);
        // the second writes, so neither holds more than one element of the document. Progress counts
        // the XML's bytes over both passes, and starts once the superblock has said how large the history is.
        var xmlBytes = new FileInfo(xmlPath).Length;
        ProgressMeter? meter = null;
        var shape = new XmlShape(nrBlocks => meter = progress.Start("restore", nrBlocks, 2 * (ulong)xmlBytes, ProgressUnit.Bytes));
        try
        {
            ReadXml(xmlPath, shape, read => meter?.Report((ulong)read));
            WriteNative(shape.BlockSizeSectors, shape.NrBlocks, (temp, size, mtime) =>
            {
                using var writer = new NativeHistoryWriter(temp, size, mtime);
                ReadXml(xmlPath, writer, read => meter?.Report((ulong)(xmlBytes + read)));
            }, metaPath, originPath, xmlPath, force, "erafs restore");
            meter?.Finish();
        }
        finally
        {
            meter?.Dispose();
        }
        stdout.WriteLine($"{metaPath}: restored era {shape.CurrentEra}, {shape.NrBlocks} blocks, {shape.Writesets} writesets from {xmlPath}");
        return (int)ExitCode.Ok;
    }

    private static void ReadXml(string xmlPath, IEraHistoryVisitor visitor, Action<long> read)
    {
        try
        {
            using var stream = new ReportingReadStream(File.OpenRead(xmlPath), read);
            XmlRestoreReader.Read(xmlPath, stream, visitor);
        }
        catch (EraXmlException ex)
        {
            throw new CliException(ex.Message);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"{xmlPath}: {ex.Message}");
        }
    }

    /// <summary>
    /// Writes native metadata at metaPath (atomically) with <paramref name="write"/> (given the
    /// temporary path, the origin's size and mtime), shared with import: an existing file only with
    /// --force, and never one a mount holds (claimed until the new file is in place).
    /// </summary>
    public static void WriteNative(uint blockSizeSectors, ulong nrBlocks, Action<string, long?, DateTime?> write,
        string metaPath, string? originPath, string source, bool force, string tool)
    {
        ToolFiles.RequireReplaceable(metaPath, force);
        using var claim = ToolFiles.ClaimOutput(metaPath, tool);
        long? size = null;
        DateTime? mtime = null;
        if (originPath is not null)
        {
            ToolFiles.RequireFile(originPath, "origin image");
            try
            {
                using var origin = new FileStream(originPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                size = origin.Length > 0 ? origin.Length : origin.Seek(0, SeekOrigin.End);
                mtime = File.GetLastWriteTimeUtc(originPath);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new CliException($"{originPath}: {ex.Message}");
            }
        }
        try
        {
            NativeHistory.GeometryFor(blockSizeSectors, nrBlocks, size);
            ToolFiles.WriteAtomically(metaPath, temp =>
            {
                try
                {
                    write(temp, size, mtime);
                }
                catch (MetadataException ex)
                {
                    throw new IOException(ex.Message.Replace(temp, metaPath, StringComparison.Ordinal), ex);
                }
            });
        }
        catch (ArgumentException ex)
        {
            throw new CliException($"{source}: {ex.Message.Split(" (Parameter")[0]}");
        }
    }

    /// <summary>What restore reports of the XML, gathered while it is validated.</summary>
    private sealed class XmlShape(Action<ulong> superblockSeen) : IEraHistoryVisitor
    {
        public uint BlockSizeSectors { get; private set; }
        public ulong NrBlocks { get; private set; }
        public uint CurrentEra { get; private set; }
        public int Writesets { get; private set; }

        public void BeginSuperblock(uint blockSizeSectors, ulong nrBlocks, uint currentEra)
        {
            (BlockSizeSectors, NrBlocks, CurrentEra) = (blockSizeSectors, nrBlocks, currentEra);
            superblockSeen(nrBlocks);
        }

        public void Writeset(uint era, ulong nrBits, IEnumerable<BlockRun> runs) => Writesets++;

        public void EraArray(IEnumerable<EraRun> runs)
        {
        }

        public void EndSuperblock()
        {
        }
    }
}

using System.Buffers.Binary;
using System.CommandLine;
using System.Globalization;
using System.Text;
using EraFs.RegionLog;
using EraFs.Tools;

namespace EraFs.Cli;

/// <summary>erafs log dump: prints a disk region log file's header and which regions it holds dirty.</summary>
internal static class LogVerb
{
    public static Command Command()
    {
        var path = new Argument<string>("PATH") { Description = "Disk region log file (as given to mount --log disk:PATH)" };
        var format = InfoVerb.FormatOption();
        var dump = new Command("dump", "Print a disk region log's header and its dirty regions") { format, path };
        dump.SetAction(p => Dump(p.GetValue(path)!, p.InvocationConfiguration.Output, p.GetValue(format)));
        return new Command("log", "Inspect dirty region logs") { dump };
    }

    public static int Dump(string path, TextWriter stdout, FactsFormat format = FactsFormat.Text)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"{path}: cannot read the region log: {e.Message}");
        }
        if (bytes.Length < 16)
            throw new CliException($"{path}: {bytes.Length} bytes is too short for a region log header", ExitCode.MetadataDamaged);
        var magic = BinaryPrimitives.ReadUInt32LittleEndian(bytes);
        var version = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(4));
        var regions = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(8));
        if (magic != DiskDirtyRegionLog.Magic)
            throw new CliException($"{path}: bad magic 0x{magic:x8} (a dm-log disk log has 0x{DiskDirtyRegionLog.Magic:x8})", ExitCode.MetadataDamaged);
        var bitmapBytes = (long)((regions + 31) / 32 * 4);
        if (bytes.Length < DiskDirtyRegionLog.BitmapOffset + bitmapBytes)
            throw new CliException($"{path}: {bytes.Length} bytes cannot hold the bitmap of {regions} regions", ExitCode.MetadataDamaged);
        var dirty = new List<(ulong Start, ulong End)>();
        ulong clean = 0;
        for (ulong r = 0; r < regions; r++)
        {
            if ((bytes[DiskDirtyRegionLog.BitmapOffset + (long)(r / 8)] & (1 << (int)(r % 8))) != 0)
            {
                clean++;
                continue;
            }
            if (dirty.Count > 0 && dirty[^1].End == r) dirty[^1] = (dirty[^1].Start, r + 1);
            else dirty.Add((r, r + 1));
        }
        if (format == FactsFormat.Json)
        {
            // Half-open [begin, end) region ranges, as invalidate's JSON gives block ranges.
            stdout.Write(InfoReport.Json([
                new("path", Path.GetFullPath(path)), new("magic", (ulong)magic), new("version", (ulong)version), new("regions", regions),
                new("clean_regions", clean), new("dirty_regions", regions - clean), new("dirty", dirty),
            ]));
            return (int)ExitCode.Ok;
        }
        var c = CultureInfo.InvariantCulture;
        stdout.WriteLine($"magic: 0x{magic:x8}");
        stdout.WriteLine(string.Create(c, $"version: {version}"));
        stdout.WriteLine(string.Create(c, $"regions: {regions}"));
        stdout.WriteLine(string.Create(c, $"clean_regions: {clean}"));
        stdout.WriteLine(string.Create(c, $"dirty_regions: {regions - clean}"));
        stdout.WriteLine("dirty: " + (dirty.Count == 0 ? "-" : FormatRuns(dirty)));
        return (int)ExitCode.Ok;
    }

    private static string FormatRuns(List<(ulong Start, ulong End)> runs)
    {
        var sb = new StringBuilder();
        foreach (var (start, end) in runs)
        {
            if (sb.Length > 0) sb.Append(',');
            sb.Append(start.ToString(CultureInfo.InvariantCulture));
            if (end - start > 1) sb.Append('-').Append((end - 1).ToString(CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }
}

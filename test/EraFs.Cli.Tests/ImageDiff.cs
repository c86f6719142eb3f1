using System.Text.RegularExpressions;

namespace EraFs.Cli.Tests;

/// <summary>Oracle O1: the blocks whose bytes differ between two images, and the blocks an invalidate XML lists.</summary>
internal static partial class ImageDiff
{
    public static SortedSet<ulong> ChangedBlocks(string before, string after, int blockSize)
    {
        var changed = new SortedSet<ulong>();
        using var a = File.OpenRead(before);
        using var b = File.OpenRead(after);
        var ba = new byte[blockSize];
        var bb = new byte[blockSize];
        for (ulong block = 0; ; block++)
        {
            var na = a.ReadAtLeast(ba, blockSize, throwOnEndOfStream: false);
            var nb = b.ReadAtLeast(bb, blockSize, throwOnEndOfStream: false);
            if (na == 0 && nb == 0) break;
            if (na != nb || !ba.AsSpan(0, na).SequenceEqual(bb.AsSpan(0, nb))) changed.Add(block);
        }
        return changed;
    }

    public static SortedSet<ulong> ParseInvalidateXml(string xml)
    {
        var set = new SortedSet<ulong>();
        foreach (Match m in BlockPattern().Matches(xml)) set.Add(ulong.Parse(m.Groups[1].Value));
        foreach (Match m in RangePattern().Matches(xml))
            for (var b = ulong.Parse(m.Groups[1].Value); b < ulong.Parse(m.Groups[2].Value); b++) set.Add(b);
        return set;
    }

    [GeneratedRegex("<block block=\"(\\d+)\"/>")]
    private static partial Regex BlockPattern();

    [GeneratedRegex("<range begin=\"(\\d+)\" end ?= ?\"(\\d+)\"/>")]
    private static partial Regex RangePattern();
}

using System.Globalization;

namespace EraFs.Cli;

/// <summary>Sizes as users write them: bytes, or with a binary suffix (K, KiB, M, MiB, G, GiB, T, TiB).</summary>
public static class ByteSize
{
    public static long Parse(string text, string what)
    {
        var s = text.Trim();
        var i = 0;
        while (i < s.Length && char.IsAsciiDigit(s[i])) i++;
        if (i == 0 || !long.TryParse(s.AsSpan(0, i), NumberStyles.None, CultureInfo.InvariantCulture, out var n))
            throw new CliException($"{what}: '{text}' is not a size (bytes, or a number with KiB/MiB/GiB)", ExitCode.Usage);
        var shift = s[i..].ToLowerInvariant() switch
        {
            "" or "b" => 0,
            "k" or "kib" => 10,
            "m" or "mib" => 20,
            "g" or "gib" => 30,
            "t" or "tib" => 40,
            _ => throw new CliException($"{what}: unknown unit in '{text}' (use KiB, MiB, GiB or TiB)", ExitCode.Usage),
        };
        if (n > long.MaxValue >> shift)
            throw new CliException($"{what}: '{text}' is too large", ExitCode.Usage);
        return n << shift;
    }
}

using System.CommandLine;

namespace EraFs.Cli;

/// <summary>One example line per verb, shown at the end of its description in --help.</summary>
internal static class VerbExamples
{
    private static readonly Dictionary<string, string> s_examples = new(StringComparer.Ordinal)
    {
        ["mount"] = "erafs mount --origin disk.img --metadata disk.era --create /mnt/era",
        ["unmount"] = "erafs unmount /mnt/era",
        ["create"] = "erafs create --origin disk.img --metadata disk.era --block-size 64KiB",
        ["invalidate"] = "erafs invalidate --written-since 3 --format json disk.era",
        ["copy"] = "erafs copy --written-since 3 --metadata-snapshot --from /mnt/era/device --to backup.img disk.era",
        ["check"] = "erafs check disk.era",
        ["info"] = "erafs info --format json /mnt/era",
        ["dump"] = "erafs dump -o history.xml disk.era",
        ["restore"] = "erafs restore -i history.xml -o disk.era --origin disk.img",
        ["export"] = "erafs export --format dm-era -o dm-era.meta disk.era",
        ["import"] = "erafs import -i dm-era.meta -o disk.era --origin disk.img",
        ["log dump"] = "erafs log dump /var/lib/erafs/region.log",
        ["log-server"] = "erafs log-server --socket /run/erafs/log.sock --log disk:/var/lib/erafs/logs",
    };

    /// <summary>Appends "Example: ..." to every verb that has one (a test demands one for every verb).</summary>
    public static void Apply(RootCommand root)
    {
        foreach (var (path, command) in Leaves(root))
            if (s_examples.TryGetValue(path, out var example)) command.Description += $"\n\nExample:\n  {example}";
    }

    /// <summary>Every verb that runs (has no subcommands), with its path below the root ("log dump").</summary>
    public static IEnumerable<(string Path, Command Command)> Leaves(Command command, string prefix = "")
    {
        foreach (var sub in command.Subcommands)
        {
            var path = prefix.Length == 0 ? sub.Name : $"{prefix} {sub.Name}";
            if (sub.Subcommands.Count == 0) yield return (path, sub);
            foreach (var leaf in Leaves(sub, path)) yield return leaf;
        }
    }
}

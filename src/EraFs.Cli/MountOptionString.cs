using System.CommandLine;
using System.Text;

namespace EraFs.Cli;

/// <summary>
/// The <c>-o</c> spelling of <c>erafs mount</c>'s flags, as mount(8) and fstab give them: <c>-o a=b,c</c>
/// becomes <c>--a b --c</c> before the command line is parsed, so every flag, present and future,
/// has an option spelling (<c>block_size=</c> for <c>--block-size</c>) and one parser checks both.
/// </summary>
internal static class MountOptionString
{
    /// <summary>The option's help text.</summary>
    public const string Description =
        "Flags as mount options, comma-separated, as mount -t fuse.erafs and fstab pass them: "
        + "metadata=META,create,block_size=64KiB,mirror=LEG[:LEG],log=...; fstab's generic options are ignored";

    // What fstab lines carry for mount(8) and systemd, or generic VFS flags a FUSE mount of one
    // regular file has no use for; accepting them lets an ordinary fstab line mount.
    private static readonly HashSet<string> s_ignored = new(StringComparer.Ordinal)
    {
        "_netdev", "nofail", "noauto", "auto", "defaults", "rw", "user", "users", "nouser",
        "nosuid", "nodev", "suid", "dev", "exec", "noexec", "async",
    };

    private static readonly HashSet<string> s_optionFlags = new(StringComparer.Ordinal) { "-o", "--options" };

    /// <summary>
    /// The arguments with every <c>-o</c> of the mount verb replaced by the flags it spells, or the
    /// arguments unchanged when the verb is not mount. Throws a usage error naming an unknown option.
    /// </summary>
    public static string[] Expand(string[] args, Command mount)
    {
        var verb = Array.FindIndex(args, a => !a.StartsWith('-'));
        if (verb < 0 || args[verb] != mount.Name) return args;
        var expanded = new List<string>(args.Length);
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            string? value = null;
            if (i > verb && s_optionFlags.Contains(arg))
            {
                if (i + 1 == args.Length) throw new CliException($"{arg}: a list of mount options is required", ExitCode.Usage);
                value = args[++i];
            }
            else if (i > verb && arg.StartsWith("-o", StringComparison.Ordinal) && arg.Length > 2 && !arg.StartsWith("--", StringComparison.Ordinal))
            {
                value = arg[2..];
            }
            else if (i > verb && arg.StartsWith("--options=", StringComparison.Ordinal))
            {
                value = arg["--options=".Length..];
            }
            if (value is null) expanded.Add(arg);
            else expanded.AddRange(Flags(value, mount));
        }
        return [.. expanded];
    }

    private static IEnumerable<string> Flags(string list, Command mount)
    {
        foreach (var (name, value) in Split(list))
        {
            if (s_ignored.Contains(name) || name.StartsWith("x-", StringComparison.Ordinal)) continue;
            if (name == "ro")
                throw new CliException("-o ro: EraFs mounts are read-write (a read-only view needs no tracking; read the origin instead)", ExitCode.Usage);
            var option = Lookup(name, mount)
                ?? throw new CliException($"-o: unknown mount option '{name}'", ExitCode.Usage);
            var isSwitch = option.ValueType == typeof(bool);
            if (isSwitch && value is not null)
                throw new CliException($"-o {name}: takes no value (give '{name}' alone)", ExitCode.Usage);
            if (!isSwitch && value is null)
                throw new CliException($"-o {name}: needs a value ({name}=...)", ExitCode.Usage);
            if (isSwitch)
            {
                yield return option.Name;
                continue;
            }
            // Several legs in one option, as fstab lines cannot repeat an option name readably.
            var values = option.Name == "--mirror" ? value!.Split(':', StringSplitOptions.RemoveEmptyEntries) : [value!];
            foreach (var v in values)
            {
                yield return option.Name;
                yield return v;
            }
        }
    }

    // block_size names --block-size; hidden flags (the daemon child's) and the origin, which mount(8)
    // passes as the source, have no option spelling.
    private static Option? Lookup(string name, Command mount)
    {
        var flag = "--" + name.Replace('_', '-');
        return mount.Options.FirstOrDefault(o => !o.Hidden && o.Name == flag && o.Name is not "--origin" and not "--options");
    }

    /// <summary>
    /// name[=value] items split at commas outside double quotes, with <c>\,</c> for a literal comma. An
    /// item that starts with a URL scheme continues the previous value, so <c>cluster=URL,URL</c> reads
    /// as mount users write it.
    /// </summary>
    private static List<(string Name, string? Value)> Split(string list)
    {
        var items = new List<string>();
        var current = new StringBuilder();
        var quoted = false;
        for (var i = 0; i < list.Length; i++)
        {
            var c = list[i];
            if (c == '\\' && i + 1 < list.Length) current.Append(list[++i]);
            else if (c == '"') quoted = !quoted;
            else if (c == ',' && !quoted)
            {
                items.Add(current.ToString());
                current.Clear();
            }
            else current.Append(c);
        }
        if (quoted) throw new CliException($"-o {list}: a double quote is not closed", ExitCode.Usage);
        items.Add(current.ToString());

        var result = new List<(string Name, string? Value)>();
        foreach (var item in items.Where(i => i.Length > 0))
        {
            if (IsUrl(item) && result.Count > 0 && result[^1].Value is { } previous)
            {
                result[^1] = (result[^1].Name, previous + "," + item);
                continue;
            }
            var eq = item.IndexOf('=');
            result.Add(eq < 0 ? (item, null) : (item[..eq], item[(eq + 1)..]));
        }
        return result;
    }

    private static bool IsUrl(string item) =>
        item.StartsWith("http://", StringComparison.Ordinal) || item.StartsWith("https://", StringComparison.Ordinal)
        || item.StartsWith("unix://", StringComparison.Ordinal);
}

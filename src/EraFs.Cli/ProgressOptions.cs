using System.CommandLine;
using EraFs.Core;

namespace EraFs.Cli;

/// <summary>--progress and --no-progress of one verb that does long work.</summary>
internal sealed class ProgressOptions
{
    private readonly Option<bool> _on = new("--progress") { Description = "Show progress on stderr even when it is not a terminal, and for small metadata" };
    private readonly Option<bool> _off = new("--no-progress") { Description = "Never show progress (by default it shows on a terminal for metadata of at least 1 Mi blocks)" };

    public void AddTo(Command command)
    {
        command.Options.Add(_on);
        command.Options.Add(_off);
    }

    public ProgressChoice Choice(ParseResult parsed)
    {
        var on = parsed.GetValue(_on);
        var off = parsed.GetValue(_off);
        if (on && off) throw new CliException("--progress and --no-progress contradict each other; give one", ExitCode.Usage);
        return new ProgressChoice(on ? ProgressMode.On : off ? ProgressMode.Off : ProgressMode.Auto, parsed.InvocationConfiguration.Error);
    }
}

/// <summary>Whether progress is forced on, forced off, or left to the terminal and the size of the work.</summary>
internal enum ProgressMode
{
    Auto,
    On,
    Off,
}

/// <summary>What the command line chose for progress, and the meter it leads to for one task.</summary>
internal sealed record ProgressChoice(ProgressMode Mode, TextWriter Error)
{
    /// <summary>Below this many tracking blocks the work is over before a meter would say anything useful.</summary>
    public const ulong LargeHistoryBlocks = 1UL << 20;

    public static ProgressChoice None { get; } = new(ProgressMode.Off, TextWriter.Null);

    /// <summary>On when forced; by default only on a terminal (isatty(2)), for histories of at least <see cref="LargeHistoryBlocks"/>.</summary>
    public bool Shows(ulong trackedBlocks) =>
        Mode == ProgressMode.On || (Mode == ProgressMode.Auto && !Console.IsErrorRedirected && trackedBlocks >= LargeHistoryBlocks);

    /// <summary>A meter on stderr, or null when progress is not shown.</summary>
    public ProgressMeter? Start(string label, ulong trackedBlocks, ulong total, ProgressUnit unit) =>
        Shows(trackedBlocks) ? new ProgressMeter(Error, label, total, unit) : null;
}

namespace EraFs.Cli;

/// <summary>Exit codes of every verb; scripts rely on them.</summary>
public enum ExitCode
{
    Ok = 0,

    /// <summary>The request failed (bad input, I/O error, refused state); the message says why.</summary>
    Failed = 1,

    /// <summary>The command line itself was wrong.</summary>
    Usage = 2,

    /// <summary>The metadata is damaged or inconsistent (check found problems).</summary>
    MetadataDamaged = 3,

    /// <summary>The mount is busy (a loop device or open file holds it).</summary>
    Busy = 4,
}

/// <summary>An anticipated error shown to the user as one line (no stack trace unless --verbose).</summary>
public sealed class CliException(string message, ExitCode code = ExitCode.Failed) : Exception(message)
{
    public ExitCode Code { get; } = code;
}

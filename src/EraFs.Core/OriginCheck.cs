namespace EraFs.Core;

/// <summary>What opening a history found about writes to the origin that did not pass through EraFs.</summary>
public enum OriginCheck
{
    /// <summary>Clean shutdown and the origin's mtime is the one recorded then: nothing wrote it meanwhile.</summary>
    CleanShutdown,

    /// <summary>Unclean shutdown, and the origin did not change after the crashed mount's write horizon.</summary>
    UncleanShutdown,

    /// <summary>Clean shutdown, but the origin's mtime moved since: every block counts as written, new generation.</summary>
    ChangedWhileUnmounted,

    /// <summary>Unclean shutdown, and the origin changed after the write horizon: every block counts as written, new generation.</summary>
    ChangedAfterCrash,

    /// <summary>Unclean shutdown of a history that recorded no write horizon: nothing can be ruled out, so every block counts as written.</summary>
    UncleanWithoutHorizon,
}

/// <summary>The names <c>info</c> prints for <see cref="OriginCheck"/>.</summary>
public static class OriginCheckNames
{
    public static string Name(this OriginCheck check) => check switch
    {
        OriginCheck.CleanShutdown => "clean-shutdown",
        OriginCheck.UncleanShutdown => "unclean-shutdown",
        OriginCheck.ChangedWhileUnmounted => "changed-while-unmounted",
        OriginCheck.ChangedAfterCrash => "changed-after-crash",
        _ => "unclean-without-horizon",
    };
}

namespace EraFs.Core;

/// <summary>What the tracker needs to know about the origin and its caller when it opens a history.</summary>
public sealed class EraTrackerOptions
{
    /// <summary>The origin's size in bytes now; compared with the size the history was made for.</summary>
    public required long OriginSize { get; init; }

    /// <summary>The origin's modification time now (UTC); a change while unmounted means untracked writes.</summary>
    public required DateTime OriginMtimeUtc { get; init; }

    /// <summary>
    /// The latest of the origin's mtime and ctime now (UTC), or null to use <see cref="OriginMtimeUtc"/>.
    /// After a crash it is compared with the recorded write horizon; ctime also moves when something
    /// writes the origin and then sets its mtime back.
    /// </summary>
    public DateTime? OriginChangedUtc { get; init; }

    /// <summary>
    /// How far ahead of now the mount records that it may write the origin; renewed while writes go on.
    /// An outside write to the origin less than this long after a crash can go unnoticed.
    /// </summary>
    public TimeSpan WriteHorizon { get; init; } = DefaultWriteHorizon;

    /// <summary>The shipped <see cref="WriteHorizon"/>.</summary>
    public static readonly TimeSpan DefaultWriteHorizon = TimeSpan.FromSeconds(5);

    /// <summary>The tracking block size the caller asked for, or null to take the history's.</summary>
    public uint? RequestedBlockSize { get; init; }

    /// <summary>Whether an origin smaller than the history may be accepted (its lost blocks' history is dropped).</summary>
    public bool AllowShrink { get; init; }

    /// <summary>Receives warnings and errors, one line each, from the opening thread or the worker; must not call back into the tracker.</summary>
    public Action<string>? Log { get; init; }
}

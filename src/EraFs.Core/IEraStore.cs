namespace EraFs.Core;

/// <summary>
/// Durable home of one era history. The tracker is its only writer and calls it from one thread
/// at a time (its worker); every mutating call is durable (written and fdatasync'ed) when it returns,
/// or throws and leaves the last durable state in force.
/// </summary>
public interface IEraStore : IDisposable
{
    EraGeometry Geometry { get; }

    /// <summary>The era new marks go to.</summary>
    uint CurrentEra { get; }

    /// <summary>Metadata block location of the held snapshot, or null.</summary>
    ulong? HeldSnapshot { get; }

    /// <summary>Used and total metadata blocks, for the status line.</summary>
    (ulong Used, ulong Total) Usage { get; }

    /// <summary>
    /// Durably records the runs as written in the current era (group commit: one call, one sync). The runs
    /// come in <see cref="CommitRuns"/> shape; anything else throws <see cref="ArgumentException"/> before a write.
    /// </summary>
    void CommitMarks(ReadOnlySpan<BlockRun> runs);

    /// <summary>
    /// Archives the current writeset under <see cref="CurrentEra"/> and makes the next era current, durably.
    /// Throws <see cref="ControlRejectedException"/> (EraExhausted) at the largest era, changing nothing.
    /// </summary>
    uint Rollover();

    /// <summary>Rolls over, then freezes the metadata as the held snapshot. Refused if one is held.</summary>
    void TakeSnapshot();

    /// <summary>Releases the held snapshot. Refused if none is held.</summary>
    void DropSnapshot();

    /// <summary>Folds part of the oldest archived writeset into the era array; true while work remains.</summary>
    bool DigestStep();

    /// <summary>Identity of this history; a new one means earlier eras can no longer be trusted for this origin.</summary>
    Guid Generation { get; }

    /// <summary>What the store found when it was opened (clean flag, recorded origin mtime, needs-check).</summary>
    StoreOpenState OpenState { get; }

    /// <summary>Changes the number of tracked blocks (origin resized while unmounted), durably.</summary>
    void Resize(EraGeometry newGeometry);

    /// <summary>Starts a new generation id, durably (history reset: origin changed behind our back).</summary>
    void NewGeneration();

    /// <summary>Best effort: records that the metadata must be checked before its next use, and why.</summary>
    void SetNeedsCheck(string reason);

    /// <summary>
    /// Records a clean shutdown (with the origin's mtime) or, at mount, that the history is in use and
    /// until when the mount may write the origin (<paramref name="writeHorizonUtc"/>).
    /// </summary>
    void SetClean(bool clean, DateTime originMtimeUtc, DateTime? writeHorizonUtc = null);

    /// <summary>Durably moves the write horizon: the mount may write the origin until that instant.</summary>
    void ExtendWriteHorizon(DateTime untilUtc);
}

/// <summary>Facts a store read at open time, before anything changed them.</summary>
/// <remarks>WriteHorizonUtc: after an unclean shutdown, the latest instant the crashed mount could have written the origin.</remarks>
public sealed record StoreOpenState(bool WasClean, DateTime? RecordedOriginMtimeUtc, bool NeedsCheck, string? NeedsCheckReason,
    DateTime? WriteHorizonUtc = null);

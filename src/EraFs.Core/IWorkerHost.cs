namespace EraFs.Core;

/// <summary>What the group-commit worker needs from the tracker around it: other store work, and word of how commits end.</summary>
internal interface IWorkerHost
{
    /// <summary>
    /// Holding the gate: the next piece of store work to run (outside the gate) when no batch waits, or
    /// null. While <paramref name="stopping"/>, only work callers still wait for.
    /// </summary>
    Action? NextChoreLocked(bool stopping);

    /// <summary>Worker, not holding the gate: a commit failed, before its writers are told.</summary>
    void CommitFailed(string reason, Exception error);

    /// <summary>Worker, holding the gate: a commit ended, just before its writers wake.</summary>
    void CommitCompletedLocked();

    /// <summary>Holding the gate: the worker is gone; fail whatever still waits for it.</summary>
    void AbandonLocked(Exception reason);
}

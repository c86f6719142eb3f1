using System.Diagnostics;

namespace EraFs.Core;

/// <summary>
/// dm-era's write tracking over an <see cref="IEraStore"/>: a block's mark in the current era is durable
/// before any write to it proceeds, and concurrent first writes share one group commit.
/// </summary>
/// <remarks>
/// A façade over the three parts of tracking: <see cref="GroupCommit"/> (the batch, the worker and the
/// durable bits), <see cref="EraControls"/> (checkpoint, snapshots, close and the published status) and
/// <see cref="OpenSequence"/> (validation, origin check and the write horizon at open).
/// </remarks>
public sealed class EraTracker : IWriteInterceptor, IDisposable
{
    private readonly EraGeometry _geometry;
    private readonly GroupCommit _commits;
    private readonly EraControls _controls;
    private readonly WriteHorizon _horizon;

    internal EraTracker(EraGeometry geometry, GroupCommit commits, EraControls controls, WriteHorizon horizon)
    {
        _geometry = geometry;
        _commits = commits;
        _controls = controls;
        _horizon = horizon;
    }

    /// <summary>
    /// Opens tracking over an opened store. Every open starts a new era after archiving the committed current
    /// writeset, whether the last shutdown was clean or not, so no committed mark is ever lost.
    /// </summary>
    /// <exception cref="MetadataException">The metadata needs a check, or does not fit this origin or block size.</exception>
    public static EraTracker Open(IEraStore store, EraTrackerOptions options) => OpenSequence.Open(store, options);

    /// <summary>
    /// Every refusal of <see cref="Open"/>, without writing anything: the metadata needs a check, the
    /// block size differs, the origin cannot be tracked or shrank without permission, the eras are used up.
    /// </summary>
    /// <returns>The geometry the history will have for this origin.</returns>
    public static EraGeometry Validate(IEraStore store, EraTrackerOptions options) => OpenSequence.Validate(store, options);

    /// <summary>The latest published picture of the tracker; never blocks.</summary>
    public EraTrackerStatus Status => _controls.Status;

    /// <summary>dm-era's status line, without a newline; never blocks.</summary>
    public string StatusLine => Status.StatusLine;

    /// <summary>How long each commit of marks took; read without waiting.</summary>
    public LatencyHistogram CommitLatency => _commits.CommitLatency;

    /// <summary>Blocks marked since the tracker opened (first writes in their era), over all eras.</summary>
    public long BlocksMarked => _commits.BlocksMarked;

    /// <summary>Key/value facts for the info file; never blocks.</summary>
    public IReadOnlyList<(string Key, string Value)> Info => Status.Info;

    public EraGeometry Geometry => _geometry;

    public TrackerState State => Status.State;

    /// <summary>The era the last <see cref="Checkpoint"/> made current, or null if none since open.</summary>
    public uint? LastCheckpointEra => Status.LastCheckpointEra;

    /// <summary>Runs waiting for the next group commit; lets tests see that writers joined a batch.</summary>
    internal int PendingRunCount => _commits.PendingRunCount;

#if DEBUG
    // Which tracker this thread last passed BeforeWrite on, and in which era epoch: a value left by
    // another tracker (another mount or test on the same thread) must not excuse this one.
    [ThreadStatic] private static EraTracker? t_trackerAtBeforeWrite;
    [ThreadStatic] private static int t_epochAtBeforeWrite;
#endif

    public void BeforeWrite(long offset, long length)
    {
#if DEBUG
        t_trackerAtBeforeWrite = this;
        t_epochAtBeforeWrite = _commits.EraEpoch;
#endif
        if (length <= 0) return;
        if (offset < 0 || length > _geometry.OriginSize - offset)
            throw new ArgumentOutOfRangeException(nameof(offset),
                $"write of {length} bytes at {offset} falls outside the {_geometry.OriginSize}-byte device");
        if (_horizon.AskForRenewalIfDue()) _commits.Wake();
        var run = _geometry.BlocksTouching(offset, length);
        if (_commits.AllDurable(run)) return;
        _commits.WaitForMarks(run);
    }

    public bool MayWait(long offset, long length) =>
        length > 0 && offset >= 0 && length <= _geometry.OriginSize - offset && !_commits.AllDurable(_geometry.BlocksTouching(offset, length));

    /// <summary>Era tracking needs nothing once the write is done.</summary>
    public void AfterWrite(long offset, long length, bool succeeded)
    {
    }

    /// <summary>
    /// DEBUG only: throws if the range is not marked durable although no era change happened since this
    /// thread's last <see cref="BeforeWrite"/>. The adapter calls it just before issuing the origin write.
    /// </summary>
    [Conditional("DEBUG")]
    public void AssertMarkedDurable(long offset, long length)
    {
#if DEBUG
        if (length <= 0) return;
        var run = _geometry.BlocksTouching(offset, length);
        if (_commits.AllDurable(run)) return;
        // A checkpoint between this thread's BeforeWrite and now (or under way then) cleared the bits:
        // the write belongs to the era before it and was marked there.
        var eraMoved = _commits.EraEpoch != t_epochAtBeforeWrite || (t_epochAtBeforeWrite & 1) != 0;
        if (ReferenceEquals(t_trackerAtBeforeWrite, this) && eraMoved) return;
        throw new InvalidOperationException(
            $"write order broken: blocks [{run.Start}, {run.End}) are about to be written without a durable mark");
#endif
    }

    /// <summary>Commits pending marks, starts a new era and returns it once durable.</summary>
    /// <exception cref="ControlRejectedException">Era exhausted, tracking failed, or metadata could not be written.</exception>
    public uint Checkpoint() => _controls.Checkpoint();

    /// <summary>Takes dm-era's metadata snapshot (which also starts a new era); refused while one is held.</summary>
    public void TakeMetadataSnap() => _controls.TakeSnapshot();

    /// <summary>Releases the held metadata snapshot; refused when none is held.</summary>
    public void DropMetadataSnap() => _controls.DropSnapshot();

    /// <summary>
    /// Commits pending marks, stops the worker and, unless tracking failed, records a clean shutdown with the
    /// origin's mtime after its final flush (so the next open can tell whether anything wrote it meanwhile).
    /// </summary>
    public void Close(DateTime originMtimeAfterFlush)
    {
        try
        {
            _controls.Close(originMtimeAfterFlush);
        }
        finally
        {
            _commits.Stop();
        }
    }

    /// <summary>Stops the worker without recording a clean shutdown (as a crash would) and frees the bitsets.</summary>
    public void Dispose() => _commits.Dispose();
}

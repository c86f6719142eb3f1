namespace EraFs.Core;

/// <summary>
/// Sees every write (and discard) to the tracked device on its way to the origin.
/// The FUSE adapter calls <see cref="BeforeWrite"/> before the bytes go out and
/// <see cref="AfterWrite"/> once the origin accepted them.
/// </summary>
public interface IWriteInterceptor
{
    /// <summary>
    /// Returns once the write may reach the origin. May block the calling thread (for a metadata
    /// commit) but must not block writes that need no commit. Throws <see cref="TrackingFailedException"/>
    /// when the write must not proceed; the adapter answers EIO.
    /// </summary>
    void BeforeWrite(long offset, long length);

    /// <summary>
    /// Lock-free and only a hint, never a tracking decision: false when <see cref="BeforeWrite"/> for
    /// this range is expected to return without waiting on a commit, a flush or a copy (every mark it
    /// needs is already durable), true when it may wait. A caller that serves requests from a pool
    /// uses it to put another thread on while this one waits.
    /// </summary>
    bool MayWait(long offset, long length);

    /// <summary>The write finished (successfully or not); must not block.</summary>
    void AfterWrite(long offset, long length, bool succeeded);
}

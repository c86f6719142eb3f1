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

    /// <summary>The write finished (successfully or not); must not block.</summary>
    void AfterWrite(long offset, long length, bool succeeded);
}

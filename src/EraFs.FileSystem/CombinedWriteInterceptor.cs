using EraFs.RegionLog;
using EraFs.Core;

namespace EraFs.FileSystem;

/// <summary>
/// The era tracker and the region tracker on one write path: the region marks are queued first, so
/// their log flush runs while the era commit does, and the write is released once both are durable.
/// </summary>
public sealed class CombinedWriteInterceptor(IWriteInterceptor? era, RegionTracker regions) : IWriteInterceptor
{
    public void BeforeWrite(long offset, long length)
    {
        var admitted = regions.Admit(offset, length);
        try
        {
            era?.BeforeWrite(offset, length);
        }
        catch
        {
            regions.Abandon(admitted);
            throw;
        }
        try
        {
            regions.AwaitMarks(admitted);
        }
        catch (TrackingFailedException)
        {
            era?.AfterWrite(offset, length, succeeded: false);
            throw;
        }
    }

    public bool MayWait(long offset, long length) => (era?.MayWait(offset, length) ?? false) || regions.MayWait(offset, length);

    public void AfterWrite(long offset, long length, bool succeeded)
    {
        era?.AfterWrite(offset, length, succeeded);
        regions.AfterWrite(offset, length, succeeded);
    }
}

using System.Diagnostics;
using EraFs.Core;
using EraFs.RegionLog;
using EraFs.Fuse;

namespace EraFs.FileSystem;

/// <summary>
/// Background recovery after mount (dm-raid1's do_recovery): one region at a time is taken from the
/// log, quiesced, copied from the origin to the legs and recorded in sync, at a bounded byte rate.
/// </summary>
public sealed class Resync : IDisposable
{
    /// <summary>The longest a resync goes without a progress line while it is running.</summary>
    public static readonly TimeSpan ProgressLineInterval = TimeSpan.FromSeconds(5);

    private readonly RegionTracker _regions;
    private readonly Mirror _mirror;
    private readonly IFuseLog _log;
    private readonly ManualResetEventSlim _stop = new(false);
    private readonly Thread _thread;
    private readonly Stopwatch _clock = new();
    private long _regionsDone;
    private long _bytesCopied;
    private volatile bool _finished;
    private long _lastTenth;
    private TimeSpan _lastLine;

    public Resync(RegionTracker regions, Mirror mirror, long bytesPerSecond, IFuseLog log)
    {
        _regions = regions;
        _mirror = mirror;
        _log = log;
        BytesPerSecond = bytesPerSecond;
        OutOfSyncAtStart = (long)regions.RegionCount - regions.InSyncRegions;
        _thread = new Thread(Run) { IsBackground = true, Name = "region-resync" };
        _thread.Start();
    }

    public long BytesPerSecond { get; }

    /// <summary>Regions the log called out of sync when the mount started.</summary>
    public long OutOfSyncAtStart { get; }

    public long RegionsResynced => Interlocked.Read(ref _regionsDone);

    public long BytesCopied => Interlocked.Read(ref _bytesCopied);

    /// <summary>True once the log had no more resync work (or the resync was stopped).</summary>
    public bool Finished => _finished;

    public TimeSpan Elapsed => _clock.Elapsed;

    private void Run()
    {
        _clock.Start();
        var buffer = new byte[_regions.RegionSize];
        try
        {
            // A shared log can get work at any time (a dead node's regions), so its resync polls;
            // "finished" then means nothing to do at the last look.
            var poll = (_regions.Log as ISharedRegionLog)?.ResyncPollInterval;
            while (!_stop.IsSet)
            {
                if (!_regions.TryBeginRecovery(out var region))
                {
                    if (poll is null) break;
                    _finished = true;
                    _stop.Wait(poll.Value);
                    continue;
                }
                _finished = false;
                var offset = (long)region * _regions.RegionSize;
                var ok = _mirror.CopyToLegs(offset, buffer);
                _regions.EndRecovery(region, ok);
                if (ok) Interlocked.Increment(ref _regionsDone);
                var copied = Interlocked.Add(ref _bytesCopied, _mirror.Legs.Count == 0 ? 0 : Math.Min(buffer.Length, _mirror.Size - offset));
                LogProgress(copied);
                Throttle(copied);
            }
            _log.Info($"resync {(_stop.IsSet ? "stopped" : "finished")}: {RegionsResynced} region(s), {BytesCopied} bytes in {_clock.Elapsed.TotalSeconds:F1} s");
        }
        catch (Exception e)
        {
            _log.Error($"resync failed: {e.Message}", e);
        }
        finally
        {
            _clock.Stop();
            _finished = true;
        }
    }

    /// <summary>
    /// A progress line each tenth of the regions out of sync at mount, or every few seconds when
    /// tenths are slow, so a foreground mount (and the log) shows the resync moving.
    /// </summary>
    private void LogProgress(long copied)
    {
        var total = OutOfSyncAtStart;
        if (total <= 0) return;
        var tenth = Math.Min(RegionsResynced, total) * 10 / total;
        var now = _clock.Elapsed;
        if (tenth <= _lastTenth && now - _lastLine < ProgressLineInterval) return;
        _lastTenth = tenth;
        _lastLine = now;
        var totalBytes = Math.Min(total * (long)_regions.RegionSize, _mirror.Size);
        _log.Info(ProgressMeter.Describe("resync", (ulong)copied, (ulong)Math.Max(totalBytes, copied), now, ProgressUnit.Bytes, finished: false) +
                  $", {RegionsResynced} of {total} region(s)");
    }

    private void Throttle(long copied)
    {
        if (BytesPerSecond <= 0) return;
        var due = TimeSpan.FromSeconds((double)copied / BytesPerSecond) - _clock.Elapsed;
        if (due > TimeSpan.Zero) _stop.Wait(due);
    }

    /// <summary>Stops after the region in progress (dm-raid1 waits for recovery at presuspend).</summary>
    public void Stop()
    {
        _stop.Set();
        _regions.CancelRecovery();
        _thread.Join();
    }

    public void Dispose()
    {
        Stop();
        _stop.Dispose();
    }
}

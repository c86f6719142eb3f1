using EraFs.TestSupport;

namespace EraFs.Core.Tests;

/// <summary>A memory store with a tracker opened over it, plus the log lines the tracker wrote.</summary>
internal sealed class TrackedDevice : IDisposable
{
    public const uint BlockSize = 4096;

    public TrackedDevice(MemoryEraStore store, EraTrackerOptions? options = null)
    {
        Store = store;
        Options = options ?? OptionsFor(store.Geometry.OriginSize);
        Tracker = EraTracker.Open(Store, WithLog(Options));
    }

    public MemoryEraStore Store { get; }
    public EraTrackerOptions Options { get; }
    public EraTracker Tracker { get; private set; }
    public List<string> Log { get; } = [];

    public static TrackedDevice WithBlocks(long originSize = 16 * BlockSize, uint initialEra = 0) =>
        new(new MemoryEraStore(EraGeometry.For(originSize, BlockSize), initialEra));

    public static EraTrackerOptions OptionsFor(long originSize, DateTime? mtime = null, bool allowShrink = false, uint? blockSize = null) =>
        new()
        {
            OriginSize = originSize,
            OriginMtimeUtc = mtime ?? MemoryEraStore.DefaultOriginMtime,
            AllowShrink = allowShrink,
            RequestedBlockSize = blockSize,
        };

    /// <summary>Writes one byte range through the tracker as the adapter would.</summary>
    public void Write(long offset, long length)
    {
        Tracker.BeforeWrite(offset, length);
        Tracker.AssertMarkedDurable(offset, length);
        Tracker.AfterWrite(offset, length, true);
    }

    public void WriteBlock(ulong block) => Write((long)block * BlockSize, BlockSize);

    /// <summary>Closes cleanly (or drops the tracker as a crash would) and opens a new tracker over the same store.</summary>
    public void Remount(bool clean, EraTrackerOptions? options = null)
    {
        if (clean) Tracker.Close(options?.OriginMtimeUtc ?? Options.OriginMtimeUtc);
        Tracker.Dispose();
        Store.Remount();
        Tracker = EraTracker.Open(Store, WithLog(options ?? Options));
    }

    public void Dispose()
    {
        Store.CommitGate.Set();
        Tracker.Dispose();
    }

    private EraTrackerOptions WithLog(EraTrackerOptions options) => new()
    {
        OriginSize = options.OriginSize,
        OriginMtimeUtc = options.OriginMtimeUtc,
        OriginChangedUtc = options.OriginChangedUtc,
        WriteHorizon = options.WriteHorizon,
        AllowShrink = options.AllowShrink,
        RequestedBlockSize = options.RequestedBlockSize,
        Log = line => { lock (Log) Log.Add(line); },
    };
}

using System.Text;
using EraFs.Core;
using EraFs.FileSystem;
using EraFs.Fuse;
using EraFs.Metadata;
using EraFs.TestSupport;

namespace EraFs.Reliability.Tests;

/// <summary>One write that reached (or was refused before) the origin, for oracle O2.</summary>
internal readonly record struct IssuedWrite(BlockRun Blocks, uint EraAtLeast, bool Issued);

/// <summary>
/// The real write path without the kernel: metadata on a <see cref="FaultyDevice"/>, MetadataStore, EraTracker
/// and DeviceFileSystem over a <see cref="VolatileOrigin"/>. Writes and control messages go through
/// DeviceFileSystem exactly as FUSE requests would, so the debug write-order check runs on each one.
/// Logs every write for oracle O2 (which era it must at least count in) and every acknowledged era for O5.
/// </summary>
internal sealed class TrackedStack : IDisposable
{
    public const int BlockSize = 4096;
    public static readonly DateTime OriginMtime = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    private readonly Lock _lock = new();
    private readonly List<IssuedWrite> _writes = [];
    private uint _eraFloor;

    private TrackedStack(IBlockDevice? meta, VolatileOrigin origin, EraTracker tracker)
    {
        Meta = meta;
        Origin = origin;
        Tracker = tracker;
        Log = new DaemonLog(TextWriter.Synchronized(new StringWriter()));
        Fs = new DeviceFileSystem(origin, tracker, EraControlFiles.For(tracker, () => [], Log), Log,
            writeOrderCheck: (offset, length) => tracker.AssertMarkedDurable(offset, length));
        OpenEra = _eraFloor = tracker.Status.CurrentEra;
        AcknowledgedEra = OpenEra;
    }

    /// <summary>The metadata device when the test supplied one (null for a store on a file).</summary>
    public IBlockDevice? Meta { get; }
    public VolatileOrigin Origin { get; }
    public EraTracker Tracker { get; }
    public DeviceFileSystem Fs { get; }
    public DaemonLog Log { get; }

    /// <summary>The era the open started: every write since counts at least in it.</summary>
    public uint OpenEra { get; }

    /// <summary>Largest era a completed checkpoint or snapshot returned (O5).</summary>
    public uint AcknowledgedEra { get; private set; }

    public int OrderViolations { get; private set; }

    /// <summary>Writes answered with an error whose bytes still reached the origin (single-writer runs only).</summary>
    public int RefusedWritesThatReachedOrigin { get; private set; }

    public IReadOnlyList<IssuedWrite> Writes
    {
        get { lock (_lock) return [.. _writes]; }
    }

    /// <summary>Fresh metadata for an origin of <paramref name="nrBlocks"/> blocks, recorded clean, as <c>erafs create</c> leaves it.</summary>
    public static byte[] FreshMetadata(ulong nrBlocks, uint journalBlocks = 4, long? originSize = null)
    {
        var device = new FaultyDevice("meta.bin");
        var geometry = EraGeometry.For(originSize ?? (long)nrBlocks * BlockSize, BlockSize);
        using (var store = MetadataStore.Create(device, geometry, journalBlocks)) store.SetClean(true, OriginMtime);
        return device.Snapshot();
    }

    /// <summary>Opens the stack; a power loss or I/O error during open surfaces as the store's exception.</summary>
    public static TrackedStack Open(IBlockDevice meta, VolatileOrigin origin) => Open(MetadataStore.Open(meta), origin, meta);

    /// <summary>Opens tracking over an opened store (disposed if the open fails).</summary>
    public static TrackedStack Open(MetadataStore store, VolatileOrigin origin, IBlockDevice? meta = null)
    {
        try
        {
            var tracker = EraTracker.Open(store, new EraTrackerOptions { OriginSize = origin.Size, OriginMtimeUtc = origin.ModifiedUtc });
            return new TrackedStack(meta, origin, tracker);
        }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    /// <summary>Writes through DeviceFileSystem; returns its result (bytes or a negative errno).</summary>
    public int Write(long offset, int length, Random random)
    {
        var data = new byte[length];
        random.NextBytes(data);
        return Write(offset, data);
    }

    public int Write(long offset, byte[] data)
    {
        uint floor;
        lock (_lock) floor = _eraFloor;
        var originWritesBefore = Origin.Writes;
        int rc;
        try
        {
            rc = Fs.Write(DeviceFileSystem.DeviceInode, 0, data, offset);
        }
        catch (InvalidOperationException e) when (e.Message.StartsWith("write order broken", StringComparison.Ordinal))
        {
            lock (_lock) OrderViolations++;
            rc = FuseErrors.EIO;
        }
        var run = Tracker.Geometry.BlocksTouching(offset, data.Length);
        lock (_lock)
        {
            _writes.Add(new IssuedWrite(run, floor, rc >= 0));
            // Exact only with one writer: a refused write must leave the origin untouched.
            if (rc < 0 && Origin.Writes != originWritesBefore) RefusedWritesThatReachedOrigin++;
        }
        return rc;
    }

    /// <summary>Sends a control write (checkpoint, take_metadata_snap, message, ...); 0 or a negative errno.</summary>
    public int Control(string file, string text)
    {
        Assert.That(Fs.Lookup(FuseFileSystem.RootInode, file, out var attributes), Is.Zero, file);
        var bytes = Encoding.UTF8.GetBytes(text);
        return Control(attributes.Inode, bytes);
    }

    public int Control(ulong inode, byte[] bytes)
    {
        var rc = Fs.Write(inode, 0, bytes, 0);
        if (rc >= 0) Acknowledge(Tracker.Status.CurrentEra);
        return rc < 0 ? rc : 0;
    }

    public int Checkpoint() => Control("checkpoint", "1\n");

    private void Acknowledge(uint era)
    {
        lock (_lock)
        {
            // Only eras a completed control returned: writes that start afterwards must count in them.
            if (era > _eraFloor) _eraFloor = era;
            if (era > AcknowledgedEra) AcknowledgedEra = era;
        }
    }

    /// <summary>Closes cleanly, as an unmount does.</summary>
    public void Close()
    {
        Origin.Sync(false);
        Tracker.Close(Origin.ModifiedUtc);
    }

    public void Dispose()
    {
        Tracker.Dispose();
        Log.Dispose();
    }
}

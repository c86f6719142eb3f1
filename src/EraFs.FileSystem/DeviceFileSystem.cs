using System.Collections.Concurrent;
using System.Text;
using EraFs.Core;
using EraFs.Fuse;
using Mono.Unix.Native;

namespace EraFs.FileSystem;

/// <summary>
/// The mount: a root directory holding <c>device</c> (the origin, every write passing through the
/// write interceptor first) and the control files. Knows nothing of how metadata is laid out.
/// </summary>
public sealed class DeviceFileSystem : FuseFileSystem
{
    public const string DeviceName = "device";
    public const ulong DeviceInode = 2;
    private const ulong FirstControlInode = 3;
    private const uint S_IFDIR = 0x4000;
    private const uint S_IFREG = 0x8000;
    private const int O_TRUNC = 0x200;
    private const int FALLOC_FL_KEEP_SIZE = 0x01;
    private const int FALLOC_FL_PUNCH_HOLE = 0x02;
    private const int FALLOC_FL_ZERO_RANGE = 0x10;

    private readonly IDeviceIo _origin;
    private readonly IWriteInterceptor? _interceptor;
    // Called with each write's range right before the origin write; the mount gives the era tracker's
    // debug check of dm-era's write order (mark durable first), which is empty in release builds.
    private readonly Action<long, long>? _orderCheck;
    private readonly IReadOnlyList<ControlFile> _controls;
    private readonly IReadOnlyList<ViewFile> _views;
    private readonly IFuseLog _log;
    private readonly ConcurrentDictionary<ulong, IViewContent> _openContents = new();
    private readonly uint _uid = Syscall.geteuid();
    private readonly uint _gid = Syscall.getegid();
    private readonly DateTime _mountedUtc = DateTime.UtcNow;
    private long _nextHandle = 1;
    private long _deviceMtimeTicks;
    private long _largestWrite;
    private long _largestRead;

    public DeviceFileSystem(IDeviceIo origin, IWriteInterceptor? interceptor, IReadOnlyList<ControlFile> controls, IFuseLog log,
        IReadOnlyList<ViewFile>? views = null, Action<long, long>? writeOrderCheck = null)
    {
        _origin = origin;
        _interceptor = interceptor;
        _orderCheck = writeOrderCheck;
        _controls = controls;
        _views = views ?? [];
        _log = log;
        _deviceMtimeTicks = origin.ModifiedUtc.Ticks;
    }

    /// <summary>Reads, writes, discards and control writes served since the mount.</summary>
    public DeviceCounters Counters { get; } = new();

    /// <summary>Largest single write and read request seen: shows what the kernel really sends.</summary>
    public (long Write, long Read) LargestRequests => (Interlocked.Read(ref _largestWrite), Interlocked.Read(ref _largestRead));

    /// <summary>What the kernel agreed at INIT, once mounted.</summary>
    public FuseConnectionInfo? Connection { get; private set; }

    public override void Initialized(FuseConnectionInfo connection) => Connection = connection;

    private FuseAttributes RootAttributes => new(RootInode, S_IFDIR | 0x1C0, 0, _uid, _gid, _mountedUtc, Nlink: 2);

    private FuseAttributes DeviceAttributes =>
        new(DeviceInode, S_IFREG | 0x180, _origin.Size, _uid, _gid, new DateTime(Interlocked.Read(ref _deviceMtimeTicks), DateTimeKind.Utc));

    private FuseAttributes ControlAttributes(ulong inode, ControlFile c) =>
        new(inode, S_IFREG | c.Permissions, 0, _uid, _gid, _mountedUtc);

    private ControlFile? Control(ulong inode)
    {
        var i = inode - FirstControlInode;
        return inode >= FirstControlInode && i < (ulong)_controls.Count ? _controls[(int)i] : null;
    }

    private ulong FirstViewInode => FirstControlInode + (ulong)_controls.Count;

    private ViewFile? View(ulong inode)
    {
        var i = inode - FirstViewInode;
        return inode >= FirstViewInode && i < (ulong)_views.Count ? _views[(int)i] : null;
    }

    // A view comes and goes with the state behind it (metadata with a held snapshot): a cached name
    // would show a dropped snapshot's view for another second.
    private FuseAttributes ViewAttributes(ulong inode, IViewContent content) =>
        new(inode, S_IFREG | 0x100, content.Length, _uid, _gid, _mountedUtc, Uncached: true);

    public override int Lookup(ulong parent, string name, out FuseAttributes attributes)
    {
        attributes = default;
        if (parent != RootInode) return FuseErrors.ENOTDIR;
        if (name == DeviceName)
        {
            attributes = DeviceAttributes;
            return 0;
        }
        for (var i = 0; i < _controls.Count; i++)
        {
            if (_controls[i].Name != name) continue;
            attributes = ControlAttributes(FirstControlInode + (ulong)i, _controls[i]);
            return 0;
        }
        for (var i = 0; i < _views.Count; i++)
        {
            if (_views[i].Name != name || _views[i].Current() is not { } content) continue;
            attributes = ViewAttributes(FirstViewInode + (ulong)i, content);
            return 0;
        }
        return FuseErrors.ENOENT;
    }

    public override int GetAttributes(ulong inode, out FuseAttributes attributes)
    {
        attributes = default;
        if (inode == RootInode) attributes = RootAttributes;
        else if (inode == DeviceInode) attributes = DeviceAttributes;
        else if (Control(inode) is { } c) attributes = ControlAttributes(inode, c);
        else if (View(inode)?.Current() is { } content) attributes = ViewAttributes(inode, content);
        else return FuseErrors.ENOENT;
        return 0;
    }

    public override int SetAttributes(ulong inode, FuseSetAttr toSet, in FuseAttributes requested, out FuseAttributes attributes)
    {
        var rc = GetAttributes(inode, out attributes);
        if (rc < 0) return rc;
        if ((toSet & (FuseSetAttr.Mode | FuseSetAttr.Uid | FuseSetAttr.Gid)) != 0) return FuseErrors.EPERM;
        if ((toSet & FuseSetAttr.Size) != 0)
        {
            // A block file has the size of its origin; "echo x > checkpoint" truncates first, so
            // control files accept (and ignore) truncation.
            if (inode == DeviceInode && requested.Size != _origin.Size) return FuseErrors.EPERM;
            if (inode == RootInode) return FuseErrors.EISDIR;
        }
        if (inode == DeviceInode && (toSet & (FuseSetAttr.Mtime | FuseSetAttr.MtimeNow)) != 0)
        {
            var t = (toSet & FuseSetAttr.MtimeNow) != 0 ? DateTime.UtcNow : requested.MtimeUtc;
            Interlocked.Exchange(ref _deviceMtimeTicks, t.Ticks);
        }
        return GetAttributes(inode, out attributes);
    }

    public override int ReadDirectory(ulong inode, out IReadOnlyList<FuseDirEntry> entries)
    {
        entries = [];
        if (inode != RootInode) return FuseErrors.ENOTDIR;
        var list = new List<FuseDirEntry>
        {
            new(".", RootInode, S_IFDIR),
            new("..", RootInode, S_IFDIR),
            new(DeviceName, DeviceInode, S_IFREG),
        };
        for (var i = 0; i < _controls.Count; i++)
            list.Add(new FuseDirEntry(_controls[i].Name, FirstControlInode + (ulong)i, S_IFREG));
        for (var i = 0; i < _views.Count; i++)
            if (_views[i].Current() is not null) list.Add(new FuseDirEntry(_views[i].Name, FirstViewInode + (ulong)i, S_IFREG));
        entries = list;
        return 0;
    }

    public override int Open(ulong inode, int flags, ref FuseOpenReply reply)
    {
        if (inode == DeviceInode)
        {
            if ((flags & O_TRUNC) != 0) return FuseErrors.EPERM;
            // Only this daemon writes the origin while mounted, so cached pages stay valid across opens.
            reply.KeepCache = true;
            return 0;
        }
        if (View(inode) is { } view)
        {
            if ((flags & 3) != 0) return FuseErrors.EACCES;
            if (view.Current() is not { } content) return FuseErrors.ENOENT;
            // One content per open: a reader sees one consistent image even if the source moves on.
            reply.DirectIo = true;
            reply.Handle = (ulong)Interlocked.Increment(ref _nextHandle);
            _openContents[reply.Handle] = content;
            return 0;
        }
        if (Control(inode) is not { } c) return inode == RootInode ? FuseErrors.EISDIR : FuseErrors.ENOENT;
        var accessMode = flags & 3;
        if (accessMode != 1 && c.Read is null) return FuseErrors.EACCES;
        if (accessMode != 0 && c.Write is null) return FuseErrors.EACCES;
        // Control files change under the reader, so the page cache must not serve stale text.
        reply.DirectIo = true;
        reply.NonSeekable = false;
        if (c.Read is not null && accessMode != 1)
        {
            reply.Handle = (ulong)Interlocked.Increment(ref _nextHandle);
            _openContents[reply.Handle] = new ByteViewContent(Encoding.UTF8.GetBytes(c.Read()));
        }
        return 0;
    }

    public override int Read(ulong inode, ulong handle, Span<byte> buffer, long offset)
    {
        if (inode == DeviceInode)
        {
            if (offset >= _origin.Size) return 0;
            var len = (int)Math.Min(buffer.Length, _origin.Size - offset);
            UpdateMax(ref _largestRead, len);
            var read = _origin.Read(buffer[..len], offset);
            if (read > 0) Counters.Read(read);
            return read;
        }
        return _openContents.TryGetValue(handle, out var content) ? content.Read(buffer, offset) : FuseErrors.EBADF;
    }

    public override int Write(ulong inode, ulong handle, ReadOnlySpan<byte> data, long offset)
    {
        if (inode == DeviceInode) return WriteDevice(data, offset);
        if (Control(inode) is not { Write: { } act } c) return FuseErrors.EACCES;
        var message = Encoding.UTF8.GetString(data);
        var rc = act(message);
        Counters.Control(c.Name, rc >= 0);
        if (rc < 0) _log.Info($"write to {c.Name} refused: {FuseErrors.Describe(rc)}");
        return rc < 0 ? rc : data.Length;
    }

    private int WriteDevice(ReadOnlySpan<byte> data, long offset)
    {
        // A block device ends where its origin ends: nothing grows it.
        if (offset >= _origin.Size) return FuseErrors.EFBIG;
        var len = (int)Math.Min(data.Length, _origin.Size - offset);
        UpdateMax(ref _largestWrite, len);
        var admitted = Admit("write", offset, len);
        if (admitted < 0)
        {
            Counters.Written(admitted, 0);
            return admitted;
        }
        var rc = FuseErrors.EIO;
        try
        {
            rc = _origin.Write(data[..len], offset);
        }
        finally
        {
            // Admission and release are one scope: a throw after admission must not leave the
            // region counted in flight, or it would never be cleared or resynced.
            _interceptor?.AfterWrite(offset, len, rc >= 0);
            Counters.Written(rc, len);
        }
        return rc;
    }

    /// <summary>
    /// Lets a write or discard through the interceptor before it reaches the origin: 0, or EIO when
    /// it could not be tracked (logged; the origin is not touched).
    /// </summary>
    private int Admit(string what, long offset, long length)
    {
        if (_interceptor is null) return 0;
        try
        {
            if (_interceptor.MayWait(offset, length))
            {
                using (FuseWait.Begin()) _interceptor.BeforeWrite(offset, length);
            }
            else
            {
                _interceptor.BeforeWrite(offset, length);
            }
        }
        catch (TrackingFailedException ex)
        {
            _log.Error($"{what} of {length} bytes at {offset} refused: {ex.Message}");
            return FuseErrors.EIO;
        }
        _orderCheck?.Invoke(offset, length);
        return 0;
    }

    public override int Fallocate(ulong inode, ulong handle, int mode, long offset, long length)
    {
        if (inode != DeviceInode) return FuseErrors.EOPNOTSUPP;
        if (offset < 0 || length <= 0) return FuseErrors.EINVAL;
        var punch = (mode & FALLOC_FL_PUNCH_HOLE) != 0;
        var zero = (mode & FALLOC_FL_ZERO_RANGE) != 0;
        if ((mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) != 0) return FuseErrors.EOPNOTSUPP;
        if (!punch && !zero)
        {
            // Plain allocation changes no bytes; it can only be refused when it would grow the file.
            return offset + length > _origin.Size && (mode & FALLOC_FL_KEEP_SIZE) == 0 ? FuseErrors.EFBIG : 0;
        }
        if (offset >= _origin.Size) return (mode & FALLOC_FL_KEEP_SIZE) != 0 ? 0 : FuseErrors.EFBIG;
        var len = Math.Min(length, _origin.Size - offset);
        var admitted = Admit("discard", offset, len);
        if (admitted < 0)
        {
            Counters.Discarded(admitted, 0);
            return admitted;
        }
        var rc = FuseErrors.EIO;
        try
        {
            rc = _origin.Zero(offset, len, punch);
        }
        finally
        {
            _interceptor?.AfterWrite(offset, len, rc >= 0);
            Counters.Discarded(rc, len);
        }
        return rc;
    }

    public override int Fsync(ulong inode, ulong handle, bool dataOnly) =>
        inode == DeviceInode ? _origin.Sync(dataOnly) : 0;

    public override int Flush(ulong inode, ulong handle) =>
        inode == DeviceInode ? _origin.FlushDescriptor() : 0;

    public override int Release(ulong inode, ulong handle)
    {
        if (handle != 0) _openContents.TryRemove(handle, out _);
        return 0;
    }

    public override int StatFs(out long totalBytes, out long freeBytes)
    {
        totalBytes = _origin.Size;
        freeBytes = 0;
        return 0;
    }

    private static void UpdateMax(ref long field, long value)
    {
        var seen = Interlocked.Read(ref field);
        while (value > seen)
        {
            var prior = Interlocked.CompareExchange(ref field, value, seen);
            if (prior == seen) return;
            seen = prior;
        }
    }
}

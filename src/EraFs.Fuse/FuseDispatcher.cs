using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using EraFs.Fuse.Kernel;

namespace EraFs.Fuse;

/// <summary>
/// The FUSE protocol: one request in, at most one reply out, whatever transport carried them. It is
/// the one errno boundary: a negative handler result is an errno, an escaping exception is logged
/// and answered EIO, and a request that does not parse is answered EIO without reaching a handler.
/// </summary>
internal sealed class FuseDispatcher
{
    /// <summary>What <see cref="Dispatch"/> returns for a request the kernel expects no answer to.</summary>
    public const int NoReply = int.MinValue;

    private static readonly int HeaderSize = Unsafe.SizeOf<fuse_in_header>();

    private readonly FuseFileSystem _fileSystem;
    private readonly FuseMountOptions _options;
    private readonly IFuseLog _log;
    private readonly bool _offerUring;
    private readonly (ulong Seconds, uint Nanoseconds) _attrValid;
    private readonly ConcurrentDictionary<ulong, IReadOnlyList<FuseDirEntry>> _listings = new();
    private readonly TaskCompletionSource<FuseConnectionInfo> _initialized = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private FuseConnectionInfo? _agreed;
    private long _nextListing;
    private long _forgets;
    private long _interrupts;
    private long _malformed;
    private int _destroyed;

    public FuseDispatcher(FuseFileSystem fileSystem, FuseMountOptions options, IFuseLog log, bool offerUring)
    {
        _fileSystem = fileSystem;
        _options = options;
        _log = log;
        _offerUring = offerUring;
        var t = options.AttributeTimeout;
        _attrValid = ((ulong)t.TotalSeconds, (uint)(t.Ticks % TimeSpan.TicksPerSecond * 100));
    }

    /// <summary>
    /// The transport delivered the answer to INIT. Only from here on does the kernel consider the
    /// connection initialised and accept io_uring registrations.
    /// </summary>
    public void InitAnswered()
    {
        if (_agreed is { } info) _initialized.TrySetResult(info);
    }

    /// <summary>Completes with what was agreed once INIT has been answered and the answer delivered.</summary>
    public Task<FuseConnectionInfo> Initialized => _initialized.Task;

    /// <summary>True once INIT agreed to carry requests over io_uring.</summary>
    public bool UringAgreed { get; private set; }

    /// <summary>Inode references the kernel dropped (FORGET and BATCH_FORGET entries).</summary>
    public long Forgets => Interlocked.Read(ref _forgets);

    /// <summary>INTERRUPT requests seen; handlers run to completion, so each is acknowledged by the original reply.</summary>
    public long Interrupts => Interlocked.Read(ref _interrupts);

    /// <summary>Requests that did not parse and were answered EIO.</summary>
    public long Malformed => Interlocked.Read(ref _malformed);

    /// <summary>
    /// Serves one request read whole from /dev/fuse. Writes the reply's payload into
    /// <paramref name="reply"/> and returns its length, a negative errno, or <see cref="NoReply"/>.
    /// </summary>
    public int DispatchDevRequest(ReadOnlySpan<byte> request, Span<byte> reply, out fuse_in_header header)
    {
        header = default;
        if (request.Length < HeaderSize)
        {
            // Without a whole header there is no unique id to answer to.
            MalformedRequest("shorter than fuse_in_header", request.Length);
            return NoReply;
        }
        header = MemoryMarshal.Read<fuse_in_header>(request);
        if (header.len != request.Length) return MalformedRequest($"len {header.len} but {request.Length} bytes read", request.Length);
        var args = request[HeaderSize..];
        var split = FuseAbi.OpHeaderSize((fuse_opcode)header.opcode);
        if (header.opcode == (uint)fuse_opcode.FUSE_INIT) split = Math.Min(split, args.Length);
        if (args.Length < split) return MalformedRequest($"opcode {header.opcode} with {args.Length} argument bytes", request.Length);
        return Dispatch(header, args[..split], args[split..], reply);
    }

    /// <summary>
    /// Serves one request: <paramref name="opIn"/> is the opcode's fixed header, <paramref name="payload"/>
    /// what follows it (a name, write data, forget entries). The reply's payload goes into
    /// <paramref name="reply"/>; returns its length, a negative errno, or <see cref="NoReply"/>.
    /// </summary>
    public int Dispatch(in fuse_in_header header, ReadOnlySpan<byte> opIn, ReadOnlySpan<byte> payload, Span<byte> reply)
    {
        var op = (fuse_opcode)header.opcode;
        try
        {
            return op switch
            {
                fuse_opcode.FUSE_INIT => Init(opIn, reply),
                fuse_opcode.FUSE_DESTROY => Destroy(),
                fuse_opcode.FUSE_LOOKUP => Lookup(header.nodeid, payload, reply),
                fuse_opcode.FUSE_FORGET => Forget(1),
                fuse_opcode.FUSE_BATCH_FORGET => BatchForget(opIn, payload),
                fuse_opcode.FUSE_INTERRUPT => Interrupt(),
                fuse_opcode.FUSE_GETATTR => GetAttr(header.nodeid, reply),
                fuse_opcode.FUSE_SETATTR => SetAttr(header.nodeid, Read<fuse_setattr_in>(opIn), reply),
                fuse_opcode.FUSE_OPEN => Open(header.nodeid, Read<fuse_open_in>(opIn), reply),
                fuse_opcode.FUSE_READ => ReadData(header.nodeid, Read<fuse_read_in>(opIn), reply),
                fuse_opcode.FUSE_WRITE => WriteData(header.nodeid, Read<fuse_write_in>(opIn), payload, reply),
                fuse_opcode.FUSE_FLUSH => _fileSystem.Flush(header.nodeid, Read<fuse_flush_in>(opIn).fh),
                fuse_opcode.FUSE_RELEASE => Release(header.nodeid, Read<fuse_release_in>(opIn)),
                fuse_opcode.FUSE_FSYNC => Fsync(header.nodeid, Read<fuse_fsync_in>(opIn)),
                fuse_opcode.FUSE_FALLOCATE => Fallocate(header.nodeid, Read<fuse_fallocate_in>(opIn)),
                fuse_opcode.FUSE_OPENDIR => OpenDir(header.nodeid, reply),
                fuse_opcode.FUSE_READDIR => ReadDir(Read<fuse_read_in>(opIn), reply),
                fuse_opcode.FUSE_RELEASEDIR => ReleaseDir(Read<fuse_release_in>(opIn)),
                fuse_opcode.FUSE_STATFS => StatFs(reply),
                _ => FuseErrors.ENOSYS,
            };
        }
        catch (MalformedArgumentsException ex)
        {
            return MalformedRequest($"opcode {header.opcode}: {ex.Message}", (int)header.len);
        }
        catch (Exception ex)
        {
            _log.Error($"{OpName(op)} handler on inode {header.nodeid} threw {ex.GetType().Name}: {ex.Message}; answered EIO", ex);
            return FuseErrors.EIO;
        }
    }

    /// <summary>
    /// The kernel refused a reply because its request was interrupted and is gone; an open nobody
    /// will release is released here, so no handle leaks.
    /// </summary>
    public void Undelivered(in fuse_in_header header, ReadOnlySpan<byte> reply)
    {
        if (reply.Length < Unsafe.SizeOf<fuse_open_out>()) return;
        var open = MemoryMarshal.Read<fuse_open_out>(reply);
        if (header.opcode == (uint)fuse_opcode.FUSE_OPEN) _fileSystem.Release(header.nodeid, open.fh);
        else if (header.opcode == (uint)fuse_opcode.FUSE_OPENDIR) _listings.TryRemove(open.fh, out _);
    }

    /// <summary>The connection is gone without a DESTROY (unmount of a plain fuse mount, or an abort).</summary>
    public void ConnectionEnded()
    {
        if (Interlocked.Exchange(ref _destroyed, 1) == 0) _fileSystem.Destroyed();
    }

    // "read" for FUSE_READ, as the handlers are named in logs.
    private static string OpName(fuse_opcode op) =>
        Enum.IsDefined(op) ? op.ToString()["FUSE_".Length..].ToLowerInvariant() : $"opcode {(uint)op}";

    private int MalformedRequest(string what, int length)
    {
        Interlocked.Increment(ref _malformed);
        _log.Error($"malformed FUSE request ({length} bytes): {what}; answered EIO");
        return FuseErrors.EIO;
    }

    private static T Read<T>(ReadOnlySpan<byte> opIn) where T : unmanaged =>
        opIn.Length >= Unsafe.SizeOf<T>()
            ? MemoryMarshal.Read<T>(opIn)
            : throw new MalformedArgumentsException($"{typeof(T).Name} needs {Unsafe.SizeOf<T>()} bytes, got {opIn.Length}");

    private static int Write<T>(Span<byte> reply, in T value) where T : unmanaged
    {
        var size = Unsafe.SizeOf<T>();
        if (reply.Length < size) return FuseErrors.EIO;
        MemoryMarshal.Write(reply, in value);
        return size;
    }

    private int Init(ReadOnlySpan<byte> opIn, Span<byte> reply)
    {
        if (opIn.Length < 16) throw new MalformedArgumentsException($"fuse_init_in of {opIn.Length} bytes");
        Span<byte> whole = stackalloc byte[Unsafe.SizeOf<fuse_init_in>()];
        opIn[..Math.Min(opIn.Length, whole.Length)].CopyTo(whole);
        var request = MemoryMarshal.Read<fuse_init_in>(whole);
        if (request.major != FuseAbi.FUSE_KERNEL_VERSION || request.minor < FuseAbi.MinimumMinor)
        {
            _log.Error($"the kernel speaks FUSE {request.major}.{request.minor}; EraFs needs {FuseAbi.FUSE_KERNEL_VERSION}.{FuseAbi.MinimumMinor} or newer");
            var refused = FuseErrors.Of(Mono.Unix.Native.Errno.EPROTO);
            _initialized.TrySetException(new FuseMountException($"the kernel's FUSE protocol {request.major}.{request.minor} is too old"));
            return refused;
        }
        var capable = request.flags | ((request.flags & FuseAbi.FUSE_INIT_EXT) != 0 ? (ulong)request.flags2 << 32 : 0);
        var wanted = FuseAbi.FUSE_ASYNC_READ | FuseAbi.FUSE_BIG_WRITES | FuseAbi.FUSE_AUTO_INVAL_DATA | FuseAbi.FUSE_ASYNC_DIO |
                     FuseAbi.FUSE_PARALLEL_DIROPS | FuseAbi.FUSE_MAX_PAGES | FuseAbi.FUSE_INIT_EXT;
        if (_offerUring) wanted |= FuseAbi.FUSE_OVER_IO_URING;
        var want = capable & wanted;
        var pagesLimit = ReadMaxPagesLimit();
        var maxPages = (want & FuseAbi.FUSE_MAX_PAGES) != 0 ? Math.Min(pagesLimit, (int)((_options.MaxWrite + 4095) / 4096)) : 32;
        var maxWrite = (uint)Math.Min(_options.MaxWrite, (uint)maxPages * 4096);
        var answer = new fuse_init_out
        {
            major = FuseAbi.FUSE_KERNEL_VERSION,
            minor = Math.Min(request.minor, FuseAbi.FUSE_KERNEL_MINOR_VERSION),
            max_readahead = request.max_readahead,
            flags = (uint)want,
            flags2 = (uint)(want >> 32),
            max_background = (ushort)Math.Min(_options.MaxBackground, ushort.MaxValue),
            // The kernel marks the connection congested at this many background requests (3/4, its default).
            congestion_threshold = (ushort)Math.Min(_options.MaxBackground * 3 / 4, ushort.MaxValue),
            max_write = maxWrite,
            time_gran = 1,
            max_pages = (ushort)maxPages,
        };
        UringAgreed = (want & FuseAbi.FUSE_OVER_IO_URING) != 0;
        var info = new FuseConnectionInfo(answer.major, answer.minor, maxWrite, (uint)maxPages * 4096, answer.max_readahead,
            capable, want, pagesLimit);
        _fileSystem.Initialized(info);
        _agreed = info;
        return Write(reply, answer);
    }

    // The kernel caps max_pages at this sysctl and does not say so in INIT.
    private static int ReadMaxPagesLimit()
    {
        try
        {
            return int.Parse(File.ReadAllText("/proc/sys/fs/fuse/max_pages_limit").Trim());
        }
        catch (IOException)
        {
            return 256;
        }
    }

    private int Destroy()
    {
        ConnectionEnded();
        return 0;
    }

    private int Forget(long count)
    {
        Interlocked.Add(ref _forgets, count);
        return NoReply;
    }

    private int BatchForget(ReadOnlySpan<byte> opIn, ReadOnlySpan<byte> payload)
    {
        var batch = Read<fuse_batch_forget_in>(opIn);
        var room = payload.Length / Unsafe.SizeOf<fuse_forget_one>();
        if (batch.count > room) throw new MalformedArgumentsException($"BATCH_FORGET of {batch.count} entries carries room for {room}");
        return Forget(batch.count);
    }

    private int Interrupt()
    {
        Interlocked.Increment(ref _interrupts);
        return NoReply;
    }

    private int Lookup(ulong parent, ReadOnlySpan<byte> payload, Span<byte> reply)
    {
        var end = payload.IndexOf((byte)0);
        if (end < 0) throw new MalformedArgumentsException("LOOKUP name without its terminating NUL");
        var rc = _fileSystem.Lookup(parent, Encoding.UTF8.GetString(payload[..end]), out var attr);
        if (rc < 0) return rc;
        var (valid, nsec) = Validity(attr);
        return Write(reply, new fuse_entry_out
        {
            nodeid = attr.Inode,
            entry_valid = valid,
            entry_valid_nsec = nsec,
            attr_valid = valid,
            attr_valid_nsec = nsec,
            attr = ToAttr(attr),
        });
    }

    private int GetAttr(ulong inode, Span<byte> reply)
    {
        var rc = _fileSystem.GetAttributes(inode, out var attr);
        return rc < 0 ? rc : AttrReply(attr, reply);
    }

    private int SetAttr(ulong inode, in fuse_setattr_in set, Span<byte> reply)
    {
        var requested = new FuseAttributes(inode, set.mode, (long)set.size, set.uid, set.gid,
            DateTime.UnixEpoch.AddSeconds(set.mtime).AddTicks(set.mtimensec / 100));
        var rc = _fileSystem.SetAttributes(inode, (FuseSetAttr)set.valid, requested, out var result);
        return rc < 0 ? rc : AttrReply(result, reply);
    }

    private int AttrReply(in FuseAttributes attr, Span<byte> reply)
    {
        var (valid, nsec) = Validity(attr);
        return Write(reply, new fuse_attr_out { attr_valid = valid, attr_valid_nsec = nsec, attr = ToAttr(attr) });
    }

    private (ulong, uint) Validity(in FuseAttributes attr) => attr.Uncached ? (0, 0) : _attrValid;

    private int Open(ulong inode, in fuse_open_in open, Span<byte> reply)
    {
        var answer = new FuseOpenReply();
        var rc = _fileSystem.Open(inode, (int)open.flags, ref answer);
        if (rc < 0) return rc;
        var flags = (answer.DirectIo ? FuseAbi.FOPEN_DIRECT_IO : 0) | (answer.KeepCache ? FuseAbi.FOPEN_KEEP_CACHE : 0) |
                    (answer.NonSeekable ? FuseAbi.FOPEN_NONSEEKABLE : 0);
        return Write(reply, new fuse_open_out { fh = answer.Handle, open_flags = flags });
    }

    private int ReadData(ulong inode, in fuse_read_in read, Span<byte> reply)
    {
        if (read.size > reply.Length)
        {
            _log.Error($"READ of {read.size} bytes on inode {inode} exceeds the {reply.Length}-byte reply buffer; answered EIO");
            return FuseErrors.EIO;
        }
        return _fileSystem.Read(inode, read.fh, reply[..(int)read.size], (long)read.offset);
    }

    private int WriteData(ulong inode, in fuse_write_in write, ReadOnlySpan<byte> data, Span<byte> reply)
    {
        if (write.size > data.Length) throw new MalformedArgumentsException($"WRITE of {write.size} bytes carries {data.Length}");
        // The write's data and the reply may share one buffer (io_uring): the handler has consumed
        // the data before the reply is written over it.
        var rc = _fileSystem.Write(inode, write.fh, data[..(int)write.size], (long)write.offset);
        return rc < 0 ? rc : Write(reply, new fuse_write_out { size = (uint)rc });
    }

    // The kernel ignores RELEASE's result.
    private int Release(ulong inode, in fuse_release_in release)
    {
        _fileSystem.Release(inode, release.fh);
        return 0;
    }

    private int Fsync(ulong inode, in fuse_fsync_in fsync) =>
        _fileSystem.Fsync(inode, fsync.fh, (fsync.fsync_flags & FuseAbi.FUSE_FSYNC_FDATASYNC) != 0);

    private int Fallocate(ulong inode, in fuse_fallocate_in f) =>
        _fileSystem.Fallocate(inode, f.fh, (int)f.mode, (long)f.offset, (long)f.length);

    private int OpenDir(ulong inode, Span<byte> reply)
    {
        var rc = _fileSystem.ReadDirectory(inode, out var entries);
        if (rc < 0) return rc;
        // The listing is taken once per opendir so that paging through it is consistent.
        var handle = (ulong)Interlocked.Increment(ref _nextListing);
        _listings[handle] = entries;
        return Write(reply, new fuse_open_out { fh = handle });
    }

    private int ReadDir(in fuse_read_in read, Span<byte> reply)
    {
        if (!_listings.TryGetValue(read.fh, out var entries)) return FuseErrors.EBADF;
        var room = reply[..(int)Math.Min(read.size, (uint)reply.Length)];
        var used = 0;
        var direntSize = Unsafe.SizeOf<fuse_dirent>();
        for (var i = (int)Math.Min(read.offset, (ulong)entries.Count); i < entries.Count; i++)
        {
            var e = entries[i];
            var nameLength = Encoding.UTF8.GetByteCount(e.Name);
            var size = (direntSize + nameLength + 7) & ~7;
            if (used + size > room.Length) break;
            var slot = room.Slice(used, size);
            slot.Clear();
            MemoryMarshal.Write(slot, new fuse_dirent { ino = e.Inode, off = (ulong)(i + 1), namelen = (uint)nameLength, type = (e.Mode & 0xF000) >> 12 });
            Encoding.UTF8.GetBytes(e.Name, slot[direntSize..]);
            used += size;
        }
        return used;
    }

    private int ReleaseDir(in fuse_release_in release)
    {
        _listings.TryRemove(release.fh, out _);
        return 0;
    }

    private int StatFs(Span<byte> reply)
    {
        var rc = _fileSystem.StatFs(out var total, out var free);
        if (rc < 0) return rc;
        const uint bsize = 4096;
        return Write(reply, new fuse_kstatfs
        {
            bsize = bsize,
            frsize = bsize,
            blocks = (ulong)total / bsize,
            bfree = (ulong)free / bsize,
            bavail = (ulong)free / bsize,
            files = 16,
            namelen = 255,
        });
    }

    internal static fuse_attr ToAttr(in FuseAttributes a)
    {
        var since = a.MtimeUtc - DateTime.UnixEpoch;
        var secs = (ulong)Math.Max(0, (long)since.TotalSeconds);
        var nsec = (uint)(since.Ticks % TimeSpan.TicksPerSecond * 100);
        return new fuse_attr
        {
            ino = a.Inode,
            mode = a.Mode,
            nlink = a.Nlink,
            uid = a.Uid,
            gid = a.Gid,
            size = (ulong)a.Size,
            blksize = (uint)a.BlockSize,
            blocks = (ulong)(a.Size + 511) / 512,
            atime = secs,
            mtime = secs,
            ctime = secs,
            atimensec = nsec,
            mtimensec = nsec,
            ctimensec = nsec,
        };
    }

    private sealed class MalformedArgumentsException(string message) : Exception(message);
}

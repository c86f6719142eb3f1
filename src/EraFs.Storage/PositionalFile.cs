using System.Runtime.InteropServices;
using Mono.Unix;
using Mono.Unix.Native;

namespace EraFs.Storage;

/// <summary>
/// One open file (image, block device, metadata, disk region log) for positional I/O from many
/// threads: pread/pwrite never touch a shared offset, short transfers are looped, and every call
/// answers a count or a negative errno, never an exception, so the FUSE path pays nothing for errors.
/// </summary>
/// <remarks>
/// The one error convention is the negative errno; the only place it becomes an IOException is
/// <see cref="FileBlockDevice"/>, the adapter for code that wants exceptions (metadata, disk log).
/// Opening is the exception: it throws an IOException naming the path, the role and the reason.
/// </remarks>
public sealed unsafe partial class PositionalFile : IDisposable
{
    private const int FALLOC_FL_KEEP_SIZE = 0x01;
    private const int FALLOC_FL_PUNCH_HOLE = 0x02;
    private const int FALLOC_FL_ZERO_RANGE = 0x10;
    private static readonly byte[] s_zeros = new byte[1 << 20];

    private int _fd;

    private PositionalFile(string path, int fd, bool isBlockDevice)
    {
        Path = path;
        _fd = fd;
        IsBlockDevice = isBlockDevice;
    }

    public string Path { get; }

    public bool IsBlockDevice { get; }

    /// <summary>
    /// Opens a regular file or block device; with <paramref name="create"/> a missing file is created.
    /// Throws IOException "PATH: cannot open ROLE: reason" (a directory or another kind of file too).
    /// With <paramref name="direct"/> it opens with O_DIRECT, so transfers must be aligned.
    /// </summary>
    public static PositionalFile Open(string path, string role, bool writable, bool create = false, bool direct = false)
    {
        if (Syscall.stat(path, out var st) == 0)
        {
            var type = st.st_mode & FilePermissions.S_IFMT;
            if (type == FilePermissions.S_IFDIR)
                throw new IOException($"{path}: {role} is a directory, not an image file or block device");
            if (type != FilePermissions.S_IFREG && type != FilePermissions.S_IFBLK)
                throw new IOException($"{path}: {role} is neither a regular file nor a block device");
        }
        var flags = (writable ? OpenFlags.O_RDWR : OpenFlags.O_RDONLY) | OpenFlags.O_CLOEXEC | (create ? OpenFlags.O_CREAT : 0) | (direct ? OpenFlags.O_DIRECT : 0);
        var fd = OpenDescriptor(path, flags, out var errno);
        if (fd < 0)
            throw new IOException($"{path}: cannot open {role}{(writable ? " read-write" : "")}: {Describe(errno)}");
        var isBlock = Syscall.fstat(fd, out var opened) == 0 && (opened.st_mode & FilePermissions.S_IFMT) == FilePermissions.S_IFBLK;
        return new PositionalFile(path, fd, isBlock);
    }

    /// <summary>open(2), retried on EINTR, creating files owner-only; the descriptor, or -1 with the errno.</summary>
    internal static int OpenDescriptor(string path, OpenFlags flags, out Errno errno)
    {
        int fd;
        do
        {
            fd = Syscall.open(path, flags, FilePermissions.S_IRUSR | FilePermissions.S_IWUSR);
            // Read at once: a later P/Invoke may overwrite the saved errno.
            errno = fd < 0 ? Stdlib.GetLastError() : 0;
        }
        while (errno == Errno.EINTR);
        return fd;
    }

    /// <summary>Size in bytes (a block device's too), or a negative errno.</summary>
    public long Length
    {
        get
        {
            var size = Syscall.lseek(_fd, 0, SeekFlags.SEEK_END);
            return size >= 0 ? size : -NativeConvert.FromErrno(Stdlib.GetLastError());
        }
    }

    /// <summary>Modification time (UTC); moves when anything writes the file.</summary>
    public DateTime ModifiedUtc =>
        Syscall.fstat(_fd, out var st) == 0 ? Time(st.st_mtime, st.st_mtime_nsec) : DateTime.MinValue;

    /// <summary>The later of mtime and ctime (UTC): ctime also moves when a writer sets the mtime back afterwards.</summary>
    public DateTime ChangedUtc
    {
        get
        {
            if (Syscall.fstat(_fd, out var st) != 0) return DateTime.MaxValue;
            var mtime = Time(st.st_mtime, st.st_mtime_nsec);
            var ctime = Time(st.st_ctime, st.st_ctime_nsec);
            return mtime > ctime ? mtime : ctime;
        }
    }

    /// <summary>Reads up to buffer.Length bytes at offset; the count (short only at the end) or a negative errno.</summary>
    public int Read(Span<byte> buffer, long offset)
    {
        var done = 0;
        fixed (byte* p = buffer)
        {
            while (done < buffer.Length)
            {
                var n = Syscall.pread(_fd, p + done, (ulong)(buffer.Length - done), offset + done);
                if (n < 0)
                {
                    var e = Stdlib.GetLastError();
                    if (e == Errno.EINTR) continue;
                    return -NativeConvert.FromErrno(e);
                }
                if (n == 0) break;
                done += (int)n;
            }
        }
        return done;
    }

    /// <summary>Writes all of data at offset; the count or a negative errno.</summary>
    public int Write(ReadOnlySpan<byte> data, long offset)
    {
        var done = 0;
        fixed (byte* p = data)
        {
            while (done < data.Length)
            {
                var n = Syscall.pwrite(_fd, p + done, (ulong)(data.Length - done), offset + done);
                if (n < 0)
                {
                    var e = Stdlib.GetLastError();
                    if (e == Errno.EINTR) continue;
                    return -NativeConvert.FromErrno(e);
                }
                if (n == 0) return -NativeConvert.FromErrno(Errno.EIO);
                done += (int)n;
            }
        }
        return done;
    }

    /// <summary>fsync or fdatasync; 0 or a negative errno.</summary>
    public int Sync(bool dataOnly)
    {
        var rc = dataOnly ? Syscall.fdatasync(_fd) : Syscall.fsync(_fd);
        return rc == 0 ? 0 : -NativeConvert.FromErrno(Stdlib.GetLastError());
    }

    /// <summary>What close(2) of one descriptor would do (report a deferred write error), without closing ours.</summary>
    public int FlushDescriptor()
    {
        var dup = Syscall.dup(_fd);
        if (dup < 0) return -NativeConvert.FromErrno(Stdlib.GetLastError());
        return Syscall.close(dup) == 0 ? 0 : -NativeConvert.FromErrno(Stdlib.GetLastError());
    }

    /// <summary>
    /// Makes [offset, offset+length) read as zeros: punch-hole or zero-range, falling back to writing
    /// zeros where the file system cannot. 0 or a negative errno.
    /// </summary>
    public int Zero(long offset, long length, bool punch)
    {
        var mode = (punch ? FALLOC_FL_PUNCH_HOLE : FALLOC_FL_ZERO_RANGE) | FALLOC_FL_KEEP_SIZE;
        if (fallocate(_fd, mode, offset, length) == 0) return 0;
        var e = NativeConvert.ToErrno(Marshal.GetLastPInvokeError());
        if (e != Errno.EOPNOTSUPP && e != Errno.ENOSYS && e != Errno.EINVAL) return -NativeConvert.FromErrno(e);
        for (long done = 0; done < length;)
        {
            var n = (int)Math.Min(s_zeros.Length, length - done);
            var rc = Write(s_zeros.AsSpan(0, n), offset + done);
            if (rc < 0) return rc;
            done += n;
        }
        return 0;
    }

    /// <summary>Whether both are open on the same file (device and inode).</summary>
    public bool SameFileAs(PositionalFile other) =>
        FileIdentity.Of(_fd) is { } mine && FileIdentity.Of(other._fd) == mine;

    /// <summary>
    /// Writes [offset, offset+length) back and waits for it, then drops its now clean pages from the
    /// page cache; 0 or a negative errno. Dirty pages are never dropped, so no data can be lost.
    /// Waiting consumes this open file's report of a writeback error (the whole file's, not just the
    /// range's), so call it on an open file that no one fsyncs for durability.
    /// </summary>
    public int DropCache(long offset, long length)
    {
        const int SYNC_FILE_RANGE_ALL = 1 | 2 | 4, POSIX_FADV_DONTNEED = 4;
        if (sync_file_range(_fd, offset, length, SYNC_FILE_RANGE_ALL) != 0)
            return -Marshal.GetLastPInvokeError();
        // posix_fadvise answers its error instead of setting errno.
        var rc = posix_fadvise(_fd, offset, length, POSIX_FADV_DONTNEED);
        return rc == 0 ? 0 : -rc;
    }

    /// <summary>Truncates or extends a regular file; 0 or a negative errno.</summary>
    public int SetLength(long length) =>
        Syscall.ftruncate(_fd, length) == 0 ? 0 : -NativeConvert.FromErrno(Stdlib.GetLastError());

    public void Dispose()
    {
        var fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0) Syscall.close(fd);
    }

    /// <summary>"description (ERRNO)" for a negative errno returned by this type.</summary>
    public static string Describe(int negativeErrno) => Describe(NativeConvert.ToErrno(-negativeErrno));

    internal static string Describe(Errno e) => $"{UnixMarshal.GetErrorDescription(e)} ({e})";

    /// <summary>flock(fd, LOCK_EX | LOCK_NB), retried on EINTR; 0, or the errno (EWOULDBLOCK when another holds it).</summary>
    internal static Errno LockExclusiveNoWait(int fd)
    {
        const int LOCK_EX = 2, LOCK_NB = 4;
        while (true)
        {
            if (flock(fd, LOCK_EX | LOCK_NB) == 0) return 0;
            var errno = NativeConvert.ToErrno(Marshal.GetLastPInvokeError());
            if (errno != Errno.EINTR) return errno;
        }
    }

    private static DateTime Time(long seconds, long nanoseconds) => DateTime.UnixEpoch.AddSeconds(seconds).AddTicks(nanoseconds / 100);

    // The only libc calls Mono.Posix lacks: it offers posix_fallocate, which cannot punch holes or
    // zero ranges, and does not wrap flock(2), sync_file_range(2) or posix_fadvise(2).
    [LibraryImport("libc", SetLastError = true)]
    private static partial int fallocate(int fd, int mode, long offset, long len);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int sync_file_range(int fd, long offset, long nbytes, int flags);

    [LibraryImport("libc")]
    private static partial int posix_fadvise(int fd, long offset, long len, int advice);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int flock(int fd, int operation);
}

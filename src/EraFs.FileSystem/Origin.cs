using Mono.Unix;
using Mono.Unix.Native;

namespace EraFs.FileSystem;

/// <summary>
/// The image (regular file or block device) behind <c>device</c>: positional I/O on one descriptor,
/// safe from many threads because pread/pwrite never touch the file offset.
/// </summary>
public sealed unsafe class Origin : IDisposable, IDeviceIo
{
    private const int FALLOC_FL_KEEP_SIZE = 0x01;
    private const int FALLOC_FL_PUNCH_HOLE = 0x02;
    private const int FALLOC_FL_ZERO_RANGE = 0x10;
    private static readonly byte[] s_zeros = new byte[1 << 20];

    private int _fd;

    private Origin(string path, int fd, long size, bool isBlockDevice)
    {
        Path = path;
        _fd = fd;
        Size = size;
        IsBlockDevice = isBlockDevice;
    }

    public string Path { get; }

    public long Size { get; }

    public bool IsBlockDevice { get; }

    /// <summary>Opens an origin read-write; errors name the path and the reason.</summary>
    public static Origin Open(string path)
    {
        if (Syscall.stat(path, out var st) != 0)
            throw new IOException($"{path}: origin cannot be opened: {Describe(Stdlib.GetLastError())}");
        var type = st.st_mode & FilePermissions.S_IFMT;
        if (type == FilePermissions.S_IFDIR)
            throw new IOException($"{path}: origin is a directory, not an image file or block device");
        if (type != FilePermissions.S_IFREG && type != FilePermissions.S_IFBLK)
            throw new IOException($"{path}: origin is neither a regular file nor a block device");
        var fd = Syscall.open(path, OpenFlags.O_RDWR | OpenFlags.O_CLOEXEC);
        if (fd < 0)
            throw new IOException($"{path}: origin cannot be opened read-write: {Describe(Stdlib.GetLastError())}");
        var size = Syscall.lseek(fd, 0, SeekFlags.SEEK_END);
        if (size < 0)
        {
            var e = Stdlib.GetLastError();
            Syscall.close(fd);
            throw new IOException($"{path}: size of origin cannot be read: {Describe(e)}");
        }
        if (size == 0)
        {
            Syscall.close(fd);
            throw new IOException($"{path}: origin is empty (0 bytes)");
        }
        return new Origin(path, fd, size, type == FilePermissions.S_IFBLK);
    }

    /// <summary>Modification time of the origin (moves when something writes it behind our back).</summary>
    public DateTime ModifiedUtc
    {
        get
        {
            if (Syscall.fstat(_fd, out var st) != 0) return DateTime.MinValue;
            return DateTime.UnixEpoch.AddSeconds(st.st_mtime).AddTicks(st.st_mtime_nsec / 100);
        }
    }

    /// <summary>
    /// The later of the origin's mtime and ctime: ctime also moves when a writer sets the mtime back
    /// afterwards (touch -d, cp -p), so it is what a crashed mount's write horizon is compared with.
    /// </summary>
    public DateTime ChangedUtc
    {
        get
        {
            if (Syscall.fstat(_fd, out var st) != 0) return DateTime.MaxValue;
            var mtime = DateTime.UnixEpoch.AddSeconds(st.st_mtime).AddTicks(st.st_mtime_nsec / 100);
            var ctime = DateTime.UnixEpoch.AddSeconds(st.st_ctime).AddTicks(st.st_ctime_nsec / 100);
            return mtime > ctime ? mtime : ctime;
        }
    }

    /// <summary>Reads up to buffer.Length bytes at offset, looping over short reads; returns the count (short only at the end).</summary>
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

    /// <summary>Writes all of data at offset, looping over short writes; returns the count or a negative errno.</summary>
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

    /// <summary>fsync or fdatasync of the origin; 0 or a negative errno.</summary>
    public int Sync(bool dataOnly)
    {
        var rc = dataOnly ? Syscall.fdatasync(_fd) : Syscall.fsync(_fd);
        return rc == 0 ? 0 : -NativeConvert.FromErrno(Stdlib.GetLastError());
    }

    /// <summary>What close(2) of one descriptor would do on the origin, without closing ours.</summary>
    public int FlushDescriptor()
    {
        var dup = Syscall.dup(_fd);
        if (dup < 0) return -NativeConvert.FromErrno(Stdlib.GetLastError());
        return Syscall.close(dup) == 0 ? 0 : -NativeConvert.FromErrno(Stdlib.GetLastError());
    }

    /// <summary>
    /// Makes [offset, offset+length) read as zeros: punch-hole or zero-range on the origin, falling back
    /// to writing zeros where the origin's file system cannot. 0 or a negative errno.
    /// </summary>
    public int Zero(long offset, long length, bool punch)
    {
        var mode = (punch ? FALLOC_FL_PUNCH_HOLE : FALLOC_FL_ZERO_RANGE) | FALLOC_FL_KEEP_SIZE;
        if (NativeFile.fallocate(_fd, mode, offset, length) == 0) return 0;
        var e = NativeConvert.ToErrno(System.Runtime.InteropServices.Marshal.GetLastPInvokeError());
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

    public void Dispose()
    {
        var fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0) Syscall.close(fd);
    }

    private static string Describe(Errno e) => $"{UnixMarshal.GetErrorDescription(e)} ({e})";
}

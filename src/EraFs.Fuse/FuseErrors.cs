using Mono.Unix.Native;

namespace EraFs.Fuse;

/// <summary>Negative errno values as handlers return them; the binding turns them into replies in one place.</summary>
public static class FuseErrors
{
    public static readonly int ENOENT = Of(Errno.ENOENT);
    public static readonly int EIO = Of(Errno.EIO);
    public static readonly int EACCES = Of(Errno.EACCES);
    public static readonly int EPERM = Of(Errno.EPERM);
    public static readonly int EBUSY = Of(Errno.EBUSY);
    public static readonly int EINVAL = Of(Errno.EINVAL);
    public static readonly int EISDIR = Of(Errno.EISDIR);
    public static readonly int ENOTDIR = Of(Errno.ENOTDIR);
    public static readonly int EFBIG = Of(Errno.EFBIG);
    public static readonly int ENOSPC = Of(Errno.ENOSPC);
    public static readonly int ENOSYS = Of(Errno.ENOSYS);
    public static readonly int EOPNOTSUPP = Of(Errno.EOPNOTSUPP);
    public static readonly int EBADF = Of(Errno.EBADF);
    public static readonly int EROFS = Of(Errno.EROFS);
    public static readonly int EOVERFLOW = Of(Errno.EOVERFLOW);

    /// <summary>The negative platform errno for <paramref name="errno"/>.</summary>
    public static int Of(Errno errno) => -NativeConvert.FromErrno(errno);

    /// <summary>Human text for a negative (or positive) errno, e.g. "EBUSY (Device or resource busy)".</summary>
    public static string Describe(int errno)
    {
        var e = NativeConvert.ToErrno(Math.Abs(errno));
        return $"{e} ({Syscall.strerror(e)})";
    }
}

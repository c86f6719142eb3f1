using System.Globalization;
using Mono.Unix.Native;

namespace EraFs.Storage;

/// <summary>A file as the kernel knows it, whatever path or descriptor reaches it: device and inode.</summary>
internal readonly record struct FileIdentity(ulong Device, ulong Inode)
{
    /// <summary>The identity of the file open on <paramref name="fd"/>, or null when fstat fails.</summary>
    public static FileIdentity? Of(int fd) =>
        Syscall.fstat(fd, out var st) == 0 ? new FileIdentity(st.st_dev, st.st_ino) : null;

    // /proc/locks prints major and minor in hex, the inode in decimal (fs/locks.c).
    public string LocksKey
    {
        get
        {
            var major = ((Device >> 8) & 0xfff) | ((Device >> 32) & ~0xfffUL);
            var minor = (Device & 0xff) | ((Device >> 12) & ~0xffUL);
            return string.Create(CultureInfo.InvariantCulture, $"{major:x2}:{minor:x2}:{Inode}");
        }
    }
}

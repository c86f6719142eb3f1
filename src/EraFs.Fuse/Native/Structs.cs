using System.Runtime.InteropServices;

namespace EraFs.Fuse.Native;

#pragma warning disable IDE1006, CS8981 // C names on purpose: these mirror libfuse3 3.14 / glibc x86_64 headers.

// Layouts below match libfuse3 3.14 and glibc on x86_64; test/EraFs.Fuse.Tests compiles a probe
// against the real headers and compares every size and offset declared here.

/// <summary>struct fuse_args (fuse_opt.h).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct fuse_args
{
    public int argc;
    public byte** argv;
    public int allocated;
}

/// <summary>struct timespec.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct timespec
{
    public long tv_sec;
    public long tv_nsec;
}

/// <summary>struct stat on x86_64 glibc.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct stat
{
    public ulong st_dev;
    public ulong st_ino;
    public ulong st_nlink;
    public uint st_mode;
    public uint st_uid;
    public uint st_gid;
    public int __pad0;
    public ulong st_rdev;
    public long st_size;
    public long st_blksize;
    public long st_blocks;
    public timespec st_atim;
    public timespec st_mtim;
    public timespec st_ctim;
    public long __glibc_reserved0;
    public long __glibc_reserved1;
    public long __glibc_reserved2;
}

/// <summary>struct statvfs on x86_64 glibc.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct statvfs
{
    public ulong f_bsize;
    public ulong f_frsize;
    public ulong f_blocks;
    public ulong f_bfree;
    public ulong f_bavail;
    public ulong f_files;
    public ulong f_ffree;
    public ulong f_favail;
    public ulong f_fsid;
    public ulong f_flag;
    public ulong f_namemax;
    public fixed int __f_spare[6];
}

/// <summary>struct fuse_file_info; the C bitfields share the 32-bit word <see cref="bits"/>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct fuse_file_info
{
    public int flags;
    public uint bits;
    public uint padding2;
    public ulong fh;
    public ulong lock_owner;
    public uint poll_events;

    // Bit positions as gcc lays out the 3.14 bitfields (checked by the layout probe).
    public const uint DirectIo = 1u << 1;
    public const uint KeepCache = 1u << 2;
    public const uint NonSeekable = 1u << 4;
    public const uint NoFlush = 1u << 7;
}

/// <summary>struct fuse_conn_info (fuse_common.h).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct fuse_conn_info
{
    public uint proto_major;
    public uint proto_minor;
    public uint max_write;
    public uint max_read;
    public uint max_readahead;
    public uint capable;
    public uint want;
    public uint max_background;
    public uint congestion_threshold;
    public uint time_gran;
    public fixed uint reserved[22];
}

/// <summary>struct fuse_entry_param (fuse_lowlevel.h).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct fuse_entry_param
{
    public ulong ino;
    public ulong generation;
    public stat attr;
    public double attr_timeout;
    public double entry_timeout;
}

/// <summary>struct fuse_ctx (fuse_lowlevel.h).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct fuse_ctx
{
    public uint uid;
    public uint gid;
    public int pid;
    public uint umask;
}

/// <summary>
/// struct fuse_lowlevel_ops: one function pointer per request type, in header order. Unused slots
/// stay null, which libfuse answers with ENOSYS.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct fuse_lowlevel_ops
{
    public delegate* unmanaged[Cdecl]<nint, fuse_conn_info*, void> init;
    public delegate* unmanaged[Cdecl]<nint, void> destroy;
    public delegate* unmanaged[Cdecl]<nint, ulong, byte*, void> lookup;
    public nint forget;
    public delegate* unmanaged[Cdecl]<nint, ulong, fuse_file_info*, void> getattr;
    public delegate* unmanaged[Cdecl]<nint, ulong, stat*, int, fuse_file_info*, void> setattr;
    public nint readlink;
    public nint mknod;
    public nint mkdir;
    public nint unlink;
    public nint rmdir;
    public nint symlink;
    public nint rename;
    public nint link;
    public delegate* unmanaged[Cdecl]<nint, ulong, fuse_file_info*, void> open;
    public delegate* unmanaged[Cdecl]<nint, ulong, nuint, long, fuse_file_info*, void> read;
    public delegate* unmanaged[Cdecl]<nint, ulong, byte*, nuint, long, fuse_file_info*, void> write;
    public delegate* unmanaged[Cdecl]<nint, ulong, fuse_file_info*, void> flush;
    public delegate* unmanaged[Cdecl]<nint, ulong, fuse_file_info*, void> release;
    public delegate* unmanaged[Cdecl]<nint, ulong, int, fuse_file_info*, void> fsync;
    public delegate* unmanaged[Cdecl]<nint, ulong, fuse_file_info*, void> opendir;
    public delegate* unmanaged[Cdecl]<nint, ulong, nuint, long, fuse_file_info*, void> readdir;
    public delegate* unmanaged[Cdecl]<nint, ulong, fuse_file_info*, void> releasedir;
    public nint fsyncdir;
    public delegate* unmanaged[Cdecl]<nint, ulong, void> statfs;
    public nint setxattr;
    public nint getxattr;
    public nint listxattr;
    public nint removexattr;
    public nint access;
    public nint create;
    public nint getlk;
    public nint setlk;
    public nint bmap;
    public nint ioctl;
    public nint poll;
    public nint write_buf;
    public nint retrieve_reply;
    public nint forget_multi;
    public nint flock;
    public delegate* unmanaged[Cdecl]<nint, ulong, int, long, long, fuse_file_info*, void> fallocate;
    public nint readdirplus;
    public nint copy_file_range;
    public nint lseek;
}

using System.Runtime.InteropServices;

namespace EraFs.Fuse.Native;

/// <summary>
/// The libc calls .NET and Mono.Posix do not offer (prctl, umount2, ioctl, thread CPU affinity,
/// the io_uring system calls), and the /dev/fuse read/writev path, bound directly so the hot loop marshals nothing.
/// </summary>
internal static unsafe partial class Libc
{
    public const int PR_SET_IO_FLUSHER = 57;
    public const int MNT_DETACH = 2;

    [LibraryImport("libc", SetLastError = true)]
    public static partial int prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int umount2(byte* target, int flags);

    public const int O_RDWR = 2;
    public const int O_CLOEXEC = 0x80000;

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int close(int fd);

    /// <summary>Words of a CPU mask for sched_getaffinity and sched_setaffinity: 1024 CPUs, glibc's cpu_set_t.</summary>
    public const int CpuMaskWords = 16;

    [LibraryImport("libc", SetLastError = true)]
    public static partial int sched_getaffinity(int pid, nuint size, ulong* mask);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int sched_setaffinity(int pid, nuint size, ulong* mask);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int ioctl(int fd, nuint request, void* argument);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint read(int fd, void* buffer, nuint count);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint writev(int fd, iovec* iov, int count);

    public const int PROT_READ = 1;
    public const int PROT_WRITE = 2;
    public const int MAP_SHARED = 1;
    public const int MAP_POPULATE = 0x8000;

    [LibraryImport("libc", SetLastError = true)]
    public static partial void* mmap(void* address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int munmap(void* address, nuint length);

    /// <summary>syscall(2) with every argument a register-sized integer, as the io_uring calls take.</summary>
    [LibraryImport("libc", SetLastError = true)]
    public static partial long syscall(long number, nint a1, nint a2, nint a3, nint a4, nint a5, nint a6);
}

/// <summary>struct iovec.</summary>
[StructLayout(LayoutKind.Sequential)]
#pragma warning disable CS8981 // the C name on purpose
internal unsafe struct iovec
{
    public void* iov_base;
    public nuint iov_len;
}
#pragma warning restore CS8981

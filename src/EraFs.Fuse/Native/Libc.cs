using System.Runtime.InteropServices;

namespace EraFs.Fuse.Native;

/// <summary>The few libc calls .NET and Mono.Posix do not offer: prctl, umount2.</summary>
internal static unsafe partial class Libc
{
    public const int PR_SET_IO_FLUSHER = 57;
    public const int MNT_DETACH = 2;

    [LibraryImport("libc", SetLastError = true)]
    public static partial int prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int umount2(byte* target, int flags);
}

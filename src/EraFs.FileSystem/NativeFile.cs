using System.Runtime.InteropServices;

namespace EraFs.FileSystem;

/// <summary>fallocate(2) with its mode bits (Mono.Posix only offers posix_fallocate, which cannot punch holes).</summary>
internal static partial class NativeFile
{
    [LibraryImport("libc", SetLastError = true)]
    public static partial int fallocate(int fd, int mode, long offset, long len);
}

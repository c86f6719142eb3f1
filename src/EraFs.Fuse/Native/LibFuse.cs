using System.Runtime.InteropServices;

namespace EraFs.Fuse.Native;

/// <summary>The libfuse3 entry points EraFs uses, only to make and remove mounts (Debian libfuse3-3, soname libfuse3.so.3).</summary>
internal static unsafe partial class LibFuse
{
    public const string Library = "libfuse3.so.3";

    [LibraryImport(Library)]
    public static partial nint fuse_session_new(fuse_args* args, fuse_lowlevel_ops* op, nuint op_size, nint userdata);

    [LibraryImport(Library)]
    public static partial int fuse_session_mount(nint se, byte* mountpoint);

    [LibraryImport(Library)]
    public static partial void fuse_session_unmount(nint se);

    [LibraryImport(Library)]
    public static partial void fuse_session_destroy(nint se);

    [LibraryImport(Library)]
    public static partial int fuse_session_fd(nint se);

    [LibraryImport(Library)]
    public static partial void fuse_opt_free_args(fuse_args* args);

    [LibraryImport(Library)]
    public static partial int fuse_version();
}

using System.Runtime.InteropServices;

namespace EraFs.Fuse.Native;

/// <summary>The libfuse3 low-level entry points EraFs uses (Debian libfuse3-3, soname libfuse3.so.3).</summary>
internal static unsafe partial class LibFuse
{
    public const string Library = "libfuse3.so.3";

    [LibraryImport(Library)]
    public static partial nint fuse_session_new(fuse_args* args, fuse_lowlevel_ops* op, nuint op_size, nint userdata);

    [LibraryImport(Library)]
    public static partial int fuse_session_mount(nint se, byte* mountpoint);

    // Named by its 3.12 symbol: plain "fuse_session_loop_mt" is versioned three ways in 3.14.
    [LibraryImport(Library)]
    public static partial int fuse_session_loop_mt_312(nint se, nint config);

    [LibraryImport(Library)]
    public static partial void fuse_session_exit(nint se);

    [LibraryImport(Library)]
    public static partial void fuse_session_unmount(nint se);

    [LibraryImport(Library)]
    public static partial void fuse_session_destroy(nint se);

    [LibraryImport(Library)]
    public static partial int fuse_session_fd(nint se);

    [LibraryImport(Library)]
    public static partial nint fuse_loop_cfg_create();

    [LibraryImport(Library)]
    public static partial void fuse_loop_cfg_destroy(nint config);

    [LibraryImport(Library)]
    public static partial void fuse_loop_cfg_set_max_threads(nint config, uint value);

    [LibraryImport(Library)]
    public static partial void fuse_loop_cfg_set_idle_threads(nint config, uint value);

    [LibraryImport(Library)]
    public static partial void fuse_loop_cfg_set_clone_fd(nint config, uint value);

    [LibraryImport(Library)]
    public static partial void fuse_opt_free_args(fuse_args* args);

    [LibraryImport(Library)]
    public static partial nint fuse_req_userdata(nint req);

    [LibraryImport(Library)]
    public static partial fuse_ctx* fuse_req_ctx(nint req);

    [LibraryImport(Library)]
    public static partial int fuse_reply_err(nint req, int err);

    [LibraryImport(Library)]
    public static partial void fuse_reply_none(nint req);

    [LibraryImport(Library)]
    public static partial int fuse_reply_entry(nint req, fuse_entry_param* e);

    [LibraryImport(Library)]
    public static partial int fuse_reply_attr(nint req, stat* attr, double attr_timeout);

    [LibraryImport(Library)]
    public static partial int fuse_reply_open(nint req, fuse_file_info* fi);

    [LibraryImport(Library)]
    public static partial int fuse_reply_write(nint req, nuint count);

    [LibraryImport(Library)]
    public static partial int fuse_reply_buf(nint req, byte* buf, nuint size);

    [LibraryImport(Library)]
    public static partial int fuse_reply_statfs(nint req, statvfs* stbuf);

    [LibraryImport(Library)]
    public static partial nuint fuse_add_direntry(nint req, byte* buf, nuint bufsize, byte* name, stat* stbuf, long off);

    [LibraryImport(Library)]
    public static partial int fuse_version();
}

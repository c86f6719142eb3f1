using System.Runtime.InteropServices;

// The kernel's FUSE ABI (include/uapi/linux/fuse.h), with its C names so that a reader can hold the
// two side by side; NativeLayoutTests checks every size and offset against the installed header.
#pragma warning disable IDE1006, CS0649

namespace EraFs.Fuse.Kernel;

/// <summary>Opcodes of fuse_opcode this implementation knows by name.</summary>
internal enum fuse_opcode : uint
{
    FUSE_LOOKUP = 1,
    FUSE_FORGET = 2,
    FUSE_GETATTR = 3,
    FUSE_SETATTR = 4,
    FUSE_OPEN = 14,
    FUSE_READ = 15,
    FUSE_WRITE = 16,
    FUSE_STATFS = 17,
    FUSE_RELEASE = 18,
    FUSE_FSYNC = 20,
    FUSE_FLUSH = 25,
    FUSE_INIT = 26,
    FUSE_OPENDIR = 27,
    FUSE_READDIR = 28,
    FUSE_RELEASEDIR = 29,
    FUSE_INTERRUPT = 36,
    FUSE_DESTROY = 38,
    FUSE_BATCH_FORGET = 42,
    FUSE_FALLOCATE = 43,
}

/// <summary>Protocol constants: versions, INIT flags, open flags, setattr bits.</summary>
internal static class FuseAbi
{
    public const uint FUSE_KERNEL_VERSION = 7;

    /// <summary>The newest minor we speak: 7.42 brought FUSE over io_uring.</summary>
    public const uint FUSE_KERNEL_MINOR_VERSION = 42;

    /// <summary>The oldest minor we accept: 7.36 has the 64-byte fuse_init_in with flags2.</summary>
    public const uint MinimumMinor = 36;

    public const ulong FUSE_ROOT_ID = 1;

    /// <summary>The smallest request buffer the kernel accepts in read(2) of /dev/fuse.</summary>
    public const int FUSE_MIN_READ_BUFFER = 8192;

    public const ulong FUSE_ASYNC_READ = 1UL << 0;
    public const ulong FUSE_ATOMIC_O_TRUNC = 1UL << 3;
    public const ulong FUSE_BIG_WRITES = 1UL << 5;
    public const ulong FUSE_AUTO_INVAL_DATA = 1UL << 12;
    public const ulong FUSE_ASYNC_DIO = 1UL << 15;
    public const ulong FUSE_PARALLEL_DIROPS = 1UL << 18;
    public const ulong FUSE_MAX_PAGES = 1UL << 22;
    public const ulong FUSE_INIT_EXT = 1UL << 30;
    public const ulong FUSE_OVER_IO_URING = 1UL << 41;

    public const uint FOPEN_DIRECT_IO = 1 << 0;
    public const uint FOPEN_KEEP_CACHE = 1 << 1;
    public const uint FOPEN_NONSEEKABLE = 1 << 2;

    public const uint FUSE_FSYNC_FDATASYNC = 1 << 0;

    /// <summary>Bytes of the in_out and op_in areas of fuse_uring_req_header (7.42).</summary>
    public const int FUSE_URING_IN_OUT_HEADER_SZ = 128;

    public const int FUSE_URING_OP_IN_OUT_SZ = 128;

    /// <summary>fuse_uring_cmd: hand the kernel an entry's buffers and fetch a request into them.</summary>
    public const uint FUSE_IO_URING_CMD_REGISTER = 1;

    /// <summary>fuse_uring_cmd: commit the reply written in an entry and fetch the next request.</summary>
    public const uint FUSE_IO_URING_CMD_COMMIT_AND_FETCH = 2;

    /// <summary>_IOR(229, 0, uint32_t): attach a new /dev/fuse descriptor to an existing connection.</summary>
    public const uint FUSE_DEV_IOC_CLONE = 0x8004e500;

    /// <summary>The size of the fixed header before the arguments of opcode <paramref name="op"/>, on /dev/fuse.</summary>
    public static int OpHeaderSize(fuse_opcode op) => op switch
    {
        fuse_opcode.FUSE_FORGET => sizeof(ulong),
        fuse_opcode.FUSE_GETATTR => Marshal.SizeOf<fuse_getattr_in>(),
        fuse_opcode.FUSE_SETATTR => Marshal.SizeOf<fuse_setattr_in>(),
        fuse_opcode.FUSE_OPEN or fuse_opcode.FUSE_OPENDIR => Marshal.SizeOf<fuse_open_in>(),
        fuse_opcode.FUSE_READ or fuse_opcode.FUSE_READDIR => Marshal.SizeOf<fuse_read_in>(),
        fuse_opcode.FUSE_WRITE => Marshal.SizeOf<fuse_write_in>(),
        fuse_opcode.FUSE_RELEASE or fuse_opcode.FUSE_RELEASEDIR => Marshal.SizeOf<fuse_release_in>(),
        fuse_opcode.FUSE_FSYNC => Marshal.SizeOf<fuse_fsync_in>(),
        fuse_opcode.FUSE_FLUSH => Marshal.SizeOf<fuse_flush_in>(),
        fuse_opcode.FUSE_INIT => Marshal.SizeOf<fuse_init_in>(),
        fuse_opcode.FUSE_INTERRUPT => Marshal.SizeOf<fuse_interrupt_in>(),
        fuse_opcode.FUSE_BATCH_FORGET => Marshal.SizeOf<fuse_batch_forget_in>(),
        fuse_opcode.FUSE_FALLOCATE => Marshal.SizeOf<fuse_fallocate_in>(),
        _ => 0,
    };
}

/// <summary>struct fuse_in_header: the start of every request.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct fuse_in_header
{
    public uint len;
    public uint opcode;
    public ulong unique;
    public ulong nodeid;
    public uint uid;
    public uint gid;
    public uint pid;
    public ushort total_extlen;
    public ushort padding;
}

/// <summary>struct fuse_out_header: the start of every reply; error is a negative errno or 0.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct fuse_out_header
{
    public uint len;
    public int error;
    public ulong unique;
}

/// <summary>struct fuse_init_in.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct fuse_init_in
{
    public uint major;
    public uint minor;
    public uint max_readahead;
    public uint flags;
    public uint flags2;
    public fixed uint unused[11];
}

/// <summary>struct fuse_init_out.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct fuse_init_out
{
    public uint major;
    public uint minor;
    public uint max_readahead;
    public uint flags;
    public ushort max_background;
    public ushort congestion_threshold;
    public uint max_write;
    public uint time_gran;
    public ushort max_pages;
    public ushort map_alignment;
    public uint flags2;
    public fixed uint unused[7];
}

/// <summary>struct fuse_attr.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct fuse_attr
{
    public ulong ino;
    public ulong size;
    public ulong blocks;
    public ulong atime;
    public ulong mtime;
    public ulong ctime;
    public uint atimensec;
    public uint mtimensec;
    public uint ctimensec;
    public uint mode;
    public uint nlink;
    public uint uid;
    public uint gid;
    public uint rdev;
    public uint blksize;
    public uint flags;
}

/// <summary>struct fuse_entry_out: the reply to LOOKUP.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct fuse_entry_out
{
    public ulong nodeid;
    public ulong generation;
    public ulong entry_valid;
    public ulong attr_valid;
    public uint entry_valid_nsec;
    public uint attr_valid_nsec;
    public fuse_attr attr;
}

/// <summary>struct fuse_getattr_in.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct fuse_getattr_in
{
    public uint getattr_flags;
    public uint dummy;
    public ulong fh;
}

/// <summary>struct fuse_attr_out: the reply to GETATTR and SETATTR.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct fuse_attr_out
{
    public ulong attr_valid;
    public uint attr_valid_nsec;
    public uint dummy;
    public fuse_attr attr;
}

/// <summary>struct fuse_setattr_in; <c>valid</c> carries the FATTR_* bits.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct fuse_setattr_in
{
    public uint valid;
    public uint padding;
    public ulong fh;
    public ulong size;
    public ulong lock_owner;
    public ulong atime;
    public ulong mtime;
    public ulong ctime;
    public uint atimensec;
    public uint mtimensec;
    public uint ctimensec;
    public uint mode;
    public uint unused4;
    public uint uid;
    public uint gid;
    public uint unused5;
}

/// <summary>struct fuse_open_in (OPEN and OPENDIR).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct fuse_open_in
{
    public uint flags;
    public uint open_flags;
}

/// <summary>struct fuse_open_out.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct fuse_open_out
{
    public ulong fh;
    public uint open_flags;
    public uint padding;
}

/// <summary>struct fuse_release_in (RELEASE and RELEASEDIR).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct fuse_release_in
{
    public ulong fh;
    public uint flags;
    public uint release_flags;
    public ulong lock_owner;
}

/// <summary>struct fuse_flush_in.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct fuse_flush_in
{
    public ulong fh;
    public uint unused;
    public uint padding;
    public ulong lock_owner;
}

/// <summary>struct fuse_read_in (READ and READDIR).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct fuse_read_in
{
    public ulong fh;
    public ulong offset;
    public uint size;
    public uint read_flags;
    public ulong lock_owner;
    public uint flags;
    public uint padding;
}

/// <summary>struct fuse_write_in; the data follows it.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct fuse_write_in
{
    public ulong fh;
    public ulong offset;
    public uint size;
    public uint write_flags;
    public ulong lock_owner;
    public uint flags;
    public uint padding;
}

/// <summary>struct fuse_write_out.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct fuse_write_out
{
    public uint size;
    public uint padding;
}

/// <summary>struct fuse_fsync_in.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct fuse_fsync_in
{
    public ulong fh;
    public uint fsync_flags;
    public uint padding;
}

/// <summary>struct fuse_fallocate_in.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct fuse_fallocate_in
{
    public ulong fh;
    public ulong offset;
    public ulong length;
    public uint mode;
    public uint padding;
}

/// <summary>struct fuse_forget_one: one entry of BATCH_FORGET.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct fuse_forget_one
{
    public ulong nodeid;
    public ulong nlookup;
}

/// <summary>struct fuse_batch_forget_in; <c>count</c> fuse_forget_one entries follow.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct fuse_batch_forget_in
{
    public uint count;
    public uint dummy;
}

/// <summary>struct fuse_interrupt_in: the unique id of the request to interrupt.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct fuse_interrupt_in
{
    public ulong unique;
}

/// <summary>struct fuse_kstatfs (the whole of fuse_statfs_out).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct fuse_kstatfs
{
    public ulong blocks;
    public ulong bfree;
    public ulong bavail;
    public ulong files;
    public ulong ffree;
    public uint bsize;
    public uint namelen;
    public uint frsize;
    public uint padding;
    public fixed uint spare[6];
}

/// <summary>struct fuse_dirent without its name; entries are padded to 8 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct fuse_dirent
{
    public ulong ino;
    public ulong off;
    public uint namelen;
    public uint type;
}

/// <summary>
/// struct fuse_uring_ent_in_out (7.42): the tail of an entry's header buffer; the kernel writes the
/// commit id and the payload size of a request, and reads the payload size of the reply.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct fuse_uring_ent_in_out
{
    public ulong flags;
    public ulong commit_id;
    public uint payload_sz;
    public uint padding;
    public ulong reserved;
}

/// <summary>
/// struct fuse_uring_req_header (7.42): the header buffer of one ring entry: fuse_in_header (or
/// fuse_out_header on commit), then the opcode's fixed arguments, then fuse_uring_ent_in_out.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct fuse_uring_req_header
{
    public fixed byte in_out[FuseAbi.FUSE_URING_IN_OUT_HEADER_SZ];
    public fixed byte op_in[FuseAbi.FUSE_URING_OP_IN_OUT_SZ];
    public fuse_uring_ent_in_out ring_ent_in_out;
}

/// <summary>struct fuse_uring_cmd_req (7.42): what a REGISTER or COMMIT_AND_FETCH carries in the SQE's command area.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct fuse_uring_cmd_req
{
    public ulong flags;
    public ulong commit_id;
    public ushort qid;
    public fixed byte padding[6];
}

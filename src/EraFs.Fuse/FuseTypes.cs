namespace EraFs.Fuse;

/// <summary>
/// Attributes of one node, as the kernel will see them in stat(2). <c>Uncached</c> marks a node that
/// may vanish or change size at any moment, whose name and attributes the kernel must not cache.
/// </summary>
public readonly record struct FuseAttributes(
    ulong Inode,
    uint Mode,
    long Size,
    uint Uid,
    uint Gid,
    DateTime MtimeUtc,
    uint Nlink = 1,
    long BlockSize = 4096,
    bool Uncached = false);

/// <summary>One entry of a directory listing.</summary>
public readonly record struct FuseDirEntry(string Name, ulong Inode, uint Mode);

/// <summary>How an open file is served: its handle and the kernel caching flags.</summary>
public struct FuseOpenReply
{
    /// <summary>Opaque handle passed back to later operations on this open file.</summary>
    public ulong Handle;

    /// <summary>Bypass the kernel page cache (FOPEN_DIRECT_IO): for files whose content changes, like status.</summary>
    public bool DirectIo;

    /// <summary>Keep cached pages across opens (FOPEN_KEEP_CACHE): for files only this daemon changes.</summary>
    public bool KeepCache;

    /// <summary>The file is not seekable (FOPEN_NONSEEKABLE).</summary>
    public bool NonSeekable;
}

/// <summary>Which attributes a setattr request changes (FUSE_SET_ATTR_* bits).</summary>
[Flags]
public enum FuseSetAttr
{
    None = 0,
    Mode = 1 << 0,
    Uid = 1 << 1,
    Gid = 1 << 2,
    Size = 1 << 3,
    Atime = 1 << 4,
    Mtime = 1 << 5,
    AtimeNow = 1 << 7,
    MtimeNow = 1 << 8,
    Ctime = 1 << 10,
}

/// <summary>What this process and the kernel agreed on at INIT; <c>Capable</c> and <c>Want</c> are the 64 INIT flag bits (flags2 high).</summary>
public sealed record FuseConnectionInfo(
    uint ProtoMajor,
    uint ProtoMinor,
    uint MaxWrite,
    uint MaxRead,
    uint MaxReadahead,
    ulong Capable,
    ulong Want,
    int MaxPagesLimit);

/// <summary>Where the binding reports what it does and what went wrong.</summary>
public interface IFuseLog
{
    void Info(string message);

    void Error(string message, Exception? exception = null);
}

/// <summary>Options of one mount.</summary>
public sealed record FuseMountOptions
{
    /// <summary>Let users other than the mounter (root included) reach the mount (allow_other).</summary>
    public bool AllowOther { get; init; }

    /// <summary>Mount over a directory that holds entries (hiding them while mounted), as mount's <c>nonempty</c>.</summary>
    public bool AllowNonEmpty { get; init; }

    /// <summary>Shown as the source in /proc/mounts.</summary>
    public string FsName { get; init; } = "erafs";

    /// <summary>Shown as fuse.&lt;subtype&gt; in /proc/mounts.</summary>
    public string Subtype { get; init; } = "erafs";

    /// <summary>Largest write the kernel may send in one request; 1 MiB needs kernel max_pages support.</summary>
    public uint MaxWrite { get; init; } = 1 << 20;

    /// <summary>
    /// Most threads serving requests at once (over io_uring: shared out among the per-CPU queues, at
    /// least two each, every thread with one ring entry). A write waiting for a metadata commit holds its thread,
    /// so this also bounds how many first writes one group commit can carry; but on 2 cores 64 threads
    /// cost repeat writes a third of their IOPS (4k QD32, loop direct I/O: 22k vs 33k at 16) while
    /// first writes did no better at 32 or 64 than at 16.
    /// </summary>
    public uint MaxThreads { get; init; } = 16;

    /// <summary>
    /// Over /dev/fuse: threads serving while no handler waits (default two per CPU, capped at
    /// <see cref="MaxThreads"/>, so with 8 CPUs or more and the default most the pool never grows);
    /// more start only for handlers that wait (<see cref="FuseWait"/>).
    /// </summary>
    public uint? BaseThreads { get; init; }

    /// <summary>
    /// Requests the kernel keeps in flight to the daemon (max_background). Its default of 12 starves a
    /// loop device with direct I/O at queue depth 32; measured, 64 roughly doubled 4k QD32 IOPS.
    /// </summary>
    public uint MaxBackground { get; init; } = 64;


    /// <summary>How long the kernel may cache attributes and lookups.</summary>
    public TimeSpan AttributeTimeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How requests travel between the kernel and this process; <see cref="FuseTransport.Auto"/> picks io_uring where the kernel offers it.</summary>
    public FuseTransport Transport { get; init; } = FuseTransport.Auto;
}

/// <summary>The channel FUSE requests and replies travel over.</summary>
public enum FuseTransport
{
    /// <summary>io_uring where the fuse module's enable_uring is on, /dev/fuse otherwise.</summary>
    Auto,

    /// <summary>FUSE over io_uring (kernel 6.14+): per-CPU queues of shared request buffers.</summary>
    IoUring,

    /// <summary>read(2) and write(2) on /dev/fuse, one cloned descriptor per serving thread.</summary>
    Dev,
}

/// <summary>A mount could not be made; the message says which path and why.</summary>
public sealed class FuseMountException(string message) : Exception(message);

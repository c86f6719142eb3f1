using System.Runtime.InteropServices;
using System.Text;
using EraFs.Fuse.Native;

namespace EraFs.Fuse;

/// <summary>
/// One live FUSE mount of a <see cref="FuseFileSystem"/>, served by libfuse's multi-threaded loop
/// inside this process (never forked). <see cref="Mount"/> returns once the kernel has initialised
/// the connection; <see cref="Completion"/> ends when the mount is gone.
/// </summary>
public sealed unsafe class FuseMount : IDisposable
{
    private readonly FuseFileSystem _fileSystem;
    private readonly IFuseLog _log;
    private readonly FuseMountOptions _options;
    private readonly string _mountPoint;
    private readonly TaskCompletionSource<FuseConnectionInfo> _initialized = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly NativeBufferPool _readBuffers;
    private readonly double _attrTimeout;
    private GCHandle _self;
    private nint _session;
    private int _disposed;

    private FuseMount(FuseFileSystem fileSystem, string mountPoint, FuseMountOptions options, IFuseLog log)
    {
        _fileSystem = fileSystem;
        _mountPoint = mountPoint;
        _options = options;
        _log = log;
        _attrTimeout = options.AttributeTimeout.TotalSeconds;
        _readBuffers = new NativeBufferPool((int)Math.Max(options.MaxWrite, 128 * 1024));
    }

    /// <summary>The directory this file system is mounted on.</summary>
    public string MountPoint => _mountPoint;

    /// <summary>What was agreed with the kernel at INIT.</summary>
    public FuseConnectionInfo Connection => _initialized.Task.Result;

    /// <summary>The transport requests travel over (never <see cref="FuseTransport.Auto"/>).</summary>
    public FuseTransport Transport { get; private set; } = FuseTransport.Dev;

    /// <summary>Queues serving requests: io_uring queues (one per CPU), or /dev/fuse serving threads.</summary>
    public int Queues { get; private set; }

    /// <summary>Completes when the kernel connection has ended and the loop has stopped.</summary>
    public Task Completion => _completion.Task;

    /// <summary>Mounts <paramref name="fileSystem"/> on <paramref name="mountPoint"/> and returns once it serves requests.</summary>
    /// <exception cref="FuseMountException">The mount could not be made; nothing is left mounted.</exception>
    public static FuseMount Mount(FuseFileSystem fileSystem, string mountPoint, FuseMountOptions options, IFuseLog log)
    {
        var full = Path.GetFullPath(mountPoint).TrimEnd('/');
        if (full.Length == 0) full = "/";
        MountPointCheck.Validate(full, options.AllowNonEmpty);
        var mount = new FuseMount(fileSystem, full, options, log);
        try
        {
            mount.Start();
            return mount;
        }
        catch
        {
            mount.Dispose();
            throw;
        }
    }

    private void Start()
    {
        _self = GCHandle.Alloc(this);
        var args = BuildArguments();
        try
        {
            var ops = FuseOperations.Table;
            fixed (byte** argv = args.Pointers)
            {
                var fargs = new fuse_args { argc = args.Pointers.Length - 1, argv = argv, allocated = 0 };
                _session = LibFuse.fuse_session_new(&fargs, ops, (nuint)sizeof(fuse_lowlevel_ops), GCHandle.ToIntPtr(_self));
                if (fargs.allocated != 0) LibFuse.fuse_opt_free_args(&fargs);
            }
        }
        finally
        {
            args.Dispose();
        }
        if (_session == 0)
        {
            _self.Free();
            throw new FuseMountException($"{_mountPoint}: libfuse refused the mount options (see the message above)");
        }

        var mp = Encoding.UTF8.GetBytes(_mountPoint + "\0");
        fixed (byte* p = mp)
        {
            if (LibFuse.fuse_session_mount(_session, p) != 0)
            {
                LibFuse.fuse_session_destroy(_session);
                _session = 0;
                _self.Free();
                throw new FuseMountException($"{_mountPoint}: mount failed (is /dev/fuse usable and fusermount3 installed?)");
            }
        }

        var loop = new Thread(RunLoop) { IsBackground = true, Name = "fuse-loop" };
        loop.Start();
        var done = Task.WhenAny(_initialized.Task, _completion.Task, Task.Delay(TimeSpan.FromSeconds(30))).Result;
        if (done != _initialized.Task)
        {
            RequestUnmount(lazy: true);
            throw new FuseMountException($"{_mountPoint}: the kernel never initialised the FUSE connection");
        }
        var c = _initialized.Task.Result;
        _log.Info($"mounted {_mountPoint}: FUSE protocol {c.ProtoMajor}.{c.ProtoMinor}, max_write {c.MaxWrite} bytes " +
                  $"(asked {_options.MaxWrite}; kernel max_pages_limit {c.MaxPagesLimit} pages), " +
                  $"max_background {_options.MaxBackground}, capable 0x{c.Capable:x}, want 0x{c.Want:x}, up to {_options.MaxThreads} threads");
    }

    private void RunLoop()
    {
        // A daemon serving a loop device on the same host must not recurse into its own I/O when
        // the kernel reclaims memory. The flag is per task and inherited by the worker threads
        // libfuse creates from this one.
        if (Libc.prctl(Libc.PR_SET_IO_FLUSHER, 1, 0, 0, 0) != 0)
            _log.Info($"PR_SET_IO_FLUSHER not set: {FuseErrors.Describe(Marshal.GetLastPInvokeError())}");
        var config = LibFuse.fuse_loop_cfg_create();
        try
        {
            LibFuse.fuse_loop_cfg_set_max_threads(config, _options.MaxThreads);
            LibFuse.fuse_loop_cfg_set_clone_fd(config, _options.CloneFd ? 1u : 0u);
            var rc = LibFuse.fuse_session_loop_mt_312(_session, config);
            if (rc != 0) _log.Info($"FUSE loop for {_mountPoint} ended with {rc}");
        }
        catch (Exception ex)
        {
            _log.Error($"FUSE loop for {_mountPoint} failed", ex);
        }
        finally
        {
            LibFuse.fuse_loop_cfg_destroy(config);
            LibFuse.fuse_session_unmount(_session);
            LibFuse.fuse_session_destroy(_session);
            _session = 0;
            _completion.TrySetResult();
        }
    }

    /// <summary>
    /// Asks the kernel to unmount. Returns 0, or a negative errno (EBUSY while something, such as a
    /// loop device, still holds a file open). A lazy unmount always detaches the mount from the
    /// namespace and lets the loop end once the last user lets go.
    /// </summary>
    public int RequestUnmount(bool lazy) => MountPointCheck.Unmount(_mountPoint, lazy);

    /// <summary>Unmounts and waits for the loop to stop; false if still busy or not stopped in time.</summary>
    public bool Unmount(TimeSpan timeout, bool lazy = false)
    {
        if (_completion.Task.IsCompleted) return true;
        var rc = RequestUnmount(lazy);
        if (rc != 0 && !_completion.Task.IsCompleted)
        {
            _log.Info($"unmount of {_mountPoint} refused: {FuseErrors.Describe(rc)}");
            return false;
        }
        return _completion.Task.Wait(timeout);
    }

    public void Dispose() => Dispose(TimeSpan.FromSeconds(30));

    /// <summary>Unmounts lazily if still mounted and waits up to <paramref name="wait"/> for the loop to end.</summary>
    public void Dispose(TimeSpan wait)
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        if (_session != 0 && !_completion.Task.IsCompleted)
        {
            RequestUnmount(lazy: true);
            _completion.Task.Wait(wait);
        }
        if (_self.IsAllocated && _completion.Task.IsCompleted) _self.Free();
        _readBuffers.Dispose();
    }

    private NativeArgv BuildArguments()
    {
        var opts = new StringBuilder();
        opts.Append("fsname=").Append(EscapeOption(_options.FsName));
        opts.Append(",subtype=").Append(EscapeOption(_options.Subtype));
        // Let the kernel enforce the modes we report (owner-only files unless asked otherwise).
        opts.Append(",default_permissions");
        if (_options.AllowOther) opts.Append(",allow_other");
        return new NativeArgv(["erafs", "-o", opts.ToString()]);
    }

    // fuse_opt treats ',' as a separator and '\' as an escape.
    private static string EscapeOption(string value) => value.Replace("\\", "\\\\").Replace(",", "\\,");

    internal FuseFileSystem FileSystem => _fileSystem;

    internal double AttrTimeout => _attrTimeout;

    internal NativeBufferPool ReadBuffers => _readBuffers;

    internal void LogHandlerException(string op, ulong inode, Exception ex) =>
        _log.Error($"{op} handler on inode {inode} threw {ex.GetType().Name}: {ex.Message}; answered EIO", ex);

    internal void OnInit(fuse_conn_info* conn)
    {
        conn->max_write = _options.MaxWrite;
        conn->max_background = _options.MaxBackground;
        // The kernel marks the connection congested at this many background requests (3/4, as its default).
        conn->congestion_threshold = _options.MaxBackground * 3 / 4;
        var info = new FuseConnectionInfo(conn->proto_major, conn->proto_minor, conn->max_write, conn->max_read,
            conn->max_readahead, conn->capable, conn->want, ReadMaxPagesLimit());
        _fileSystem.Initialized(info);
        _initialized.TrySetResult(info);
    }

    // The kernel caps max_pages (and so max_write) at this sysctl; it is not told back to the daemon.
    private static int ReadMaxPagesLimit()
    {
        try
        {
            return int.Parse(File.ReadAllText("/proc/sys/fs/fuse/max_pages_limit").Trim());
        }
        catch (IOException)
        {
            return 256;
        }
    }

    internal static FuseMount FromUserData(nint userdata) => (FuseMount)GCHandle.FromIntPtr(userdata).Target!;

    internal static FuseMount FromRequest(nint req) => FromUserData(LibFuse.fuse_req_userdata(req));
}

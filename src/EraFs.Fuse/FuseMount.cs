using System.Text;
using EraFs.Fuse.Native;

namespace EraFs.Fuse;

/// <summary>
/// One live FUSE mount of a <see cref="FuseFileSystem"/>, served inside this process (never forked)
/// by EraFs's own protocol over /dev/fuse or io_uring; libfuse only makes and removes the mount. <see cref="Mount"/> returns once the kernel has initialised
/// the connection; <see cref="Completion"/> ends when the mount is gone.
/// </summary>
public sealed unsafe class FuseMount : IDisposable
{
    private readonly FuseFileSystem _fileSystem;
    private readonly IFuseLog _log;
    private readonly FuseMountOptions _options;
    private readonly string _mountPoint;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private FuseDispatcher? _dispatcher;
    private DevTransport? _dev;
    private UringTransport? _uring;
    private nint _session;
    private int _disposed;

    private FuseMount(FuseFileSystem fileSystem, string mountPoint, FuseMountOptions options, IFuseLog log)
    {
        _fileSystem = fileSystem;
        _mountPoint = mountPoint;
        _options = options;
        _log = log;
    }

    /// <summary>The directory this file system is mounted on.</summary>
    public string MountPoint => _mountPoint;

    /// <summary>What was agreed with the kernel at INIT.</summary>
    public FuseConnectionInfo Connection => _dispatcher!.Initialized.Result;

    /// <summary>The transport requests travel over (never <see cref="FuseTransport.Auto"/>).</summary>
    public FuseTransport Transport { get; private set; }

    /// <summary>Queues serving requests: io_uring queues (one per CPU), or /dev/fuse serving threads now.</summary>
    public int Queues => _uring?.Queues ?? _dev?.Threads ?? 0;

    /// <summary>Threads serving requests now: the /dev/fuse pool as it stands, plus every ring entry's thread.</summary>
    public int ServingThreads => (_dev?.Threads ?? 0) + RingThreads;

    /// <summary>The most threads that have served requests at once.</summary>
    public int PeakServingThreads => (_dev?.PeakThreads ?? 0) + RingThreads;

    private int RingThreads => _uring is { } u ? u.Queues * u.ThreadsPerQueue : 0;

    /// <summary>Where the io_uring serving threads run now; null over /dev/fuse.</summary>
    public RingPlacement? Placement => _uring?.Placement;

    /// <summary>Requests that came over /dev/fuse (INIT and INTERRUPT always do, even with io_uring).</summary>
    public long RequestsOverDev => _dev?.Served ?? 0;

    /// <summary>Requests that came over io_uring.</summary>
    public long RequestsOverUring => _uring?.Served ?? 0;

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
        Transport = ChooseTransport(_options.Transport, UringParameter.Read(), _log);
        OpenSession();
        _dispatcher = new FuseDispatcher(_fileSystem, _options, _log, offerUring: Transport == FuseTransport.IoUring);
        var fd = LibFuse.fuse_session_fd(_session);
        _dev = new DevTransport(fd, _dispatcher, _options.MaxWrite, _log);
        // INIT always arrives on /dev/fuse. Over io_uring the /dev/fuse thread stays for what the
        // kernel keeps sending there (INTERRUPT, and every request until the queues are registered).
        var most = Transport == FuseTransport.Dev ? (int)Math.Max(1, _options.MaxThreads) : 1;
        _dev.Start((int)(_options.BaseThreads ?? (uint)(2 * Environment.ProcessorCount)), most, "fuse-dev");
        _ = _dev.Completion.ContinueWith(_ => ConnectionGone(), TaskScheduler.Default);
        var done = Task.WhenAny(_dispatcher.Initialized, _dev.Completion, Task.Delay(TimeSpan.FromSeconds(30))).Result;
        if (done != _dispatcher.Initialized || !_dispatcher.Initialized.IsCompletedSuccessfully)
        {
            RequestUnmount(lazy: true);
            var why = _dispatcher.Initialized.IsFaulted ? _dispatcher.Initialized.Exception!.InnerException!.Message : "the kernel never initialised the FUSE connection";
            throw new FuseMountException($"{_mountPoint}: {why}");
        }
        var c = _dispatcher.Initialized.Result;
        if (Transport == FuseTransport.IoUring)
        {
            if (!_dispatcher.UringAgreed)
            {
                RequestUnmount(lazy: true);
                throw new FuseMountException($"{_mountPoint}: the kernel did not offer FUSE_OVER_IO_URING at INIT although {UringParameter.Path} is on");
            }
            try
            {
                _uring = UringTransport.Start(fd, _dispatcher, Math.Max(c.MaxWrite, c.MaxRead), (int)_options.MaxThreads, _log);
            }
            catch (IOException ex)
            {
                RequestUnmount(lazy: true);
                throw new FuseMountException($"{_mountPoint}: FUSE over io_uring could not start: {ex.Message}");
            }
        }
        var serving = _uring is { } u ? $"io_uring, {u.Queues} queues of {u.ThreadsPerQueue} threads" : $"/dev/fuse, {_dev.Threads} threads and up to {Math.Max(1, _options.MaxThreads)} while requests wait";
        _log.Info($"mounted {_mountPoint} over {serving}: FUSE protocol {c.ProtoMajor}.{c.ProtoMinor}, " +
                  $"max_write {c.MaxWrite} bytes (asked {_options.MaxWrite}; kernel max_pages_limit {c.MaxPagesLimit} pages), " +
                  $"max_background {_options.MaxBackground}, capable 0x{c.Capable:x}, want 0x{c.Want:x}");
    }

    /// <summary>
    /// The transport a mount will use: <paramref name="requested"/> unless it is auto, which takes
    /// io_uring exactly when the module switch is on. Logs why.
    /// </summary>
    /// <exception cref="FuseMountException">io_uring was asked for and the switch is off or absent.</exception>
    public static FuseTransport ChooseTransport(FuseTransport requested, bool? uringSwitch, IFuseLog log)
    {
        var state = uringSwitch switch { true => "on", false => "off", null => "absent (this kernel has no FUSE over io_uring)" };
        switch (requested)
        {
            case FuseTransport.Dev:
                log.Info($"transport dev: asked for; {UringParameter.Path} is {state}");
                return FuseTransport.Dev;
            case FuseTransport.IoUring when uringSwitch == true:
                log.Info($"transport io_uring: asked for; {UringParameter.Path} is on");
                return FuseTransport.IoUring;
            case FuseTransport.IoUring:
                throw new FuseMountException(uringSwitch == false
                    ? $"--transport io_uring needs {UringParameter.Path} on (it is off); switch it on with: {UringParameter.HowToEnable}"
                    : $"--transport io_uring needs FUSE over io_uring, and {UringParameter.Path} is absent: this kernel lacks it (6.14+ with CONFIG_FUSE_IO_URING)");
            default:
                var chosen = uringSwitch == true ? FuseTransport.IoUring : FuseTransport.Dev;
                log.Info(chosen == FuseTransport.IoUring
                    ? $"transport io_uring: auto, because {UringParameter.Path} is on"
                    : $"transport dev: auto, because {UringParameter.Path} is {state} ({UringParameter.HowToEnable} to use io_uring)");
                return chosen;
        }
    }

    // libfuse makes the mount (mount(2) as root, fusermount3 otherwise) and opens /dev/fuse; it
    // never reads the descriptor, which is ours from here on.
    private void OpenSession()
    {
        var args = BuildArguments();
        var ops = stackalloc byte[sizeof(fuse_lowlevel_ops)];
        new Span<byte>(ops, sizeof(fuse_lowlevel_ops)).Clear();
        try
        {
            fixed (byte** argv = args.Pointers)
            {
                var fargs = new fuse_args { argc = args.Pointers.Length - 1, argv = argv, allocated = 0 };
                _session = LibFuse.fuse_session_new(&fargs, (fuse_lowlevel_ops*)ops, (nuint)sizeof(fuse_lowlevel_ops), 0);
                if (fargs.allocated != 0) LibFuse.fuse_opt_free_args(&fargs);
            }
        }
        finally
        {
            args.Dispose();
        }
        if (_session == 0) throw new FuseMountException($"{_mountPoint}: libfuse refused the mount options (see the message above)");

        var mp = Encoding.UTF8.GetBytes(_mountPoint + "\0");
        fixed (byte* p = mp)
        {
            if (LibFuse.fuse_session_mount(_session, p) != 0)
            {
                LibFuse.fuse_session_destroy(_session);
                _session = 0;
                throw new FuseMountException($"{_mountPoint}: mount failed (is /dev/fuse usable and fusermount3 installed?)");
            }
        }
    }

    // The /dev/fuse threads see ENODEV once the kernel connection is gone, after the last user of a
    // lazily detached mount let go.
    private void ConnectionGone()
    {
        try
        {
            _uring?.Stop();
            _dispatcher!.ConnectionEnded();
            LibFuse.fuse_session_unmount(_session);
            LibFuse.fuse_session_destroy(_session);
            _session = 0;
        }
        catch (Exception ex)
        {
            _log.Error($"closing the FUSE session of {_mountPoint} failed", ex);
        }
        finally
        {
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
        if (_session != 0 && _dev != null && !_completion.Task.IsCompleted)
        {
            RequestUnmount(lazy: true);
            _completion.Task.Wait(wait);
        }
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
}

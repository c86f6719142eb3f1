using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using EraFs.Fuse.Kernel;
using EraFs.Fuse.Native;
using Mono.Unix.Native;

namespace EraFs.Fuse;

/// <summary>
/// FUSE over read(2) and writev(2) on /dev/fuse: serving threads, each on its own descriptor cloned
/// from the session's (FUSE_DEV_IOC_CLONE), so that a reply is written where its request was read
/// and threads do not queue on one file. A thread holds one request at a time.
/// </summary>
/// <remarks>
/// A few threads serve (two per CPU by default, never more than the mount's most): the kernel wakes
/// readers of /dev/fuse in the order they began to wait, so every idle thread takes its turn and
/// brings its buffers back into the cache, and on 2 CPUs 16 threads served 1 MiB writes at
/// 0.80-0.91x and 1 MiB reads at 0.75-0.82x the rate of 4, 4 KiB writes within 3 % (bench/profile,
/// loop direct I/O). A handler that is about to wait on something other than the CPU says so
/// (<see cref="FuseWait"/>); if no thread is left reading, another one starts, up to the mount's
/// most, so that writes waiting for one metadata commit do not keep the next ones from joining it.
/// A thread beyond the base leaves after a request it served once no wait has begun or ended for
/// <see cref="SurplusLinger"/> ms; an idle mount keeps its threads until requests come again.
/// </remarks>
internal sealed unsafe class DevTransport
{
    private static readonly int EINTR = NativeConvert.FromErrno(Errno.EINTR);
    private static readonly int EAGAIN = NativeConvert.FromErrno(Errno.EAGAIN);
    private static readonly int ENOENT = NativeConvert.FromErrno(Errno.ENOENT);
    private static readonly int ENODEV = NativeConvert.FromErrno(Errno.ENODEV);

    // Long against the gaps between the waits of a run of first writes, so the run keeps its threads;
    // short enough that repeat writes after it are soon served by the base again.
    private const long SurplusLinger = 100;

    [ThreadStatic] private static DevTransport? t_serving;

    private readonly int _sessionFd;
    private readonly FuseDispatcher _dispatcher;
    private readonly IFuseLog _log;
    private readonly int _requestBufferSize;
    private readonly int _replyBufferSize;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private string _name = "fuse-dev";
    private int _baseThreads = 1;
    private int _maxThreads = 1;
    private int _running;
    private int _reading;
    private int _waiting;
    private long _lastWait;
    private int _nextIndex;
    private int _peak;
    private int _cloneRefusals;
    private long _served;

    /// <param name="sessionFd">The connection's descriptor; the transport reads it but does not close it.</param>
    /// <param name="dispatcher">Serves each request read.</param>
    /// <param name="maxWrite">The largest write (and read) the connection may carry.</param>
    /// <param name="log">Where failures of the serving threads go.</param>
    public DevTransport(int sessionFd, FuseDispatcher dispatcher, uint maxWrite, IFuseLog log)
    {
        _sessionFd = sessionFd;
        _dispatcher = dispatcher;
        _log = log;
        // The kernel refuses a read(2) smaller than the largest request it may send.
        _requestBufferSize = Math.Max(FuseAbi.FUSE_MIN_READ_BUFFER, (int)maxWrite + 4096);
        _replyBufferSize = Math.Max(FuseAbi.FUSE_MIN_READ_BUFFER, (int)maxWrite);
    }

    /// <summary>Completes when every serving thread has seen the connection end.</summary>
    public Task Completion => _completion.Task;

    /// <summary>Requests read from /dev/fuse so far.</summary>
    public long Served => Interlocked.Read(ref _served);

    /// <summary>Serving threads now.</summary>
    public int Threads => Volatile.Read(ref _running);

    /// <summary>The most serving threads there have been at once.</summary>
    public int PeakThreads => Volatile.Read(ref _peak);

    /// <summary>
    /// Starts <paramref name="baseThreads"/> threads: the first on the session descriptor, which also
    /// answers INIT and stays until the connection ends, the others on cloned descriptors. More come
    /// while handlers wait, up to <paramref name="maxThreads"/>.
    /// </summary>
    public void Start(int baseThreads, int maxThreads, string name)
    {
        _name = name;
        _maxThreads = Math.Max(1, maxThreads);
        _baseThreads = Math.Clamp(baseThreads, 1, _maxThreads);
        Reserve();
        StartThread(_sessionFd, owned: false);
        for (var i = 1; i < _baseThreads; i++)
            if (!Grow()) break;
    }

    /// <summary>
    /// The calling serving thread is about to wait: returns its pool (null on any other thread) after
    /// putting another thread on if none is left reading. Never throws.
    /// </summary>
    internal static DevTransport? EnterWait()
    {
        if (t_serving is not { } pool) return null;
        Interlocked.Increment(ref pool._waiting);
        Volatile.Write(ref pool._lastWait, Environment.TickCount64);
        if (Volatile.Read(ref pool._reading) == 0) pool.Grow();
        return pool;
    }

    internal void ExitWait()
    {
        Volatile.Write(ref _lastWait, Environment.TickCount64);
        Interlocked.Decrement(ref _waiting);
    }

    // Takes a place in the pool; false when it is full.
    private bool Reserve()
    {
        while (true)
        {
            var running = Volatile.Read(ref _running);
            if (running >= _maxThreads) return false;
            if (Interlocked.CompareExchange(ref _running, running + 1, running) == running) return true;
        }
    }

    // A new thread on a cloned descriptor; false (the place given back) when none could be had.
    private bool Grow()
    {
        if (!Reserve()) return false;
        var fd = Clone(_sessionFd);
        if (fd < 0)
        {
            // Once: a full descriptor table would otherwise log on every waiting write.
            if (Interlocked.Increment(ref _cloneRefusals) == 1)
                _log.Info($"/dev/fuse clone refused ({FuseErrors.Describe(-fd)}); serving with the threads there are");
            Leave();
            return false;
        }
        try
        {
            StartThread(fd, owned: true);
            return true;
        }
        catch (Exception ex) when (ex is OutOfMemoryException or ThreadStartException)
        {
            if (Interlocked.Increment(ref _cloneRefusals) == 1)
                _log.Info($"no further /dev/fuse serving thread could start ({ex.Message}); serving with the threads there are");
            Libc.close(fd);
            Leave();
            return false;
        }
    }

    private void Leave()
    {
        if (Interlocked.Decrement(ref _running) == 0) _completion.TrySetResult();
    }

    // After a request: gives up this thread's place if it is beyond the base and nothing has waited
    // for a while. One place per success, so threads leaving together never take the pool below the base.
    private bool LeaveIfSurplus()
    {
        while (true)
        {
            var running = Volatile.Read(ref _running);
            if (running - Volatile.Read(ref _waiting) <= _baseThreads) return false;
            if (Environment.TickCount64 - Volatile.Read(ref _lastWait) <= SurplusLinger) return false;
            if (Interlocked.CompareExchange(ref _running, running - 1, running) == running) return true;
        }
    }

    /// <summary>A new descriptor on the connection of <paramref name="sessionFd"/>, or a negative errno.</summary>
    public static int Clone(int sessionFd)
    {
        var fd = Libc.open("/dev/fuse", Libc.O_RDWR | Libc.O_CLOEXEC);
        if (fd < 0) return -Marshal.GetLastPInvokeError();
        var session = (uint)sessionFd;
        if (Libc.ioctl(fd, FuseAbi.FUSE_DEV_IOC_CLONE, &session) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            Libc.close(fd);
            return -errno;
        }
        return fd;
    }

    private void StartThread(int fd, bool owned)
    {
        var name = $"{_name}-{Interlocked.Increment(ref _nextIndex) - 1}";
        new Thread(() => Serve(fd, owned)) { IsBackground = true, Name = name }.Start();
        var running = Volatile.Read(ref _running);
        var peak = Volatile.Read(ref _peak);
        while (running > peak && Interlocked.CompareExchange(ref _peak, running, peak) != peak) peak = Volatile.Read(ref _peak);
    }

    private void Serve(int fd, bool owned)
    {
        IoFlusher.Mark(_log);
        var request = (byte*)NativeMemory.AlignedAlloc((nuint)_requestBufferSize, 4096);
        var reply = (byte*)NativeMemory.AlignedAlloc((nuint)_replyBufferSize, 4096);
        var left = false;
        try
        {
            t_serving = this;
            // The session's own thread never leaves: it holds the pool open until the connection ends.
            while (ServeOne(fd, request, reply))
            {
                if (owned && LeaveIfSurplus())
                {
                    left = true;
                    break;
                }
            }
        }
        catch (Exception ex)
        {
            _log.Error($"/dev/fuse serving thread {Thread.CurrentThread.Name} failed", ex);
        }
        finally
        {
            t_serving = null;
            NativeMemory.AlignedFree(request);
            NativeMemory.AlignedFree(reply);
            if (owned) Libc.close(fd);
            if (!left) Leave();
        }
    }

    // False once the connection has ended.
    private bool ServeOne(int fd, byte* request, byte* reply)
    {
        Interlocked.Increment(ref _reading);
        var n = Libc.read(fd, request, (nuint)_requestBufferSize);
        Interlocked.Decrement(ref _reading);
        if (n < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            // ENOENT: the request was interrupted between the kernel's choosing it and our reading it.
            if (errno == EINTR || errno == EAGAIN || errno == ENOENT) return true;
            if (errno != ENODEV) _log.Error($"read of /dev/fuse failed: {FuseErrors.Describe(errno)}; this serving thread stops");
            return false;
        }
        if (n == 0) return false;
        Interlocked.Increment(ref _served);
        var rc = _dispatcher.DispatchDevRequest(new ReadOnlySpan<byte>(request, (int)n), new Span<byte>(reply, _replyBufferSize), out var header);
        if (rc == FuseDispatcher.NoReply) return true;
        var payload = rc > 0 ? rc : 0;
        var written = Send(fd, header.unique, rc < 0 ? rc : 0, reply, payload);
        if (written == -ENOENT) _dispatcher.Undelivered(header, new ReadOnlySpan<byte>(reply, payload));
        else if (written == 0 && header.opcode == (uint)fuse_opcode.FUSE_INIT) _dispatcher.InitAnswered();
        return true;
    }

    /// <summary>Writes one reply; returns 0 or a negative errno.</summary>
    public static int Send(int fd, ulong unique, int error, byte* payload, int length)
    {
        var header = new fuse_out_header { len = (uint)(Unsafe.SizeOf<fuse_out_header>() + length), error = error, unique = unique };
        var iov = stackalloc iovec[2];
        iov[0] = new iovec { iov_base = &header, iov_len = (nuint)Unsafe.SizeOf<fuse_out_header>() };
        iov[1] = new iovec { iov_base = payload, iov_len = (nuint)length };
        return Libc.writev(fd, iov, length > 0 ? 2 : 1) < 0 ? -Marshal.GetLastPInvokeError() : 0;
    }
}

/// <summary>
/// A handler's wait on something other than the CPU (a metadata commit, a log flush), announced so
/// the /dev/fuse pool can put another thread on meanwhile; anywhere else it does nothing.
/// </summary>
public readonly struct FuseWait : IDisposable
{
    private readonly DevTransport? _pool;

    private FuseWait(DevTransport? pool) => _pool = pool;

    /// <summary>Announces a wait on the calling thread; dispose it, once, when the wait is over.</summary>
    public static FuseWait Begin() => new(DevTransport.EnterWait());

    public void Dispose() => _pool?.ExitWait();
}

/// <summary>PR_SET_IO_FLUSHER for the calling thread.</summary>
internal static class IoFlusher
{
    /// <summary>
    /// A daemon serving a loop device on the same host must not recurse into its own I/O when the
    /// kernel reclaims memory; the flag is per thread, so every serving thread sets it.
    /// </summary>
    public static void Mark(IFuseLog log)
    {
        // One refusal (no CAP_SYS_RESOURCE) is worth a line; one per serving thread is noise.
        if (Libc.prctl(Libc.PR_SET_IO_FLUSHER, 1, 0, 0, 0) != 0 && Interlocked.Exchange(ref s_refusalLogged, 1) == 0)
            log.Info($"PR_SET_IO_FLUSHER not set on the serving threads: {FuseErrors.Describe(Marshal.GetLastPInvokeError())}");
    }

    private static int s_refusalLogged;
}

using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using EraFs.Fuse.Kernel;
using EraFs.Fuse.Native;
using Mono.Unix.Native;

namespace EraFs.Fuse;

/// <summary>
/// FUSE over read(2) and writev(2) on /dev/fuse: a fixed set of serving threads, each on its own
/// descriptor cloned from the session's (FUSE_DEV_IOC_CLONE), so that a reply is written where its
/// request was read and threads do not queue on one file. A thread holds one request at a time,
/// so a write waiting for a metadata commit holds only its own thread.
/// </summary>
internal sealed unsafe class DevTransport
{
    private static readonly int EINTR = NativeConvert.FromErrno(Errno.EINTR);
    private static readonly int EAGAIN = NativeConvert.FromErrno(Errno.EAGAIN);
    private static readonly int ENOENT = NativeConvert.FromErrno(Errno.ENOENT);
    private static readonly int ENODEV = NativeConvert.FromErrno(Errno.ENODEV);

    private readonly int _sessionFd;
    private readonly FuseDispatcher _dispatcher;
    private readonly IFuseLog _log;
    private readonly int _requestBufferSize;
    private readonly int _replyBufferSize;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _running;
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

    /// <summary>Serving threads started.</summary>
    public int Threads { get; private set; }

    /// <summary>
    /// Starts one thread on the session descriptor, which also answers INIT, and
    /// <paramref name="clones"/> more on cloned descriptors.
    /// </summary>
    public void Start(int clones, string name)
    {
        StartThread(_sessionFd, owned: false, $"{name}-0");
        for (var i = 1; i <= clones; i++)
        {
            var fd = Clone(_sessionFd);
            if (fd < 0)
            {
                _log.Info($"/dev/fuse clone refused ({FuseErrors.Describe(-fd)}); serving with {Threads} threads");
                break;
            }
            StartThread(fd, owned: true, $"{name}-{i}");
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

    private void StartThread(int fd, bool owned, string name)
    {
        Interlocked.Increment(ref _running);
        Threads++;
        new Thread(() => Serve(fd, owned)) { IsBackground = true, Name = name }.Start();
    }

    private void Serve(int fd, bool owned)
    {
        IoFlusher.Mark(_log);
        var request = (byte*)NativeMemory.AlignedAlloc((nuint)_requestBufferSize, 4096);
        var reply = (byte*)NativeMemory.AlignedAlloc((nuint)_replyBufferSize, 4096);
        try
        {
            while (ServeOne(fd, request, reply))
            {
            }
        }
        catch (Exception ex)
        {
            _log.Error($"/dev/fuse serving thread {Thread.CurrentThread.Name} failed", ex);
        }
        finally
        {
            NativeMemory.AlignedFree(request);
            NativeMemory.AlignedFree(reply);
            if (owned) Libc.close(fd);
            if (Interlocked.Decrement(ref _running) == 0) _completion.TrySetResult();
        }
    }

    // False once the connection has ended.
    private bool ServeOne(int fd, byte* request, byte* reply)
    {
        var n = Libc.read(fd, request, (nuint)_requestBufferSize);
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

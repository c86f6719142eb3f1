using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using EraFs.Fuse.Kernel;
using EraFs.Fuse.Native;
using Mono.Unix.Native;

namespace EraFs.Fuse;

/// <summary>
/// FUSE over io_uring (kernel 6.14+, agreed at INIT with FUSE_OVER_IO_URING). The kernel keeps one
/// queue per possible CPU and hands a request to an entry registered on the queue of the CPU that
/// issued it; the request's headers and payload land in that entry's buffers, and one
/// COMMIT_AND_FETCH answers it and takes the next, in a single io_uring_enter.
/// Each queue is served by several threads, each with its own small ring and its own entries, so
/// a write waiting for a metadata commit holds only its own thread, as on /dev/fuse. Whether those
/// threads run on their queue's CPU or anywhere is measured and chosen while serving
/// (<see cref="RingPlacementChooser"/>).
/// </summary>
internal sealed unsafe class UringTransport
{
    private static readonly int EINTR = NativeConvert.FromErrno(Errno.EINTR);
    private static readonly int EAGAIN = NativeConvert.FromErrno(Errno.EAGAIN);
    private static readonly int ETIME = NativeConvert.FromErrno(Errno.ETIME);
    private static readonly int ENOTCONN = NativeConvert.FromErrno(Errno.ENOTCONN);
    private static readonly int ECONNABORTED = NativeConvert.FromErrno(Errno.ECONNABORTED);
    private static readonly int ENOENT = NativeConvert.FromErrno(Errno.ENOENT);

    // A serving thread looks up from its wait this often to see whether the mount is going away.
    private static readonly TimeSpan StopPoll = TimeSpan.FromSeconds(1);

    // Long enough to hold a few hundred 1 MiB requests, short enough that a trial of the worse
    // placement costs little.
    private static readonly TimeSpan PlacementWindow = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan IdleWindow = TimeSpan.FromMilliseconds(500);

    private readonly int _sessionFd;
    private readonly FuseDispatcher _dispatcher;
    private readonly IFuseLog _log;
    private readonly int _payloadSize;
    private readonly List<Thread> _threads = [];
    private readonly CountdownEvent _registered;
    private long _served;
    private int _failures;
    private string? _firstFailure;
    private volatile bool _stopping;
    // Only the placement thread touches the chooser.
    private readonly RingPlacementChooser _chooser = new(RingPlacement.Pinned);
    private readonly ulong[] _spreadMask = new ulong[Libc.CpuMaskWords];
    private volatile RingPlacement _placement = RingPlacement.Pinned;
    private volatile int _placementGeneration;
    private int _placementRefused;

    private UringTransport(int sessionFd, FuseDispatcher dispatcher, int queues, int threadsPerQueue, int payloadSize, IFuseLog log)
    {
        _sessionFd = sessionFd;
        _dispatcher = dispatcher;
        _log = log;
        Queues = queues;
        ThreadsPerQueue = threadsPerQueue;
        _payloadSize = payloadSize;
        _registered = new CountdownEvent(queues * threadsPerQueue);
    }

    /// <summary>Queues registered: one per possible CPU, as the kernel requires before it uses the ring.</summary>
    public int Queues { get; }

    /// <summary>Requests fetched through the ring so far.</summary>
    public long Served => Interlocked.Read(ref _served);

    /// <summary>Serving threads (each with one ring entry) per queue.</summary>
    public int ThreadsPerQueue { get; }

    /// <summary>Where the serving threads run now.</summary>
    public RingPlacement Placement => _placement;

    /// <summary>
    /// Registers entries on every queue and starts serving. Call only once INIT's answer has been
    /// delivered: the kernel refuses registrations before that.
    /// </summary>
    /// <param name="sessionFd">The connection's /dev/fuse descriptor, which the commands are issued on.</param>
    /// <param name="dispatcher">Serves each request fetched.</param>
    /// <param name="maxPayload">The largest request or reply payload of the connection (max_write, max_pages).</param>
    /// <param name="threads">Serving threads in all; at least two per queue.</param>
    /// <param name="log">Where failures of the serving threads go.</param>
    /// <exception cref="IOException">A ring could not be made or the kernel refused a registration.</exception>
    public static UringTransport Start(int sessionFd, FuseDispatcher dispatcher, uint maxPayload, int threads, IFuseLog log)
    {
        var queues = PossibleCpus();
        var perQueue = Math.Max(2, threads / queues);
        // The kernel refuses an entry whose payload buffer is smaller than the largest request it may send.
        var payload = Math.Max(FuseAbi.FUSE_MIN_READ_BUFFER, (int)maxPayload);
        var transport = new UringTransport(sessionFd, dispatcher, queues, perQueue, payload, log);
        transport.ReadSpreadMask();
        for (var q = 0; q < queues; q++)
        {
            for (var t = 0; t < perQueue; t++)
            {
                var qid = (ushort)q;
                var thread = new Thread(() => transport.Serve(qid)) { IsBackground = true, Name = $"fuse-ring-{q}.{t}" };
                transport._threads.Add(thread);
                thread.Start();
            }
        }
        if (!transport._registered.Wait(TimeSpan.FromSeconds(30)))
        {
            transport.Stop();
            throw new IOException("the io_uring entries were not registered within 30 s");
        }
        if (transport._failures > 0)
        {
            transport.Stop();
            throw new IOException($"{transport._failures} of {queues * perQueue} ring entries were refused: {transport._firstFailure}");
        }
        var chooser = new Thread(transport.ChoosePlacement) { IsBackground = true, Name = "fuse-ring-placement" };
        transport._threads.Add(chooser);
        chooser.Start();
        return transport;
    }

    /// <summary>The kernel's queue count: every CPU that can ever come online (/sys/devices/system/cpu/possible).</summary>
    public static int PossibleCpus(string path = "/sys/devices/system/cpu/possible")
    {
        var highest = -1;
        foreach (var range in File.ReadAllText(path).Trim().Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var dash = range.IndexOf('-');
            highest = Math.Max(highest, int.Parse(dash < 0 ? range : range[(dash + 1)..]));
        }
        return highest + 1;
    }

    /// <summary>Asks every serving thread to stop and waits for them; the connection must already be gone.</summary>
    public void Stop()
    {
        _stopping = true;
        foreach (var t in _threads) t.Join(StopPoll * 5);
    }

    // The process's own CPUs (taskset, cpuset) bound both placements.
    private void ReadSpreadMask()
    {
        fixed (ulong* mask = _spreadMask)
        {
            if (Libc.sched_getaffinity(0, (nuint)(_spreadMask.Length * sizeof(ulong)), mask) != 0)
            {
                _log.Info($"sched_getaffinity failed ({FuseErrors.Describe(Marshal.GetLastPInvokeError())}); io_uring threads stay where the scheduler puts them");
                _placementRefused = 1;
                _placement = RingPlacement.Spread;
            }
        }
    }

    private void ChoosePlacement()
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var servedBefore = Served;
        var before = clock.Elapsed;
        var window = PlacementWindow;
        while (!_stopping && Volatile.Read(ref _placementRefused) == 0)
        {
            Thread.Sleep(window);
            var now = clock.Elapsed;
            var served = Served;
            var rate = (served - servedBefore) / (now - before).TotalSeconds;
            var next = _chooser.EndWindow(rate);
            // An idle mount is looked at twice a second, not twenty times.
            window = served == servedBefore ? IdleWindow : PlacementWindow;
            servedBefore = served;
            before = now;
            if (next == _placement) continue;
            _placement = next;
            Interlocked.Increment(ref _placementGeneration);
        }
        if (_stopping)
        {
            _log.Info($"io_uring threads ended {(_placement == RingPlacement.Pinned ? "pinned to their queue's CPU" : "spread")}; " +
                      $"{_chooser.Trials} trials of the other placement, {_chooser.Adoptions} kept");
        }
    }

    // Runs on the serving thread itself, between requests, so no thread is moved while it answers.
    private void Place(ushort qid)
    {
        if (Volatile.Read(ref _placementRefused) != 0) return;
        var mask = stackalloc ulong[Libc.CpuMaskWords];
        for (var i = 0; i < Libc.CpuMaskWords; i++) mask[i] = _spreadMask[i];
        var word = qid / 64;
        var bit = 1UL << (qid % 64);
        // A queue whose CPU this process may not use is served spread.
        if (_placement == RingPlacement.Pinned && word < Libc.CpuMaskWords && (mask[word] & bit) != 0)
        {
            new Span<ulong>(mask, Libc.CpuMaskWords).Clear();
            mask[word] = bit;
        }
        if (Libc.sched_setaffinity(0, (nuint)(Libc.CpuMaskWords * sizeof(ulong)), mask) != 0 &&
            Interlocked.Exchange(ref _placementRefused, 1) == 0)
        {
            _log.Info($"sched_setaffinity failed ({FuseErrors.Describe(Marshal.GetLastPInvokeError())}); io_uring threads stay where the scheduler puts them");
        }
    }

    private void Serve(ushort qid)
    {
        IoFlusher.Mark(_log);
        var header = (fuse_uring_req_header*)NativeMemory.AlignedAlloc(4096, 4096);
        var payload = (byte*)NativeMemory.AlignedAlloc((nuint)_payloadSize, 4096);
        new Span<byte>(header, 4096).Clear();
        var iov = (Native.iovec*)NativeMemory.Alloc((nuint)(2 * sizeof(Native.iovec)));
        iov[0] = new Native.iovec { iov_base = header, iov_len = (nuint)sizeof(fuse_uring_req_header) };
        iov[1] = new Native.iovec { iov_base = payload, iov_len = (nuint)_payloadSize };
        IoUringRing? ring = null;
        var counted = false;
        try
        {
            ring = new IoUringRing(2);
            Register(ring, qid, iov);
            // A refused registration completes at once; a good one stays pending until a request comes.
            var rc = ring.SubmitAndWait(TimeSpan.FromMilliseconds(1));
            if (rc < 0 && rc != -ETIME && rc != -EINTR) throw new IOException($"io_uring_enter: {FuseErrors.Describe(-rc)}");
            if (ring.TryPeek(out var first) && first.res < 0)
                throw new IOException($"FUSE_IO_URING_CMD_REGISTER on queue {qid}: {FuseErrors.Describe(-first.res)}");
            counted = true;
            _registered.Signal();
            Loop(ring, qid, header, payload, iov);
        }
        catch (Exception ex)
        {
            if (!counted)
            {
                if (Interlocked.Increment(ref _failures) == 1) _firstFailure = ex.Message;
                _registered.Signal();
            }
            else
            {
                _log.Error($"io_uring serving thread {Thread.CurrentThread.Name} failed", ex);
            }
        }
        finally
        {
            ring?.Dispose();
            NativeMemory.Free(iov);
            NativeMemory.AlignedFree(payload);
            NativeMemory.AlignedFree(header);
        }
    }

    private void Loop(IoUringRing ring, ushort qid, fuse_uring_req_header* header, byte* payload, Native.iovec* iov)
    {
        var placed = -1;
        while (!_stopping)
        {
            if (placed != _placementGeneration)
            {
                placed = _placementGeneration;
                Place(qid);
            }
            while (ring.TryPeek(out var cqe))
            {
                ring.Consume();
                if (cqe.res == -EAGAIN || cqe.res == -EINTR)
                {
                    // The command did not run; issue it again.
                    if (cqe.user_data == FuseAbi.FUSE_IO_URING_CMD_REGISTER) Register(ring, qid, iov);
                    else Commit(ring, qid, header);
                    continue;
                }
                if (cqe.res == -ENOTCONN || cqe.res == -ECONNABORTED) return;
                if (cqe.res == -ENOENT)
                {
                    // The request answered was interrupted and is gone; the entry goes back to the queue.
                    _log.Info($"io_uring commit on queue {qid} found its request gone; entry registered again");
                    Register(ring, qid, iov);
                    continue;
                }
                if (cqe.res < 0)
                {
                    _log.Error($"io_uring entry on queue {qid} failed: {FuseErrors.Describe(-cqe.res)}; this serving thread stops");
                    return;
                }
                Interlocked.Increment(ref _served);
                Answer(header, payload);
                Commit(ring, qid, header);
            }
            var rc = ring.SubmitAndWait(StopPoll);
            if (rc < 0 && rc != -ETIME && rc != -EINTR)
            {
                _log.Error($"io_uring_enter on queue {qid} failed: {FuseErrors.Describe(-rc)}; this serving thread stops");
                return;
            }
        }
    }

    // The request is in the entry's buffers: fuse_in_header and the opcode's arguments in the header
    // buffer, the rest (a name, write data) in the payload buffer, which the reply then overwrites.
    private void Answer(fuse_uring_req_header* header, byte* payload)
    {
        var request = Unsafe.Read<fuse_in_header>(header->in_out);
        var ent = &header->ring_ent_in_out;
        var split = Math.Min(FuseAbi.OpHeaderSize((fuse_opcode)request.opcode), FuseAbi.FUSE_URING_OP_IN_OUT_SZ);
        int rc;
        if (ent->payload_sz > _payloadSize)
        {
            _log.Error($"io_uring request {request.unique} claims {ent->payload_sz} payload bytes in a {_payloadSize}-byte buffer; answered EIO");
            rc = FuseErrors.EIO;
        }
        else
        {
            rc = _dispatcher.Dispatch(request, new ReadOnlySpan<byte>(header->op_in, split),
                new ReadOnlySpan<byte>(payload, (int)ent->payload_sz), new Span<byte>(payload, _payloadSize));
        }
        // Requests that want no answer still hand their entry back through a commit.
        if (rc == FuseDispatcher.NoReply) rc = 0;
        var length = rc > 0 ? rc : 0;
        Unsafe.Write(header->in_out, new fuse_out_header
        {
            len = (uint)(Unsafe.SizeOf<fuse_out_header>() + length),
            error = rc < 0 ? rc : 0,
            unique = request.unique,
        });
        ent->payload_sz = (uint)length;
    }

    private void Register(IoUringRing ring, ushort qid, Native.iovec* iov)
    {
        var sqe = Prepare(ring, FuseAbi.FUSE_IO_URING_CMD_REGISTER, qid, 0);
        sqe->addr = (ulong)iov;
        sqe->len = 2;
    }

    private void Commit(IoUringRing ring, ushort qid, fuse_uring_req_header* header) =>
        Prepare(ring, FuseAbi.FUSE_IO_URING_CMD_COMMIT_AND_FETCH, qid, header->ring_ent_in_out.commit_id);

    private io_uring_sqe* Prepare(IoUringRing ring, uint command, ushort qid, ulong commitId)
    {
        var sqe = ring.NextSqe();
        // One entry per ring and two SQEs: a free SQE is always there.
        if (sqe == null) throw new InvalidOperationException("io_uring submission queue full");
        sqe->opcode = IoUringRing.IORING_OP_URING_CMD;
        sqe->fd = _sessionFd;
        sqe->cmd_op = command;
        // user_data says which command completed, so that one interrupted by a signal can be reissued.
        sqe->user_data = command;
        var cmd = (fuse_uring_cmd_req*)&sqe->cmd;
        cmd->qid = qid;
        cmd->commit_id = commitId;
        return sqe;
    }
}

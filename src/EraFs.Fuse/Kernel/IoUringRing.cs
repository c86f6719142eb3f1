using System.Runtime.InteropServices;
using EraFs.Fuse.Native;

#pragma warning disable IDE1006, CS0649, CS8981 // C names on purpose: these mirror linux/io_uring.h.

namespace EraFs.Fuse.Kernel;

/// <summary>
/// One io_uring instance with 128-byte SQEs, made with the raw system calls: set up, map the
/// rings, fill SQEs, submit and wait in one io_uring_enter, and walk the completions.
/// Used by one thread only, so the ring needs no lock; the kernel is the other side of each ring,
/// which is why head and tail are read and written with acquire and release ordering.
/// </summary>
internal sealed unsafe class IoUringRing : IDisposable
{
    private const long SYS_io_uring_setup = 425;
    private const long SYS_io_uring_enter = 426;
    private const uint IORING_SETUP_CQSIZE = 1u << 3;
    private const uint IORING_SETUP_SQE128 = 1u << 10;
    private const uint IORING_SETUP_SINGLE_ISSUER = 1u << 12;
    private const int EINVAL = 22;
    private const uint IORING_SETUP_DEFER_TASKRUN = 1u << 13;
    private const uint IORING_FEAT_SINGLE_MMAP = 1u << 0;
    private const uint IORING_ENTER_GETEVENTS = 1u << 0;
    private const uint IORING_ENTER_EXT_ARG = 1u << 3;
    private const long IORING_OFF_SQ_RING = 0;
    private const long IORING_OFF_CQ_RING = 0x8000000;
    private const long IORING_OFF_SQES = 0x10000000;

    /// <summary>IORING_OP_URING_CMD: a command for the file's driver, here /dev/fuse.</summary>
    public const byte IORING_OP_URING_CMD = 46;

    /// <summary>Bytes of one SQE with IORING_SETUP_SQE128.</summary>
    public const int SqeSize = 128;

    /// <summary>Bytes of the command area at the end of a 128-byte SQE.</summary>
    public const int CommandAreaSize = 80;

    private readonly int _fd;
    private readonly byte* _sqRing;
    private readonly nuint _sqRingSize;
    private readonly byte* _cqRing;
    private readonly nuint _cqRingSize;
    private readonly byte* _sqes;
    private readonly nuint _sqesSize;
    private readonly uint* _sqHead;
    private readonly uint* _sqTail;
    private readonly uint _sqMask;
    private readonly uint* _sqArray;
    private readonly uint* _cqHead;
    private readonly uint* _cqTail;
    private readonly uint _cqMask;
    private readonly io_uring_cqe* _cqes;
    private uint _sqLocalTail;
    private uint _toSubmit;
    private int _disposed;

    /// <summary>Sets up a ring of <paramref name="entries"/> SQEs and twice as many CQEs.</summary>
    /// <exception cref="IOException">io_uring_setup or a mapping failed; the message has the errno.</exception>
    public IoUringRing(uint entries)
    {
        // One thread owns each ring and always waits for completions in io_uring_enter, so the
        // kernel may run completion work there instead of interrupting the thread (6.1+).
        var p = new io_uring_params
        {
            flags = IORING_SETUP_SQE128 | IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
            cq_entries = entries * 2,
        };
        var fd = Libc.syscall(SYS_io_uring_setup, (nint)entries, (nint)(&p), 0, 0, 0, 0);
        if (fd < 0 && Marshal.GetLastPInvokeError() == EINVAL)
        {
            p = new io_uring_params { flags = IORING_SETUP_SQE128 | IORING_SETUP_CQSIZE, cq_entries = entries * 2 };
            fd = Libc.syscall(SYS_io_uring_setup, (nint)entries, (nint)(&p), 0, 0, 0, 0);
        }
        if (fd < 0) throw new IOException($"io_uring_setup({entries} entries, SQE128) failed: {FuseErrors.Describe(Marshal.GetLastPInvokeError())}");
        _fd = (int)fd;
        try
        {
            _sqRingSize = p.sq_off.array + p.sq_entries * sizeof(uint);
            _cqRingSize = p.cq_off.cqes + p.cq_entries * (uint)sizeof(io_uring_cqe);
            var single = (p.features & IORING_FEAT_SINGLE_MMAP) != 0;
            if (single) _sqRingSize = _cqRingSize = Math.Max(_sqRingSize, _cqRingSize);
            _sqRing = Map(_sqRingSize, IORING_OFF_SQ_RING, "SQ ring");
            _cqRing = single ? _sqRing : Map(_cqRingSize, IORING_OFF_CQ_RING, "CQ ring");
            _sqesSize = p.sq_entries * (nuint)SqeSize;
            _sqes = Map(_sqesSize, IORING_OFF_SQES, "SQE array");
        }
        catch
        {
            Unmap();
            Libc.close(_fd);
            throw;
        }
        _sqHead = (uint*)(_sqRing + p.sq_off.head);
        _sqTail = (uint*)(_sqRing + p.sq_off.tail);
        _sqMask = *(uint*)(_sqRing + p.sq_off.ring_mask);
        _sqArray = (uint*)(_sqRing + p.sq_off.array);
        _cqHead = (uint*)(_cqRing + p.cq_off.head);
        _cqTail = (uint*)(_cqRing + p.cq_off.tail);
        _cqMask = *(uint*)(_cqRing + p.cq_off.ring_mask);
        _cqes = (io_uring_cqe*)(_cqRing + p.cq_off.cqes);
        Entries = p.sq_entries;
        _sqLocalTail = Volatile.Read(ref *_sqTail);
    }

    /// <summary>SQEs the kernel gave this ring (a power of two at least the number asked).</summary>
    public uint Entries { get; }

    private byte* Map(nuint size, long offset, string what)
    {
        var address = Libc.mmap(null, size, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED | Libc.MAP_POPULATE, _fd, offset);
        if (address == (void*)-1) throw new IOException($"mmap of the io_uring {what} failed: {FuseErrors.Describe(Marshal.GetLastPInvokeError())}");
        return (byte*)address;
    }

    /// <summary>
    /// The next free SQE, zeroed, queued for the next <see cref="SubmitAndWait"/>; null when all
    /// SQEs are queued and not yet consumed by the kernel.
    /// </summary>
    public io_uring_sqe* NextSqe()
    {
        var head = Volatile.Read(ref *_sqHead);
        if (_sqLocalTail - head >= Entries) return null;
        var index = _sqLocalTail & _sqMask;
        var sqe = (io_uring_sqe*)(_sqes + index * SqeSize);
        new Span<byte>(sqe, SqeSize).Clear();
        _sqArray[index] = index;
        _sqLocalTail++;
        _toSubmit++;
        return sqe;
    }

    /// <summary>
    /// Submits the queued SQEs and waits until a completion is ready or <paramref name="timeout"/>
    /// passes. Returns 0, or a negative errno (-ETIME after the timeout, -EINTR on a signal).
    /// </summary>
    public int SubmitAndWait(TimeSpan timeout)
    {
        // The release store publishes the SQE contents before the kernel can see the new tail.
        Volatile.Write(ref *_sqTail, _sqLocalTail);
        var ts = new __kernel_timespec { tv_sec = (long)timeout.TotalSeconds, tv_nsec = timeout.Ticks % TimeSpan.TicksPerSecond * 100 };
        var arg = new io_uring_getevents_arg { ts = (ulong)&ts };
        var submit = _toSubmit;
        var rc = Libc.syscall(SYS_io_uring_enter, _fd, (nint)submit, 1, (nint)(IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG),
            (nint)(&arg), sizeof(io_uring_getevents_arg));
        if (rc < 0) return -Marshal.GetLastPInvokeError();
        _toSubmit -= Math.Min(_toSubmit, (uint)rc);
        return 0;
    }

    /// <summary>The oldest completion not yet consumed, if any.</summary>
    public bool TryPeek(out io_uring_cqe cqe)
    {
        var head = *_cqHead;
        // Acquire: the CQE's contents are visible once its tail is.
        if (head == Volatile.Read(ref *_cqTail))
        {
            cqe = default;
            return false;
        }
        cqe = _cqes[head & _cqMask];
        return true;
    }

    /// <summary>Hands the oldest completion's slot back to the kernel.</summary>
    public void Consume() => Volatile.Write(ref *_cqHead, *_cqHead + 1);

    private void Unmap()
    {
        if (_sqes != null) Libc.munmap(_sqes, _sqesSize);
        if (_cqRing != null && _cqRing != _sqRing) Libc.munmap(_cqRing, _cqRingSize);
        if (_sqRing != null) Libc.munmap(_sqRing, _sqRingSize);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        Unmap();
        Libc.close(_fd);
    }
}

/// <summary>struct io_uring_sqe, the fields a URING_CMD uses; a 128-byte SQE continues the command area.</summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
internal struct io_uring_sqe
{
    [FieldOffset(0)] public byte opcode;
    [FieldOffset(1)] public byte flags;
    [FieldOffset(2)] public ushort ioprio;
    [FieldOffset(4)] public int fd;
    [FieldOffset(8)] public uint cmd_op;
    [FieldOffset(16)] public ulong addr;
    [FieldOffset(24)] public uint len;
    [FieldOffset(28)] public uint uring_cmd_flags;
    [FieldOffset(32)] public ulong user_data;
    [FieldOffset(40)] public ushort buf_index;
    [FieldOffset(42)] public ushort personality;
    [FieldOffset(44)] public int splice_fd_in;
    [FieldOffset(48)] public ulong cmd;
}

/// <summary>struct io_uring_cqe (without CQE32).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct io_uring_cqe
{
    public ulong user_data;
    public int res;
    public uint flags;
}

/// <summary>struct io_sqring_offsets.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct io_sqring_offsets
{
    public uint head;
    public uint tail;
    public uint ring_mask;
    public uint ring_entries;
    public uint flags;
    public uint dropped;
    public uint array;
    public uint resv1;
    public ulong resv2;
}

/// <summary>struct io_cqring_offsets.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct io_cqring_offsets
{
    public uint head;
    public uint tail;
    public uint ring_mask;
    public uint ring_entries;
    public uint overflow;
    public uint cqes;
    public uint flags;
    public uint resv1;
    public ulong resv2;
}

/// <summary>struct io_uring_params: what io_uring_setup is asked for and answers.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct io_uring_params
{
    public uint sq_entries;
    public uint cq_entries;
    public uint flags;
    public uint sq_thread_cpu;
    public uint sq_thread_idle;
    public uint features;
    public uint wq_fd;
    public fixed uint resv[3];
    public io_sqring_offsets sq_off;
    public io_cqring_offsets cq_off;
}

/// <summary>struct io_uring_getevents_arg: the wait's timeout, passed with IORING_ENTER_EXT_ARG.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct io_uring_getevents_arg
{
    public ulong sigmask;
    public uint sigmask_sz;
    public uint pad;
    public ulong ts;
}

/// <summary>struct __kernel_timespec.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct __kernel_timespec
{
    public long tv_sec;
    public long tv_nsec;
}

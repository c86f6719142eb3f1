using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using EraFs.Fuse.Kernel;
using Mono.Unix.Native;

namespace EraFs.Fuse.Tests;

/// <summary>
/// The protocol against a fake kernel: a SOCK_SEQPACKET socketpair stands in for /dev/fuse (one
/// message per read, like the device), so the tests can send what no real kernel would.
/// </summary>
[TestFixture]
public class ProtocolTests
{
    private FakeKernel _kernel = null!;

    [TearDown]
    public void TearDown() => _kernel?.Dispose();

    private FakeKernel Start(FuseFileSystem? fs = null, bool offerUring = false) =>
        _kernel = new FakeKernel(fs ?? new HelloFileSystem(), offerUring);

    private static byte[] Init(uint minor, ulong flags) =>
        Bytes(new fuse_init_in { major = 7, minor = minor, max_readahead = 128 * 1024, flags = (uint)flags, flags2 = (uint)(flags >> 32) });

    [Test]
    public void Init_agrees_one_MiB_writes_and_only_the_flags_both_sides_have()
    {
        var kernel = Start();
        var offered = FuseAbi.FUSE_ASYNC_READ | FuseAbi.FUSE_BIG_WRITES | FuseAbi.FUSE_MAX_PAGES | FuseAbi.FUSE_INIT_EXT |
                      FuseAbi.FUSE_OVER_IO_URING | (1UL << 1) /* POSIX_LOCKS, which we never want */;
        var (header, reply) = kernel.Call(fuse_opcode.FUSE_INIT, 0, Init(42, offered));
        Assert.That(header.error, Is.Zero);
        var init = MemoryMarshal.Read<fuse_init_out>(reply);
        var want = init.flags | ((ulong)init.flags2 << 32);
        Assert.That(init.major, Is.EqualTo(7));
        Assert.That(init.minor, Is.EqualTo(42));
        Assert.That(want, Is.EqualTo(FuseAbi.FUSE_ASYNC_READ | FuseAbi.FUSE_BIG_WRITES | FuseAbi.FUSE_MAX_PAGES | FuseAbi.FUSE_INIT_EXT),
            "io_uring is not wanted when not offered to the dispatcher; POSIX locks never");
        var pages = Math.Min(256, int.Parse(File.ReadAllText("/proc/sys/fs/fuse/max_pages_limit").Trim()));
        Assert.That(init.max_pages, Is.EqualTo(pages));
        Assert.That(init.max_write, Is.EqualTo((uint)pages * 4096));
        Assert.That(init.max_background, Is.EqualTo(64));
        Assert.That(init.congestion_threshold, Is.EqualTo(48));
        kernel.Dispatcher.InitAnswered();
        Assert.That(kernel.Dispatcher.Initialized.Result.Want, Is.EqualTo(want));
    }

    [Test]
    public void Init_wants_io_uring_when_the_mount_asks_for_it_and_the_kernel_offers_it()
    {
        var kernel = Start(offerUring: true);
        var (_, reply) = kernel.Call(fuse_opcode.FUSE_INIT, 0, Init(42, FuseAbi.FUSE_INIT_EXT | FuseAbi.FUSE_MAX_PAGES | FuseAbi.FUSE_OVER_IO_URING));
        var init = MemoryMarshal.Read<fuse_init_out>(reply);
        Assert.That(init.flags2 & (uint)(FuseAbi.FUSE_OVER_IO_URING >> 32), Is.Not.Zero);
        Assert.That(kernel.Dispatcher.UringAgreed, Is.True);
    }

    [Test]
    public void Init_from_a_kernel_too_old_is_refused_with_EPROTO()
    {
        var kernel = Start();
        var (header, _) = kernel.Call(fuse_opcode.FUSE_INIT, 0, Init(30, FuseAbi.FUSE_ASYNC_READ));
        Assert.That(header.error, Is.EqualTo(FuseErrors.Of(Errno.EPROTO)));
        Assert.That(kernel.Dispatcher.Initialized.IsFaulted, Is.True);
        Assert.That(kernel.Log.Lines, Has.Some.Contains("7.30"));
    }

    [Test]
    public void An_interrupted_request_is_answered_once_by_its_own_reply()
    {
        var fs = new GatedFileSystem();
        var kernel = Start(fs);
        var read = kernel.Send(fuse_opcode.FUSE_READ, GatedFileSystem.Gated, Bytes(new fuse_read_in { size = 4096 }));
        Assert.That(fs.Entered.Wait(TimeSpan.FromSeconds(10)), Is.True, "the read reached its handler");
        kernel.Send(fuse_opcode.FUSE_INTERRUPT, 0, Bytes(new fuse_interrupt_in { unique = read }));
        Assert.That(kernel.TryReceive(TimeSpan.FromMilliseconds(300), out _, out _), Is.False, "INTERRUPT gets no reply of its own");
        fs.Let.Set();
        var (header, payload) = kernel.Receive();
        Assert.That(header.unique, Is.EqualTo(read));
        Assert.That(header.error, Is.Zero);
        Assert.That(payload.Length, Is.EqualTo(4096));
        // The INTERRUPT may be read only once the gated read has let its thread go.
        Assert.That(SpinWait.SpinUntil(() => kernel.Dispatcher.Interrupts == 1, TimeSpan.FromSeconds(10)), Is.True, "the INTERRUPT was taken");
        Assert.That(kernel.TryReceive(TimeSpan.FromMilliseconds(300), out _, out _), Is.False, "exactly one reply");
    }

    [Test]
    public void A_forget_storm_is_counted_and_never_answered()
    {
        var kernel = Start();
        for (var i = 0; i < 5000; i++) kernel.Send(fuse_opcode.FUSE_FORGET, 2, Bytes(new fuse_forget_one { nodeid = 2, nlookup = 1 })[..8]);
        var batch = new byte[Unsafe.SizeOf<fuse_batch_forget_in>() + 400 * Unsafe.SizeOf<fuse_forget_one>()];
        MemoryMarshal.Write(batch, new fuse_batch_forget_in { count = 400 });
        for (var i = 0; i < 10; i++) kernel.Send(fuse_opcode.FUSE_BATCH_FORGET, 0, batch);
        var (header, _) = kernel.Call(fuse_opcode.FUSE_GETATTR, FuseAbi.FUSE_ROOT_ID, Bytes(new fuse_getattr_in()));
        Assert.That(header.error, Is.Zero, "the first reply after the storm is the getattr's");
        Assert.That(kernel.Dispatcher.Forgets, Is.EqualTo(5000 + 10 * 400));
    }

    [Test]
    public void A_batch_forget_claiming_more_entries_than_it_carries_is_malformed()
    {
        var kernel = Start();
        var batch = new byte[Unsafe.SizeOf<fuse_batch_forget_in>() + 2 * Unsafe.SizeOf<fuse_forget_one>()];
        MemoryMarshal.Write(batch, new fuse_batch_forget_in { count = 1000 });
        var (header, _) = kernel.Call(fuse_opcode.FUSE_BATCH_FORGET, 0, batch);
        Assert.That(header.error, Is.EqualTo(FuseErrors.EIO));
        Assert.That(kernel.Dispatcher.Forgets, Is.Zero);
    }

    [Test]
    public void A_read_larger_than_the_reply_buffer_is_refused_with_EIO()
    {
        var kernel = Start();
        var (header, payload) = kernel.Call(fuse_opcode.FUSE_READ, 2, Bytes(new fuse_read_in { size = 4u << 20 }));
        Assert.That(header.error, Is.EqualTo(FuseErrors.EIO));
        Assert.That(payload, Is.Empty);
        Assert.That(kernel.Log.Lines, Has.Some.Contains("exceeds the").And.Contains("reply buffer"));
        var (ok, data) = kernel.Call(fuse_opcode.FUSE_READ, 2, Bytes(new fuse_read_in { size = 4096 }));
        Assert.That(ok.error, Is.Zero);
        Assert.That(data, Is.EqualTo(HelloFileSystem.Greeting), "serving goes on");
    }

    [Test]
    public void Malformed_requests_are_answered_EIO_and_serving_goes_on()
    {
        var kernel = Start();
        // A header whose len disagrees with what was read.
        var lying = kernel.Build(fuse_opcode.FUSE_GETATTR, 1, Bytes(new fuse_getattr_in()), out var lyingId);
        BitConverter.TryWriteBytes(lying.AsSpan(0, 4), (uint)lying.Length + 100);
        kernel.SendRaw(lying);
        var (answer, _) = kernel.Receive();
        Assert.That(answer.unique, Is.EqualTo(lyingId));
        Assert.That(answer.error, Is.EqualTo(FuseErrors.EIO));
        // Arguments shorter than the opcode's fixed header.
        Assert.That(kernel.Call(fuse_opcode.FUSE_WRITE, 2, new byte[8]).Header.error, Is.EqualTo(FuseErrors.EIO));
        // A write whose size claims more data than it carries.
        Assert.That(kernel.Call(fuse_opcode.FUSE_WRITE, 2, Bytes(new fuse_write_in { size = 1 << 20 })).Header.error, Is.EqualTo(FuseErrors.EIO));
        // A name without its NUL.
        Assert.That(kernel.Call(fuse_opcode.FUSE_LOOKUP, 1, "hello"u8.ToArray()).Header.error, Is.EqualTo(FuseErrors.EIO));
        // Shorter than a header: nothing to answer to, so no answer at all.
        kernel.SendRaw(new byte[12]);
        Assert.That(kernel.TryReceive(TimeSpan.FromMilliseconds(300), out _, out _), Is.False);
        // An opcode we do not implement.
        Assert.That(kernel.Call((fuse_opcode)9999, 1, []).Header.error, Is.EqualTo(FuseErrors.ENOSYS));
        Assert.That(kernel.Dispatcher.Malformed, Is.EqualTo(5));
        var (header, payload) = kernel.Call(fuse_opcode.FUSE_LOOKUP, 1, "hello\0"u8.ToArray());
        Assert.That(header.error, Is.Zero, "the daemon still serves");
        Assert.That(MemoryMarshal.Read<fuse_entry_out>(payload).nodeid, Is.EqualTo(2));
    }

    [Test]
    public void A_handler_exception_is_answered_EIO_and_logged()
    {
        var kernel = Start();
        var (header, _) = kernel.Call(fuse_opcode.FUSE_READ, 3, Bytes(new fuse_read_in { size = 10 }));
        Assert.That(header.error, Is.EqualTo(FuseErrors.EIO));
        Assert.That(kernel.Log.Lines, Has.Some.StartsWith("error: read handler on inode 3"));
    }

    [Test]
    public void Destroy_ends_the_connection_once()
    {
        var fs = new HelloFileSystem();
        var kernel = Start(fs);
        Assert.That(kernel.Call(fuse_opcode.FUSE_DESTROY, 0, []).Header.error, Is.Zero);
        kernel.Dispatcher.ConnectionEnded();
        Assert.That(fs.Destroys, Is.EqualTo(1));
    }

    internal static byte[] Bytes<T>(T value) where T : unmanaged
    {
        var bytes = new byte[Unsafe.SizeOf<T>()];
        MemoryMarshal.Write(bytes, in value);
        return bytes;
    }

    /// <summary>Blocks reads of inode <see cref="Gated"/> until released, to catch a request in flight.</summary>
    private sealed class GatedFileSystem : FuseFileSystem
    {
        public const ulong Gated = 5;
        public readonly ManualResetEventSlim Entered = new();
        public readonly ManualResetEventSlim Let = new();

        public override int Read(ulong inode, ulong handle, Span<byte> buffer, long offset)
        {
            Entered.Set();
            Let.Wait(TimeSpan.FromSeconds(30));
            buffer.Fill(7);
            return buffer.Length;
        }
    }
}

/// <summary>The kernel's end of a socketpair a <see cref="DevTransport"/> serves as if it were /dev/fuse.</summary>
internal sealed unsafe class FakeKernel : IDisposable
{
    private readonly int _kernelFd;
    private readonly int _daemonFd;
    private readonly DevTransport _transport;
    private ulong _nextUnique = 2;

    public FakeKernel(FuseFileSystem fs, bool offerUring)
    {
        var fds = stackalloc int[2];
        // AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC: message boundaries kept, like reads of /dev/fuse.
        if (socketpair(1, 5 | 0x80000, 0, fds) != 0) Assert.Fail($"socketpair: {Marshal.GetLastPInvokeError()}");
        _kernelFd = fds[0];
        _daemonFd = fds[1];
        Dispatcher = new FuseDispatcher(fs, new FuseMountOptions(), Log, offerUring);
        _transport = new DevTransport(_daemonFd, Dispatcher, 1 << 20, Log);
        _transport.Start(1, 1, "fake-kernel");
    }

    public MemoryLog Log { get; } = new();

    public FuseDispatcher Dispatcher { get; }

    public byte[] Build(fuse_opcode opcode, ulong nodeid, byte[] args, out ulong unique)
    {
        unique = _nextUnique;
        _nextUnique += 2;
        var message = new byte[Unsafe.SizeOf<fuse_in_header>() + args.Length];
        MemoryMarshal.Write(message, new fuse_in_header { len = (uint)message.Length, opcode = (uint)opcode, unique = unique, nodeid = nodeid });
        args.CopyTo(message, Unsafe.SizeOf<fuse_in_header>());
        return message;
    }

    public ulong Send(fuse_opcode opcode, ulong nodeid, byte[] args)
    {
        SendRaw(Build(opcode, nodeid, args, out var unique));
        return unique;
    }

    public void SendRaw(byte[] message)
    {
        fixed (byte* p = message)
        {
            if (Syscall.write(_kernelFd, p, (ulong)message.Length) != message.Length) Assert.Fail($"write to the fake /dev/fuse: {Stdlib.GetLastError()}");
        }
    }

    public (fuse_out_header Header, byte[] Payload) Call(fuse_opcode opcode, ulong nodeid, byte[] args)
    {
        var unique = Send(opcode, nodeid, args);
        var reply = Receive();
        Assert.That(reply.Header.unique, Is.EqualTo(unique), $"the reply to {opcode}");
        return reply;
    }

    public (fuse_out_header Header, byte[] Payload) Receive()
    {
        Assert.That(TryReceive(TimeSpan.FromSeconds(10), out var header, out var payload), Is.True, "a reply within 10 s");
        return (header, payload);
    }

    public bool TryReceive(TimeSpan timeout, out fuse_out_header header, out byte[] payload)
    {
        header = default;
        payload = [];
        var poll = new[] { new Pollfd { fd = _kernelFd, events = PollEvents.POLLIN } };
        if (Syscall.poll(poll, 1, (int)timeout.TotalMilliseconds) <= 0) return false;
        var buffer = new byte[(1 << 20) + 4096];
        long n;
        fixed (byte* p = buffer) n = Syscall.read(_kernelFd, p, (ulong)buffer.Length);
        Assert.That(n, Is.GreaterThanOrEqualTo(Unsafe.SizeOf<fuse_out_header>()), "a whole fuse_out_header");
        header = MemoryMarshal.Read<fuse_out_header>(buffer);
        Assert.That(header.len, Is.EqualTo(n), "len says what was written");
        payload = buffer[Unsafe.SizeOf<fuse_out_header>()..(int)n];
        return true;
    }

    public void Dispose()
    {
        // Closing the kernel's end makes the serving thread's read return 0, which ends it.
        Syscall.close(_kernelFd);
        _transport.Completion.Wait(TimeSpan.FromSeconds(10));
        Syscall.close(_daemonFd);
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int socketpair(int domain, int type, int protocol, int* fds);
}

using System.Text;

namespace EraFs.Fuse.Tests;

/// <summary>
/// The smallest file system over the binding: "hello" reads a greeting, "boom" throws on read, and a
/// read of "slow" (direct I/O, so every read reaches the daemon) waits, announced as a
/// <see cref="FuseWait"/>, until <see cref="ReleaseSlowReads"/>.
/// </summary>
internal sealed class HelloFileSystem : FuseFileSystem
{
    public static readonly byte[] Greeting = Encoding.ASCII.GetBytes("hello from the binding\n");
    private const ulong Hello = 2;
    private const ulong Boom = 3;
    private const ulong Slow = 4;
    private readonly ManualResetEventSlim _slowGate = new(false);
    private int _slowReadsIn;
    private readonly uint _uid = Mono.Unix.Native.Syscall.geteuid();

    public FuseConnectionInfo? Connection { get; private set; }

    public int Destroys;

    public override void Initialized(FuseConnectionInfo connection) => Connection = connection;

    public override void Destroyed() => Interlocked.Increment(ref Destroys);

    /// <summary>Reads of "slow" being served now.</summary>
    public int SlowReadsIn => Volatile.Read(ref _slowReadsIn);

    /// <summary>Lets every read of "slow", now and later, finish.</summary>
    public void ReleaseSlowReads() => _slowGate.Set();

    private FuseAttributes Attr(ulong ino) => ino == RootInode
        ? new FuseAttributes(ino, 0x4000 | 0x1C0, 0, _uid, 0, DateTime.UnixEpoch, Nlink: 2)
        : new FuseAttributes(ino, 0x8000 | 0x100, ino == Hello ? Greeting.Length : ino == Slow ? 4096 : 10, _uid, 0, DateTime.UnixEpoch);

    public override int Lookup(ulong parent, string name, out FuseAttributes attributes)
    {
        attributes = default;
        var ino = name switch { "hello" => Hello, "boom" => Boom, "slow" => Slow, _ => 0UL };
        if (parent != RootInode || ino == 0) return FuseErrors.ENOENT;
        attributes = Attr(ino);
        return 0;
    }

    public override int GetAttributes(ulong inode, out FuseAttributes attributes)
    {
        attributes = Attr(inode);
        return inode <= Slow ? 0 : FuseErrors.ENOENT;
    }

    public override int Open(ulong inode, int flags, ref FuseOpenReply reply)
    {
        reply.DirectIo = inode is Boom or Slow;
        return 0;
    }

    public override int Read(ulong inode, ulong handle, Span<byte> buffer, long offset)
    {
        if (inode == Boom) throw new InvalidOperationException("boom on purpose");
        if (inode == Slow)
        {
            Interlocked.Increment(ref _slowReadsIn);
            try
            {
                // Bounded, so a test that forgets to release cannot hang the run.
                using (FuseWait.Begin()) _slowGate.Wait(TimeSpan.FromSeconds(30));
            }
            finally
            {
                Interlocked.Decrement(ref _slowReadsIn);
            }
            if (offset >= 4096) return 0;
            var length = (int)Math.Min(buffer.Length, 4096 - offset);
            buffer[..length].Clear();
            return length;
        }
        if (offset >= Greeting.Length) return 0;
        var n = Math.Min(buffer.Length, Greeting.Length - (int)offset);
        Greeting.AsSpan((int)offset, n).CopyTo(buffer);
        return n;
    }

    public override int ReadDirectory(ulong inode, out IReadOnlyList<FuseDirEntry> entries)
    {
        entries = [new(".", RootInode, 0x4000), new("..", RootInode, 0x4000), new("hello", Hello, 0x8000), new("boom", Boom, 0x8000), new("slow", Slow, 0x8000)];
        return 0;
    }
}

/// <summary>Collects log lines in memory for assertions.</summary>
internal sealed class MemoryLog : IFuseLog
{
    private readonly List<string> _lines = [];

    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_lines) return [.. _lines];
        }
    }

    public void Info(string message)
    {
        lock (_lines) _lines.Add("info: " + message);
    }

    public void Error(string message, Exception? exception = null)
    {
        lock (_lines) _lines.Add("error: " + message + (exception is null ? "" : "\n" + exception));
    }
}

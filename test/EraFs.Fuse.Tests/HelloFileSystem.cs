using System.Text;

namespace EraFs.Fuse.Tests;

/// <summary>The smallest file system over the binding: "hello" reads a greeting, "boom" throws on read.</summary>
internal sealed class HelloFileSystem : FuseFileSystem
{
    public static readonly byte[] Greeting = Encoding.ASCII.GetBytes("hello from the binding\n");
    private const ulong Hello = 2;
    private const ulong Boom = 3;
    private readonly uint _uid = Mono.Unix.Native.Syscall.geteuid();

    public FuseConnectionInfo? Connection { get; private set; }

    public int Destroys;

    public override void Initialized(FuseConnectionInfo connection) => Connection = connection;

    public override void Destroyed() => Interlocked.Increment(ref Destroys);

    private FuseAttributes Attr(ulong ino) => ino == RootInode
        ? new FuseAttributes(ino, 0x4000 | 0x1C0, 0, _uid, 0, DateTime.UnixEpoch, Nlink: 2)
        : new FuseAttributes(ino, 0x8000 | 0x100, ino == Hello ? Greeting.Length : 10, _uid, 0, DateTime.UnixEpoch);

    public override int Lookup(ulong parent, string name, out FuseAttributes attributes)
    {
        attributes = default;
        var ino = name switch { "hello" => Hello, "boom" => Boom, _ => 0UL };
        if (parent != RootInode || ino == 0) return FuseErrors.ENOENT;
        attributes = Attr(ino);
        return 0;
    }

    public override int GetAttributes(ulong inode, out FuseAttributes attributes)
    {
        attributes = Attr(inode);
        return inode <= Boom ? 0 : FuseErrors.ENOENT;
    }

    public override int Open(ulong inode, int flags, ref FuseOpenReply reply)
    {
        reply.DirectIo = inode == Boom;
        return 0;
    }

    public override int Read(ulong inode, ulong handle, Span<byte> buffer, long offset)
    {
        if (inode == Boom) throw new InvalidOperationException("boom on purpose");
        if (offset >= Greeting.Length) return 0;
        var n = Math.Min(buffer.Length, Greeting.Length - (int)offset);
        Greeting.AsSpan((int)offset, n).CopyTo(buffer);
        return n;
    }

    public override int ReadDirectory(ulong inode, out IReadOnlyList<FuseDirEntry> entries)
    {
        entries = [new(".", RootInode, 0x4000), new("..", RootInode, 0x4000), new("hello", Hello, 0x8000), new("boom", Boom, 0x8000)];
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

using EraFs.Fuse;
using Mono.Unix.Native;
using NUnit.Framework;

namespace EraFs.TestSupport;

/// <summary>
/// Runs a mount fixture on one FUSE transport. For io_uring it switches the fuse module's
/// enable_uring on and puts back what it found when disposed, whatever the tests did; a file lock
/// keeps test processes running side by side from switching it under each other.
/// </summary>
public sealed class TransportSwitch : IDisposable
{
    private const string LockPath = "/run/erafs-test-enable_uring.lock";
    private readonly int _lockFd = -1;
    private readonly string? _previous;

    /// <summary>The transports every mount fixture runs on.</summary>
    public static IEnumerable<FuseTransport> Both => [FuseTransport.Dev, FuseTransport.IoUring];

    /// <summary>The name <c>erafs mount --transport</c> takes.</summary>
    public static string CliName(FuseTransport transport) => transport switch
    {
        FuseTransport.IoUring => "io_uring",
        FuseTransport.Dev => "dev",
        _ => "auto",
    };

    private TransportSwitch(FuseTransport transport, int lockFd, string? previous)
    {
        Transport = transport;
        _lockFd = lockFd;
        _previous = previous;
    }

    /// <summary>The transport the fixture's mounts use.</summary>
    public FuseTransport Transport { get; }

    /// <summary>Makes <paramref name="transport"/> usable; ignores the fixture where this kernel has no FUSE over io_uring.</summary>
    public static TransportSwitch Use(FuseTransport transport) =>
        transport == FuseTransport.IoUring ? Hold(transport, "Y") : new TransportSwitch(transport, -1, null);

    /// <summary>Holds the module switch off, to see io_uring refused; ignored where the kernel has no switch.</summary>
    public static TransportSwitch SwitchedOff() => Hold(FuseTransport.Dev, "N");

    private static TransportSwitch Hold(FuseTransport transport, string value)
    {
        if (UringParameter.Read() is null)
            Assert.Ignore($"this kernel has no FUSE over io_uring ({UringParameter.Path} is absent; needs 6.14+ with CONFIG_FUSE_IO_URING)");
        var fd = Syscall.open(LockPath, OpenFlags.O_RDWR | OpenFlags.O_CREAT | OpenFlags.O_CLOEXEC, FilePermissions.S_IRUSR | FilePermissions.S_IWUSR);
        if (fd < 0) Assert.Fail($"{LockPath}: {Stdlib.GetLastError()}");
        // Bounded: another test process holds it for one fixture at most.
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(10);
        while (Syscall.lockf(fd, LockfCommand.F_TLOCK, 0) != 0)
        {
            if (DateTime.UtcNow > deadline)
            {
                Syscall.close(fd);
                Assert.Fail($"{LockPath} stayed locked for 10 minutes");
            }
            Thread.Sleep(200);
        }
        var previous = File.ReadAllText(UringParameter.Path).Trim();
        File.WriteAllText(UringParameter.Path, value);
        return new TransportSwitch(transport, fd, previous);
    }

    public void Dispose()
    {
        if (_lockFd < 0) return;
        try
        {
            if (_previous is not null) File.WriteAllText(UringParameter.Path, _previous);
        }
        finally
        {
            Syscall.lockf(_lockFd, LockfCommand.F_ULOCK, 0);
            Syscall.close(_lockFd);
        }
    }
}

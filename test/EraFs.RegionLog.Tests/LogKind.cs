using EraFs.TestSupport;

namespace EraFs.RegionLog.Tests;

/// <summary>The three log types the contract suite runs against.</summary>
public enum LogKind
{
    Core,
    Disk,
    Userspace,
}

/// <summary>Opens logs of one kind; a disk log's device and a userspace log's server live as long as this.</summary>
internal sealed class LogFactory : IDisposable
{
    private readonly TestDirectory _dir = new();
    private SocketLogServer? _server;

    public LogFactory(LogKind kind) => Kind = kind;

    public LogKind Kind { get; }

    /// <summary>The disk log's device as it stands (the disk kind, and the userspace kind whose daemon keeps a disk log).</summary>
    public FaultyDevice Device { get; private set; } = new("region.log");

    public SocketLogServer? Server => _server;

    public IDirtyRegionLog Open(long deviceLength, long regionSize, RegionLogSync sync = RegionLogSync.Default)
    {
        switch (Kind)
        {
            case LogKind.Core:
                return new CoreDirtyRegionLog(deviceLength, regionSize, sync);
            case LogKind.Disk:
                Device = Device.Recover();
                return new DiskDirtyRegionLog(Device, deviceLength, regionSize, sync);
            default:
                var path = _dir.File("log.sock");
                _server ??= new SocketLogServer(path, (_, len, rs, s) => new CoreDirtyRegionLog(len, rs, s));
                return new UserspaceDirtyRegionLog(() => SocketLogServer.Connect(path), path, UserspaceDirtyRegionLog.UuidFor(path), deviceLength, regionSize, sync);
        }
    }

    public void Dispose()
    {
        _server?.Dispose();
        _dir.Dispose();
    }
}

using System.Runtime.InteropServices;
using EraFs.FileSystem;
using EraFs.Fuse;

namespace EraFs.Cli;

/// <summary>
/// SIGTERM and SIGINT for a serving daemon, registered before anything is mounted: a signal that
/// arrives while the mount is still being set up is remembered and acted on once it exists, so it
/// never kills the process with the default action and leaves a stale mount behind.
/// </summary>
internal sealed class StopSignals : IDisposable
{
    private readonly DaemonLog _log;
    private readonly PosixSignalRegistration _term;
    private readonly PosixSignalRegistration _intr;
    private readonly Lock _lock = new();
    private ServedMount? _mount;
    private PosixSignal? _pending;

    public StopSignals(DaemonLog log)
    {
        _log = log;
        _term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        _intr = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
    }

    /// <summary>The mount a signal stops from now on (and at once, if one already came).</summary>
    public void Attach(ServedMount mount)
    {
        PosixSignal? pending;
        lock (_lock)
        {
            _mount = mount;
            pending = _pending;
        }
        if (pending is { } signal) Stop(signal, mount);
    }

    private void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true;
        ServedMount? mount;
        lock (_lock)
        {
            _pending = context.Signal;
            mount = _mount;
        }
        if (mount is null) _log.Info($"{context.Signal} received while mounting: unmounting as soon as the mount exists");
        else Stop(context.Signal, mount);
    }

    private void Stop(PosixSignal signal, ServedMount mount)
    {
        // Lazy: a loop device may still hold the device file; the mount leaves the namespace now and
        // the daemon serves it until the last user lets go, then shuts down cleanly.
        // Logged first: once the unmount succeeds the main thread may finish and exit before this one logs.
        _log.Info($"{signal} received: unmounting {mount.MountPoint}");
        var rc = mount.RequestUnmount(lazy: true);
        if (rc < 0) _log.Error($"{signal}: unmounting {mount.MountPoint} failed: {FuseErrors.Describe(rc)}");
    }

    public void Dispose()
    {
        _term.Dispose();
        _intr.Dispose();
    }
}

using System.Net.Sockets;
using System.Text;
using EraFs.FileSystem;

namespace EraFs.Daemon;

/// <summary>
/// sd_notify(3) for a foreground mount under a Type=notify unit: datagrams to $NOTIFY_SOCKET saying
/// when the mount serves (READY=1), how it is doing (STATUS=), and when it begins to unmount (STOPPING=1).
/// </summary>
/// <remarks>
/// Written by hand rather than through libsystemd: the protocol is one datagram per message to a Unix
/// socket, and a missing library must not keep a mount from starting. A failed send costs the
/// message, never the mount.
/// </remarks>
public sealed class SystemdNotifier : IDisposable
{
    public const string SocketVariable = "NOTIFY_SOCKET";

    /// <summary>How often the status is looked at; it is sent only when it changed, so the manager gets at most one a period.</summary>
    public static readonly TimeSpan StatusInterval = TimeSpan.FromSeconds(2);

    private readonly Lock _lock = new();
    private readonly Socket _socket;
    private readonly UnixDomainSocketEndPoint _endPoint;
    private readonly string _address;
    private readonly DaemonLog _log;
    private Timer? _timer;
    private string? _lastStatus;
    private bool _sendFailed;
    private bool _disposed;

    private SystemdNotifier(string address, UnixDomainSocketEndPoint endPoint, DaemonLog log)
    {
        _address = address;
        _endPoint = endPoint;
        _log = log;
        _socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    }

    /// <summary>A notifier for $NOTIFY_SOCKET (a path, or '@' for an abstract name), or null when it is unset or unusable (logged).</summary>
    public static SystemdNotifier? FromEnvironment(DaemonLog log)
    {
        var address = Environment.GetEnvironmentVariable(SocketVariable);
        if (string.IsNullOrEmpty(address)) return null;
        if (address[0] is not ('/' or '@'))
        {
            log.Warning($"{SocketVariable}={address}: not a socket path or an abstract '@' name; systemd is not notified");
            return null;
        }
        try
        {
            // The kernel spells an abstract name with a leading NUL; systemd writes it as '@'.
            var endPoint = new UnixDomainSocketEndPoint(address[0] == '@' ? "\0" + address[1..] : address);
            return new SystemdNotifier(address, endPoint, log);
        }
        catch (Exception ex) when (ex is ArgumentException or SocketException)
        {
            log.Warning($"{SocketVariable}={address}: {ex.Message}; systemd is not notified");
            return null;
        }
    }

    /// <summary>The mount serves: READY=1 with its status now, STATUS= on each change, STOPPING=1 once it begins to unmount.</summary>
    public void Serve(ServedMount mount)
    {
        var status = mount.StatusSummary;
        lock (_lock) _lastStatus = status;
        Send($"READY=1\nSTATUS={status}");
        mount.Stopping.ContinueWith(_ => Send($"STOPPING=1\nSTATUS={mount.StatusSummary}"), TaskContinuationOptions.ExecuteSynchronously);
        _timer = new Timer(_ => UpdateStatus(mount), null, StatusInterval, StatusInterval);
    }

    private void UpdateStatus(ServedMount mount)
    {
        var status = mount.StatusSummary;
        lock (_lock)
        {
            if (status == _lastStatus) return;
            _lastStatus = status;
        }
        Send($"STATUS={status}");
    }

    private void Send(string message)
    {
        lock (_lock)
        {
            if (_disposed) return;
            try
            {
                _socket.SendTo(Encoding.UTF8.GetBytes(message), _endPoint);
            }
            catch (SocketException ex)
            {
                // One line, not one a period: a manager that went away would otherwise fill the log.
                if (!_sendFailed) _log.Warning($"{SocketVariable}={_address}: cannot notify systemd: {ex.Message}");
                _sendFailed = true;
            }
        }
    }

    public void Dispose()
    {
        _timer?.Dispose();
        lock (_lock)
        {
            _disposed = true;
            _socket.Dispose();
        }
    }
}

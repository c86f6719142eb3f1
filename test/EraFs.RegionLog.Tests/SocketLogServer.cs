using EraFs.RegionLog.Server;
using System.Net.Sockets;

namespace EraFs.RegionLog.Tests;

/// <summary>A <see cref="RegionLogServer"/> listening on a temporary Unix socket, in-process; <see cref="Kill"/> drops it like a dead daemon.</summary>
internal sealed class SocketLogServer : IDisposable
{
    private readonly Socket _listener;
    private readonly RegionLogServer _server;
    private readonly List<Socket> _connections = [];
    private readonly Thread _acceptor;
    private bool _killed;

    public SocketLogServer(string socketPath, Func<string, long, long, RegionLogSync, IDirtyRegionLog> createLog)
    {
        SocketPath = socketPath;
        _server = new RegionLogServer(createLog);
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(socketPath));
        _listener.Listen();
        _acceptor = new Thread(Accept) { IsBackground = true };
        _acceptor.Start();
    }

    public string SocketPath { get; }

    public long Requests => _server.Requests;

    public RegionLogServer Server => _server;

    public static Stream Connect(string socketPath)
    {
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        s.Connect(new UnixDomainSocketEndPoint(socketPath));
        return new NetworkStream(s, ownsSocket: true);
    }

    private void Accept()
    {
        while (true)
        {
            Socket c;
            try
            {
                c = _listener.Accept();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                return;
            }
            lock (_connections) _connections.Add(c);
            new Thread(() =>
            {
                using var stream = new NetworkStream(c, ownsSocket: true);
                _server.Serve(stream);
            }) { IsBackground = true }.Start();
        }
    }

    /// <summary>Closes the listener and every connection, as a killed daemon would.</summary>
    public void Kill()
    {
        if (_killed) return;
        _killed = true;
        _listener.Dispose();
        lock (_connections)
        {
            foreach (var c in _connections)
            {
                try
                {
                    c.Shutdown(SocketShutdown.Both);
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                }
                c.Dispose();
            }
        }
        File.Delete(SocketPath);
    }

    public void Dispose()
    {
        Kill();
        _server.Dispose();
    }
}

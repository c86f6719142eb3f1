using System.CommandLine;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using EraFs.Core.RegionLog;

namespace EraFs.Cli;

/// <summary>
/// erafs log-server: the daemon behind <c>mount --log userspace:SOCKET</c>. Answers dm-ulog requests
/// on a Unix socket with a core or disk log of its own; runs in the foreground until signalled.
/// </summary>
internal static class LogServerVerb
{
    public const string ReadyPrefix = "erafs: log server listening on ";

    public static Command Command()
    {
        var socket = new Option<string>("--socket") { Description = "Unix socket to listen on", Required = true };
        var log = new Option<string>("--log") { Description = "The daemon's own log: core or disk:PATH", DefaultValueFactory = _ => "core" };
        var cmd = new Command("log-server", "Serve a dirty region log to mounts that use --log userspace:SOCKET") { socket, log };
        cmd.SetAction(p => Run(p.GetValue(socket)!, p.GetValue(log)!, p.InvocationConfiguration.Output, p.InvocationConfiguration.Error));
        return cmd;
    }

    public static int Run(string socketPath, string spec, TextWriter stdout, TextWriter stderr)
    {
        if (spec != "core" && !spec.StartsWith("disk:", StringComparison.Ordinal))
            throw new CliException($"--log: '{spec}' is not a log the server can keep (use core or disk:PATH)", ExitCode.Usage);
        socketPath = Path.GetFullPath(socketPath);
        var messages = TextWriter.Synchronized(stderr);
        using var server = new RegionLogServer(
            (length, regionSize, sync) => OpenLog(spec, length, regionSize, sync),
            line => messages.WriteLine($"erafs log-server: {line}"));
        if (File.Exists(socketPath)) File.Delete(socketPath);
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(socketPath));
            listener.Listen();
        }
        catch (SocketException e)
        {
            throw new CliException($"{socketPath}: cannot listen: {e.Message}");
        }
        using var stop = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => Stop(c, listener));
        using var intr = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => Stop(c, listener));
        stdout.WriteLine(ReadyPrefix + socketPath);
        stdout.Flush();
        while (true)
        {
            Socket connection;
            try
            {
                connection = listener.Accept();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                break;
            }
            new Thread(() => Serve(server, connection, messages)) { IsBackground = true, Name = "log-connection" }.Start();
        }
        File.Delete(socketPath);
        return (int)ExitCode.Ok;
    }

    private static void Serve(RegionLogServer server, Socket connection, TextWriter messages)
    {
        using var stream = new NetworkStream(connection, ownsSocket: true);
        try
        {
            server.Serve(stream);
        }
        catch (IOException e)
        {
            messages.WriteLine($"erafs log-server: connection lost: {e.Message}");
        }
    }

    private static IDirtyRegionLog OpenLog(string spec, long length, long regionSize, RegionLogSync sync)
    {
        try
        {
            return RegionLogSetup.OpenLog(spec, length, regionSize, sync);
        }
        catch (CliException e)
        {
            // The client gets an error reply for its CTR instead of a closed connection.
            throw new RegionLogException(e.Message, e);
        }
    }

    private static void Stop(PosixSignalContext context, Socket listener)
    {
        context.Cancel = true;
        listener.Close();
    }
}

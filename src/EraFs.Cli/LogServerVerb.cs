using EraFs.RegionLog.Server;
using System.CommandLine;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using EraFs.RegionLog;
using EraFs.Storage;

namespace EraFs.Cli;

/// <summary>
/// erafs log-server: the daemon behind <c>mount --log userspace:SOCKET</c>. Answers dm-ulog requests
/// on a Unix socket with one core or disk log per client UUID; runs in the foreground until signalled.
/// </summary>
internal static class LogServerVerb
{
    public const string ReadyPrefix = "erafs: log server listening on ";

    public static Command Command()
    {
        var socket = new Option<string>("--socket") { Description = "Unix socket to listen on", Required = true };
        var log = new Option<string>("--log") { Description = "The logs the daemon keeps: core, or disk:DIR (one DIR/<uuid>.log per client)", DefaultValueFactory = _ => "core" };
        var cmd = new Command("log-server", "Serve a dirty region log to mounts that use --log userspace:SOCKET") { socket, log };
        cmd.SetAction(p => Run(p.GetValue(socket)!, p.GetValue(log)!, p.InvocationConfiguration.Output, p.InvocationConfiguration.Error));
        return cmd;
    }

    public static int Run(string socketPath, string spec, TextWriter stdout, TextWriter stderr)
    {
        if (spec != "core" && !spec.StartsWith("disk:", StringComparison.Ordinal))
            throw new CliException($"--log: '{spec}' is not a log the server can keep (use core or disk:DIR)", ExitCode.Usage);
        var directory = spec == "core" ? null : LogDirectory(spec["disk:".Length..]);
        socketPath = Path.GetFullPath(socketPath);
        var messages = TextWriter.Synchronized(stderr);
        using var server = new RegionLogServer(
            (uuid, length, regionSize, sync) => OpenLog(directory, uuid, length, regionSize, sync),
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

    /// <summary>The directory of a disk-backed server, created if missing; a regular file there is the old single-log usage.</summary>
    private static string LogDirectory(string path)
    {
        var full = Path.GetFullPath(path);
        if (File.Exists(full))
            throw new CliException(
                $"--log disk:{path}: {full} is a file, but the log server now keeps one log per client in a directory ({full}/<uuid>.log); give a directory",
                ExitCode.Usage);
        try
        {
            Directory.CreateDirectory(full);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"--log disk:{path}: cannot create the log directory: {e.Message}");
        }
        return full;
    }

    private static IDirtyRegionLog OpenLog(string? directory, string uuid, long length, long regionSize, RegionLogSync sync)
    {
        if (directory is null) return new CoreDirtyRegionLog(length, regionSize, sync);
        // The server checked the uuid is a plain file name, so it cannot leave the directory.
        var device = FileBlockDevice.OpenClaimed(Path.Combine(directory, uuid + ".log"), "region log", "erafs log-server");
        try
        {
            return new DiskDirtyRegionLog(device, length, regionSize, sync);
        }
        catch
        {
            device.Dispose();
            throw;
        }
    }

    private static void Stop(PosixSignalContext context, Socket listener)
    {
        context.Cancel = true;
        listener.Close();
    }
}

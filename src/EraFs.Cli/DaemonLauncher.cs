using System.Diagnostics;
using System.Text;

namespace EraFs.Cli;

/// <summary>
/// Starts the serving daemon as a child of this executable (the CLR cannot fork), waits until it says
/// the mount is ready or fails, and relays its one-line error.
/// </summary>
internal static class DaemonLauncher
{
    public const string ReadyLine = "erafs-daemon-ready";
    public const string ChildFlag = "--daemon-child";
    public const string Gen0SizeVariable = "DOTNET_GCgen0size";
    public const string Gen0Size = "0x1000000";

    /// <summary>Before the ready line, the child passes each warning it logs on a line of its own with this prefix.</summary>
    public const string WarningPrefix = "erafs-daemon-warning: ";

    public static int Launch(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr, string logPath, string mountPoint)
    {
        var psi = new ProcessStartInfo
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        var self = Environment.ProcessPath ?? throw new CliException("cannot find this program's path to start the daemon");
        psi.FileName = self;
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
            psi.ArgumentList.Add(typeof(DaemonLauncher).Assembly.Location);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.ArgumentList.Add("--foreground");
        psi.ArgumentList.Add(ChildFlag);
        // The runtime takes the gen0 budget only from the environment (.NET 10 ignores it in
        // runtimeconfig), and by default sizes it from the L3 cache, which can be tens of MiB per
        // heap: cap it so garbage between collections stays small. A caller's own setting wins.
        if (Environment.GetEnvironmentVariable(Gen0SizeVariable) is null) psi.Environment[Gen0SizeVariable] = Gen0Size;

        using var child = Process.Start(psi) ?? throw new CliException("could not start the daemon process");
        child.StandardInput.Close();
        var errors = new StringBuilder();
        child.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null) lock (errors) errors.AppendLine(e.Data);
        };
        child.BeginErrorReadLine();
        string? line;
        while ((line = child.StandardOutput.ReadLine()) is not null)
        {
            if (line.StartsWith(WarningPrefix, StringComparison.Ordinal))
            {
                stderr.WriteLine($"erafs: warning: {line[WarningPrefix.Length..]}");
                continue;
            }
            if (line == ReadyLine)
            {
                stdout.WriteLine($"erafs: mounted on {mountPoint} (daemon pid {child.Id}, log {logPath})");
                return (int)ExitCode.Ok;
            }
        }
        child.WaitForExit();
        lock (errors)
        {
            var text = errors.ToString().TrimEnd();
            stderr.WriteLine(text.Length > 0 ? text : $"erafs: the daemon exited with code {child.ExitCode} before mounting (see {logPath})");
        }
        return child.ExitCode == 0 ? (int)ExitCode.Failed : child.ExitCode;
    }

    /// <summary>Where a daemon logs when not told: /var/log/erafs for root, ~/.local/state/erafs otherwise.</summary>
    public static string DefaultLogPath(string mountPoint)
    {
        var name = Path.GetFullPath(mountPoint).Trim('/').Replace('/', '_');
        if (name.Length == 0) name = "root";
        var dir = Environment.UserName == "root" || Mono.Unix.Native.Syscall.geteuid() == 0
            ? "/var/log/erafs"
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "state", "erafs");
        return Path.Combine(dir, name + ".log");
    }
}

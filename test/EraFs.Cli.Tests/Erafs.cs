using System.Diagnostics;
using EraFs.TestSupport;

namespace EraFs.Cli.Tests;

/// <summary>Runs the real erafs executable (as scripts would) and cleans up what it mounted.</summary>
internal static class Erafs
{
    public static string Dll => Path.Combine(TestContext.CurrentContext.TestDirectory, "erafs.dll");

    public static HostTools.Result Run(params string[] args) =>
        HostTools.Run("dotnet", new[] { Dll }.Concat(args), TimeSpan.FromMinutes(2));

    /// <summary>Starts erafs without waiting (for --foreground runs).</summary>
    public static Process Start(params string[] args) => Start(new Dictionary<string, string>(), args);

    /// <summary>Starts erafs without waiting, with these variables added to its environment.</summary>
    public static Process Start(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(Dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (name, value) in environment) psi.Environment[name] = value;
        var p = Process.Start(psi)!;
        p.StandardInput.Close();
        return p;
    }

    public static bool WaitFor(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (condition()) return true;
            Thread.Sleep(20);
        }
        return condition();
    }

    public static int DaemonPid(string mountPoint)
    {
        var line = File.ReadLines(Path.Combine(mountPoint, "info")).First(l => l.StartsWith("pid: ", StringComparison.Ordinal));
        return int.Parse(line[5..]);
    }

    public static bool ProcessAlive(int pid) =>
        Directory.Exists($"/proc/{pid}") && !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ", StringComparison.Ordinal);

    /// <summary>Best-effort cleanup for a test that failed halfway: lazy unmount, kill the daemon.</summary>
    public static void ForceCleanup(string mountPoint)
    {
        if (!Fuse.MountPointCheck.IsMountPoint(Path.GetFullPath(mountPoint))) return;
        int? pid = null;
        try
        {
            pid = DaemonPid(mountPoint);
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException)
        {
        }
        Fuse.MountPointCheck.Unmount(Path.GetFullPath(mountPoint), lazy: true);
        if (pid is { } p && ProcessAlive(p)) Process.GetProcessById(p).Kill();
    }
}

using System.CommandLine;
using System.Globalization;
using EraFs.Fuse;

namespace EraFs.Cli;

/// <summary>erafs unmount: unmounts and waits until the daemon has closed the history and exited.</summary>
internal static class UnmountVerb
{
    public static Command Command()
    {
        var timeout = new Option<int>("--timeout") { Description = "Seconds to wait for the daemon to exit", DefaultValueFactory = _ => 60 };
        var mountPoint = new Argument<string>("MOUNTPOINT");
        var cmd = new Command("unmount", "Unmount and wait until the daemon has closed the history cleanly") { timeout, mountPoint };
        cmd.Aliases.Add("umount");
        cmd.SetAction(p => Run(p.GetValue(mountPoint)!, TimeSpan.FromSeconds(p.GetValue(timeout)), p.InvocationConfiguration.Output));
        return cmd;
    }

    public static int Run(string mountPoint, TimeSpan timeout, TextWriter stdout)
    {
        var mp = Path.GetFullPath(mountPoint).TrimEnd('/');
        var type = MountPointCheck.MountType(mp);
        if (type is null) throw new CliException($"{mp}: not mounted");
        if (type != "fuse.erafs") throw new CliException($"{mp}: not an EraFs mount (it is {type})");

        var pid = DaemonPid(mp);
        var rc = MountPointCheck.Unmount(mp, lazy: false);
        if (rc == FuseErrors.EBUSY)
            throw new CliException($"{mp}: busy: a loop device or open file still holds it (detach with 'losetup -d' first)", ExitCode.Busy);
        // A dead mount (its daemon was killed) has no info file to read; only the mount is left to remove.
        if (rc < 0 && pid is null) rc = MountPointCheck.Unmount(mp, lazy: true);
        if (rc < 0) throw new CliException($"{mp}: unmount failed: {FuseErrors.Describe(rc)}");
        if (pid is null)
        {
            stdout.WriteLine($"erafs: removed the stale mount on {mp} (its daemon had already exited)");
            return (int)ExitCode.Ok;
        }
        if (!WaitForExit(pid.Value, timeout))
            throw new CliException($"{mp}: unmounted, but daemon pid {pid} did not exit within {timeout.TotalSeconds:0} s");
        return (int)ExitCode.Ok;
    }

    private static int? DaemonPid(string mp)
    {
        try
        {
            foreach (var line in File.ReadLines(Path.Combine(mp, "info")))
            {
                if (line.StartsWith("pid: ", StringComparison.Ordinal) &&
                    int.TryParse(line.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
                    return pid;
            }
        }
        catch (IOException)
        {
        }
        return null;
    }

    private static bool WaitForExit(int pid, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (!Directory.Exists($"/proc/{pid}") || IsZombie(pid)) return true;
            Thread.Sleep(20);
        }
        return false;
    }

    private static bool IsZombie(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var close = stat.LastIndexOf(')');
            return close > 0 && close + 2 < stat.Length && stat[close + 2] == 'Z';
        }
        catch (IOException)
        {
            return true;
        }
    }
}

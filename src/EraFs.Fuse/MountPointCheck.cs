using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using EraFs.Fuse.Native;
using Mono.Unix.Native;

namespace EraFs.Fuse;

/// <summary>Checks a mount can be made before asking libfuse (whose own errors go to stderr only), and unmounts.</summary>
public static unsafe class MountPointCheck
{
    /// <summary>Path of the FUSE character device.</summary>
    public static string FuseDevice { get; set; } = "/dev/fuse";

    /// <summary>
    /// Throws <see cref="FuseMountException"/> naming the path and the problem. A directory with
    /// entries is refused unless <paramref name="allowNonEmpty"/>: mounting would hide them, and a
    /// mount point mistyped onto a directory in use is the usual cause.
    /// </summary>
    public static void Validate(string mountPoint, bool allowNonEmpty = false)
    {
        if (!File.Exists(FuseDevice) && !Directory.Exists(FuseDevice) && !IsCharDevice(FuseDevice))
            throw new FuseMountException($"{FuseDevice}: missing; load the fuse module (modprobe fuse) or run where FUSE is available");
        if (Syscall.stat(mountPoint, out var st) != 0)
        {
            if (Stdlib.GetLastError() == Errno.ENOTCONN) throw DeadMount(mountPoint);
            throw new FuseMountException($"{mountPoint}: mount point does not exist");
        }
        if ((st.st_mode & FilePermissions.S_IFMT) != FilePermissions.S_IFDIR)
            throw new FuseMountException($"{mountPoint}: mount point is not a directory");
        if (IsMountPoint(mountPoint))
        {
            // stat may be answered from the kernel's attribute cache; statfs always asks the daemon.
            if (Syscall.statvfs(mountPoint, out _) != 0 && Stdlib.GetLastError() == Errno.ENOTCONN) throw DeadMount(mountPoint);
            throw new FuseMountException($"{mountPoint}: mount point is busy (something is already mounted there)");
        }
        if (!allowNonEmpty && Directory.EnumerateFileSystemEntries(mountPoint).Any())
            throw new FuseMountException($"{mountPoint}: mount point is not empty; mounting would hide what it holds (give --nonempty to mount over it anyway)");
    }

    private static FuseMountException DeadMount(string mountPoint) =>
        new($"{mountPoint}: mount point is a dead FUSE mount (its daemon is gone); remove it with 'erafs unmount {mountPoint}'");

    private static bool IsCharDevice(string path) =>
        Syscall.stat(path, out var st) == 0 && (st.st_mode & FilePermissions.S_IFMT) == FilePermissions.S_IFCHR;

    /// <summary>True if <paramref name="path"/> (absolute, normalised) is a mount point in this namespace.</summary>
    public static bool IsMountPoint(string path) => MountType(path) is not null;

    /// <summary>The file system type mounted on <paramref name="path"/> (e.g. "fuse.erafs"), or null if none.</summary>
    public static string? MountType(string path)
    {
        string? type = null;
        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            // Field 5 is the mount point (octal-escaped); the type follows the " - " separator.
            var fields = line.Split(' ');
            if (fields.Length <= 4 || Unescape(fields[4]) != path) continue;
            var sep = Array.IndexOf(fields, "-", 5);
            // The last matching line is the mount on top.
            type = sep > 0 && sep + 1 < fields.Length ? fields[sep + 1] : "unknown";
        }
        return type;
    }

    private static string Unescape(string s)
    {
        if (!s.Contains('\\')) return s;
        var sb = new StringBuilder();
        for (var i = 0; i < s.Length; i++)
        {
            if (s[i] == '\\' && i + 3 < s.Length)
            {
                sb.Append((char)Convert.ToInt32(s.Substring(i + 1, 3), 8));
                i += 3;
            }
            else sb.Append(s[i]);
        }
        return sb.ToString();
    }

    /// <summary>Unmounts; 0 or a negative errno. Root calls umount2 directly, others go through fusermount3.</summary>
    public static int Unmount(string mountPoint, bool lazy)
    {
        if (Syscall.geteuid() == 0)
        {
            var bytes = Encoding.UTF8.GetBytes(mountPoint + "\0");
            fixed (byte* p = bytes)
            {
                if (Libc.umount2(p, lazy ? Libc.MNT_DETACH : 0) == 0) return 0;
                return -Marshal.GetLastPInvokeError();
            }
        }
        var psi = new ProcessStartInfo("fusermount3") { RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(lazy ? "-uz" : "-u");
        psi.ArgumentList.Add(mountPoint);
        using var p2 = Process.Start(psi)!;
        var err = p2.StandardError.ReadToEnd();
        p2.WaitForExit();
        if (p2.ExitCode == 0) return 0;
        return err.Contains("busy", StringComparison.OrdinalIgnoreCase) ? FuseErrors.EBUSY : FuseErrors.EINVAL;
    }
}

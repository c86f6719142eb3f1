using System.Globalization;
using Mono.Unix.Native;

namespace EraFs.Storage;

/// <summary>
/// One EraFs process's exclusive claim on a file (metadata, origin, mirror leg, disk region log): a
/// flock(2) on a descriptor of its own, so the kernel drops it when the process dies, kill -9 included,
/// and a restart after a crash needs no cleanup.
/// </summary>
/// <remarks>
/// flock rather than an OFD lock because /proc/locks shows a flock's owner pid (an OFD lock shows -1),
/// which is how a refused caller names the holder. Beside the lock, the holder leaves a small record
/// under <see cref="OwnerDirectory"/> saying what it is (a mount point, a tool); the record is only
/// believed while its pid matches the lock's owner, so a stale one is harmless.
/// </remarks>
public sealed class FileClaim : IDisposable
{
    /// <summary>Where holders describe themselves; records are advisory, the lock is the truth.</summary>
    public static string OwnerDirectory { get; set; } = "/run/erafs/claims";

    private readonly int _fd;
    private readonly string? _recordPath;
    private bool _disposed;

    private FileClaim(string path, int fd, string? recordPath)
    {
        Path = path;
        _fd = fd;
        _recordPath = recordPath;
    }

    public string Path { get; }

    /// <summary>
    /// Takes the claim without waiting; throws <see cref="FileBusyException"/> naming the holder when
    /// another process has it, or IOException "PATH: cannot open ROLE: reason". With
    /// <paramref name="createIfMissing"/> a missing file is created empty (the caller formats it).
    /// </summary>
    public static FileClaim Take(string path, string role, string holder, bool createIfMissing = false)
    {
        var flags = OpenFlags.O_RDONLY | OpenFlags.O_CLOEXEC | (createIfMissing ? OpenFlags.O_CREAT : 0);
        var fd = PositionalFile.OpenDescriptor(path, flags, out var openError);
        if (fd < 0)
            throw new IOException($"{path}: cannot open {role}: {Describe(openError)}");
        var errno = PositionalFile.LockExclusiveNoWait(fd);
        if (errno != 0)
        {
            var identity = FileIdentity.Of(fd);
            Syscall.close(fd);
            if (errno == Errno.EWOULDBLOCK) throw Busy(path, role, identity);
            throw new IOException($"{path}: cannot lock {role}: {Describe(errno)}");
        }
        return new FileClaim(path, fd, WriteRecord(FileIdentity.Of(fd), holder));
    }

    /// <summary>Who holds a claim on the file, without taking or disturbing it; null when nobody does.</summary>
    public static ClaimHolder? FindHolder(string path)
    {
        if (Syscall.stat(path, out var st) != 0) return null;
        return FindHolder(new FileIdentity(st.st_dev, st.st_ino));
    }

    /// <summary>Changes the claimed file's description, for a holder that learns more after claiming.</summary>
    public void Describe(string holder)
    {
        if (_recordPath is null) return;
        TryWrite(_recordPath, holder);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_recordPath is not null)
        {
            try
            {
                File.Delete(_recordPath);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The record is advisory: a leftover one is ignored once the lock is gone.
            }
        }
        Syscall.close(_fd);
    }

    private static FileBusyException Busy(string path, string role, FileIdentity? identity)
    {
        var holder = identity is { } id ? FindHolder(id) : null;
        return new FileBusyException(path, role, holder);
    }

    private static ClaimHolder? FindHolder(FileIdentity id)
    {
        var key = id.LocksKey;
        int? pid = null;
        try
        {
            foreach (var line in File.ReadLines("/proc/locks"))
            {
                // "1: FLOCK  ADVISORY  WRITE 1234 08:02:131 0 EOF"; waiters start with "->".
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length < 6 || fields[1] != "FLOCK" || fields[3] != "WRITE" || fields[5] != key) continue;
                if (int.TryParse(fields[4], NumberStyles.Integer, CultureInfo.InvariantCulture, out var p)) pid = p;
                break;
            }
        }
        catch (IOException)
        {
            return null;
        }
        if (pid is null) return null;
        string? description = null;
        try
        {
            var record = System.IO.Path.Combine(OwnerDirectory, key.Replace(':', '-'));
            var lines = File.ReadAllLines(record);
            if (lines.Length >= 2 && lines[0] == pid.Value.ToString(CultureInfo.InvariantCulture)) description = lines[1];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        return new ClaimHolder(pid.Value, description);
    }

    private static string? WriteRecord(FileIdentity? id, string holder)
    {
        if (id is null) return null;
        var path = System.IO.Path.Combine(OwnerDirectory, id.Value.LocksKey.Replace(':', '-'));
        return TryWrite(path, holder) ? path : null;
    }

    private static bool TryWrite(string path, string holder)
    {
        try
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
            File.WriteAllText(path, $"{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}\n{holder.ReplaceLineEndings(" ")}\n");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static string Describe(Errno e) => PositionalFile.Describe(e);
}

/// <summary>The process holding a claim, and what it said it is (a mount point, a tool), when known.</summary>
public sealed record ClaimHolder(int Pid, string? Description)
{
    public override string ToString() => Description is null
        ? string.Create(CultureInfo.InvariantCulture, $"pid {Pid}")
        : string.Create(CultureInfo.InvariantCulture, $"pid {Pid}, {Description}");
}

/// <summary>Another EraFs process holds the file; the message names the file, its role and the holder.</summary>
public sealed class FileBusyException(string path, string role, ClaimHolder? holder)
    : IOException($"{path}: {role} is in use by another EraFs process ({holder?.ToString() ?? "holder unknown"})")
{
    public string FilePath { get; } = path;

    public ClaimHolder? Holder { get; } = holder;
}

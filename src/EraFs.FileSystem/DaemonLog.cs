using System.Text;
using EraFs.Fuse;
using Mono.Unix.Native;

namespace EraFs.FileSystem;

/// <summary>
/// Timestamped log lines to the daemon's log file or to a writer (stderr in the foreground);
/// thread-safe, and never throws: a line that cannot be written is counted in <see cref="LinesLost"/>.
/// </summary>
/// <remarks>
/// Logging happens inside FUSE callbacks, where an exception would abort the daemon while a loop
/// device depends on it, so a full or failing log disk costs lines, never service. The file is
/// opened O_APPEND and each line goes out in one write(2), so the lines of two processes logging to
/// one file (a refused second mount beside the live daemon) interleave whole and none is overwritten.
/// </remarks>
public sealed class DaemonLog : IFuseLog, IDisposable
{
    private readonly Lock _lock = new();
    private readonly List<string> _errors = [];
    private readonly TextWriter? _writer;
    private readonly int _fd = -1;
    private readonly bool _verbose;
    private bool _syslogPriorities;
    private long _lost;

    /// <summary>Logs to a writer (stderr, or a test's buffer).</summary>
    public DaemonLog(TextWriter writer, bool verbose = true)
    {
        _writer = writer;
        _verbose = verbose;
    }

    /// <summary>
    /// Logs to stderr. When stderr is the journal ($JOURNAL_STREAM names its device and inode, as
    /// systemd sets it for a unit's output), each line starts with its syslog priority (&lt;3&gt; error,
    /// &lt;4&gt; warning, &lt;6&gt; info) and carries no timestamp of its own, the journal keeping one.
    /// </summary>
    public static DaemonLog ToStderr(TextWriter stderr, bool verbose = true) =>
        new(stderr, verbose) { _syslogPriorities = StderrIsTheJournal() };

    private static bool StderrIsTheJournal()
    {
        var stream = Environment.GetEnvironmentVariable("JOURNAL_STREAM");
        if (stream?.Split(':') is not [var dev, var ino]
            || !ulong.TryParse(dev, System.Globalization.CultureInfo.InvariantCulture, out var device)
            || !ulong.TryParse(ino, System.Globalization.CultureInfo.InvariantCulture, out var inode))
            return false;
        return Syscall.fstat(2, out var st) == 0 && st.st_dev == device && st.st_ino == inode;
    }

    private DaemonLog(int fd, bool verbose)
    {
        _fd = fd;
        _verbose = verbose;
    }

    /// <summary>Opens (creating it and its directory if needed) a log file for appending; IOException names the path.</summary>
    public static DaemonLog OpenFile(string path, bool verbose = true)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null) Directory.CreateDirectory(directory);
        var fd = Syscall.open(path, OpenFlags.O_WRONLY | OpenFlags.O_APPEND | OpenFlags.O_CREAT | OpenFlags.O_CLOEXEC,
            FilePermissions.S_IRUSR | FilePermissions.S_IWUSR | FilePermissions.S_IRGRP | FilePermissions.S_IROTH);
        if (fd < 0) throw new IOException($"{path}: cannot open the log file: {Mono.Unix.UnixMarshal.GetErrorDescription(Stdlib.GetLastError())}");
        return new DaemonLog(fd, verbose);
    }

    /// <summary>The last few error lines, for the info file.</summary>
    public IReadOnlyList<string> RecentErrors
    {
        get
        {
            lock (_lock) return [.. _errors];
        }
    }

    /// <summary>Lines that could not be written (full or failing log disk, closed stderr).</summary>
    public long LinesLost => Interlocked.Read(ref _lost);

    /// <summary>
    /// Where warnings go besides the log while someone is waiting for the mount: the command that
    /// started it shows them, since a user who never reads the log must still learn that the origin
    /// changed while unmounted or that the last shutdown was not clean.
    /// </summary>
    public Action<string>? WarningSink { get; set; }

    public void Info(string message) => Write("info", message, null);

    public void Warning(string message)
    {
        Write("warning", message, null);
        try
        {
            WarningSink?.Invoke(message);
        }
        catch (Exception)
        {
            Interlocked.Increment(ref _lost);
        }
    }

    /// <summary>
    /// A line from a part that knows no log levels (the era tracker logs plain strings): a leading
    /// "warning: " makes it a warning, anything else is information.
    /// </summary>
    public void Note(string message)
    {
        const string warning = "warning: ";
        if (message.StartsWith(warning, StringComparison.Ordinal)) Warning(message[warning.Length..]);
        else Info(message);
    }

    public void Error(string message, Exception? exception = null)
    {
        lock (_lock)
        {
            _errors.Add(message);
            if (_errors.Count > 8) _errors.RemoveAt(0);
        }
        Write("error", message, exception);
    }

    private void Write(string level, string message, Exception? exception)
    {
        try
        {
            var text = _syslogPriorities ? $"{level}: {message}\n" : $"{DateTime.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ} {level}: {message}\n";
            if (exception is not null && _verbose) text += exception + "\n";
            if (_syslogPriorities)
            {
                // The journal takes each line as one entry: every line of a stack trace needs the prefix too.
                var priority = level switch { "error" => "<3>", "warning" => "<4>", _ => "<6>" };
                text = priority + text.TrimEnd('\n').Replace("\n", "\n" + priority, StringComparison.Ordinal) + "\n";
            }
            if (_fd >= 0) WriteWhole(Encoding.UTF8.GetBytes(text));
            else
            {
                lock (_lock)
                {
                    _writer!.Write(text);
                    _writer.Flush();
                }
            }
        }
        catch (Exception)
        {
            Interlocked.Increment(ref _lost);
        }
    }

    private unsafe void WriteWhole(byte[] bytes)
    {
        fixed (byte* p = bytes)
        {
            long n;
            do n = Syscall.write(_fd, p, (ulong)bytes.Length);
            while (n < 0 && Stdlib.GetLastError() == Errno.EINTR);
            // A short append (the disk filled mid-line) still loses the line's end: count it.
            if (n != bytes.Length) Interlocked.Increment(ref _lost);
        }
    }

    public void Dispose()
    {
        if (_fd >= 0) Syscall.close(_fd);
        else _writer!.Dispose();
    }
}

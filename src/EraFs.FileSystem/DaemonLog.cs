using EraFs.Fuse;

namespace EraFs.FileSystem;

/// <summary>Timestamped log lines to a writer (the daemon's log file, or stderr in the foreground); thread-safe.</summary>
public sealed class DaemonLog(TextWriter writer, bool verbose = true) : IFuseLog, IDisposable
{
    private readonly Lock _lock = new();
    private readonly List<string> _errors = [];

    /// <summary>The last few error lines, for the info file.</summary>
    public IReadOnlyList<string> RecentErrors
    {
        get
        {
            lock (_lock) return [.. _errors];
        }
    }

    public void Info(string message) => Write("info", message, null);

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
        var line = $"{DateTime.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ} {level}: {message}";
        lock (_lock)
        {
            writer.WriteLine(line);
            if (exception is not null && verbose) writer.WriteLine(exception.ToString());
            writer.Flush();
        }
    }

    public void Dispose() => writer.Dispose();
}

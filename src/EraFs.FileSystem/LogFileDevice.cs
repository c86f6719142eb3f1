using EraFs.Core;
using Microsoft.Win32.SafeHandles;
using Mono.Unix;
using Mono.Unix.Native;

namespace EraFs.FileSystem;

/// <summary>The disk region log's file as a Core block device: positional I/O, flush is fdatasync.</summary>
public sealed class LogFileDevice : IBlockDevice
{
    private readonly SafeFileHandle _handle;

    private LogFileDevice(string path, SafeFileHandle handle)
    {
        Name = path;
        _handle = handle;
    }

    /// <summary>Opens or creates the log file; errors name the path.</summary>
    public static LogFileDevice Open(string path)
    {
        try
        {
            return new LogFileDevice(path, File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"{path}: cannot open the region log: {e.Message}", e);
        }
    }

    public string Name { get; }

    public long Length => RandomAccess.GetLength(_handle);

    public int Read(long offset, Span<byte> buffer) => RandomAccess.Read(_handle, buffer, offset);

    public void Write(long offset, ReadOnlySpan<byte> data) => RandomAccess.Write(_handle, data, offset);

    public void Flush()
    {
        if (Syscall.fdatasync((int)_handle.DangerousGetHandle()) != 0)
        {
            var errno = Stdlib.GetLastError();
            throw new IOException($"{Name}: fdatasync: {UnixMarshal.GetErrorDescription(errno)} ({errno})");
        }
    }

    public void SetLength(long length) => RandomAccess.SetLength(_handle, length);

    public void Dispose() => _handle.Dispose();
}

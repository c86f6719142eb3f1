using EraFs.Core;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Mono.Unix;
using Mono.Unix.Native;

namespace EraFs.Cli;

/// <summary>
/// One of the log server's per-client disk log files, held under an exclusive flock while open so a
/// second server (or a mount's own <c>--log disk:</c>) cannot write the same log at the same time.
/// </summary>
internal sealed partial class LockedLogFile : IBlockDevice
{
    private const int LOCK_EX = 2;
    private const int LOCK_NB = 4;

    private readonly SafeFileHandle _handle;

    private LockedLogFile(string path, SafeFileHandle handle)
    {
        Name = path;
        _handle = handle;
    }

    /// <summary>Opens or creates the file and locks it; IOException "PATH: reason" if either fails.</summary>
    public static LockedLogFile Open(string path)
    {
        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"{path}: cannot open the region log (another process may hold it): {e.Message}", e);
        }
        // .NET holds a shared flock on this descriptor; flock on the same descriptor converts it to exclusive.
        if (Flock((int)handle.DangerousGetHandle(), LOCK_EX | LOCK_NB) != 0)
        {
            var errno = NativeConvert.ToErrno(Marshal.GetLastPInvokeError());
            handle.Dispose();
            throw new IOException(errno == Errno.EWOULDBLOCK
                ? $"{path}: the region log is locked by another process"
                : $"{path}: flock: {UnixMarshal.GetErrorDescription(errno)}");
        }
        return new LockedLogFile(path, handle);
    }

    public string Name { get; }

    public long Length => RandomAccess.GetLength(_handle);

    public int Read(long offset, Span<byte> buffer) => RandomAccess.Read(_handle, buffer, offset);

    public void Write(long offset, ReadOnlySpan<byte> data) => RandomAccess.Write(_handle, data, offset);

    public void Flush()
    {
        if (Syscall.fdatasync((int)_handle.DangerousGetHandle()) != 0)
            throw new IOException($"{Name}: fdatasync: {UnixMarshal.GetErrorDescription(Stdlib.GetLastError())}");
    }

    public void SetLength(long length) => RandomAccess.SetLength(_handle, length);

    // Mono.Posix.NETStandard has no flock binding, so libc's is called directly.
    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    private static partial int Flock(int fd, int operation);

    // Closing the descriptor releases the flock.
    public void Dispose() => _handle.Dispose();
}

using EraFs.Core;
using Microsoft.Win32.SafeHandles;
using Mono.Unix;
using Mono.Unix.Native;

namespace EraFs.Storage;

/// <summary>
/// A file as a Core <see cref="IBlockDevice"/> (metadata, the disk region log): positional reads and
/// writes that never move a shared offset, and <see cref="Flush"/> as fdatasync.
/// </summary>
public sealed class FileBlockDevice : IBlockDevice
{
    private readonly SafeFileHandle _handle;
    private readonly FileClaim? _claim;

    private FileBlockDevice(string path, SafeFileHandle handle, FileClaim? claim)
    {
        Name = path;
        _handle = handle;
        _claim = claim;
    }

    /// <summary>
    /// Opens or creates the file holding an exclusive <see cref="FileClaim"/> on it for as long as it
    /// is open; throws <see cref="FileBusyException"/> when another process holds it.
    /// </summary>
    public static FileBlockDevice OpenClaimed(string path, string role, string holder)
    {
        var claim = FileClaim.Take(path, role, holder, createIfMissing: true);
        try
        {
            return Open(path, role, writable: true, create: true, claim);
        }
        catch
        {
            claim.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Opens (or with <paramref name="create"/>, creates) the file. Failures throw IOException
    /// "PATH: cannot open ROLE: reason".
    /// </summary>
    public static FileBlockDevice Open(string path, string role, bool writable, bool create = false) =>
        Open(path, role, writable, create, claim: null);

    private static FileBlockDevice Open(string path, string role, bool writable, bool create, FileClaim? claim)
    {
        try
        {
            var handle = File.OpenHandle(path,
                create ? FileMode.OpenOrCreate : FileMode.Open,
                writable ? FileAccess.ReadWrite : FileAccess.Read,
                FileShare.ReadWrite);
            return new FileBlockDevice(path, handle, claim);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"{path}: cannot open {role}: {e.Message}", e);
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

    public void Dispose()
    {
        _handle.Dispose();
        _claim?.Dispose();
    }
}

using EraFs.Core;
using Microsoft.Win32.SafeHandles;
using Mono.Unix;
using Mono.Unix.Native;

namespace EraFs.Metadata;

/// <summary>A metadata file accessed with positional reads and writes; <see cref="Flush"/> is fdatasync.</summary>
public sealed class FileBlockDevice : IBlockDevice
{
    private readonly SafeFileHandle _handle;

    private FileBlockDevice(string path, SafeFileHandle handle)
    {
        Name = path;
        _handle = handle;
    }

    /// <summary>Opens (or with create, creates) the file; errors name the path.</summary>
    public static FileBlockDevice Open(string path, bool writable, bool create = false)
    {
        try
        {
            var handle = File.OpenHandle(path,
                create ? FileMode.OpenOrCreate : FileMode.Open,
                writable ? FileAccess.ReadWrite : FileAccess.Read,
                FileShare.ReadWrite);
            return new FileBlockDevice(path, handle);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new MetadataException($"{path}: cannot open metadata: {e.Message}", e);
        }
    }

    public string Name { get; }

    public long Length => RandomAccess.GetLength(_handle);

    public int Read(long offset, Span<byte> buffer) => RandomAccess.Read(_handle, buffer, offset);

    public void Write(long offset, ReadOnlySpan<byte> data) => RandomAccess.Write(_handle, data, offset);

    public void Flush()
    {
        var fd = (int)_handle.DangerousGetHandle();
        if (Syscall.fdatasync(fd) != 0)
        {
            var errno = Stdlib.GetLastError();
            throw new IOException($"fdatasync: {UnixMarshal.GetErrorDescription(errno)} ({errno})");
        }
    }

    public void SetLength(long length) => RandomAccess.SetLength(_handle, length);

    public void Dispose() => _handle.Dispose();
}

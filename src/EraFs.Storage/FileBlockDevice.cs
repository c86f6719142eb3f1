using EraFs.Core;

namespace EraFs.Storage;

/// <summary>
/// A <see cref="PositionalFile"/> as a Core <see cref="IBlockDevice"/> (metadata, the disk region log):
/// the one place where a negative errno becomes an IOException naming the file, and where
/// <see cref="Flush"/> means fdatasync.
/// </summary>
public sealed class FileBlockDevice : IBlockDevice
{
    private readonly PositionalFile _file;
    private readonly FileClaim? _claim;
    private readonly bool _writable;

    private FileBlockDevice(PositionalFile file, FileClaim? claim, bool writable)
    {
        _file = file;
        _claim = claim;
        _writable = writable;
    }

    /// <summary>
    /// Opens (or with <paramref name="create"/>, creates) the file. Failures throw IOException
    /// "PATH: cannot open ROLE: reason".
    /// </summary>
    public static FileBlockDevice Open(string path, string role, bool writable, bool create = false) =>
        new(PositionalFile.Open(path, role, writable, create), claim: null, writable);

    /// <summary>
    /// Opens or creates the file holding an exclusive <see cref="FileClaim"/> on it for as long as it
    /// is open; throws <see cref="FileBusyException"/> when another process holds it.
    /// </summary>
    public static FileBlockDevice OpenClaimed(string path, string role, string holder)
    {
        var claim = FileClaim.Take(path, role, holder, createIfMissing: true);
        try
        {
            return new FileBlockDevice(PositionalFile.Open(path, role, writable: true, create: true), claim, writable: true);
        }
        catch
        {
            claim.Dispose();
            throw;
        }
    }

    public string Name => _file.Path;

    public long Length => Checked(_file.Length, "size");

    public int Read(long offset, Span<byte> buffer) => (int)Checked(_file.Read(buffer, offset), $"read of {buffer.Length} bytes at {offset}");

    public void Write(long offset, ReadOnlySpan<byte> data)
    {
        RequireWritable();
        Checked(_file.Write(data, offset), $"write of {data.Length} bytes at {offset}");
    }

    public void Flush() => Checked(_file.Sync(dataOnly: true), "fdatasync");

    public void SetLength(long length)
    {
        RequireWritable();
        Checked(_file.SetLength(length), $"truncate to {length} bytes");
    }

    private void RequireWritable()
    {
        if (!_writable) throw new UnauthorizedAccessException($"{Name}: opened read-only");
    }

    public void Dispose()
    {
        _file.Dispose();
        _claim?.Dispose();
    }

    private long Checked(long result, string what) =>
        result >= 0 ? result : throw new IOException($"{Name}: {what}: {PositionalFile.Describe((int)result)}");
}

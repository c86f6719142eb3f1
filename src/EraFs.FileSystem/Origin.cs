using EraFs.Storage;
using Mono.Unix.Native;

namespace EraFs.FileSystem;

/// <summary>
/// The image (regular file or block device) behind <c>device</c>, or a mirror leg: a
/// <see cref="PositionalFile"/> opened read-write, with the size it had at open.
/// </summary>
public sealed class Origin : IDisposable, IDeviceIo
{
    private readonly PositionalFile _file;

    // A second open file of the origin, only for dropping cache: waiting on writeback through a
    // descriptor consumes that descriptor's report of a writeback error, so doing it on _file could
    // let the next fsync through the device answer success for data the disk lost. Each open file
    // keeps its own error cursor, so _file still reports every error at its next fdatasync.
    private readonly PositionalFile _cacheControl;
    private readonly LargeWriteChunks _largeWrites;
    private readonly Action<long, long> _dropCache;

    private Origin(PositionalFile file, PositionalFile cacheControl, long size)
    {
        _file = file;
        _cacheControl = cacheControl;
        Size = size;
        _largeWrites = new LargeWriteChunks(size);
        _dropCache = DropCache;
    }

    public string Path => _file.Path;

    public long Size { get; }

    public bool IsBlockDevice => _file.IsBlockDevice;

    /// <summary>Opens an origin read-write; errors name the path and the reason.</summary>
    public static Origin Open(string path)
    {
        if (Syscall.stat(path, out _) != 0)
            throw new IOException($"{path}: origin cannot be opened: {PositionalFile.Describe(-NativeConvert.FromErrno(Stdlib.GetLastError()))}");
        var file = PositionalFile.Open(path, "origin", writable: true);
        PositionalFile? cacheControl = null;
        try
        {
            var size = file.Length;
            if (size <= 0)
                throw new IOException(size == 0
                    ? $"{path}: origin is empty (0 bytes)"
                    : $"{path}: size of origin cannot be read: {PositionalFile.Describe((int)size)}");
            cacheControl = PositionalFile.Open(path, "origin", writable: false);
            if (!file.SameFileAs(cacheControl))
                throw new IOException($"{path}: origin was replaced while it was being opened");
            return new Origin(file, cacheControl, size);
        }
        catch
        {
            cacheControl?.Dispose();
            file.Dispose();
            throw;
        }
    }

    /// <summary>Modification time of the origin (moves when something writes it behind our back).</summary>
    public DateTime ModifiedUtc => _file.ModifiedUtc;

    /// <summary>
    /// The later of the origin's mtime and ctime: ctime also moves when a writer sets the mtime back
    /// afterwards (touch -d, cp -p), so it is what a crashed mount's write horizon is compared with.
    /// </summary>
    public DateTime ChangedUtc => _file.ChangedUtc;

    public int Read(Span<byte> buffer, long offset) => _file.Read(buffer, offset);

    public int Write(ReadOnlySpan<byte> data, long offset)
    {
        _largeWrites.Written(offset, data.Length, _dropCache);
        return _file.Write(data, offset);
    }

    // Best effort: where writeback or the advice fails, the chunk keeps its cache and is only
    // slower, and a writeback error is still reported by _file's next fdatasync.
    private void DropCache(long offset, long length) => _cacheControl.DropCache(offset, length);

    public int Sync(bool dataOnly) => _file.Sync(dataOnly);

    public int FlushDescriptor() => _file.FlushDescriptor();

    public int Zero(long offset, long length, bool punch) => _file.Zero(offset, length, punch);

    public void Dispose()
    {
        _cacheControl.Dispose();
        _file.Dispose();
    }
}

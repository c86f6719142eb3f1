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
    private readonly LargeWriteChunks _largeWrites;
    private readonly Action<long, long> _dropCache;

    private Origin(PositionalFile file, long size)
    {
        _file = file;
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
        var size = file.Length;
        if (size <= 0)
        {
            file.Dispose();
            throw new IOException(size == 0
                ? $"{path}: origin is empty (0 bytes)"
                : $"{path}: size of origin cannot be read: {PositionalFile.Describe((int)size)}");
        }
        return new Origin(file, size);
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

    // Best effort: where writeback or the advice fails, the chunk keeps its cache and is only slower.
    private void DropCache(long offset, long length) => _file.DropCache(offset, length);

    public int Sync(bool dataOnly) => _file.Sync(dataOnly);

    public int FlushDescriptor() => _file.FlushDescriptor();

    public int Zero(long offset, long length, bool punch) => _file.Zero(offset, length, punch);

    public void Dispose() => _file.Dispose();
}

namespace EraFs.FileSystem;

/// <summary>
/// What the device file reads and writes through: the origin alone, or a mirror that also writes
/// every leg. Errors are negative errnos, as FUSE answers them.
/// </summary>
public interface IDeviceIo
{
    long Size { get; }

    DateTime ModifiedUtc { get; }

    /// <summary>Reads up to buffer.Length bytes at offset; the count, or a negative errno.</summary>
    int Read(Span<byte> buffer, long offset);

    /// <summary>Writes all of data at offset; the count, or a negative errno.</summary>
    int Write(ReadOnlySpan<byte> data, long offset);

    /// <summary>Makes the range read as zeros; 0 or a negative errno.</summary>
    int Zero(long offset, long length, bool punch);

    /// <summary>fsync or fdatasync; 0 or a negative errno.</summary>
    int Sync(bool dataOnly);

    /// <summary>What close(2) of one descriptor would do; 0 or a negative errno.</summary>
    int FlushDescriptor();
}

namespace EraFs.Core;

/// <summary>Positional byte storage under the metadata (a file, or an in-memory fault injector in tests).</summary>
public interface IBlockDevice : IDisposable
{
    /// <summary>What error messages call this device (the file name for a file).</summary>
    string Name { get; }

    /// <summary>Current size in bytes.</summary>
    long Length { get; }

    /// <summary>Reads up to buffer.Length bytes at offset; returns how many were read (fewer only at the end).</summary>
    int Read(long offset, Span<byte> buffer);

    /// <summary>Writes all of data at offset, growing the device when needed.</summary>
    void Write(long offset, ReadOnlySpan<byte> data);

    /// <summary>Makes every completed write durable (fdatasync).</summary>
    void Flush();

    /// <summary>Grows or truncates the device.</summary>
    void SetLength(long length);
}

namespace EraFs.FileSystem;

/// <summary>Bytes a reader of a view file sees, fixed for as long as it holds the file open.</summary>
public interface IViewContent
{
    long Length { get; }

    /// <summary>Copies bytes from <paramref name="offset"/>; returns the count (0 at the end).</summary>
    int Read(Span<byte> destination, long offset);
}

/// <summary>View content held in memory.</summary>
public sealed class ByteViewContent(byte[] bytes) : IViewContent
{
    public long Length => bytes.Length;

    public int Read(Span<byte> destination, long offset)
    {
        if (offset >= bytes.Length) return 0;
        var n = (int)Math.Min(destination.Length, bytes.Length - offset);
        bytes.AsSpan((int)offset, n).CopyTo(destination);
        return n;
    }
}

/// <summary>
/// A read-only file inside the mount whose bytes come from elsewhere (for example the held metadata
/// snapshot); it is absent while its source has nothing to show.
/// </summary>
public sealed class ViewFile(string name, Func<IViewContent?> current)
{
    public string Name { get; } = name;

    /// <summary>The content a new reader sees now, or null while the file is absent.</summary>
    public Func<IViewContent?> Current { get; } = current;
}

namespace EraFs.Tools.DmEra;

/// <summary>A structure of dm-era metadata is damaged; names the block and what is wrong.</summary>
public sealed class DmFormatException(ulong block, string problem) : Exception($"block {block}: {problem}")
{
    public ulong Block { get; } = block;
    public string Problem { get; } = problem;
}

/// <summary>Verified block reads from dm-era metadata.</summary>
public interface IDmBlockReader
{
    /// <summary>Blocks the metadata holds; no sound structure can need more.</summary>
    ulong TotalBlocks { get; }

    /// <summary>Null and the block when it is a sound block of that kind at that location; else what is wrong.</summary>
    string? TryRead(ulong location, DmBlockKind kind, out byte[] block);
}

/// <summary>Reads dm-era metadata from a file (or device) opened read-only.</summary>
public sealed class DmFileReader : IDmBlockReader, IDisposable
{
    private readonly FileStream _file;

    public DmFileReader(string path)
    {
        _file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        TotalBlocks = (ulong)(LengthOf(path, _file) / DmBlock.Size);
    }

    public ulong TotalBlocks { get; }

    public string? TryRead(ulong location, DmBlockKind kind, out byte[] block)
    {
        block = new byte[DmBlock.Size];
        if (location >= TotalBlocks) return $"{DmBlock.Describe(kind)} pointer to block {location}, past the end ({TotalBlocks} blocks)";
        _file.Position = (long)location * DmBlock.Size;
        _file.ReadExactly(block);
        return DmBlock.Check(block, kind, location);
    }

    public void Dispose() => _file.Dispose();

    /// <summary>A block device reports length 0 to a stream; ask it to seek to its end instead.</summary>
    private static long LengthOf(string path, FileStream file)
    {
        if (file.Length > 0 || !path.StartsWith("/dev/", StringComparison.Ordinal)) return file.Length;
        var end = file.Seek(0, SeekOrigin.End);
        file.Position = 0;
        return end;
    }
}

/// <summary>Reads blocks of an image being built or served from memory.</summary>
public sealed class DmImageReader(DmMetadataImage image) : IDmBlockReader
{
    public ulong TotalBlocks => image.AllocatedBlocks;

    public string? TryRead(ulong location, DmBlockKind kind, out byte[] block)
    {
        if (location >= image.AllocatedBlocks)
        {
            block = new byte[DmBlock.Size];
            return $"{DmBlock.Describe(kind)} pointer to block {location}, past the end";
        }
        block = image.Block(location);
        return DmBlock.Check(block, kind, location);
    }
}

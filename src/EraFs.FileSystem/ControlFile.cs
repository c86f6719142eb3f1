namespace EraFs.FileSystem;

/// <summary>Handles one write to a control file; returns 0 or a negative errno, with a reason for the log.</summary>
public delegate int ControlWriteHandler(string message);

/// <summary>
/// A small text file inside the mount that reports state (read) or acts on it (write). Its content
/// is taken once per open, so a reader paging through it sees one consistent text.
/// </summary>
public sealed class ControlFile(string name, Func<string>? read, ControlWriteHandler? write)
{
    public string Name { get; } = name;

    /// <summary>Produces the text a new reader sees; null if the file is write-only.</summary>
    public Func<string>? Read { get; } = read;

    /// <summary>Acts on one write(2); null if the file is read-only.</summary>
    public ControlWriteHandler? Write { get; } = write;

    /// <summary>Owner-only permission bits: r for readable, w for writable.</summary>
    public uint Permissions => (Read is null ? 0u : 0x100u) | (Write is null ? 0u : 0x80u);
}

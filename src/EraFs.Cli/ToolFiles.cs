using EraFs.Storage;
using Mono.Unix;
using Mono.Unix.Native;

namespace EraFs.Cli;

/// <summary>Input checks and all-or-nothing output files shared by the metadata tool verbs.</summary>
internal static class ToolFiles
{
    /// <summary>Refuses a missing path or a directory with one line naming it.</summary>
    public static void RequireFile(string path, string what)
    {
        if (Directory.Exists(path)) throw new CliException($"{path}: is a directory, not {what}");
        if (!File.Exists(path) && !path.StartsWith("/dev/", StringComparison.Ordinal)) throw new CliException($"{path}: {what} does not exist");
    }

    /// <summary>Refuses files too small to hold one metadata block, and XML handed to a binary reader.</summary>
    public static void RequireBinary(string path, string what)
    {
        RequireFile(path, what);
        var head = new byte[4096];
        int read;
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            read = file.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"{path}: {ex.Message}");
        }
        var text = head.AsSpan(0, read).TrimStart(" \t\r\n"u8);
        // Binary metadata may start with '<' too (a checksum byte); XML never holds a NUL byte.
        if (text.Length > 0 && text[0] == (byte)'<' && !head.AsSpan(0, read).Contains((byte)0))
            throw new CliException($"{path}: this looks like XML; {what} is binary metadata (use 'erafs restore' for XML)");
        if (read < head.Length) throw new CliException($"{path}: {read} bytes is too small to be {what} (a block is 4096 bytes)", ExitCode.MetadataDamaged);
    }

    /// <summary>Refuses binary data handed to an XML reader before the parser gets to say something vaguer.</summary>
    public static void RequireText(string path, string what)
    {
        RequireFile(path, what);
        var head = new byte[512];
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        var read = file.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        if (read == 0) throw new CliException($"{path}:1:1: empty file, expected {what}");
        if (head.AsSpan(0, read).Contains((byte)0)) throw new CliException($"{path}:1:1: binary data, expected {what} (use 'erafs import' for dm-era binary metadata)");
    }

    /// <summary>
    /// Claims metadata a tool is about to replace, so that it never replaces a live mount's history
    /// (exit 4 naming the holder) and no mount starts on it meanwhile. Null when the file does not
    /// exist and <paramref name="create"/> is false: there is nothing to take from anybody.
    /// </summary>
    public static FileClaim? ClaimOutput(string path, string tool, bool create = false)
    {
        if (!create && !File.Exists(path)) return null;
        try
        {
            return FileClaim.Take(path, "metadata", tool, createIfMissing: create);
        }
        catch (FileBusyException ex)
        {
            throw new CliException($"{ex.Message}; refusing to replace it", ExitCode.Busy);
        }
        catch (IOException ex)
        {
            throw new CliException(ex.Message);
        }
    }

    /// <summary>Refuses to replace an existing metadata file unless the user said --force.</summary>
    public static void RequireReplaceable(string path, bool force)
    {
        if (!force && File.Exists(path) && new FileInfo(path).Length > 0)
            throw new CliException($"{path}: already exists and is not empty (use --force to replace its history)");
    }

    /// <summary>
    /// Builds the file at a temporary name beside path and renames it over path only once complete,
    /// so a failure leaves path as it was (or absent), never half-written.
    /// </summary>
    public static void WriteAtomically(string path, Action<string> write)
    {
        try
        {
            Replace(path, write);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"{path}: cannot write: {ex.Message}");
        }
    }

    /// <summary>
    /// The one temp-file-and-rename: <paramref name="write"/> fills a temporary file beside path, which
    /// is fsync'ed, renamed over path, and the directory fsync'ed, so after a crash path holds either
    /// the old file or the whole new one. Exceptions pass through; the temporary file never stays.
    /// </summary>
    public static void Replace(string path, Action<string> write)
    {
        if (Directory.Exists(path)) throw new CliException($"{path}: is a directory");
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (!Directory.Exists(dir)) throw new CliException($"{path}: directory {dir} does not exist");
        var temp = Path.Combine(dir, $".{Path.GetFileName(path)}.{Environment.ProcessId}.tmp");
        try
        {
            write(temp);
            using (var written = File.OpenHandle(temp, FileMode.Open, FileAccess.ReadWrite)) RandomAccess.FlushToDisk(written);
            File.Move(temp, path, overwrite: true);
            SyncDirectory(dir);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    private static void SyncDirectory(string dir)
    {
        var fd = Syscall.open(dir, OpenFlags.O_RDONLY | OpenFlags.O_DIRECTORY | OpenFlags.O_CLOEXEC);
        if (fd < 0) throw new IOException($"{dir}: cannot open the directory to sync the rename: {UnixMarshal.GetErrorDescription(Stdlib.GetLastError())}");
        try
        {
            if (Syscall.fsync(fd) != 0)
                throw new IOException($"{dir}: fsync of the directory failed: {UnixMarshal.GetErrorDescription(Stdlib.GetLastError())}");
        }
        finally
        {
            Syscall.close(fd);
        }
    }
}

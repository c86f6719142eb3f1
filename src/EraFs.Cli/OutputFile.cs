using System.Text;

namespace EraFs.Cli;

/// <summary>
/// Where a verb's report goes: stdout, or a file written beside its destination and renamed over it
/// only when complete. Either way a failure leaves nothing behind: stdout receives the report only
/// once it is whole, so a script never reads half a list from a verb that then fails.
/// </summary>
internal static class OutputFile
{
    /// <summary>Runs <paramref name="write"/> with a text writer and a lazily opened byte stream on the same output.</summary>
    public static void Write(string? path, TextWriter stdout, Action<TextWriter, Func<Stream>> write)
    {
        if (path is null)
        {
            WriteStdout(stdout, write);
            return;
        }
        try
        {
            ToolFiles.Replace(path, temp =>
            {
                using var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write);
                WriteTo(stream, write);
            });
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new CliException($"{path}: cannot write: {ex.Message}");
        }
    }

    private static void WriteStdout(TextWriter stdout, Action<TextWriter, Func<Stream>> write)
    {
        using var held = new SpillBuffer();
        WriteTo(held, write);
        held.Position = 0;
        stdout.Flush();
        if (ReferenceEquals(stdout, Console.Out))
        {
            using var raw = Console.OpenStandardOutput();
            held.CopyTo(raw);
            return;
        }
        // Tests capture stdout as a TextWriter: decode whole, so no character is split between chunks.
        using var reader = new StreamReader(held, new UTF8Encoding(false));
        var chunk = new char[16384];
        int n;
        while ((n = reader.Read(chunk, 0, chunk.Length)) > 0) stdout.Write(chunk, 0, n);
        stdout.Flush();
    }

    private static void WriteTo(Stream stream, Action<TextWriter, Func<Stream>> write)
    {
        using var text = new StreamWriter(stream, new UTF8Encoding(false), leaveOpen: true) { NewLine = "\n" };
        write(text, () =>
        {
            text.Flush();
            return stream;
        });
        text.Flush();
    }

    /// <summary>
    /// Output held back until the verb succeeds: in memory while small, then in a temporary file that
    /// disappears when closed, so memory stays bounded however long the report is.
    /// </summary>
    private sealed class SpillBuffer : Stream
    {
        private const int MemoryLimit = 4 << 20;
        private Stream _inner = new MemoryStream();
        private bool _spilled;

        public override bool CanRead => true;
        public override bool CanSeek => true;
        public override bool CanWrite => true;
        public override long Length => _inner.Length;
        public override long Position { get => _inner.Position; set => _inner.Position = value; }
        public override void Flush() => _inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);
        public override long Seek(long offset, SeekOrigin origin) => _inner.Seek(offset, origin);
        public override void SetLength(long value) => _inner.SetLength(value);
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (!_spilled && _inner.Length + buffer.Length > MemoryLimit) Spill();
            _inner.Write(buffer);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) _inner.Dispose();
            base.Dispose(disposing);
        }

        private void Spill()
        {
            var file = new FileStream(Path.Combine(Path.GetTempPath(), $"erafs-{Environment.ProcessId}-{Guid.NewGuid():N}.out"),
                FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 65536, FileOptions.DeleteOnClose);
            _inner.Position = 0;
            _inner.CopyTo(file);
            _inner.Dispose();
            _inner = file;
            _spilled = true;
        }
    }
}

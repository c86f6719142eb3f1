using System.Text;

namespace EraFs.Cli;

/// <summary>
/// Where a verb's report goes: stdout, or a file written beside its destination and renamed over it
/// only when complete, so a failure never leaves a half-written file.
/// </summary>
internal static class OutputFile
{
    /// <summary>Runs <paramref name="write"/> with a text writer and a lazily opened byte stream on the same output.</summary>
    public static void Write(string? path, TextWriter stdout, Action<TextWriter, Func<Stream>> write)
    {
        if (path is null)
        {
            stdout.Flush();
            using var raw = Console.OpenStandardOutput();
            var text = stdout;
            write(text, () =>
            {
                text.Flush();
                return ReferenceEquals(stdout, Console.Out) ? raw : new TextWriterStream(stdout);
            });
            text.Flush();
            return;
        }
        if (Directory.Exists(path)) throw new CliException($"{path}: is a directory");
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (!Directory.Exists(dir)) throw new CliException($"{path}: directory {dir} does not exist");
        var temp = Path.Combine(dir, $".{Path.GetFileName(path)}.{Environment.ProcessId}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
            using (var text = new StreamWriter(stream, new UTF8Encoding(false)) { NewLine = "\n" })
            {
                write(text, () =>
                {
                    text.Flush();
                    return stream;
                });
                text.Flush();
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: true);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new CliException($"{path}: cannot write: {ex.Message}");
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <summary>Bytes written to a TextWriter as UTF-8 (for tests that capture stdout).</summary>
    private sealed class TextWriterStream(TextWriter writer) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => writer.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => writer.Write(Encoding.UTF8.GetString(buffer, offset, count));
    }
}

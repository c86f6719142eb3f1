using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using EraFs.Core;
using EraFs.Storage;

namespace EraFs.Tools;

/// <summary>How <c>erafs copy</c> prints its summary.</summary>
public enum CopySummaryFormat
{
    /// <summary>One line for people.</summary>
    Text,

    /// <summary>{"ranges":R,"blocks":B,"bytes":N,"seconds":S}</summary>
    Json,
}

/// <summary>What one copy moved: runs, the blocks they hold, the origin bytes they cover, and how long it took.</summary>
public sealed record RangeCopySummary(ulong Ranges, ulong Blocks, long Bytes, TimeSpan Elapsed)
{
    /// <summary>The summary as one line of text or one JSON object, newline-terminated.</summary>
    public string Format(CopySummaryFormat format)
    {
        var seconds = Math.Round(Elapsed.TotalSeconds, 3);
        if (format == CopySummaryFormat.Json)
            return JsonSerializer.Serialize(new Dictionary<string, object> { ["ranges"] = Ranges, ["blocks"] = Blocks, ["bytes"] = Bytes, ["seconds"] = seconds }) + "\n";
        return string.Create(CultureInfo.InvariantCulture,
            $"copied {Ranges} range{(Ranges == 1 ? "" : "s")}, {Blocks} block{(Blocks == 1 ? "" : "s")}, {Bytes} bytes in {seconds:0.000} seconds\n");
    }
}

/// <summary>A copy that stopped partway; the message says below which byte offset the target holds the source's ranges.</summary>
public sealed class RangeCopyException(string message, long copiedBelow, Exception? inner = null) : IOException(message, inner)
{
    /// <summary>Every range (or part of one) below this byte offset was copied.</summary>
    public long CopiedBelow { get; } = copiedBelow;
}

/// <summary>
/// Copies block runs from a source (a mount's device, the origin, a snapshot of it) to the same
/// offsets of a target file or block device, with O_DIRECT where each side allows it, and
/// fdatasyncs the target at the end. Copying the same runs again gives the same target, so rerunning
/// an interrupted copy finishes it.
/// </summary>
public sealed unsafe class RangeCopy : IDisposable
{
    /// <summary>Bytes per read and write: large enough that a FUSE source streams, small enough to stay cheap.</summary>
    public const int ChunkBytes = 1 << 20;

    // O_DIRECT wants the buffer, offset and length aligned to the logical block size; 4 KiB covers
    // every device we meet, and tracking blocks are multiples of it.
    private const int Alignment = 4096;

    private readonly DirectOrBuffered _source;
    private readonly DirectOrBuffered _target;
    private readonly bool _targetCreated;
    private byte* _buffer;

    private RangeCopy(DirectOrBuffered source, DirectOrBuffered target, bool targetCreated)
    {
        _source = source;
        _target = target;
        _targetCreated = targetCreated;
        _buffer = (byte*)NativeMemory.AlignedAlloc(ChunkBytes, Alignment);
    }

    /// <summary>Size of the source in bytes.</summary>
    public long SourceLength { get; private init; }

    /// <summary>
    /// Opens the source read-only and the target read-write. A missing target is created sparse, the
    /// size of the source; a regular target smaller than the source is extended (sparse). Throws an
    /// IOException naming the file that cannot be used.
    /// </summary>
    public static RangeCopy Open(string sourcePath, string targetPath)
    {
        var source = DirectOrBuffered.Open(sourcePath, "the copy's source", writable: false);
        DirectOrBuffered? target = null;
        try
        {
            var sourceLength = source.Length;
            if (sourceLength < 0) throw new IOException($"{sourcePath}: cannot read the source's size: {PositionalFile.Describe((int)sourceLength)}");
            var created = !File.Exists(targetPath);
            target = DirectOrBuffered.Open(targetPath, "the copy's target", writable: true, create: created);
            var targetLength = target.Length;
            if (targetLength < sourceLength)
            {
                if (target.IsBlockDevice)
                    throw new IOException($"{targetPath}: the target device is {targetLength} bytes, smaller than the source {sourcePath} ({sourceLength} bytes)");
                var rc = target.SetLength(sourceLength);
                if (rc < 0) throw new IOException($"{targetPath}: cannot extend the target to {sourceLength} bytes: {PositionalFile.Describe(rc)}");
            }
            return new RangeCopy(source, target, created) { SourceLength = sourceLength };
        }
        catch
        {
            target?.Dispose();
            source.Dispose();
            throw;
        }
    }

    /// <summary>Origin bytes the runs cover (a partial last block only its real bytes): what a copy of them moves.</summary>
    public static long TotalBytes(IEnumerable<BlockRun> runs, EraGeometry geometry) =>
        runs.Aggregate(0L, (sum, run) => sum + InvalidationReport.BytesIn(run, geometry));

    /// <summary>
    /// Copies every run (blocks of <paramref name="geometry"/>) in the order given, which must be
    /// ascending for a failure's "copied below" to mean what it says; <paramref name="copied"/> hears
    /// the bytes done so far after each chunk. A failure throws a <see cref="RangeCopyException"/>.
    /// </summary>
    public RangeCopySummary Copy(IEnumerable<BlockRun> runs, EraGeometry geometry, Action<long>? copied = null)
    {
        if (SourceLength < geometry.OriginSize)
            throw new IOException($"{_source.Path}: the source is {SourceLength} bytes, but the history tracks an origin of {geometry.OriginSize} bytes; is it the right source?");
        var clock = Stopwatch.StartNew();
        ulong ranges = 0, blocks = 0;
        long bytes = 0, position = 0;
        try
        {
            foreach (var run in runs)
            {
                var start = (long)run.Start * geometry.BlockSize;
                var end = Math.Min((long)run.End * geometry.BlockSize, geometry.OriginSize);
                for (position = start; position < end;)
                {
                    var length = (int)Math.Min(ChunkBytes, end - position);
                    // An unaligned tail (an origin that ends mid-block) goes alone, so the rest stays direct.
                    if (length > Alignment && length % Alignment != 0) length -= length % Alignment;
                    CopyChunk(position, length);
                    position += length;
                    bytes += length;
                    copied?.Invoke(bytes);
                }
                ranges++;
                blocks += run.Count;
            }
            var rc = _target.Sync();
            if (rc < 0) throw new IOException($"{_target.Path}: fdatasync failed: {PositionalFile.Describe(rc)}");
        }
        catch (Exception ex) when (ex is IOException or MetadataException)
        {
            throw new RangeCopyException(
                $"{ex.Message}; copied {ranges.ToString(CultureInfo.InvariantCulture)} whole range{(ranges == 1 ? "" : "s")}, every range below byte offset " +
                $"{position.ToString(CultureInfo.InvariantCulture)}{(position > 0 ? " (not yet synced)" : "")}" +
                // Damaged metadata fails the same way again: a rerun helps only an I/O failure.
                (ex is IOException ? "; rerun the same command to finish (it copies the same ranges again)" : ""),
                position, ex);
        }
        return new RangeCopySummary(ranges, blocks, bytes, clock.Elapsed);
    }

    private void CopyChunk(long offset, int length)
    {
        var chunk = new Span<byte>(_buffer, length);
        var read = _source.Read(chunk, offset);
        if (read < 0) throw new IOException($"{_source.Path}: cannot read {length} bytes at byte {offset}: {PositionalFile.Describe(read)}");
        if (read < length) throw new IOException($"{_source.Path}: the source ended at byte {offset + read}, inside a range to copy (did it shrink?)");
        // A freshly created target reads as zeros already: leaving zero chunks unwritten keeps it sparse.
        if (_targetCreated && !chunk.ContainsAnyExcept((byte)0)) return;
        var written = _target.Write(chunk, offset);
        if (written < 0) throw new IOException($"{_target.Path}: cannot write {length} bytes at byte {offset}: {PositionalFile.Describe(written)}");
    }

    public void Dispose()
    {
        _source.Dispose();
        _target.Dispose();
        if (_buffer is not null) NativeMemory.AlignedFree(_buffer);
        _buffer = null;
    }

    /// <summary>
    /// One file opened with O_DIRECT where its file system allows it (tmpfs does not), plus a buffered
    /// descriptor, opened on first need, for what O_DIRECT refuses: an unaligned tail, or EINVAL.
    /// </summary>
    private sealed class DirectOrBuffered : IDisposable
    {
        private const int EINVAL = 22;

        private readonly string _role;
        private readonly bool _writable;
        private readonly PositionalFile? _direct;
        private PositionalFile? _buffered;
        private bool _directRefused;

        private DirectOrBuffered(string path, string role, bool writable, PositionalFile? direct, PositionalFile? buffered)
        {
            Path = path;
            _role = role;
            _writable = writable;
            _direct = direct;
            _buffered = buffered;
        }

        public string Path { get; }

        public bool IsBlockDevice => Any.IsBlockDevice;

        public long Length => Any.Length;

        private PositionalFile Any => _direct ?? _buffered!;

        private PositionalFile Buffered => _buffered ??= PositionalFile.Open(Path, _role, _writable);

        public static DirectOrBuffered Open(string path, string role, bool writable, bool create = false)
        {
            try
            {
                return new DirectOrBuffered(path, role, writable, PositionalFile.Open(path, role, writable, create, direct: true), null);
            }
            catch (IOException)
            {
                // O_DIRECT refused (EINVAL on older tmpfs, for one): the buffered open says what else is wrong, if anything.
                return new DirectOrBuffered(path, role, writable, null, PositionalFile.Open(path, role, writable, create));
            }
        }

        public int Read(Span<byte> buffer, long offset)
        {
            if (UseDirect(offset, buffer.Length))
            {
                var rc = _direct!.Read(buffer, offset);
                if (rc != -EINVAL) return rc;
                _directRefused = true;
            }
            return Buffered.Read(buffer, offset);
        }

        public int Write(ReadOnlySpan<byte> data, long offset)
        {
            if (UseDirect(offset, data.Length))
            {
                var rc = _direct!.Write(data, offset);
                if (rc != -EINVAL) return rc;
                _directRefused = true;
            }
            return Buffered.Write(data, offset);
        }

        public int SetLength(long length) => Any.SetLength(length);

        /// <summary>fdatasync works on the file, not the descriptor: one call covers direct and buffered writes alike.</summary>
        public int Sync() => Any.Sync(dataOnly: true);

        public void Dispose()
        {
            _direct?.Dispose();
            _buffered?.Dispose();
        }

        private bool UseDirect(long offset, int length) =>
            _direct is not null && !_directRefused && offset % Alignment == 0 && length % Alignment == 0;
    }
}

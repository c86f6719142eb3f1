using EraFs.Core;
using EraFs.FileSystem;
using EraFs.Metadata;
using EraFs.Tools;
using EraFs.Tools.DmEra;

namespace EraFs.Daemon;

/// <summary>
/// MOUNT/metadata: while a metadata snapshot is held, dm-era metadata whose block 0 is the live state
/// as of the first read after the snapshot was taken (its current writeset in the superblock, as a
/// running dm-era keeps it) and whose metadata_snap is the snapshot, so era_invalidate
/// --metadata-snapshot and era_dump work as on a live dm-era device. Absent otherwise. (0.9.0's
/// era_invalidate reads block 0 even with --metadata-snapshot; with the current writeset kept out of
/// the tree, block 0 answers as the snapshot does until the next checkpoint, as on dm-era.)
/// The image is built once per held snapshot (era arrays are 4 bytes a block) and cached by its root.
/// </summary>
internal sealed class MetadataSnapshotView(string metadataPath, DaemonLog log) : IDisposable
{
    public const string FileName = "metadata";

    private readonly Lock _lock = new();
    private MetadataReader? _reader;
    private (ulong Root, Guid Generation, ImageContent Content)? _cached;

    public ViewFile File => new(FileName, Current);

    private IViewContent? Current()
    {
        lock (_lock)
        {
            try
            {
                _reader ??= MetadataReader.Open(metadataPath);
                _reader.Refresh();
                if (_reader.HeldSnapshot is not { } root)
                {
                    _cached = null;
                    return null;
                }
                if (_cached is { } c && c.Root == root && c.Generation == _reader.Generation) return c.Content;
                var content = new ImageContent(DmEraWriter.Write(NativeHistory.Load(_reader), currentInSuperblock: true));
                _cached = (root, _reader.Generation, content);
                log.Info($"{FileName}: built dm-era metadata for the snapshot at block {root} ({content.Length} bytes)");
                return content;
            }
            catch (Exception ex) when (ex is MetadataException or IOException or ArgumentException)
            {
                log.Error($"{FileName}: cannot build the dm-era view of {metadataPath}: {ex.Message}");
                return null;
            }
        }
    }

    public void Dispose()
    {
        lock (_lock) _reader?.Dispose();
    }

    private sealed class ImageContent(DmMetadataImage image) : IViewContent
    {
        public long Length => image.Length;

        public int Read(Span<byte> destination, long offset) => image.Read(destination, offset);
    }
}

using EraFs.Core;
using EraFs.FileSystem;
using EraFs.Metadata;
using EraFs.Tools;
using EraFs.Tools.DmEra;
using Microsoft.Win32.SafeHandles;

namespace EraFs.Daemon;

/// <summary>
/// MOUNT/metadata: while a metadata snapshot is held, dm-era metadata whose block 0 is the live state
/// as of the first read after the snapshot was taken (its current writeset in the superblock, as a
/// running dm-era keeps it) and whose metadata_snap is the snapshot, so era_invalidate
/// --metadata-snapshot and era_dump work as on a live dm-era device. Absent otherwise. (0.9.0's
/// era_invalidate reads block 0 even with --metadata-snapshot; with the current writeset kept out of
/// the tree, block 0 answers as the snapshot does until the next checkpoint, as on dm-era.)
/// </summary>
/// <remarks>
/// The image is written once per held snapshot, streamed from the native pages, to a sparse file
/// beside the metadata (<c>.NAME.dm-era-view</c>), and reads are served from that file, so the
/// daemon's memory does not grow with the origin. The file is replaced when the snapshot's root or
/// the metadata's generation changes and removed when the snapshot is dropped or the mount ends;
/// a reader still holding the old image keeps reading it through its open handle.
/// </remarks>
internal sealed class MetadataSnapshotView(string metadataPath, DaemonLog log) : IDisposable
{
    public const string FileName = "metadata";

    private readonly Lock _lock = new();
    private readonly string _imagePath = ImagePathFor(metadataPath);
    private MetadataReader? _reader;
    private (ulong Root, Guid Generation, ImageFileContent Content)? _cached;

    public ViewFile File => new(FileName, Current);

    /// <summary>Where the image of a metadata file's held snapshot is kept: a hidden file beside it.</summary>
    public static string ImagePathFor(string metadataPath)
    {
        var full = Path.GetFullPath(metadataPath);
        return Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.dm-era-view");
    }

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
                    Forget();
                    return null;
                }
                if (_cached is { } c && c.Root == root && c.Generation == _reader.Generation) return c.Content;
                Forget();
                // Writing churns through a short-lived buffer for every metadata page. Collecting before
                // gives it the heap the digest left behind instead of new memory; collecting after hands
                // the heap back rather than leaving the daemon's resident set at its high-water mark.
                GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
                // The GC's budgets grow after work with high survival (the digest), and the image's
                // garbage would ride them: bring the heap back to what is live every 8 MiB written.
                var writes = 0;
                var size = DmEraWriter.WriteFile(NativeHistory.Stream(_reader), _imagePath, currentInSuperblock: true,
                    () =>
                    {
                        if (++writes % 32 == 0) GC.Collect();
                    });
                GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
                var content = new ImageFileContent(System.IO.File.OpenHandle(_imagePath, FileMode.Open, FileAccess.Read), size.Length);
                _cached = (root, _reader.Generation, content);
                log.Info($"{FileName}: wrote dm-era metadata for the snapshot at block {root} to {_imagePath} ({size.AllocatedBlocks} of {size.TotalBlocks} blocks used)");
                return content;
            }
            catch (Exception ex) when (ex is MetadataException or IOException or ArgumentException or UnauthorizedAccessException)
            {
                log.Error($"{FileName}: cannot write the dm-era view of {metadataPath} to {_imagePath}: {ex.Message}");
                Forget();
                return null;
            }
        }
    }

    /// <summary>Removes the image file; readers that hold it open keep their handle (closed once released and collected).</summary>
    private void Forget()
    {
        _cached = null;
        try
        {
            System.IO.File.Delete(_imagePath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            log.Error($"{FileName}: cannot remove {_imagePath}: {ex.Message}");
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            Forget();
            _reader?.Dispose();
        }
    }

    /// <summary>The image served by pread from its file, which stays readable after it is unlinked.</summary>
    private sealed class ImageFileContent(SafeFileHandle file, long length) : IViewContent
    {
        public long Length => length;

        public int Read(Span<byte> destination, long offset)
        {
            if (offset >= length) return 0;
            var wanted = (int)Math.Min(destination.Length, length - offset);
            var done = 0;
            while (done < wanted)
            {
                var n = RandomAccess.Read(file, destination[done..wanted], offset + done);
                if (n == 0)
                {
                    // Past the written blocks the file is a hole, or was cut short: zeros, as the image reads there.
                    destination[done..wanted].Clear();
                    break;
                }
                done += n;
            }
            return wanted;
        }
    }
}

using System.Runtime.InteropServices;
using EraFs.TestSupport;
using Mono.Unix.Native;

namespace EraFs.FileSystem.Tests;

/// <summary>
/// An origin on a real file system: the first small write into a chunk filled by a large write
/// drops that chunk's page cache (so the next small writes build small folios), and loses nothing.
/// </summary>
public sealed partial class OriginCacheTests
{
    private const int MiB = LargeWriteChunks.ChunkSize;
    private static readonly int PageSize = Environment.SystemPageSize;
    private TestDirectory _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new TestDirectory("origin-cache");

    [TearDown]
    public void TearDown() => _dir.Dispose();

    [Test]
    public void A_small_write_after_a_large_one_drops_the_chunk_cache_and_every_byte_is_kept()
    {
        var path = _dir.File("origin.img");
        // Sparse, so that only the writes below fill the cache: a folio the kernel built before the
        // mount may be larger than a chunk, and only what lies wholly inside a chunk can be dropped.
        using (var f = File.Create(path)) f.SetLength(4 * MiB);
        // tmpfs pages are the file itself: there is no cache to drop.
        if (new DriveInfo(_dir.Path).DriveFormat == "tmpfs") Assert.Ignore($"{_dir.Path} is on tmpfs, whose pages cannot be dropped");

        var large = new byte[MiB];
        new Random(3).NextBytes(large);
        var small = new byte[PageSize];
        new Random(4).NextBytes(small);
        using (var origin = Origin.Open(path))
        {
            Assert.That(origin.Write(large, MiB), Is.EqualTo(MiB));
            Assert.That(origin.Write(large, 2L * MiB), Is.EqualTo(MiB));
            Assert.That(ResidentPages(path, 2L * MiB, MiB), Is.EqualTo(MiB / PageSize), "a chunk only written large stays cached");

            Assert.That(origin.Write(small, MiB + 8192), Is.EqualTo(small.Length));
            // Exactly one: the drop came before the small write, whose page is cached (and dirty).
            Assert.That(ResidentPages(path, MiB, MiB), Is.EqualTo(small.Length / PageSize), "only the small write's page is cached in its chunk");
            Assert.That(ResidentPages(path, 2L * MiB, MiB), Is.EqualTo(MiB / PageSize), "the other chunk keeps its cache");
            Assert.That(origin.Sync(dataOnly: true), Is.Zero, "fdatasync through the origin's own descriptor");
        }

        var expected = (byte[])large.Clone();
        small.CopyTo(expected, 8192);
        var bytes = File.ReadAllBytes(path);
        Assert.That(bytes.AsSpan(MiB, MiB).SequenceEqual(expected), Is.True, "the chunk holds the large write with the small one on top");
        Assert.That(bytes.AsSpan(2 * MiB, MiB).SequenceEqual(large), Is.True);
    }

    private static unsafe int ResidentPages(string path, long offset, int length)
    {
        var fd = Syscall.open(path, OpenFlags.O_RDONLY);
        Assert.That(fd, Is.GreaterThanOrEqualTo(0), path);
        try
        {
            var map = Syscall.mmap(IntPtr.Zero, (ulong)length, MmapProts.PROT_READ, MmapFlags.MAP_SHARED, fd, offset);
            Assert.That(map, Is.Not.EqualTo(Syscall.MAP_FAILED), "mmap");
            try
            {
                var vec = new byte[length / PageSize];
                fixed (byte* v = vec)
                    Assert.That(mincore(map, (nuint)length, v), Is.Zero, "mincore");
                return vec.Count(b => (b & 1) != 0);
            }
            finally
            {
                Syscall.munmap(map, (ulong)length);
            }
        }
        finally
        {
            Syscall.close(fd);
        }
    }

    // Mono.Posix does not wrap mincore(2).
    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int mincore(IntPtr addr, nuint length, byte* vec);
}

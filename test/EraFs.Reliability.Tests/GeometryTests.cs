using System.Security.Cryptography;
using EraFs.Core;
using EraFs.Metadata;
using EraFs.TestSupport;

namespace EraFs.Reliability.Tests;

/// <summary>S13: wrong sizes and geometry are refused clearly and change nothing (O6); the era never wraps; a tail block is tracked.</summary>
[TestFixture]
[Category("Reliability")]
public class GeometryTests
{
    private static string Hash(FaultyDevice device) => Convert.ToHexString(SHA256.HashData(device.Snapshot()));

    private static void ExpectRefusedOpen(ScenarioReport report, string where, byte[] image, EraTrackerOptions options, string mustName)
    {
        var device = new FaultyDevice("meta.bin", image);
        var before = Hash(device);
        report.Try();
        try
        {
            using var store = MetadataStore.Open(device);
            using var tracker = EraTracker.Open(store, options);
            report.Fail("silent acceptances", where);
        }
        catch (MetadataException e)
        {
            if (!e.Message.Contains(mustName, StringComparison.Ordinal)) report.Fail("refusals not naming the value", $"{where}: {e.Message}");
            report.Count("refused by name");
        }
        if (Hash(device) != before) report.Fail("state changes after rejected input", where);
    }

    [Test]
    public void S13_wrong_sizes_and_geometry_are_refused_and_change_nothing()
    {
        var report = new ScenarioReport("S13 wrong sizes and geometry");
        const long size = 16L * TrackedStack.BlockSize;
        var fresh = TrackedStack.FreshMetadata(16);
        EraTrackerOptions Options(long originSize, uint? blockSize = null) =>
            new() { OriginSize = originSize, OriginMtimeUtc = TrackedStack.OriginMtime, RequestedBlockSize = blockSize };

        ExpectRefusedOpen(report, "another block size", fresh, Options(size, 8192), "8192");
        ExpectRefusedOpen(report, "origin shrunk while offline", fresh, Options(size - TrackedStack.BlockSize), (size - TrackedStack.BlockSize).ToString());
        ExpectRefusedOpen(report, "2^31 blocks", fresh, Options((1L << 31) * TrackedStack.BlockSize), "2147483647");
        foreach (var blockSize in new uint[] { 0, 512, 2048, 6144, 4097 })
        {
            report.Try();
            try
            {
                EraGeometry.For(size, blockSize);
                report.Fail("silent acceptances", $"block size {blockSize}");
            }
            catch (ArgumentOutOfRangeException e) when (e.Message.Contains(blockSize.ToString(), StringComparison.Ordinal))
            {
                report.Count("refused by name");
            }
        }

        // Grown while offline: the new blocks count as written in the new era.
        var grown = new FaultyDevice("meta.bin", fresh);
        using (var stack = TrackedStack.Open(grown, new VolatileOrigin(size + 3 * TrackedStack.BlockSize)))
        {
            stack.Close();
            using var reader = new MetadataReader(new FaultyDevice("meta.bin", grown.Snapshot()));
            var listed = CrashOracle.Blocks(reader.WrittenSince(stack.OpenEra));
            report.Try();
            report.Observe(new ulong[] { 16, 17, 18 }.Count(b => !listed.Contains(b)), listed.Count(b => b < 16), 19, "grown origin");
        }

        // A tail block shorter than the block size is tracked like any other.
        var tailSize = size + 100;
        var tail = new FaultyDevice("meta.bin", TrackedStack.FreshMetadata(17, originSize: tailSize));
        using (var stack = TrackedStack.Open(tail, new VolatileOrigin(tailSize)))
        {
            Assert.That(stack.Write(tailSize - 1, [7]), Is.EqualTo(1));
            stack.Close();
            report.Try();
            using var reader = new MetadataReader(new FaultyDevice("meta.bin", tail.Snapshot()));
            report.Observe(CrashOracle.Blocks(reader.WrittenSince(stack.OpenEra)).Contains(16) ? 0 : 1, 0, 17, "tail block");
        }
        EraNeverWraps(report);
        report.Finish();
    }

    private static void EraNeverWraps(ScenarioReport report)
    {
        var geometry = EraGeometry.For(16L * TrackedStack.BlockSize, TrackedStack.BlockSize);
        // Imported at 4294967294 (the open's rollover takes it there): one checkpoint fits, the next is EOVERFLOW.
        using var store = new MemoryEraStore(geometry, initialEra: uint.MaxValue - 2);
        using var tracker = EraTracker.Open(store, new EraTrackerOptions { OriginSize = geometry.OriginSize, OriginMtimeUtc = MemoryEraStore.DefaultOriginMtime });
        Assert.That(store.CurrentEra, Is.EqualTo(uint.MaxValue - 1));
        Assert.That(tracker.Checkpoint(), Is.EqualTo(uint.MaxValue));
        report.Try(2);
        var e = Assert.Throws<ControlRejectedException>(() => tracker.Checkpoint());
        Assert.That(e!.Error, Is.EqualTo(ControlError.EraExhausted));
        if (store.CurrentEra != uint.MaxValue) report.Fail("era wrapped", $"era {store.CurrentEra} after the refused checkpoint");
        Assert.Throws<ControlRejectedException>(() => tracker.TakeMetadataSnap());
        if (store.CurrentEra != uint.MaxValue) report.Fail("era wrapped", "after a refused snapshot");
        report.Count("EOVERFLOW refusals", 2);
    }

    [Test]
    public void S13_bad_metadata_files_are_refused_by_the_cli_and_left_untouched()
    {
        var report = new ScenarioReport("S13 bad metadata files");
        using var dir = new TestDirectory("s13");
        var tiny = dir.File("tiny.bin");
        File.WriteAllBytes(tiny, new byte[100]);
        var xml = dir.File("dump.xml");
        File.WriteAllText(xml, "<superblock uuid=\"\" block_size=\"128\" nr_blocks=\"16\" current_era=\"1\">\n</superblock>\n");
        var zeros = dir.File("zeros.bin");
        File.WriteAllBytes(zeros, new byte[64 * 1024]);
        var missing = dir.File("missing.bin");
        var directory = dir.Subdirectory("a-directory");
        foreach (var (what, path) in new[] { ("smaller than a block", tiny), ("XML given as metadata", xml), ("all zeros", zeros), ("missing", missing), ("a directory", directory) })
        {
            ErafsCli.ExpectRefusal(report, $"invalidate: {what}", ["invalidate", "--written-since", "1", path], path);
            ErafsCli.ExpectRefusal(report, $"check: {what}", ["check", path], path);
        }

        var image = dir.SparseFile("origin.img", 1 << 20);
        foreach (var bs in new[] { "2KiB", "6KiB", "0", "-4096", "1.5KiB" })
            ErafsCli.ExpectRefusal(report, $"create --block-size {bs}", ["create", "--origin", image, "--metadata", dir.File($"bs-{report.Tried}.bin"), "--block-size", bs], image);
        var meta = dir.File("meta.bin");
        ErafsCli.Run("create", "--origin", image, "--metadata", meta).Ok();
        ErafsCli.ExpectRefusal(report, "create over existing metadata", ["create", "--origin", image, "--metadata", meta], meta, image);

        if (HostTools.Which("setpriv") is not null && Mono.Unix.Native.Syscall.geteuid() == 0)
        {
            // Root bypasses permission bits, so read the file as nobody.
            Mono.Unix.Native.Syscall.chmod(meta, Mono.Unix.Native.FilePermissions.S_IRUSR | Mono.Unix.Native.FilePermissions.S_IWUSR);
            var before = ErafsCli.Sha256(meta);
            var r = HostTools.Run("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "dotnet", ErafsCli.Dll, "invalidate", "--written-since", "1", meta]);
            report.Try();
            if (r.ExitCode == 0) report.Fail("silent acceptances", "unreadable file");
            else if (!r.Stderr.Contains(meta, StringComparison.Ordinal)) report.Fail("refusals not naming the file", r.Stderr);
            else report.Count("refused by name");
            if (ErafsCli.Sha256(meta) != before) report.Fail("state changes after rejected input", "unreadable file");
        }
        report.Finish();
    }
}

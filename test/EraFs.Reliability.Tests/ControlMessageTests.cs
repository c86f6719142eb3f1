using System.Security.Cryptography;
using System.Text;
using EraFs.Core;
using EraFs.FileSystem;
using EraFs.Fuse;
using EraFs.TestSupport;

namespace EraFs.Reliability.Tests;

/// <summary>S12: malformed control messages are refused with an errno, change nothing (O6), and the mount stays up.</summary>
[TestFixture]
[Category("Reliability")]
public class ControlMessageTests
{
    private static string State(TrackedStack stack)
    {
        // The digest works in the background; compare only once it rests.
        var until = DateTime.UtcNow.AddSeconds(30);
        while (stack.Tracker.Status.PendingDigest && DateTime.UtcNow < until) Thread.Sleep(5);
        return Convert.ToHexString(SHA256.HashData(stack.Meta is FaultyDevice d ? d.Snapshot() : [])) + " " + stack.Tracker.StatusLine;
    }

    private static IEnumerable<(string Name, string File, byte[][] Writes)> Malformed(Random random)
    {
        static byte[] B(string s) => Encoding.UTF8.GetBytes(s);
        var noise = new byte[4096];
        random.NextBytes(noise);
        yield return ("empty", "message", [[]]);
        yield return ("newline", "message", [B("\n")]);
        yield return ("extra word", "message", [B("checkpoint extra\n")]);
        yield return ("dm-era's old misspelling", "message", [B("drop_metadata-snap\n")]);
        yield return ("4 KiB of random bytes", "message", [noise]);
        yield return ("NUL bytes", "message", [B("check\0point\n")]);
        yield return ("NUL after the word", "message", [B("checkpoint\0\n")]);
        yield return ("invalid UTF-8", "message", [[0xff, 0xfe, 0x63, 0x68]]);
        yield return ("one message split across two writes", "message", [B("check"), B("point\n")]);
        yield return ("unknown word", "message", [B("written_since -1\n")]);
        yield return ("two words", "message", [B("take_metadata_snap take_metadata_snap\n")]);
        yield return ("a drop with none held", "drop_metadata_snap", [B("1\n")]);
        yield return ("a message with none held", "message", [B("drop_metadata_snap\n")]);
        yield return ("status is read-only", "status", [B("1\n")]);
        yield return ("info is read-only", "info", [B("1\n")]);
    }

    [Test]
    public void S12_malformed_control_messages_change_nothing()
    {
        var report = new ScenarioReport("S12 malformed control messages");
        var meta = new FaultyDevice("meta.bin", TrackedStack.FreshMetadata(64));
        using var stack = TrackedStack.Open(meta, new VolatileOrigin(64L * TrackedStack.BlockSize));
        stack.Write(0, 4096, new Random(1));
        var random = new Random(12);
        Watchdog.Run(report.Name, Scale.Watchdog, () =>
        {
            for (var round = 0; round < Scale.Pick(3, 200); round++)
            {
                foreach (var (name, file, writes) in Malformed(random))
                {
                    var before = State(stack);
                    Assert.That(stack.Fs.Lookup(FuseFileSystem.RootInode, file, out var attributes), Is.Zero);
                    foreach (var bytes in writes)
                    {
                        var rc = stack.Fs.Write(attributes.Inode, 0, bytes, 0);
                        report.Try();
                        if (rc >= 0) report.Fail("accepted", $"{name}: {file} took {bytes.Length} bytes");
                    }
                    if (State(stack) != before) report.Fail("state changes", name);
                    if (stack.Tracker.State != TrackerState.Ok) report.Fail("tracker no longer ok", name);
                }
                ConcurrentGarbage(stack, report, random.Next());
                ReadsPastTheEnd(stack, report);
            }
        });
        var eraBefore = stack.Tracker.Status.CurrentEra;
        Assert.That(stack.Control("message", "CHECKPOINT\n"), Is.Zero, "messages are case-insensitive, as dm-era's strcasecmp");
        Assert.That(stack.Tracker.Status.CurrentEra, Is.EqualTo(eraBefore + 1), "the mount still takes valid messages");
        Assert.That(stack.Control("take_metadata_snap", "1\n"), Is.Zero);
        var held = State(stack);
        Assert.That(stack.Control("take_metadata_snap", "1\n"), Is.EqualTo(FuseErrors.EBUSY), "a second snapshot is EBUSY");
        Assert.That(State(stack), Is.EqualTo(held), "a refused snapshot changes nothing");
        report.Try(2);
        report.Finish();
    }

    private static void ConcurrentGarbage(TrackedStack stack, ScenarioReport report, int seed)
    {
        var before = State(stack);
        Assert.That(stack.Fs.Lookup(FuseFileSystem.RootInode, "message", out var attributes), Is.Zero);
        var accepted = 0;
        Parallel.For(0, 8, w =>
        {
            var random = new Random(seed + w);
            for (var i = 0; i < 25; i++)
            {
                var bytes = new byte[random.Next(0, 64)];
                random.NextBytes(bytes);
                if (stack.Fs.Write(attributes.Inode, 0, bytes, 0) >= 0) Interlocked.Increment(ref accepted);
            }
        });
        report.Try(200);
        if (accepted > 0) report.Fail("accepted", $"{accepted} random messages from 8 writers at once");
        if (State(stack) != before) report.Fail("state changes", "8 writers of random messages");
    }

    private static void ReadsPastTheEnd(TrackedStack stack, ScenarioReport report)
    {
        foreach (var file in new[] { "status", "info", "checkpoint" })
        {
            Assert.That(stack.Fs.Lookup(FuseFileSystem.RootInode, file, out var attributes), Is.Zero);
            var reply = new FuseOpenReply();
            Assert.That(stack.Fs.Open(attributes.Inode, 0, ref reply), Is.Zero, file);
            var buffer = new byte[4096];
            var rc = stack.Fs.Read(attributes.Inode, reply.Handle, buffer, 1 << 20);
            stack.Fs.Release(attributes.Inode, reply.Handle);
            report.Try();
            if (rc != 0) report.Fail("reads past the end returning data or an error", $"{file}: {rc}");
        }
        var device = new byte[4096];
        report.Try();
        if (stack.Fs.Read(DeviceFileSystem.DeviceInode, 0, device, stack.Origin.Size + 4096) != 0)
            report.Fail("reads past the end returning data or an error", "device");
        if (stack.Fs.Write(DeviceFileSystem.DeviceInode, 0, device, stack.Origin.Size) >= 0)
            report.Fail("writes past the end accepted", "device");
    }

    [Test]
    public void S12_malformed_written_since_arguments_are_refused_by_the_cli()
    {
        var report = new ScenarioReport("S12 malformed invalidate arguments");
        using var dir = new TestDirectory("s12");
        var meta = dir.File("meta.bin");
        File.WriteAllBytes(meta, TrackedStack.FreshMetadata(64));
        foreach (var era in new[] { "-1", "4294967296", "1e3", " 7", "", "0x10", "7 ", "99" })
            ErafsCli.ExpectRefusal(report, $"--written-since '{era}'", ["invalidate", "--written-since", era, meta], meta);
        report.Finish();
    }
}

using EraFs.TestSupport;

namespace EraFs.RegionLog.Tests;

/// <summary>The userspace log's wire format and its behaviour when the daemon goes away.</summary>
public sealed class UserspaceRegionLogTests
{
    [Test]
    public void Request_header_is_dm_ulog_requests_160_bytes()
    {
        var bytes = new UlogRequest(0x1122334455667788, "uuid-1", 42, UlogRequestType.MarkRegion, -5, UlogRequest.U64s([3, 9])).Encode();
        Assert.That(bytes, Has.Length.EqualTo(160 + 16));
        Assert.That(bytes[..8], Is.EqualTo(new byte[] { 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11 }));
        Assert.That(System.Text.Encoding.ASCII.GetString(bytes, 8, 6), Is.EqualTo("uuid-1"));
        Assert.That(bytes[140..160], Is.EqualTo(new byte[] { 3, 0, 0, 0, 0xFB, 0xFF, 0xFF, 0xFF, 42, 0, 0, 0, 10, 0, 0, 0, 16, 0, 0, 0 }));
        var back = UlogRequest.ReadFrom(new MemoryStream(bytes))!;
        Assert.That((back.Luid, back.Uuid, back.Seq, back.Type, back.Error), Is.EqualTo((0x1122334455667788UL, "uuid-1", 42u, UlogRequestType.MarkRegion, -5)));
        Assert.That(back.ReadU64(1), Is.EqualTo(9UL));
    }

    [Test]
    public void Unknown_request_types_are_rejected()
    {
        var bytes = new UlogRequest(0, "u", 1, UlogRequestType.Flush, 0, []).Encode();
        bytes[152] = 99;
        Assert.That(() => UlogRequest.ReadFrom(new MemoryStream(bytes)), Throws.TypeOf<InvalidDataException>());
    }

    [Test]
    public void A_lost_daemon_is_a_communication_failure()
    {
        using var dir = new TestDirectory();
        var path = dir.File("log.sock");
        var server = new SocketLogServer(path, (_, len, rs, s) => new CoreDirtyRegionLog(len, rs, s));
        using var log = new UserspaceDirtyRegionLog(() => SocketLogServer.Connect(path), path, UserspaceDirtyRegionLog.UuidFor(path), 1 << 20, 64 * 1024, RegionLogSync.Assume);
        log.MarkRegion(1);
        log.Flush();
        Assert.That(log.IsClean(1), Is.False);
        server.Dispose();
        log.MarkRegion(2);
        Assert.That(log.Flush, Throws.TypeOf<RegionLogException>());
        Assert.That(log.CommunicationFailed, Is.True);
        Assert.That(log.Status(RegionLogStatusType.Info), Is.EqualTo("userspace 1 COM_FAILURE"));
        Assert.That(log.InSync(0), Is.False, "unknown answers 'not in sync'");
        Assert.That(log.SyncCount, Is.Zero);
    }

    [Test]
    public void A_daemon_that_cannot_be_reached_at_open_fails_the_open()
    {
        using var dir = new TestDirectory();
        var path = dir.File("none.sock");
        Assert.That(() => new UserspaceDirtyRegionLog(() => SocketLogServer.Connect(path), path, UserspaceDirtyRegionLog.UuidFor(path), 1 << 20, 64 * 1024, RegionLogSync.Default),
            Throws.TypeOf<RegionLogException>().With.Message.Contains("cannot connect"));
    }
}

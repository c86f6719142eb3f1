using EraFs.TestSupport;

namespace EraFs.RegionLog.Tests;

/// <summary>One log server, several clients: each UUID names its own log, and no client's CTR, DTR or lost connection reaches another's.</summary>
public sealed class RegionLogServerTests
{
    private const long RegionSize = 64 * 1024;
    private const long LengthA = 16 * RegionSize;
    private const long LengthB = 32 * RegionSize;
    private const string UuidA = "erafs-aaaa";
    private const string UuidB = "erafs-bbbb";
    private TestDirectory _dir = null!;
    private string _path = null!;
    private SocketLogServer _server = null!;
    private readonly Dictionary<string, FaultyDevice> _devices = [];
    private readonly List<string> _constructed = [];

    [SetUp]
    public void SetUp()
    {
        _dir = new TestDirectory();
        _path = _dir.File("log.sock");
        _devices.Clear();
        _constructed.Clear();
        // Disk logs on per-UUID devices, so a client that comes back finds what it left.
        _server = new SocketLogServer(_path, (uuid, len, rs, s) =>
        {
            lock (_devices)
            {
                _constructed.Add(uuid);
                _devices[uuid] = _devices.TryGetValue(uuid, out var d) ? d.Recover() : new FaultyDevice(uuid + ".log");
                return new DiskDirtyRegionLog(_devices[uuid], len, rs, s);
            }
        });
    }

    [TearDown]
    public void TearDown()
    {
        _server.Dispose();
        _dir.Dispose();
    }

    private UserspaceDirtyRegionLog Client(string uuid, long length, Func<Stream>? connect = null) =>
        new(connect ?? (() => SocketLogServer.Connect(_path)), _path, uuid, length, RegionSize, RegionLogSync.Assume);

    private bool WaitForOpenLogs(params string[] uuids)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            if (_server.Server.OpenLogs.SequenceEqual(uuids)) return true;
            Thread.Sleep(10);
        }
        return false;
    }

    [Test]
    public void Two_clients_interleaved_each_see_only_their_own_log()
    {
        using var a = Client(UuidA, LengthA);
        using var b = Client(UuidB, LengthB);
        Assert.That(_server.Server.OpenLogs, Is.EqualTo(new[] { UuidA, UuidB }));
        a.MarkRegion(1);
        b.MarkRegion(2);
        b.MarkRegion(20);
        a.Flush();
        b.Flush();
        a.MarkRegion(3);
        b.ClearRegion(2);
        b.Flush();
        a.Flush();
        Assert.That((a.IsClean(1), a.IsClean(2), a.IsClean(3)), Is.EqualTo((false, true, false)), "A's marks only");
        Assert.That((b.IsClean(1), b.IsClean(2), b.IsClean(3), b.IsClean(20)), Is.EqualTo((true, true, true, false)), "B's marks only");
        a.SetRegionSync(5, false);
        Assert.That(a.SyncCount, Is.EqualTo(15UL));
        Assert.That(b.SyncCount, Is.EqualTo(32UL), "B's log is B's size and untouched by A's resync state");
        Assert.That(b.InSync(5), Is.True);

        a.Dispose();
        Assert.That(_server.Server.OpenLogs, Is.EqualTo(new[] { UuidB }), "A's DTR closed A's log only");
        Assert.That(b.IsClean(20), Is.False);
        b.MarkRegion(31);
        b.Flush();
        Assert.That(b.IsClean(31), Is.False);
        Assert.That(b.CommunicationFailed, Is.False);
    }

    [Test]
    public void A_dropped_connection_closes_its_log_and_leaves_the_other_intact()
    {
        Stream? aStream = null;
        var a = Client(UuidA, LengthA, () => aStream = SocketLogServer.Connect(_path));
        using var b = Client(UuidB, LengthB);
        a.MarkRegion(4);
        a.Flush();
        b.MarkRegion(9);
        b.Flush();

        // A crashed client: its socket closes with no DTR.
        aStream!.Dispose();
        Assert.That(WaitForOpenLogs(UuidB), Is.True, "the server closed A's log when A's connection ended: " + string.Join(",", _server.Server.OpenLogs));
        Assert.That(b.IsClean(9), Is.False);
        Assert.That(b.IsClean(4), Is.True);
        Assert.That(b.SyncCount, Is.EqualTo(32UL));

        // A remount of the same mirror sends the same UUID and finds the region dirty at the crash.
        using var again = new UserspaceDirtyRegionLog(() => SocketLogServer.Connect(_path), _path, UuidA, LengthA, RegionSize, RegionLogSync.Default);
        Assert.That(again.InSync(4), Is.False, "dirty at the crash, so out of sync now");
        Assert.That(again.SyncCount, Is.EqualTo(15UL));
        Assert.That(_constructed, Is.EqualTo(new[] { UuidA, UuidB, UuidA }));
        Assert.That(b.IsClean(9), Is.False, "A's second CTR did not replace B's log");
        a.Dispose();
    }

    [Test]
    public void Requests_for_an_unknown_uuid_are_refused_with_EINVAL()
    {
        using var a = Client(UuidA, LengthA);
        using var raw = SocketLogServer.Connect(_path);
        Assert.That(RoundTrip(raw, "nobody", UlogRequestType.IsClean, UlogRequest.U64(0)).Error, Is.EqualTo(-22));
        Assert.That(RoundTrip(raw, "nobody", UlogRequestType.Flush, UlogRequest.U64s([1])).Error, Is.EqualTo(-22));
        Assert.That(RoundTrip(raw, "nobody", UlogRequestType.Dtr, []).Error, Is.EqualTo(-22));
        Assert.That(RoundTrip(raw, "", UlogRequestType.GetSyncCount, []).Error, Is.EqualTo(-22));
        Assert.That(RoundTrip(raw, "../escape", UlogRequestType.Ctr, UlogRequest.Text("2048 128")).Error, Is.EqualTo(-22), "a uuid that is no plain file name");
        Assert.That(_server.Server.OpenLogs, Is.EqualTo(new[] { UuidA }));
    }

    [Test]
    public void Another_connection_cannot_touch_or_replace_a_clients_log()
    {
        using var a = Client(UuidA, LengthA);
        a.MarkRegion(2);
        a.Flush();
        using var raw = SocketLogServer.Connect(_path);
        Assert.That(RoundTrip(raw, UuidA, UlogRequestType.ClearRegion, UlogRequest.U64s([2])).Error, Is.EqualTo(-16));
        Assert.That(RoundTrip(raw, UuidA, UlogRequestType.Dtr, []).Error, Is.EqualTo(-16));
        Assert.That(RoundTrip(raw, UuidA, UlogRequestType.Ctr, UlogRequest.Text("2048 128")).Error, Is.EqualTo(-16));
        Assert.That(a.IsClean(2), Is.False);
        Assert.That(a.RegionCount, Is.EqualTo(16UL));
        Assert.That(_constructed, Is.EqualTo(new[] { UuidA }));
    }

    private static UlogRequest RoundTrip(Stream stream, string uuid, UlogRequestType type, byte[] data)
    {
        stream.Write(new UlogRequest(7, uuid, 1, type, 0, data).Encode());
        stream.Flush();
        var reply = UlogRequest.ReadFrom(stream)!;
        Assert.That((reply.Seq, reply.Type, reply.Uuid), Is.EqualTo((1u, type, uuid)));
        return reply;
    }
}

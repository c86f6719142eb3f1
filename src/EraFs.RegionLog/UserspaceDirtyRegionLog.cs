using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace EraFs.RegionLog;

/// <summary>
/// dm-log's "userspace" type: every operation is a dm-ulog request to a log daemon over a stream.
/// Marks and clears are queued and sent at flush (marks inside the FLUSH, integrated_flush style).
/// A lost daemon is a communication failure: queries answer "not clean / not in sync", flush throws.
/// The UUID names the log on the daemon, which keeps one log per UUID.
/// </summary>
public sealed class UserspaceDirtyRegionLog : IDirtyRegionLog
{
    private const int MaxRegionsPerRequest = 32;
    private static readonly TimeSpan s_reconnectInterval = TimeSpan.FromSeconds(2);

    private readonly Func<Stream> _connect;
    private readonly string _uuid;
    private readonly string _address;
    private readonly long _deviceLength;
    private readonly RegionLogSync _sync;
    private readonly object _gate = new();
    private readonly HashSet<ulong> _marks = [];
    private readonly HashSet<ulong> _clears = [];
    // Regions marked and not cleared: re-marked on a new daemon so a reconnect cannot lose a mark.
    private readonly HashSet<ulong> _held = [];
    private readonly Stopwatch _sinceAttempt = Stopwatch.StartNew();
    private Stream? _stream;
    private uint _seq;

    /// <summary>Connects and constructs the remote log; throws <see cref="RegionLogException"/> if the daemon cannot be reached.</summary>
    public UserspaceDirtyRegionLog(Func<Stream> connect, string address, string uuid, long deviceLength, long regionSize, RegionLogSync sync)
    {
        RegionGeometry.Validate(regionSize, deviceLength);
        if (uuid.Length is 0 or >= UlogRequest.UuidLength || uuid.Any(c => c is <= ' ' or > '~'))
            throw new ArgumentException($"uuid '{uuid}' is not 1-{UlogRequest.UuidLength - 1} printable ASCII characters");
        _connect = connect;
        _address = address;
        _deviceLength = deviceLength;
        _sync = sync;
        _uuid = uuid;
        RegionSize = regionSize;
        RegionCount = RegionGeometry.RegionCount(deviceLength, regionSize);
        lock (_gate)
        {
            if (!TryConnect(out var why)) throw new RegionLogException($"userspace log at {address}: {why}");
        }
    }

    /// <summary>
    /// The UUID for a mirror's log: "erafs-" and 32 hex digits of the SHA-256 of its identity (the
    /// origin's canonical path). Deterministic, so a remount after a crash reaches the same log on the
    /// daemon and resyncs the regions that were dirty at the crash.
    /// </summary>
    public static string UuidFor(string identity) =>
        "erafs-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(identity)))[..32];

    public long RegionSize { get; }

    public ulong RegionCount { get; }

    /// <summary>True while the daemon cannot be reached (status shows COM_FAILURE).</summary>
    public bool CommunicationFailed { get; private set; }

    public bool IsClean(ulong region) => Query(UlogRequestType.IsClean, region);

    public bool InSync(ulong region) => Query(UlogRequestType.InSync, region);

    public void MarkRegion(ulong region)
    {
        CheckRegion(region);
        lock (_gate)
        {
            _clears.Remove(region);
            _marks.Add(region);
        }
    }

    public void ClearRegion(ulong region)
    {
        CheckRegion(region);
        lock (_gate)
        {
            if (_marks.Remove(region)) return;
            _clears.Add(region);
        }
    }

    public void Flush()
    {
        lock (_gate)
        {
            var marks = _marks.Order().ToList();
            var clears = _clears.Order().ToList();
            _marks.Clear();
            _clears.Clear();
            if (marks.Count == 0 && clears.Count == 0) return;
            // dm-log-userspace sends clears first, then the marks with the FLUSH.
            foreach (var chunk in clears.Chunk(MaxRegionsPerRequest))
                if (Send(UlogRequestType.ClearRegion, UlogRequest.U64s(chunk)) is null) throw Failure("clear");
            foreach (var r in clears) _held.Remove(r);
            var markChunks = marks.Chunk(MaxRegionsPerRequest).ToList();
            for (var i = 0; i + 1 < markChunks.Count; i++)
                if (Send(UlogRequestType.MarkRegion, UlogRequest.U64s(markChunks[i])) is null) throw Failure("mark");
            var last = markChunks.Count > 0 ? UlogRequest.U64s(markChunks[^1]) : [];
            if (Send(UlogRequestType.Flush, last) is null) throw Failure("flush");
            foreach (var r in marks) _held.Add(r);
        }
    }

    public bool TryGetResyncWork(out ulong region)
    {
        region = 0;
        byte[]? reply;
        lock (_gate) reply = Send(UlogRequestType.GetResyncWork, []);
        if (reply is null || reply.Length < 16) return false;
        var r = new UlogRequest(0, "", 0, UlogRequestType.GetResyncWork, 0, reply);
        region = r.ReadU64(1);
        return r.ReadI64(0) != 0;
    }

    public void SetRegionSync(ulong region, bool inSync)
    {
        lock (_gate) Send(UlogRequestType.SetRegionSync, UlogRequest.Pair(region, inSync ? 1 : 0));
    }

    public ulong SyncCount
    {
        get
        {
            byte[]? reply;
            lock (_gate) reply = Send(UlogRequestType.GetSyncCount, []);
            return reply is { Length: >= 8 } ? new UlogRequest(0, "", 0, UlogRequestType.GetSyncCount, 0, reply).ReadU64() : 0;
        }
    }

    public string Status(RegionLogStatusType type)
    {
        if (type == RegionLogStatusType.Table)
        {
            var args = new List<string> { _uuid, "integrated_flush", _address, (RegionSize / RegionGeometry.SectorSize).ToString(CultureInfo.InvariantCulture) };
            if (_sync != RegionLogSync.Default) args.Add(RegionGeometry.SyncWord(_sync).Trim());
            return $"userspace {args.Count} {string.Join(' ', args)} ";
        }
        byte[]? reply;
        lock (_gate) reply = Send(UlogRequestType.StatusInfo, []);
        return reply is null ? "userspace 1 COM_FAILURE" : UlogRequest.ReadText(reply);
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_stream is not null && !CommunicationFailed) Send(UlogRequestType.Dtr, []);
            _stream?.Dispose();
            _stream = null;
        }
    }

    private void CheckRegion(ulong region)
    {
        if (region >= RegionCount) throw new ArgumentOutOfRangeException(nameof(region), $"region {region} is past the last region {RegionCount - 1}");
    }

    private bool Query(UlogRequestType type, ulong region)
    {
        CheckRegion(region);
        byte[]? reply;
        lock (_gate) reply = Send(type, UlogRequest.U64(region));
        return reply is { Length: >= 8 } && new UlogRequest(0, "", 0, type, 0, reply).ReadU64() != 0;
    }

    private RegionLogException Failure(string what) =>
        new($"userspace log at {_address}: {what} failed (communication failure); the marks are not durable");

    /// <summary>One round trip; null on communication failure or a daemon error. Caller holds _gate.</summary>
    private byte[]? Send(UlogRequestType type, byte[] data)
    {
        if (_stream is null && !(CanRetry() && TryConnect(out _))) return null;
        return RoundTrip(type, data, out _);
    }

    private bool CanRetry() => _sinceAttempt.Elapsed >= s_reconnectInterval;

    private byte[]? RoundTrip(UlogRequestType type, byte[] data, out int error)
    {
        error = 0;
        var stream = _stream;
        if (stream is null) return null;
        var seq = ++_seq;
        try
        {
            stream.Write(new UlogRequest((ulong)GetHashCode(), _uuid, seq, type, 0, data).Encode());
            stream.Flush();
            var reply = UlogRequest.ReadFrom(stream) ?? throw new EndOfStreamException("the log daemon closed the connection");
            if (reply.Seq != seq || reply.Type != type)
                throw new InvalidDataException($"reply {reply.Type}#{reply.Seq} does not answer {type}#{seq}");
            error = reply.Error;
            return reply.Error == 0 ? reply.Data : null;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or ObjectDisposedException or TimeoutException)
        {
            CommunicationFailed = true;
            _stream = null;
            stream.Dispose();
            _sinceAttempt.Restart();
            error = -5;
            return null;
        }
    }

    /// <summary>Connects and sends CTR, RESUME and the held marks (as dm-log-userspace re-sends CTR+RESUME to a new daemon).</summary>
    private bool TryConnect(out string why)
    {
        _sinceAttempt.Restart();
        try
        {
            _stream = _connect();
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or UnauthorizedAccessException)
        {
            CommunicationFailed = true;
            why = $"cannot connect: {e.Message}";
            return false;
        }
        var ctr = $"{_deviceLength / RegionGeometry.SectorSize} {RegionSize / RegionGeometry.SectorSize}" +
                  (_sync == RegionLogSync.Default ? "" : " " + RegionGeometry.SyncWord(_sync).Trim());
        if (RoundTrip(UlogRequestType.Ctr, UlogRequest.Text(ctr), out var error) is null
            || RoundTrip(UlogRequestType.Resume, [], out error) is null)
        {
            why = error == -5 && _stream is null ? "the daemon hung up" : $"the daemon refused the log (error {error})";
            _stream?.Dispose();
            _stream = null;
            CommunicationFailed = true;
            return false;
        }
        var size = RoundTrip(UlogRequestType.GetRegionSize, [], out _);
        if (size is not { Length: >= 8 } || BitConverter.ToUInt64(size) * RegionGeometry.SectorSize != (ulong)RegionSize)
        {
            why = "the daemon reports another region size";
            _stream?.Dispose();
            _stream = null;
            CommunicationFailed = true;
            return false;
        }
        foreach (var chunk in _held.Order().Chunk(MaxRegionsPerRequest))
        {
            if (RoundTrip(UlogRequestType.MarkRegion, UlogRequest.U64s(chunk), out _) is null)
            {
                why = "re-marking held regions failed";
                return false;
            }
        }
        if (_held.Count > 0 && RoundTrip(UlogRequestType.Flush, [], out _) is null)
        {
            why = "re-marking held regions failed";
            return false;
        }
        CommunicationFailed = false;
        why = "";
        return true;
    }
}

using System.Globalization;
using System.Text;

namespace EraFs.RegionLog.Server;

/// <summary>
/// The daemon side of the userspace log: keeps one log per UUID, as dm-log-userspace names each
/// log by the UUID in every request. A CTR builds the log for its UUID; the connection that sent
/// it owns the log until DTR or until the connection drops. The CTR payload is
/// "&lt;device sectors&gt; &lt;region sectors&gt; [sync|nosync]".
/// </summary>
public sealed class RegionLogServer(Func<string, long, long, RegionLogSync, IDirtyRegionLog> createLog, Action<string>? log = null) : IDisposable
{
    private const int EINVAL = 22;
    private const int EIO = 5;
    private const int EBUSY = 16;
    private readonly object _gate = new();
    private readonly Dictionary<string, Entry> _logs = new(StringComparer.Ordinal);
    private long _requests;
    private bool _disposed;

    /// <summary>Requests answered so far, for the daemon's own log.</summary>
    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>The UUIDs whose logs are open, in order.</summary>
    public IReadOnlyList<string> OpenLogs
    {
        get
        {
            lock (_gate) return _logs.Keys.Order(StringComparer.Ordinal).ToList();
        }
    }

    /// <summary>
    /// Answers requests until the peer closes the stream or sends garbage, then closes the logs this
    /// connection constructed: a crashed client's disk log keeps its dirty bits on disk for the remount.
    /// </summary>
    public void Serve(Stream connection)
    {
        var owner = new object();
        try
        {
            ServeRequests(connection, owner);
        }
        finally
        {
            CloseOwnedBy(owner);
        }
    }

    private void ServeRequests(Stream connection, object owner)
    {
        while (true)
        {
            UlogRequest? request;
            try
            {
                request = UlogRequest.ReadFrom(connection);
            }
            catch (Exception e) when (e is IOException or InvalidDataException)
            {
                log?.Invoke($"dropping connection: {e.Message}");
                return;
            }
            if (request is null) return;
            Interlocked.Increment(ref _requests);
            var reply = Answer(request, owner);
            try
            {
                connection.Write(reply.Encode());
                connection.Flush();
            }
            catch (IOException)
            {
                return;
            }
        }
    }

    private UlogRequest Answer(UlogRequest r, object owner)
    {
        if (r.Type == UlogRequestType.Ctr) return Construct(r, owner);
        if (r.Type == UlogRequestType.Dtr) return Destroy(r, owner);
        Entry? entry;
        lock (_gate) _logs.TryGetValue(r.Uuid, out entry);
        if (entry is null)
        {
            log?.Invoke($"{r.Type} for unknown log '{r.Uuid}' refused (no CTR for it)");
            return r.Reply(-EINVAL, []);
        }
        if (entry.Owner != owner) return Foreign(r);
        // One lock per log: one mount's slow disk flush never waits for another mount's.
        lock (entry)
        {
            if (entry.Closed) return r.Reply(-EINVAL, []);
            return Apply(r, entry.Log);
        }
    }

    private UlogRequest Apply(UlogRequest r, IDirtyRegionLog l)
    {
        try
        {
            return r.Type switch
            {
                UlogRequestType.Presuspend or UlogRequestType.Resume => r.Reply(0, []),
                UlogRequestType.Postsuspend => Run(r, l.Flush),
                UlogRequestType.GetRegionSize => r.Reply(0, UlogRequest.U64((ulong)(l.RegionSize / RegionGeometry.SectorSize))),
                UlogRequestType.IsClean => r.Reply(0, UlogRequest.U64(l.IsClean(r.ReadU64()) ? 1UL : 0)),
                UlogRequestType.InSync => r.Reply(0, UlogRequest.U64(l.InSync(r.ReadU64()) ? 1UL : 0)),
                UlogRequestType.Flush => Run(r, () =>
                {
                    // Integrated flush: the marks ride inside the FLUSH request.
                    for (var i = 0; i < r.Data.Length / 8; i++) l.MarkRegion(r.ReadU64(i));
                    l.Flush();
                }),
                UlogRequestType.MarkRegion => Run(r, () => { for (var i = 0; i < r.Data.Length / 8; i++) l.MarkRegion(r.ReadU64(i)); }),
                UlogRequestType.ClearRegion => Run(r, () => { for (var i = 0; i < r.Data.Length / 8; i++) l.ClearRegion(r.ReadU64(i)); }),
                UlogRequestType.GetResyncWork => r.Reply(0, l.TryGetResyncWork(out var w) ? UlogRequest.Pair(1, (long)w) : UlogRequest.Pair(0, 0)),
                UlogRequestType.SetRegionSync => Run(r, () => l.SetRegionSync(r.ReadU64(0), r.ReadI64(1) != 0)),
                UlogRequestType.GetSyncCount => r.Reply(0, UlogRequest.U64(l.SyncCount)),
                UlogRequestType.StatusInfo => r.Reply(0, UlogRequest.Text(l.Status(RegionLogStatusType.Info))),
                UlogRequestType.StatusTable => r.Reply(0, UlogRequest.Text(l.Status(RegionLogStatusType.Table))),
                // No other node shares this log, so nothing is ever being recovered remotely.
                UlogRequestType.IsRemoteRecovering => r.Reply(0, UlogRequest.Pair(0, (long)l.RegionCount)),
                _ => r.Reply(-EINVAL, []),
            };
        }
        catch (Exception e) when (e is ArgumentException or InvalidDataException)
        {
            log?.Invoke($"{r.Type} for {r.Uuid} refused: {e.Message}");
            return r.Reply(-EINVAL, []);
        }
    }

    private UlogRequest Construct(UlogRequest r, object owner)
    {
        var text = UlogRequest.ReadText(r.Data);
        var words = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        long sectors = 0, regionSectors = 0;
        RegionLogSync sync;
        try
        {
            if (!IsUsableUuid(r.Uuid)) throw new ArgumentException($"uuid '{r.Uuid}' is not 1-128 of [A-Za-z0-9._-] (it names the log's file)");
            if (words.Length is < 2 or > 3
                || !long.TryParse(words[0], NumberStyles.None, CultureInfo.InvariantCulture, out sectors)
                || !long.TryParse(words[1], NumberStyles.None, CultureInfo.InvariantCulture, out regionSectors))
                throw new ArgumentException($"bad constructor string '{text}'");
            sync = RegionGeometry.ParseSyncWord(words.Length == 3 ? words[2] : null);
        }
        catch (ArgumentException e)
        {
            log?.Invoke($"CTR refused: {e.Message}");
            return r.Reply(-EINVAL, []);
        }
        // CTR holds the table lock while it builds the log, so two CTRs for one UUID cannot both build one.
        lock (_gate)
        {
            if (_disposed) return r.Reply(-EIO, []);
            if (_logs.TryGetValue(r.Uuid, out var old))
            {
                if (old.Owner != owner) return Foreign(r);
                // The same client constructing again replaces its log, as a table reload does.
                _logs.Remove(r.Uuid);
                Close(old);
            }
            IDirtyRegionLog created;
            try
            {
                created = createLog(r.Uuid, sectors * RegionGeometry.SectorSize, regionSectors * RegionGeometry.SectorSize, sync);
            }
            catch (Exception e) when (e is RegionLogException or ArgumentException or IOException)
            {
                log?.Invoke($"constructor for {r.Uuid} failed: {e.Message}");
                return r.Reply(e is ArgumentException ? -EINVAL : -EIO, []);
            }
            _logs.Add(r.Uuid, new Entry(owner, created));
            log?.Invoke($"log for {r.Uuid}: {created.Status(RegionLogStatusType.Table)}");
        }
        return r.Reply(0, []);
    }

    private UlogRequest Destroy(UlogRequest r, object owner)
    {
        Entry? entry;
        lock (_gate)
        {
            if (!_logs.TryGetValue(r.Uuid, out entry))
            {
                log?.Invoke($"DTR for unknown log '{r.Uuid}' refused");
                return r.Reply(-EINVAL, []);
            }
            if (entry.Owner != owner) return Foreign(r);
            _logs.Remove(r.Uuid);
        }
        Close(entry);
        log?.Invoke($"log for {r.Uuid} closed");
        return r.Reply(0, []);
    }

    private UlogRequest Foreign(UlogRequest r)
    {
        log?.Invoke($"{r.Type} for '{r.Uuid}' refused: another connection has that log open");
        return r.Reply(-EBUSY, []);
    }

    private void CloseOwnedBy(object owner)
    {
        List<KeyValuePair<string, Entry>> owned;
        lock (_gate)
        {
            owned = _logs.Where(kv => kv.Value.Owner == owner).ToList();
            foreach (var kv in owned) _logs.Remove(kv.Key);
        }
        foreach (var kv in owned)
        {
            Close(kv.Value);
            log?.Invoke($"log for {kv.Key} closed: its connection ended");
        }
    }

    private static void Close(Entry entry)
    {
        // Taking the log's lock waits out a request still running on it.
        lock (entry)
        {
            if (entry.Closed) return;
            entry.Closed = true;
            entry.Log.Dispose();
        }
    }

    private static bool IsUsableUuid(string uuid) =>
        uuid.Length is > 0 and < UlogRequest.UuidLength && uuid[0] != '.'
        && uuid.All(c => c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '.' or '_' or '-');

    private UlogRequest Run(UlogRequest r, Action action)
    {
        try
        {
            action();
            return r.Reply(0, []);
        }
        catch (RegionLogException e)
        {
            log?.Invoke($"{r.Type} for {r.Uuid} failed: {e.Message}");
            return r.Reply(-EIO, Encoding.ASCII.GetBytes(e.Message));
        }
    }

    public void Dispose()
    {
        List<Entry> all;
        lock (_gate)
        {
            _disposed = true;
            all = [.. _logs.Values];
            _logs.Clear();
        }
        foreach (var e in all) Close(e);
    }

    /// <summary>One open log and the connection that constructed it.</summary>
    private sealed class Entry(object owner, IDirtyRegionLog log)
    {
        public object Owner { get; } = owner;

        public IDirtyRegionLog Log { get; } = log;

        public bool Closed { get; set; }
    }
}

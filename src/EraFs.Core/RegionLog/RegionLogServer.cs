using System.Globalization;
using System.Text;

namespace EraFs.Core.RegionLog;

/// <summary>
/// The daemon side of the userspace log: answers dm-ulog requests from one connection at a time with
/// a log it builds at CTR. The CTR payload is "&lt;device sectors&gt; &lt;region sectors&gt; [sync|nosync]".
/// </summary>
public sealed class RegionLogServer(Func<long, long, RegionLogSync, IDirtyRegionLog> createLog, Action<string>? log = null) : IDisposable
{
    private const int EINVAL = 22;
    private const int EIO = 5;
    private readonly object _gate = new();
    private IDirtyRegionLog? _log;

    /// <summary>Requests answered so far, for the daemon's own log.</summary>
    public long Requests { get; private set; }

    /// <summary>Answers requests until the peer closes the stream or sends garbage.</summary>
    public void Serve(Stream connection)
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
            UlogRequest reply;
            lock (_gate)
            {
                Requests++;
                reply = Answer(request);
            }
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

    private UlogRequest Answer(UlogRequest r)
    {
        try
        {
            if (r.Type == UlogRequestType.Ctr) return Construct(r);
            if (_log is not { } l) return r.Reply(-EINVAL, []);
            return r.Type switch
            {
                UlogRequestType.Dtr => Destroy(r),
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
            log?.Invoke($"{r.Type} refused: {e.Message}");
            return r.Reply(-EINVAL, []);
        }
    }

    private UlogRequest Construct(UlogRequest r)
    {
        var words = UlogRequest.ReadText(r.Data).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (words.Length is < 2 or > 3
            || !long.TryParse(words[0], NumberStyles.None, CultureInfo.InvariantCulture, out var sectors)
            || !long.TryParse(words[1], NumberStyles.None, CultureInfo.InvariantCulture, out var regionSectors))
            throw new ArgumentException($"bad constructor string '{UlogRequest.ReadText(r.Data)}'");
        var sync = RegionGeometry.ParseSyncWord(words.Length == 3 ? words[2] : null);
        _log?.Dispose();
        _log = null;
        try
        {
            _log = createLog(sectors * RegionGeometry.SectorSize, regionSectors * RegionGeometry.SectorSize, sync);
        }
        catch (RegionLogException e)
        {
            log?.Invoke($"constructor failed: {e.Message}");
            return r.Reply(-EIO, []);
        }
        log?.Invoke($"log for {r.Uuid}: {_log.Status(RegionLogStatusType.Table)}");
        return r.Reply(0, []);
    }

    private UlogRequest Destroy(UlogRequest r)
    {
        _log?.Dispose();
        _log = null;
        return r.Reply(0, []);
    }

    private UlogRequest Run(UlogRequest r, Action action)
    {
        try
        {
            action();
            return r.Reply(0, []);
        }
        catch (RegionLogException e)
        {
            log?.Invoke($"{r.Type} failed: {e.Message}");
            return r.Reply(-EIO, Encoding.ASCII.GetBytes(e.Message));
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _log?.Dispose();
            _log = null;
        }
    }
}

using System.Diagnostics;
using dotnet_etcd;
using Etcdserverpb;
using Grpc.Core;

namespace EraFs.RegionLog.Cluster;

/// <summary>
/// The clustered log's one way to etcd: every request has a deadline, and a request that failed or
/// timed out is sent again until a stated bound, which is safe because every request the log makes is
/// idempotent (puts and deletes of fixed keys, compare-and-swaps that recognise their own success).
/// </summary>
internal sealed class EtcdLogStore : IDisposable
{
    private readonly EtcdClient _client;

    public EtcdLogStore(string endpoints, TimeSpan requestTimeout, TimeSpan retryBound)
    {
        Endpoints = endpoints;
        RequestTimeout = requestTimeout;
        RetryBound = retryBound;
        _client = new EtcdClient(endpoints);
    }

    public string Endpoints { get; }

    /// <summary>One request's deadline.</summary>
    public TimeSpan RequestTimeout { get; }

    /// <summary>How long a request is retried before the log gives up (writes needing it get EIO).</summary>
    public TimeSpan RetryBound { get; }

    public RoundTripLatency Latency { get; } = new();

    public TxnResponse Txn(TxnRequest request, string what) =>
        Retry(what, deadline => _client.Transaction(request, deadline: deadline));

    public RangeResponse Range(string prefix, string what, bool countOnly = false) =>
        Retry(what, deadline => _client.Get(new RangeRequest
        {
            Key = ClusterKeys.Bytes(prefix),
            RangeEnd = ClusterKeys.PrefixEnd(prefix),
            CountOnly = countOnly,
        }, deadline: deadline));

    public RangeResponse Get(string key, string what) =>
        Retry(what, deadline => _client.Get(new RangeRequest { Key = ClusterKeys.Bytes(key) }, deadline: deadline));

    public long GrantLease(TimeSpan ttl, string what) =>
        Retry(what, deadline => _client.LeaseGrant(new LeaseGrantRequest { TTL = (long)Math.Ceiling(ttl.TotalSeconds) }, deadline: deadline)).ID;

    /// <summary>One keep-alive round trip, not retried (the lease loop retries on its own clock); the TTL left, 0 if the lease is gone.</summary>
    public long KeepAliveOnce(long leaseId)
    {
        var sw = Stopwatch.StartNew();
        try
        {
            using var call = _client.GetConnection().LeaseClient.LeaseKeepAlive(deadline: DateTime.UtcNow + RequestTimeout);
            call.RequestStream.WriteAsync(new LeaseKeepAliveRequest { ID = leaseId }).GetAwaiter().GetResult();
            if (!call.ResponseStream.MoveNext(CancellationToken.None).GetAwaiter().GetResult())
                throw new RpcException(new Status(StatusCode.Unavailable, "keep-alive stream ended without an answer"));
            var ttl = call.ResponseStream.Current.TTL;
            call.RequestStream.CompleteAsync().GetAwaiter().GetResult();
            return ttl;
        }
        finally
        {
            Latency.Record(sw.Elapsed);
        }
    }

    /// <summary>Ends a lease at once (a clean leave); best effort, bounded by one request timeout.</summary>
    public void RevokeLease(long leaseId)
    {
        try
        {
            _client.LeaseRevoke(new LeaseRevokeRequest { ID = leaseId }, deadline: DateTime.UtcNow + RequestTimeout);
        }
        catch (Exception e) when (e is RpcException or OperationCanceledException or HttpRequestException)
        {
            // The lease then expires by its TTL, which has the same effect, later.
        }
    }

    public void Dispose() => _client.Dispose();

    private T Retry<T>(string what, Func<DateTime, T> call)
    {
        var bound = Stopwatch.StartNew();
        RpcException? last = null;
        var attempt = 0;
        while (attempt == 0 || bound.Elapsed < RetryBound)
        {
            attempt++;
            var remaining = RetryBound - bound.Elapsed;
            var timeout = remaining < RequestTimeout && remaining > TimeSpan.FromMilliseconds(100) ? remaining : RequestTimeout;
            var sw = Stopwatch.StartNew();
            try
            {
                var result = call(DateTime.UtcNow + timeout);
                Latency.Record(sw.Elapsed);
                return result;
            }
            catch (Exception e) when (e is RpcException { StatusCode: var code } ? Transient(code) : e is OperationCanceledException or HttpRequestException or IOException)
            {
                last = e as RpcException ?? new RpcException(new Status(StatusCode.Unavailable, e.Message), e.Message);
                // A pause so a dead endpoint is not hammered; short against the bound.
                var pause = TimeSpan.FromMilliseconds(Math.Min(200, 25 * attempt));
                if (bound.Elapsed + pause < RetryBound) Thread.Sleep(pause);
            }
            catch (RpcException e)
            {
                throw new RegionLogException($"etcd at {Endpoints}: {what} refused: {e.Status.Detail} ({e.StatusCode})", e);
            }
        }
        throw new RegionLogException(
            $"etcd at {Endpoints}: {what} got no answer within {RetryBound.TotalSeconds:0.#} s after {attempt} attempt(s) (no quorum?): {last?.Status.Detail} ({last?.StatusCode})", last);
    }

    private static bool Transient(StatusCode code) =>
        code is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Unknown or StatusCode.Internal
            or StatusCode.Cancelled or StatusCode.Aborted or StatusCode.ResourceExhausted;
}

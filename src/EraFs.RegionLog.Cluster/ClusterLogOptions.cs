namespace EraFs.RegionLog.Cluster;

/// <summary>Where a clustered log lives and how this node takes part: <c>--cluster</c>, <c>--cluster-log</c>, <c>--node</c>, <c>--lease</c>.</summary>
public sealed record ClusterLogOptions
{
    public static readonly TimeSpan DefaultLease = TimeSpan.FromSeconds(5);
    public static readonly TimeSpan DefaultRetryBound = TimeSpan.FromSeconds(3);
    public static readonly TimeSpan DefaultRequestTimeout = TimeSpan.FromSeconds(1);

    /// <summary>etcd client URLs, comma-separated.</summary>
    public required string Endpoints { get; init; }

    /// <summary>The shared log's name: every node of one mirror gives the same.</summary>
    public required string LogName { get; init; }

    /// <summary>This node's name, unique among the log's live nodes.</summary>
    public required string Node { get; init; }

    /// <summary>The liveness lease's TTL.</summary>
    public TimeSpan Lease { get; init; } = DefaultLease;

    /// <summary>One etcd request's deadline.</summary>
    public TimeSpan RequestTimeout { get; init; } = DefaultRequestTimeout;

    /// <summary>How long a request is retried before it fails: a write needing a new mark gets EIO after about this long without quorum.</summary>
    public TimeSpan RetryBound { get; init; } = DefaultRetryBound;

    /// <summary>
    /// The fencing margin: writes stop at the last renewal's send time plus the TTL minus this, so they
    /// end before etcd can expire the lease. A fifth of the TTL, at least 500 ms.
    /// </summary>
    public TimeSpan FenceMargin => TimeSpan.FromTicks(Math.Max(Lease.Ticks / 5, TimeSpan.FromMilliseconds(500).Ticks));

    /// <summary>How often the lease is renewed: four times per TTL, so one lost renewal does not fence.</summary>
    public TimeSpan RenewInterval => Lease / 4;

    /// <summary>Throws <see cref="ArgumentException"/> on a name that cannot be a key segment or a lease too short to fence within.</summary>
    public void Validate()
    {
        if (!ClusterKeys.IsName(LogName)) throw new ArgumentException($"--cluster-log '{LogName}': a name is 1-64 of [A-Za-z0-9._-]");
        if (!ClusterKeys.IsName(Node)) throw new ArgumentException($"--node '{Node}': a name is 1-64 of [A-Za-z0-9._-]");
        if (Lease < TimeSpan.FromSeconds(2)) throw new ArgumentException($"--lease {Lease.TotalSeconds:0.#}: the lease must be at least 2 seconds");
        if (string.IsNullOrWhiteSpace(Endpoints)) throw new ArgumentException("--cluster: no etcd endpoint given");
        foreach (var url in Endpoints.Split(','))
            if (!Uri.TryCreate(url, UriKind.Absolute, out var u) || u.Scheme is not ("http" or "https"))
                throw new ArgumentException($"--cluster: '{url}' is not an http:// or https:// URL");
    }
}

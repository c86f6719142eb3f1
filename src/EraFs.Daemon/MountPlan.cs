using EraFs.Fuse;
using EraFs.RegionLog;
using EraFs.RegionLog.Cluster;

namespace EraFs.Daemon;

/// <summary>What one mount is to serve: the files it owns and how it tracks writes to them; paths are absolute.</summary>
public sealed record MountPlan(
    string Origin,
    string MountPoint,
    string? Metadata,
    bool Create = false,
    uint? BlockSize = null,
    bool AllowOther = false,
    bool AllowShrink = false,
    MirrorPlan? Mirror = null,
    uint? Threads = null,
    TimeSpan? WriteHorizon = null)
{
    /// <summary>Mount over a directory that is not empty (<c>--nonempty</c>).</summary>
    public bool AllowNonEmpty { get; init; }

    /// <summary>How FUSE requests travel (<c>--transport</c>); auto takes io_uring where the kernel has it switched on.</summary>
    public FuseTransport Transport { get; init; } = FuseTransport.Auto;

    /// <summary>The tracking block size a new history gets when none is asked for.</summary>
    public const uint DefaultBlockSize = 64 * 1024;
}

/// <summary>The dirty region log and mirror legs of a mount: <c>--log core|disk:PATH|userspace:SOCKET|clustered_core|clustered_disk:PATH</c> and its options.</summary>
public sealed record MirrorPlan(string LogSpec, long RegionSize, RegionLogSync Sync, IReadOnlyList<string> Legs, long ResyncBytesPerSecond, ClusterPlan? Cluster = null)
{
    public const long DefaultResyncRate = 256L << 20;

    /// <summary>The log spec of the etcd-backed log whose state lives in etcd only.</summary>
    public const string ClusteredCore = "clustered_core";

    /// <summary>The etcd-backed log that also keeps dm-log's disk layout on a shared file: <c>clustered_disk:PATH</c>.</summary>
    public const string ClusteredDiskPrefix = "clustered_disk:";

    /// <summary>True for a log shared by several nodes: the origin and legs are shared storage then.</summary>
    public bool IsClustered => LogSpec == ClusteredCore || LogSpec.StartsWith(ClusteredDiskPrefix, StringComparison.Ordinal);
}

/// <summary>Where a clustered log lives and who this node is: <c>--cluster</c>, <c>--cluster-log</c>, <c>--node</c>, <c>--lease</c>.</summary>
public sealed record ClusterPlan(string Endpoints, string LogName, string Node, TimeSpan Lease)
{
    /// <summary>The options the clustered log is opened with.</summary>
    public ClusterLogOptions Options => new() { Endpoints = Endpoints, LogName = LogName, Node = Node, Lease = Lease };

    /// <summary>Throws <see cref="ArgumentException"/> on a name, URL or lease the log would refuse.</summary>
    public void Validate() => Options.Validate();
}

/// <summary>Why a mount was refused; the CLI turns it into its exit code.</summary>
public enum MountRefusal
{
    /// <summary>Bad input, an I/O error or a refused state.</summary>
    Failed,

    /// <summary>An option's value cannot work (a block size the origin cannot be tracked in).</summary>
    Usage,

    /// <summary>The metadata is damaged (the checker found problems).</summary>
    MetadataDamaged,

    /// <summary>Another EraFs process holds one of the mount's files.</summary>
    Busy,
}

/// <summary>A mount refused before it served anything, with one line naming the file and what is wrong.</summary>
public sealed class MountRefusedException(string message, MountRefusal refusal = MountRefusal.Failed, Exception? inner = null)
    : Exception(message, inner)
{
    public MountRefusal Refusal { get; } = refusal;
}

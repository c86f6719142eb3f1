using EraFs.Core;
using EraFs.FileSystem;
using EraFs.Fuse;
using EraFs.Metadata;

namespace EraFs.Daemon;

/// <summary>
/// Builds one served mount from a <see cref="MountPlan"/>, in the order that lets every refusal come
/// before the first byte is written: the mount point and the claims first, then the metadata is checked
/// and the tracker's open validated, and only then do the region log, the history and the FUSE mount
/// change anything.
/// </summary>
public sealed class MountBuilder : IDisposable
{
    private readonly MountClaims _claims;
    private readonly MetadataSnapshotView? _snapshotView;

    private MountBuilder(MountClaims claims, MetadataSnapshotView? snapshotView, ServedMount served)
    {
        _claims = claims;
        _snapshotView = snapshotView;
        Served = served;
    }

    /// <summary>The mount being served; its completion ends once the history was closed.</summary>
    public ServedMount Served { get; }

    /// <summary>Claims, checks, opens and mounts; throws <see cref="MountRefusedException"/> having left nothing open or mounted.</summary>
    public static MountBuilder Start(MountPlan plan, DaemonLog log)
    {
        if (plan.Metadata is not null && plan.Mirror is { IsClustered: true })
            throw new MountRefusedException(
                "--metadata cannot go with a clustered log: nodes writing one shared image would each keep their own era history, and EraFs keeps no cluster-wide one",
                MountRefusal.Usage);
        var claims = MountClaims.Take(plan);
        Origin? origin = null;
        EraTracker? tracker = null;
        MirrorSet? mirror = null;
        MetadataSnapshotView? snapshotView = null;
        try
        {
            origin = OpenOrigin(plan.Origin);
            var store = plan.Metadata is null ? null : OpenStore(plan, origin, log);
            try
            {
                if (plan.Mirror is not null) mirror = MirrorSetup.Open(plan.Mirror, origin, log);
                if (store is not null) tracker = OpenTracker(plan, store, origin, log);
            }
            catch
            {
                if (tracker is null) store?.Dispose();
                throw;
            }
            claims.Opened();
            snapshotView = tracker is null ? null : new MetadataSnapshotView(plan.Metadata!, log);
            var options = new FuseMountOptions
            {
                AllowOther = plan.AllowOther,
                AllowNonEmpty = plan.AllowNonEmpty,
                MaxThreads = plan.Threads ?? new FuseMountOptions().MaxThreads,
                FsName = "erafs:" + plan.Origin,
                Transport = plan.Transport,
            };
            ServedMount served;
            try
            {
                served = ServedMount.Start(origin, tracker, plan.MountPoint, options, log,
                    views: snapshotView is null ? null : [snapshotView.File], mirror: mirror);
            }
            catch (FuseMountException ex)
            {
                throw new MountRefusedException(ex.Message, inner: ex);
            }
            log.Info($"serving {origin.Path} ({origin.Size} bytes) on {served.MountPoint} over {TransportName.Of(served.Transport)} ({(served.Transport == FuseTransport.IoUring ? $"{served.Queues} queues" : $"{served.Queues} threads, up to {options.MaxThreads} while writes wait")})" +
                     (tracker is null ? " without tracking" : $"; {tracker.StatusLine}"));
            return new MountBuilder(claims, snapshotView, served);
        }
        catch
        {
            snapshotView?.Dispose();
            mirror?.Dispose();
            tracker?.Dispose();
            origin?.Dispose();
            claims.Dispose();
            throw;
        }
    }

    /// <summary>Ends the mount's resources in the reverse order of their opening; the claims go last.</summary>
    public void Dispose()
    {
        Served.Dispose();
        _snapshotView?.Dispose();
        _claims.Dispose();
    }

    private static Origin OpenOrigin(string path)
    {
        try
        {
            return Origin.Open(path);
        }
        catch (IOException ex)
        {
            throw new MountRefusedException(ex.Message, inner: ex);
        }
    }

    /// <summary>
    /// Opens (or with --create, formats) the history and refuses, before anything is written to it,
    /// damaged metadata and any origin or block size the tracker's open would refuse.
    /// </summary>
    private static IEraStore OpenStore(MountPlan plan, Origin origin, DaemonLog log)
    {
        var meta = plan.Metadata!;
        IEraStore store;
        if (!File.Exists(meta) || new FileInfo(meta).Length == 0)
        {
            if (!plan.Create)
                throw new MountRefusedException($"{meta}: metadata does not exist (create it with 'erafs create' or mount with --create)");
            store = CreateStore(meta, origin, plan.BlockSize ?? MountPlan.DefaultBlockSize);
            log.Info($"{meta}: created metadata for {origin.Path} with {store.Geometry.BlockSize}-byte blocks");
        }
        else
        {
            store = NeedsCheckGate.Open(meta, log);
        }
        try
        {
            EraTracker.Validate(store, TrackerOptions(plan, origin, log));
            return store;
        }
        catch (Exception ex) when (ex is MetadataException or ArgumentException)
        {
            store.Dispose();
            throw new MountRefusedException($"{meta}: {ex.Message}", ex is MetadataCorruptException ? MountRefusal.MetadataDamaged : MountRefusal.Failed, ex);
        }
    }

    private static MetadataStore CreateStore(string meta, Origin origin, uint blockSize)
    {
        EraGeometry geometry;
        try
        {
            geometry = EraGeometry.For(origin.Size, blockSize);
        }
        catch (ArgumentOutOfRangeException ex)
        {
            throw new MountRefusedException($"--block-size: {ex.Message.Split(" (Parameter")[0]}", MountRefusal.Usage, ex);
        }
        try
        {
            return MetadataStore.CreateWithBaseline(meta, geometry, origin.ModifiedUtc, force: File.Exists(meta));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or MetadataException)
        {
            throw new MountRefusedException(ex.Message.StartsWith(meta, StringComparison.Ordinal) ? ex.Message : $"{meta}: {ex.Message}", inner: ex);
        }
    }

    private static EraTracker OpenTracker(MountPlan plan, IEraStore store, Origin origin, DaemonLog log)
    {
        try
        {
            return EraTracker.Open(store, TrackerOptions(plan, origin, log));
        }
        catch (Exception ex) when (ex is MetadataException or ControlRejectedException or IOException or ArgumentException)
        {
            store.Dispose();
            throw new MountRefusedException($"{plan.Metadata}: {ex.Message}", inner: ex);
        }
    }

    private static EraTrackerOptions TrackerOptions(MountPlan plan, Origin origin, DaemonLog log) => new()
    {
        OriginSize = origin.Size,
        OriginMtimeUtc = origin.ModifiedUtc,
        OriginChangedUtc = origin.ChangedUtc,
        RequestedBlockSize = plan.BlockSize,
        AllowShrink = plan.AllowShrink,
        WriteHorizon = plan.WriteHorizon ?? EraTrackerOptions.DefaultWriteHorizon,
        Log = log.Note,
    };
}

using EraFs.Fuse;
using EraFs.Storage;

namespace EraFs.Daemon;

/// <summary>
/// The files one mount owns exclusively for its whole life (origin, mirror legs, disk region log,
/// metadata), taken before anything is opened for writing, so that a second mount of any of them is
/// refused (busy) having changed nothing. The kernel drops the claims when the daemon dies.
/// </summary>
internal sealed class MountClaims : IDisposable
{
    private readonly List<FileClaim> _claims = [];
    private string? _createdEmpty;
    private bool _opened;

    private MountClaims()
    {
    }

    /// <summary>Checks the mount point, then claims every file the plan names; throws <see cref="MountRefusedException"/>.</summary>
    public static MountClaims Take(MountPlan r)
    {
        try
        {
            MountPointCheck.Validate(Path.GetFullPath(r.MountPoint), r.AllowNonEmpty);
        }
        catch (FuseMountException ex)
        {
            throw new MountRefusedException(ex.Message, inner: ex);
        }
        var holder = $"erafs mount on {Path.GetFullPath(r.MountPoint)}";
        var claims = new MountClaims();
        try
        {
            // A clustered mirror's origin and legs are shared storage that every node of the log writes;
            // the etcd log, not a local lock, keeps the nodes' writes and resyncs apart.
            var shared = r.Mirror is { IsClustered: true };
            if (!shared) claims.Add(r.Origin, "origin", holder);
            if (r.Mirror is { } mirror)
            {
                if (!shared)
                    foreach (var leg in mirror.Legs) claims.Add(Path.GetFullPath(leg), "mirror leg", holder);
                if (MirrorSetup.DiskLogPath(mirror.LogSpec) is { } diskLog) claims.Add(diskLog, "region log", holder);
            }
            if (r.Metadata is { } meta)
            {
                var existed = File.Exists(meta);
                claims.Add(meta, "metadata", holder, create: r.Create);
                if (!existed) claims._createdEmpty = meta;
            }
            return claims;
        }
        catch
        {
            claims.Dispose();
            throw;
        }
    }

    /// <summary>The mount is set up: a metadata file this claim created is the mount's now, not debris.</summary>
    public void Opened() => _opened = true;

    public void Dispose()
    {
        if (!_opened && _createdEmpty is { } created)
        {
            var info = new FileInfo(created);
            if (info.Exists && info.Length == 0) info.Delete();
        }
        for (var i = _claims.Count - 1; i >= 0; i--) _claims[i].Dispose();
        _claims.Clear();
    }

    private void Add(string path, string role, string holder, bool create = false)
    {
        if (!create && !File.Exists(path) && !path.StartsWith("/dev/", StringComparison.Ordinal))
            return; // The open that follows names the missing file in its own words.
        try
        {
            _claims.Add(FileClaim.Take(path, role, holder, createIfMissing: create));
        }
        catch (FileBusyException ex)
        {
            throw new MountRefusedException(ex.Message + "; refusing to mount it twice", MountRefusal.Busy, ex);
        }
        catch (IOException ex)
        {
            throw new MountRefusedException(ex.Message, inner: ex);
        }
    }
}

namespace EraFs.Fuse;

/// <summary>
/// A file system served over FUSE, addressed by inode. Every operation returns 0 (or a byte count)
/// on success and a negative errno on failure; the default answers ENOSYS. Operations run on many
/// threads at once. An exception that escapes becomes EIO and is logged by the binding.
/// </summary>
public abstract class FuseFileSystem
{
    /// <summary>Inode of the mount's root directory.</summary>
    public const ulong RootInode = 1;

    /// <summary>Called once the kernel connection is initialised, with what was agreed.</summary>
    public virtual void Initialized(FuseConnectionInfo connection)
    {
    }

    /// <summary>Finds <paramref name="name"/> in directory <paramref name="parent"/>.</summary>
    public virtual int Lookup(ulong parent, string name, out FuseAttributes attributes)
    {
        attributes = default;
        return FuseErrors.ENOSYS;
    }

    public virtual int GetAttributes(ulong inode, out FuseAttributes attributes)
    {
        attributes = default;
        return FuseErrors.ENOSYS;
    }

    /// <summary>Changes the attributes named in <paramref name="toSet"/>; answers with the result.</summary>
    public virtual int SetAttributes(ulong inode, FuseSetAttr toSet, in FuseAttributes requested, out FuseAttributes attributes)
    {
        attributes = default;
        return FuseErrors.ENOSYS;
    }

    /// <summary>Opens a file; <paramref name="flags"/> are the open(2) flags.</summary>
    public virtual int Open(ulong inode, int flags, ref FuseOpenReply reply) => FuseErrors.ENOSYS;

    /// <summary>Reads into <paramref name="buffer"/>; returns the byte count (short only at end of file).</summary>
    public virtual int Read(ulong inode, ulong handle, Span<byte> buffer, long offset) => FuseErrors.ENOSYS;

    /// <summary>Writes <paramref name="data"/>; returns the byte count accepted.</summary>
    public virtual int Write(ulong inode, ulong handle, ReadOnlySpan<byte> data, long offset) => FuseErrors.ENOSYS;

    /// <summary>close(2) of one descriptor (may come several times per open).</summary>
    public virtual int Flush(ulong inode, ulong handle) => FuseErrors.ENOSYS;

    /// <summary>The last descriptor of an open file is gone; the kernel ignores the result.</summary>
    public virtual int Release(ulong inode, ulong handle) => 0;

    public virtual int Fsync(ulong inode, ulong handle, bool dataOnly) => FuseErrors.ENOSYS;

    /// <summary>fallocate(2): <paramref name="mode"/> carries the FALLOC_FL_* bits.</summary>
    public virtual int Fallocate(ulong inode, ulong handle, int mode, long offset, long length) => FuseErrors.ENOSYS;

    /// <summary>Lists a directory (called once per opendir; the binding pages the reply).</summary>
    public virtual int ReadDirectory(ulong inode, out IReadOnlyList<FuseDirEntry> entries)
    {
        entries = [];
        return FuseErrors.ENOSYS;
    }

    /// <summary>statfs(2) of the mount: total and free bytes.</summary>
    public virtual int StatFs(out long totalBytes, out long freeBytes)
    {
        totalBytes = 0;
        freeBytes = 0;
        return 0;
    }

    /// <summary>The connection is gone (unmount); no more requests follow.</summary>
    public virtual void Destroyed()
    {
    }
}

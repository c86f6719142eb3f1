using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using EraFs.Fuse.Native;

namespace EraFs.Fuse;

/// <summary>
/// The [UnmanagedCallersOnly] entry points libfuse calls, and the one place where handler results
/// become replies: a negative result is an errno, an escaping exception is logged and answered EIO.
/// </summary>
internal static unsafe class FuseOperations
{
    private static readonly fuse_lowlevel_ops* s_table = CreateTable();

    /// <summary>The operations table, in native memory for the life of the process.</summary>
    public static fuse_lowlevel_ops* Table => s_table;

    private static fuse_lowlevel_ops* CreateTable()
    {
        var t = (fuse_lowlevel_ops*)NativeMemory.AllocZeroed((nuint)sizeof(fuse_lowlevel_ops));
        t->init = &Init;
        t->destroy = &Destroy;
        t->lookup = &Lookup;
        t->getattr = &GetAttr;
        t->setattr = &SetAttr;
        t->open = &Open;
        t->read = &Read;
        t->write = &Write;
        t->flush = &Flush;
        t->release = &Release;
        t->fsync = &Fsync;
        t->opendir = &OpenDir;
        t->readdir = &ReadDir;
        t->releasedir = &ReleaseDir;
        t->statfs = &StatFs;
        t->fallocate = &Fallocate;
        return t;
    }

    /// <summary>The request types this binding serves; every other one is answered ENOSYS by libfuse.</summary>
    public static IReadOnlyList<string> Served { get; } =
        ["init", "destroy", "lookup", "getattr", "setattr", "open", "read", "write", "flush", "release",
         "fsync", "opendir", "readdir", "releasedir", "statfs", "fallocate"];

    private static void Reply(nint req, int rc)
    {
        // libfuse wants a positive errno; 0 means success.
        LibFuse.fuse_reply_err(req, rc < 0 ? -rc : 0);
    }

    private static void Failed(FuseMount mount, nint req, string op, ulong ino, Exception ex)
    {
        mount.LogHandlerException(op, ino, ex);
        LibFuse.fuse_reply_err(req, -FuseErrors.EIO);
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void Init(nint userdata, fuse_conn_info* conn)
    {
        var mount = FuseMount.FromUserData(userdata);
        try
        {
            mount.OnInit(conn);
        }
        catch (Exception ex)
        {
            mount.LogHandlerException("init", 0, ex);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void Destroy(nint userdata)
    {
        var mount = FuseMount.FromUserData(userdata);
        try
        {
            mount.FileSystem.Destroyed();
        }
        catch (Exception ex)
        {
            mount.LogHandlerException("destroy", 0, ex);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void Lookup(nint req, ulong parent, byte* name)
    {
        var mount = FuseMount.FromRequest(req);
        try
        {
            var s = Marshal.PtrToStringUTF8((nint)name) ?? "";
            var rc = mount.FileSystem.Lookup(parent, s, out var attr);
            if (rc < 0)
            {
                Reply(req, rc);
                return;
            }
            fuse_entry_param e = default;
            e.ino = attr.Inode;
            e.attr = ToStat(attr);
            e.attr_timeout = attr.Uncached ? 0 : mount.AttrTimeout;
            e.entry_timeout = attr.Uncached ? 0 : mount.AttrTimeout;
            LibFuse.fuse_reply_entry(req, &e);
        }
        catch (Exception ex)
        {
            Failed(mount, req, "lookup", parent, ex);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void GetAttr(nint req, ulong ino, fuse_file_info* fi)
    {
        var mount = FuseMount.FromRequest(req);
        try
        {
            var rc = mount.FileSystem.GetAttributes(ino, out var attr);
            if (rc < 0)
            {
                Reply(req, rc);
                return;
            }
            var st = ToStat(attr);
            LibFuse.fuse_reply_attr(req, &st, attr.Uncached ? 0 : mount.AttrTimeout);
        }
        catch (Exception ex)
        {
            Failed(mount, req, "getattr", ino, ex);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void SetAttr(nint req, ulong ino, stat* attr, int toSet, fuse_file_info* fi)
    {
        var mount = FuseMount.FromRequest(req);
        try
        {
            var requested = new FuseAttributes(ino, attr->st_mode, attr->st_size, attr->st_uid, attr->st_gid,
                DateTime.UnixEpoch.AddSeconds(attr->st_mtim.tv_sec).AddTicks(attr->st_mtim.tv_nsec / 100));
            var rc = mount.FileSystem.SetAttributes(ino, (FuseSetAttr)toSet, requested, out var result);
            if (rc < 0)
            {
                Reply(req, rc);
                return;
            }
            var st = ToStat(result);
            LibFuse.fuse_reply_attr(req, &st, result.Uncached ? 0 : mount.AttrTimeout);
        }
        catch (Exception ex)
        {
            Failed(mount, req, "setattr", ino, ex);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void Open(nint req, ulong ino, fuse_file_info* fi)
    {
        var mount = FuseMount.FromRequest(req);
        try
        {
            var reply = new FuseOpenReply();
            var rc = mount.FileSystem.Open(ino, fi->flags, ref reply);
            if (rc < 0)
            {
                Reply(req, rc);
                return;
            }
            fi->fh = reply.Handle;
            var bits = fi->bits & ~(fuse_file_info.DirectIo | fuse_file_info.KeepCache | fuse_file_info.NonSeekable);
            if (reply.DirectIo) bits |= fuse_file_info.DirectIo;
            if (reply.KeepCache) bits |= fuse_file_info.KeepCache;
            if (reply.NonSeekable) bits |= fuse_file_info.NonSeekable;
            fi->bits = bits;
            // The kernel refuses the reply when the open was interrupted; nobody will release it then.
            if (LibFuse.fuse_reply_open(req, fi) != 0) mount.FileSystem.Release(ino, reply.Handle);
        }
        catch (Exception ex)
        {
            Failed(mount, req, "open", ino, ex);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void Read(nint req, ulong ino, nuint size, long off, fuse_file_info* fi)
    {
        var mount = FuseMount.FromRequest(req);
        var pool = mount.ReadBuffers;
        var pooled = (int)size <= pool.BufferSize;
        var buffer = pooled ? pool.Rent() : (byte*)NativeMemory.AlignedAlloc(size, 4096);
        try
        {
            var rc = mount.FileSystem.Read(ino, fi->fh, new Span<byte>(buffer, (int)size), off);
            if (rc < 0) Reply(req, rc);
            else LibFuse.fuse_reply_buf(req, buffer, (nuint)rc);
        }
        catch (Exception ex)
        {
            Failed(mount, req, "read", ino, ex);
        }
        finally
        {
            if (pooled) pool.Return(buffer);
            else NativeMemory.AlignedFree(buffer);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void Write(nint req, ulong ino, byte* buf, nuint size, long off, fuse_file_info* fi)
    {
        var mount = FuseMount.FromRequest(req);
        try
        {
            var rc = mount.FileSystem.Write(ino, fi->fh, new ReadOnlySpan<byte>(buf, (int)size), off);
            if (rc < 0) Reply(req, rc);
            else LibFuse.fuse_reply_write(req, (nuint)rc);
        }
        catch (Exception ex)
        {
            Failed(mount, req, "write", ino, ex);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void Flush(nint req, ulong ino, fuse_file_info* fi)
    {
        var mount = FuseMount.FromRequest(req);
        try
        {
            Reply(req, mount.FileSystem.Flush(ino, fi->fh));
        }
        catch (Exception ex)
        {
            Failed(mount, req, "flush", ino, ex);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void Release(nint req, ulong ino, fuse_file_info* fi)
    {
        var mount = FuseMount.FromRequest(req);
        try
        {
            Reply(req, mount.FileSystem.Release(ino, fi->fh));
        }
        catch (Exception ex)
        {
            Failed(mount, req, "release", ino, ex);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void Fsync(nint req, ulong ino, int datasync, fuse_file_info* fi)
    {
        var mount = FuseMount.FromRequest(req);
        try
        {
            Reply(req, mount.FileSystem.Fsync(ino, fi->fh, datasync != 0));
        }
        catch (Exception ex)
        {
            Failed(mount, req, "fsync", ino, ex);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void Fallocate(nint req, ulong ino, int mode, long offset, long length, fuse_file_info* fi)
    {
        var mount = FuseMount.FromRequest(req);
        try
        {
            Reply(req, mount.FileSystem.Fallocate(ino, fi->fh, mode, offset, length));
        }
        catch (Exception ex)
        {
            Failed(mount, req, "fallocate", ino, ex);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OpenDir(nint req, ulong ino, fuse_file_info* fi)
    {
        var mount = FuseMount.FromRequest(req);
        try
        {
            var rc = mount.FileSystem.ReadDirectory(ino, out var entries);
            if (rc < 0)
            {
                Reply(req, rc);
                return;
            }
            // The listing is taken once per opendir so that paging through it is consistent.
            var listing = GCHandle.Alloc(entries);
            fi->fh = (ulong)GCHandle.ToIntPtr(listing);
            if (LibFuse.fuse_reply_open(req, fi) != 0) listing.Free();
        }
        catch (Exception ex)
        {
            Failed(mount, req, "opendir", ino, ex);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void ReadDir(nint req, ulong ino, nuint size, long off, fuse_file_info* fi)
    {
        var mount = FuseMount.FromRequest(req);
        var buffer = (byte*)NativeMemory.Alloc(size);
        try
        {
            var entries = (IReadOnlyList<FuseDirEntry>)GCHandle.FromIntPtr((nint)fi->fh).Target!;
            nuint used = 0;
            for (var i = (int)off; i < entries.Count; i++)
            {
                var e = entries[i];
                var st = new stat { st_ino = e.Inode, st_mode = e.Mode };
                var name = Encoding.UTF8.GetBytes(e.Name + "\0");
                fixed (byte* n = name)
                {
                    var need = LibFuse.fuse_add_direntry(req, buffer + used, size - used, n, &st, i + 1);
                    if (need > size - used) break;
                    used += need;
                }
            }
            LibFuse.fuse_reply_buf(req, buffer, used);
        }
        catch (Exception ex)
        {
            Failed(mount, req, "readdir", ino, ex);
        }
        finally
        {
            NativeMemory.Free(buffer);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void ReleaseDir(nint req, ulong ino, fuse_file_info* fi)
    {
        var mount = FuseMount.FromRequest(req);
        try
        {
            if (fi->fh != 0) GCHandle.FromIntPtr((nint)fi->fh).Free();
            Reply(req, 0);
        }
        catch (Exception ex)
        {
            Failed(mount, req, "releasedir", ino, ex);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void StatFs(nint req, ulong ino)
    {
        var mount = FuseMount.FromRequest(req);
        try
        {
            var rc = mount.FileSystem.StatFs(out var total, out var free);
            if (rc < 0)
            {
                Reply(req, rc);
                return;
            }
            const ulong bsize = 4096;
            var s = new statvfs
            {
                f_bsize = bsize,
                f_frsize = bsize,
                f_blocks = (ulong)total / bsize,
                f_bfree = (ulong)free / bsize,
                f_bavail = (ulong)free / bsize,
                f_files = 16,
                f_namemax = 255,
            };
            LibFuse.fuse_reply_statfs(req, &s);
        }
        catch (Exception ex)
        {
            Failed(mount, req, "statfs", ino, ex);
        }
    }

    internal static stat ToStat(in FuseAttributes a)
    {
        var secs = (long)(a.MtimeUtc - DateTime.UnixEpoch).TotalSeconds;
        var nsec = (a.MtimeUtc - DateTime.UnixEpoch).Ticks % TimeSpan.TicksPerSecond * 100;
        var t = new timespec { tv_sec = secs, tv_nsec = nsec };
        return new stat
        {
            st_ino = a.Inode,
            st_mode = a.Mode,
            st_nlink = a.Nlink,
            st_uid = a.Uid,
            st_gid = a.Gid,
            st_size = a.Size,
            st_blksize = a.BlockSize,
            st_blocks = (a.Size + 511) / 512,
            st_atim = t,
            st_mtim = t,
            st_ctim = t,
        };
    }
}

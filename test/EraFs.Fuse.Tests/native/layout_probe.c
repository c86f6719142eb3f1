/* Prints the size and field offsets of every libfuse3 / libc struct EraFs.Fuse declares,
 * so the C# declarations are checked against the real headers of this machine. */
#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#define SIZE(t) printf("%s %zu\n", #t, sizeof(struct t))
#define OFF(t, f) printf("%s.%s %zu\n", #t, #f, offsetof(struct t, f))

int main(void)
{
    SIZE(fuse_args); OFF(fuse_args, argc); OFF(fuse_args, argv); OFF(fuse_args, allocated);
    SIZE(fuse_file_info); OFF(fuse_file_info, flags); OFF(fuse_file_info, fh);
    OFF(fuse_file_info, lock_owner); OFF(fuse_file_info, poll_events);
    SIZE(fuse_conn_info); OFF(fuse_conn_info, proto_major); OFF(fuse_conn_info, proto_minor);
    OFF(fuse_conn_info, max_write); OFF(fuse_conn_info, max_read); OFF(fuse_conn_info, max_readahead);
    OFF(fuse_conn_info, capable); OFF(fuse_conn_info, want); OFF(fuse_conn_info, max_background);
    OFF(fuse_conn_info, congestion_threshold); OFF(fuse_conn_info, time_gran);
    SIZE(fuse_entry_param); OFF(fuse_entry_param, ino); OFF(fuse_entry_param, generation);
    OFF(fuse_entry_param, attr); OFF(fuse_entry_param, attr_timeout); OFF(fuse_entry_param, entry_timeout);
    SIZE(fuse_ctx); OFF(fuse_ctx, uid); OFF(fuse_ctx, gid); OFF(fuse_ctx, pid); OFF(fuse_ctx, umask);
    SIZE(fuse_lowlevel_ops); OFF(fuse_lowlevel_ops, init); OFF(fuse_lowlevel_ops, destroy);
    OFF(fuse_lowlevel_ops, lookup); OFF(fuse_lowlevel_ops, getattr); OFF(fuse_lowlevel_ops, setattr);
    OFF(fuse_lowlevel_ops, open); OFF(fuse_lowlevel_ops, read); OFF(fuse_lowlevel_ops, write);
    OFF(fuse_lowlevel_ops, flush); OFF(fuse_lowlevel_ops, release); OFF(fuse_lowlevel_ops, fsync);
    OFF(fuse_lowlevel_ops, opendir); OFF(fuse_lowlevel_ops, readdir); OFF(fuse_lowlevel_ops, releasedir);
    OFF(fuse_lowlevel_ops, statfs); OFF(fuse_lowlevel_ops, fallocate); OFF(fuse_lowlevel_ops, lseek);
    SIZE(stat); OFF(stat, st_dev); OFF(stat, st_ino); OFF(stat, st_nlink); OFF(stat, st_mode);
    OFF(stat, st_uid); OFF(stat, st_gid); OFF(stat, st_rdev); OFF(stat, st_size); OFF(stat, st_blksize);
    OFF(stat, st_blocks); OFF(stat, st_atim); OFF(stat, st_mtim); OFF(stat, st_ctim);
    SIZE(statvfs); OFF(statvfs, f_bsize); OFF(statvfs, f_frsize); OFF(statvfs, f_blocks);
    OFF(statvfs, f_bfree); OFF(statvfs, f_bavail); OFF(statvfs, f_files); OFF(statvfs, f_ffree);
    OFF(statvfs, f_favail); OFF(statvfs, f_namemax);
    SIZE(timespec);
    /* The bitfield word of fuse_file_info: where each flag lands in the 32 bits after 'flags'. */
    struct fuse_file_info fi = {0};
    unsigned int w;
    fi.direct_io = 1; w = *(unsigned int *)((char *)&fi + 4); printf("fuse_file_info.bit.direct_io %u\n", w); fi.direct_io = 0;
    fi.keep_cache = 1; w = *(unsigned int *)((char *)&fi + 4); printf("fuse_file_info.bit.keep_cache %u\n", w); fi.keep_cache = 0;
    fi.nonseekable = 1; w = *(unsigned int *)((char *)&fi + 4); printf("fuse_file_info.bit.nonseekable %u\n", w); fi.nonseekable = 0;
    fi.noflush = 1; w = *(unsigned int *)((char *)&fi + 4); printf("fuse_file_info.bit.noflush %u\n", w);
    return 0;
}

/* Prints the size and field offsets of every struct EraFs.Fuse declares: the kernel's FUSE ABI
 * (linux/fuse.h), the io_uring ABI (linux/io_uring.h) and the two libfuse3 structs it still passes, checked against this machine's headers. */
#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <linux/fuse.h>
#include <linux/io_uring.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/ioctl.h>

#define SIZE(t) printf("%s %zu\n", #t, sizeof(struct t))
#define CONST(c) printf("%s %llu\n", #c, (unsigned long long)(c))
#define OFF(t, f) printf("%s.%s %zu\n", #t, #f, offsetof(struct t, f))

int main(void)
{
    printf("FUSE_KERNEL_VERSION %d\n", FUSE_KERNEL_VERSION);
    printf("FUSE_KERNEL_MINOR_VERSION %d\n", FUSE_KERNEL_MINOR_VERSION);
    SIZE(fuse_args); OFF(fuse_args, argc); OFF(fuse_args, argv); OFF(fuse_args, allocated);
    SIZE(fuse_lowlevel_ops);
    SIZE(fuse_in_header); OFF(fuse_in_header, len); OFF(fuse_in_header, opcode); OFF(fuse_in_header, unique); OFF(fuse_in_header, nodeid); OFF(fuse_in_header, uid); OFF(fuse_in_header, gid); OFF(fuse_in_header, pid); OFF(fuse_in_header, total_extlen); OFF(fuse_in_header, padding);
    SIZE(fuse_out_header); OFF(fuse_out_header, len); OFF(fuse_out_header, error); OFF(fuse_out_header, unique);
    SIZE(fuse_init_in); OFF(fuse_init_in, major); OFF(fuse_init_in, minor); OFF(fuse_init_in, max_readahead); OFF(fuse_init_in, flags); OFF(fuse_init_in, flags2); OFF(fuse_init_in, unused);
    SIZE(fuse_init_out); OFF(fuse_init_out, major); OFF(fuse_init_out, minor); OFF(fuse_init_out, max_readahead); OFF(fuse_init_out, flags); OFF(fuse_init_out, max_background); OFF(fuse_init_out, congestion_threshold); OFF(fuse_init_out, max_write); OFF(fuse_init_out, time_gran); OFF(fuse_init_out, max_pages); OFF(fuse_init_out, map_alignment); OFF(fuse_init_out, flags2); OFF(fuse_init_out, unused);
    SIZE(fuse_attr); OFF(fuse_attr, ino); OFF(fuse_attr, size); OFF(fuse_attr, blocks); OFF(fuse_attr, atime); OFF(fuse_attr, mtime); OFF(fuse_attr, ctime); OFF(fuse_attr, atimensec); OFF(fuse_attr, mtimensec); OFF(fuse_attr, ctimensec); OFF(fuse_attr, mode); OFF(fuse_attr, nlink); OFF(fuse_attr, uid); OFF(fuse_attr, gid); OFF(fuse_attr, rdev); OFF(fuse_attr, blksize); OFF(fuse_attr, flags);
    SIZE(fuse_entry_out); OFF(fuse_entry_out, nodeid); OFF(fuse_entry_out, generation); OFF(fuse_entry_out, entry_valid); OFF(fuse_entry_out, attr_valid); OFF(fuse_entry_out, entry_valid_nsec); OFF(fuse_entry_out, attr_valid_nsec); OFF(fuse_entry_out, attr);
    SIZE(fuse_getattr_in); OFF(fuse_getattr_in, getattr_flags); OFF(fuse_getattr_in, dummy); OFF(fuse_getattr_in, fh);
    SIZE(fuse_attr_out); OFF(fuse_attr_out, attr_valid); OFF(fuse_attr_out, attr_valid_nsec); OFF(fuse_attr_out, dummy); OFF(fuse_attr_out, attr);
    SIZE(fuse_setattr_in); OFF(fuse_setattr_in, valid); OFF(fuse_setattr_in, padding); OFF(fuse_setattr_in, fh); OFF(fuse_setattr_in, size); OFF(fuse_setattr_in, lock_owner); OFF(fuse_setattr_in, atime); OFF(fuse_setattr_in, mtime); OFF(fuse_setattr_in, ctime); OFF(fuse_setattr_in, atimensec); OFF(fuse_setattr_in, mtimensec); OFF(fuse_setattr_in, ctimensec); OFF(fuse_setattr_in, mode); OFF(fuse_setattr_in, unused4); OFF(fuse_setattr_in, uid); OFF(fuse_setattr_in, gid); OFF(fuse_setattr_in, unused5);
    SIZE(fuse_open_in); OFF(fuse_open_in, flags); OFF(fuse_open_in, open_flags);
    SIZE(fuse_open_out); OFF(fuse_open_out, fh); OFF(fuse_open_out, open_flags); OFF(fuse_open_out, padding);
    SIZE(fuse_release_in); OFF(fuse_release_in, fh); OFF(fuse_release_in, flags); OFF(fuse_release_in, release_flags); OFF(fuse_release_in, lock_owner);
    SIZE(fuse_flush_in); OFF(fuse_flush_in, fh); OFF(fuse_flush_in, unused); OFF(fuse_flush_in, padding); OFF(fuse_flush_in, lock_owner);
    SIZE(fuse_read_in); OFF(fuse_read_in, fh); OFF(fuse_read_in, offset); OFF(fuse_read_in, size); OFF(fuse_read_in, read_flags); OFF(fuse_read_in, lock_owner); OFF(fuse_read_in, flags); OFF(fuse_read_in, padding);
    SIZE(fuse_write_in); OFF(fuse_write_in, fh); OFF(fuse_write_in, offset); OFF(fuse_write_in, size); OFF(fuse_write_in, write_flags); OFF(fuse_write_in, lock_owner); OFF(fuse_write_in, flags); OFF(fuse_write_in, padding);
    SIZE(fuse_write_out); OFF(fuse_write_out, size); OFF(fuse_write_out, padding);
    SIZE(fuse_fsync_in); OFF(fuse_fsync_in, fh); OFF(fuse_fsync_in, fsync_flags); OFF(fuse_fsync_in, padding);
    SIZE(fuse_fallocate_in); OFF(fuse_fallocate_in, fh); OFF(fuse_fallocate_in, offset); OFF(fuse_fallocate_in, length); OFF(fuse_fallocate_in, mode); OFF(fuse_fallocate_in, padding);
    SIZE(fuse_forget_one); OFF(fuse_forget_one, nodeid); OFF(fuse_forget_one, nlookup);
    SIZE(fuse_batch_forget_in); OFF(fuse_batch_forget_in, count); OFF(fuse_batch_forget_in, dummy);
    SIZE(fuse_interrupt_in); OFF(fuse_interrupt_in, unique);
    SIZE(fuse_kstatfs); OFF(fuse_kstatfs, blocks); OFF(fuse_kstatfs, bfree); OFF(fuse_kstatfs, bavail); OFF(fuse_kstatfs, files); OFF(fuse_kstatfs, ffree); OFF(fuse_kstatfs, bsize); OFF(fuse_kstatfs, namelen); OFF(fuse_kstatfs, frsize); OFF(fuse_kstatfs, padding); OFF(fuse_kstatfs, spare);
    SIZE(fuse_dirent); OFF(fuse_dirent, ino); OFF(fuse_dirent, off); OFF(fuse_dirent, namelen); OFF(fuse_dirent, type);
#ifdef FUSE_URING_IN_OUT_HEADER_SZ
    SIZE(fuse_uring_ent_in_out); OFF(fuse_uring_ent_in_out, flags); OFF(fuse_uring_ent_in_out, commit_id);
    OFF(fuse_uring_ent_in_out, payload_sz); OFF(fuse_uring_ent_in_out, padding); OFF(fuse_uring_ent_in_out, reserved);
    SIZE(fuse_uring_req_header); OFF(fuse_uring_req_header, in_out); OFF(fuse_uring_req_header, op_in);
    OFF(fuse_uring_req_header, ring_ent_in_out);
    SIZE(fuse_uring_cmd_req); OFF(fuse_uring_cmd_req, flags); OFF(fuse_uring_cmd_req, commit_id);
    OFF(fuse_uring_cmd_req, qid); OFF(fuse_uring_cmd_req, padding);
#endif
/* The io_uring ABI the FUSE ring is driven through. */
    SIZE(io_uring_sqe); OFF(io_uring_sqe, opcode); OFF(io_uring_sqe, flags); OFF(io_uring_sqe, ioprio); OFF(io_uring_sqe, fd); OFF(io_uring_sqe, cmd_op); OFF(io_uring_sqe, addr); OFF(io_uring_sqe, len); OFF(io_uring_sqe, uring_cmd_flags); OFF(io_uring_sqe, user_data); OFF(io_uring_sqe, buf_index); OFF(io_uring_sqe, personality); OFF(io_uring_sqe, splice_fd_in); OFF(io_uring_sqe, cmd);
    SIZE(io_uring_cqe); OFF(io_uring_cqe, user_data); OFF(io_uring_cqe, res); OFF(io_uring_cqe, flags);
    SIZE(io_sqring_offsets); OFF(io_sqring_offsets, head); OFF(io_sqring_offsets, tail); OFF(io_sqring_offsets, ring_mask); OFF(io_sqring_offsets, ring_entries); OFF(io_sqring_offsets, flags); OFF(io_sqring_offsets, dropped); OFF(io_sqring_offsets, array); OFF(io_sqring_offsets, resv1); OFF(io_sqring_offsets, resv2);
    SIZE(io_cqring_offsets); OFF(io_cqring_offsets, head); OFF(io_cqring_offsets, tail); OFF(io_cqring_offsets, ring_mask); OFF(io_cqring_offsets, ring_entries); OFF(io_cqring_offsets, overflow); OFF(io_cqring_offsets, cqes); OFF(io_cqring_offsets, flags); OFF(io_cqring_offsets, resv1); OFF(io_cqring_offsets, resv2);
    SIZE(io_uring_params); OFF(io_uring_params, sq_entries); OFF(io_uring_params, cq_entries); OFF(io_uring_params, flags); OFF(io_uring_params, sq_thread_cpu); OFF(io_uring_params, sq_thread_idle); OFF(io_uring_params, features); OFF(io_uring_params, wq_fd); OFF(io_uring_params, resv); OFF(io_uring_params, sq_off); OFF(io_uring_params, cq_off);
    SIZE(io_uring_getevents_arg); OFF(io_uring_getevents_arg, sigmask); OFF(io_uring_getevents_arg, sigmask_sz); OFF(io_uring_getevents_arg, pad); OFF(io_uring_getevents_arg, ts);
    SIZE(__kernel_timespec); OFF(__kernel_timespec, tv_sec); OFF(__kernel_timespec, tv_nsec);
    CONST(IORING_OP_URING_CMD);
/* Opcodes and flags by name; a flag newer than this header (FUSE_OVER_IO_URING on 7.38) is not printed. */
    CONST(FUSE_LOOKUP);
    CONST(FUSE_FORGET);
    CONST(FUSE_GETATTR);
    CONST(FUSE_SETATTR);
    CONST(FUSE_OPEN);
    CONST(FUSE_READ);
    CONST(FUSE_WRITE);
    CONST(FUSE_STATFS);
    CONST(FUSE_RELEASE);
    CONST(FUSE_FSYNC);
    CONST(FUSE_FLUSH);
    CONST(FUSE_INIT);
    CONST(FUSE_OPENDIR);
    CONST(FUSE_READDIR);
    CONST(FUSE_RELEASEDIR);
    CONST(FUSE_INTERRUPT);
    CONST(FUSE_DESTROY);
    CONST(FUSE_BATCH_FORGET);
    CONST(FUSE_FALLOCATE);
#ifdef FUSE_ROOT_ID
    CONST(FUSE_ROOT_ID);
#endif
#ifdef FUSE_MIN_READ_BUFFER
    CONST(FUSE_MIN_READ_BUFFER);
#endif
#ifdef FUSE_ASYNC_READ
    CONST(FUSE_ASYNC_READ);
#endif
#ifdef FUSE_ATOMIC_O_TRUNC
    CONST(FUSE_ATOMIC_O_TRUNC);
#endif
#ifdef FUSE_BIG_WRITES
    CONST(FUSE_BIG_WRITES);
#endif
#ifdef FUSE_AUTO_INVAL_DATA
    CONST(FUSE_AUTO_INVAL_DATA);
#endif
#ifdef FUSE_ASYNC_DIO
    CONST(FUSE_ASYNC_DIO);
#endif
#ifdef FUSE_PARALLEL_DIROPS
    CONST(FUSE_PARALLEL_DIROPS);
#endif
#ifdef FUSE_MAX_PAGES
    CONST(FUSE_MAX_PAGES);
#endif
#ifdef FUSE_INIT_EXT
    CONST(FUSE_INIT_EXT);
#endif
#ifdef FUSE_OVER_IO_URING
    CONST(FUSE_OVER_IO_URING);
#endif
#ifdef FOPEN_DIRECT_IO
    CONST(FOPEN_DIRECT_IO);
#endif
#ifdef FOPEN_KEEP_CACHE
    CONST(FOPEN_KEEP_CACHE);
#endif
#ifdef FOPEN_NONSEEKABLE
    CONST(FOPEN_NONSEEKABLE);
#endif
#ifdef FUSE_FSYNC_FDATASYNC
    CONST(FUSE_FSYNC_FDATASYNC);
#endif
#ifdef FUSE_DEV_IOC_CLONE
    CONST(FUSE_DEV_IOC_CLONE);
#endif
    return 0;
}

/*
 * Minimal libfuse3 high-level daemon exposing one image as MOUNT/disk.
 * It is the "what does a FUSE daemon written in C cost" baseline of bench/run,
 * so it deliberately does nothing but pread/pwrite on a single fd.
 *
 * usage: passthrough IMAGE MOUNTPOINT [fuse options]   (always foreground, -f)
 */
#define FUSE_USE_VERSION 31
#define _GNU_SOURCE
#include <fuse.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *file_name = "disk";
static int image_fd = -1;
static off_t image_size;

static void *pt_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	/* Attributes never change behind the kernel's back, so let it keep them. */
	cfg->entry_timeout = 3600;
	cfg->attr_timeout = 3600;
	cfg->negative_timeout = 3600;
	/* Pinned rather than left to libfuse's default so the baseline is the same 1 MiB
	 * request size EraFs negotiates, whatever libfuse version builds this. */
	conn->max_write = 1024 * 1024;
	/* Reads are delivered through the loop device's own cache; keep the FUSE layer
	 * write-through like EraFs so both measure the same request stream. */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	return NULL;
}

static int pt_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	(void)fi;
	memset(st, 0, sizeof(*st));
	if (strcmp(path, "/") == 0) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return 0;
	}
	if (path[0] == '/' && strcmp(path + 1, file_name) == 0) {
		st->st_mode = S_IFREG | 0600;
		st->st_nlink = 1;
		st->st_size = image_size;
		st->st_blocks = image_size / 512;
		st->st_uid = getuid();
		st->st_gid = getgid();
		return 0;
	}
	return -ENOENT;
}

static int pt_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
		      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	(void)off; (void)fi; (void)flags;
	if (strcmp(path, "/") != 0)
		return -ENOENT;
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	fill(buf, file_name, NULL, 0, 0);
	return 0;
}

static int pt_open(const char *path, struct fuse_file_info *fi)
{
	if (path[0] != '/' || strcmp(path + 1, file_name) != 0)
		return -ENOENT;
	(void)fi;
	return 0;
}

static int pt_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)path; (void)fi;
	size_t done = 0;
	while (done < size) {
		ssize_t n = pread(image_fd, buf + done, size - done, off + done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		done += n;
	}
	return (int)done;
}

static int pt_write(const char *path, const char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)path; (void)fi;
	if (off >= image_size)
		return -ENOSPC;
	if ((off_t)(off + size) > image_size)
		size = image_size - off;
	size_t done = 0;
	while (done < size) {
		ssize_t n = pwrite(image_fd, buf + done, size - done, off + done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += n;
	}
	return (int)done;
}

static int pt_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)path; (void)fi;
	return (datasync ? fdatasync(image_fd) : fsync(image_fd)) < 0 ? -errno : 0;
}

/* A block device cannot change size; refusing keeps the loop device geometry honest. */
static int pt_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	(void)path; (void)fi;
	return size == image_size ? 0 : -EPERM;
}

static const struct fuse_operations pt_ops = {
	.init = pt_init,
	.getattr = pt_getattr,
	.readdir = pt_readdir,
	.open = pt_open,
	.read = pt_read,
	.write = pt_write,
	.fsync = pt_fsync,
	.truncate = pt_truncate,
};

int main(int argc, char *argv[])
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s IMAGE MOUNTPOINT [fuse options]\n", argv[0]);
		return 2;
	}
	image_fd = open(argv[1], O_RDWR);
	if (image_fd < 0) {
		perror(argv[1]);
		return 1;
	}
	struct stat st;
	if (fstat(image_fd, &st) < 0) {
		perror("fstat");
		return 1;
	}
	image_size = st.st_size;

	/* fuse_main wants: prog MOUNTPOINT -f [extra...]; drop IMAGE from argv. */
	char **fargv = calloc(argc + 2, sizeof(char *));
	int fargc = 0;
	fargv[fargc++] = argv[0];
	fargv[fargc++] = argv[2];
	fargv[fargc++] = "-f";
	for (int i = 3; i < argc; i++)
		fargv[fargc++] = argv[i];
	return fuse_main(fargc, fargv, &pt_ops, NULL);
}

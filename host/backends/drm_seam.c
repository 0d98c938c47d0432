/* SPDX-License-Identifier: MIT */
/*
 * drm_seam.c - the libc implementation of the drm seam and the test override.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "drm_seam.h"

static int libc_open(void *cookie, const char *path, int flags)
{
	int fd;

	(void)cookie;
	fd = open(path, flags | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int libc_ioctl(void *cookie, int fd, unsigned long request, void *arg)
{
	int ret;

	(void)cookie;
	/* As libdrm's drmIoctl: a signal or a busy GPU restarts the same request. */
	do {
		ret = ioctl(fd, request, arg);
	} while (ret == -1 && (errno == EINTR || errno == EAGAIN));
	return ret == -1 ? -errno : 0;
}

static void *libc_mmap(void *cookie, size_t len, int prot, int flags, int fd, off_t offset,
		       int *err)
{
	void *p;

	(void)cookie;
	p = mmap(NULL, len, prot, flags, fd, offset);
	if (p == MAP_FAILED) {
		*err = -errno;
		return NULL;
	}
	return p;
}

static int libc_munmap(void *cookie, void *addr, size_t len)
{
	(void)cookie;
	return munmap(addr, len) ? -errno : 0;
}

static int libc_close(void *cookie, int fd)
{
	(void)cookie;
	return close(fd) ? -errno : 0;
}

static const struct drm_seam libc_seam = {
    .open = libc_open,
    .ioctl = libc_ioctl,
    .mmap = libc_mmap,
    .munmap = libc_munmap,
    .close = libc_close,
};

static const struct drm_seam *installed;

const struct drm_seam *drm_seam_get(void)
{
	return installed ? installed : &libc_seam;
}

void drm_seam_set(const struct drm_seam *s)
{
	installed = s;
}

void drm_seam_logf(const struct drm_seam *s, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (s->log)
		s->log(s->cookie, buf);
	else
		fprintf(stderr, "viova-host: %s\n", buf);
}

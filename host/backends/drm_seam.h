/* SPDX-License-Identifier: MIT */
/*
 * drm_seam.h - the five system calls the msm and i915 backends make (open, ioctl, mmap, munmap,
 * close), behind a small ops struct, plus the place their refusal messages go.
 *
 * The real calls (libc) are the default. Tests install an in-process emulation of a kernel
 * driver with drm_seam_set(); every backend created afterwards uses it. Nothing else in a
 * backend touches a file descriptor directly, so the emulator sees every request the backend
 * would send to the kernel.
 */
#ifndef VIOVA_DRM_SEAM_H
#define VIOVA_DRM_SEAM_H

#include <stddef.h>
#include <sys/types.h>

struct drm_seam {
	void *cookie;
	/* Returns an fd or a negative errno. */
	int (*open)(void *cookie, const char *path, int flags);
	/* Returns 0 or a negative errno; EINTR/EAGAIN are retried by the libc version. */
	int (*ioctl)(void *cookie, int fd, unsigned long request, void *arg);
	/* Returns the mapping or NULL with *err set to a negative errno. */
	void *(*mmap)(void *cookie, size_t len, int prot, int flags, int fd, off_t offset,
		      int *err);
	int (*munmap)(void *cookie, void *addr, size_t len);
	int (*close)(void *cookie, int fd);
	/* One line saying why a device was refused (NULL: stderr). */
	void (*log)(void *cookie, const char *msg);
};

/* The seam in use: the one installed by drm_seam_set(), else libc. Never NULL. */
const struct drm_seam *drm_seam_get(void);

/* Install s for backends created from now on (NULL: back to libc). Not thread safe: tests only. */
void drm_seam_set(const struct drm_seam *s);

/* printf-style message through seam->log (or stderr). */
void drm_seam_logf(const struct drm_seam *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* VIOVA_DRM_SEAM_H */

// SPDX-License-Identifier: MIT
/*
 * Guest smoke test for the VM pipeline: opens the render node and checks, through libdrm, that
 * the kernel driver behind it is virtio_gpu. It exists to prove that build-initramfs.sh carries
 * a dynamically linked guest binary and its libraries (libdrm, libc, the loader) into the guest;
 * the real viova guest tests replace it once the guest library has a virtgpu transport.
 *
 * usage: drm_probe [NODE] (default /dev/dri/renderD128); exit 0 when the driver is virtio_gpu.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <xf86drm.h>

int main(int argc, char **argv)
{
	const char *node = argc > 1 ? argv[1] : "/dev/dri/renderD128";
	drmVersionPtr ver;
	int fd, ok;

	fd = open(node, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "drm_probe: open %s: %s (is virtio-gpu loaded?)\n", node,
			strerror(errno));
		return 1;
	}
	ver = drmGetVersion(fd);
	if (!ver) {
		fprintf(stderr, "drm_probe: DRM_IOCTL_VERSION on %s failed: %s\n", node,
			strerror(errno));
		close(fd);
		return 1;
	}
	ok = strcmp(ver->name, "virtio_gpu") == 0;
	printf("drm_probe: %s driver=%s %d.%d.%d (%s)\n", node, ver->name, ver->version_major,
	       ver->version_minor, ver->version_patchlevel, ver->desc);
	if (!ok)
		fprintf(stderr, "drm_probe: driver of %s is '%s', expected virtio_gpu\n", node,
			ver->name);
	drmFreeVersion(ver);
	close(fd);
	return ok ? 0 : 1;
}

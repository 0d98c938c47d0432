/* SPDX-License-Identifier: MIT */
/*
 * transport_virtgpu.c - the virtio-gpu transport: viova batches as SUBMIT_3D payloads through a
 * DRM render node (virtgpu:/dev/dri/renderDN), the response area in a guest-memory-backed 3D
 * resource the host reads and writes directly.
 *
 * DOC: open sequence
 *
 *   drmGetVersion            driver must be "virtio_gpu"
 *   GETPARAM 3D_FEATURES     EXECBUFFER needs the VIRGL feature (the host offers it)
 *   GET_CAPS 30 v1           struct viova_capset, wire major checked
 *   GETPARAM CONTEXT_INIT    1 -> CONTEXT_INIT {CAPSET_ID = 30}; EINVAL (a kernel that
 *                                 cannot select the id) -> the default context, as below
 *                            0 -> the kernel's default context (context_init 0): stock QEMU's
 *                                 vhost-user-gpu forwards no CONTEXT_INIT, the host treats 0
 *                                 as viova
 *   RESOURCE_CREATE          PIPE_BUFFER of area_size bytes; the kernel attaches shmem backing
 *                            and attaches it to our context -> res_handle = RESP_INIT res_id
 *   MAP + mmap               the response area
 *
 * DOC: why waiting polls the response area
 *
 * There is no futex shared with the host here and the host sends nothing back but fence
 * completions. Fences only say "this SUBMIT_3D was processed"; job completions of the sim/real
 * GPU and faults land in the response area later, with no virtio event at all. So wait() polls
 * the area. While the last EXECBUFFER's out fence is pending, wait() sleeps in poll() on that
 * fence: the host answers a fenced SUBMIT_3D only after processing it, so the wake-up comes
 * exactly when the batch's seqnos are published (a SYNC round trip costs one fence, no
 * sleep granularity). Once that fence has signalled, wait() polls
 * the area with exponential backoff (VG_POLL_MIN_NS doubling to VG_POLL_MAX_NS) and returns
 * after at most VG_WAIT_CHUNK_NS even without a change: a spurious wake-up, which guest_wait()
 * allows, so that conditions the progress value does not cover (per-context fences) are
 * re-read at least every millisecond or so. The out fence of each EXECBUFFER is kept: the next
 * send() first waits for it (bounded by the open timeout), which keeps at most one batch
 * queued in the kernel and turns a stuck host into -ETIMEDOUT instead of an unbounded queue.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <xf86drm.h>
/* The kernel's uapi header (linux-libc-dev >= 5.16): libdrm's copy lacks CONTEXT_INIT. */
#include <drm/virtgpu_drm.h>

#include "guest_priv.h"

#define VG_PIPE_BUFFER 0	  /* gallium pipe_texture_target */
#define VG_FORMAT_R8_UNORM 64	  /* virgl format: a byte buffer */
#define VG_BIND_CUSTOM (1u << 17) /* virgl bind: opaque to virgl */
#define VG_POLL_MIN_NS 2000ull
#define VG_POLL_MAX_NS 1000000ull
#define VG_WAIT_CHUNK_NS 2000000ull
#define VG_MAX_MESSAGE (1u << 20)

struct vg_transport {
	struct guest_transport base;
	int fd;
	uint32_t res_handle; /* GEM handle of the response resource */
	uint32_t res_id;     /* host resource id */
	void *map;
	size_t map_size;
	uint64_t timeout_ns;
	pthread_mutex_t lock; /* serialises send(): the pending fence */
	int fence_fd;	      /* out fence of the last EXECBUFFER, -1 none */
	char why[160];	      /* why the device is considered gone */
};

static struct vg_transport *vt_of(struct guest_transport *t)
{
	return (struct vg_transport *)t;
}

static int vg_getparam(int fd, uint64_t param, uint64_t *value)
{
	int v = 0;
	struct drm_virtgpu_getparam gp = {.param = param, .value = (uint64_t)(uintptr_t)&v};

	if (drmIoctl(fd, DRM_IOCTL_VIRTGPU_GETPARAM, &gp))
		return -errno;
	*value = (uint64_t)(unsigned int)v;
	return 0;
}

static int vg_check_driver(int fd, const char *path)
{
	drmVersionPtr v = drmGetVersion(fd);
	int ok;

	if (!v)
		return guest_err(-ENODEV, "virtgpu: %s: drmGetVersion failed: not a DRM device?",
				 path);
	ok = v->name && strcmp(v->name, "virtio_gpu") == 0;
	if (!ok)
		guest_err(-ENODEV,
			  "virtgpu: %s is driven by \"%s\", not virtio_gpu: name the virtio-gpu "
			  "render node (ls -l /sys/class/drm/renderD*/device/driver)",
			  path, v->name ? v->name : "?");
	drmFreeVersion(v);
	return ok ? 0 : -ENODEV;
}

static int vg_caps(int fd, const char *path, struct viova_capset *caps)
{
	struct drm_virtgpu_get_caps gc = {
	    .cap_set_id = VIOVA_CAPSET_ID,
	    .cap_set_ver = VIOVA_CAPSET_VERSION,
	    .addr = (uint64_t)(uintptr_t)caps,
	    .size = sizeof(*caps),
	};
	uint64_t v = 0;

	if (vg_getparam(fd, VIRTGPU_PARAM_3D_FEATURES, &v) || !v)
		return guest_err(-EOPNOTSUPP,
				 "virtgpu: %s: the device has no 3D feature (VIRTIO_GPU_F_VIRGL): "
				 "is the GPU a viova-host vhost-user-gpu back-end?",
				 path);
	memset(caps, 0, sizeof(*caps));
	if (drmIoctl(fd, DRM_IOCTL_VIRTGPU_GET_CAPS, &gc))
		return guest_err(-EOPNOTSUPP,
				 "virtgpu: %s: GET_CAPS capset %u version %u: %s: the device "
				 "does not offer the viova capset (is its back-end viova-host?)",
				 path, VIOVA_CAPSET_ID, VIOVA_CAPSET_VERSION, strerror(errno));
	if (caps->wire_major != VIOVA_WIRE_MAJOR)
		return guest_err(-EPROTONOSUPPORT,
				 "virtgpu: the host's capset announces viova wire %u.%u, this "
				 "library speaks %u.%u: refusing it (majors must match)",
				 caps->wire_major, caps->wire_minor, VIOVA_WIRE_MAJOR,
				 VIOVA_WIRE_MINOR);
	return 0;
}

/* CONTEXT_INIT when offered; otherwise the kernel creates the default context on first use. */
static int vg_context(int fd, const char *path)
{
	struct drm_virtgpu_context_set_param cp = {
	    .param = VIRTGPU_CONTEXT_PARAM_CAPSET_ID,
	    .value = VIOVA_CAPSET_ID,
	};
	struct drm_virtgpu_context_init ci = {
	    .num_params = 1,
	    .ctx_set_params = (uint64_t)(uintptr_t)&cp,
	};
	uint64_t v = 0;

	if (vg_getparam(fd, VIRTGPU_PARAM_CONTEXT_INIT, &v) || !v)
		return 0;
	if (!drmIoctl(fd, DRM_IOCTL_VIRTGPU_CONTEXT_INIT, &ci))
		return 0;
	/*
	 * EINVAL although GET_CAPS found the capset: a kernel whose mask of supported capsets does
	 * not have our id (a wrong-width shift, docs/protocol.md "Why capset id 30"). CONTEXT_INIT
	 * created nothing; the default context (context_init 0) is served as viova all the same.
	 */
	if (errno == EINVAL)
		return 0;
	return guest_err(errno == EEXIST ? -EBUSY : -errno,
			 "virtgpu: %s: CONTEXT_INIT capset %u: %s%s", path, VIOVA_CAPSET_ID,
			 strerror(errno),
			 errno == EEXIST ? ": this fd already has a context; open the "
					   "device once per process"
					 : "");
}

static int vg_area(struct vg_transport *v, const char *path, uint32_t size)
{
	struct drm_virtgpu_resource_create rc = {
	    .target = VG_PIPE_BUFFER,
	    .format = VG_FORMAT_R8_UNORM,
	    .bind = VG_BIND_CUSTOM,
	    .width = size,
	    .height = 1,
	    .depth = 1,
	    .array_size = 1,
	    .size = size,
	};
	struct drm_virtgpu_map m = {0};
	void *p;

	if (drmIoctl(v->fd, DRM_IOCTL_VIRTGPU_RESOURCE_CREATE, &rc))
		return guest_err(-errno, "virtgpu: %s: RESOURCE_CREATE of %" PRIu32 " bytes: %s",
				 path, size, strerror(errno));
	v->res_handle = rc.bo_handle;
	v->res_id = rc.res_handle;
	m.handle = rc.bo_handle;
	if (drmIoctl(v->fd, DRM_IOCTL_VIRTGPU_MAP, &m))
		return guest_err(-errno, "virtgpu: %s: MAP of resource %" PRIu32 ": %s", path,
				 v->res_id, strerror(errno));
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, (off_t)m.offset);
	if (p == MAP_FAILED)
		return guest_err(
		    -errno, "virtgpu: %s: mmap of resource %" PRIu32 " (%" PRIu32 " bytes): %s",
		    path, v->res_id, size, strerror(errno));
	v->map = p;
	v->map_size = size;
	/* The host maps the backing at RESP_INIT and initialises it; start from zeroes. */
	memset(p, 0, size);
	return 0;
}

/*
 * No GEM_CLOSE: after fork the DRM file (and so the handle) is shared with other processes,
 * and closing the handle here would pull the response resource from under them. The kernel
 * releases handles, the context and the resource when the last process closes the file.
 */
static void vg_free(struct vg_transport *v)
{
	if (v->fence_fd >= 0)
		close(v->fence_fd);
	if (v->map)
		munmap(v->map, v->map_size);
	if (v->fd >= 0)
		close(v->fd);
	pthread_mutex_destroy(&v->lock);
	free(v);
}

static int vg_open(const char *target, const struct guest_transport_params *p,
		   struct guest_transport **out, struct guest_transport_info *info)
{
	struct vg_transport *v;
	int ret;

	v = calloc(1, sizeof(*v));
	if (!v)
		return guest_err(-ENOMEM, "virtgpu transport: out of memory");
	v->base.ops = &guest_transport_virtgpu;
	v->fence_fd = -1;
	v->timeout_ns = p->timeout_ns;
	pthread_mutex_init(&v->lock, NULL);
	v->fd = open(target, O_RDWR | O_CLOEXEC);
	if (v->fd < 0) {
		ret = guest_err(-errno,
				"virtgpu: cannot open %s: %s: name a virtio-gpu render node, "
				"e.g. virtgpu:/dev/dri/renderD128",
				target, strerror(errno));
		goto fail;
	}
	ret = vg_check_driver(v->fd, target);
	if (!ret)
		ret = vg_caps(v->fd, target, &info->caps);
	if (!ret)
		ret = vg_context(v->fd, target);
	if (!ret)
		ret = vg_area(v, target, p->area_size);
	if (ret)
		goto fail;
	info->area = v->map;
	info->res_id = v->res_id;
	info->max_message = VG_MAX_MESSAGE;
	*out = &v->base;
	return 0;
fail:
	vg_free(v);
	return ret;
}

static void vg_close(struct guest_transport *t)
{
	vg_free(vt_of(t));
}

/* Wait for fd to signal; 0, -ETIMEDOUT or -EIO. */
static int vg_fence_wait(int fd, uint64_t timeout_ns)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	uint64_t ms = (timeout_ns + 999999) / 1000000;
	int r;

	do {
		r = poll(&pfd, 1, ms > 0x7fffffff ? 0x7fffffff : (int)ms);
	} while (r < 0 && errno == EINTR);
	if (r == 0)
		return -ETIMEDOUT;
	if (r < 0 || (pfd.revents & (POLLERR | POLLNVAL)))
		return -EIO;
	return 0;
}

static int vg_send(struct guest_transport *t, const void *batch, size_t len)
{
	struct vg_transport *v = vt_of(t);
	struct drm_virtgpu_execbuffer eb = {
	    .flags = VIRTGPU_EXECBUF_FENCE_FD_OUT,
	    .size = (uint32_t)len,
	    .command = (uint64_t)(uintptr_t)batch,
	    .bo_handles = (uint64_t)(uintptr_t)&v->res_handle,
	    .num_bo_handles = 1,
	    .fence_fd = -1,
	};
	int ret = 0;

	if (len > VG_MAX_MESSAGE)
		return -EMSGSIZE;
	pthread_mutex_lock(&v->lock);
	if (v->fence_fd >= 0) {
		ret = vg_fence_wait(v->fence_fd, v->timeout_ns);
		if (ret == -EIO) {
			snprintf(v->why, sizeof(v->why),
				 "the out fence of the last SUBMIT_3D reported an error");
			ret = -ENODEV;
		}
		if (ret)
			goto out;
		close(v->fence_fd);
		v->fence_fd = -1;
	}
	if (drmIoctl(v->fd, DRM_IOCTL_VIRTGPU_EXECBUFFER, &eb)) {
		if (errno == ENOMEM || errno == E2BIG)
			ret = -EMSGSIZE;
		else {
			snprintf(v->why, sizeof(v->why), "EXECBUFFER of %zu bytes failed: %s", len,
				 strerror(errno));
			ret = -ENODEV;
		}
		goto out;
	}
	v->fence_fd = eb.fence_fd;
out:
	pthread_mutex_unlock(&v->lock);
	return ret;
}

/* Everything the host bumps in the area header: batches, seqnos, error records. */
static uint32_t vg_progress(struct guest_transport *t)
{
	const struct viova_resp_area *a = vt_of(t)->map;

	return (uint32_t)__atomic_load_n(&a->processed_seqno, __ATOMIC_ACQUIRE) +
	       (uint32_t)__atomic_load_n(&a->batches, __ATOMIC_ACQUIRE) * 0x9e3779b1u +
	       __atomic_load_n(&a->err_head, __ATOMIC_ACQUIRE) * 0x85ebca6bu;
}

static uint64_t vg_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A duplicate of the last EXECBUFFER's out fence if one is kept, else -1 (send may close it). */
static int vg_dup_fence(struct vg_transport *v)
{
	int fd = -1;

	pthread_mutex_lock(&v->lock);
	if (v->fence_fd >= 0)
		fd = fcntl(v->fence_fd, F_DUPFD_CLOEXEC, 0);
	pthread_mutex_unlock(&v->lock);
	return fd;
}

/* Sleep in poll() on the pending out fence for at most ns: true if it has signalled. */
static bool vg_sleep_on_fence(struct vg_transport *v, uint64_t ns)
{
	int fd = vg_dup_fence(v);
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000ull),
			      .tv_nsec = (long)(ns % 1000000000ull)};
	int r;

	if (fd < 0)
		return true;
	r = ppoll(&pfd, 1, &ts, NULL);
	close(fd);
	/* An error on the fence counts as signalled: send() reports it on the next batch. */
	return r != 0;
}

static int vg_wait(struct guest_transport *t, uint32_t seen, uint64_t timeout_ns)
{
	uint64_t start = vg_now(), step = VG_POLL_MIN_NS, now, left;
	bool fence_done = false;
	struct timespec ts;

	for (;;) {
		if (vg_progress(t) != seen)
			return 0;
		now = vg_now();
		if (now - start >= timeout_ns)
			return -ETIMEDOUT;
		/* A spurious wake-up: let the caller re-read the conditions progress misses. */
		if (now - start >= VG_WAIT_CHUNK_NS)
			return 0;
		left = timeout_ns - (now - start);
		if (!fence_done) {
			uint64_t chunk = VG_WAIT_CHUNK_NS - (now - start);

			fence_done = vg_sleep_on_fence(vt_of(t), chunk < left ? chunk : left);
			continue;
		}
		if (step > left)
			step = left;
		ts.tv_sec = (time_t)(step / 1000000000ull);
		ts.tv_nsec = (long)(step % 1000000000ull);
		nanosleep(&ts, NULL);
		if (step < VG_POLL_MAX_NS)
			step *= 2;
	}
}

/* A DRM device does not hang up; the transport is gone only once a fence or ioctl failed. */
static int vg_alive(struct guest_transport *t, char *why, size_t why_len)
{
	struct vg_transport *v = vt_of(t);
	int ret = 0;

	pthread_mutex_lock(&v->lock);
	if (v->why[0]) {
		snprintf(why, why_len, "virtgpu: %s", v->why);
		ret = -ENODEV;
	}
	pthread_mutex_unlock(&v->lock);
	return ret;
}

const struct guest_transport_ops guest_transport_virtgpu = {
    .scheme = "virtgpu",
    .open = vg_open,
    .close = vg_close,
    .send = vg_send,
    .progress = vg_progress,
    .wait = vg_wait,
    .alive = vg_alive,
};

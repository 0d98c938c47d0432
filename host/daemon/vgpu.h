/* SPDX-License-Identifier: MIT */
/*
 * vgpu.h - the virtio-gpu device model of viova-host's vhost-user-gpu back-end: one control (or
 * cursor) queue element in, one virtio-gpu response out, SUBMIT_3D payloads handed to
 * libviova-host (docs/vhost-user.md, "virtio-gpu device model").
 *
 * DOC: objects and who owns what
 *
 *   struct viova_vgpu (one per vhost-user connection)
 *     contexts[ctx slot]  virtio-gpu ctx_id -> its own struct viova_host (own backend instance)
 *     resources[]         resource_id -> backing: list of guest-physical (addr, len) entries
 *                                        + mask of the contexts it is attached to
 *                                        + users: contexts whose response area it is
 *
 *   SUBMIT_3D(ctx) --copy payload out of guest RAM--> private buffer --> viova_host_process()
 *     RESP_INIT res_id inside it --resp_map--> resource res_id, attached to ctx, backing
 *     translated through the memory table: used directly when contiguous in our mapping,
 *     else its (page-aligned) entries are aliased in order into one range (vgpu.c DOC)
 *
 *   RESOURCE_UNREF / DETACH_BACKING of a response area closes the contexts using it (their
 *   libviova-host is destroyed; the ctx_id stays until CTX_DESTROY): the guest frees those
 *   pages right after, and Linux sends UNREF before CTX_DESTROY when a process exits.
 *
 * Every command is processed synchronously, so a fenced command (VIRTIO_GPU_FLAG_FENCE) is
 * answered, with its fence_id / ctx_id / ring_idx echoed, only after its work is done.
 *
 * Host pointers into guest RAM (a response area) stay valid only as long as the memory table
 * they were translated with: the caller resets the device model (viova_vgpu_reset()) before
 * replacing or dropping the memory table, on device reset and on disconnect.
 *
 * Threading: one thread (the connection's) calls everything for a given device.
 * Errors follow docs/conventions.md: 0 or a negative errno.
 */
#ifndef VIOVA_DAEMON_VGPU_H
#define VIOVA_DAEMON_VGPU_H

#include <stddef.h>
#include <stdint.h>

#include <viova/host.h>

#include "virtq.h"

/* Live virtio-gpu contexts per device (each holds a libviova-host instance and its backend). */
#define VIOVA_VGPU_MAX_CONTEXTS 64u
/* Live resources per device, and backing entries per resource (a 4 KiB page each at worst). */
#define VIOVA_VGPU_MAX_RESOURCES 1024u
#define VIOVA_VGPU_MAX_ENTRIES 16384u
/* Bytes of backing per resource. */
#define VIOVA_VGPU_MAX_BACKING (1ull << 30)

struct viova_vgpu;

struct viova_vgpu_config {
	/*
	 * Template for each context's libviova-host: backend, quotas, max_batch_size, log.
	 * resp_map / resp_unmap / transport_cookie are ignored (the device model provides them).
	 * Copied; NULL = all defaults (sim backend).
	 */
	const struct viova_host_config *host;
	/* Device-level log (refused commands, with the value and the fix); may be NULL. */
	viova_host_log_fn log;
	void *log_cookie;
};

/*
 * viova_vgpu_create() - a device model with no context and no resource. Creates one
 * libviova-host instance once, to learn the capset that GET_CAPSET answers, and destroys it.
 * Returns 0; -EINVAL NULL @out; -ENOMEM; or viova_host_create()'s error for the template.
 */
int viova_vgpu_create(const struct viova_vgpu_config *cfg, struct viova_vgpu **out);

/* viova_vgpu_destroy() - viova_vgpu_reset(), then free. NULL is ignored. */
void viova_vgpu_destroy(struct viova_vgpu *vg);

/*
 * viova_vgpu_reset() - destroy every context (its libviova-host, jobs and buffers) and every
 * resource: what a device reset, a disconnect or a memory-table change requires.
 */
void viova_vgpu_reset(struct viova_vgpu *vg);

/*
 * viova_vgpu_process() - handle one element of the control or cursor queue.
 * @mem: the current memory table (backing entries are guest-physical addresses in it)
 * @elem: the popped chain: the command in its readable buffers, room for the answer in its
 *        writable buffers
 * @written: bytes written into the writable buffers (give it to viova_virtq_push())
 *
 * Every command a guest can send gets an answer: OK_* or ERR_* (unknown command, short
 * header -> ERR_UNSPEC). Cursor commands have no answer (*written = 0).
 * Returns 0 (answered, possibly with an ERR_* response); -EINVAL NULL argument; -EFAULT when
 * the writable buffers cannot hold the answer (*written = 0: nothing was written; the command
 * was still carried out, as a device without room to answer does).
 */
int viova_vgpu_process(struct viova_vgpu *vg, const struct viova_guest_mem *mem,
		       const struct viova_virtq_elem *elem, uint32_t *written);

/* The capset GET_CAPSET answers (for tests and --print-capabilities). 0 or -EINVAL. */
int viova_vgpu_caps(const struct viova_vgpu *vg, struct viova_capset *caps);

/*
 * The libviova-host of virtio-gpu context ctx_id; NULL when there is no such context or it
 * was closed by the release of its response area (tests and diagnostics).
 */
struct viova_host *viova_vgpu_ctx_host(struct viova_vgpu *vg, uint32_t ctx_id);

/* Live contexts and resources (tests and diagnostics). */
uint32_t viova_vgpu_ctx_count(const struct viova_vgpu *vg);
uint32_t viova_vgpu_resource_count(const struct viova_vgpu *vg);

#endif /* VIOVA_DAEMON_VGPU_H */

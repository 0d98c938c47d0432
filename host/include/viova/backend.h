/* SPDX-License-Identifier: MIT */
/*
 * viova/backend.h - the one ops table every host backend implements (sim, msm, i915).
 *
 * DOC: where a backend sits
 *
 *   guest batch --> decode (protocol/) --> host core: per-context tables, quotas, and every
 *   range checked against the context's own va_space --> struct viova_backend_ops --> kernel
 *
 * The host core calls a backend only with input it has already validated: ids resolved to
 * backend objects of the same guest context, ranges inside the VA window, outside the reserved
 * region, page aligned, not wrapping, not overlapping, inside the buffer. A backend must still
 * reject bad input on its own (it models or is the kernel: defence in depth) and return the
 * kernel's errno, which the core puts on the wire unchanged.
 *
 * Object model, chosen so that both real drivers fit without the core knowing which one runs:
 *
 *   viova (guest)     msm                                  i915
 *   -------------     ---------------------------------    -------------------------------------
 *   VM                one drm fd = one per-process         GEM_VM_CREATE id on the device fd
 *                     address space (VA_START/VA_SIZE)
 *   context           SUBMITQUEUE on its VM's fd           GEM_CONTEXT_CREATE_EXT + SETPARAM(VM)
 *   buffer            GEM_NEW on the VM's fd               GEM_CREATE
 *   set_iova          GEM_INFO(SET_IOVA), 0 clears         kept by the backend per VM, applied as
 *                                                          EXEC_OBJECT_PINNED offsets in EXECBUF2
 *   bind/unbind       -EOPNOTSUPP (no sparse uapi)         -EOPNOTSUPP, or VM_BIND where present
 *   clone             params stored, new SUBMITQUEUE       CONTEXT_GETPARAM/SETPARAM per flag
 *
 * Threading: the core calls ops from one thread per connection (a backend instance belongs to
 * one connection). A backend may complete work on its own threads; it reports completions and
 * faults through struct viova_backend_events, which may be called from any thread.
 * ctx_destroy and destroy wait for event callbacks of the context(s) still running on backend
 * threads, and may report the last fence from the caller's own thread: the core must not hold,
 * across these two calls, a lock that its event callbacks take.
 *
 * Errors: every op returns 0 or a negative errno (docs/conventions.md).
 */
#ifndef VIOVA_BACKEND_H
#define VIOVA_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "viova/protocol.h"

/* Backend-private objects; each backend defines them in its own translation units. */
struct viova_be_vm;
struct viova_be_ctx;
struct viova_be_bo;

/* Context parameters a backend applies at creation (VIOVA_CTX_* params, priority). */
struct viova_be_ctx_params {
	uint32_t params;  /* VIOVA_CTX_* */
	int32_t priority; /* VIOVA_PRIORITY_MIN..MAX */
};

/* One entry of a submission's buffer list, resolved by the core. */
struct viova_be_submit_bo {
	struct viova_be_bo *bo;
	uint64_t iova;	/* where the core's va_space has the buffer (0: not mapped in this VM) */
	uint32_t flags; /* VIOVA_SUBMIT_BO_* */
	uint32_t pad0;
};

/* A submission, resolved and validated by the core; pointers valid only during the call. */
struct viova_be_submit {
	uint32_t format; /* VIOVA_SUBMIT_FORMAT_* */
	uint32_t bo_count;
	const struct viova_be_submit_bo *bos;
	const void *cmds; /* cmd_size bytes of records of the format (copied out of the guest) */
	uint32_t cmd_size;
	uint32_t pad0;
	uint64_t out_fence; /* strictly greater than the context's previous fence */
};

/*
 * Asynchronous reports from a backend to the core. Both may be called from a backend thread;
 * the core makes them safe against its own thread. cookie is the one given at creation, ctx
 * the ctx_cookie given to ctx_create/ctx_clone.
 *
 * DOC: event ordering contract (every backend guarantees all four; the core relies on them)
 *
 * 1. Fault before fence. For a job that faults, job_fault(ctx, f, ...) has returned before
 *    fence f (or any later fence of ctx) is reported by fence_signaled, returned by
 *    fence_completed, or ends a fence_wait. Whoever learns that a faulting job is done, by
 *    any route, can already see the fault's effects (the core: error record, lost flag).
 *
 *      backend thread                            core / guest
 *      job faults
 *      job_fault(ctx, f) ---------------------->  record + lost flag written
 *      (returns)
 *      completed(ctx) = f; wake fence_wait ---->  WAIT_FENCE / fence_completed see f
 *      fence_signaled(ctx, f) ----------------->  slot.completed_fence = f
 *
 * 2. Fence events of one context are serialized (never two at once for the same ctx) and
 *    monotonic: each fence_signaled names a fence greater than the previous one of ctx, and
 *    fence_signaled(ctx, f) means every fence <= f of ctx signalled. fence_completed never
 *    goes backwards.
 * 3. No event names a context before ctx_create/ctx_clone has returned it (a context has no
 *    job before then), and none after ctx_destroy has returned (ctx_destroy waits for
 *    callbacks in flight; it may report the last fence itself, from the caller's thread,
 *    before returning).
 * 4. Events are called with no backend lock held that an op takes: a callback may call
 *    fence_completed (it sees the state before the event), but must not block on the
 *    backend (fence_wait, ctx_destroy) nor take a lock the core holds across an op call.
 */
struct viova_backend_events {
	/* Fences of a context signal in order: fence_signaled(ctx, f) means all fences <= f did. */
	void (*fence_signaled)(void *cookie, void *ctx, uint64_t fence);
	/*
	 * A job faulted (e.g. sim GPU access to an unmapped iova). err is a negative errno
	 * (-EFAULT for a translation fault). Called before the job's fence becomes visible in
	 * any way (rule 1 above); the fence still signals afterwards, so nothing waits forever.
	 * The core marks the context lost.
	 */
	void (*job_fault)(void *cookie, void *ctx, uint64_t fence, uint64_t iova, int err);
};

/* Instance header every backend embeds first in its own struct. */
struct viova_backend {
	const struct viova_backend_ops *ops;
	const struct viova_backend_events *events;
	void *events_cookie;
};

struct viova_backend_ops {
	const char *name; /* "sim", "msm", "i915" */

	/*
	 * Fill what the backend knows of the capset: backend, va_start, va_size, reserved
	 * region, page_size, min_alignment, features, clone_flags, driver/gpu ids, max_wait_ns.
	 * The core fills wire version, max_batch_size and quotas.
	 */
	int (*get_caps)(struct viova_backend *be, struct viova_capset *caps);

	/* Release everything; the core has already destroyed all contexts, VMs and buffers. */
	void (*destroy)(struct viova_backend *be);

	/* A new address space spanning the capset's VA window. -ENOMEM, or the kernel's errno. */
	int (*vm_create)(struct viova_backend *be, struct viova_be_vm **out);
	/* Called only when no context uses the VM and no buffer is mapped in it. */
	void (*vm_destroy)(struct viova_backend *be, struct viova_be_vm *vm);

	/*
	 * A context running in vm. ctx_cookie is passed back in events. -EINVAL for params
	 * the backend does not know, -ENOMEM, or the kernel's errno.
	 */
	int (*ctx_create)(struct viova_backend *be, struct viova_be_vm *vm,
			  const struct viova_be_ctx_params *params, void *ctx_cookie,
			  struct viova_be_ctx **out);
	/*
	 * A context created from src (seed 003 semantics): flags is a subset of the capset's
	 * clone_flags (the core checked); what a flag names is copied from src, the rest takes
	 * defaults. vm is the new context's VM (src's VM when VIOVA_CLONE_VM). -EOPNOTSUPP for a
	 * flag the driver cannot honour.
	 */
	int (*ctx_clone)(struct viova_backend *be, struct viova_be_ctx *src, uint32_t flags,
			 struct viova_be_vm *vm, void *ctx_cookie, struct viova_be_ctx **out);
	/* Waits for nothing: pending jobs of the context are cancelled or run to completion
	 * by the backend, and their fences still signal. */
	void (*ctx_destroy)(struct viova_backend *be, struct viova_be_ctx *ctx);

	/*
	 * A buffer of size bytes (page multiple) owned by vm's connection; home is the VM it is
	 * created in (msm: the fd it lives on). flags: VIOVA_GEM_*. -ENOMEM or the kernel's errno.
	 */
	int (*bo_create)(struct viova_backend *be, struct viova_be_vm *home, uint64_t size,
			 uint32_t flags, struct viova_be_bo **out);
	/* Drops the buffer; the core has removed its mappings and no job uses it any more. */
	void (*bo_close)(struct viova_backend *be, struct viova_be_bo *bo);

	/*
	 * Map the whole buffer at iova in vm, or clear its mapping when iova is 0 (msm
	 * SET_IOVA rules): -EBUSY if it is mapped elsewhere or in use by an unfinished job,
	 * -ENOSPC if the range is not free, -EINVAL outside the VA window, -EOPNOTSUPP without a
	 * per-process address space.
	 */
	int (*bo_set_iova)(struct viova_backend *be, struct viova_be_vm *vm, struct viova_be_bo *bo,
			   uint64_t iova);
	/*
	 * Sparse binding: map [bo_offset, bo_offset + range) of bo at addr in vm, replacing
	 * whatever the range held (the core passes split/merge results already applied to its
	 * own va_space). -EOPNOTSUPP where the driver has no sparse binding.
	 */
	int (*bind)(struct viova_backend *be, struct viova_be_vm *vm, struct viova_be_bo *bo,
		    uint64_t addr, uint64_t range, uint64_t bo_offset, uint32_t flags);
	/* Remove every mapping piece inside [addr, addr + range) of vm. */
	int (*unbind)(struct viova_backend *be, struct viova_be_vm *vm, uint64_t addr,
		      uint64_t range);

	/* CPU access without a host mapping exposed to the guest: -EINVAL outside the buffer. */
	int (*bo_write)(struct viova_backend *be, struct viova_be_bo *bo, uint64_t offset,
			const void *data, uint64_t size);
	int (*bo_read)(struct viova_backend *be, struct viova_be_bo *bo, uint64_t offset,
		       void *data, uint64_t size);

	/*
	 * Queue a job; returns once it is queued, not run. The fence signals through events.
	 * -EINVAL for a format or record the backend refuses, -ENOMEM, or the kernel's errno.
	 */
	int (*submit)(struct viova_backend *be, struct viova_be_ctx *ctx,
		      const struct viova_be_submit *job);

	/* Last fence of ctx that has signalled (0 before any). */
	uint64_t (*fence_completed)(struct viova_backend *be, struct viova_be_ctx *ctx);
	/* Block until fence signalled or timeout_ns passed: 0 or -ETIMEDOUT (-EINVAL at once for
	 * a fence never submitted on ctx, as msm's WAIT_FENCE). */
	int (*fence_wait)(struct viova_backend *be, struct viova_be_ctx *ctx, uint64_t fence,
			  uint64_t timeout_ns);
};

/* Options for creating a backend instance. */
struct viova_backend_config {
	const char *device;    /* render node for msm/i915 ("/dev/dri/renderD128"); NULL for sim */
	uint64_t sim_va_start; /* sim: VA window (0: the defaults in docs/sim.md) */
	uint64_t sim_va_size;
	uint64_t sim_reserved_start; /* sim: kernel-reserved region inside the window */
	uint64_t sim_reserved_size;
	uint64_t sim_max_bytes; /* sim: total bytes of buffer memory (0: default) */
	uint64_t sim_job_timeout_ns; /* sim: hang-check budget of one job (0: default 2 s) */
};

/*
 * viova_backend_create - create a backend instance by name ("sim", ...).
 * @name: backend name
 * @config: options; may be NULL for defaults
 * @events: completion/fault callbacks (copied pointer; must outlive the backend)
 * @cookie: passed to every event callback
 * @out: the new instance, released with be->ops->destroy(be)
 *
 * Returns 0, -ENOENT for an unknown name, -ENODEV when the named driver is not usable here
 * (no such device, wrong driver), -ENOMEM.
 */
int viova_backend_create(const char *name, const struct viova_backend_config *config,
			 const struct viova_backend_events *events, void *cookie,
			 struct viova_backend **out);

#endif /* VIOVA_BACKEND_H */

/* SPDX-License-Identifier: MIT */
/*
 * viova/guest.h - libviova-guest: what a Mesa-style driver or a CI workload links in the guest.
 *
 * DOC: objects and where their state lives
 *
 *   device   one connection to the host (unix:/path socket now, virtgpu: later); its response
 *            area and a small shared page (seqno counter, id counters, error log) live in
 *            MAP_SHARED memory, so processes forked after open keep using the same connection
 *   context  a guest context (host ctx id 1..capset.max_contexts), owned by the process that
 *            created it; its primary VM is created with it or shared from another context
 *   VM       an address space; its iova allocator (common/vma, in-place mode) lives in its own
 *            MAP_SHARED memfd behind a robust process-shared lock, so a parent and its forked
 *            children allocate from one heap without a broker and without a round trip
 *   buffer   a buffer object of a context, normally mapped at an iova chosen HERE, locally:
 *            creating a buffer never waits for the host
 *
 * DOC: batching and ordering
 *
 *   API calls encode commands into a per-process batch (viova/codec.h). The batch is sent
 *   when it is full, by viova_guest_flush(), and before every call that waits or submits
 *   (submit, fence wait, sync, download, query, destroy). The host applies commands of a
 *   connection one at a time in the order it receives batches, and every process of a
 *   connection sends under one lock that also hands out the seqnos, so:
 *     - commands of one thread run in the order they were called;
 *     - a command sent by one process runs before every command another process sends later;
 *     - commands still in a process's unsent batch are invisible to every other process.
 *   A failure of a command is reported asynchronously: in the error log
 *   (viova_guest_read_errors) and, when it loses the context, by viova_guest_ctx_status().
 *
 * DOC: iova reuse (the retire queue)
 *
 *   An iova released by viova_guest_bo_close(), viova_guest_bo_clear_iova() or
 *   viova_guest_vm_free() goes back to the VM's allocator only when (1) the command that
 *   released it has been sent, and (2) every job that listed the buffer (for a sparse range:
 *   every job this process submitted on a context of that VM) has signalled its fence, or its
 *   context has been destroyed. Until then another allocation cannot get it, in this process or
 *   in any other sharing the VM.
 *
 * DOC: processes
 *
 *   fork() first sends every device's batch (an atfork handler), so everything the parent
 *   created before the fork is on its way to the host before anything the child sends.
 *   After fork() the child may use the device, share the parent's VMs (viova_guest_ctx_create
 *   with share_vm, viova_guest_vm_alloc/free), and create its own contexts and buffers. It
 *   must not use the parent's contexts or buffers (-EPERM): fences and buffer lifetimes belong
 *   to one process. The child's unsent commands are its own; the parent's unsent commands stay
 *   with the parent. A process killed while holding a shared lock does not block the others:
 *   the next locker recovers the lock, checks the heap, and marks it broken if it is damaged.
 *   What a process that died left behind (contexts on the host, ranges in shared heaps) is
 *   reaped by the survivors: viova_guest_device_reap().
 *
 * Threads: every function may be called from several threads of a process on one device; an
 * object must not be destroyed while another thread still uses it.
 *
 * Errors (docs/conventions.md): 0 or a negative errno. Every failure also leaves a message
 * naming the object, the value and the fix in viova_guest_last_error() (per thread).
 * Common to every call: -EINVAL a NULL or out-of-range argument; -ENODEV the connection to the
 * host is gone (the device is lost: close it); -EPERM the object belongs to another process;
 * -EIO the context is lost (see viova_guest_ctx_status); -ETIMEDOUT a wait ran out of time.
 *
 * Environment (read when a VM is created, see struct viova_guest_vm_options):
 *   VIOVA_VMA_STRATEGY=low_to_high|high_to_low|best_fit|random   placement of iovas
 *   VIOVA_VMA_SEED=N                                             seed of "random"
 */
#ifndef VIOVA_GUEST_H
#define VIOVA_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "viova/protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

struct viova_guest_device;
struct viova_guest_ctx;
struct viova_guest_vm;
struct viova_guest_bo;

/* ------------------------------------------------------------------------------------------ */
/* Device                                                                                      */
/* ------------------------------------------------------------------------------------------ */

/* Options of viova_guest_device_open(). Zero-initialise; every 0 selects the default. */
struct viova_guest_device_options {
	uint64_t timeout_ns;  /* waits the API does on its own (download, query, close); 5 s */
	uint32_t batch_size;  /* bytes of a batch: min(this, capset.max_batch_size); 128 KiB */
	uint32_t area_size;   /* bytes of the response area; 4 MiB (>= 64 KiB) */
	uint32_t err_records; /* error ring capacity, a power of two; 1024 */
	uint32_t pad0;
};

/*
 * viova_guest_device_open - connect to a host and get ready to stream commands.
 * @uri: "unix:/path/to/socket" (a viova-host --listen unix:/path daemon), or
 *       "virtgpu:/dev/dri/renderD128" (the virtio-gpu transport; not in this build).
 * @opts: may be NULL (defaults).
 * @out: the device; release it with viova_guest_device_close().
 *
 * Performs the handshake (wire version, capset), attaches the response area (RESP_INIT) and
 * waits for the host to lay it out, bounded by the timeout.
 * Returns 0, or -EINVAL bad uri or options; -EOPNOTSUPP a transport this build lacks;
 * -ECONNREFUSED / -ENOENT nothing listens at the path; -EPROTONOSUPPORT the host speaks
 * another wire major (the message names both versions); -EPROTO the host answered something
 * that is not the viova socket protocol; -ETIMEDOUT no answer in time; -ENOMEM.
 */
int viova_guest_device_open(const char *uri, const struct viova_guest_device_options *opts,
			    struct viova_guest_device **out);

/*
 * viova_guest_device_close - destroy what this process created on the device (its contexts,
 * with their buffers and VMs, after sending everything still batched), wait up to the device
 * timeout for the host to process that, and release the process's resources. Objects of this
 * process become invalid. Closing in a forked child leaves the parent's objects alone; the
 * connection stays up while any process still has it open. NULL is a no-op.
 */
void viova_guest_device_close(struct viova_guest_device *dev);

/* viova_guest_device_caps - the host's capset (copied at open). Returns 0 or -EINVAL. */
int viova_guest_device_caps(const struct viova_guest_device *dev, struct viova_capset *caps);

/*
 * viova_guest_flush - send this process's batched commands now (nothing to send: 0).
 * @last_seqno: may be NULL; receives the seqno of the last command this process has sent
 *              (seqnos are fixed when a batch is sent, in the order of sending).
 * Returns 0, -ENODEV, -ETIMEDOUT (the socket did not take the batch in time; it stays
 * batched and a later flush sends it).
 */
int viova_guest_flush(struct viova_guest_device *dev, uint64_t *last_seqno);

/*
 * viova_guest_sync - one explicit round trip: send a SYNC after everything batched and wait
 * until the host has processed it (so every earlier command of this process has run or failed
 * and its error records are readable). Then, at most every 250 ms, it reaps what dead processes
 * left behind (viova_guest_device_reap; its errors are ignored). Returns 0, -ETIMEDOUT, -ENODEV.
 */
int viova_guest_sync(struct viova_guest_device *dev, uint64_t timeout_ns);

/* Counters of this process on a device (lock_recoveries is device-wide). */
struct viova_guest_stats {
	uint64_t commands;	  /* commands encoded */
	uint64_t batches;	  /* batches sent */
	uint64_t bytes_sent;	  /* batch bytes sent */
	uint64_t waits;		  /* times a call slept waiting for the host */
	uint64_t last_seqno;	  /* seqno of the last command sent */
	uint64_t processed_seqno; /* what the host has processed (all processes) */
	uint64_t retire_pending;  /* iova ranges waiting in the retire queue */
	uint64_t retire_released; /* iova ranges the retire queue gave back */
	uint64_t errors_read;	  /* error records returned by viova_guest_read_errors */
	uint64_t errors_missed;	  /* records lost: host ring or shared log overflowed */
	uint64_t lock_recoveries; /* shared locks recovered after their holder died */
};

/* viova_guest_device_stats - fill *st. Returns 0 or -EINVAL. */
int viova_guest_device_stats(struct viova_guest_device *dev, struct viova_guest_stats *st);

/*
 * viova_guest_retire - wait until this process's retire queue is empty (every released iova
 * is back in its allocator), flushing first. @pending (may be NULL) receives what is left.
 * Like viova_guest_sync it reaps dead processes' leftovers at most every 250 ms.
 * Returns 0, -ETIMEDOUT (entries remain), -ENODEV.
 */
int viova_guest_retire(struct viova_guest_device *dev, uint64_t timeout_ns, uint32_t *pending);

/* What one viova_guest_device_reap() pass did. */
struct viova_guest_reap {
	uint32_t processes; /* dead processes whose leftovers are now all released */
	uint32_t contexts;  /* orphaned contexts this call destroyed on the host */
	uint64_t ranges;    /* iova ranges of dead processes returned to this process's heaps */
};

/*
 * viova_guest_device_reap - release what processes sharing @dev left behind when they died
 * without destroying it (crash, SIGKILL, _exit): their contexts are destroyed on the host
 * (CTX_DESTROY: jobs finished or cancelled, buffers and mappings dropped, quota returned) and,
 * once the host has processed that, the iova ranges they held in VM heaps this process maps go
 * back to those heaps. A process is dead when /proc/<pid>/stat is gone, shows a zombie, or
 * shows another start time (the pid was reused): a live process's objects are never touched,
 * and so are not those of a process that never had a slot (256 owners at once, no /proc).
 * Any process of the connection may reap any dead one; two reaping at once release each thing
 * once. The same pass also runs implicitly at the start of viova_guest_ctx_create/_clone and,
 * at most every 250 ms, in viova_guest_sync/viova_guest_retire (their errors are ignored).
 * Costs one /proc read per other owning process; with orphans, two round trips.
 * @reaped: may be NULL; receives what this call did (also when it fails half-way).
 * Returns 0; -ETIMEDOUT the host did not process the SYNC / CTX_DESTROYs in the device
 * timeout (the claims stay with this process; call again); -ENODEV; -EOPNOTSUPP /proc is not
 * readable; -ENOMEM.
 */
int viova_guest_device_reap(struct viova_guest_device *dev, struct viova_guest_reap *reaped);

/*
 * viova_guest_last_error - message of the last failure of a viova_guest_* call in this thread,
 * e.g. "bo_create: VM 3 has no free 0x10000-byte range (strategy high_to_low): close buffers
 * or create the VM with more room". "" if none. Valid until the thread's next call.
 */
const char *viova_guest_last_error(void);

/* ------------------------------------------------------------------------------------------ */
/* Errors reported by the host                                                                 */
/* ------------------------------------------------------------------------------------------ */

/*
 * viova_guest_read_errors - copy up to @max error records the host has reported on this
 * connection that this process has not read yet, oldest first (struct viova_err_rec:
 * seqno, command, context, wire errno, reason, details; docs/protocol.md "Errors").
 * Reads what has arrived: call viova_guest_sync() first to see the results of everything sent.
 * Records of all processes of the connection are visible to each of them.
 * @count receives the number copied. Returns 0, -EINVAL, -ENODEV.
 */
int viova_guest_read_errors(struct viova_guest_device *dev, struct viova_err_rec *recs,
			    uint32_t max, uint32_t *count);

/*
 * viova_guest_format_error - one readable line for a record (viova_codec_format_err_rec), e.g.
 * "SUBMIT (seqno 41, ctx 3): EFAULT (reported after processing), detail0 = 0x1000, detail1 =
 * 0x7; context lost". snprintf semantics: returns the length of the full line, or -EINVAL.
 */
int viova_guest_format_error(const struct viova_err_rec *rec, char *buf, size_t size);

/* ------------------------------------------------------------------------------------------ */
/* VMs (address spaces) and their iova allocator                                               */
/* ------------------------------------------------------------------------------------------ */

/* Placement strategies of a VM's iova allocator. */
#define VIOVA_GUEST_VMA_DEFAULT 0     /* VIOVA_VMA_STRATEGY if set, else HIGH_TO_LOW */
#define VIOVA_GUEST_VMA_LOW_TO_HIGH 1 /* lowest free address first */
#define VIOVA_GUEST_VMA_HIGH_TO_LOW 2 /* highest first: exercises high address bits */
#define VIOVA_GUEST_VMA_BEST_FIT 3    /* smallest fitting hole */
#define VIOVA_GUEST_VMA_RANDOM 4      /* seeded random placement (reproducible) */

/*
 * Options of a new VM (a context's primary VM or an extra one). Zero-initialise.
 * strategy VIOVA_GUEST_VMA_DEFAULT takes $VIOVA_VMA_STRATEGY when set; seed 0 takes
 * $VIOVA_VMA_SEED when set, else 1. So CI can shake the addresses of an unmodified program
 * (VIOVA_VMA_STRATEGY=random VIOVA_VMA_SEED=$RANDOM) while a program that asks for a strategy
 * explicitly keeps it.
 */
struct viova_guest_vm_options {
	uint32_t strategy;   /* VIOVA_GUEST_VMA_* */
	uint32_t max_ranges; /* live ranges the heap can hold; 65536 (sizes its shared memory) */
	uint64_t seed;	     /* VIOVA_GUEST_VMA_RANDOM */
};

/* What a VM's allocator holds (a consistent snapshot, taken under the heap lock). */
struct viova_guest_vm_info {
	uint32_t id;	     /* wire VM id */
	uint32_t strategy;   /* VIOVA_GUEST_VMA_* in effect */
	uint64_t seed;	     /* RANDOM's seed (0 otherwise) */
	uint64_t start, end; /* allocatable window: [va_start, va_start + va_size) */
	uint64_t allocations;
	uint64_t allocated_bytes;
	uint64_t free_bytes;
	uint64_t largest_hole;
	uint64_t recoveries; /* heap lock recovered after its holder died */
	bool broken; /* a holder died mid-update and the check failed: no more allocations,
		      * and allocations..largest_hole read 0 (the tree cannot be trusted) */
};

/*
 * viova_guest_vm_create - an extra VM in @ctx (VM_CREATE; needs VIOVA_FEATURE_MULTI_VM).
 * Usable by @ctx (bind, set_iova) and shareable into new contexts (share_vm).
 * Returns 0, -EOPNOTSUPP (host lacks MULTI_VM), -ENOMEM, -EIO, -EPERM.
 */
int viova_guest_vm_create(struct viova_guest_ctx *ctx, const struct viova_guest_vm_options *opts,
			  struct viova_guest_vm **out);

/*
 * viova_guest_vm_destroy - destroy an extra VM made by viova_guest_vm_create (a primary VM
 * goes with its last context). Every buffer mapped in it must have been unmapped or closed.
 * Returns 0, -EBUSY (a context of this process still uses it as primary, or ranges are still
 * allocated), -EINVAL (a primary VM), -EPERM.
 */
int viova_guest_vm_destroy(struct viova_guest_vm *vm);

/*
 * viova_guest_vm_alloc - reserve a range of @size bytes (a multiple of capset.page_size)
 * aligned to max(@align, capset.min_alignment) for sparse binding; local, no host traffic.
 * Returns 0 and *addr, -ENOSPC (no hole fits), -ENOMEM (heap full: more max_ranges),
 * -EUCLEAN (the heap is broken), -EINVAL.
 */
int viova_guest_vm_alloc(struct viova_guest_vm *vm, uint64_t size, uint64_t align, uint64_t *addr);

/*
 * viova_guest_vm_free - release a range from viova_guest_vm_alloc through the retire queue
 * (unbind it first). Returns 0, -ENOENT (no range starts at addr, or it is a buffer's).
 */
int viova_guest_vm_free(struct viova_guest_vm *vm, uint64_t addr);

/*
 * viova_guest_vm_bind - map [bo_offset, bo_offset + range) of @bo at [addr, addr + range) of
 * @vm (VM_BIND in bo's context; needs VIOVA_FEATURE_VM_BIND). The range should come from
 * viova_guest_vm_alloc. A host failure loses the context.
 * Returns 0, -EINVAL (alignment, bounds, flags other than VIOVA_BIND_*), -EOPNOTSUPP, -EPERM,
 * -EIO.
 */
int viova_guest_vm_bind(struct viova_guest_vm *vm, struct viova_guest_bo *bo, uint64_t addr,
			uint64_t range, uint64_t bo_offset, uint32_t flags);

/*
 * viova_guest_vm_unbind - unmap whatever lies in [addr, addr + range) of @vm, as seen from
 * @ctx. Waits first (up to the device timeout) for the jobs of this process's contexts on @vm,
 * because the host refuses to unmap a range a running job uses.
 * Returns 0, -ETIMEDOUT, -EINVAL, -EPERM, -EIO.
 */
int viova_guest_vm_unbind(struct viova_guest_ctx *ctx, struct viova_guest_vm *vm, uint64_t addr,
			  uint64_t range);

/* viova_guest_vm_info - snapshot of @vm's allocator. Returns 0, -EINVAL. */
int viova_guest_vm_info(struct viova_guest_vm *vm, struct viova_guest_vm_info *info);

/*
 * viova_guest_vm_check - verify every invariant of @vm's heap (viova_vma_check) and of its
 * owner index (every entry names a live range and is reachable; it reads the whole index)
 * under its lock. Returns 0, -EUCLEAN (broken; the message says what), -EINVAL.
 */
int viova_guest_vm_check(struct viova_guest_vm *vm);

/* viova_guest_vm_id - the wire id of @vm (0 for NULL). */
uint32_t viova_guest_vm_id(const struct viova_guest_vm *vm);

/*
 * Test hooks: take @vm's shared heap lock and keep it (the caller then dies, or calls
 * viova_guest_vm_debug_unlock), to prove that a process dying inside the allocator does not
 * block the others. Returns 0 or a negative errno of the lock.
 */
int viova_guest_vm_debug_lock(struct viova_guest_vm *vm);
int viova_guest_vm_debug_unlock(struct viova_guest_vm *vm);

/* ------------------------------------------------------------------------------------------ */
/* Contexts                                                                                    */
/* ------------------------------------------------------------------------------------------ */

/* Options of viova_guest_ctx_create(). Zero-initialise. */
struct viova_guest_ctx_options {
	struct viova_guest_vm *share_vm;	 /* NULL: a new primary VM; else share this one */
	const struct viova_guest_vm_options *vm; /* options of the new VM (NULL: defaults) */
	uint32_t params;			 /* VIOVA_CTX_* */
	int32_t priority;			 /* VIOVA_PRIORITY_MIN..MAX */
};

/*
 * viova_guest_ctx_create - a new context (CTX_CREATE), with a new primary VM or sharing
 * @opts->share_vm (a VM of this process or of the parent process after fork; one of the
 * contexts that created or shared it must still be alive on the host). Reaps first what dead
 * processes of the connection left behind (viova_guest_device_reap; its errors are ignored).
 * Returns 0, -EAGAIN (every context id of the connection is taken), -EOPNOTSUPP (sharing
 * without MULTI_VM), -ENOMEM.
 */
int viova_guest_ctx_create(struct viova_guest_device *dev,
			   const struct viova_guest_ctx_options *opts,
			   struct viova_guest_ctx **out);

/*
 * viova_guest_ctx_clone - a new context copying @src (CTX_CLONE, seed 003 semantics):
 * @flags VIOVA_CLONE_* (ALL, or any subset the capset's clone_flags allows). With
 * VIOVA_CLONE_VM the clone shares @src's VM; otherwise it gets a new VM made with @vm_opts
 * (may be NULL). Cloning a lost context is allowed: it is the way to recover.
 * Returns 0, -EINVAL unknown flags, -EOPNOTSUPP flags the host cannot honour, -EAGAIN, -EPERM.
 */
int viova_guest_ctx_clone(struct viova_guest_ctx *src, uint32_t flags,
			  const struct viova_guest_vm_options *vm_opts,
			  struct viova_guest_ctx **out);

/*
 * viova_guest_ctx_destroy - close the context's remaining buffers, destroy it on the host
 * (CTX_DESTROY: its jobs finish or are cancelled there) and wait up to the device timeout for
 * that to be processed, so that its iovas can go back to the allocator. The context is freed
 * even when the wait fails. Returns 0, -ETIMEDOUT, -ENODEV, -EPERM.
 */
int viova_guest_ctx_destroy(struct viova_guest_ctx *ctx);

/* viova_guest_ctx_vm - the context's primary VM (owned by the context). NULL for NULL. */
struct viova_guest_vm *viova_guest_ctx_vm(const struct viova_guest_ctx *ctx);

/* viova_guest_ctx_id - the host context id (0 for NULL). */
uint32_t viova_guest_ctx_id(const struct viova_guest_ctx *ctx);

/* Context state from the response area (no round trip). */
struct viova_guest_ctx_status {
	uint64_t completed_fence; /* last signalled fence */
	uint64_t last_fence;	  /* last fence this process submitted */
	uint64_t fault_iova;	  /* address of the last GPU fault */
	uint32_t faults;	  /* GPU faults */
	uint32_t lost_err;	  /* 0, or the wire errno that lost the context */
	bool lost;
};

/* viova_guest_ctx_status - fill *st. Returns 0, -EINVAL. */
int viova_guest_ctx_status(struct viova_guest_ctx *ctx, struct viova_guest_ctx_status *st);

/*
 * viova_guest_ctx_stats - the host's counters of the context (QUERY CTX_STATS, a round trip).
 * Returns 0, -ETIMEDOUT, -ENODEV, -ENOENT (the host does not know the context), -EPERM.
 */
int viova_guest_ctx_stats(struct viova_guest_ctx *ctx, struct viova_ctx_stats *st,
			  uint64_t timeout_ns);

/* ------------------------------------------------------------------------------------------ */
/* Buffers                                                                                     */
/* ------------------------------------------------------------------------------------------ */

/* Guest-only flag of viova_guest_bo_create(): create the buffer without mapping it. */
#define VIOVA_GUEST_BO_NO_IOVA (1u << 31)

/*
 * viova_guest_bo_create - a buffer of @size bytes (rounded up to capset.page_size) in @ctx,
 * mapped at an iova allocated locally in @vm (NULL: the context's primary VM) and created
 * with that iova in one GEM_NEW. Nothing waits for the host. @flags: VIOVA_GEM_* plus
 * VIOVA_GUEST_BO_NO_IOVA. If the host later refuses the creation the context is lost.
 * Returns 0, -ENOSPC (no iova range fits), -ENOMEM, -EUCLEAN, -EIO, -EPERM, -EINVAL.
 */
int viova_guest_bo_create(struct viova_guest_ctx *ctx, uint64_t size, uint32_t flags,
			  struct viova_guest_vm *vm, struct viova_guest_bo **out);

/*
 * viova_guest_bo_close - close the buffer (GEM_CLOSE). Its iovas go back to the allocators
 * through the retire queue, after every job that listed it has signalled. Never waits.
 * Returns 0, -EPERM (another process's buffer); the buffer is freed in every other case.
 */
int viova_guest_bo_close(struct viova_guest_bo *bo);

/* The buffer's size (page-rounded) and wire id (0 for NULL). */
uint64_t viova_guest_bo_size(const struct viova_guest_bo *bo);
uint32_t viova_guest_bo_id(const struct viova_guest_bo *bo);

/*
 * viova_guest_bo_iova - where @bo is mapped in @vm (NULL: its context's primary VM).
 * Returns 0 and *iova, -ENOENT (not mapped there), -EINVAL.
 */
int viova_guest_bo_iova(const struct viova_guest_bo *bo, const struct viova_guest_vm *vm,
			uint64_t *iova);

/*
 * viova_guest_bo_set_iova - map the whole buffer in @vm (NULL: primary VM) at an iova
 * allocated locally (SET_IOVA, streamed, no wait). At most 4 VMs per buffer.
 * Returns 0 and *iova (may be NULL), -EBUSY (already mapped in @vm), -ENOSPC, -E2BIG (4 VMs),
 * -EIO, -EPERM.
 */
int viova_guest_bo_set_iova(struct viova_guest_bo *bo, struct viova_guest_vm *vm, uint64_t *iova);

/*
 * viova_guest_bo_clear_iova - unmap @bo from @vm (SET_IOVA 0). Waits (up to @timeout_ns) for
 * the buffer's jobs first, because the host refuses to clear an iova a running job uses; the
 * iova then goes through the retire queue. Returns 0, -ENOENT (not mapped), -ETIMEDOUT, -EIO.
 */
int viova_guest_bo_clear_iova(struct viova_guest_bo *bo, struct viova_guest_vm *vm,
			      uint64_t timeout_ns);

/*
 * viova_guest_bo_upload - write @size bytes at @offset of the buffer (GEM_UPLOAD, the data is
 * copied into the batch; large uploads are split). Ordered with the other commands.
 * Returns 0, -EINVAL (outside the buffer), -EIO, -EPERM.
 */
int viova_guest_bo_upload(struct viova_guest_bo *bo, uint64_t offset, const void *data,
			  uint64_t size);

/*
 * viova_guest_bo_download - read @size bytes at @offset of the buffer as they are after every
 * command sent before (GEM_DOWNLOAD, round trips). It does not wait for jobs: wait for their
 * fences first. Returns 0, -EINVAL, -ETIMEDOUT, -EIO (the host failed it: the error log
 * says why), -ENODEV, -EPERM.
 */
int viova_guest_bo_download(struct viova_guest_bo *bo, uint64_t offset, void *data, uint64_t size,
			    uint64_t timeout_ns);

/* ------------------------------------------------------------------------------------------ */
/* Jobs and fences                                                                             */
/* ------------------------------------------------------------------------------------------ */

struct viova_guest_submit_bo {
	struct viova_guest_bo *bo; /* a buffer of the submitting context */
	uint32_t flags;		   /* VIOVA_SUBMIT_BO_*: READ and/or WRITE */
	uint32_t pad0;
};

/* A job: the buffers it touches and its command records. */
struct viova_guest_submit {
	uint32_t format;   /* VIOVA_SUBMIT_FORMAT_SIM (struct viova_sim_job) or _CMDBUF */
	uint32_t bo_count; /* entries of bos */
	const struct viova_guest_submit_bo *bos;
	const void *cmds;   /* cmd_count records of the format */
	uint32_t cmd_count; /* > 0 */
	uint32_t pad0;
};

/*
 * viova_guest_submit - queue a job on @ctx (SUBMIT) and send the batch. The job's fence is the
 * context's next one. Every buffer in the list stays busy (its iovas are not reused) until the
 * fence signals. A GPU fault in the job loses the context (asynchronously).
 * @fence receives the fence; @seqno (may be NULL) the command's seqno, as in error records.
 * Returns 0, -EINVAL (no records, a buffer of another context), -EIO, -EPERM, -ENODEV.
 */
int viova_guest_submit(struct viova_guest_ctx *ctx, const struct viova_guest_submit *job,
		       uint64_t *fence, uint64_t *seqno);

/*
 * viova_guest_fence_wait - wait until @fence of @ctx has signalled, sleeping (no spinning)
 * until the host reports progress. A job's fence signals even when the job faulted; on a lost
 * context the call asks the host (one QUERY) whether the fence's SUBMIT was accepted, and keeps
 * waiting if so. Returns 0; -ETIMEDOUT; -EIO the context is lost and the host refused the
 * fence's SUBMIT (it will never signal); -EINVAL a fence never submitted; -ENODEV.
 */
int viova_guest_fence_wait(struct viova_guest_ctx *ctx, uint64_t fence, uint64_t timeout_ns);

/* viova_guest_fence_poll - 1 if @fence has signalled, 0 if not yet, or a negative errno. */
int viova_guest_fence_poll(struct viova_guest_ctx *ctx, uint64_t fence);

/* ------------------------------------------------------------------------------------------ */
/* Daemon monitoring                                                                           */
/* ------------------------------------------------------------------------------------------ */

/* What every guest connection of a viova-host daemon holds (socket STATS frame). */
struct viova_guest_host_stats {
	uint32_t connections; /* live guest connections */
	uint32_t contexts;
	uint32_t vms;
	uint32_t buffers;
	uint32_t mappings;
	uint32_t jobs_pending;
	uint64_t bytes;
	uint64_t connections_total;
	uint64_t batches;
	uint64_t rejected;
};

/*
 * viova_guest_host_stats - ask the daemon at @uri ("unix:/path") for its totals over a short
 * separate connection (it is not a guest device and creates nothing on the host).
 * Returns 0, -EOPNOTSUPP (not a socket uri), -ECONNREFUSED / -ENOENT, -EPROTO, -ETIMEDOUT.
 */
int viova_guest_host_stats(const char *uri, uint64_t timeout_ns, struct viova_guest_host_stats *st);

#ifdef __cplusplus
}
#endif

#endif /* VIOVA_GUEST_H */

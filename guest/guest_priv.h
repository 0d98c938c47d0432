/* SPDX-License-Identifier: MIT */
/*
 * guest_priv.h - internals shared by the guest/ sources (not installed, not public).
 *
 *   device.c        open/close, URI -> transport, fork handling, process ownership
 *   shared_heap.c   memfd + robust process-shared mutex; a VM's shared iova heap
 *   cmdbuf.c        the per-process batch, flush (seqno patching under the shared send lock),
 *                   waiting on the response area, response lanes, sync
 *   ctx.c           contexts: create, clone, destroy, status, QUERY stats
 *   vm.c            VMs: options and environment, alloc/free ranges, bind/unbind, info
 *   bo.c            buffers: create/close, set/clear iova, upload/download; submit; fences
 *   retire.c        the retire queue (iova reuse only after the jobs that used it signalled)
 *   reap.c          owner tags of processes, orphan reaping (contexts and ranges of dead ones)
 *   errors.c        last-error messages, draining the host's error ring into the shared log
 *   transport_socket.c   the unix-socket transport (viova/socket.h framing, doorbell futex)
 *
 * Lock order (never taken the other way round):
 *   dev->lock (process-local)  ->  shared send lock | a VM's shared heap lock | shared log lock
 * Every call into common/vma happens under dev->lock AND the VM's heap lock: dev->lock is what
 * the fork handlers hold, so a child never inherits a vma wrapper mutex held mid-call.
 * Nothing sleeps on the host while holding dev->lock, except a send that the socket's send
 * timeout bounds.
 */
#ifndef VIOVA_GUEST_PRIV_H
#define VIOVA_GUEST_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "transport.h"
#include "viova/codec.h"
#include "viova/guest.h"
#include "viova/vma.h"

#define GUEST_SHARED_MAGIC 0x53475649u /* "IVGS" */
#define GUEST_HEAP_MAGIC 0x48475649u   /* "IVGH" */
#define GUEST_LOG_RECORDS 256u	       /* shared error log (copied out of the host's ring) */
#define GUEST_MAX_LANES 16u	       /* response-payload lanes claimed per call */
#define GUEST_MAX_CTX_IDS 4096u	       /* host limit of max_contexts */
#define GUEST_BO_MAX_MAPS 4u
#define GUEST_WAIT_SLICE_NS 50000000ull	    /* longest sleep between liveness checks */
#define GUEST_MAX_PROCS 256u		    /* processes of a connection that own things (tags) */
#define GUEST_REAP_INTERVAL_NS 250000000ull /* sync/retire look for orphans at most this often */

#define GUEST_DEFAULT_TIMEOUT_NS 5000000000ull
#define GUEST_DEFAULT_BATCH (128u << 10)
#define GUEST_DEFAULT_AREA (4u << 20)
#define GUEST_MIN_AREA (64u << 10)
#define GUEST_DEFAULT_ERR_RECORDS 1024u
#define GUEST_DEFAULT_MAX_RANGES 65536u

/* A response lane: a slice of the payload region one thread uses for one call. */
struct guest_lane {
	int32_t tid;	     /* 0 = free; else the thread (gettid) holding it */
	int32_t pid;	     /* its process, to reclaim lanes of dead processes */
	uint64_t busy_until; /* reusable once processed_seqno >= this (late answers) */
};

/*
 * A process that owns contexts or heap ranges of the connection (reap.c). Its owner tag is
 * (gen << 8 | slot): a slot is reused with a new gen, so a stale tag never names a new owner.
 * gs = (gen << 32 | GUEST_PROC_*) changes by CAS only; pid and start are written while CLAIMING.
 */
#define GUEST_PROC_FREE 0u
#define GUEST_PROC_CLAIMING 1u
#define GUEST_PROC_ACTIVE 2u
struct guest_proc {
	uint64_t gs;
	int32_t pid;
	uint32_t pad0;
	uint64_t start; /* field 22 (starttime) of /proc/<pid>/stat: tells a reused pid apart */
	uint64_t pidns; /* inode of /proc/self/ns/pid: only a reaper seeing the same pids judges */
};

/*
 * State shared by every process of a connection (MAP_SHARED memfd, inherited across fork).
 * Nothing here is a pointer.
 */
struct guest_shared {
	uint32_t magic;
	uint32_t lost;		   /* device lost (atomic): the connection is gone */
	pthread_mutex_t send_lock; /* robust, process-shared: seqno order == send order */
	uint64_t next_seqno;	   /* under send_lock */
	uint64_t lock_recoveries;  /* atomic */
	uint32_t next_id;	   /* buffer/VM ids and range handles (atomic, never reused) */
	uint32_t pad0;
	uint32_t ctx_used[GUEST_MAX_CTX_IDS / 32]; /* bit i: ctx id i taken (atomic) */
	pthread_mutex_t log_lock;		   /* robust: drains the host's error ring */
	uint64_t log_count;			   /* records copied into log[] (free-running) */
	uint64_t log_missed;			   /* host ring overflow seen */
	struct viova_err_rec log[GUEST_LOG_RECORDS];
	struct guest_lane lanes[GUEST_MAX_LANES];
	uint32_t reap_epoch; /* bumped when a proc slot is given up: heaps may hold gone tags */
	uint32_t pad1;
	struct guest_proc procs[GUEST_MAX_PROCS];
	/* per ctx id: owner tag (low 32 bits), tag of the process reaping it (high 32 bits) */
	uint64_t ctx_rec[GUEST_MAX_CTX_IDS];
};

/* Header of a VM's heap memfd; the vma region follows at heap_off. */
struct guest_heap_shared {
	uint32_t magic;
	uint32_t broken;      /* set when a recovered heap failed its check */
	pthread_mutex_t lock; /* robust, process-shared; every vma call runs under it */
	uint64_t recoveries;
	uint64_t heap_off;
	uint64_t heap_bytes;
	uint32_t strategy; /* VIOVA_GUEST_VMA_* */
	uint32_t pad0;
	uint64_t seed;
	/*
	 * Owner index: who allocated each live range (reap.c frees the ranges of dead owners).
	 * Linear probing from slot handle & mask, 2^otab_bits entries (handle << 32 | owner tag;
	 * 0 empty, ~0 deleted) at otab_off, live entries at most 2/3 of it, deleted ones rebuilt
	 * away past 1/4; changed only under the lock, like the vma region.
	 */
	uint64_t otab_off;
	uint32_t otab_bits;
	uint32_t otab_tombs; /* deleted entries (~0) in the index */
};

struct guest_heap {
	void *map; /* whole memfd mapping */
	size_t map_size;
	struct guest_heap_shared *sh;
	struct viova_vma *vma; /* wrapper; valid in every process (no pointers in the region) */
};

struct viova_guest_vm {
	struct viova_guest_device *dev;
	uint32_t id;	      /* wire VM id (unique per connection) */
	uint32_t host_ctx_id; /* a context that has this VM on the host (for SHARE_VM) */
	pid_t owner;	      /* process that created the VM (extra VMs: destroy rights) */
	bool extra;	      /* VM_CREATE'd (not a primary VM) */
	bool dead;	      /* destroyed; waiting for retire entries to drop their refs */
	uint32_t refs;	      /* contexts of this process using it + retire entries + extra */
	struct guest_heap heap;
	struct viova_guest_vm *next; /* dev->vms */
};

struct viova_guest_ctx {
	struct viova_guest_device *dev;
	uint32_t id;
	pid_t owner;
	struct viova_guest_vm *vm;    /* primary VM (a ref) */
	uint64_t last_fence;	      /* last fence submitted */
	struct viova_guest_bo *bos;   /* buffers of this context (owner's list) */
	struct viova_guest_ctx *next; /* dev->ctxs */
};

struct guest_bo_map {
	struct viova_guest_vm *vm; /* not a ref: the bo's context keeps the VM alive */
	uint64_t iova;
};

struct viova_guest_bo {
	struct viova_guest_ctx *ctx;
	uint32_t id;
	uint32_t flags;
	uint64_t size;
	pid_t owner;
	uint32_t nmaps;
	uint64_t last_fence; /* last job of ctx that listed the buffer */
	struct guest_bo_map maps[GUEST_BO_MAX_MAPS];
	struct viova_guest_bo *prev, *next; /* ctx->bos */
};

/* One condition of a retire entry: fence of a context, or "processed >= gate". */
struct guest_retire_cond {
	uint32_t ctx_id; /* 0: satisfied (or replaced by the entry's gate) */
	uint32_t pad0;
	uint64_t fence;
};

/* An iova range waiting to go back to its allocator (process-local list). */
struct guest_retire {
	struct viova_guest_vm *vm; /* a ref */
	uint32_t handle;	   /* vma handle of the range */
	uint32_t ncond;
	uint64_t local_seq; /* the releasing command's local seqno: must have been sent */
	uint64_t gate;	    /* processed_seqno that must be reached (0: none) */
	struct guest_retire *next;
	struct guest_retire_cond cond[];
};

struct viova_guest_device {
	const struct guest_transport_ops *tops;
	struct guest_transport *tp;
	pid_t pid;   /* process this view belongs to */
	bool forked; /* set by the atfork child handler: re-initialise on next call */
	bool closing;
	pthread_mutex_t lock;	   /* process-local: encoder, lists, retire queue */
	uint32_t tag;		   /* this process's owner tag (0: none yet / none free) */
	uint32_t reap_epoch;	   /* sh->reap_epoch when this process last swept its heaps */
	uint64_t reap_next_ns;	   /* sync/retire look for orphans again from then on */
	pthread_mutex_t reap_lock; /* process-local: one reap pass at a time (never under lock) */

	struct viova_capset caps;
	uint64_t timeout_ns;
	void *area; /* response area (transport's memory) */
	uint32_t area_size;
	uint32_t res_id;
	struct viova_codec_resp_guest resp;
	uint32_t lane_count;
	uint32_t lane_size;

	struct guest_shared *sh;
	size_t sh_size;

	/* the batch */
	struct viova_codec_encoder enc;
	uint8_t *batch;
	size_t batch_cap;
	uint64_t local_sent;   /* local seqno of the last command sent */
	uint64_t sent_real;    /* real seqno of the last command sent */
	uint64_t flush_local0; /* last flush: local seqno of its first command ... */
	uint64_t flush_real0;  /* ... and the real seqno it got */

	/* objects of this process view */
	struct viova_guest_ctx *ctxs;
	struct viova_guest_vm *vms;
	struct guest_retire *retire;
	uint64_t log_cursor; /* next shared log record to return */

	struct viova_guest_stats st;
	struct viova_guest_device *next_dev; /* global list for the fork handlers */
};

/* ---- errors.c ---- */
/* Set this thread's last-error message; returns err (a negative errno) for tail calls. */
__attribute__((format(printf, 2, 3))) int guest_err(int err, const char *fmt, ...);
void guest_err_clear(void);
/* Copy new records from the host's ring into the shared log (under its lock). */
void guest_drain_errors(struct viova_guest_device *dev);

/* ---- shared_heap.c ---- */
/* A MAP_SHARED memfd of size bytes (zeroed). */
int guest_shm_create(const char *name, size_t size, void **map);
/* Initialise a robust, process-shared mutex in shared memory. */
int guest_shlock_init(pthread_mutex_t *m);
/*
 * Lock a robust shared mutex. *recovered (may be NULL) is set when the previous holder died
 * with it held (the mutex is made consistent; the caller checks what it protects).
 * Returns 0 or -ENOTRECOVERABLE / another negative errno.
 */
int guest_shlock(pthread_mutex_t *m, bool *recovered);
void guest_shunlock(pthread_mutex_t *m);
/* Create a VM heap covering the capset's window (reserved region excluded). */
int guest_heap_create(struct guest_heap *heap, const struct viova_capset *caps, uint32_t strategy,
		      uint64_t seed, uint32_t max_ranges, uint32_t vm_id);
void guest_heap_unmap(struct guest_heap *heap);
/*
 * Lock the heap. A recovery runs viova_vma_check and marks the heap broken when it fails.
 * Returns 0; -EUCLEAN the heap is broken (unlocked again); lock errors.
 */
int guest_heap_lock(struct guest_heap *heap, struct viova_guest_device *dev);
void guest_heap_unlock(struct guest_heap *heap);
/* Owner index (heap lock held): record / forget / look up the tag of a range's handle. */
void guest_heap_own(struct guest_heap *heap, uint32_t handle, uint32_t tag);
void guest_heap_disown(struct guest_heap *heap, uint32_t handle);
uint32_t guest_heap_owner(const struct guest_heap *heap, uint32_t handle);
/* Free every range whose owner tag makes gone() true (heap lock held). Returns how many. */
uint32_t guest_heap_reap(struct guest_heap *heap, bool (*gone)(void *arg, uint32_t tag), void *arg);
/* Check the owner index against the vma (heap lock held): 0 or -EUCLEAN with why. */
int guest_heap_check_owners(struct guest_heap *heap, char *why, size_t len);

/* ---- device.c ---- */
/* Enter a call on dev: dev->lock taken, fork re-initialisation done. Returns 0 or -ENODEV. */
int guest_enter(struct viova_guest_device *dev);
void guest_leave(struct viova_guest_device *dev);
/* 0, or -ENODEV (message set) when the device is lost. */
int guest_check_lost(struct viova_guest_device *dev);
void guest_mark_lost(struct viova_guest_device *dev, const char *why);
/* The next id from the shared counter (buffers, VMs, range handles). */
uint32_t guest_next_id(struct viova_guest_device *dev);
/* Take a context id (recording this process as its owner) / give one back (clearing that). */
int guest_ctx_id_alloc(struct viova_guest_device *dev, uint32_t *id);
void guest_ctx_id_free(struct viova_guest_device *dev, uint32_t id);
/* Only the bitmap bit (the reaper clears the record itself, by CAS). */
void guest_ctx_id_release(struct viova_guest_device *dev, uint32_t id);
static inline bool guest_mine(const struct viova_guest_device *dev, pid_t owner)
{
	return dev->pid == owner;
}

/* ---- cmdbuf.c ---- */
int guest_cmdbuf_init(struct viova_guest_device *dev, uint32_t batch_size);
void guest_cmdbuf_fini(struct viova_guest_device *dev);
/* Drop unsent commands (a forked child's copy of the parent's batch). */
void guest_cmdbuf_reset(struct viova_guest_device *dev);
/* Send the batch (dev->lock held). Returns 0 or a negative errno. */
int guest_flush_locked(struct viova_guest_device *dev);
/* The real seqno a command got, from its local seqno, once its batch has been sent. */
uint64_t guest_real_seqno(const struct viova_guest_device *dev, uint64_t local);
/*
 * Encode with one retry after a flush when the batch is full. ENC is an expression using the
 * encoder &dev->enc; ret receives its result.
 */
#define GUEST_ENCODE(dev, ret, ENC)                                                                \
	do {                                                                                       \
		(ret) = (ENC);                                                                     \
		if ((ret) == -ENOSPC) {                                                            \
			(ret) = guest_flush_locked(dev);                                           \
			if ((ret) == 0)                                                            \
				(ret) = (ENC);                                                     \
		}                                                                                  \
		if ((ret) == 0)                                                                    \
			(dev)->st.commands++;                                                      \
	} while (0)

/* Wait (without dev->lock) until cond(dev, arg) holds. Returns 0, -ETIMEDOUT, -ENODEV. */
typedef bool (*guest_cond_fn)(struct viova_guest_device *dev, void *arg);
int guest_wait(struct viova_guest_device *dev, guest_cond_fn cond, void *arg, uint64_t timeout_ns);
/* Wait until the host has processed real seqno `seqno`. */
int guest_wait_seqno(struct viova_guest_device *dev, uint64_t seqno, uint64_t timeout_ns);
uint64_t guest_processed(const struct viova_guest_device *dev);
/* Claim / release a response lane (no dev->lock held). Returns 0 and *lane, or -ETIMEDOUT. */
int guest_lane_claim(struct viova_guest_device *dev, uint64_t timeout_ns, uint32_t *lane);
/* busy_until: 0 when the answer was read; else the seqno whose answer may still arrive. */
void guest_lane_release(struct viova_guest_device *dev, uint32_t lane, uint64_t busy_until);
static inline uint32_t guest_lane_offset(const struct viova_guest_device *dev, uint32_t lane)
{
	return lane * dev->lane_size;
}
uint64_t guest_now_ns(void);

/* ---- ctx.c ---- */
/* Read the context's response slot. */
void guest_ctx_slot(const struct viova_guest_ctx *ctx, struct viova_resp_ctx *slot);
/* -EIO with a message when ctx is lost; -EPERM when not this process's. */
int guest_ctx_usable(struct viova_guest_ctx *ctx, const char *what);
/* Free a context struct and its local state without host traffic (close / fork child). */
void guest_ctx_forget(struct viova_guest_ctx *ctx);
/* Destroy this process's context on the host (dev->lock held); returns the destroy's local
 * seqno in *local (0 if nothing was encoded). */
int guest_ctx_destroy_locked(struct viova_guest_ctx *ctx, uint64_t *local);

/* ---- vm.c ---- */
int guest_vm_new(struct viova_guest_device *dev, const struct viova_guest_vm_options *opts,
		 bool extra, struct viova_guest_vm **out);
void guest_vm_get(struct viova_guest_vm *vm);
/* Drop a ref (dev->lock held); the last one unmaps the heap and frees the struct. */
void guest_vm_put(struct viova_guest_vm *vm);
/* vm_id a command from ctx names vm by: 0 for ctx's primary VM. */
uint32_t guest_vm_wire_id(const struct viova_guest_ctx *ctx, const struct viova_guest_vm *vm);
/* Allocate / free a range under the heap lock (dev->lock held). */
int guest_vm_alloc_locked(struct viova_guest_vm *vm, uint32_t handle, uint64_t size, uint64_t align,
			  uint64_t *addr, const char *what);
int guest_vm_free_handle_locked(struct viova_guest_vm *vm, uint32_t handle);
const char *guest_strategy_name(uint32_t strategy);

/* ---- bo.c ---- */
/*
 * Free the bo struct and queue its iovas (dev->lock held): released once the command with
 * local seqno local_seq is sent and the bo's context has completed `fence` (UINT64_MAX: only
 * when the context is gone, see guest_retire_ctx_gone).
 */
void guest_bo_forget(struct viova_guest_bo *bo, uint64_t local_seq, uint64_t fence);

/* ---- retire.c ---- */
/* Queue vm range `handle` (dev->lock held); the conditions are copied. */
int guest_retire_add(struct viova_guest_device *dev, struct viova_guest_vm *vm, uint32_t handle,
		     uint64_t local_seq, uint64_t gate, const struct guest_retire_cond *cond,
		     uint32_t ncond);
/* Release what is ready (dev->lock held). Returns entries left. */
uint32_t guest_retire_poll(struct viova_guest_device *dev);
/* Context ctx_id was destroyed by the command that gets real seqno >= gate. */
void guest_retire_ctx_gone(struct viova_guest_device *dev, uint32_t ctx_id, uint64_t gate);
/* Drop every entry without releasing (fork child: the parent owns them). */
void guest_retire_drop(struct viova_guest_device *dev);
/* Entries in the queue. */
uint32_t guest_retire_count(const struct viova_guest_device *dev);

/* ---- reap.c ---- */
/* This process's owner tag, claiming a proc slot on first use (dev->lock held); 0: none. */
uint32_t guest_owner_tag(struct viova_guest_device *dev);
/* Give the slot up (device closed after everything it made was destroyed on the host). */
void guest_owner_release(struct viova_guest_device *dev);
/*
 * Implicit reaping (no lock held): a pass when interval_ns has passed since the last one
 * (0: always). Failures are ignored: the caller's call goes on; the next pass retries.
 */
void guest_reap_auto(struct viova_guest_device *dev, uint64_t interval_ns);

#endif /* VIOVA_GUEST_PRIV_H */

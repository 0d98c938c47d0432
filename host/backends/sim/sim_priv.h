/* SPDX-License-Identifier: MIT */
/*
 * sim_priv.h - internals of the sim backend, shared by sim_backend.c (ops table, caps,
 * contexts, fences), sim_vm.c (address spaces, buffers, translation) and sim_gpu.c (the GPU:
 * submit validation, scheduler, worker thread). Nothing outside host/backends/sim includes it;
 * the entry point and the test hooks are in sim.h.
 *
 * DOC: locking
 *
 * One mutex per backend instance (sim_backend.lock) protects every table below: VMs and their
 * va_spaces, the buffer table, contexts, timelines, the job queues and the counters. The core
 * calls ops from one thread; the GPU worker is the only other thread. The worker holds the lock
 * while it translates an address and drops it while it moves the bytes of one page:
 *
 *   worker                                     core thread
 *   ------                                     -----------
 *   lock; translate page (VM tables);
 *   access[] = the buffer(s); unlock
 *   memcpy / fill one page  (no lock)          bo_set_iova / unbind: run now, the next page
 *                                              sees the new tables
 *                                              bo_read / bo_write / buffer teardown: wait
 *                                              while the buffer is in access[] (one page)
 *   lock; access[] = NULL; broadcast done_cv
 *
 * Lazy backing follows the same rule: a buffer's memory (bo->mem) is allocated at its first
 * write with the lock dropped, and published with the lock held. The worker allocates with
 * the buffer(s) of the step in access[] (nobody else can back, read or free them meanwhile);
 * bo_write allocates with nothing held and, if the worker backed the buffer in the meantime,
 * frees its own copy (sim_bo_back_gpu / sim_bo_back_cpu).
 *
 * Event callbacks (fence_signaled, job_fault) are never called with the lock held: the worker
 * counts them in ctx->cb_inflight around the call and ctx_destroy waits for that count to drop
 * to zero, so no event names a context after ctx_destroy returns.
 */
#ifndef VIOVA_SIM_PRIV_H
#define VIOVA_SIM_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "viova/backend.h"
#include "viova/va_space.h"

#include "sim.h"

/* Caller bit of a va_space mapping (bit 0 is VIOVA_VA_SPARSE): GPU writes through it fault. */
#define SIM_MAP_READONLY (1u << 1)
/* The mapping SET_IOVA made (the whole buffer); bind pieces never carry it. */
#define SIM_MAP_WHOLE (1u << 2)

/*
 * Backing of a written buffer: up to this size on the heap, larger ones in their own
 * anonymous mapping (whose pages the host kernel commits one by one as they are touched).
 */
#define SIM_SMALL_BO_SIZE (64u * 1024u)

/* Engine map / SSEU of a new context: the sim GPU has one engine and one slice. */
#define SIM_DEFAULT_ENGINES 1u
#define SIM_DEFAULT_SSEU 0x1u

struct sim_backend;
struct sim_job;

struct viova_be_vm {
	struct sim_backend *sb;
	struct viova_va_space *vs; /* the "GPU page table" of this VM */
	struct viova_va_ops *ops;  /* reused op list for bind/unbind */
	uint32_t refs;		   /* 1 for the core until vm_destroy, +1 per context */
	uint32_t id;		   /* for messages */
	struct viova_be_vm *prev, *next;
};

struct viova_be_bo {
	struct sim_backend *sb;
	/*
	 * size zero-filled bytes, or NULL until the first write (lazy backing: an unbacked
	 * buffer reads as zeros). Set once, never cleared before teardown; written only with the
	 * lock held and the buffer not in sb->access[] (sim_bo_back_*), so whoever holds the lock
	 * or has the buffer in sb->access[] reads it race-free.
	 */
	uint8_t *mem;
	uint64_t size;
	uint32_t flags;	      /* VIOVA_GEM_* */
	uint32_t id;	      /* key of its mappings in every VM's va_space (index in sb->bo_tab) */
	uint32_t busy;	      /* queued or running jobs that list it */
	bool closed;	      /* bo_close came while busy: torn down when busy drops to 0 */
	uint64_t submit_mark; /* duplicate detection while one submit is validated */
};

/* Scheduler levels: one per priority value; the run queue orders levels strictly. */
#define SIM_PRIO_LEVELS (VIOVA_PRIORITY_MAX - VIOVA_PRIORITY_MIN + 1)
/* rq_idx of a timeline that is not on the run queue */
#define SIM_RQ_NONE UINT32_MAX

/*
 * A fence timeline: the FIFO the scheduler takes jobs from, and the unit it is fair between.
 * Every context has one; CTX_CLONE with VIOVA_CLONE_TIMELINE shares the source's, so the two
 * contexts' jobs run in submission order whatever their priorities (docs/sim.md "Scheduling").
 */
struct sim_timeline {
	uint32_t refs; /* contexts using it */
	uint32_t id;
	struct sim_job *head, *tail;
	/*
	 * Work charged (cost units, sim.h): the run queue serves the least charged timeline of
	 * the highest level first. Lifted to the level's clock when it (re)joins, so idling earns
	 * no credit.
	 */
	uint64_t vtime;
	int32_t level;	 /* key: priority of its head job when keyed (vtime is per level) */
	uint32_t rq_idx; /* in sb->rq, or SIM_RQ_NONE */
	uint64_t seq;	 /* key: its head job's submission order when keyed (ties) */
	bool running;	 /* its job is on the GPU: key frozen until sim_gpu_requeue */
};

struct viova_be_ctx {
	struct sim_backend *sb;
	struct viova_be_vm *vm;
	struct sim_timeline *tl;
	void *cookie; /* ctx_cookie of the events */
	uint32_t id;  /* for messages */
	uint32_t params;
	int32_t priority;
	uint32_t engines; /* engine map: number of engines (SIM_DEFAULT_ENGINES) */
	uint32_t sseu;	  /* slice mask */
	uint64_t last_submitted;
	uint64_t completed;    /* last fence that signalled (state, before the event) */
	uint64_t reported;     /* last fence given to events->fence_signaled */
	uint32_t queued;       /* jobs queued or running */
	uint64_t queued_bytes; /* their records, against SIM_MAX_QUEUED_BYTES_PER_CTX */
	uint32_t cb_inflight;
	uint32_t faults;
	uint64_t last_fault_iova;
	bool banned;	 /* faulted without VIOVA_CTX_RECOVERABLE */
	bool destroying; /* ctx_destroy in progress: no more events from the worker */
	struct viova_be_ctx *prev, *next;
};

struct sim_job {
	struct sim_job *next; /* in its timeline */
	struct viova_be_ctx *ctx;
	uint64_t fence;
	uint64_t seq; /* global submission order: breaks ties between equally charged timelines */
	int32_t priority;
	uint32_t nwords;
	uint32_t nbos;
	bool cancel; /* ctx_destroy: stop at the next page */
	size_t alloc_size;
	struct viova_sim_job *words;
	struct viova_be_bo **bos;
};

/* Why a job stopped. */
struct sim_fault {
	/*
	 * 0, -EFAULT (translation / permission fault), -ENOMEM (a first write the host could
	 * not back), -ETIMEDOUT (hang-check), -ECANCELED
	 */
	int err;
	/* -EFAULT / -ENOMEM: the failed access; -ETIMEDOUT: the next one the job would make */
	uint64_t iova;
	uint32_t word;
};

struct sim_backend {
	struct viova_backend base; /* first: the core sees this */

	/* configuration (immutable after create) */
	uint64_t va_start, va_size;
	uint64_t res_start, res_size;
	uint64_t max_bytes;
	uint64_t job_timeout_ns; /* hang-check budget (test hook may change it, lock held) */

	pthread_mutex_t lock;
	pthread_cond_t work_cv; /* worker: job queued, resume, cancel, stop */
	pthread_cond_t done_cv; /* fence signalled, page access done, callbacks done, parked */

	/* worker */
	pthread_t worker;
	bool worker_started;
	bool stop;
	bool paused; /* test hook: the worker parks before its next page / job start */
	bool parked;
	struct sim_job *running;
	uint64_t hc_deadline;	       /* CLOCK_MONOTONIC ns at which the running job times out */
	uint32_t hc_steps;	       /* steps since the last clock read */
	uint64_t run_cost;	       /* work of the running job so far (cost units, sim.h) */
	struct viova_be_bo *access[2]; /* buffers the worker is touching outside the lock */
	uint32_t access_waiters;

	/* buffer table: id -> buffer (ids 1..bo_cap-1, 0 unused) */
	struct viova_be_bo **bo_tab;
	uint32_t bo_cap;
	uint32_t *bo_free; /* stack of free ids */
	uint32_t bo_nfree;
	uint32_t bo_next; /* next never-used id */
	uint64_t bytes; /* buffer sizes charged (from bo_create on, backed or not), vs max_bytes */
	uint32_t backing_fail; /* test hook: refuse this many more backings (UINT32_MAX: all) */
	void (*backing_window)(void *arg); /* test hook: called in sim_bo_back_cpu's window */
	void *backing_window_arg;

	struct viova_be_vm *vms;
	struct viova_be_ctx *ctxs;

	/*
	 * Run queue: binary heap of the timelines with a queued or running job, ordered by
	 * (level desc, vtime, seq). rq_cap is reserved when a timeline is created, so pushing
	 * never allocates. vclock[level - VIOVA_PRIORITY_MIN] is the vtime of the last timeline
	 * picked at that level (<= every queued one's).
	 */
	struct sim_timeline **rq;
	uint32_t rq_len, rq_cap;
	uint64_t vclock[SIM_PRIO_LEVELS];

	uint64_t submit_seq;
	uint64_t queued_bytes; /* job records held by all contexts (statistics) */
	uint32_t next_id;      /* ids of VMs, contexts, timelines (messages) */

	struct sim_debug_stats st; /* counters (sim.h) */
};

static inline struct sim_backend *sim_of(struct viova_backend *be)
{
	return (struct sim_backend *)be;
}

/* ---- sim_vm.c: address spaces, buffers, translation ------------------------------------ */

int sim_vm_create(struct viova_backend *be, struct viova_be_vm **out);
void sim_vm_destroy(struct viova_backend *be, struct viova_be_vm *vm);
/* Drop one reference (lock held); frees the VM at zero. */
void sim_vm_put(struct sim_backend *sb, struct viova_be_vm *vm);

int sim_bo_create(struct viova_backend *be, struct viova_be_vm *home, uint64_t size, uint32_t flags,
		  struct viova_be_bo **out);
void sim_bo_close(struct viova_backend *be, struct viova_be_bo *bo);
/* Unmap from every VM and free (lock held, bo not busy, not in sb->access). */
void sim_bo_teardown(struct sim_backend *sb, struct viova_be_bo *bo);
/* Block (lock held) while the worker touches bo outside the lock. */
void sim_bo_wait_access(struct sim_backend *sb, const struct viova_be_bo *bo);

/*
 * Lazy backing (lock held on entry and exit; bo->mem is NULL). Both drop the lock around the
 * allocation. 0 once bo->mem is set, -ENOMEM if it could not be (nothing changed).
 *
 * sim_bo_back_gpu: for the worker's first write to bo; bo and other (the other buffer of the
 * step, or NULL) sit in sb->access[] meanwhile, so neither is freed or touched by the CPU and
 * nobody else can back bo: the worker's allocation always wins.
 * sim_bo_back_cpu: for bo_write (the caller has waited for sim_bo_wait_access); if the worker
 * backed bo while the lock was dropped, the loser's memory is freed and 0 returned.
 */
int sim_bo_back_gpu(struct sim_backend *sb, struct viova_be_bo *bo, struct viova_be_bo *other);
int sim_bo_back_cpu(struct sim_backend *sb, struct viova_be_bo *bo);

int sim_bo_set_iova(struct viova_backend *be, struct viova_be_vm *vm, struct viova_be_bo *bo,
		    uint64_t iova);
int sim_bind(struct viova_backend *be, struct viova_be_vm *vm, struct viova_be_bo *bo,
	     uint64_t addr, uint64_t range, uint64_t bo_offset, uint32_t flags);
int sim_unbind(struct viova_backend *be, struct viova_be_vm *vm, uint64_t addr, uint64_t range);
int sim_bo_write(struct viova_backend *be, struct viova_be_bo *bo, uint64_t offset,
		 const void *data, uint64_t size);
int sim_bo_read(struct viova_backend *be, struct viova_be_bo *bo, uint64_t offset, void *data,
		uint64_t size);

/*
 * Translate the GPU access of the page holding iova (lock held): on success *bo and *off name
 * the backing byte and *run how many bytes of the access (<= want) stay inside that page.
 * -EFAULT if nothing is mapped there, or for a write through a read-only mapping or to a
 * VIOVA_GEM_GPU_READONLY buffer.
 */
int sim_vm_translate(struct sim_backend *sb, struct viova_be_vm *vm, uint64_t iova, uint64_t want,
		     bool write, struct viova_be_bo **bo, uint64_t *off, uint64_t *run);

/* ---- sim_gpu.c: submit, scheduler, worker ---------------------------------------------- */

int sim_gpu_submit(struct viova_backend *be, struct viova_be_ctx *ctx,
		   const struct viova_be_submit *job);
/* Make room on the run queue for n timelines (lock held): 0 or -ENOMEM. */
int sim_gpu_rq_reserve(struct sim_backend *sb, uint32_t n);
/*
 * Cancel every queued job of ctx and stop its running one at the next page; returns with the
 * lock held once none is left and no event callback for ctx is in flight.
 */
void sim_gpu_quiesce_ctx(struct sim_backend *sb, struct viova_be_ctx *ctx);
/* Stop and join the worker (lock NOT held). */
void sim_gpu_stop(struct sim_backend *sb);

#endif /* VIOVA_SIM_PRIV_H */

/* SPDX-License-Identifier: MIT */
/*
 * sim.h - the sim backend's entry point (for host/backends/registry.c), its defaults, and the
 * debug/test hooks the tests use. Private to host/backends and the host's tests
 * (tests/unit/host, tests/integration/host): the core never includes it and reaches the sim
 * only through viova_backend_create("sim", ...) and the ops table.
 *
 * docs/sim.md describes what the sim models.
 */
#ifndef VIOVA_SIM_H
#define VIOVA_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "viova/backend.h"

/*
 * Defaults (struct viova_backend_config fields left 0). The window starts at 4 GiB like msm's
 * per-process address spaces (the low 4 GiB belong to the kernel's global mappings) and ends at
 * 2^44, so guest allocators exercise addresses well above 32 bits. The kernel-reserved region is
 * the window's top 16 MiB: a HIGH_TO_LOW guest allocator meets it first.
 */
#define SIM_DEFAULT_VA_START 0x100000000ull
#define SIM_DEFAULT_VA_SIZE 0xfff00000000ull
#define SIM_DEFAULT_RESERVED_SIZE (16ull << 20)
#define SIM_DEFAULT_MAX_BYTES (512ull << 20) /* buffer sizes per instance, charged at create */

#define SIM_PAGE_SIZE 4096u
#define SIM_MIN_ALIGNMENT 4096u
/* Longest WAIT_FENCE block the capset advertises (the core caps guest timeouts with it). */
#define SIM_MAX_WAIT_NS 100000000ull
/*
 * Job records per submit, and bytes of queued jobs per CONTEXT (-EAGAIN beyond). Per context,
 * not per instance: a context that floods the queue is refused itself and can never get
 * another context's job refused (a refused SUBMIT loses its context). The instance total is
 * bounded by the host's context quota times this budget.
 */
#define SIM_MAX_JOB_WORDS 65536u
#define SIM_MAX_QUEUED_BYTES_PER_CTX (4ull << 20)
/*
 * Hang-check (docs/sim.md "Hang-check"): GPU time one job may take before it is stopped with
 * -ETIMEDOUT and its context banned, like a kernel's job timeout followed by a GPU reset. The
 * biggest thing a sane job does -- write every byte of the 512 MiB buffer budget once -- takes
 * about 0.4 s on a slow core with first-touch page faults (1.3 s under valgrind), so 2 s does not
 * stop real work, while a hung context costs the other contexts of its connection 2 s, in
 * the range of kernel timeouts (i915's heartbeat interval is 2.5 s).
 */
#define SIM_DEFAULT_JOB_TIMEOUT_NS 2000000000ull
/*
 * The worker reads the clock every this many steps (one step is at most one page of one word,
 * so at most 64 KiB of moved bytes): a job overruns its budget by microseconds, while the clock
 * read adds about 1% to a cache-hot fill (within run-to-run noise) and less to anything else.
 */
#define SIM_HANGCHECK_STEPS 16u
/*
 * Fair scheduling (docs/sim.md "Scheduling"): within a priority level the worker serves the
 * timeline that has been charged the least work. Work is counted in byte-equivalents of GPU
 * time: every byte a step moves (COPY: read and written, so twice), plus fixed costs measured
 * on the sim's worker, so that many tiny jobs are not free next to one big one: a job (pick,
 * retire, events) takes about 50 ns, as long as moving 2 KiB cache-hot; a step (lock, page
 * translation) about 23 ns, 0.9 KiB cache-hot and much less when moves are memory-bound.
 */
#define SIM_SCHED_JOB_COST 2048u
#define SIM_SCHED_STEP_COST 512u
/* Context parameters a clone takes when VIOVA_CLONE_FLAGS is not given (i915's defaults). */
#define SIM_DEFAULT_PARAMS (VIOVA_CTX_BANNABLE | VIOVA_CTX_RECOVERABLE)

/* capset identification */
#define SIM_DRIVER_MAJOR 1
#define SIM_DRIVER_MINOR 0
#define SIM_DRIVER_PATCH 0
#define SIM_GPU_ID 0x51u		/* "Q": not a real Adreno/Intel id */
#define SIM_CHIP_ID 0x5649564f53494dull /* "VIOVSIM" */

/*
 * Create a sim backend instance (what viova_backend_create("sim", ...) calls).
 * config may be NULL (all defaults); each 0 field takes its default (sim_job_timeout_ns: any
 * non-zero value is taken as is). Returns 0, -EINVAL for a
 * window or reserved region that is not page aligned, empty, wrapping, or (reserved) not inside
 * the window, -ENOMEM.
 */
int sim_backend_create(const struct viova_backend_config *config,
		       const struct viova_backend_events *events, void *cookie,
		       struct viova_backend **out);

/* ---- debug / test hooks ---------------------------------------------------------------- */

/* Live objects and work counters of one instance (all zero/idle after a clean teardown). */
struct sim_debug_stats {
	uint32_t vms;
	uint32_t ctxs;
	uint32_t bos; /* including closed ones still held by a job */
	uint32_t timelines;
	uint32_t jobs_queued; /* queued or running */
	uint64_t bytes;	      /* buffer sizes charged against sim_max_bytes */
	uint64_t jobs_run;
	uint64_t jobs_faulted;	 /* including the timed-out ones */
	uint64_t jobs_timed_out; /* stopped by the hang-check */
	uint64_t jobs_skipped;	 /* not run: the context was banned */
	uint64_t jobs_cancelled; /* removed or stopped by ctx_destroy / destroy */
	bool worker_started;
	/*
	 * Lazy backing (docs/sim.md "Buffers"): `bytes` above is what buffers are charged
	 * against sim_max_bytes (their full size from bo_create on); these count the buffers
	 * that have host memory, i.e. have been written at least once, and their sizes.
	 */
	uint32_t bos_backed;
	uint64_t bytes_backed;
	uint64_t backing_failures; /* first writes refused -ENOMEM (allocation or test hook) */
	uint64_t backing_lost;	   /* upload backings freed: the GPU backed the buffer first */
};

void sim_debug_stats(struct viova_backend *be, struct sim_debug_stats *st);

/*
 * Hold the GPU: after sim_debug_pause() the worker parks before the next page it would touch,
 * which includes the start of the next job it takes (so a job submitted while paused becomes
 * "running" and stops before its first byte; later jobs stay queued). sim_debug_resume() lets
 * it go on. ctx_destroy and destroy still cancel parked jobs, so a test cannot hang them.
 */
void sim_debug_pause(struct viova_backend *be);
void sim_debug_resume(struct viova_backend *be);
/* Wait until the worker is parked (0) or timeout_ns passed (-ETIMEDOUT). */
int sim_debug_wait_parked(struct viova_backend *be, uint64_t timeout_ns);

/*
 * Change the hang-check budget of later jobs (0: the default). For tests that reach the sim
 * through a harness that creates it with a NULL config (tests/integration/host).
 */
void sim_debug_set_job_timeout(struct viova_backend *be, uint64_t timeout_ns);

/*
 * Make the next n first-write allocations fail as if the host were out of memory
 * (UINT32_MAX: every one until called again with 0). A refused upload returns -ENOMEM; a GPU
 * job whose write needs the memory faults with -ENOMEM before its fence. Only allocations
 * are affected: writes to buffers already backed go on.
 */
void sim_debug_fail_backing(struct viova_backend *be, uint32_t n);

/*
 * Call fn(arg) from bo_write's first-write backing after it has allocated the memory and
 * before it takes the instance lock again (NULL: no call). A test can let the GPU back the
 * same buffer in that window, so the upload deterministically loses the race and frees its
 * allocation (backing_lost). fn runs on the caller's thread with no sim lock held.
 */
void sim_debug_set_backing_window(struct viova_backend *be, void (*fn)(void *arg), void *arg);

/* What a context holds, for the clone tests. */
struct sim_debug_ctx_info {
	uint32_t params;
	int32_t priority;
	uint32_t engines;
	uint32_t sseu;
	uint32_t timeline_id; /* equal ids = shared timeline */
	const struct viova_be_vm *vm;
	uint64_t last_submitted;
	uint64_t completed;
	uint32_t faults;
	uint64_t last_fault_iova;
	bool banned;
};

void sim_debug_ctx_info(struct viova_backend *be, struct viova_be_ctx *ctx,
			struct sim_debug_ctx_info *info);
/*
 * Give a context a non-default engine map / SSEU (the wire has no command for it; i915 has
 * SETPARAM ENGINES/SSEU), so the clone tests can see what ENGINES and SSEU copy.
 */
void sim_debug_ctx_set_engines(struct viova_backend *be, struct viova_be_ctx *ctx, uint32_t engines,
			       uint32_t sseu);

/* The backend's own page table of a VM: number of mappings, and the one holding iova. */
struct sim_debug_mapping {
	uint64_t addr;
	uint64_t range;
	const struct viova_be_bo *bo;
	uint64_t bo_offset;
	bool readonly;
};

uint32_t sim_debug_vm_count(struct viova_backend *be, struct viova_be_vm *vm);
/* 0 and *out filled, or -ENOENT if nothing is mapped at iova. */
int sim_debug_vm_find(struct viova_backend *be, struct viova_be_vm *vm, uint64_t iova,
		      struct sim_debug_mapping *out);

#endif /* VIOVA_SIM_H */

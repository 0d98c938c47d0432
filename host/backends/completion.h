/* SPDX-License-Identifier: MIT */
/*
 * completion.h - the completion thread the msm and i915 backends share: one per backend
 * instance, it waits in the kernel on the oldest unfinished job of each context, retires it
 * and raises the events of viova/backend.h, so a guest that only watches its fence sees it
 * signal (and any fault) without ever asking.
 *
 * A kernel offers no callback, only blocking waits; so the thread blocks in the driver's wait
 * ioctl with a short timeout (BE_COMP_SLICE_NS) and goes round the contexts. What to wait on and
 * how to read a fault count is the driver's (struct be_completion_ops); the bookkeeping, the
 * single retirement path shared with fence_completed / fence_wait, and the event ordering rules
 * are here. docs/drivers.md ("Completion") has the picture.
 */
#ifndef VIOVA_BACKENDS_COMPLETION_H
#define VIOVA_BACKENDS_COMPLETION_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "viova/backend.h"

#include "drm_seam.h"
#include "fence_queue.h"

/*
 * Longest the thread stays in one kernel wait: bounds how long ctx_destroy / destroy wait for
 * it (a kernel wait cannot be interrupted from user space without signals), and how long one
 * context's long job can hold up noticing another's completion.
 */
#define BE_COMP_SLICE_NS 20000000ull

struct be_completion;

/*
 * A context as the completion thread knows it; each backend embeds one in its context and
 * finds its own struct back with container_of-style arithmetic. All fields belong to the
 * engine (under its lock, or to the one thread holding the retirement token).
 */
struct be_cctx {
	struct be_fence_queue pending; /* accepted by the kernel, not yet retired, oldest first */
	void *cookie;		       /* ctx_cookie for events */
	uint64_t last_fence;	       /* last fence submitted */
	uint64_t completed;	       /* last fence retired (what fence_completed answers) */
	uint64_t signaled;	       /* last fence reported by fence_signaled */
	uint32_t faults;	       /* the kernel's fault count last seen (token holder only) */
	uint32_t users;		       /* threads in a kernel wait on it, lock dropped */
	bool retiring;		       /* the retirement token: one retirer per context at a time */
	bool dying;		       /* in ctx_destroy: no more events, the thread keeps off */
	bool wait_failed;	       /* a wait error was logged once already */
	struct be_cctx *next;
};

struct be_completion_ops {
	/*
	 * Wait up to timeout_ns (0: just look) for job, one of c's pending jobs, in the kernel.
	 * Called with no lock held, from the thread or an op's caller. Returns 0 when the job is
	 * done (and so every older job of c: one kernel queue completes in order), -ETIMEDOUT,
	 * or another negative errno (the backend's wire mapping).
	 */
	int (*wait)(struct be_completion *bc, struct be_cctx *c, const struct be_pending *job,
		    uint64_t timeout_ns);
	/*
	 * The kernel's running count of jobs of c found guilty of a fault or hang. Called with no
	 * lock held by the holder of c's retirement token, right after a job completed. 0 or a
	 * negative errno (then no fault is reported for this completion).
	 */
	int (*faults)(struct be_completion *bc, struct be_cctx *c, uint32_t *count);
};

struct be_completion {
	struct viova_backend *be; /* events, events_cookie, ops->name (for the log) */
	const struct be_completion_ops *ops;
	const struct drm_seam *seam; /* where a failed wait is logged */
	pthread_mutex_t lock;
	pthread_cond_t work; /* submit / stop -> thread */
	pthread_cond_t done; /* retirements, token releases, users leaving -> waiters */
	pthread_t thread;
	bool stop;
	uint32_t rr; /* round-robin position among contexts with pending jobs */
	struct be_cctx *ctxs;
};

/* Initialise bc and start its thread for be (whose ops/events are set). 0, -ENOMEM, -EAGAIN. */
int be_comp_start(struct be_completion *bc, struct viova_backend *be,
		  const struct be_completion_ops *ops, const struct drm_seam *seam);
/* Stop and join the thread (prompt: at most one wait slice). Contexts stay registered. */
void be_comp_stop(struct be_completion *bc);
/* After be_comp_stop: unregister and return one context still registered (NULL: none left). */
struct be_cctx *be_comp_leftover(struct be_completion *bc);
/* After be_comp_stop and the leftovers: release the lock and condition variables. */
void be_comp_fini(struct be_completion *bc);

/* A new context (c zeroed by the caller) whose events carry cookie. */
void be_comp_ctx_add(struct be_completion *bc, struct be_cctx *c, void *cookie);
/*
 * ctx_destroy's half: waits until neither the thread nor a callback uses c, unregisters it,
 * reports the last submitted fence (fences of a destroyed context still signal, backend.h) if
 * not reported yet, from the caller's thread, and frees its pending list. No event names c
 * afterwards; the caller then tells the kernel and frees its own struct.
 */
void be_comp_ctx_del(struct be_completion *bc, struct be_cctx *c);

/* Before a submit ioctl: -EINVAL unless fence grows, -ENOMEM; else room for one more job. */
int be_comp_submit_prepare(struct be_completion *bc, struct be_cctx *c, uint64_t fence);
/* After the kernel accepted the job (kernel: seqno / batch handle): queue it, wake the thread. */
void be_comp_submit_commit(struct be_completion *bc, struct be_cctx *c, uint64_t fence,
			   uint32_t kernel);

/* fence_completed: retires whatever the kernel has finished (no wait), returns the last fence. */
uint64_t be_comp_completed(struct be_completion *bc, struct be_cctx *c);
/* fence_wait: 0, -ETIMEDOUT, -EINVAL (never submitted), -EDEADLK (from an event callback). */
int be_comp_wait(struct be_completion *bc, struct be_cctx *c, uint64_t fence, uint64_t timeout_ns);

#endif /* VIOVA_BACKENDS_COMPLETION_H */

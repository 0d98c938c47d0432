/* SPDX-License-Identifier: MIT */
/*
 * completion.c - see completion.h.
 *
 * DOC: one retirement path
 *
 * Three callers learn from the kernel that a job is done: the completion thread, fence_completed
 * (a wait of 0) and fence_wait (the caller's own bounded wait). All of them wait with the lock
 * dropped and then call be_comp_retire(), which is the only place a job leaves the pending
 * list. It takes the context's retirement token, so per context:
 *
 *   lock:      token taken; the job's index and fence noted
 *   unlocked:  fault count read; a new one -> job_fault(fence)        (rule 1: fence not shown)
 *   lock:      job and every older one dropped; completed = fence     (fence_completed / wait
 *              see it from here)
 *   unlocked:  fence_signaled(fence), unless the context is dying     (rules 2 and 4)
 *   lock:      token released, waiters woken
 *
 * A second retirer of the same context waits for the token and then finds its job already
 * retired, so no fence is reported twice and fences only grow. An event callback that calls
 * fence_completed is answered from the state as it is (no kernel call, no wait: rule 4), and
 * fence_wait from a callback is -EDEADLK unless already done.
 */
#include <errno.h>
#include <time.h>

#include "completion.h"

/* Nonzero while this thread runs an event callback of some backend (backend.h rule 4). */
static _Thread_local unsigned be_in_event;

static void be_comp_fault_event(struct be_completion *bc, struct be_cctx *c, uint64_t fence)
{
	const struct viova_backend_events *ev = bc->be->events;

	if (!ev || !ev->job_fault)
		return;
	be_in_event++;
	/* Neither uapi says where a job faulted (docs/drivers.md): the iova is unknown, 0. */
	ev->job_fault(bc->be->events_cookie, c->cookie, fence, 0, -EIO);
	be_in_event--;
}

static void be_comp_fence_event(struct be_completion *bc, void *cookie, uint64_t fence)
{
	const struct viova_backend_events *ev = bc->be->events;

	if (!ev || !ev->fence_signaled)
		return;
	be_in_event++;
	ev->fence_signaled(bc->be->events_cookie, cookie, fence);
	be_in_event--;
}

/*
 * The job of fence is done in the kernel: retire it and every older job of c, reporting them
 * (see the DOC above). Lock held on entry and exit, dropped for the fault query and events.
 */
static void be_comp_retire(struct be_completion *bc, struct be_cctx *c, uint64_t fence)
{
	uint32_t idx, count;
	uint64_t done;
	bool fault;

	while (c->retiring)
		pthread_cond_wait(&bc->done, &bc->lock);
	if (fence <= c->completed || be_fq_find(&c->pending, fence, &idx))
		return; /* someone else retired it meanwhile */
	c->retiring = true;
	/* Only the token holder retires, so idx stays valid across the unlock (submit appends). */
	done = c->pending.jobs[idx].fence;
	pthread_mutex_unlock(&bc->lock);

	/* Read after the completion: a fault of this job (or an older one) is counted by now. */
	fault = !bc->ops->faults(bc, c, &count) && count != c->faults;
	if (fault) {
		c->faults = count;
		/* A dying context gets no events; ctx_destroy waits for the token, so a fault
		 * reported here still comes before ctx_destroy returns (rule 3). */
		if (!__atomic_load_n(&c->dying, __ATOMIC_RELAXED))
			be_comp_fault_event(bc, c, done);
	}

	pthread_mutex_lock(&bc->lock);
	be_fq_retire(&c->pending, idx);
	c->completed = done;
	pthread_cond_broadcast(&bc->done);
	if (!c->dying && done > c->signaled) {
		c->signaled = done;
		pthread_mutex_unlock(&bc->lock);
		be_comp_fence_event(bc, c->cookie, done);
		pthread_mutex_lock(&bc->lock);
	}
	c->retiring = false;
	pthread_cond_broadcast(&bc->done);
}

/*
 * Wait (lock dropped) up to timeout_ns for job of c, retiring it when done. Lock held on entry
 * and exit; c->users keeps ctx_destroy from freeing c meanwhile.
 */
static int be_comp_wait_job(struct be_completion *bc, struct be_cctx *c, struct be_pending job,
			    uint64_t timeout_ns)
{
	int ret;

	c->users++;
	pthread_mutex_unlock(&bc->lock);
	ret = bc->ops->wait(bc, c, &job, timeout_ns);
	pthread_mutex_lock(&bc->lock);
	if (!ret)
		be_comp_retire(bc, c, job.fence);
	if (--c->users == 0 && c->dying)
		pthread_cond_broadcast(&bc->done);
	return ret;
}

/* Contexts the thread should look at: pending jobs, not being destroyed. */
static bool be_comp_eligible(const struct be_cctx *c)
{
	return c->pending.n && !c->dying;
}

static uint32_t be_comp_count(const struct be_completion *bc)
{
	const struct be_cctx *c;
	uint32_t n = 0;

	for (c = bc->ctxs; c; c = c->next)
		n += be_comp_eligible(c);
	return n;
}

static struct be_cctx *be_comp_pick(struct be_completion *bc, uint32_t nth)
{
	struct be_cctx *c;

	for (c = bc->ctxs; c; c = c->next) {
		if (be_comp_eligible(c) && nth-- == 0)
			return c;
	}
	return NULL;
}

/*
 * Several contexts busy: look at each one's oldest job without blocking, so a job that
 * finished is noticed now rather than after the slices of the others. True if any retired.
 */
static bool be_comp_poll_all(struct be_completion *bc)
{
	struct be_cctx *c;
	bool any = false;

	for (c = bc->ctxs; c && !bc->stop; c = c->next) {
		/* c->next is read with the lock held and c pinned by users, so it is current */
		if (be_comp_eligible(c) && be_comp_wait_job(bc, c, c->pending.jobs[0], 0) == 0)
			any = true;
	}
	return any;
}

static void be_comp_deadline(struct timespec *ts, uint64_t ns)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ns += (uint64_t)ts->tv_nsec;
	ts->tv_sec += (time_t)(ns / 1000000000ull);
	ts->tv_nsec = (long)(ns % 1000000000ull);
}

/*
 * A wait failed for another reason than time (the kernel refused it): say so once per context
 * and sleep one slice instead of retrying at once, so a persistent error cannot make the
 * thread spin. fence_wait / fence_completed still report the error or the fence.
 */
static void be_comp_backoff(struct be_completion *bc, struct be_cctx *c, int err)
{
	struct timespec dl;

	if (!c->wait_failed) {
		c->wait_failed = true;
		drm_seam_logf(bc->seam,
			      "%s: completion thread: waiting for fence %llu failed (errno %d); "
			      "retrying every %llu ms, so events may come late: check the kernel "
			      "log for a lost or hung GPU",
			      bc->be->ops->name, (unsigned long long)c->pending.jobs[0].fence, -err,
			      BE_COMP_SLICE_NS / 1000000ull);
	}
	be_comp_deadline(&dl, BE_COMP_SLICE_NS);
	pthread_cond_timedwait(&bc->work, &bc->lock, &dl);
}

/*
 * The thread: sleep while no context has pending jobs; otherwise poll every busy context when
 * there are several, then block one slice on the oldest job of the next one in turn.
 */
static void *be_comp_main(void *arg)
{
	struct be_completion *bc = arg;

	pthread_mutex_lock(&bc->lock);
	while (!bc->stop) {
		uint32_t n = be_comp_count(bc);
		struct be_cctx *c;
		int ret;

		if (!n) {
			pthread_cond_wait(&bc->work, &bc->lock);
			continue;
		}
		if (n > 1 && be_comp_poll_all(bc))
			continue;
		c = be_comp_pick(bc, bc->rr++ % n);
		if (!c) /* changed during the poll pass */
			continue;
		ret = be_comp_wait_job(bc, c, c->pending.jobs[0], BE_COMP_SLICE_NS);
		if (ret && ret != -ETIMEDOUT && !bc->stop && be_comp_eligible(c))
			be_comp_backoff(bc, c, ret);
	}
	pthread_mutex_unlock(&bc->lock);
	return NULL;
}

int be_comp_start(struct be_completion *bc, struct viova_backend *be,
		  const struct be_completion_ops *ops, const struct drm_seam *seam)
{
	pthread_condattr_t ca;
	int ret;

	bc->be = be;
	bc->ops = ops;
	bc->seam = seam;
	if (pthread_condattr_init(&ca))
		return -ENOMEM;
	/* The backoff sleep is a CLOCK_MONOTONIC deadline: wall-clock jumps must not matter. */
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	ret = pthread_mutex_init(&bc->lock, NULL);
	if (ret)
		goto out_attr;
	ret = pthread_cond_init(&bc->work, &ca);
	if (ret)
		goto out_lock;
	ret = pthread_cond_init(&bc->done, &ca);
	if (ret)
		goto out_work;
	ret = pthread_create(&bc->thread, NULL, be_comp_main, bc);
	if (ret)
		goto out_done;
	pthread_condattr_destroy(&ca);
	return 0;
out_done:
	pthread_cond_destroy(&bc->done);
out_work:
	pthread_cond_destroy(&bc->work);
out_lock:
	pthread_mutex_destroy(&bc->lock);
out_attr:
	pthread_condattr_destroy(&ca);
	return ret == EAGAIN ? -EAGAIN : -ENOMEM;
}

void be_comp_stop(struct be_completion *bc)
{
	pthread_mutex_lock(&bc->lock);
	bc->stop = true;
	pthread_cond_broadcast(&bc->work);
	pthread_mutex_unlock(&bc->lock);
	pthread_join(bc->thread, NULL);
}

struct be_cctx *be_comp_leftover(struct be_completion *bc)
{
	struct be_cctx *c = bc->ctxs;

	if (c) {
		bc->ctxs = c->next;
		be_fq_free(&c->pending);
	}
	return c;
}

void be_comp_fini(struct be_completion *bc)
{
	pthread_cond_destroy(&bc->done);
	pthread_cond_destroy(&bc->work);
	pthread_mutex_destroy(&bc->lock);
}

void be_comp_ctx_add(struct be_completion *bc, struct be_cctx *c, void *cookie)
{
	c->cookie = cookie;
	pthread_mutex_lock(&bc->lock);
	c->next = bc->ctxs;
	bc->ctxs = c;
	pthread_mutex_unlock(&bc->lock);
}

void be_comp_ctx_del(struct be_completion *bc, struct be_cctx *c)
{
	struct be_cctx **p;
	uint64_t final = 0;

	pthread_mutex_lock(&bc->lock);
	__atomic_store_n(&c->dying, true, __ATOMIC_RELAXED);
	/* The thread leaves its kernel wait within a slice; a callback in flight returns. */
	while (c->users || c->retiring)
		pthread_cond_wait(&bc->done, &bc->lock);
	for (p = &bc->ctxs; *p && *p != c; p = &(*p)->next)
		;
	if (*p)
		*p = c->next;
	/* Jobs still in the kernel run on (or are cancelled with the queue): the guest's fences
	 * signal anyway, as backend.h promises, from here. */
	if (c->last_fence > c->signaled)
		final = c->last_fence;
	c->completed = c->signaled = c->last_fence;
	be_fq_free(&c->pending);
	pthread_mutex_unlock(&bc->lock);
	if (final)
		be_comp_fence_event(bc, c->cookie, final);
}

int be_comp_submit_prepare(struct be_completion *bc, struct be_cctx *c, uint64_t fence)
{
	int ret = 0;

	pthread_mutex_lock(&bc->lock);
	if (fence <= c->last_fence)
		ret = -EINVAL;
	else if (be_fq_reserve(&c->pending)) /* realloc: the thread reads the list locked */
		ret = -ENOMEM;
	pthread_mutex_unlock(&bc->lock);
	return ret;
}

void be_comp_submit_commit(struct be_completion *bc, struct be_cctx *c, uint64_t fence,
			   uint32_t kernel)
{
	pthread_mutex_lock(&bc->lock);
	be_fq_push(&c->pending, fence, kernel);
	c->last_fence = fence;
	c->wait_failed = false;
	pthread_cond_signal(&bc->work);
	pthread_mutex_unlock(&bc->lock);
}

uint64_t be_comp_completed(struct be_completion *bc, struct be_cctx *c)
{
	uint64_t v;

	pthread_mutex_lock(&bc->lock);
	/* From an event callback: the state as it is, no kernel call, no wait (rule 4). */
	while (!be_in_event && c->pending.n && be_comp_wait_job(bc, c, c->pending.jobs[0], 0) == 0)
		;
	v = c->completed;
	pthread_mutex_unlock(&bc->lock);
	return v;
}

int be_comp_wait(struct be_completion *bc, struct be_cctx *c, uint64_t fence, uint64_t timeout_ns)
{
	uint32_t idx;
	int ret;

	pthread_mutex_lock(&bc->lock);
	if (fence > c->last_fence) {
		ret = -EINVAL;
	} else if (fence <= c->completed) {
		ret = 0;
	} else if (be_in_event) {
		ret = -EDEADLK; /* a callback must not block on the backend (rule 4) */
	} else if (be_fq_find(&c->pending, fence, &idx)) {
		ret = -EINVAL;
	} else {
		/* The first job whose fence reaches the asked one: fence is done when it is. */
		ret = be_comp_wait_job(bc, c, c->pending.jobs[idx], timeout_ns);
		/* The thread may be retiring it right now: its fault comes first (rule 1). */
		while (c->retiring)
			pthread_cond_wait(&bc->done, &bc->lock);
		if (fence <= c->completed)
			ret = 0;
		else if (!ret)
			ret = -ETIMEDOUT;
	}
	pthread_mutex_unlock(&bc->lock);
	return ret;
}

/* SPDX-License-Identifier: MIT */
/*
 * sim_test.h - helpers shared by test_sim_backend.c, test_sim_gpu.c and test_sim_gpu_hang.c:
 * an event recorder (events arrive on the sim GPU's thread), job-word builders and a teardown
 * check that every counter of the instance is back to zero.
 */
#ifndef VIOVA_SIM_TEST_H
#define VIOVA_SIM_TEST_H

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "viova/backend.h"

#include "sim.h"

#define EV_MAX 4096
#define MS 1000000ull
#define SEC 1000000000ull

struct ev_fence {
	void *ctx;
	uint64_t fence;
};

struct ev_fault {
	void *ctx;
	uint64_t fence;
	uint64_t iova;
	int err;
};

/* Everything the backend reported, in arrival order. */
struct ev_log {
	pthread_mutex_t lock;
	pthread_cond_t cv;
	struct ev_fence fences[EV_MAX];
	uint32_t nfences;
	struct ev_fault faults[EV_MAX];
	uint32_t nfaults;
	uint32_t order_errors;	    /* a context's fences reported out of order */
	uint32_t fault_after_fence; /* job_fault for a fence already reported signalled */
	/*
	 * Optional probe (set after creation): in job_fault for probe_cookie, the faulting
	 * fence must not be visible through fence_completed / fence_wait yet (backend.h rule 1).
	 */
	struct viova_backend *be;
	struct viova_be_ctx *probe_ctx;
	void *probe_cookie;
	uint32_t fault_visible_early;
	uint32_t probes;
};

static inline void ev_on_fence(void *cookie, void *ctx, uint64_t fence)
{
	struct ev_log *l = cookie;
	uint32_t i;

	pthread_mutex_lock(&l->lock);
	for (i = l->nfences; i-- > 0;) {
		if (l->fences[i].ctx == ctx) {
			if (l->fences[i].fence >= fence)
				l->order_errors++;
			break;
		}
	}
	if (l->nfences < EV_MAX)
		l->fences[l->nfences++] = (struct ev_fence){ctx, fence};
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->lock);
}

static inline void ev_on_fault(void *cookie, void *ctx, uint64_t fence, uint64_t iova, int err)
{
	struct ev_log *l = cookie;
	uint32_t i, early = 0, probed = 0;

	/* outside l->lock: the backend's fence ops take its own lock */
	if (l->be && l->probe_ctx && ctx == l->probe_cookie) {
		probed = 1;
		early = l->be->ops->fence_completed(l->be, l->probe_ctx) >= fence ||
			l->be->ops->fence_wait(l->be, l->probe_ctx, fence, 0) == 0;
	}
	pthread_mutex_lock(&l->lock);
	l->fault_visible_early += early;
	l->probes += probed;
	for (i = 0; i < l->nfences; i++) {
		if (l->fences[i].ctx == ctx && l->fences[i].fence >= fence)
			l->fault_after_fence++;
	}
	if (l->nfaults < EV_MAX)
		l->faults[l->nfaults++] = (struct ev_fault){ctx, fence, iova, err};
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->lock);
}

static const struct viova_backend_events ev_ops = {
    .fence_signaled = ev_on_fence,
    .job_fault = ev_on_fault,
};

static inline void ev_init(struct ev_log *l)
{
	memset(l, 0, sizeof(*l));
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->cv, NULL);
}

static inline void ev_fini(struct ev_log *l)
{
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->lock);
}

/* Highest fence reported for ctx (0 if none). */
static inline uint64_t ev_last_fence(struct ev_log *l, void *ctx)
{
	uint64_t f = 0;
	uint32_t i;

	pthread_mutex_lock(&l->lock);
	for (i = 0; i < l->nfences; i++) {
		if (l->fences[i].ctx == ctx && l->fences[i].fence > f)
			f = l->fences[i].fence;
	}
	pthread_mutex_unlock(&l->lock);
	return f;
}

static inline uint32_t ev_count_fences(struct ev_log *l)
{
	uint32_t n;

	pthread_mutex_lock(&l->lock);
	n = l->nfences;
	pthread_mutex_unlock(&l->lock);
	return n;
}

static inline uint32_t ev_count_faults(struct ev_log *l)
{
	uint32_t n;

	pthread_mutex_lock(&l->lock);
	n = l->nfaults;
	pthread_mutex_unlock(&l->lock);
	return n;
}

/* Wait (bounded) until the event for (ctx, fence) arrived; false on timeout. */
static inline bool ev_wait_fence(struct ev_log *l, void *ctx, uint64_t fence, uint64_t timeout_ns)
{
	struct timespec dl;
	bool ok = false;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += (time_t)(timeout_ns / SEC);
	dl.tv_nsec += (long)(timeout_ns % SEC);
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&l->lock);
	for (;;) {
		uint32_t i;

		for (i = 0; i < l->nfences && !ok; i++)
			ok = l->fences[i].ctx == ctx && l->fences[i].fence >= fence;
		if (ok || pthread_cond_timedwait(&l->cv, &l->lock, &dl) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&l->lock);
	return ok;
}

/* Wait (bounded) until at least n faults arrived; false on timeout. */
static inline bool ev_wait_faults(struct ev_log *l, uint32_t n, uint64_t timeout_ns)
{
	struct timespec dl;
	bool ok;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += (time_t)(timeout_ns / SEC);
	dl.tv_nsec += (long)(timeout_ns % SEC);
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&l->lock);
	while (l->nfaults < n) {
		if (pthread_cond_timedwait(&l->cv, &l->lock, &dl) == ETIMEDOUT)
			break;
	}
	ok = l->nfaults >= n;
	pthread_mutex_unlock(&l->lock);
	return ok;
}

/* ---- job words ------------------------------------------------------------------------- */

static inline struct viova_sim_job w_fill(uint64_t iova, uint64_t size, uint32_t pattern)
{
	return (struct viova_sim_job){
	    .op = VIOVA_SIM_OP_FILL, .arg0 = iova, .arg1 = size, .arg2 = pattern};
}

static inline struct viova_sim_job w_copy(uint64_t dst, uint64_t src, uint64_t size)
{
	return (struct viova_sim_job){
	    .op = VIOVA_SIM_OP_COPY, .arg0 = dst, .arg1 = src, .arg2 = size};
}

static inline struct viova_sim_job w_fence(uint64_t iova, uint64_t value)
{
	return (struct viova_sim_job){.op = VIOVA_SIM_OP_WRITE_FENCE, .arg0 = iova, .arg1 = value};
}

/* Submit nw words listing nb buffers (READ|WRITE, iova 0 = not claimed mapped). */
static inline int submit_words(struct viova_backend *be, struct viova_be_ctx *ctx,
			       struct viova_be_bo **bos, uint32_t nb,
			       const struct viova_sim_job *words, uint32_t nw, uint64_t fence)
{
	struct viova_be_submit_bo list[16];
	struct viova_be_submit s = {0};
	uint32_t i;

	assert_true(nb <= 16);
	for (i = 0; i < nb; i++)
		list[i] = (struct viova_be_submit_bo){
		    .bo = bos[i], .flags = VIOVA_SUBMIT_BO_READ | VIOVA_SUBMIT_BO_WRITE};
	s.format = VIOVA_SUBMIT_FORMAT_SIM;
	s.bo_count = nb;
	s.bos = nb ? list : NULL;
	s.cmds = words;
	s.cmd_size = nw * (uint32_t)sizeof(*words);
	s.out_fence = fence;
	return be->ops->submit(be, ctx, &s);
}

/* Every object released, nothing queued, no bytes held. */
static inline void assert_sim_empty(struct viova_backend *be)
{
	struct sim_debug_stats st;

	sim_debug_stats(be, &st);
	assert_int_equal(st.vms, 0);
	assert_int_equal(st.ctxs, 0);
	assert_int_equal(st.bos, 0);
	assert_int_equal(st.timelines, 0);
	assert_int_equal(st.jobs_queued, 0);
	assert_int_equal(st.bytes, 0);
	assert_int_equal(st.bos_backed, 0);
	assert_int_equal(st.bytes_backed, 0);
}

#endif /* VIOVA_SIM_TEST_H */

/* SPDX-License-Identifier: MIT */
/*
 * sim_test.h - helpers shared by the sim backend's unit tests (test_sim_*.c): an event
 * recorder (events arrive on the sim GPU's thread), job-word builders, a teardown check that
 * every counter of the instance is back to zero, and the fixture pieces they all start and end
 * with (one fixture whole, for the tests that need just one probed context).
 */
#ifndef VIOVA_SIM_TEST_H
#define VIOVA_SIM_TEST_H

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
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

/* timeout_ns from now on CLOCK_REALTIME, the clock pthread_cond_timedwait() measures. */
static inline struct timespec ev_deadline(uint64_t timeout_ns)
{
	struct timespec dl;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += (time_t)(timeout_ns / SEC);
	dl.tv_nsec += (long)(timeout_ns % SEC);
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	return dl;
}

/* Wait (bounded) until the event for (ctx, fence) arrived; false on timeout. */
static inline bool ev_wait_fence(struct ev_log *l, void *ctx, uint64_t fence, uint64_t timeout_ns)
{
	struct timespec dl = ev_deadline(timeout_ns);
	bool ok = false;

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
	struct timespec dl = ev_deadline(timeout_ns);
	bool ok;

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

/* ---- fixture pieces ------------------------------------------------------------------------ */

/*
 * How every sim fixture starts: the event log, an instance reporting into it (cfg NULL = the
 * defaults) and one vm. What the fixture creates in the vm is its own.
 */
static inline void sim_open(struct ev_log *log, const struct viova_backend_config *cfg,
			    struct viova_backend **be, struct viova_be_vm **vm)
{
	ev_init(log);
	assert_int_equal(viova_backend_create("sim", cfg, &ev_ops, log, be), 0);
	assert_int_equal((*be)->ops->vm_create(*be, vm), 0);
}

/* Make every fault reported for cookie check backend.h rule 1 on ctx from inside the event. */
static inline void ev_probe(struct ev_log *l, struct viova_backend *be, struct viova_be_ctx *ctx,
			    void *cookie)
{
	l->be = be;
	l->probe_ctx = ctx;
	l->probe_cookie = cookie;
}

/*
 * How every sim fixture ends once its own objects are gone: the vm (if any) is destroyed, the
 * instance must hold nothing more, and is destroyed.
 */
static inline void sim_close(struct viova_backend *be, struct viova_be_vm *vm)
{
	if (vm)
		be->ops->vm_destroy(be, vm);
	assert_sim_empty(be);
	be->ops->destroy(be);
}

/*
 * The rules the reported events kept: each context's fences in order, no fault for a fence
 * already reported, and -- only where ev_probe() was set up -- no fault whose fence was
 * already visible through the fence ops.
 */
static inline void ev_assert_rules(const struct ev_log *l)
{
	assert_int_equal(l->order_errors, 0);
	assert_int_equal(l->fault_after_fence, 0);
	if (l->probe_ctx)
		assert_int_equal(l->fault_visible_early, 0);
}

/* ---- the one-context fixture ---------------------------------------------------------------- */

/*
 * The fixture of test_sim_gpu.c and test_sim_lazy.c: an instance, a vm and one RECOVERABLE
 * context whose faults are probed for backend.h rule 1.
 */
struct sim_fx {
	struct ev_log log;
	struct viova_backend *be;
	const struct viova_backend_ops *ops;
	struct viova_be_vm *vm;
	struct viova_be_ctx *ctx; /* RECOVERABLE, cookie = &ctx_cookie */
	int ctx_cookie;
	uint64_t fence; /* last fence a helper picked for the test (test_sim_lazy.c's run()) */
};

static inline int sim_fx_setup_cfg(void **state, const struct viova_backend_config *cfg)
{
	struct sim_fx *f = calloc(1, sizeof(*f));
	struct viova_be_ctx_params p = {.params = VIOVA_CTX_RECOVERABLE, .priority = 0};

	assert_non_null(f);
	sim_open(&f->log, cfg, &f->be, &f->vm);
	f->ops = f->be->ops;
	assert_int_equal(f->ops->ctx_create(f->be, f->vm, &p, &f->ctx_cookie, &f->ctx), 0);
	ev_probe(&f->log, f->be, f->ctx, &f->ctx_cookie);
	*state = f;
	return 0;
}

static inline int sim_fx_setup(void **state)
{
	return sim_fx_setup_cfg(state, NULL);
}

static inline int sim_fx_teardown(void **state)
{
	struct sim_fx *f = *state;

	sim_debug_resume(f->be); /* a test that failed while holding the GPU */
	f->ops->ctx_destroy(f->be, f->ctx);
	sim_close(f->be, f->vm);
	ev_assert_rules(&f->log);
	ev_fini(&f->log);
	free(f);
	return 0;
}

static inline struct viova_be_bo *sim_new_bo(struct sim_fx *f, uint64_t size, uint32_t flags)
{
	struct viova_be_bo *bo = NULL;

	assert_int_equal(f->ops->bo_create(f->be, f->vm, size, flags, &bo), 0);
	return bo;
}

/* A buffer with SET_IOVA at iova. */
static inline struct viova_be_bo *sim_new_bo_at(struct sim_fx *f, uint64_t size, uint64_t iova)
{
	struct viova_be_bo *bo = sim_new_bo(f, size, 0);

	assert_int_equal(f->ops->bo_set_iova(f->be, f->vm, bo, iova), 0);
	return bo;
}

/* Clear the buffer's iova (if any) and close it. */
static inline void sim_close_bo(struct sim_fx *f, struct viova_be_bo *bo)
{
	f->ops->bo_set_iova(f->be, f->vm, bo, 0);
	f->ops->bo_close(f->be, bo);
}

/* The buffer's first size bytes equal the model's. */
static inline void sim_assert_bo_bytes(struct sim_fx *f, struct viova_be_bo *bo,
				       const uint8_t *model, uint64_t size)
{
	uint8_t *got = malloc(size);

	assert_non_null(got);
	assert_int_equal(f->ops->bo_read(f->be, bo, 0, got, size), 0);
	assert_memory_equal(got, model, size);
	free(got);
}

#endif /* VIOVA_SIM_TEST_H */

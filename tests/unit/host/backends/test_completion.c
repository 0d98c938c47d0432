/* SPDX-License-Identifier: MIT */
/*
 * test_completion.c - the completion thread of the msm and i915 backends (host/backends/
 * completion.c), against the kernel emulators in hold mode: jobs stay pending until the test
 * completes them, and the emulated WAIT ioctls block meanwhile, as the kernel's do.
 *
 * One source built twice (meson.build): test_msm_completion (-DCT_MSM) and
 * test_i915_completion (-DCT_I915). The test never calls fence_wait / fence_completed where it
 * checks what the thread does: it waits (5 s at most) on a condition variable that the events
 * set, so without the thread these cases fail. Every event is checked against the contract of
 * viova/backend.h as it arrives (fault before fence, fences growing, one callback at a time per
 * context, nothing after ctx_destroy).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <drm/drm.h>

#include "viova/backend.h"

#if defined(CT_MSM)
#include <drm/msm_drm.h>

#include "msm_emu.h"
typedef struct msm_emu ct_emu;
#define CT_BACKEND "msm"
#define CT_VA0 0x100000000ull
#elif defined(CT_I915)
#include <drm/i915_drm.h>

#include "i915/i915.h"
#include "i915_emu.h"
typedef struct i915_emu ct_emu;
#define CT_BACKEND "i915"
#define CT_VA0 I915_VA_START
#else
#error "build with -DCT_MSM or -DCT_I915"
#endif

#define PAGE 4096u
#define WAIT_NS 5000000000ull /* the longest a test waits for an event */
#define MAX_EVENTS 1024
/*
 * Batch buffers per context, used in turn: i915's GEM_WAIT waits for all work on the object,
 * so a batch shared by held jobs would keep the older ones looking busy (docs/drivers.md). No
 * test has more jobs of one context pending at once.
 */
#define NBATCH 8

enum { EV_FENCE, EV_FAULT };

struct ev {
	int kind;
	struct tctx *ctx;
	uint64_t fence;
	uint64_t iova;
	int err;
};

/* A context under test, and its ctx_cookie: what the events tell about it. */
struct tctx {
	struct viova_be_ctx *c;
	struct viova_be_bo *batch[NBATCH], *data;
	int kfd;      /* msm: the queue's file */
	uint32_t kid; /* msm: queue id; i915: context id */
	uint64_t fence;
	/* under rec.lock */
	uint64_t signaled;
	uint64_t seen_in_fault; /* fence_completed called from inside job_fault */
	int in_cb;
	bool dead; /* ctx_destroy returned */
};

struct rec {
	pthread_mutex_t lock;
	pthread_cond_t cv;
	struct viova_backend *be;
	struct ev ev[MAX_EVENTS];
	int n;
	int violations; /* contract broken (see the checks in the callbacks) */
	char why[160];
};

struct fx {
	ct_emu *emu;
	struct viova_backend *be;
	struct viova_be_vm *vm;
	struct rec rec;
	int slots; /* buffer placements handed out */
};

static void violation(struct rec *r, const char *why)
{
	if (!r->violations++)
		strncpy(r->why, why, sizeof(r->why) - 1);
}

/* Rule 2/3 checks shared by both events; rec.lock held. */
static void ev_enter(struct rec *r, struct tctx *t, int kind, uint64_t fence)
{
	if (t->dead)
		violation(r, "event for a context after ctx_destroy returned");
	if (t->in_cb)
		violation(r, "two events of one context at once");
	t->in_cb = 1;
	if (kind == EV_FENCE && fence <= t->signaled)
		violation(r, "fence_signaled did not grow");
	if (kind == EV_FAULT && fence <= t->signaled)
		violation(r, "job_fault after its fence was signalled");
	if (r->n < MAX_EVENTS)
		r->ev[r->n++] = (struct ev){.kind = kind, .ctx = t, .fence = fence};
	else
		violation(r, "too many events");
}

static void on_fence(void *cookie, void *ctx, uint64_t fence)
{
	struct rec *r = cookie;
	struct tctx *t = ctx;

	pthread_mutex_lock(&r->lock);
	ev_enter(r, t, EV_FENCE, fence);
	t->signaled = fence;
	t->in_cb = 0;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->lock);
}

static void on_fault(void *cookie, void *ctx, uint64_t fence, uint64_t iova, int err)
{
	struct rec *r = cookie;
	struct tctx *t = ctx;
	uint64_t seen;

	pthread_mutex_lock(&r->lock);
	ev_enter(r, t, EV_FAULT, fence);
	r->ev[r->n - 1].iova = iova;
	r->ev[r->n - 1].err = err;
	pthread_mutex_unlock(&r->lock);
	/* rule 4: allowed from a callback, and it must not show the faulting job done yet */
	seen = r->be->ops->fence_completed(r->be, t->c);
	pthread_mutex_lock(&r->lock);
	t->seen_in_fault = seen;
	if (seen >= fence)
		violation(r, "fence_completed showed the fence inside its job_fault");
	t->in_cb = 0;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->lock);
}

static const struct viova_backend_events events = {.fence_signaled = on_fence,
						   .job_fault = on_fault};

static void deadline(struct timespec *ts, uint64_t ns)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ns += (uint64_t)ts->tv_nsec;
	ts->tv_sec += (time_t)(ns / 1000000000ull);
	ts->tv_nsec = (long)(ns % 1000000000ull);
}

/* Wait (bounded) until fence_signaled has reported fence for t; true if it did. */
static bool wait_signaled(struct fx *f, struct tctx *t, uint64_t fence)
{
	struct timespec dl;
	bool ok;

	deadline(&dl, WAIT_NS);
	pthread_mutex_lock(&f->rec.lock);
	while (t->signaled < fence &&
	       pthread_cond_timedwait(&f->rec.cv, &f->rec.lock, &dl) != ETIMEDOUT)
		;
	ok = t->signaled >= fence;
	pthread_mutex_unlock(&f->rec.lock);
	return ok;
}

static int count_events(struct fx *f, struct tctx *t, int kind)
{
	int i, n = 0;

	pthread_mutex_lock(&f->rec.lock);
	for (i = 0; i < f->rec.n; i++)
		n += f->rec.ev[i].ctx == t && f->rec.ev[i].kind == kind;
	pthread_mutex_unlock(&f->rec.lock);
	return n;
}

static void assert_no_violation(struct fx *f)
{
	pthread_mutex_lock(&f->rec.lock);
	if (f->rec.violations)
		fail_msg("%d contract violation(s), first: %s", f->rec.violations, f->rec.why);
	pthread_mutex_unlock(&f->rec.lock);
}

/* ---- the driver-specific bits --------------------------------------------------------------- */

#if defined(CT_MSM)
static ct_emu *emu_new(void)
{
	struct msm_emu *e = msm_emu_new(NULL);

	msm_emu_set_hold(e, true);
	return e;
}

static const struct drm_seam *emu_seam(ct_emu *e)
{
	return msm_emu_seam(e);
}

static void emu_learn_ctx(ct_emu *e, struct tctx *t)
{
	const struct emu_call *c = emu_log_last_own(msm_emu_log(e), DRM_IOCTL_MSM_SUBMITQUEUE_NEW);
	struct drm_msm_submitqueue q;

	assert_non_null(c);
	memcpy(&q, c->out, sizeof(q));
	t->kfd = c->fd;
	t->kid = q.id;
}

static bool emu_complete_next(ct_emu *e, struct tctx *t, bool fault)
{
	return msm_emu_complete_next(e, t->kfd, t->kid, fault) != 0;
}

static int emu_await_waiters(ct_emu *e, int n)
{
	return msm_emu_await_waiters(e, n, WAIT_NS);
}

/* Nothing of the backend's left in the emulated kernel. */
static void emu_check_empty(ct_emu *e)
{
	struct msm_emu_totals k;

	msm_emu_totals(e, &k);
	assert_int_equal(k.files, 0);
	assert_int_equal(k.queues, 0);
	assert_int_equal(k.objects, 0);
	assert_int_equal(msm_emu_mappings(e), 0);
}

static void emu_free(ct_emu *e)
{
	msm_emu_free(e);
}
#else
static ct_emu *emu_new(void)
{
	struct i915_emu *e = i915_emu_new(NULL);

	i915_emu_set_hold(e, true);
	return e;
}

static const struct drm_seam *emu_seam(ct_emu *e)
{
	return i915_emu_seam(e);
}

static void emu_learn_ctx(ct_emu *e, struct tctx *t)
{
	const struct emu_call *c =
	    emu_log_last_own(i915_emu_log(e), DRM_IOCTL_I915_GEM_CONTEXT_CREATE_EXT);
	struct drm_i915_gem_context_create_ext cc;

	assert_non_null(c);
	memcpy(&cc, c->out, sizeof(cc));
	t->kfd = c->fd;
	t->kid = cc.ctx_id;
}

static bool emu_complete_next(ct_emu *e, struct tctx *t, bool fault)
{
	return i915_emu_complete_next(e, t->kid, fault);
}

static int emu_await_waiters(ct_emu *e, int n)
{
	return i915_emu_await_waiters(e, n, WAIT_NS);
}

static void emu_check_empty(ct_emu *e)
{
	struct i915_emu_totals k;

	i915_emu_totals(e, &k);
	assert_int_equal(k.vms, 0);
	assert_int_equal(k.contexts, 0);
	assert_int_equal(k.objects, 0);
	assert_int_equal(i915_emu_vm_ids(e), 0);
	assert_int_equal(i915_emu_open_files(e), 0);
	assert_int_equal(i915_emu_mappings(e), 0);
}

static void emu_free(ct_emu *e)
{
	i915_emu_free(e);
}
#endif

/* ---- fixture ------------------------------------------------------------------------------- */

static int setup(void **state)
{
	struct viova_backend_config cfg = {.device = "/dev/dri/renderD128"};
	struct fx *f = calloc(1, sizeof(*f));
	pthread_condattr_t ca;

	assert_non_null(f);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&f->rec.lock, NULL);
	pthread_cond_init(&f->rec.cv, &ca);
	pthread_condattr_destroy(&ca);
	f->emu = emu_new();
	drm_seam_set(emu_seam(f->emu));
	assert_int_equal(viova_backend_create(CT_BACKEND, &cfg, &events, &f->rec, &f->be), 0);
	f->rec.be = f->be;
	assert_int_equal(f->be->ops->vm_create(f->be, &f->vm), 0);
	*state = f;
	return 0;
}

static void fx_free(struct fx *f)
{
	emu_check_empty(f->emu);
	emu_free(f->emu);
	drm_seam_set(NULL);
	pthread_cond_destroy(&f->rec.cv);
	pthread_mutex_destroy(&f->rec.lock);
	free(f);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	f->be->ops->vm_destroy(f->be, f->vm);
	f->be->ops->destroy(f->be);
	assert_no_violation(f);
	fx_free(f);
	return 0;
}

static struct viova_be_bo *bo_new(struct fx *f, uint64_t iova)
{
	struct viova_be_bo *bo;

	assert_int_equal(f->be->ops->bo_create(f->be, f->vm, PAGE, 0, &bo), 0);
	assert_int_equal(f->be->ops->bo_set_iova(f->be, f->vm, bo, iova), 0);
	return bo;
}

/* A context with its own batches and data buffer, placed where no other context's are. */
static void ctx_new(struct fx *f, struct tctx *t)
{
	uint64_t iova = CT_VA0 + (uint64_t)f->slots++ * (NBATCH + 1) * PAGE;
	int i;

	memset(t, 0, sizeof(*t));
	assert_int_equal(f->be->ops->ctx_create(f->be, f->vm, NULL, t, &t->c), 0);
	emu_learn_ctx(f->emu, t);
	for (i = 0; i < NBATCH; i++)
		t->batch[i] = bo_new(f, iova + (uint64_t)i * PAGE);
	t->data = bo_new(f, iova + NBATCH * PAGE);
}

static void bo_del(struct fx *f, struct viova_be_bo *bo)
{
	f->be->ops->bo_set_iova(f->be, f->vm, bo, 0); /* may be busy: closed anyway */
	f->be->ops->bo_close(f->be, bo);
}

/* ctx_destroy, then the buffers (unplaced first, as the core does). */
static void ctx_del(struct fx *f, struct tctx *t)
{
	int i;

	if (t->c) {
		f->be->ops->ctx_destroy(f->be, t->c);
		pthread_mutex_lock(&f->rec.lock);
		t->dead = true;
		pthread_mutex_unlock(&f->rec.lock);
		t->c = NULL;
	}
	for (i = 0; i < NBATCH; i++)
		bo_del(f, t->batch[i]);
	bo_del(f, t->data);
}

/* One job (both drivers take it: one 8-byte aligned BUF record in the batch); its fence. */
static uint64_t submit(struct fx *f, struct tctx *t)
{
	struct viova_be_submit_bo bos[2] = {
	    {.bo = t->batch[t->fence % NBATCH], .flags = VIOVA_SUBMIT_BO_READ},
	    {.bo = t->data, .flags = VIOVA_SUBMIT_BO_READ | VIOVA_SUBMIT_BO_WRITE},
	};
	struct viova_submit_cmdbuf cmd = {
	    .bo_index = 0, .type = VIOVA_CMDBUF_BUF, .offset = 0x40, .size = 0x80};
	struct viova_be_submit s = {.format = VIOVA_SUBMIT_FORMAT_CMDBUF,
				    .bo_count = 2,
				    .bos = bos,
				    .cmds = &cmd,
				    .cmd_size = sizeof(cmd),
				    .out_fence = t->fence + 1};

	assert_int_equal(f->be->ops->submit(f->be, t->c, &s), 0);
	return ++t->fence;
}

/* ---- tests --------------------------------------------------------------------------------- */

/* A guest that only watches its fence: the fence signals with nobody asking the backend. */
static void test_fence_signals_by_itself(void **state)
{
	struct fx *f = *state;
	struct tctx a;

	ctx_new(f, &a);
	assert_int_equal(submit(f, &a), 1);
	assert_true(emu_complete_next(f->emu, &a, false));
	assert_true(wait_signaled(f, &a, 1));
	assert_int_equal(count_events(f, &a, EV_FENCE), 1);
	assert_int_equal(count_events(f, &a, EV_FAULT), 0);
	ctx_del(f, &a);
	assert_int_equal(count_events(f, &a, EV_FENCE), 1); /* nothing left to report */
}

/* Several jobs completing one by one and in a burst: every report grows, the last is the last. */
static void test_fences_in_order(void **state)
{
	struct fx *f = *state;
	struct tctx a;
	int i;

	ctx_new(f, &a);
	for (i = 0; i < 8; i++)
		submit(f, &a);
	assert_true(emu_complete_next(f->emu, &a, false));
	assert_true(wait_signaled(f, &a, 1));
	assert_true(emu_complete_next(f->emu, &a, false));
	assert_true(wait_signaled(f, &a, 2));
	for (i = 2; i < 8; i++)
		assert_true(emu_complete_next(f->emu, &a, false));
	assert_true(wait_signaled(f, &a, 8));
	assert_false(emu_complete_next(f->emu, &a, false));
	assert_in_range(count_events(f, &a, EV_FENCE), 3, 8);
	assert_int_equal(f->be->ops->fence_completed(f->be, a.c), 8);
	assert_no_violation(f); /* strictly growing, one callback at a time */
	ctx_del(f, &a);
}

/* The kernel counts a fault with job 2: job_fault(2) comes before fence 2 is reported. */
static void test_fault_before_fence(void **state)
{
	struct fx *f = *state;
	int i, fault_at = -1, fence2_at = -1;
	struct tctx a;

	ctx_new(f, &a);
	submit(f, &a);
	submit(f, &a);
	submit(f, &a);
	assert_true(emu_complete_next(f->emu, &a, false));
	assert_true(wait_signaled(f, &a, 1));
	assert_true(emu_complete_next(f->emu, &a, true));
	assert_true(emu_complete_next(f->emu, &a, false));
	assert_true(wait_signaled(f, &a, 3));

	pthread_mutex_lock(&f->rec.lock);
	for (i = 0; i < f->rec.n; i++) {
		const struct ev *e = &f->rec.ev[i];

		if (e->ctx != &a)
			continue;
		if (e->kind == EV_FAULT) {
			assert_int_equal(fault_at, -1); /* reported once */
			fault_at = i;
			assert_int_equal(e->fence, 2);
			assert_int_equal(e->iova, 0); /* the uapi does not say where */
			assert_int_equal(e->err, -EIO);
		} else if (e->fence >= 2 && fence2_at < 0) {
			fence2_at = i;
		}
	}
	pthread_mutex_unlock(&f->rec.lock);
	assert_true(fault_at >= 0);
	assert_true(fault_at < fence2_at);
	assert_int_equal(a.seen_in_fault, 1); /* the state before the event */
	assert_no_violation(f);
	ctx_del(f, &a);
}

/*
 * ctx_destroy while the thread is asleep in the kernel on the context's job: it returns (the
 * thread leaves its wait within one slice), reports the last fence itself, and nothing names
 * the context afterwards, even when its jobs then finish in the kernel.
 */
static void test_ctx_destroy_pending(void **state)
{
	struct fx *f = *state;
	struct tctx a, b;

	ctx_new(f, &a);
	submit(f, &a);
	submit(f, &a);
	assert_int_equal(emu_await_waiters(f->emu, 1), 0);
	f->be->ops->ctx_destroy(f->be, a.c);
	pthread_mutex_lock(&f->rec.lock);
	a.dead = true;
	assert_int_equal(a.signaled, 2); /* fences of a destroyed context still signal */
	pthread_mutex_unlock(&f->rec.lock);
	a.c = NULL;
	assert_true(emu_complete_next(f->emu, &a, true));
	assert_true(emu_complete_next(f->emu, &a, false));

	/* a second context's fence as a barrier: the thread has gone round since */
	ctx_new(f, &b);
	submit(f, &b);
	assert_true(emu_complete_next(f->emu, &b, false));
	assert_true(wait_signaled(f, &b, 1));
	assert_int_equal(count_events(f, &a, EV_FENCE), 1);
	assert_int_equal(count_events(f, &a, EV_FAULT), 0);
	assert_no_violation(f); /* includes "no event after ctx_destroy returned" */
	ctx_del(f, &b);
	ctx_del(f, &a);
}

/* One context's job never finishes: the other's fences still signal. */
static void test_no_starvation(void **state)
{
	struct fx *f = *state;
	struct tctx a, b;

	ctx_new(f, &a);
	ctx_new(f, &b);
	submit(f, &a);
	assert_int_equal(emu_await_waiters(f->emu, 1), 0); /* the thread sleeps on a's job */
	submit(f, &b);
	assert_true(emu_complete_next(f->emu, &b, false));
	assert_true(wait_signaled(f, &b, 1));
	submit(f, &b);
	submit(f, &a);
	assert_true(emu_complete_next(f->emu, &b, false));
	assert_true(wait_signaled(f, &b, 2));
	assert_int_equal(count_events(f, &a, EV_FENCE), 0);
	assert_no_violation(f);
	ctx_del(f, &b);
	ctx_del(f, &a);
}

/*
 * fence_wait on the test's thread and the completion thread race to retire the same jobs (one
 * retirement path): each fence is reported once, a fault exactly once and before its fence, and
 * a fence_wait that answers 0 for a faulting job answers after the fault (rule 1).
 */
static void test_wait_races_thread(void **state)
{
	struct fx *f = *state;
	int i, faults = 0;
	struct tctx a;

	ctx_new(f, &a);
	for (i = 1; i <= 60; i++) {
		bool fault = i % 7 == 0;
		uint64_t fence = submit(f, &a);

		if (i % 2)
			assert_int_equal(emu_await_waiters(f->emu, 1), 0);
		assert_true(emu_complete_next(f->emu, &a, fault));
		faults += fault;
		if (i % 3)
			assert_int_equal(f->be->ops->fence_wait(f->be, a.c, fence, WAIT_NS), 0);
		else /* done in the kernel: a poll retires it, unless the thread did already */
			assert_int_equal(f->be->ops->fence_completed(f->be, a.c), fence);
		assert_int_equal(count_events(f, &a, EV_FAULT), faults);
		assert_true(wait_signaled(f, &a, fence));
	}
	assert_int_equal(count_events(f, &a, EV_FAULT), 60 / 7);
	assert_int_equal(count_events(f, &a, EV_FENCE), 60);
	assert_no_violation(f);
	ctx_del(f, &a);
}

/*
 * The core destroys every context before the backend; if one is left with a job the thread is
 * asleep on, destroy still joins the thread and releases the context (no leak: ASan, valgrind),
 * and no event comes.
 */
static void test_destroy_with_pending(void **state)
{
	struct fx *f = *state;
	struct tctx a;
	int i;

	ctx_new(f, &a);
	submit(f, &a);
	assert_int_equal(emu_await_waiters(f->emu, 1), 0);
	for (i = 0; i < NBATCH; i++)
		f->be->ops->bo_close(f->be, a.batch[i]);
	f->be->ops->bo_close(f->be, a.data);
	f->be->ops->vm_destroy(f->be, f->vm); /* a.c still holds it */
	f->be->ops->destroy(f->be);
	assert_int_equal(count_events(f, &a, EV_FENCE), 0);
	assert_no_violation(f);
	fx_free(f); /* the emulated kernel is empty again */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_fence_signals_by_itself, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fences_in_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fault_before_fence, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ctx_destroy_pending, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_starvation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wait_races_thread, setup, teardown),
	    cmocka_unit_test_setup(test_destroy_with_pending, setup),
	};

	return cmocka_run_group_tests_name(CT_BACKEND " completion", tests, NULL, NULL);
}

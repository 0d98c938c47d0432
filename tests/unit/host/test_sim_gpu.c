/* SPDX-License-Identifier: MIT */
/*
 * test_sim_gpu.c - the sim GPU: FILL / COPY / WRITE_FENCE through iovas checked byte for byte
 * against a model, faults (unmapped, partly mapped, read-only, mapping removed mid-job), the
 * EBUSY rule of SET_IOVA clear, fence order, priority vs shared timelines, and teardown with
 * jobs pending. The worker is held with the documented sim_debug_pause() hook where a test
 * needs a job to be queued or running at a known point.
 */
#include <stdlib.h>

#include "sim_test.h"

#define PAGE 4096ull
#define VA SIM_DEFAULT_VA_START

static void wait_fence(struct sim_fx *f, struct viova_be_ctx *ctx, uint64_t fence)
{
	assert_int_equal(f->ops->fence_wait(f->be, ctx, fence, 5 * SEC), 0);
}

static void model_fill(uint8_t *m, uint64_t off, uint64_t size, uint32_t pattern)
{
	uint64_t i;

	for (i = 0; i < size; i++)
		m[off + i] = (uint8_t)(pattern >> (8 * (i % 4)));
}

/* ---- bytes ---------------------------------------------------------------------------- */

static void test_fill_copy_bytes(void **state)
{
	struct sim_fx *f = *state;
	const uint64_t ia = VA + 0x100000, ib = VA + 0x200000;
	struct viova_be_bo *a = sim_new_bo_at(f, 3 * PAGE, ia), *b = sim_new_bo_at(f, 2 * PAGE, ib);
	uint8_t ma[3 * PAGE] = {0}, mb[2 * PAGE] = {0};
	struct viova_sim_job w[6];
	struct viova_be_bo *bos[2] = {a, b};
	const uint64_t fv = 0x0123456789abcdefull;

	w[0] = w_fill(ia, PAGE + 256, 0xdeadbeef);
	model_fill(ma, 0, PAGE + 256, 0xdeadbeef);
	w[1] = w_fill(ia + PAGE + 256, 2 * PAGE - 256, 0x01020304);
	model_fill(ma, PAGE + 256, 2 * PAGE - 256, 0x01020304);
	/* across two buffers, starting mid-page in both, crossing a's page boundary */
	w[2] = w_copy(ib + 100, ia + PAGE - 60, 600);
	memcpy(mb + 100, ma + PAGE - 60, 600);
	/* inside one buffer, unaligned, crossing b's page boundary (distinct ranges) */
	w[3] = w_copy(ib + PAGE - 3, ib + 101, 77);
	memmove(mb + PAGE - 3, mb + 101, 77);
	w[4] = w_fence(ib + PAGE + 8, fv);
	memcpy(mb + PAGE + 8, &fv, 8);
	w[5] = w_fill(ia + 2 * PAGE - 4, 4, 0xa5a5a5a5);
	model_fill(ma, 2 * PAGE - 4, 4, 0xa5a5a5a5);

	assert_int_equal(submit_words(f->be, f->ctx, bos, 2, w, 6, 1), 0);
	wait_fence(f, f->ctx, 1);
	sim_assert_bo_bytes(f, a, ma, sizeof(ma));
	sim_assert_bo_bytes(f, b, mb, sizeof(mb));
	assert_true(ev_wait_fence(&f->log, &f->ctx_cookie, 1, 5 * SEC));
	assert_int_equal(f->log.nfaults, 0);
	sim_close_bo(f, a);
	sim_close_bo(f, b);
}

/*
 * The destination region is built by sparse binds from two buffers: page 3 of c, then page 0
 * of d. A copy that crosses the region's page boundary lands in both.
 */
static void test_copy_into_sparse(void **state)
{
	struct sim_fx *f = *state;
	const uint64_t is = VA + 0x300000, r = VA + 0x400000;
	struct viova_be_bo *s = sim_new_bo_at(f, 2 * PAGE, is);
	struct viova_be_bo *c = sim_new_bo(f, 4 * PAGE, 0), *d = sim_new_bo(f, 2 * PAGE, 0);
	uint8_t src[2 * PAGE], mc[4 * PAGE] = {0}, md[2 * PAGE] = {0};
	struct viova_be_bo *bos[3] = {s, c, d};
	struct viova_sim_job w;
	uint32_t i;

	for (i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 13 + 1);
	assert_int_equal(f->ops->bo_write(f->be, s, 0, src, sizeof(src)), 0);
	assert_int_equal(f->ops->bind(f->be, f->vm, c, r, PAGE, 3 * PAGE, 0), 0);
	assert_int_equal(f->ops->bind(f->be, f->vm, d, r + PAGE, PAGE, 0, 0), 0);

	w = w_copy(r + PAGE - 100, is + 50, 300);
	memcpy(mc + 4 * PAGE - 100, src + 50, 100);
	memcpy(md, src + 150, 200);
	assert_int_equal(submit_words(f->be, f->ctx, bos, 3, &w, 1, 1), 0);
	wait_fence(f, f->ctx, 1);
	sim_assert_bo_bytes(f, c, mc, sizeof(mc));
	sim_assert_bo_bytes(f, d, md, sizeof(md));

	/* and back out of the sparse region, across the same boundary, into s's second page */
	w = w_copy(is + PAGE + 7, r + PAGE - 40, 80);
	memcpy(src + PAGE + 7, mc + 4 * PAGE - 40, 40);
	memcpy(src + PAGE + 47, md, 40);
	assert_int_equal(submit_words(f->be, f->ctx, bos, 3, &w, 1, 2), 0);
	wait_fence(f, f->ctx, 2);
	sim_assert_bo_bytes(f, s, src, sizeof(src));

	assert_int_equal(f->ops->unbind(f->be, f->vm, r, 2 * PAGE), 0);
	sim_close_bo(f, s);
	sim_close_bo(f, c);
	sim_close_bo(f, d);
}

/* ---- faults --------------------------------------------------------------------------- */

static void test_fault_unmapped(void **state)
{
	struct sim_fx *f = *state;
	const uint64_t ia = VA + 0x100000, hole = VA + 0x900000;
	struct viova_be_bo *a = sim_new_bo_at(f, PAGE, ia);
	uint8_t ma[PAGE] = {0};
	struct viova_sim_job w[3] = {
	    w_fill(ia, 64, 0x11111111), w_fill(hole + 0x40, 64, 0x22222222), /* nothing mapped */
	    w_fill(ia, 64, 0x33333333),					     /* never runs */
	};
	struct sim_debug_ctx_info info;

	assert_int_equal(submit_words(f->be, f->ctx, &a, 1, w, 3, 7), 0);
	wait_fence(f, f->ctx, 7);
	/* fault before fence: once the wait returns, the fault was already reported */
	assert_int_equal(ev_count_faults(&f->log), 1);
	assert_int_equal(f->log.probes, 1);
	assert_int_equal(f->log.fault_visible_early, 0);
	assert_true(ev_wait_fence(&f->log, &f->ctx_cookie, 7, 5 * SEC));
	assert_int_equal(f->log.nfaults, 1);
	assert_ptr_equal(f->log.faults[0].ctx, &f->ctx_cookie);
	assert_int_equal(f->log.faults[0].fence, 7);
	assert_int_equal(f->log.faults[0].iova, hole + 0x40);
	assert_int_equal(f->log.faults[0].err, -EFAULT);
	model_fill(ma, 0, 64, 0x11111111);
	sim_assert_bo_bytes(f, a, ma, sizeof(ma));
	sim_debug_ctx_info(f->be, f->ctx, &info);
	assert_int_equal(info.faults, 1);
	assert_false(info.banned);

	/* a RECOVERABLE context goes on: its later jobs run and their fences signal */
	w[0] = w_fill(ia, 8, 0x44444444);
	assert_int_equal(submit_words(f->be, f->ctx, &a, 1, w, 1, 8), 0);
	wait_fence(f, f->ctx, 8);
	model_fill(ma, 0, 8, 0x44444444);
	sim_assert_bo_bytes(f, a, ma, sizeof(ma));
	assert_true(ev_wait_fence(&f->log, &f->ctx_cookie, 8, 5 * SEC));
	assert_int_equal(f->log.nfaults, 1);
	sim_close_bo(f, a);
}

/* A fill running off the end of the buffer writes the mapped part, then faults there. */
static void test_fault_partly_mapped(void **state)
{
	struct sim_fx *f = *state;
	const uint64_t ia = VA + 0x100000;
	struct viova_be_bo *a = sim_new_bo_at(f, 2 * PAGE, ia);
	uint8_t ma[2 * PAGE] = {0};
	struct viova_sim_job w = w_fill(ia + PAGE + 16, 2 * PAGE, 0x5a5a0f0f);

	assert_int_equal(submit_words(f->be, f->ctx, &a, 1, &w, 1, 1), 0);
	/* polling fence_completed: the fault is reported before the fence shows */
	while (f->ops->fence_completed(f->be, f->ctx) < 1)
		assert_int_equal(f->ops->fence_wait(f->be, f->ctx, 1, 5 * SEC), 0);
	assert_int_equal(ev_count_faults(&f->log), 1);
	assert_true(ev_wait_fence(&f->log, &f->ctx_cookie, 1, 5 * SEC));
	assert_int_equal(f->log.nfaults, 1);
	assert_int_equal(f->log.faults[0].iova, ia + 2 * PAGE);
	model_fill(ma, PAGE + 16, PAGE - 16, 0x5a5a0f0f);
	sim_assert_bo_bytes(f, a, ma, sizeof(ma));

	/* a copy whose source is partly mapped faults at the source's first hole */
	w = w_copy(ia, ia + PAGE + 8, PAGE);
	assert_int_equal(submit_words(f->be, f->ctx, &a, 1, &w, 1, 2), 0);
	wait_fence(f, f->ctx, 2);
	assert_true(ev_wait_fence(&f->log, &f->ctx_cookie, 2, 5 * SEC));
	assert_int_equal(f->log.nfaults, 2);
	assert_int_equal(f->log.faults[1].iova, ia + 2 * PAGE);
	assert_int_equal(f->log.faults[1].fence, 2);
	memcpy(ma, ma + PAGE + 8, PAGE - 8);
	sim_assert_bo_bytes(f, a, ma, sizeof(ma));
	sim_close_bo(f, a);
}

static void test_fault_readonly(void **state)
{
	struct sim_fx *f = *state;
	const uint64_t ro = VA + 0x500000, ia = VA + 0x100000, ig = VA + 0x600000;
	struct viova_be_bo *a = sim_new_bo_at(f, PAGE, ia), *b = sim_new_bo(f, PAGE, 0);
	struct viova_be_bo *g = sim_new_bo(f, PAGE, VIOVA_GEM_GPU_READONLY);
	struct viova_be_bo *bos[3] = {a, b, g};
	uint8_t mb[PAGE], ma[PAGE] = {0};
	struct viova_sim_job w;

	memset(mb, 0x77, sizeof(mb));
	assert_int_equal(f->ops->bo_write(f->be, b, 0, mb, sizeof(mb)), 0);
	assert_int_equal(f->ops->bind(f->be, f->vm, b, ro, PAGE, 0, VIOVA_BIND_READONLY), 0);
	assert_int_equal(f->ops->bo_set_iova(f->be, f->vm, g, ig), 0);

	/* writes through a read-only mapping or into a GPU_READONLY buffer fault */
	w = w_fill(ro + 8, 8, 0);
	assert_int_equal(submit_words(f->be, f->ctx, bos, 3, &w, 1, 1), 0);
	w = w_fence(ig, 5);
	assert_int_equal(submit_words(f->be, f->ctx, bos, 3, &w, 1, 2), 0);
	/* reading them is fine */
	w = w_copy(ia, ro, 32);
	assert_int_equal(submit_words(f->be, f->ctx, bos, 3, &w, 1, 3), 0);
	wait_fence(f, f->ctx, 3);
	assert_true(ev_wait_fence(&f->log, &f->ctx_cookie, 3, 5 * SEC));
	assert_int_equal(f->log.nfaults, 2);
	assert_int_equal(f->log.faults[0].iova, ro + 8);
	assert_int_equal(f->log.faults[0].fence, 1);
	assert_int_equal(f->log.faults[1].iova, ig);
	assert_int_equal(f->log.faults[1].fence, 2);
	sim_assert_bo_bytes(f, b, mb, sizeof(mb));
	memset(ma, 0x77, 32);
	sim_assert_bo_bytes(f, a, ma, sizeof(ma));
	f->ops->unbind(f->be, f->vm, ro, PAGE);
	sim_close_bo(f, a);
	sim_close_bo(f, b);
	sim_close_bo(f, g);
}

/* Without VIOVA_CTX_RECOVERABLE a fault bans the context: queued jobs are skipped (their
 * fences still signal), later submits fail with -EIO. */
static void test_fault_bans_unrecoverable(void **state)
{
	struct sim_fx *f = *state;
	struct viova_be_ctx_params p = {.params = VIOVA_CTX_BANNABLE, .priority = 0};
	const uint64_t ia = VA + 0x100000;
	struct viova_be_bo *a = sim_new_bo_at(f, PAGE, ia);
	struct viova_be_ctx *c;
	struct viova_sim_job w;
	struct sim_debug_stats st;
	uint8_t ma[PAGE] = {0};
	int cookie;

	assert_int_equal(f->ops->ctx_create(f->be, f->vm, &p, &cookie, &c), 0);
	sim_debug_pause(f->be);
	w = w_fill(VA + 0x900000, 4, 1);
	assert_int_equal(submit_words(f->be, c, &a, 1, &w, 1, 1), 0);
	w = w_fill(ia, 4, 0x99999999);
	assert_int_equal(submit_words(f->be, c, &a, 1, &w, 1, 2), 0);
	sim_debug_resume(f->be);
	wait_fence(f, c, 2);
	assert_true(ev_wait_fence(&f->log, &cookie, 2, 5 * SEC));
	assert_int_equal(f->log.nfaults, 1);
	sim_assert_bo_bytes(f, a, ma, sizeof(ma)); /* job 2 did not run */
	sim_debug_stats(f->be, &st);
	assert_int_equal(st.jobs_skipped, 1);
	assert_int_equal(submit_words(f->be, c, &a, 1, &w, 1, 3), -EIO);
	f->ops->ctx_destroy(f->be, c);
	sim_close_bo(f, a);
}

/*
 * The queued-records budget is per context: a context that floods the queue gets -EAGAIN
 * itself, and another context's job is still accepted (a refused SUBMIT loses the context,
 * so a shared budget would let one context get another one lost).
 */
static void test_queue_budget_per_ctx(void **state)
{
	struct sim_fx *f = *state;
	const uint64_t ia = VA + 0x100000;
	const uint32_t nw = 32768; /* 1 MiB of records per submit */
	struct viova_be_bo *a = sim_new_bo_at(f, PAGE, ia);
	struct viova_be_ctx_params p = {.params = SIM_DEFAULT_PARAMS, .priority = 0};
	struct viova_sim_job *w = calloc(nw, sizeof(*w));
	struct viova_be_ctx *c1, *c2;
	int cookie1, cookie2, ret = 0;
	uint64_t fence = 0;

	assert_non_null(w);
	for (uint32_t i = 0; i < nw; i++)
		w[i] = w_fill(ia, 4, i);
	assert_int_equal(f->ops->ctx_create(f->be, f->vm, &p, &cookie1, &c1), 0);
	assert_int_equal(f->ops->ctx_create(f->be, f->vm, &p, &cookie2, &c2), 0);
	sim_debug_pause(f->be);
	while (fence < 16 && (ret = submit_words(f->be, c1, &a, 1, w, nw, fence + 1)) == 0)
		fence++;
	assert_int_equal(ret, -EAGAIN);
	assert_true(fence >= 1 && fence < 16);
	/* the other context is not affected by c1's backlog */
	assert_int_equal(submit_words(f->be, c2, &a, 1, w, 1, 1), 0);
	sim_debug_resume(f->be);
	wait_fence(f, c1, fence);
	wait_fence(f, c2, 1);
	/* c1's budget is back once its jobs retired */
	assert_int_equal(submit_words(f->be, c1, &a, 1, w, nw, fence + 1), 0);
	wait_fence(f, c1, fence + 1);
	f->ops->ctx_destroy(f->be, c1);
	f->ops->ctx_destroy(f->be, c2);
	free(w);
	sim_close_bo(f, a);
}

/* ---- mappings and jobs ---------------------------------------------------------------- */

/* SET_IOVA clear is -EBUSY while a job listing the buffer is running or queued, 0 after. */
static void test_clear_busy(void **state)
{
	struct sim_fx *f = *state;
	const uint64_t ia = VA + 0x100000, ib = VA + 0x200000;
	struct viova_be_bo *a = sim_new_bo_at(f, 4 * PAGE, ia), *b = sim_new_bo_at(f, PAGE, ib);
	struct viova_sim_job wa = w_fill(ia, 4 * PAGE, 0xabababab), wb = w_fence(ib, 42);
	uint8_t ma[4 * PAGE] = {0};
	struct sim_debug_stats st;
	uint64_t v = 0;

	sim_debug_pause(f->be);
	assert_int_equal(submit_words(f->be, f->ctx, &a, 1, &wa, 1, 1), 0);
	assert_int_equal(sim_debug_wait_parked(f->be, 5 * SEC), 0); /* job 1 is running */
	assert_int_equal(submit_words(f->be, f->ctx, &b, 1, &wb, 1, 2), 0);
	sim_debug_stats(f->be, &st);
	assert_int_equal(st.jobs_queued, 2);

	assert_int_equal(f->ops->bo_set_iova(f->be, f->vm, a, 0), -EBUSY); /* running */
	assert_int_equal(f->ops->bo_set_iova(f->be, f->vm, b, 0), -EBUSY); /* queued */
	assert_int_equal(sim_debug_vm_count(f->be, f->vm), 2);
	assert_int_equal(f->ops->fence_wait(f->be, f->ctx, 1, 20 * MS), -ETIMEDOUT);
	assert_int_equal(f->ops->fence_wait(f->be, f->ctx, 2, 0), -ETIMEDOUT);
	assert_int_equal(f->ops->fence_completed(f->be, f->ctx), 0);
	sim_assert_bo_bytes(f, a, ma, sizeof(ma)); /* parked before its first page */

	sim_debug_resume(f->be);
	wait_fence(f, f->ctx, 1);
	assert_int_equal(f->ops->bo_set_iova(f->be, f->vm, a, 0), 0);
	wait_fence(f, f->ctx, 2);
	assert_int_equal(f->ops->bo_set_iova(f->be, f->vm, b, 0), 0);
	model_fill(ma, 0, sizeof(ma), 0xabababab);
	sim_assert_bo_bytes(f, a, ma, sizeof(ma));
	assert_int_equal(f->ops->bo_read(f->be, b, 0, &v, 8), 0);
	assert_int_equal(v, 42);
	sim_close_bo(f, a);
	sim_close_bo(f, b);
}

/*
 * Translation is live, page by page: unbinding the second page of a region while a fill over
 * it is parked before its first page makes the fill fault exactly there.
 */
static void test_unbind_while_running(void **state)
{
	struct sim_fx *f = *state;
	const uint64_t r = VA + 0x700000;
	struct viova_be_bo *c = sim_new_bo(f, PAGE, 0), *d = sim_new_bo(f, PAGE, 0);
	struct viova_be_bo *bos[2] = {c, d};
	struct viova_sim_job w = w_fill(r, 2 * PAGE, 0x12345678);
	uint8_t mc[PAGE], md[PAGE] = {0};

	assert_int_equal(f->ops->bind(f->be, f->vm, c, r, PAGE, 0, 0), 0);
	assert_int_equal(f->ops->bind(f->be, f->vm, d, r + PAGE, PAGE, 0, 0), 0);
	sim_debug_pause(f->be);
	assert_int_equal(submit_words(f->be, f->ctx, bos, 2, &w, 1, 1), 0);
	assert_int_equal(sim_debug_wait_parked(f->be, 5 * SEC), 0);
	/* unbind is not subject to the busy rule (VM_BIND semantics): the GPU sees it at once */
	assert_int_equal(f->ops->unbind(f->be, f->vm, r + PAGE, PAGE), 0);
	sim_debug_resume(f->be);
	wait_fence(f, f->ctx, 1);
	assert_true(ev_wait_fence(&f->log, &f->ctx_cookie, 1, 5 * SEC));
	assert_int_equal(f->log.nfaults, 1);
	assert_int_equal(f->log.faults[0].iova, r + PAGE);
	model_fill(mc, 0, PAGE, 0x12345678);
	sim_assert_bo_bytes(f, c, mc, sizeof(mc));
	sim_assert_bo_bytes(f, d, md, sizeof(md));
	f->ops->unbind(f->be, f->vm, r, PAGE);
	sim_close_bo(f, c);
	sim_close_bo(f, d);
}

/* A buffer closed while a job still lists it stays alive until that job retires. */
static void test_close_while_busy(void **state)
{
	struct sim_fx *f = *state;
	const uint64_t ia = VA + 0x100000;
	struct viova_be_bo *a = sim_new_bo_at(f, 2 * PAGE, ia);
	struct viova_sim_job w = w_fill(ia, 2 * PAGE, 0x0badf00d);
	struct sim_debug_stats st;
	struct sim_debug_mapping m;

	sim_debug_pause(f->be);
	assert_int_equal(submit_words(f->be, f->ctx, &a, 1, &w, 1, 1), 0);
	assert_int_equal(sim_debug_wait_parked(f->be, 5 * SEC), 0);
	f->ops->bo_close(f->be, a);
	sim_debug_stats(f->be, &st);
	assert_int_equal(st.bos, 1);
	assert_int_equal(sim_debug_vm_find(f->be, f->vm, ia, &m), 0);
	sim_debug_resume(f->be);
	wait_fence(f, f->ctx, 1);
	assert_true(ev_wait_fence(&f->log, &f->ctx_cookie, 1, 5 * SEC));
	assert_int_equal(f->log.nfaults, 0); /* it ran on the still-mapped buffer */
	sim_debug_stats(f->be, &st);
	assert_int_equal(st.bos, 0);
	assert_int_equal(st.bytes, 0);
	assert_int_equal(sim_debug_vm_count(f->be, f->vm), 0);
}

/* ---- fences and scheduling ------------------------------------------------------------ */

#define NCTX 3
#define NJOBS 300

static void test_fences_in_order(void **state)
{
	struct sim_fx *f = *state;
	const uint64_t ia = VA + 0x100000;
	struct viova_be_bo *a = sim_new_bo_at(f, PAGE, ia);
	struct viova_be_ctx *c[NCTX];
	int cookies[NCTX];
	uint64_t next[NCTX] = {0};
	uint32_t i, k;

	for (k = 0; k < NCTX; k++)
		assert_int_equal(f->ops->ctx_clone(f->be, f->ctx,
						   VIOVA_CLONE_VM | (k ? 0 : VIOVA_CLONE_TIMELINE),
						   f->vm, &cookies[k], &c[k]),
				 0);
	for (i = 0; i < NJOBS; i++) {
		struct viova_sim_job w[2];

		k = i % NCTX;
		next[k] += 1 + i % 5; /* gaps are fine: only strictly increasing */
		w[0] = w_fill(ia + 1024 * k + 8, 64, i);
		w[1] = w_fence(ia + 1024 * k, next[k]);
		assert_int_equal(submit_words(f->be, c[k], &a, 1, w, 2, next[k]), 0);
	}
	for (k = 0; k < NCTX; k++) {
		uint64_t v = 0;

		wait_fence(f, c[k], next[k]);
		assert_int_equal(f->ops->fence_completed(f->be, c[k]), next[k]);
		assert_true(ev_wait_fence(&f->log, &cookies[k], next[k], 5 * SEC));
		assert_int_equal(ev_last_fence(&f->log, &cookies[k]), next[k]);
		/* the last WRITE_FENCE of each context landed last */
		assert_int_equal(f->ops->bo_read(f->be, a, 1024 * k, &v, 8), 0);
		assert_int_equal(v, next[k]);
	}
	assert_int_equal(ev_count_fences(&f->log), NJOBS);
	assert_int_equal(f->log.order_errors, 0);
	for (k = 0; k < NCTX; k++)
		f->ops->ctx_destroy(f->be, c[k]);
	sim_close_bo(f, a);
}

/*
 * Priority reorders queued jobs of different timelines; a timeline shared with
 * VIOVA_CLONE_TIMELINE keeps submission order whatever the priorities.
 */
static void test_priority_and_timeline(void **state)
{
	struct sim_fx *f = *state;
	struct viova_be_ctx_params lowp = {.params = VIOVA_CTX_RECOVERABLE, .priority = -100};
	struct viova_be_ctx *low, *own, *shared;
	int c_low, c_own, c_shared;
	struct viova_sim_job w = w_fill(VA + 0x100000, 4, 0);
	struct viova_be_bo *a = sim_new_bo_at(f, PAGE, VA + 0x100000);
	uint32_t base;

	assert_int_equal(f->ops->ctx_create(f->be, f->vm, &lowp, &c_low, &low), 0);
	/* both clones get the default priority 0 > -100 */
	assert_int_equal(f->ops->ctx_clone(f->be, low, VIOVA_CLONE_VM, f->vm, &c_own, &own), 0);
	assert_int_equal(f->ops->ctx_clone(f->be, low, VIOVA_CLONE_VM | VIOVA_CLONE_TIMELINE, f->vm,
					   &c_shared, &shared),
			 0);

	/* own timeline: the later, higher-priority job overtakes */
	sim_debug_pause(f->be);
	assert_int_equal(submit_words(f->be, f->ctx, &a, 1, &w, 1, 1), 0); /* holds the GPU */
	assert_int_equal(sim_debug_wait_parked(f->be, 5 * SEC), 0);
	base = ev_count_fences(&f->log);
	assert_int_equal(submit_words(f->be, low, &a, 1, &w, 1, 1), 0);
	assert_int_equal(submit_words(f->be, own, &a, 1, &w, 1, 1), 0);
	sim_debug_resume(f->be);
	wait_fence(f, low, 1);
	wait_fence(f, own, 1);
	assert_true(ev_wait_fence(&f->log, &c_low, 1, 5 * SEC));
	pthread_mutex_lock(&f->log.lock);
	assert_ptr_equal(f->log.fences[base].ctx, &f->ctx_cookie);
	assert_ptr_equal(f->log.fences[base + 1].ctx, &c_own);
	assert_ptr_equal(f->log.fences[base + 2].ctx, &c_low);
	pthread_mutex_unlock(&f->log.lock);

	/* shared timeline: submission order wins */
	sim_debug_pause(f->be);
	assert_int_equal(submit_words(f->be, f->ctx, &a, 1, &w, 1, 2), 0);
	assert_int_equal(sim_debug_wait_parked(f->be, 5 * SEC), 0);
	base = ev_count_fences(&f->log);
	assert_int_equal(submit_words(f->be, low, &a, 1, &w, 1, 2), 0);
	assert_int_equal(submit_words(f->be, shared, &a, 1, &w, 1, 1), 0);
	sim_debug_resume(f->be);
	wait_fence(f, low, 2);
	wait_fence(f, shared, 1);
	assert_true(ev_wait_fence(&f->log, &c_shared, 1, 5 * SEC));
	pthread_mutex_lock(&f->log.lock);
	assert_ptr_equal(f->log.fences[base].ctx, &f->ctx_cookie);
	assert_ptr_equal(f->log.fences[base + 1].ctx, &c_low);
	assert_ptr_equal(f->log.fences[base + 2].ctx, &c_shared);
	pthread_mutex_unlock(&f->log.lock);

	/* equal priorities, separate timelines: first come, first served */
	sim_debug_pause(f->be);
	assert_int_equal(submit_words(f->be, f->ctx, &a, 1, &w, 1, 3), 0);
	assert_int_equal(sim_debug_wait_parked(f->be, 5 * SEC), 0);
	base = ev_count_fences(&f->log);
	assert_int_equal(submit_words(f->be, own, &a, 1, &w, 1, 2), 0);
	assert_int_equal(submit_words(f->be, f->ctx, &a, 1, &w, 1, 4), 0);
	sim_debug_resume(f->be);
	wait_fence(f, f->ctx, 4);
	assert_true(ev_wait_fence(&f->log, &f->ctx_cookie, 4, 5 * SEC));
	pthread_mutex_lock(&f->log.lock);
	assert_ptr_equal(f->log.fences[base].ctx, &f->ctx_cookie);
	assert_ptr_equal(f->log.fences[base + 1].ctx, &c_own);
	assert_ptr_equal(f->log.fences[base + 2].ctx, &f->ctx_cookie);
	pthread_mutex_unlock(&f->log.lock);

	f->ops->ctx_destroy(f->be, shared);
	f->ops->ctx_destroy(f->be, own);
	f->ops->ctx_destroy(f->be, low);
	sim_close_bo(f, a);
}

/* ---- teardown with work pending ------------------------------------------------------- */

static void test_ctx_destroy_pending(void **state)
{
	struct sim_fx *f = *state;
	const uint64_t ia = VA + 0x100000;
	struct viova_be_bo *a = sim_new_bo_at(f, 4 * PAGE, ia);
	struct viova_be_ctx *x;
	int cx;
	struct viova_sim_job w = w_fill(ia, 4 * PAGE, 0xffffffff);
	struct viova_sim_job wy = w_fence(ia, 77);
	struct sim_debug_stats st;
	uint8_t ma[4 * PAGE] = {0};
	uint32_t n;

	assert_int_equal(f->ops->ctx_clone(f->be, f->ctx, VIOVA_CLONE_VM, f->vm, &cx, &x), 0);
	sim_debug_pause(f->be);
	assert_int_equal(submit_words(f->be, x, &a, 1, &w, 1, 1), 0);
	assert_int_equal(sim_debug_wait_parked(f->be, 5 * SEC), 0); /* running, parked */
	assert_int_equal(submit_words(f->be, x, &a, 1, &w, 1, 2), 0);
	assert_int_equal(submit_words(f->be, x, &a, 1, &w, 1, 3), 0);
	assert_int_equal(submit_words(f->be, f->ctx, &a, 1, &wy, 1, 1), 0);

	/* returns although the GPU is held: the parked job is cancelled, the rest removed */
	f->ops->ctx_destroy(f->be, x);
	assert_int_equal(ev_last_fence(&f->log, &cx), 3); /* reported before returning */
	n = ev_count_fences(&f->log);
	sim_debug_stats(f->be, &st);
	assert_int_equal(st.jobs_cancelled, 3);
	assert_int_equal(st.jobs_queued, 1);

	sim_debug_resume(f->be);
	wait_fence(f, f->ctx, 1);
	assert_true(ev_wait_fence(&f->log, &f->ctx_cookie, 1, 5 * SEC));
	assert_int_equal(ev_count_fences(&f->log), n + 1); /* nothing more for x */
	assert_int_equal(f->log.nfaults, 0);
	memcpy(ma, &(uint64_t){77}, 8); /* x's fills never ran */
	sim_assert_bo_bytes(f, a, ma, sizeof(ma));
	sim_close_bo(f, a);
}

/* Backend destroy with a big fill in progress and more queued: no hang, no leak. */
static void test_destroy_busy(void **state)
{
	struct viova_backend *be;
	struct viova_be_vm *vm;
	struct viova_be_ctx *ctx;
	struct viova_be_bo *bo;
	struct viova_sim_job w = w_fill(VA, 8ull << 20, 0x01010101);
	struct ev_log log;
	int cookie;
	uint64_t i;

	(void)state;
	ev_init(&log);
	assert_int_equal(viova_backend_create("sim", NULL, &ev_ops, &log, &be), 0);
	assert_int_equal(be->ops->vm_create(be, &vm), 0);
	assert_int_equal(be->ops->ctx_create(be, vm, NULL, &cookie, &ctx), 0);
	assert_int_equal(be->ops->bo_create(be, vm, 8ull << 20, 0, &bo), 0);
	assert_int_equal(be->ops->bo_set_iova(be, vm, bo, VA), 0);
	for (i = 1; i <= 8; i++)
		assert_int_equal(submit_words(be, ctx, &bo, 1, &w, 1, i), 0);
	be->ops->destroy(be);
	assert_int_equal(ev_last_fence(&log, &cookie), 8);
	assert_int_equal(log.order_errors, 0);
	ev_fini(&log);
}

/*
 * The core thread remaps, reads and writes while the GPU copies between the same buffers:
 * nothing crashes (ASan), every fence signals, faults only where a mapping was really gone.
 */
static void test_concurrent_changes(void **state)
{
	struct sim_fx *f = *state;
	const uint64_t ia = VA + 0x100000, r = VA + 0x800000;
	struct viova_be_bo *a = sim_new_bo_at(f, 4 * PAGE, ia), *c = sim_new_bo(f, 2 * PAGE, 0);
	struct viova_be_bo *bos[2] = {a, c};
	uint8_t buf[PAGE];
	uint64_t i;

	memset(buf, 0x3c, sizeof(buf));
	assert_int_equal(f->ops->bind(f->be, f->vm, c, r, 2 * PAGE, 0, 0), 0);
	for (i = 1; i <= 200; i++) {
		struct viova_sim_job w[2] = {
		    w_copy(r + (i % 3) * 100, ia + PAGE, PAGE + 1000),
		    w_fill(ia + 2 * PAGE, PAGE, (uint32_t)i),
		};

		assert_int_equal(submit_words(f->be, f->ctx, bos, 2, w, 2, i), 0);
		if (i % 2)
			assert_int_equal(f->ops->unbind(f->be, f->vm, r + PAGE, PAGE), 0);
		else
			assert_int_equal(f->ops->bind(f->be, f->vm, c, r + PAGE, PAGE, PAGE, 0), 0);
		assert_int_equal(f->ops->bo_write(f->be, a, PAGE, buf, sizeof(buf)), 0);
		assert_int_equal(f->ops->bo_read(f->be, c, 0, buf, sizeof(buf)), 0);
		memset(buf, (int)i, sizeof(buf));
	}
	wait_fence(f, f->ctx, 200);
	assert_true(ev_wait_fence(&f->log, &f->ctx_cookie, 200, 5 * SEC));
	pthread_mutex_lock(&f->log.lock);
	for (i = 0; i < f->log.nfaults; i++) {
		/* inside the toggled page (mid-page if the unbind landed between two steps) */
		assert_in_range(f->log.faults[i].iova, r + PAGE, r + 2 * PAGE - 1);
	}
	pthread_mutex_unlock(&f->log.lock);
	f->ops->unbind(f->be, f->vm, r, 2 * PAGE);
	sim_close_bo(f, a);
	sim_close_bo(f, c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_fill_copy_bytes, sim_fx_setup, sim_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_copy_into_sparse, sim_fx_setup, sim_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_queue_budget_per_ctx, sim_fx_setup,
					    sim_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_fault_unmapped, sim_fx_setup, sim_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_fault_partly_mapped, sim_fx_setup,
					    sim_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_fault_readonly, sim_fx_setup, sim_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_fault_bans_unrecoverable, sim_fx_setup,
					    sim_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_clear_busy, sim_fx_setup, sim_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_unbind_while_running, sim_fx_setup,
					    sim_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_close_while_busy, sim_fx_setup, sim_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_fences_in_order, sim_fx_setup, sim_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_priority_and_timeline, sim_fx_setup,
					    sim_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_ctx_destroy_pending, sim_fx_setup,
					    sim_fx_teardown),
	    cmocka_unit_test(test_destroy_busy),
	    cmocka_unit_test_setup_teardown(test_concurrent_changes, sim_fx_setup, sim_fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

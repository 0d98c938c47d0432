/* SPDX-License-Identifier: MIT */
/*
 * test_sim_sched.c - the sim GPU's scheduler (docs/sim.md "Scheduling"): per-timeline run
 * queues, strict priority between levels, and inside a level the least charged timeline first,
 * so one context's backlog does not hold up the others. Completion order is read from the
 * fence_signaled events (one worker, so event order is execution order).
 *
 * Each test builds its queue with the GPU held (sim_debug_pause): the first job submitted is
 * taken by the worker and parks before its first byte, the rest wait on the run queue, so the
 * order after sim_debug_resume() is fully determined by the scheduler.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "sim_test.h"

#define PAGE 4096ull
#define VA SIM_DEFAULT_VA_START
#define REGION (4 * PAGE) /* each context writes only its own region of the shared buffer */
#define NREGION 64u
#define BO_IOVA (VA + 0x100000ull)
#define BIG_FILL (64 * 1024ull)

struct fx {
	struct ev_log log;
	struct viova_backend *be;
	const struct viova_backend_ops *ops;
	struct viova_be_vm *vm;
	struct viova_be_bo *bo; /* NREGION regions at BO_IOVA */
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	sim_open(&f->log, NULL, &f->be, &f->vm);
	f->ops = f->be->ops;
	assert_int_equal(f->ops->bo_create(f->be, f->vm, NREGION * REGION, 0, &f->bo), 0);
	assert_int_equal(f->ops->bo_set_iova(f->be, f->vm, f->bo, BO_IOVA), 0);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	sim_debug_resume(f->be);
	assert_int_equal(f->ops->bo_set_iova(f->be, f->vm, f->bo, 0), 0);
	f->ops->bo_close(f->be, f->bo);
	sim_close(f->be, f->vm);
	ev_assert_rules(&f->log); /* no probe here: order and fault-after-fence only */
	ev_fini(&f->log);
	free(f);
	return 0;
}

static struct viova_be_ctx *new_ctx(struct fx *f, int32_t priority, int *cookie)
{
	struct viova_be_ctx_params p = {.params = VIOVA_CTX_RECOVERABLE, .priority = priority};
	struct viova_be_ctx *ctx = NULL;

	assert_int_equal(f->ops->ctx_create(f->be, f->vm, &p, cookie, &ctx), 0);
	return ctx;
}

static uint64_t region(uint32_t k)
{
	return BO_IOVA + k * REGION;
}

/* A one-word job: write fence into the first 8 bytes of region k. */
static void submit_fence(struct fx *f, struct viova_be_ctx *ctx, uint32_t k, uint64_t fence)
{
	struct viova_sim_job w = w_fence(region(k), fence);

	assert_int_equal(submit_words(f->be, ctx, &f->bo, 1, &w, 1, fence), 0);
}

/* A 64 KiB fill over regions [k, k + 16): 16 page steps. */
static void submit_big(struct fx *f, struct viova_be_ctx *ctx, uint32_t k, uint64_t fence)
{
	struct viova_sim_job w = w_fill(region(k), BIG_FILL, (uint32_t)fence);

	assert_int_equal(submit_words(f->be, ctx, &f->bo, 1, &w, 1, fence), 0);
}

/* Hold the GPU with ctx's job fence 1 taken by the worker and parked before its first byte. */
static void hold_gpu(struct fx *f, struct viova_be_ctx *ctx, uint32_t k)
{
	sim_debug_pause(f->be);
	submit_fence(f, ctx, k, 1);
	assert_int_equal(sim_debug_wait_parked(f->be, 5 * SEC), 0);
}

static void wait_all(struct fx *f, struct viova_be_ctx *ctx, void *cookie, uint64_t fence)
{
	assert_int_equal(f->ops->fence_wait(f->be, ctx, fence, 10 * SEC), 0);
	assert_true(ev_wait_fence(&f->log, cookie, fence, 10 * SEC));
}

/* Index of the event for (cookie, fence) in the log; fails the test if there is none. */
static uint32_t ev_index(struct fx *f, void *cookie, uint64_t fence)
{
	uint32_t i, n = ev_count_fences(&f->log);

	for (i = 0; i < n; i++) {
		if (f->log.fences[i].ctx == cookie && f->log.fences[i].fence == fence)
			return i;
	}
	fail_msg("no event for fence %llu", (unsigned long long)fence);
	return 0;
}

/* Events of cookie before position end. */
static uint32_t ev_before(struct fx *f, void *cookie, uint32_t end)
{
	uint32_t i, n = 0;

	for (i = 0; i < end; i++)
		n += f->log.fences[i].ctx == cookie;
	return n;
}

static uint64_t read_u64(struct fx *f, uint64_t iova)
{
	uint64_t v = 0;

	assert_int_equal(f->ops->bo_read(f->be, f->bo, iova - BO_IOVA, &v, 8), 0);
	return v;
}

/* ---- fairness -------------------------------------------------------------------------- */

#define BACKLOG 1000u

/*
 * A queues 1000 jobs, then B one: B's job runs right after the job A already had on the GPU
 * (A has been charged for it, B has not), not after A's backlog. Oldest-first would put it
 * last.
 */
static void test_backlog_does_not_delay_others(void **state)
{
	struct fx *f = *state;
	int ca, cb;
	struct viova_be_ctx *a = new_ctx(f, 0, &ca), *b = new_ctx(f, 0, &cb);
	uint64_t i;

	hold_gpu(f, a, 0);
	for (i = 2; i <= BACKLOG; i++)
		submit_fence(f, a, 0, i);
	submit_fence(f, b, 1, 1);
	sim_debug_resume(f->be);
	wait_all(f, a, &ca, BACKLOG);
	wait_all(f, b, &cb, 1);

	assert_int_equal(ev_index(f, &cb, 1), 1);
	assert_int_equal(ev_before(f, &ca, ev_index(f, &cb, 1)), 1);
	assert_int_equal(ev_count_fences(&f->log), BACKLOG + 1);
	assert_int_equal(read_u64(f, region(0)), BACKLOG);
	assert_int_equal(read_u64(f, region(1)), 1);
	f->ops->ctx_destroy(f->be, a);
	f->ops->ctx_destroy(f->be, b);
}

#define BIG_JOBS 20u
#define TINY_JOBS 200u

static uint64_t cost_big(void)
{
	return SIM_SCHED_JOB_COST + (BIG_FILL / PAGE) * SIM_SCHED_STEP_COST + BIG_FILL;
}

static uint64_t cost_tiny(void)
{
	return SIM_SCHED_JOB_COST + SIM_SCHED_STEP_COST + 8;
}

/*
 * Fair by work, not by job count: A's 64 KiB fills and B's one-word jobs share the GPU in
 * proportion to what they cost, so B runs about 30 jobs for each of A's. Exactly: before
 * A's job n+1 starts, B has run ceil(n * cost_big / cost_tiny) jobs (equal charges go to the
 * older head job, which is A's). Round robin per job would give 1, oldest-first 0.
 */
static void test_fair_by_work(void **state)
{
	struct fx *f = *state;
	int ca, cb;
	struct viova_be_ctx *a = new_ctx(f, 0, &ca), *b = new_ctx(f, 0, &cb);
	uint32_t n, i;

	sim_debug_pause(f->be);
	submit_big(f, a, 16, 1);
	assert_int_equal(sim_debug_wait_parked(f->be, 5 * SEC), 0);
	for (i = 2; i <= BIG_JOBS; i++)
		submit_big(f, a, 16, i);
	for (i = 1; i <= TINY_JOBS; i++)
		submit_fence(f, b, 1, i);
	sim_debug_resume(f->be);
	wait_all(f, a, &ca, BIG_JOBS);
	wait_all(f, b, &cb, TINY_JOBS);

	for (n = 1; n < BIG_JOBS; n++) {
		uint64_t want = (n * cost_big() + cost_tiny() - 1) / cost_tiny();
		uint32_t at = ev_index(f, &ca, n + 1);

		if (want >= TINY_JOBS)
			break; /* B ran out of jobs */
		assert_int_equal(ev_before(f, &cb, at), want);
		assert_int_equal(ev_before(f, &ca, at), n);
	}
	assert_true(n > 3); /* the loop checked several rounds */
	assert_int_equal(read_u64(f, region(1)), TINY_JOBS);
	f->ops->ctx_destroy(f->be, a);
	f->ops->ctx_destroy(f->be, b);
}

#define RR_CTX 64u
#define RR_JOBS 4u

/*
 * Equal jobs on many contexts come out round robin: every context's job n before any
 * context's job n + 1, in the order the contexts first submitted. 64 timelines also make the
 * run queue grow past its first allocation.
 */
static void test_round_robin_many(void **state)
{
	struct fx *f = *state;
	struct viova_be_ctx *c[RR_CTX];
	int cookie[RR_CTX];
	uint32_t k, j;

	for (k = 0; k < RR_CTX; k++)
		c[k] = new_ctx(f, 0, &cookie[k]);
	hold_gpu(f, c[0], 0);
	for (k = 0; k < RR_CTX; k++) {
		for (j = k ? 1 : 2; j <= RR_JOBS; j++)
			submit_fence(f, c[k], k, j);
	}
	sim_debug_resume(f->be);
	for (k = 0; k < RR_CTX; k++)
		wait_all(f, c[k], &cookie[k], RR_JOBS);

	assert_int_equal(ev_count_fences(&f->log), RR_CTX * RR_JOBS);
	for (j = 0; j < RR_JOBS; j++) {
		for (k = 0; k < RR_CTX; k++) {
			assert_ptr_equal(f->log.fences[j * RR_CTX + k].ctx, &cookie[k]);
			assert_int_equal(f->log.fences[j * RR_CTX + k].fence, j + 1);
		}
	}
	for (k = 0; k < RR_CTX; k++) {
		assert_int_equal(read_u64(f, region(k)), RR_JOBS);
		f->ops->ctx_destroy(f->be, c[k]);
	}
}

/* ---- priority ------------------------------------------------------------------------- */

#define HIGH_JOBS 20u

/*
 * Levels stay strict: a high-priority context's jobs all run before a normal backlog that was
 * queued first, and a low-priority job waits for the whole backlog although it has never run
 * (fairness applies only inside a level).
 */
static void test_priority_first(void **state)
{
	struct fx *f = *state;
	int ca, ch, cl;
	struct viova_be_ctx *a = new_ctx(f, 0, &ca);
	struct viova_be_ctx *h = new_ctx(f, 100, &ch), *l = new_ctx(f, -100, &cl);
	uint32_t i;

	hold_gpu(f, a, 0);
	for (i = 2; i <= BACKLOG; i++)
		submit_fence(f, a, 0, i);
	submit_fence(f, l, 2, 1);
	for (i = 1; i <= HIGH_JOBS; i++)
		submit_fence(f, h, 1, i);
	sim_debug_resume(f->be);
	wait_all(f, a, &ca, BACKLOG);
	wait_all(f, h, &ch, HIGH_JOBS);
	wait_all(f, l, &cl, 1);

	/* H's jobs right after A's job 1 (held), L's after everything */
	for (i = 1; i <= HIGH_JOBS; i++)
		assert_int_equal(ev_index(f, &ch, i), i);
	assert_int_equal(ev_index(f, &cl, 1), BACKLOG + HIGH_JOBS);
	f->ops->ctx_destroy(f->be, a);
	f->ops->ctx_destroy(f->be, h);
	f->ops->ctx_destroy(f->be, l);
}

/* ---- order and bytes under random interleaving ---------------------------------------- */

#define MIX_CTX 4u
#define MIX_JOBS 2400u

struct mix {
	struct viova_be_ctx *ctx[MIX_CTX];
	int cookie[MIX_CTX];
	uint64_t next[MIX_CTX];
	uint8_t model[MIX_CTX][REGION];
};

static void model_fill(uint8_t *m, uint64_t off, uint64_t size, uint32_t pattern)
{
	uint64_t i;

	for (i = 0; i < size; i++)
		m[off + i] = (uint8_t)(pattern >> (8 * (i % 4)));
}

/* One random word over region k, applied to the model as the GPU must apply it. */
static struct viova_sim_job mix_word(struct mix *m, uint32_t k)
{
	uint8_t *mod = m->model[k];
	uint64_t base = region(k);

	switch (rand() % 3) {
	case 0: {
		uint64_t off = 4 * (uint64_t)(rand() % (REGION / 4));
		uint64_t size = 4 * (1 + (uint64_t)rand() % ((REGION - off) / 4));
		uint32_t pat = (uint32_t)rand();

		model_fill(mod, off, size, pat);
		return w_fill(base + off, size, pat);
	}
	case 1: {
		uint64_t src = (uint64_t)rand() % (REGION / 2);
		uint64_t size = 1 + (uint64_t)rand() % (REGION / 2 - src);
		uint64_t dst = REGION / 2 + (uint64_t)rand() % (REGION / 2 - size + 1);

		memmove(mod + dst, mod + src, size);
		return w_copy(base + dst, base + src, size);
	}
	default: {
		uint64_t off = 8 * (uint64_t)(rand() % (REGION / 8));
		uint64_t v = ((uint64_t)rand() << 32) | (uint64_t)rand();

		memcpy(mod + off, &v, 8);
		return w_fence(base + off, v);
	}
	}
}

/*
 * Random jobs (1-3 FILL / COPY / WRITE_FENCE words) from 4 contexts at three levels, two of
 * them sharing a timeline (so that timeline changes level with its head), with the GPU held
 * and released at random and the core waiting at random: each context's fences are reported
 * strictly increasing (ev_log counts violations) and its region holds exactly what running
 * its jobs in submission order gives.
 */
static void test_interleaved_order(void **state)
{
	struct fx *f = *state;
	struct mix *m = calloc(1, sizeof(*m));
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	uint32_t i, k;
	uint8_t got[REGION];

	assert_non_null(m);
	print_message("seed %u\n", seed);
	srand(seed);
	m->ctx[0] = new_ctx(f, -3, &m->cookie[0]);
	m->ctx[1] = new_ctx(f, 0, &m->cookie[1]);
	m->ctx[2] = new_ctx(f, 3, &m->cookie[2]);
	/* default priority 0 on ctx 0's timeline (level -3) */
	assert_int_equal(f->ops->ctx_clone(f->be, m->ctx[0], VIOVA_CLONE_VM | VIOVA_CLONE_TIMELINE,
					   f->vm, &m->cookie[3], &m->ctx[3]),
			 0);
	for (i = 0; i < MIX_JOBS; i++) {
		struct viova_sim_job w[3];
		uint32_t nw = 1 + (uint32_t)rand() % 3, j;

		k = (uint32_t)rand() % MIX_CTX;
		for (j = 0; j < nw; j++)
			w[j] = mix_word(m, k);
		m->next[k] += 1 + (uint64_t)(rand() % 3);
		assert_int_equal(submit_words(f->be, m->ctx[k], &f->bo, 1, w, nw, m->next[k]), 0);
		switch (rand() % 64) {
		case 0:
			sim_debug_pause(f->be);
			break;
		case 1:
			sim_debug_resume(f->be);
			break;
		case 2:
			k = (uint32_t)rand() % MIX_CTX;
			f->ops->fence_wait(f->be, m->ctx[k], m->next[k] / 2, MS);
			break;
		}
	}
	sim_debug_resume(f->be);
	for (k = 0; k < MIX_CTX; k++) {
		if (!m->next[k])
			continue;
		wait_all(f, m->ctx[k], &m->cookie[k], m->next[k]);
		assert_int_equal(ev_last_fence(&f->log, &m->cookie[k]), m->next[k]);
		assert_int_equal(f->ops->bo_read(f->be, f->bo, region(k) - BO_IOVA, got, REGION),
				 0);
		assert_memory_equal(got, m->model[k], REGION);
	}
	assert_int_equal(f->log.order_errors, 0);
	assert_int_equal(ev_count_faults(&f->log), 0);
	for (k = 0; k < MIX_CTX; k++)
		f->ops->ctx_destroy(f->be, m->ctx[k]);
	free(m);
}

/* ---- teardown with backlogs ----------------------------------------------------------- */

#define OTHER_JOBS 100u

/*
 * ctx_destroy of a context with a backlog while another runs: it returns with its last fence
 * reported and nothing after, and B's and a later context's jobs all complete. Fairness
 * shows in the order: B's fifth job ran after A's fifth, not after A's whole backlog.
 */
static void test_destroy_backlog(void **state)
{
	struct fx *f = *state;
	int ca, cb, cc;
	struct viova_be_ctx *a = new_ctx(f, 0, &ca), *b = new_ctx(f, 0, &cb), *c;
	struct sim_debug_stats st;
	uint32_t i, n;

	hold_gpu(f, a, 0);
	for (i = 2; i <= BACKLOG; i++)
		submit_fence(f, a, 0, i);
	for (i = 1; i <= OTHER_JOBS; i++)
		submit_fence(f, b, 1, i);
	sim_debug_resume(f->be);
	assert_true(ev_wait_fence(&f->log, &cb, 5, 10 * SEC));
	f->ops->ctx_destroy(f->be, a); /* the worker is running A's and B's jobs meanwhile */
	assert_int_equal(ev_last_fence(&f->log, &ca), BACKLOG);
	n = ev_before(f, &ca, ev_count_fences(&f->log));
	/* equal jobs alternate: A1 (held), B1, A2, B2, ... so B5 came after A5, not A1000 */
	assert_int_equal(ev_before(f, &ca, ev_index(f, &cb, 5)), 5);

	c = new_ctx(f, 0, &cc);
	for (i = 1; i <= OTHER_JOBS; i++)
		submit_fence(f, c, 2, i);
	wait_all(f, b, &cb, OTHER_JOBS);
	wait_all(f, c, &cc, OTHER_JOBS);
	assert_int_equal(ev_before(f, &ca, ev_count_fences(&f->log)), n); /* nothing after */
	sim_debug_stats(f->be, &st);
	/* how many of A's ran depends on timing; every job either ran or was cancelled */
	assert_int_equal(st.jobs_run + st.jobs_cancelled, BACKLOG + 2 * OTHER_JOBS);
	assert_int_equal(st.jobs_queued, 0);
	assert_int_equal(read_u64(f, region(1)), OTHER_JOBS);
	assert_int_equal(read_u64(f, region(2)), OTHER_JOBS);
	f->ops->ctx_destroy(f->be, b);
	f->ops->ctx_destroy(f->be, c);
}

/*
 * A shared timeline loses one context's jobs while queued: its head, and with it its level,
 * changes (P at priority 5, its clone Q at the default 0). The timeline goes back on the run
 * queue at Q's level, behind a level-3 context and ahead of nothing it should not be.
 */
static void test_destroy_shared_requeues(void **state)
{
	struct fx *f = *state;
	int cx, cp, cq, cr;
	struct viova_be_ctx *x = new_ctx(f, 0, &cx), *p = new_ctx(f, 5, &cp);
	struct viova_be_ctx *q, *r = new_ctx(f, 3, &cr);
	uint32_t i;

	assert_int_equal(
	    f->ops->ctx_clone(f->be, p, VIOVA_CLONE_VM | VIOVA_CLONE_TIMELINE, f->vm, &cq, &q), 0);
	hold_gpu(f, x, 0);
	for (i = 1; i <= 10; i++) {
		submit_fence(f, p, 1, i);
		submit_fence(f, q, 2, i);
	}
	submit_fence(f, x, 0, 2);
	submit_fence(f, r, 3, 1);
	f->ops->ctx_destroy(f->be, p); /* all of P's jobs queued: cancelled, head is now Q's */
	assert_int_equal(ev_last_fence(&f->log, &cp), 10);
	sim_debug_resume(f->be);
	wait_all(f, q, &cq, 10);
	wait_all(f, x, &cx, 2);
	wait_all(f, r, &cr, 1);

	/* P's last fence from ctx_destroy, X1 (held), R (level 3), then the level-0 work */
	assert_int_equal(ev_index(f, &cp, 10), 0);
	assert_int_equal(ev_index(f, &cx, 1), 1);
	assert_int_equal(ev_index(f, &cr, 1), 2);
	assert_true(ev_index(f, &cx, 2) > 2);
	for (i = 1; i < 10; i++)
		assert_true(ev_index(f, &cq, i) < ev_index(f, &cq, i + 1));
	assert_int_equal(read_u64(f, region(1)), 0); /* P never ran */
	assert_int_equal(read_u64(f, region(2)), 10);
	f->ops->ctx_destroy(f->be, q);
	f->ops->ctx_destroy(f->be, x);
	f->ops->ctx_destroy(f->be, r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_backlog_does_not_delay_others, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_fair_by_work, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_round_robin_many, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_priority_first, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_interleaved_order, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_destroy_backlog, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_destroy_shared_requeues, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

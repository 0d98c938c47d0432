/* SPDX-License-Identifier: MIT */
/*
 * test_sim_gpu_hang.c - the sim GPU's hang-check (docs/sim.md "Hang-check"): a job over its
 * budget faults with -ETIMEDOUT before its fence, its context is banned, the fence still
 * signals and other contexts' jobs run; teardown with a huge job in flight is prompt and
 * silent afterwards; normal jobs and time parked by the test hook do not count against it.
 *
 * No test depends on the machine's speed: a "huge" job is 65 536 FILL (or COPY) words of
 * 128 MiB each over one 1 MiB buffer bound 128 times, i.e. 2^31 page steps (8 TiB of fill).
 * Each step takes a mutex, a page-table lookup and moves up to 4 KiB, so even at 50 ns a step
 * the job needs over 100 s: thousands of times the 20 ms budget, and far beyond every bounded
 * wait below. Small jobs take fewer steps than SIM_HANGCHECK_STEPS and never read the clock.
 */
#include <stdlib.h>

#include "sim_test.h"

#define PAGE 4096ull
#define MIB (1ull << 20)
#define VA SIM_DEFAULT_VA_START

#define ALIAS_BO_SIZE MIB
#define ALIAS_COUNT 128ull
#define ALIAS_RANGE (ALIAS_COUNT * ALIAS_BO_SIZE) /* one word's reach */
#define HUGE_WORDS 65536u			  /* SIM_MAX_JOB_WORDS: 2 MiB of records */
#define ALIAS_A (VA + 0x40000000ull)		  /* [ALIAS_A, +ALIAS_RANGE): the buffer 128x */
#define ALIAS_B (VA + 0x80000000ull)		  /* a second alias range (COPY source) */
#define SMALL_IOVA (VA + 0x100000ull)

#define SMALL_TIMEOUT_NS (20 * MS)
#define PARK_TIMEOUT_NS (200 * MS)  /* parked for twice that; runs for a tiny part of it */
#define LONG_TIMEOUT_NS (600 * SEC) /* the hang-check never ends a job in this test */

enum huge_kind { HUGE_FILL, HUGE_COPY };

struct fx {
	struct ev_log log;
	struct viova_backend *be;
	const struct viova_backend_ops *ops;
	struct viova_be_vm *vm;
	struct viova_be_ctx *a, *b; /* a runs the huge job; both RECOVERABLE */
	int ca, cb;		    /* their cookies */
	struct viova_be_bo *alias;  /* 1 MiB, bound ALIAS_COUNT times at ALIAS_A and ALIAS_B */
	struct viova_be_bo *small;  /* 4 pages at SMALL_IOVA */
	struct viova_sim_job *huge; /* HUGE_WORDS words */
};

/* RECOVERABLE: a ban seen in these tests comes from the timeout, not from the params. */
static void fx_open(struct fx *f, uint64_t timeout_ns)
{
	struct viova_backend_config cfg = {.sim_job_timeout_ns = timeout_ns};
	struct viova_be_ctx_params p = {.params = VIOVA_CTX_RECOVERABLE, .priority = 0};
	uint64_t i;

	sim_open(&f->log, &cfg, &f->be, &f->vm);
	f->ops = f->be->ops;
	assert_int_equal(f->ops->ctx_create(f->be, f->vm, &p, &f->ca, &f->a), 0);
	assert_int_equal(f->ops->ctx_create(f->be, f->vm, &p, &f->cb, &f->b), 0);
	assert_int_equal(f->ops->bo_create(f->be, f->vm, ALIAS_BO_SIZE, 0, &f->alias), 0);
	for (i = 0; i < ALIAS_COUNT; i++) {
		assert_int_equal(f->ops->bind(f->be, f->vm, f->alias, ALIAS_A + i * ALIAS_BO_SIZE,
					      ALIAS_BO_SIZE, 0, 0),
				 0);
		assert_int_equal(f->ops->bind(f->be, f->vm, f->alias, ALIAS_B + i * ALIAS_BO_SIZE,
					      ALIAS_BO_SIZE, 0, 0),
				 0);
	}
	assert_int_equal(f->ops->bo_create(f->be, f->vm, 4 * PAGE, 0, &f->small), 0);
	assert_int_equal(f->ops->bo_set_iova(f->be, f->vm, f->small, SMALL_IOVA), 0);
	/* every fault of context a checks backend.h rule 1 from inside the event */
	ev_probe(&f->log, f->be, f->a, &f->ca);
}

static int fx_setup(void **state, uint64_t timeout_ns)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	fx_open(f, timeout_ns);
	*state = f;
	return 0;
}

static int fx_setup_small(void **state)
{
	return fx_setup(state, SMALL_TIMEOUT_NS);
}

static int fx_setup_park(void **state)
{
	return fx_setup(state, PARK_TIMEOUT_NS);
}

static int fx_setup_long(void **state)
{
	return fx_setup(state, LONG_TIMEOUT_NS);
}

static int fx_setup_default(void **state)
{
	return fx_setup(state, 0);
}

/* Tolerates contexts / the backend already destroyed by the test (pointer set to NULL). */
static int fx_teardown(void **state)
{
	struct fx *f = *state;

	if (f->be) {
		sim_debug_resume(f->be);
		if (f->a)
			f->ops->ctx_destroy(f->be, f->a);
		if (f->b)
			f->ops->ctx_destroy(f->be, f->b);
		f->ops->unbind(f->be, f->vm, ALIAS_A, ALIAS_RANGE);
		f->ops->unbind(f->be, f->vm, ALIAS_B, ALIAS_RANGE);
		f->ops->bo_close(f->be, f->alias);
		f->ops->bo_set_iova(f->be, f->vm, f->small, 0);
		f->ops->bo_close(f->be, f->small);
		sim_close(f->be, f->vm);
	}
	ev_assert_rules(&f->log);
	ev_fini(&f->log);
	free(f->huge);
	free(f);
	return 0;
}

/* Submit nw words of 128 MiB each on context a with fence `fence`. */
static void submit_huge(struct fx *f, enum huge_kind kind, uint32_t nw, uint64_t fence)
{
	uint32_t i;

	if (!f->huge)
		f->huge = calloc(HUGE_WORDS, sizeof(*f->huge));
	assert_non_null(f->huge);
	for (i = 0; i < nw; i++)
		f->huge[i] = kind == HUGE_FILL ? w_fill(ALIAS_A, ALIAS_RANGE, i)
					       : w_copy(ALIAS_A, ALIAS_B, ALIAS_RANGE);
	assert_int_equal(submit_words(f->be, f->a, &f->alias, 1, f->huge, nw, fence), 0);
}

/* Make sure the huge job is running (not merely queued) when this returns. */
static void submit_huge_running(struct fx *f, enum huge_kind kind, uint64_t fence)
{
	sim_debug_pause(f->be);
	submit_huge(f, kind, HUGE_WORDS, fence);
	assert_int_equal(sim_debug_wait_parked(f->be, 10 * SEC), 0);
	sim_debug_resume(f->be);
}

static void model_fill(uint8_t *m, uint64_t off, uint64_t size, uint32_t pattern)
{
	uint64_t i;

	for (i = 0; i < size; i++)
		m[off + i] = (uint8_t)(pattern >> (8 * (i % 4)));
}

static void assert_small_bytes(struct fx *f, const uint8_t *model)
{
	uint8_t got[4 * PAGE];

	assert_int_equal(f->ops->bo_read(f->be, f->small, 0, got, sizeof(got)), 0);
	assert_memory_equal(got, model, sizeof(got));
}

/* Context b's job: a fill across a page boundary and a fence write (3 steps). */
static void submit_small_b(struct fx *f, uint64_t fence, uint8_t *model)
{
	struct viova_sim_job w[2] = {
	    w_fill(SMALL_IOVA + PAGE - 64, 128, 0xc0ffee00u + (uint32_t)fence),
	    w_fence(SMALL_IOVA + 2 * PAGE, fence),
	};

	assert_int_equal(submit_words(f->be, f->b, &f->small, 1, w, 2, fence), 0);
	model_fill(model, PAGE - 64, 128, 0xc0ffee00u + (uint32_t)fence);
	memcpy(model + 2 * PAGE, &fence, 8);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

/* ---- timeout ---------------------------------------------------------------------------- */

/*
 * The huge job stops with -ETIMEDOUT reported before its fence, the fence signals, context a
 * is banned (its queued job is skipped, later submits -EIO), and context b's job, queued
 * behind the huge one, runs with the right bytes.
 */
static void check_timeout(struct fx *f, enum huge_kind kind)
{
	struct viova_sim_job wa = w_fence(SMALL_IOVA + 3 * PAGE, 0x5a5a5a5a); /* never runs */
	uint8_t model[4 * PAGE] = {0};
	struct sim_debug_ctx_info info;
	struct sim_debug_stats st;
	struct ev_fault flt;

	/*
	 * Queue all three with the GPU held: parked time does not count, so the 20 ms budget
	 * cannot run out (and ban a) before this thread has queued a's second job, however
	 * slowly it is scheduled (valgrind on a busy machine).
	 */
	sim_debug_pause(f->be);
	submit_huge(f, kind, HUGE_WORDS, 1);
	assert_int_equal(submit_words(f->be, f->a, &f->small, 1, &wa, 1, 2), 0);
	submit_small_b(f, 1, model);
	sim_debug_resume(f->be);

	/* without the hang-check nothing ends the job: this wait fails */
	assert_true(ev_wait_faults(&f->log, 1, 10 * SEC));
	pthread_mutex_lock(&f->log.lock);
	flt = f->log.faults[0];
	pthread_mutex_unlock(&f->log.lock);
	assert_ptr_equal(flt.ctx, &f->ca);
	assert_int_equal(flt.fence, 1);
	assert_int_equal(flt.err, -ETIMEDOUT);
	/* where it stopped: FILL's destination, COPY's source */
	assert_in_range(flt.iova, kind == HUGE_FILL ? ALIAS_A : ALIAS_B,
			(kind == HUGE_FILL ? ALIAS_A : ALIAS_B) + ALIAS_RANGE - 1);
	assert_int_equal(f->log.probes, 1);

	/* the fences still signal: the huge job's, the skipped job's, and b's */
	assert_int_equal(f->ops->fence_wait(f->be, f->a, 2, 10 * SEC), 0);
	assert_true(ev_wait_fence(&f->log, &f->ca, 2, 10 * SEC));
	assert_int_equal(f->ops->fence_wait(f->be, f->b, 1, 10 * SEC), 0);
	assert_true(ev_wait_fence(&f->log, &f->cb, 1, 10 * SEC));
	assert_int_equal(ev_count_faults(&f->log), 1);
	assert_small_bytes(f, model); /* b's bytes, and a's skipped fence write absent */

	sim_debug_ctx_info(f->be, f->a, &info);
	assert_true(info.banned);
	assert_int_equal(info.faults, 1);
	assert_int_equal(submit_words(f->be, f->a, &f->small, 1, &wa, 1, 3), -EIO);
	sim_debug_stats(f->be, &st);
	assert_int_equal(st.jobs_timed_out, 1);
	assert_int_equal(st.jobs_faulted, 1);
	assert_int_equal(st.jobs_skipped, 1);
	assert_int_equal(st.jobs_cancelled, 0);

	/* b goes on normally after the timeout */
	submit_small_b(f, 2, model);
	assert_int_equal(f->ops->fence_wait(f->be, f->b, 2, 10 * SEC), 0);
	assert_small_bytes(f, model);
	assert_int_equal(ev_count_faults(&f->log), 1);
}

static void test_timeout_fill(void **state)
{
	check_timeout(*state, HUGE_FILL);
}

static void test_timeout_copy(void **state)
{
	check_timeout(*state, HUGE_COPY);
}

/*
 * Time the test hook holds the GPU is not GPU time: a job parked for twice its budget still
 * completes. (Without that rule its first clock read would find the deadline past.)
 */
static void test_parked_time_not_counted(void **state)
{
	struct fx *f = *state;
	struct viova_sim_job w = w_fill(SMALL_IOVA, 4 * PAGE, 0x12345678);
	struct timespec nap = {.tv_sec = 0, .tv_nsec = 2 * PARK_TIMEOUT_NS};
	uint8_t model[4 * PAGE];
	struct viova_sim_job wn[8];
	uint32_t i;

	/* 32 steps: two clock reads, both after the parked time */
	for (i = 0; i < 8; i++)
		wn[i] = w;
	sim_debug_pause(f->be);
	assert_int_equal(submit_words(f->be, f->a, &f->small, 1, wn, 8, 1), 0);
	assert_int_equal(sim_debug_wait_parked(f->be, 10 * SEC), 0);
	nanosleep(&nap, NULL);
	sim_debug_resume(f->be);
	assert_int_equal(f->ops->fence_wait(f->be, f->a, 1, 10 * SEC), 0);
	assert_int_equal(ev_count_faults(&f->log), 0);
	model_fill(model, 0, sizeof(model), 0x12345678);
	assert_small_bytes(f, model);
}

/* ---- teardown with a huge job in flight -------------------------------------------------- */

/*
 * ctx_destroy stops the running job at its next step: it returns promptly (the bound is only a
 * guard against a hang), reports the job's fence itself, raises no fault (a cancel is not a
 * timeout) and nothing names the context afterwards. Context b still runs.
 */
static void test_ctx_destroy_during_huge(void **state)
{
	struct fx *f = *state;
	struct timespec nap = {.tv_sec = 0, .tv_nsec = 50 * MS};
	uint8_t model[4 * PAGE] = {0};
	struct sim_debug_stats st;
	uint64_t t0, dt;
	uint32_t n;

	submit_huge_running(f, HUGE_FILL, 1);
	/* queued behind it; 1024 words: both stay within the context's 4 MiB of records */
	submit_huge(f, HUGE_COPY, 1024, 2);
	nanosleep(&nap, NULL); /* well inside the job */
	t0 = now_ns();
	f->ops->ctx_destroy(f->be, f->a);
	dt = now_ns() - t0;
	f->a = NULL;
	assert_true(dt < 5 * SEC);
	assert_int_equal(ev_last_fence(&f->log, &f->ca), 2); /* reported before returning */
	n = ev_count_fences(&f->log);
	assert_int_equal(ev_count_faults(&f->log), 0);
	sim_debug_stats(f->be, &st);
	assert_int_equal(st.jobs_cancelled, 2);
	assert_int_equal(st.jobs_timed_out, 0);

	submit_small_b(f, 1, model);
	assert_int_equal(f->ops->fence_wait(f->be, f->b, 1, 10 * SEC), 0);
	assert_true(ev_wait_fence(&f->log, &f->cb, 1, 10 * SEC));
	nanosleep(&nap, NULL);
	assert_int_equal(ev_count_fences(&f->log), n + 1); /* b's fence, nothing for a */
	assert_int_equal(ev_count_faults(&f->log), 0);
	assert_small_bytes(f, model);
}

/* Backend destroy with a huge job running and contexts left: prompt, fences reported, no leak. */
static void test_destroy_during_huge(void **state)
{
	struct fx *f = *state;
	struct timespec nap = {.tv_sec = 0, .tv_nsec = 50 * MS};
	uint64_t t0, dt;

	submit_huge_running(f, HUGE_FILL, 1);
	nanosleep(&nap, NULL);
	t0 = now_ns();
	f->ops->destroy(f->be); /* contexts, buffers and VM still live: destroy releases them */
	dt = now_ns() - t0;
	f->be = NULL;
	assert_true(dt < 5 * SEC);
	assert_int_equal(ev_last_fence(&f->log, &f->ca), 1);
	assert_int_equal(ev_count_faults(&f->log), 0);
}

/* ---- the default budget ------------------------------------------------------------------ */

/*
 * With the default budget (config 0) a real-sized job -- thousands of steps, so the clock is
 * read many times -- runs to the end with exact bytes and no fault.
 */
static void test_default_budget_normal_job(void **state)
{
	struct fx *f = *state;
	struct viova_be_bo *bos[2] = {f->alias, f->small};
	struct viova_sim_job w[4] = {
	    w_fill(ALIAS_A, 8 * MIB, 0xa5a5a5a5), /* 2048 steps: 128 clock reads */
	    w_fill(ALIAS_B + 4 * MIB, 8, 0x0f0f0f0f),
	    w_copy(SMALL_IOVA + PAGE, ALIAS_B + 4 * MIB - 8, 2 * PAGE),
	    w_fence(SMALL_IOVA, 0x1122334455667788ull),
	};
	uint8_t model[4 * PAGE] = {0};
	struct sim_debug_stats st;

	assert_int_equal(submit_words(f->be, f->a, bos, 2, w, 4, 1), 0);
	assert_int_equal(f->ops->fence_wait(f->be, f->a, 1, 10 * SEC), 0);
	assert_int_equal(ev_count_faults(&f->log), 0);
	/* alias offset 0 (reached at ALIAS_B + 4 MiB) got the second pattern over the first */
	model_fill(model, PAGE, 8, 0xa5a5a5a5);
	model_fill(model, PAGE + 8, 8, 0x0f0f0f0f);
	model_fill(model, PAGE + 16, 2 * PAGE - 16, 0xa5a5a5a5);
	memcpy(model, &w[3].arg1, 8);
	assert_small_bytes(f, model);
	sim_debug_stats(f->be, &st);
	assert_int_equal(st.jobs_timed_out, 0);
	assert_int_equal(st.jobs_run, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_timeout_fill, fx_setup_small, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_timeout_copy, fx_setup_small, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_parked_time_not_counted, fx_setup_park,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_ctx_destroy_during_huge, fx_setup_long,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_destroy_during_huge, fx_setup_long, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_default_budget_normal_job, fx_setup_default,
					    fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

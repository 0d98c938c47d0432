/* SPDX-License-Identifier: MIT */
/*
 * test_sim_lazy.c - lazy backing of sim buffers (docs/sim.md "Buffers"): a buffer has no host
 * memory until its first write (GEM_UPLOAD = bo_write, or a GPU job's FILL / COPY destination /
 * WRITE_FENCE); unwritten bytes read as zeros (bo_read, COPY source); the budget is charged
 * for the full size at bo_create; written buffers give their memory back at close; an upload
 * racing the GPU's first write ends with one backing and no leak; a backing that cannot be
 * allocated fails the upload with -ENOMEM or faults the job with -ENOMEM before its fence.
 *
 * Sizes cover both allocators: SMALL (heap, <= 64 KiB) and LARGE (own mmap).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "sim_test.h"

#define PAGE 4096ull
#define VA SIM_DEFAULT_VA_START
#define SMALL (2 * PAGE)
#define LARGE (64 * PAGE) /* 256 KiB: above SIM_SMALL_BO_SIZE */

/* A budget of 64 TiB: buffers the host cannot back (mmap refuses them). */
static int fx_setup_huge(void **state)
{
	const struct viova_backend_config cfg = {.sim_max_bytes = 1ull << 46};

	return sim_fx_setup_cfg(state, &cfg);
}

static struct sim_debug_stats stats(struct sim_fx *f)
{
	struct sim_debug_stats st;

	sim_debug_stats(f->be, &st);
	return st;
}

/* Run words as one job on the fixture's context (listing bos) and wait for its fence. */
static uint64_t run(struct sim_fx *f, struct viova_be_bo **bos, uint32_t nb,
		    const struct viova_sim_job *w, uint32_t nw)
{
	uint64_t fence = ++f->fence;

	assert_int_equal(submit_words(f->be, f->ctx, bos, nb, w, nw, fence), 0);
	assert_int_equal(f->ops->fence_wait(f->be, f->ctx, fence, 5 * SEC), 0);
	assert_true(ev_wait_fence(&f->log, &f->ctx_cookie, fence, 5 * SEC));
	return fence;
}

static void assert_bo_zero(struct sim_fx *f, struct viova_be_bo *bo, uint64_t size)
{
	uint8_t *zero = calloc(1, size);

	assert_non_null(zero);
	sim_assert_bo_bytes(f, bo, zero, size);
	free(zero);
}

static void model_fill(uint8_t *m, uint64_t off, uint64_t size, uint32_t pattern)
{
	uint64_t i;

	for (i = 0; i < size; i++)
		m[off + i] = (uint8_t)(pattern >> (8 * (i % 4)));
}

/* ---- unwritten buffers ------------------------------------------------------------------ */

/* Charged in full at creation, no memory, reads as zeros (and reading does not back it). */
static void test_unwritten_reads_zero(void **state)
{
	struct sim_fx *f = *state;
	struct viova_be_bo *s = sim_new_bo(f, SMALL, 0), *l = sim_new_bo(f, LARGE, 0);
	uint8_t buf[100];
	struct sim_debug_stats st = stats(f);

	assert_int_equal(st.bos, 2);
	assert_int_equal(st.bytes, SMALL + LARGE);
	assert_int_equal(st.bos_backed, 0);
	assert_int_equal(st.bytes_backed, 0);
	assert_bo_zero(f, s, SMALL);
	assert_bo_zero(f, l, LARGE);
	memset(buf, 0x77, sizeof(buf));
	assert_int_equal(f->ops->bo_read(f->be, l, LARGE - sizeof(buf), buf, sizeof(buf)), 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0);
	/* out of bounds is still refused, zero-size still a no-op */
	assert_int_equal(f->ops->bo_read(f->be, s, SMALL - 8, buf, 16), -EINVAL);
	assert_int_equal(f->ops->bo_read(f->be, s, 0, buf, 0), 0);
	assert_int_equal(f->ops->bo_write(f->be, s, SMALL, buf, 1), -EINVAL);
	assert_int_equal(f->ops->bo_write(f->be, s, 0, buf, 0), 0);
	st = stats(f);
	assert_int_equal(st.bos_backed, 0);
	f->ops->bo_close(f->be, s);
	f->ops->bo_close(f->be, l);
}

/* A COPY whose source was never written writes zeros; the source stays without memory. */
static void test_copy_from_unwritten(void **state)
{
	struct sim_fx *f = *state;
	const uint64_t id = VA, is = VA + 0x100000, il = VA + 0x200000;
	struct viova_be_bo *d = sim_new_bo_at(f, 3 * PAGE, id), *s = sim_new_bo_at(f, SMALL, is),
			   *l = sim_new_bo_at(f, LARGE, il);
	struct viova_be_bo *bos[3] = {d, s, l};
	uint8_t m[3 * PAGE];
	struct viova_sim_job w[2];
	struct sim_debug_stats st;

	memset(m, 0xaa, sizeof(m));
	assert_int_equal(f->ops->bo_write(f->be, d, 0, m, sizeof(m)), 0);
	/* crossing page boundaries of both ends, mid-page starts */
	w[0] = w_copy(id + 100, is + 60, PAGE + 200);
	memset(m + 100, 0, PAGE + 200);
	w[1] = w_copy(id + 2 * PAGE + 8, il + 30 * PAGE + 4000, 1000);
	memset(m + 2 * PAGE + 8, 0, 1000);
	run(f, bos, 3, w, 2);
	sim_assert_bo_bytes(f, d, m, sizeof(m));
	st = stats(f);
	assert_int_equal(st.bos_backed, 1);
	assert_int_equal(st.bytes_backed, 3 * PAGE);
	assert_int_equal(f->log.nfaults, 0);
	sim_close_bo(f, d);
	sim_close_bo(f, s);
	sim_close_bo(f, l);
}

/* The budget is commitment: full size charged at create, whether or not anything is written. */
static void test_budget_charged_at_create(void **state)
{
	const struct viova_backend_config cfg = {.sim_max_bytes = LARGE + SMALL};
	struct viova_backend *be;
	struct viova_be_vm *vm;
	struct viova_be_bo *a, *b, *c;
	struct sim_debug_stats st;
	uint8_t x = 1;

	(void)state;
	assert_int_equal(viova_backend_create("sim", &cfg, &ev_ops, NULL, &be), 0);
	assert_int_equal(be->ops->vm_create(be, &vm), 0);
	assert_int_equal(be->ops->bo_create(be, vm, LARGE, 0, &a), 0);
	assert_int_equal(be->ops->bo_create(be, vm, SMALL, 0, &b), 0);
	/* nothing written, nothing backed, and still the budget is spent */
	sim_debug_stats(be, &st);
	assert_int_equal(st.bytes, LARGE + SMALL);
	assert_int_equal(st.bytes_backed, 0);
	assert_int_equal(be->ops->bo_create(be, vm, PAGE, 0, &c), -ENOMEM);
	/* writing changes what is backed, not what is charged */
	assert_int_equal(be->ops->bo_write(be, a, LARGE - 1, &x, 1), 0);
	sim_debug_stats(be, &st);
	assert_int_equal(st.bytes, LARGE + SMALL);
	assert_int_equal(st.bytes_backed, LARGE);
	assert_int_equal(be->ops->bo_create(be, vm, PAGE, 0, &c), -ENOMEM);
	/* closing an unwritten buffer gives its charge back */
	be->ops->bo_close(be, b);
	assert_int_equal(be->ops->bo_create(be, vm, SMALL, 0, &c), 0);
	be->ops->bo_close(be, c);
	be->ops->bo_close(be, a);
	sim_close(be, vm);
}

/* ---- first writes ----------------------------------------------------------------------- */

static void test_first_write_upload(void **state)
{
	struct sim_fx *f = *state;
	const uint64_t sizes[] = {PAGE, SMALL, 16 * PAGE, 17 * PAGE, LARGE};

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint64_t size = sizes[i];
		struct viova_be_bo *bo = sim_new_bo(f, size, 0);
		uint8_t *m = calloc(1, size), data[300];
		/* a write that crosses the last page boundary but one (one page: inside it) */
		uint64_t off = size > PAGE ? size - PAGE - 100 : 100;
		struct sim_debug_stats st;

		assert_non_null(m);
		for (size_t k = 0; k < sizeof(data); k++)
			data[k] = (uint8_t)(k * 7 + i + 1);
		assert_int_equal(f->ops->bo_write(f->be, bo, off, data, sizeof(data)), 0);
		memcpy(m + off, data, sizeof(data));
		st = stats(f);
		assert_int_equal(st.bos_backed, 1);
		assert_int_equal(st.bytes_backed, size);
		sim_assert_bo_bytes(f, bo, m, size);
		/* a second write uses the same memory */
		assert_int_equal(f->ops->bo_write(f->be, bo, 0, data, 4), 0);
		memcpy(m, data, 4);
		sim_assert_bo_bytes(f, bo, m, size);
		assert_int_equal(stats(f).bos_backed, 1);
		f->ops->bo_close(f->be, bo);
		st = stats(f);
		assert_int_equal(st.bos_backed, 0);
		assert_int_equal(st.bytes_backed, 0);
		free(m);
	}
}

static void test_first_write_fill(void **state)
{
	struct sim_fx *f = *state;
	const uint64_t is = VA, il = VA + 0x100000;
	struct viova_be_bo *s = sim_new_bo_at(f, SMALL, is), *l = sim_new_bo_at(f, LARGE, il);
	struct viova_be_bo *bos[2] = {s, l};
	uint8_t *ms = calloc(1, SMALL), *ml = calloc(1, LARGE);
	struct viova_sim_job w[2];

	assert_non_null(ms);
	assert_non_null(ml);
	w[0] = w_fill(is + PAGE - 8, 24, 0xdeadbeef);
	model_fill(ms, PAGE - 8, 24, 0xdeadbeef);
	w[1] = w_fill(il + 40 * PAGE + 12, 3 * PAGE, 0x01020304);
	model_fill(ml, 40 * PAGE + 12, 3 * PAGE, 0x01020304);
	run(f, bos, 2, w, 2);
	assert_int_equal(stats(f).bos_backed, 2);
	assert_int_equal(stats(f).bytes_backed, SMALL + LARGE);
	sim_assert_bo_bytes(f, s, ms, SMALL);
	sim_assert_bo_bytes(f, l, ml, LARGE);
	assert_int_equal(f->log.nfaults, 0);
	sim_close_bo(f, s);
	sim_close_bo(f, l);
	free(ms);
	free(ml);
}

static void test_first_write_copy_dst(void **state)
{
	struct sim_fx *f = *state;
	const uint64_t isrc = VA, is = VA + 0x100000, il = VA + 0x200000, iz = VA + 0x300000,
		       iy = VA + 0x400000;
	struct viova_be_bo *src = sim_new_bo_at(f, SMALL, isrc), *s = sim_new_bo_at(f, SMALL, is),
			   *l = sim_new_bo_at(f, LARGE, il), *z = sim_new_bo_at(f, SMALL, iz),
			   *y = sim_new_bo_at(f, LARGE, iy);
	struct viova_be_bo *bos[5] = {src, s, l, z, y};
	uint8_t msrc[SMALL], *ms = calloc(1, SMALL), *ml = calloc(1, LARGE);
	struct viova_sim_job w[3];

	assert_non_null(ms);
	assert_non_null(ml);
	for (size_t k = 0; k < sizeof(msrc); k++)
		msrc[k] = (uint8_t)(k * 13 + 5);
	assert_int_equal(f->ops->bo_write(f->be, src, 0, msrc, sizeof(msrc)), 0);
	w[0] = w_copy(is + 3, isrc + PAGE - 50, 700);
	memcpy(ms + 3, msrc + PAGE - 50, 700);
	w[1] = w_copy(il + 63 * PAGE + 96, isrc, PAGE - 96);
	memcpy(ml + 63 * PAGE + 96, msrc, PAGE - 96);
	/* unwritten into unwritten: the destination is backed (it was written), with zeros */
	w[2] = w_copy(iz + 10, iy + 5 * PAGE, 64);
	run(f, bos, 5, w, 3);
	assert_int_equal(stats(f).bos_backed, 4); /* y, only read, still has no memory */
	sim_assert_bo_bytes(f, s, ms, SMALL);
	sim_assert_bo_bytes(f, l, ml, LARGE);
	assert_bo_zero(f, z, SMALL);
	sim_assert_bo_bytes(f, src, msrc, SMALL);
	assert_int_equal(f->log.nfaults, 0);
	sim_close_bo(f, src);
	sim_close_bo(f, s);
	sim_close_bo(f, l);
	sim_close_bo(f, z);
	sim_close_bo(f, y);
	free(ms);
	free(ml);
}

/* One unwritten buffer seen through two mappings: a COPY between them backs it once. */
static void test_first_write_copy_alias(void **state)
{
	struct sim_fx *f = *state;
	const uint64_t i1 = VA, i2 = VA + 0x100000;
	struct viova_be_bo *bo = sim_new_bo_at(f, SMALL, i1);
	struct viova_sim_job w[2];
	uint8_t m[SMALL] = {0};

	assert_int_equal(f->ops->bind(f->be, f->vm, bo, i2, SMALL, 0, 0), 0);
	w[0] = w_copy(i2 + PAGE, i1, 256); /* zeros onto zeros, but a write */
	w[1] = w_fill(i2 + 8, 8, 0x11223344);
	model_fill(m, 8, 8, 0x11223344);
	run(f, &bo, 1, w, 2);
	assert_int_equal(stats(f).bos_backed, 1);
	sim_assert_bo_bytes(f, bo, m, SMALL);
	assert_int_equal(f->ops->unbind(f->be, f->vm, i2, SMALL), 0);
	sim_close_bo(f, bo);
}

static void test_first_write_fence(void **state)
{
	struct sim_fx *f = *state;
	const uint64_t is = VA, il = VA + 0x100000;
	struct viova_be_bo *s = sim_new_bo_at(f, SMALL, is), *l = sim_new_bo_at(f, LARGE, il);
	struct viova_be_bo *bos[2] = {s, l};
	uint8_t *ms = calloc(1, SMALL), *ml = calloc(1, LARGE);
	const uint64_t v1 = 0x0123456789abcdefull, v2 = 0xfedcba9876543210ull;
	struct viova_sim_job w[2];

	assert_non_null(ms);
	assert_non_null(ml);
	w[0] = w_fence(is + PAGE + 8, v1);
	memcpy(ms + PAGE + 8, &v1, 8);
	w[1] = w_fence(il + LARGE - 8, v2);
	memcpy(ml + LARGE - 8, &v2, 8);
	run(f, bos, 2, w, 2);
	assert_int_equal(stats(f).bos_backed, 2);
	sim_assert_bo_bytes(f, s, ms, SMALL);
	sim_assert_bo_bytes(f, l, ml, LARGE);
	sim_close_bo(f, s);
	sim_close_bo(f, l);
	free(ms);
	free(ml);
}

/*
 * Written buffers of every size class give their memory back at close, including one closed
 * while a job still held it and destroy() with buffers left (valgrind / ASan check the leaks).
 */
static void test_written_then_closed(void **state)
{
	struct sim_fx *f = *state;
	const uint64_t sizes[] = {PAGE, 16 * PAGE, 17 * PAGE, LARGE, 1024 * PAGE};
	struct viova_be_bo *bos[5], *busy;
	struct viova_sim_job w = w_fill(VA + 8 * PAGE, PAGE, 0x5a5a5a5a);
	struct viova_backend *be2;
	struct viova_be_vm *vm2;
	struct viova_be_bo *left;
	uint8_t x = 9;

	for (size_t i = 0; i < 5; i++) {
		bos[i] = sim_new_bo(f, sizes[i], 0);
		assert_int_equal(f->ops->bo_write(f->be, bos[i], sizes[i] / 2, &x, 1), 0);
	}
	assert_int_equal(stats(f).bos_backed, 5);
	for (size_t i = 0; i < 5; i++)
		f->ops->bo_close(f->be, bos[i]);
	assert_int_equal(stats(f).bos_backed, 0);
	assert_int_equal(stats(f).bytes_backed, 0);

	/* closed while a parked job lists it: the job backs it, the last retire frees it */
	busy = sim_new_bo(f, 16 * PAGE, 0);
	assert_int_equal(f->ops->bind(f->be, f->vm, busy, VA + 8 * PAGE, PAGE, 0, 0), 0);
	sim_debug_pause(f->be);
	assert_int_equal(submit_words(f->be, f->ctx, &busy, 1, &w, 1, ++f->fence), 0);
	assert_int_equal(sim_debug_wait_parked(f->be, 5 * SEC), 0);
	f->ops->bo_close(f->be, busy);
	assert_int_equal(stats(f).bos, 1);
	sim_debug_resume(f->be);
	assert_int_equal(f->ops->fence_wait(f->be, f->ctx, f->fence, 5 * SEC), 0);
	assert_true(ev_wait_fence(&f->log, &f->ctx_cookie, f->fence, 5 * SEC));
	assert_int_equal(stats(f).bos, 0);
	assert_int_equal(stats(f).bos_backed, 0);
	assert_int_equal(f->ops->unbind(f->be, f->vm, VA + 8 * PAGE, PAGE), 0);

	/* destroy() with a written buffer left frees it */
	assert_int_equal(viova_backend_create("sim", NULL, &ev_ops, NULL, &be2), 0);
	assert_int_equal(be2->ops->vm_create(be2, &vm2), 0);
	assert_int_equal(be2->ops->bo_create(be2, vm2, LARGE, 0, &left), 0);
	assert_int_equal(be2->ops->bo_write(be2, left, 0, &x, 1), 0);
	be2->ops->destroy(be2);
}

/* ---- races ------------------------------------------------------------------------------ */

#define RACE_BOS 64u

/* submit_words for more than 16 buffers */
static int submit_many(struct sim_fx *f, struct viova_be_bo **bos, uint32_t nb,
		       const struct viova_sim_job *words, uint32_t nw, uint64_t fence)
{
	struct viova_be_submit_bo list[RACE_BOS + 1];
	struct viova_be_submit s = {0};

	assert_true(nb <= RACE_BOS + 1);
	for (uint32_t i = 0; i < nb; i++)
		list[i] = (struct viova_be_submit_bo){
		    .bo = bos[i], .flags = VIOVA_SUBMIT_BO_READ | VIOVA_SUBMIT_BO_WRITE};
	s.format = VIOVA_SUBMIT_FORMAT_SIM;
	s.bo_count = nb;
	s.bos = list;
	s.cmds = words;
	s.cmd_size = nw * (uint32_t)sizeof(*words);
	s.out_fence = fence;
	return f->ops->submit(f->be, f->ctx, &s);
}

/*
 * The GPU's first writes racing the connection thread's first writes to the same buffers.
 * Each round: RACE_BOS fresh buffers, page 0 of buffer k bound at VA + k pages; one job
 * writes page 0 of every buffer in order 0, 1, ... (FILL, COPY destination or WRITE_FENCE,
 * by round) while this thread uploads into the second half of every buffer in the opposite
 * order, so the two meet in the middle of each round: somewhere there one side backs a
 * buffer while the other is allocating for it. Small and large buffers by round. Every
 * buffer must end with both writes exact and one backing, and nothing may leak (valgrind,
 * ASan); backing_lost counts the uploads whose allocation lost and was freed.
 */
static void test_race_upload_vs_gpu(void **state)
{
	struct sim_fx *f = *state;
	const uint32_t rounds = 48;
	const uint64_t isrc = VA + 0x1000000;
	struct viova_be_bo *src = sim_new_bo_at(f, RACE_BOS * PAGE, isrc);
	struct viova_be_bo *bos[RACE_BOS + 1];
	struct viova_sim_job w[RACE_BOS];
	uint8_t *msrc = malloc(RACE_BOS * PAGE), data[512], page[PAGE], got[PAGE];
	uint32_t nw;

	assert_non_null(msrc);
	for (size_t k = 0; k < RACE_BOS * PAGE; k++)
		msrc[k] = (uint8_t)(k * 3 + 1);
	assert_int_equal(f->ops->bo_write(f->be, src, 0, msrc, RACE_BOS * PAGE), 0);
	bos[RACE_BOS] = src;
	for (uint32_t r = 0; r < rounds; r++) {
		uint64_t size = (r & 1) ? LARGE : SMALL, half = size / 2;
		uint32_t op = (r / 2) % 3;

		for (uint32_t k = 0; k < RACE_BOS; k++) {
			bos[k] = sim_new_bo(f, size, 0);
			assert_int_equal(
			    f->ops->bind(f->be, f->vm, bos[k], VA + k * PAGE, PAGE, 0, 0), 0);
		}
		if (op == 0) {
			w[0] = w_fill(VA, RACE_BOS * PAGE, 0xc0ffee00 + r);
			nw = 1;
		} else if (op == 1) {
			w[0] = w_copy(VA, isrc, RACE_BOS * PAGE);
			nw = 1;
		} else {
			for (uint32_t k = 0; k < RACE_BOS; k++)
				w[k] = w_fence(VA + k * PAGE + 64, 0x1000000000000000ull + k);
			nw = RACE_BOS;
		}
		for (size_t k = 0; k < sizeof(data); k++)
			data[k] = (uint8_t)(k + r);
		/* both sides start together: the job is parked before its first byte */
		sim_debug_pause(f->be);
		assert_int_equal(submit_many(f, bos, RACE_BOS + 1, w, nw, ++f->fence), 0);
		assert_int_equal(sim_debug_wait_parked(f->be, 5 * SEC), 0);
		sim_debug_resume(f->be);
		/* the worker takes a while to wake: start once it has backed its first buffer */
		while (stats(f).bos_backed < 2)
			;
		for (uint32_t k = RACE_BOS; k-- > 0;)
			assert_int_equal(
			    f->ops->bo_write(f->be, bos[k], half + 8, data, sizeof(data)), 0);
		assert_int_equal(f->ops->fence_wait(f->be, f->ctx, f->fence, 5 * SEC), 0);
		assert_int_equal(stats(f).bos_backed, RACE_BOS + 1);
		for (uint32_t k = 0; k < RACE_BOS; k++) {
			/* page 0: the GPU's write */
			memset(page, 0, sizeof(page));
			if (op == 0) {
				model_fill(page, 0, PAGE, 0xc0ffee00 + r);
			} else if (op == 1) {
				memcpy(page, msrc + k * PAGE, PAGE);
			} else {
				uint64_t v = 0x1000000000000000ull + k;

				memcpy(page + 64, &v, 8);
			}
			assert_int_equal(f->ops->bo_read(f->be, bos[k], 0, got, PAGE), 0);
			assert_memory_equal(got, page, PAGE);
			/* the page holding the upload: the upload, zeros around it */
			memset(page, 0, sizeof(page));
			memcpy(page + 8, data, sizeof(data));
			assert_int_equal(f->ops->bo_read(f->be, bos[k], half, got, PAGE), 0);
			assert_memory_equal(got, page, PAGE);
		}
		assert_int_equal(f->ops->unbind(f->be, f->vm, VA, RACE_BOS * PAGE), 0);
		for (uint32_t k = 0; k < RACE_BOS; k++)
			f->ops->bo_close(f->be, bos[k]);
		assert_int_equal(stats(f).bos_backed, 1);
	}
	assert_true(ev_wait_fence(&f->log, &f->ctx_cookie, f->fence, 5 * SEC));
	assert_int_equal(f->log.nfaults, 0);
	print_message("%" PRIu64 " of %u uploads lost the backing race to the GPU\n",
		      stats(f).backing_lost, rounds * RACE_BOS);
	sim_close_bo(f, src);
	free(msrc);
	assert_int_equal(stats(f).bos_backed, 0);
}

/*
 * The same race made deterministic with the backing-window hook: the upload allocates, then
 * (in the hook, no lock held) lets the parked GPU job back and write the buffer; the upload
 * finds it backed, frees its own allocation and writes into the GPU's. FILL, COPY destination
 * and WRITE_FENCE, small and large.
 */
struct window {
	struct sim_fx *f;
	uint64_t fence;
	uint32_t calls;
};

static void window_run_gpu(void *arg)
{
	struct window *wd = arg;

	wd->calls++;
	sim_debug_resume(wd->f->be);
	assert_int_equal(wd->f->ops->fence_wait(wd->f->be, wd->f->ctx, wd->fence, 5 * SEC), 0);
}

static void test_race_upload_loses(void **state)
{
	struct sim_fx *f = *state;
	const uint64_t isrc = VA + 0x1000000;
	struct viova_be_bo *src = sim_new_bo_at(f, PAGE, isrc);
	uint8_t msrc[PAGE], data[100];
	struct window wd = {.f = f};
	uint64_t lost = 0;

	for (size_t k = 0; k < sizeof(msrc); k++)
		msrc[k] = (uint8_t)(k * 5 + 3);
	memset(data, 0xe7, sizeof(data));
	assert_int_equal(f->ops->bo_write(f->be, src, 0, msrc, sizeof(msrc)), 0);
	for (uint32_t r = 0; r < 6; r++) {
		uint64_t size = (r & 1) ? LARGE : SMALL;
		struct viova_be_bo *bo = sim_new_bo_at(f, size, VA);
		struct viova_be_bo *bos[2] = {bo, src};
		uint8_t *m = calloc(1, size);
		struct viova_sim_job w;
		const uint64_t v = 0x5555aaaa5555aaaaull;

		assert_non_null(m);
		if (r / 2 == 0) {
			w = w_fill(VA + PAGE + 4, 400, 0x0badf00d);
			model_fill(m, PAGE + 4, 400, 0x0badf00d);
		} else if (r / 2 == 1) {
			w = w_copy(VA + PAGE + 4, isrc, 400);
			memcpy(m + PAGE + 4, msrc, 400);
		} else {
			w = w_fence(VA + PAGE + 8, v);
			memcpy(m + PAGE + 8, &v, 8);
		}
		sim_debug_pause(f->be);
		wd.fence = ++f->fence;
		assert_int_equal(submit_words(f->be, f->ctx, bos, 2, &w, 1, wd.fence), 0);
		assert_int_equal(sim_debug_wait_parked(f->be, 5 * SEC), 0);
		sim_debug_set_backing_window(f->be, window_run_gpu, &wd);
		assert_int_equal(
		    f->ops->bo_write(f->be, bo, size - sizeof(data), data, sizeof(data)), 0);
		sim_debug_set_backing_window(f->be, NULL, NULL);
		memcpy(m + size - sizeof(data), data, sizeof(data));
		assert_int_equal(wd.calls, r + 1);
		assert_int_equal(stats(f).backing_lost, ++lost);
		assert_int_equal(stats(f).bos_backed, 2);
		assert_int_equal(stats(f).bytes_backed, PAGE + size);
		sim_assert_bo_bytes(f, bo, m, size);
		sim_close_bo(f, bo);
		free(m);
	}
	assert_true(ev_wait_fence(&f->log, &f->ctx_cookie, f->fence, 5 * SEC));
	assert_int_equal(f->log.nfaults, 0);
	sim_close_bo(f, src);
}

/* ---- allocation failure ----------------------------------------------------------------- */

/* An upload that cannot back its buffer is -ENOMEM and changes nothing. */
static void test_upload_enomem(void **state)
{
	struct sim_fx *f = *state;
	struct viova_be_bo *s = sim_new_bo(f, SMALL, 0), *l = sim_new_bo(f, LARGE, 0);
	uint8_t data[64];
	struct sim_debug_stats st;

	memset(data, 0x3c, sizeof(data));
	sim_debug_fail_backing(f->be, 2);
	assert_int_equal(f->ops->bo_write(f->be, s, 0, data, sizeof(data)), -ENOMEM);
	assert_int_equal(f->ops->bo_write(f->be, l, 100, data, sizeof(data)), -ENOMEM);
	st = stats(f);
	assert_int_equal(st.backing_failures, 2);
	assert_int_equal(st.bos_backed, 0);
	assert_int_equal(st.bytes, SMALL + LARGE);
	assert_bo_zero(f, s, SMALL);
	assert_bo_zero(f, l, LARGE);
	/* the hook is spent: the same upload now works */
	assert_int_equal(f->ops->bo_write(f->be, l, 100, data, sizeof(data)), 0);
	/* a backed buffer needs no allocation: unaffected by the hook */
	sim_debug_fail_backing(f->be, UINT32_MAX);
	assert_int_equal(f->ops->bo_write(f->be, l, 0, data, 8), 0);
	assert_int_equal(f->ops->bo_write(f->be, s, 0, data, 8), -ENOMEM);
	sim_debug_fail_backing(f->be, 0);
	assert_int_equal(f->ops->bo_write(f->be, s, 0, data, 8), 0);
	assert_int_equal(stats(f).backing_failures, 3);
	f->ops->bo_close(f->be, s);
	f->ops->bo_close(f->be, l);
}

/*
 * A job whose first write to a buffer cannot be backed faults with -ENOMEM at that access,
 * before its fence (the fixture's probe checks rule 1 inside job_fault); earlier words are
 * done, later ones are not; a recoverable context goes on, and the next job backs the buffer.
 * Each of FILL, COPY destination and WRITE_FENCE in turn.
 */
static void test_gpu_enomem(void **state)
{
	struct sim_fx *f = *state;
	const uint64_t ia = VA, ib = VA + 0x100000;

	for (uint32_t op = 0; op < 3; op++) {
		struct viova_be_bo *a = sim_new_bo_at(f, SMALL, ia),
				   *b = sim_new_bo_at(f, LARGE, ib);
		struct viova_be_bo *bos[2] = {a, b};
		uint8_t ma[SMALL] = {0};
		uint8_t *mb = calloc(1, LARGE);
		struct viova_sim_job w[3], again;
		uint64_t bad = ib + 7 * PAGE + 8, fence;
		uint32_t nf = ev_count_faults(&f->log);

		assert_non_null(mb);
		w[0] = w_fill(ia, 64, 0xabababab); /* done before the fault */
		model_fill(ma, 0, 64, 0xabababab);
		w[1] = op == 0	 ? w_fill(bad, 2 * PAGE, 0x12345678)
		       : op == 1 ? w_copy(bad, ia, 32)
				 : w_fence(bad, 42);
		w[2] = w_fill(ia + PAGE, 4, 0xffffffff); /* never runs */
		/* a is backed by an upload first, so only b's backing meets the hook */
		assert_int_equal(f->ops->bo_write(f->be, a, SMALL - 1, ma + SMALL - 1, 1), 0);
		sim_debug_fail_backing(f->be, 1);
		fence = ++f->fence;
		assert_int_equal(submit_words(f->be, f->ctx, bos, 2, w, 3, fence), 0);
		assert_true(ev_wait_faults(&f->log, nf + 1, 5 * SEC));
		assert_int_equal(f->ops->fence_wait(f->be, f->ctx, fence, 5 * SEC), 0);
		assert_true(ev_wait_fence(&f->log, &f->ctx_cookie, fence, 5 * SEC));
		pthread_mutex_lock(&f->log.lock);
		assert_ptr_equal(f->log.faults[nf].ctx, &f->ctx_cookie);
		assert_int_equal(f->log.faults[nf].fence, fence);
		assert_int_equal(f->log.faults[nf].iova, bad);
		assert_int_equal(f->log.faults[nf].err, -ENOMEM);
		pthread_mutex_unlock(&f->log.lock);
		sim_assert_bo_bytes(f, a, ma, SMALL);
		assert_bo_zero(f, b, LARGE);
		assert_int_equal(stats(f).bos_backed, 1);
		assert_int_equal(stats(f).jobs_faulted, op + 1);
		/* recoverable: not banned; the same write now backs b */
		again = w[1];
		run(f, bos, 2, &again, 1);
		if (op == 0)
			model_fill(mb, 7 * PAGE + 8, 2 * PAGE, 0x12345678);
		else if (op == 1)
			memcpy(mb + 7 * PAGE + 8, ma, 32);
		else
			memcpy(mb + 7 * PAGE + 8, &(uint64_t){42}, 8);
		sim_assert_bo_bytes(f, b, mb, LARGE);
		assert_int_equal(stats(f).bos_backed, 2);
		sim_close_bo(f, a);
		sim_close_bo(f, b);
		free(mb);
	}
	assert_int_equal(f->log.probes, 3);
}

/* A context that is not RECOVERABLE is banned by an -ENOMEM fault, as by any other. */
static void test_gpu_enomem_bans(void **state)
{
	struct sim_fx *f = *state;
	struct viova_be_ctx_params p = {.params = 0, .priority = 0};
	struct viova_be_ctx *ctx;
	int cookie;
	struct viova_be_bo *bo = sim_new_bo_at(f, SMALL, VA);
	struct viova_sim_job w = w_fence(VA, 1);
	struct sim_debug_ctx_info info;

	assert_int_equal(f->ops->ctx_create(f->be, f->vm, &p, &cookie, &ctx), 0);
	sim_debug_fail_backing(f->be, 1);
	assert_int_equal(submit_words(f->be, ctx, &bo, 1, &w, 1, 1), 0);
	assert_int_equal(f->ops->fence_wait(f->be, ctx, 1, 5 * SEC), 0);
	assert_true(ev_wait_fence(&f->log, &cookie, 1, 5 * SEC));
	sim_debug_ctx_info(f->be, ctx, &info);
	assert_true(info.banned);
	assert_int_equal(info.last_fault_iova, VA);
	assert_int_equal(submit_words(f->be, ctx, &bo, 1, &w, 1, 2), -EIO);
	f->ops->ctx_destroy(f->be, ctx);
	assert_int_equal(stats(f).bos_backed, 0);
	sim_close_bo(f, bo);
}

/*
 * A real allocation failure, not the hook: a 64 TiB buffer fits the (huge) budget but no
 * host can back it, so the upload is -ENOMEM and a job writing it (through a one-page bind)
 * faults -ENOMEM. Needs the kernel to refuse the mmap (vm.overcommit_memory 0 or 2).
 */
static void test_real_enomem(void **state)
{
	struct sim_fx *f = *state;
	const uint64_t huge = 1ull << 46;
	struct viova_be_bo *bo;
	struct viova_sim_job w = w_fill(VA + 8, 8, 0x01010101);
	uint8_t x = 1;
	FILE *oc = fopen("/proc/sys/vm/overcommit_memory", "r");
	int mode = 1;

	if (oc) {
		if (fscanf(oc, "%d", &mode) != 1)
			mode = 1;
		fclose(oc);
	}
	if (mode == 1) {
		print_message("vm.overcommit_memory = 1: a 64 TiB mmap may succeed; skipped\n");
		skip();
	}
	bo = sim_new_bo(f, huge, 0);
	assert_int_equal(f->ops->bind(f->be, f->vm, bo, VA, PAGE, 0, 0), 0);
	assert_int_equal(f->ops->bo_write(f->be, bo, huge - 1, &x, 1), -ENOMEM);
	assert_int_equal(f->ops->bo_read(f->be, bo, huge - 1, &x, 1), 0);
	assert_int_equal(x, 0);
	assert_int_equal(submit_words(f->be, f->ctx, &bo, 1, &w, 1, ++f->fence), 0);
	assert_true(ev_wait_faults(&f->log, 1, 5 * SEC));
	assert_int_equal(f->ops->fence_wait(f->be, f->ctx, f->fence, 5 * SEC), 0);
	assert_int_equal(f->log.faults[0].err, -ENOMEM);
	assert_int_equal(f->log.faults[0].iova, VA + 8);
	assert_int_equal(stats(f).backing_failures, 2);
	assert_int_equal(stats(f).bos_backed, 0);
	assert_true(ev_wait_fence(&f->log, &f->ctx_cookie, f->fence, 5 * SEC));
	assert_int_equal(f->ops->unbind(f->be, f->vm, VA, PAGE), 0);
	f->ops->bo_close(f->be, bo);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_unwritten_reads_zero, sim_fx_setup,
					    sim_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_copy_from_unwritten, sim_fx_setup,
					    sim_fx_teardown),
	    cmocka_unit_test(test_budget_charged_at_create),
	    cmocka_unit_test_setup_teardown(test_first_write_upload, sim_fx_setup, sim_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_first_write_fill, sim_fx_setup, sim_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_first_write_copy_dst, sim_fx_setup,
					    sim_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_first_write_copy_alias, sim_fx_setup,
					    sim_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_first_write_fence, sim_fx_setup, sim_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_written_then_closed, sim_fx_setup,
					    sim_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_race_upload_vs_gpu, sim_fx_setup, sim_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_race_upload_loses, sim_fx_setup, sim_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_upload_enomem, sim_fx_setup, sim_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_gpu_enomem, sim_fx_setup, sim_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_gpu_enomem_bans, sim_fx_setup, sim_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_real_enomem, fx_setup_huge, sim_fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

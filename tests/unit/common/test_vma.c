// SPDX-License-Identifier: MIT
/*
 * test_vma.c - common/vma: IGT api_intel_allocator semantics (alloc-simple, reserve-simple,
 * default-alignment, reuse), edge cases, strategies, in-place mode, canonical helpers.
 * The randomized model test is test_vma_model.c; the registry and threads, test_vma_registry.c.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "viova/vma.h"
#include "vma_priv.h" /* the corruption test flips fields the checker must catch; the level code */

#define KiB (1ull << 10)
#define MiB (1ull << 20)
#define GiB (1ull << 30)

static struct viova_vma *heap(uint64_t start, uint64_t end, enum viova_vma_type type,
			      enum viova_vma_strategy strategy, uint64_t default_align)
{
	struct viova_vma_config cfg = {.start = start,
				       .end = end,
				       .type = type,
				       .strategy = strategy,
				       .default_align = default_align};
	struct viova_vma *v = NULL;

	assert_int_equal(viova_vma_create(&cfg, &v), 0);
	assert_non_null(v);
	return v;
}

static void assert_consistent(struct viova_vma *v)
{
	char why[256];
	int ret = viova_vma_check(v, why, sizeof(why));

	if (ret)
		fail_msg("viova_vma_check: %s", why);
}

static struct viova_vma_stats stats(struct viova_vma *v)
{
	struct viova_vma_stats st;

	assert_int_equal(viova_vma_get_stats(v, &st), 0);
	return st;
}

/* IGT alloc-simple: the whole range, then small objects, is_allocated, free, empty. */
static void test_alloc_simple(void **state)
{
	(void)state;
	struct viova_vma *v = heap(0x100000, 1ull << 32, VIOVA_VMA_SIMPLE, 0, 0);
	uint64_t start, end, off0, off1, off2, off;

	assert_int_equal(viova_vma_address_range(v, &start, &end), 0);
	assert_int_equal(start, 0x100000);
	assert_int_equal(end, 1ull << 32);

	assert_int_equal(viova_vma_alloc(v, 1, end - start, 0, &off0), 0);
	assert_int_equal(off0, start);
	assert_int_equal(viova_vma_alloc(v, 2, 4096, 0, &off1), -ENOSPC);
	assert_int_equal(viova_vma_free(v, 1), 0);

	assert_int_equal(viova_vma_alloc(v, 1, 4096, 0, &off0), 0);
	assert_int_equal(viova_vma_alloc(v, 2, 8192, 0, &off1), 0);
	assert_int_equal(viova_vma_alloc(v, 3, 4096, 1 << 16, &off2), 0);
	/* HIGH_TO_LOW is the default: the first range sits at the very top. */
	assert_int_equal(off0, end - 4096);
	assert_int_equal(off1, end - 4096 - 8192);
	assert_int_equal(off2 % (1 << 16), 0);
	assert_true(off2 + 4096 <= off1);

	assert_true(viova_vma_is_allocated(v, 1, 4096, off0));
	assert_true(viova_vma_is_allocated(v, 2, 8192, off1));
	assert_false(viova_vma_is_allocated(v, 2, 4096, off1));
	assert_false(viova_vma_is_allocated(v, 2, 8192, off0));
	assert_false(viova_vma_is_allocated(v, 4, 4096, off2));

	/* alloc is idempotent per handle */
	assert_int_equal(viova_vma_alloc(v, 3, 4096, 0, &off), 0);
	assert_int_equal(off, off2);

	assert_false(viova_vma_is_empty(v));
	assert_int_equal(viova_vma_free(v, 1), 0);
	assert_int_equal(viova_vma_free(v, 1), -ENOENT);
	assert_int_equal(viova_vma_free(v, 2), 0);
	assert_int_equal(viova_vma_free(v, 3), 0);
	assert_true(viova_vma_is_empty(v));

	struct viova_vma_stats st = stats(v);

	assert_int_equal(st.holes, 1);
	assert_int_equal(st.largest_hole, end - start);
	assert_int_equal(st.free_bytes, end - start);
	assert_consistent(v);
	viova_vma_destroy(v);
}

/* IGT reserve-simple: reserve at the start, is_reserved, alloc avoids it, unreserve. */
static void test_reserve_simple(void **state)
{
	(void)state;
	struct viova_vma *v = heap(0, 16 * MiB, VIOVA_VMA_SIMPLE, VIOVA_VMA_LOW_TO_HIGH, 0);
	uint64_t off;

	assert_int_equal(viova_vma_reserve(v, VIOVA_VMA_NO_HANDLE, 0, 64 * KiB), 0);
	assert_true(viova_vma_is_reserved(v, 0, 64 * KiB));
	assert_false(viova_vma_is_reserved(v, 0, 32 * KiB));
	assert_false(viova_vma_is_reserved(v, 4096, 64 * KiB));
	assert_int_equal(viova_vma_reserve(v, 7, 0, 64 * KiB), -EEXIST);
	assert_int_equal(viova_vma_reserve(v, 7, 60 * KiB, 8 * KiB), -EBUSY);
	assert_int_equal(viova_vma_reserve(v, 7, 64 * KiB, 8 * KiB), 0);

	/* LOW_TO_HIGH would take 0 without the reservations */
	assert_int_equal(viova_vma_alloc(v, 1, 4096, 0, &off), 0);
	assert_int_equal(off, 72 * KiB);
	assert_int_equal(viova_vma_reserve(v, 1, off, 4096), -EBUSY);

	struct viova_vma_stats st = stats(v);

	assert_int_equal(st.reservations, 2);
	assert_int_equal(st.reserved_bytes, 72 * KiB);
	assert_int_equal(st.allocations, 1);

	assert_int_equal(viova_vma_unreserve(v, 7, 0, 64 * KiB), -EPERM);
	assert_int_equal(viova_vma_unreserve(v, VIOVA_VMA_NO_HANDLE, 0, 32 * KiB), -ENOENT);
	assert_int_equal(viova_vma_unreserve(v, VIOVA_VMA_NO_HANDLE, 0, 64 * KiB), 0);
	assert_false(viova_vma_is_reserved(v, 0, 64 * KiB));
	assert_int_equal(viova_vma_unreserve(v, 7, 64 * KiB, 8 * KiB), 0);
	/* free does not release reservations, unreserve does not free allocations */
	assert_int_equal(viova_vma_unreserve(v, 1, off, 4096), -ENOENT);
	assert_int_equal(viova_vma_free(v, 1), 0);
	assert_true(viova_vma_is_empty(v));
	assert_int_equal(stats(v).holes, 1);
	assert_consistent(v);
	viova_vma_destroy(v);
}

/* IGT default-alignment: align 0 means the heap's default; a larger request still wins. */
static void test_default_alignment(void **state)
{
	(void)state;
	struct viova_vma *v = heap(0, 1 * GiB, VIOVA_VMA_SIMPLE, VIOVA_VMA_LOW_TO_HIGH, 0x4000);
	uint64_t a, b, c, d;

	assert_int_equal(viova_vma_alloc(v, 1, 1, 0, &a), 0);
	assert_int_equal(viova_vma_alloc(v, 2, 1, 0, &b), 0);
	assert_int_equal(viova_vma_alloc(v, 3, 1, 0x1000, &c), 0);
	assert_int_equal(viova_vma_alloc(v, 4, 1, 0x10000, &d), 0);
	assert_int_equal(a, 0);
	assert_int_equal(b, 0x4000);
	assert_int_equal(c, 0x8000);
	assert_int_equal(d, 0x10000);
	viova_vma_destroy(v);

	/* default_align 0 in the config = 4096 */
	v = heap(0, 1 * GiB, VIOVA_VMA_SIMPLE, VIOVA_VMA_LOW_TO_HIGH, 0);
	assert_int_equal(viova_vma_alloc(v, 1, 1, 0, &a), 0);
	assert_int_equal(viova_vma_alloc(v, 2, 1, 0, &b), 0);
	assert_int_equal(b - a, VIOVA_VMA_DEFAULT_ALIGN);
	viova_vma_destroy(v);
}

/* IGT reuse: same handle -> same offset; a freed hole goes to the next object. */
static void test_reuse(void **state)
{
	(void)state;
	struct viova_vma *v = heap(0x10000, 256 * MiB, VIOVA_VMA_SIMPLE, 0, 0);
	uint64_t offs[128], prev, tmp;

	for (uint32_t i = 0; i < 128; i++)
		assert_int_equal(viova_vma_alloc(v, i + 1, 64 * KiB, 64 * KiB, &offs[i]), 0);
	for (uint32_t i = 0; i < 128; i++) {
		uint64_t again;

		assert_int_equal(viova_vma_alloc(v, i + 1, 64 * KiB, 0, &again), 0);
		assert_int_equal(again, offs[i]);
	}
	/* a different size, or an alignment the existing range does not satisfy, is refused */
	assert_int_equal(viova_vma_alloc(v, 1, 128 * KiB, 0, &tmp), -EEXIST);
	prev = offs[127];
	assert_int_equal(
	    viova_vma_alloc(v, 128, 64 * KiB, prev & -prev ? (prev & -prev) << 1 : 0, &tmp),
	    -EEXIST);

	assert_int_equal(viova_vma_free(v, 128), 0);
	assert_int_equal(viova_vma_alloc(v, 1000, 64 * KiB, 64 * KiB, &tmp), 0);
	assert_int_equal(tmp, prev);
	assert_int_equal(viova_vma_alloc(v, 128, 64 * KiB, 0, &offs[127]), 0);
	assert_int_not_equal(offs[127], prev);
	assert_int_equal(viova_vma_free(v, 1000), 0);
	for (uint32_t i = 0; i < 128; i++)
		assert_int_equal(viova_vma_free(v, i + 1), 0);
	assert_true(viova_vma_is_empty(v));
	assert_consistent(v);
	viova_vma_destroy(v);
}

static void test_reserve_if_not_allocated(void **state)
{
	(void)state;
	struct viova_vma *v = heap(0, 64 * MiB, VIOVA_VMA_SIMPLE, 0, 0);
	uint64_t off;
	bool was = true;

	assert_int_equal(viova_vma_alloc(v, 5, 8192, 0, &off), 0);
	assert_int_equal(viova_vma_reserve_if_not_allocated(v, 5, 8192, off, &was), 0);
	assert_true(was);
	assert_false(viova_vma_is_reserved(v, off, 8192));
	/* another handle at the same place: the range is busy */
	assert_int_equal(viova_vma_reserve_if_not_allocated(v, 6, 8192, off, &was), -EBUSY);
	/* handle 5 with another range: reserved, tagged 5 */
	assert_int_equal(viova_vma_reserve_if_not_allocated(v, 5, 4096, 0, &was), 0);
	assert_false(was);
	assert_true(viova_vma_is_reserved(v, 0, 4096));
	assert_int_equal(viova_vma_unreserve(v, 5, 0, 4096), 0);
	assert_int_equal(viova_vma_reserve_if_not_allocated(v, 5, 4096, 0, NULL), -EINVAL);
	assert_int_equal(viova_vma_reserve_if_not_allocated(v, 5, 0, 0, &was), -EINVAL);
	viova_vma_destroy(v);
}

static void test_iteration_and_stats(void **state)
{
	(void)state;
	struct viova_vma *v =
	    heap(0x1000, 0x1000 + 1 * MiB, VIOVA_VMA_SIMPLE, VIOVA_VMA_LOW_TO_HIGH, 4096);
	struct viova_vma_range rg;
	uint64_t off;

	assert_int_equal(viova_vma_next_range(v, 0, &rg), -ENOENT);
	for (uint32_t h = 1; h <= 8; h++)
		assert_int_equal(viova_vma_alloc(v, h, 4096 * h, 0, &off), 0);
	assert_int_equal(viova_vma_free(v, 3), 0);
	assert_int_equal(viova_vma_free(v, 6), 0);
	assert_int_equal(viova_vma_reserve(v, 42, 0x1000 + 900 * KiB, 8 * KiB), 0);

	uint32_t expect[] = {1, 2, 4, 5, 7, 8, 42};
	uint64_t from = 0, prev_end = 0;
	size_t k = 0;

	while (viova_vma_next_range(v, from, &rg) == 0) {
		assert_true(k < 7);
		assert_int_equal(rg.handle, expect[k]);
		assert_int_equal(rg.kind, expect[k] == 42 ? VIOVA_VMA_RANGE_RESERVED
							  : VIOVA_VMA_RANGE_ALLOCATED);
		assert_true(rg.offset >= prev_end);
		prev_end = rg.offset + rg.size;
		from = prev_end;
		k++;
	}
	assert_int_equal(k, 7);
	/* starting inside a range skips it */
	assert_int_equal(viova_vma_next_range(v, 0x1000 + 1, &rg), 0);
	assert_int_equal(rg.handle, 2);

	struct viova_vma_stats st = stats(v);

	assert_int_equal(st.allocations, 6);
	assert_int_equal(st.allocated_bytes, 4096 * (1 + 2 + 4 + 5 + 7 + 8));
	assert_int_equal(st.reservations, 1);
	assert_int_equal(st.free_bytes, 1 * MiB - st.allocated_bytes - 8 * KiB);
	/* holes: where 3 and 6 were, between 8 and the reservation, after it */
	assert_int_equal(st.holes, 4);
	assert_int_equal(st.largest_hole, 0x1000 + 900 * KiB - (0x1000 + 4096 * 36));
	assert_consistent(v);
	viova_vma_destroy(v);
}

/* ---- edge cases ---- */

static void test_whole_range(void **state)
{
	(void)state;
	/* the last page of the 64-bit space: end is exclusive, so UINT64_MAX itself is out */
	struct viova_vma *v = heap(UINT64_MAX - 0xffff, UINT64_MAX, VIOVA_VMA_SIMPLE, 0, 1);
	uint64_t off;

	assert_int_equal(viova_vma_alloc(v, 1, 0xffff, 0, &off), 0);
	assert_int_equal(off, UINT64_MAX - 0xffff);
	assert_int_equal(viova_vma_alloc(v, 2, 1, 0, &off), -ENOSPC);
	assert_int_equal(stats(v).holes, 0);
	assert_int_equal(stats(v).largest_hole, 0);
	assert_int_equal(viova_vma_free(v, 1), 0);
	/* aligned near 2^64: align_up must not wrap to 0 */
	assert_int_equal(viova_vma_alloc(v, 3, 16, 1ull << 20, &off), -ENOSPC);
	assert_int_equal(viova_vma_alloc(v, 3, 16, 1ull << 12, &off), 0);
	assert_int_equal(off % (1ull << 12), 0);
	assert_int_equal(off, UINT64_MAX - 0xfff); /* highest 4K-aligned place for 16 bytes */
	assert_consistent(v);
	viova_vma_destroy(v);
}

static void test_alignment_larger_than_any_hole(void **state)
{
	(void)state;
	struct viova_vma *v = heap(0x1000, 0x1000 + 1 * GiB, VIOVA_VMA_SIMPLE, 0, 0);
	uint64_t off;

	assert_int_equal(viova_vma_alloc(v, 1, 4096, 1ull << 31, &off), -ENOSPC);
	assert_int_equal(viova_vma_alloc(v, 1, 4096, VIOVA_VMA_MAX_ALIGN, &off), -ENOSPC);
	assert_int_equal(viova_vma_alloc(v, 1, 4096, VIOVA_VMA_MAX_ALIGN << 1, &off), -EINVAL);
	/* 2^30 is inside the range: the only 1 GiB-aligned offset */
	assert_int_equal(viova_vma_alloc(v, 1, 4096, 1ull << 30, &off), 0);
	assert_int_equal(off, 1ull << 30);
	assert_int_equal(viova_vma_alloc(v, 2, 4096, 1ull << 30, &off), -ENOSPC);
	assert_true(viova_vma_is_empty(v) == false);
	assert_consistent(v);
	viova_vma_destroy(v);
}

static void test_bad_arguments(void **state)
{
	(void)state;
	struct viova_vma *v = heap(0, 1 * GiB, VIOVA_VMA_SIMPLE, 0, 0);
	struct viova_vma_alloc_args a = {.handle = 1, .size = 4096};
	uint64_t off = 0xdead;

	/* zero size */
	assert_int_equal(viova_vma_alloc(v, 1, 0, 0, &off), -EINVAL);
	assert_int_equal(viova_vma_reserve(v, 1, 4096, 0), -EINVAL);
	/* non-power-of-two alignment */
	assert_int_equal(viova_vma_alloc(v, 1, 4096, 3 * 4096, &off), -EINVAL);
	assert_int_equal(viova_vma_alloc(v, 1, 4096, 4097, &off), -EINVAL);
	/* NO_HANDLE is not an allocation handle */
	assert_int_equal(viova_vma_alloc(v, VIOVA_VMA_NO_HANDLE, 4096, 0, &off), -EINVAL);
	/* offset + size wraps around 2^64 */
	assert_int_equal(viova_vma_reserve(v, 1, UINT64_MAX - 0xfff, 0x2000), -EINVAL);
	assert_false(viova_vma_is_reserved(v, UINT64_MAX - 0xfff, 0x2000));
	/* outside the heap */
	assert_int_equal(viova_vma_reserve(v, 1, 1 * GiB, 4096), -ERANGE);
	assert_int_equal(viova_vma_reserve(v, 1, 1 * GiB - 4096, 8192), -ERANGE);
	/* larger than the heap */
	assert_int_equal(viova_vma_alloc(v, 1, 1 * GiB + 1, 0, &off), -ENOSPC);
	/* no-span: not a power of two, or smaller than the size */
	a.no_span = 3 * 4096;
	assert_int_equal(viova_vma_alloc_ex(v, &a, &off), -EINVAL);
	a.no_span = 2048;
	assert_int_equal(viova_vma_alloc_ex(v, &a, &off), -EINVAL);
	assert_int_equal(off, 0xdead); /* out-parameters untouched on failure */
	assert_int_equal(viova_vma_alloc_ex(v, NULL, &off), -EINVAL);
	assert_int_equal(viova_vma_free(NULL, 1), -EINVAL);
	assert_true(viova_vma_is_empty(v));
	viova_vma_destroy(v);

	struct viova_vma_config cfg = {.start = 10, .end = 10};

	assert_int_equal(viova_vma_create(&cfg, &v), -EINVAL);
	cfg.end = 100;
	cfg.type = VIOVA_VMA_RELOC;
	cfg.strategy = VIOVA_VMA_BEST_FIT;
	assert_int_equal(viova_vma_create(&cfg, &v), -EINVAL);
	cfg.type = VIOVA_VMA_SIMPLE;
	cfg.strategy = 17;
	assert_int_equal(viova_vma_create(&cfg, &v), -EINVAL);
	cfg.strategy = 0;
	cfg.default_align = 48;
	assert_int_equal(viova_vma_create(&cfg, &v), -EINVAL);
	cfg.type = 9;
	cfg.default_align = 0;
	assert_int_equal(viova_vma_create(&cfg, &v), -EINVAL);
}

static bool crosses(uint64_t off, uint64_t size, uint64_t b)
{
	return off / b != (off + size - 1) / b;
}

static void test_no_span(void **state)
{
	(void)state;
	const uint64_t B = 4 * GiB;
	/* a heap straddling the 4 GiB boundaries at 4 GiB and 8 GiB */
	struct viova_vma *lo =
	    heap(B - 1 * MiB, 2 * B + 1 * MiB, VIOVA_VMA_SIMPLE, VIOVA_VMA_LOW_TO_HIGH, 0);
	struct viova_vma *hi =
	    heap(B - 1 * MiB, 2 * B + 1 * MiB, VIOVA_VMA_SIMPLE, VIOVA_VMA_HIGH_TO_LOW, 0);
	struct viova_vma_alloc_args a = {.handle = 1, .size = 2 * MiB, .no_span = B};
	uint64_t off;

	/* without no-span, both ends would straddle a boundary */
	assert_int_equal(viova_vma_alloc_ex(lo, &a, &off), 0);
	assert_int_equal(off, B);
	assert_int_equal(viova_vma_alloc_ex(hi, &a, &off), 0);
	assert_int_equal(off, 2 * B - 2 * MiB);

	/* a block exactly B long fits only at a boundary */
	a.handle = 2;
	a.size = B - 2 * MiB;
	assert_int_equal(viova_vma_alloc_ex(lo, &a, &off), 0);
	assert_int_equal(off, B + 2 * MiB);
	assert_false(crosses(off, a.size, B));
	a.handle = 3;
	a.size = 1 * MiB;
	assert_int_equal(viova_vma_alloc_ex(lo, &a, &off), 0);
	assert_false(crosses(off, a.size, B));
	assert_int_equal(off, B - 1 * MiB);

	/* re-alloc with a no-span the existing range violates */
	a.handle = 1;
	a.size = 2 * MiB;
	a.no_span = 1 * MiB;
	assert_int_equal(viova_vma_alloc_ex(lo, &a, &off), -EINVAL); /* size > no_span */
	a.no_span = 2 * MiB;
	assert_int_equal(viova_vma_alloc_ex(lo, &a, &off), 0); /* B is 2 MiB aligned: fine */
	assert_consistent(lo);
	assert_consistent(hi);
	viova_vma_destroy(lo);
	viova_vma_destroy(hi);
}

/* The default strategy hands out high addresses first: bit 47 set -> canonical form differs. */
static void test_high_bits_and_canonical(void **state)
{
	(void)state;
	struct viova_vma *v = heap(0x1000, 1ull << 48, VIOVA_VMA_SIMPLE, 0, 0);
	uint64_t off;

	assert_int_equal(viova_vma_alloc(v, 1, 64 * KiB, 0, &off), 0);
	assert_int_equal(off, (1ull << 48) - 64 * KiB);
	assert_int_equal(viova_vma_canonical(off), 0xffffffffffff0000ull);
	assert_false(viova_vma_is_canonical(off));
	assert_int_equal(viova_vma_decanonical(viova_vma_canonical(off)), off);
	viova_vma_destroy(v);

	assert_int_equal(viova_vma_canonical(0x00007fffffffffffull), 0x00007fffffffffffull);
	assert_int_equal(viova_vma_canonical(0x0000800000000000ull), 0xffff800000000000ull);
	assert_int_equal(viova_vma_canonical(0x1234000000001000ull), 0x0000000000001000ull);
	assert_int_equal(viova_vma_decanonical(0xffff800000001000ull), 0x0000800000001000ull);
	assert_true(viova_vma_is_canonical(0xffff800000000000ull));
	assert_true(viova_vma_is_canonical(0x1000));
	assert_false(viova_vma_is_canonical(0x0001000000000000ull));
}

static void test_strategies_choose_expected_hole(void **state)
{
	(void)state;
	/* holes of 16K at 0, 64K at 32K, 32K at 128K; the rest is reserved */
	const struct {
		uint64_t off, size;
	} busy[] = {{16 * KiB, 16 * KiB}, {96 * KiB, 32 * KiB}, {160 * KiB, 96 * KiB}};
	const enum viova_vma_strategy strat[] = {VIOVA_VMA_LOW_TO_HIGH, VIOVA_VMA_HIGH_TO_LOW,
						 VIOVA_VMA_BEST_FIT};
	const uint64_t want[] = {32 * KiB, 160 * KiB - 24 * KiB, 128 * KiB};

	for (int s = 0; s < 3; s++) {
		struct viova_vma *v = heap(0, 256 * KiB, VIOVA_VMA_SIMPLE, strat[s], 0);
		uint64_t off;

		for (int i = 0; i < 3; i++)
			assert_int_equal(
			    viova_vma_reserve(v, VIOVA_VMA_NO_HANDLE, busy[i].off, busy[i].size),
			    0);
		assert_int_equal(viova_vma_alloc(v, 1, 24 * KiB, 0, &off), 0);
		assert_int_equal(off, want[s]);
		assert_consistent(v);
		viova_vma_destroy(v);
	}
}

/* RELOC: bump upwards; on wrap, the lowest fitting hole, never an overlap. */
static void test_reloc(void **state)
{
	(void)state;
	struct viova_vma *v = heap(0, 64 * KiB, VIOVA_VMA_RELOC, 0, 0);
	uint64_t off;

	for (uint32_t h = 0; h < 8; h++) {
		assert_int_equal(viova_vma_alloc(v, h, 8 * KiB, 0, &off), 0);
		assert_int_equal(off, h * 8 * KiB);
	}
	assert_int_equal(viova_vma_alloc(v, 8, 4 * KiB, 0, &off), -ENOSPC);
	assert_int_equal(viova_vma_free(v, 5), 0);
	assert_int_equal(viova_vma_free(v, 2), 0);
	/* cursor is at the end: wraps, takes the lowest hole (where 2 was), not 5's */
	assert_int_equal(viova_vma_alloc(v, 9, 4 * KiB, 0, &off), 0);
	assert_int_equal(off, 16 * KiB);
	/* the cursor continues after it */
	assert_int_equal(viova_vma_alloc(v, 10, 8 * KiB, 0, &off), 0);
	assert_int_equal(off, 40 * KiB);
	assert_int_equal(viova_vma_alloc(v, 11, 4 * KiB, 0, &off), 0);
	assert_int_equal(off, 20 * KiB);
	assert_int_equal(viova_vma_alloc(v, 12, 4 * KiB, 0, &off), -ENOSPC);
	assert_int_equal(stats(v).reloc_wraps, 2);
	assert_consistent(v);
	viova_vma_destroy(v);
}

/* RANDOM: reproducible from the seed, spread out, overlap-free. */
static void test_random(void **state)
{
	(void)state;
	struct viova_vma_config cfg = {
	    .start = 0, .end = 1ull << 40, .type = VIOVA_VMA_RANDOM, .seed = 1234};
	struct viova_vma *a, *b, *c;
	uint64_t oa[64], ob, oc;
	int same_as_other_seed = 0;

	assert_int_equal(viova_vma_create(&cfg, &a), 0);
	assert_int_equal(viova_vma_create(&cfg, &b), 0);
	cfg.seed = 99;
	assert_int_equal(viova_vma_create(&cfg, &c), 0);
	for (uint32_t h = 0; h < 64; h++) {
		assert_int_equal(viova_vma_alloc(a, h, 1 * MiB, 0, &oa[h]), 0);
		assert_int_equal(viova_vma_alloc(b, h, 1 * MiB, 0, &ob), 0);
		assert_int_equal(viova_vma_alloc(c, h, 1 * MiB, 0, &oc), 0);
		assert_int_equal(oa[h], ob);
		same_as_other_seed += oa[h] == oc;
	}
	assert_true(same_as_other_seed < 4);
	/* spread: not a bump pointer */
	uint64_t lo = UINT64_MAX, hi = 0;

	for (int i = 0; i < 64; i++) {
		lo = oa[i] < lo ? oa[i] : lo;
		hi = oa[i] > hi ? oa[i] : hi;
		for (int j = 0; j < i; j++)
			assert_true(oa[i] + 1 * MiB <= oa[j] || oa[j] + 1 * MiB <= oa[i]);
	}
	assert_true(hi - lo > (1ull << 38));
	assert_consistent(a);
	viova_vma_destroy(a);
	viova_vma_destroy(b);
	viova_vma_destroy(c);

	/* a small RANDOM heap fills up completely and never overlaps */
	cfg.end = 64 * KiB;
	assert_int_equal(viova_vma_create(&cfg, &a), 0);
	for (uint32_t h = 0; h < 16; h++)
		assert_int_equal(viova_vma_alloc(a, h, 4 * KiB, 0, &ob), 0);
	assert_int_equal(viova_vma_alloc(a, 16, 4 * KiB, 0, &ob), -ENOSPC);
	assert_int_equal(stats(a).free_bytes, 0);
	assert_consistent(a);
	viova_vma_destroy(a);
}

/* ---- in-place mode ---- */

static void *aligned_buf(size_t bytes)
{
	void *p = aligned_alloc(64, (bytes + 63) & ~(size_t)63);

	assert_non_null(p);
	memset(p, 0xa5, bytes);
	return p;
}

/* Even n: a 1 MiB-aligned 4K allocation; odd n: a 4K reservation at a low address. */
static int in_place_op(struct viova_vma *v, uint32_t n)
{
	uint64_t off;

	if (n % 2)
		return viova_vma_reserve(v, n, (uint64_t)n * 16 * KiB + 8 * KiB, 4 * KiB);
	return viova_vma_alloc(v, n, 4 * KiB, 1 << 20, &off);
}

static void in_place_fill(enum viova_vma_strategy strategy)
{
	struct viova_vma_config cfg = {.start = 0, .end = 1ull << 40, .strategy = strategy};
	const uint32_t N = 100;
	size_t bytes;
	struct viova_vma *v;
	int ret = 0;
	uint32_t n = 0;

	assert_int_equal(viova_vma_in_place_size(&cfg, N, &bytes), 0);
	void *buf = aligned_buf(bytes);

	assert_int_equal(viova_vma_init_in_place(buf, bytes, &cfg, &v), 0);
	/* Worst-case fragmentation: every second range is a 4K reservation in between. */
	while (n < 10 * N) {
		ret = in_place_op(v, n);
		if (ret)
			break;
		n++;
	}
	assert_int_equal(ret, -ENOMEM);
	assert_true(n >= N);

	struct viova_vma_stats before = stats(v), after;

	/* the refused request is refused again and left everything as it was */
	assert_int_equal(in_place_op(v, n), -ENOMEM);
	after = stats(v);
	assert_memory_equal(&before, &after, sizeof(before));
	assert_consistent(v);

	/* still usable once ranges go away */
	for (uint32_t h = 0; h < n; h += 2)
		assert_int_equal(viova_vma_free(v, h), 0);
	assert_int_equal(in_place_op(v, n + 1), 0);
	assert_int_equal(in_place_op(v, n + 2), 0);
	assert_consistent(v);
	assert_int_equal(viova_vma_in_place_size(&cfg, 0, &bytes), -EINVAL);
	assert_int_equal(viova_vma_in_place_size(&cfg, UINT32_MAX, &bytes), -EOVERFLOW);
	viova_vma_destroy(v);
	free(buf);
}

static void test_in_place_full(void **state)
{
	(void)state;
	in_place_fill(VIOVA_VMA_HIGH_TO_LOW);
	in_place_fill(VIOVA_VMA_BEST_FIT);

	struct viova_vma_config cfg = {.start = 0, .end = 1 << 20};
	struct viova_vma *v;
	char small[128] __attribute__((aligned(64)));

	assert_int_equal(viova_vma_init_in_place(small, sizeof(small), &cfg, &v), -EINVAL);
	assert_int_equal(viova_vma_init_in_place(small + 8, sizeof(small) - 8, &cfg, &v), -EINVAL);
}

/* The region holds no pointer: a byte copy at another address is the same heap. */
static void test_in_place_copy_and_attach(void **state)
{
	(void)state;
	struct viova_vma_config cfg = {
	    .start = 1ull << 20, .end = 1ull << 47, .strategy = VIOVA_VMA_BEST_FIT};
	size_t bytes;
	struct viova_vma *v, *w;
	uint64_t state_rng = 7, off_v, off_w;

	assert_int_equal(viova_vma_in_place_size(&cfg, 1000, &bytes), 0);
	void *buf = aligned_buf(bytes), *copy = aligned_buf(bytes);

	assert_int_equal(viova_vma_init_in_place(buf, bytes, &cfg, &v), 0);
	for (uint32_t h = 0; h < 600; h++) {
		state_rng = state_rng * 6364136223846793005ull + 1442695040888963407ull;
		assert_int_equal(viova_vma_alloc(v, h, ((state_rng >> 40) % 64 + 1) * 4096,
						 4096ull << ((state_rng >> 20) % 6), &off_v),
				 0);
	}
	for (uint32_t h = 0; h < 600; h += 3)
		assert_int_equal(viova_vma_free(v, h), 0);
	memcpy(copy, buf, bytes);
	assert_int_equal(viova_vma_attach_in_place(copy, bytes, &w), 0);

	struct viova_vma_stats sv = stats(v), sw = stats(w);

	assert_memory_equal(&sv, &sw, sizeof(sv));
	for (uint32_t h = 1000; h < 1100; h++) {
		assert_int_equal(viova_vma_alloc(v, h, 3 * 4096, 8192, &off_v), 0);
		assert_int_equal(viova_vma_alloc(w, h, 3 * 4096, 8192, &off_w), 0);
		assert_int_equal(off_v, off_w);
	}
	assert_consistent(w);
	viova_vma_destroy(w);

	/* the checker is not vacuous: break one augmented value and attach must refuse */
	memcpy(copy, buf, bytes);
	struct vma_region *r = copy;
	struct vma_node *nodes = (struct vma_node *)((char *)copy + r->nodes_off);

	nodes[r->root].lvl[0] += 4096; /* the root's largest-hole code */
	assert_int_equal(viova_vma_attach_in_place(copy, bytes, &w), -EUCLEAN);
	memcpy(copy, buf, bytes);
	nodes[r->root].height++;
	assert_int_equal(viova_vma_attach_in_place(copy, bytes, &w), -EUCLEAN);
	memcpy(copy, buf, bytes);
	nodes[r->root].left = r->node_cap + 5; /* an index pointing outside the arena */
	assert_int_equal(viova_vma_attach_in_place(copy, bytes, &w), -EUCLEAN);
	memcpy(copy, buf, bytes);
	r->default_align = 0; /* would make placement divide by nothing */
	assert_int_equal(viova_vma_attach_in_place(copy, bytes, &w), -EUCLEAN);
	memcpy(copy, buf, bytes);
	r->magic ^= 1;
	assert_int_equal(viova_vma_attach_in_place(copy, bytes, &w), -EPROTO);
	assert_int_equal(viova_vma_attach_in_place(buf, bytes / 2, &w), -EINVAL);

	viova_vma_destroy(v);
	free(buf);
	free(copy);
}

/*
 * The level code (vma_lvl_encode) against its definition: exact below 1024, else the 10
 * significant bits of u rounded up, as an exponent / mantissa pair. The checker uses the same
 * encoder, so it cannot catch an encoder bug: this test does. Also checks that codes are
 * contiguous and that vma_lvl_decode_max() is the largest count of each code.
 */
static int16_t ref_encode(uint64_t u)
{
	if (u < 1024)
		return (int16_t)u;

	int b = 63;

	while (!(u >> b))
		b--;

	int sh = b - 9;
	uint64_t mant = (u >> sh) + ((u & ((1ull << sh) - 1)) != 0); /* 512 .. 1024 */

	return (int16_t)(((uint64_t)(b - 8) << 9) + mant - 512);
}

static void test_level_code(void **state)
{
	(void)state;
	uint64_t x = 0x9e3779b97f4a7c15ull;

	for (uint64_t u = 0; u < (1u << 20); u++)
		assert_int_equal(vma_lvl_encode(u), ref_encode(u));
	for (int b = 0; b < 64; b++) {
		uint64_t p = 1ull << b;

		for (uint64_t d = 0; d < 3; d++) {
			assert_int_equal(vma_lvl_encode(p + d), ref_encode(p + d));
			assert_int_equal(vma_lvl_encode(p - d), ref_encode(p - d));
		}
	}
	assert_int_equal(vma_lvl_encode(UINT64_MAX), 56 << 9);
	for (int i = 0; i < 1000000; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		uint64_t u = x >> (i % 64);

		assert_int_equal(vma_lvl_encode(u), ref_encode(u));
	}
	for (int16_t c = 1; c < (56 << 9); c++) {
		uint64_t m = vma_lvl_decode_max(c);

		assert_int_equal(vma_lvl_encode(m), c);
		assert_int_equal(vma_lvl_encode(m + 1), c + 1);
	}
}

/*
 * An owned heap that grew for a peak gives the memory back when most of it is freed: live nodes
 * move into the lower half of the arena (address tree, size tree and handle index re-pointed),
 * and every surviving range, reservation and answer stays the same. BEST_FIT too, for the size
 * tree links.
 */
static void test_owned_shrinks_after_peak(void **state)
{
	(void)state;
	enum viova_vma_strategy strats[] = {VIOVA_VMA_HIGH_TO_LOW, VIOVA_VMA_BEST_FIT};
	enum { N = 20000, KEEP = 300 };
	static uint64_t off[N];
	static uint32_t order[N];

	for (size_t k = 0; k < sizeof(strats) / sizeof(strats[0]); k++) {
		struct viova_vma *v = heap(1 * MiB, 1ull << 40, VIOVA_VMA_SIMPLE, strats[k], 0);
		uint64_t rng = 99, resv = 1 * MiB + 4096 * 7, peak;

		assert_int_equal(viova_vma_reserve(v, 77, resv, 3 * 4096), 0);
		for (uint32_t h = 0; h < N; h++) {
			rng = rng * 6364136223846793005ull + 1442695040888963407ull;
			assert_int_equal(viova_vma_alloc(v, h + 1, ((rng >> 40) % 16 + 1) * 4096,
							 4096ull << ((rng >> 50) % 4), &off[h]),
					 0);
			order[h] = h;
		}
		peak = stats(v).memory_bytes;
		for (uint32_t i = N - 1; i > 0; i--) {
			rng = rng * 6364136223846793005ull + 1442695040888963407ull;
			uint32_t j = (uint32_t)((rng >> 33) % (i + 1)), t = order[i];

			order[i] = order[j];
			order[j] = t;
		}
		for (uint32_t i = KEEP; i < N; i++) {
			assert_int_equal(viova_vma_free(v, order[i] + 1), 0);
			if (i % 2000 == 0)
				assert_consistent(v);
		}
		assert_consistent(v);

		struct viova_vma_stats st = stats(v);

		/* without shrinking it would stay at the peak */
		assert_true(st.memory_bytes * 4 < peak);
		assert_int_equal(st.allocations, KEEP);
		for (uint32_t i = 0; i < KEEP; i++) {
			uint32_t h = order[i];
			uint64_t o, sz;

			assert_int_equal(viova_vma_lookup(v, h + 1, &o, &sz), 0);
			assert_int_equal(o, off[h]);
			assert_true(viova_vma_is_allocated(v, h + 1, sz, off[h]));
		}
		for (uint32_t i = KEEP; i < N; i++)
			assert_false(viova_vma_is_allocated(v, order[i] + 1, 4096, off[order[i]]));
		assert_true(viova_vma_is_reserved(v, resv, 3 * 4096));
		/* and it still works: free the rest, allocate again, grow again */
		for (uint32_t i = 0; i < KEEP; i++)
			assert_int_equal(viova_vma_free(v, order[i] + 1), 0);
		for (uint32_t h = 0; h < 3000; h++)
			assert_int_equal(viova_vma_alloc(v, h + 1, 8192, 0, &off[h]), 0);
		assert_consistent(v);
		assert_int_equal(viova_vma_unreserve(v, 77, resv, 3 * 4096), 0);
		viova_vma_destroy(v);
	}
}

static void test_check_reports_why(void **state)
{
	(void)state;
	struct viova_vma *v = heap(0, 1 * GiB, VIOVA_VMA_SIMPLE, 0, 0);
	uint64_t off;
	char why[256];

	for (uint32_t h = 0; h < 32; h++)
		assert_int_equal(viova_vma_alloc(v, h, 4096, 0, &off), 0);
	assert_int_equal(viova_vma_free(v, 7), 0);
	assert_int_equal(viova_vma_check(v, why, sizeof(why)), 0);
	/* corrupt a counter behind the allocator's back */
	v->r->holes++;
	assert_int_equal(viova_vma_check(v, why, sizeof(why)), -EUCLEAN);
	assert_non_null(strstr(why, "counters disagree"));
	v->r->holes--;
	/* turn an allocation into a second head node (after the freed one's hole) */
	uint32_t u = vma_handles_find(v, 8);

	v->n[u].kind = VMA_HEAD;
	assert_int_equal(viova_vma_check(v, why, sizeof(why)), -EUCLEAN);
	assert_true(strlen(why) > 10);
	v->n[u].kind = VMA_ALLOC;
	assert_int_equal(viova_vma_check(v, why, sizeof(why)), 0);

	/*
	 * high to low: 8 lies right below the freed 7, so 8's node carries that hole; grow it
	 * and the tiling breaks
	 */
	uint32_t p = u, w = vma_handles_find(v, 9);

	assert_int_equal(v->n[p].hole, 4096);
	v->n[p].hole += 4096;
	assert_int_equal(viova_vma_check(v, why, sizeof(why)), -EUCLEAN);
	v->n[p].hole -= 4096;
	/* a stale cached own level of that hole */
	v->n[p].own[3]++;
	assert_int_equal(viova_vma_check(v, why, sizeof(why)), -EUCLEAN);
	assert_non_null(strstr(why, "own levels"));
	v->n[p].own[3]--;
	/* 9 has no hole: move a page of its range into one (own levels refreshed to match) */
	assert_int_equal(v->n[w].hole, 0);
	v->n[w].hole += 4096;
	v->n[w].size -= 4096;
	vma_hole_refresh(v->r, &v->n[w]);
	assert_int_equal(viova_vma_check(v, why, sizeof(why)), -EUCLEAN);
	v->n[w].hole -= 4096;
	v->n[w].size += 4096;
	vma_hole_refresh(v->r, &v->n[w]);
	assert_int_equal(viova_vma_check(v, why, sizeof(why)), 0);
	v->n[w].pad[2] = 1;
	assert_int_equal(viova_vma_check(v, why, sizeof(why)), -EUCLEAN);
	assert_non_null(strstr(why, "padding"));
	v->n[w].pad[2] = 0;
	assert_int_equal(viova_vma_check(v, why, sizeof(why)), 0);
	viova_vma_destroy(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_alloc_simple),
	    cmocka_unit_test(test_reserve_simple),
	    cmocka_unit_test(test_default_alignment),
	    cmocka_unit_test(test_reuse),
	    cmocka_unit_test(test_reserve_if_not_allocated),
	    cmocka_unit_test(test_iteration_and_stats),
	    cmocka_unit_test(test_whole_range),
	    cmocka_unit_test(test_alignment_larger_than_any_hole),
	    cmocka_unit_test(test_bad_arguments),
	    cmocka_unit_test(test_no_span),
	    cmocka_unit_test(test_high_bits_and_canonical),
	    cmocka_unit_test(test_strategies_choose_expected_hole),
	    cmocka_unit_test(test_reloc),
	    cmocka_unit_test(test_random),
	    cmocka_unit_test(test_in_place_full),
	    cmocka_unit_test(test_in_place_copy_and_attach),
	    cmocka_unit_test(test_owned_shrinks_after_peak),
	    cmocka_unit_test(test_check_reports_why),
	    cmocka_unit_test(test_level_code),
	};

	return cmocka_run_group_tests_name("vma", tests, NULL, NULL);
}

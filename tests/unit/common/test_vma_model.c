// SPDX-License-Identifier: MIT
/*
 * test_vma_model.c - randomized model test of common/vma against a brute-force reference.
 *
 * The reference keeps the used ranges in a sorted array and answers every question by scanning
 * it: which hole a strategy must pick, which errno an operation must return, the stats. For each
 * heap type and strategy it runs >= 100k random operations (fixed seeds) and requires the heap to
 * agree exactly: same return codes, same offsets (every strategy's choice is deterministic,
 * RANDOM's included, since its generator is documented), same counters, same is_allocated /
 * is_reserved answers, same iteration; viova_vma_check() runs periodically.
 *
 * The reference computes fits with 128-bit arithmetic and divisions, independently of the
 * heap's mask arithmetic, and two configurations are used: a small odd-sized range (lots of
 * ENOSPC and fragmentation) and one ending at 2^64 - 1 (overflow edges).
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

typedef unsigned __int128 u128;

enum { R_ALLOC = 1, R_RESV = 2 };

struct rr {
	uint64_t start, size;
	uint32_t handle;
	int kind;
};

struct model {
	struct viova_vma *v;
	struct viova_vma_config cfg;
	struct rr *r;
	size_t n, cap;
	uint64_t cursor; /* RELOC */
	uint64_t rng;	 /* RANDOM, mirrors the heap's splitmix64 */
	uint64_t wraps;
	uint64_t gen;	  /* the test's own operation generator */
	uint32_t handles; /* handle space */
	uint64_t ops;
};

static uint64_t gen(struct model *m)
{
	/* xorshift64* */
	m->gen ^= m->gen >> 12;
	m->gen ^= m->gen << 25;
	m->gen ^= m->gen >> 27;
	return m->gen * 0x2545f4914f6cdd1dull;
}

static uint64_t below(struct model *m, uint64_t n)
{
	return gen(m) % n;
}

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* ---- reference ---- */

static bool ref_crosses(u128 o, u128 size, u128 b)
{
	return b && o / b != (o + size - 1) / b;
}

static bool ref_fit_low(u128 s, u128 e, u128 size, u128 align, u128 b, uint64_t *out)
{
	u128 o = (s + align - 1) / align * align;

	if (ref_crosses(o, size, b))
		o = (o / b + 1) * b;
	if (o + size > e)
		return false;
	*out = (uint64_t)o;
	return true;
}

static bool ref_fit_high(u128 s, u128 e, u128 size, u128 align, u128 b, uint64_t *out)
{
	if (e < s + size)
		return false;

	u128 o = (e - size) / align * align;

	if (ref_crosses(o, size, b)) {
		u128 boundary = (o + size - 1) / b * b;

		if (boundary < size)
			return false;
		o = (boundary - size) / align * align;
	}
	if (o < s)
		return false;
	*out = (uint64_t)o;
	return true;
}

/* Hole k (0..n): between range k-1 and range k. Returns false if empty. */
static bool ref_hole(const struct model *m, size_t k, uint64_t *s, uint64_t *e)
{
	*s = k ? m->r[k - 1].start + m->r[k - 1].size : m->cfg.start;
	*e = k < m->n ? m->r[k].start : m->cfg.end;
	return *e > *s;
}

/* Lowest fitting offset >= lo. */
static bool ref_first(const struct model *m, uint64_t lo, uint64_t size, uint64_t align, uint64_t b,
		      uint64_t *out)
{
	for (size_t k = 0; k <= m->n; k++) {
		uint64_t s, e;

		if (!ref_hole(m, k, &s, &e) || e <= lo)
			continue;
		if (ref_fit_low(s > lo ? s : lo, e, size, align, b, out))
			return true;
	}
	return false;
}

static bool ref_place(struct model *m, uint64_t size, uint64_t align, uint64_t b, uint64_t *out)
{
	uint64_t s, e;

	switch (m->cfg.type) {
	case VIOVA_VMA_RELOC:
	case VIOVA_VMA_RANDOM: {
		uint64_t saved = m->rng, lo = m->cursor;

		if (m->cfg.type == VIOVA_VMA_RANDOM)
			lo = m->cfg.start + splitmix64(&m->rng) % (m->cfg.end - m->cfg.start);
		if (ref_first(m, lo, size, align, b, out))
			return true;
		if (lo > m->cfg.start && ref_first(m, m->cfg.start, size, align, b, out)) {
			m->wraps++;
			return true;
		}
		m->rng = saved;
		return false;
	}
	default:
		break;
	}
	switch (m->cfg.strategy) {
	case VIOVA_VMA_LOW_TO_HIGH:
		return ref_first(m, m->cfg.start, size, align, b, out);
	case VIOVA_VMA_BEST_FIT: {
		bool found = false;
		uint64_t best = 0, o;

		for (size_t k = 0; k <= m->n; k++)
			if (ref_hole(m, k, &s, &e) && ref_fit_low(s, e, size, align, b, &o) &&
			    (!found || e - s < best)) {
				found = true;
				best = e - s;
				*out = o;
			}
		return found;
	}
	default:
		for (size_t k = m->n + 1; k-- > 0;)
			if (ref_hole(m, k, &s, &e) && ref_fit_high(s, e, size, align, b, out))
				return true;
		return false;
	}
}

static void ref_insert(struct model *m, uint64_t start, uint64_t size, uint32_t h, int kind)
{
	size_t k = 0;

	if (m->n == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 64;
		m->r = realloc(m->r, m->cap * sizeof(*m->r));
		assert_non_null(m->r);
	}
	while (k < m->n && m->r[k].start < start)
		k++;
	memmove(&m->r[k + 1], &m->r[k], (m->n - k) * sizeof(*m->r));
	m->r[k] = (struct rr){start, size, h, kind};
	m->n++;
}

static void ref_erase(struct model *m, size_t k)
{
	memmove(&m->r[k], &m->r[k + 1], (m->n - k - 1) * sizeof(*m->r));
	m->n--;
}

static ssize_t ref_find_alloc(const struct model *m, uint32_t h)
{
	for (size_t k = 0; k < m->n; k++)
		if (m->r[k].kind == R_ALLOC && m->r[k].handle == h)
			return (ssize_t)k;
	return -1;
}

static ssize_t ref_find_resv(const struct model *m, uint64_t off, uint64_t size)
{
	for (size_t k = 0; k < m->n; k++)
		if (m->r[k].kind == R_RESV && m->r[k].start == off && m->r[k].size == size)
			return (ssize_t)k;
	return -1;
}

static bool ref_overlaps(const struct model *m, uint64_t off, uint64_t size)
{
	for (size_t k = 0; k < m->n; k++)
		if (m->r[k].start < off + size && off < m->r[k].start + m->r[k].size)
			return true;
	return false;
}

static int ref_reserve(struct model *m, uint32_t tag, uint64_t off, uint64_t size)
{
	if (!size || off > UINT64_MAX - size)
		return -EINVAL;
	if (off < m->cfg.start || off + size > m->cfg.end)
		return -ERANGE;
	if (ref_find_resv(m, off, size) >= 0)
		return -EEXIST;
	if (ref_overlaps(m, off, size))
		return -EBUSY;
	ref_insert(m, off, size, tag, R_RESV);
	return 0;
}

/* ---- operations, each checked against the reference ---- */

static uint64_t pick_size(struct model *m)
{
	uint64_t span = m->cfg.end - m->cfg.start;

	switch (below(m, 16)) {
	case 0:
		return 1 + below(m, span / 4); /* big */
	case 1:
		return span + below(m, 2); /* the whole range, or more */
	case 2:
		return 1 + below(m, 64); /* tiny, odd */
	default:
		return (1 + below(m, 16)) << (8 + below(m, 5));
	}
}

static uint64_t pick_align(struct model *m)
{
	uint64_t r = below(m, 8);

	return r == 0 ? 0 : 1ull << below(m, r == 1 ? 24 : 14);
}

static void op_alloc(struct model *m, uint32_t h)
{
	struct viova_vma_alloc_args a = {.handle = h, .size = pick_size(m), .align = pick_align(m)};
	uint64_t off = 0, want = 0;
	int expect;

	if (below(m, 6) == 0)
		a.no_span = 1ull << (10 + below(m, 12));
	if (below(m, 200) == 0)
		a.align = 3ull << below(m, 8); /* invalid */

	ssize_t k = ref_find_alloc(m, h);
	uint64_t align = a.align > m->cfg.default_align ? a.align : m->cfg.default_align;

	/* half of the re-allocations ask for the same size again */
	if (k >= 0 && below(m, 2))
		a.size = m->r[k].size;
	if (a.align && (a.align & (a.align - 1)))
		expect = -EINVAL;
	else if (a.no_span && a.size > a.no_span)
		expect = -EINVAL;
	else if (k >= 0)
		expect = (m->r[k].size == a.size && m->r[k].start % align == 0 &&
			  !ref_crosses(m->r[k].start, a.size, a.no_span))
			     ? 0
			     : -EEXIST;
	else if (a.size > m->cfg.end - m->cfg.start)
		expect = -ENOSPC;
	else
		expect = ref_place(m, a.size, align, a.no_span, &want) ? 0 : -ENOSPC;
	if (k >= 0 && expect == 0)
		want = m->r[k].start;

	int ret = viova_vma_alloc_ex(m->v, &a, &off);

	if (ret != expect || (ret == 0 && off != want))
		fail_msg(
		    "op %llu alloc(handle %u, size 0x%llx, align 0x%llx, no_span 0x%llx): got %d "
		    "at 0x%llx, reference %d at 0x%llx",
		    (unsigned long long)m->ops, h, (unsigned long long)a.size,
		    (unsigned long long)a.align, (unsigned long long)a.no_span, ret,
		    (unsigned long long)off, expect, (unsigned long long)want);
	if (ret == 0 && k < 0) {
		ref_insert(m, off, a.size, h, R_ALLOC);
		if (m->cfg.type == VIOVA_VMA_RELOC)
			m->cursor = off + a.size;
	}
}

static void op_free(struct model *m, uint32_t h)
{
	ssize_t k = ref_find_alloc(m, h);
	int ret = viova_vma_free(m->v, h);

	assert_int_equal(ret, k >= 0 ? 0 : -ENOENT);
	if (k >= 0)
		ref_erase(m, (size_t)k);
}

/* Reserve: half the time inside a real hole, sometimes an existing range, else anywhere. */
static void op_reserve(struct model *m, uint32_t h)
{
	uint64_t off, size = pick_size(m), s, e;
	uint32_t tag = below(m, 3) ? h : VIOVA_VMA_NO_HANDLE;
	size_t k = below(m, m->n + 1);

	if (below(m, 2) && ref_hole(m, k, &s, &e)) {
		off = s + below(m, e - s);
		size = 1 + below(m, e - off);
	} else if (m->n && below(m, 4) == 0) {
		k = below(m, m->n);
		off = m->r[k].start;
		size = m->r[k].size;
	} else {
		off = m->cfg.start - 64 + below(m, m->cfg.end - m->cfg.start + 128);
	}
	if (below(m, 100) == 0)
		size = UINT64_MAX - below(m, 4); /* wraps */

	int expect, ret;
	bool was = false;

	if (below(m, 4) == 0) {
		ssize_t a = ref_find_alloc(m, h);

		if (a >= 0 && below(m, 2)) {
			off = m->r[a].start;
			size = m->r[a].size;
		}
		tag = h;
		if (a >= 0 && m->r[a].start == off && m->r[a].size == size && size) {
			expect = 0;
			ret = viova_vma_reserve_if_not_allocated(m->v, h, size, off, &was);
			assert_int_equal(ret, expect);
			assert_true(was);
			return;
		}
		expect = ref_reserve(m, tag, off, size);
		ret = viova_vma_reserve_if_not_allocated(m->v, h, size, off, &was);
		if (ret == 0)
			assert_false(was);
	} else {
		expect = ref_reserve(m, tag, off, size);
		ret = viova_vma_reserve(m->v, tag, off, size);
	}
	if (ret != expect)
		fail_msg("op %llu reserve(tag %u, 0x%llx + 0x%llx): got %d, reference %d",
			 (unsigned long long)m->ops, tag, (unsigned long long)off,
			 (unsigned long long)size, ret, expect);
}

static void op_unreserve(struct model *m, uint32_t h)
{
	uint64_t off, size;
	uint32_t tag = h;
	ssize_t k = -1;

	for (size_t i = 0, n = below(m, m->n + 1); i < m->n; i++) {
		size_t j = (n + i) % m->n;

		if (m->r[j].kind == R_RESV) {
			k = (ssize_t)j;
			break;
		}
	}
	if (k < 0 || below(m, 8) == 0) {
		off = m->cfg.start + below(m, m->cfg.end - m->cfg.start);
		size = 1 + below(m, 1 << 16);
	} else {
		off = m->r[k].start;
		size = m->r[k].size;
		if (below(m, 4))
			tag = m->r[k].handle;
		if (below(m, 16) == 0)
			size++;
	}

	ssize_t r = ref_find_resv(m, off, size);
	int expect = r < 0 ? -ENOENT : m->r[r].handle != tag ? -EPERM : 0;
	int ret = viova_vma_unreserve(m->v, tag, off, size);

	if (ret != expect)
		fail_msg("op %llu unreserve(tag %u, 0x%llx + 0x%llx): got %d, reference %d",
			 (unsigned long long)m->ops, tag, (unsigned long long)off,
			 (unsigned long long)size, ret, expect);
	if (ret == 0)
		ref_erase(m, (size_t)r);
}

static void op_query(struct model *m, uint32_t h)
{
	uint64_t off, size;

	if (m->n && below(m, 4)) {
		size_t k = below(m, m->n);

		off = m->r[k].start;
		size = m->r[k].size + (below(m, 8) == 0);
		if (m->r[k].kind == R_ALLOC && below(m, 2))
			h = m->r[k].handle;
	} else {
		off = m->cfg.start + below(m, m->cfg.end - m->cfg.start);
		size = 1 + below(m, 1 << 16);
	}

	ssize_t a = ref_find_alloc(m, h);

	assert_int_equal(viova_vma_is_allocated(m->v, h, size, off),
			 a >= 0 && m->r[a].start == off && m->r[a].size == size);
	assert_int_equal(viova_vma_is_reserved(m->v, off, size), ref_find_resv(m, off, size) >= 0);

	uint64_t lo, ls;

	assert_int_equal(viova_vma_lookup(m->v, h, &lo, &ls), a >= 0 ? 0 : -ENOENT);
	if (a >= 0) {
		assert_int_equal(lo, m->r[a].start);
		assert_int_equal(ls, m->r[a].size);
	}
}

static void compare_stats(struct model *m, bool full)
{
	struct viova_vma_stats st;
	uint64_t ab = 0, rb = 0, na = 0, nr = 0;

	assert_int_equal(viova_vma_get_stats(m->v, &st), 0);
	for (size_t k = 0; k < m->n; k++) {
		if (m->r[k].kind == R_ALLOC) {
			na++;
			ab += m->r[k].size;
		} else {
			nr++;
			rb += m->r[k].size;
		}
	}
	assert_int_equal(st.allocations, na);
	assert_int_equal(st.allocated_bytes, ab);
	assert_int_equal(st.reservations, nr);
	assert_int_equal(st.reserved_bytes, rb);
	assert_int_equal(st.free_bytes, m->cfg.end - m->cfg.start - ab - rb);
	assert_int_equal(st.reloc_wraps, m->wraps);
	assert_int_equal(viova_vma_is_empty(m->v), m->n == 0);
	if (!full)
		return;

	uint64_t holes = 0, largest = 0, s, e;

	for (size_t k = 0; k <= m->n; k++)
		if (ref_hole(m, k, &s, &e)) {
			holes++;
			largest = e - s > largest ? e - s : largest;
		}
	assert_int_equal(st.holes, holes);
	assert_int_equal(st.largest_hole, largest);

	/* iteration gives exactly the reference's ranges, in order */
	struct viova_vma_range rg;
	uint64_t from = 0;
	size_t k = 0;

	while (viova_vma_next_range(m->v, from, &rg) == 0) {
		assert_true(k < m->n);
		assert_int_equal(rg.offset, m->r[k].start);
		assert_int_equal(rg.size, m->r[k].size);
		assert_int_equal(rg.handle, m->r[k].handle);
		assert_int_equal(rg.kind, m->r[k].kind == R_ALLOC ? VIOVA_VMA_RANGE_ALLOCATED
								  : VIOVA_VMA_RANGE_RESERVED);
		from = rg.offset + rg.size;
		k++;
		if (from == 0)
			break; /* a range ending at 2^64 cannot exist (end is exclusive) */
	}
	assert_int_equal(k, m->n);
}

static void check_heap(struct model *m)
{
	char why[512];

	if (viova_vma_check(m->v, why, sizeof(why)))
		fail_msg("op %llu: viova_vma_check: %s", (unsigned long long)m->ops, why);
}

static void run_model(enum viova_vma_type type, enum viova_vma_strategy strategy, uint64_t start,
		      uint64_t end, uint64_t default_align, uint64_t seed, uint64_t ops)
{
	struct model m = {
	    .cfg = {.start = start,
		    .end = end,
		    .type = type,
		    .strategy = strategy,
		    .default_align = default_align,
		    .seed = seed ^ 0x5eed},
	    .gen = seed,
	    .handles = 600,
	};

	m.cursor = start;
	m.rng = m.cfg.seed;
	assert_int_equal(viova_vma_create(&m.cfg, &m.v), 0);
	if (!m.cfg.default_align)
		m.cfg.default_align = VIOVA_VMA_DEFAULT_ALIGN;

	for (m.ops = 0; m.ops < ops; m.ops++) {
		uint32_t h = (uint32_t)below(&m, m.handles);
		/* keep ~300 live ranges: allocate more when below, free more when above */
		uint64_t bias = m.n < 300 ? 0 : 3;
		uint64_t r = below(&m, 16);

		if (r < 5 - bias)
			op_alloc(&m, h);
		else if (r < 9)
			op_free(&m, h);
		else if (r < 11 - (bias ? 1 : 0))
			op_reserve(&m, h);
		else if (r < 13)
			op_unreserve(&m, h);
		else
			op_query(&m, h);
		compare_stats(&m, m.ops % 64 == 0);
		if (m.ops % 1000 == 0)
			check_heap(&m);
	}
	check_heap(&m);
	compare_stats(&m, true);
	viova_vma_destroy(m.v);
	free(m.r);
}

/* ~1/4 of the space busy with ~300 ranges: fragmentation, near-misses and ENOSPC are common. */
#define SMALL_START 0x3000ull
#define SMALL_END (0x3000ull + (1ull << 22) + 0x1234)
#define TOP_START (UINT64_MAX - (1ull << 22))
#define TOP_END UINT64_MAX

static void model(enum viova_vma_type type, enum viova_vma_strategy strategy, uint64_t seed)
{
	run_model(type, strategy, SMALL_START, SMALL_END, 1, seed, 100000);
	run_model(type, strategy, TOP_START, TOP_END, 16, seed + 1, 20000);
	run_model(type, strategy, 0, 1ull << 47, 0, seed + 2, 10000);
}

static void test_model_low_to_high(void **state)
{
	(void)state;
	model(VIOVA_VMA_SIMPLE, VIOVA_VMA_LOW_TO_HIGH, 0x1001);
}

static void test_model_high_to_low(void **state)
{
	(void)state;
	model(VIOVA_VMA_SIMPLE, VIOVA_VMA_HIGH_TO_LOW, 0x2002);
}

static void test_model_best_fit(void **state)
{
	(void)state;
	model(VIOVA_VMA_SIMPLE, VIOVA_VMA_BEST_FIT, 0x3003);
}

static void test_model_reloc(void **state)
{
	(void)state;
	model(VIOVA_VMA_RELOC, VIOVA_VMA_STRATEGY_DEFAULT, 0x4004);
}

static void test_model_random(void **state)
{
	(void)state;
	model(VIOVA_VMA_RANDOM, VIOVA_VMA_STRATEGY_DEFAULT, 0x5005);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_model_low_to_high), cmocka_unit_test(test_model_high_to_low),
	    cmocka_unit_test(test_model_best_fit),    cmocka_unit_test(test_model_reloc),
	    cmocka_unit_test(test_model_random),
	};

	return cmocka_run_group_tests_name("vma_model", tests, NULL, NULL);
}

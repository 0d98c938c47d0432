/* SPDX-License-Identifier: MIT */
/*
 * test_va_space_sm.c - common/va_space_sm.c: the 15 numbered split/merge cases of the drm_gpuva
 * manager (seed 002, drawn again in docs/va-space.md), each asserting the exact op list, that
 * dropping it leaves the space as it was, and the mappings after apply; then sm_unmap, object
 * teardown, stale and foreign op lists, quotas and node reservation at a chunk boundary.
 *
 * Diagrams count in units: "0 a 1" is [START + 0*U, START + 1*U) backed by object a.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "viova/va_space.h"

#define START 0x100000ull
#define SIZE 0x1000000ull
#define U 0x10000ull
#define RSV (START + 0x800000ull)
#define RSV_SIZE 0x10000ull

#define A 0xaull
#define B 0xbull
#define N 0x4000000ull	/* object offset n */
#define MO 0x9000000ull /* object offset m, not contiguous with n */

#define MP(at, len, o, off)                                                                        \
	{                                                                                          \
		.addr = START + (at)*U, .range = (len)*U, .obj = (o), .offset = (off)              \
	}
#define OP_MAP(at, len, o, off)                                                                    \
	{                                                                                          \
		.type = VIOVA_VA_OP_MAP, .va = MP(at, len, o, off)                                 \
	}
#define OP_UNMAP(k, at, len, o, off)                                                               \
	{                                                                                          \
		.type = VIOVA_VA_OP_UNMAP, .keep = (k), .va = MP(at, len, o, off)                  \
	}

#define MAXN 8

struct sm_case {
	const char *name;
	struct viova_va_mapping old[MAXN];
	struct viova_va_mapping req;
	struct viova_va_op ops[MAXN];
	struct viova_va_mapping final[MAXN];
};

/* ---- helpers ---------------------------------------------------------------------------- */

static struct viova_va_space *mk(uint32_t max)
{
	struct viova_va_space_config cfg = {
	    .start = START,
	    .range = SIZE,
	    .reserve_addr = RSV,
	    .reserve_range = RSV_SIZE,
	    .max_mappings = max,
	};
	struct viova_va_space *vs = NULL;

	assert_int_equal(viova_va_space_create(&cfg, &vs), 0);
	return vs;
}

static struct viova_va_ops *mkops(void)
{
	struct viova_va_ops *ops = NULL;

	assert_int_equal(viova_va_ops_create(&ops), 0);
	return ops;
}

static void check_ok(const struct viova_va_space *vs)
{
	char msg[256];
	int ret = viova_va_space_debug_check(vs, msg, sizeof(msg));

	if (ret)
		print_error("debug_check: %s\n", msg);
	assert_int_equal(ret, 0);
}

static unsigned int count_list(const struct viova_va_mapping *l)
{
	unsigned int n = 0;

	while (n < MAXN && l[n].range)
		n++;
	return n;
}

static unsigned int count_ops(const struct viova_va_op *l)
{
	unsigned int n = 0;

	while (n < MAXN && l[n].type)
		n++;
	return n;
}

static void assert_same_mapping(const char *what, const struct viova_va_mapping *got,
				const struct viova_va_mapping *want)
{
	if (got->addr != want->addr || got->range != want->range || got->obj != want->obj ||
	    got->offset != want->offset || got->flags != want->flags) {
		print_error("%s: got 0x%" PRIx64 "+0x%" PRIx64 " obj %" PRIu64 " off 0x%" PRIx64
			    " flags 0x%x, want 0x%" PRIx64 "+0x%" PRIx64 " obj %" PRIu64
			    " off 0x%" PRIx64 " flags 0x%x\n",
			    what, got->addr, got->range, got->obj, got->offset, got->flags,
			    want->addr, want->range, want->obj, want->offset, want->flags);
		fail();
	}
}

/* The space holds exactly `want` (address order). */
static void expect_mappings(const struct viova_va_space *vs, const struct viova_va_mapping *want,
			    unsigned int n)
{
	struct viova_va_iter it;
	struct viova_va_mapping m;
	unsigned int i = 0;

	viova_va_space_iter_range(vs, &it, START, SIZE);
	while (viova_va_iter_next(&it, &m)) {
		assert_true(i < n);
		assert_same_mapping("mapping", &m, &want[i]);
		i++;
	}
	assert_int_equal(it.err, 0);
	assert_int_equal(i, n);
	assert_int_equal(viova_va_space_count(vs), n);
	check_ok(vs);
}

static void expect_ops(const struct viova_va_ops *ops, const struct viova_va_op *want,
		       unsigned int n)
{
	static const struct viova_va_mapping none;
	unsigned int i;

	assert_int_equal(viova_va_ops_count(ops), n);
	for (i = 0; i < n; i++) {
		const struct viova_va_op *op = viova_va_ops_at(ops, i);

		assert_non_null(op);
		print_message("  op %u: type %d keep %d prev %d next %d\n", i, op->type, op->keep,
			      op->has_prev, op->has_next);
		assert_int_equal(op->type, want[i].type);
		assert_int_equal(op->keep, want[i].keep);
		assert_int_equal(op->has_prev, want[i].has_prev);
		assert_int_equal(op->has_next, want[i].has_next);
		assert_same_mapping("op va", &op->va, &want[i].va);
		assert_same_mapping("op prev", op->has_prev ? &op->prev : &none, &want[i].prev);
		assert_same_mapping("op next", op->has_next ? &op->next : &none, &want[i].next);
	}
	assert_null(viova_va_ops_at(ops, n));
}

/*
 * Build, inspect, drop (space unchanged, list gone), build again (same list), apply (space as
 * the case says), apply again (stale).
 */
static void run_sm_map_case(const struct sm_case *c)
{
	struct viova_va_space *vs = mk(0);
	struct viova_va_ops *ops = mkops();
	unsigned int nold = count_list(c->old), i;

	print_message("case: %s\n", c->name);
	for (i = 0; i < nold; i++)
		assert_int_equal(viova_va_space_insert(vs, &c->old[i], NULL), 0);

	assert_int_equal(viova_va_space_sm_map(vs, &c->req, ops, NULL), 0);
	expect_ops(ops, c->ops, count_ops(c->ops));
	expect_mappings(vs, c->old, nold); /* building changed nothing */

	viova_va_ops_reset(ops);
	assert_int_equal(viova_va_ops_count(ops), 0);
	assert_int_equal(viova_va_space_apply(vs, ops), -EINVAL);
	expect_mappings(vs, c->old, nold); /* dropping changed nothing */

	assert_int_equal(viova_va_space_sm_map(vs, &c->req, ops, NULL), 0);
	expect_ops(ops, c->ops, count_ops(c->ops));
	assert_int_equal(viova_va_space_apply(vs, ops), 0);
	expect_mappings(vs, c->final, count_list(c->final));
	expect_ops(ops, c->ops, count_ops(c->ops)); /* still readable after apply */
	assert_int_equal(viova_va_space_apply(vs, ops), -ESTALE);
	expect_mappings(vs, c->final, count_list(c->final));

	viova_va_ops_destroy(ops);
	viova_va_space_destroy(vs);
}

/* clang-format off: the case tables read best one field per line */

/* ---- the 15 cases ----------------------------------------------------------------------- */

/* 1) identical request: replaced, but the old PTEs may be kept */
static void test_case01_identical(void **state)
{
	static const struct sm_case c = {
	    "1 identical",    {MP(0, 1, A, N)},
	    MP(0, 1, A, N),   {OP_UNMAP(true, 0, 1, A, N), OP_MAP(0, 1, A, N)},
	    {MP(0, 1, A, N)},
	};
	(void)state;
	run_sm_map_case(&c);
}

/* 2) identical but for the object offset: replaced, nothing kept */
static void test_case02_other_offset(void **state)
{
	static const struct sm_case c = {
	    "2 other offset",  {MP(0, 1, A, N)},
	    MP(0, 1, A, MO),   {OP_UNMAP(false, 0, 1, A, N), OP_MAP(0, 1, A, MO)},
	    {MP(0, 1, A, MO)},
	};
	(void)state;
	run_sm_map_case(&c);
}

/* 3) identical but for the object: replaced, nothing kept */
static void test_case03_other_object(void **state)
{
	static const struct sm_case c = {
	    "3 other object", {MP(0, 1, A, N)},
	    MP(0, 1, B, N),   {OP_UNMAP(false, 0, 1, A, N), OP_MAP(0, 1, B, N)},
	    {MP(0, 1, B, N)},
	};
	(void)state;
	run_sm_map_case(&c);
}

/* 4) existing is a left-aligned subset of the request: replaced, kept if contiguous */
static void test_case04_left_subset_of_req(void **state)
{
	static const struct sm_case c = {
	    "4 existing left-aligned inside request",	      {MP(0, 1, A, N)}, MP(0, 2, A, N),
	    {OP_UNMAP(true, 0, 1, A, N), OP_MAP(0, 2, A, N)}, {MP(0, 2, A, N)},
	};
	/* the seed's note: another object or a non-contiguous offset gives the same, unkept */
	static const struct sm_case other_obj = {
	    "4 note: other object", {MP(0, 1, A, N)},
	    MP(0, 2, B, N),	    {OP_UNMAP(false, 0, 1, A, N), OP_MAP(0, 2, B, N)},
	    {MP(0, 2, B, N)},
	};
	static const struct sm_case other_off = {
	    "4 note: other offset", {MP(0, 1, A, N)},
	    MP(0, 2, A, MO),	    {OP_UNMAP(false, 0, 1, A, N), OP_MAP(0, 2, A, MO)},
	    {MP(0, 2, A, MO)},
	};
	(void)state;
	run_sm_map_case(&c);
	run_sm_map_case(&other_obj);
	run_sm_map_case(&other_off);
}

/* 5) request is a left-aligned subset of the existing one, other object: split, offset moved */
static void test_case05_req_left_subset_other(void **state)
{
	static const struct sm_case c = {
	    "5 request left-aligned inside existing, other object",
	    {MP(0, 2, A, N)},
	    MP(0, 1, B, N),
	    {{.type = VIOVA_VA_OP_REMAP,
	      .va = MP(0, 2, A, N),
	      .has_next = true,
	      .next = MP(1, 1, A, N + U)},
	     OP_MAP(0, 1, B, N)},
	    {MP(0, 1, B, N), MP(1, 1, A, N + U)},
	};
	static const struct sm_case other_off = {
	    "5 note: same object, other offset",
	    {MP(0, 2, A, N)},
	    MP(0, 1, A, MO),
	    {{.type = VIOVA_VA_OP_REMAP,
	      .va = MP(0, 2, A, N),
	      .has_next = true,
	      .next = MP(1, 1, A, N + U)},
	     OP_MAP(0, 1, A, MO)},
	    {MP(0, 1, A, MO), MP(1, 1, A, N + U)},
	};
	(void)state;
	run_sm_map_case(&c);
	run_sm_map_case(&other_off);
}

/* 6) as 5 but same object, contiguous: split, kept */
static void test_case06_req_left_subset_same(void **state)
{
	static const struct sm_case c = {
	    "6 request left-aligned inside existing, contiguous",
	    {MP(0, 2, A, N)},
	    MP(0, 1, A, N),
	    {{.type = VIOVA_VA_OP_REMAP,
	      .keep = true,
	      .va = MP(0, 2, A, N),
	      .has_next = true,
	      .next = MP(1, 1, A, N + U)},
	     OP_MAP(0, 1, A, N)},
	    {MP(0, 1, A, N), MP(1, 1, A, N + U)},
	};
	(void)state;
	run_sm_map_case(&c);
}

/* 7) request is a right-aligned subset, other object: split, the front keeps its offset */
static void test_case07_req_right_subset_other(void **state)
{
	static const struct sm_case c = {
	    "7 request right-aligned inside existing, other object",
	    {MP(0, 2, A, N)},
	    MP(1, 1, B, MO),
	    {{.type = VIOVA_VA_OP_REMAP,
	      .va = MP(0, 2, A, N),
	      .has_prev = true,
	      .prev = MP(0, 1, A, N)},
	     OP_MAP(1, 1, B, MO)},
	    {MP(0, 1, A, N), MP(1, 1, B, MO)},
	};
	(void)state;
	run_sm_map_case(&c);
}

/* 8) as 7 but same object, contiguous: split, kept */
static void test_case08_req_right_subset_same(void **state)
{
	static const struct sm_case c = {
	    "8 request right-aligned inside existing, contiguous",
	    {MP(0, 2, A, N)},
	    MP(1, 1, A, N + U),
	    {{.type = VIOVA_VA_OP_REMAP,
	      .keep = true,
	      .va = MP(0, 2, A, N),
	      .has_prev = true,
	      .prev = MP(0, 1, A, N)},
	     OP_MAP(1, 1, A, N + U)},
	    {MP(0, 1, A, N), MP(1, 1, A, N + U)},
	};
	(void)state;
	run_sm_map_case(&c);
}

/* 9) request overlaps the end of the existing one, other object */
static void test_case09_overlap_end_other(void **state)
{
	static const struct sm_case c = {
	    "9 request overlaps the end, other object",
	    {MP(0, 2, A, N)},
	    MP(1, 2, B, MO),
	    {{.type = VIOVA_VA_OP_REMAP,
	      .va = MP(0, 2, A, N),
	      .has_prev = true,
	      .prev = MP(0, 1, A, N)},
	     OP_MAP(1, 2, B, MO)},
	    {MP(0, 1, A, N), MP(1, 2, B, MO)},
	};
	(void)state;
	run_sm_map_case(&c);
}

/* 10) as 9 but same object, contiguous: kept */
static void test_case10_overlap_end_same(void **state)
{
	static const struct sm_case c = {
	    "10 request overlaps the end, contiguous",
	    {MP(0, 2, A, N)},
	    MP(1, 2, A, N + U),
	    {{.type = VIOVA_VA_OP_REMAP,
	      .keep = true,
	      .va = MP(0, 2, A, N),
	      .has_prev = true,
	      .prev = MP(0, 1, A, N)},
	     OP_MAP(1, 2, A, N + U)},
	    {MP(0, 1, A, N), MP(1, 2, A, N + U)},
	};
	(void)state;
	run_sm_map_case(&c);
}

/* 11) request in the middle, other object: split in two, the back piece's offset moves */
static void test_case11_centered_other(void **state)
{
	static const struct sm_case c = {
	    "11 request centred inside existing, other object",
	    {MP(0, 3, A, N)},
	    MP(1, 1, B, MO),
	    {{.type = VIOVA_VA_OP_REMAP,
	      .va = MP(0, 3, A, N),
	      .has_prev = true,
	      .prev = MP(0, 1, A, N),
	      .has_next = true,
	      .next = MP(2, 1, A, N + 2 * U)},
	     OP_MAP(1, 1, B, MO)},
	    {MP(0, 1, A, N), MP(1, 1, B, MO), MP(2, 1, A, N + 2 * U)},
	};
	(void)state;
	run_sm_map_case(&c);
}

/* 12) as 11 but same object, contiguous: split, kept */
static void test_case12_centered_same(void **state)
{
	static const struct sm_case c = {
	    "12 request centred inside existing, contiguous",
	    {MP(0, 3, A, N)},
	    MP(1, 1, A, N + U),
	    {{.type = VIOVA_VA_OP_REMAP,
	      .keep = true,
	      .va = MP(0, 3, A, N),
	      .has_prev = true,
	      .prev = MP(0, 1, A, N),
	      .has_next = true,
	      .next = MP(2, 1, A, N + 2 * U)},
	     OP_MAP(1, 1, A, N + U)},
	    {MP(0, 1, A, N), MP(1, 1, A, N + U), MP(2, 1, A, N + 2 * U)},
	};
	(void)state;
	run_sm_map_case(&c);
}

/* 13) existing is a right-aligned subset of the request: replaced, kept if contiguous */
static void test_case13_right_subset_of_req(void **state)
{
	static const struct sm_case c = {
	    "13 existing right-aligned inside request",
	    {MP(1, 1, A, N + U)},
	    MP(0, 2, A, N),
	    {OP_UNMAP(true, 1, 1, A, N + U), OP_MAP(0, 2, A, N)},
	    {MP(0, 2, A, N)},
	};
	static const struct sm_case other_obj = {
	    "13 note: other object", {MP(1, 1, A, N + U)},
	    MP(0, 2, B, N),	     {OP_UNMAP(false, 1, 1, A, N + U), OP_MAP(0, 2, B, N)},
	    {MP(0, 2, B, N)},
	};
	static const struct sm_case other_off = {
	    "13 note: non-contiguous offset",
	    {MP(1, 1, A, N + U)},
	    MP(0, 2, A, N + U),
	    {OP_UNMAP(false, 1, 1, A, N + U), OP_MAP(0, 2, A, N + U)},
	    {MP(0, 2, A, N + U)},
	};
	(void)state;
	run_sm_map_case(&c);
	run_sm_map_case(&other_obj);
	run_sm_map_case(&other_off);
}

/* 14) existing is centred inside the request: replaced, kept if contiguous */
static void test_case14_centered_in_req(void **state)
{
	static const struct sm_case c = {
	    "14 existing centred inside request",
	    {MP(1, 1, A, N + U)},
	    MP(0, 3, A, N),
	    {OP_UNMAP(true, 1, 1, A, N + U), OP_MAP(0, 3, A, N)},
	    {MP(0, 3, A, N)},
	};
	static const struct sm_case other = {
	    "14 note: other object", {MP(1, 1, A, N + U)},
	    MP(0, 3, B, MO),	     {OP_UNMAP(false, 1, 1, A, N + U), OP_MAP(0, 3, B, MO)},
	    {MP(0, 3, B, MO)},
	};
	(void)state;
	run_sm_map_case(&c);
	run_sm_map_case(&other);
}

/*
 * 15) request overlaps the beginning of the existing one, other object: the back piece's
 * offset moves by the distance it moved. The seed's drawing labels it n+2, but in that drawing
 * the existing mapping starts at 1 with offset n, so address 2 is offset n+1 - which is also
 * what the seed's algorithm computes (offset + req_end - addr). We follow the algorithm.
 */
static void test_case15_overlap_start_other(void **state)
{
	static const struct sm_case c = {
	    "15 request overlaps the beginning, other object",
	    {MP(1, 2, A, N)},
	    MP(0, 2, B, MO),
	    {{.type = VIOVA_VA_OP_REMAP,
	      .va = MP(1, 2, A, N),
	      .has_next = true,
	      .next = MP(2, 1, A, N + U)},
	     OP_MAP(0, 2, B, MO)},
	    {MP(0, 2, B, MO), MP(2, 1, A, N + U)},
	};
	/* the contiguous variant keeps */
	static const struct sm_case same = {
	    "15 variant: contiguous",
	    {MP(1, 2, A, N)},
	    MP(0, 2, A, N - U),
	    {{.type = VIOVA_VA_OP_REMAP,
	      .keep = true,
	      .va = MP(1, 2, A, N),
	      .has_next = true,
	      .next = MP(2, 1, A, N + U)},
	     OP_MAP(0, 2, A, N - U)},
	    {MP(0, 2, A, N - U), MP(2, 1, A, N + U)},
	};
	(void)state;
	run_sm_map_case(&c);
	run_sm_map_case(&same);
}

/* ---- beyond the diagrams ---------------------------------------------------------------- */

/* Several mappings under one request: remap, unmaps, remap, map - in address order. */
static void test_sm_map_many(void **state)
{
	static const struct sm_case c = {
	    "request over four mappings",
	    {MP(0, 2, A, N), MP(2, 1, B, MO), MP(3, 1, A, N + 3 * U), MP(5, 2, B, MO + U)},
	    MP(1, 5, A, N + U), /* [1, 6) */
	    {{.type = VIOVA_VA_OP_REMAP,
	      .keep = true,
	      .va = MP(0, 2, A, N),
	      .has_prev = true,
	      .prev = MP(0, 1, A, N)},
	     OP_UNMAP(false, 2, 1, B, MO),
	     OP_UNMAP(true, 3, 1, A, N + 3 * U),
	     {.type = VIOVA_VA_OP_REMAP,
	      .va = MP(5, 2, B, MO + U),
	      .has_next = true,
	      .next = MP(6, 1, B, MO + 2 * U)},
	     OP_MAP(1, 5, A, N + U)},
	    {MP(0, 1, A, N), MP(1, 5, A, N + U), MP(6, 1, B, MO + 2 * U)},
	};
	static const struct sm_case empty = {
	    "request on empty space", {{0}}, MP(4, 2, B, MO), {OP_MAP(4, 2, B, MO)},
	    {MP(4, 2, B, MO)},
	};
	static const struct sm_case gap = {
	    "request in a gap between mappings, touching both",
	    {MP(0, 1, A, N), MP(3, 1, A, N + 3 * U)},
	    MP(1, 2, A, N + U),
	    {OP_MAP(1, 2, A, N + U)},
	    {MP(0, 1, A, N), MP(1, 2, A, N + U), MP(3, 1, A, N + 3 * U)},
	};
	(void)state;
	run_sm_map_case(&c);
	run_sm_map_case(&empty);
	run_sm_map_case(&gap);
}

/* keep also needs equal flags (PTE permissions differ otherwise); splits carry the old flags */
static void test_sm_map_flags_and_sparse(void **state)
{
	struct sm_case c = {
	    "flags differ",
	    {MP(0, 2, A, N)},
	    MP(0, 1, A, N),
	    {{.type = VIOVA_VA_OP_REMAP,
	      .va = MP(0, 2, A, N),
	      .has_next = true,
	      .next = MP(1, 1, A, N + U)},
	     OP_MAP(0, 1, A, N)},
	    {MP(0, 1, A, N), MP(1, 1, A, N + U)},
	};
	struct sm_case s = {
	    "sparse over sparse never keeps",
	    {MP(0, 3, 0, 0)},
	    MP(1, 1, 0, 0),
	    {{.type = VIOVA_VA_OP_REMAP,
	      .va = MP(0, 3, 0, 0),
	      .has_prev = true,
	      .prev = MP(0, 1, 0, 0),
	      .has_next = true,
	      .next = MP(2, 1, 0, 0)},
	     OP_MAP(1, 1, 0, 0)},
	    {MP(0, 1, 0, 0), MP(1, 1, 0, 0), MP(2, 1, 0, 0)},
	};
	unsigned int i;

	(void)state;
	c.old[0].flags = 0x4;
	c.ops[0].va.flags = 0x4;
	c.ops[0].next.flags = 0x4;
	c.final[1].flags = 0x4;
	run_sm_map_case(&c);

	s.old[0].flags = VIOVA_VA_SPARSE;
	s.req.flags = VIOVA_VA_SPARSE;
	s.ops[0].va.flags = s.ops[0].prev.flags = s.ops[0].next.flags = VIOVA_VA_SPARSE;
	s.ops[1].va.flags = VIOVA_VA_SPARSE;
	for (i = 0; i < 3; i++)
		s.final[i].flags = VIOVA_VA_SPARSE;
	run_sm_map_case(&s);
}

static void test_sm_map_errors(void **state)
{
	struct viova_va_space *vs = mk(0);
	struct viova_va_ops *ops = mkops();
	struct viova_va_mapping m = MP(0, 1, A, N);
	struct viova_va_reject why;

	(void)state;
	assert_int_equal(viova_va_space_insert(vs, &m, NULL), 0);
	/* a list left from before is dropped by a failed build */
	assert_int_equal(viova_va_space_sm_map(vs, &m, ops, NULL), 0);
	m.range = 0;
	assert_int_equal(viova_va_space_sm_map(vs, &m, ops, &why), -EINVAL);
	assert_int_equal(why.reason, VIOVA_VA_ZERO_SIZE);
	assert_int_equal(viova_va_ops_count(ops), 0);
	assert_int_equal(viova_va_space_apply(vs, ops), -EINVAL);
	m = (struct viova_va_mapping){.addr = RSV - U, .range = 2 * U, .obj = A};
	assert_int_equal(viova_va_space_sm_map(vs, &m, ops, &why), -EACCES);
	assert_int_equal(why.reason, VIOVA_VA_RESERVED);
	m = (struct viova_va_mapping){.addr = START + SIZE - U, .range = 2 * U, .obj = A};
	assert_int_equal(viova_va_space_sm_map(vs, &m, ops, &why), -ERANGE);
	m = (struct viova_va_mapping){.addr = UINT64_MAX, .range = 2, .obj = A};
	assert_int_equal(viova_va_space_sm_map(vs, &m, ops, &why), -EOVERFLOW);
	m = (struct viova_va_mapping){.addr = START, .range = U, .obj = A, .offset = UINT64_MAX};
	assert_int_equal(viova_va_space_sm_map(vs, &m, ops, &why), -EOVERFLOW);
	assert_int_equal(why.reason, VIOVA_VA_OBJ_WRAP);
	m = (struct viova_va_mapping){
	    .addr = START, .range = U, .obj = A, .flags = VIOVA_VA_SPARSE};
	assert_int_equal(viova_va_space_sm_map(vs, &m, ops, &why), -EINVAL);
	assert_int_equal(why.reason, VIOVA_VA_BAD_SPARSE);
	assert_int_equal(viova_va_space_count(vs), 1);
	check_ok(vs);
	viova_va_ops_destroy(ops);
	viova_va_space_destroy(vs);
}

/* ---- sm_unmap --------------------------------------------------------------------------- */

struct unmap_case {
	const char *name;
	struct viova_va_mapping old[MAXN];
	uint64_t at, len; /* units */
	struct viova_va_op ops[MAXN];
	struct viova_va_mapping final[MAXN];
};

static void run_unmap_case(const struct unmap_case *c)
{
	struct viova_va_space *vs = mk(0);
	struct viova_va_ops *ops = mkops();
	unsigned int nold = count_list(c->old), i;

	print_message("unmap case: %s\n", c->name);
	for (i = 0; i < nold; i++)
		assert_int_equal(viova_va_space_insert(vs, &c->old[i], NULL), 0);
	assert_int_equal(viova_va_space_sm_unmap(vs, START + c->at * U, c->len * U, ops, NULL), 0);
	expect_ops(ops, c->ops, count_ops(c->ops));
	viova_va_ops_reset(ops);
	expect_mappings(vs, c->old, nold);
	assert_int_equal(viova_va_space_sm_unmap(vs, START + c->at * U, c->len * U, ops, NULL), 0);
	assert_int_equal(viova_va_space_apply(vs, ops), 0);
	expect_mappings(vs, c->final, count_list(c->final));
	assert_int_equal(viova_va_space_apply(vs, ops), -ESTALE);
	viova_va_ops_destroy(ops);
	viova_va_space_destroy(vs);
}

static void test_sm_unmap_inside_one(void **state)
{
	static const struct unmap_case c = {
	    "inside one mapping",
	    {MP(0, 4, A, N)},
	    1,
	    1,
	    {{.type = VIOVA_VA_OP_REMAP,
	      .va = MP(0, 4, A, N),
	      .has_prev = true,
	      .prev = MP(0, 1, A, N),
	      .has_next = true,
	      .next = MP(2, 2, A, N + 2 * U)}},
	    {MP(0, 1, A, N), MP(2, 2, A, N + 2 * U)},
	};
	(void)state;
	run_unmap_case(&c);
}

static void test_sm_unmap_across_several(void **state)
{
	static const struct unmap_case c = {
	    "across several whole mappings",
	    {MP(0, 1, A, N), MP(1, 1, B, MO), MP(3, 1, A, N + 3 * U), MP(5, 1, B, 0)},
	    0,
	    4,
	    {OP_UNMAP(false, 0, 1, A, N), OP_UNMAP(false, 1, 1, B, MO),
	     OP_UNMAP(false, 3, 1, A, N + 3 * U)},
	    {MP(5, 1, B, 0)},
	};
	(void)state;
	run_unmap_case(&c);
}

static void test_sm_unmap_partial_both_ends(void **state)
{
	static const struct unmap_case c = {
	    "partial at both ends",
	    {MP(0, 2, A, N), MP(2, 1, B, MO), MP(3, 2, A, N + 3 * U)},
	    1,
	    3, /* [1, 4) */
	    {{.type = VIOVA_VA_OP_REMAP,
	      .va = MP(0, 2, A, N),
	      .has_prev = true,
	      .prev = MP(0, 1, A, N)},
	     OP_UNMAP(false, 2, 1, B, MO),
	     {.type = VIOVA_VA_OP_REMAP,
	      .va = MP(3, 2, A, N + 3 * U),
	      .has_next = true,
	      .next = MP(4, 1, A, N + 4 * U)}},
	    {MP(0, 1, A, N), MP(4, 1, A, N + 4 * U)},
	};
	(void)state;
	run_unmap_case(&c);
}

static void test_sm_unmap_exact(void **state)
{
	static const struct unmap_case c = {
	    "exact",
	    {MP(1, 2, A, N), MP(3, 1, A, N + 2 * U)},
	    1,
	    2,
	    {OP_UNMAP(false, 1, 2, A, N)},
	    {MP(3, 1, A, N + 2 * U)},
	};
	(void)state;
	run_unmap_case(&c);
}

static void test_sm_unmap_empty_range(void **state)
{
	static const struct unmap_case c = {
	    "range holding no mapping",	      {MP(0, 1, A, N), MP(4, 1, A, N)}, 1, 3, {{0}},
	    {MP(0, 1, A, N), MP(4, 1, A, N)},
	};
	struct viova_va_space *vs = mk(0);
	struct viova_va_ops *ops = mkops();
	struct viova_va_reject why;

	(void)state;
	run_unmap_case(&c);
	/* a zero-size range is an error, not an empty list; so are ranges the guest may not name */
	assert_int_equal(viova_va_space_sm_unmap(vs, START, 0, ops, &why), -EINVAL);
	assert_int_equal(why.reason, VIOVA_VA_ZERO_SIZE);
	assert_int_equal(viova_va_space_sm_unmap(vs, RSV, U, ops, &why), -EACCES);
	assert_int_equal(viova_va_space_sm_unmap(vs, START - U, U, ops, &why), -ERANGE);
	assert_int_equal(viova_va_space_sm_unmap(vs, UINT64_MAX - 1, 4, ops, &why), -EOVERFLOW);
	viova_va_ops_destroy(ops);
	viova_va_space_destroy(vs);
}

/* clang-format on */

/* ---- object teardown -------------------------------------------------------------------- */

static void test_obj_unmap_ops(void **state)
{
	struct viova_va_space *vs = mk(0);
	struct viova_va_ops *ops = mkops();
	const struct viova_va_mapping maps[] = {
	    MP(6, 1, A, 0),
	    MP(0, 2, A, U),
	    MP(3, 1, B, 0),
	    MP(4, 1, A, 5 * U),
	    {.addr = START + 8 * U, .range = U, .flags = VIOVA_VA_SPARSE},
	};
	const struct viova_va_op want[] = {
	    OP_UNMAP(false, 0, 2, A, U),
	    OP_UNMAP(false, 4, 1, A, 5 * U),
	    OP_UNMAP(false, 6, 1, A, 0),
	};
	const struct viova_va_mapping left[] = {
	    MP(3, 1, B, 0),
	    {.addr = START + 8 * U, .range = U, .flags = VIOVA_VA_SPARSE},
	};
	unsigned int i;

	(void)state;
	for (i = 0; i < 5; i++)
		assert_int_equal(viova_va_space_insert(vs, &maps[i], NULL), 0);
	assert_int_equal(viova_va_space_obj_unmap_ops(vs, A, ops), 0);
	expect_ops(ops, want, 3); /* address order, whatever the link order */
	viova_va_ops_reset(ops);
	assert_true(viova_va_space_obj_mapped(vs, A));
	assert_int_equal(viova_va_space_count(vs), 5);
	assert_int_equal(viova_va_space_obj_unmap_ops(vs, A, ops), 0);
	assert_int_equal(viova_va_space_apply(vs, ops), 0);
	assert_false(viova_va_space_obj_mapped(vs, A));
	expect_mappings(vs, left, 2);

	/* an object without mappings tears down to nothing */
	assert_int_equal(viova_va_space_obj_unmap_ops(vs, A, ops), 0);
	assert_int_equal(viova_va_ops_count(ops), 0);
	assert_int_equal(viova_va_space_apply(vs, ops), 0);
	expect_mappings(vs, left, 2);
	viova_va_ops_destroy(ops);
	viova_va_space_destroy(vs);
}

/* ---- applying the wrong list ------------------------------------------------------------ */

static void test_apply_stale_and_foreign(void **state)
{
	struct viova_va_space *vs = mk(0), *other = mk(0);
	struct viova_va_ops *a = mkops(), *b = mkops();
	struct viova_va_mapping m1 = MP(0, 2, A, N), m2 = MP(1, 2, B, MO), m3 = MP(8, 1, B, 0);
	const struct viova_va_mapping before[] = {MP(0, 2, A, N)};
	const struct viova_va_mapping after[] = {MP(0, 2, A, N), MP(8, 1, B, 0)};

	(void)state;
	assert_int_equal(viova_va_space_insert(vs, &m1, NULL), 0);

	/* never built */
	assert_int_equal(viova_va_space_apply(vs, a), -EINVAL);
	/* built for another space */
	assert_int_equal(viova_va_space_sm_map(other, &m2, a, NULL), 0);
	assert_int_equal(viova_va_space_apply(vs, a), -EINVAL);
	expect_mappings(vs, before, 1);

	/* the space changed after the build */
	assert_int_equal(viova_va_space_sm_map(vs, &m2, a, NULL), 0);
	assert_int_equal(viova_va_space_insert(vs, &m3, NULL), 0);
	assert_int_equal(viova_va_space_apply(vs, a), -ESTALE);
	expect_mappings(vs, after, 2);

	/* two lists built from the same state: only the first applied one counts */
	assert_int_equal(viova_va_space_sm_map(vs, &m2, a, NULL), 0);
	assert_int_equal(viova_va_space_sm_unmap(vs, START, 9 * U, b, NULL), 0);
	assert_int_equal(viova_va_space_apply(vs, b), 0);
	assert_int_equal(viova_va_space_count(vs), 0);
	assert_int_equal(viova_va_space_apply(vs, a), -ESTALE);
	assert_int_equal(viova_va_space_count(vs), 0);
	check_ok(vs);

	viova_va_ops_destroy(a);
	viova_va_ops_destroy(b);
	viova_va_ops_destroy(NULL);
	viova_va_space_destroy(vs);
	viova_va_space_destroy(other);
}

/* ---- quotas and reservation ------------------------------------------------------------- */

static void test_sm_limit(void **state)
{
	struct viova_va_space *vs = mk(3);
	struct viova_va_ops *ops = mkops();
	struct viova_va_mapping m = MP(0, 3, A, N), r;
	struct viova_va_reject why;

	(void)state;
	assert_int_equal(viova_va_space_insert(vs, &m, NULL), 0);
	m = (struct viova_va_mapping)MP(4, 1, A, 0);
	assert_int_equal(viova_va_space_insert(vs, &m, NULL), 0);
	/* 2 mappings: a three-way split would make 4 */
	r = (struct viova_va_mapping)MP(1, 1, B, 0);
	assert_int_equal(viova_va_space_sm_map(vs, &r, ops, &why), -ENOSPC);
	assert_int_equal(why.reason, VIOVA_VA_LIMIT);
	assert_int_equal(why.limit, 3);
	assert_int_equal(viova_va_ops_count(ops), 0);
	/* cutting the middle out makes 3: fine */
	assert_int_equal(viova_va_space_sm_unmap(vs, START + U, U, ops, NULL), 0);
	assert_int_equal(viova_va_space_apply(vs, ops), 0);
	assert_int_equal(viova_va_space_count(vs), 3);
	/* at the limit, another split by unmap is refused ... */
	assert_int_equal(viova_va_space_sm_unmap(vs, START + 4 * U + 0x1000, 0x1000, ops, &why),
			 -ENOSPC);
	/* ... but a map that replaces two mappings with one is not */
	r = (struct viova_va_mapping)MP(0, 3, B, 0);
	assert_int_equal(viova_va_space_sm_map(vs, &r, ops, NULL), 0);
	assert_int_equal(viova_va_space_apply(vs, ops), 0);
	assert_int_equal(viova_va_space_count(vs), 2);
	check_ok(vs);
	viova_va_ops_destroy(ops);
	viova_va_space_destroy(vs);
}

/*
 * Fill the arena's first chunk exactly (1023 mappings + the sentinel), so a three-way split
 * needs two nodes that do not exist yet: the build must reserve them, and apply must succeed.
 */
static void test_reserve_at_chunk_boundary(void **state)
{
	struct viova_va_space *vs = mk(0);
	struct viova_va_ops *ops = mkops();
	struct viova_va_mapping m, r;
	unsigned int i;

	(void)state;
	for (i = 0; i < 1023; i++) {
		m = (struct viova_va_mapping){
		    .addr = START + i * 0x2000, .range = 0x2000, .obj = i};
		assert_int_equal(viova_va_space_insert(vs, &m, NULL), 0);
	}
	r = (struct viova_va_mapping){.addr = START + 0x800, .range = 0x800, .obj = 5000};
	assert_int_equal(viova_va_space_sm_map(vs, &r, ops, NULL), 0);
	assert_int_equal(viova_va_ops_count(ops), 2);
	assert_int_equal(viova_va_space_apply(vs, ops), 0);
	assert_int_equal(viova_va_space_count(vs), 1025);
	assert_int_equal(viova_va_space_find(vs, START, 0x800, NULL), 0);
	assert_int_equal(viova_va_space_find(vs, START + 0x800, 0x800, NULL), 0);
	assert_int_equal(viova_va_space_find(vs, START + 0x1000, 0x1000, &m), 0);
	assert_int_equal(m.offset, 0x1000);
	assert_true(viova_va_space_obj_mapped(vs, 5000));
	check_ok(vs);
	viova_va_ops_destroy(ops);
	viova_va_space_destroy(vs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_case01_identical),
	    cmocka_unit_test(test_case02_other_offset),
	    cmocka_unit_test(test_case03_other_object),
	    cmocka_unit_test(test_case04_left_subset_of_req),
	    cmocka_unit_test(test_case05_req_left_subset_other),
	    cmocka_unit_test(test_case06_req_left_subset_same),
	    cmocka_unit_test(test_case07_req_right_subset_other),
	    cmocka_unit_test(test_case08_req_right_subset_same),
	    cmocka_unit_test(test_case09_overlap_end_other),
	    cmocka_unit_test(test_case10_overlap_end_same),
	    cmocka_unit_test(test_case11_centered_other),
	    cmocka_unit_test(test_case12_centered_same),
	    cmocka_unit_test(test_case13_right_subset_of_req),
	    cmocka_unit_test(test_case14_centered_in_req),
	    cmocka_unit_test(test_case15_overlap_start_other),
	    cmocka_unit_test(test_sm_map_many),
	    cmocka_unit_test(test_sm_map_flags_and_sparse),
	    cmocka_unit_test(test_sm_map_errors),
	    cmocka_unit_test(test_sm_unmap_inside_one),
	    cmocka_unit_test(test_sm_unmap_across_several),
	    cmocka_unit_test(test_sm_unmap_partial_both_ends),
	    cmocka_unit_test(test_sm_unmap_exact),
	    cmocka_unit_test(test_sm_unmap_empty_range),
	    cmocka_unit_test(test_obj_unmap_ops),
	    cmocka_unit_test(test_apply_stale_and_foreign),
	    cmocka_unit_test(test_sm_limit),
	    cmocka_unit_test(test_reserve_at_chunk_boundary),
	};

	return cmocka_run_group_tests_name("va_space_sm", tests, NULL, NULL);
}

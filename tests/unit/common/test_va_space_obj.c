/* SPDX-License-Identifier: MIT */
/*
 * test_va_space_obj.c - the va_space calls the host and the sim added for their SET_IOVA fast
 * paths (common/va_space.c): viova_va_space_obj_remove() and viova_va_space_obj_remove_all(),
 * which remove through an object's list and unlink by node instead of descending the tree,
 * and the insert descent that finds the overlap through the in-order neighbours.
 *
 * Exact cases first (head / middle / tail of an object's list, wrong range, unknown object,
 * sparse mappings never found, slot reuse after an object's last mapping goes), then a
 * randomized run against a flat model with the structural checker after every step: a broken
 * unlink, a bad erase or a hash slot left behind shows up as a debug_check failure or a
 * lookup that disagrees with the model.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "viova/va_space.h"

#define PAGE 0x1000ull
#define START 0x100000000ull
#define NPAGES 512u
#define RSV (START + 500 * PAGE) /* reserved: pages 500..503 */

static struct viova_va_space *mk(void)
{
	struct viova_va_space_config cfg = {
	    .start = START, .range = NPAGES * PAGE, .reserve_addr = RSV, .reserve_range = 4 * PAGE};
	struct viova_va_space *vs = NULL;

	assert_int_equal(viova_va_space_create(&cfg, &vs), 0);
	return vs;
}

static void check_ok(const struct viova_va_space *vs)
{
	char msg[256];
	int ret = viova_va_space_debug_check(vs, msg, sizeof(msg));

	if (ret)
		print_error("debug_check: %s\n", msg);
	assert_int_equal(ret, 0);
}

static void ins(struct viova_va_space *vs, uint64_t page, uint64_t npages, uint64_t obj,
		uint32_t flags)
{
	struct viova_va_mapping m = {.addr = START + page * PAGE,
				     .range = npages * PAGE,
				     .obj = (flags & VIOVA_VA_SPARSE) ? 0 : obj,
				     .offset = 0,
				     .flags = flags};

	assert_int_equal(viova_va_space_insert(vs, &m, NULL), 0);
}

static void test_obj_remove_exact(void **state)
{
	struct viova_va_space *vs = mk();
	struct viova_va_mapping got;
	(void)state;

	/* object 7 has three mappings; its list order is the reverse of insertion */
	ins(vs, 10, 2, 7, 0);
	ins(vs, 20, 1, 7, 0);
	ins(vs, 30, 3, 7, 0);
	ins(vs, 40, 1, 8, 0);
	ins(vs, 50, 1, 0, VIOVA_VA_SPARSE);
	assert_int_equal(viova_va_space_count(vs), 5);

	/* wrong range, wrong object, sparse, zero range, unknown object: nothing changes */
	assert_int_equal(viova_va_space_obj_remove(vs, 7, START + 10 * PAGE, PAGE, NULL), -ENOENT);
	assert_int_equal(viova_va_space_obj_remove(vs, 8, START + 10 * PAGE, 2 * PAGE, NULL),
			 -ENOENT);
	assert_int_equal(viova_va_space_obj_remove(vs, 0, START + 50 * PAGE, PAGE, NULL), -ENOENT);
	assert_int_equal(viova_va_space_obj_remove(vs, 7, START + 10 * PAGE, 0, NULL), -ENOENT);
	assert_int_equal(viova_va_space_obj_remove(vs, 99, START + 10 * PAGE, 2 * PAGE, NULL),
			 -ENOENT);
	assert_int_equal(viova_va_space_count(vs), 5);
	check_ok(vs);

	/* middle of the list, then head, then the last one (the hash slot goes) */
	assert_int_equal(viova_va_space_obj_remove(vs, 7, START + 20 * PAGE, PAGE, &got), 0);
	assert_int_equal(got.addr, START + 20 * PAGE);
	assert_int_equal(got.range, PAGE);
	assert_int_equal(got.obj, 7);
	check_ok(vs);
	assert_int_equal(viova_va_space_obj_remove(vs, 7, START + 30 * PAGE, 3 * PAGE, NULL), 0);
	check_ok(vs);
	assert_true(viova_va_space_obj_mapped(vs, 7));
	assert_int_equal(viova_va_space_obj_remove(vs, 7, START + 10 * PAGE, 2 * PAGE, NULL), 0);
	check_ok(vs);
	assert_false(viova_va_space_obj_mapped(vs, 7));
	assert_int_equal(viova_va_space_find_first(vs, START, NPAGES * PAGE, &got), 0);
	assert_int_equal(got.addr, START + 40 * PAGE); /* 8's and the sparse one remain */
	assert_int_equal(viova_va_space_count(vs), 2);
	/* the range is free again */
	ins(vs, 10, 30, 9, 0);
	check_ok(vs);
	viova_va_space_destroy(vs);
}

static void test_obj_remove_all(void **state)
{
	struct viova_va_space *vs = mk();
	struct viova_va_mapping got;
	(void)state;

	assert_int_equal(viova_va_space_obj_remove_all(vs, 1), 0); /* empty space, no hash yet */
	for (uint32_t k = 0; k < 6; k++)
		ins(vs, 100 + 4 * k, 2, 1, 0);
	ins(vs, 99, 1, 2, 0);
	ins(vs, 130, 1, 0, VIOVA_VA_SPARSE);
	assert_int_equal(viova_va_space_obj_remove_all(vs, 3), 0);
	assert_int_equal(viova_va_space_obj_remove_all(vs, 1), 6);
	check_ok(vs);
	assert_false(viova_va_space_obj_mapped(vs, 1));
	assert_true(viova_va_space_obj_mapped(vs, 2));
	assert_int_equal(viova_va_space_count(vs), 2);
	assert_int_equal(viova_va_space_find_first(vs, START + 100 * PAGE, 30 * PAGE, &got),
			 -ENOENT);
	assert_int_equal(viova_va_space_obj_remove_all(vs, 1), 0);
	assert_int_equal(viova_va_space_obj_remove_all(vs, 2), 1);
	check_ok(vs);
	viova_va_space_destroy(vs);
}

/* Many objects whose keys collide in the hash: deleting one slot must not lose the others. */
static void test_obj_remove_hash_runs(void **state)
{
	struct viova_va_space *vs = mk();
	(void)state;

	for (uint32_t k = 0; k < 200; k++)
		ins(vs, 2 * k, 1, ((uint64_t)3 << 32) | k, 0);
	check_ok(vs);
	for (uint32_t k = 0; k < 200; k += 2)
		assert_int_equal(viova_va_space_obj_remove_all(vs, ((uint64_t)3 << 32) | k), 1);
	check_ok(vs);
	for (uint32_t k = 0; k < 200; k++)
		assert_int_equal(viova_va_space_obj_mapped(vs, ((uint64_t)3 << 32) | k), k & 1);
	for (uint32_t k = 1; k < 200; k += 2)
		assert_int_equal(viova_va_space_obj_remove(vs, ((uint64_t)3 << 32) | k,
							   START + 2 * k * PAGE, PAGE, NULL),
				 0);
	assert_int_equal(viova_va_space_count(vs), 0);
	check_ok(vs);
	viova_va_space_destroy(vs);
}

/* ---- randomized against a flat model ---------------------------------------------------- */

struct model {
	uint32_t obj[NPAGES];  /* 0: free; else the object (1..15) or 16 for sparse */
	uint32_t head[NPAGES]; /* 1 on the first page of a mapping */
	uint32_t len[NPAGES];  /* pages of the mapping starting here */
};

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static bool model_free(const struct model *md, uint32_t p, uint32_t n)
{
	for (uint32_t k = p; k < p + n; k++) {
		if (k >= NPAGES || md->obj[k] || (k >= 500 && k < 504))
			return false;
	}
	return true;
}

static void test_random_against_model(void **state)
{
	struct viova_va_space *vs = mk();
	static struct model md;
	(void)state;

	memset(&md, 0, sizeof(md));
	for (uint32_t step = 0; step < 6000; step++) {
		uint32_t op = rnd(10), p = rnd(NPAGES), n = 1 + rnd(8), o = 1 + rnd(16);

		if (op < 5) {
			/* insert: the space says free/overlap exactly as the model does */
			struct viova_va_mapping m = {.addr = START + (uint64_t)p * PAGE,
						     .range = (uint64_t)n * PAGE,
						     .obj = o == 16 ? 0 : o,
						     .flags = o == 16 ? VIOVA_VA_SPARSE : 0};
			int ret = viova_va_space_insert(vs, &m, NULL);

			if (p + n > NPAGES)
				assert_int_equal(ret, -ERANGE);
			else if (!model_free(&md, p, n))
				assert_true(ret == -EEXIST || ret == -EACCES);
			else
				assert_int_equal(ret, 0);
			if (ret == 0) {
				for (uint32_t k = p; k < p + n; k++)
					md.obj[k] = o;
				md.head[p] = 1;
				md.len[p] = n;
			}
		} else if (op < 8) {
			/* obj_remove of the mapping at p if it starts there, by its object */
			uint32_t obj = md.obj[p];
			int ret;

			if (!md.head[p] || obj == 16) {
				ret = viova_va_space_obj_remove(vs, o == 16 ? 0 : o,
								START + (uint64_t)p * PAGE,
								(uint64_t)n * PAGE, NULL);
				assert_int_equal(ret, -ENOENT);
				continue;
			}
			/* first with a wrong range, then the right one */
			assert_int_equal(
			    viova_va_space_obj_remove(vs, obj, START + (uint64_t)p * PAGE,
						      (uint64_t)(md.len[p] + 1) * PAGE, NULL),
			    -ENOENT);
			assert_int_equal(
			    viova_va_space_obj_remove(vs, obj, START + (uint64_t)p * PAGE,
						      (uint64_t)md.len[p] * PAGE, NULL),
			    0);
			for (uint32_t k = p; k < p + md.len[p]; k++)
				md.obj[k] = 0;
			md.head[p] = 0;
		} else {
			/* remove_all of one object */
			uint32_t want = 0, got;

			if (o == 16)
				continue;
			for (uint32_t k = 0; k < NPAGES; k++) {
				if (md.head[k] && md.obj[k] == o) {
					want++;
					for (uint32_t j = k; j < k + md.len[k]; j++)
						md.obj[j] = 0;
					md.head[k] = 0;
				}
			}
			got = viova_va_space_obj_remove_all(vs, o);
			assert_int_equal(got, want);
		}
		if (step % 64 == 0)
			check_ok(vs);
	}
	check_ok(vs);
	/* final: every page agrees */
	for (uint32_t k = 0; k < NPAGES; k++) {
		struct viova_va_mapping m;
		int ret = viova_va_space_find_first(vs, START + (uint64_t)k * PAGE, 1, &m);

		assert_int_equal(ret == 0, md.obj[k] != 0);
		if (ret == 0)
			assert_int_equal(m.obj, md.obj[k] == 16 ? 0 : md.obj[k]);
	}
	viova_va_space_destroy(vs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_obj_remove_exact),
	    cmocka_unit_test(test_obj_remove_all),
	    cmocka_unit_test(test_obj_remove_hash_runs),
	    cmocka_unit_test(test_random_against_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/*
 * test_va_space.c - common/va_space.c: creation, every insert error path with its own errno,
 * rejection messages, lookups, removal, iteration, object links, the top of the 64-bit space,
 * arena growth, and that the debug checker notices corruption.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "viova/va_space.h"
#include "va_space_priv.h" /* only for the corruption tests of the debug checker */

#define PAGE 0x1000ull
#define START 0x100000ull
#define SIZE 0x100000ull /* space [0x100000, 0x200000) */
#define RSV 0x1f0000ull	 /* reserved [0x1f0000, 0x1f8000) */
#define RSV_SIZE 0x8000ull

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
	assert_non_null(vs);
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

static struct viova_va_mapping M(uint64_t addr, uint64_t range, uint64_t obj, uint64_t off) {
	struct viova_va_mapping m = {.addr = addr, .range = range, .obj = obj, .offset = off};

	return m;
}

static void
ins(struct viova_va_space *vs, uint64_t addr, uint64_t range, uint64_t obj, uint64_t off)
{
	struct viova_va_mapping m = M(addr, range, obj, off);

	assert_int_equal(viova_va_space_insert(vs, &m, NULL), 0);
}

static void assert_mapping(const struct viova_va_mapping *m, uint64_t addr, uint64_t range,
			   uint64_t obj, uint64_t off)
{
	assert_int_equal(m->addr, addr);
	assert_int_equal(m->range, range);
	assert_int_equal(m->obj, obj);
	assert_int_equal(m->offset, off);
}

static void test_create_errors(void **state)
{
	struct viova_va_space_config cfg = {.start = START, .range = SIZE};
	struct viova_va_space *vs = NULL;

	(void)state;
	assert_int_equal(viova_va_space_create(NULL, &vs), -EINVAL);
	assert_int_equal(viova_va_space_create(&cfg, NULL), -EINVAL);
	cfg.range = 0;
	assert_int_equal(viova_va_space_create(&cfg, &vs), -EINVAL);
	cfg.range = SIZE;
	cfg.max_mappings = VIOVA_VA_MAX_MAPPINGS + 1;
	assert_int_equal(viova_va_space_create(&cfg, &vs), -EINVAL);
	cfg.max_mappings = 0;
	cfg.start = UINT64_MAX - 0x1000;
	assert_int_equal(viova_va_space_create(&cfg, &vs), -EOVERFLOW);
	cfg.start = START;
	cfg.reserve_addr = UINT64_MAX;
	cfg.reserve_range = 2;
	assert_int_equal(viova_va_space_create(&cfg, &vs), -EOVERFLOW);
	cfg.reserve_addr = START - PAGE; /* starts before the space */
	cfg.reserve_range = 2 * PAGE;
	assert_int_equal(viova_va_space_create(&cfg, &vs), -ERANGE);
	cfg.reserve_addr = START + SIZE - PAGE; /* ends after the space */
	assert_int_equal(viova_va_space_create(&cfg, &vs), -ERANGE);
	assert_null(vs);

	/* the whole space may end exactly at 2^64 */
	cfg.start = 1;
	cfg.range = UINT64_MAX;
	cfg.reserve_addr = 0;
	cfg.reserve_range = 0;
	assert_int_equal(viova_va_space_create(&cfg, &vs), 0);
	assert_int_equal(viova_va_space_count(vs), 0);
	viova_va_space_destroy(vs);
	viova_va_space_destroy(NULL);
}

struct insert_err {
	const char *what;
	struct viova_va_mapping m;
	int err;
	enum viova_va_reason reason;
};

static void test_insert_errors(void **state)
{
	/* clang-format off */
	const struct insert_err cases[] = {
		{"zero size", {START, 0, 1, 0, 0}, -EINVAL, VIOVA_VA_ZERO_SIZE},
		{"sparse with object", {START, PAGE, 5, 0, VIOVA_VA_SPARSE}, -EINVAL,
		 VIOVA_VA_BAD_SPARSE},
		{"sparse with offset", {START, PAGE, 0, PAGE, VIOVA_VA_SPARSE}, -EINVAL,
		 VIOVA_VA_BAD_SPARSE},
		{"addr wraps", {UINT64_MAX - PAGE + 2, PAGE, 1, 0, 0}, -EOVERFLOW, VIOVA_VA_WRAP},
		{"offset wraps", {START, 2 * PAGE, 1, UINT64_MAX - PAGE, 0}, -EOVERFLOW,
		 VIOVA_VA_OBJ_WRAP},
		{"below start", {START - PAGE, PAGE, 1, 0, 0}, -ERANGE, VIOVA_VA_OUT_OF_SPACE},
		{"straddles start", {START - PAGE, 2 * PAGE, 1, 0, 0}, -ERANGE,
		 VIOVA_VA_OUT_OF_SPACE},
		{"past end", {START + SIZE, PAGE, 1, 0, 0}, -ERANGE, VIOVA_VA_OUT_OF_SPACE},
		{"straddles end", {START + SIZE - PAGE, 2 * PAGE, 1, 0, 0}, -ERANGE,
		 VIOVA_VA_OUT_OF_SPACE},
		{"inside reserved", {RSV + PAGE, PAGE, 1, 0, 0}, -EACCES, VIOVA_VA_RESERVED},
		{"over reserved start", {RSV - PAGE, 2 * PAGE, 1, 0, 0}, -EACCES,
		 VIOVA_VA_RESERVED},
		{"over reserved end", {RSV + RSV_SIZE - PAGE, 2 * PAGE, 1, 0, 0}, -EACCES,
		 VIOVA_VA_RESERVED},
		{"covers reserved", {RSV - PAGE, RSV_SIZE + 2 * PAGE, 1, 0, 0}, -EACCES,
		 VIOVA_VA_RESERVED},
		{"exact overlap", {START + 0x10000, 0x2000, 9, 0, 0}, -EEXIST, VIOVA_VA_OVERLAP},
		{"overlap left", {START + 0xf000, 0x2000, 9, 0, 0}, -EEXIST, VIOVA_VA_OVERLAP},
		{"overlap right", {START + 0x11000, 0x2000, 9, 0, 0}, -EEXIST, VIOVA_VA_OVERLAP},
		{"contains", {START + 0x8000, 0x10000, 9, 0, 0}, -EEXIST, VIOVA_VA_OVERLAP},
		{"contained", {START + 0x10800, 0x100, 9, 0, 0}, -EEXIST, VIOVA_VA_OVERLAP},
	};
	/* clang-format on */
	struct viova_va_space *vs = mk(0);
	struct viova_va_reject why;
	size_t i;

	(void)state;
	ins(vs, START + 0x10000, 0x2000, 7, 0x3000);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct insert_err *c = &cases[i];

		memset(&why, 0xa5, sizeof(why));
		print_message("insert error: %s\n", c->what);
		assert_int_equal(viova_va_space_check(vs, &c->m, NULL), c->err);
		assert_int_equal(viova_va_space_insert(vs, &c->m, &why), c->err);
		assert_int_equal(why.err, c->err);
		assert_int_equal(why.reason, c->reason);
		assert_int_equal(why.addr, c->m.addr);
		assert_int_equal(why.range, c->m.range);
		if (c->reason == VIOVA_VA_OVERLAP)
			assert_mapping(&why.conflict, START + 0x10000, 0x2000, 7, 0x3000);
		if (c->reason == VIOVA_VA_RESERVED) {
			assert_int_equal(why.bound_addr, RSV);
			assert_int_equal(why.bound_range, RSV_SIZE);
		}
		if (c->reason == VIOVA_VA_OUT_OF_SPACE) {
			assert_int_equal(why.bound_addr, START);
			assert_int_equal(why.bound_range, SIZE);
		}
		assert_int_equal(viova_va_space_count(vs), 1);
		check_ok(vs);
	}

	/* the five classes the host distinguishes have five distinct codes */
	{
		const int codes[] = {-ERANGE, -EACCES, -EEXIST, -EINVAL, -EOVERFLOW, -ENOSPC};
		size_t a, b;

		for (a = 0; a < 6; a++)
			for (b = a + 1; b < 6; b++)
				assert_int_not_equal(codes[a], codes[b]);
	}

	/* adjacent on both sides is not an overlap */
	ins(vs, START + 0xf000, 0x1000, 8, 0);
	ins(vs, START + 0x12000, 0x1000, 8, 0x1000);
	/* right up to the reserved region and right after it is fine */
	ins(vs, RSV - PAGE, PAGE, 3, 0);
	ins(vs, RSV + RSV_SIZE, PAGE, 3, PAGE);
	/* first and last page of the space */
	ins(vs, START, PAGE, 4, 0);
	ins(vs, START + SIZE - PAGE, PAGE, 4, PAGE);
	assert_int_equal(viova_va_space_count(vs), 7);
	check_ok(vs);
	viova_va_space_destroy(vs);
}

static void test_insert_limit(void **state)
{
	struct viova_va_space *vs = mk(2);
	struct viova_va_mapping m = M(START + 0x4000, PAGE, 1, 0);
	struct viova_va_reject why;
	char buf[256];

	(void)state;
	ins(vs, START, PAGE, 1, 0);
	ins(vs, START + 0x2000, PAGE, 1, 0);
	assert_int_equal(viova_va_space_insert(vs, &m, &why), -ENOSPC);
	assert_int_equal(why.reason, VIOVA_VA_LIMIT);
	assert_int_equal(why.limit, 2);
	viova_va_reject_format(&why, "buffer", buf, sizeof(buf));
	assert_non_null(strstr(buf, "limit of 2 mappings"));
	/* an overlap is reported as an overlap even at the limit */
	m.addr = START;
	assert_int_equal(viova_va_space_insert(vs, &m, &why), -EEXIST);
	assert_int_equal(viova_va_space_remove(vs, START, PAGE, NULL), 0);
	m.addr = START + 0x4000;
	assert_int_equal(viova_va_space_insert(vs, &m, &why), 0);
	assert_int_equal(why.reason, VIOVA_VA_OK);
	check_ok(vs);
	viova_va_space_destroy(vs);
}

static void test_reject_format(void **state)
{
	struct viova_va_space *vs = mk(0);
	struct viova_va_mapping m = M(START + 0x1000, 0x2000, 3, 0);
	struct viova_va_reject why;
	char buf[256], small[16];
	int n;

	(void)state;
	ins(vs, START + 0x2000, 0x1000, 7, 0);
	assert_int_equal(viova_va_space_insert(vs, &m, &why), -EEXIST);
	n = viova_va_reject_format(&why, "buffer", buf, sizeof(buf));
	assert_string_equal(buf, "range 0x101000+0x2000 overlaps mapping of buffer 7 at "
				 "0x102000+0x1000: unmap it first or choose a free range");
	assert_int_equal(n, (int)strlen(buf));
	/* snprintf semantics: truncated, NUL-terminated, full length returned */
	assert_int_equal(viova_va_reject_format(&why, "buffer", small, sizeof(small)), n);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_int_equal(viova_va_reject_format(&why, "buffer", NULL, 0), n);
	viova_va_reject_format(&why, NULL, buf, sizeof(buf));
	assert_non_null(strstr(buf, "overlaps mapping of object 7 at 0x102000+0x1000"));

	m = M(RSV, PAGE, 3, 0);
	assert_int_equal(viova_va_space_insert(vs, &m, &why), -EACCES);
	viova_va_reject_format(&why, NULL, buf, sizeof(buf));
	assert_string_equal(buf, "range 0x1f0000+0x1000 overlaps the reserved region "
				 "0x1f0000+0x8000: choose a range outside it");
	m = M(START + SIZE, PAGE, 3, 0);
	assert_int_equal(viova_va_space_insert(vs, &m, &why), -ERANGE);
	viova_va_reject_format(&why, NULL, buf, sizeof(buf));
	assert_string_equal(buf, "range 0x200000+0x1000 is outside the address space "
				 "0x100000+0x100000: choose a range inside it");
	m = M(START, 0, 3, 0);
	assert_int_equal(viova_va_space_insert(vs, &m, &why), -EINVAL);
	viova_va_reject_format(&why, NULL, buf, sizeof(buf));
	assert_non_null(strstr(buf, "is empty"));
	m = M(UINT64_MAX, 2, 3, 0);
	assert_int_equal(viova_va_space_insert(vs, &m, &why), -EOVERFLOW);
	viova_va_reject_format(&why, NULL, buf, sizeof(buf));
	assert_non_null(strstr(buf, "wraps"));
	assert_string_equal(viova_va_reason_name(VIOVA_VA_OVERLAP), "overlap");
	assert_string_equal(viova_va_reason_name(VIOVA_VA_RESERVED), "reserved");

	/* a sparse conflict has no object to name */
	m = M(START + 0x8000, PAGE, 0, 0);
	m.flags = VIOVA_VA_SPARSE;
	assert_int_equal(viova_va_space_insert(vs, &m, NULL), 0);
	m = M(START + 0x8000, PAGE, 3, 0);
	assert_int_equal(viova_va_space_insert(vs, &m, &why), -EEXIST);
	viova_va_reject_format(&why, "buffer", buf, sizeof(buf));
	assert_non_null(strstr(buf, "overlaps sparse mapping at 0x108000+0x1000"));
	viova_va_space_destroy(vs);
}

static void test_find(void **state)
{
	struct viova_va_space *vs = mk(0);
	struct viova_va_mapping m;
	const uint64_t A = START + 0x10000, B = START + 0x12000, C = START + 0x20000;

	(void)state;
	ins(vs, A, 0x2000, 1, 0);      /* A [0x110000, 0x112000) */
	ins(vs, B, 0x1000, 2, 0x5000); /* B [0x112000, 0x113000), adjacent to A */
	ins(vs, C, 0x4000, 1, 0x2000); /* C [0x120000, 0x124000), after a gap */

	assert_int_equal(viova_va_space_find(vs, A, 0x2000, &m), 0);
	assert_mapping(&m, A, 0x2000, 1, 0);
	assert_int_equal(viova_va_space_find(vs, A, 0x1000, &m), -ENOENT);
	assert_int_equal(viova_va_space_find(vs, A + 0x1000, 0x1000, &m), -ENOENT);
	assert_int_equal(viova_va_space_find(vs, A, 0, &m), -ENOENT);

	assert_int_equal(viova_va_space_find_first(vs, START, 0x10001, &m), 0);
	assert_mapping(&m, A, 0x2000, 1, 0);
	assert_int_equal(viova_va_space_find_first(vs, START, 0x10000, &m), -ENOENT);
	assert_int_equal(viova_va_space_find_first(vs, A + 0x1fff, 0x10, &m), 0);
	assert_mapping(&m, A, 0x2000, 1, 0);
	assert_int_equal(viova_va_space_find_first(vs, A + 0x2000, 1, &m), 0);
	assert_mapping(&m, B, 0x1000, 2, 0x5000);
	assert_int_equal(viova_va_space_find_first(vs, B + 0x1000, C - B - 0x1000, &m), -ENOENT);
	assert_int_equal(viova_va_space_find_first(vs, B + 0x1000, C - B - 0xfff, &m), 0);
	assert_mapping(&m, C, 0x4000, 1, 0x2000);
	assert_int_equal(viova_va_space_find_first(vs, C + 0x3fff, 1, NULL), 0);
	assert_int_equal(viova_va_space_find_first(vs, C + 0x4000, 0x1000, NULL), -ENOENT);
	assert_int_equal(viova_va_space_find_first(vs, UINT64_MAX, 2, NULL), -ENOENT);

	/* prev / next only when adjacent */
	assert_int_equal(viova_va_space_find_prev(vs, B, &m), 0);
	assert_mapping(&m, A, 0x2000, 1, 0);
	assert_int_equal(viova_va_space_find_next(vs, A + 0x2000, &m), 0);
	assert_mapping(&m, B, 0x1000, 2, 0x5000);
	assert_int_equal(viova_va_space_find_prev(vs, C, &m), -ENOENT);
	assert_int_equal(viova_va_space_find_next(vs, B + 0x1000, &m), -ENOENT);
	assert_int_equal(viova_va_space_find_prev(vs, A, &m), -ENOENT);
	assert_int_equal(viova_va_space_find_prev(vs, A + 0x1000, &m), -ENOENT); /* inside A */
	assert_int_equal(viova_va_space_find_next(vs, A + 0x1000, &m), -ENOENT);
	assert_int_equal(viova_va_space_find_prev(vs, 0, &m), -ENOENT);
	assert_int_equal(viova_va_space_find_prev(vs, C + 0x4000, &m), 0);
	assert_mapping(&m, C, 0x4000, 1, 0x2000);

	/* interval_empty: mappings and the reserved region are occupied */
	assert_true(viova_va_space_interval_empty(vs, START, 0x10000));
	assert_false(viova_va_space_interval_empty(vs, START, 0x10001));
	assert_true(viova_va_space_interval_empty(vs, B + 0x1000, C - B - 0x1000));
	assert_false(viova_va_space_interval_empty(vs, B + 0xfff, 2));
	assert_false(viova_va_space_interval_empty(vs, RSV + RSV_SIZE - 1, PAGE));
	assert_true(viova_va_space_interval_empty(vs, RSV + RSV_SIZE, PAGE));
	assert_true(viova_va_space_interval_empty(vs, RSV - PAGE, PAGE));
	assert_true(viova_va_space_interval_empty(vs, A, 0));
	viova_va_space_destroy(vs);
}

static void test_remove(void **state)
{
	struct viova_va_space *vs = mk(0);
	struct viova_va_mapping m;

	(void)state;
	ins(vs, START, 0x2000, 1, 0x1000);
	ins(vs, START + 0x2000, 0x2000, 1, 0x3000);
	assert_int_equal(viova_va_space_remove(vs, START, 0x1000, &m), -ENOENT);
	assert_int_equal(viova_va_space_remove(vs, START + 0x1000, 0x1000, &m), -ENOENT);
	assert_int_equal(viova_va_space_remove(vs, START, 0x4000, &m), -ENOENT);
	assert_int_equal(viova_va_space_remove(vs, START, 0, &m), -ENOENT);
	assert_int_equal(viova_va_space_count(vs), 2);
	assert_int_equal(viova_va_space_remove(vs, START, 0x2000, &m), 0);
	assert_mapping(&m, START, 0x2000, 1, 0x1000);
	assert_int_equal(viova_va_space_find(vs, START, 0x2000, NULL), -ENOENT);
	assert_int_equal(viova_va_space_count(vs), 1);
	assert_true(viova_va_space_obj_mapped(vs, 1));
	check_ok(vs);
	assert_int_equal(viova_va_space_remove(vs, START + 0x2000, 0x2000, NULL), 0);
	assert_false(viova_va_space_obj_mapped(vs, 1));
	assert_int_equal(viova_va_space_count(vs), 0);
	assert_int_equal(viova_va_space_remove(vs, START + 0x2000, 0x2000, NULL), -ENOENT);
	check_ok(vs);
	viova_va_space_destroy(vs);
}

static void test_iter_range(void **state)
{
	struct viova_va_space *vs = mk(0);
	struct viova_va_iter it;
	struct viova_va_mapping m;
	uint64_t seen[8];
	unsigned int n = 0, i;

	(void)state;
	/* inserted out of order; iteration is by address */
	for (i = 0; i < 6; i++)
		ins(vs, START + ((i * 5) % 6) * 0x4000, 0x2000, i, 0); /* slots 0 5 4 3 2 1 */
	viova_va_space_iter_range(vs, &it, START + 0x6000, 0x8000);    /* [0x106000, 0x10e000) */
	while (viova_va_iter_next(&it, &m) && n < 8)
		seen[n++] = m.addr;
	assert_int_equal(it.err, 0);
	assert_int_equal(n, 2);
	assert_int_equal(seen[0], START + 0x8000);
	assert_int_equal(seen[1], START + 0xc000);

	/* partial overlaps at both ends are included */
	n = 0;
	viova_va_space_iter_range(vs, &it, START + 0x1fff, 0x4002); /* [0x101fff, 0x106001) */
	while (viova_va_iter_next(&it, &m) && n < 8)
		seen[n++] = m.addr;
	assert_int_equal(n, 2);
	assert_int_equal(seen[0], START);
	assert_int_equal(seen[1], START + 0x4000);

	/* the whole space */
	n = 0;
	viova_va_space_iter_range(vs, &it, START, SIZE);
	while (viova_va_iter_next(&it, &m) && n < 8) {
		if (n)
			assert_true(m.addr > seen[n - 1]);
		seen[n++] = m.addr;
	}
	assert_int_equal(n, 6);

	/* nothing in a gap, nothing for a zero range */
	viova_va_space_iter_range(vs, &it, START + 0x2000, 0x2000);
	assert_false(viova_va_iter_next(&it, &m));
	viova_va_space_iter_range(vs, &it, START, 0);
	assert_false(viova_va_iter_next(&it, &m));
	assert_int_equal(it.err, 0);

	/* a change under the iterator stops it with -ESTALE */
	viova_va_space_iter_range(vs, &it, START, SIZE);
	assert_true(viova_va_iter_next(&it, &m));
	ins(vs, START + 0x40000, PAGE, 9, 0);
	assert_false(viova_va_iter_next(&it, &m));
	assert_int_equal(it.err, -ESTALE);
	viova_va_space_destroy(vs);
}

static void test_obj_links(void **state)
{
	struct viova_va_space *vs = mk(0);
	struct viova_va_iter it;
	struct viova_va_mapping m, sp = M(START + 0x30000, PAGE, 0, 0);
	uint64_t mask = 0;
	unsigned int n = 0;

	(void)state;
	ins(vs, START + 0x8000, PAGE, 5, 0x3000);
	ins(vs, START, PAGE, 5, 0x1000);
	ins(vs, START + 0x4000, PAGE, 6, 0);
	ins(vs, START + 0x10000, PAGE, 5, 0x7000);
	sp.flags = VIOVA_VA_SPARSE;
	assert_int_equal(viova_va_space_insert(vs, &sp, NULL), 0);

	viova_va_space_iter_obj(vs, &it, 5);
	while (viova_va_iter_next(&it, &m)) {
		assert_int_equal(m.obj, 5);
		mask |= 1ull << ((m.addr - START) / 0x4000);
		n++;
	}
	assert_int_equal(n, 3);
	assert_int_equal(mask, (1ull << 0) | (1ull << 2) | (1ull << 4));
	assert_true(viova_va_space_obj_mapped(vs, 5));
	assert_true(viova_va_space_obj_mapped(vs, 6));
	assert_false(viova_va_space_obj_mapped(vs, 0)); /* sparse mappings have no object */
	assert_false(viova_va_space_obj_mapped(vs, 7));
	viova_va_space_iter_obj(vs, &it, 7);
	assert_false(viova_va_iter_next(&it, &m));

	/* unlinking from the middle, head and tail of the list */
	assert_int_equal(viova_va_space_remove(vs, START, PAGE, NULL), 0);
	check_ok(vs);
	n = 0;
	viova_va_space_iter_obj(vs, &it, 5);
	while (viova_va_iter_next(&it, &m))
		n++;
	assert_int_equal(n, 2);
	assert_int_equal(viova_va_space_remove(vs, START + 0x10000, PAGE, NULL), 0);
	assert_int_equal(viova_va_space_remove(vs, START + 0x8000, PAGE, NULL), 0);
	assert_false(viova_va_space_obj_mapped(vs, 5));
	assert_true(viova_va_space_obj_mapped(vs, 6));
	check_ok(vs);
	viova_va_space_destroy(vs);
}

/* The space may end at 2^64: the last byte is UINT64_MAX and nothing overflows. */
static void test_top_of_space(void **state)
{
	struct viova_va_space_config cfg = {.start = UINT64_MAX - 0xffff, .range = 0x10000};
	struct viova_va_space *vs;
	struct viova_va_ops *ops;
	struct viova_va_mapping m = M(UINT64_MAX - 0xfff, 0x1000, 1, 0), got;

	(void)state;
	assert_int_equal(viova_va_space_create(&cfg, &vs), 0);
	assert_int_equal(viova_va_ops_create(&ops), 0);
	assert_int_equal(viova_va_space_insert(vs, &m, NULL), 0);
	assert_int_equal(viova_va_space_find_first(vs, UINT64_MAX, 1, &got), 0);
	assert_int_equal(got.addr, UINT64_MAX - 0xfff);
	assert_int_equal(viova_va_space_find_prev(vs, UINT64_MAX - 0xfff, NULL), -ENOENT);
	assert_false(viova_va_space_interval_empty(vs, UINT64_MAX, 1));
	m.range = 0x1001;
	assert_int_equal(viova_va_space_insert(vs, &m, NULL), -EOVERFLOW);
	/* split the top mapping and unmap its last page */
	assert_int_equal(viova_va_space_sm_unmap(vs, UINT64_MAX, 1, ops, NULL), 0);
	assert_int_equal(viova_va_ops_count(ops), 1);
	assert_true(viova_va_ops_at(ops, 0)->has_prev);
	assert_false(viova_va_ops_at(ops, 0)->has_next);
	assert_int_equal(viova_va_space_apply(vs, ops), 0);
	assert_int_equal(viova_va_space_find(vs, UINT64_MAX - 0xfff, 0xfff, NULL), 0);
	check_ok(vs);
	viova_va_ops_destroy(ops);
	viova_va_space_destroy(vs);
}

/* Many mappings: the arena grows chunk by chunk, the hash rehashes, the tree stays balanced. */
static void test_grow_and_shrink(void **state)
{
	struct viova_va_space_config cfg = {.start = 0, .range = 1ull << 40};
	struct viova_va_space *vs;
	const unsigned int n = 5000;
	unsigned int i;
	size_t mem;

	(void)state;
	assert_int_equal(viova_va_space_create(&cfg, &vs), 0);
	for (i = 0; i < n; i++) {
		uint64_t slot = (uint64_t)i * 7919 % n; /* a permutation: 7919 is prime to n */

		ins(vs, slot * 2 * PAGE, PAGE, slot / 3, slot * PAGE);
	}
	assert_int_equal(viova_va_space_count(vs), n);
	check_ok(vs);
	mem = viova_va_space_mem_bytes(vs);
	print_message("%u mappings, %zu bytes, %.1f bytes per mapping\n", n, mem, (double)mem / n);
	assert_true(mem / n <= 96 + 16); /* at this size one partly used chunk is still visible */
	for (i = 0; i < n; i += 2)
		assert_int_equal(viova_va_space_remove(vs, (uint64_t)i * 2 * PAGE, PAGE, NULL), 0);
	assert_int_equal(viova_va_space_count(vs), n / 2);
	check_ok(vs);
	for (i = 0; i < n; i++)
		assert_int_equal(viova_va_space_find(vs, (uint64_t)i * 2 * PAGE, PAGE, NULL),
				 i % 2 ? 0 : -ENOENT);
	viova_va_space_destroy(vs);
}

/* The debug checker must notice each kind of damage (else the model test proves nothing). */
static void test_debug_check_detects(void **state)
{
	struct viova_va_space *vs;
	char msg[256];
	unsigned int i, kind;

	(void)state;
	for (kind = 0; kind < 7; kind++) {
		struct vas_node *n, saved;
		uint32_t idx;

		vs = mk(0);
		for (i = 0; i < 16; i++)
			ins(vs, START + i * 0x2000, PAGE, i % 3, 0);
		check_ok(vs);
		idx = vas_lower_bound(vs, START + 5 * 0x2000);
		n = vas_n(vs, idx);
		saved = *n;
		switch (kind) {
		case 0: /* overlap with the next mapping */
			n->range = 0x2000 + 1;
			break;
		case 1: /* out of order */
			n->addr = START + 15 * 0x2000 + 0x1000;
			break;
		case 2: /* parent link */
			n->parent ^= 1;
			break;
		case 3: /* colour: recolouring breaks either red-red or black height */
			n->parent ^= VAS_RED;
			break;
		case 4: /* object key no longer matches its list */
			n->obj = 77;
			break;
		case 5: /* object back link */
			n->oprev = n->oprev ? VAS_NIL : 1;
			break;
		case 6: /* into the reserved region */
			vs->rsv_addr = START + 5 * 0x2000;
			vs->rsv_last = vs->rsv_addr;
			break;
		}
		assert_int_equal(viova_va_space_debug_check(vs, msg, sizeof(msg)), -EUCLEAN);
		print_message("corruption %u detected: %s\n", kind, msg);
		assert_true(strlen(msg) > 0);
		*n = saved;
		vs->rsv_addr = RSV;
		vs->rsv_last = RSV + RSV_SIZE - 1;
		check_ok(vs);
		viova_va_space_destroy(vs);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_create_errors),
	    cmocka_unit_test(test_insert_errors),
	    cmocka_unit_test(test_insert_limit),
	    cmocka_unit_test(test_reject_format),
	    cmocka_unit_test(test_find),
	    cmocka_unit_test(test_remove),
	    cmocka_unit_test(test_iter_range),
	    cmocka_unit_test(test_obj_links),
	    cmocka_unit_test(test_top_of_space),
	    cmocka_unit_test(test_grow_and_shrink),
	    cmocka_unit_test(test_debug_check_detects),
	};

	return cmocka_run_group_tests_name("va_space", tests, NULL, NULL);
}

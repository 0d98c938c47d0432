/* SPDX-License-Identifier: MIT */
/*
 * test_va_space_model.c - randomized model test of common/va_space*.c.
 *
 * A small space (256 pages, a reserved hole, a quota of 28 mappings) is driven by 60000 random
 * operations with a fixed seed: insert, remove, sm_map (+ apply or drop), sm_unmap (+ apply or
 * drop), object teardown, and lookups. A page-granular reference holds, per page, the object,
 * the object offset, the flags and the id of the mapping covering it; a mapping is a maximal run
 * of pages with the same id. Expected return codes and expected op lists are derived from the
 * reference by brute force (a formulation independent of the tree code). After every operation
 * the space must list exactly the reference's runs and pass the debug checker.
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

#define PAGE 0x1000ull
#define PAGES 256
#define START 0x10000000ull
#define RSV_PAGE 200
#define RSV_PAGES 8
#define MAX_MAPPINGS 28
#define NOBJ 6
#define STEPS 60000

struct pg {
	uint32_t id; /* 0: unmapped */
	uint32_t flags;
	uint64_t obj;
	uint64_t off;
};

struct run {
	int start, len;
	uint32_t flags;
	uint64_t obj, off;
};

static struct pg ref[PAGES];
static uint32_t next_id = 1;
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static struct {
	unsigned int ok[8], err[8], keep, split3, limit, drops, errno_seen[8], max_count;
} st;

static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545F4914F6CDD1Dull;
}

static unsigned int below(unsigned int n)
{
	return (unsigned int)(rnd() % n);
}

static int ref_runs(struct run *r)
{
	int n = 0, p = 0;

	while (p < PAGES) {
		int q = p;

		if (!ref[p].id) {
			p++;
			continue;
		}
		while (q < PAGES && ref[q].id == ref[p].id)
			q++;
		r[n] = (struct run){p, q - p, ref[p].flags, ref[p].obj, ref[p].off};
		n++;
		p = q;
	}
	return n;
}

static uint64_t addr_of(int page)
{
	return START + (uint64_t)(int64_t)page * PAGE;
}

static void compare(const struct viova_va_space *vs)
{
	struct run r[PAGES];
	struct viova_va_iter it;
	struct viova_va_mapping m;
	char msg[256];
	int n = ref_runs(r), i = 0;

	viova_va_space_iter_range(vs, &it, START, PAGES * PAGE);
	while (viova_va_iter_next(&it, &m)) {
		if (i >= n || m.addr != addr_of(r[i].start) || m.range != r[i].len * PAGE ||
		    m.obj != r[i].obj || m.offset != r[i].off || m.flags != r[i].flags) {
			print_error("space mapping 0x%" PRIx64 "+0x%" PRIx64 " obj %" PRIu64
				    " off 0x%" PRIx64 " differs from reference run %d of %d\n",
				    m.addr, m.range, m.obj, m.offset, i, n);
			fail();
		}
		i++;
	}
	assert_int_equal(it.err, 0);
	assert_int_equal(i, n);
	assert_int_equal(viova_va_space_count(vs), (uint32_t)n);
	if ((unsigned int)n > st.max_count)
		st.max_count = (unsigned int)n;
	if (viova_va_space_debug_check(vs, msg, sizeof(msg))) {
		print_error("debug_check: %s\n", msg);
		fail();
	}
}

/* Expected errno of the range checks shared by insert / sm_map / sm_unmap. */
static int expect_range_err(const struct viova_va_mapping *m, bool is_map)
{
	uint64_t last, vlast = START + PAGES * PAGE - 1;

	if (m->range == 0)
		return -EINVAL;
	if (is_map && (m->flags & VIOVA_VA_SPARSE) && (m->obj || m->offset))
		return -EINVAL;
	if (m->addr > UINT64_MAX - (m->range - 1))
		return -EOVERFLOW;
	if (is_map && m->offset > UINT64_MAX - (m->range - 1))
		return -EOVERFLOW;
	last = m->addr + m->range - 1;
	if (m->addr < START || last > vlast)
		return -ERANGE;
	if (!(last < addr_of(RSV_PAGE) || m->addr >= addr_of(RSV_PAGE + RSV_PAGES)))
		return -EACCES;
	return 0;
}

static void note_errno(int err)
{
	static const int codes[] = {-EINVAL, -EOVERFLOW, -ERANGE, -EACCES,
				    -EEXIST, -ENOSPC,	 -ENOENT};
	unsigned int i;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (codes[i] == err)
			st.errno_seen[i]++;
}

/* A random request: mostly valid page ranges, sometimes zero, outside, wrapping or bad sparse. */
static struct viova_va_mapping random_req(void)
{
	struct viova_va_mapping m = {0};
	int p = (int)below(PAGES + 16) - 8;
	unsigned int len = 1 + below(below(4) ? 12 : 40);
	unsigned int dice = below(100);

	m.addr = addr_of(p);
	m.range = len * PAGE;
	m.obj = 1 + below(NOBJ);
	m.offset = below(64) * PAGE;
	m.flags = below(4) == 0 ? 0x2 : 0;
	if (dice < 2) {
		m.range = 0;
	} else if (dice < 3) {
		m.addr = UINT64_MAX - below(4) * PAGE;
	} else if (dice < 4) {
		m.offset = UINT64_MAX - below(4) * PAGE;
	} else if (dice < 12) {
		m.flags = VIOVA_VA_SPARSE;
		m.obj = 0;
		m.offset = 0;
		if (dice == 11)
			m.obj = 3; /* invalid: sparse with an object */
	} else if (dice < 50 && p >= 0 && p < PAGES && ref[p].id) {
		/* continue what is mapped at p, so that keep can be set */
		m.obj = ref[p].obj;
		m.offset = ref[p].off;
		m.flags = ref[p].flags;
		if (m.flags & VIOVA_VA_SPARSE) {
			m.obj = 0;
			m.offset = 0;
		}
	}
	return m;
}

static void ref_set(int p, int len, const struct viova_va_mapping *m, uint32_t id)
{
	int i;

	for (i = 0; i < len; i++) {
		ref[p + i].id = id;
		ref[p + i].obj = m ? m->obj : 0;
		ref[p + i].off = m && !(m->flags & VIOVA_VA_SPARSE) ? m->offset + i * PAGE : 0;
		ref[p + i].flags = m ? m->flags : 0;
	}
}

static int page_of(uint64_t addr)
{
	return (int)((addr - START) / PAGE);
}

/*
 * The op list the reference predicts for [p, p + len): runs intersecting it in address order,
 * then the map if req is not NULL. Returns the number of ops.
 */
static int predict(int p, int len, const struct viova_va_mapping *req, struct viova_va_op *out,
		   int *delta)
{
	struct run r[PAGES];
	int n = ref_runs(r), i, k = 0;

	*delta = 0;
	for (i = 0; i < n; i++) {
		struct viova_va_op *op;
		int rend = r[i].start + r[i].len;

		if (rend <= p || r[i].start >= p + len)
			continue;
		op = &out[k++];
		memset(op, 0, sizeof(*op));
		op->va = (struct viova_va_mapping){addr_of(r[i].start), r[i].len * PAGE, r[i].obj,
						   r[i].off, r[i].flags};
		(*delta)--;
		if (r[i].start < p) {
			op->has_prev = true;
			op->prev = op->va;
			op->prev.range = (uint64_t)(p - r[i].start) * PAGE;
			(*delta)++;
		}
		if (rend > p + len) {
			op->has_next = true;
			op->next = op->va;
			op->next.addr = addr_of(p + len);
			op->next.range = (uint64_t)(rend - p - len) * PAGE;
			op->next.offset = ref[p + len].off;
			(*delta)++;
		}
		op->type = op->has_prev || op->has_next ? VIOVA_VA_OP_REMAP : VIOVA_VA_OP_UNMAP;
		/* keep: same backing in step: offset - address agrees (mod 2^64) */
		if (req && !((r[i].flags | req->flags) & VIOVA_VA_SPARSE) && r[i].obj == req->obj &&
		    r[i].flags == req->flags &&
		    r[i].off - addr_of(r[i].start) == req->offset - req->addr)
			op->keep = true;
	}
	if (req) {
		memset(&out[k], 0, sizeof(out[k]));
		out[k].type = VIOVA_VA_OP_MAP;
		out[k].va = *req;
		k++;
	}
	return k;
}

static bool same_mapping(const struct viova_va_mapping *a, const struct viova_va_mapping *b)
{
	return a->addr == b->addr && a->range == b->range && a->obj == b->obj &&
	       a->offset == b->offset && a->flags == b->flags;
}

static void compare_ops(const struct viova_va_ops *ops, const struct viova_va_op *want, int n)
{
	int i;

	assert_int_equal(viova_va_ops_count(ops), (uint32_t)n);
	for (i = 0; i < n; i++) {
		const struct viova_va_op *op = viova_va_ops_at(ops, (uint32_t)i);

		if (op->type != want[i].type || op->keep != want[i].keep ||
		    op->has_prev != want[i].has_prev || op->has_next != want[i].has_next ||
		    !same_mapping(&op->va, &want[i].va) ||
		    (op->has_prev && !same_mapping(&op->prev, &want[i].prev)) ||
		    (op->has_next && !same_mapping(&op->next, &want[i].next))) {
			print_error("op %d of %d: got type %d keep %d va 0x%" PRIx64 "+0x%" PRIx64
				    ", want type %d keep %d va 0x%" PRIx64 "+0x%" PRIx64 "\n",
				    i, n, op->type, op->keep, op->va.addr, op->va.range,
				    want[i].type, want[i].keep, want[i].va.addr, want[i].va.range);
			fail();
		}
		if (op->keep)
			st.keep++;
		if (op->has_prev && op->has_next)
			st.split3++;
	}
}

static void do_insert(struct viova_va_space *vs)
{
	struct viova_va_mapping m = random_req();
	int want = expect_range_err(&m, true), got, p, i;

	if (!want) {
		p = page_of(m.addr);
		for (i = 0; i < (int)(m.range / PAGE); i++)
			if (ref[p + i].id)
				want = -EEXIST;
		if (!want && viova_va_space_count(vs) >= MAX_MAPPINGS)
			want = -ENOSPC;
	}
	got = viova_va_space_insert(vs, &m, NULL);
	assert_int_equal(got, want);
	if (!got) {
		ref_set(page_of(m.addr), (int)(m.range / PAGE), &m, next_id++);
		st.ok[0]++;
	} else {
		st.err[0]++;
		note_errno(got);
	}
}

static void do_remove(struct viova_va_space *vs)
{
	struct run r[PAGES];
	int n = ref_runs(r), i;
	struct viova_va_mapping m;

	if (n && below(4)) {
		i = (int)below((unsigned int)n);
		if (below(5) == 0) {
			/* right start, wrong size */
			assert_int_equal(viova_va_space_remove(vs, addr_of(r[i].start),
							       (r[i].len + 1) * PAGE, NULL),
					 -ENOENT);
			st.err[1]++;
			return;
		}
		assert_int_equal(
		    viova_va_space_remove(vs, addr_of(r[i].start), r[i].len * PAGE, &m), 0);
		assert_int_equal(m.obj, r[i].obj);
		ref_set(r[i].start, r[i].len, NULL, 0);
		st.ok[1]++;
		return;
	}
	i = (int)below(PAGES);
	if (ref[i].id && (i == 0 || ref[i - 1].id != ref[i].id) &&
	    (i == PAGES - 1 || ref[i + 1].id != ref[i].id))
		return; /* a one-page run: removing it would succeed, covered above */
	assert_int_equal(viova_va_space_remove(vs, addr_of(i), PAGE, NULL), -ENOENT);
	st.err[1]++;
}

/* Apply (or drop) ops and update the reference for [p, p + len) := req (or nothing). */
static void finish(struct viova_va_space *vs, struct viova_va_ops *ops, int p, int len,
		   const struct viova_va_mapping *req)
{
	if (below(5) == 0) {
		viova_va_ops_reset(ops);
		st.drops++;
		return; /* compare() will prove nothing changed */
	}
	assert_int_equal(viova_va_space_apply(vs, ops), 0);
	ref_set(p, len, req, req ? next_id++ : 0);
	assert_int_equal(viova_va_space_apply(vs, ops), -ESTALE);
}

static void do_sm(struct viova_va_space *vs, struct viova_va_ops *ops, bool map)
{
	struct viova_va_op want[PAGES + 1];
	struct viova_va_mapping m = random_req();
	int err = expect_range_err(&m, map), got, n = 0, delta = 0, p = 0, len = 0;
	int idx = map ? 2 : 3;

	if (!err) {
		p = page_of(m.addr);
		len = (int)(m.range / PAGE);
		n = predict(p, len, map ? &m : NULL, want, &delta);
		if ((int)viova_va_space_count(vs) + delta + (map ? 1 : 0) > MAX_MAPPINGS) {
			err = -ENOSPC;
			st.limit++;
		}
	}
	got = map ? viova_va_space_sm_map(vs, &m, ops, NULL)
		  : viova_va_space_sm_unmap(vs, m.addr, m.range, ops, NULL);
	assert_int_equal(got, err);
	if (got) {
		assert_int_equal(viova_va_ops_count(ops), 0);
		st.err[idx]++;
		note_errno(got);
		return;
	}
	compare_ops(ops, want, n);
	finish(vs, ops, p, len, map ? &m : NULL);
	st.ok[idx]++;
}

static void do_teardown(struct viova_va_space *vs, struct viova_va_ops *ops)
{
	struct viova_va_op want[PAGES];
	struct run r[PAGES];
	uint64_t obj = 1 + below(NOBJ);
	int n = ref_runs(r), i, k = 0;

	for (i = 0; i < n; i++) {
		if ((r[i].flags & VIOVA_VA_SPARSE) || r[i].obj != obj)
			continue;
		memset(&want[k], 0, sizeof(want[k]));
		want[k].type = VIOVA_VA_OP_UNMAP;
		want[k].va = (struct viova_va_mapping){addr_of(r[i].start), r[i].len * PAGE,
						       r[i].obj, r[i].off, r[i].flags};
		k++;
	}
	assert_int_equal(viova_va_space_obj_mapped(vs, obj), k > 0);
	assert_int_equal(viova_va_space_obj_unmap_ops(vs, obj, ops), 0);
	compare_ops(ops, want, k);
	if (below(5) == 0) {
		viova_va_ops_reset(ops);
		st.drops++;
		return;
	}
	assert_int_equal(viova_va_space_apply(vs, ops), 0);
	for (i = 0; i < PAGES; i++)
		if (ref[i].id && !(ref[i].flags & VIOVA_VA_SPARSE) && ref[i].obj == obj)
			ref_set(i, 1, NULL, 0);
	assert_false(viova_va_space_obj_mapped(vs, obj));
	st.ok[4]++;
}

static void do_lookups(const struct viova_va_space *vs)
{
	int p = (int)below(PAGES), len = 1 + (int)below(16), i, first = -1;
	struct viova_va_mapping m;
	bool empty = true;
	int got;

	for (i = p; i < p + len && i < PAGES; i++) {
		if (ref[i].id && first < 0)
			first = i;
		if (ref[i].id || (i >= RSV_PAGE && i < RSV_PAGE + RSV_PAGES))
			empty = false;
	}
	assert_int_equal(viova_va_space_interval_empty(vs, addr_of(p), len * PAGE), empty);
	got = viova_va_space_find_first(vs, addr_of(p), len * PAGE, &m);
	if (first < 0) {
		assert_int_equal(got, -ENOENT);
	} else {
		int s = first;

		assert_int_equal(got, 0);
		while (s > 0 && ref[s - 1].id == ref[first].id)
			s--;
		assert_int_equal(m.addr, addr_of(s));
		/* exact find of that mapping, and of a range one page shorter */
		assert_int_equal(viova_va_space_find(vs, m.addr, m.range, NULL), 0);
		assert_int_equal(viova_va_space_find(vs, m.addr, m.range - PAGE, NULL), -ENOENT);
	}
	/* prev/next: adjacent only */
	got = viova_va_space_find_prev(vs, addr_of(p), &m);
	if (p > 0 && ref[p - 1].id && ref[p].id != ref[p - 1].id) {
		assert_int_equal(got, 0);
		assert_int_equal(m.addr + m.range, addr_of(p));
	} else {
		assert_int_equal(got, -ENOENT);
	}
	got = viova_va_space_find_next(vs, addr_of(p), &m);
	if (ref[p].id && (p == 0 || ref[p - 1].id != ref[p].id)) {
		assert_int_equal(got, 0);
		assert_int_equal(m.addr, addr_of(p));
	} else {
		assert_int_equal(got, -ENOENT);
	}
	st.ok[5]++;
}

static void test_model(void **state)
{
	struct viova_va_space_config cfg = {
	    .start = START,
	    .range = PAGES * PAGE,
	    .reserve_addr = addr_of(RSV_PAGE),
	    .reserve_range = RSV_PAGES * PAGE,
	    .max_mappings = MAX_MAPPINGS,
	};
	struct viova_va_space *vs;
	struct viova_va_ops *ops;
	unsigned int step, i;

	(void)state;
	assert_int_equal(viova_va_space_create(&cfg, &vs), 0);
	assert_int_equal(viova_va_ops_create(&ops), 0);
	for (step = 0; step < STEPS; step++) {
		unsigned int dice = below(100);

		if (dice < 25)
			do_insert(vs);
		else if (dice < 35)
			do_remove(vs);
		else if (dice < 65)
			do_sm(vs, ops, true);
		else if (dice < 85)
			do_sm(vs, ops, false);
		else if (dice < 89)
			do_teardown(vs, ops);
		else
			do_lookups(vs);
		compare(vs);
	}
	print_message(
	    "insert %u/%u remove %u/%u sm_map %u/%u sm_unmap %u/%u teardown %u "
	    "lookups %u; keep %u, 3-way splits %u, quota hits %u, drops %u, most mappings %u\n",
	    st.ok[0], st.err[0], st.ok[1], st.err[1], st.ok[2], st.err[2], st.ok[3], st.err[3],
	    st.ok[4], st.ok[5], st.keep, st.split3, st.limit, st.drops, st.max_count);
	print_message(
	    "errno seen: EINVAL %u EOVERFLOW %u ERANGE %u EACCES %u EEXIST %u ENOSPC %u\n",
	    st.errno_seen[0], st.errno_seen[1], st.errno_seen[2], st.errno_seen[3],
	    st.errno_seen[4], st.errno_seen[5]);
	/* the generator must reach every path, or the comparison above proves little */
	for (i = 0; i < 6; i++)
		assert_true(st.ok[i] > 500);
	for (i = 0; i < 6; i++)
		assert_true(st.errno_seen[i] > 20);
	assert_true(st.keep > 500);
	assert_true(st.split3 > 200);
	assert_true(st.drops > 500);
	viova_va_ops_destroy(ops);
	viova_va_space_destroy(vs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_model),
	};

	return cmocka_run_group_tests_name("va_space_model", tests, NULL, NULL);
}

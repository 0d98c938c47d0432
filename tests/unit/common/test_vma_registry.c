// SPDX-License-Identifier: MIT
/*
 * test_vma_registry.c - common/vma_registry.c: IGT's reopen / open-vm refcounting semantics,
 * configuration mismatches, stale handles, and IGT's parallel test (6 threads, random sizes and
 * alignments, one shared heap, no overlap ever).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "viova/vma.h"

static const struct viova_vma_config cfg48 = {.start = 0x10000, .end = 1ull << 48};

static uint32_t refs_of(struct viova_vma_registry *reg, uint64_t h)
{
	uint32_t refs = 0;

	assert_int_equal(viova_vma_refcount(reg, h, &refs), 0);
	return refs;
}

static struct viova_vma *heap_of(struct viova_vma_registry *reg, uint64_t h)
{
	struct viova_vma *v = NULL;

	assert_int_equal(viova_vma_get(reg, h, &v), 0);
	return v;
}

/* IGT reopen: the same (device, ctx) twice is one heap; close says "empty" only at the end. */
static void test_reopen(void **state)
{
	(void)state;
	struct viova_vma_registry *reg;
	struct viova_vma_key ctx1 = {.device = 3, .owner = VIOVA_VMA_OWNER_CTX, .id = 1};
	struct viova_vma_key ctx2 = {.device = 3, .owner = VIOVA_VMA_OWNER_CTX, .id = 2};
	struct viova_vma_key dev4 = {.device = 4, .owner = VIOVA_VMA_OWNER_CTX, .id = 1};
	uint64_t a, b, c, d, off, off2;
	bool empty = true;

	assert_int_equal(viova_vma_registry_create(&reg), 0);
	assert_int_equal(viova_vma_open(reg, &ctx1, &cfg48, &a), 0);
	assert_int_equal(viova_vma_open(reg, &ctx1, &cfg48, &b), 0);
	assert_int_not_equal(a, b);
	assert_ptr_equal(heap_of(reg, a), heap_of(reg, b));
	assert_int_equal(refs_of(reg, a), 2);

	/* another context or another device is another heap */
	assert_int_equal(viova_vma_open(reg, &ctx2, &cfg48, &c), 0);
	assert_int_equal(viova_vma_open(reg, &dev4, &cfg48, &d), 0);
	assert_ptr_not_equal(heap_of(reg, c), heap_of(reg, a));
	assert_ptr_not_equal(heap_of(reg, d), heap_of(reg, a));

	/* what one handle allocates the other sees */
	assert_int_equal(viova_vma_alloc(heap_of(reg, a), 10, 4096, 0, &off), 0);
	assert_true(viova_vma_is_allocated(heap_of(reg, b), 10, 4096, off));
	assert_int_equal(viova_vma_alloc(heap_of(reg, c), 10, 4096, 0, &off2), 0);
	assert_int_equal(off, off2); /* independent heaps: same first answer */

	assert_int_equal(viova_vma_close(reg, a, &empty), 0);
	assert_false(empty); /* b still holds it */
	assert_int_equal(refs_of(reg, b), 1);
	assert_true(viova_vma_is_allocated(heap_of(reg, b), 10, 4096, off));
	assert_int_equal(viova_vma_close(reg, b, &empty), 0);
	assert_false(empty); /* destroyed with handle 10 still allocated */

	/* heap c: free, then close reports empty */
	assert_int_equal(viova_vma_free(heap_of(reg, c), 10), 0);
	assert_int_equal(viova_vma_close(reg, c, &empty), 0);
	assert_true(empty);

	/* stale handles are refused, never aliased to a newer heap */
	assert_int_equal(viova_vma_close(reg, a, &empty), -ENOENT);
	assert_int_equal(viova_vma_open(reg, &ctx1, &cfg48, &a), 0);
	assert_int_not_equal(a, b);
	assert_int_equal(viova_vma_get(reg, b, &(struct viova_vma *){NULL}), -ENOENT);
	assert_int_equal(refs_of(reg, a), 1);
	/* a fresh heap: what the old one held is gone */
	assert_false(viova_vma_is_allocated(heap_of(reg, a), 10, 4096, off));
	assert_int_equal(viova_vma_close(reg, a, NULL), 0);

	viova_vma_registry_destroy(reg); /* closes d */
}

/* IGT open-vm: open_as shares a VM's heap under another VM id. */
static void test_open_vm(void **state)
{
	(void)state;
	struct viova_vma_registry *reg;
	struct viova_vma_key vm1 = {.device = 3, .owner = VIOVA_VMA_OWNER_VM, .id = 1};
	struct viova_vma_key vm2 = {.device = 3, .owner = VIOVA_VMA_OWNER_VM, .id = 2};
	struct viova_vma_key vm3 = {.device = 3, .owner = VIOVA_VMA_OWNER_VM, .id = 3};
	struct viova_vma_key ctx1 = {.device = 3, .owner = VIOVA_VMA_OWNER_CTX, .id = 1};
	uint64_t h1, h2, h2b, h3, hc, x, off;
	bool empty;

	assert_int_equal(viova_vma_registry_create(&reg), 0);
	assert_int_equal(viova_vma_open(reg, &vm1, &cfg48, &h1), 0);
	assert_int_equal(viova_vma_open_as(reg, h1, 2, &h2), 0);
	assert_ptr_equal(heap_of(reg, h1), heap_of(reg, h2));
	assert_int_equal(refs_of(reg, h1), 2);
	/* opening (dev, vm 2) now finds the shared heap */
	assert_int_equal(viova_vma_open(reg, &vm2, &cfg48, &h2b), 0);
	assert_ptr_equal(heap_of(reg, h2b), heap_of(reg, h1));
	assert_int_equal(refs_of(reg, h1), 3);

	assert_int_equal(viova_vma_alloc(heap_of(reg, h2), 1, 8192, 0, &off), 0);
	assert_true(viova_vma_is_allocated(heap_of(reg, h1), 1, 8192, off));

	/* only VM heaps are shared; an existing other VM id cannot be taken over */
	assert_int_equal(viova_vma_open(reg, &ctx1, &cfg48, &hc), 0);
	assert_int_equal(viova_vma_open_as(reg, hc, 9, &x), -EINVAL);
	assert_int_equal(viova_vma_open(reg, &vm3, &cfg48, &h3), 0);
	assert_int_equal(viova_vma_open_as(reg, h1, 3, &x), -EEXIST);
	assert_int_equal(viova_vma_open_as(reg, 12345, 4, &x), -ENOENT);

	/* the original id may close first: the others keep the heap */
	assert_int_equal(viova_vma_close(reg, h1, &empty), 0);
	assert_false(empty);
	assert_int_equal(viova_vma_close(reg, h2b, &empty), 0);
	assert_false(empty);
	assert_int_equal(viova_vma_free(heap_of(reg, h2), 1), 0);
	assert_int_equal(viova_vma_close(reg, h2, &empty), 0);
	assert_true(empty);
	assert_int_equal(viova_vma_close(reg, h3, &empty), 0);
	assert_true(empty);
	assert_int_equal(viova_vma_close(reg, hc, &empty), 0);
	assert_true(empty);
	viova_vma_registry_destroy(reg);
}

static void test_reopen_mismatch(void **state)
{
	(void)state;
	struct viova_vma_registry *reg;
	struct viova_vma_key k = {.device = 1, .owner = VIOVA_VMA_OWNER_VM, .id = 7};
	struct viova_vma_config c = cfg48;
	uint64_t h, x;

	assert_int_equal(viova_vma_registry_create(&reg), 0);
	assert_int_equal(viova_vma_open(reg, &k, &c, &h), 0);
	/* DEFAULT and HIGH_TO_LOW are the same thing; 0 and 4096 the same default alignment */
	c.strategy = VIOVA_VMA_HIGH_TO_LOW;
	c.default_align = 4096;
	assert_int_equal(viova_vma_open(reg, &k, &c, &x), 0);
	assert_int_equal(viova_vma_close(reg, x, NULL), 0);

	c.strategy = VIOVA_VMA_LOW_TO_HIGH;
	assert_int_equal(viova_vma_open(reg, &k, &c, &x), -EEXIST);
	c = cfg48;
	c.type = VIOVA_VMA_RELOC;
	assert_int_equal(viova_vma_open(reg, &k, &c, &x), -EEXIST);
	c = cfg48;
	c.end -= 4096;
	assert_int_equal(viova_vma_open(reg, &k, &c, &x), -EEXIST);
	c = cfg48;
	c.start = 10;
	c.end = 10;
	assert_int_equal(
	    viova_vma_open(reg, &(struct viova_vma_key){9, VIOVA_VMA_OWNER_VM, 1}, &c, &x),
	    -EINVAL);
	assert_int_equal(viova_vma_open(reg, &(struct viova_vma_key){9, 0, 1}, &cfg48, &x),
			 -EINVAL);
	assert_int_equal(refs_of(reg, h), 1);
	assert_int_equal(viova_vma_close(reg, 0, NULL), -ENOENT);
	viova_vma_registry_destroy(reg);
}

/* ---- IGT parallel: 6 threads share one heap through their own handles ---- */

#define THREADS 6
#define PER_THREAD 2000

struct worker {
	struct viova_vma_registry *reg;
	uint32_t id;
	uint64_t handle;
	uint64_t off[PER_THREAD], size[PER_THREAD], align[PER_THREAD];
	int err;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct viova_vma_key key = {.device = 1, .owner = VIOVA_VMA_OWNER_VM, .id = 1};
	uint64_t h, rng = 0x9e3779b97f4a7c15ull * (w->id + 1);
	struct viova_vma *v;

	if (viova_vma_open(w->reg, &key, &cfg48, &h) || viova_vma_get(w->reg, h, &v)) {
		w->err = __LINE__;
		return NULL;
	}
	w->handle = h;
	for (uint32_t i = 0; i < PER_THREAD; i++) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		w->size[i] = (rng % 32 + 1) * 4096;
		w->align[i] = 4096ull << ((rng >> 32) % 8);
		if (viova_vma_alloc(v, w->id * PER_THREAD + i, w->size[i], w->align[i], &w->off[i]))
			w->err = __LINE__;
	}
	/* everything this thread allocated is still where it was, then goes away */
	for (uint32_t i = 0; i < PER_THREAD; i++)
		if (!viova_vma_is_allocated(v, w->id * PER_THREAD + i, w->size[i], w->off[i]))
			w->err = __LINE__;
	return NULL;
}

static int cmp_range(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	return x[0] < y[0] ? -1 : x[0] > y[0];
}

/*
 * Many keys opened and closed in a random order (the registry's key table grows, and deleting
 * keys shifts colliding entries back): after every close, each key must still name exactly the
 * heap it named before, with the reference count of its open handles; a closed key gets a new
 * heap. A reference array of open handles per key is the model.
 */
#define MANY_KEYS 300
#define MANY_OPENS 3

static void test_many_keys(void **state)
{
	(void)state;
	struct viova_vma_registry *reg;
	struct viova_vma_key keys[MANY_KEYS];
	uint64_t hs[MANY_KEYS][MANY_OPENS];
	struct viova_vma *heap[MANY_KEYS];
	uint32_t open[MANY_KEYS], order[MANY_KEYS * MANY_OPENS], n = 0;
	uint64_t rng = 12345;

	assert_int_equal(viova_vma_registry_create(&reg), 0);
	for (uint32_t k = 0; k < MANY_KEYS; k++) {
		keys[k] = (struct viova_vma_key){.device = k % 7,
						 .owner = k % 2 ? VIOVA_VMA_OWNER_VM
								: VIOVA_VMA_OWNER_CTX,
						 .id = k / 14};
		open[k] = 1 + k % MANY_OPENS;
		for (uint32_t j = 0; j < open[k]; j++) {
			assert_int_equal(viova_vma_open(reg, &keys[k], &cfg48, &hs[k][j]), 0);
			order[n++] = k * MANY_OPENS + j;
		}
		heap[k] = heap_of(reg, hs[k][0]);
	}
	for (uint32_t k = 0; k < MANY_KEYS; k++)
		for (uint32_t j = 0; j < k; j++)
			assert_ptr_not_equal(heap[k], heap[j]);
	for (uint32_t i = n - 1; i > 0; i--) {
		rng = rng * 6364136223846793005ull + 1442695040888963407ull;
		uint32_t j = (uint32_t)((rng >> 33) % (i + 1)), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (uint32_t c = 0; c < n; c++) {
		uint32_t k = order[c] / MANY_OPENS, j = order[c] % MANY_OPENS;
		bool empty = false;

		assert_int_equal(viova_vma_close(reg, hs[k][j], &empty), 0);
		assert_int_equal(viova_vma_close(reg, hs[k][j], NULL), -ENOENT);
		open[k]--;
		assert_int_equal(empty, open[k] == 0); /* only the last close destroys the heap */
		if (c % 16)
			continue;
		for (uint32_t q = 0; q < MANY_KEYS; q++) {
			uint64_t h;

			if (!open[q])
				continue;
			assert_int_equal(viova_vma_open(reg, &keys[q], &cfg48, &h), 0);
			assert_ptr_equal(heap_of(reg, h), heap[q]);
			assert_int_equal(refs_of(reg, h), open[q] + 1);
			assert_int_equal(viova_vma_close(reg, h, NULL), 0);
		}
	}
	/* every key was closed: opening one again makes a new heap with one reference */
	uint64_t h;

	assert_int_equal(viova_vma_open(reg, &keys[0], &cfg48, &h), 0);
	assert_int_equal(refs_of(reg, h), 1);
	viova_vma_registry_destroy(reg);
}

static void test_parallel_threads(void **state)
{
	(void)state;
	static struct worker w[THREADS];
	pthread_t t[THREADS];
	struct viova_vma_registry *reg;

	assert_int_equal(viova_vma_registry_create(&reg), 0);
	for (uint32_t i = 0; i < THREADS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].reg = reg;
		w[i].id = i;
		assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	for (uint32_t i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		if (w[i].err)
			fail_msg("thread %u failed at test_vma_registry.c:%d", i, w[i].err);
	}

	/* no overlap ever, every offset aligned */
	static uint64_t all[THREADS * PER_THREAD][2];
	size_t n = 0;

	for (uint32_t i = 0; i < THREADS; i++)
		for (uint32_t j = 0; j < PER_THREAD; j++) {
			assert_int_equal(w[i].off[j] % w[i].align[j], 0);
			all[n][0] = w[i].off[j];
			all[n][1] = w[i].size[j];
			n++;
		}
	qsort(all, n, sizeof(all[0]), cmp_range);
	for (size_t k = 1; k < n; k++)
		if (all[k - 1][0] + all[k - 1][1] > all[k][0])
			fail_msg("overlap: 0x%llx+0x%llx and 0x%llx",
				 (unsigned long long)all[k - 1][0],
				 (unsigned long long)all[k - 1][1], (unsigned long long)all[k][0]);

	/* one heap behind the 6 handles; free everything from threads' handles, close */
	struct viova_vma_key key = {.device = 1, .owner = VIOVA_VMA_OWNER_VM, .id = 1};
	struct viova_vma *v;
	uint64_t h;
	char why[256];
	bool empty;

	assert_int_equal(viova_vma_open(reg, &key, &cfg48, &h), 0);
	assert_int_equal(refs_of(reg, h), THREADS + 1);
	assert_int_equal(viova_vma_get(reg, h, &v), 0);
	assert_int_equal(viova_vma_check(v, why, sizeof(why)), 0);
	for (uint32_t i = 0; i < THREADS * PER_THREAD; i++)
		assert_int_equal(viova_vma_free(v, i), 0);
	assert_true(viova_vma_is_empty(v));
	/* the threads' handles keep the heap; the last close says it is empty */
	for (uint32_t i = 0; i < THREADS; i++) {
		assert_int_equal(viova_vma_close(reg, w[i].handle, &empty), 0);
		assert_false(empty);
	}
	assert_int_equal(refs_of(reg, h), 1);
	assert_int_equal(viova_vma_close(reg, h, &empty), 0);
	assert_true(empty);
	viova_vma_registry_destroy(reg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reopen),
	    cmocka_unit_test(test_open_vm),
	    cmocka_unit_test(test_reopen_mismatch),
	    cmocka_unit_test(test_many_keys),
	    cmocka_unit_test(test_parallel_threads),
	};

	return cmocka_run_group_tests_name("vma_registry", tests, NULL, NULL);
}

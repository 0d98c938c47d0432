/* SPDX-License-Identifier: MIT */
/*
 * bench_vaspace.c - common/va_space: what the host pays per guest range.
 *
 *   insert_remove  ns per operation (half inserts, half removes) at 1e3, 1e4, 1e5, 1e6 live
 *                  mappings scattered over twice as many slots (SET_IOVA / clear)
 *   find_first     ns per lookup of a random address at the same sizes (GPU access translation)
 *   sm_map_apply   sm_map + apply per second with ~1e5 live mappings (VM_BIND map)
 *   sm_unmap_apply sm_unmap + apply per second with ~1e5 live mappings (VM_BIND unmap)
 *   bytes_per_mapping  heap bytes of the space / live mappings, every mapping its own object
 *                  (the worst case for the object hash) and 16 mappings per object
 *
 * Run with ./scripts/bench.sh vaspace. Fixed seeds: every run does the same work.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_util.h"
#include "viova/va_space.h"

#define PAGE 0x1000ull
#define SLOT (16 * PAGE)

static void die(const char *what, int err)
{
	fprintf(stderr, "bench_vaspace: %s failed: %d\n", what, err);
	exit(1);
}

static struct viova_va_space *mk_space(uint64_t range)
{
	struct viova_va_space_config cfg = {.start = 0, .range = range};
	struct viova_va_space *vs;
	int ret = viova_va_space_create(&cfg, &vs);

	if (ret)
		die("create", ret);
	return vs;
}

static void map_slot(struct viova_va_space *vs, uint64_t slot, uint64_t obj)
{
	struct viova_va_mapping m = {.addr = slot * SLOT, .range = SLOT, .obj = obj};
	int ret = viova_va_space_insert(vs, &m, NULL);

	if (ret)
		die("insert", ret);
}

static void row(uint32_t live, const char *op, double ns, double ops_s)
{
	printf("  %-9u %-16s %12.1f %14.0f\n", live, op, ns, ops_s);
}

/* Random SET_IOVA / clear churn at a fixed number of live mappings. */
static void bench_insert_remove(uint32_t live)
{
	uint32_t nslots = 2 * live, nused = 0, nfree = 0, i;
	uint32_t *used = malloc(nslots * sizeof(*used)), *freel = malloc(nslots * sizeof(*freel));
	struct viova_va_space *vs = mk_space((uint64_t)nslots * SLOT);
	uint64_t seed = 0x1234 + live, t0, t1, iters = live >= 1000000 ? 400000 : 1000000;
	uint64_t hits = 0, *probes = malloc(iters * sizeof(*probes));
	double ns, ns_find;

	if (!used || !freel || !probes)
		die("malloc", -ENOMEM);
	/* a random half of the slots mapped, each by its own object */
	for (i = 0; i < nslots; i++)
		freel[nfree++] = i;
	for (i = 0; i < live; i++) {
		uint32_t k = (uint32_t)(bench_rand(&seed) % nfree), s = freel[k];

		freel[k] = freel[--nfree];
		used[nused++] = s;
		map_slot(vs, s, s);
	}

	t0 = bench_now_ns();
	for (i = 0; i < iters; i++) {
		uint32_t k = (uint32_t)(bench_rand(&seed) % nused), s = used[k];
		uint32_t f = (uint32_t)(bench_rand(&seed) % nfree), t = freel[f];
		int ret = viova_va_space_remove(vs, (uint64_t)s * SLOT, SLOT, NULL);

		if (ret)
			die("remove", ret);
		map_slot(vs, t, t);
		used[k] = t;
		freel[f] = s;
	}
	t1 = bench_now_ns();
	ns = (double)(t1 - t0) / (2.0 * (double)iters);

	/* addresses drawn before timing, so the figure is the lookup alone */
	for (i = 0; i < iters; i++)
		probes[i] = bench_rand(&seed) % ((uint64_t)nslots * SLOT);
	t0 = bench_now_ns();
	for (i = 0; i < iters; i++)
		hits += viova_va_space_find_first(vs, probes[i], 1, NULL) == 0;
	t1 = bench_now_ns();
	ns_find = (double)(t1 - t0) / (double)iters;

	if (viova_va_space_count(vs) != live)
		die("live count", -EINVAL);
	row(live, "insert_remove", ns, 1e9 / ns);
	bench_line("vaspace", "live=%u op=insert_remove ns_per_op=%.1f", live, ns);
	row(live, "find_first", ns_find, 1e9 / ns_find);
	bench_line("vaspace", "live=%u op=find_first ns_per_op=%.1f hit_ratio=%.2f", live, ns_find,
		   (double)hits / (double)iters);
	viova_va_space_destroy(vs);
	free(used);
	free(freel);
	free(probes);
}

/* A random page range of 1..32 pages inside the first `pages` pages. */
static void random_range(uint64_t *seed, uint64_t pages, uint64_t *addr, uint64_t *range)
{
	uint64_t len = 1 + bench_rand(seed) % 32;

	*addr = (bench_rand(seed) % (pages - len)) * PAGE;
	*range = len * PAGE;
}

static struct viova_va_space *packed_space(uint32_t live)
{
	struct viova_va_space *vs = mk_space((uint64_t)live * SLOT);
	uint32_t i;

	for (i = 0; i < live; i++)
		map_slot(vs, i, i);
	return vs;
}

static void bench_sm(uint32_t live)
{
	struct viova_va_space *vs = packed_space(live);
	struct viova_va_ops *ops;
	uint64_t seed = 0xabcdef, pages = (uint64_t)live * (SLOT / PAGE), t, total = 0;
	const uint32_t batches = 200, per = 1000;
	uint32_t b, i, live0, nops = 0;
	uint64_t *ua, *ur;
	double ops_s;
	int ret;

	ret = viova_va_ops_create(&ops);
	if (ret)
		die("ops_create", ret);

	/* sm_map + apply: each request replaces whatever lies under it */
	live0 = viova_va_space_count(vs);
	t = bench_now_ns();
	for (i = 0; i < batches * per; i++) {
		struct viova_va_mapping m = {.obj = bench_rand(&seed) % live};

		random_range(&seed, pages, &m.addr, &m.range);
		m.offset = (bench_rand(&seed) % 64) * PAGE;
		ret = viova_va_space_sm_map(vs, &m, ops, NULL);
		if (!ret)
			ret = viova_va_space_apply(vs, ops);
		if (ret)
			die("sm_map/apply", ret);
		nops += viova_va_ops_count(ops);
	}
	total = bench_now_ns() - t;
	ops_s = (double)(batches * per) / ((double)total / 1e9);
	printf("  %-9u %-16s %12.1f %14.0f   (live %u -> %u, %.2f ops per list)\n", live0,
	       "sm_map_apply", (double)total / (batches * per), ops_s, live0,
	       viova_va_space_count(vs), (double)nops / (batches * per));
	bench_line("vaspace", "live=%u op=sm_map_apply ops_per_s=%.0f live_end=%u", live0, ops_s,
		   viova_va_space_count(vs));

	/* sm_unmap + apply, timed in batches; between batches the holes are mapped again */
	ua = malloc(per * sizeof(*ua));
	ur = malloc(per * sizeof(*ur));
	if (!ua || !ur)
		die("malloc", -ENOMEM);
	live0 = viova_va_space_count(vs);
	total = 0;
	for (b = 0; b < batches; b++) {
		t = bench_now_ns();
		for (i = 0; i < per; i++) {
			random_range(&seed, pages, &ua[i], &ur[i]);
			ret = viova_va_space_sm_unmap(vs, ua[i], ur[i], ops, NULL);
			if (!ret)
				ret = viova_va_space_apply(vs, ops);
			if (ret)
				die("sm_unmap/apply", ret);
		}
		total += bench_now_ns() - t;
		for (i = 0; i < per; i++) {
			struct viova_va_mapping m = {.addr = ua[i], .range = ur[i], .obj = i};

			ret = viova_va_space_insert(vs, &m, NULL);
			if (ret &&
			    ret != -EEXIST) /* holes cut twice in a batch are refilled once */
				die("refill", ret);
		}
	}
	ops_s = (double)(batches * per) / ((double)total / 1e9);
	row(live0, "sm_unmap_apply", (double)total / (batches * per), ops_s);
	bench_line("vaspace", "live=%u op=sm_unmap_apply ops_per_s=%.0f live_end=%u", live0, ops_s,
		   viova_va_space_count(vs));
	free(ua);
	free(ur);
	viova_va_ops_destroy(ops);
	viova_va_space_destroy(vs);
}

static void bench_memory(uint32_t live, uint32_t per_obj, bool headline)
{
	struct viova_va_space *vs = mk_space((uint64_t)live * SLOT);
	double bpm;
	uint32_t i;

	for (i = 0; i < live; i++)
		map_slot(vs, i, i / per_obj);
	bpm = (double)viova_va_space_mem_bytes(vs) / (double)live;
	printf("  %-9u %-16s %12.1f bytes/mapping (%u mapping%s per object)\n", live, "memory", bpm,
	       per_obj, per_obj > 1 ? "s" : "");
	bench_line("vaspace", "live=%u mappings_per_object=%u bytes_per_mapping=%.1f", live,
		   per_obj, bpm);
	if (headline)
		bench_line("vaspace", "bytes_per_mapping=%.1f", bpm);
	viova_va_space_destroy(vs);
}

int main(void)
{
	static const uint32_t sizes[] = {1000, 10000, 100000, 1000000};
	unsigned int i;

	printf("va_space benchmark (one core; the machine is shared, figures are noisy)\n");
	printf("  %-9s %-16s %12s %14s\n", "live", "op", "ns/op", "ops/s");
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		bench_insert_remove(sizes[i]);
	bench_sm(100000);
	bench_memory(100000, 1, true);
	bench_memory(100000, 16, false);
	bench_memory(1000000, 1, false);
	bench_memory(1000000, 16, false);
	return 0;
}

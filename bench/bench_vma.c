// SPDX-License-Identifier: MIT
/*
 * bench_vma.c - cost of the iova range allocator (common/vma) on a fragmented heap.
 *
 * For each strategy and for 1e3, 1e4, 1e5 and 1e6 live ranges over [1 MiB, 2^47):
 *   setup  allocate 2N ranges (random sizes 4 KiB..256 KiB, random power-of-two alignments
 *          4 KiB..64 KiB), then free N of them chosen at random: N live ranges, ~N/2 holes.
 *   pair   time "alloc a new range, free that range" (the allocator's own work: searches and
 *          tree updates; the touched nodes stay in cache, as they do for a driver that
 *          creates and destroys buffers).
 *   churn  time "alloc a new range, free a random live one" (adds the cache misses of
 *          reaching a random node: what a long-running process with a large heap sees).
 * and prints ns per alloc+free pair, bytes of allocator memory per live range (in use, and held
 * including the arena's high-water mark from setup's 2N peak), and the growth from 1e3 to 1e6. A
 * hole-list allocator (the algorithm of Mesa's util_vma_heap: holes in an address-sorted list,
 * scanned from the top) is measured at the same sizes for comparison.
 *
 * The timed loops only call the allocator: the random requests (and churn's victim indices) are
 * drawn before the clock starts into an array read sequentially, so neither the generator nor a
 * division is counted in ns/op, and churn prefetches its own handles[victim] entry a few
 * iterations ahead (the caller's bookkeeping, not the allocator's work). The workload is the
 * same as before: same distributions, same heap layouts.
 *
 * One configuration, for profilers (callgrind / cachegrind / perf):
 *   bench_vma --live 100000 --strategy high_to_low [--pairs 200000] [--mode pair|churn|both]
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "viova/vma.h"

#define VA_START (1ull << 20)
#define VA_END (1ull << 47)
#define NSIZES 4

static const uint32_t sizes[NSIZES] = {1000, 10000, 100000, 1000000};

struct strat {
	const char *name;
	enum viova_vma_type type;
	enum viova_vma_strategy strategy;
};

static const struct strat strats[] = {
    {"low_to_high", VIOVA_VMA_SIMPLE, VIOVA_VMA_LOW_TO_HIGH},
    {"high_to_low", VIOVA_VMA_SIMPLE, VIOVA_VMA_HIGH_TO_LOW},
    {"best_fit", VIOVA_VMA_SIMPLE, VIOVA_VMA_BEST_FIT},
    {"random", VIOVA_VMA_RANDOM, VIOVA_VMA_STRATEGY_DEFAULT},
    {"reloc", VIOVA_VMA_RELOC, VIOVA_VMA_STRATEGY_DEFAULT},
};

#define NSTRATS (sizeof(strats) / sizeof(strats[0]))

static void die(const char *what, int err)
{
	fprintf(stderr, "bench_vma: %s failed: %d\n", what, err);
	exit(1);
}

static void random_request(uint64_t *rng, uint64_t *size, uint64_t *align)
{
	uint64_t r = bench_rand(rng);

	*size = ((r & 63) + 1) * 4096;
	*align = 4096ull << ((r >> 8) % 5);
}

/* Fill a heap to @live ranges, fragmented; @handles receives the live handles. */
static struct viova_vma *setup(const struct strat *s, uint32_t live, uint32_t *handles,
			       uint64_t *rng)
{
	struct viova_vma_config cfg = {
	    .start = VA_START, .end = VA_END, .type = s->type, .strategy = s->strategy, .seed = 1};
	struct viova_vma *v;
	uint64_t size, align, off;
	int ret = viova_vma_create(&cfg, &v);

	if (ret)
		die("viova_vma_create", ret);
	for (uint32_t h = 0; h < 2 * live; h++) {
		random_request(rng, &size, &align);
		ret = viova_vma_alloc(v, h, size, align, &off);
		if (ret)
			die("setup alloc", ret);
		handles[h] = h;
	}
	/* Fisher-Yates: the first `live` handles survive, the rest are freed in random order. */
	for (uint32_t i = 2 * live - 1; i > 0; i--) {
		uint32_t j = (uint32_t)(bench_rand(rng) % (i + 1)), t = handles[i];

		handles[i] = handles[j];
		handles[j] = t;
	}
	for (uint32_t i = live; i < 2 * live; i++) {
		ret = viova_vma_free(v, handles[i]);
		if (ret)
			die("setup free", ret);
	}
	return v;
}

static uint32_t n_iter = 100000;

static uint32_t iterations(uint32_t live)
{
	(void)live;
	return n_iter;
}

/* A request drawn ahead of the timed loop: same distribution as random_request(). */
struct req {
	uint64_t size, align;
	uint32_t victim; /* churn: index into handles[] of the range to free */
};

static struct req *reqs;
static uint32_t reqs_cap;

static void draw_requests(uint32_t n, uint32_t live, bool victims, uint64_t *rng)
{
	if (n > reqs_cap) {
		free(reqs);
		reqs = malloc((size_t)n * sizeof(*reqs));
		if (!reqs)
			die("malloc", -12);
		reqs_cap = n;
	}
	for (uint32_t i = 0; i < n; i++) {
		reqs[i].victim = victims ? (uint32_t)(bench_rand(rng) % live) : 0;
		random_request(rng, &reqs[i].size, &reqs[i].align);
	}
}

/* noinline: profilers can collect exactly the timed loops (callgrind --toggle-collect=time_pair) */
__attribute__((noinline)) static double time_pair(struct viova_vma *v, uint32_t next_handle,
						  uint32_t n, uint64_t *rng)
{
	uint64_t off, t0;

	draw_requests(n, 0, false, rng);
	t0 = bench_now_ns();
	for (uint32_t i = 0; i < n; i++) {
		if (viova_vma_alloc(v, next_handle, reqs[i].size, reqs[i].align, &off))
			die("pair alloc", -1);
		if (viova_vma_free(v, next_handle))
			die("pair free", -1);
	}
	return (double)(bench_now_ns() - t0) / n;
}

/* How far ahead churn prefetches handles[victim]: the caller's own bookkeeping, not the heap's. */
#define CHURN_AHEAD 8

__attribute__((noinline)) static double time_churn(struct viova_vma *v, uint32_t *handles,
						   uint32_t live, uint32_t next_handle, uint32_t n,
						   uint64_t *rng)
{
	uint64_t off, t0;

	draw_requests(n, live, true, rng);
	t0 = bench_now_ns();
	for (uint32_t i = 0; i < n; i++) {
		uint32_t k = reqs[i].victim;

		if (i + CHURN_AHEAD < n)
			__builtin_prefetch(&handles[reqs[i + CHURN_AHEAD].victim], 1);
		if (viova_vma_alloc(v, next_handle, reqs[i].size, reqs[i].align, &off))
			die("churn alloc", -1);
		if (viova_vma_free(v, handles[k]))
			die("churn free", -1);
		handles[k] = next_handle++;
	}
	return (double)(bench_now_ns() - t0) / n;
}

/*
 * ---- baseline: a hole list as in Mesa's util_vma_heap ----
 * Holes in a doubly-linked list sorted by address, highest first; alloc takes the first hole
 * from the top that fits (aligned); free walks the list to its place and merges. Allocations
 * are remembered in a flat array indexed by handle (the baseline is not charged for a map).
 */
struct hl_hole {
	uint64_t start, size;
	uint32_t prev, next; /* 0 = none; index 0 is the list head */
};

struct hl {
	struct hl_hole *h;
	uint32_t cap, used, free_head;
	uint64_t *off, *size;
};

static uint32_t hl_new(struct hl *l, uint64_t start, uint64_t size)
{
	uint32_t i;

	if (l->free_head) {
		i = l->free_head;
		l->free_head = l->h[i].next;
	} else {
		if (l->used == l->cap) {
			l->cap *= 2;
			l->h = realloc(l->h, l->cap * sizeof(*l->h));
			if (!l->h)
				die("realloc", -12);
		}
		i = l->used++;
	}
	l->h[i].start = start;
	l->h[i].size = size;
	return i;
}

static void hl_unlink(struct hl *l, uint32_t i)
{
	l->h[l->h[i].prev].next = l->h[i].next;
	l->h[l->h[i].next].prev = l->h[i].prev;
	l->h[i].next = l->free_head;
	l->free_head = i;
}

static void hl_link_after(struct hl *l, uint32_t at, uint32_t i)
{
	l->h[i].prev = at;
	l->h[i].next = l->h[at].next;
	l->h[l->h[at].next].prev = i;
	l->h[at].next = i;
}

static void hl_init(struct hl *l, uint32_t handles)
{
	memset(l, 0, sizeof(*l));
	l->cap = 1024;
	l->used = 1;
	l->h = calloc(l->cap, sizeof(*l->h));
	l->off = calloc(handles, sizeof(uint64_t));
	l->size = calloc(handles, sizeof(uint64_t));
	if (!l->h || !l->off || !l->size)
		die("calloc", -12);
	hl_link_after(l, 0, hl_new(l, VA_START, VA_END - VA_START));
}

static void hl_alloc(struct hl *l, uint32_t handle, uint64_t size, uint64_t align)
{
	for (uint32_t i = l->h[0].next; i; i = l->h[i].next) {
		struct hl_hole *x = &l->h[i];

		if (x->size < size)
			continue;
		uint64_t o = (x->start + x->size - size) & ~(align - 1);

		if (o < x->start)
			continue;
		uint64_t top = x->start + x->size;

		if (o + size < top) /* leftover above: a new hole before this one */
			hl_link_after(l, l->h[i].prev, hl_new(l, o + size, top - o - size));
		x = &l->h[i];
		x->size = o - x->start;
		if (!x->size)
			hl_unlink(l, i);
		l->off[handle] = o;
		l->size[handle] = size;
		return;
	}
	die("baseline alloc", -28);
}

static void hl_free(struct hl *l, uint32_t handle)
{
	uint64_t s = l->off[handle], e = s + l->size[handle];
	uint32_t above = 0, i = l->h[0].next;

	/* walk down to the first hole below the range */
	while (i && l->h[i].start >= e) {
		above = i;
		i = l->h[i].next;
	}
	bool merge_above = above && l->h[above].start == e;
	bool merge_below = i && l->h[i].start + l->h[i].size == s;

	if (merge_above && merge_below) {
		l->h[i].size += l->size[handle] + l->h[above].size;
		hl_unlink(l, above);
	} else if (merge_above) {
		l->h[above].start = s;
		l->h[above].size += l->size[handle];
	} else if (merge_below) {
		l->h[i].size += l->size[handle];
	} else {
		hl_link_after(l, above, hl_new(l, s, e - s));
	}
}

/*
 * The hole list of the same fragmented layout as heap @v (built by high_to_low, i.e. the same
 * policy as the list's), then pair and churn timings on it.
 */
static void baseline(struct viova_vma *v, uint32_t *handles, uint32_t live, uint64_t *rng,
		     double *pair_ns, double *churn_ns)
{
	uint32_t n = live >= 1000000 ? 100 : 100000000 / live < 100000 ? 100000000 / live : 100000;
	struct viova_vma_range rg;
	uint64_t from = VA_START, top = VA_END;
	struct hl l;
	uint32_t next = 0;

	/* handles so far: < 2 live + iterations (churn), plus the n this function adds */
	hl_init(&l, 2 * live + iterations(live) + n + 16);
	/* walk the used ranges downwards, linking the gaps between them highest first */
	uint32_t at = 0;
	struct viova_vma_range *all = malloc(live * sizeof(*all));
	uint32_t cnt = 0;

	if (!all)
		die("malloc", -12);
	l.used = 1; /* drop hl_init's single hole */
	l.h[0].next = l.h[0].prev = 0;
	while (viova_vma_next_range(v, from, &rg) == 0) {
		all[cnt++] = rg;
		from = rg.offset + rg.size;
	}
	for (uint32_t i = cnt; i-- > 0;) {
		uint64_t end = all[i].offset + all[i].size;

		if (end < top) {
			uint32_t h = hl_new(&l, end, top - end);

			hl_link_after(&l, at, h);
			at = h;
		}
		top = all[i].offset;
		l.off[all[i].handle] = all[i].offset;
		l.size[all[i].handle] = all[i].size;
		next = all[i].handle + 1 > next ? all[i].handle + 1 : next;
	}
	if (top > VA_START)
		hl_link_after(&l, at, hl_new(&l, VA_START, top - VA_START));
	free(all);

	draw_requests(n, live, false, rng);

	uint64_t t0 = bench_now_ns();

	for (uint32_t i = 0; i < n; i++) {
		hl_alloc(&l, next, reqs[i].size, reqs[i].align);
		hl_free(&l, next);
	}
	*pair_ns = (double)(bench_now_ns() - t0) / n;
	draw_requests(n, live, true, rng);
	t0 = bench_now_ns();
	for (uint32_t i = 0; i < n; i++) {
		uint32_t k = reqs[i].victim;

		hl_alloc(&l, next, reqs[i].size, reqs[i].align);
		hl_free(&l, handles[k]);
		handles[k] = next++;
	}
	*churn_ns = (double)(bench_now_ns() - t0) / n;
	free(l.h);
	free(l.off);
	free(l.size);
}

/*
 * One strategy at one size (for profilers): setup, warm-up, then the selected timed loops.
 * Prints the same BENCH line keys as the full table.
 */
static int run_one(const struct strat *s, uint32_t live, const char *mode)
{
	uint32_t *handles = malloc(2ull * live * sizeof(*handles));
	uint64_t rng = 0x1234567;
	bool pair = strcmp(mode, "churn") != 0, churn = strcmp(mode, "pair") != 0;
	double pns = 0, cns = 0;

	if (!handles)
		die("malloc", -12);

	struct viova_vma *v = setup(s, live, handles, &rng);

	time_pair(v, 2 * live, n_iter / 10, &rng);
	if (pair)
		pns = time_pair(v, 2 * live, n_iter, &rng);
	if (churn)
		cns = time_churn(v, handles, live, 2 * live, n_iter, &rng);
	struct viova_vma_stats st;

	if (viova_vma_get_stats(v, &st))
		die("stats", -1);
	printf("%-12s live=%u pairs=%u pair %.1f ns/op, churn %.1f ns/op, %.1f bytes/range "
	       "(%.1f held), %" PRIu64 " holes, %" PRIu64 " nodes\n",
	       s->name, live, n_iter, pns, cns, (double)st.memory_used_bytes / live,
	       (double)st.memory_bytes / live, st.holes, st.nodes_used);
	bench_line("vma", "live=%u strategy=%s ns_per_op=%.1f churn_ns_per_op=%.1f", live, s->name,
		   pns, cns);
	viova_vma_destroy(v);
	free(handles);
	free(reqs);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_vma                      (full table)\n"
			"       bench_vma --live N --strategy "
			"low_to_high|high_to_low|best_fit|random|reloc\n"
			"                 [--pairs N] [--mode pair|churn|both]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *sname = NULL, *mode = "both";
	uint32_t one_live = 0;

	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		if (!strcmp(argv[i], "--live"))
			one_live = (uint32_t)strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--strategy"))
			sname = argv[++i];
		else if (!strcmp(argv[i], "--pairs"))
			n_iter = (uint32_t)strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--mode"))
			mode = argv[++i];
		else
			usage();
	}
	if (argc > 1) {
		if (!sname || !one_live || !n_iter ||
		    (strcmp(mode, "pair") && strcmp(mode, "churn") && strcmp(mode, "both")))
			usage();
		for (size_t s = 0; s < NSTRATS; s++)
			if (!strcmp(strats[s].name, sname))
				return run_one(&strats[s], one_live, mode);
		usage();
	}

	double pair[NSTRATS][NSIZES], churn[NSTRATS][NSIZES], bytes[NSTRATS][NSIZES];
	double held[NSTRATS][NSIZES], base_pair[NSIZES], base_churn[NSIZES];
	uint32_t *handles = malloc(2ull * sizes[NSIZES - 1] * sizeof(*handles));
	uint64_t t_start = bench_now_ns();

	if (!handles)
		die("malloc", -12);
	printf("vma: alloc+free pairs on a fragmented heap [1 MiB, 2^47), sizes 4K..256K, "
	       "alignments 4K..64K\n");
	printf("%-12s %9s %11s %12s %12s %12s %8s %8s\n", "strategy", "live", "pair ns/op",
	       "churn ns/op", "bytes/range", "held B/range", "holes", "setup s");
	for (size_t s = 0; s < NSTRATS; s++) {
		for (size_t z = 0; z < NSIZES; z++) {
			uint64_t rng = 0x1234567 + z;
			uint32_t live = sizes[z], n = iterations(live);
			uint64_t t0 = bench_now_ns();
			struct viova_vma *v = setup(&strats[s], live, handles, &rng);
			double setup_s = (double)(bench_now_ns() - t0) / 1e9;
			struct viova_vma_stats st;

			viova_vma_get_stats(v, &st);
			bytes[s][z] = (double)st.memory_used_bytes / live;
			held[s][z] = (double)st.memory_bytes / live;
			/* warm up, then measure */
			time_pair(v, 2 * live, n / 10, &rng);
			pair[s][z] = time_pair(v, 2 * live, n, &rng);
			churn[s][z] = time_churn(v, handles, live, 2 * live, n, &rng);
			printf("%-12s %9u %11.1f %12.1f %12.1f %12.1f %8" PRIu64 " %8.1f\n",
			       strats[s].name, live, pair[s][z], churn[s][z], bytes[s][z],
			       held[s][z], st.holes, setup_s);
			bench_line("vma", "live=%u strategy=%s ns_per_op=%.1f churn_ns_per_op=%.1f",
				   live, strats[s].name, pair[s][z], churn[s][z]);
			bench_line("vma",
				   "live=%u strategy=%s bytes_per_range=%.1f "
				   "held_bytes_per_range=%.1f",
				   live, strats[s].name, bytes[s][z], held[s][z]);
			if (strats[s].strategy == VIOVA_VMA_HIGH_TO_LOW)
				baseline(v, handles, live, &rng, &base_pair[z], &base_churn[z]);
			viova_vma_destroy(v);
		}
	}

	printf("\n%-12s %18s %18s\n", "strategy", "pair 1e6/1e3", "churn 1e6/1e3");
	for (size_t s = 0; s < NSTRATS; s++) {
		double g = pair[s][NSIZES - 1] / pair[s][0];
		double gc = churn[s][NSIZES - 1] / churn[s][0];

		printf("%-12s %17.2fx %17.2fx\n", strats[s].name, g, gc);
		bench_line("vma",
			   "strategy=%s growth_1e6_over_1e3=%.2f churn_growth_1e6_over_1e3=%.2f",
			   strats[s].name, g, gc);
	}

	printf(
	    "\nbaseline: hole list scanned from the top (util_vma_heap's algorithm), on the same\n"
	    "layout as high_to_low above\n");
	printf("%9s %12s %12s\n", "live", "pair ns/op", "churn ns/op");
	for (size_t z = 0; z < NSIZES; z++) {
		printf("%9u %12.1f %12.1f\n", sizes[z], base_pair[z], base_churn[z]);
		bench_line("vma", "live=%u strategy=hole_list ns_per_op=%.1f churn_ns_per_op=%.1f",
			   sizes[z], base_pair[z], base_churn[z]);
	}
	printf("\ntargets: <= 150 ns/op at 1e5 live, <= 2x growth from 1e3 to 1e6 (DESIGN.md); "
	       "total %.1f s\n",
	       (double)(bench_now_ns() - t_start) / 1e9);
	free(handles);
	free(reqs);
	return 0;
}

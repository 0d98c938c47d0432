// SPDX-License-Identifier: MIT
/*
 * vma_walkthrough.c - `viova vma-walkthrough`: a short tour of the iova range allocator.
 *
 * It opens a heap the way a guest driver would, allocates with every strategy, shows canonical
 * addresses, reserves a range, frees, prints the stats, and shows a refused request with its
 * error. Every step prints what it does; any unexpected result ends the tour with status 1.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "viova/vma.h"
#include "viova_tool.h"

#define KiB ((uint64_t)1 << 10)
#define MiB ((uint64_t)1 << 20)

/* Stop the tour when a step that must work does not. */
#define CHECK(expr)                                                                                \
	do {                                                                                       \
		int ret_ = (expr);                                                                 \
		if (ret_) {                                                                        \
			fprintf(stderr, "vma-walkthrough: %s failed: %s\n", #expr,                 \
				strerror(-ret_));                                                  \
			return 1;                                                                  \
		}                                                                                  \
	} while (0)

static void step(const char *what)
{
	printf("\n== %s\n", what);
}

static void show_stats(struct viova_vma *v)
{
	struct viova_vma_stats st;

	if (viova_vma_get_stats(v, &st))
		return;
	printf("   stats: %" PRIu64 " allocations (0x%" PRIx64 " bytes), %" PRIu64
	       " reservations (0x%" PRIx64 " bytes), %" PRIu64 " holes, free 0x%" PRIx64
	       ", largest hole 0x%" PRIx64 "\n",
	       st.allocations, st.allocated_bytes, st.reservations, st.reserved_bytes, st.holes,
	       st.free_bytes, st.largest_hole);
}

/* Allocate the same three objects with one strategy and print where they land. */
static int tour_strategy(enum viova_vma_type type, enum viova_vma_strategy strategy)
{
	/* A 1 MiB heap, 256 KiB reserved at 0x1a0000: a 640K hole below it, a 128K hole above. */
	struct viova_vma_config cfg = {
	    .start = 0x100000, .end = 0x200000, .type = type, .strategy = strategy, .seed = 42};
	const uint64_t sizes[] = {64 * KiB, 16 * KiB, 32 * KiB};
	struct viova_vma *v;
	uint64_t off;

	CHECK(viova_vma_create(&cfg, &v));
	CHECK(viova_vma_reserve(v, VIOVA_VMA_NO_HANDLE, 0x1a0000, 256 * KiB));
	printf("   %-6s %-11s:", viova_vma_type_name(type),
	       type == VIOVA_VMA_SIMPLE ? viova_vma_strategy_name(strategy) : "-");
	for (uint32_t h = 1; h <= 3; h++) {
		CHECK(viova_vma_alloc(v, h, sizes[h - 1], 0, &off));
		printf("  #%u %3" PRIu64 "K @ 0x%06" PRIx64, h, sizes[h - 1] / KiB, off);
	}
	printf("\n");
	viova_vma_destroy(v);
	return 0;
}

int viova_tool_vma_walkthrough(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	struct viova_vma_registry *reg;
	struct viova_vma_key key = {.device = 0, .owner = VIOVA_VMA_OWNER_VM, .id = 1};
	struct viova_vma_config cfg = {.start = 0x100000, .end = 1ull << 48}; /* SIMPLE, default */
	struct viova_vma *v;
	uint64_t ahnd, ahnd2, start, end, off, off2;
	bool empty;

	printf("viova: the guest picks GPU virtual addresses (iovas) itself, with this allocator,\n"
	       "so creating a buffer never waits for the host.\n");

	step("open the heap of (device 0, VM 1): a 48-bit space, default strategy");
	CHECK(viova_vma_registry_create(&reg));
	CHECK(viova_vma_open(reg, &key, &cfg, &ahnd));
	CHECK(viova_vma_get(reg, ahnd, &v));
	CHECK(viova_vma_address_range(v, &start, &end));
	printf("   handle 0x%" PRIx64 ", range [0x%" PRIx64 ", 0x%" PRIx64 ")\n", ahnd, start, end);
	CHECK(viova_vma_open_as(reg, ahnd, 2, &ahnd2));
	printf("   open_as(VM 2) shares it (a forked child's VM): handle 0x%" PRIx64 "\n", ahnd2);

	step("allocate: HIGH_TO_LOW is the default, so addresses start at the top (bit 47 set)");
	CHECK(viova_vma_alloc(v, 7, 64 * KiB, 0, &off));
	printf("   buffer 7, 64K   -> 0x%012" PRIx64 "  canonical 0x%016" PRIx64 "\n", off,
	       viova_vma_canonical(off));
	CHECK(viova_vma_alloc(v, 8, 2 * MiB, 2 * MiB, &off2));
	printf("   buffer 8, 2M aligned 2M -> 0x%012" PRIx64 "  canonical 0x%016" PRIx64 "\n", off2,
	       viova_vma_canonical(off2));
	printf("   decanonical(0x%016" PRIx64 ") = 0x%012" PRIx64 "\n", viova_vma_canonical(off),
	       viova_vma_decanonical(viova_vma_canonical(off)));
	CHECK(viova_vma_alloc(v, 7, 64 * KiB, 0, &off2));
	printf("   buffer 7 again  -> 0x%012" PRIx64 " (same handle, same address)\n", off2);

	step("three requests with each type and strategy: a 640K hole at 0x100000, 128K at "
	     "0x1e0000");
	if (tour_strategy(VIOVA_VMA_SIMPLE, VIOVA_VMA_LOW_TO_HIGH) ||
	    tour_strategy(VIOVA_VMA_SIMPLE, VIOVA_VMA_HIGH_TO_LOW) ||
	    tour_strategy(VIOVA_VMA_SIMPLE, VIOVA_VMA_BEST_FIT) ||
	    tour_strategy(VIOVA_VMA_RELOC, VIOVA_VMA_STRATEGY_DEFAULT) ||
	    tour_strategy(VIOVA_VMA_RANDOM, VIOVA_VMA_STRATEGY_DEFAULT))
		return 1;
	printf("   best_fit fills the small hole first and keeps the big one whole; reloc bumps\n"
	       "   upwards; random is reproducible from its seed and never overlaps.\n");

	step("reserve a range the caller chose itself");
	CHECK(viova_vma_reserve(v, 9, 0x200000, 1 * MiB));
	printf("   reserve(tag 9, 0x200000 + 1M): ok, is_reserved = %s\n",
	       viova_vma_is_reserved(v, 0x200000, 1 * MiB) ? "yes" : "no");
	show_stats(v);

	step("a refused request: the range is taken");
	int ret = viova_vma_reserve(v, 10, 0x280000, 64 * KiB);

	printf("   reserve(tag 10, 0x280000 + 64K) -> %d (%s): it overlaps the reservation at\n"
	       "   0x200000 + 1M; pick a free range (viova_vma_next_range lists the used ones)\n",
	       ret, strerror(-ret));
	if (ret != -EBUSY)
		return 1;

	step("a refused request: nothing that large fits");
	ret = viova_vma_alloc(v, 11, 1ull << 48, 0, &off);
	printf("   alloc(buffer 11, 0x%llx bytes) -> %d (%s): the heap spans only 0x%" PRIx64
	       " bytes;\n   use a smaller buffer or open the VM with a larger range\n",
	       1ull << 48, ret, strerror(-ret), end - start);
	if (ret != -ENOSPC)
		return 1;

	step("free and unreserve: the holes merge back");
	CHECK(viova_vma_free(v, 7));
	CHECK(viova_vma_free(v, 8));
	CHECK(viova_vma_unreserve(v, 9, 0x200000, 1 * MiB));
	show_stats(v);
	CHECK(viova_vma_check(v, NULL, 0));
	printf("   structure check: ok\n");

	step("close both handles: the last close says whether the heap was empty");
	CHECK(viova_vma_close(reg, ahnd, &empty));
	printf("   close(0x%" PRIx64 "): heap still open elsewhere, was_empty = %s\n", ahnd,
	       empty ? "true" : "false");
	CHECK(viova_vma_close(reg, ahnd2, &empty));
	printf("   close(0x%" PRIx64 "): last reference, was_empty = %s\n", ahnd2,
	       empty ? "true" : "false");
	viova_vma_registry_destroy(reg);
	printf("\ndone.\n");
	return empty ? 0 : 1;
}

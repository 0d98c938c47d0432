/* SPDX-License-Identifier: MIT */
/*
 * creation.h - the measurement behind `bench.sh guest` and `bench.sh vm`: creating buffers with
 * an iova chosen locally in the guest against the same creation waiting for a host round trip
 * per buffer, on one open device (any transport: unix socket or virtgpu).
 *
 *   local_iova         bo_create in a loop (allocator + encoder; batches are sent as they fill
 *                      and the host works in parallel): what the guest program sees
 *   local_iova_synced  the same, timed until the host has processed every GEM_NEW (one SYNC at
 *                      the end): end-to-end throughput, bounded by the host's cost per buffer
 *   roundtrip          bo_create + viova_guest_sync per buffer
 *
 * The best of `rounds` rounds is kept for each mode (the machine is shared: noise only slows).
 */
#ifndef VIOVA_BENCH_CREATION_H
#define VIOVA_BENCH_CREATION_H

#include <stdint.h>

#include "viova/guest.h"

struct creation_params {
	uint32_t local_n; /* buffers per local_iova round */
	uint32_t rt_n;	  /* buffers per roundtrip round */
	uint32_t rounds;
	uint64_t sync_timeout_ns; /* per viova_guest_sync / retire wait */
};

struct creation_result {
	double local_s, synced_s, rt_s; /* best seconds per mode */
};

/*
 * Run the rounds on @dev (one context per round, destroyed at its end) and keep the best time of
 * each mode in @best. Returns 0, or a negative errno from the guest library (the failing call
 * and viova_guest_last_error() are printed to stderr).
 */
int creation_bench(struct viova_guest_device *dev, const struct creation_params *p,
		   struct creation_result *best);

/*
 * Print the readable table (titled @what) and the "BENCH @bench mode=..." and
 * "BENCH @bench ratio=..." lines.
 */
void creation_report(const char *bench, const char *what, const struct creation_params *p,
		     const struct creation_result *best);

#endif

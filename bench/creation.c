/* SPDX-License-Identifier: MIT */
/* creation.c - local-iova vs round-trip buffer creation (creation.h). */
#include "creation.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_util.h"

static int fail(const char *what, int ret)
{
	fprintf(stderr, "creation bench: %s failed (%d): %s\n", what, ret,
		viova_guest_last_error());
	return ret;
}

static int one_round(struct viova_guest_device *dev, const struct creation_params *p,
		     struct viova_guest_bo **bos, struct creation_result *r)
{
	struct viova_guest_ctx *ctx;
	uint64_t t0, t1, t2;
	uint32_t i;
	int ret;

	ret = viova_guest_ctx_create(dev, NULL, &ctx);
	if (!ret)
		ret = viova_guest_sync(dev, p->sync_timeout_ns);
	if (ret)
		return fail("context create", ret);

	t0 = bench_now_ns();
	for (i = 0; i < p->local_n; i++)
		if ((ret = viova_guest_bo_create(ctx, 4096, 0, NULL, &bos[i])))
			return fail("bo_create (local iova)", ret);
	t1 = bench_now_ns();
	if ((ret = viova_guest_sync(dev, p->sync_timeout_ns)))
		return fail("sync after local creation", ret);
	t2 = bench_now_ns();
	r->local_s = (double)(t1 - t0) / 1e9;
	r->synced_s = (double)(t2 - t0) / 1e9;
	for (i = 0; i < p->local_n; i++)
		viova_guest_bo_close(bos[i]);
	if ((ret = viova_guest_retire(dev, p->sync_timeout_ns, NULL)))
		return fail("retire", ret);

	t0 = bench_now_ns();
	for (i = 0; i < p->rt_n; i++) {
		if ((ret = viova_guest_bo_create(ctx, 4096, 0, NULL, &bos[i])))
			return fail("bo_create (round trip)", ret);
		if ((ret = viova_guest_sync(dev, p->sync_timeout_ns)))
			return fail("sync (round trip)", ret);
	}
	t1 = bench_now_ns();
	r->rt_s = (double)(t1 - t0) / 1e9;
	if ((ret = viova_guest_ctx_destroy(ctx)))
		return fail("ctx_destroy", ret);
	return 0;
}

int creation_bench(struct viova_guest_device *dev, const struct creation_params *p,
		   struct creation_result *best)
{
	uint32_t n = p->local_n > p->rt_n ? p->local_n : p->rt_n;
	struct viova_guest_bo **bos = calloc(n, sizeof(*bos));
	struct creation_result r;
	int ret = 0;

	if (!bos)
		return fail("allocating the buffer table", -ENOMEM);
	best->local_s = best->synced_s = best->rt_s = 1e9;
	for (uint32_t k = 0; k < p->rounds && !ret; k++) {
		ret = one_round(dev, p, bos, &r);
		if (ret)
			break;
		best->local_s = r.local_s < best->local_s ? r.local_s : best->local_s;
		best->synced_s = r.synced_s < best->synced_s ? r.synced_s : best->synced_s;
		best->rt_s = r.rt_s < best->rt_s ? r.rt_s : best->rt_s;
	}
	free(bos);
	return ret;
}

void creation_report(const char *bench, const char *what, const struct creation_params *p,
		     const struct creation_result *best)
{
	double local_rate = p->local_n / best->local_s;
	double synced_rate = p->local_n / best->synced_s;
	double rt_rate = p->rt_n / best->rt_s;

	printf("%s, 4 KiB buffers, best of %u rounds\n", what, p->rounds);
	printf("  %-20s %8s %14s %12s\n", "mode", "buffers", "buffers/s", "us/buffer");
	printf("  %-20s %8u %14.0f %12.2f\n", "local_iova", p->local_n, local_rate,
	       1e6 / local_rate);
	printf("  %-20s %8u %14.0f %12.2f\n", "local_iova_synced", p->local_n, synced_rate,
	       1e6 / synced_rate);
	printf("  %-20s %8u %14.0f %12.2f\n", "roundtrip", p->rt_n, rt_rate, 1e6 / rt_rate);
	printf("  ratio local_iova / roundtrip = %.1fx (target >= 20x); end to end (synced) "
	       "%.1fx\n",
	       local_rate / rt_rate, synced_rate / rt_rate);
	bench_line(bench, "mode=local_iova buffers=%u buffers_per_s=%.0f ns_per_buffer=%.0f",
		   p->local_n, local_rate, 1e9 / local_rate);
	bench_line(bench,
		   "mode=local_iova_synced buffers=%u buffers_per_s=%.0f ns_per_buffer=%.0f",
		   p->local_n, synced_rate, 1e9 / synced_rate);
	bench_line(bench, "mode=roundtrip buffers=%u buffers_per_s=%.0f us_per_roundtrip=%.1f",
		   p->rt_n, rt_rate, 1e6 / rt_rate);
	bench_line(bench, "ratio=%.1f ratio_end_to_end=%.1f target=20", local_rate / rt_rate,
		   synced_rate / rt_rate);
}

/* SPDX-License-Identifier: MIT */
/*
 * host_budget.c - the daemon budget (viova/host.h, "the daemon budget") and the charge side of
 * every buffer and mapping quota.
 *
 * DOC: three levels, one charge
 *
 *   level     counters                     written by               checked by
 *   context   host_ctx.nbufs/bytes/...     connection thread        host_quota.c
 *   device    viova_host.nbufs/bytes/...   connection thread        host_quota.c
 *   daemon    viova_host_budget            every connection thread  here (compare-and-swap)
 *
 * A command first checks its context quota and the device budget (plain reads: only this
 * thread writes them), then takes the device and daemon charge here, just before the backend
 * acts. The daemon level cannot be checked first and charged later: another guest's thread
 * may fill it in between, so the check IS the charge (a CAS that never moves a counter past
 * its limit). If the command fails after the take, it puts the charge back; when the object
 * goes, the release path puts it back. Device counters are moved here too, so they always
 * equal what this host holds in the daemon budget, and host_budget_detach() can prove (and
 * repair) that a destroyed host returned everything.
 *
 * Why a CAS and not a lock or per-host credit: SET_IOVA is the hot path (3 M commands/s on
 * one core). One uncontended CAS costs a few ns; a mutex costs more and serialises guests;
 * credits cached per host would make a second guest's refusal depend on credit the first one
 * holds but does not use. Bytes and buffers share a cache line (GEM_NEW moves both), mappings
 * get their own, so one guest's SET_IOVA stream does not bounce another's GEM_NEW line.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host_priv.h"

struct viova_host_budget {
	struct viova_host_budget_limits lim; /* 0 = unlimited */
	uint32_t refs;			     /* atomic: creator + attached hosts */
	uint32_t hosts;			     /* atomic */
	_Alignas(64) uint64_t bytes;	     /* atomic */
	uint64_t buffers;		     /* atomic */
	_Alignas(64) uint64_t mappings;	     /* atomic */
};

int viova_host_budget_create(const struct viova_host_budget_limits *limits,
			     struct viova_host_budget **out)
{
	struct viova_host_budget *b;

	if (!out)
		return -EINVAL;
	/* aligned_alloc: calloc's 16-byte alignment would break the _Alignas(64) members */
	b = aligned_alloc(_Alignof(struct viova_host_budget), sizeof(*b));
	if (!b)
		return -ENOMEM;
	memset(b, 0, sizeof(*b));
	if (limits)
		b->lim = *limits;
	b->refs = 1;
	*out = b;
	return 0;
}

static void budget_unref(struct viova_host_budget *b)
{
	if (b && __atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL) == 0)
		free(b);
}

void viova_host_budget_destroy(struct viova_host_budget *b)
{
	budget_unref(b);
}

int viova_host_budget_usage(const struct viova_host_budget *b, struct viova_host_budget_usage *out)
{
	if (!b || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out)); /* padding too: callers compare snapshots bytewise */
	out->limits = b->lim;
	out->bytes = __atomic_load_n(&b->bytes, __ATOMIC_RELAXED);
	out->buffers = __atomic_load_n(&b->buffers, __ATOMIC_RELAXED);
	out->mappings = __atomic_load_n(&b->mappings, __ATOMIC_RELAXED);
	out->hosts = __atomic_load_n(&b->hosts, __ATOMIC_RELAXED);
	return 0;
}

/*
 * Add n to *used unless that passes max (0 = unlimited). On refusal *seen is the use that
 * refused it. Relaxed: the counters publish no other data.
 */
static bool take(uint64_t *used, uint64_t n, uint64_t max, uint64_t *seen)
{
	uint64_t cur;

	if (!max) {
		__atomic_add_fetch(used, n, __ATOMIC_RELAXED);
		return true;
	}
	cur = __atomic_load_n(used, __ATOMIC_RELAXED);
	do {
		if (n > max || cur > max - n) {
			*seen = cur;
			return false;
		}
	} while (!__atomic_compare_exchange_n(used, &cur, cur + n, true, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	return true;
}

static void put(uint64_t *used, uint64_t n)
{
	__atomic_sub_fetch(used, n, __ATOMIC_RELAXED);
}

const char *host_fmt_size(char *buf, size_t len, uint64_t v)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	unsigned u = 0;

	while (u < 6 && v >= (1ull << (10 * (u + 1))))
		u++;
	if (u == 0 || !(v & ((1ull << (10 * u)) - 1)))
		snprintf(buf, len, "%" PRIu64 " %s", v >> (10 * u), unit[u]);
	else
		snprintf(buf, len, "%.2f %s", (double)v / (double)(1ull << (10 * u)), unit[u]);
	return buf;
}

static int refuse_bytes(struct viova_host *h, uint64_t size, uint64_t seen)
{
	char a[24], b[24], c[24], d[24], e[24];

	return host_reject(h, -EDQUOT, size, h->budget->lim.max_bytes,
			   "a buffer of %s would bring the buffers of all guests of this "
			   "viova-host from %s to %s (%s holds %s), over the daemon budget of %s "
			   "(--max-total-bytes): free buffers, end other guests or raise the limit",
			   host_fmt_size(a, sizeof(a), size), host_fmt_size(e, sizeof(e), seen),
			   host_fmt_size(b, sizeof(b), seen + size), h->name,
			   host_fmt_size(c, sizeof(c), h->bytes),
			   host_fmt_size(d, sizeof(d), h->budget->lim.max_bytes));
}

static int refuse_count(struct viova_host *h, const char *what, const char *flag, uint64_t n,
			uint64_t seen, uint64_t held, uint64_t max)
{
	return host_reject(
	    h, -EDQUOT, n, max,
	    "%" PRIu64 " more %s would bring all guests of this viova-host from %" PRIu64
	    " to %" PRIu64 " %s (%s holds %" PRIu64 "), over the daemon budget of %" PRIu64
	    " (%s): free %s, end other guests or raise the limit",
	    n, what, seen, seen + n, what, h->name, held, max, flag, what);
}

/* Release completed zombies of every context of h; true if any went. */
static bool reap(struct viova_host *h)
{
	uint32_t before = h->zombies;

	if (!before)
		return false;
	host_reap_all(h);
	return h->zombies != before;
}

int host_budget_take_buffer(struct viova_host *h, uint64_t size)
{
	struct viova_host_budget *b = h->budget;
	uint64_t seen;

	if (b) {
		if (!take(&b->buffers, 1, b->lim.max_buffers, &seen)) {
			if (reap(h))
				return host_budget_take_buffer(h, size);
			return refuse_count(h, "buffers", "--max-total-buffers", 1, seen, h->nbufs,
					    b->lim.max_buffers);
		}
		if (!take(&b->bytes, size, b->lim.max_bytes, &seen)) {
			put(&b->buffers, 1);
			if (reap(h))
				return host_budget_take_buffer(h, size);
			return refuse_bytes(h, size, seen);
		}
	}
	h->nbufs++;
	h->bytes += size;
	return 0;
}

void host_budget_put_buffer(struct viova_host *h, uint64_t size)
{
	if (h->budget) {
		put(&h->budget->buffers, 1);
		put(&h->budget->bytes, size);
	}
	h->nbufs--;
	h->bytes -= size;
}

int host_budget_take_maps_shared(struct viova_host *h, uint32_t n, bool may_reap)
{
	struct viova_host_budget *b = h->budget;
	uint64_t seen;

	if (!take(&b->mappings, n, b->lim.max_mappings, &seen)) {
		if (may_reap && reap(h))
			return host_budget_take_maps(h, n, may_reap);
		return refuse_count(h, "mappings", "--max-total-mappings", n, seen, h->nmappings,
				    b->lim.max_mappings);
	}
	h->nmappings += n;
	return 0;
}

void host_budget_put_maps_shared(struct viova_host *h, uint32_t n)
{
	put(&h->budget->mappings, n);
	h->nmappings -= n;
}

void host_budget_attach(struct viova_host *h, struct viova_host_budget *b)
{
	h->budget = b;
	if (!b)
		return;
	__atomic_add_fetch(&b->refs, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&b->hosts, 1, __ATOMIC_RELAXED);
}

void host_budget_detach(struct viova_host *h)
{
	struct viova_host_budget *b = h->budget;

	if (h->nbufs || h->bytes || h->nmappings) {
		/* Every context is gone: anything left is a missed put. Keep other guests whole. */
		host_log(h, VIOVA_HOST_LOG_WARN,
			 "teardown: %s still charged %" PRIu32 " buffers, %" PRIu64
			 " bytes, %" PRIu32 " mappings (host bug); returned to the budget",
			 h->name, h->nbufs, h->bytes, h->nmappings);
		if (b) {
			put(&b->buffers, h->nbufs);
			put(&b->bytes, h->bytes);
			put(&b->mappings, h->nmappings);
		}
		h->nbufs = h->nmappings = 0;
		h->bytes = 0;
	}
	if (!b)
		return;
	__atomic_sub_fetch(&b->hosts, 1, __ATOMIC_RELAXED);
	h->budget = NULL;
	budget_unref(b);
}

/* SPDX-License-Identifier: MIT */
/*
 * host_quota.c - per-context quotas: one guest context cannot grow the host without bound, and
 * one guest connection cannot starve another. Every refusal is EDQUOT with a message naming
 * the quota, its limit, what the request would have made of it, and the fix.
 *
 *   quota          counts                                         checked by
 *   max_contexts   live contexts = the context id range            decoder (ids) + CTX_CREATE
 *   max_vms        VM names of a context (its own VM included)     VM_CREATE
 *   max_buffers    live buffers of a context, closed-but-busy too  GEM_NEW
 *   max_bytes      bytes of those buffers                          GEM_NEW
 *   max_mappings   SET_IOVA mappings + bind pieces of a context    GEM_NEW+iova, SET_IOVA,
 *                                                                  VM_BIND, VM_UNBIND (splits)
 *   max_device_*   the same three, summed over every context of    with the context quota
 *                  the host (one guest device / connection)
 *
 * The device budget exists because the per-context quotas multiply: with 64 contexts a single
 * guest could otherwise hold 64 GiB of buffers and 4 M mappings. The daemon budget, shared by
 * every host, is checked and charged in host_budget.c.
 */
#include <errno.h>
#include <inttypes.h>

#include "host_priv.h"

#define DEF_CONTEXTS 64u
#define MAX_CONTEXTS 4096u
#define DEF_VMS 8u
#define MAX_VMS 64u
#define DEF_BUFFERS 65536u
#define DEF_MAPPINGS 65536u
#define MAX_OBJECTS (1u << 26)
#define DEF_BYTES (1ull << 30)
#define DEF_DEVICE_BUFFERS 262144u
#define DEF_DEVICE_MAPPINGS 262144u
#define DEF_DEVICE_BYTES (4ull << 30)

int host_quota_init(struct viova_host_quotas *q, const struct viova_host_quotas *cfg)
{
	q->max_contexts = cfg->max_contexts ? cfg->max_contexts : DEF_CONTEXTS;
	q->max_vms = cfg->max_vms ? cfg->max_vms : DEF_VMS;
	q->max_buffers = cfg->max_buffers ? cfg->max_buffers : DEF_BUFFERS;
	q->max_mappings = cfg->max_mappings ? cfg->max_mappings : DEF_MAPPINGS;
	q->max_bytes = cfg->max_bytes ? cfg->max_bytes : DEF_BYTES;
	q->max_device_buffers =
	    cfg->max_device_buffers ? cfg->max_device_buffers : DEF_DEVICE_BUFFERS;
	q->max_device_mappings =
	    cfg->max_device_mappings ? cfg->max_device_mappings : DEF_DEVICE_MAPPINGS;
	q->max_device_bytes = cfg->max_device_bytes ? cfg->max_device_bytes : DEF_DEVICE_BYTES;
	if (q->max_contexts > MAX_CONTEXTS || q->max_vms > MAX_VMS ||
	    q->max_buffers > MAX_OBJECTS || q->max_mappings > MAX_OBJECTS ||
	    q->max_device_buffers > MAX_OBJECTS || q->max_device_mappings > MAX_OBJECTS)
		return -EINVAL;
	/* Every context may map into one shared VM: its tracker must hold them all. */
	if ((uint64_t)q->max_contexts * q->max_mappings > VIOVA_VA_MAX_MAPPINGS)
		return -EINVAL;
	return 0;
}

/*
 * Closed-but-busy buffers (zombies) count against the quotas until they are released, which
 * happens at the start of a batch. Before refusing, release those whose jobs have completed
 * since, so a guest that closed buffers and waited for their fence within one batch is not
 * refused for them. Only at points where no op list or tracker state is pending: GEM_NEW and
 * SET_IOVA checks, never inside VM_BIND's op-list check.
 */
static bool reap_for_quota(struct viova_host *h, struct host_ctx *c)
{
	uint32_t before = c->zombies;

	if (!before)
		return false;
	host_bo_reap(h, c);
	return c->zombies != before;
}

/* Would a buffer of size bytes pass c's quota and the device budget? */
static bool buffer_fits(const struct viova_host *h, const struct host_ctx *c, uint64_t size)
{
	return c->nbufs < h->q.max_buffers && size <= h->q.max_bytes - c->bytes &&
	       h->nbufs < h->q.max_device_buffers && size <= h->q.max_device_bytes - h->bytes;
}

/* Release completed zombies before a device budget refusal: any context's count there. */
static bool reap_for_device(struct viova_host *h)
{
	uint32_t before = h->zombies;

	if (!before)
		return false;
	host_reap_all(h);
	return h->zombies != before;
}

static int refuse_device_bytes(struct viova_host *h, uint64_t size)
{
	char a[24], b[24], c[24], d[24];

	return host_reject(
	    h, -EDQUOT, size, h->q.max_device_bytes,
	    "a buffer of %s would bring the buffers of %s (all contexts) from %s to "
	    "%s, over its device budget of %s (max_device_bytes, --max-device-bytes): "
	    "free buffers or raise the limit",
	    host_fmt_size(a, sizeof(a), size), h->name, host_fmt_size(d, sizeof(d), h->bytes),
	    host_fmt_size(b, sizeof(b), h->bytes + size),
	    host_fmt_size(c, sizeof(c), h->q.max_device_bytes));
}

int host_quota_buffer(struct viova_host *h, struct host_ctx *c, uint64_t size)
{
	if (!buffer_fits(h, c, size) && (reap_for_quota(h, c) || reap_for_device(h)))
		return host_quota_buffer(h, c, size);
	if (c->nbufs >= h->q.max_buffers)
		return host_reject(h, -EDQUOT, c->nbufs, h->q.max_buffers,
				   "context %" PRIu32 " already holds %" PRIu32
				   " buffers, its max_buffers quota (%" PRIu32
				   "; closed buffers count until their jobs finish): close buffers "
				   "first",
				   c->id, c->nbufs, h->q.max_buffers);
	if (size > h->q.max_bytes - c->bytes)
		return host_reject(h, -EDQUOT, size, h->q.max_bytes,
				   "a buffer of 0x%" PRIx64 " bytes would bring context %" PRIu32
				   " from 0x%" PRIx64 " to 0x%" PRIx64
				   " bytes, over its max_bytes quota 0x%" PRIx64
				   ": close buffers or create a smaller one",
				   size, c->id, c->bytes, c->bytes + size, h->q.max_bytes);
	if (h->nbufs >= h->q.max_device_buffers)
		return host_reject(
		    h, -EDQUOT, h->nbufs, h->q.max_device_buffers,
		    "%s already holds %" PRIu32 " buffers in all its contexts, its "
		    "device budget (max_device_buffers, --max-device-buffers; closed "
		    "buffers count until their jobs finish): close buffers or raise "
		    "the limit",
		    h->name, h->nbufs);
	if (size > h->q.max_device_bytes - h->bytes)
		return refuse_device_bytes(h, size);
	return 0;
}

int host_quota_mappings(struct viova_host *h, struct host_ctx *c, int64_t delta)
{
	if (delta > 0 && (uint64_t)c->nmappings + (uint64_t)delta > h->q.max_mappings)
		return host_reject(h, -EDQUOT, c->nmappings, h->q.max_mappings,
				   "context %" PRIu32 " holds %" PRIu32 " mappings; %" PRId64
				   " more would exceed its max_mappings quota %" PRIu32
				   ": clear or unbind mappings first",
				   c->id, c->nmappings, delta, h->q.max_mappings);
	if (delta > 0 && (uint64_t)h->nmappings + (uint64_t)delta > h->q.max_device_mappings)
		return host_reject(h, -EDQUOT, h->nmappings, h->q.max_device_mappings,
				   "%s holds %" PRIu32 " mappings in all its contexts; %" PRId64
				   " more would exceed its device budget of %" PRIu32
				   " (max_device_mappings, --max-device-mappings): clear or unbind "
				   "mappings or raise the limit",
				   h->name, h->nmappings, delta, h->q.max_device_mappings);
	return 0;
}

int host_quota_mappings_reap(struct viova_host *h, struct host_ctx *c, int64_t delta)
{
	if (delta <= 0 || ((uint64_t)c->nmappings + (uint64_t)delta <= h->q.max_mappings &&
			   (uint64_t)h->nmappings + (uint64_t)delta <= h->q.max_device_mappings))
		return 0; /* the SET_IOVA hot path */
	if (reap_for_quota(h, c) || reap_for_device(h))
		return host_quota_mappings_reap(h, c, delta);
	return host_quota_mappings(h, c, delta);
}

int host_quota_vms(struct viova_host *h, struct host_ctx *c)
{
	if (c->nvms >= h->q.max_vms)
		return host_reject(h, -EDQUOT, c->nvms, h->q.max_vms,
				   "context %" PRIu32 " already names %" PRIu32
				   " VMs (its own included), its max_vms quota %" PRIu32
				   ": destroy a VM first",
				   c->id, c->nvms, h->q.max_vms);
	return 0;
}

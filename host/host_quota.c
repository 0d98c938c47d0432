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

int host_quota_init(struct viova_host_quotas *q, const struct viova_host_quotas *cfg)
{
	q->max_contexts = cfg->max_contexts ? cfg->max_contexts : DEF_CONTEXTS;
	q->max_vms = cfg->max_vms ? cfg->max_vms : DEF_VMS;
	q->max_buffers = cfg->max_buffers ? cfg->max_buffers : DEF_BUFFERS;
	q->max_mappings = cfg->max_mappings ? cfg->max_mappings : DEF_MAPPINGS;
	q->max_bytes = cfg->max_bytes ? cfg->max_bytes : DEF_BYTES;
	if (q->max_contexts > MAX_CONTEXTS || q->max_vms > MAX_VMS ||
	    q->max_buffers > MAX_OBJECTS || q->max_mappings > MAX_OBJECTS)
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

int host_quota_buffer(struct viova_host *h, struct host_ctx *c, uint64_t size)
{
	if ((c->nbufs >= h->q.max_buffers || size > h->q.max_bytes - c->bytes) &&
	    reap_for_quota(h, c))
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
	return 0;
}

int host_quota_mappings_reap(struct viova_host *h, struct host_ctx *c, int64_t delta)
{
	if (delta <= 0 || (uint64_t)c->nmappings + (uint64_t)delta <= h->q.max_mappings)
		return 0; /* the SET_IOVA hot path */
	if (reap_for_quota(h, c))
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

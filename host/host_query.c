/* SPDX-License-Identifier: MIT */
/*
 * host_query.c - what the host tells: QUERY (caps, per-context statistics) written at the
 * guest-chosen offset of the response area, and the accessors behind viova/host.h.
 *
 * Every response goes through the protocol's response helpers, which bounds-check the
 * guest-chosen offset and size against the payload region before a byte is written.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "host_priv.h"

int host_require_resp(struct viova_host *h)
{
	if (!h->have_resp)
		return host_reject(h, -EFAULT, 0, 0,
				   "no response area to answer in: send RESP_INIT first");
	return 0;
}

void host_resp_error(struct viova_host *h, uint32_t resp_offset, int err)
{
	if (h->have_resp)
		viova_codec_resp_host_commit(&h->resp, resp_offset, h->cur_seqno,
					     viova_codec_wire_errno(err), 0, 0);
}

void host_fill_stats(struct host_ctx *c, struct viova_ctx_stats *s)
{
	memset(s, 0, sizeof(*s));
	s->submits = c->submits;
	s->completed_fence = host_ctx_completed(c);
	s->bytes = c->bytes;
	s->errors = __atomic_load_n(&c->errors, __ATOMIC_RELAXED);
	s->faults = __atomic_load_n(&c->faults, __ATOMIC_RELAXED);
	s->lost = __atomic_load_n(&c->lost_err, __ATOMIC_ACQUIRE) != 0;
	s->buffers = c->nbufs;
	s->mappings = c->nmappings;
	s->vms = c->nvms;
}

int host_cmd_query(struct viova_host *h, const struct viova_cmd_query *cmd)
{
	struct viova_ctx_stats stats;
	const void *answer;
	uint32_t size, n;
	struct host_ctx *c;
	void *dst;
	int ret;

	if (host_require_resp(h))
		return h->fail.err;
	if (cmd->what == VIOVA_QUERY_CAPS) {
		answer = &h->caps;
		size = sizeof(h->caps);
	} else {
		if (host_ctx_require(h, cmd->hdr.ctx_id, &c))
			return h->fail.err;
		host_fill_stats(c, &stats);
		answer = &stats;
		size = sizeof(stats);
	}
	/* The guest reserved resp_size bytes: the header plus as much of the answer as fits. */
	n = cmd->resp_size - (uint32_t)sizeof(struct viova_resp_hdr);
	ret = viova_codec_resp_host_reserve(&h->resp, cmd->resp_offset, n, &dst);
	if (ret)
		return host_reject(h, ret, cmd->resp_offset, cmd->resp_size,
				   "resp_offset 0x%" PRIx32 " + resp_size 0x%" PRIx32
				   " leaves the 0x%" PRIx32
				   "-byte payload region: choose a smaller "
				   "offset",
				   cmd->resp_offset, cmd->resp_size, h->resp.lay.payload_size);
	if (n > size)
		n = size;
	memcpy(dst, answer, n);
	viova_codec_resp_host_commit(&h->resp, cmd->resp_offset, cmd->hdr.seqno, 0, size, n);
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Public accessors                                                                            */

int viova_host_get_caps(const struct viova_host *h, struct viova_capset *caps)
{
	if (!h || !caps)
		return -EINVAL;
	*caps = h->caps;
	return 0;
}

int viova_host_ctx_stats(struct viova_host *h, uint32_t ctx_id, struct viova_ctx_stats *out)
{
	struct host_ctx *c;

	if (!h || !out)
		return -EINVAL;
	c = host_ctx_get(h, ctx_id);
	if (!c)
		return -ENOENT;
	host_fill_stats(c, out);
	return 0;
}

int viova_host_counters(const struct viova_host *h, struct viova_host_counters *out)
{
	uint32_t i;

	if (!h || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->contexts = h->nctx;
	out->vms = h->nvms;
	out->zombies = h->zombies;
	for (i = 1; i <= h->q.max_contexts; i++) {
		const struct host_ctx *c = &h->ctx[i];

		if (!c->live)
			continue;
		out->buffers += c->nbufs;
		out->mappings += c->nmappings;
		out->bytes += c->bytes;
		out->jobs_pending += c->last_fence > host_ctx_completed(c);
	}
	out->batches = h->batches;
	out->commands = h->commands;
	out->failed = h->failed;
	out->backend_calls = h->backend_calls;
	out->errors_logged = __atomic_load_n(&h->errors_logged, __ATOMIC_RELAXED);
	out->errors_dropped = __atomic_load_n(&h->errors_dropped, __ATOMIC_RELAXED);
	out->faults = __atomic_load_n(&h->faults, __ATOMIC_RELAXED);
	out->processed_seqno = h->seqno;
	return 0;
}

const char *viova_host_last_error(const struct viova_host *h)
{
	return h ? h->last_error : "";
}

int viova_host_ctx_lost(struct viova_host *h, uint32_t ctx_id)
{
	struct host_ctx *c;

	if (!h)
		return -EINVAL;
	c = host_ctx_get(h, ctx_id);
	if (!c)
		return -ENOENT;
	return (int)__atomic_load_n(&c->lost_err, __ATOMIC_ACQUIRE);
}

size_t viova_host_mem_bytes(const struct viova_host *h)
{
	const struct host_vm *vm;
	size_t bytes;
	uint32_t i;

	if (!h)
		return 0;
	bytes = sizeof(*h) + h->mem;
	for (i = 1; i <= h->q.max_contexts; i++) {
		if (h->ctx[i].live)
			bytes += host_idmap_mem_bytes(&h->ctx[i].ids);
	}
	for (vm = h->vm_list; vm; vm = vm->next)
		bytes += viova_va_space_mem_bytes(vm->vs);
	return bytes;
}

struct viova_backend *viova_host_backend(struct viova_host *h)
{
	return h ? h->be : NULL;
}

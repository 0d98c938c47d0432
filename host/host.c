/* SPDX-License-Identifier: MIT */
/*
 * host.c - the host instance of one guest connection: creation, the batch loop, command
 * dispatch, RESP_INIT and seqno publication, teardown.
 *
 * DOC: the batch loop
 *
 *   viova_host_process(batch)
 *     reap closed buffers whose jobs finished
 *     dec_begin ---- rejected? -> error record (BATCH_ABORT) ------------------------+
 *     loop dec_next:                                                                 |
 *       rejected command  -> error record (decoder reason), lost rule, next command  |
 *       decoded command   -> dispatch -> handler (host_ctx.c, host_bo.c, ...)        |
 *                              failure -> error record (reason 0), lost rule          |
 *                              SYNC    -> publish its seqno now                       |
 *     end_batch(publish_seqno) <-----------------------------------------------------+
 *
 * Publication happens on every path, so a guest waiting for the batch's seqno always wakes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host_priv.h"

#define DEFAULT_BATCH (1u << 20)
#define DEFAULT_TEARDOWN_NS 1000000000ull

void *host_alloc(struct viova_host *h, size_t size)
{
	void *p = calloc(1, size);

	if (p)
		h->mem += size;
	return p;
}

void *host_realloc(struct viova_host *h, void *p, size_t old_size, size_t size)
{
	void *q = realloc(p, size);

	if (q) {
		h->mem = h->mem - old_size + size;
		if (size > old_size)
			memset((uint8_t *)q + old_size, 0, size - old_size);
	}
	return q;
}

void host_free(struct viova_host *h, void *p, size_t size)
{
	if (!p)
		return;
	h->mem -= size;
	free(p);
}

/* ------------------------------------------------------------------------------------------ */
/* RESP_INIT                                                                                   */

static int cmd_resp_init(struct viova_host *h, const struct viova_cmd_resp_init *cmd)
{
	struct viova_codec_resp_layout lay;
	void *mem = NULL;
	uint32_t i;
	int ret;

	if (!h->resp_map)
		return host_reject(h, -ENODEV, cmd->res_id, 0,
				   "this transport offers no shared memory for a response area "
				   "(res_id %" PRIu32 "): run without RESP_INIT",
				   cmd->res_id);
	if (h->have_resp)
		return host_reject(h, -EBUSY, cmd->res_id, h->resp_res_id,
				   "a response area (res_id %" PRIu32 ") is already attached: send "
				   "RESP_INIT once per connection",
				   h->resp_res_id);
	ret = viova_codec_resp_layout(cmd->size, h->q.max_contexts + 1, cmd->err_records, &lay);
	if (ret)
		return host_reject(
		    h, ret == -EOVERFLOW ? -EINVAL : ret, cmd->size, cmd->err_records,
		    "area of %" PRIu64 " bytes with %" PRIu32 " error records cannot "
		    "hold the header, %" PRIu32 " context slots, the ring and %u bytes "
		    "of payload: make it larger",
		    cmd->size, cmd->err_records, h->q.max_contexts + 1, VIOVA_RESP_MIN_PAYLOAD);
	ret = h->resp_map(h->transport_cookie, cmd->res_id, cmd->size, &mem);
	if (ret)
		return host_reject(h, ret, cmd->res_id, cmd->size,
				   "the transport could not map res_id %" PRIu32 " (%" PRIu64
				   " bytes): check the resource id and its size",
				   cmd->res_id, cmd->size);
	if (!mem || ((uintptr_t)mem & 7)) {
		if (h->resp_unmap)
			h->resp_unmap(h->transport_cookie, cmd->res_id, mem, cmd->size);
		return host_reject(h, -EINVAL, cmd->res_id, (uintptr_t)mem & 7,
				   "the transport mapped res_id %" PRIu32
				   " at a misaligned address: "
				   "it must be 8-byte aligned",
				   cmd->res_id);
	}

	pthread_mutex_lock(&h->lock);
	ret = viova_codec_resp_host_init(&h->resp, mem, cmd->size, h->q.max_contexts + 1,
					 cmd->err_records);
	if (ret == 0) {
		h->resp_mem = mem;
		h->resp_size = cmd->size;
		h->resp_res_id = cmd->res_id;
		/* Contexts created before the area existed get their slots now. */
		for (i = 1; i <= h->q.max_contexts; i++) {
			struct host_ctx *c = &h->ctx[i];

			if (!c->live)
				continue;
			viova_codec_resp_host_ctx_open(&h->resp, i);
			viova_codec_resp_host_ctx_fence(&h->resp, i, host_ctx_completed(c));
			if (c->faults)
				viova_codec_resp_host_ctx_fault(&h->resp, i, c->faults,
								c->fault_iova);
			if (c->lost_err)
				viova_codec_resp_host_ctx_lost(&h->resp, i, c->lost_err);
		}
		/* Published last: event threads test it without the lock (acquire). */
		__atomic_store_n(&h->have_resp, true, __ATOMIC_RELEASE);
		/*
		 * A fence that signalled between the slot copies above and that store skipped
		 * the slot (have_resp was still false): mirror every live context's counter once
		 * more, with the same store-then-recheck as the event path.
		 */
		for (i = 1; i <= h->q.max_contexts; i++)
			if (h->ctx[i].live)
				host_ctx_complete(h, &h->ctx[i], 0);
	}
	pthread_mutex_unlock(&h->lock);
	if (ret) {
		if (h->resp_unmap)
			h->resp_unmap(h->transport_cookie, cmd->res_id, mem, cmd->size);
		return host_reject(h, ret, cmd->res_id, cmd->size,
				   "cannot lay out the response area in res_id %" PRIu32,
				   cmd->res_id);
	}
	viova_codec_resp_host_publish(&h->resp, h->seqno);
	host_log(h, VIOVA_HOST_LOG_INFO,
		 "response area attached: res_id %" PRIu32 ", %" PRIu64 " bytes, %" PRIu32
		 " error records, %" PRIu32 " bytes of payload",
		 cmd->res_id, cmd->size, lay.err_capacity, lay.payload_size);
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Dispatch                                                                                    */

static int dispatch(struct viova_host *h, const struct viova_codec_cmd *cmd)
{
	switch (cmd->hdr.cmd) {
	case VIOVA_CMD_NOP:
		return 0;
	case VIOVA_CMD_SYNC:
		h->seqno = cmd->hdr.seqno > h->seqno ? cmd->hdr.seqno : h->seqno;
		if (h->have_resp)
			viova_codec_resp_host_publish(&h->resp, cmd->hdr.seqno);
		return 0;
	case VIOVA_CMD_RESP_INIT:
		return cmd_resp_init(h, &cmd->resp_init);
	case VIOVA_CMD_CTX_CREATE:
		return host_cmd_ctx_create(h, &cmd->ctx_create);
	case VIOVA_CMD_CTX_CLONE:
		return host_cmd_ctx_clone(h, &cmd->ctx_clone);
	case VIOVA_CMD_CTX_DESTROY:
		return host_cmd_ctx_destroy(h, cmd->hdr.ctx_id);
	case VIOVA_CMD_VM_CREATE:
		return host_cmd_vm_create(h, &cmd->vm_create);
	case VIOVA_CMD_VM_DESTROY:
		return host_cmd_vm_destroy(h, &cmd->vm_destroy);
	case VIOVA_CMD_GEM_NEW:
		return host_cmd_gem_new(h, &cmd->gem_new);
	case VIOVA_CMD_GEM_CLOSE:
		return host_cmd_gem_close(h, &cmd->gem_close);
	case VIOVA_CMD_SET_IOVA:
		return host_cmd_set_iova(h, &cmd->set_iova);
	case VIOVA_CMD_VM_BIND:
		return host_cmd_vm_bind(h, &cmd->vm_bind);
	case VIOVA_CMD_VM_UNBIND:
		return host_cmd_vm_unbind(h, &cmd->vm_unbind);
	case VIOVA_CMD_GEM_UPLOAD:
		return host_cmd_gem_upload(h, cmd);
	case VIOVA_CMD_GEM_DOWNLOAD:
		return host_cmd_gem_download(h, &cmd->gem_download);
	case VIOVA_CMD_SUBMIT:
		return host_cmd_submit(h, cmd);
	case VIOVA_CMD_WAIT_FENCE:
		return host_cmd_wait_fence(h, &cmd->wait_fence);
	case VIOVA_CMD_QUERY:
		return host_cmd_query(h, &cmd->query);
	default:
		/* The decoder only returns commands it knows; keep the host honest anyway. */
		return host_reject(h, -ENOSYS, cmd->hdr.cmd, 0,
				   "command code %u has no handler in this host", cmd->hdr.cmd);
	}
}

/* The response offset of commands that answer in the payload region (else HOST_NIL). */
static uint32_t resp_offset_of(const struct viova_codec_cmd *cmd)
{
	switch (cmd->hdr.cmd) {
	case VIOVA_CMD_GEM_DOWNLOAD:
		return cmd->gem_download.resp_offset;
	case VIOVA_CMD_WAIT_FENCE:
		return cmd->wait_fence.resp_offset;
	case VIOVA_CMD_QUERY:
		return cmd->query.resp_offset;
	default:
		return HOST_NIL;
	}
}

static void run_command(struct viova_host *h, const struct viova_codec_cmd *cmd)
{
	int ret;

	h->cur_cmd = cmd->hdr.cmd;
	h->cur_ctx = cmd->hdr.ctx_id;
	h->cur_seqno = cmd->hdr.seqno;
	h->cur_loses = host_cmd_loses_ctx(cmd->hdr.cmd,
					  cmd->hdr.cmd == VIOVA_CMD_GEM_NEW && cmd->gem_new.iova);
	h->fail.staged = false;
	ret = dispatch(h, cmd);
	if (ret == 0)
		return;
	/* A guest polling its response slot must see the failure there too. */
	if (resp_offset_of(cmd) != HOST_NIL)
		host_resp_error(h, resp_offset_of(cmd), ret);
	host_report_failure(h, ret);
}

void host_reap_all(struct viova_host *h)
{
	uint32_t i;

	for (i = 1; i <= h->q.max_contexts && h->zombies; i++) {
		if (h->ctx[i].live && h->ctx[i].zombies)
			host_bo_reap(h, &h->ctx[i]);
	}
}

int viova_host_process(struct viova_host *h, const void *batch, size_t len)
{
	struct viova_codec_dec_config cfg;
	struct viova_codec_decoder d;
	struct viova_codec_dec_error e;
	struct viova_codec_cmd cmd;
	uint64_t failed0, seq;
	int ret;

	if (!h || (!batch && len))
		return -EINVAL;
	failed0 = h->failed;
	h->batches++;
	h->last_error[0] = '\0';
	if (h->zombies)
		host_reap_all(h);

	cfg = (struct viova_codec_dec_config){
	    .host_minor = VIOVA_WIRE_MINOR,
	    .max_contexts = h->q.max_contexts,
	    .max_batch_size = h->max_batch_size,
	    .prev_seqno = h->seqno,
	    .scratch = h->scratch,
	    .scratch_size = h->max_batch_size,
	};
	h->wait_budget_ns = h->caps.max_wait_ns;
	ret = viova_codec_dec_begin(&d, &cfg, batch, len, &e);
	if (ret) {
		host_report_decode(h, &e);
	} else {
		while ((ret = viova_codec_dec_next(&d, &cmd, &e)) != 0) {
			if (ret < 0) {
				if (e.cmd || e.seqno)
					h->commands++;
				host_report_decode(h, &e);
				continue;
			}
			h->commands++;
			run_command(h, &cmd);
		}
	}

	seq = viova_codec_dec_publish_seqno(&d);
	if (seq > h->seqno)
		h->seqno = seq;
	if (h->have_resp)
		viova_codec_resp_host_end_batch(&h->resp, h->seqno);
	return (int)(h->failed - failed0);
}

/* ------------------------------------------------------------------------------------------ */
/* Instance                                                                                    */

static int check_caps(const struct viova_capset *c)
{
	if (!c->page_size || (c->page_size & (c->page_size - 1)))
		return -EINVAL;
	if (c->min_alignment < c->page_size || (c->min_alignment & (c->min_alignment - 1)))
		return -EINVAL;
	if (!c->va_size || c->va_start % c->page_size || c->va_size % c->page_size)
		return -EINVAL;
	return 0;
}

int viova_host_create(const struct viova_host_config *cfg, struct viova_host **out)
{
	viova_host_backend_create_fn create;
	struct viova_host *h;
	int ret;

	if (!cfg || !out)
		return -EINVAL;
	if (cfg->max_batch_size && (cfg->max_batch_size < 64 || cfg->max_batch_size > (1u << 31)))
		return -EINVAL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	ret = host_quota_init(&h->q, &cfg->quotas);
	if (ret) {
		free(h);
		return ret;
	}
	if (pthread_mutex_init(&h->lock, NULL)) {
		free(h);
		return -ENOMEM;
	}
	h->max_batch_size = cfg->max_batch_size ? cfg->max_batch_size : DEFAULT_BATCH;
	h->max_batch_size &= ~7u;
	h->teardown_timeout_ns =
	    cfg->teardown_timeout_ns ? cfg->teardown_timeout_ns : DEFAULT_TEARDOWN_NS;
	h->resp_map = cfg->resp_map;
	h->resp_unmap = cfg->resp_unmap;
	h->transport_cookie = cfg->transport_cookie;
	h->log = cfg->log;
	h->log_cookie = cfg->log_cookie;
	snprintf(h->name, sizeof(h->name), "%s", cfg->name ? cfg->name : "this device");
	h->events.fence_signaled = host_ev_fence_signaled;
	h->events.job_fault = host_ev_job_fault;

	ret = -ENOMEM;
	h->ctx = host_alloc(h, sizeof(*h->ctx) * ((size_t)h->q.max_contexts + 1));
	h->scratch = host_alloc(h, h->max_batch_size);
	if (!h->ctx || !h->scratch || viova_va_ops_create(&h->ops))
		goto fail;

	create = cfg->backend_create ? cfg->backend_create : viova_backend_create;
	ret =
	    create(cfg->backend ? cfg->backend : "sim", cfg->backend_config, &h->events, h, &h->be);
	if (ret)
		goto fail;
	if (!h->be || !h->be->ops) {
		ret = -ENODEV;
		goto fail;
	}
	ret = HOST_BE(h, get_caps, &h->caps);
	if (ret == 0)
		ret = check_caps(&h->caps);
	if (ret) {
		h->backend_calls++;
		h->be->ops->destroy(h->be);
		h->be = NULL;
		goto fail;
	}
	/* What the core adds to the backend's view: wire version, framing and quotas. */
	h->caps.wire_major = VIOVA_WIRE_MAJOR;
	h->caps.wire_minor = VIOVA_WIRE_MINOR;
	h->caps.max_batch_size = h->max_batch_size;
	h->caps.max_contexts = h->q.max_contexts;
	h->caps.max_vms = h->q.max_vms;
	h->caps.max_buffers = h->q.max_buffers;
	h->caps.max_mappings = h->q.max_mappings;
	h->caps.max_bytes = h->q.max_bytes;
	h->caps.clone_flags &= VIOVA_CLONE_ALL;
	host_budget_attach(h, cfg->budget);
	*out = h;
	return 0;

fail:
	viova_va_ops_destroy(h->ops);
	host_free(h, h->scratch, h->max_batch_size);
	host_free(h, h->ctx, sizeof(*h->ctx) * ((size_t)h->q.max_contexts + 1));
	pthread_mutex_destroy(&h->lock);
	free(h);
	return ret;
}

void viova_host_destroy(struct viova_host *h)
{
	uint32_t i;

	if (!h)
		return;
	/* Contexts first (each: jobs, backend context, buffers with their mappings, VMs). */
	for (i = 1; i <= h->q.max_contexts; i++) {
		if (h->ctx[i].live)
			host_ctx_teardown(h, &h->ctx[i]);
	}
	if (h->nvms)
		host_log(h, VIOVA_HOST_LOG_WARN,
			 "teardown: %" PRIu32 " VMs outlived every context (host bug)", h->nvms);
	host_budget_detach(h);
	h->backend_calls++;
	h->be->ops->destroy(h->be);
	if (h->resp_mem && h->resp_unmap)
		h->resp_unmap(h->transport_cookie, h->resp_res_id, h->resp_mem, h->resp_size);
	host_free(h, h->sbos, (sizeof(*h->sbos) + sizeof(*h->sidx)) * (size_t)h->sbos_cap);
	viova_va_ops_destroy(h->ops);
	host_free(h, h->scratch, h->max_batch_size);
	host_free(h, h->ctx, sizeof(*h->ctx) * ((size_t)h->q.max_contexts + 1));
	pthread_mutex_destroy(&h->lock);
	free(h);
}

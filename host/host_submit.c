/* SPDX-License-Identifier: MIT */
/*
 * host_submit.c - jobs: SUBMIT, WAIT_FENCE, busy tracking, and the backend's asynchronous
 * events (which may arrive on a backend thread).
 *
 * DOC: busy tracking without per-buffer work on completion
 *
 * Fences of a context signal in order, and only the owning context can list its buffers in a
 * job, so "buffer B is busy" is simply
 *
 *     B.busy_fence > ctx.completed          (busy_fence = out_fence of the last job listing B)
 *
 * SUBMIT writes busy_fence on the connection thread; fence_signaled raises ctx.completed with
 * an atomic max from any thread. Completion therefore releases every buffer of the job at once
 * without touching them, and the hot path takes no lock. Before refusing with EBUSY the core
 * asks the backend once more (fence_completed), in case the event is still on its way.
 *
 * DOC: events and locking
 *
 *   fence_signaled(ctx, f)   lock-free: ctx.completed = max(.., f); slot.completed_fence
 *                            (release store, host_ctx_complete; the connection thread does
 *                            the same when it learns a fence from the backend). Needs no
 *                            lock because the response area is
 *                            attached once (have_resp, release/acquire) and a context's slot
 *                            is reopened only when no backend context of that id exists.
 *   job_fault(ctx, f, iova)  under h->lock (the error ring is shared with the connection
 *                            thread): faults, fault_iova, lost, one ASYNC | CTX_LOST record.
 *
 * Contract relied on (viova/backend.h, event ordering): job_fault for a job returns before its
 * fence shows through fence_signaled, fence_completed or fence_wait, so when WAIT_FENCE
 * answers "done" the fault's record and lost flag are already published (the lock release in
 * job_fault orders them before the completed-fence store); fence events of a context are
 * serialized and monotonic; no event names a context before ctx_create/ctx_clone returned it,
 * and none after ctx_destroy returned.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "host_priv.h"

void host_ctx_complete(struct viova_host *h, struct host_ctx *c, uint64_t fence)
{
	uint64_t cur = __atomic_load_n(&c->completed, __ATOMIC_RELAXED), v;

	while (fence > cur && !__atomic_compare_exchange_n(&c->completed, &cur, fence, true,
							   __ATOMIC_RELEASE, __ATOMIC_RELAXED))
		;
	if (!__atomic_load_n(&h->have_resp, __ATOMIC_ACQUIRE))
		return;
	/*
	 * Mirror it into the guest's slot without a lock. Two threads may race here (an event
	 * and the connection thread after fence_completed); whoever stores last re-reads the
	 * counter afterwards, so the slot always ends at the final value, never an older one.
	 */
	do {
		v = host_ctx_completed(c);
		viova_codec_resp_host_ctx_fence(&h->resp, c->id, v);
	} while (host_ctx_completed(c) != v);
}

int host_ctx_drain(struct viova_host *h, struct host_ctx *c, uint64_t timeout_ns)
{
	int ret;

	if (c->last_fence <= host_ctx_completed(c))
		return 0;
	ret = HOST_BE(h, fence_wait, c->be, c->last_fence, timeout_ns);
	host_ctx_complete(h, c, HOST_BE(h, fence_completed, c->be));
	return c->last_fence <= host_ctx_completed(c) ? 0 : (ret ? ret : -ETIMEDOUT);
}

/* The seqno of the SUBMIT that produced fence (0 if it is no longer remembered). */
static uint64_t seqno_of_fence(const struct host_ctx *c, uint64_t fence)
{
	uint32_t k;

	for (k = 0; k < HOST_FSEQ; k++) {
		if (__atomic_load_n(&c->fseq[k].fence, __ATOMIC_ACQUIRE) == fence)
			return __atomic_load_n(&c->fseq[k].seqno, __ATOMIC_RELAXED);
	}
	return 0;
}

/* One block: n resolved entries for the backend, then the n arena indices behind them. */
#define SBO_BYTES (sizeof(struct viova_be_submit_bo) + sizeof(uint32_t))

static int grow_sbos(struct viova_host *h, uint32_t n)
{
	struct viova_be_submit_bo *s;

	if (n <= h->sbos_cap)
		return 0;
	s = host_realloc(h, h->sbos, SBO_BYTES * h->sbos_cap, SBO_BYTES * n);
	if (!s)
		return -ENOMEM;
	h->sbos = s;
	h->sidx = (uint32_t *)(s + n);
	h->sbos_cap = n;
	return 0;
}

/* A cmdbuf record must stay inside the buffer it names (defence before the driver parses it). */
static int check_cmdbufs(struct viova_host *h, struct host_ctx *c,
			 const struct viova_codec_cmd *cmd, const uint32_t *idx)
{
	uint32_t r;

	for (r = 0; r < cmd->record_count; r++) {
		struct viova_submit_cmdbuf cb = viova_codec_cmd_cmdbuf(cmd, r);
		const struct host_bo *bo = &c->bos[idx[cb.bo_index]];

		if (cb.offset > bo->size || cb.size > bo->size - cb.offset)
			return host_reject(h, -EINVAL, cb.offset, cb.size,
					   "cmdbufs[%" PRIu32 "] 0x%" PRIx64 "+0x%" PRIx64
					   " lies outside buffer %" PRIu32 " of 0x%" PRIx64
					   " bytes",
					   r, cb.offset, cb.size, bo->id, bo->size);
	}
	return 0;
}

int host_cmd_submit(struct viova_host *h, const struct viova_codec_cmd *cmd)
{
	const struct viova_cmd_submit *s = &cmd->submit;
	uint64_t need = s->format == VIOVA_SUBMIT_FORMAT_SIM ? VIOVA_FEATURE_SUBMIT_SIM
							     : VIOVA_FEATURE_SUBMIT_CMDBUF;
	struct viova_be_submit job;
	struct host_ctx *c;
	uint32_t *idx, k, mark;
	int ret;

	if (!(h->caps.features & need))
		return host_reject(h, -EOPNOTSUPP, s->format, 0,
				   "backend %s does not run submit format %" PRIu32
				   " (capset features SUBMIT_SIM / SUBMIT_CMDBUF)",
				   h->be->ops->name, s->format);
	ret = host_ctx_require(h, s->hdr.ctx_id, &c);
	if (ret)
		return ret;
	if (c->lost_err)
		return host_reject(h, -EIO, c->lost_err, 0,
				   "context %" PRIu32
				   " is lost (%s): no more jobs run on it; destroy "
				   "and recreate it",
				   c->id, viova_codec_errno_name(c->lost_err));
	if (s->out_fence <= c->last_fence)
		return host_reject(h, -EINVAL, s->out_fence, c->last_fence,
				   "out_fence %" PRIu64
				   " is not greater than the last fence %" PRIu64
				   " of context %" PRIu32 ": fences must strictly increase",
				   s->out_fence, c->last_fence, c->id);
	if (grow_sbos(h, s->bo_count))
		return host_reject(h, -ENOMEM, s->bo_count, 0,
				   "out of host memory for a list of %" PRIu32 " buffers",
				   s->bo_count);
	idx = h->sidx;

	if (++c->submit_mark == 0) {
		/* 2^32 submits: forget old marks so none can match by accident. */
		for (k = 0; k < c->bo_top; k++) {
			if ((c->bos[k].flags & (HOST_BO_USED | HOST_BO_ZOMBIE)) == HOST_BO_USED)
				c->bos[k].link = 0;
		}
		c->submit_mark = 1;
	}
	mark = c->submit_mark;
	for (k = 0; k < s->bo_count; k++) {
		struct viova_submit_bo b = viova_codec_cmd_bo(cmd, k);
		struct viova_va_mapping m;
		struct host_bo *bo;

		if (host_idmap_get(&c->ids, b.buf_id) == HOST_NIL)
			return host_reject(h, -ENOENT, b.buf_id, k,
					   "bos[%" PRIu32 "] names buffer %" PRIu32
					   ", which does not exist in context %" PRIu32
					   ": list only the context's own buffers",
					   k, b.buf_id, c->id);
		idx[k] = host_idmap_get(&c->ids, b.buf_id);
		bo = &c->bos[idx[k]];
		/* link holds the submit mark of a live buffer (free/zombie lists use it else). */
		if (bo->link == mark)
			return host_reject(h, -EINVAL, b.buf_id, k,
					   "bos[%" PRIu32 "] lists buffer %" PRIu32
					   " a second time: list each buffer once",
					   k, b.buf_id);
		bo->link = mark;
		h->sbos[k] = (struct viova_be_submit_bo){
		    .bo = bo->be,
		    .iova = host_find_whole(c, c->vm, idx[k], &m) == 0 ? m.addr : 0,
		    .flags = b.flags,
		};
	}
	if (s->format == VIOVA_SUBMIT_FORMAT_CMDBUF && check_cmdbufs(h, c, cmd, idx))
		return h->fail.err;

	job = (struct viova_be_submit){
	    .format = s->format,
	    .bo_count = s->bo_count,
	    .bos = h->sbos,
	    .cmds = cmd->records,
	    .cmd_size = s->cmd_size,
	    .out_fence = s->out_fence,
	};
	/*
	 * Remember which SUBMIT produces out_fence before the backend can run it: a fault may be
	 * reported from the GPU thread before submit() even returns.
	 */
	k = (uint32_t)(c->submits % HOST_FSEQ);
	__atomic_store_n(&c->fseq[k].fence, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&c->fseq[k].seqno, s->hdr.seqno, __ATOMIC_RELAXED);
	__atomic_store_n(&c->fseq[k].fence, s->out_fence, __ATOMIC_RELEASE);
	ret = HOST_BE(h, submit, c->be, &job);
	if (ret) {
		__atomic_store_n(&c->fseq[k].fence, 0, __ATOMIC_RELEASE);
		return host_reject(h, ret, s->out_fence, s->bo_count,
				   "backend %s refused the job of fence %" PRIu64 " (%" PRIu32
				   " records, %" PRIu32 " buffers) of context %" PRIu32,
				   h->be->ops->name, s->out_fence, cmd->record_count, s->bo_count,
				   c->id);
	}
	/* Queued: its buffers stay busy until out_fence signals. */
	for (k = 0; k < s->bo_count; k++)
		c->bos[idx[k]].busy_fence = s->out_fence;
	c->last_fence = s->out_fence;
	c->submits++;
	return 0;
}

static uint64_t host_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int host_cmd_wait_fence(struct viova_host *h, const struct viova_cmd_wait_fence *cmd)
{
	struct viova_fence_status st;
	struct host_ctx *c;
	uint64_t timeout = cmd->timeout_ns;
	void *dst;
	int ret;

	if (host_require_resp(h) || host_ctx_require(h, cmd->hdr.ctx_id, &c))
		return h->fail.err;
	ret = viova_codec_resp_host_reserve(&h->resp, cmd->resp_offset, sizeof(st), &dst);
	if (ret)
		return host_reject(h, ret, cmd->resp_offset, sizeof(st),
				   "response at resp_offset 0x%" PRIx32
				   " (16 + 8 bytes) does not fit the 0x%" PRIx32
				   "-byte payload region: choose a smaller offset",
				   cmd->resp_offset, h->resp.lay.payload_size);
	if (cmd->fence > c->last_fence)
		return host_reject(h, -EINVAL, cmd->fence, c->last_fence,
				   "fence %" PRIu64 " was never submitted by context %" PRIu32
				   " (last: %" PRIu64 "), so it would never signal",
				   cmd->fence, c->id, c->last_fence);
	if (host_ctx_completed(c) < cmd->fence) {
		if (!(h->caps.features & VIOVA_FEATURE_WAIT_BLOCKS))
			timeout = 0;
		else if (timeout > h->wait_budget_ns)
			timeout = h->wait_budget_ns; /* max_wait_ns for the whole batch */
		if (timeout) {
			uint64_t t0 = host_now_ns(), spent;

			HOST_BE(h, fence_wait, c->be, cmd->fence, timeout);
			spent = host_now_ns() - t0;
			h->wait_budget_ns -= spent < h->wait_budget_ns ? spent : h->wait_budget_ns;
		}
		host_ctx_complete(h, c, HOST_BE(h, fence_completed, c->be));
	}
	st.completed_fence = host_ctx_completed(c);
	memcpy(dst, &st, sizeof(st));
	/* A timeout is an answer, not a failure: nothing goes to the error ring. */
	viova_codec_resp_host_commit(&h->resp, cmd->resp_offset, cmd->hdr.seqno,
				     st.completed_fence >= cmd->fence ? 0 : VIOVA_ETIMEDOUT,
				     sizeof(st), sizeof(st));
	return 0;
}

void host_ev_fence_signaled(void *cookie, void *ctx, uint64_t fence)
{
	struct viova_host *h = cookie;
	struct host_ctx *c = ctx;

	if (!c)
		return;
	host_ctx_complete(h, c, fence);
}

void host_ev_job_fault(void *cookie, void *ctx, uint64_t fence, uint64_t iova, int err)
{
	struct viova_host *h = cookie;
	struct host_ctx *c = ctx;
	uint32_t wire = viova_codec_wire_errno(err ? err : -EFAULT);
	struct viova_err_rec rec = {
	    .detail0 = iova,
	    .detail1 = fence,
	    .cmd = VIOVA_CMD_SUBMIT,
	    .reason = VIOVA_REASON_NONE,
	    .err = wire,
	    .flags = VIOVA_ERR_ASYNC,
	};
	uint32_t faults;
	bool lost;

	if (!c)
		return;
	pthread_mutex_lock(&h->lock);
	if (!c->live) {
		pthread_mutex_unlock(&h->lock);
		return;
	}
	faults = __atomic_add_fetch(&c->faults, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&c->fault_iova, iova, __ATOMIC_RELAXED);
	__atomic_fetch_add(&h->faults, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&c->errors, 1, __ATOMIC_RELAXED);
	if (h->have_resp)
		viova_codec_resp_host_ctx_fault(&h->resp, c->id, faults, iova);
	lost = host_mark_lost_locked(h, c, wire);
	rec.seqno = seqno_of_fence(c, fence);
	rec.ctx_id = c->id;
	if (lost)
		rec.flags |= VIOVA_ERR_CTX_LOST;
	if (h->have_resp && viova_codec_resp_host_push_error(&h->resp, &rec) == 0)
		__atomic_fetch_add(&h->errors_logged, 1, __ATOMIC_RELAXED);
	else
		__atomic_fetch_add(&h->errors_dropped, 1, __ATOMIC_RELAXED);
	if (err == -ETIMEDOUT)
		host_log(h, VIOVA_HOST_LOG_WARN,
			 "SUBMIT (seqno %" PRIu64 ", ctx %" PRIu32 "): the job of fence %" PRIu64
			 " ran past the GPU time budget and was stopped at iova 0x%" PRIx64
			 " [%s]; context %" PRIu32 " is lost: split long work into smaller jobs, "
			 "then destroy and recreate the context",
			 rec.seqno, c->id, fence, iova, viova_codec_errno_name(wire), c->id);
	else if (err == -ENOMEM)
		host_log(h, VIOVA_HOST_LOG_WARN,
			 "SUBMIT (seqno %" PRIu64 ", ctx %" PRIu32 "): the job of fence %" PRIu64
			 " could not get host memory for the buffer it writes at iova 0x%" PRIx64
			 " [%s]; context %" PRIu32 " is lost: the host is short of memory (lower "
			 "--max-total-bytes or free buffers), then destroy and recreate the context",
			 rec.seqno, c->id, fence, iova, viova_codec_errno_name(wire), c->id);
	else
		host_log(h, VIOVA_HOST_LOG_WARN,
			 "SUBMIT (seqno %" PRIu64 ", ctx %" PRIu32 "): GPU fault at iova 0x%" PRIx64
			 " in the job of fence %" PRIu64 " [%s]; context %" PRIu32
			 " is lost: map every address a job touches, then destroy and recreate the "
			 "context",
			 rec.seqno, c->id, iova, fence, viova_codec_errno_name(wire), c->id);
	pthread_mutex_unlock(&h->lock);
}

/* SPDX-License-Identifier: MIT */
/*
 * bo.c - buffers (create with a local iova, close, set/clear iova, upload, download), job
 * submission and fences.
 *
 * DOC: creating a buffer without a round trip
 *
 *   bo_create(ctx, size)
 *     id   = shared counter++                    (no collision with other processes)
 *     iova = vma alloc in the VM's shared heap   (robust lock, O(log n), no host)
 *     GEM_NEW{id, size, iova} appended to the batch          <- returns here
 *   ... later: batch full / submit / wait / flush -> one message for many buffers
 *
 * The host creates and maps the buffer atomically; if it refuses (quota, overlap), the
 * context is lost and the error log says which seqno and why — the guest has already used
 * the iova in later commands, so there is nothing better to do (docs/protocol.md, GEM_NEW).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "guest_priv.h"

static int bo_usable(struct viova_guest_bo *bo, const char *what)
{
	if (!guest_mine(bo->ctx->dev, bo->owner))
		return guest_err(-EPERM, "%s: buffer %" PRIu32 " belongs to process %d, this is %d",
				 what, bo->id, (int)bo->owner, (int)bo->ctx->dev->pid);
	return guest_ctx_usable(bo->ctx, what);
}

static struct guest_bo_map *bo_map_of(struct viova_guest_bo *bo, const struct viova_guest_vm *vm)
{
	uint32_t i;

	for (i = 0; i < bo->nmaps; i++) {
		if (bo->maps[i].vm == vm)
			return &bo->maps[i];
	}
	return NULL;
}

static void bo_unlink(struct viova_guest_bo *bo)
{
	if (bo->prev)
		bo->prev->next = bo->next;
	else
		bo->ctx->bos = bo->next;
	if (bo->next)
		bo->next->prev = bo->prev;
}

int viova_guest_bo_create(struct viova_guest_ctx *ctx, uint64_t size, uint32_t flags,
			  struct viova_guest_vm *vm, struct viova_guest_bo **out)
{
	struct viova_guest_device *dev;
	struct viova_guest_bo *bo;
	uint64_t iova = 0, page, seq;
	int ret;

	if (!ctx || !out)
		return guest_err(-EINVAL, "bo_create: ctx and out must not be NULL");
	if (!size)
		return guest_err(-EINVAL, "bo_create: size 0: a buffer needs at least one page");
	dev = ctx->dev;
	page = dev->caps.page_size;
	if (flags & ~(VIOVA_GEM_FLAGS_ALL | VIOVA_GUEST_BO_NO_IOVA) ||
	    (flags & VIOVA_GEM_CACHED_COHERENT && flags & VIOVA_GEM_UNCACHED) ||
	    size > UINT64_MAX - page)
		return guest_err(-EINVAL,
				 "bo_create: flags 0x%" PRIx32 " (VIOVA_GEM_* | "
				 "VIOVA_GUEST_BO_NO_IOVA, one caching mode) or size 0x%" PRIx64
				 " invalid",
				 flags, size);
	size = (size + page - 1) & ~(page - 1);
	bo = calloc(1, sizeof(*bo));
	if (!bo)
		return guest_err(-ENOMEM, "bo_create: out of memory");
	guest_enter(dev);
	ret = guest_ctx_usable(ctx, "bo_create");
	if (ret)
		goto fail;
	if (!vm)
		vm = ctx->vm;
	if (!(flags & VIOVA_GUEST_BO_NO_IOVA) && vm != ctx->vm &&
	    !(vm->extra && vm->host_ctx_id == ctx->id)) {
		ret = guest_err(-EINVAL,
				"bo_create: VM %" PRIu32 " is not visible from context %" PRIu32,
				vm->id, ctx->id);
		goto fail;
	}
	bo->id = guest_next_id(dev);
	if (!(flags & VIOVA_GUEST_BO_NO_IOVA)) {
		ret = guest_vm_alloc_locked(vm, bo->id, size, 0, &iova, "bo_create");
		if (ret)
			goto fail;
	}
	GUEST_ENCODE(dev, ret,
		     viova_codec_enc_gem_new(&dev->enc, ctx->id, bo->id,
					     flags & VIOVA_GEM_FLAGS_ALL, size,
					     iova ? guest_vm_wire_id(ctx, vm) : 0, iova, &seq));
	if (ret) {
		/* Never sent: the range can go back at once. */
		if (iova)
			guest_vm_free_handle_locked(vm, bo->id);
		guest_err(ret, "bo_create: cannot encode GEM_NEW (%s)", strerror(-ret));
		goto fail;
	}
	bo->ctx = ctx;
	bo->flags = flags;
	bo->size = size;
	bo->owner = dev->pid;
	if (iova) {
		bo->maps[0] = (struct guest_bo_map){.vm = vm, .iova = iova};
		bo->nmaps = 1;
	}
	bo->next = ctx->bos;
	if (ctx->bos)
		ctx->bos->prev = bo;
	ctx->bos = bo;
	guest_leave(dev);
	*out = bo;
	return 0;
fail:
	guest_leave(dev);
	free(bo);
	return ret;
}

void guest_bo_forget(struct viova_guest_bo *bo, uint64_t local_seq, uint64_t fence)
{
	struct guest_retire_cond cond = {.ctx_id = bo->ctx->id, .fence = fence};
	uint32_t i;

	for (i = 0; i < bo->nmaps; i++)
		guest_retire_add(bo->ctx->dev, bo->maps[i].vm, bo->id, local_seq, 0, &cond, 1);
	free(bo);
}

int viova_guest_bo_close(struct viova_guest_bo *bo)
{
	struct viova_guest_device *dev;
	struct viova_resp_ctx slot;
	uint64_t local = 0, fence;
	int ret = 0;

	if (!bo)
		return guest_err(-EINVAL, "bo_close: bo is NULL");
	dev = bo->ctx->dev;
	guest_enter(dev);
	if (!guest_mine(dev, bo->owner)) {
		guest_leave(dev);
		return guest_err(-EPERM, "bo_close: buffer %" PRIu32 " belongs to process %d",
				 bo->id, (int)bo->owner);
	}
	guest_ctx_slot(bo->ctx, &slot);
	fence = bo->last_fence;
	if (slot.lost || guest_check_lost(dev)) {
		/*
		 * A lost context refuses GEM_CLOSE, so the host keeps the mapping until the
		 * context is destroyed: the iovas wait for that.
		 */
		fence = UINT64_MAX;
		local = viova_codec_enc_next_seqno(&dev->enc) - 1;
	} else {
		GUEST_ENCODE(dev, ret,
			     viova_codec_enc_gem_close(&dev->enc, bo->ctx->id, bo->id, &local));
		if (ret) {
			fence = UINT64_MAX;
			local = viova_codec_enc_next_seqno(&dev->enc) - 1;
			guest_err(ret,
				  "bo_close: cannot encode GEM_CLOSE of buffer %" PRIu32
				  " (%s); its iovas stay reserved until its context is "
				  "destroyed",
				  bo->id, strerror(-ret));
		}
	}
	bo_unlink(bo);
	guest_bo_forget(bo, local, fence);
	guest_leave(dev);
	return ret;
}

uint64_t viova_guest_bo_size(const struct viova_guest_bo *bo)
{
	return bo ? bo->size : 0;
}

uint32_t viova_guest_bo_id(const struct viova_guest_bo *bo)
{
	return bo ? bo->id : 0;
}

int viova_guest_bo_iova(const struct viova_guest_bo *bo, const struct viova_guest_vm *vm,
			uint64_t *iova)
{
	uint32_t i;

	if (!bo || !iova)
		return guest_err(-EINVAL, "bo_iova: bo and iova must not be NULL");
	if (!vm)
		vm = bo->ctx->vm;
	for (i = 0; i < bo->nmaps; i++) {
		if (bo->maps[i].vm == vm) {
			*iova = bo->maps[i].iova;
			return 0;
		}
	}
	return -ENOENT;
}

int viova_guest_bo_set_iova(struct viova_guest_bo *bo, struct viova_guest_vm *vm,
			    uint64_t *iova_out)
{
	struct viova_guest_device *dev;
	struct viova_guest_ctx *ctx;
	uint64_t iova, seq;
	int ret;

	if (!bo)
		return guest_err(-EINVAL, "bo_set_iova: bo is NULL");
	ctx = bo->ctx;
	dev = ctx->dev;
	if (!(dev->caps.features & VIOVA_FEATURE_SET_IOVA))
		return guest_err(-EOPNOTSUPP,
				 "bo_set_iova: buffer %" PRIu32 ": backend %u has no per-process "
				 "address space (capset feature SET_IOVA clear); use buffers "
				 "without a guest-chosen iova on this host",
				 bo->id, dev->caps.backend);
	guest_enter(dev);
	if (!vm)
		vm = ctx->vm;
	ret = bo_usable(bo, "bo_set_iova");
	if (ret == 0 && vm != ctx->vm && !(vm->extra && vm->host_ctx_id == ctx->id))
		ret = guest_err(-EINVAL,
				"bo_set_iova: VM %" PRIu32 " is not visible from context %" PRIu32,
				vm->id, ctx->id);
	if (ret == 0 && bo_map_of(bo, vm))
		ret = guest_err(-EBUSY,
				"bo_set_iova: buffer %" PRIu32 " is already mapped in VM %" PRIu32
				": clear that iova first",
				bo->id, vm->id);
	if (ret == 0 && bo->nmaps == GUEST_BO_MAX_MAPS)
		ret =
		    guest_err(-E2BIG, "bo_set_iova: buffer %" PRIu32 " is mapped in %u VMs already",
			      bo->id, GUEST_BO_MAX_MAPS);
	if (ret == 0)
		ret = guest_vm_alloc_locked(vm, bo->id, bo->size, 0, &iova, "bo_set_iova");
	if (ret == 0) {
		GUEST_ENCODE(dev, ret,
			     viova_codec_enc_set_iova(&dev->enc, ctx->id, bo->id,
						      guest_vm_wire_id(ctx, vm), iova, &seq));
		if (ret) {
			guest_vm_free_handle_locked(vm, bo->id);
			guest_err(ret, "bo_set_iova: cannot encode SET_IOVA (%s)", strerror(-ret));
		} else {
			bo->maps[bo->nmaps++] = (struct guest_bo_map){.vm = vm, .iova = iova};
			if (iova_out)
				*iova_out = iova;
		}
	}
	guest_leave(dev);
	return ret;
}

int viova_guest_bo_clear_iova(struct viova_guest_bo *bo, struct viova_guest_vm *vm,
			      uint64_t timeout_ns)
{
	struct guest_retire_cond cond;
	struct viova_guest_device *dev;
	struct viova_guest_ctx *ctx;
	struct guest_bo_map *m;
	uint64_t local;
	int ret;

	if (!bo)
		return guest_err(-EINVAL, "bo_clear_iova: bo is NULL");
	ctx = bo->ctx;
	dev = ctx->dev;
	if (!vm)
		vm = ctx->vm;
	/* The host refuses to clear an iova a running job uses (and would lose the context). */
	if (bo->last_fence) {
		ret = viova_guest_fence_wait(ctx, bo->last_fence, timeout_ns);
		if (ret)
			return ret;
	}
	guest_enter(dev);
	ret = bo_usable(bo, "bo_clear_iova");
	m = ret ? NULL : bo_map_of(bo, vm);
	if (ret == 0 && !m)
		ret = guest_err(-ENOENT,
				"bo_clear_iova: buffer %" PRIu32 " is not mapped in VM %" PRIu32,
				bo->id, vm->id);
	if (ret == 0)
		GUEST_ENCODE(dev, ret,
			     viova_codec_enc_set_iova(&dev->enc, ctx->id, bo->id,
						      guest_vm_wire_id(ctx, vm), 0, &local));
	if (ret == 0) {
		cond = (struct guest_retire_cond){.ctx_id = ctx->id, .fence = bo->last_fence};
		guest_retire_add(dev, vm, bo->id, local, 0, &cond, 1);
		*m = bo->maps[--bo->nmaps];
	}
	guest_leave(dev);
	return ret;
}

static int bo_range(const struct viova_guest_bo *bo, uint64_t offset, uint64_t size,
		    const char *what)
{
	if (!size || offset > bo->size || size > bo->size - offset)
		return guest_err(-EINVAL,
				 "%s: 0x%" PRIx64 "+0x%" PRIx64 " is empty or outside "
				 "buffer %" PRIu32 " (0x%" PRIx64 " bytes)",
				 what, offset, size, bo->id, bo->size);
	return 0;
}

int viova_guest_bo_upload(struct viova_guest_bo *bo, uint64_t offset, const void *data,
			  uint64_t size)
{
	struct viova_guest_device *dev;
	uint64_t done = 0, max, n, seq;
	int ret;

	if (!bo || !data)
		return guest_err(-EINVAL, "bo_upload: bo and data must not be NULL");
	ret = bo_range(bo, offset, size, "bo_upload");
	if (ret)
		return ret;
	dev = bo->ctx->dev;
	guest_enter(dev);
	ret = bo_usable(bo, "bo_upload");
	max = viova_codec_enc_upload_max(&dev->enc);
	while (ret == 0 && done < size) {
		n = size - done < max ? size - done : max;
		/* Fill what is left of this batch before starting a new one. */
		GUEST_ENCODE(dev, ret,
			     viova_codec_enc_gem_upload(&dev->enc, bo->ctx->id, bo->id,
							offset + done, (const uint8_t *)data + done,
							n, &seq));
		done += ret == 0 ? n : 0;
	}
	if (ret && ret != -EIO && ret != -EPERM && ret != -ENODEV)
		guest_err(ret, "bo_upload: cannot encode GEM_UPLOAD (%s)", strerror(-ret));
	guest_leave(dev);
	return ret;
}

int viova_guest_bo_download(struct viova_guest_bo *bo, uint64_t offset, void *data, uint64_t size,
			    uint64_t timeout_ns)
{
	struct viova_guest_device *dev;
	uint64_t done = 0, n, chunk, local, seq = 0;
	uint32_t lane, off, err, got;
	int ret;

	if (!bo || !data)
		return guest_err(-EINVAL, "bo_download: bo and data must not be NULL");
	ret = bo_range(bo, offset, size, "bo_download");
	if (ret)
		return ret;
	dev = bo->ctx->dev;
	if (!guest_mine(dev, bo->owner))
		return guest_err(-EPERM, "bo_download: buffer %" PRIu32 " belongs to process %d",
				 bo->id, (int)bo->owner);
	ret = guest_lane_claim(dev, timeout_ns, &lane);
	if (ret)
		return ret;
	off = guest_lane_offset(dev, lane);
	chunk = (dev->lane_size - sizeof(struct viova_resp_hdr)) & ~7ull;
	while (ret == 0 && done < size) {
		n = size - done < chunk ? size - done : chunk;
		guest_enter(dev);
		ret = bo_usable(bo, "bo_download");
		if (ret == 0)
			GUEST_ENCODE(dev, ret,
				     viova_codec_enc_gem_download(&dev->enc, bo->ctx->id, bo->id,
								  offset + done, n, off, &local));
		if (ret == 0)
			ret = guest_flush_locked(dev);
		if (ret == 0)
			seq = guest_real_seqno(dev, local);
		guest_leave(dev);
		if (ret)
			break;
		ret = guest_wait_seqno(dev, seq, timeout_ns);
		if (ret) {
			if (ret == -ETIMEDOUT)
				guest_err(ret,
					  "bo_download: no answer for seqno %" PRIu64
					  " within %" PRIu64 " ms",
					  seq, timeout_ns / 1000000);
			break;
		}
		err = 0;
		got = 0;
		ret = viova_codec_resp_guest_read(&dev->resp, off, seq, (uint8_t *)data + done, n,
						  &err, &got);
		if (ret) {
			ret = guest_err(-EIO,
					"bo_download: the host wrote no answer for seqno %" PRIu64
					" (%s): see the error log",
					seq, strerror(-ret));
		} else if (err) {
			ret =
			    guest_err(-EIO,
				      "bo_download: the host failed GEM_DOWNLOAD of buffer %" PRIu32
				      " 0x%" PRIx64 "+0x%" PRIx64 " (seqno %" PRIu64 "): %s",
				      bo->id, offset + done, n, seq, viova_codec_errno_name(err));
		} else if (got != n) {
			ret = guest_err(-EIO,
					"bo_download: the host answered %" PRIu32 " bytes, "
					"asked %" PRIu64,
					got, n);
		}
		done += n;
	}
	guest_lane_release(dev, lane, ret == -ETIMEDOUT ? seq : 0);
	return ret;
}

/* ---- jobs and fences ---- */

int viova_guest_submit(struct viova_guest_ctx *ctx, const struct viova_guest_submit *job,
		       uint64_t *fence, uint64_t *seqno)
{
	struct viova_submit_bo stack_bos[32], *bos = stack_bos;
	struct viova_codec_submit s;
	struct viova_guest_device *dev;
	uint64_t feature, f, local;
	uint32_t i;
	int ret;

	if (!ctx || !job || !fence || !job->cmds || !job->cmd_count || (job->bo_count && !job->bos))
		return guest_err(-EINVAL, "submit: ctx, job, fence and at least one command record "
					  "are required");
	dev = ctx->dev;
	feature = job->format == VIOVA_SUBMIT_FORMAT_SIM      ? VIOVA_FEATURE_SUBMIT_SIM
		  : job->format == VIOVA_SUBMIT_FORMAT_CMDBUF ? VIOVA_FEATURE_SUBMIT_CMDBUF
							      : 0;
	if (!feature)
		return guest_err(-EINVAL,
				 "submit: format %" PRIu32 " is not a VIOVA_SUBMIT_FORMAT_*",
				 job->format);
	if (!(dev->caps.features & feature))
		return guest_err(-EOPNOTSUPP,
				 "submit: the host does not run format %" PRIu32
				 " (capset features 0x%" PRIx64 ")",
				 job->format, dev->caps.features);
	if (job->bo_count > 65536)
		return guest_err(-EINVAL, "submit: %" PRIu32 " buffers in one job (at most 65536)",
				 job->bo_count);
	if (job->bo_count > 32) {
		bos = calloc(job->bo_count, sizeof(*bos));
		if (!bos)
			return guest_err(-ENOMEM, "submit: out of memory");
	}
	for (i = 0; i < job->bo_count; i++) {
		const struct viova_guest_submit_bo *b = &job->bos[i];

		if (!b->bo || b->bo->ctx != ctx ||
		    !(b->flags & (VIOVA_SUBMIT_BO_READ | VIOVA_SUBMIT_BO_WRITE)) ||
		    b->flags & ~VIOVA_SUBMIT_BO_FLAGS_ALL) {
			ret = guest_err(-EINVAL,
					"submit: bos[%" PRIu32 "] must be a buffer of "
					"context %" PRIu32 " with READ and/or WRITE "
					"(flags 0x%" PRIx32 ")",
					i, ctx->id, b->flags);
			goto out_free;
		}
		bos[i] = (struct viova_submit_bo){.buf_id = b->bo->id, .flags = b->flags};
	}
	guest_enter(dev);
	ret = guest_ctx_usable(ctx, "submit");
	if (ret)
		goto out;
	f = ctx->last_fence + 1;
	s = (struct viova_codec_submit){
	    .format = job->format,
	    .out_fence = f,
	    .bos = bos,
	    .bo_count = job->bo_count,
	    .cmds = job->cmds,
	    .cmd_count = job->cmd_count,
	};
	GUEST_ENCODE(dev, ret, viova_codec_enc_submit(&dev->enc, ctx->id, &s, &local));
	if (ret) {
		guest_err(ret,
			  "submit: the job (%" PRIu32 " records, %" PRIu32 " buffers) does "
			  "not fit a %zu-byte batch (%s): split it",
			  job->cmd_count, job->bo_count, dev->batch_cap, strerror(-ret));
		goto out;
	}
	/* Encoded: the fence is taken even if sending has to wait for a later flush. */
	ctx->last_fence = f;
	for (i = 0; i < job->bo_count; i++)
		job->bos[i].bo->last_fence = f;
	*fence = f;
	ret = guest_flush_locked(dev);
	if (ret == 0 && seqno)
		*seqno = guest_real_seqno(dev, local);
out:
	guest_leave(dev);
out_free:
	if (bos != stack_bos)
		free(bos);
	return ret;
}

struct fence_arg {
	struct viova_guest_ctx *ctx;
	uint64_t fence;
	bool lost;
	bool through_loss; /* the fence is known to come: keep waiting on a lost context */
};

static bool cond_fence(struct viova_guest_device *dev, void *p)
{
	struct fence_arg *a = p;
	struct viova_resp_ctx slot;

	(void)dev;
	guest_ctx_slot(a->ctx, &slot);
	if (slot.completed_fence >= a->fence)
		return true;
	if (a->through_loss)
		return false;
	a->lost = slot.lost != 0;
	return a->lost;
}

/*
 * The context is lost and fence has not signalled. The host publishes a faulting job's fault
 * (and the lost flag) *before* that job's fence, so the fence may still be on its way: it comes
 * iff the host accepted the SUBMIT. Accepted SUBMITs of a context are a prefix of its fences
 * (a refused SUBMIT loses the context and a lost context refuses every later one), and the host
 * counts them (QUERY CTX_STATS .submits), so fence f comes iff f <= submits.
 * Returns 0 (signalled), -EIO (it never will) or a wait/query error.
 */
static int fence_wait_lost(struct viova_guest_ctx *ctx, uint64_t fence, uint64_t deadline)
{
	struct fence_arg a = {.ctx = ctx, .fence = fence, .through_loss = true};
	struct viova_ctx_stats st;
	struct viova_resp_ctx slot;
	uint64_t now = guest_now_ns();
	int ret;

	ret = viova_guest_ctx_stats(ctx, &st, deadline > now ? deadline - now : 0);
	if (ret)
		return ret;
	guest_ctx_slot(ctx, &slot);
	if (slot.completed_fence >= fence)
		return 0;
	if (fence > st.submits)
		return guest_err(-EIO,
				 "fence_wait: context %" PRIu32 " is lost (%s) and fence %" PRIu64
				 " will never signal: the host refused its SUBMIT (it accepted %" PRIu64
				 "; completed: %" PRIu64 ")",
				 ctx->id, viova_codec_errno_name(slot.lost_err), fence, st.submits,
				 slot.completed_fence);
	now = guest_now_ns();
	return guest_wait(ctx->dev, cond_fence, &a, deadline > now ? deadline - now : 0);
}

static int fence_check(struct viova_guest_ctx *ctx, uint64_t fence, const char *what)
{
	if (!guest_mine(ctx->dev, ctx->owner))
		return guest_err(-EPERM, "%s: context %" PRIu32 " belongs to process %d", what,
				 ctx->id, (int)ctx->owner);
	if (!fence || fence > ctx->last_fence)
		return guest_err(-EINVAL,
				 "%s: fence %" PRIu64 " was never submitted on context %" PRIu32
				 " (last: %" PRIu64 ")",
				 what, fence, ctx->id, ctx->last_fence);
	return 0;
}

int viova_guest_fence_wait(struct viova_guest_ctx *ctx, uint64_t fence, uint64_t timeout_ns)
{
	struct fence_arg a = {.ctx = ctx, .fence = fence};
	struct viova_guest_device *dev;
	uint64_t deadline;
	int ret;

	if (!ctx)
		return guest_err(-EINVAL, "fence_wait: ctx is NULL");
	dev = ctx->dev;
	guest_enter(dev);
	ret = fence_check(ctx, fence, "fence_wait");
	/* The job may still sit in this process's batch after a failed send. */
	if (ret == 0)
		ret = guest_flush_locked(dev);
	guest_leave(dev);
	if (ret)
		return ret;
	deadline = guest_now_ns() + timeout_ns;
	if (deadline < timeout_ns)
		deadline = UINT64_MAX;
	ret = guest_wait(dev, cond_fence, &a, timeout_ns);
	if (ret == 0 && a.lost) {
		struct viova_resp_ctx slot;

		guest_ctx_slot(ctx, &slot);
		if (slot.completed_fence < fence)
			ret = fence_wait_lost(ctx, fence, deadline);
		if (ret != -ETIMEDOUT)
			return ret;
	}
	if (ret == -ETIMEDOUT)
		return guest_err(ret,
				 "fence_wait: fence %" PRIu64 " of context %" PRIu32
				 " has not signalled within %" PRIu64 " ms",
				 fence, ctx->id, timeout_ns / 1000000);
	return ret;
}

int viova_guest_fence_poll(struct viova_guest_ctx *ctx, uint64_t fence)
{
	struct viova_resp_ctx slot;
	int ret;

	if (!ctx)
		return guest_err(-EINVAL, "fence_poll: ctx is NULL");
	guest_enter(ctx->dev);
	ret = fence_check(ctx, fence, "fence_poll");
	if (ret == 0)
		ret = guest_flush_locked(ctx->dev);
	guest_leave(ctx->dev);
	if (ret)
		return ret;
	guest_ctx_slot(ctx, &slot);
	return slot.completed_fence >= fence;
}

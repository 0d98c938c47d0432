/* SPDX-License-Identifier: MIT */
/*
 * ctx.c - guest contexts: create (new or shared VM), clone, destroy, status, host stats.
 *
 * Context ids are connection-wide (they index the response area's slots), so they come from a
 * bitmap in the shared page: a forked child never picks an id its parent uses. An id is given
 * back after the CTX_DESTROY that ends it has been sent; a CTX_CREATE reusing it is sent later,
 * so the host sees them in that order.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "guest_priv.h"

void guest_ctx_slot(const struct viova_guest_ctx *ctx, struct viova_resp_ctx *slot)
{
	memset(slot, 0, sizeof(*slot));
	viova_codec_resp_guest_ctx(&ctx->dev->resp, ctx->id, slot);
}

int guest_ctx_usable(struct viova_guest_ctx *ctx, const char *what)
{
	struct viova_resp_ctx slot;
	int ret;

	if (!guest_mine(ctx->dev, ctx->owner))
		return guest_err(-EPERM,
				 "%s: context %" PRIu32 " belongs to process %d, this is %d: a "
				 "forked child creates its own context (it may share the VM)",
				 what, ctx->id, (int)ctx->owner, (int)ctx->dev->pid);
	ret = guest_check_lost(ctx->dev);
	if (ret)
		return ret;
	guest_ctx_slot(ctx, &slot);
	if (slot.lost)
		return guest_err(-EIO,
				 "%s: context %" PRIu32 " is lost (%s; %" PRIu32
				 " GPU faults, last "
				 "at iova 0x%" PRIx64 "): read the error log, then clone or "
				 "destroy the context",
				 what, ctx->id, viova_codec_errno_name(slot.lost_err), slot.faults,
				 slot.fault_iova);
	return 0;
}

static int ctx_new(struct viova_guest_device *dev, struct viova_guest_vm *vm,
		   struct viova_guest_ctx **out)
{
	struct viova_guest_ctx *ctx = calloc(1, sizeof(*ctx));
	int ret;

	if (!ctx)
		return guest_err(-ENOMEM, "context: out of memory");
	ret = guest_ctx_id_alloc(dev, &ctx->id);
	if (ret) {
		free(ctx);
		return ret;
	}
	ctx->dev = dev;
	ctx->owner = dev->pid;
	ctx->vm = vm;
	*out = ctx;
	return 0;
}

static void ctx_link(struct viova_guest_ctx *ctx)
{
	struct viova_guest_device *dev = ctx->dev;

	guest_vm_get(ctx->vm);
	if (!ctx->vm->host_ctx_id)
		ctx->vm->host_ctx_id = ctx->id;
	ctx->next = dev->ctxs;
	dev->ctxs = ctx;
}

int viova_guest_ctx_create(struct viova_guest_device *dev,
			   const struct viova_guest_ctx_options *opts, struct viova_guest_ctx **out)
{
	struct viova_guest_ctx_options o = {0};
	struct viova_guest_vm *vm = NULL;
	struct viova_guest_ctx *ctx = NULL;
	uint32_t flags = 0, share = 0;
	uint64_t seq;
	int ret;

	if (!dev || !out)
		return guest_err(-EINVAL, "ctx_create: dev and out must not be NULL");
	if (opts)
		o = *opts;
	if (o.params & ~VIOVA_CTX_PARAMS_ALL || o.priority < VIOVA_PRIORITY_MIN ||
	    o.priority > VIOVA_PRIORITY_MAX)
		return guest_err(-EINVAL,
				 "ctx_create: params 0x%" PRIx32 " (known: 0x%x) or "
				 "priority %" PRId32 " (%d..%d) out of range",
				 o.params, VIOVA_CTX_PARAMS_ALL, o.priority, VIOVA_PRIORITY_MIN,
				 VIOVA_PRIORITY_MAX);
	/* contexts of dead processes give their ids, host quota and iovas back first */
	guest_reap_auto(dev, 0);
	guest_enter(dev);
	ret = guest_check_lost(dev);
	if (ret)
		goto out;
	if (o.share_vm) {
		vm = o.share_vm;
		if (vm->dev != dev || vm->dead || !vm->host_ctx_id) {
			ret = guest_err(-EINVAL,
					"ctx_create: VM %" PRIu32 " cannot be shared: it is "
					"another device's, destroyed, or no context holds "
					"it any more",
					vm->id);
			goto out;
		}
		if (!(dev->caps.features & VIOVA_FEATURE_MULTI_VM)) {
			ret = guest_err(-EOPNOTSUPP,
					"ctx_create: sharing VM %" PRIu32 " needs the "
					"host feature MULTI_VM, which it lacks",
					vm->id);
			goto out;
		}
		flags = VIOVA_CTX_CREATE_SHARE_VM;
		share = vm->host_ctx_id;
	} else {
		ret = guest_vm_new(dev, o.vm, false, &vm);
		if (ret)
			goto out;
	}
	ret = ctx_new(dev, vm, &ctx);
	if (ret == 0) {
		GUEST_ENCODE(dev, ret,
			     viova_codec_enc_ctx_create(&dev->enc, ctx->id, flags, o.params,
							o.priority, vm->id, share, &seq));
		if (ret) {
			guest_ctx_id_free(dev, ctx->id);
			free(ctx);
			guest_err(ret, "ctx_create: cannot encode CTX_CREATE (%s)", strerror(-ret));
		}
	}
	if (ret) {
		if (!o.share_vm) {
			guest_vm_get(vm);
			guest_vm_put(vm);
		}
		goto out;
	}
	ctx_link(ctx);
	*out = ctx;
out:
	guest_leave(dev);
	return ret;
}

int viova_guest_ctx_clone(struct viova_guest_ctx *src, uint32_t flags,
			  const struct viova_guest_vm_options *vm_opts,
			  struct viova_guest_ctx **out)
{
	struct viova_guest_device *dev;
	struct viova_guest_vm *vm;
	struct viova_guest_ctx *ctx = NULL;
	uint64_t seq;
	int ret;

	if (!src || !out)
		return guest_err(-EINVAL, "ctx_clone: src and out must not be NULL");
	dev = src->dev;
	if (flags & ~VIOVA_CLONE_ALL)
		return guest_err(-EINVAL,
				 "ctx_clone: flags 0x%" PRIx32 " has unknown bits 0x%" PRIx32
				 " (defined: 0x%x)",
				 flags, flags & ~VIOVA_CLONE_ALL, VIOVA_CLONE_ALL);
	if (flags & ~dev->caps.clone_flags)
		return guest_err(-EOPNOTSUPP,
				 "ctx_clone: the host cannot clone 0x%" PRIx32
				 " (it honours 0x%" PRIx32 ")",
				 flags & ~dev->caps.clone_flags, dev->caps.clone_flags);
	guest_reap_auto(dev, 0);
	guest_enter(dev);
	ret = guest_check_lost(dev);
	if (ret == 0 && !guest_mine(dev, src->owner))
		ret = guest_err(-EPERM, "ctx_clone: context %" PRIu32 " belongs to process %d",
				src->id, (int)src->owner);
	if (ret)
		goto out;
	/* A lost source is fine: cloning it is the way back (docs/protocol.md, CTX_CLONE). */
	if (flags & VIOVA_CLONE_VM) {
		vm = src->vm;
	} else {
		ret = guest_vm_new(dev, vm_opts, false, &vm);
		if (ret)
			goto out;
	}
	ret = ctx_new(dev, vm, &ctx);
	if (ret == 0) {
		GUEST_ENCODE(dev, ret,
			     viova_codec_enc_ctx_clone(&dev->enc, ctx->id, src->id, flags,
						       (flags & VIOVA_CLONE_VM) ? 0 : vm->id,
						       &seq));
		if (ret) {
			guest_ctx_id_free(dev, ctx->id);
			free(ctx);
			guest_err(ret, "ctx_clone: cannot encode CTX_CLONE (%s)", strerror(-ret));
		}
	}
	if (ret) {
		if (!(flags & VIOVA_CLONE_VM)) {
			guest_vm_get(vm);
			guest_vm_put(vm);
		}
		goto out;
	}
	ctx_link(ctx);
	*out = ctx;
out:
	guest_leave(dev);
	return ret;
}

static void ctx_unlink(struct viova_guest_ctx *ctx)
{
	struct viova_guest_ctx **pp;

	for (pp = &ctx->dev->ctxs; *pp; pp = &(*pp)->next) {
		if (*pp == ctx) {
			*pp = ctx->next;
			break;
		}
	}
}

void guest_ctx_forget(struct viova_guest_ctx *ctx)
{
	struct viova_guest_bo *bo, *bn;

	/* Another process's buffers (a child's copies) or leftovers: structs only. */
	for (bo = ctx->bos; bo; bo = bn) {
		bn = bo->next;
		free(bo);
	}
	ctx->bos = NULL;
	if (ctx->vm)
		guest_vm_put(ctx->vm);
	free(ctx);
}

int guest_ctx_destroy_locked(struct viova_guest_ctx *ctx, uint64_t *local)
{
	struct viova_guest_device *dev = ctx->dev;
	struct viova_guest_bo *bo, *bn;
	struct viova_guest_vm *v;
	int ret;

	*local = 0;
	GUEST_ENCODE(dev, ret, viova_codec_enc_ctx_destroy(&dev->enc, ctx->id, local));
	if (ret)
		return guest_err(ret, "ctx_destroy: cannot encode CTX_DESTROY (%s)",
				 strerror(-ret));
	/* The host drops the buffers with the context; their iovas wait for that. */
	for (bo = ctx->bos; bo; bo = bn) {
		bn = bo->next;
		guest_bo_forget(bo, *local, UINT64_MAX);
	}
	ctx->bos = NULL;
	/* VMs created in this context die with it on the host. */
	for (v = dev->vms; v; v = v->next) {
		if (v->extra && v->host_ctx_id == ctx->id)
			v->host_ctx_id = 0;
	}
	return 0;
}

/* Another live context of this process that holds vm, to name it in later SHARE_VMs. */
static void vm_rehome(struct viova_guest_ctx *gone)
{
	struct viova_guest_vm *vm = gone->vm;
	struct viova_guest_ctx *c;

	if (!vm || vm->host_ctx_id != gone->id)
		return;
	vm->host_ctx_id = 0;
	for (c = gone->dev->ctxs; c; c = c->next) {
		if (c != gone && c->vm == vm && guest_mine(c->dev, c->owner)) {
			vm->host_ctx_id = c->id;
			return;
		}
	}
}

int viova_guest_ctx_destroy(struct viova_guest_ctx *ctx)
{
	struct viova_guest_device *dev;
	uint64_t local, gate = 0;
	uint32_t id;
	int ret;

	if (!ctx)
		return guest_err(-EINVAL, "ctx_destroy: ctx is NULL");
	dev = ctx->dev;
	guest_enter(dev);
	if (!guest_mine(dev, ctx->owner)) {
		guest_leave(dev);
		return guest_err(-EPERM, "ctx_destroy: context %" PRIu32 " belongs to process %d",
				 ctx->id, (int)ctx->owner);
	}
	id = ctx->id;
	ret = guest_check_lost(dev);
	if (ret == 0)
		ret = guest_ctx_destroy_locked(ctx, &local);
	if (ret == 0)
		ret = guest_flush_locked(dev);
	if (ret == 0) {
		gate = guest_real_seqno(dev, local);
		guest_retire_ctx_gone(dev, id, gate);
		guest_ctx_id_free(dev, id);
	} else {
		/* Lost device: nothing will be reused through this connection anyway. */
		guest_retire_ctx_gone(dev, id, UINT64_MAX);
	}
	vm_rehome(ctx);
	ctx_unlink(ctx);
	guest_ctx_forget(ctx);
	guest_leave(dev);
	if (ret)
		return ret;
	ret = guest_wait_seqno(dev, gate, dev->timeout_ns);
	if (ret == -ETIMEDOUT)
		return guest_err(ret,
				 "ctx_destroy: the host has not processed the CTX_DESTROY of "
				 "context %" PRIu32 " (seqno %" PRIu64 ") in time",
				 id, gate);
	if (ret == 0) {
		guest_enter(dev);
		guest_retire_poll(dev);
		guest_leave(dev);
	}
	return ret;
}

struct viova_guest_vm *viova_guest_ctx_vm(const struct viova_guest_ctx *ctx)
{
	return ctx ? ctx->vm : NULL;
}

uint32_t viova_guest_ctx_id(const struct viova_guest_ctx *ctx)
{
	return ctx ? ctx->id : 0;
}

int viova_guest_ctx_status(struct viova_guest_ctx *ctx, struct viova_guest_ctx_status *st)
{
	struct viova_resp_ctx slot;

	if (!ctx || !st)
		return guest_err(-EINVAL, "ctx_status: ctx and st must not be NULL");
	guest_ctx_slot(ctx, &slot);
	memset(st, 0, sizeof(*st));
	st->completed_fence = slot.completed_fence;
	st->last_fence = ctx->last_fence;
	st->fault_iova = slot.fault_iova;
	st->faults = slot.faults;
	st->lost = slot.lost != 0;
	st->lost_err = slot.lost ? slot.lost_err : 0;
	return 0;
}

int viova_guest_ctx_stats(struct viova_guest_ctx *ctx, struct viova_ctx_stats *st,
			  uint64_t timeout_ns)
{
	struct viova_guest_device *dev;
	uint32_t lane, err = 0, size = 0, rsize;
	uint64_t local, seq = 0;
	int ret;

	if (!ctx || !st)
		return guest_err(-EINVAL, "ctx_stats: ctx and st must not be NULL");
	dev = ctx->dev;
	if (!guest_mine(dev, ctx->owner))
		return guest_err(-EPERM, "ctx_stats: context %" PRIu32 " belongs to process %d",
				 ctx->id, (int)ctx->owner);
	ret = guest_lane_claim(dev, timeout_ns, &lane);
	if (ret)
		return ret;
	rsize = (uint32_t)((sizeof(struct viova_resp_hdr) + sizeof(*st) + 7) & ~(size_t)7);
	guest_enter(dev);
	ret = guest_check_lost(dev);
	if (ret == 0)
		GUEST_ENCODE(dev, ret,
			     viova_codec_enc_query(&dev->enc, ctx->id, VIOVA_QUERY_CTX_STATS,
						   guest_lane_offset(dev, lane), rsize, &local));
	if (ret == 0)
		ret = guest_flush_locked(dev);
	if (ret == 0)
		seq = guest_real_seqno(dev, local);
	guest_leave(dev);
	if (ret == 0)
		ret = guest_wait_seqno(dev, seq, timeout_ns);
	if (ret == 0) {
		memset(st, 0, sizeof(*st));
		ret = viova_codec_resp_guest_read(&dev->resp, guest_lane_offset(dev, lane), seq, st,
						  sizeof(*st), &err, &size);
		if (ret == 0 && err)
			ret = guest_err(-(int)err,
					"ctx_stats: the host answered QUERY CTX_STATS of "
					"context %" PRIu32 " with %s",
					ctx->id, viova_codec_errno_name(err));
		else if (ret)
			ret = guest_err(-EIO,
					"ctx_stats: no answer to QUERY (seqno %" PRIu64
					") in the response area (%s)",
					seq, strerror(-ret));
	} else if (ret == -ETIMEDOUT) {
		guest_err(ret, "ctx_stats: no answer to QUERY within %" PRIu64 " ms",
			  timeout_ns / 1000000);
	}
	guest_lane_release(dev, lane, ret == -ETIMEDOUT ? seq : 0);
	return ret;
}

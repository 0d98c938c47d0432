/* SPDX-License-Identifier: MIT */
/*
 * host_map.c - the mapping commands: SET_IOVA (msm semantics, seed 004), VM_BIND, VM_UNBIND.
 *
 * Each one follows the same three steps, so that a refusal at any point leaves the host and
 * the backend exactly as they were:
 *
 *   1. check    ownership, alignment, buffer bounds, quota, busy, and the VM's va_space
 *               (window, reserved region, overlap) -- no backend call yet
 *   2. backend  one call (bo_set_iova / bind / unbind); if it refuses, undo step 1's
 *               reservation (SET_IOVA removes the node it inserted, the others drop the op list)
 *   3. commit   apply to the va_space (cannot fail: sm_map/sm_unmap reserved the memory),
 *               update mapping counts
 *
 * SET_IOVA (seed 004): iova 0 clears the buffer's mapping in that VM (no mapping: success;
 * a job still using it: EBUSY); a buffer already mapped at another iova: EBUSY; the same iova
 * again: success, nothing to do; range not free: ENOSPC.
 *
 * VM_BIND / VM_UNBIND replace or remove only bind pieces of the issuing context's own buffers
 * that no unfinished job uses: a SET_IOVA mapping is cleared with SET_IOVA 0 (EBUSY here), a
 * piece of another context's buffer in a shared VM is that context's (EPERM).
 */
#include <errno.h>
#include <inttypes.h>

#include "host_priv.h"

int host_find_whole(struct host_ctx *c, struct host_vm *vm, uint32_t i, struct viova_va_mapping *m)
{
	const struct host_bo *bo = &c->bos[i];
	uint64_t key = host_obj_key(c->id, i);
	struct viova_va_iter it;

	if (bo->wvm == vm) {
		*m = (struct viova_va_mapping){
		    .addr = bo->wiova, .range = bo->size, .obj = key, .flags = HOST_MAP_WHOLE};
		return 0;
	}
	if (bo->nmaps <= (bo->wvm != NULL) || !viova_va_space_obj_mapped(vm->vs, key))
		return -ENOENT;
	viova_va_space_iter_obj(vm->vs, &it, key);
	while (viova_va_iter_next(&it, m)) {
		if (m->flags & HOST_MAP_WHOLE)
			return 0;
	}
	return -ENOENT;
}

void host_vs_remove_whole(struct host_vm *vm, const struct viova_va_mapping *m, uint32_t nmaps)
{
	/*
	 * Through the buffer's own list when it is short (no tree descent: the common case, one
	 * whole mapping); a buffer with many bind pieces would make that walk long, so the
	 * O(log n) descent then.
	 */
	if (nmaps <= HOST_OBJ_WALK_MAX)
		viova_va_space_obj_remove(vm->vs, m->obj, m->addr, m->range, NULL);
	else
		viova_va_space_remove(vm->vs, m->addr, m->range, NULL);
}

int host_map_whole(struct viova_host *h, struct host_ctx *c, struct host_vm *vm, uint32_t vm_name,
		   uint32_t i, uint64_t iova)
{
	struct host_bo *bo = &c->bos[i];
	struct viova_va_mapping m = {
	    .addr = iova,
	    .range = bo->size,
	    .obj = host_obj_key(c->id, i),
	    .flags = HOST_MAP_WHOLE,
	};
	struct viova_va_reject why;
	int ret;

	if (host_check_aligned(h, "iova", iova, h->caps.min_alignment) ||
	    host_quota_mappings_reap(h, c, 1) || host_budget_take_maps(h, 1, true))
		return h->fail.err;
	/* Insert first: one tree descent checks window, reserved region and overlap. */
	ret = viova_va_space_insert(vm->vs, &m, &why);
	if (ret) {
		host_budget_put_maps(h, 1);
		return host_reject_range(h, c, vm_name, &why);
	}
	ret = HOST_BE(h, bo_set_iova, vm->be, bo->be, iova);
	if (ret) {
		host_budget_put_maps(h, 1);
		host_vs_remove_whole(vm, &m, bo->nmaps + 1);
		return host_reject(h, ret, iova, bo->size,
				   "backend %s refused to map buffer %" PRIu32 " (0x%" PRIx64
				   " bytes) at 0x%" PRIx64 " in VM %" PRIu32 " of context %" PRIu32,
				   h->be->ops->name, bo->id, bo->size, iova, vm_name, c->id);
	}
	bo->nmaps++;
	c->nmappings++;
	if (!bo->wvm) {
		bo->wvm = vm;
		bo->wiova = iova;
	}
	return 0;
}

static int clear_whole(struct viova_host *h, struct host_ctx *c, struct host_vm *vm,
		       uint32_t vm_name, uint32_t i)
{
	struct host_bo *bo = &c->bos[i];
	struct viova_va_mapping m;
	int ret;

	if (host_find_whole(c, vm, i, &m))
		return 0; /* nothing mapped: clearing is a no-op, as in msm */
	if (host_bo_busy(h, c, bo))
		return host_reject(h, -EBUSY, m.addr, bo->busy_fence,
				   "buffer %" PRIu32 " at 0x%" PRIx64 " in VM %" PRIu32
				   " is used by the job of fence %" PRIu64 " of context %" PRIu32
				   " (completed: %" PRIu64 "): wait for that fence before clearing",
				   bo->id, m.addr, vm_name, bo->busy_fence, c->id,
				   host_ctx_completed(c));
	ret = HOST_BE(h, bo_set_iova, vm->be, bo->be, 0);
	if (ret)
		return host_reject(h, ret, m.addr, bo->size,
				   "backend %s refused to clear the mapping of buffer %" PRIu32
				   " at 0x%" PRIx64 " in VM %" PRIu32,
				   h->be->ops->name, bo->id, m.addr, vm_name);
	host_vs_remove_whole(vm, &m, bo->nmaps);
	bo->nmaps--;
	c->nmappings--;
	host_budget_put_maps(h, 1);
	if (bo->wvm == vm)
		bo->wvm = NULL;
	return 0;
}

int host_cmd_set_iova(struct viova_host *h, const struct viova_cmd_set_iova *cmd)
{
	struct viova_va_mapping m;
	struct host_ctx *c;
	struct host_vm *vm;
	uint32_t i, vm_name;

	if (!(h->caps.features & VIOVA_FEATURE_SET_IOVA))
		return host_reject(h, -EOPNOTSUPP, cmd->iova, 0,
				   "backend %s has no per-process address space for guest-chosen "
				   "iovas (capset feature SET_IOVA clear)",
				   h->be->ops->name);
	if (host_ctx_require(h, cmd->hdr.ctx_id, &c) || host_bo_lookup(h, c, cmd->buf_id, &i) ||
	    host_vm_lookup(h, c, cmd->vm_id, &vm))
		return h->fail.err;
	vm_name = cmd->vm_id ? cmd->vm_id : c->vm_id;
	if (cmd->iova == 0)
		return clear_whole(h, c, vm, vm_name, i);
	if (c->bos[i].nmaps && viova_va_space_obj_mapped(vm->vs, host_obj_key(c->id, i))) {
		if (host_find_whole(c, vm, i, &m) == 0) {
			if (m.addr == cmd->iova)
				return 0;
			return host_reject(
			    h, -EBUSY, cmd->iova, m.addr,
			    "buffer %" PRIu32 " is already mapped at 0x%" PRIx64 " in VM %" PRIu32
			    " of context %" PRIu32
			    ": clear it (SET_IOVA 0) before mapping it at 0x%" PRIx64,
			    cmd->buf_id, m.addr, vm_name, c->id, cmd->iova);
		}
		return host_reject(h, -EBUSY, cmd->iova, c->bos[i].nmaps,
				   "buffer %" PRIu32 " has VM_BIND mappings in VM %" PRIu32
				   " of context %" PRIu32 ": unbind them before SET_IOVA",
				   cmd->buf_id, vm_name, c->id);
	}
	return host_map_whole(h, c, vm, vm_name, i, cmd->iova);
}

/*
 * May the op list in h->ops replace/remove what it names? Also computes the change in the
 * context's mapping count.
 */
static int check_ops(struct viova_host *h, struct host_ctx *c, uint32_t vm_name, int64_t *delta)
{
	uint32_t k, n = viova_va_ops_count(h->ops);
	char owner[96];

	*delta = 0;
	for (k = 0; k < n; k++) {
		const struct viova_va_op *op = viova_va_ops_at(h->ops, k);
		const struct viova_va_mapping *va = &op->va;
		struct host_bo *bo;

		if (op->type == VIOVA_VA_OP_MAP) {
			(*delta)++;
			continue;
		}
		*delta += -1 + (op->type == VIOVA_VA_OP_REMAP ? op->has_prev + op->has_next : 0);
		host_describe_mapping(h, va, owner, sizeof(owner));
		bo = host_bo_of_key(c, va->obj, NULL);
		if (!bo)
			return host_reject(h, -EPERM, va->addr, va->obj >> 32,
					   "range overlaps the mapping of %s at 0x%" PRIx64
					   "+0x%" PRIx64 " in shared VM %" PRIu32
					   ": context %" PRIu32 " may only change its own mappings",
					   owner, va->addr, va->range, vm_name, c->id);
		if (va->flags & HOST_MAP_WHOLE)
			return host_reject(h, -EBUSY, va->addr, va->range,
					   "range overlaps the SET_IOVA mapping of %s at 0x%" PRIx64
					   "+0x%" PRIx64 " in VM %" PRIu32
					   ": clear it with SET_IOVA 0 first",
					   owner, va->addr, va->range, vm_name);
		if (host_bo_busy(h, c, bo))
			return host_reject(h, -EBUSY, va->addr, bo->busy_fence,
					   "range overlaps the mapping of %s at 0x%" PRIx64
					   "+0x%" PRIx64 ", used by the job of fence %" PRIu64
					   ": wait for that fence first",
					   owner, va->addr, va->range, bo->busy_fence);
	}
	if (host_quota_mappings(h, c, *delta))
		return h->fail.err;
	/* Growth is charged now (undone by uncheck_ops); shrinking is returned by commit_ops. */
	return *delta > 0 ? host_budget_take_maps(h, (uint32_t)*delta, false) : 0;
}

/* The op list checked by check_ops will not be applied: drop it and return its charge. */
static void uncheck_ops(struct viova_host *h, int64_t delta)
{
	viova_va_ops_reset(h->ops);
	if (delta > 0)
		host_budget_put_maps(h, (uint32_t)delta);
}

/*
 * Apply the checked op list and move the per-buffer and per-context mapping counts with it;
 * delta is check_ops' sum of the changes.
 */
static void commit_ops(struct viova_host *h, struct host_ctx *c, struct host_vm *vm,
		       int64_t delta)
{
	uint32_t k, n = viova_va_ops_count(h->ops);

	for (k = 0; k < n; k++) {
		const struct viova_va_op *op = viova_va_ops_at(h->ops, k);
		struct host_bo *bo = host_bo_of_key(c, op->va.obj, NULL);
		int32_t d;

		if (op->type == VIOVA_VA_OP_MAP)
			d = 1;
		else if (op->type == VIOVA_VA_OP_UNMAP)
			d = -1;
		else
			d = -1 + op->has_prev + op->has_next;
		bo->nmaps += d;
		c->nmappings += d;
	}
	viova_va_space_apply(vm->vs, h->ops);
	if (delta < 0)
		host_budget_put_maps(h, (uint32_t)-delta);
}

int host_cmd_vm_bind(struct viova_host *h, const struct viova_cmd_vm_bind *cmd)
{
	struct viova_va_mapping req;
	struct viova_va_reject why;
	struct host_ctx *c;
	struct host_vm *vm;
	struct host_bo *bo;
	uint32_t i, vm_name;
	int64_t delta;
	int ret;

	if (!(h->caps.features & VIOVA_FEATURE_VM_BIND))
		return host_reject(
		    h, -EOPNOTSUPP, cmd->addr, 0,
		    "backend %s has no sparse binding (capset feature VM_BIND clear): "
		    "map whole buffers with SET_IOVA",
		    h->be->ops->name);
	if (host_ctx_require(h, cmd->hdr.ctx_id, &c) || host_bo_lookup(h, c, cmd->buf_id, &i) ||
	    host_vm_lookup(h, c, cmd->vm_id, &vm))
		return h->fail.err;
	vm_name = cmd->vm_id ? cmd->vm_id : c->vm_id;
	bo = &c->bos[i];
	if (host_check_aligned(h, "addr", cmd->addr, h->caps.page_size) ||
	    host_check_aligned(h, "range", cmd->range, h->caps.page_size) ||
	    host_check_aligned(h, "buf_offset", cmd->buf_offset, h->caps.page_size) ||
	    host_check_in_buffer(h, bo->id, bo->size, cmd->buf_offset, cmd->range))
		return h->fail.err;
	req = (struct viova_va_mapping){
	    .addr = cmd->addr,
	    .range = cmd->range,
	    .obj = host_obj_key(c->id, i),
	    .offset = cmd->buf_offset,
	    .flags = HOST_MAP_BIND | ((cmd->flags & VIOVA_BIND_READONLY) ? HOST_MAP_READONLY : 0),
	};
	ret = viova_va_space_sm_map(vm->vs, &req, h->ops, &why);
	if (ret)
		return ret == -ENOMEM ? host_reject(h, -ENOMEM, cmd->addr, 0,
						    "out of host memory for the bind")
				      : host_reject_range(h, c, vm_name, &why);
	if (check_ops(h, c, vm_name, &delta)) {
		viova_va_ops_reset(h->ops);
		return h->fail.err;
	}
	ret = HOST_BE(h, bind, vm->be, bo->be, cmd->addr, cmd->range, cmd->buf_offset, cmd->flags);
	if (ret) {
		uncheck_ops(h, delta);
		return host_reject(h, ret, cmd->addr, cmd->range,
				   "backend %s refused to bind 0x%" PRIx64 "+0x%" PRIx64
				   " of buffer %" PRIu32 " at 0x%" PRIx64 " in VM %" PRIu32,
				   h->be->ops->name, cmd->buf_offset, cmd->range, bo->id, cmd->addr,
				   vm_name);
	}
	commit_ops(h, c, vm, delta);
	return 0;
}

int host_cmd_vm_unbind(struct viova_host *h, const struct viova_cmd_vm_unbind *cmd)
{
	struct viova_va_reject why;
	struct host_ctx *c;
	struct host_vm *vm;
	uint32_t vm_name;
	int64_t delta;
	int ret;

	if (!(h->caps.features & VIOVA_FEATURE_VM_BIND))
		return host_reject(
		    h, -EOPNOTSUPP, cmd->addr, 0,
		    "backend %s has no sparse binding (capset feature VM_BIND clear)",
		    h->be->ops->name);
	if (host_ctx_require(h, cmd->hdr.ctx_id, &c) || host_vm_lookup(h, c, cmd->vm_id, &vm))
		return h->fail.err;
	vm_name = cmd->vm_id ? cmd->vm_id : c->vm_id;
	if (host_check_aligned(h, "addr", cmd->addr, h->caps.page_size) ||
	    host_check_aligned(h, "range", cmd->range, h->caps.page_size))
		return h->fail.err;
	ret = viova_va_space_sm_unmap(vm->vs, cmd->addr, cmd->range, h->ops, &why);
	if (ret)
		return ret == -ENOMEM ? host_reject(h, -ENOMEM, cmd->addr, 0,
						    "out of host memory for the unbind")
				      : host_reject_range(h, c, vm_name, &why);
	if (check_ops(h, c, vm_name, &delta)) {
		viova_va_ops_reset(h->ops);
		return h->fail.err;
	}
	if (viova_va_ops_count(h->ops) == 0)
		return 0; /* nothing mapped there: nothing to tell the backend */
	ret = HOST_BE(h, unbind, vm->be, cmd->addr, cmd->range);
	if (ret) {
		uncheck_ops(h, delta);
		return host_reject(h, ret, cmd->addr, cmd->range,
				   "backend %s refused to unbind 0x%" PRIx64 "+0x%" PRIx64
				   " in VM %" PRIu32,
				   h->be->ops->name, cmd->addr, cmd->range, vm_name);
	}
	commit_ops(h, c, vm, delta);
	return 0;
}

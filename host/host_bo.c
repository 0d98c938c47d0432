/* SPDX-License-Identifier: MIT */
/*
 * host_bo.c - the buffer table of a context and the buffer commands (GEM_NEW, GEM_CLOSE,
 * GEM_UPLOAD, GEM_DOWNLOAD).
 *
 * Buffers live in a per-context arena of struct host_bo linked by u32 index; a per-context id
 * map turns the guest's buffer id into the index in O(1). Nothing outside the context can
 * reach the table: a command names buffers only through its own header's context.
 *
 *   guest id --host_idmap--> arena index --> host_bo { backend bo, size, busy fence, ... }
 *                                   |
 *                                   +--> va_space key (ctx id << 32 | index)
 *
 * Closing a buffer that an unfinished job still lists does not wait and does not fail: the id
 * is freed at once, the buffer becomes a zombie (its memory and mappings stay, as the kernel
 * keeps a busy object alive), and it is released once its job completes (host_bo_reap, at the
 * start of each batch, at context teardown, and before a GEM_NEW / SET_IOVA quota refusal).
 * Zombies count against the quotas until then.
 *
 * Not from the completion event itself: fence_signaled runs on a backend thread, and releasing
 * a buffer means backend calls (unmap, close) from inside a backend callback (backend.h rule 4:
 * a callback must not block on the backend) and changes to the arena, id map and va_space that
 * the connection thread reads without a lock; locking them would put a lock on every mapping
 * command. The connection thread releases them instead, at the points above.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "host_priv.h"

int host_bo_lookup(struct viova_host *h, struct host_ctx *c, uint32_t buf_id, uint32_t *index)
{
	uint32_t i = host_idmap_get(&c->ids, buf_id);

	if (i == HOST_NIL)
		return host_reject(h, -ENOENT, buf_id, c->id,
				   "buffer %" PRIu32 " does not exist in context %" PRIu32
				   ": create it with GEM_NEW first (buffer ids are per context)",
				   buf_id, c->id);
	*index = i;
	return 0;
}

struct host_bo *host_bo_of_key(struct host_ctx *c, uint64_t key, uint32_t *index)
{
	uint32_t i = (uint32_t)key;

	if ((key >> 32) != c->id || i >= c->bo_top || !(c->bos[i].flags & HOST_BO_USED))
		return NULL;
	if (index)
		*index = i;
	return &c->bos[i];
}

/* A free arena slot (its memory may move: take pointers only afterwards). */
static int bo_slot(struct viova_host *h, struct host_ctx *c, uint32_t *index)
{
	uint32_t i;

	if (c->bo_free != HOST_NIL) {
		i = c->bo_free;
		c->bo_free = c->bos[i].link;
	} else {
		if (c->bo_top == c->bo_cap) {
			uint32_t cap = c->bo_cap ? c->bo_cap * 2 : 16;
			struct host_bo *bos;

			if (cap > h->q.max_buffers)
				cap = h->q.max_buffers;
			bos = host_realloc(h, c->bos, sizeof(*bos) * (size_t)c->bo_cap,
					   sizeof(*bos) * (size_t)cap);
			if (!bos)
				return host_reject(h, -ENOMEM, c->nbufs, 0,
						   "out of host memory for the buffer table of "
						   "context %" PRIu32,
						   c->id);
			c->bos = bos;
			c->bo_cap = cap;
		}
		i = c->bo_top++;
	}
	memset(&c->bos[i], 0, sizeof(c->bos[i]));
	*index = i;
	return 0;
}

static void bo_slot_free(struct host_ctx *c, uint32_t i)
{
	memset(&c->bos[i], 0, sizeof(c->bos[i]));
	c->bos[i].link = c->bo_free;
	c->bo_free = i;
}

int host_cmd_gem_new(struct viova_host *h, const struct viova_cmd_gem_new *cmd)
{
	struct viova_be_bo *be;
	struct host_vm *vm = NULL;
	struct host_ctx *c;
	struct host_bo *bo;
	uint32_t i = 0;
	int ret = host_ctx_require(h, cmd->hdr.ctx_id, &c);

	if (ret)
		return ret;
	if (host_idmap_get(&c->ids, cmd->buf_id) != HOST_NIL)
		return host_reject(h, -EEXIST, cmd->buf_id, c->id,
				   "buffer %" PRIu32 " already exists in context %" PRIu32
				   ": close it first or choose another id",
				   cmd->buf_id, c->id);
	if (host_check_aligned(h, "size", cmd->size, h->caps.page_size))
		return h->fail.err;
	ret = host_quota_buffer(h, c, cmd->size);
	if (ret)
		return ret;
	if (cmd->iova) {
		struct viova_va_mapping m = {
		    .addr = cmd->iova, .range = cmd->size, .flags = HOST_MAP_WHOLE};
		struct viova_va_reject why;

		if (!(h->caps.features & VIOVA_FEATURE_SET_IOVA))
			return host_reject(h, -EOPNOTSUPP, cmd->iova, 0,
					   "backend %s has no guest-chosen iovas (capset feature "
					   "SET_IOVA clear): create the buffer with iova 0",
					   h->be->ops->name);
		if (host_vm_lookup(h, c, cmd->vm_id, &vm) ||
		    host_check_aligned(h, "iova", cmd->iova, h->caps.min_alignment) ||
		    host_quota_mappings_reap(h, c, 1))
			return h->fail.err;
		/* Everything the mapping can be refused for, before the backend sees anything. */
		if (viova_va_space_check(vm->vs, &m, &why))
			return host_reject_range(h, c, cmd->vm_id ? cmd->vm_id : c->vm_id, &why);
	}
	/* Reserve table room first so that nothing can fail after the backend has acted. */
	if (host_idmap_reserve(&c->ids, 1))
		return host_reject(h, -ENOMEM, cmd->buf_id, 0,
				   "out of host memory for the id map of context %" PRIu32, c->id);
	ret = bo_slot(h, c, &i);
	if (ret)
		return ret;
	/* The daemon budget is charged last before the backend: nothing to undo if it refuses. */
	ret = host_budget_take_buffer(h, cmd->size);
	if (ret) {
		bo_slot_free(c, i);
		return ret;
	}
	ret = HOST_BE(h, bo_create, c->vm->be, cmd->size, cmd->flags, &be);
	if (ret) {
		host_budget_put_buffer(h, cmd->size);
		bo_slot_free(c, i);
		return host_reject(h, ret, cmd->buf_id, cmd->size,
				   "backend %s could not create buffer %" PRIu32 " of 0x%" PRIx64
				   " bytes (flags 0x%" PRIx32 ") in context %" PRIu32,
				   h->be->ops->name, cmd->buf_id, cmd->size, cmd->flags, c->id);
	}
	bo = &c->bos[i];
	bo->be = be;
	bo->size = cmd->size;
	bo->id = cmd->buf_id;
	bo->flags = HOST_BO_USED | cmd->flags;
	if (vm) {
		ret = host_map_whole(h, c, vm, cmd->vm_id ? cmd->vm_id : c->vm_id, i, cmd->iova);
		if (ret) {
			/* Both or neither: the buffer goes again. */
			HOST_BE(h, bo_close, be);
			host_budget_put_buffer(h, cmd->size);
			bo_slot_free(c, i);
			return ret;
		}
	}
	host_idmap_put(&c->ids, cmd->buf_id, i); /* room reserved above */
	c->nbufs++;
	c->bytes += cmd->size;
	return 0;
}

void host_bo_unmap_all(struct viova_host *h, struct host_ctx *c, uint32_t i)
{
	struct host_bo *bo = &c->bos[i];
	uint64_t key = host_obj_key(c->id, i);
	uint32_t n, k;

	for (n = 0; n < c->nvms && bo->nmaps; n++) {
		struct host_vm *vm = c->vms[n].vm;
		struct viova_va_mapping m;
		struct viova_va_iter it;
		uint32_t count;

		if (bo->nmaps == 1 && bo->wvm == vm) {
			/* the common case, its one SET_IOVA mapping: no op list, no tree descent */
			int ret = HOST_BE(h, bo_set_iova, vm->be, bo->be, 0);

			host_find_whole(c, vm, i, &m);
			if (ret)
				host_log(h, VIOVA_HOST_LOG_WARN,
					 "closing buffer %" PRIu32 " of context %" PRIu32
					 ": backend %s failed to unmap 0x%" PRIx64 "+0x%" PRIx64
					 " (%d); the host forgets the mapping anyway",
					 bo->id, c->id, h->be->ops->name, m.addr, m.range, ret);
			host_vs_remove_whole(vm, &m, 1);
			bo->nmaps = 0;
			c->nmappings--;
			host_budget_put_maps(h, 1);
			break;
		}
		if (!viova_va_space_obj_mapped(vm->vs, key))
			continue;
		if (viova_va_space_obj_unmap_ops(vm->vs, key, h->ops) == 0) {
			count = viova_va_ops_count(h->ops);
			for (k = 0; k < count; k++) {
				const struct viova_va_op *op = viova_va_ops_at(h->ops, k);
				int ret =
				    (op->va.flags & HOST_MAP_WHOLE)
					? HOST_BE(h, bo_set_iova, vm->be, bo->be, 0)
					: HOST_BE(h, unbind, vm->be, op->va.addr, op->va.range);

				if (ret)
					host_log(h, VIOVA_HOST_LOG_WARN,
						 "closing buffer %" PRIu32 " of context %" PRIu32
						 ": backend %s failed to unmap 0x%" PRIx64
						 "+0x%" PRIx64
						 " (%d); the host forgets the mapping anyway",
						 bo->id, c->id, h->be->ops->name, op->va.addr,
						 op->va.range, ret);
			}
			viova_va_space_apply(vm->vs, h->ops);
		} else {
			/* No memory for an op list: remove one at a time (removal never
			 * allocates). */
			count = 0;
			for (;;) {
				viova_va_space_iter_obj(vm->vs, &it, key);
				if (!viova_va_iter_next(&it, &m))
					break;
				if (m.flags & HOST_MAP_WHOLE)
					HOST_BE(h, bo_set_iova, vm->be, bo->be, 0);
				else
					HOST_BE(h, unbind, vm->be, m.addr, m.range);
				viova_va_space_remove(vm->vs, m.addr, m.range, NULL);
				count++;
			}
		}
		bo->nmaps -= count;
		c->nmappings -= count;
		host_budget_put_maps(h, count);
	}
	bo->wvm = NULL;
}

void host_bo_release(struct viova_host *h, struct host_ctx *c, uint32_t i)
{
	struct host_bo *bo = &c->bos[i];

	host_bo_unmap_all(h, c, i);
	HOST_BE(h, bo_close, bo->be);
	c->nbufs--;
	c->bytes -= bo->size;
	host_budget_put_buffer(h, bo->size);
	bo_slot_free(c, i);
}

void host_bo_reap(struct viova_host *h, struct host_ctx *c)
{
	uint32_t *link = &c->zombie_head;

	while (*link != HOST_NIL) {
		uint32_t i = *link;
		struct host_bo *bo = &c->bos[i];

		if (host_bo_busy(h, c, bo)) {
			link = &bo->link;
			continue;
		}
		*link = bo->link;
		host_bo_release(h, c, i);
		c->zombies--;
		h->zombies--;
	}
}

int host_cmd_gem_close(struct viova_host *h, const struct viova_cmd_gem_close *cmd)
{
	struct host_ctx *c;
	struct host_bo *bo;
	uint32_t i;

	if (host_ctx_require(h, cmd->hdr.ctx_id, &c) || host_bo_lookup(h, c, cmd->buf_id, &i))
		return h->fail.err;
	bo = &c->bos[i];
	host_idmap_del(&c->ids, cmd->buf_id);
	if (host_bo_busy(h, c, bo)) {
		bo->flags |= HOST_BO_ZOMBIE;
		bo->link = c->zombie_head;
		c->zombie_head = i;
		c->zombies++;
		h->zombies++;
		return 0;
	}
	host_bo_release(h, c, i);
	return 0;
}

int host_cmd_gem_upload(struct viova_host *h, const struct viova_codec_cmd *cmd)
{
	const struct viova_cmd_gem_upload *u = &cmd->gem_upload;
	struct host_ctx *c;
	struct host_bo *bo;
	uint32_t i;
	int ret;

	if (!(h->caps.features & VIOVA_FEATURE_UPLOAD))
		return host_reject(h, -EOPNOTSUPP, u->buf_id, 0,
				   "backend %s cannot write buffers from the host (capset feature "
				   "UPLOAD clear)",
				   h->be->ops->name);
	if (host_ctx_require(h, u->hdr.ctx_id, &c) || host_bo_lookup(h, c, u->buf_id, &i))
		return h->fail.err;
	bo = &c->bos[i];
	if (host_check_in_buffer(h, bo->id, bo->size, u->buf_offset, u->size))
		return h->fail.err;
	/* cmd->data points into the decoder's private copy, never into guest memory. */
	ret = HOST_BE(h, bo_write, bo->be, u->buf_offset, cmd->data, u->size);
	if (ret)
		return host_reject(h, ret, u->buf_offset, u->size,
				   "backend %s could not write 0x%" PRIx64 " bytes at 0x%" PRIx64
				   " of buffer %" PRIu32,
				   h->be->ops->name, u->size, u->buf_offset, bo->id);
	return 0;
}

int host_cmd_gem_download(struct viova_host *h, const struct viova_cmd_gem_download *cmd)
{
	struct host_ctx *c;
	struct host_bo *bo;
	void *dst;
	uint32_t i;
	int ret;

	if (!(h->caps.features & VIOVA_FEATURE_DOWNLOAD))
		return host_reject(h, -EOPNOTSUPP, cmd->buf_id, 0,
				   "backend %s cannot read buffers from the host (capset feature "
				   "DOWNLOAD clear)",
				   h->be->ops->name);
	if (host_require_resp(h) || host_ctx_require(h, cmd->hdr.ctx_id, &c) ||
	    host_bo_lookup(h, c, cmd->buf_id, &i))
		return h->fail.err;
	bo = &c->bos[i];
	if (host_check_in_buffer(h, bo->id, bo->size, cmd->buf_offset, cmd->size))
		return h->fail.err;
	ret = viova_codec_resp_host_reserve(&h->resp, cmd->resp_offset, cmd->size, &dst);
	if (ret)
		return host_reject(h, ret, cmd->resp_offset, cmd->size,
				   "response at resp_offset 0x%" PRIx32
				   " (16-byte header + 0x%" PRIx64
				   " bytes) does not fit the 0x%" PRIx32
				   "-byte payload region: choose a smaller size or offset",
				   cmd->resp_offset, cmd->size, h->resp.lay.payload_size);
	/* Straight into the response area: the payload region is bounded by 4 GiB. */
	ret = HOST_BE(h, bo_read, bo->be, cmd->buf_offset, dst, cmd->size);
	if (ret)
		return host_reject(h, ret, cmd->buf_offset, cmd->size,
				   "backend %s could not read 0x%" PRIx64 " bytes at 0x%" PRIx64
				   " of buffer %" PRIu32,
				   h->be->ops->name, cmd->size, cmd->buf_offset, bo->id);
	viova_codec_resp_host_commit(&h->resp, cmd->resp_offset, cmd->hdr.seqno, 0,
				     (uint32_t)cmd->size, cmd->size);
	return 0;
}

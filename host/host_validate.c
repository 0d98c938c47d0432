/* SPDX-License-Identifier: MIT */
/*
 * host_validate.c - range checks and the messages that explain a refusal.
 *
 * Each check runs on values already copied out of the batch and before any backend call. The
 * errno of each refusal is the one the kernel gives for the same request (so a guest sees the
 * same answer whether the host or the driver refused), the message says which bound was hit:
 *
 *   check                                   errno     where
 *   iova / addr / size alignment            EINVAL    host_check_aligned
 *   [offset, offset + size) in the buffer    EINVAL    host_check_in_buffer
 *   wraps past 2^64                         EINVAL    host_reject_range (va_space WRAP)
 *   outside [va_start, va_start + va_size)  EINVAL    host_reject_range (OUT_OF_SPACE)
 *   touches the reserved region             ENOSPC    host_reject_range (RESERVED)
 *   overlaps a mapping                      ENOSPC    host_reject_range (OVERLAP)
 *   buffer in use by an unfinished job      EBUSY     host_bo_busy (callers stage it)
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "host_priv.h"

int host_check_aligned(struct viova_host *h, const char *what, uint64_t value, uint64_t align)
{
	if (value & (align - 1))
		return host_reject(h, -EINVAL, value, align,
				   "%s 0x%" PRIx64 " is not a multiple of 0x%" PRIx64
				   " (capset page_size/min_alignment): align it",
				   what, value, align);
	return 0;
}

int host_check_in_buffer(struct viova_host *h, uint32_t buf_id, uint64_t bo_size, uint64_t offset,
			 uint64_t size)
{
	if (offset > bo_size || size > bo_size - offset)
		return host_reject(h, -EINVAL, offset, bo_size,
				   "range 0x%" PRIx64 "+0x%" PRIx64 " lies outside buffer %" PRIu32
				   " of 0x%" PRIx64 " bytes: stay inside the buffer",
				   offset, size, buf_id, bo_size);
	return 0;
}

void host_describe_mapping(struct viova_host *h, const struct viova_va_mapping *m, char *buf,
			   size_t len)
{
	uint32_t ctx_id = (uint32_t)(m->obj >> 32);
	struct host_ctx *c = ctx_id <= h->q.max_contexts ? &h->ctx[ctx_id] : NULL;
	const struct host_bo *bo = NULL;

	if (m->flags & VIOVA_VA_SPARSE) {
		snprintf(buf, len, "a sparse mapping");
		return;
	}
	if (c && c->live && (uint32_t)m->obj < c->bo_top)
		bo = &c->bos[(uint32_t)m->obj];
	if (!bo || !(bo->flags & HOST_BO_USED))
		snprintf(buf, len, "an unknown buffer (key 0x%" PRIx64 ")", m->obj);
	else if (bo->flags & HOST_BO_ZOMBIE)
		snprintf(buf, len,
			 "closed buffer %" PRIu32 " of context %" PRIu32 " (a job still uses it)",
			 bo->id, ctx_id);
	else
		snprintf(buf, len, "buffer %" PRIu32 " of context %" PRIu32, bo->id, ctx_id);
}

int host_reject_range(struct viova_host *h, struct host_ctx *c, uint32_t vm_name,
		      const struct viova_va_reject *why)
{
	char text[224], owner[96];
	int err;

	switch (why->reason) {
	case VIOVA_VA_RESERVED:
		err = -ENOSPC;
		break;
	case VIOVA_VA_OVERLAP:
		err = -ENOSPC;
		host_describe_mapping(h, &why->conflict, owner, sizeof(owner));
		return host_reject(
		    h, err, why->addr, why->conflict.addr,
		    "range 0x%" PRIx64 "+0x%" PRIx64 " overlaps the mapping of %s at "
		    "0x%" PRIx64 "+0x%" PRIx64 " in VM %" PRIu32 " of context %" PRIu32
		    ": clear that mapping first or choose a free range",
		    why->addr, why->range, owner, why->conflict.addr, why->conflict.range, vm_name,
		    c->id);
	case VIOVA_VA_LIMIT:
		err = -EDQUOT;
		break;
	case VIOVA_VA_NOMEM:
		err = -ENOMEM;
		break;
	default: /* ZERO_SIZE, BAD_SPARSE, WRAP, OBJ_WRAP, OUT_OF_SPACE */
		err = -EINVAL;
		break;
	}
	viova_va_reject_format(why, "buffer", text, sizeof(text));
	return host_reject(h, err, why->addr,
			   why->reason == VIOVA_VA_OUT_OF_SPACE || why->reason == VIOVA_VA_RESERVED
			       ? why->bound_addr
			       : why->range,
			   "%s (VM %" PRIu32 " of context %" PRIu32 ")", text, vm_name, c->id);
}

bool host_bo_busy(struct viova_host *h, struct host_ctx *c, const struct host_bo *bo)
{
	uint64_t done;

	if (bo->busy_fence == 0 || bo->busy_fence <= host_ctx_completed(c))
		return false;
	/* The completion event may still be on its way: ask the backend before refusing. */
	done = HOST_BE(h, fence_completed, c->be);
	host_ctx_complete(h, c, done);
	return bo->busy_fence > done;
}

/* SPDX-License-Identifier: MIT */
/*
 * codec_resp.c - the response area: layout, host writer, guest reader.
 * Ownership and ordering: "DOC: response area ownership and memory ordering" in viova/codec.h.
 *
 * Layout (offsets from the start of the area):
 *
 *   0                 192                      err_offset (64-aligned)   payload_offset (64-al.)
 *   | viova_resp_area | ctx slot 0 .. count-1 | err record 0 .. cap-1   | payload_size bytes ...
 *
 * Shared fields are accessed with the GCC/clang __atomic builtins on the plain wire fields (the
 * wire structs cannot be _Atomic: their layout must be exactly the documented one).
 */
#include <errno.h>
#include <string.h>

#include "viova/codec.h"

#define RESP_HDR_SIZE ((uint64_t)sizeof(struct viova_resp_hdr))

static uint64_t align64(uint64_t x)
{
	return (x + 63) & ~(uint64_t)63;
}

static bool is_pow2(uint32_t x)
{
	return x && !(x & (x - 1));
}

int viova_codec_resp_layout(uint64_t area_size, uint32_t ctx_count, uint32_t err_capacity,
			    struct viova_codec_resp_layout *out)
{
	uint64_t ctx_off = sizeof(struct viova_resp_area);
	uint64_t err_off, pay_off;

	if (err_capacity == 0)
		err_capacity = VIOVA_RESP_DEFAULT_ERR_RECORDS;
	if (ctx_count == 0 || !is_pow2(err_capacity) || err_capacity > VIOVA_RESP_MAX_ERR_RECORDS)
		return -EINVAL;
	if (area_size > UINT32_MAX)
		return -EOVERFLOW;
	err_off = align64(ctx_off + (uint64_t)ctx_count * sizeof(struct viova_resp_ctx));
	pay_off = align64(err_off + (uint64_t)err_capacity * sizeof(struct viova_err_rec));
	if (pay_off > area_size || area_size - pay_off < VIOVA_RESP_MIN_PAYLOAD)
		return -ENOSPC;
	out->area_size = (uint32_t)area_size;
	out->ctx_offset = (uint32_t)ctx_off;
	out->ctx_count = ctx_count;
	out->err_offset = (uint32_t)err_off;
	out->err_capacity = err_capacity;
	out->payload_offset = (uint32_t)pay_off;
	out->payload_size = (uint32_t)(area_size - pay_off);
	out->ctx_slot_size = sizeof(struct viova_resp_ctx);
	out->err_rec_size = sizeof(struct viova_err_rec);
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Host                                                                                        */

static struct viova_resp_area *host_area(const struct viova_codec_resp_host *h)
{
	return (struct viova_resp_area *)h->mem;
}

int viova_codec_resp_host_init(struct viova_codec_resp_host *h, void *mem, size_t size,
			       uint32_t ctx_count, uint32_t err_capacity)
{
	struct viova_codec_resp_layout lay;
	struct viova_resp_area *a = mem;
	int ret;

	if (!mem || ((uintptr_t)mem & 7))
		return -EINVAL;
	ret = viova_codec_resp_layout(size, ctx_count, err_capacity, &lay);
	if (ret)
		return ret;
	memset(h, 0, sizeof(*h));
	h->mem = mem;
	h->lay = lay;

	/* The magic goes last: a guest that sees it sees a complete, zeroed layout. */
	__atomic_store_n(&a->magic, 0, __ATOMIC_RELAXED);
	memset((uint8_t *)mem + sizeof(a->magic), 0, lay.area_size - sizeof(a->magic));
	a->major = VIOVA_WIRE_MAJOR;
	a->minor = VIOVA_WIRE_MINOR;
	a->hdr_size = sizeof(*a);
	a->area_size = lay.area_size;
	a->ctx_offset = lay.ctx_offset;
	a->ctx_count = lay.ctx_count;
	a->err_offset = lay.err_offset;
	a->err_capacity = lay.err_capacity;
	a->payload_offset = lay.payload_offset;
	a->payload_size = lay.payload_size;
	a->ctx_slot_size = lay.ctx_slot_size;
	a->err_rec_size = lay.err_rec_size;
	__atomic_store_n(&a->magic, VIOVA_RESP_MAGIC, __ATOMIC_RELEASE);
	return 0;
}

/* Bounds of a response with data_size bytes of data at resp_offset, in host-private terms. */
static int host_resp_check(const struct viova_codec_resp_host *h, uint32_t resp_offset,
			   uint64_t data_size)
{
	if (resp_offset & 7)
		return -EINVAL;
	if (data_size > UINT64_MAX - RESP_HDR_SIZE - resp_offset ||
	    (uint64_t)resp_offset + RESP_HDR_SIZE + data_size > h->lay.payload_size)
		return -EFAULT;
	return 0;
}

int viova_codec_resp_host_reserve(struct viova_codec_resp_host *h, uint32_t resp_offset,
				  uint64_t size, void **data)
{
	int ret = host_resp_check(h, resp_offset, size);

	if (ret)
		return ret;
	*data = h->mem + h->lay.payload_offset + resp_offset + RESP_HDR_SIZE;
	return 0;
}

int viova_codec_resp_host_commit(struct viova_codec_resp_host *h, uint32_t resp_offset,
				 uint64_t seqno, uint32_t err, uint32_t size, uint64_t data_size)
{
	struct viova_resp_hdr *rh;
	int ret = host_resp_check(h, resp_offset, data_size);

	if (ret)
		return ret;
	rh = (struct viova_resp_hdr *)(h->mem + h->lay.payload_offset + resp_offset);
	__atomic_store_n(&rh->err, err, __ATOMIC_RELAXED);
	__atomic_store_n(&rh->size, size, __ATOMIC_RELAXED);
	__atomic_store_n(&rh->seqno, seqno, __ATOMIC_RELEASE);
	return 0;
}

int viova_codec_resp_host_write(struct viova_codec_resp_host *h, uint32_t resp_offset,
				uint64_t seqno, uint32_t err, const void *data, uint32_t size)
{
	void *dst;
	int ret = viova_codec_resp_host_reserve(h, resp_offset, size, &dst);

	if (ret)
		return ret;
	if (size)
		memcpy(dst, data, size);
	return viova_codec_resp_host_commit(h, resp_offset, seqno, err, size, size);
}

int viova_codec_resp_host_push_error(struct viova_codec_resp_host *h,
				     const struct viova_err_rec *rec)
{
	struct viova_resp_area *a = host_area(h);
	/* The only value the host reads from the area. Untrusted: it only decides "full". */
	uint32_t tail = __atomic_load_n(&a->err_tail, __ATOMIC_ACQUIRE);
	uint32_t used = h->err_head - tail;
	uint8_t *slot;

	if (used >= h->lay.err_capacity) {
		h->err_overflow++;
		__atomic_store_n(&a->err_overflow, h->err_overflow, __ATOMIC_RELEASE);
		return -ENOSPC;
	}
	slot = h->mem + h->lay.err_offset +
	       (size_t)(h->err_head & (h->lay.err_capacity - 1)) * h->lay.err_rec_size;
	memcpy(slot, rec, sizeof(*rec));
	h->err_head++;
	__atomic_store_n(&a->err_head, h->err_head, __ATOMIC_RELEASE);
	return 0;
}

void viova_codec_resp_host_publish(struct viova_codec_resp_host *h, uint64_t seqno)
{
	struct viova_resp_area *a = host_area(h);

	if (seqno > h->processed) {
		h->processed = seqno;
		__atomic_store_n(&a->processed_seqno, seqno, __ATOMIC_RELEASE);
	}
}

void viova_codec_resp_host_end_batch(struct viova_codec_resp_host *h, uint64_t seqno)
{
	struct viova_resp_area *a = host_area(h);

	h->batches++;
	/* Before the seqno: a guest that sees the seqno also sees the count. */
	__atomic_store_n(&a->batches, h->batches, __ATOMIC_RELEASE);
	viova_codec_resp_host_publish(h, seqno);
}

static struct viova_resp_ctx *host_slot(const struct viova_codec_resp_host *h, uint32_t ctx_id)
{
	if (ctx_id == 0 || ctx_id >= h->lay.ctx_count)
		return NULL;
	return (struct viova_resp_ctx *)(h->mem + h->lay.ctx_offset +
					 (size_t)ctx_id * h->lay.ctx_slot_size);
}

int viova_codec_resp_host_ctx_open(struct viova_codec_resp_host *h, uint32_t ctx_id)
{
	struct viova_resp_ctx *s = host_slot(h, ctx_id);

	if (!s)
		return -EINVAL;
	__atomic_store_n(&s->completed_fence, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&s->fault_iova, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&s->faults, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&s->lost, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&s->lost_err, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&s->active, 1, __ATOMIC_RELEASE);
	return 0;
}

int viova_codec_resp_host_ctx_close(struct viova_codec_resp_host *h, uint32_t ctx_id)
{
	struct viova_resp_ctx *s = host_slot(h, ctx_id);

	if (!s)
		return -EINVAL;
	__atomic_store_n(&s->active, 0, __ATOMIC_RELEASE);
	return 0;
}

int viova_codec_resp_host_ctx_fence(struct viova_codec_resp_host *h, uint32_t ctx_id,
				    uint64_t completed_fence)
{
	struct viova_resp_ctx *s = host_slot(h, ctx_id);

	if (!s)
		return -EINVAL;
	__atomic_store_n(&s->completed_fence, completed_fence, __ATOMIC_RELEASE);
	return 0;
}

int viova_codec_resp_host_ctx_fault(struct viova_codec_resp_host *h, uint32_t ctx_id,
				    uint32_t faults, uint64_t fault_iova)
{
	struct viova_resp_ctx *s = host_slot(h, ctx_id);

	if (!s)
		return -EINVAL;
	__atomic_store_n(&s->fault_iova, fault_iova, __ATOMIC_RELAXED);
	__atomic_store_n(&s->faults, faults, __ATOMIC_RELEASE);
	return 0;
}

int viova_codec_resp_host_ctx_lost(struct viova_codec_resp_host *h, uint32_t ctx_id, uint32_t err)
{
	struct viova_resp_ctx *s = host_slot(h, ctx_id);

	if (!s)
		return -EINVAL;
	__atomic_store_n(&s->lost_err, err, __ATOMIC_RELAXED);
	__atomic_store_n(&s->lost, 1, __ATOMIC_RELEASE);
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Guest                                                                                       */

int viova_codec_resp_guest_attach(struct viova_codec_resp_guest *g, void *mem, size_t size)
{
	struct viova_resp_area *a = mem;
	struct viova_codec_resp_layout lay;
	uint64_t ctx_end, err_end, pay_end;

	if (!mem || ((uintptr_t)mem & 7) || size < sizeof(*a))
		return -EINVAL;
	if (__atomic_load_n(&a->magic, __ATOMIC_ACQUIRE) != VIOVA_RESP_MAGIC)
		return -EAGAIN;
	if (a->major != VIOVA_WIRE_MAJOR)
		return -EPROTONOSUPPORT;

	lay.area_size = a->area_size;
	lay.ctx_offset = a->ctx_offset;
	lay.ctx_count = a->ctx_count;
	lay.err_offset = a->err_offset;
	lay.err_capacity = a->err_capacity;
	lay.payload_offset = a->payload_offset;
	lay.payload_size = a->payload_size;
	lay.ctx_slot_size = a->ctx_slot_size;
	lay.err_rec_size = a->err_rec_size;

	/* A newer host may have grown the header and records; never smaller than ours. */
	ctx_end = lay.ctx_offset + (uint64_t)lay.ctx_count * lay.ctx_slot_size;
	err_end = lay.err_offset + (uint64_t)lay.err_capacity * lay.err_rec_size;
	pay_end = (uint64_t)lay.payload_offset + lay.payload_size;
	if (a->hdr_size < sizeof(*a) || lay.area_size > size || lay.ctx_count == 0 ||
	    lay.ctx_slot_size < sizeof(struct viova_resp_ctx) ||
	    lay.err_rec_size < sizeof(struct viova_err_rec) || !is_pow2(lay.err_capacity) ||
	    ((lay.ctx_offset | lay.err_offset | lay.payload_offset | lay.ctx_slot_size |
	      lay.err_rec_size) &
	     7) ||
	    lay.ctx_offset < a->hdr_size || ctx_end > lay.err_offset ||
	    err_end > lay.payload_offset || pay_end > lay.area_size)
		return -EBADMSG;

	g->mem = mem;
	g->lay = lay;
	g->err_tail = __atomic_load_n(&a->err_tail, __ATOMIC_ACQUIRE);
	return 0;
}

uint64_t viova_codec_resp_guest_processed(const struct viova_codec_resp_guest *g)
{
	const struct viova_resp_area *a = (const struct viova_resp_area *)g->mem;

	return __atomic_load_n(&a->processed_seqno, __ATOMIC_ACQUIRE);
}

uint32_t viova_codec_resp_guest_overflow(const struct viova_codec_resp_guest *g)
{
	const struct viova_resp_area *a = (const struct viova_resp_area *)g->mem;

	return __atomic_load_n(&a->err_overflow, __ATOMIC_ACQUIRE);
}

uint64_t viova_codec_resp_guest_batches(const struct viova_codec_resp_guest *g)
{
	const struct viova_resp_area *a = (const struct viova_resp_area *)g->mem;

	return __atomic_load_n(&a->batches, __ATOMIC_ACQUIRE);
}

int viova_codec_resp_guest_pop_error(struct viova_codec_resp_guest *g, struct viova_err_rec *rec)
{
	struct viova_resp_area *a = (struct viova_resp_area *)g->mem;
	uint32_t head = __atomic_load_n(&a->err_head, __ATOMIC_ACQUIRE);
	const uint8_t *slot;

	if (head == g->err_tail)
		return -EAGAIN;
	if (head - g->err_tail > g->lay.err_capacity)
		return -EBADMSG;
	slot = g->mem + g->lay.err_offset +
	       (size_t)(g->err_tail & (g->lay.err_capacity - 1)) * g->lay.err_rec_size;
	memcpy(rec, slot, sizeof(*rec));
	g->err_tail++;
	/* Release: the host may reuse the slot only after our copy above is done. */
	__atomic_store_n(&a->err_tail, g->err_tail, __ATOMIC_RELEASE);
	return 0;
}

int viova_codec_resp_guest_ctx(const struct viova_codec_resp_guest *g, uint32_t ctx_id,
			       struct viova_resp_ctx *slot)
{
	const struct viova_resp_ctx *s;

	if (ctx_id == 0 || ctx_id >= g->lay.ctx_count)
		return -EINVAL;
	s = (const struct viova_resp_ctx *)(g->mem + g->lay.ctx_offset +
					    (size_t)ctx_id * g->lay.ctx_slot_size);
	/*
	 * completed_fence first: the host publishes a faulting job's fault and lost flag before
	 * its fence, so one snapshot that shows the fence done also shows what the job caused.
	 */
	slot->completed_fence = __atomic_load_n(&s->completed_fence, __ATOMIC_ACQUIRE);
	slot->active = __atomic_load_n(&s->active, __ATOMIC_ACQUIRE);
	slot->lost = __atomic_load_n(&s->lost, __ATOMIC_ACQUIRE);
	slot->lost_err = __atomic_load_n(&s->lost_err, __ATOMIC_RELAXED);
	slot->faults = __atomic_load_n(&s->faults, __ATOMIC_ACQUIRE);
	slot->fault_iova = __atomic_load_n(&s->fault_iova, __ATOMIC_RELAXED);
	return 0;
}

int viova_codec_resp_guest_read(const struct viova_codec_resp_guest *g, uint32_t resp_offset,
				uint64_t seqno, void *data, size_t cap, uint32_t *err,
				uint32_t *size)
{
	const struct viova_resp_hdr *rh;
	uint64_t n;

	if (resp_offset & 7)
		return -EINVAL;
	if ((uint64_t)resp_offset + RESP_HDR_SIZE > g->lay.payload_size)
		return -EFAULT;
	rh = (const struct viova_resp_hdr *)(g->mem + g->lay.payload_offset + resp_offset);
	if (__atomic_load_n(&rh->seqno, __ATOMIC_ACQUIRE) != seqno)
		return -EAGAIN;
	*err = __atomic_load_n(&rh->err, __ATOMIC_RELAXED);
	*size = __atomic_load_n(&rh->size, __ATOMIC_RELAXED);
	n = *size < cap ? *size : cap;
	if ((uint64_t)resp_offset + RESP_HDR_SIZE + n > g->lay.payload_size)
		return -EFAULT;
	if (n)
		memcpy(data, (const uint8_t *)(rh + 1), n);
	return 0;
}

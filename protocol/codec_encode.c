/* SPDX-License-Identifier: MIT */
/*
 * codec_encode.c - guest-side encoder: appends commands to a caller-owned batch buffer.
 *
 * Each command is assembled in a local struct (so padding and reserved fields are zero by
 * construction) and copied into the buffer only after the space check, so a failed append
 * leaves the buffer and the seqno counter untouched.
 */
#include <errno.h>
#include <string.h>

#include "viova/codec.h"

#define BATCH_HDR_SIZE sizeof(struct viova_batch_hdr)
/* A batch's length is a u32 on the wire; keep buffers below that and a multiple of 8. */
#define MAX_BATCH_BYTES ((size_t)UINT32_MAX & ~(size_t)7)

static uint64_t align8(uint64_t x)
{
	return (x + 7) & ~(uint64_t)7;
}

int viova_codec_enc_init(struct viova_codec_encoder *e, void *buf, size_t cap, uint64_t first_seqno)
{
	if (!e || !buf || first_seqno == 0)
		return -EINVAL;
	if (cap > MAX_BATCH_BYTES)
		cap = MAX_BATCH_BYTES;
	cap &= ~(size_t)7; /* commands are multiples of 8: the remainder could never be used */
	if (cap < BATCH_HDR_SIZE + sizeof(struct viova_cmd_hdr))
		return -EINVAL;
	e->buf = buf;
	e->cap = cap;
	e->len = BATCH_HDR_SIZE;
	e->next_seqno = first_seqno;
	e->last_seqno = 0;
	e->count = 0;
	return 0;
}

void viova_codec_enc_reset(struct viova_codec_encoder *e)
{
	e->len = BATCH_HDR_SIZE;
	e->last_seqno = 0;
	e->count = 0;
}

int viova_codec_enc_finish(struct viova_codec_encoder *e, size_t *len)
{
	struct viova_batch_hdr bh = {
	    .magic = VIOVA_BATCH_MAGIC,
	    .length = (uint32_t)e->len,
	    .major = VIOVA_WIRE_MAJOR,
	    .minor = VIOVA_WIRE_MINOR,
	    .last_seqno = e->last_seqno,
	};

	if (e->count == 0)
		return -ENODATA;
	memcpy(e->buf, &bh, sizeof(bh));
	*len = e->len;
	return 0;
}

uint32_t viova_codec_enc_count(const struct viova_codec_encoder *e)
{
	return e->count;
}

size_t viova_codec_enc_size(const struct viova_codec_encoder *e)
{
	return e->len;
}

uint64_t viova_codec_enc_next_seqno(const struct viova_codec_encoder *e)
{
	return e->next_seqno;
}

uint64_t viova_codec_enc_upload_max(const struct viova_codec_encoder *e)
{
	const uint64_t overhead = BATCH_HDR_SIZE + sizeof(struct viova_cmd_gem_upload);

	/* enc_init accepts buffers too small for any upload: say 0, not a wrapped huge value. */
	return e->cap > overhead ? e->cap - overhead : 0;
}

/*
 * Reserve `total` bytes for a command and fill in its header; returns where the command goes.
 * hdr points to the first member of the caller's local command struct.
 */
static int enc_reserve(struct viova_codec_encoder *e, struct viova_cmd_hdr *hdr, uint16_t cmd,
		       uint32_t ctx_id, uint64_t total, uint8_t **dst, uint64_t *seqno)
{
	if (total > e->cap - BATCH_HDR_SIZE)
		return -EMSGSIZE;
	if (total > e->cap - e->len)
		return -ENOSPC;
	hdr->cmd = cmd;
	hdr->flags = 0;
	hdr->length = (uint32_t)total;
	hdr->seqno = e->next_seqno;
	hdr->ctx_id = ctx_id;
	hdr->reserved = 0;
	*dst = e->buf + e->len;
	if (seqno)
		*seqno = hdr->seqno;
	return 0;
}

static void enc_commit(struct viova_codec_encoder *e, const struct viova_cmd_hdr *hdr)
{
	e->len += hdr->length;
	e->last_seqno = hdr->seqno;
	e->next_seqno++;
	e->count++;
}

/* Append a command that is just its struct. */
static int enc_fixed(struct viova_codec_encoder *e, struct viova_cmd_hdr *hdr, size_t size,
		     uint16_t cmd, uint32_t ctx_id, uint64_t *seqno)
{
	uint8_t *dst;
	int ret = enc_reserve(e, hdr, cmd, ctx_id, size, &dst, seqno);

	if (ret)
		return ret;
	memcpy(dst, hdr, size);
	enc_commit(e, hdr);
	return 0;
}

int viova_codec_enc_nop(struct viova_codec_encoder *e, uint64_t *seqno)
{
	struct viova_cmd_nop c = {0};

	return enc_fixed(e, &c.hdr, sizeof(c), VIOVA_CMD_NOP, 0, seqno);
}

int viova_codec_enc_sync(struct viova_codec_encoder *e, uint64_t *seqno)
{
	struct viova_cmd_sync c = {0};

	return enc_fixed(e, &c.hdr, sizeof(c), VIOVA_CMD_SYNC, 0, seqno);
}

int viova_codec_enc_resp_init(struct viova_codec_encoder *e, uint32_t res_id, uint32_t err_records,
			      uint64_t size, uint64_t *seqno)
{
	struct viova_cmd_resp_init c = {.res_id = res_id, .err_records = err_records, .size = size};

	return enc_fixed(e, &c.hdr, sizeof(c), VIOVA_CMD_RESP_INIT, 0, seqno);
}

int viova_codec_enc_ctx_create(struct viova_codec_encoder *e, uint32_t ctx_id, uint32_t flags,
			       uint32_t params, int32_t priority, uint32_t vm_id,
			       uint32_t share_ctx_id, uint64_t *seqno)
{
	struct viova_cmd_ctx_create c = {
	    .flags = flags,
	    .params = params,
	    .priority = priority,
	    .vm_id = vm_id,
	    .share_ctx_id = share_ctx_id,
	};

	return enc_fixed(e, &c.hdr, sizeof(c), VIOVA_CMD_CTX_CREATE, ctx_id, seqno);
}

int viova_codec_enc_ctx_clone(struct viova_codec_encoder *e, uint32_t ctx_id, uint32_t src_ctx_id,
			      uint32_t flags, uint32_t vm_id, uint64_t *seqno)
{
	struct viova_cmd_ctx_clone c = {.src_ctx_id = src_ctx_id, .flags = flags, .vm_id = vm_id};

	return enc_fixed(e, &c.hdr, sizeof(c), VIOVA_CMD_CTX_CLONE, ctx_id, seqno);
}

int viova_codec_enc_ctx_destroy(struct viova_codec_encoder *e, uint32_t ctx_id, uint64_t *seqno)
{
	struct viova_cmd_ctx_destroy c = {0};

	return enc_fixed(e, &c.hdr, sizeof(c), VIOVA_CMD_CTX_DESTROY, ctx_id, seqno);
}

int viova_codec_enc_vm_create(struct viova_codec_encoder *e, uint32_t ctx_id, uint32_t vm_id,
			      uint32_t flags, uint64_t *seqno)
{
	struct viova_cmd_vm_create c = {.vm_id = vm_id, .flags = flags};

	return enc_fixed(e, &c.hdr, sizeof(c), VIOVA_CMD_VM_CREATE, ctx_id, seqno);
}

int viova_codec_enc_vm_destroy(struct viova_codec_encoder *e, uint32_t ctx_id, uint32_t vm_id,
			       uint64_t *seqno)
{
	struct viova_cmd_vm_destroy c = {.vm_id = vm_id};

	return enc_fixed(e, &c.hdr, sizeof(c), VIOVA_CMD_VM_DESTROY, ctx_id, seqno);
}

int viova_codec_enc_gem_new(struct viova_codec_encoder *e, uint32_t ctx_id, uint32_t buf_id,
			    uint32_t flags, uint64_t size, uint32_t vm_id, uint64_t iova,
			    uint64_t *seqno)
{
	struct viova_cmd_gem_new c = {
	    .buf_id = buf_id,
	    .flags = flags,
	    .size = size,
	    .iova = iova,
	    .vm_id = vm_id,
	};

	return enc_fixed(e, &c.hdr, sizeof(c), VIOVA_CMD_GEM_NEW, ctx_id, seqno);
}

int viova_codec_enc_gem_close(struct viova_codec_encoder *e, uint32_t ctx_id, uint32_t buf_id,
			      uint64_t *seqno)
{
	struct viova_cmd_gem_close c = {.buf_id = buf_id};

	return enc_fixed(e, &c.hdr, sizeof(c), VIOVA_CMD_GEM_CLOSE, ctx_id, seqno);
}

int viova_codec_enc_set_iova(struct viova_codec_encoder *e, uint32_t ctx_id, uint32_t buf_id,
			     uint32_t vm_id, uint64_t iova, uint64_t *seqno)
{
	struct viova_cmd_set_iova c = {.buf_id = buf_id, .vm_id = vm_id, .iova = iova};

	return enc_fixed(e, &c.hdr, sizeof(c), VIOVA_CMD_SET_IOVA, ctx_id, seqno);
}

int viova_codec_enc_vm_bind(struct viova_codec_encoder *e, uint32_t ctx_id,
			    const struct viova_codec_bind *bind, uint64_t *seqno)
{
	struct viova_cmd_vm_bind c = {
	    .vm_id = bind->vm_id,
	    .buf_id = bind->buf_id,
	    .addr = bind->addr,
	    .range = bind->range,
	    .buf_offset = bind->buf_offset,
	    .flags = bind->flags,
	};

	return enc_fixed(e, &c.hdr, sizeof(c), VIOVA_CMD_VM_BIND, ctx_id, seqno);
}

int viova_codec_enc_vm_unbind(struct viova_codec_encoder *e, uint32_t ctx_id, uint32_t vm_id,
			      uint64_t addr, uint64_t range, uint64_t *seqno)
{
	struct viova_cmd_vm_unbind c = {.vm_id = vm_id, .addr = addr, .range = range};

	return enc_fixed(e, &c.hdr, sizeof(c), VIOVA_CMD_VM_UNBIND, ctx_id, seqno);
}

int viova_codec_enc_gem_upload(struct viova_codec_encoder *e, uint32_t ctx_id, uint32_t buf_id,
			       uint64_t buf_offset, const void *data, uint64_t size,
			       uint64_t *seqno)
{
	struct viova_cmd_gem_upload c = {
	    .buf_id = buf_id,
	    .data_offset = sizeof(c),
	    .buf_offset = buf_offset,
	    .size = size,
	};
	uint64_t total;
	uint8_t *dst;
	int ret;

	if (!data && size)
		return -EINVAL;
	if (size > UINT32_MAX)
		return -EMSGSIZE; /* a batch length is a u32: it can never carry this */
	total = sizeof(c) + align8(size);
	ret = enc_reserve(e, &c.hdr, VIOVA_CMD_GEM_UPLOAD, ctx_id, total, &dst, seqno);
	if (ret)
		return ret;
	memcpy(dst, &c, sizeof(c));
	if (size)
		memcpy(dst + sizeof(c), data, size);
	memset(dst + sizeof(c) + size, 0, total - sizeof(c) - size);
	enc_commit(e, &c.hdr);
	return 0;
}

int viova_codec_enc_gem_download(struct viova_codec_encoder *e, uint32_t ctx_id, uint32_t buf_id,
				 uint64_t buf_offset, uint64_t size, uint32_t resp_offset,
				 uint64_t *seqno)
{
	struct viova_cmd_gem_download c = {
	    .buf_id = buf_id,
	    .resp_offset = resp_offset,
	    .buf_offset = buf_offset,
	    .size = size,
	};

	return enc_fixed(e, &c.hdr, sizeof(c), VIOVA_CMD_GEM_DOWNLOAD, ctx_id, seqno);
}

uint32_t viova_codec_submit_record_size(uint32_t format)
{
	switch (format) {
	case VIOVA_SUBMIT_FORMAT_SIM:
		return sizeof(struct viova_sim_job);
	case VIOVA_SUBMIT_FORMAT_CMDBUF:
		return sizeof(struct viova_submit_cmdbuf);
	default:
		return 0;
	}
}

int viova_codec_enc_submit(struct viova_codec_encoder *e, uint32_t ctx_id,
			   const struct viova_codec_submit *s, uint64_t *seqno)
{
	uint32_t rec = viova_codec_submit_record_size(s->format);
	struct viova_cmd_submit c = {
	    .flags = s->flags,
	    .format = s->format,
	    .out_fence = s->out_fence,
	    .bo_count = s->bo_count,
	};
	uint64_t bo_bytes = (uint64_t)s->bo_count * sizeof(struct viova_submit_bo);
	uint64_t cmd_bytes, cmd_offset, total;
	uint8_t *dst;
	int ret;

	if (rec == 0)
		rec = 8; /* unknown format: still encodable, the decoder will name it */
	cmd_bytes = (uint64_t)s->cmd_count * rec;
	if ((s->bo_count && !s->bos) || (s->cmd_count && !s->cmds))
		return -EINVAL;
	cmd_offset = sizeof(c) + bo_bytes;
	total = cmd_offset + cmd_bytes;
	if (total > UINT32_MAX)
		return -EMSGSIZE;
	c.bo_offset = s->bo_count ? (uint32_t)sizeof(c) : 0;
	c.cmd_offset = (uint32_t)cmd_offset;
	c.cmd_size = (uint32_t)cmd_bytes;
	ret = enc_reserve(e, &c.hdr, VIOVA_CMD_SUBMIT, ctx_id, total, &dst, seqno);
	if (ret)
		return ret;
	memcpy(dst, &c, sizeof(c));
	if (bo_bytes)
		memcpy(dst + sizeof(c), s->bos, bo_bytes);
	if (cmd_bytes)
		memcpy(dst + cmd_offset, s->cmds, cmd_bytes);
	enc_commit(e, &c.hdr);
	return 0;
}

int viova_codec_enc_wait_fence(struct viova_codec_encoder *e, uint32_t ctx_id, uint64_t fence,
			       uint64_t timeout_ns, uint32_t resp_offset, uint64_t *seqno)
{
	struct viova_cmd_wait_fence c = {
	    .fence = fence,
	    .timeout_ns = timeout_ns,
	    .resp_offset = resp_offset,
	};

	return enc_fixed(e, &c.hdr, sizeof(c), VIOVA_CMD_WAIT_FENCE, ctx_id, seqno);
}

int viova_codec_enc_query(struct viova_codec_encoder *e, uint32_t ctx_id, uint32_t what,
			  uint32_t resp_offset, uint32_t resp_size, uint64_t *seqno)
{
	struct viova_cmd_query c = {
	    .what = what, .resp_offset = resp_offset, .resp_size = resp_size};

	return enc_fixed(e, &c.hdr, sizeof(c), VIOVA_CMD_QUERY, ctx_id, seqno);
}

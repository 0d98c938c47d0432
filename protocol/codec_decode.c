/* SPDX-License-Identifier: MIT */
/*
 * codec_decode.c - host-side strict decoder (see "DOC: decoding a batch" in viova/codec.h).
 *
 * Rule of this file: bytes of the batch are read exactly twice per command, both times with
 * memcpy into memory the guest cannot reach (the 24-byte header into a local, then the whole
 * command into the caller's scratch buffer). Every check reads those copies, never the batch,
 * so a guest rewriting the batch concurrently cannot make a checked value differ from the
 * value the host later uses.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "viova/codec.h"

#define BATCH_HDR_SIZE ((uint32_t)sizeof(struct viova_batch_hdr))
#define CMD_HDR_SIZE ((uint32_t)sizeof(struct viova_cmd_hdr))
#define RESP_HDR_SIZE ((uint64_t)sizeof(struct viova_resp_hdr))
#define RESP_SPACE (1ull << 32) /* response offsets and sizes live in a u32-sized region */

/* How a rejected value is printed. */
enum vfmt { V_DEC, V_HEX, V_SIGNED };

/* State of the command being checked. */
struct check {
	struct viova_codec_decoder *d;
	struct viova_codec_dec_error *err;
	const struct viova_cmd_hdr *h; /* local copy; NULL before it could be read */
	const uint8_t *copy;	       /* the command in scratch */
	uint32_t batch_offset;
	uint32_t base; /* offset of the struct being checked within the command (elements) */
	int64_t index; /* element index, -1 outside arrays */
};

/*
 * Messages are truncated when they do not fit: a shorter message is better than none, and
 * every fact in it is also in a structured field of viova_codec_dec_error.
 */
__attribute__((format(printf, 3, 4))) static void msgf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

static uint16_t min_u16(uint16_t a, uint16_t b)
{
	return a < b ? a : b;
}

static bool reason_is_fatal(uint16_t reason)
{
	return reason <= VIOVA_REASON_LEN_OVERRUN;
}

/* "bos[].flags" with index 3 -> "bos[3].flags". */
static void render_field(char *out, size_t size, const char *field, int64_t index)
{
	const char *br = index >= 0 ? strstr(field, "[]") : NULL;

	if (!br) {
		msgf(out, size, "%s", field);
		return;
	}
	msgf(out, size, "%.*s[%" PRId64 "]%s", (int)(br - field), field, index, br + 2);
}

static void render_prefix(const struct check *k, char *out, size_t size)
{
	char ctx[24] = "";

	if (!k->h) {
		msgf(out, size, "batch offset %" PRIu32, k->batch_offset);
		return;
	}
	if (k->h->ctx_id)
		msgf(ctx, sizeof(ctx), ", ctx %" PRIu32, k->h->ctx_id);
	if (k->h->cmd > 0 && k->h->cmd < VIOVA_CMD_COUNT)
		msgf(out, size, "%s (seqno %" PRIu64 "%s)", viova_codec_cmd_name(k->h->cmd),
		     k->h->seqno, ctx);
	else
		msgf(out, size, "command code %" PRIu16 " (seqno %" PRIu64 "%s)", k->h->cmd,
		     k->h->seqno, ctx);
}

/*
 * Record a rejection. The message reads "<prefix>: [reserved field ]<field> = <value>, <why>"
 * (or "<prefix>: <why>" when field is NULL).
 */
__attribute__((format(printf, 8, 9))) static int fail(struct check *k, uint16_t reason,
						      const char *field, uint32_t off,
						      uint64_t value, enum vfmt vf, uint64_t limit,
						      const char *fmt, ...)
{
	struct viova_codec_dec_error *err = k->err;
	char prefix[96], name[64], val[32], why[128];
	va_list ap;

	err->err = viova_codec_reason_errno(reason);
	err->reason = reason;
	err->cmd = k->h ? k->h->cmd : 0;
	err->ctx_id = k->h ? k->h->ctx_id : 0;
	err->seqno = k->h ? k->h->seqno : 0;
	err->batch_offset = k->batch_offset;
	err->field_offset = k->base + off;
	err->field = field ? field : "";
	err->index = k->index;
	err->value = value;
	err->limit = limit;
	err->fatal = reason_is_fatal(reason);

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	render_prefix(k, prefix, sizeof(prefix));
	if (!field) {
		msgf(err->msg, sizeof(err->msg), "%s: %s%s", prefix, why,
		     err->fatal ? "; rest of the batch skipped" : "");
	} else {
		render_field(name, sizeof(name), field, k->index);
		if (vf == V_HEX)
			msgf(val, sizeof(val), "0x%" PRIx64, value);
		else if (vf == V_SIGNED)
			msgf(val, sizeof(val), "%" PRId64, (int64_t)value);
		else
			msgf(val, sizeof(val), "%" PRIu64, value);
		msgf(err->msg, sizeof(err->msg), "%s: %s%s = %s, %s%s", prefix,
		     reason == VIOVA_REASON_RESERVED_NONZERO ? "reserved field " : "", name, val,
		     why, err->fatal ? "; rest of the batch skipped" : "");
	}
	if (err->fatal)
		k->d->done = true;
	return err->err;
}

/* ------------------------------------------------------------------------------------------ */
/* Field checks shared by the commands. off is the field's offset in the struct being checked. */

static int check_zero(struct check *k, const char *field, uint32_t off, uint64_t v)
{
	if (v)
		return fail(k, VIOVA_REASON_RESERVED_NONZERO, field, off, v, V_HEX, 0, "must be 0");
	return 0;
}

static int check_flags(struct check *k, const char *field, uint32_t off, uint64_t v, uint64_t known)
{
	if (v & ~known)
		return fail(k, VIOVA_REASON_UNKNOWN_FLAGS, field, off, v, V_HEX, known,
			    "unknown bits 0x%" PRIx64 " (defined at wire %u.%u: 0x%" PRIx64 ")",
			    v & ~known, VIOVA_WIRE_MAJOR, k->d->minor, known);
	return 0;
}

static int check_nonzero(struct check *k, const char *field, uint32_t off, uint64_t v)
{
	if (!v)
		return fail(k, VIOVA_REASON_BAD_VALUE, field, off, v, V_DEC, 0, "must be nonzero");
	return 0;
}

static int check_aligned(struct check *k, const char *field, uint32_t off, uint64_t v,
			 uint64_t align)
{
	if (v & (align - 1))
		return fail(k, VIOVA_REASON_MISALIGNED, field, off, v, V_HEX, align,
			    "must be a multiple of %" PRIu64, align);
	return 0;
}

/* start + size must not wrap around 2^64. */
static int check_wrap(struct check *k, const char *field, uint32_t off, uint64_t start,
		      uint64_t size, const char *size_name)
{
	if (size > UINT64_MAX - start)
		return fail(k, VIOVA_REASON_RANGE_WRAP, field, off, start, V_HEX, size,
			    "+ %s 0x%" PRIx64 " wraps around 2^64", size_name, size);
	return 0;
}

/* A response of `bytes` (header included) at resp_offset must fit the 32-bit payload space. */
static int check_resp(struct check *k, uint32_t off, uint32_t resp_offset, uint64_t bytes)
{
	int ret = check_aligned(k, "resp_offset", off, resp_offset, 8);

	if (ret)
		return ret;
	if (bytes > RESP_SPACE - resp_offset)
		return fail(
		    k, VIOVA_REASON_RANGE_WRAP, "resp_offset", off, resp_offset, V_HEX, bytes,
		    "+ %" PRIu64 " response bytes ends beyond the 4 GiB response space", bytes);
	return 0;
}

/* A context id field other than the header's: 1..max_contexts. */
static int check_ctx_ref(struct check *k, const char *field, uint32_t off, uint32_t id)
{
	if (id == 0)
		return fail(k, VIOVA_REASON_BAD_CTX, field, off, id, V_DEC, 0, "must be nonzero");
	if (id > k->d->max_contexts)
		return fail(k, VIOVA_REASON_BAD_CTX, field, off, id, V_DEC, k->d->max_contexts,
			    "exceeds max_contexts %" PRIu32, k->d->max_contexts);
	if (id == k->h->ctx_id)
		return fail(k, VIOVA_REASON_BAD_CTX, field, off, id, V_DEC, 0,
			    "names the context this command creates");
	return 0;
}

enum ctx_rule { CTX_NONE, CTX_REQUIRED };

static int check_hdr_ctx(struct check *k, enum ctx_rule rule)
{
	uint32_t id = k->h->ctx_id;
	uint32_t off = offsetof(struct viova_cmd_hdr, ctx_id);

	if (rule == CTX_NONE && id != 0)
		return fail(k, VIOVA_REASON_BAD_CTX, "hdr.ctx_id", off, id, V_DEC, 0,
			    "must be 0 for this connection-level command");
	if (rule == CTX_REQUIRED && id == 0)
		return fail(k, VIOVA_REASON_BAD_CTX, "hdr.ctx_id", off, id, V_DEC, 0,
			    "must name a context (1..%" PRIu32 ")", k->d->max_contexts);
	if (rule == CTX_REQUIRED && id > k->d->max_contexts)
		return fail(k, VIOVA_REASON_BAD_CTX, "hdr.ctx_id", off, id, V_DEC,
			    k->d->max_contexts, "exceeds max_contexts %" PRIu32,
			    k->d->max_contexts);
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Payload ranges                                                                              */

struct range {
	uint64_t start;
	uint64_t end;
};

/*
 * A payload of count x elem bytes at offset (named by field at field_off): 8-aligned, after the
 * body, inside the command. count x elem is computed in 64 bits from 32-bit inputs, so it
 * cannot overflow; the sum with offset is compared without forming it past 2^64.
 */
static int check_payload(struct check *k, const char *field, uint32_t field_off, uint32_t offset,
			 uint64_t count, uint64_t elem, struct range *r)
{
	uint64_t bytes = count * elem;
	uint32_t min = viova_codec_cmd_min_size(k->h->cmd, k->d->minor);
	int ret = check_aligned(k, field, field_off, offset, 8);

	if (ret)
		return ret;
	if (offset < min)
		return fail(k, VIOVA_REASON_ARRAY_OVERLAP, field, field_off, offset, V_DEC, min,
			    "overlaps the %" PRIu32 "-byte command body", min);
	/* offset first: length - offset must not underflow (found by fuzz_decoder). */
	if (offset > k->h->length || bytes > k->h->length - (uint64_t)offset)
		return fail(
		    k, VIOVA_REASON_ARRAY_BOUNDS, field, field_off, offset, V_DEC, k->h->length,
		    "+ %" PRIu64 " x %" PRIu64 " bytes ends beyond the command length %" PRIu32,
		    count, elem, k->h->length);
	r->start = offset;
	r->end = offset + bytes;
	return 0;
}

/*
 * Bytes past the struct this host knows, and not inside a payload, must be zero: they can only
 * be fields of a newer minor, and a nonzero one asks for something this host does not do.
 */
static int check_tail(struct check *k, const struct range *r, int nr)
{
	uint32_t known = viova_codec_cmd_struct_size(k->h->cmd);
	uint64_t pos = known;

	while (pos < k->h->length) {
		uint64_t next_end = k->h->length;
		int i;

		/* Skip a payload starting here; otherwise scan up to the next payload. */
		for (i = 0; i < nr; i++) {
			if (r[i].start <= pos && pos < r[i].end) {
				pos = r[i].end;
				break;
			}
			if (r[i].start > pos && r[i].start < next_end)
				next_end = r[i].start;
		}
		if (i < nr)
			continue;
		for (; pos < next_end; pos++) {
			if (k->copy[pos])
				return fail(
				    k, VIOVA_REASON_TAIL_NONZERO, NULL, (uint32_t)pos, k->copy[pos],
				    V_HEX, known,
				    "byte %" PRIu64 " = 0x%02x lies past the %" PRIu32
				    " bytes this host knows (wire %u.%u) and is not zero: the "
				    "guest uses a newer field",
				    pos, k->copy[pos], known, VIOVA_WIRE_MAJOR, k->d->minor);
		}
	}
	return 0;
}

static int check_no_overlap(struct check *k, const struct range *a, const struct range *b,
			    const char *field, uint32_t off)
{
	if (a->start < b->end && b->start < a->end)
		return fail(k, VIOVA_REASON_ARRAY_OVERLAP, field, off, b->start, V_DEC, a->end,
			    "overlaps the buffer list [%" PRIu64 ", %" PRIu64 ")", a->start,
			    a->end);
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Per-command checks. Each returns 0 or the rejection's negative errno.                        */

#define OFF(type, field) ((uint32_t)offsetof(struct type, field))
#define TRY(x)                                                                                     \
	do {                                                                                       \
		int ret_ = (x);                                                                    \
		if (ret_)                                                                          \
			return ret_;                                                               \
	} while (0)

static int check_resp_init(struct check *k, const struct viova_cmd_resp_init *c)
{
	TRY(check_hdr_ctx(k, CTX_NONE));
	if (c->err_records && ((c->err_records & (c->err_records - 1)) ||
			       c->err_records > VIOVA_RESP_MAX_ERR_RECORDS))
		return fail(k, VIOVA_REASON_BAD_VALUE, "err_records",
			    OFF(viova_cmd_resp_init, err_records), c->err_records, V_DEC,
			    VIOVA_RESP_MAX_ERR_RECORDS, "must be 0 or a power of two up to %u",
			    VIOVA_RESP_MAX_ERR_RECORDS);
	TRY(check_nonzero(k, "size", OFF(viova_cmd_resp_init, size), c->size));
	if (c->size > UINT32_MAX)
		return fail(k, VIOVA_REASON_BAD_VALUE, "size", OFF(viova_cmd_resp_init, size),
			    c->size, V_DEC, UINT32_MAX, "exceeds 4 GiB - 1");
	return 0;
}

static int check_ctx_create(struct check *k, const struct viova_cmd_ctx_create *c)
{
	TRY(check_hdr_ctx(k, CTX_REQUIRED));
	TRY(check_flags(k, "flags", OFF(viova_cmd_ctx_create, flags), c->flags,
			VIOVA_CTX_CREATE_FLAGS_ALL));
	TRY(check_flags(k, "params", OFF(viova_cmd_ctx_create, params), c->params,
			VIOVA_CTX_PARAMS_ALL));
	if (c->priority < VIOVA_PRIORITY_MIN || c->priority > VIOVA_PRIORITY_MAX)
		return fail(k, VIOVA_REASON_BAD_VALUE, "priority",
			    OFF(viova_cmd_ctx_create, priority), (uint64_t)(int64_t)c->priority,
			    V_SIGNED, VIOVA_PRIORITY_MAX, "must be within %d..%d",
			    VIOVA_PRIORITY_MIN, VIOVA_PRIORITY_MAX);
	TRY(check_nonzero(k, "vm_id", OFF(viova_cmd_ctx_create, vm_id), c->vm_id));
	if (c->flags & VIOVA_CTX_CREATE_SHARE_VM)
		TRY(check_ctx_ref(k, "share_ctx_id", OFF(viova_cmd_ctx_create, share_ctx_id),
				  c->share_ctx_id));
	else if (c->share_ctx_id)
		return fail(k, VIOVA_REASON_BAD_CTX, "share_ctx_id",
			    OFF(viova_cmd_ctx_create, share_ctx_id), c->share_ctx_id, V_DEC, 0,
			    "must be 0 without VIOVA_CTX_CREATE_SHARE_VM");
	return check_zero(k, "pad0", OFF(viova_cmd_ctx_create, pad0), c->pad0);
}

static int check_ctx_clone(struct check *k, const struct viova_cmd_ctx_clone *c)
{
	TRY(check_hdr_ctx(k, CTX_REQUIRED));
	TRY(check_ctx_ref(k, "src_ctx_id", OFF(viova_cmd_ctx_clone, src_ctx_id), c->src_ctx_id));
	TRY(check_flags(k, "flags", OFF(viova_cmd_ctx_clone, flags), c->flags, VIOVA_CLONE_ALL));
	if ((c->flags & VIOVA_CLONE_VM) && c->vm_id)
		return fail(k, VIOVA_REASON_BAD_VALUE, "vm_id", OFF(viova_cmd_ctx_clone, vm_id),
			    c->vm_id, V_DEC, 0,
			    "must be 0 with VIOVA_CLONE_VM (the source's VM keeps its id)");
	if (!(c->flags & VIOVA_CLONE_VM) && !c->vm_id)
		return fail(k, VIOVA_REASON_BAD_VALUE, "vm_id", OFF(viova_cmd_ctx_clone, vm_id),
			    c->vm_id, V_DEC, 0,
			    "must name the new context's VM when VIOVA_CLONE_VM is not set");
	return check_zero(k, "pad0", OFF(viova_cmd_ctx_clone, pad0), c->pad0);
}

static int check_vm_create(struct check *k, const struct viova_cmd_vm_create *c)
{
	TRY(check_hdr_ctx(k, CTX_REQUIRED));
	TRY(check_nonzero(k, "vm_id", OFF(viova_cmd_vm_create, vm_id), c->vm_id));
	return check_flags(k, "flags", OFF(viova_cmd_vm_create, flags), c->flags, 0);
}

static int check_vm_destroy(struct check *k, const struct viova_cmd_vm_destroy *c)
{
	TRY(check_hdr_ctx(k, CTX_REQUIRED));
	TRY(check_nonzero(k, "vm_id", OFF(viova_cmd_vm_destroy, vm_id), c->vm_id));
	return check_zero(k, "pad0", OFF(viova_cmd_vm_destroy, pad0), c->pad0);
}

static int check_gem_new(struct check *k, const struct viova_cmd_gem_new *c)
{
	TRY(check_hdr_ctx(k, CTX_REQUIRED));
	TRY(check_nonzero(k, "buf_id", OFF(viova_cmd_gem_new, buf_id), c->buf_id));
	TRY(check_flags(k, "flags", OFF(viova_cmd_gem_new, flags), c->flags, VIOVA_GEM_FLAGS_ALL));
	if ((c->flags & VIOVA_GEM_CACHED_COHERENT) && (c->flags & VIOVA_GEM_UNCACHED))
		return fail(k, VIOVA_REASON_BAD_VALUE, "flags", OFF(viova_cmd_gem_new, flags),
			    c->flags, V_HEX, 0, "CACHED_COHERENT and UNCACHED are exclusive");
	TRY(check_nonzero(k, "size", OFF(viova_cmd_gem_new, size), c->size));
	if (c->iova == 0 && c->vm_id)
		return fail(k, VIOVA_REASON_BAD_VALUE, "vm_id", OFF(viova_cmd_gem_new, vm_id),
			    c->vm_id, V_DEC, 0, "must be 0 when iova is 0 (no mapping)");
	TRY(check_wrap(k, "iova", OFF(viova_cmd_gem_new, iova), c->iova, c->size, "size"));
	return check_zero(k, "pad0", OFF(viova_cmd_gem_new, pad0), c->pad0);
}

static int check_gem_close(struct check *k, const struct viova_cmd_gem_close *c)
{
	TRY(check_hdr_ctx(k, CTX_REQUIRED));
	TRY(check_nonzero(k, "buf_id", OFF(viova_cmd_gem_close, buf_id), c->buf_id));
	return check_zero(k, "pad0", OFF(viova_cmd_gem_close, pad0), c->pad0);
}

static int check_set_iova(struct check *k, const struct viova_cmd_set_iova *c)
{
	TRY(check_hdr_ctx(k, CTX_REQUIRED));
	return check_nonzero(k, "buf_id", OFF(viova_cmd_set_iova, buf_id), c->buf_id);
}

static int check_vm_bind(struct check *k, const struct viova_cmd_vm_bind *c)
{
	TRY(check_hdr_ctx(k, CTX_REQUIRED));
	TRY(check_nonzero(k, "buf_id", OFF(viova_cmd_vm_bind, buf_id), c->buf_id));
	TRY(check_nonzero(k, "range", OFF(viova_cmd_vm_bind, range), c->range));
	TRY(check_wrap(k, "addr", OFF(viova_cmd_vm_bind, addr), c->addr, c->range, "range"));
	TRY(check_wrap(k, "buf_offset", OFF(viova_cmd_vm_bind, buf_offset), c->buf_offset, c->range,
		       "range"));
	TRY(check_flags(k, "flags", OFF(viova_cmd_vm_bind, flags), c->flags, VIOVA_BIND_FLAGS_ALL));
	return check_zero(k, "pad0", OFF(viova_cmd_vm_bind, pad0), c->pad0);
}

static int check_vm_unbind(struct check *k, const struct viova_cmd_vm_unbind *c)
{
	TRY(check_hdr_ctx(k, CTX_REQUIRED));
	TRY(check_zero(k, "pad0", OFF(viova_cmd_vm_unbind, pad0), c->pad0));
	TRY(check_nonzero(k, "range", OFF(viova_cmd_vm_unbind, range), c->range));
	return check_wrap(k, "addr", OFF(viova_cmd_vm_unbind, addr), c->addr, c->range, "range");
}

static int check_gem_upload(struct check *k, const struct viova_cmd_gem_upload *c, struct range *r)
{
	TRY(check_hdr_ctx(k, CTX_REQUIRED));
	TRY(check_nonzero(k, "buf_id", OFF(viova_cmd_gem_upload, buf_id), c->buf_id));
	TRY(check_nonzero(k, "size", OFF(viova_cmd_gem_upload, size), c->size));
	TRY(check_wrap(k, "buf_offset", OFF(viova_cmd_gem_upload, buf_offset), c->buf_offset,
		       c->size, "size"));
	return check_payload(k, "data_offset", OFF(viova_cmd_gem_upload, data_offset),
			     c->data_offset, c->size, 1, r);
}

static int check_gem_download(struct check *k, const struct viova_cmd_gem_download *c)
{
	TRY(check_hdr_ctx(k, CTX_REQUIRED));
	TRY(check_nonzero(k, "buf_id", OFF(viova_cmd_gem_download, buf_id), c->buf_id));
	TRY(check_nonzero(k, "size", OFF(viova_cmd_gem_download, size), c->size));
	TRY(check_wrap(k, "buf_offset", OFF(viova_cmd_gem_download, buf_offset), c->buf_offset,
		       c->size, "size"));
	if (c->size > RESP_SPACE - RESP_HDR_SIZE)
		return fail(k, VIOVA_REASON_BAD_VALUE, "size", OFF(viova_cmd_gem_download, size),
			    c->size, V_DEC, RESP_SPACE - RESP_HDR_SIZE,
			    "cannot fit the 4 GiB response space");
	return check_resp(k, OFF(viova_cmd_gem_download, resp_offset), c->resp_offset,
			  RESP_HDR_SIZE + c->size);
}

static int check_submit_bo(struct check *k, const struct viova_submit_bo *bo)
{
	TRY(check_nonzero(k, "bos[].buf_id", OFF(viova_submit_bo, buf_id), bo->buf_id));
	TRY(check_flags(k, "bos[].flags", OFF(viova_submit_bo, flags), bo->flags,
			VIOVA_SUBMIT_BO_FLAGS_ALL));
	if (!(bo->flags & (VIOVA_SUBMIT_BO_READ | VIOVA_SUBMIT_BO_WRITE)))
		return fail(k, VIOVA_REASON_BAD_VALUE, "bos[].flags", OFF(viova_submit_bo, flags),
			    bo->flags, V_HEX, 0, "must include READ or WRITE");
	return 0;
}

static int check_sim_job(struct check *k, const struct viova_sim_job *j)
{
	TRY(check_flags(k, "jobs[].flags", OFF(viova_sim_job, flags), j->flags, 0));
	switch (j->op) {
	case VIOVA_SIM_OP_FILL:
		TRY(check_aligned(k, "jobs[].arg0", OFF(viova_sim_job, arg0), j->arg0, 4));
		TRY(check_nonzero(k, "jobs[].arg1", OFF(viova_sim_job, arg1), j->arg1));
		TRY(check_aligned(k, "jobs[].arg1", OFF(viova_sim_job, arg1), j->arg1, 4));
		TRY(check_wrap(k, "jobs[].arg0", OFF(viova_sim_job, arg0), j->arg0, j->arg1,
			       "size"));
		if (j->arg2 > UINT32_MAX)
			return fail(k, VIOVA_REASON_BAD_VALUE, "jobs[].arg2",
				    OFF(viova_sim_job, arg2), j->arg2, V_HEX, UINT32_MAX,
				    "FILL pattern must fit 32 bits");
		return 0;
	case VIOVA_SIM_OP_COPY:
		TRY(check_nonzero(k, "jobs[].arg2", OFF(viova_sim_job, arg2), j->arg2));
		TRY(check_wrap(k, "jobs[].arg0", OFF(viova_sim_job, arg0), j->arg0, j->arg2,
			       "size"));
		TRY(check_wrap(k, "jobs[].arg1", OFF(viova_sim_job, arg1), j->arg1, j->arg2,
			       "size"));
		if (j->arg0 < j->arg1 + j->arg2 && j->arg1 < j->arg0 + j->arg2)
			return fail(k, VIOVA_REASON_BAD_VALUE, "jobs[].arg0",
				    OFF(viova_sim_job, arg0), j->arg0, V_HEX, j->arg1,
				    "COPY destination overlaps source 0x%" PRIx64 " + 0x%" PRIx64,
				    j->arg1, j->arg2);
		return 0;
	case VIOVA_SIM_OP_WRITE_FENCE:
		TRY(check_aligned(k, "jobs[].arg0", OFF(viova_sim_job, arg0), j->arg0, 8));
		TRY(check_wrap(k, "jobs[].arg0", OFF(viova_sim_job, arg0), j->arg0, 8, "8"));
		return check_zero(k, "jobs[].arg2", OFF(viova_sim_job, arg2), j->arg2);
	default:
		return fail(k, VIOVA_REASON_BAD_VALUE, "jobs[].op", OFF(viova_sim_job, op), j->op,
			    V_DEC, 0, "unknown sim GPU op (FILL 1, COPY 2, WRITE_FENCE 3)");
	}
}

static int check_cmdbuf(struct check *k, const struct viova_submit_cmdbuf *cb, uint32_t bo_count)
{
	if (cb->bo_index >= bo_count)
		return fail(k, VIOVA_REASON_BAD_VALUE, "cmdbufs[].bo_index",
			    OFF(viova_submit_cmdbuf, bo_index), cb->bo_index, V_DEC, bo_count,
			    "must be below bo_count %" PRIu32, bo_count);
	if (cb->type < VIOVA_CMDBUF_BUF || cb->type > VIOVA_CMDBUF_CTX_RESTORE)
		return fail(k, VIOVA_REASON_BAD_VALUE, "cmdbufs[].type",
			    OFF(viova_submit_cmdbuf, type), cb->type, V_DEC, 0,
			    "unknown command buffer type (BUF 1, IB_TARGET 2, CTX_RESTORE 3)");
	TRY(check_nonzero(k, "cmdbufs[].size", OFF(viova_submit_cmdbuf, size), cb->size));
	return check_wrap(k, "cmdbufs[].offset", OFF(viova_submit_cmdbuf, offset), cb->offset,
			  cb->size, "size");
}

static int check_submit(struct check *k, const struct viova_cmd_submit *c, struct range *r, int *nr,
			struct viova_codec_cmd *out)
{
	uint32_t rec = viova_codec_submit_record_size(c->format);
	uint32_t i;

	TRY(check_hdr_ctx(k, CTX_REQUIRED));
	TRY(check_flags(k, "flags", OFF(viova_cmd_submit, flags), c->flags, 0));
	if (!rec)
		return fail(k, VIOVA_REASON_BAD_VALUE, "format", OFF(viova_cmd_submit, format),
			    c->format, V_DEC, 0, "unknown submit format (SIM 1, CMDBUF 2)");
	TRY(check_nonzero(k, "out_fence", OFF(viova_cmd_submit, out_fence), c->out_fence));

	*nr = 0;
	if (c->bo_count) {
		TRY(check_payload(k, "bo_offset", OFF(viova_cmd_submit, bo_offset), c->bo_offset,
				  c->bo_count, sizeof(struct viova_submit_bo), &r[0]));
		(*nr)++;
	} else if (c->bo_offset) {
		return fail(k, VIOVA_REASON_BAD_VALUE, "bo_offset",
			    OFF(viova_cmd_submit, bo_offset), c->bo_offset, V_DEC, 0,
			    "must be 0 when bo_count is 0");
	}
	TRY(check_nonzero(k, "cmd_size", OFF(viova_cmd_submit, cmd_size), c->cmd_size));
	if (c->cmd_size % rec)
		return fail(k, VIOVA_REASON_BAD_VALUE, "cmd_size", OFF(viova_cmd_submit, cmd_size),
			    c->cmd_size, V_DEC, rec,
			    "must be a multiple of the %" PRIu32 "-byte record of format %" PRIu32,
			    rec, c->format);
	TRY(check_payload(k, "cmd_offset", OFF(viova_cmd_submit, cmd_offset), c->cmd_offset,
			  c->cmd_size, 1, &r[*nr]));
	if (*nr)
		TRY(check_no_overlap(k, &r[0], &r[1], "cmd_offset",
				     OFF(viova_cmd_submit, cmd_offset)));
	(*nr)++;

	out->bos = c->bo_count ? k->copy + c->bo_offset : NULL;
	out->records = k->copy + c->cmd_offset;
	out->record_count = c->cmd_size / rec;

	/* Elements: read from the scratch copy, element by element. */
	for (i = 0; i < c->bo_count; i++) {
		struct viova_submit_bo bo = viova_codec_cmd_bo(out, i);

		k->index = i;
		k->base = c->bo_offset + i * (uint32_t)sizeof(bo);
		TRY(check_submit_bo(k, &bo));
	}
	for (i = 0; i < out->record_count; i++) {
		k->index = i;
		k->base = c->cmd_offset + i * rec;
		if (c->format == VIOVA_SUBMIT_FORMAT_SIM) {
			struct viova_sim_job job = viova_codec_cmd_sim_job(out, i);

			TRY(check_sim_job(k, &job));
		} else {
			struct viova_submit_cmdbuf cb = viova_codec_cmd_cmdbuf(out, i);

			TRY(check_cmdbuf(k, &cb, c->bo_count));
		}
	}
	k->index = -1;
	k->base = 0;
	return 0;
}

static int check_wait_fence(struct check *k, const struct viova_cmd_wait_fence *c)
{
	TRY(check_hdr_ctx(k, CTX_REQUIRED));
	TRY(check_nonzero(k, "fence", OFF(viova_cmd_wait_fence, fence), c->fence));
	TRY(check_flags(k, "flags", OFF(viova_cmd_wait_fence, flags), c->flags, 0));
	return check_resp(k, OFF(viova_cmd_wait_fence, resp_offset), c->resp_offset,
			  RESP_HDR_SIZE + sizeof(struct viova_fence_status));
}

static int check_query(struct check *k, const struct viova_cmd_query *c)
{
	switch (c->what) {
	case VIOVA_QUERY_CAPS:
		TRY(check_hdr_ctx(k, CTX_NONE));
		break;
	case VIOVA_QUERY_CTX_STATS:
		TRY(check_hdr_ctx(k, CTX_REQUIRED));
		break;
	default:
		return fail(k, VIOVA_REASON_BAD_VALUE, "what", OFF(viova_cmd_query, what), c->what,
			    V_DEC, 0, "unknown query (CAPS 1, CTX_STATS 2)");
	}
	if (c->resp_size < RESP_HDR_SIZE)
		return fail(k, VIOVA_REASON_BAD_VALUE, "resp_size", OFF(viova_cmd_query, resp_size),
			    c->resp_size, V_DEC, RESP_HDR_SIZE,
			    "must hold at least the %" PRIu64 "-byte response header",
			    RESP_HDR_SIZE);
	TRY(check_aligned(k, "resp_size", OFF(viova_cmd_query, resp_size), c->resp_size, 8));
	TRY(check_resp(k, OFF(viova_cmd_query, resp_offset), c->resp_offset, c->resp_size));
	return check_zero(k, "pad0", OFF(viova_cmd_query, pad0), c->pad0);
}

/* ------------------------------------------------------------------------------------------ */

static int batch_fail(struct check *k, uint16_t reason, const char *field, uint32_t off,
		      uint64_t value, uint64_t limit, const char *why)
{
	int ret = fail(k, reason, NULL, off, value, V_DEC, limit, "%s", why);

	/* Batch-level failures always end the batch, whatever their class. */
	k->err->fatal = true;
	k->err->field = field;
	k->err->seqno = k->d->have_last ? k->d->last_seqno : 0;
	k->d->done = true;
	msgf(k->err->msg, sizeof(k->err->msg), "batch: %s; batch ignored", why);
	return ret;
}

int viova_codec_dec_begin(struct viova_codec_decoder *d, const struct viova_codec_dec_config *cfg,
			  const void *batch, size_t len, struct viova_codec_dec_error *err)
{
	struct check k = {.d = d, .err = err, .index = -1};
	struct viova_batch_hdr bh;
	char why[128];

	memset(d, 0, sizeof(*d));
	memset(err, 0, sizeof(*err));
	d->done = true;
	d->end_checked = true;
	d->prev_seqno = cfg ? cfg->prev_seqno : 0;
	d->max_seqno = d->prev_seqno;
	if (!cfg || !cfg->scratch || ((uintptr_t)cfg->scratch & 7) ||
	    cfg->scratch_size < CMD_HDR_SIZE || (!batch && len)) {
		err->err = -EINVAL;
		err->fatal = true;
		err->field = "";
		err->index = -1;
		msgf(err->msg, sizeof(err->msg),
		     "decoder: needs an 8-byte aligned scratch buffer of at least %u bytes and "
		     "a batch pointer",
		     CMD_HDR_SIZE);
		return -EINVAL;
	}
	d->batch = batch;
	d->len = len;
	d->scratch = cfg->scratch;
	d->scratch_size = cfg->scratch_size;
	d->max_contexts = cfg->max_contexts;
	d->minor = min_u16(cfg->host_minor, VIOVA_WIRE_MINOR);

	if (len < BATCH_HDR_SIZE) {
		msgf(why, sizeof(why), "%zu bytes, shorter than the %u-byte batch header", len,
		     BATCH_HDR_SIZE);
		return batch_fail(&k, VIOVA_REASON_BATCH_TRUNCATED, "", 0, len, BATCH_HDR_SIZE,
				  why);
	}
	memcpy(&bh, batch, sizeof(bh));
	if (bh.magic != VIOVA_BATCH_MAGIC) {
		msgf(why, sizeof(why),
		     "magic = 0x%08" PRIx32 ", must be 0x%08x (VIOVA_BATCH_MAGIC)", bh.magic,
		     VIOVA_BATCH_MAGIC);
		return batch_fail(&k, VIOVA_REASON_BATCH_MAGIC, "magic",
				  OFF(viova_batch_hdr, magic), bh.magic, VIOVA_BATCH_MAGIC, why);
	}
	/* Recognisably ours: from here on its last_seqno is published whatever happens. */
	d->have_last = true;
	d->last_seqno = bh.last_seqno;
	if (bh.major != VIOVA_WIRE_MAJOR) {
		msgf(why, sizeof(why),
		     "wire version %u.%u, this host speaks major %u: update the guest or host",
		     bh.major, bh.minor, VIOVA_WIRE_MAJOR);
		return batch_fail(&k, VIOVA_REASON_BATCH_VERSION, "major",
				  OFF(viova_batch_hdr, major), bh.major, VIOVA_WIRE_MAJOR, why);
	}
	if (bh.length != len || (len & 7)) {
		msgf(why, sizeof(why),
		     "length = %" PRIu32 ", must equal the %zu bytes received and be a "
		     "multiple of 8",
		     bh.length, len);
		return batch_fail(&k, VIOVA_REASON_BATCH_LENGTH, "length",
				  OFF(viova_batch_hdr, length), bh.length, len, why);
	}
	if (cfg->max_batch_size && len > cfg->max_batch_size) {
		msgf(why, sizeof(why), "length = %zu exceeds max_batch_size %" PRIu32, len,
		     cfg->max_batch_size);
		return batch_fail(&k, VIOVA_REASON_BATCH_TOO_LARGE, "length",
				  OFF(viova_batch_hdr, length), len, cfg->max_batch_size, why);
	}
	if (bh.flags) {
		msgf(why, sizeof(why), "flags = 0x%" PRIx32 " has unknown bits (none defined)",
		     bh.flags);
		return batch_fail(&k, VIOVA_REASON_UNKNOWN_FLAGS, "flags",
				  OFF(viova_batch_hdr, flags), bh.flags, 0, why);
	}
	d->minor = min_u16(d->minor, bh.minor);
	d->off = BATCH_HDR_SIZE;
	d->done = false;
	d->end_checked = false;
	return 0;
}

/* After the last command: the batch's last_seqno must name it (0 for an empty batch). */
static int check_end(struct viova_codec_decoder *d, struct viova_codec_dec_error *err,
		     uint64_t last_cmd_seqno)
{
	struct check k = {.d = d, .err = err, .index = -1, .batch_offset = (uint32_t)d->len};

	d->end_checked = true;
	d->done = true;
	if (d->last_seqno == last_cmd_seqno)
		return 0;
	fail(&k, VIOVA_REASON_LAST_SEQNO, NULL, OFF(viova_batch_hdr, last_seqno), d->last_seqno,
	     V_DEC, last_cmd_seqno, "%s", "");
	/* Batch-level: report it against the batch header, not a command. */
	err->seqno = d->last_seqno;
	err->field = "last_seqno";
	msgf(err->msg, sizeof(err->msg),
	     "batch: last_seqno = %" PRIu64 ", but its last command has seqno %" PRIu64
	     " (0 means an empty batch)",
	     d->last_seqno, last_cmd_seqno);
	return err->err;
}

int viova_codec_dec_next(struct viova_codec_decoder *d, struct viova_codec_cmd *out,
			 struct viova_codec_dec_error *err)
{
	struct check k = {.d = d, .err = err, .index = -1};
	struct viova_cmd_hdr h;
	struct range r[2];
	uint32_t min, known, fixed;
	size_t left;
	int nr = 0;

	/*
	 * Cleared first, so that after any rejection *out never still describes the previous
	 * command: a host deciding "does this failure lose the context" must not act on stale
	 * fields. Once the header has been copied it is exposed in out->hdr (see codec.h).
	 */
	memset(out, 0, sizeof(*out));
	if (d->done)
		return 0;
	left = d->len - d->off;
	if (left == 0)
		return check_end(d, err, d->ncmds ? d->last_cmd_seqno : 0);

	k.batch_offset = (uint32_t)d->off;
	if (left < CMD_HDR_SIZE)
		return fail(&k, VIOVA_REASON_HDR_TRUNCATED, NULL, 0, left, V_DEC, CMD_HDR_SIZE,
			    "only %zu bytes left at batch offset %" PRIu32
			    ", fewer than a %u-byte command header",
			    left, k.batch_offset, CMD_HDR_SIZE);

	/* Copy 1: the header. Everything below uses h, never the batch. */
	memcpy(&h, d->batch + d->off, sizeof(h));
	k.h = &h;
	out->hdr = h;
	if (h.seqno > d->max_seqno)
		d->max_seqno = h.seqno;
	if (h.length < CMD_HDR_SIZE)
		return fail(&k, VIOVA_REASON_LEN_TOO_SHORT, "hdr.length",
			    OFF(viova_cmd_hdr, length), h.length, V_DEC, CMD_HDR_SIZE,
			    "shorter than the %u-byte command header (batch offset %" PRIu32 ")",
			    CMD_HDR_SIZE, k.batch_offset);
	if (h.length & 7)
		return fail(&k, VIOVA_REASON_LEN_MISALIGNED, "hdr.length",
			    OFF(viova_cmd_hdr, length), h.length, V_DEC, 8,
			    "not a multiple of 8 (batch offset %" PRIu32 ")", k.batch_offset);
	if (h.length > left)
		return fail(&k, VIOVA_REASON_LEN_OVERRUN, "hdr.length", OFF(viova_cmd_hdr, length),
			    h.length, V_DEC, left,
			    "exceeds the %zu bytes left in the batch (batch offset %" PRIu32 ")",
			    left, k.batch_offset);

	/* Framing is sound: whatever happens below, the next call starts at the next command. */
	d->off += h.length;
	d->ncmds++;
	d->last_cmd_seqno = h.seqno;

	if (h.seqno <= d->prev_seqno)
		return fail(&k, VIOVA_REASON_SEQNO_ORDER, "hdr.seqno", OFF(viova_cmd_hdr, seqno),
			    h.seqno, V_DEC, d->prev_seqno,
			    "not greater than the previous seqno %" PRIu64, d->prev_seqno);
	d->prev_seqno = h.seqno;

	min = viova_codec_cmd_min_size(h.cmd, d->minor);
	if (!min)
		return fail(&k, VIOVA_REASON_UNKNOWN_CMD, "hdr.cmd", OFF(viova_cmd_hdr, cmd), h.cmd,
			    V_DEC, VIOVA_CMD_COUNT, "unknown command code at wire %u.%u",
			    VIOVA_WIRE_MAJOR, d->minor);
	if (h.length > d->scratch_size)
		return fail(&k, VIOVA_REASON_CMD_TOO_LARGE, "hdr.length",
			    OFF(viova_cmd_hdr, length), h.length, V_DEC, d->scratch_size,
			    "exceeds the decoder's %zu-byte copy buffer", d->scratch_size);
	if (h.length < min)
		return fail(&k, VIOVA_REASON_CMD_TOO_SHORT, "hdr.length",
			    OFF(viova_cmd_hdr, length), h.length, V_DEC, min,
			    "shorter than the %" PRIu32 " bytes of %s at wire %u.%u", min,
			    viova_codec_cmd_name(h.cmd), VIOVA_WIRE_MAJOR, d->minor);

	/* Copy 2: the whole command, with the header we already validated on top. */
	memcpy(d->scratch, d->batch + k.batch_offset, h.length);
	memcpy(d->scratch, &h, sizeof(h));
	k.copy = d->scratch;

	known = viova_codec_cmd_struct_size(h.cmd);
	fixed = h.length < known ? h.length : known;
	/* The union is the first member: copy the fixed part over all of it. Shorter (older
	 * minor) structs read as zero-extended. */
	memcpy(out, k.copy, fixed);
	out->minor = d->minor;

	TRY(check_flags(&k, "hdr.flags", OFF(viova_cmd_hdr, flags), h.flags, 0));
	TRY(check_zero(&k, "hdr.reserved", OFF(viova_cmd_hdr, reserved), h.reserved));

	switch (h.cmd) {
	case VIOVA_CMD_NOP:
	case VIOVA_CMD_SYNC:
		TRY(check_hdr_ctx(&k, CTX_NONE));
		break;
	case VIOVA_CMD_RESP_INIT:
		TRY(check_resp_init(&k, &out->resp_init));
		break;
	case VIOVA_CMD_CTX_CREATE:
		TRY(check_ctx_create(&k, &out->ctx_create));
		break;
	case VIOVA_CMD_CTX_CLONE:
		TRY(check_ctx_clone(&k, &out->ctx_clone));
		break;
	case VIOVA_CMD_CTX_DESTROY:
		TRY(check_hdr_ctx(&k, CTX_REQUIRED));
		break;
	case VIOVA_CMD_VM_CREATE:
		TRY(check_vm_create(&k, &out->vm_create));
		break;
	case VIOVA_CMD_VM_DESTROY:
		TRY(check_vm_destroy(&k, &out->vm_destroy));
		break;
	case VIOVA_CMD_GEM_NEW:
		TRY(check_gem_new(&k, &out->gem_new));
		break;
	case VIOVA_CMD_GEM_CLOSE:
		TRY(check_gem_close(&k, &out->gem_close));
		break;
	case VIOVA_CMD_SET_IOVA:
		TRY(check_set_iova(&k, &out->set_iova));
		break;
	case VIOVA_CMD_VM_BIND:
		TRY(check_vm_bind(&k, &out->vm_bind));
		break;
	case VIOVA_CMD_VM_UNBIND:
		TRY(check_vm_unbind(&k, &out->vm_unbind));
		break;
	case VIOVA_CMD_GEM_UPLOAD:
		TRY(check_gem_upload(&k, &out->gem_upload, &r[0]));
		nr = 1;
		out->data = k.copy + out->gem_upload.data_offset;
		break;
	case VIOVA_CMD_GEM_DOWNLOAD:
		TRY(check_gem_download(&k, &out->gem_download));
		break;
	case VIOVA_CMD_SUBMIT:
		TRY(check_submit(&k, &out->submit, r, &nr, out));
		break;
	case VIOVA_CMD_WAIT_FENCE:
		TRY(check_wait_fence(&k, &out->wait_fence));
		break;
	case VIOVA_CMD_QUERY:
		TRY(check_query(&k, &out->query));
		break;
	}

	/*
	 * An older-minor sender's payload may start inside what is, for us, the struct: those
	 * bytes are payload, not fields, so the fields they would be read as stay zero.
	 */
	for (int i = 0; i < nr; i++) {
		if (r[i].start < fixed)
			memset((uint8_t *)out + r[i].start, 0, fixed - r[i].start);
	}
	return check_tail(&k, r, nr) ? err->err : 1;
}

uint64_t viova_codec_dec_publish_seqno(const struct viova_codec_decoder *d)
{
	uint64_t s = d->max_seqno;

	if (d->have_last && d->last_seqno > s)
		s = d->last_seqno;
	return s;
}

void viova_codec_dec_error_to_rec(const struct viova_codec_dec_error *err,
				  struct viova_err_rec *rec)
{
	memset(rec, 0, sizeof(*rec));
	rec->seqno = err->seqno;
	rec->detail0 = err->value;
	rec->detail1 = err->field_offset;
	rec->cmd = err->cmd;
	rec->reason = err->reason;
	rec->ctx_id = err->ctx_id;
	rec->err = viova_codec_wire_errno(err->err);
	rec->flags = err->fatal ? VIOVA_ERR_BATCH_ABORT : 0;
}

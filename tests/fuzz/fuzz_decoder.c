/* SPDX-License-Identifier: MIT */
/*
 * fuzz_decoder.c - libFuzzer target for the host-side decoder and the response area.
 *
 * Each input is one batch as a guest would send it. Besides "no crash, no sanitizer report",
 * the target checks properties the host relies on and aborts when one breaks:
 *  - an accepted command is internally consistent (length, minimum size, payloads inside the
 *    decoder's scratch copy, record counts);
 *  - re-encoding an accepted command with the guest encoder yields a batch the decoder accepts
 *    and decodes to the same fields and payload bytes (encoder and decoder agree);
 *  - a rejection carries a negative errno matching its reason, a NUL-terminated message, and
 *    a fatal rejection ends the batch;
 *  - the published seqno never goes below the connection's previous one;
 *  - every response a decoded command asks for is either written inside the payload region or
 *    refused, and the error ring hands the guest exactly the records the host did not drop.
 * Inputs that start with the response-area magic are also attached as a (hostile) area on the
 * guest side, which must never read outside it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "viova/codec.h"

#define MAX_CONTEXTS 64
#define AREA_SIZE 8192
#define PREV_SEQNO 0

static uint64_t area_mem[AREA_SIZE / 8];

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_decoder: property failed: %s (%s:%d)\n", #cond,      \
				__FILE__, __LINE__);                                               \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Encode decoded command c again with the guest encoder. */
static int reencode(struct viova_codec_encoder *e, const struct viova_codec_cmd *c)
{
	uint32_t ctx = c->hdr.ctx_id;

	switch (c->hdr.cmd) {
	case VIOVA_CMD_NOP:
		return viova_codec_enc_nop(e, NULL);
	case VIOVA_CMD_SYNC:
		return viova_codec_enc_sync(e, NULL);
	case VIOVA_CMD_RESP_INIT:
		return viova_codec_enc_resp_init(e, c->resp_init.res_id, c->resp_init.err_records,
						 c->resp_init.size, NULL);
	case VIOVA_CMD_CTX_CREATE:
		return viova_codec_enc_ctx_create(e, ctx, c->ctx_create.flags, c->ctx_create.params,
						  c->ctx_create.priority, c->ctx_create.vm_id,
						  c->ctx_create.share_ctx_id, NULL);
	case VIOVA_CMD_CTX_CLONE:
		return viova_codec_enc_ctx_clone(e, ctx, c->ctx_clone.src_ctx_id,
						 c->ctx_clone.flags, c->ctx_clone.vm_id, NULL);
	case VIOVA_CMD_CTX_DESTROY:
		return viova_codec_enc_ctx_destroy(e, ctx, NULL);
	case VIOVA_CMD_VM_CREATE:
		return viova_codec_enc_vm_create(e, ctx, c->vm_create.vm_id, c->vm_create.flags,
						 NULL);
	case VIOVA_CMD_VM_DESTROY:
		return viova_codec_enc_vm_destroy(e, ctx, c->vm_destroy.vm_id, NULL);
	case VIOVA_CMD_GEM_NEW:
		return viova_codec_enc_gem_new(e, ctx, c->gem_new.buf_id, c->gem_new.flags,
					       c->gem_new.size, c->gem_new.vm_id, c->gem_new.iova,
					       NULL);
	case VIOVA_CMD_GEM_CLOSE:
		return viova_codec_enc_gem_close(e, ctx, c->gem_close.buf_id, NULL);
	case VIOVA_CMD_SET_IOVA:
		return viova_codec_enc_set_iova(e, ctx, c->set_iova.buf_id, c->set_iova.vm_id,
						c->set_iova.iova, NULL);
	case VIOVA_CMD_VM_BIND: {
		struct viova_codec_bind b = {
		    .vm_id = c->vm_bind.vm_id,
		    .buf_id = c->vm_bind.buf_id,
		    .addr = c->vm_bind.addr,
		    .range = c->vm_bind.range,
		    .buf_offset = c->vm_bind.buf_offset,
		    .flags = c->vm_bind.flags,
		};
		return viova_codec_enc_vm_bind(e, ctx, &b, NULL);
	}
	case VIOVA_CMD_VM_UNBIND:
		return viova_codec_enc_vm_unbind(e, ctx, c->vm_unbind.vm_id, c->vm_unbind.addr,
						 c->vm_unbind.range, NULL);
	case VIOVA_CMD_GEM_UPLOAD:
		return viova_codec_enc_gem_upload(e, ctx, c->gem_upload.buf_id,
						  c->gem_upload.buf_offset, c->data,
						  c->gem_upload.size, NULL);
	case VIOVA_CMD_GEM_DOWNLOAD:
		return viova_codec_enc_gem_download(
		    e, ctx, c->gem_download.buf_id, c->gem_download.buf_offset,
		    c->gem_download.size, c->gem_download.resp_offset, NULL);
	case VIOVA_CMD_SUBMIT: {
		struct viova_submit_bo *bos = NULL;
		struct viova_codec_submit s = {
		    .flags = c->submit.flags,
		    .format = c->submit.format,
		    .out_fence = c->submit.out_fence,
		    .bo_count = c->submit.bo_count,
		    .cmds = c->records,
		    .cmd_count = c->record_count,
		};
		int ret;

		if (s.bo_count) {
			bos = malloc(s.bo_count * sizeof(*bos));
			CHECK(bos);
			for (uint32_t i = 0; i < s.bo_count; i++)
				bos[i] = viova_codec_cmd_bo(c, i);
		}
		s.bos = bos;
		ret = viova_codec_enc_submit(e, ctx, &s, NULL);
		free(bos);
		return ret;
	}
	case VIOVA_CMD_WAIT_FENCE:
		return viova_codec_enc_wait_fence(e, ctx, c->wait_fence.fence,
						  c->wait_fence.timeout_ns,
						  c->wait_fence.resp_offset, NULL);
	case VIOVA_CMD_QUERY:
		return viova_codec_enc_query(e, ctx, c->query.what, c->query.resp_offset,
					     c->query.resp_size, NULL);
	}
	CHECK(!"decoder accepted an unknown command");
	return -1;
}

/* The fixed part without the fields that legitimately differ after re-encoding. */
static void canonical(const struct viova_codec_cmd *c, uint8_t *out, uint32_t size)
{
	struct viova_codec_cmd k = *c;

	k.hdr.length = 0;
	if (k.hdr.cmd == VIOVA_CMD_GEM_UPLOAD)
		k.gem_upload.data_offset = 0;
	if (k.hdr.cmd == VIOVA_CMD_SUBMIT) {
		k.submit.bo_offset = 0;
		k.submit.cmd_offset = 0;
	}
	memcpy(out, &k, size);
}

static void check_roundtrip(const struct viova_codec_cmd *c)
{
	uint32_t known = viova_codec_cmd_struct_size(c->hdr.cmd);
	size_t cap = 24 + (size_t)c->hdr.length + 64;
	uint64_t *buf = calloc(1, cap + 8), *scratch = calloc(1, cap + 8);
	struct viova_codec_encoder e;
	struct viova_codec_decoder d;
	struct viova_codec_dec_config cfg = {
	    .host_minor = VIOVA_WIRE_MINOR,
	    .max_contexts = MAX_CONTEXTS,
	    .prev_seqno = c->hdr.seqno - 1,
	    .scratch = scratch,
	    .scratch_size = cap,
	};
	struct viova_codec_dec_error err;
	struct viova_codec_cmd c2;
	uint8_t a[sizeof(struct viova_codec_cmd)], b[sizeof(struct viova_codec_cmd)];
	size_t len;

	CHECK(buf && scratch);
	CHECK(viova_codec_enc_init(&e, buf, cap, c->hdr.seqno) == 0);
	CHECK(reencode(&e, c) == 0);
	CHECK(viova_codec_enc_finish(&e, &len) == 0);
	CHECK(viova_codec_dec_begin(&d, &cfg, buf, len, &err) == 0);
	if (viova_codec_dec_next(&d, &c2, &err) != 1) {
		fprintf(stderr, "fuzz_decoder: re-encoded %s rejected: %s\n",
			viova_codec_cmd_name(c->hdr.cmd), err.msg);
		abort();
	}
	canonical(c, a, known);
	canonical(&c2, b, known);
	CHECK(memcmp(a, b, known) == 0);
	if (c->hdr.cmd == VIOVA_CMD_GEM_UPLOAD)
		CHECK(memcmp(c->data, c2.data, c->gem_upload.size) == 0);
	if (c->hdr.cmd == VIOVA_CMD_SUBMIT) {
		CHECK(c2.record_count == c->record_count);
		CHECK(!c->submit.bo_count ||
		      memcmp(c->bos, c2.bos, (size_t)c->submit.bo_count * 8) == 0);
		CHECK(memcmp(c->records, c2.records, c->submit.cmd_size) == 0);
	}
	CHECK(viova_codec_dec_next(&d, &c2, &err) == 0);
	free(buf);
	free(scratch);
}

static void check_accepted(const struct viova_codec_cmd *c, const uint8_t *scratch,
			   size_t scratch_size)
{
	const uint8_t *end = scratch + scratch_size;

	CHECK(c->hdr.length % 8 == 0);
	CHECK(c->hdr.length >= viova_codec_cmd_min_size(c->hdr.cmd, c->minor));
	CHECK(c->hdr.length <= scratch_size);
	CHECK(c->hdr.flags == 0 && c->hdr.reserved == 0);
	CHECK(c->hdr.ctx_id <= MAX_CONTEXTS);
	if (c->hdr.cmd == VIOVA_CMD_GEM_UPLOAD)
		CHECK(c->data >= scratch && c->data + c->gem_upload.size <= end);
	if (c->hdr.cmd == VIOVA_CMD_SUBMIT) {
		uint32_t rec = viova_codec_submit_record_size(c->submit.format);

		CHECK(rec && c->record_count * rec == c->submit.cmd_size);
		CHECK(c->records >= scratch && c->records + c->submit.cmd_size <= end);
		if (c->submit.bo_count)
			CHECK(c->bos >= scratch && c->bos + (size_t)c->submit.bo_count * 8 <= end);
	}
}

/* Write the response a command asks for, as the host would; bounds are the helper's job. */
static void respond(struct viova_codec_resp_host *h, const struct viova_codec_cmd *c)
{
	static const uint8_t junk[64] = {0x5a};
	uint32_t off;
	uint64_t want;
	void *dst;
	int ret;

	switch (c->hdr.cmd) {
	case VIOVA_CMD_GEM_DOWNLOAD:
		off = c->gem_download.resp_offset;
		want = c->gem_download.size;
		break;
	case VIOVA_CMD_WAIT_FENCE:
		off = c->wait_fence.resp_offset;
		want = sizeof(struct viova_fence_status);
		break;
	case VIOVA_CMD_QUERY:
		off = c->query.resp_offset;
		want = c->query.resp_size - sizeof(struct viova_resp_hdr);
		break;
	default:
		return;
	}
	ret = viova_codec_resp_host_reserve(h, off, want, &dst);
	CHECK(ret == 0 || ret == -EFAULT);
	if (ret == 0) {
		memset(dst, 0x5a, want);
		CHECK(viova_codec_resp_host_commit(h, off, c->hdr.seqno, 0, (uint32_t)want, want) ==
		      0);
	}
	ret = viova_codec_resp_host_write(h, off, c->hdr.seqno, 0, junk,
					  want < sizeof(junk) ? (uint32_t)want : sizeof(junk));
	CHECK(ret == 0 || ret == -EFAULT);
}

/* The input as a response area written by a hostile host. */
static void fuzz_guest_area(const uint8_t *data, size_t size)
{
	uint64_t *mem = malloc((size + 7) & ~(size_t)7);
	struct viova_codec_resp_guest g;
	struct viova_err_rec rec;
	struct viova_resp_ctx slot;
	uint32_t err, rsize;
	uint8_t out[32];

	CHECK(mem);
	memcpy(mem, data, size);
	if (viova_codec_resp_guest_attach(&g, mem, size) == 0) {
		for (int i = 0; i < 70 && viova_codec_resp_guest_pop_error(&g, &rec) == 0; i++)
			;
		for (uint32_t id = 0; id < 70; id++)
			(void)viova_codec_resp_guest_ctx(&g, id, &slot);
		for (uint32_t off = 0; off < 256; off += 8)
			(void)viova_codec_resp_guest_read(&g, off, 1, out, sizeof(out), &err,
							  &rsize);
		(void)viova_codec_resp_guest_read(&g, g.lay.payload_size - 8, 1, out, sizeof(out),
						  &err, &rsize);
	}
	free(mem);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t scratch_size = size < 64 ? 64 : size;
	uint8_t *scratch = malloc((scratch_size + 7) & ~(size_t)7);
	struct viova_codec_dec_config cfg = {
	    .host_minor = VIOVA_WIRE_MINOR,
	    .max_contexts = MAX_CONTEXTS,
	    .max_batch_size = 1 << 20,
	    .prev_seqno = PREV_SEQNO,
	    .scratch = scratch,
	    .scratch_size = scratch_size,
	};
	struct viova_codec_resp_host h;
	struct viova_codec_resp_guest g;
	struct viova_codec_decoder d;
	struct viova_codec_dec_error err;
	struct viova_codec_cmd c;
	struct viova_err_rec rec;
	char line[256];
	uint32_t pushed = 0, dropped = 0, popped = 0;
	int ret, guard = 0;

	CHECK(scratch);
	if (size >= 4) {
		uint32_t magic;

		memcpy(&magic, data, 4);
		if (magic == VIOVA_RESP_MAGIC)
			fuzz_guest_area(data, size);
	}
	CHECK(viova_codec_resp_host_init(&h, area_mem, AREA_SIZE, MAX_CONTEXTS + 1, 16) == 0);

	ret = viova_codec_dec_begin(&d, &cfg, data, size, &err);
	if (ret) {
		CHECK(ret < 0 && err.fatal && err.err == ret);
		CHECK(ret == -EINVAL || viova_codec_reason_errno(err.reason) == ret);
		CHECK(viova_codec_dec_next(&d, &c, &err) == 0);
	}
	while (ret == 0 && (ret = viova_codec_dec_next(&d, &c, &err)) != 0) {
		CHECK(++guard <= (int)(size / 24) + 2); /* each step consumes >= 24 bytes */
		if (ret == 1) {
			check_accepted(&c, scratch, scratch_size);
			respond(&h, &c);
			check_roundtrip(&c);
			ret = 0;
			continue;
		}
		CHECK(ret < 0 && ret == err.err);
		CHECK(err.reason > VIOVA_REASON_NONE && err.reason < VIOVA_REASON_COUNT);
		CHECK(viova_codec_reason_errno(err.reason) == ret);
		CHECK(memchr(err.msg, 0, sizeof(err.msg)) != NULL);
		viova_codec_dec_error_to_rec(&err, &rec);
		viova_codec_format_err_rec(&rec, line, sizeof(line));
		if (viova_codec_resp_host_push_error(&h, &rec) == 0)
			pushed++;
		else
			dropped++;
		if (err.fatal) {
			CHECK(viova_codec_dec_next(&d, &c, &err) == 0);
			break;
		}
		ret = 0;
	}
	viova_codec_resp_host_end_batch(&h, viova_codec_dec_publish_seqno(&d));
	CHECK(viova_codec_dec_publish_seqno(&d) >= PREV_SEQNO);

	CHECK(viova_codec_resp_guest_attach(&g, area_mem, AREA_SIZE) == 0);
	while (viova_codec_resp_guest_pop_error(&g, &rec) == 0)
		popped++;
	CHECK(popped == pushed);
	CHECK(viova_codec_resp_guest_overflow(&g) == dropped);
	CHECK(viova_codec_resp_guest_processed(&g) == viova_codec_dec_publish_seqno(&d));
	free(scratch);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * test_codec.c - protocol/codec_encode.c + codec_decode.c: an encode/decode round trip of every
 * command, encoder limits (full, never fits, bad arguments, seqno continuity), batches of mixed
 * commands, copy-before-validate, and the forward-compatibility rules (newer minor, zero tail).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto_test.h"

static struct pt *T;

static int setup(void **state)
{
	(void)state;
	T = malloc(sizeof(*T));
	assert_non_null(T);
	pt_init(T, 100);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(T);
	return 0;
}

static void check_hdr(const struct viova_codec_cmd *c, uint16_t cmd, uint32_t ctx, uint64_t seqno,
		      uint32_t length)
{
	assert_int_equal(c->hdr.cmd, cmd);
	assert_int_equal(c->hdr.ctx_id, ctx);
	assert_int_equal(c->hdr.seqno, seqno);
	assert_int_equal(c->hdr.length, length);
	assert_int_equal(c->hdr.flags, 0);
	assert_int_equal(c->hdr.reserved, 0);
	assert_int_equal(c->minor, VIOVA_WIRE_MINOR);
}

/* ------------------------------------------------------------------------------------------ */
/* Round trip, one test per command                                                            */

static void test_nop_sync(void **state)
{
	struct viova_codec_cmd c;
	uint64_t s1, s2;

	(void)state;
	assert_int_equal(viova_codec_enc_nop(&T->enc, &s1), 0);
	assert_int_equal(viova_codec_enc_sync(&T->enc, &s2), 0);
	assert_int_equal(s1, 100);
	assert_int_equal(s2, 101);
	pt_finish(T);
	assert_int_equal(T->len, 24 + 24 + 24);
	assert_int_equal(pt_begin(T), 0);
	assert_int_equal(pt_next(T, &c), 1);
	check_hdr(&c, VIOVA_CMD_NOP, 0, 100, 24);
	assert_int_equal(pt_next(T, &c), 1);
	check_hdr(&c, VIOVA_CMD_SYNC, 0, 101, 24);
	assert_int_equal(pt_next(T, &c), 0);
	assert_int_equal(viova_codec_dec_publish_seqno(&T->dec), 101);
}

static void test_resp_init(void **state)
{
	struct viova_codec_cmd c;

	(void)state;
	assert_int_equal(viova_codec_enc_resp_init(&T->enc, 7, 128, 1 << 20, NULL), 0);
	pt_decode_one(T, &c);
	check_hdr(&c, VIOVA_CMD_RESP_INIT, 0, 100, sizeof(struct viova_cmd_resp_init));
	assert_int_equal(c.resp_init.res_id, 7);
	assert_int_equal(c.resp_init.err_records, 128);
	assert_int_equal(c.resp_init.size, 1 << 20);
}

static void test_ctx_create(void **state)
{
	struct viova_codec_cmd c;

	(void)state;
	assert_int_equal(viova_codec_enc_ctx_create(&T->enc, 5, VIOVA_CTX_CREATE_SHARE_VM,
						    VIOVA_CTX_BANNABLE | VIOVA_CTX_RECOVERABLE,
						    -512, 9, 3, NULL),
			 0);
	pt_decode_one(T, &c);
	check_hdr(&c, VIOVA_CMD_CTX_CREATE, 5, 100, sizeof(struct viova_cmd_ctx_create));
	assert_int_equal(c.ctx_create.flags, VIOVA_CTX_CREATE_SHARE_VM);
	assert_int_equal(c.ctx_create.params, VIOVA_CTX_BANNABLE | VIOVA_CTX_RECOVERABLE);
	assert_int_equal(c.ctx_create.priority, -512);
	assert_int_equal(c.ctx_create.vm_id, 9);
	assert_int_equal(c.ctx_create.share_ctx_id, 3);
	assert_int_equal(c.ctx_create.pad0, 0);
}

static void test_ctx_clone(void **state)
{
	struct viova_codec_cmd c;

	(void)state;
	/* ALL includes VM: the source's VM is shared, so vm_id is 0. */
	assert_int_equal(viova_codec_enc_ctx_clone(&T->enc, 2, 1, VIOVA_CLONE_ALL, 0, NULL), 0);
	pt_decode_one(T, &c);
	check_hdr(&c, VIOVA_CMD_CTX_CLONE, 2, 100, sizeof(struct viova_cmd_ctx_clone));
	assert_int_equal(c.ctx_clone.src_ctx_id, 1);
	assert_int_equal(c.ctx_clone.flags, 0x3f);
	assert_int_equal(c.ctx_clone.vm_id, 0);

	/* Without VM: a fresh VM named by vm_id. */
	viova_codec_enc_reset(&T->enc);
	assert_int_equal(viova_codec_enc_ctx_clone(
			     &T->enc, 3, 1, VIOVA_CLONE_FLAGS | VIOVA_CLONE_SCHEDATTR, 4, NULL),
			 0);
	T->cfg.prev_seqno = 100;
	pt_decode_one(T, &c);
	check_hdr(&c, VIOVA_CMD_CTX_CLONE, 3, 101, sizeof(struct viova_cmd_ctx_clone));
	assert_int_equal(c.ctx_clone.flags, VIOVA_CLONE_FLAGS | VIOVA_CLONE_SCHEDATTR);
	assert_int_equal(c.ctx_clone.vm_id, 4);
}

static void test_ctx_destroy_vm(void **state)
{
	struct viova_codec_cmd c;

	(void)state;
	assert_int_equal(viova_codec_enc_vm_create(&T->enc, 4, 11, 0, NULL), 0);
	assert_int_equal(viova_codec_enc_vm_destroy(&T->enc, 4, 11, NULL), 0);
	assert_int_equal(viova_codec_enc_ctx_destroy(&T->enc, 4, NULL), 0);
	pt_finish(T);
	assert_int_equal(pt_begin(T), 0);
	assert_int_equal(pt_next(T, &c), 1);
	check_hdr(&c, VIOVA_CMD_VM_CREATE, 4, 100, sizeof(struct viova_cmd_vm_create));
	assert_int_equal(c.vm_create.vm_id, 11);
	assert_int_equal(pt_next(T, &c), 1);
	check_hdr(&c, VIOVA_CMD_VM_DESTROY, 4, 101, sizeof(struct viova_cmd_vm_destroy));
	assert_int_equal(c.vm_destroy.vm_id, 11);
	assert_int_equal(pt_next(T, &c), 1);
	check_hdr(&c, VIOVA_CMD_CTX_DESTROY, 4, 102, 24);
	assert_int_equal(pt_next(T, &c), 0);
}

static void test_gem_new_close(void **state)
{
	struct viova_codec_cmd c;

	(void)state;
	assert_int_equal(viova_codec_enc_gem_new(&T->enc, 1, 77, VIOVA_GEM_CACHED_COHERENT, 0x20000,
						 0, 0xffff00000000ull, NULL),
			 0);
	assert_int_equal(viova_codec_enc_gem_close(&T->enc, 1, 77, NULL), 0);
	pt_finish(T);
	assert_int_equal(pt_begin(T), 0);
	assert_int_equal(pt_next(T, &c), 1);
	check_hdr(&c, VIOVA_CMD_GEM_NEW, 1, 100, sizeof(struct viova_cmd_gem_new));
	assert_int_equal(c.gem_new.buf_id, 77);
	assert_int_equal(c.gem_new.flags, VIOVA_GEM_CACHED_COHERENT);
	assert_int_equal(c.gem_new.size, 0x20000);
	assert_int_equal(c.gem_new.iova, 0xffff00000000ull);
	assert_int_equal(c.gem_new.vm_id, 0);
	assert_int_equal(pt_next(T, &c), 1);
	check_hdr(&c, VIOVA_CMD_GEM_CLOSE, 1, 101, sizeof(struct viova_cmd_gem_close));
	assert_int_equal(c.gem_close.buf_id, 77);
	assert_int_equal(pt_next(T, &c), 0);
}

static void test_set_iova(void **state)
{
	struct viova_codec_cmd c;
	uint64_t seqno;

	(void)state;
	assert_int_equal(
	    viova_codec_enc_set_iova(&T->enc, 63, 0xfffffffe, 2, 0x7fff12345000ull, &seqno), 0);
	assert_int_equal(seqno, 100);
	pt_decode_one(T, &c);
	check_hdr(&c, VIOVA_CMD_SET_IOVA, 63, 100, 40);
	assert_int_equal(c.set_iova.buf_id, 0xfffffffe);
	assert_int_equal(c.set_iova.vm_id, 2);
	assert_int_equal(c.set_iova.iova, 0x7fff12345000ull);

	/* iova 0 (clear) is a valid command. */
	viova_codec_enc_reset(&T->enc);
	T->cfg.prev_seqno = 100;
	assert_int_equal(viova_codec_enc_set_iova(&T->enc, 63, 1, 0, 0, NULL), 0);
	pt_decode_one(T, &c);
	assert_int_equal(c.set_iova.iova, 0);
}

static void test_vm_bind_unbind(void **state)
{
	struct viova_codec_bind b = {
	    .vm_id = 3,
	    .buf_id = 8,
	    .addr = 0x100000000ull,
	    .range = 0x3000,
	    .buf_offset = 0x1000,
	    .flags = VIOVA_BIND_READONLY,
	};
	struct viova_codec_cmd c;

	(void)state;
	assert_int_equal(viova_codec_enc_vm_bind(&T->enc, 2, &b, NULL), 0);
	assert_int_equal(viova_codec_enc_vm_unbind(&T->enc, 2, 3, 0x100001000ull, 0x1000, NULL), 0);
	pt_finish(T);
	assert_int_equal(pt_begin(T), 0);
	assert_int_equal(pt_next(T, &c), 1);
	check_hdr(&c, VIOVA_CMD_VM_BIND, 2, 100, sizeof(struct viova_cmd_vm_bind));
	assert_int_equal(c.vm_bind.vm_id, 3);
	assert_int_equal(c.vm_bind.buf_id, 8);
	assert_int_equal(c.vm_bind.addr, 0x100000000ull);
	assert_int_equal(c.vm_bind.range, 0x3000);
	assert_int_equal(c.vm_bind.buf_offset, 0x1000);
	assert_int_equal(c.vm_bind.flags, VIOVA_BIND_READONLY);
	assert_int_equal(pt_next(T, &c), 1);
	check_hdr(&c, VIOVA_CMD_VM_UNBIND, 2, 101, sizeof(struct viova_cmd_vm_unbind));
	assert_int_equal(c.vm_unbind.vm_id, 3);
	assert_int_equal(c.vm_unbind.addr, 0x100001000ull);
	assert_int_equal(c.vm_unbind.range, 0x1000);
	assert_int_equal(pt_next(T, &c), 0);
}

static void test_gem_upload(void **state)
{
	uint8_t data[13];
	struct viova_codec_cmd c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(0xa0 + i);
	assert_int_equal(viova_codec_enc_gem_upload(&T->enc, 1, 5, 0x40, data, sizeof(data), NULL),
			 0);
	/* 48-byte struct + 13 bytes rounded up to 16, padding zero. */
	assert_int_equal(viova_codec_enc_size(&T->enc), 24 + 48 + 16);
	pt_decode_one(T, &c);
	check_hdr(&c, VIOVA_CMD_GEM_UPLOAD, 1, 100, 64);
	assert_int_equal(c.gem_upload.buf_id, 5);
	assert_int_equal(c.gem_upload.data_offset, 48);
	assert_int_equal(c.gem_upload.buf_offset, 0x40);
	assert_int_equal(c.gem_upload.size, 13);
	assert_non_null(c.data);
	assert_memory_equal(c.data, data, sizeof(data));
	/* The data is the decoder's copy, not the batch. */
	assert_true(c.data >= (const uint8_t *)T->scratch &&
		    c.data < (const uint8_t *)T->scratch + sizeof(T->scratch));
	for (i = 24 + 48 + 13; i < 24 + 48 + 16; i++)
		assert_int_equal(pt_bytes(T)[i], 0);
}

static void test_gem_download(void **state)
{
	struct viova_codec_cmd c;

	(void)state;
	assert_int_equal(viova_codec_enc_gem_download(&T->enc, 9, 6, 0x2000, 0x1000, 4096, NULL),
			 0);
	pt_decode_one(T, &c);
	check_hdr(&c, VIOVA_CMD_GEM_DOWNLOAD, 9, 100, sizeof(struct viova_cmd_gem_download));
	assert_int_equal(c.gem_download.buf_id, 6);
	assert_int_equal(c.gem_download.buf_offset, 0x2000);
	assert_int_equal(c.gem_download.size, 0x1000);
	assert_int_equal(c.gem_download.resp_offset, 4096);
}

static void test_submit_sim(void **state)
{
	const struct viova_submit_bo bos[2] = {
	    {.buf_id = 10, .flags = VIOVA_SUBMIT_BO_READ},
	    {.buf_id = 11, .flags = VIOVA_SUBMIT_BO_WRITE | VIOVA_SUBMIT_BO_DUMP},
	};
	const struct viova_sim_job jobs[3] = {
	    viova_codec_sim_fill(0x10000, 0x1000, 0xdeadbeef),
	    viova_codec_sim_copy(0x20000, 0x10000, 0x1000),
	    viova_codec_sim_write_fence(0x30000, 42),
	};
	struct viova_codec_submit s = {
	    .format = VIOVA_SUBMIT_FORMAT_SIM,
	    .out_fence = 42,
	    .bos = bos,
	    .bo_count = 2,
	    .cmds = jobs,
	    .cmd_count = 3,
	};
	struct viova_codec_cmd c;
	uint32_t i;

	(void)state;
	assert_int_equal(viova_codec_enc_submit(&T->enc, 3, &s, NULL), 0);
	pt_decode_one(T, &c);
	check_hdr(&c, VIOVA_CMD_SUBMIT, 3, 100, 56 + 2 * 8 + 3 * 32);
	assert_int_equal(c.submit.format, VIOVA_SUBMIT_FORMAT_SIM);
	assert_int_equal(c.submit.out_fence, 42);
	assert_int_equal(c.submit.bo_count, 2);
	assert_int_equal(c.submit.bo_offset, 56);
	assert_int_equal(c.submit.cmd_offset, 72);
	assert_int_equal(c.submit.cmd_size, 96);
	assert_int_equal(c.record_count, 3);
	for (i = 0; i < 2; i++) {
		struct viova_submit_bo bo = viova_codec_cmd_bo(&c, i);

		assert_memory_equal(&bo, &bos[i], sizeof(bo));
	}
	for (i = 0; i < 3; i++) {
		struct viova_sim_job job = viova_codec_cmd_sim_job(&c, i);

		assert_memory_equal(&job, &jobs[i], sizeof(job));
	}
}

static void test_submit_cmdbuf(void **state)
{
	const struct viova_submit_bo bos[1] = {{.buf_id = 1, .flags = VIOVA_SUBMIT_BO_READ}};
	const struct viova_submit_cmdbuf cbs[2] = {
	    {.bo_index = 0, .type = VIOVA_CMDBUF_BUF, .offset = 0, .size = 256},
	    {.bo_index = 0, .type = VIOVA_CMDBUF_IB_TARGET, .offset = 256, .size = 64},
	};
	struct viova_codec_submit s = {
	    .format = VIOVA_SUBMIT_FORMAT_CMDBUF,
	    .out_fence = 7,
	    .bos = bos,
	    .bo_count = 1,
	    .cmds = cbs,
	    .cmd_count = 2,
	};
	struct viova_codec_cmd c;
	struct viova_submit_cmdbuf cb;

	(void)state;
	assert_int_equal(viova_codec_enc_submit(&T->enc, 3, &s, NULL), 0);
	pt_decode_one(T, &c);
	check_hdr(&c, VIOVA_CMD_SUBMIT, 3, 100, 56 + 8 + 2 * 24);
	assert_int_equal(c.submit.format, VIOVA_SUBMIT_FORMAT_CMDBUF);
	assert_int_equal(c.record_count, 2);
	cb = viova_codec_cmd_cmdbuf(&c, 1);
	assert_memory_equal(&cb, &cbs[1], sizeof(cb));

	/* A job without buffers: bo_offset is 0 and the jobs follow the body directly. */
	viova_codec_enc_reset(&T->enc);
	T->cfg.prev_seqno = 100;
	{
		const struct viova_sim_job j = viova_codec_sim_fill(0x1000, 4, 1);
		struct viova_codec_submit s2 = {
		    .format = VIOVA_SUBMIT_FORMAT_SIM,
		    .out_fence = 8,
		    .cmds = &j,
		    .cmd_count = 1,
		};

		assert_int_equal(viova_codec_enc_submit(&T->enc, 3, &s2, NULL), 0);
	}
	pt_decode_one(T, &c);
	assert_int_equal(c.submit.bo_offset, 0);
	assert_int_equal(c.submit.cmd_offset, 56);
	assert_null(c.bos);
	assert_int_equal(c.record_count, 1);
}

static void test_wait_fence_query(void **state)
{
	struct viova_codec_cmd c;

	(void)state;
	assert_int_equal(viova_codec_enc_wait_fence(&T->enc, 2, 99, 1000000, 64, NULL), 0);
	assert_int_equal(viova_codec_enc_query(&T->enc, 0, VIOVA_QUERY_CAPS, 128, 256, NULL), 0);
	assert_int_equal(viova_codec_enc_query(&T->enc, 2, VIOVA_QUERY_CTX_STATS, 384, 128, NULL),
			 0);
	pt_finish(T);
	assert_int_equal(pt_begin(T), 0);
	assert_int_equal(pt_next(T, &c), 1);
	check_hdr(&c, VIOVA_CMD_WAIT_FENCE, 2, 100, sizeof(struct viova_cmd_wait_fence));
	assert_int_equal(c.wait_fence.fence, 99);
	assert_int_equal(c.wait_fence.timeout_ns, 1000000);
	assert_int_equal(c.wait_fence.resp_offset, 64);
	assert_int_equal(pt_next(T, &c), 1);
	check_hdr(&c, VIOVA_CMD_QUERY, 0, 101, sizeof(struct viova_cmd_query));
	assert_int_equal(c.query.what, VIOVA_QUERY_CAPS);
	assert_int_equal(c.query.resp_offset, 128);
	assert_int_equal(c.query.resp_size, 256);
	assert_int_equal(pt_next(T, &c), 1);
	check_hdr(&c, VIOVA_CMD_QUERY, 2, 102, sizeof(struct viova_cmd_query));
	assert_int_equal(c.query.what, VIOVA_QUERY_CTX_STATS);
	assert_int_equal(pt_next(T, &c), 0);
	assert_int_equal(viova_codec_dec_publish_seqno(&T->dec), 102);
}

/* ------------------------------------------------------------------------------------------ */
/* Encoder behaviour                                                                           */

static void test_encoder_full(void **state)
{
	/* Room for the batch header and exactly two SET_IOVA commands. */
	uint64_t small[(24 + 2 * 40) / 8];
	uint8_t before[sizeof(small)];
	struct viova_codec_encoder e;
	uint64_t seqno = 0;
	size_t len;

	(void)state;
	assert_int_equal(viova_codec_enc_init(&e, small, sizeof(small), 1), 0);
	assert_int_equal(viova_codec_enc_set_iova(&e, 1, 1, 0, 0x1000, &seqno), 0);
	assert_int_equal(viova_codec_enc_set_iova(&e, 1, 2, 0, 0x2000, &seqno), 0);
	assert_int_equal(seqno, 2);
	memcpy(before, small, sizeof(small));
	/* Full: nothing written, no seqno consumed. */
	seqno = 0;
	assert_int_equal(viova_codec_enc_set_iova(&e, 1, 3, 0, 0x3000, &seqno), -ENOSPC);
	assert_int_equal(viova_codec_enc_nop(&e, NULL), -ENOSPC);
	assert_int_equal(seqno, 0);
	assert_memory_equal(before, small, sizeof(small));
	assert_int_equal(viova_codec_enc_count(&e), 2);
	assert_int_equal(viova_codec_enc_next_seqno(&e), 3);
	assert_int_equal(viova_codec_enc_finish(&e, &len), 0);
	assert_int_equal(len, sizeof(small));

	/* After the flush, seqnos continue. */
	viova_codec_enc_reset(&e);
	assert_int_equal(viova_codec_enc_count(&e), 0);
	assert_int_equal(viova_codec_enc_finish(&e, &len), -ENODATA);
	assert_int_equal(viova_codec_enc_set_iova(&e, 1, 3, 0, 0x3000, &seqno), 0);
	assert_int_equal(seqno, 3);
}

static void test_encoder_never_fits(void **state)
{
	uint64_t buf[32]; /* 256 bytes */
	uint8_t data[512] = {0};
	struct viova_submit_bo bos[40] = {{0}};
	struct viova_codec_submit s = {
	    .format = VIOVA_SUBMIT_FORMAT_SIM,
	    .out_fence = 1,
	    .bos = bos,
	    .bo_count = 40,
	};
	struct viova_codec_encoder e;

	(void)state;
	assert_int_equal(viova_codec_enc_init(&e, buf, sizeof(buf), 1), 0);
	assert_int_equal(viova_codec_enc_upload_max(&e), 256 - 24 - 48);
	/* Larger than any batch of this capacity: -EMSGSIZE, not -ENOSPC (flushing won't help). */
	assert_int_equal(viova_codec_enc_gem_upload(&e, 1, 1, 0, data, 256 - 24 - 48 + 1, NULL),
			 -EMSGSIZE);
	assert_int_equal(viova_codec_enc_gem_upload(&e, 1, 1, 0, data, 256 - 24 - 48, NULL), 0);
	assert_int_equal(viova_codec_enc_submit(&e, 1, &s, NULL), -EMSGSIZE);
	assert_int_equal(viova_codec_enc_gem_upload(&e, 1, 1, 0, data, UINT64_MAX, NULL),
			 -EMSGSIZE);
}

static void test_encoder_bad_args(void **state)
{
	uint64_t buf[32];
	struct viova_codec_encoder e;
	struct viova_codec_submit s = {.format = VIOVA_SUBMIT_FORMAT_SIM, .bo_count = 1};

	(void)state;
	assert_int_equal(viova_codec_enc_init(&e, NULL, sizeof(buf), 1), -EINVAL);
	assert_int_equal(viova_codec_enc_init(&e, buf, sizeof(buf), 0), -EINVAL);
	assert_int_equal(viova_codec_enc_init(&e, buf, 47, 1), -EINVAL);
	assert_int_equal(viova_codec_enc_init(&e, buf, 48, 1), 0);
	assert_int_equal(viova_codec_enc_init(&e, buf, sizeof(buf), 1), 0);
	assert_int_equal(viova_codec_enc_gem_upload(&e, 1, 1, 0, NULL, 8, NULL), -EINVAL);
	assert_int_equal(viova_codec_enc_submit(&e, 1, &s, NULL), -EINVAL);
	assert_int_equal(viova_codec_enc_count(&e), 0);
}

/* A batch of every command, decoded in order, seqnos strictly increasing. */
static void test_mixed_batch(void **state)
{
	const struct viova_sim_job job = viova_codec_sim_fill(0x1000, 0x1000, 0);
	const struct viova_submit_bo bo = {.buf_id = 1, .flags = VIOVA_SUBMIT_BO_WRITE};
	struct viova_codec_submit s = {
	    .format = VIOVA_SUBMIT_FORMAT_SIM,
	    .out_fence = 1,
	    .bos = &bo,
	    .bo_count = 1,
	    .cmds = &job,
	    .cmd_count = 1,
	};
	struct viova_codec_bind b = {.buf_id = 1, .addr = 0x10000, .range = 0x1000};
	const uint16_t expect[] = {
	    VIOVA_CMD_RESP_INIT,   VIOVA_CMD_CTX_CREATE,   VIOVA_CMD_CTX_CLONE,
	    VIOVA_CMD_VM_CREATE,   VIOVA_CMD_GEM_NEW,	   VIOVA_CMD_SET_IOVA,
	    VIOVA_CMD_VM_BIND,	   VIOVA_CMD_GEM_UPLOAD,   VIOVA_CMD_SUBMIT,
	    VIOVA_CMD_WAIT_FENCE,  VIOVA_CMD_GEM_DOWNLOAD, VIOVA_CMD_QUERY,
	    VIOVA_CMD_VM_UNBIND,   VIOVA_CMD_GEM_CLOSE,	   VIOVA_CMD_VM_DESTROY,
	    VIOVA_CMD_CTX_DESTROY, VIOVA_CMD_SYNC,	   VIOVA_CMD_NOP,
	};
	struct viova_codec_cmd c;
	uint8_t data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	unsigned i;

	(void)state;
	assert_int_equal(viova_codec_enc_resp_init(&T->enc, 0, 0, 65536, NULL), 0);
	assert_int_equal(viova_codec_enc_ctx_create(&T->enc, 1, 0, 0, 0, 1, 0, NULL), 0);
	assert_int_equal(viova_codec_enc_ctx_clone(&T->enc, 2, 1, VIOVA_CLONE_VM, 0, NULL), 0);
	assert_int_equal(viova_codec_enc_vm_create(&T->enc, 1, 2, 0, NULL), 0);
	assert_int_equal(viova_codec_enc_gem_new(&T->enc, 1, 1, 0, 0x1000, 0, 0, NULL), 0);
	assert_int_equal(viova_codec_enc_set_iova(&T->enc, 1, 1, 0, 0x1000, NULL), 0);
	assert_int_equal(viova_codec_enc_vm_bind(&T->enc, 1, &b, NULL), 0);
	assert_int_equal(viova_codec_enc_gem_upload(&T->enc, 1, 1, 0, data, 8, NULL), 0);
	assert_int_equal(viova_codec_enc_submit(&T->enc, 1, &s, NULL), 0);
	assert_int_equal(viova_codec_enc_wait_fence(&T->enc, 1, 1, 0, 0, NULL), 0);
	assert_int_equal(viova_codec_enc_gem_download(&T->enc, 1, 1, 0, 8, 64, NULL), 0);
	assert_int_equal(viova_codec_enc_query(&T->enc, 1, VIOVA_QUERY_CTX_STATS, 128, 80, NULL),
			 0);
	assert_int_equal(viova_codec_enc_vm_unbind(&T->enc, 1, 0, 0x10000, 0x1000, NULL), 0);
	assert_int_equal(viova_codec_enc_gem_close(&T->enc, 1, 1, NULL), 0);
	assert_int_equal(viova_codec_enc_vm_destroy(&T->enc, 1, 2, NULL), 0);
	assert_int_equal(viova_codec_enc_ctx_destroy(&T->enc, 2, NULL), 0);
	assert_int_equal(viova_codec_enc_sync(&T->enc, NULL), 0);
	assert_int_equal(viova_codec_enc_nop(&T->enc, NULL), 0);
	pt_finish(T);
	assert_int_equal(pt_begin(T), 0);
	for (i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
		assert_int_equal(pt_next(T, &c), 1);
		assert_int_equal(c.hdr.cmd, expect[i]);
		assert_int_equal(c.hdr.seqno, 100 + i);
	}
	assert_int_equal(pt_next(T, &c), 0);
	assert_int_equal(pt_next(T, &c), 0); /* stays at the end */
	assert_int_equal(viova_codec_dec_publish_seqno(&T->dec), 100 + i - 1);
}

/*
 * The decoder works on copies: rewriting the batch after a command was decoded (as a guest
 * could do to shared memory) changes nothing in what the host holds.
 */
static void test_copy_before_validate(void **state)
{
	uint8_t data[16] = "0123456789abcdef";
	struct viova_codec_cmd c, snap;
	size_t off;

	(void)state;
	assert_int_equal(viova_codec_enc_gem_upload(&T->enc, 1, 5, 0, data, sizeof(data), NULL), 0);
	pt_finish(T);
	assert_int_equal(pt_begin(T), 0);
	assert_int_equal(pt_next(T, &c), 1);
	snap = c;
	off = pt_cmd_offset(T, 0);
	/* Guest scribbles over header, body and data after validation. */
	memset(pt_bytes(T) + off, 0xff, T->len - off);
	assert_memory_equal(&c, &snap, sizeof(c));
	assert_memory_equal(c.data, data, sizeof(data));
	assert_int_equal(c.gem_upload.size, 16);
	assert_int_equal(c.hdr.length, 48 + 16);
}

/* A guest of a newer minor may send longer structs; the extra bytes must be zero. */
static void test_newer_minor_zero_tail(void **state)
{
	struct viova_codec_cmd c;
	size_t off;

	(void)state;
	assert_int_equal(viova_codec_enc_set_iova(&T->enc, 1, 9, 0, 0x5000, NULL), 0);
	pt_finish(T);
	off = pt_cmd_offset(T, 0);
	/* Grow the command by 16 zero bytes and claim minor 7. */
	memset(pt_bytes(T) + T->len, 0, 16);
	pt_put32(T, off + offsetof(struct viova_cmd_hdr, length), 40 + 16);
	pt_set_len(T, T->len + 16);
	pt_put16(T, offsetof(struct viova_batch_hdr, minor), 7);
	assert_int_equal(pt_begin(T), 0);
	assert_int_equal(pt_next(T, &c), 1);
	assert_int_equal(c.hdr.length, 56);
	assert_int_equal(c.set_iova.buf_id, 9);
	assert_int_equal(c.set_iova.iova, 0x5000);
	/* Decoded at the host's minor, not the guest's. */
	assert_int_equal(c.minor, VIOVA_WIRE_MINOR);
	assert_int_equal(pt_next(T, &c), 0);
}

/* An empty batch is valid (last_seqno 0) and publishes nothing new. */
static void test_empty_batch(void **state)
{
	struct viova_batch_hdr bh = {
	    .magic = VIOVA_BATCH_MAGIC,
	    .length = 24,
	    .major = VIOVA_WIRE_MAJOR,
	};
	struct viova_codec_cmd c;

	(void)state;
	memcpy(T->batch, &bh, sizeof(bh));
	T->len = 24;
	T->cfg.prev_seqno = 55;
	assert_int_equal(pt_begin(T), 0);
	assert_int_equal(pt_next(T, &c), 0);
	assert_int_equal(viova_codec_dec_publish_seqno(&T->dec), 55);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_nop_sync, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_resp_init, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ctx_create, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ctx_clone, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ctx_destroy_vm, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_gem_new_close, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_set_iova, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_vm_bind_unbind, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_gem_upload, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_gem_download, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_submit_sim, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_submit_cmdbuf, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wait_fence_query, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_encoder_full, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_encoder_never_fits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_encoder_bad_args, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mixed_batch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_copy_before_validate, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_newer_minor_zero_tail, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_empty_batch, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

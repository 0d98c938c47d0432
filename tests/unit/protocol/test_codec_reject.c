/* SPDX-License-Identifier: MIT */
/*
 * test_codec_reject.c - protocol/codec_decode.c: one test per rejection class (VIOVA_REASON_*),
 * each checking the errno, the reason, whether the rest of the batch is skipped (framing) or
 * the next command still decodes (everything else), and that the message names the field and
 * its value. Malformed input is made by encoding valid commands and patching bytes.
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
	pt_init(T, 10);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(T);
	return 0;
}

#define OFF(type, field) offsetof(struct type, field)

/* Offset of command n's field in the batch. */
static size_t at(unsigned n, size_t field_off)
{
	return pt_cmd_offset(T, n) + field_off;
}

static void assert_msg(const char *needle)
{
	if (!strstr(T->err.msg, needle))
		fail_msg("message \"%s\" lacks \"%s\"", T->err.msg, needle);
}

/* The next decode call must reject with this class; non-fatal ones let `then` decode next. */
static void expect_reject(uint16_t reason, int err, const char *needle)
{
	struct viova_codec_cmd c;

	assert_int_equal(pt_next(T, &c), err);
	assert_int_equal(T->err.err, err);
	assert_int_equal(T->err.reason, reason);
	assert_int_equal(viova_codec_reason_errno(reason), err);
	if (needle)
		assert_msg(needle);
}

static void expect_cmd(uint16_t cmd)
{
	struct viova_codec_cmd c;

	assert_int_equal(pt_next(T, &c), 1);
	assert_int_equal(c.hdr.cmd, cmd);
}

static void expect_end(void)
{
	struct viova_codec_cmd c;

	assert_int_equal(pt_next(T, &c), 0);
}

/* Encode: SET_IOVA (cmd 0), a command under test (cmd 1), NOP (cmd 2). */
static void sandwich_begin(void)
{
	assert_int_equal(viova_codec_enc_set_iova(&T->enc, 1, 1, 0, 0x1000, NULL), 0);
}

static void sandwich_end(void)
{
	assert_int_equal(viova_codec_enc_nop(&T->enc, NULL), 0);
	pt_finish(T);
}

/* After the rejection of cmd 1 the decoder moves on: NOP decodes, then the end. */
static void expect_skip_only(void)
{
	assert_false(T->err.fatal);
	expect_cmd(VIOVA_CMD_NOP);
	expect_end();
}

/* ------------------------------------------------------------------------------------------ */
/* Batch level                                                                                 */

static void test_batch_truncated(void **state)
{
	(void)state;
	sandwich_begin();
	pt_finish(T);
	T->len = 16;
	assert_int_equal(pt_begin(T), -EBADMSG);
	assert_int_equal(T->err.reason, VIOVA_REASON_BATCH_TRUNCATED);
	assert_true(T->err.fatal);
	assert_msg("16 bytes, shorter than the 24-byte batch header");
	expect_end();
	/* Nothing trustworthy to publish beyond what was already processed. */
	assert_int_equal(viova_codec_dec_publish_seqno(&T->dec), 9);
}

static void test_batch_magic(void **state)
{
	(void)state;
	sandwich_begin();
	pt_finish(T);
	pt_put32(T, OFF(viova_batch_hdr, magic), 0x12345678);
	assert_int_equal(pt_begin(T), -EPROTO);
	assert_int_equal(T->err.reason, VIOVA_REASON_BATCH_MAGIC);
	assert_msg("magic = 0x12345678");
	expect_end();
	/* Not recognisably a viova batch: its last_seqno is not trusted. */
	assert_int_equal(viova_codec_dec_publish_seqno(&T->dec), 9);
}

static void test_batch_version(void **state)
{
	(void)state;
	sandwich_begin();
	pt_finish(T);
	pt_put16(T, OFF(viova_batch_hdr, major), 2);
	assert_int_equal(pt_begin(T), -EPROTONOSUPPORT);
	assert_int_equal(T->err.reason, VIOVA_REASON_BATCH_VERSION);
	assert_msg("wire version 2.0, this host speaks major 1");
	expect_end();
	/* A viova batch of another version: still published, so the guest wakes up and reads
	 * the error instead of waiting. */
	assert_int_equal(viova_codec_dec_publish_seqno(&T->dec), 10);
}

static void test_batch_length(void **state)
{
	(void)state;
	sandwich_begin();
	pt_finish(T);
	/* Header says 64, transport delivered 72. */
	T->len = 72;
	assert_int_equal(pt_begin(T), -EBADMSG);
	assert_int_equal(T->err.reason, VIOVA_REASON_BATCH_LENGTH);
	assert_msg("length = 64, must equal the 72 bytes received");
	/* Not a multiple of 8, though consistent. */
	pt_set_len(T, 60);
	assert_int_equal(pt_begin(T), -EBADMSG);
	assert_int_equal(T->err.reason, VIOVA_REASON_BATCH_LENGTH);
}

static void test_batch_too_large(void **state)
{
	(void)state;
	sandwich_begin();
	pt_finish(T);
	T->cfg.max_batch_size = 56;
	assert_int_equal(pt_begin(T), -EMSGSIZE);
	assert_int_equal(T->err.reason, VIOVA_REASON_BATCH_TOO_LARGE);
	assert_msg("length = 64 exceeds max_batch_size 56");
}

static void test_batch_flags(void **state)
{
	(void)state;
	sandwich_begin();
	pt_finish(T);
	pt_put32(T, OFF(viova_batch_hdr, flags), 0x8);
	assert_int_equal(pt_begin(T), -EINVAL);
	assert_int_equal(T->err.reason, VIOVA_REASON_UNKNOWN_FLAGS);
	assert_true(T->err.fatal);
	assert_msg("flags = 0x8");
}

static void test_bad_config(void **state)
{
	(void)state;
	sandwich_begin();
	pt_finish(T);
	T->cfg.scratch = (uint8_t *)T->scratch + 4; /* misaligned */
	assert_int_equal(pt_begin(T), -EINVAL);
	T->cfg.scratch = NULL;
	assert_int_equal(pt_begin(T), -EINVAL);
	expect_end();
}

/* ------------------------------------------------------------------------------------------ */
/* Framing (fatal: the rest of the batch is skipped)                                          */

static void test_hdr_truncated(void **state)
{
	(void)state;
	sandwich_begin();
	pt_finish(T);
	/* 16 stray bytes after the last command: fewer than a command header. */
	pt_set_len(T, T->len + 16);
	assert_int_equal(pt_begin(T), 0);
	expect_cmd(VIOVA_CMD_SET_IOVA);
	expect_reject(VIOVA_REASON_HDR_TRUNCATED, -EBADMSG,
		      "only 16 bytes left at batch offset 64");
	assert_true(T->err.fatal);
	expect_end();
}

static void test_len_too_short(void **state)
{
	(void)state;
	sandwich_begin();
	assert_int_equal(viova_codec_enc_nop(&T->enc, NULL), 0);
	sandwich_end();
	pt_put32(T, at(1, OFF(viova_cmd_hdr, length)), 16);
	assert_int_equal(pt_begin(T), 0);
	expect_cmd(VIOVA_CMD_SET_IOVA);
	expect_reject(VIOVA_REASON_LEN_TOO_SHORT, -EBADMSG, "NOP (seqno 11): hdr.length = 16");
	assert_true(T->err.fatal);
	assert_int_equal(T->err.seqno, 11);
	assert_int_equal(T->err.batch_offset, 64);
	expect_end(); /* the NOP after it is not reached */
	/* The batch's last_seqno is still published: nobody waits for seqno 12 forever. */
	assert_int_equal(viova_codec_dec_publish_seqno(&T->dec), 12);
}

static void test_len_misaligned(void **state)
{
	(void)state;
	sandwich_begin();
	assert_int_equal(viova_codec_enc_nop(&T->enc, NULL), 0);
	sandwich_end();
	pt_put32(T, at(1, OFF(viova_cmd_hdr, length)), 28);
	assert_int_equal(pt_begin(T), 0);
	expect_cmd(VIOVA_CMD_SET_IOVA);
	expect_reject(VIOVA_REASON_LEN_MISALIGNED, -EBADMSG,
		      "hdr.length = 28, not a multiple of 8");
	assert_true(T->err.fatal);
	expect_end();
}

static void test_len_overrun(void **state)
{
	(void)state;
	sandwich_begin();
	assert_int_equal(viova_codec_enc_nop(&T->enc, NULL), 0);
	sandwich_end();
	pt_put32(T, at(1, OFF(viova_cmd_hdr, length)), 0x7ffffff8);
	assert_int_equal(pt_begin(T), 0);
	expect_cmd(VIOVA_CMD_SET_IOVA);
	expect_reject(VIOVA_REASON_LEN_OVERRUN, -EBADMSG,
		      "hdr.length = 2147483640, exceeds the 48 bytes left");
	assert_true(T->err.fatal);
	expect_end();
}

/* ------------------------------------------------------------------------------------------ */
/* Command level (the command is skipped, the next one decodes)                                */

static void test_seqno_order(void **state)
{
	(void)state;
	sandwich_begin();
	assert_int_equal(viova_codec_enc_nop(&T->enc, NULL), 0);
	sandwich_end();
	pt_put64(T, at(1, OFF(viova_cmd_hdr, seqno)), 10); /* same as the SET_IOVA before it */
	assert_int_equal(pt_begin(T), 0);
	expect_cmd(VIOVA_CMD_SET_IOVA);
	expect_reject(VIOVA_REASON_SEQNO_ORDER, -EPROTO,
		      "hdr.seqno = 10, not greater than the previous seqno 10");
	expect_skip_only();

	/* Also across batches: the first command must be above cfg.prev_seqno. */
	T->cfg.prev_seqno = 10;
	assert_int_equal(pt_begin(T), 0);
	expect_reject(VIOVA_REASON_SEQNO_ORDER, -EPROTO, "previous seqno 10");
}

static void test_last_seqno(void **state)
{
	(void)state;
	sandwich_begin();
	sandwich_end();
	pt_put64(T, OFF(viova_batch_hdr, last_seqno), 99);
	assert_int_equal(pt_begin(T), 0);
	expect_cmd(VIOVA_CMD_SET_IOVA);
	expect_cmd(VIOVA_CMD_NOP);
	expect_reject(VIOVA_REASON_LAST_SEQNO, -EPROTO,
		      "last_seqno = 99, but its last command has seqno 11");
	expect_end();
	assert_int_equal(viova_codec_dec_publish_seqno(&T->dec), 99);
}

static void test_unknown_cmd(void **state)
{
	(void)state;
	sandwich_begin();
	assert_int_equal(viova_codec_enc_nop(&T->enc, NULL), 0);
	sandwich_end();
	pt_put16(T, at(1, OFF(viova_cmd_hdr, cmd)), 0x77);
	assert_int_equal(pt_begin(T), 0);
	expect_cmd(VIOVA_CMD_SET_IOVA);
	expect_reject(
	    VIOVA_REASON_UNKNOWN_CMD, -ENOSYS,
	    "command code 119 (seqno 11): hdr.cmd = 119, unknown command code at wire 1.0");
	expect_skip_only();

	/* Code 0 (zeroed memory) is never a command. */
	pt_put16(T, at(1, OFF(viova_cmd_hdr, cmd)), 0);
	assert_int_equal(pt_begin(T), 0);
	expect_cmd(VIOVA_CMD_SET_IOVA);
	expect_reject(VIOVA_REASON_UNKNOWN_CMD, -ENOSYS, "hdr.cmd = 0");
}

static void test_cmd_too_large(void **state)
{
	(void)state;
	assert_int_equal(viova_codec_enc_nop(&T->enc, NULL), 0);
	assert_int_equal(viova_codec_enc_set_iova(&T->enc, 1, 1, 0, 0x1000, NULL), 0);
	sandwich_end();
	T->cfg.scratch_size = 32;
	assert_int_equal(pt_begin(T), 0);
	expect_cmd(VIOVA_CMD_NOP);
	expect_reject(VIOVA_REASON_CMD_TOO_LARGE, -EMSGSIZE,
		      "hdr.length = 40, exceeds the decoder's 32-byte copy buffer");
	expect_skip_only();
}

static void test_cmd_too_short(void **state)
{
	(void)state;
	sandwich_begin();
	/* A GEM_CLOSE whose length claims 24: framing is fine, the struct needs 32. */
	assert_int_equal(viova_codec_enc_nop(&T->enc, NULL), 0);
	sandwich_end();
	pt_put16(T, at(1, OFF(viova_cmd_hdr, cmd)), VIOVA_CMD_GEM_CLOSE);
	pt_put32(T, at(1, OFF(viova_cmd_hdr, ctx_id)), 1);
	assert_int_equal(pt_begin(T), 0);
	expect_cmd(VIOVA_CMD_SET_IOVA);
	expect_reject(VIOVA_REASON_CMD_TOO_SHORT, -EBADMSG,
		      "GEM_CLOSE (seqno 11, ctx 1): hdr.length = 24, shorter than the 32 bytes of "
		      "GEM_CLOSE at wire 1.0");
	expect_skip_only();
}

static void test_reserved_nonzero(void **state)
{
	(void)state;
	sandwich_begin();
	assert_int_equal(viova_codec_enc_gem_close(&T->enc, 3, 12, NULL), 0);
	sandwich_end();
	pt_put32(T, at(1, OFF(viova_cmd_gem_close, pad0)), 5);
	assert_int_equal(pt_begin(T), 0);
	expect_cmd(VIOVA_CMD_SET_IOVA);
	expect_reject(VIOVA_REASON_RESERVED_NONZERO, -EINVAL,
		      "GEM_CLOSE (seqno 11, ctx 3): reserved field pad0 = 0x5, must be 0");
	assert_string_equal(T->err.field, "pad0");
	assert_int_equal(T->err.field_offset, OFF(viova_cmd_gem_close, pad0));
	assert_int_equal(T->err.value, 5);
	expect_skip_only();

	/* The header's reserved word too. */
	pt_put32(T, at(1, OFF(viova_cmd_gem_close, pad0)), 0);
	pt_put32(T, at(1, OFF(viova_cmd_hdr, reserved)), 0x100);
	assert_int_equal(pt_begin(T), 0);
	expect_cmd(VIOVA_CMD_SET_IOVA);
	expect_reject(VIOVA_REASON_RESERVED_NONZERO, -EINVAL,
		      "reserved field hdr.reserved = 0x100, must be 0");
}

static void test_unknown_flags(void **state)
{
	(void)state;
	sandwich_begin();
	assert_int_equal(viova_codec_enc_ctx_clone(&T->enc, 2, 1, VIOVA_CLONE_ALL | 0x40, 0, NULL),
			 0);
	sandwich_end();
	assert_int_equal(pt_begin(T), 0);
	expect_cmd(VIOVA_CMD_SET_IOVA);
	expect_reject(VIOVA_REASON_UNKNOWN_FLAGS, -EINVAL,
		      "CTX_CLONE (seqno 11, ctx 2): flags = 0x7f, unknown bits 0x40 (defined at "
		      "wire 1.0: 0x3f)");
	assert_int_equal(T->err.limit, VIOVA_CLONE_ALL);
	expect_skip_only();

	/* ~0 is not "all": unknown bits are rejected, not ignored. */
	pt_put32(T, at(1, OFF(viova_cmd_ctx_clone, flags)), 0xffffffff);
	assert_int_equal(pt_begin(T), 0);
	expect_cmd(VIOVA_CMD_SET_IOVA);
	expect_reject(VIOVA_REASON_UNKNOWN_FLAGS, -EINVAL, "unknown bits 0xffffffc0");

	/* Header flags: none defined. */
	pt_put32(T, at(1, OFF(viova_cmd_ctx_clone, flags)), VIOVA_CLONE_ALL);
	pt_put16(T, at(1, OFF(viova_cmd_hdr, flags)), 1);
	assert_int_equal(pt_begin(T), 0);
	expect_cmd(VIOVA_CMD_SET_IOVA);
	expect_reject(VIOVA_REASON_UNKNOWN_FLAGS, -EINVAL, "hdr.flags = 0x1");
}

static void test_bad_ctx(void **state)
{
	(void)state;
	/* SET_IOVA needs a context. */
	assert_int_equal(viova_codec_enc_set_iova(&T->enc, 0, 1, 0, 0x1000, NULL), 0);
	/* Beyond max_contexts (64). */
	assert_int_equal(viova_codec_enc_set_iova(&T->enc, 65, 1, 0, 0x1000, NULL), 0);
	/* Connection-level NOP must not name one. */
	assert_int_equal(viova_codec_enc_nop(&T->enc, NULL), 0);
	/* Share without the flag. */
	assert_int_equal(viova_codec_enc_ctx_create(&T->enc, 2, 0, 0, 0, 1, 1, NULL), 0);
	/* Clone from itself. */
	assert_int_equal(viova_codec_enc_ctx_clone(&T->enc, 2, 2, 0, 1, NULL), 0);
	/* QUERY CAPS is connection-level, CTX_STATS is not. */
	assert_int_equal(viova_codec_enc_query(&T->enc, 1, VIOVA_QUERY_CAPS, 0, 256, NULL), 0);
	assert_int_equal(viova_codec_enc_query(&T->enc, 0, VIOVA_QUERY_CTX_STATS, 0, 256, NULL), 0);
	sandwich_end();
	pt_put32(T, at(2, OFF(viova_cmd_hdr, ctx_id)), 4);
	assert_int_equal(pt_begin(T), 0);
	expect_reject(VIOVA_REASON_BAD_CTX, -EINVAL,
		      "SET_IOVA (seqno 10): hdr.ctx_id = 0, must name a context (1..64)");
	expect_reject(VIOVA_REASON_BAD_CTX, -EINVAL, "hdr.ctx_id = 65, exceeds max_contexts 64");
	expect_reject(VIOVA_REASON_BAD_CTX, -EINVAL,
		      "hdr.ctx_id = 4, must be 0 for this connection-level command");
	expect_reject(VIOVA_REASON_BAD_CTX, -EINVAL,
		      "share_ctx_id = 1, must be 0 without VIOVA_CTX_CREATE_SHARE_VM");
	expect_reject(VIOVA_REASON_BAD_CTX, -EINVAL,
		      "src_ctx_id = 2, names the context this command creates");
	expect_reject(VIOVA_REASON_BAD_CTX, -EINVAL, "QUERY (seqno 15, ctx 1): hdr.ctx_id = 1");
	expect_reject(VIOVA_REASON_BAD_CTX, -EINVAL, "QUERY (seqno 16): hdr.ctx_id = 0");
	expect_skip_only();
}

static void test_bad_value(void **state)
{
	const struct viova_submit_bo bo = {.buf_id = 1, .flags = VIOVA_SUBMIT_BO_DUMP};
	const struct viova_sim_job job = viova_codec_sim_fill(0, 4, 0);
	struct viova_codec_submit s = {
	    .format = VIOVA_SUBMIT_FORMAT_SIM,
	    .out_fence = 1,
	    .bos = &bo,
	    .bo_count = 1,
	    .cmds = &job,
	    .cmd_count = 1,
	};

	(void)state;
	assert_int_equal(viova_codec_enc_gem_close(&T->enc, 1, 0, NULL), 0);
	assert_int_equal(viova_codec_enc_ctx_create(&T->enc, 1, 0, 0, 2000, 1, 0, NULL), 0);
	assert_int_equal(viova_codec_enc_submit(&T->enc, 1, &s, NULL), 0);
	s.format = 9;
	assert_int_equal(viova_codec_enc_submit(&T->enc, 1, &s, NULL), 0);
	assert_int_equal(viova_codec_enc_query(&T->enc, 1, 7, 0, 64, NULL), 0);
	assert_int_equal(viova_codec_enc_gem_new(&T->enc, 1, 1,
						 VIOVA_GEM_CACHED_COHERENT | VIOVA_GEM_UNCACHED,
						 4096, 0, 0, NULL),
			 0);
	sandwich_end();
	assert_int_equal(pt_begin(T), 0);
	expect_reject(VIOVA_REASON_BAD_VALUE, -EINVAL,
		      "GEM_CLOSE (seqno 10, ctx 1): buf_id = 0, must be nonzero");
	expect_reject(VIOVA_REASON_BAD_VALUE, -EINVAL,
		      "priority = 2000, must be within -1023..1023");
	expect_reject(VIOVA_REASON_BAD_VALUE, -EINVAL,
		      "bos[0].flags = 0x4, must include READ or WRITE");
	assert_int_equal(T->err.index, 0);
	assert_int_equal(T->err.field_offset, 56 + 4);
	expect_reject(VIOVA_REASON_BAD_VALUE, -EINVAL, "format = 9, unknown submit format");
	expect_reject(VIOVA_REASON_BAD_VALUE, -EINVAL, "what = 7, unknown query");
	expect_reject(VIOVA_REASON_BAD_VALUE, -EINVAL,
		      "CACHED_COHERENT and UNCACHED are exclusive");
	expect_skip_only();
}

static void test_bad_sim_jobs(void **state)
{
	const struct viova_submit_bo bo = {.buf_id = 1, .flags = VIOVA_SUBMIT_BO_READ};
	struct viova_sim_job jobs[3] = {
	    viova_codec_sim_fill(0x1000, 0x100, 7),
	    viova_codec_sim_copy(0x2000, 0x2800, 0x1000), /* overlapping */
	    viova_codec_sim_write_fence(0x3000, 1),
	};
	struct viova_codec_submit s = {
	    .format = VIOVA_SUBMIT_FORMAT_SIM,
	    .out_fence = 1,
	    .bos = &bo,
	    .bo_count = 1,
	    .cmds = jobs,
	    .cmd_count = 3,
	};

	(void)state;
	assert_int_equal(viova_codec_enc_submit(&T->enc, 1, &s, NULL), 0);
	jobs[1].arg1 = 0x8000;
	jobs[2].arg2 = 9;
	assert_int_equal(viova_codec_enc_submit(&T->enc, 1, &s, NULL), 0);
	jobs[2].arg2 = 0;
	jobs[0].op = 42;
	assert_int_equal(viova_codec_enc_submit(&T->enc, 1, &s, NULL), 0);
	sandwich_end();
	assert_int_equal(pt_begin(T), 0);
	expect_reject(VIOVA_REASON_BAD_VALUE, -EINVAL,
		      "jobs[1].arg0 = 0x2000, COPY destination overlaps source 0x2800 + 0x1000");
	assert_int_equal(T->err.field_offset, 56 + 8 + 32 + 8);
	expect_reject(VIOVA_REASON_RESERVED_NONZERO, -EINVAL,
		      "reserved field jobs[2].arg2 = 0x9, must be 0");
	expect_reject(VIOVA_REASON_BAD_VALUE, -EINVAL, "jobs[0].op = 42, unknown sim GPU op");
	expect_skip_only();
}

static void test_misaligned(void **state)
{
	(void)state;
	sandwich_begin();
	assert_int_equal(viova_codec_enc_gem_download(&T->enc, 1, 1, 0, 16, 12, NULL), 0);
	sandwich_end();
	assert_int_equal(pt_begin(T), 0);
	expect_cmd(VIOVA_CMD_SET_IOVA);
	expect_reject(VIOVA_REASON_MISALIGNED, -EINVAL,
		      "resp_offset = 0xc, must be a multiple of 8");
	expect_skip_only();
}

static void test_range_wrap(void **state)
{
	struct viova_codec_bind b = {
	    .buf_id = 1,
	    .addr = 0xfffffffffffff000ull,
	    .range = 0x2000,
	};

	(void)state;
	assert_int_equal(viova_codec_enc_vm_bind(&T->enc, 1, &b, NULL), 0);
	assert_int_equal(
	    viova_codec_enc_gem_new(&T->enc, 1, 2, 0, 0x10000, 0, 0xffffffffffff8000ull, NULL), 0);
	assert_int_equal(viova_codec_enc_gem_download(&T->enc, 1, 1, 0, 0x1000, 0xfffff800, NULL),
			 0);
	sandwich_end();
	assert_int_equal(pt_begin(T), 0);
	expect_reject(VIOVA_REASON_RANGE_WRAP, -EOVERFLOW,
		      "addr = 0xfffffffffffff000, + range 0x2000 wraps around 2^64");
	expect_reject(VIOVA_REASON_RANGE_WRAP, -EOVERFLOW,
		      "iova = 0xffffffffffff8000, + size 0x10000 wraps");
	expect_reject(VIOVA_REASON_RANGE_WRAP, -EOVERFLOW,
		      "resp_offset = 0xfffff800, + 4112 response bytes ends beyond the 4 GiB");
	expect_skip_only();
}

static void test_array_bounds(void **state)
{
	const struct viova_submit_bo bo = {.buf_id = 1, .flags = VIOVA_SUBMIT_BO_READ};
	const struct viova_sim_job job = viova_codec_sim_fill(0x1000, 4, 0);
	struct viova_codec_submit s = {
	    .format = VIOVA_SUBMIT_FORMAT_SIM,
	    .out_fence = 1,
	    .bos = &bo,
	    .bo_count = 1,
	    .cmds = &job,
	    .cmd_count = 1,
	};
	uint8_t data[8] = {0};

	(void)state;
	assert_int_equal(viova_codec_enc_submit(&T->enc, 1, &s, NULL), 0);
	assert_int_equal(viova_codec_enc_gem_upload(&T->enc, 1, 1, 0, data, 8, NULL), 0);
	sandwich_end();
	/* count x size far beyond the command: 0xffffffff x 8 does not wrap in 64 bits. */
	pt_put32(T, at(0, OFF(viova_cmd_submit, bo_count)), 0xffffffff);
	/* Upload claims more data than the command carries. */
	pt_put64(T, at(1, OFF(viova_cmd_gem_upload, size)), 9);
	assert_int_equal(pt_begin(T), 0);
	expect_reject(VIOVA_REASON_ARRAY_BOUNDS, -EOVERFLOW,
		      "bo_offset = 56, + 4294967295 x 8 bytes ends beyond the command length 96");
	expect_reject(VIOVA_REASON_ARRAY_BOUNDS, -EOVERFLOW,
		      "data_offset = 48, + 9 x 1 bytes ends beyond the command length 56");
	expect_skip_only();

	/* An offset past the end of the command (length - offset must not underflow). */
	pt_put32(T, at(0, OFF(viova_cmd_submit, bo_count)), 1);
	pt_put32(T, at(0, OFF(viova_cmd_submit, cmd_offset)), 0x800048);
	pt_put64(T, at(1, OFF(viova_cmd_gem_upload, size)), 8);
	pt_put32(T, at(1, OFF(viova_cmd_gem_upload, data_offset)), 0x1000);
	assert_int_equal(pt_begin(T), 0);
	expect_reject(VIOVA_REASON_ARRAY_BOUNDS, -EOVERFLOW,
		      "cmd_offset = 8388680, + 32 x 1 bytes");
	expect_reject(VIOVA_REASON_ARRAY_BOUNDS, -EOVERFLOW, "data_offset = 4096, + 8 x 1 bytes");
	expect_skip_only();
}

static void test_array_overlap(void **state)
{
	const struct viova_submit_bo bos[2] = {
	    {.buf_id = 1, .flags = VIOVA_SUBMIT_BO_READ},
	    {.buf_id = 2, .flags = VIOVA_SUBMIT_BO_READ},
	};
	const struct viova_sim_job job = viova_codec_sim_fill(0x1000, 4, 0);
	struct viova_codec_submit s = {
	    .format = VIOVA_SUBMIT_FORMAT_SIM,
	    .out_fence = 1,
	    .bos = bos,
	    .bo_count = 2,
	    .cmds = &job,
	    .cmd_count = 1,
	};

	(void)state;
	assert_int_equal(viova_codec_enc_submit(&T->enc, 1, &s, NULL), 0);
	assert_int_equal(viova_codec_enc_submit(&T->enc, 1, &s, NULL), 0);
	sandwich_end();
	/* The buffer list starts inside the body. */
	pt_put32(T, at(0, OFF(viova_cmd_submit, bo_offset)), 48);
	/* The jobs start inside the buffer list. */
	pt_put32(T, at(1, OFF(viova_cmd_submit, cmd_offset)), 64);
	pt_put32(T, at(1, OFF(viova_cmd_submit, cmd_size)), 32);
	assert_int_equal(pt_begin(T), 0);
	expect_reject(VIOVA_REASON_ARRAY_OVERLAP, -EINVAL,
		      "bo_offset = 48, overlaps the 56-byte command body");
	expect_reject(VIOVA_REASON_ARRAY_OVERLAP, -EINVAL,
		      "cmd_offset = 64, overlaps the buffer list [56, 72)");
	expect_skip_only();
}

static void test_tail_nonzero(void **state)
{
	(void)state;
	sandwich_begin();
	assert_int_equal(viova_codec_enc_gem_close(&T->enc, 1, 3, NULL), 0);
	sandwich_end();
	/* Grow GEM_CLOSE by 8 bytes with a nonzero byte at offset 37: a newer-minor field. */
	{
		size_t off = pt_cmd_offset(T, 1);
		size_t end = off + 32;

		memmove(pt_bytes(T) + end + 8, pt_bytes(T) + end, T->len - end);
		memset(pt_bytes(T) + end, 0, 8);
		pt_bytes(T)[end + 5] = 0x11;
		pt_put32(T, off + OFF(viova_cmd_hdr, length), 40);
		pt_set_len(T, T->len + 8);
	}
	assert_int_equal(pt_begin(T), 0);
	expect_cmd(VIOVA_CMD_SET_IOVA);
	expect_reject(
	    VIOVA_REASON_TAIL_NONZERO, -E2BIG,
	    "GEM_CLOSE (seqno 11, ctx 1): byte 37 = 0x11 lies past the 32 bytes this host "
	    "knows");
	assert_int_equal(T->err.field_offset, 37);
	expect_skip_only();

	/* Upload padding after the data is tail too. */
	pt_init(T, 10);
	assert_int_equal(viova_codec_enc_gem_upload(&T->enc, 1, 1, 0, "abc", 3, NULL), 0);
	sandwich_end();
	pt_bytes(T)[24 + 48 + 6] = 1;
	assert_int_equal(pt_begin(T), 0);
	expect_reject(VIOVA_REASON_TAIL_NONZERO, -E2BIG, "byte 54 = 0x01");
	expect_skip_only();
}

/* The rejection becomes a ring record that names the same facts. */
static void test_error_record(void **state)
{
	struct viova_err_rec rec;
	char line[256];

	(void)state;
	sandwich_begin();
	assert_int_equal(viova_codec_enc_gem_close(&T->enc, 3, 12, NULL), 0);
	sandwich_end();
	pt_put32(T, at(1, OFF(viova_cmd_gem_close, pad0)), 5);
	assert_int_equal(pt_begin(T), 0);
	expect_cmd(VIOVA_CMD_SET_IOVA);
	expect_reject(VIOVA_REASON_RESERVED_NONZERO, -EINVAL, NULL);
	viova_codec_dec_error_to_rec(&T->err, &rec);
	assert_int_equal(rec.seqno, 11);
	assert_int_equal(rec.cmd, VIOVA_CMD_GEM_CLOSE);
	assert_int_equal(rec.reason, VIOVA_REASON_RESERVED_NONZERO);
	assert_int_equal(rec.err, VIOVA_EINVAL);
	assert_int_equal(rec.ctx_id, 3);
	assert_int_equal(rec.detail0, 5);
	assert_int_equal(rec.detail1, OFF(viova_cmd_gem_close, pad0));
	assert_int_equal(rec.flags, 0);
	viova_codec_format_err_rec(&rec, line, sizeof(line));
	assert_string_equal(line, "GEM_CLOSE (seqno 11, ctx 3): EINVAL, rejected by the decoder "
				  "[RESERVED_NONZERO], field pad0 = 0x5");
}

/*
 * A rejected command must not leave the previous command's body in *out: a host applying
 * "GEM_NEW with an iova loses the context" would act on a stale iova (review finding).
 */
static void test_reject_clears_out(void **state)
{
	struct viova_codec_cmd out;

	(void)state;
	pt_init(T, 5);
	assert_int_equal(viova_codec_enc_gem_new(&T->enc, 1, 7, 0, 0x10000, 0, 0x100000, NULL), 0);
	assert_int_equal(viova_codec_enc_set_iova(&T->enc, 1, 7, 0, 0x200000, NULL), 0);
	pt_finish(T);
	pt_put64(T, pt_cmd_offset(T, 1) + OFF(viova_cmd_hdr, seqno), 5); /* not above GEM_NEW's */
	pt_put64(T, OFF(viova_batch_hdr, last_seqno), 5);
	assert_int_equal(pt_begin(T), 0);
	assert_int_equal(pt_next(T, &out), 1);
	assert_int_equal(out.hdr.cmd, VIOVA_CMD_GEM_NEW);
	assert_int_equal(out.gem_new.iova, 0x100000);
	assert_int_equal(pt_next(T, &out), -EPROTO);
	assert_int_equal(T->err.reason, VIOVA_REASON_SEQNO_ORDER);
	assert_int_equal(out.hdr.cmd, VIOVA_CMD_SET_IOVA); /* the rejected command's header */
	assert_int_equal(out.gem_new.iova, 0);		    /* nothing of the GEM_NEW before it */
	assert_int_equal(out.set_iova.iova, 0);		    /* and no unvalidated body */
}

/* An encoder too small for any upload reports 0 bytes, not a wrapped-around size. */
static void test_upload_max_small_buffer(void **state)
{
	uint64_t buf[6];
	struct viova_codec_encoder e;

	(void)state;
	assert_int_equal(viova_codec_enc_init(&e, buf, sizeof(buf), 1), 0);
	assert_int_equal(viova_codec_enc_upload_max(&e), 0);
}

int main(void)
{
#define T_(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T_(test_batch_truncated), T_(test_batch_magic),	 T_(test_batch_version),
	    T_(test_batch_length),    T_(test_batch_too_large),	 T_(test_batch_flags),
	    T_(test_bad_config),      T_(test_hdr_truncated),	 T_(test_len_too_short),
	    T_(test_len_misaligned),  T_(test_len_overrun),	 T_(test_seqno_order),
	    T_(test_last_seqno),      T_(test_unknown_cmd),	 T_(test_cmd_too_large),
	    T_(test_cmd_too_short),   T_(test_reserved_nonzero), T_(test_unknown_flags),
	    T_(test_bad_ctx),	      T_(test_bad_value),	 T_(test_bad_sim_jobs),
	    T_(test_misaligned),      T_(test_range_wrap),	 T_(test_array_bounds),
	    T_(test_array_overlap),   T_(test_tail_nonzero),	 T_(test_error_record),
	    T_(test_reject_clears_out), T_(test_upload_max_small_buffer),
	};
#undef T_

	return cmocka_run_group_tests(tests, NULL, NULL);
}

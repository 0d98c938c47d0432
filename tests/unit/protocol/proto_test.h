/* SPDX-License-Identifier: MIT */
/*
 * proto_test.h - helpers shared by the protocol unit tests: a batch buffer, a decoder set up
 * like a host would set it up, and byte patching for malformed input.
 * Include after <cmocka.h>.
 */
#ifndef VIOVA_TESTS_PROTO_TEST_H
#define VIOVA_TESTS_PROTO_TEST_H

#include <stdint.h>
#include <string.h>

#include "viova/codec.h"

#define PT_MAX_CONTEXTS 64
#define PT_BATCH_WORDS 2048 /* 16 KiB */

/* One test's state: buffers are uint64_t arrays so that they are 8-byte aligned. */
struct pt {
	uint64_t batch[PT_BATCH_WORDS];
	uint64_t scratch[PT_BATCH_WORDS];
	struct viova_codec_encoder enc;
	struct viova_codec_decoder dec;
	struct viova_codec_dec_config cfg;
	struct viova_codec_dec_error err;
	size_t len;
};

static inline void pt_init(struct pt *t, uint64_t first_seqno)
{
	memset(t, 0, sizeof(*t));
	assert_int_equal(viova_codec_enc_init(&t->enc, t->batch, sizeof(t->batch), first_seqno), 0);
	t->cfg.host_minor = VIOVA_WIRE_MINOR;
	t->cfg.max_contexts = PT_MAX_CONTEXTS;
	t->cfg.max_batch_size = sizeof(t->batch);
	t->cfg.prev_seqno = first_seqno - 1;
	t->cfg.scratch = t->scratch;
	t->cfg.scratch_size = sizeof(t->scratch);
}

static inline uint8_t *pt_bytes(struct pt *t)
{
	return (uint8_t *)t->batch;
}

/* Write the batch header; t->len becomes the batch length. */
static inline void pt_finish(struct pt *t)
{
	assert_int_equal(viova_codec_enc_finish(&t->enc, &t->len), 0);
}

/* Offset in the batch of the n-th command (0-based), walking the encoded lengths. */
static inline size_t pt_cmd_offset(struct pt *t, unsigned n)
{
	size_t off = sizeof(struct viova_batch_hdr);
	uint32_t len;

	while (n--) {
		memcpy(&len, pt_bytes(t) + off + offsetof(struct viova_cmd_hdr, length), 4);
		off += len;
	}
	return off;
}

static inline void pt_put16(struct pt *t, size_t off, uint16_t v)
{
	memcpy(pt_bytes(t) + off, &v, sizeof(v));
}
static inline void pt_put32(struct pt *t, size_t off, uint32_t v)
{
	memcpy(pt_bytes(t) + off, &v, sizeof(v));
}
static inline void pt_put64(struct pt *t, size_t off, uint64_t v)
{
	memcpy(pt_bytes(t) + off, &v, sizeof(v));
}

/* Set the batch header's length field and t->len (to grow or shrink a batch by hand). */
static inline void pt_set_len(struct pt *t, size_t len)
{
	t->len = len;
	pt_put32(t, offsetof(struct viova_batch_hdr, length), (uint32_t)len);
}

static inline int pt_begin(struct pt *t)
{
	return viova_codec_dec_begin(&t->dec, &t->cfg, t->batch, t->len, &t->err);
}

static inline int pt_next(struct pt *t, struct viova_codec_cmd *out)
{
	return viova_codec_dec_next(&t->dec, out, &t->err);
}

/* Decode a batch holding exactly one valid command into *out. */
static inline void pt_decode_one(struct pt *t, struct viova_codec_cmd *out)
{
	struct viova_codec_cmd tail;

	pt_finish(t);
	assert_int_equal(pt_begin(t), 0);
	assert_int_equal(pt_next(t, out), 1);
	/* The payload pointers stay valid: the next call finds the end without copying. */
	assert_int_equal(pt_next(t, &tail), 0);
}

#endif /* VIOVA_TESTS_PROTO_TEST_H */

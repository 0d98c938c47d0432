/* SPDX-License-Identifier: MIT */
/*
 * gen_corpus.c - writes the seed corpus of fuzz_decoder: small valid batches (every command,
 * a mixed batch, an empty batch) and near-valid ones (one malformation class each, made by
 * patching a valid batch), plus one response area as a host would leave it.
 *
 *   gen_corpus DIR           write the seeds into DIR (tests/fuzz/corpus/decoder is the copy
 *                            committed to git; regenerate it after a wire format change)
 *   gen_corpus --check DIR   exit 1 unless DIR holds exactly these seeds, byte for byte
 *                            (the "decoder_corpus" test: the corpus follows the protocol)
 */
#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "viova/codec.h"

#define OFF(type, field) offsetof(struct type, field)

static uint64_t buf[1024]; /* 8 KiB, 8-byte aligned */
static struct viova_codec_encoder enc;
static size_t len;
static const char *dir;
static bool check_mode;
static int generated, failures;

static uint8_t *bytes(void)
{
	return (uint8_t *)buf;
}

static void start(void)
{
	memset(buf, 0, sizeof(buf));
	if (viova_codec_enc_init(&enc, buf, sizeof(buf), 1)) {
		fprintf(stderr, "gen_corpus: encoder init failed\n");
		exit(2);
	}
}

static void ok(int ret, const char *what)
{
	if (ret) {
		fprintf(stderr, "gen_corpus: encoding %s failed: %d\n", what, ret);
		exit(2);
	}
}

static void finish(void)
{
	ok(viova_codec_enc_finish(&enc, &len), "batch");
}

static size_t cmd_at(unsigned n)
{
	size_t off = sizeof(struct viova_batch_hdr);
	uint32_t l;

	while (n--) {
		memcpy(&l, bytes() + off + OFF(viova_cmd_hdr, length), 4);
		off += l;
	}
	return off;
}

static void put(size_t off, const void *v, size_t n)
{
	memcpy(bytes() + off, v, n);
}
static void put16(size_t off, uint16_t v)
{
	put(off, &v, 2);
}
static void put32(size_t off, uint32_t v)
{
	put(off, &v, 4);
}
static void put64(size_t off, uint64_t v)
{
	put(off, &v, 8);
}

static void set_len(size_t l)
{
	len = l;
	put32(OFF(viova_batch_hdr, length), (uint32_t)l);
}

/*
 * Decode the seed as fuzz_decoder's host would and return the first rejection's reason
 * (VIOVA_REASON_NONE when every command is accepted), so each near-valid seed provably
 * exercises the class it is named after.
 */
static uint16_t first_reason(void)
{
	static uint64_t scratch[1024];
	struct viova_codec_dec_config cfg = {
	    .host_minor = VIOVA_WIRE_MINOR,
	    .max_contexts = 64,
	    .max_batch_size = 1 << 20,
	    .scratch = scratch,
	    .scratch_size = sizeof(scratch),
	};
	struct viova_codec_decoder d;
	struct viova_codec_dec_error err;
	struct viova_codec_cmd c;
	int ret;

	if (viova_codec_dec_begin(&d, &cfg, buf, len, &err))
		return err.reason;
	while ((ret = viova_codec_dec_next(&d, &c, &err)) == 1)
		;
	return ret ? err.reason : VIOVA_REASON_NONE;
}

/* Check the seed's class, then write (or compare) bytes()[0..len) as DIR/name. */
static void emit_as(const char *name, uint16_t reason)
{
	char path[4096];
	FILE *f;
	uint16_t got = first_reason();

	if (got != reason) {
		fprintf(stderr, "gen_corpus: seed %s decodes as %s, meant to be %s\n", name,
			viova_codec_reason_name(got), viova_codec_reason_name(reason));
		exit(2);
	}
	generated++;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!check_mode) {
		f = fopen(path, "wb");
		if (!f || fwrite(bytes(), 1, len, f) != len || fclose(f)) {
			fprintf(stderr, "gen_corpus: cannot write %s: %s\n", path, strerror(errno));
			exit(2);
		}
		return;
	}
	f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "gen_corpus: %s is missing: run gen_corpus %s\n", path, dir);
		failures++;
		return;
	}
	{
		static uint8_t have[sizeof(buf) + 1];
		size_t n = fread(have, 1, sizeof(have), f);

		fclose(f);
		if (n != len || memcmp(have, bytes(), len)) {
			fprintf(stderr,
				"gen_corpus: %s differs from the generator: run gen_corpus %s\n",
				path, dir);
			failures++;
		}
	}
}

static void emit(const char *name)
{
	emit_as(name, VIOVA_REASON_NONE);
}

#define R(x) VIOVA_REASON_##x

/* ------------------------------------------------------------------------------------------ */

static const struct viova_submit_bo bos[2] = {
    {.buf_id = 1, .flags = VIOVA_SUBMIT_BO_READ},
    {.buf_id = 2, .flags = VIOVA_SUBMIT_BO_WRITE},
};

static void enc_submit_sim(void)
{
	const struct viova_sim_job jobs[3] = {
	    viova_codec_sim_fill(0x100000, 0x1000, 0xcafef00d),
	    viova_codec_sim_copy(0x200000, 0x100000, 0x1000),
	    viova_codec_sim_write_fence(0x300000, 5),
	};
	struct viova_codec_submit s = {
	    .format = VIOVA_SUBMIT_FORMAT_SIM,
	    .out_fence = 5,
	    .bos = bos,
	    .bo_count = 2,
	    .cmds = jobs,
	    .cmd_count = 3,
	};

	ok(viova_codec_enc_submit(&enc, 1, &s, NULL), "submit");
}

static void enc_submit_cmdbuf(void)
{
	const struct viova_submit_cmdbuf cbs[2] = {
	    {.bo_index = 0, .type = VIOVA_CMDBUF_BUF, .offset = 0, .size = 0x100},
	    {.bo_index = 1, .type = VIOVA_CMDBUF_IB_TARGET, .offset = 0x40, .size = 0x20},
	};
	struct viova_codec_submit s = {
	    .format = VIOVA_SUBMIT_FORMAT_CMDBUF,
	    .out_fence = 9,
	    .bos = bos,
	    .bo_count = 2,
	    .cmds = cbs,
	    .cmd_count = 2,
	};

	ok(viova_codec_enc_submit(&enc, 1, &s, NULL), "submit cmdbuf");
}

static void enc_bind(uint64_t addr, uint64_t range)
{
	struct viova_codec_bind b = {
	    .vm_id = 0,
	    .buf_id = 1,
	    .addr = addr,
	    .range = range,
	    .buf_offset = 0x1000,
	};

	ok(viova_codec_enc_vm_bind(&enc, 1, &b, NULL), "bind");
}

static void enc_everything(void)
{
	static const uint8_t data[20] = "viova upload payload";

	ok(viova_codec_enc_resp_init(&enc, 0, 16, 65536, NULL), "resp_init");
	ok(viova_codec_enc_ctx_create(&enc, 1, 0, VIOVA_CTX_BANNABLE, 0, 1, 0, NULL), "ctx");
	ok(viova_codec_enc_ctx_create(&enc, 2, VIOVA_CTX_CREATE_SHARE_VM, 0, 100, 1, 1, NULL),
	   "ctx share");
	ok(viova_codec_enc_ctx_clone(&enc, 3, 1, VIOVA_CLONE_ALL, 0, NULL), "clone");
	ok(viova_codec_enc_vm_create(&enc, 1, 2, 0, NULL), "vm");
	ok(viova_codec_enc_gem_new(&enc, 1, 1, 0, 0x4000, 0, 0x100000, NULL), "gem_new");
	ok(viova_codec_enc_gem_new(&enc, 1, 2, VIOVA_GEM_UNCACHED, 0x4000, 0, 0, NULL), "gem_new");
	ok(viova_codec_enc_set_iova(&enc, 1, 2, 0, 0x200000, NULL), "set_iova");
	enc_bind(0x400000, 0x2000);
	ok(viova_codec_enc_gem_upload(&enc, 1, 1, 8, data, sizeof(data), NULL), "upload");
	enc_submit_sim();
	ok(viova_codec_enc_wait_fence(&enc, 1, 5, 1000000, 0, NULL), "wait");
	ok(viova_codec_enc_gem_download(&enc, 1, 2, 0, 0x40, 64, NULL), "download");
	ok(viova_codec_enc_query(&enc, 1, VIOVA_QUERY_CTX_STATS, 256, 80, NULL), "query");
	ok(viova_codec_enc_query(&enc, 0, VIOVA_QUERY_CAPS, 512, 256, NULL), "query caps");
	ok(viova_codec_enc_vm_unbind(&enc, 1, 0, 0x400000, 0x1000, NULL), "unbind");
	ok(viova_codec_enc_set_iova(&enc, 1, 2, 0, 0, NULL), "clear iova");
	ok(viova_codec_enc_gem_close(&enc, 1, 2, NULL), "close");
	ok(viova_codec_enc_vm_destroy(&enc, 1, 2, NULL), "vm destroy");
	ok(viova_codec_enc_ctx_destroy(&enc, 3, NULL), "ctx destroy");
	ok(viova_codec_enc_sync(&enc, NULL), "sync");
	ok(viova_codec_enc_nop(&enc, NULL), "nop");
}

static void valid_seeds(void)
{
	static const uint8_t data[13] = "thirteen byte";

#define ONE(name, expr)                                                                            \
	do {                                                                                       \
		start();                                                                           \
		ok(expr, name);                                                                    \
		finish();                                                                          \
		emit("valid_" name);                                                               \
	} while (0)
	ONE("nop", viova_codec_enc_nop(&enc, NULL));
	ONE("sync", viova_codec_enc_sync(&enc, NULL));
	ONE("resp_init", viova_codec_enc_resp_init(&enc, 7, 0, 1 << 16, NULL));
	ONE("ctx_create",
	    viova_codec_enc_ctx_create(&enc, 1, 0, VIOVA_CTX_PARAMS_ALL, -1023, 1, 0, NULL));
	ONE("ctx_create_share",
	    viova_codec_enc_ctx_create(&enc, 2, VIOVA_CTX_CREATE_SHARE_VM, 0, 1023, 1, 1, NULL));
	ONE("ctx_clone_all", viova_codec_enc_ctx_clone(&enc, 2, 1, VIOVA_CLONE_ALL, 0, NULL));
	ONE("ctx_clone_new_vm",
	    viova_codec_enc_ctx_clone(&enc, 2, 1, VIOVA_CLONE_FLAGS | VIOVA_CLONE_SSEU, 5, NULL));
	ONE("ctx_destroy", viova_codec_enc_ctx_destroy(&enc, 1, NULL));
	ONE("vm_create", viova_codec_enc_vm_create(&enc, 1, 3, 0, NULL));
	ONE("vm_destroy", viova_codec_enc_vm_destroy(&enc, 1, 3, NULL));
	ONE("gem_new",
	    viova_codec_enc_gem_new(&enc, 1, 1, VIOVA_GEM_GPU_READONLY, 0x10000, 0, 0, NULL));
	ONE("gem_new_iova",
	    viova_codec_enc_gem_new(&enc, 1, 1, 0, 0x10000, 2, 0x800000000ull, NULL));
	ONE("gem_close", viova_codec_enc_gem_close(&enc, 1, 1, NULL));
	ONE("set_iova", viova_codec_enc_set_iova(&enc, 1, 1, 0, 0x7fff00000000ull, NULL));
	ONE("set_iova_clear", viova_codec_enc_set_iova(&enc, 1, 1, 0, 0, NULL));
	ONE("vm_unbind", viova_codec_enc_vm_unbind(&enc, 1, 2, 0x10000, 0x3000, NULL));
	ONE("upload", viova_codec_enc_gem_upload(&enc, 1, 1, 0x10, data, sizeof(data), NULL));
	ONE("download", viova_codec_enc_gem_download(&enc, 1, 1, 0, 0x100, 128, NULL));
	ONE("wait_fence", viova_codec_enc_wait_fence(&enc, 1, 3, 0, 64, NULL));
	ONE("query_caps", viova_codec_enc_query(&enc, 0, VIOVA_QUERY_CAPS, 0, 256, NULL));
	ONE("query_stats", viova_codec_enc_query(&enc, 4, VIOVA_QUERY_CTX_STATS, 0, 80, NULL));
#undef ONE

	start();
	enc_bind(0x10000, 0x1000);
	finish();
	emit("valid_vm_bind");

	start();
	enc_submit_sim();
	finish();
	emit("valid_submit_sim");

	start();
	enc_submit_cmdbuf();
	finish();
	emit("valid_submit_cmdbuf");

	start();
	enc_everything();
	finish();
	emit("valid_mixed");

	/* An empty batch: just the header. */
	start();
	{
		struct viova_batch_hdr bh = {
		    .magic = VIOVA_BATCH_MAGIC,
		    .length = 24,
		    .major = VIOVA_WIRE_MAJOR,
		};

		put(0, &bh, sizeof(bh));
		len = 24;
	}
	emit("valid_empty");

	/* A newer-minor guest: a longer SET_IOVA with a zero tail. */
	start();
	ok(viova_codec_enc_set_iova(&enc, 1, 1, 0, 0x1000, NULL), "set_iova");
	finish();
	put32(cmd_at(0) + OFF(viova_cmd_hdr, length), 48);
	set_len(len + 8);
	put16(OFF(viova_batch_hdr, minor), 3);
	emit("valid_newer_minor");
}

/* A 3-command batch (SET_IOVA, the subject, NOP) whose subject gets patched. */
static void near_base(void)
{
	start();
	ok(viova_codec_enc_set_iova(&enc, 1, 1, 0, 0x1000, NULL), "set_iova");
}

static void near_end(void)
{
	ok(viova_codec_enc_nop(&enc, NULL), "nop");
	finish();
}

static void near_valid_seeds(void)
{
	size_t c1;

	near_base();
	near_end();
	put32(OFF(viova_batch_hdr, magic), 0x56494f41);
	emit_as("bad_batch_magic", R(BATCH_MAGIC));

	near_base();
	near_end();
	put16(OFF(viova_batch_hdr, major), 2);
	emit_as("bad_batch_major", R(BATCH_VERSION));

	near_base();
	near_end();
	put32(OFF(viova_batch_hdr, length), (uint32_t)len - 8);
	emit_as("bad_batch_length", R(BATCH_LENGTH));

	near_base();
	near_end();
	put32(OFF(viova_batch_hdr, flags), 1);
	emit_as("bad_batch_flags", R(UNKNOWN_FLAGS));

	near_base();
	near_end();
	put64(OFF(viova_batch_hdr, last_seqno), 77);
	emit_as("bad_last_seqno", R(LAST_SEQNO));

	near_base();
	near_end();
	set_len(len + 16);
	emit_as("bad_hdr_truncated", R(HDR_TRUNCATED));

	near_base();
	ok(viova_codec_enc_nop(&enc, NULL), "nop");
	near_end();
	c1 = cmd_at(1);
	put32(c1 + OFF(viova_cmd_hdr, length), 8);
	emit_as("bad_len_short", R(LEN_TOO_SHORT));
	put32(c1 + OFF(viova_cmd_hdr, length), 36);
	emit_as("bad_len_misaligned", R(LEN_MISALIGNED));
	put32(c1 + OFF(viova_cmd_hdr, length), 4096);
	emit_as("bad_len_overrun", R(LEN_OVERRUN));
	put32(c1 + OFF(viova_cmd_hdr, length), 24);
	put64(c1 + OFF(viova_cmd_hdr, seqno), 1);
	emit_as("bad_seqno_order", R(SEQNO_ORDER));
	put64(c1 + OFF(viova_cmd_hdr, seqno), 2);
	put16(c1 + OFF(viova_cmd_hdr, cmd), 200);
	emit_as("bad_unknown_cmd", R(UNKNOWN_CMD));
	put16(c1 + OFF(viova_cmd_hdr, cmd), VIOVA_CMD_SET_IOVA);
	put32(c1 + OFF(viova_cmd_hdr, ctx_id), 1);
	emit_as("bad_cmd_too_short", R(CMD_TOO_SHORT));
	put16(c1 + OFF(viova_cmd_hdr, cmd), VIOVA_CMD_NOP);
	put32(c1 + OFF(viova_cmd_hdr, ctx_id), 0);
	put32(c1 + OFF(viova_cmd_hdr, reserved), 2);
	emit_as("bad_hdr_reserved", R(RESERVED_NONZERO));
	put32(c1 + OFF(viova_cmd_hdr, reserved), 0);
	put32(c1 + OFF(viova_cmd_hdr, ctx_id), 9);
	emit_as("bad_ctx_on_nop", R(BAD_CTX));

	near_base();
	ok(viova_codec_enc_gem_close(&enc, 1, 4, NULL), "close");
	near_end();
	put32(cmd_at(1) + OFF(viova_cmd_gem_close, pad0), 5);
	emit_as("bad_reserved_pad0", R(RESERVED_NONZERO));

	near_base();
	ok(viova_codec_enc_ctx_clone(&enc, 2, 1, VIOVA_CLONE_ALL | 0x80, 0, NULL), "clone");
	near_end();
	emit_as("bad_clone_flags", R(UNKNOWN_FLAGS));

	near_base();
	ok(viova_codec_enc_ctx_clone(&enc, 2, 99, VIOVA_CLONE_VM, 0, NULL), "clone");
	near_end();
	emit_as("bad_ctx_range", R(BAD_CTX));

	near_base();
	ok(viova_codec_enc_ctx_create(&enc, 2, 0, 0, -5000, 1, 0, NULL), "ctx");
	near_end();
	emit_as("bad_priority", R(BAD_VALUE));

	near_base();
	ok(viova_codec_enc_gem_download(&enc, 1, 1, 0, 0x100, 4, NULL), "download");
	near_end();
	emit_as("bad_resp_misaligned", R(MISALIGNED));

	near_base();
	enc_bind(0xfffffffffffff000ull, 0x10000);
	near_end();
	emit_as("bad_range_wrap", R(RANGE_WRAP));

	near_base();
	enc_submit_sim();
	near_end();
	c1 = cmd_at(1);
	put32(c1 + OFF(viova_cmd_submit, bo_count), 0x20000000);
	emit_as("bad_array_bounds", R(ARRAY_BOUNDS));
	put32(c1 + OFF(viova_cmd_submit, bo_count), 2);
	put32(c1 + OFF(viova_cmd_submit, cmd_offset), 64);
	emit_as("bad_array_overlap", R(ARRAY_OVERLAP));
	put32(c1 + OFF(viova_cmd_submit, cmd_offset), 0x800048);
	/* Regression: an offset past the end once underflowed length - offset (found by fuzzing).
	 */
	emit_as("bad_offset_past_end", R(ARRAY_BOUNDS));
	put32(c1 + OFF(viova_cmd_submit, cmd_offset), 72);
	put32(c1 + 72, 9); /* jobs[0].op */
	emit_as("bad_sim_op", R(BAD_VALUE));

	near_base();
	enc_submit_cmdbuf();
	near_end();
	put32(cmd_at(1) + 72, 5); /* cmdbufs[0].bo_index */
	emit_as("bad_cmdbuf_index", R(BAD_VALUE));

	near_base();
	ok(viova_codec_enc_gem_upload(&enc, 1, 1, 0, "abcde", 5, NULL), "upload");
	near_end();
	put64(cmd_at(1) + OFF(viova_cmd_gem_upload, size), 64);
	emit_as("bad_upload_size", R(ARRAY_BOUNDS));
	put64(cmd_at(1) + OFF(viova_cmd_gem_upload, size), 5);
	bytes()[cmd_at(1) + 48 + 7] = 0xee;
	emit_as("bad_tail_nonzero", R(TAIL_NONZERO));
}

/* A response area as a host leaves it: header, a context slot, records, a response. */
static void area_seed(void)
{
	struct viova_codec_resp_host h;
	struct viova_err_rec rec = {
	    .seqno = 3,
	    .cmd = VIOVA_CMD_SET_IOVA,
	    .ctx_id = 1,
	    .err = VIOVA_EBUSY,
	};

	memset(buf, 0, sizeof(buf));
	if (viova_codec_resp_host_init(&h, buf, 6144, 5, 4)) {
		fprintf(stderr, "gen_corpus: response area init failed\n");
		exit(2);
	}
	viova_codec_resp_host_ctx_open(&h, 1);
	viova_codec_resp_host_ctx_fence(&h, 1, 4);
	viova_codec_resp_host_push_error(&h, &rec);
	rec.seqno = 4;
	viova_codec_resp_host_push_error(&h, &rec);
	viova_codec_resp_host_write(&h, 0, 5, 0, "download", 8);
	viova_codec_resp_host_end_batch(&h, 5);
	len = 6144;
	emit_as("area_host", R(BATCH_MAGIC));
}

static int count_files(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d) {
		fprintf(stderr, "gen_corpus: cannot open %s: %s\n", dir, strerror(errno));
		exit(2);
	}
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--check")) {
		check_mode = true;
		dir = argv[2];
	} else if (argc == 2 && argv[1][0] != '-') {
		dir = argv[1];
	} else {
		fprintf(stderr, "usage: gen_corpus DIR | gen_corpus --check DIR\n");
		return 2;
	}
	valid_seeds();
	near_valid_seeds();
	area_seed();
	if (check_mode && count_files() != generated) {
		fprintf(
		    stderr,
		    "gen_corpus: %s holds %d files, the generator makes %d: run gen_corpus %s\n",
		    dir, count_files(), generated, dir);
		failures++;
	}
	if (failures)
		return 1;
	printf("gen_corpus: %d seeds %s %s\n", generated, check_mode ? "match" : "written to", dir);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * test_host_isolation.c - context A (1) against context B (2) on one connection, through the
 * host core on a real backend. One source, built three times (tests/integration/host/
 * meson.build): on the sim, and on the msm and i915 backends behind their kernel emulators
 * (host_test.h, -DHT_BACKEND_MSM / -DHT_BACKEND_I915). Nothing below names a backend: where
 * backends differ, a case reads the capset and uses what the backend has.
 *
 * B owns buffer 7 (mapped at b_iova, a pattern uploaded), buffer 8 (on b_bind: bound in pieces
 * where the backend has VM_BIND, else placed whole with SET_IOVA) and VM 2 besides its own
 * VM 1. Each test is one attempt by A to reach B's ids or ranges; after it, B's state is
 * compared with a snapshot taken before: statistics, bytes of its buffers (downloaded through
 * B), its lost flag. A refused attempt must also leave the host counters, the objects alive
 * behind the backend and the backend's mutating-call count unchanged (host_test.h ht_same).
 *
 * Cases that need a feature the backend lacks say so with skip() after running what still
 * applies; docs/drivers.md ("Tests") lists them per backend.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "host_test.h"

#define PAGE 4096u
#define A 1u
#define B 2u

struct iso {
	struct ht *t;
	uint64_t b_iova, b_bind;
	struct viova_ctx_stats b_stats;
	uint8_t b_bytes[64];
	struct viova_be_ctx *a_be, *b_be;
};

static bool has(const struct ht *t, uint64_t feature)
{
	return (t->caps.features & feature) != 0;
}

/* Skip the rest of a case: the backend lacks feature (named in the output). */
#define ISO_SKIP(t, feature)                                                                       \
	do {                                                                                       \
		print_message("[ SKIP ] backend %s: no %s\n", (t)->be->inner->ops->name,           \
			      #feature);                                                           \
		skip();                                                                            \
	} while (0)

/* A command that must fail with err without the backend being asked to change anything. */
#define ISO_REFUSED(t, err, call)                                                                  \
	do {                                                                                       \
		struct ht_snap snap_;                                                              \
		ht_snap(t, &snap_);                                                                \
		HT_FAILS(t, err, call);                                                            \
		ht_same(t, &snap_);                                                                \
	} while (0)

/*
 * Encode a one-record job of ctx in the format the backend runs: a sim FILL of 64 bytes at
 * fill_iova (the GPU writes there), or a command buffer of 64 bytes in bos[0] (the emulated
 * kernels do not execute it; fill_iova is then unused).
 */
static int enc_job(struct ht *t, uint32_t ctx, const struct viova_submit_bo *bos, uint32_t n,
		   uint64_t fence, uint64_t fill_iova)
{
	struct viova_sim_job job = viova_codec_sim_fill(fill_iova, 64, 0);
	struct viova_submit_cmdbuf cmd = {.bo_index = 0, .type = VIOVA_CMDBUF_BUF, .size = 64};
	struct viova_codec_submit sub = {
	    .out_fence = fence, .bos = bos, .bo_count = n, .cmd_count = 1};

	if (has(t, VIOVA_FEATURE_SUBMIT_SIM)) {
		sub.format = VIOVA_SUBMIT_FORMAT_SIM;
		sub.cmds = &job;
	} else {
		assert_true(has(t, VIOVA_FEATURE_SUBMIT_CMDBUF));
		sub.format = VIOVA_SUBMIT_FORMAT_CMDBUF;
		sub.cmds = &cmd;
	}
	return viova_codec_enc_submit(&t->enc, ctx, &sub, NULL);
}

static void b_snapshot(struct iso *s, struct viova_ctx_stats *st, uint8_t *bytes)
{
	assert_int_equal(viova_host_ctx_stats(s->t->h, B, st), 0);
	ht_download(s->t, B, 7, 0, bytes, 64);
}

static int setup(void **state)
{
	struct iso *s = calloc(1, sizeof(*s));
	struct ht *t = ht_new();
	uint8_t pattern[64];

	assert_non_null(s);
	for (int i = 0; i < 64; i++)
		pattern[i] = (uint8_t)(0xb0 + i);
	s->t = t;
	s->b_iova = HT_VA(t, 8);
	s->b_bind = HT_VA(t, 16);
	ht_ctx(t, A, 1);
	s->a_be = t->be->last_ctx;
	ht_buf(t, A, 1, PAGE, HT_VA(t, 0)); /* A's own buffer, for jobs */
	ht_ctx(t, B, 1);
	s->b_be = t->be->last_ctx;
	HT_OK(t, viova_codec_enc_vm_create(&t->enc, B, 2, 0, NULL));
	ht_buf(t, B, 7, PAGE, s->b_iova);
	if (has(t, VIOVA_FEATURE_VM_BIND)) {
		struct viova_codec_bind b = {0, 8, s->b_bind, 2 * PAGE, PAGE, 0};

		ht_buf(t, B, 8, 4 * PAGE, 0);
		HT_OK(t, viova_codec_enc_vm_bind(&t->enc, B, &b, NULL));
	} else {
		ht_buf(t, B, 8, 4 * PAGE, s->b_bind); /* the same range, placed whole */
	}
	HT_OK(t, viova_codec_enc_gem_upload(&t->enc, B, 7, 0, pattern, sizeof(pattern), NULL));
	b_snapshot(s, &s->b_stats, s->b_bytes);
	assert_memory_equal(s->b_bytes, pattern, sizeof(pattern));
	*state = s;
	return 0;
}

/* B is exactly as setup left it. */
static void b_unchanged(struct iso *s)
{
	struct viova_ctx_stats st;
	uint8_t bytes[64];

	b_snapshot(s, &st, bytes);
	assert_int_equal(st.buffers, s->b_stats.buffers);
	assert_int_equal(st.mappings, s->b_stats.mappings);
	assert_int_equal(st.bytes, s->b_stats.bytes);
	assert_int_equal(st.vms, s->b_stats.vms);
	assert_int_equal(st.faults, 0);
	assert_int_equal(st.lost, 0);
	assert_memory_equal(bytes, s->b_bytes, sizeof(bytes));
	assert_int_equal(viova_host_ctx_lost(s->t->h, B), 0);
	assert_int_equal(ht_slot(s->t, B).lost, 0);
}

static int teardown(void **state)
{
	struct iso *s = *state;

	ht_free(s->t);
	free(s);
	return 0;
}

/* A names B's buffer id: it does not exist in A's namespace. */
static void test_name_buffer(void **state)
{
	struct iso *s = *state;
	struct ht *t = s->t;

	ISO_REFUSED(t, VIOVA_ENOENT, viova_codec_enc_gem_close(&t->enc, A, 7, NULL));
	assert_non_null(
	    strstr(viova_host_last_error(t->h), "buffer 7 does not exist in context 1"));
	b_unchanged(s);
}

/* A maps B's buffer into its own VM. */
static void test_map_buffer(void **state)
{
	struct iso *s = *state;
	struct ht *t = s->t;

	ISO_REFUSED(t, VIOVA_ENOENT,
		    viova_codec_enc_set_iova(&t->enc, A, 7, 0, HT_VA(t, 40), NULL));
	b_unchanged(s);
}

/* A maps its own buffer into B's second VM by B's name for it. */
static void test_map_into_vm(void **state)
{
	struct iso *s = *state;
	struct ht *t = s->t;

	ISO_REFUSED(t, VIOVA_ENOENT,
		    viova_codec_enc_set_iova(&t->enc, A, 1, 2, HT_VA(t, 40), NULL));
	assert_non_null(strstr(viova_host_last_error(t->h), "VM 2 does not exist in context 1"));
	ISO_REFUSED(t, VIOVA_ENOENT, viova_codec_enc_vm_destroy(&t->enc, A, 2, NULL));
	b_unchanged(s);
}

/* A binds B's buffer (without VM_BIND the core refuses any bind from the capset). */
static void test_bind_buffer(void **state)
{
	struct iso *s = *state;
	struct ht *t = s->t;
	struct viova_codec_bind b = {0, 8, HT_VA(t, 40), PAGE, 0, 0};

	if (!has(t, VIOVA_FEATURE_VM_BIND)) {
		ISO_REFUSED(t, VIOVA_EOPNOTSUPP, viova_codec_enc_vm_bind(&t->enc, A, &b, NULL));
		b_unchanged(s);
		ISO_SKIP(t, VIOVA_FEATURE_VM_BIND);
	}
	ISO_REFUSED(t, VIOVA_ENOENT, viova_codec_enc_vm_bind(&t->enc, A, &b, NULL));
	b_unchanged(s);
}

/* A uploads into / downloads from B's buffer. */
static void test_upload_download(void **state)
{
	struct iso *s = *state;
	struct ht *t = s->t;
	uint8_t junk[16] = {1, 2, 3};

	ISO_REFUSED(t, VIOVA_ENOENT, viova_codec_enc_gem_upload(&t->enc, A, 7, 0, junk, 16, NULL));
	ISO_REFUSED(t, VIOVA_ENOENT, viova_codec_enc_gem_download(&t->enc, A, 7, 0, 16, 0, NULL));
	b_unchanged(s);
}

/* A submits a job listing B's buffer (next to its own). */
static void test_submit_with_buffer(void **state)
{
	struct iso *s = *state;
	struct ht *t = s->t;
	struct viova_submit_bo bo[2] = {{1, VIOVA_SUBMIT_BO_READ}, {7, VIOVA_SUBMIT_BO_WRITE}};

	ISO_REFUSED(t, VIOVA_ENOENT, enc_job(t, A, bo, 2, 1, s->b_iova));
	b_unchanged(s);
}

/*
 * A's job writes B's iova: in A's GPU address space nothing is there, so A faults, B is intact.
 * The sim runs the write and faults by itself. The emulated kernels run no command streams:
 * there the test checks the address spaces the kernel built (B's buffer behind b_iova in B's,
 * nothing in A's) and lets the kernel report the fault the GPU would raise.
 */
static void test_gpu_reach(void **state)
{
	struct iso *s = *state;
	struct ht *t = s->t;
	struct viova_submit_bo a_bo = {1, VIOVA_SUBMIT_BO_WRITE};
	struct viova_err_rec r;

	if (!has(t, VIOVA_FEATURE_SUBMIT_SIM)) {
		struct viova_submit_bo b_bo = {7, VIOVA_SUBMIT_BO_READ};

		/* i915 binds at EXECBUFFER2: B's own job puts buffer 7 into B's GPU VM */
		assert_int_equal(enc_job(t, B, &b_bo, 1, 1, 0), 0);
		HT_OK(t, viova_codec_enc_wait_fence(&t->enc, B, 1, 1000000000ull, 0, NULL));
		ht_gpu_fault_next_job(t, s->a_be);
	}
	assert_int_equal(enc_job(t, A, &a_bo, 1, 1, s->b_iova), 0);
	assert_int_equal(viova_codec_enc_wait_fence(&t->enc, A, 1, 1000000000ull, 0, NULL), 0);
	assert_int_equal(ht_send(t), 0);
	/* fault before fence (backend.h): when WAIT_FENCE has answered, the record is there */
	r = ht_pop(t);
	assert_int_equal(r.ctx_id, A);
	assert_true(r.flags & VIOVA_ERR_ASYNC);
	assert_int_not_equal(viova_host_ctx_lost(t->h, A), 0);
	/* the GPU address spaces as the backend built them */
	assert_true(ht_gpu_maps(t, s->b_be, s->b_iova));
	assert_true(ht_gpu_maps(t, s->a_be, HT_VA(t, 0)));
	assert_false(ht_gpu_maps(t, s->a_be, s->b_iova));
	b_unchanged(s);
}

/* A's own job runs to completion in A's space; B is not touched by it. */
static void test_own_job(void **state)
{
	struct iso *s = *state;
	struct ht *t = s->t;
	struct viova_submit_bo bo = {1, VIOVA_SUBMIT_BO_WRITE};
	struct ht_snap snap;

	assert_int_equal(enc_job(t, A, &bo, 1, 1, HT_VA(t, 0)), 0);
	HT_OK(t, viova_codec_enc_wait_fence(&t->enc, A, 1, 1000000000ull, 0, NULL));
	assert_int_equal(ht_slot(t, A).completed_fence, 1);
	assert_int_equal(viova_host_ctx_lost(t->h, A), 0);
	ht_snap(t, &snap);
	b_unchanged(s);
	ht_same(t, &snap);
}

/* A uses B's ranges in its own VM: separate address spaces, no conflict, B untouched. */
static void test_ranges_are_per_vm(void **state)
{
	struct iso *s = *state;
	struct ht *t = s->t;

	ht_buf(t, A, 2, PAGE, s->b_iova);
	if (has(t, VIOVA_FEATURE_VM_BIND)) {
		struct viova_codec_bind b = {0, 3, s->b_bind, 2 * PAGE, 0, 0};

		ht_buf(t, A, 3, 2 * PAGE, 0);
		HT_OK(t, viova_codec_enc_vm_bind(&t->enc, A, &b, NULL));
		/* A's unbind acts on A's VM only */
		HT_OK(t, viova_codec_enc_vm_unbind(&t->enc, A, 0, s->b_bind, 2 * PAGE, NULL));
	} else {
		ht_buf(t, A, 3, 2 * PAGE, s->b_bind);
		HT_OK(t, viova_codec_enc_set_iova(&t->enc, A, 3, 0, 0, NULL));
	}
	/* A's clear acts on A's VM only */
	HT_OK(t, viova_codec_enc_set_iova(&t->enc, A, 2, 0, 0, NULL));
	if (has(t, VIOVA_FEATURE_VM_BIND))
		HT_OK(t, viova_codec_enc_vm_unbind(&t->enc, A, 0, s->b_iova, PAGE, NULL));
	b_unchanged(s);
	/* and B's own view still refuses overlaps on its ranges */
	ht_buf(t, B, 9, PAGE, 0);
	ISO_REFUSED(t, VIOVA_ENOSPC, viova_codec_enc_set_iova(&t->enc, B, 9, 0, s->b_iova, NULL));
	ISO_REFUSED(t, VIOVA_ENOSPC, viova_codec_enc_set_iova(&t->enc, B, 9, 0, s->b_bind, NULL));
}

/* In a VM B shares with A (SHARE_VM), A still cannot replace or remove B's pieces. */
static void test_shared_vm_pieces(void **state)
{
	struct iso *s = *state;
	struct ht *t = s->t;

	if (!has(t, VIOVA_FEATURE_MULTI_VM))
		ISO_SKIP(t, VIOVA_FEATURE_MULTI_VM);
	/* context 3 joins B's VM 1 and tries to take B's ranges */
	HT_OK(t,
	      viova_codec_enc_ctx_create(&t->enc, 3, VIOVA_CTX_CREATE_SHARE_VM, 0, 0, 1, B, NULL));
	ht_buf(t, 3, 1, 4 * PAGE, 0);
	if (has(t, VIOVA_FEATURE_VM_BIND)) {
		struct viova_codec_bind b = {0, 1, s->b_bind, PAGE, 0, 0};

		ISO_REFUSED(t, VIOVA_EPERM, viova_codec_enc_vm_bind(&t->enc, 3, &b, NULL));
		assert_non_null(strstr(viova_host_last_error(t->h), "buffer 8 of context 2"));
		ISO_REFUSED(t, VIOVA_EPERM,
			    viova_codec_enc_vm_unbind(&t->enc, 3, 0, s->b_bind, PAGE, NULL));
		ISO_REFUSED(t, VIOVA_EPERM,
			    viova_codec_enc_vm_unbind(&t->enc, 3, 0, s->b_iova, PAGE, NULL));
	}
	ISO_REFUSED(t, VIOVA_ENOSPC, viova_codec_enc_set_iova(&t->enc, 3, 1, 0, s->b_iova, NULL));
	ISO_REFUSED(t, VIOVA_ENOSPC, viova_codec_enc_set_iova(&t->enc, 3, 1, 0, s->b_bind, NULL));
	b_unchanged(s);
	/* destroying the sharer leaves B's VM and mappings alone */
	HT_OK(t, viova_codec_enc_ctx_destroy(&t->enc, 3, NULL));
	b_unchanged(s);
}

/* A's teardown does not touch B. */
static void test_destroy_other(void **state)
{
	struct iso *s = *state;
	struct ht *t = s->t;
	struct ht_alive before, after;

	ht_alive(t, &before);
	HT_OK(t, viova_codec_enc_ctx_destroy(&t->enc, A, NULL));
	ht_alive(t, &after);
	assert_int_equal(after.ctxs, before.ctxs - 1); /* A's backend context, and only it */
	b_unchanged(s);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_name_buffer),      T(test_map_buffer),      T(test_map_into_vm),
	    T(test_bind_buffer),      T(test_upload_download), T(test_submit_with_buffer),
	    T(test_gpu_reach),	      T(test_own_job),	       T(test_ranges_are_per_vm),
	    T(test_shared_vm_pieces), T(test_destroy_other),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

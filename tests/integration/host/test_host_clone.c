/* SPDX-License-Identifier: MIT */
/*
 * test_host_clone.c - CTX_CLONE and CTX_CREATE(SHARE_VM) with seed 003 semantics, through the
 * host core on the real sim: every combination of the six clone flags plus the explicit ALL,
 * checked against what the sim's new context holds (sim_debug_ctx_info) and what the host's
 * address spaces show (a shared VM refuses an overlapping mapping, a fresh one accepts it);
 * then the refusals: unknown bits and reserved fields (EINVAL, decoder), unknown source
 * (ENOENT), existing id (EEXIST), vm_id rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "host_test.h"

#define PAGE 4096u
#define SRC_PARAMS (VIOVA_CTX_NO_ERROR_CAPTURE | VIOVA_CTX_ALLOW_PREEMPT)
#define SRC_PRIORITY 17

static void check_clone(struct ht *t, struct viova_be_ctx *src_be, uint32_t flags)
{
	struct sim_debug_ctx_info src, dst;
	struct viova_host_counters c;
	struct viova_ctx_stats st;
	struct ht_snap snap;

	if ((flags & VIOVA_CLONE_SSEU) && !(flags & VIOVA_CLONE_ENGINES)) {
		/* Seed 003: SSEU is per engine, so the engine maps must match; the source has
		 * its own map, the clone the default one. The backend refuses, nothing is left. */
		ht_snap(t, &snap);
		HT_FAILS(t, VIOVA_EINVAL,
			 viova_codec_enc_ctx_clone(&t->enc, 2, 1, flags,
						   (flags & VIOVA_CLONE_VM) ? 0 : 2, NULL));
		snap.mutating += (flags & VIOVA_CLONE_VM) ? 1 : 3;
		ht_same(t, &snap);
		return;
	}
	HT_OK(t, viova_codec_enc_ctx_clone(&t->enc, 2, 1, flags, (flags & VIOVA_CLONE_VM) ? 0 : 2,
					   NULL));
	sim_debug_ctx_info(t->sim, src_be, &src);
	sim_debug_ctx_info(t->sim, t->be->last_ctx, &dst);

	/* what each flag copies, and only then */
	if (flags & VIOVA_CLONE_FLAGS)
		assert_int_equal(dst.params, SRC_PARAMS);
	else
		assert_int_not_equal(dst.params, SRC_PARAMS);
	if (flags & VIOVA_CLONE_SCHEDATTR)
		assert_int_equal(dst.priority, SRC_PRIORITY);
	else
		assert_int_equal(dst.priority, 0);
	if (flags & VIOVA_CLONE_ENGINES)
		assert_int_equal(dst.engines, src.engines);
	else
		assert_int_not_equal(dst.engines, src.engines);
	if (flags & VIOVA_CLONE_SSEU)
		assert_int_equal(dst.sseu, src.sseu);
	else
		assert_int_not_equal(dst.sseu, src.sseu);
	if (flags & VIOVA_CLONE_TIMELINE)
		assert_int_equal(dst.timeline_id, src.timeline_id);
	else
		assert_int_not_equal(dst.timeline_id, src.timeline_id);

	/* VM: shared (same backend VM, one host VM, one address space) or fresh */
	viova_host_counters(t->h, &c);
	assert_int_equal(viova_host_ctx_stats(t->h, 2, &st), 0);
	assert_int_equal(st.vms, 1);
	if (flags & VIOVA_CLONE_VM) {
		assert_ptr_equal(dst.vm, src.vm);
		assert_int_equal(c.vms, 1);
		/* context 1's buffer occupies this range of the shared address space */
		ht_buf(t, 2, 1, PAGE, 0);
		HT_FAILS(t, VIOVA_ENOSPC,
			 viova_codec_enc_set_iova(&t->enc, 2, 1, 0, HT_VA(t, 1), NULL));
		assert_non_null(strstr(viova_host_last_error(t->h), "buffer 1 of context 1"));
	} else {
		assert_ptr_not_equal(dst.vm, src.vm);
		assert_int_equal(c.vms, 2);
		ht_buf(t, 2, 1, PAGE, HT_VA(t, 1)); /* its own, empty address space */
	}
	HT_OK(t, viova_codec_enc_ctx_destroy(&t->enc, 2, NULL));
	viova_host_counters(t->h, &c);
	assert_int_equal(c.vms, 1);
	assert_int_equal(c.contexts, 1);
}

/* The source: non-default params, priority, engines, sseu, and a mapped buffer. */
static struct viova_be_ctx *make_src(struct ht *t)
{
	struct viova_be_ctx *be;

	HT_OK(t, viova_codec_enc_ctx_create(&t->enc, 1, 0, SRC_PARAMS, SRC_PRIORITY, 1, 0, NULL));
	be = t->be->last_ctx;
	sim_debug_ctx_set_engines(t->sim, be, 0x5, 0x3);
	ht_buf(t, 1, 1, PAGE, HT_VA(t, 1));
	return be;
}

static void test_clone_matrix(void **state)
{
	struct ht *t = ht_new();
	struct viova_be_ctx *src = make_src(t);
	uint32_t flags;
	(void)state;

	for (flags = 0; flags <= VIOVA_CLONE_ALL; flags++)
		check_clone(t, src, flags);
	/* the explicit ALL is exactly every flag */
	check_clone(t, src, VIOVA_CLONE_ALL);
	ht_free(t);
}

static void test_clone_refusals(void **state)
{
	struct ht *t = ht_new();
	struct ht_snap snap;
	struct viova_err_rec r;
	uint64_t s;
	size_t len;
	(void)state;

	make_src(t);
	ht_snap(t, &snap);
	/* unknown flag bit: EINVAL (the decoder catches it before the host) */
	s = ht_seq(t);
	assert_int_equal(viova_codec_enc_ctx_clone(&t->enc, 2, 1, VIOVA_CLONE_ALL + 1, 0, NULL), 0);
	assert_int_equal(ht_send(t), 1);
	r = ht_expect(t, VIOVA_CMD_CTX_CLONE, VIOVA_EINVAL, s);
	assert_int_equal(r.reason, VIOVA_REASON_UNKNOWN_FLAGS);
	assert_int_equal(r.detail0, VIOVA_CLONE_ALL + 1);
	/* all 32 bits ("-1 means everything" is not accepted) */
	HT_FAILS(t, VIOVA_EINVAL, viova_codec_enc_ctx_clone(&t->enc, 2, 1, UINT32_MAX, 0, NULL));
	/* reserved field nonzero: EINVAL */
	s = ht_seq(t);
	assert_int_equal(viova_codec_enc_ctx_clone(&t->enc, 2, 1, VIOVA_CLONE_VM, 0, NULL), 0);
	assert_int_equal(viova_codec_enc_finish(&t->enc, &len), 0);
	((struct viova_cmd_ctx_clone *)((uint8_t *)t->batch + sizeof(struct viova_batch_hdr)))
	    ->pad0 = 1;
	assert_int_equal(viova_host_process(t->h, t->batch, len), 1);
	viova_codec_enc_reset(&t->enc);
	r = ht_expect(t, VIOVA_CMD_CTX_CLONE, VIOVA_EINVAL, s);
	assert_int_equal(r.reason, VIOVA_REASON_RESERVED_NONZERO);
	/* unknown source: ENOENT (from the host, with the id in the record) */
	s = ht_seq(t);
	assert_int_equal(viova_codec_enc_ctx_clone(&t->enc, 2, 9, VIOVA_CLONE_VM, 0, NULL), 0);
	assert_int_equal(ht_send(t), 1);
	r = ht_expect(t, VIOVA_CMD_CTX_CLONE, VIOVA_ENOENT, s);
	assert_int_equal(r.detail0, 9);
	assert_int_equal(r.reason, VIOVA_REASON_NONE);
	/* a source that was destroyed is unknown too */
	HT_OK(t, viova_codec_enc_ctx_create(&t->enc, 3, 0, 0, 0, 1, 0, NULL));
	HT_OK(t, viova_codec_enc_ctx_destroy(&t->enc, 3, NULL));
	snap.mutating += 4; /* vm_create, ctx_create, ctx_destroy, vm_destroy */
	HT_FAILS(t, VIOVA_ENOENT, viova_codec_enc_ctx_clone(&t->enc, 2, 3, 0, 2, NULL));
	/* existing target id: EEXIST */
	HT_OK(t, viova_codec_enc_ctx_create(&t->enc, 4, 0, 0, 0, 1, 0, NULL));
	snap.mutating += 2;
	snap.c.contexts++;
	snap.c.vms++;
	snap.alive.ctxs++;
	snap.alive.vms++;
	HT_FAILS(t, VIOVA_EEXIST, viova_codec_enc_ctx_clone(&t->enc, 4, 1, 0, 2, NULL));
	/* vm_id rules: named with CLONE_VM, missing without */
	HT_FAILS(t, VIOVA_EINVAL,
		 viova_codec_enc_ctx_clone(&t->enc, 2, 1, VIOVA_CLONE_VM, 4, NULL));
	HT_FAILS(t, VIOVA_EINVAL, viova_codec_enc_ctx_clone(&t->enc, 2, 1, 0, 0, NULL));
	ht_same(t, &snap);
	/* backend refusal: the fresh VM is withdrawn */
	t->be->fail_op = HT_CTX_CLONE;
	t->be->fail_err = -EOPNOTSUPP;
	HT_FAILS(t, VIOVA_EOPNOTSUPP, viova_codec_enc_ctx_clone(&t->enc, 2, 1, 0, 2, NULL));
	snap.mutating += 3; /* vm_create, the refused clone, vm_destroy */
	ht_same(t, &snap);
	ht_free(t);
}

/* CTX_CREATE with SHARE_VM joins a VM under the same name; the VM lives while anyone names it. */
static void test_share_vm(void **state)
{
	struct ht *t = ht_new();
	struct viova_host_counters c;
	(void)state;

	ht_ctx(t, 1, 1);
	HT_OK(t, viova_codec_enc_vm_create(&t->enc, 1, 5, 0, NULL));
	HT_OK(t, viova_codec_enc_gem_new(&t->enc, 1, 1, 0, PAGE, 5, HT_VA(t, 0), NULL));
	HT_OK(t,
	      viova_codec_enc_ctx_create(&t->enc, 2, VIOVA_CTX_CREATE_SHARE_VM, 0, 0, 5, 1, NULL));
	/* context 2 runs in VM 5 of context 1: its default VM (vm_id 0) is that one */
	ht_buf(t, 2, 1, PAGE, 0);
	HT_FAILS(t, VIOVA_ENOSPC, viova_codec_enc_set_iova(&t->enc, 2, 1, 0, HT_VA(t, 0), NULL));
	HT_FAILS(t, VIOVA_ENOSPC, viova_codec_enc_set_iova(&t->enc, 2, 1, 5, HT_VA(t, 0), NULL));
	HT_OK(t, viova_codec_enc_set_iova(&t->enc, 2, 1, 5, HT_VA(t, 1), NULL));
	/* context 1 cannot destroy VM 5 while context 2 uses it */
	HT_FAILS(t, VIOVA_EBUSY, viova_codec_enc_vm_destroy(&t->enc, 1, 5, NULL));
	/* destroying context 1 leaves the VM to context 2; its buffer's mapping goes */
	HT_OK(t, viova_codec_enc_ctx_destroy(&t->enc, 1, NULL));
	viova_host_counters(t->h, &c);
	assert_int_equal(c.vms, 1);
	assert_int_equal(c.mappings, 1);
	ht_buf(t, 2, 2, PAGE, HT_VA(t, 0)); /* context 1's range is free again */
	HT_OK(t, viova_codec_enc_ctx_destroy(&t->enc, 2, NULL));
	viova_host_counters(t->h, &c);
	assert_int_equal(c.vms, 0);
	assert_int_equal(c.mappings, 0);
	ht_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_clone_matrix),
	    cmocka_unit_test(test_clone_refusals),
	    cmocka_unit_test(test_share_vm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

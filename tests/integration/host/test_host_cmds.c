/* SPDX-License-Identifier: MIT */
/*
 * test_host_cmds.c - every command through the host core on the real sim backend: its success
 * path and its error paths. Each rejection is checked for the errno and seqno in the guest's
 * error ring, for the lost rule, and (host_test.h's ht_same) for leaving the host and the
 * backend exactly as they were, with no state-changing backend call made.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "host_test.h"

#define PAGE 4096u

/* ---- connection-level commands ------------------------------------------------------------ */

static void test_nop_sync(void **state)
{
	struct ht *t = ht_new();
	uint64_t s;
	size_t len;
	(void)state;

	assert_int_equal(viova_codec_enc_nop(&t->enc, NULL), 0);
	assert_int_equal(viova_codec_enc_sync(&t->enc, &s), 0);
	assert_int_equal(viova_codec_enc_nop(&t->enc, NULL), 0);
	assert_int_equal(ht_send(t), 0);
	ht_no_error(t);
	assert_int_equal(viova_codec_resp_guest_processed(&t->g), s + 1);

	/* Error path: NOP must not name a context (decoder rejects, seqno still published). */
	s = ht_seq(t);
	assert_int_equal(viova_codec_enc_nop(&t->enc, NULL), 0);
	assert_int_equal(viova_codec_enc_finish(&t->enc, &len), 0);
	((struct viova_cmd_hdr *)((uint8_t *)t->batch + sizeof(struct viova_batch_hdr)))->ctx_id =
	    3;
	assert_int_equal(viova_host_process(t->h, t->batch, len), 1);
	viova_codec_enc_reset(&t->enc);
	{
		struct viova_err_rec r = ht_expect(t, VIOVA_CMD_NOP, VIOVA_EINVAL, s);

		assert_int_equal(r.reason, VIOVA_REASON_BAD_CTX);
	}
	assert_int_equal(viova_codec_resp_guest_processed(&t->g), s);

	/* SYNC must not name a context either; the NOP after it still runs and is published */
	s = ht_seq(t);
	assert_int_equal(viova_codec_enc_sync(&t->enc, NULL), 0);
	assert_int_equal(viova_codec_enc_nop(&t->enc, NULL), 0);
	assert_int_equal(viova_codec_enc_finish(&t->enc, &len), 0);
	((struct viova_cmd_hdr *)((uint8_t *)t->batch + sizeof(struct viova_batch_hdr)))->ctx_id =
	    1;
	assert_int_equal(viova_host_process(t->h, t->batch, len), 1);
	viova_codec_enc_reset(&t->enc);
	assert_int_equal(ht_expect(t, VIOVA_CMD_SYNC, VIOVA_EINVAL, s).reason,
			 VIOVA_REASON_BAD_CTX);
	ht_no_error(t);
	assert_int_equal(viova_codec_resp_guest_processed(&t->g), s + 1);
	ht_free(t);
}

static void test_resp_init(void **state)
{
	struct ht *t = ht_new();
	const struct viova_resp_area *a = (const struct viova_resp_area *)t->area;
	struct viova_host_counters c;
	uint64_t s;
	(void)state;

	/* Success (done by ht_new): header written, slots zeroed. */
	assert_int_equal(a->magic, VIOVA_RESP_MAGIC);
	assert_int_equal(a->ctx_count, t->caps.max_contexts + 1);
	assert_int_equal(ht_slot(t, 1).active, 0);
	/* A second RESP_INIT: EBUSY. */
	s = ht_seq(t);
	assert_int_equal(viova_codec_enc_resp_init(&t->enc, HT_RES_ID, 0, HT_AREA_SIZE, NULL), 0);
	assert_int_equal(ht_send(t), 1);
	ht_expect(t, VIOVA_CMD_RESP_INIT, VIOVA_EBUSY, s);
	ht_free(t);

	/* Before any area: failures are counted as dropped, never lost silently. */
	t = calloc(1, sizeof(*t));
	t->area = aligned_alloc(64, HT_AREA_SIZE);
	t->batch = aligned_alloc(64, HT_BATCH_SIZE);
	{
		struct viova_host_config cfg = {.backend_create = ht_backend_create,
						.resp_map = ht_resp_map,
						.resp_unmap = ht_resp_unmap,
						.transport_cookie = t,
						.log = ht_log,
						.log_cookie = t};

		assert_int_equal(viova_host_create(&cfg, &t->h), 0);
	}
	assert_int_equal(viova_codec_enc_init(&t->enc, t->batch, HT_BATCH_SIZE, 1), 0);
	/* unknown resource */
	assert_int_equal(viova_codec_enc_resp_init(&t->enc, 99, 0, HT_AREA_SIZE, NULL), 0);
	/* too small for the slots, ring and minimum payload */
	assert_int_equal(viova_codec_enc_resp_init(&t->enc, HT_RES_ID, 0, 4096, NULL), 0);
	/* larger than the transport's object */
	assert_int_equal(viova_codec_enc_resp_init(&t->enc, HT_RES_ID, 0, HT_AREA_SIZE * 2, NULL),
			 0);
	assert_int_equal(ht_send(t), 3);
	assert_non_null(strstr(viova_host_last_error(t->h), "res_id"));
	viova_host_counters(t->h, &c);
	assert_int_equal(c.errors_dropped, 3);
	assert_int_equal(c.processed_seqno, 3);
	/* then a good one: the area shows the seqno processed so far */
	assert_int_equal(viova_codec_enc_resp_init(&t->enc, HT_RES_ID, 64, HT_AREA_SIZE, NULL), 0);
	assert_int_equal(ht_send(t), 0);
	assert_int_equal(viova_codec_resp_guest_attach(&t->g, t->area, HT_AREA_SIZE), 0);
	assert_int_equal(viova_codec_resp_guest_processed(&t->g), 4);
	ht_free(t);
}

/* ---- contexts and VMs --------------------------------------------------------------------- */

static void test_ctx_create_destroy(void **state)
{
	struct ht *t = ht_new();
	struct ht_snap snap;
	struct viova_host_counters c;
	(void)state;

	ht_ctx(t, 1, 1);
	assert_int_equal(ht_slot(t, 1).active, 1);
	viova_host_counters(t->h, &c);
	assert_int_equal(c.contexts, 1);
	assert_int_equal(c.vms, 1);

	ht_snap(t, &snap);
	HT_FAILS(t, VIOVA_EEXIST, viova_codec_enc_ctx_create(&t->enc, 1, 0, 0, 0, 1, 0, NULL));
	/* SHARE_VM with an unknown context, then with an unknown VM of a known one */
	HT_FAILS(
	    t, VIOVA_ENOENT,
	    viova_codec_enc_ctx_create(&t->enc, 2, VIOVA_CTX_CREATE_SHARE_VM, 0, 0, 1, 9, NULL));
	HT_FAILS(
	    t, VIOVA_ENOENT,
	    viova_codec_enc_ctx_create(&t->enc, 2, VIOVA_CTX_CREATE_SHARE_VM, 0, 0, 5, 1, NULL));
	/* decoder: unknown flag bit, priority out of range, id beyond max_contexts (= quota) */
	HT_FAILS(t, VIOVA_EINVAL, viova_codec_enc_ctx_create(&t->enc, 2, 0x10, 0, 0, 1, 0, NULL));
	HT_FAILS(t, VIOVA_EINVAL, viova_codec_enc_ctx_create(&t->enc, 2, 0, 0, 5000, 1, 0, NULL));
	HT_FAILS(
	    t, VIOVA_EINVAL,
	    viova_codec_enc_ctx_create(&t->enc, t->caps.max_contexts + 1, 0, 0, 0, 1, 0, NULL));
	/* backend refusal (injected): nothing is left behind, not even the fresh VM */
	t->be->fail_op = HT_CTX_CREATE;
	t->be->fail_err = -ENOMEM;
	HT_FAILS(t, VIOVA_ENOMEM, viova_codec_enc_ctx_create(&t->enc, 2, 0, 0, 0, 1, 0, NULL));
	snap.mutating += 2; /* vm_create + the refused ctx_create ... */
	snap.mutating += 1; /* ... + the vm_destroy that undid the VM */
	ht_same(t, &snap);

	/* SHARE_VM success: one VM, two users */
	HT_OK(t, viova_codec_enc_ctx_create(&t->enc, 2, VIOVA_CTX_CREATE_SHARE_VM,
					    VIOVA_CTX_BANNABLE, 7, 1, 1, NULL));
	viova_host_counters(t->h, &c);
	assert_int_equal(c.contexts, 2);
	assert_int_equal(c.vms, 1);

	HT_OK(t, viova_codec_enc_ctx_destroy(&t->enc, 1, NULL));
	assert_int_equal(ht_slot(t, 1).active, 0);
	HT_FAILS(t, VIOVA_ENOENT, viova_codec_enc_ctx_destroy(&t->enc, 1, NULL));
	viova_host_counters(t->h, &c);
	assert_int_equal(c.vms, 1); /* still named by context 2 */
	HT_OK(t, viova_codec_enc_ctx_destroy(&t->enc, 2, NULL));
	viova_host_counters(t->h, &c);
	assert_int_equal(c.contexts, 0);
	assert_int_equal(c.vms, 0);
	ht_free(t);
}

static void test_vm_create_destroy(void **state)
{
	struct viova_host_quotas q = {.max_vms = 3};
	struct ht *t = ht_new_q(&q);
	struct ht_snap snap;
	uint32_t vm;
	(void)state;

	ht_ctx(t, 1, 1);
	HT_OK(t, viova_codec_enc_vm_create(&t->enc, 1, 2, 0, NULL));
	HT_OK(t, viova_codec_enc_vm_create(&t->enc, 1, 3, 0, NULL));
	ht_snap(t, &snap);
	HT_FAILS(t, VIOVA_EEXIST, viova_codec_enc_vm_create(&t->enc, 1, 2, 0, NULL));
	HT_FAILS(t, VIOVA_EDQUOT, viova_codec_enc_vm_create(&t->enc, 1, 4, 0, NULL));
	assert_non_null(strstr(viova_host_last_error(t->h), "max_vms"));
	HT_FAILS(t, VIOVA_ENOENT, viova_codec_enc_vm_create(&t->enc, 9, 4, 0, NULL));
	HT_FAILS(t, VIOVA_EINVAL, viova_codec_enc_vm_create(&t->enc, 1, 4, 1, NULL)); /* flags */
	/* destroy: unknown, the context's own VM, mapped, shared */
	HT_FAILS(t, VIOVA_ENOENT, viova_codec_enc_vm_destroy(&t->enc, 1, 8, NULL));
	HT_FAILS(t, VIOVA_EBUSY, viova_codec_enc_vm_destroy(&t->enc, 1, 1, NULL));
	ht_same(t, &snap);
	HT_OK(t, viova_codec_enc_gem_new(&t->enc, 1, 5, 0, PAGE, 2, HT_VA(t, 1), NULL));
	HT_FAILS(t, VIOVA_EBUSY, viova_codec_enc_vm_destroy(&t->enc, 1, 2, NULL));
	assert_non_null(strstr(viova_host_last_error(t->h), "mappings"));
	HT_OK(t, viova_codec_enc_set_iova(&t->enc, 1, 5, 2, 0, NULL));
	HT_OK(t,
	      viova_codec_enc_ctx_create(&t->enc, 2, VIOVA_CTX_CREATE_SHARE_VM, 0, 0, 3, 1, NULL));
	HT_FAILS(t, VIOVA_EBUSY, viova_codec_enc_vm_destroy(&t->enc, 1, 3, NULL));
	assert_non_null(strstr(viova_host_last_error(t->h), "context 2"));
	/* success */
	HT_OK(t, viova_codec_enc_vm_destroy(&t->enc, 1, 2, NULL));
	for (vm = 2; vm <= 2; vm++)
		HT_FAILS(t, VIOVA_ENOENT,
			 viova_codec_enc_set_iova(&t->enc, 1, 5, vm, HT_VA(t, 1), NULL));
	ht_free(t);
}

/*
 * VM names are found through a hash of the guest-chosen ids (host_ctx.c): 64 names (the quota,
 * own VM included) with ids spread over the u32 range, destroyed and recreated in a shuffled
 * order; after every step each live name maps a buffer into its own VM and each dead one is
 * ENOENT. A hole left by a bad deletion or a stale index after the swap-with-last shows up as
 * a wrong errno or a mapping in the wrong VM.
 */
static void test_vm_names_many(void **state)
{
	struct viova_host_quotas q = {.max_vms = 64};
	struct ht *t = ht_new_q(&q);
	uint32_t ids[63];
	bool live[63] = {false};
	uint64_t r = 0x2545f4914f6cdd1dull;
	(void)state;

	ht_ctx(t, 1, 1);
	ht_buf(t, 1, 1, PAGE, 0);
	for (uint32_t k = 0; k < 63; k++)
		ids[k] = k < 16 ? 2 + k * 0x10000u : (uint32_t)(0x9e3779b1ull * (k + 3)) | 2u;
	for (uint32_t round = 0; round < 6; round++) {
		for (uint32_t n = 0; n < 63; n++) {
			uint32_t k;

			r ^= r << 13;
			r ^= r >> 7;
			r ^= r << 17;
			k = (uint32_t)(r % 63);
			if (live[k])
				HT_OK(t, viova_codec_enc_vm_destroy(&t->enc, 1, ids[k], NULL));
			else
				HT_OK(t, viova_codec_enc_vm_create(&t->enc, 1, ids[k], 0, NULL));
			live[k] = !live[k];
		}
		for (uint32_t k = 0; k < 63; k++) {
			if (!live[k]) {
				HT_FAILS(t, VIOVA_ENOENT,
					 viova_codec_enc_set_iova(&t->enc, 1, 1, ids[k],
								  HT_VA(t, k), NULL));
				continue;
			}
			/* the same iova in every VM: only per-VM spaces let them all succeed */
			HT_OK(t,
			      viova_codec_enc_set_iova(&t->enc, 1, 1, ids[k], HT_VA(t, 1), NULL));
		}
		/* every live VM holds exactly that one mapping: clear them all again */
		for (uint32_t k = 0; k < 63; k++) {
			if (live[k])
				HT_OK(t, viova_codec_enc_set_iova(&t->enc, 1, 1, ids[k], 0, NULL));
		}
	}
	ht_free(t);
}

/* ---- buffers ------------------------------------------------------------------------------ */

static void test_gem_new_close(void **state)
{
	struct ht *t = ht_new();
	struct ht_snap snap;
	struct viova_ctx_stats st;
	(void)state;

	ht_ctx(t, 1, 1);
	ht_buf(t, 1, 1, 4 * PAGE, 0);
	ht_buf(t, 1, 2, PAGE, HT_VA(t, 1));
	assert_int_equal(viova_host_ctx_stats(t->h, 1, &st), 0);
	assert_int_equal(st.buffers, 2);
	assert_int_equal(st.mappings, 1);
	assert_int_equal(st.bytes, 5 * PAGE);

	ht_snap(t, &snap);
	HT_FAILS(t, VIOVA_EEXIST, viova_codec_enc_gem_new(&t->enc, 1, 1, 0, PAGE, 0, 0, NULL));
	HT_FAILS(t, VIOVA_EINVAL, viova_codec_enc_gem_new(&t->enc, 1, 3, 0, PAGE + 1, 0, 0, NULL));
	HT_FAILS(t, VIOVA_ENOENT, viova_codec_enc_gem_new(&t->enc, 4, 3, 0, PAGE, 0, 0, NULL));
	/* none of those is a mapping failure: the context is not lost */
	assert_int_equal(viova_host_ctx_lost(t->h, 1), 0);
	/* a malformed GEM_NEW (unknown flag bit) may have carried an iova: it loses its context */
	ht_ctx(t, 9, 1);
	snap.mutating += 2;
	snap.c.contexts++;
	snap.c.vms++;
	snap.alive.ctxs++;
	snap.alive.vms++;
	HT_FAILS(t, VIOVA_EINVAL, viova_codec_enc_gem_new(&t->enc, 9, 3, 0x40, PAGE, 0, 0, NULL));
	assert_int_equal(viova_host_ctx_lost(t->h, 9), VIOVA_EINVAL);
	/* with an iova: both or neither (overlap with buffer 2, then a backend refusal) */
	HT_FAILS(t, VIOVA_ENOSPC,
		 viova_codec_enc_gem_new(&t->enc, 1, 3, 0, PAGE, 0, HT_VA(t, 1), NULL));
	assert_int_equal(viova_host_ctx_lost(t->h, 1), VIOVA_ENOSPC);
	ht_same(t, &snap);
	t->be->fail_op = HT_BO_SET_IOVA;
	t->be->fail_err = -ENOMEM;
	HT_FAILS(t, VIOVA_ENOMEM,
		 viova_codec_enc_gem_new(&t->enc, 1, 3, 0, PAGE, 0, HT_VA(t, 2), NULL));
	snap.mutating += 3; /* bo_create, the refused set_iova, bo_close */
	ht_same(t, &snap);
	/* the range is still free afterwards */
	ht_buf(t, 1, 3, PAGE, HT_VA(t, 2));

	HT_OK(t, viova_codec_enc_gem_close(&t->enc, 1, 1, NULL));
	HT_OK(t, viova_codec_enc_gem_close(&t->enc, 1, 2, NULL));
	HT_FAILS(t, VIOVA_ENOENT, viova_codec_enc_gem_close(&t->enc, 1, 1, NULL));
	assert_int_equal(viova_host_ctx_stats(t->h, 1, &st), 0);
	assert_int_equal(st.buffers, 1);
	assert_int_equal(st.mappings, 1);
	/* the id is free again, and buffer 2's range too */
	ht_buf(t, 1, 2, PAGE, HT_VA(t, 1));
	ht_free(t);
}

static void test_set_iova(void **state)
{
	struct viova_host_quotas q = {.max_mappings = 3};
	struct ht *t = ht_new_q(&q);
	uint64_t top = t->caps.va_start + t->caps.va_size;
	struct viova_err_rec r;
	struct ht_snap snap;
	uint64_t s;
	uint32_t ctx;
	(void)state;

	ht_ctx(t, 1, 1);
	ht_buf(t, 1, 1, 2 * PAGE, 0);
	ht_buf(t, 1, 2, 2 * PAGE, 0);
	HT_OK(t, viova_codec_enc_set_iova(&t->enc, 1, 1, 0, HT_VA(t, 0), NULL));
	HT_OK(t, viova_codec_enc_set_iova(&t->enc, 1, 1, 0, HT_VA(t, 0), NULL)); /* same: ok */
	HT_OK(t, viova_codec_enc_set_iova(&t->enc, 1, 2, 1, HT_VA(t, 1), NULL)); /* vm by name */

	/* Each refusal in a fresh context (a SET_IOVA failure loses its context). */
	struct {
		uint32_t buf, vm;
		uint64_t iova;
		uint32_t err;
		const char *words;
	} bad[] = {
	    {9, 0, HT_VA(t, 5), VIOVA_ENOENT, "buffer 9 does not exist"},
	    {3, 4, HT_VA(t, 5), VIOVA_ENOENT, "VM 4"},
	    {3, 0, HT_VA(t, 5) + 0x800, VIOVA_EINVAL, "multiple of"},
	    {3, 0, t->caps.va_start - 2 * PAGE, VIOVA_EINVAL, "outside the address space"},
	    {3, 0, top - 2 * PAGE, VIOVA_ENOSPC, "reserved region"},
	    {3, 0, t->caps.reserved_start - PAGE, VIOVA_ENOSPC, "reserved region"},
	    {3, 0, 0xfffffffffffff000ull, VIOVA_EINVAL, ""},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ctx = 10 + (uint32_t)i;
		ht_ctx(t, ctx, 1);
		ht_buf(t, ctx, 3, 2 * PAGE, 0);
		ht_snap(t, &snap);
		s = ht_seq(t);
		assert_int_equal(viova_codec_enc_set_iova(&t->enc, ctx, bad[i].buf, bad[i].vm,
							  bad[i].iova, NULL),
				 0);
		assert_int_equal(ht_send(t), 1);
		r = ht_expect(t, VIOVA_CMD_SET_IOVA, bad[i].err, s);
		assert_true(r.flags & VIOVA_ERR_CTX_LOST);
		assert_int_equal(r.ctx_id, ctx);
		assert_int_equal(r.reason, VIOVA_REASON_NONE);
		assert_int_equal(viova_host_ctx_lost(t->h, ctx), (int)bad[i].err);
		assert_int_equal(ht_slot(t, ctx).lost, 1);
		assert_int_equal(ht_slot(t, ctx).lost_err, bad[i].err);
		if (!strstr(viova_host_last_error(t->h), bad[i].words))
			fail_msg("case %zu: message '%s' lacks '%s'", i,
				 viova_host_last_error(t->h), bad[i].words);
		ht_same(t, &snap);
		HT_OK(t, viova_codec_enc_ctx_destroy(&t->enc, ctx, NULL));
	}

	/* overlap: the message names the other buffer, its address, the VM and the context */
	ht_ctx(t, 2, 1);
	ht_buf(t, 2, 7, 4 * PAGE, HT_VA(t, 0) + 2 * PAGE);
	ht_buf(t, 2, 8, 2 * PAGE, 0);
	ht_snap(t, &snap);
	HT_FAILS(t, VIOVA_ENOSPC,
		 viova_codec_enc_set_iova(&t->enc, 2, 8, 0, HT_VA(t, 0) + PAGE, NULL));
	assert_non_null(strstr(viova_host_last_error(t->h), "overlaps the mapping of buffer 7 of "
							    "context 2"));
	assert_non_null(strstr(viova_host_last_error(t->h), "in VM 1 of context 2"));
	ht_same(t, &snap);
	HT_OK(t, viova_codec_enc_ctx_destroy(&t->enc, 2, NULL));

	/* mapped elsewhere: EBUSY (context 1, which is then lost) */
	ht_snap(t, &snap);
	HT_FAILS(t, VIOVA_EBUSY, viova_codec_enc_set_iova(&t->enc, 1, 1, 0, HT_VA(t, 3), NULL));
	ht_same(t, &snap);
	assert_int_equal(viova_host_ctx_lost(t->h, 1), VIOVA_EBUSY);

	/* clear, clear again (no-op), quota */
	HT_OK(t, viova_codec_enc_set_iova(&t->enc, 1, 1, 0, 0, NULL));
	HT_OK(t, viova_codec_enc_set_iova(&t->enc, 1, 1, 0, 0, NULL));
	ht_buf(t, 1, 3, PAGE, HT_VA(t, 4));
	ht_buf(t, 1, 4, PAGE, HT_VA(t, 5));
	ht_snap(t, &snap);
	HT_FAILS(t, VIOVA_EDQUOT, viova_codec_enc_set_iova(&t->enc, 1, 1, 0, HT_VA(t, 0), NULL));
	assert_non_null(strstr(viova_host_last_error(t->h), "max_mappings quota 3"));
	ht_same(t, &snap);
	/* backend refusal: the tracker entry is withdrawn, the range stays free */
	HT_OK(t, viova_codec_enc_set_iova(&t->enc, 1, 4, 0, 0, NULL));
	t->be->fail_op = HT_BO_SET_IOVA;
	t->be->fail_err = -ENOSPC;
	HT_FAILS(t, VIOVA_ENOSPC, viova_codec_enc_set_iova(&t->enc, 1, 1, 0, HT_VA(t, 0), NULL));
	HT_OK(t, viova_codec_enc_set_iova(&t->enc, 1, 1, 0, HT_VA(t, 0), NULL));
	ht_free(t);
}

static void test_vm_bind_unbind(void **state)
{
	struct ht *t = ht_new();
	struct sim_debug_stats before;
	struct viova_codec_bind b = {.buf_id = 1, .addr = 0, .range = 2 * PAGE, .buf_offset = 0};
	struct ht_snap snap;
	struct viova_ctx_stats st;
	(void)state;
	(void)before;

	ht_ctx(t, 1, 1);
	ht_buf(t, 1, 1, 8 * PAGE, 0);
	ht_buf(t, 1, 2, 2 * PAGE, HT_VA(t, 2));
	b.addr = HT_VA(t, 0);
	HT_OK(t, viova_codec_enc_vm_bind(&t->enc, 1, &b, NULL));
	b.addr = HT_VA(t, 0) + 4 * PAGE;
	b.buf_offset = 4 * PAGE;
	b.range = 4 * PAGE;
	HT_OK(t, viova_codec_enc_vm_bind(&t->enc, 1, &b, NULL));
	assert_int_equal(viova_host_ctx_stats(t->h, 1, &st), 0);
	assert_int_equal(st.mappings, 3);
	/* replace the middle of the second piece with another part of the buffer: split in 3 */
	b.addr = HT_VA(t, 0) + 5 * PAGE;
	b.buf_offset = 0;
	b.range = PAGE;
	HT_OK(t, viova_codec_enc_vm_bind(&t->enc, 1, &b, NULL));
	assert_int_equal(viova_host_ctx_stats(t->h, 1, &st), 0);
	assert_int_equal(st.mappings, 5);
	/* unbind across pieces, splitting the last one */
	HT_OK(t, viova_codec_enc_vm_unbind(&t->enc, 1, 0, HT_VA(t, 0) + PAGE, 5 * PAGE, NULL));
	assert_int_equal(viova_host_ctx_stats(t->h, 1, &st), 0);
	assert_int_equal(st.mappings, 3); /* [0,1) , [6,8) of the bind + buffer 2 */
	/* unbinding nothing is fine and does not call the backend */
	ht_snap(t, &snap);
	HT_OK(t, viova_codec_enc_vm_unbind(&t->enc, 1, 0, HT_VA(t, 50), PAGE, NULL));
	ht_same(t, &snap);

	/* refusals, each in a fresh context since they lose it */
	struct {
		struct viova_codec_bind b;
		uint32_t err;
		const char *words;
	} bad[] = {
	    {{0, 1, HT_VA(t, 10) + 1, PAGE, 0, 0}, VIOVA_EINVAL, "addr"},
	    {{0, 1, HT_VA(t, 10), PAGE + 8, 0, 0}, VIOVA_EINVAL, "range"},
	    {{0, 1, HT_VA(t, 10), PAGE, 8, 0}, VIOVA_EINVAL, "buf_offset"},
	    {{0, 1, HT_VA(t, 10), 2 * PAGE, 7 * PAGE, 0}, VIOVA_EINVAL, "outside buffer 1"},
	    {{0, 9, HT_VA(t, 10), PAGE, 0, 0}, VIOVA_ENOENT, "buffer 9"},
	    {{6, 1, HT_VA(t, 10), PAGE, 0, 0}, VIOVA_ENOENT, "VM 6"},
	    {{0, 1, HT_VA(t, 2), PAGE, 0, 0}, VIOVA_EBUSY, "SET_IOVA mapping of buffer 2"},
	    {{0, 1, t->caps.reserved_start, PAGE, 0, 0}, VIOVA_ENOSPC, "reserved"},
	    {{0, 1, PAGE, PAGE, 0, 0}, VIOVA_EINVAL, "outside the address space"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint32_t ctx = 20 + (uint32_t)i;
		uint64_t s;

		ht_ctx(t, ctx, 1);
		ht_buf(t, ctx, 1, 8 * PAGE, 0);
		ht_buf(t, ctx, 2, 2 * PAGE, HT_VA(t, 2));
		ht_snap(t, &snap);
		s = ht_seq(t);
		assert_int_equal(viova_codec_enc_vm_bind(&t->enc, ctx, &bad[i].b, NULL), 0);
		assert_int_equal(ht_send(t), 1);
		assert_true(ht_expect(t, VIOVA_CMD_VM_BIND, bad[i].err, s).flags &
			    VIOVA_ERR_CTX_LOST);
		if (!strstr(viova_host_last_error(t->h), bad[i].words))
			fail_msg("case %zu: '%s' lacks '%s'", i, viova_host_last_error(t->h),
				 bad[i].words);
		ht_same(t, &snap);
		HT_OK(t, viova_codec_enc_ctx_destroy(&t->enc, ctx, NULL));
	}
	/* unbind refusals */
	ht_snap(t, &snap);
	HT_FAILS(t, VIOVA_EINVAL,
		 viova_codec_enc_vm_unbind(&t->enc, 1, 0, HT_VA(t, 0) + 8, PAGE, NULL));
	HT_FAILS(t, VIOVA_EBUSY, viova_codec_enc_vm_unbind(&t->enc, 1, 0, HT_VA(t, 2), PAGE, NULL));
	HT_FAILS(t, VIOVA_ENOENT,
		 viova_codec_enc_vm_unbind(&t->enc, 1, 3, HT_VA(t, 0), PAGE, NULL));
	ht_same(t, &snap);
	/* backend refusal of a bind: nothing changed in the tracker */
	t->be->fail_op = HT_BIND;
	t->be->fail_err = -ENOMEM;
	b = (struct viova_codec_bind){0, 1, HT_VA(t, 30), PAGE, 0, 0};
	HT_FAILS(t, VIOVA_ENOMEM, viova_codec_enc_vm_bind(&t->enc, 1, &b, NULL));
	assert_int_equal(viova_host_ctx_stats(t->h, 1, &st), 0);
	assert_int_equal(st.mappings, 3);
	ht_free(t);
}

static void test_upload_download(void **state)
{
	struct ht *t = ht_new();
	uint8_t data[3 * 1000], back[sizeof(data)];
	const struct viova_resp_hdr *rh;
	struct ht_snap snap;
	uint64_t s;
	(void)state;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 1);
	ht_ctx(t, 1, 1);
	ht_buf(t, 1, 1, PAGE, 0);
	HT_OK(t, viova_codec_enc_gem_upload(&t->enc, 1, 1, 100, data, sizeof(data), NULL));
	ht_download(t, 1, 1, 100, back, sizeof(back));
	assert_memory_equal(back, data, sizeof(data));

	ht_snap(t, &snap);
	HT_FAILS(t, VIOVA_EINVAL,
		 viova_codec_enc_gem_upload(&t->enc, 1, 1, PAGE - 8, data, 16, NULL));
	HT_FAILS(t, VIOVA_ENOENT, viova_codec_enc_gem_upload(&t->enc, 1, 2, 0, data, 16, NULL));
	HT_FAILS(t, VIOVA_EINVAL, viova_codec_enc_gem_download(&t->enc, 1, 1, PAGE, 8, 0, NULL));
	HT_FAILS(t, VIOVA_ENOENT, viova_codec_enc_gem_download(&t->enc, 1, 2, 0, 8, 0, NULL));
	/* response beyond the payload region: EFAULT, and nothing written there */
	s = ht_seq(t);
	assert_int_equal(
	    viova_codec_enc_gem_download(&t->enc, 1, 1, 0, 64, t->g.lay.payload_size - 32, NULL),
	    0);
	assert_int_equal(ht_send(t), 1);
	ht_expect(t, VIOVA_CMD_GEM_DOWNLOAD, VIOVA_EFAULT, s);
	/* a refused download with a usable offset still answers there (err set) */
	s = ht_seq(t);
	assert_int_equal(viova_codec_enc_gem_download(&t->enc, 1, 5, 0, 8, 256, NULL), 0);
	assert_int_equal(ht_send(t), 1);
	ht_expect(t, VIOVA_CMD_GEM_DOWNLOAD, VIOVA_ENOENT, s);
	rh = (const struct viova_resp_hdr *)((uint8_t *)t->area + t->g.lay.payload_offset + 256);
	assert_int_equal(rh->seqno, s);
	assert_int_equal(rh->err, VIOVA_ENOENT);
	ht_same(t, &snap);
	/* neither loses the context */
	assert_int_equal(viova_host_ctx_lost(t->h, 1), 0);
	ht_free(t);
}

static void test_submit_wait(void **state)
{
	struct ht *t = ht_new();
	struct viova_submit_bo bos[2] = {{1, VIOVA_SUBMIT_BO_WRITE}, {1, VIOVA_SUBMIT_BO_READ}};
	struct viova_sim_job job;
	struct viova_codec_submit sub = {.format = VIOVA_SUBMIT_FORMAT_SIM,
					 .bos = bos,
					 .bo_count = 1,
					 .cmds = &job,
					 .cmd_count = 1};
	struct viova_fence_status fs;
	struct ht_snap snap;
	uint32_t err, size;
	uint32_t words[4];
	uint64_t s;
	(void)state;

	ht_ctx(t, 1, 1);
	ht_buf(t, 1, 1, PAGE, HT_VA(t, 0));
	job = viova_codec_sim_fill(HT_VA(t, 0), 16, 0xdeadbeef);
	sub.out_fence = 1;
	HT_OK(t, viova_codec_enc_submit(&t->enc, 1, &sub, NULL));
	s = ht_seq(t);
	HT_OK(t, viova_codec_enc_wait_fence(&t->enc, 1, 1, 1000000000ull, 64, NULL));
	assert_int_equal(viova_codec_resp_guest_read(&t->g, 64, s, &fs, sizeof(fs), &err, &size),
			 0);
	assert_int_equal(err, 0);
	assert_true(fs.completed_fence >= 1);
	assert_true(ht_slot(t, 1).completed_fence >= 1);
	ht_download(t, 1, 1, 0, words, sizeof(words));
	for (int i = 0; i < 4; i++)
		assert_int_equal(words[i], 0xdeadbeef);

	/* refusals that keep the context (WAIT_FENCE) */
	ht_snap(t, &snap);
	HT_FAILS(t, VIOVA_EINVAL, viova_codec_enc_wait_fence(&t->enc, 1, 5, 0, 64, NULL));
	assert_non_null(strstr(viova_host_last_error(t->h), "never submitted"));
	HT_FAILS(t, VIOVA_EFAULT,
		 viova_codec_enc_wait_fence(&t->enc, 1, 1, 0, t->g.lay.payload_size, NULL));
	HT_FAILS(t, VIOVA_ENOENT, viova_codec_enc_wait_fence(&t->enc, 2, 1, 0, 64, NULL));
	assert_int_equal(viova_host_ctx_lost(t->h, 1), 0);
	ht_same(t, &snap);

	/* SUBMIT refusals, each losing a fresh context */
	struct {
		uint64_t fence;
		uint32_t bo_count, format;
		uint32_t bo0, bo1;
		uint32_t err;
		const char *words;
	} bad[] = {
	    {1, 1, VIOVA_SUBMIT_FORMAT_SIM, 1, 0, VIOVA_EINVAL, "strictly increase"},
	    {5, 1, VIOVA_SUBMIT_FORMAT_SIM, 9, 0, VIOVA_ENOENT, "bos[0] names buffer 9"},
	    {5, 2, VIOVA_SUBMIT_FORMAT_SIM, 1, 1, VIOVA_EINVAL, "second time"},
	    {5, 1, VIOVA_SUBMIT_FORMAT_CMDBUF, 1, 0, VIOVA_EOPNOTSUPP, "format 2"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint32_t ctx = 30 + (uint32_t)i;
		struct viova_submit_cmdbuf cb = {0, VIOVA_CMDBUF_BUF, 0, 16};

		ht_ctx(t, ctx, 1);
		ht_buf(t, ctx, 1, PAGE, HT_VA(t, 0));
		if (bad[i].fence == 1) {
			sub.out_fence = 1;
			sub.bo_count = 1;
			bos[0].buf_id = 1;
			sub.format = VIOVA_SUBMIT_FORMAT_SIM;
			sub.cmds = &job;
			HT_OK(t, viova_codec_enc_submit(&t->enc, ctx, &sub, NULL));
			HT_OK(t,
			      viova_codec_enc_wait_fence(&t->enc, ctx, 1, 1000000000ull, 64, NULL));
		}
		ht_snap(t, &snap);
		sub.out_fence = bad[i].fence;
		sub.bo_count = bad[i].bo_count;
		sub.format = bad[i].format;
		sub.cmds = bad[i].format == VIOVA_SUBMIT_FORMAT_SIM ? (const void *)&job : &cb;
		bos[0].buf_id = bad[i].bo0;
		bos[1].buf_id = bad[i].bo1;
		s = ht_seq(t);
		assert_int_equal(viova_codec_enc_submit(&t->enc, ctx, &sub, NULL), 0);
		assert_int_equal(ht_send(t), 1);
		assert_true(ht_expect(t, VIOVA_CMD_SUBMIT, bad[i].err, s).flags &
			    VIOVA_ERR_CTX_LOST);
		if (!strstr(viova_host_last_error(t->h), bad[i].words))
			fail_msg("case %zu: '%s' lacks '%s'", i, viova_host_last_error(t->h),
				 bad[i].words);
		ht_same(t, &snap);
		/* and a lost context runs no more jobs */
		sub.out_fence = 10;
		sub.bo_count = 1;
		sub.format = VIOVA_SUBMIT_FORMAT_SIM;
		sub.cmds = &job;
		bos[0].buf_id = 1;
		HT_FAILS(t, VIOVA_EIO, viova_codec_enc_submit(&t->enc, ctx, &sub, NULL));
		HT_OK(t, viova_codec_enc_ctx_destroy(&t->enc, ctx, NULL));
	}

	/* backend refusal (injected) */
	bos[0].buf_id = 1;
	sub.out_fence = 2;
	t->be->fail_op = HT_SUBMIT;
	t->be->fail_err = -EAGAIN;
	HT_FAILS(t, VIOVA_EAGAIN, viova_codec_enc_submit(&t->enc, 1, &sub, NULL));
	ht_free(t);
}

static void test_query(void **state)
{
	struct ht *t = ht_new();
	struct viova_capset caps;
	struct viova_ctx_stats st;
	uint32_t err, size;
	uint64_t s;
	(void)state;

	s = ht_seq(t);
	HT_OK(t, viova_codec_enc_query(&t->enc, 0, VIOVA_QUERY_CAPS, 0, 16 + sizeof(caps), NULL));
	assert_int_equal(viova_codec_resp_guest_read(&t->g, 0, s, &caps, sizeof(caps), &err, &size),
			 0);
	assert_int_equal(size, sizeof(caps));
	assert_memory_equal(&caps, &t->caps, sizeof(caps));
	assert_int_equal(caps.backend, VIOVA_BACKEND_SIM);
	assert_int_equal(caps.wire_major, VIOVA_WIRE_MAJOR);
	/* truncated: header says the full size, only what fits is written */
	memset(&caps, 0, sizeof(caps));
	s = ht_seq(t);
	HT_OK(t, viova_codec_enc_query(&t->enc, 0, VIOVA_QUERY_CAPS, 512, 16 + 16, NULL));
	assert_int_equal(viova_codec_resp_guest_read(&t->g, 512, s, &caps, 16, &err, &size), 0);
	assert_int_equal(size, sizeof(caps));
	assert_int_equal(caps.va_start, t->caps.va_start);

	ht_ctx(t, 3, 1);
	ht_buf(t, 3, 1, 2 * PAGE, HT_VA(t, 0));
	s = ht_seq(t);
	HT_OK(t, viova_codec_enc_query(&t->enc, 3, VIOVA_QUERY_CTX_STATS, 1024, 16 + sizeof(st),
				       NULL));
	assert_int_equal(viova_codec_resp_guest_read(&t->g, 1024, s, &st, sizeof(st), &err, &size),
			 0);
	assert_int_equal(st.buffers, 1);
	assert_int_equal(st.mappings, 1);
	assert_int_equal(st.bytes, 2 * PAGE);
	assert_int_equal(st.vms, 1);

	HT_FAILS(t, VIOVA_ENOENT,
		 viova_codec_enc_query(&t->enc, 4, VIOVA_QUERY_CTX_STATS, 0, 64, NULL));
	HT_FAILS(t, VIOVA_EFAULT,
		 viova_codec_enc_query(&t->enc, 0, VIOVA_QUERY_CAPS, t->g.lay.payload_size - 8, 64,
				       NULL));
	HT_FAILS(t, VIOVA_EINVAL, viova_codec_enc_query(&t->enc, 0, 9, 0, 64, NULL));
	ht_free(t);
}

/* ---- batches ------------------------------------------------------------------------------ */

/* Malformed batches: the seqno the guest waits for is published anyway. */
static void test_malformed_batches(void **state)
{
	struct ht *t = ht_new();
	struct viova_batch_hdr *bh = (struct viova_batch_hdr *)t->batch;
	struct viova_cmd_hdr *ch;
	struct viova_err_rec r;
	uint64_t last;
	size_t len;
	(void)state;

	ht_ctx(t, 1, 1);
	/* bad magic: the header cannot be trusted, nothing runs, batches still counted */
	assert_int_equal(viova_codec_enc_nop(&t->enc, NULL), 0);
	assert_int_equal(viova_codec_enc_finish(&t->enc, &len), 0);
	bh->magic ^= 1;
	assert_int_equal(viova_host_process(t->h, t->batch, len), 1);
	r = ht_pop(t);
	assert_true(r.flags & VIOVA_ERR_BATCH_ABORT);
	assert_int_equal(r.reason, VIOVA_REASON_BATCH_MAGIC);
	viova_codec_enc_reset(&t->enc);

	/* truncated batch header */
	assert_int_equal(viova_host_process(t->h, t->batch, 8), 1);
	assert_int_equal(ht_pop(t).reason, VIOVA_REASON_BATCH_TRUNCATED);

	/* length mismatch: last_seqno is readable, so it is published */
	assert_int_equal(viova_codec_enc_nop(&t->enc, NULL), 0);
	assert_int_equal(viova_codec_enc_nop(&t->enc, &last), 0);
	assert_int_equal(viova_codec_enc_finish(&t->enc, &len), 0);
	assert_int_equal(viova_host_process(t->h, t->batch, len - 8), 1);
	assert_int_equal(ht_pop(t).reason, VIOVA_REASON_BATCH_LENGTH);
	assert_int_equal(viova_codec_resp_guest_processed(&t->g), last);
	viova_codec_enc_reset(&t->enc);

	/* broken framing in the middle: the command before runs, the rest is skipped,
	 * the batch's last seqno is still published */
	ht_buf(t, 1, 5, PAGE, 0); /* (its own batch) */
	assert_int_equal(viova_codec_enc_gem_new(&t->enc, 1, 1, 0, PAGE, 0, 0, NULL), 0);
	assert_int_equal(viova_codec_enc_gem_close(&t->enc, 1, 5, NULL), 0);
	assert_int_equal(viova_codec_enc_gem_new(&t->enc, 1, 2, 0, PAGE, 0, 0, &last), 0);
	assert_int_equal(viova_codec_enc_finish(&t->enc, &len), 0);
	ch = (struct viova_cmd_hdr *)((uint8_t *)t->batch + sizeof(*bh) +
				      sizeof(struct viova_cmd_gem_new));
	ch->length = 36; /* longer than a header, not a multiple of 8 */
	assert_int_equal(viova_host_process(t->h, t->batch, len), 1);
	r = ht_pop(t);
	assert_int_equal(r.reason, VIOVA_REASON_LEN_MISALIGNED);
	assert_true(r.flags & VIOVA_ERR_BATCH_ABORT);
	ht_no_error(t);
	assert_int_equal(viova_codec_resp_guest_processed(&t->g), last);
	viova_codec_enc_reset(&t->enc);
	{
		struct viova_ctx_stats st;

		assert_int_equal(viova_host_ctx_stats(t->h, 1, &st), 0);
		assert_int_equal(st.buffers, 2); /* 5 and 1; not 2, and 5 was not closed */
	}
	/* a rejected command in the middle: later independent commands still run */
	assert_int_equal(viova_codec_enc_gem_new(&t->enc, 1, 3, 0, PAGE, 0, 0, NULL), 0);
	assert_int_equal(viova_codec_enc_gem_new(&t->enc, 1, 3, 0, PAGE, 0, 0, NULL), 0);
	assert_int_equal(viova_codec_enc_gem_new(&t->enc, 1, 4, 0, PAGE, 0, 0, &last), 0);
	assert_int_equal(ht_send(t), 1);
	ht_expect(t, VIOVA_CMD_GEM_NEW, VIOVA_EEXIST, last - 1);
	assert_int_equal(viova_codec_resp_guest_processed(&t->g), last);
	{
		struct viova_ctx_stats st;

		assert_int_equal(viova_host_ctx_stats(t->h, 1, &st), 0);
		assert_int_equal(st.buffers, 4);
	}
	/* a malformed SET_IOVA (reserved field) loses its context like a refused one */
	assert_int_equal(viova_codec_enc_set_iova(&t->enc, 1, 1, 0, HT_VA(t, 0), &last), 0);
	assert_int_equal(viova_codec_enc_finish(&t->enc, &len), 0);
	ch = (struct viova_cmd_hdr *)((uint8_t *)t->batch + sizeof(*bh));
	ch->reserved = 1;
	assert_int_equal(viova_host_process(t->h, t->batch, len), 1);
	viova_codec_enc_reset(&t->enc);
	r = ht_expect(t, VIOVA_CMD_SET_IOVA, VIOVA_EINVAL, last);
	assert_int_equal(r.reason, VIOVA_REASON_RESERVED_NONZERO);
	assert_true(r.flags & VIOVA_ERR_CTX_LOST);
	assert_int_equal(viova_host_ctx_lost(t->h, 1), VIOVA_EINVAL);
	ht_free(t);
}

static void test_quotas(void **state)
{
	struct viova_host_quotas q = {
	    .max_contexts = 4, .max_buffers = 3, .max_bytes = 8 * PAGE, .max_mappings = 2};
	struct ht *t = ht_new_q(&q);
	struct viova_codec_bind b = {0, 1, 0, PAGE, 0, 0};
	struct ht_snap snap;
	(void)state;

	assert_int_equal(t->caps.max_contexts, 4);
	assert_int_equal(t->caps.max_buffers, 3);
	assert_int_equal(t->caps.max_bytes, 8 * PAGE);
	ht_ctx(t, 1, 1);
	ht_buf(t, 1, 1, 4 * PAGE, 0);
	ht_buf(t, 1, 2, 2 * PAGE, 0);
	ht_snap(t, &snap);
	HT_FAILS(t, VIOVA_EDQUOT, viova_codec_enc_gem_new(&t->enc, 1, 3, 0, 4 * PAGE, 0, 0, NULL));
	assert_non_null(strstr(viova_host_last_error(t->h), "max_bytes quota"));
	ht_buf(t, 1, 3, PAGE, 0);
	HT_FAILS(t, VIOVA_EDQUOT, viova_codec_enc_gem_new(&t->enc, 1, 4, 0, PAGE, 0, 0, NULL));
	assert_non_null(strstr(viova_host_last_error(t->h), "max_buffers quota (3"));
	/* quotas are per context: context 2 has its own */
	ht_ctx(t, 2, 1);
	ht_buf(t, 2, 1, 8 * PAGE, 0);
	/* mappings: an unbind that splits a piece counts the extra piece */
	b.addr = HT_VA(t, 0);
	b.range = 8 * PAGE;
	HT_OK(t, viova_codec_enc_vm_bind(&t->enc, 2, &b, NULL));
	HT_OK(t, viova_codec_enc_vm_unbind(&t->enc, 2, 0, HT_VA(t, 0) + 2 * PAGE, PAGE, NULL));
	ht_snap(t, &snap);
	HT_FAILS(t, VIOVA_EDQUOT,
		 viova_codec_enc_vm_unbind(&t->enc, 2, 0, HT_VA(t, 0) + 5 * PAGE, PAGE, NULL));
	assert_non_null(strstr(viova_host_last_error(t->h), "max_mappings quota 2"));
	ht_same(t, &snap);
	/* contexts: the id range is the quota */
	ht_ctx(t, 4, 1);
	HT_FAILS(t, VIOVA_EINVAL, viova_codec_enc_ctx_create(&t->enc, 5, 0, 0, 0, 1, 0, NULL));
	ht_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_nop_sync),
	    cmocka_unit_test(test_resp_init),
	    cmocka_unit_test(test_ctx_create_destroy),
	    cmocka_unit_test(test_vm_create_destroy),
	    cmocka_unit_test(test_vm_names_many),
	    cmocka_unit_test(test_gem_new_close),
	    cmocka_unit_test(test_set_iova),
	    cmocka_unit_test(test_vm_bind_unbind),
	    cmocka_unit_test(test_upload_download),
	    cmocka_unit_test(test_submit_wait),
	    cmocka_unit_test(test_query),
	    cmocka_unit_test(test_malformed_batches),
	    cmocka_unit_test(test_quotas),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/*
 * test_drv_isolation.c - the host core's isolation cases (tests/integration/host/
 * test_host_isolation.c) on the msm or the i915 backend, each behind its kernel emulator.
 * Built twice: -DDRV_MSM and -DDRV_I915.
 *
 * Context A (1) against context B (2): B owns buffer 7 (mapped at B_IOVA, with a pattern
 * uploaded) and a second VM. Each test is one attempt by A to reach B; afterwards B's
 * statistics, bytes (downloaded through B), kernel-side placement and lost flag are unchanged.
 *
 * Not here, and why: the sim suite's setup binds a buffer sparsely (VM_BIND: neither driver has
 * it, the core refuses it from the capset), its snapshot reads the sim's own statistics, and
 * test_gpu_reach runs sim GPU jobs (FILL) to fault on B's iova: a real command stream cannot be
 * executed by an emulator. bind_buffer and shared_vm_pieces need VM_BIND for the same reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../../integration/host/host_test.h"
#include "drm_seam.h"

#if defined(DRV_MSM)
#include "msm_emu.h"
#define DRV_NAME "msm"
#define EMU_NEW() msm_emu_new(NULL)
#define EMU_FREE(e) msm_emu_free(e)
#define EMU_SEAM(e) msm_emu_seam(e)
typedef struct msm_emu drv_emu;
#elif defined(DRV_I915)
#include "i915_emu.h"
#define DRV_NAME "i915"
#define EMU_NEW() i915_emu_new(NULL)
#define EMU_FREE(e) i915_emu_free(e)
#define EMU_SEAM(e) i915_emu_seam(e)
typedef struct i915_emu drv_emu;
#else
#error "build with -DDRV_MSM or -DDRV_I915"
#endif

#define PAGE 4096u
#define A 1u
#define B 2u

struct iso {
	drv_emu *emu;
	struct ht *t;
	uint64_t b_iova;
	struct viova_ctx_stats b_stats;
	uint8_t b_bytes[64];
};

/* host_test.h's ht_new_q() with the backend chosen here instead of "sim". */
static struct ht *drv_new(void)
{
	struct ht *t = calloc(1, sizeof(*t));
	struct viova_host_config cfg = {0};

	assert_non_null(t);
	t->area = aligned_alloc(64, HT_AREA_SIZE);
	t->batch = aligned_alloc(64, HT_BATCH_SIZE);
	assert_non_null(t->area);
	assert_non_null(t->batch);
	cfg.backend = DRV_NAME;
	cfg.backend_create = ht_backend_create;
	cfg.resp_map = ht_resp_map;
	cfg.resp_unmap = ht_resp_unmap;
	cfg.transport_cookie = t;
	cfg.log = ht_log;
	cfg.log_cookie = t;
	cfg.max_batch_size = HT_BATCH_SIZE;
	assert_int_equal(viova_host_create(&cfg, &t->h), 0);
	t->be = ht_be_of(viova_host_backend(t->h));
	assert_string_equal(t->be->inner->ops->name, DRV_NAME);
	assert_int_equal(viova_host_get_caps(t->h, &t->caps), 0);
	assert_int_equal(viova_codec_enc_init(&t->enc, t->batch, HT_BATCH_SIZE, 1), 0);
	assert_int_equal(viova_codec_enc_resp_init(&t->enc, HT_RES_ID, 0, HT_AREA_SIZE, NULL), 0);
	assert_int_equal(ht_send(t), 0);
	assert_int_equal(viova_codec_resp_guest_attach(&t->g, t->area, HT_AREA_SIZE), 0);
	return t;
}

static void b_snapshot(struct iso *s, struct viova_ctx_stats *st, uint8_t *bytes)
{
	assert_int_equal(viova_host_ctx_stats(s->t->h, B, st), 0);
	ht_download(s->t, B, 7, 0, bytes, 64);
}

static int setup(void **state)
{
	struct iso *s = calloc(1, sizeof(*s));
	struct ht *t;
	uint8_t pattern[64];

	s->emu = EMU_NEW();
	drm_seam_set(EMU_SEAM(s->emu));
	t = drv_new();
	for (int i = 0; i < 64; i++)
		pattern[i] = (uint8_t)(0xb0 + i);
	s->t = t;
	s->b_iova = HT_VA(t, 8);
	ht_ctx(t, A, 1);
	ht_buf(t, A, 1, PAGE, HT_VA(t, 0));
	ht_ctx(t, B, 1);
	HT_OK(t, viova_codec_enc_vm_create(&t->enc, B, 2, 0, NULL));
	ht_buf(t, B, 7, PAGE, s->b_iova);
	HT_OK(t, viova_codec_enc_gem_upload(&t->enc, B, 7, 0, pattern, sizeof(pattern), NULL));
	b_snapshot(s, &s->b_stats, s->b_bytes);
	assert_memory_equal(s->b_bytes, pattern, sizeof(pattern));
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	struct iso *s = *state;

	ht_free(s->t);
	EMU_FREE(s->emu);
	drm_seam_set(NULL);
	free(s);
	return 0;
}

static void b_unchanged(struct iso *s)
{
	struct viova_ctx_stats st;
	uint8_t bytes[64];

	b_snapshot(s, &st, bytes);
	assert_int_equal(st.buffers, s->b_stats.buffers);
	assert_int_equal(st.mappings, s->b_stats.mappings);
	assert_int_equal(st.bytes, s->b_stats.bytes);
	assert_int_equal(st.vms, s->b_stats.vms);
	assert_int_equal(st.lost, 0);
	assert_memory_equal(bytes, s->b_bytes, sizeof(bytes));
	assert_int_equal(viova_host_ctx_lost(s->t->h, B), 0);
}

static void test_caps_from_driver(void **state)
{
	struct iso *s = *state;

	assert_false(s->t->caps.features & VIOVA_FEATURE_VM_BIND);
	assert_true(s->t->caps.features & VIOVA_FEATURE_SUBMIT_CMDBUF);
	/* the core refuses sparse binding from the capset, before the backend */
	{
		struct viova_codec_bind b = {0, 1, HT_VA(s->t, 40), PAGE, 0, 0};

		HT_FAILS(s->t, VIOVA_EOPNOTSUPP, viova_codec_enc_vm_bind(&s->t->enc, A, &b, NULL));
	}
	b_unchanged(s);
}

static void test_name_buffer(void **state)
{
	struct iso *s = *state;
	struct ht *t = s->t;

	HT_FAILS(t, VIOVA_ENOENT, viova_codec_enc_gem_close(&t->enc, A, 7, NULL));
	b_unchanged(s);
}

static void test_map_buffer(void **state)
{
	struct iso *s = *state;
	struct ht *t = s->t;

	HT_FAILS(t, VIOVA_ENOENT, viova_codec_enc_set_iova(&t->enc, A, 7, 0, HT_VA(t, 40), NULL));
	HT_FAILS(t, VIOVA_ENOENT, viova_codec_enc_set_iova(&t->enc, A, 1, 2, HT_VA(t, 40), NULL));
	HT_FAILS(t, VIOVA_ENOENT, viova_codec_enc_vm_destroy(&t->enc, A, 2, NULL));
	b_unchanged(s);
}

static void test_upload_download(void **state)
{
	struct iso *s = *state;
	struct ht *t = s->t;
	uint8_t junk[16] = {1, 2, 3};

	HT_FAILS(t, VIOVA_ENOENT, viova_codec_enc_gem_upload(&t->enc, A, 7, 0, junk, 16, NULL));
	HT_FAILS(t, VIOVA_ENOENT, viova_codec_enc_gem_download(&t->enc, A, 7, 0, 16, 0, NULL));
	b_unchanged(s);
}

static void test_submit_with_buffer(void **state)
{
	struct iso *s = *state;
	struct ht *t = s->t;
	struct viova_submit_bo bo[2] = {{1, VIOVA_SUBMIT_BO_READ}, {7, VIOVA_SUBMIT_BO_WRITE}};
	struct viova_submit_cmdbuf cmd = {.bo_index = 0, .type = VIOVA_CMDBUF_BUF, .size = 64};
	struct viova_codec_submit sub = {.format = VIOVA_SUBMIT_FORMAT_CMDBUF,
					 .out_fence = 1,
					 .bos = bo,
					 .bo_count = 2,
					 .cmds = &cmd,
					 .cmd_count = 1};

	HT_FAILS(t, VIOVA_ENOENT, viova_codec_enc_submit(&t->enc, A, &sub, NULL));
	b_unchanged(s);
}

/* A's own job goes through to the kernel and completes; B is not touched by it. */
static void test_own_submit(void **state)
{
	struct iso *s = *state;
	struct ht *t = s->t;
	struct viova_submit_bo bo = {1, VIOVA_SUBMIT_BO_READ};
	struct viova_submit_cmdbuf cmd = {.bo_index = 0, .type = VIOVA_CMDBUF_BUF, .size = 64};
	struct viova_codec_submit sub = {.format = VIOVA_SUBMIT_FORMAT_CMDBUF,
					 .out_fence = 1,
					 .bos = &bo,
					 .bo_count = 1,
					 .cmds = &cmd,
					 .cmd_count = 1};

	HT_OK(t, viova_codec_enc_submit(&t->enc, A, &sub, NULL));
	HT_OK(t, viova_codec_enc_wait_fence(&t->enc, A, 1, 1000000, 0, NULL));
	assert_int_equal(ht_slot(t, A).completed_fence, 1);
	b_unchanged(s);
}

static void test_ranges_are_per_vm(void **state)
{
	struct iso *s = *state;
	struct ht *t = s->t;

	/* A's VM 1 is not B's VM 1: B's iova is free there */
	ht_buf(t, A, 2, PAGE, s->b_iova);
	HT_OK(t, viova_codec_enc_set_iova(&t->enc, A, 2, 0, 0, NULL));
	b_unchanged(s);
	ht_buf(t, B, 9, PAGE, 0);
	HT_FAILS(t, VIOVA_ENOSPC, viova_codec_enc_set_iova(&t->enc, B, 9, 0, s->b_iova, NULL));
}

static void test_destroy_other(void **state)
{
	struct iso *s = *state;
	struct ht *t = s->t;

	HT_OK(t, viova_codec_enc_ctx_destroy(&t->enc, A, NULL));
	b_unchanged(s);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_caps_from_driver), T(test_name_buffer),	  T(test_map_buffer),
	    T(test_upload_download),  T(test_submit_with_buffer), T(test_ranges_are_per_vm),
	    T(test_own_submit),	      T(test_destroy_other),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

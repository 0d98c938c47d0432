/* SPDX-License-Identifier: MIT */
/*
 * test_guest_api.c - every call of viova/guest.h against the real viova-host daemon (sim
 * backend) over the unix socket: device open/close/caps/flush/sync/stats, contexts
 * (create, share, clone, destroy, status, QUERY stats), VMs (strategies, environment, seeds,
 * extra VMs, sparse ranges, bind/unbind, info/check), buffers (create with a local iova,
 * set/clear iova, upload/download over several batches and lanes, close), jobs and fences,
 * and the daemon statistics. GPU results are checked byte for byte through downloads.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "guest_test.h"
#include "viova/codec.h"

#define SEC 1000000000ull
#define KIB 1024ull

GT_SHARED_DAEMON(daemon_)

static struct viova_guest_device *open_dev(void)
{
	struct viova_guest_device *dev = NULL;

	GT_OK(viova_guest_device_open(daemon_.uri, NULL, &dev));
	return dev;
}

static void run_job(struct viova_guest_ctx *ctx, const struct viova_guest_submit_bo *bos,
		    uint32_t nbos, const struct viova_sim_job *jobs, uint32_t njobs)
{
	struct viova_guest_submit s = {
	    .format = VIOVA_SUBMIT_FORMAT_SIM,
	    .bo_count = nbos,
	    .bos = bos,
	    .cmds = jobs,
	    .cmd_count = njobs,
	};
	uint64_t fence = 0, seq = 0;

	GT_OK(viova_guest_submit(ctx, &s, &fence, &seq));
	assert_true(fence > 0 && seq > 0);
	GT_OK(viova_guest_fence_wait(ctx, fence, 5 * SEC));
	assert_int_equal(viova_guest_fence_poll(ctx, fence), 1);
}

static void expect_words(struct viova_guest_bo *bo, uint64_t off, uint64_t size, uint32_t word)
{
	uint32_t *buf = malloc(size);

	assert_non_null(buf);
	GT_OK(viova_guest_bo_download(bo, off, buf, size, 5 * SEC));
	for (uint64_t i = 0; i < size / 4; i++)
		if (buf[i] != word)
			fail_msg("buffer %u word %" PRIu64 " = 0x%08x, expected 0x%08x",
				 viova_guest_bo_id(bo), i, buf[i], word);
	free(buf);
}

static void test_open_errors(void **state)
{
	struct viova_guest_device *dev = NULL;
	char uri[200];
	(void)state;

	assert_int_equal(viova_guest_device_open("tcp:1.2.3.4", NULL, &dev), -EINVAL);
	assert_non_null(strstr(viova_guest_last_error(), "unix:"));
	/* virtgpu transport: no such node; a node that is not a DRM device */
	snprintf(uri, sizeof(uri), "virtgpu:%s/no-renderD128", daemon_.dir);
	assert_int_equal(viova_guest_device_open(uri, NULL, &dev), -ENOENT);
	assert_non_null(strstr(viova_guest_last_error(), "render node"));
	assert_int_equal(viova_guest_device_open("virtgpu:/dev/null", NULL, &dev), -ENODEV);
	assert_non_null(strstr(viova_guest_last_error(), "not a DRM device"));
	snprintf(uri, sizeof(uri), "unix:%s/nothing.sock", daemon_.dir);
	assert_int_equal(viova_guest_device_open(uri, NULL, &dev), -ENOENT);
	assert_non_null(strstr(viova_guest_last_error(), "viova-host --listen"));
	assert_int_equal(
	    viova_guest_device_open(daemon_.uri,
				    &(struct viova_guest_device_options){.area_size = 1000}, &dev),
	    -EINVAL);
	assert_null(dev);
	viova_guest_device_close(NULL);
}

static void test_caps_flush_sync_stats(void **state)
{
	struct viova_guest_device *dev = open_dev();
	struct viova_guest_stats st;
	struct viova_capset caps;
	struct viova_guest_ctx *ctx;
	uint64_t s1 = 0, s2 = 0;
	(void)state;

	GT_OK(viova_guest_device_caps(dev, &caps));
	assert_int_equal(caps.wire_major, VIOVA_WIRE_MAJOR);
	assert_int_equal(caps.backend, VIOVA_BACKEND_SIM);
	assert_true(caps.features & VIOVA_FEATURE_SET_IOVA);
	assert_true(caps.va_size > 0 && caps.max_contexts > 0);
	GT_OK(viova_guest_flush(dev, &s1)); /* only RESP_INIT was sent */
	assert_int_equal(s1, 1);
	GT_OK(viova_guest_ctx_create(dev, NULL, &ctx));
	GT_OK(viova_guest_flush(dev, &s2));
	assert_int_equal(s2, 2);
	GT_OK(viova_guest_sync(dev, 5 * SEC));
	GT_OK(viova_guest_device_stats(dev, &st));
	assert_int_equal(st.last_seqno, 3); /* RESP_INIT, CTX_CREATE, SYNC */
	assert_true(st.processed_seqno >= 3);
	assert_int_equal(st.batches, 3);
	assert_int_equal(st.commands, 3);
	GT_OK(viova_guest_ctx_destroy(ctx));
	viova_guest_device_close(dev);
}

static void test_ctx_lifecycle(void **state)
{
	struct viova_guest_device *dev = open_dev();
	struct viova_guest_ctx *a, *shared, *clone_vm, *clone_new;
	struct viova_guest_ctx_status cs;
	struct viova_ctx_stats hs;
	struct viova_guest_bo *bo;
	(void)state;

	GT_OK(viova_guest_ctx_create(
	    dev, &(struct viova_guest_ctx_options){.params = VIOVA_CTX_BANNABLE, .priority = 10},
	    &a));
	assert_true(viova_guest_ctx_id(a) >= 1);
	assert_non_null(viova_guest_ctx_vm(a));
	GT_OK(viova_guest_ctx_create(
	    dev, &(struct viova_guest_ctx_options){.share_vm = viova_guest_ctx_vm(a)}, &shared));
	assert_ptr_equal(viova_guest_ctx_vm(shared), viova_guest_ctx_vm(a));
	assert_int_not_equal(viova_guest_ctx_id(shared), viova_guest_ctx_id(a));
	GT_OK(viova_guest_ctx_clone(a, VIOVA_CLONE_ALL, NULL, &clone_vm));
	assert_ptr_equal(viova_guest_ctx_vm(clone_vm), viova_guest_ctx_vm(a));
	GT_OK(
	    viova_guest_ctx_clone(a, VIOVA_CLONE_FLAGS | VIOVA_CLONE_SCHEDATTR, NULL, &clone_new));
	assert_ptr_not_equal(viova_guest_ctx_vm(clone_new), viova_guest_ctx_vm(a));
	assert_int_equal(viova_guest_ctx_clone(a, 0x80000000u, NULL, &clone_new), -EINVAL);

	/* a buffer in the shared VM, made by the second context, lands in the same heap */
	GT_OK(viova_guest_bo_create(shared, 64 * KIB, 0, NULL, &bo));
	GT_OK(viova_guest_sync(dev, 5 * SEC));
	GT_OK(viova_guest_ctx_status(shared, &cs));
	assert_false(cs.lost);
	GT_OK(viova_guest_ctx_stats(shared, &hs, 5 * SEC));
	assert_int_equal(hs.buffers, 1);
	assert_int_equal(hs.bytes, 64 * KIB);
	GT_OK(viova_guest_ctx_stats(a, &hs, 5 * SEC));
	assert_int_equal(hs.buffers, 0);

	GT_OK(viova_guest_ctx_destroy(clone_new));
	GT_OK(viova_guest_ctx_destroy(clone_vm));
	GT_OK(viova_guest_ctx_destroy(shared)); /* closes bo with it */
	GT_OK(viova_guest_ctx_destroy(a));
	viova_guest_device_close(dev);
}

static void test_bo_fill_copy(void **state)
{
	struct viova_guest_device *dev = open_dev();
	struct viova_guest_bo *src, *dst;
	struct viova_guest_ctx *ctx;
	struct viova_capset caps;
	uint64_t is, id;
	(void)state;

	GT_OK(viova_guest_device_caps(dev, &caps));
	GT_OK(viova_guest_ctx_create(dev, NULL, &ctx));
	GT_OK(viova_guest_bo_create(ctx, 100 * KIB, 0, NULL, &src)); /* rounded to pages */
	assert_int_equal(viova_guest_bo_size(src), 100 * KIB);
	GT_OK(viova_guest_bo_create(ctx, 100 * KIB + 1, VIOVA_GEM_CACHED_COHERENT, NULL, &dst));
	assert_int_equal(viova_guest_bo_size(dst), 104 * KIB);
	GT_OK(viova_guest_bo_iova(src, NULL, &is));
	GT_OK(viova_guest_bo_iova(dst, NULL, &id));
	/* local iovas: aligned, inside the window, outside the reserved region, disjoint */
	assert_int_equal(is % caps.min_alignment, 0);
	assert_true(is >= caps.va_start && is + 100 * KIB <= caps.va_start + caps.va_size);
	assert_true(is + 100 * KIB <= caps.reserved_start ||
		    is >= caps.reserved_start + caps.reserved_size);
	assert_true(is + 100 * KIB <= id || id + 104 * KIB <= is);

	struct viova_sim_job jobs[] = {
	    viova_codec_sim_fill(is, 100 * KIB, 0x5a5a1234),
	    viova_codec_sim_copy(id + 4 * KIB, is, 100 * KIB),
	    viova_codec_sim_fill(id, 4 * KIB, 0x0badf00d),
	};
	struct viova_guest_submit_bo bos[] = {
	    {src, VIOVA_SUBMIT_BO_READ | VIOVA_SUBMIT_BO_WRITE, 0},
	    {dst, VIOVA_SUBMIT_BO_WRITE, 0},
	};
	run_job(ctx, bos, 2, jobs, 3);
	expect_words(dst, 0, 4 * KIB, 0x0badf00d);
	expect_words(dst, 4 * KIB, 100 * KIB, 0x5a5a1234);
	expect_words(src, 0, 100 * KIB, 0x5a5a1234);
	GT_OK(viova_guest_bo_close(src));
	GT_OK(viova_guest_bo_close(dst));
	GT_OK(viova_guest_ctx_destroy(ctx));
	viova_guest_device_close(dev);
}

static void test_upload_download_large(void **state)
{
	/* small area and batches: the upload spans batches, the download several lanes' worth */
	struct viova_guest_device_options o = {.area_size = 256 * KIB, .batch_size = 32 * KIB};
	struct viova_guest_device *dev = NULL;
	struct viova_guest_stats st;
	struct viova_guest_ctx *ctx;
	struct viova_guest_bo *bo;
	size_t n = 1 << 20;
	uint8_t *in = malloc(n), *out = malloc(n);
	(void)state;

	assert_non_null(in);
	assert_non_null(out);
	for (size_t i = 0; i < n; i++)
		in[i] = (uint8_t)(i * 2654435761u >> 13);
	GT_OK(viova_guest_device_open(daemon_.uri, &o, &dev));
	GT_OK(viova_guest_ctx_create(dev, NULL, &ctx));
	GT_OK(viova_guest_bo_create(ctx, n, VIOVA_GUEST_BO_NO_IOVA, NULL, &bo));
	GT_OK(viova_guest_bo_upload(bo, 0, in, n));
	GT_OK(viova_guest_bo_upload(bo, 3, "xyz", 3)); /* unaligned offset and size */
	memcpy(in + 3, "xyz", 3);
	memset(out, 0, n);
	GT_OK(viova_guest_bo_download(bo, 0, out, n, 5 * SEC));
	assert_memory_equal(in, out, n);
	GT_OK(viova_guest_bo_download(bo, n - 5, out, 5, 5 * SEC));
	assert_memory_equal(in + n - 5, out, 5);
	/* outside the buffer: refused locally */
	assert_int_equal(viova_guest_bo_upload(bo, n - 2, in, 4), -EINVAL);
	assert_int_equal(viova_guest_bo_download(bo, n, out, 1, SEC), -EINVAL);
	GT_OK(viova_guest_device_stats(dev, &st));
	assert_true(st.batches > 32); /* 1 MiB through 32 KiB batches */
	GT_OK(viova_guest_bo_close(bo));
	GT_OK(viova_guest_ctx_destroy(ctx));
	viova_guest_device_close(dev);
	free(in);
	free(out);
}

static void test_set_clear_iova(void **state)
{
	struct viova_guest_device *dev = open_dev();
	struct viova_guest_ctx *ctx;
	struct viova_guest_bo *bo;
	struct viova_guest_vm_info vi;
	uint64_t iova = 0, again;
	(void)state;

	GT_OK(viova_guest_ctx_create(dev, NULL, &ctx));
	GT_OK(viova_guest_bo_create(ctx, 8 * KIB, VIOVA_GUEST_BO_NO_IOVA, NULL, &bo));
	assert_int_equal(viova_guest_bo_iova(bo, NULL, &again), -ENOENT);
	GT_OK(viova_guest_bo_set_iova(bo, NULL, &iova));
	GT_OK(viova_guest_bo_iova(bo, NULL, &again));
	assert_int_equal(again, iova);
	assert_int_equal(viova_guest_bo_set_iova(bo, NULL, &again), -EBUSY);

	struct viova_sim_job fill = viova_codec_sim_fill(iova, 8 * KIB, 0x77777777);
	struct viova_guest_submit_bo b = {bo, VIOVA_SUBMIT_BO_WRITE, 0};

	run_job(ctx, &b, 1, &fill, 1);
	expect_words(bo, 0, 8 * KIB, 0x77777777);
	GT_OK(viova_guest_vm_info(viova_guest_ctx_vm(ctx), &vi));
	assert_int_equal(vi.allocations, 1);
	GT_OK(viova_guest_bo_clear_iova(bo, NULL, 5 * SEC));
	assert_int_equal(viova_guest_bo_iova(bo, NULL, &again), -ENOENT);
	assert_int_equal(viova_guest_bo_clear_iova(bo, NULL, SEC), -ENOENT);
	GT_OK(viova_guest_retire(dev, 5 * SEC, NULL));
	GT_OK(viova_guest_vm_info(viova_guest_ctx_vm(ctx), &vi));
	assert_int_equal(vi.allocations, 0);
	/* map it again: the host accepted the clear, so the context is still fine */
	GT_OK(viova_guest_bo_set_iova(bo, NULL, &iova));
	GT_OK(viova_guest_sync(dev, 5 * SEC));
	struct viova_guest_ctx_status cs;

	GT_OK(viova_guest_ctx_status(ctx, &cs));
	assert_false(cs.lost);
	GT_OK(viova_guest_bo_close(bo));
	GT_OK(viova_guest_ctx_destroy(ctx));
	viova_guest_device_close(dev);
}

static uint64_t first_iova(struct viova_guest_device *dev, const struct viova_guest_vm_options *o)
{
	struct viova_guest_ctx *ctx;
	struct viova_guest_bo *bo;
	uint64_t iova;

	GT_OK(viova_guest_ctx_create(dev, &(struct viova_guest_ctx_options){.vm = o}, &ctx));
	GT_OK(viova_guest_bo_create(ctx, 4 * KIB, 0, NULL, &bo));
	GT_OK(viova_guest_bo_iova(bo, NULL, &iova));
	GT_OK(viova_guest_ctx_destroy(ctx));
	return iova;
}

static void test_strategies_and_env(void **state)
{
	struct viova_guest_device *dev = open_dev();
	struct viova_guest_vm_options low = {.strategy = VIOVA_GUEST_VMA_LOW_TO_HIGH};
	struct viova_guest_vm_options rnd = {.strategy = VIOVA_GUEST_VMA_RANDOM, .seed = 42};
	struct viova_guest_vm_options rnd2 = {.strategy = VIOVA_GUEST_VMA_RANDOM, .seed = 43};
	struct viova_guest_ctx *ctx;
	struct viova_guest_vm_info vi;
	struct viova_capset caps;
	uint64_t top, r1, r2, r3;
	(void)state;

	GT_OK(viova_guest_device_caps(dev, &caps));
	unsetenv("VIOVA_VMA_STRATEGY");
	unsetenv("VIOVA_VMA_SEED");
	top = first_iova(dev, NULL); /* default HIGH_TO_LOW: just below the reserved region */
	assert_int_equal(top + 4 * KIB, caps.reserved_start);
	assert_int_equal(first_iova(dev, &low), caps.va_start);
	r1 = first_iova(dev, &rnd);
	r2 = first_iova(dev, &rnd); /* same seed, same address */
	r3 = first_iova(dev, &rnd2);
	assert_int_equal(r1, r2);
	assert_int_not_equal(r1, r3);

	/* the environment applies where the program leaves the choice open */
	setenv("VIOVA_VMA_STRATEGY", "low_to_high", 1);
	assert_int_equal(first_iova(dev, NULL), caps.va_start);
	assert_int_equal(
	    first_iova(dev,
		       &(struct viova_guest_vm_options){.strategy = VIOVA_GUEST_VMA_HIGH_TO_LOW}),
	    top);
	setenv("VIOVA_VMA_STRATEGY", "random", 1);
	setenv("VIOVA_VMA_SEED", "42", 1);
	assert_int_equal(first_iova(dev, NULL), r1);
	GT_OK(viova_guest_ctx_create(dev, NULL, &ctx));
	GT_OK(viova_guest_vm_info(viova_guest_ctx_vm(ctx), &vi));
	assert_int_equal(vi.strategy, VIOVA_GUEST_VMA_RANDOM);
	assert_int_equal(vi.seed, 42);
	GT_OK(viova_guest_ctx_destroy(ctx));
	setenv("VIOVA_VMA_STRATEGY", "sideways", 1);
	assert_int_equal(viova_guest_ctx_create(dev, NULL, &ctx), -EINVAL);
	assert_non_null(strstr(viova_guest_last_error(), "VIOVA_VMA_STRATEGY=sideways"));
	unsetenv("VIOVA_VMA_STRATEGY");
	setenv("VIOVA_VMA_SEED", "zero", 1);
	assert_int_equal(viova_guest_ctx_create(dev, NULL, &ctx), -EINVAL);
	unsetenv("VIOVA_VMA_SEED");
	assert_int_equal(
	    viova_guest_ctx_create(dev,
				   &(struct viova_guest_ctx_options){
				       .vm = &(struct viova_guest_vm_options){.strategy = 9}},
				   &ctx),
	    -EINVAL);
	viova_guest_device_close(dev);
}

static void test_sparse_bind_and_extra_vm(void **state)
{
	struct viova_guest_device *dev = open_dev();
	struct viova_guest_ctx *ctx;
	struct viova_guest_vm *vm, *extra;
	struct viova_guest_vm_info vi;
	struct viova_guest_bo *a, *b;
	uint64_t range, eiova;
	(void)state;

	GT_OK(viova_guest_ctx_create(dev, NULL, &ctx));
	vm = viova_guest_ctx_vm(ctx);
	GT_OK(viova_guest_bo_create(ctx, 16 * KIB, VIOVA_GUEST_BO_NO_IOVA, NULL, &a));
	GT_OK(viova_guest_bo_create(ctx, 16 * KIB, VIOVA_GUEST_BO_NO_IOVA, NULL, &b));
	/* a 64 KiB sparse range: a's page 1 at +0, b's pages 2-3 at +32 KiB, the rest unbound */
	GT_OK(viova_guest_vm_alloc(vm, 64 * KIB, 64 * KIB, &range));
	assert_int_equal(range % (64 * KIB), 0);
	GT_OK(viova_guest_vm_bind(vm, a, range, 4 * KIB, 4 * KIB, 0));
	GT_OK(viova_guest_vm_bind(vm, b, range + 32 * KIB, 8 * KIB, 8 * KIB, 0));
	assert_int_equal(viova_guest_vm_bind(vm, b, range, 4 * KIB, 16 * KIB, 0), -EINVAL);

	struct viova_sim_job jobs[] = {
	    viova_codec_sim_fill(range, 4 * KIB, 0xaaaa0001),
	    viova_codec_sim_fill(range + 32 * KIB, 8 * KIB, 0xbbbb0002),
	};
	struct viova_guest_submit_bo bos[] = {
	    {a, VIOVA_SUBMIT_BO_WRITE, 0},
	    {b, VIOVA_SUBMIT_BO_WRITE, 0},
	};
	run_job(ctx, bos, 2, jobs, 2);
	expect_words(a, 4 * KIB, 4 * KIB, 0xaaaa0001);
	expect_words(a, 0, 4 * KIB, 0);
	expect_words(b, 8 * KIB, 8 * KIB, 0xbbbb0002);
	expect_words(b, 0, 8 * KIB, 0);
	GT_OK(viova_guest_vm_unbind(ctx, vm, range, 64 * KIB));
	assert_int_equal(viova_guest_vm_free(vm, range + 4096), -ENOENT);
	GT_OK(viova_guest_vm_free(vm, range));

	/* an extra VM: a buffer mapped in it by SET_IOVA, then unmapped, then the VM destroyed */
	GT_OK(viova_guest_vm_create(ctx, NULL, &extra));
	assert_int_not_equal(viova_guest_vm_id(extra), viova_guest_vm_id(vm));
	GT_OK(viova_guest_bo_set_iova(a, extra, &eiova));
	GT_OK(viova_guest_vm_info(extra, &vi));
	assert_int_equal(vi.allocations, 1);
	assert_int_equal(viova_guest_vm_destroy(extra), -EBUSY);
	assert_int_equal(viova_guest_vm_destroy(vm), -EINVAL); /* primary */
	GT_OK(viova_guest_bo_clear_iova(a, extra, 5 * SEC));
	GT_OK(viova_guest_retire(dev, 5 * SEC, NULL));
	GT_OK(viova_guest_vm_check(extra));
	GT_OK(viova_guest_vm_destroy(extra));
	GT_OK(viova_guest_sync(dev, 5 * SEC));
	struct viova_guest_ctx_status cs;

	GT_OK(viova_guest_ctx_status(ctx, &cs));
	assert_false(cs.lost);
	GT_OK(viova_guest_vm_info(vm, &vi));
	assert_int_equal(vi.allocations, 0);
	GT_OK(viova_guest_vm_check(vm));
	GT_OK(viova_guest_ctx_destroy(ctx));
	viova_guest_device_close(dev);
}

static void test_host_stats_and_close_cleanup(void **state)
{
	struct viova_guest_host_stats hs;
	struct viova_guest_device *dev = open_dev();
	struct viova_guest_ctx *ctx;
	struct viova_guest_bo *bo;
	(void)state;

	GT_OK(viova_guest_ctx_create(dev, NULL, &ctx));
	for (int i = 0; i < 10; i++)
		GT_OK(viova_guest_bo_create(ctx, 4 * KIB, 0, NULL, &bo));
	GT_OK(viova_guest_sync(dev, 5 * SEC));
	GT_OK(viova_guest_host_stats(daemon_.uri, 5 * SEC, &hs));
	assert_int_equal(hs.connections, 1);
	assert_int_equal(hs.contexts, 1);
	assert_int_equal(hs.buffers, 10);
	assert_int_equal(hs.mappings, 10);
	assert_int_equal(hs.bytes, 40 * KIB);
	/* close destroys the context (and its buffers) without any explicit call */
	viova_guest_device_close(dev);
	for (int tries = 0; tries < 500; tries++) {
		GT_OK(viova_guest_host_stats(daemon_.uri, 5 * SEC, &hs));
		if (hs.connections == 0)
			break;
		gt_sleep_ms(10);
	}
	assert_int_equal(hs.connections, 0);
	assert_int_equal(hs.contexts + hs.buffers + hs.mappings + hs.vms, 0);
	assert_int_equal(viova_guest_host_stats("virtgpu:/x", SEC, &hs), -EOPNOTSUPP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_open_errors),
	    cmocka_unit_test(test_caps_flush_sync_stats),
	    cmocka_unit_test(test_ctx_lifecycle),
	    cmocka_unit_test(test_bo_fill_copy),
	    cmocka_unit_test(test_upload_download_large),
	    cmocka_unit_test(test_set_clear_iova),
	    cmocka_unit_test(test_strategies_and_env),
	    cmocka_unit_test(test_sparse_bind_and_extra_vm),
	    cmocka_unit_test(test_host_stats_and_close_cleanup),
	};

	return cmocka_run_group_tests(tests, gt_group_setup, gt_group_teardown);
}

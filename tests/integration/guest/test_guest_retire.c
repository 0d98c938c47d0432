/* SPDX-License-Identifier: MIT */
/*
 * test_guest_retire.c - the retire queue: an iova released while a job that used it still runs
 * is not handed out again (in this process or in a forked one sharing the VM) until the job's
 * fence has signalled; afterwards it is (LOW_TO_HIGH makes "the same address again" the
 * observable proof), and the host agrees (no context is lost over an overlap).
 *
 * "A job still runs" is made true by giving the sim GPU real work (tens of MiB of fills) and
 * checking the fence is still unsignalled AFTER the allocation that must not reuse the range;
 * if the machine was fast enough to finish first, the round is repeated with more work.
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
#define MIB (1024ull * 1024)
#define BIG (32 * MIB)

GT_SHARED_DAEMON(daemon_)

/* A job of `fills` 32 MiB fills over bo; returns its fence. */
static uint64_t long_job(struct viova_guest_ctx *ctx, struct viova_guest_bo *bo, uint32_t fills)
{
	struct viova_sim_job *jobs = calloc(fills, sizeof(*jobs));
	struct viova_guest_submit_bo b = {bo, VIOVA_SUBMIT_BO_WRITE, 0};
	struct viova_guest_submit s = {
	    .format = VIOVA_SUBMIT_FORMAT_SIM, .bo_count = 1, .bos = &b, .cmds = jobs};
	uint64_t iova, fence;

	assert_non_null(jobs);
	GT_OK(viova_guest_bo_iova(bo, NULL, &iova));
	for (uint32_t i = 0; i < fills; i++)
		jobs[i] = viova_codec_sim_fill(iova, BIG, 0x1000 + i);
	s.cmd_count = fills;
	GT_OK(viova_guest_submit(ctx, &s, &fence, NULL));
	free(jobs);
	return fence;
}

static uint64_t iova_of(struct viova_guest_bo *bo)
{
	uint64_t iova;

	GT_OK(viova_guest_bo_iova(bo, NULL, &iova));
	return iova;
}

/* Child: a context sharing vm, one BIG buffer; writes its iova to fd. */
static void child_alloc(struct viova_guest_device *dev, struct viova_guest_vm *vm, int fd)
{
	struct viova_guest_ctx *ctx;
	struct viova_guest_bo *bo;
	uint64_t iova = 0;
	int ok;

	ok = viova_guest_ctx_create(dev, &(struct viova_guest_ctx_options){.share_vm = vm}, &ctx) ==
		 0 &&
	     viova_guest_bo_create(ctx, BIG, 0, NULL, &bo) == 0 &&
	     viova_guest_bo_iova(bo, NULL, &iova) == 0 && viova_guest_sync(dev, 5 * SEC) == 0;
	if (!ok)
		iova = 0;
	if (write(fd, &iova, sizeof(iova)) != sizeof(iova))
		_exit(3);
	viova_guest_device_close(dev);
	_exit(ok ? 0 : 1);
}

static void test_iova_not_reused_while_job_runs(void **state)
{
	struct viova_guest_vm_options low = {.strategy = VIOVA_GUEST_VMA_LOW_TO_HIGH};
	struct viova_guest_device_options o = {.batch_size = 64 * 1024};
	struct viova_guest_device *dev = NULL;
	struct viova_guest_ctx_status cs;
	struct viova_guest_ctx *ctx;
	struct viova_guest_bo *a, *b, *c;
	struct viova_guest_stats st;
	uint64_t x, fence, child_iova;
	uint32_t fills = 24;
	bool proved = false;
	(void)state;

	GT_OK(viova_guest_device_open(daemon_.uri, &o, &dev));
	GT_OK(viova_guest_ctx_create(dev, &(struct viova_guest_ctx_options){.vm = &low}, &ctx));
	for (int round = 0; round < 4 && !proved; round++, fills *= 3) {
		int fds[2], status;
		pid_t pid;

		GT_OK(viova_guest_bo_create(ctx, BIG, 0, NULL, &a));
		x = iova_of(a);
		fence = long_job(ctx, a, fills);
		GT_OK(viova_guest_bo_close(a));	       /* while its job runs */
		GT_OK(viova_guest_sync(dev, 5 * SEC)); /* retire polls here: must keep it */
		GT_OK(viova_guest_device_stats(dev, &st));

		/* another process sharing the VM asks for the same size meanwhile */
		assert_int_equal(pipe(fds), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			child_alloc(dev, viova_guest_ctx_vm(ctx), fds[1]);
		}
		close(fds[1]);
		assert_int_equal(read(fds[0], &child_iova, sizeof(child_iova)),
				 (ssize_t)sizeof(child_iova));
		close(fds[0]);
		status = gt_wait_pid(pid, 10000);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

		GT_OK(viova_guest_bo_create(ctx, BIG, 0, NULL, &b));
		if (viova_guest_fence_poll(ctx, fence) == 0) {
			/* the job was still running after both allocations: the rule is tested */
			assert_int_equal(st.retire_pending, 1);
			assert_int_not_equal(iova_of(b), x);
			assert_int_not_equal(child_iova, x);
			proved = true;
		}
		GT_OK(viova_guest_fence_wait(ctx, fence, 30 * SEC));
		GT_OK(viova_guest_retire(dev, 5 * SEC, NULL));
		GT_OK(viova_guest_bo_close(b));
		GT_OK(viova_guest_retire(dev, 5 * SEC, NULL));
		/* now it is back: the lowest free range again */
		GT_OK(viova_guest_bo_create(ctx, BIG, 0, NULL, &c));
		assert_int_equal(iova_of(c), x);
		GT_OK(viova_guest_bo_close(c));
		GT_OK(viova_guest_retire(dev, 5 * SEC, NULL));
	}
	if (!proved)
		fail_msg("the sim GPU finished every job before the allocations; no proof");
	/* the host saw no overlap: nothing was lost, nothing logged */
	GT_OK(viova_guest_sync(dev, 5 * SEC));
	GT_OK(viova_guest_ctx_status(ctx, &cs));
	assert_false(cs.lost);
	struct viova_err_rec rec;
	uint32_t n;

	GT_OK(viova_guest_read_errors(dev, &rec, 1, &n));
	assert_int_equal(n, 0);
	GT_OK(viova_guest_ctx_destroy(ctx));
	viova_guest_device_close(dev);
}

static void test_ctx_destroy_returns_iovas(void **state)
{
	struct viova_guest_vm_options low = {.strategy = VIOVA_GUEST_VMA_LOW_TO_HIGH};
	struct viova_guest_device *dev = NULL;
	struct viova_guest_ctx *owner, *worker;
	struct viova_guest_vm_info vi;
	struct viova_guest_ctx_status cs;
	struct viova_guest_bo *a, *again;
	struct viova_guest_vm *vm;
	uint64_t x;
	(void)state;

	GT_OK(viova_guest_device_open(daemon_.uri, NULL, &dev));
	GT_OK(viova_guest_ctx_create(dev, &(struct viova_guest_ctx_options){.vm = &low}, &owner));
	vm = viova_guest_ctx_vm(owner);
	GT_OK(viova_guest_ctx_create(dev, &(struct viova_guest_ctx_options){.share_vm = vm},
				     &worker));
	GT_OK(viova_guest_bo_create(worker, BIG, 0, NULL, &a));
	x = iova_of(a);
	long_job(worker, a, 8);
	/* destroying the worker with a job in flight: its buffer's iova waits for the host */
	GT_OK(viova_guest_ctx_destroy(worker));
	GT_OK(viova_guest_vm_info(vm, &vi));
	assert_int_equal(vi.allocations, 0);
	GT_OK(viova_guest_bo_create(owner, BIG, 0, NULL, &again));
	assert_int_equal(iova_of(again), x);
	GT_OK(viova_guest_sync(dev, 5 * SEC));
	GT_OK(viova_guest_ctx_status(owner, &cs));
	assert_false(cs.lost);
	GT_OK(viova_guest_ctx_destroy(owner));
	viova_guest_device_close(dev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_iova_not_reused_while_job_runs),
	    cmocka_unit_test(test_ctx_destroy_returns_iovas),
	};

	return cmocka_run_group_tests(tests, gt_group_setup, gt_group_teardown);
}

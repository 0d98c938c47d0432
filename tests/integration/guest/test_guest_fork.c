/* SPDX-License-Identifier: MIT */
/*
 * test_guest_fork.c - forked processes sharing a device and a VM:
 *   - fork-simple-stress (after IGT's api_intel_allocator): 8 children with 2 threads each,
 *     plus 2 threads in the parent, allocate and free sparse ranges and create and close
 *     buffers (mapped by the host, which would refuse an overlap) from ONE shared VM heap for
 *     a bounded time. Every live range is entered in a shared record under a lock and checked
 *     against every other live range: no overlap may ever be seen. At the end the heap is
 *     empty and passes its consistency check;
 *   - a child killed while holding the heap lock does not deadlock the others: the next
 *     locker recovers the lock, checks the heap, and goes on;
 *   - a child killed in the middle of an allocator update (the test damages a heap counter, as a
 *     half-done rotation would) leaves the heap broken: every process then gets -EUCLEAN with a
 *     message saying what to do, nothing is handed out twice, other VMs keep working, and the
 *     broken VM's contexts are still destroyed cleanly;
 *   - ownership: a child gets -EPERM on its parent's contexts and buffers, works in its own
 *     context on the shared VM, and its exit leaves the parent's objects intact.
 */
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "guest_priv.h" /* only to damage the heap like a process dying mid-update */
#include "guest_test.h"
#include "viova/codec.h"
#include "vma_priv.h"

#define SEC 1000000000ull
#define KIB 1024ull
#define CHILDREN 8
#define THREADS 2
#define STRESS_NS 1500000000ull
#define RECORD_SLOTS 4096

GT_SHARED_DAEMON(daemon_)

/* Shared record of live ranges (MAP_SHARED anonymous: inherited by the children). */
struct live_record {
	pthread_mutex_t lock; /* process-shared */
	uint32_t overlaps;
	uint32_t failures;
	uint64_t allocs, frees, buffers;
	char failure[256];
	struct {
		uint64_t start, end; /* end == 0: free slot */
	} slot[RECORD_SLOTS];
};

static struct live_record *rec;

static void record_fail(const char *what, int ret)
{
	pthread_mutex_lock(&rec->lock);
	if (!rec->failures++)
		snprintf(rec->failure, sizeof(rec->failure), "pid %d: %s = %d: %s", (int)getpid(),
			 what, ret, viova_guest_last_error());
	pthread_mutex_unlock(&rec->lock);
}

/* Enter [start, end) as live; count an overlap with any live range. Returns the slot. */
static int record_add(uint64_t start, uint64_t end)
{
	int free_slot = -1;

	pthread_mutex_lock(&rec->lock);
	for (int i = 0; i < RECORD_SLOTS; i++) {
		if (!rec->slot[i].end) {
			if (free_slot < 0)
				free_slot = i;
			continue;
		}
		if (start < rec->slot[i].end && rec->slot[i].start < end)
			rec->overlaps++;
	}
	if (free_slot >= 0) {
		rec->slot[free_slot].start = start;
		rec->slot[free_slot].end = end;
	}
	pthread_mutex_unlock(&rec->lock);
	return free_slot;
}

static void record_del(int slot)
{
	pthread_mutex_lock(&rec->lock);
	rec->slot[slot].end = 0;
	pthread_mutex_unlock(&rec->lock);
}

struct worker {
	struct viova_guest_device *dev;
	struct viova_guest_vm *vm;
	struct viova_guest_ctx *ctx; /* this process's context on vm */
	uint64_t seed;
	pthread_t thread;
};

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

#define LIVE 24

static void *stress_thread(void *arg)
{
	struct worker *w = arg;
	struct {
		uint64_t addr;
		struct viova_guest_bo *bo; /* NULL: a sparse range */
		int slot;
		bool used;
	} live[LIVE] = {0};
	uint64_t deadline = gt_now_ns() + STRESS_NS, ops = 0;
	int ret;

	while (gt_now_ns() < deadline) {
		int i = (int)(rnd(&w->seed) % LIVE);
		uint64_t size = (1 + rnd(&w->seed) % 16) * 4 * KIB;

		if (live[i].used) {
			/* free it: leave the record first, then give the range back */
			if (live[i].slot >= 0)
				record_del(live[i].slot);
			if (live[i].bo)
				ret = viova_guest_bo_close(live[i].bo);
			else
				ret = viova_guest_vm_free(w->vm, live[i].addr);
			if (ret)
				record_fail("free", ret);
			live[i].used = false;
			__atomic_add_fetch(&rec->frees, 1, __ATOMIC_RELAXED);
		} else if (rnd(&w->seed) % 4 == 0) {
			/* a real buffer: the host maps it and would refuse an overlapping iova */
			ret = viova_guest_bo_create(w->ctx, size, 0, NULL, &live[i].bo);
			if (ret) {
				record_fail("bo_create", ret);
				live[i].bo = NULL;
				continue;
			}
			viova_guest_bo_iova(live[i].bo, NULL, &live[i].addr);
			live[i].slot = record_add(live[i].addr, live[i].addr + size);
			live[i].used = true;
			__atomic_add_fetch(&rec->buffers, 1, __ATOMIC_RELAXED);
		} else {
			uint64_t align = 4 * KIB << (rnd(&w->seed) % 5);

			live[i].bo = NULL;
			ret = viova_guest_vm_alloc(w->vm, size, align, &live[i].addr);
			if (ret) {
				record_fail("vm_alloc", ret);
				continue;
			}
			live[i].used = true;
			if (live[i].addr % align)
				record_fail("alignment", -EINVAL);
			live[i].slot = record_add(live[i].addr, live[i].addr + size);
			__atomic_add_fetch(&rec->allocs, 1, __ATOMIC_RELAXED);
		}
		if (++ops % 32 == 0)
			viova_guest_retire(w->dev, 0, NULL); /* flush + give back what is ready */
	}
	for (int i = 0; i < LIVE; i++) {
		if (!live[i].used)
			continue;
		if (live[i].slot >= 0)
			record_del(live[i].slot);
		ret = live[i].bo ? viova_guest_bo_close(live[i].bo)
				 : viova_guest_vm_free(w->vm, live[i].addr);
		if (ret)
			record_fail("final free", ret);
	}
	return NULL;
}

/* Run THREADS stress threads on vm through a new context of this process; 0 on success. */
static int stress_process(struct viova_guest_device *dev, struct viova_guest_vm *vm, uint64_t seed)
{
	struct worker w[THREADS];
	struct viova_guest_ctx *ctx;
	struct viova_guest_ctx_status cs;
	uint32_t pending = 1;
	int ret;

	ret = viova_guest_ctx_create(dev, &(struct viova_guest_ctx_options){.share_vm = vm}, &ctx);
	if (ret) {
		record_fail("ctx_create", ret);
		return 1;
	}
	for (int t = 0; t < THREADS; t++) {
		w[t] = (struct worker){.dev = dev, .vm = vm, .ctx = ctx, .seed = seed * 31 + t + 1};
		pthread_create(&w[t].thread, NULL, stress_thread, &w[t]);
	}
	for (int t = 0; t < THREADS; t++)
		pthread_join(w[t].thread, NULL);
	ret = viova_guest_sync(dev, 5 * SEC);
	if (ret == 0)
		ret = viova_guest_retire(dev, 5 * SEC, &pending);
	if (ret)
		record_fail("final retire", ret);
	viova_guest_ctx_status(ctx, &cs);
	if (cs.lost)
		record_fail("context lost (the host saw an overlap?)", -EIO);
	ret = viova_guest_ctx_destroy(ctx);
	if (ret)
		record_fail("ctx_destroy", ret);
	return 0;
}

static void test_fork_simple_stress(void **state)
{
	pthread_mutexattr_t a;
	struct viova_guest_device *dev = NULL;
	struct viova_guest_ctx *ctx;
	struct viova_guest_vm_info vi;
	struct viova_guest_vm *vm;
	pid_t pids[CHILDREN];
	uint64_t t0 = gt_now_ns();
	(void)state;

	rec = mmap(NULL, sizeof(*rec), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(rec != MAP_FAILED);
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutex_init(&rec->lock, &a);
	pthread_mutexattr_destroy(&a);

	GT_OK(viova_guest_device_open(daemon_.uri, NULL, &dev));
	/* RANDOM placement: ranges land all over the window, in every process */
	GT_OK(viova_guest_ctx_create(
	    dev,
	    &(struct viova_guest_ctx_options){
		.vm = &(struct viova_guest_vm_options){.strategy = VIOVA_GUEST_VMA_RANDOM,
						       .seed = 7}},
	    &ctx));
	vm = viova_guest_ctx_vm(ctx);
	GT_OK(viova_guest_sync(dev, 5 * SEC));
	for (int c = 0; c < CHILDREN; c++) {
		pids[c] = fork();
		assert_true(pids[c] >= 0);
		if (pids[c] == 0) {
			int ret = stress_process(dev, vm, 100 + (uint64_t)c);

			viova_guest_device_close(dev);
			_exit(ret);
		}
	}
	/* the parent's own two threads run at the same time */
	assert_int_equal(stress_process(dev, vm, 1), 0);
	for (int c = 0; c < CHILDREN; c++) {
		int st = gt_wait_pid(pids[c], 10000);

		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			fail_msg("child %d: wait status 0x%x", c, st);
	}
	if (rec->failures)
		fail_msg("%u failures, first: %s", rec->failures, rec->failure);
	assert_int_equal(rec->overlaps, 0);
	assert_true(rec->allocs > 200 && rec->buffers > 50); /* work really happened */
	assert_true(gt_now_ns() - t0 < 5 * SEC);
	/* every range went back: the shared heap is empty and consistent */
	GT_OK(viova_guest_vm_info(vm, &vi));
	assert_int_equal(vi.allocations, 0);
	assert_false(vi.broken);
	assert_int_equal(vi.recoveries, 0);
	GT_OK(viova_guest_vm_check(vm));
	print_message("fork stress: %" PRIu64 " ranges, %" PRIu64 " buffers, %" PRIu64
		      " frees in %.2f s, 0 overlaps\n",
		      rec->allocs, rec->buffers, rec->frees, (double)(gt_now_ns() - t0) / 1e9);
	GT_OK(viova_guest_ctx_destroy(ctx));
	viova_guest_device_close(dev);
	munmap(rec, sizeof(*rec));
}

static void test_child_dies_holding_heap_lock(void **state)
{
	struct viova_guest_device *dev = NULL;
	struct viova_guest_vm_info vi;
	struct viova_guest_stats st;
	struct viova_guest_ctx *ctx;
	struct viova_guest_vm *vm;
	uint64_t addr;
	int status;
	pid_t pid;
	(void)state;

	GT_OK(viova_guest_device_open(daemon_.uri, NULL, &dev));
	GT_OK(viova_guest_ctx_create(dev, NULL, &ctx));
	vm = viova_guest_ctx_vm(ctx);
	GT_OK(viova_guest_vm_alloc(vm, 4 * KIB, 0, &addr));
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		uint64_t a;

		/* allocate (the lock works here), then take the lock and die with it */
		if (viova_guest_vm_alloc(vm, 4 * KIB, 0, &a) || viova_guest_vm_debug_lock(vm))
			_exit(1);
		raise(SIGKILL);
		_exit(2);
	}
	status = gt_wait_pid(pid, 5000);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	alarm(10); /* a deadlock here would otherwise hang the test until meson's timeout */
	GT_OK(viova_guest_vm_alloc(vm, 8 * KIB, 0, &addr));
	alarm(0);
	GT_OK(viova_guest_vm_info(vm, &vi));
	assert_int_equal(vi.recoveries, 1);
	assert_false(vi.broken);
	assert_int_equal(vi.allocations, 3); /* the dead child's range: until somebody reaps */
	GT_OK(viova_guest_vm_check(vm));
	GT_OK(viova_guest_device_stats(dev, &st));
	assert_int_equal(st.lock_recoveries, 1);
	GT_OK(viova_guest_ctx_destroy(ctx));
	viova_guest_device_close(dev);
}

static void test_child_dies_leaving_heap_broken(void **state)
{
	struct viova_guest_device *dev = NULL;
	struct viova_guest_ctx *ctx, *other;
	struct viova_guest_vm_info vi;
	struct viova_guest_bo *bo, *bo2;
	struct viova_guest_vm *vm;
	uint64_t addr, before;
	int status;
	pid_t pid;
	(void)state;

	GT_OK(viova_guest_device_open(daemon_.uri, NULL, &dev));
	GT_OK(viova_guest_ctx_create(dev, NULL, &ctx));
	vm = viova_guest_ctx_vm(ctx);
	GT_OK(viova_guest_bo_create(ctx, 4 * KIB, 0, NULL, &bo));
	GT_OK(viova_guest_vm_info(vm, &vi));
	before = vi.allocations;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* Inside the allocator's critical section: leave it inconsistent, then die. */
		if (viova_guest_vm_debug_lock(vm))
			_exit(1);
		vm->heap.vma->r->holes++;
		raise(SIGKILL);
		_exit(2);
	}
	status = gt_wait_pid(pid, 5000);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	alarm(10);
	assert_int_equal(viova_guest_vm_alloc(vm, 8 * KIB, 0, &addr), -EUCLEAN);
	alarm(0);
	assert_non_null(strstr(viova_guest_last_error(), "broken"));
	assert_non_null(strstr(viova_guest_last_error(), "create a new one"));
	/* Every allocation path refuses, and keeps refusing. */
	assert_int_equal(viova_guest_bo_create(ctx, 4 * KIB, 0, NULL, &bo2), -EUCLEAN);
	assert_int_equal(viova_guest_vm_alloc(vm, 4 * KIB, 0, &addr), -EUCLEAN);
	assert_int_equal(viova_guest_vm_check(vm), -EUCLEAN);
	GT_OK(viova_guest_vm_info(vm, &vi));
	assert_true(vi.broken);
	assert_int_equal(vi.recoveries, 1);
	/* A broken tree's statistics are not reported (they cannot be trusted). */
	assert_int_equal(vi.allocations, 0);
	assert_true(before > 0);

	/* A context with its own VM is unaffected. */
	GT_OK(viova_guest_ctx_create(dev, NULL, &other));
	assert_ptr_not_equal(viova_guest_ctx_vm(other), vm);
	GT_OK(viova_guest_bo_create(other, 4 * KIB, 0, NULL, &bo2));
	GT_OK(viova_guest_sync(dev, 5 * SEC));

	/* The broken VM's buffer and context still go away (the host is told; no hang). */
	alarm(10);
	GT_OK(viova_guest_bo_close(bo));
	GT_OK(viova_guest_ctx_destroy(ctx));
	GT_OK(viova_guest_sync(dev, 5 * SEC));
	alarm(0);
	GT_OK(viova_guest_bo_close(bo2));
	GT_OK(viova_guest_ctx_destroy(other));
	viova_guest_device_close(dev);
}

static void test_child_ownership(void **state)
{
	struct viova_guest_device *dev = NULL;
	struct viova_guest_ctx *ctx;
	struct viova_guest_bo *bo;
	uint64_t iova, fence;
	uint32_t word = 0;
	int status;
	pid_t pid;
	(void)state;

	GT_OK(viova_guest_device_open(daemon_.uri, NULL, &dev));
	GT_OK(viova_guest_ctx_create(dev, NULL, &ctx));
	GT_OK(viova_guest_bo_create(ctx, 4 * KIB, 0, NULL, &bo));
	GT_OK(viova_guest_bo_iova(bo, NULL, &iova));
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct viova_guest_ctx *mine;
		struct viova_guest_bo *b2, *tmp;
		uint64_t i2, f;
		uint32_t w = 0;
		int bad = 0;

		/* the parent's objects are off limits */
		bad |= viova_guest_bo_create(ctx, 4 * KIB, 0, NULL, &tmp) != -EPERM;
		bad |= viova_guest_bo_close(bo) != -EPERM;
		bad |= viova_guest_ctx_destroy(ctx) != -EPERM;
		bad |= viova_guest_bo_download(bo, 0, &w, 4, SEC) != -EPERM;
		/* its own context on the shared VM works, with a distinct id and iova */
		bad |=
		    viova_guest_ctx_create(
			dev, &(struct viova_guest_ctx_options){.share_vm = viova_guest_ctx_vm(ctx)},
			&mine) != 0;
		if (bad)
			_exit(10);
		bad |= viova_guest_ctx_id(mine) == viova_guest_ctx_id(ctx);
		bad |= viova_guest_bo_create(mine, 4 * KIB, 0, NULL, &b2) != 0;
		if (bad)
			_exit(11);
		viova_guest_bo_iova(b2, NULL, &i2);
		bad |= i2 == iova;
		struct viova_sim_job j = viova_codec_sim_fill(i2, 4 * KIB, 0xc41d);
		struct viova_guest_submit_bo sb = {b2, VIOVA_SUBMIT_BO_WRITE, 0};
		struct viova_guest_submit s = {.format = VIOVA_SUBMIT_FORMAT_SIM,
					       .bo_count = 1,
					       .bos = &sb,
					       .cmds = &j,
					       .cmd_count = 1};

		bad |= (viova_guest_submit(mine, &s, &f, NULL) != 0) << 1;
		bad |= (viova_guest_fence_wait(mine, f, 5 * SEC) != 0) << 2;
		bad |= (viova_guest_bo_download(b2, 0, &w, 4, 5 * SEC) != 0 || w != 0xc41d) << 3;
		if (bad)
			fprintf(stderr, "child: bad 0x%x: %s\n", bad, viova_guest_last_error());
		viova_guest_device_close(dev); /* destroys only the child's context */
		_exit(bad ? 12 : 0);
	}
	status = gt_wait_pid(pid, 10000);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* the parent's context and buffer still work */
	struct viova_sim_job j = viova_codec_sim_fill(iova, 4 * KIB, 0x9a4e);
	struct viova_guest_submit_bo sb = {bo, VIOVA_SUBMIT_BO_WRITE, 0};
	struct viova_guest_submit s = {.format = VIOVA_SUBMIT_FORMAT_SIM,
				       .bo_count = 1,
				       .bos = &sb,
				       .cmds = &j,
				       .cmd_count = 1};

	GT_OK(viova_guest_submit(ctx, &s, &fence, NULL));
	GT_OK(viova_guest_fence_wait(ctx, fence, 5 * SEC));
	GT_OK(viova_guest_bo_download(bo, 0, &word, 4, 5 * SEC));
	assert_int_equal(word, 0x9a4e);
	GT_OK(viova_guest_ctx_destroy(ctx));
	viova_guest_device_close(dev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fork_simple_stress),
	    cmocka_unit_test(test_child_dies_holding_heap_lock),
	    cmocka_unit_test(test_child_dies_leaving_heap_broken),
	    cmocka_unit_test(test_child_ownership),
	};

	return cmocka_run_group_tests(tests, gt_group_setup, gt_group_teardown);
}

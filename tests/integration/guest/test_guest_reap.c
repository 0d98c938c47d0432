/* SPDX-License-Identifier: MIT */
/*
 * test_guest_reap.c - orphan reaping (docs/guest-api.md "Orphan reaping"), against the daemon:
 *   - a forked child makes a context on the parent's VM (two buffers, a sparse range, a job)
 *     and a context with its own VM, and is SIGKILLed; viova_guest_device_reap (while the child
 *     is still a zombie) destroys both contexts on the host, the shared heap goes back to the
 *     parent's own allocations, the parent gets the freed iova again and the host maps a new
 *     buffer there (it would refuse an overlap), and the parent's context is untouched;
 *   - the same happens implicitly at the next ctx_create, and at a sync (rate-limited);
 *   - a child killed while holding the heap lock is reaped too (lock recovered, index rebuilt);
 *   - two survivors reaping at the same moment release each orphan exactly once;
 *   - a live child is never reaped, and its context keeps working;
 *   - a reused pid does not pass for the dead owner (a faked slot: see the test).
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "guest_priv.h" /* only to fake a reused pid in a proc slot */
#include "guest_test.h"
#include "viova/codec.h"

#define SEC 1000000000ull
#define KIB 1024ull
#define BO_SIZE (64 * KIB)

GT_SHARED_DAEMON(daemon_)

/* What a victim made, told to the parent through shared memory. */
struct victim {
	pid_t pid;
	int ready_fd; /* parent's end: one byte when everything is on the host */
	uint64_t iova[2];
	uint64_t sparse;
};

static struct victim *victims_map(unsigned n)
{
	struct victim *v =
	    mmap(NULL, sizeof(*v) * n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	assert_true(v != MAP_FAILED);
	memset(v, 0, sizeof(*v) * n);
	return v;
}

static uint32_t host_contexts(void)
{
	struct viova_guest_host_stats hs;

	GT_OK(viova_guest_host_stats(daemon_.uri, 5 * SEC, &hs));
	return hs.contexts;
}

/* The daemon's context count becomes want within timeout_ms (other connections settle). */
static void expect_host_contexts(uint32_t want, unsigned timeout_ms)
{
	uint64_t deadline = gt_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	uint32_t got;

	while ((got = host_contexts()) != want && gt_now_ns() < deadline)
		gt_sleep_ms(5);
	if (got != want)
		fail_msg("the host has %u contexts, expected %u", got, want);
}

static uint64_t heap_allocations(struct viova_guest_vm *vm)
{
	struct viova_guest_vm_info vi;

	GT_OK(viova_guest_vm_info(vm, &vi));
	return vi.allocations;
}

/* Fill a buffer on the GPU and read a word back: the context and the mapping work. */
static void fill_and_check(struct viova_guest_ctx *ctx, struct viova_guest_bo *bo, uint32_t val)
{
	struct viova_guest_submit_bo sb = {bo, VIOVA_SUBMIT_BO_WRITE, 0};
	struct viova_sim_job j;
	struct viova_guest_submit s;
	uint64_t iova, fence;
	uint32_t word = 0;

	GT_OK(viova_guest_bo_iova(bo, NULL, &iova));
	j = viova_codec_sim_fill(iova, BO_SIZE, val);
	s = (struct viova_guest_submit){.format = VIOVA_SUBMIT_FORMAT_SIM,
					.bo_count = 1,
					.bos = &sb,
					.cmds = &j,
					.cmd_count = 1};
	GT_OK(viova_guest_submit(ctx, &s, &fence, NULL));
	GT_OK(viova_guest_fence_wait(ctx, fence, 5 * SEC));
	GT_OK(viova_guest_bo_download(bo, BO_SIZE - 4, &word, 4, 5 * SEC));
	assert_int_equal(word, val);
}

/* In the child: a context on vm with two buffers (one used by a job) and a sparse range, a
 * context with its own VM and a buffer; all on the host; then wait to be killed. */
static void victim_body(struct viova_guest_device *dev, struct viova_guest_vm *vm, struct victim *v,
			int fd, bool hold_heap_lock)
{
	struct viova_guest_ctx *cs, *co;
	struct viova_guest_bo *b0, *b1, *b2;
	struct viova_guest_submit_bo sb;
	struct viova_guest_submit s;
	struct viova_sim_job j;
	uint64_t fence;
	char one = 1;

	if (viova_guest_ctx_create(dev, &(struct viova_guest_ctx_options){.share_vm = vm}, &cs) ||
	    viova_guest_bo_create(cs, BO_SIZE, 0, NULL, &b0) ||
	    viova_guest_bo_create(cs, BO_SIZE, 0, NULL, &b1) ||
	    viova_guest_bo_iova(b0, NULL, &v->iova[0]) ||
	    viova_guest_bo_iova(b1, NULL, &v->iova[1]) ||
	    viova_guest_vm_alloc(vm, BO_SIZE, 0, &v->sparse) ||
	    viova_guest_ctx_create(dev, NULL, &co) ||
	    viova_guest_bo_create(co, BO_SIZE, 0, NULL, &b2))
		_exit(20);
	j = viova_codec_sim_fill(v->iova[0], BO_SIZE, 0xdead);
	sb = (struct viova_guest_submit_bo){b0, VIOVA_SUBMIT_BO_WRITE, 0};
	s = (struct viova_guest_submit){.format = VIOVA_SUBMIT_FORMAT_SIM,
					.bo_count = 1,
					.bos = &sb,
					.cmds = &j,
					.cmd_count = 1};
	if (viova_guest_submit(cs, &s, &fence, NULL) ||
	    viova_guest_fence_wait(cs, fence, 5 * SEC) || viova_guest_sync(dev, 5 * SEC))
		_exit(21);
	if (hold_heap_lock && viova_guest_vm_debug_lock(vm))
		_exit(22);
	if (write(fd, &one, 1) != 1)
		_exit(23);
	for (;;)
		pause();
}

static void victim_start(struct viova_guest_device *dev, struct viova_guest_vm *vm,
			 struct victim *v, bool hold_heap_lock)
{
	int fds[2];
	pid_t pid;
	char c;

	assert_int_equal(pipe(fds), 0);
	pid = fork(); /* not into *v: it is shared, the child would write 0 there */
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		victim_body(dev, vm, v, fds[1], hold_heap_lock);
	}
	v->pid = pid;
	close(fds[1]);
	v->ready_fd = fds[0];
	if (read(v->ready_fd, &c, 1) != 1) {
		int st = gt_wait_pid(v->pid, 5000);

		fail_msg("victim %d did not get ready (wait status 0x%x)", (int)v->pid, st);
	}
	close(v->ready_fd);
}

/* SIGKILL and wait; with keep_zombie the child is left unreaped (dead, pid still taken). */
static void victim_kill(struct victim *v, bool keep_zombie)
{
	siginfo_t si = {0};

	assert_int_equal(kill(v->pid, SIGKILL), 0);
	if (keep_zombie) {
		assert_int_equal(waitid(P_PID, (id_t)v->pid, &si, WEXITED | WNOWAIT), 0);
		assert_int_equal(si.si_code, CLD_KILLED);
	} else {
		int st = gt_wait_pid(v->pid, 5000);

		assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	}
}

/* The parent: one context (its own VM, the one the victims share) with one buffer. */
struct parent {
	struct viova_guest_device *dev;
	struct viova_guest_ctx *ctx;
	struct viova_guest_vm *vm;
	struct viova_guest_bo *bo;
	uint32_t contexts0; /* host contexts with only the parent's */
};

static void parent_open(struct parent *p)
{
	memset(p, 0, sizeof(*p));
	expect_host_contexts(0, 5000); /* earlier tests' connections are gone */
	GT_OK(viova_guest_device_open(daemon_.uri, NULL, &p->dev));
	/* HIGH_TO_LOW: the next range of a size is the highest free one, so reuse shows */
	GT_OK(viova_guest_ctx_create(
	    p->dev,
	    &(struct viova_guest_ctx_options){
		.vm = &(struct viova_guest_vm_options){.strategy = VIOVA_GUEST_VMA_HIGH_TO_LOW}},
	    &p->ctx));
	p->vm = viova_guest_ctx_vm(p->ctx);
	GT_OK(viova_guest_bo_create(p->ctx, BO_SIZE, 0, NULL, &p->bo));
	GT_OK(viova_guest_sync(p->dev, 5 * SEC));
	p->contexts0 = 1;
	expect_host_contexts(p->contexts0, 2000);
}

/* Nothing went wrong on the host (a double CTX_DESTROY would be logged), parent intact. */
static void parent_check_close(struct parent *p, uint32_t val)
{
	struct viova_guest_ctx_status cs;
	struct viova_err_rec rec;
	char line[256];
	uint32_t n = 0;

	fill_and_check(p->ctx, p->bo, val);
	GT_OK(viova_guest_sync(p->dev, 5 * SEC));
	GT_OK(viova_guest_read_errors(p->dev, &rec, 1, &n));
	if (n) {
		viova_guest_format_error(&rec, line, sizeof(line));
		fail_msg("host error: %s", line);
	}
	GT_OK(viova_guest_ctx_status(p->ctx, &cs));
	assert_false(cs.lost);
	GT_OK(viova_guest_vm_check(p->vm));
	GT_OK(viova_guest_bo_close(p->bo));
	GT_OK(viova_guest_ctx_destroy(p->ctx));
	viova_guest_device_close(p->dev);
}

static void test_reap_explicit(void **state)
{
	struct viova_guest_reap r = {0};
	struct viova_guest_ctx_status cs;
	struct viova_guest_bo *again;
	struct victim *v = victims_map(1);
	struct parent p;
	uint64_t iova, x;
	(void)state;

	parent_open(&p);
	victim_start(p.dev, p.vm, v, false);
	expect_host_contexts(p.contexts0 + 2, 2000);
	assert_int_equal(heap_allocations(p.vm), 1 + 3);
	victim_kill(v, true); /* a zombie: dead, not yet waited for */

	GT_OK(viova_guest_device_reap(p.dev, &r));
	assert_int_equal(r.contexts, 2);
	assert_int_equal(r.processes, 1);
	assert_int_equal(r.ranges, 3);
	/* the host dropped both contexts (the reap waited for that), the heap is the parent's */
	assert_int_equal(host_contexts(), p.contexts0);
	assert_int_equal(heap_allocations(p.vm), 1);
	GT_OK(viova_guest_vm_check(p.vm));
	/* nothing is left: a second pass does nothing */
	GT_OK(viova_guest_device_reap(p.dev, &r));
	assert_true(r.contexts == 0 && r.processes == 0 && r.ranges == 0);

	/* the highest free range is the child's first buffer's again; the host maps it */
	GT_OK(viova_guest_bo_create(p.ctx, BO_SIZE, 0, NULL, &again));
	GT_OK(viova_guest_bo_iova(again, NULL, &iova));
	x = v->iova[0];
	assert_int_equal(iova, x);
	GT_OK(viova_guest_bo_iova(p.bo, NULL, &x));
	assert_true(iova + BO_SIZE <= x || x + BO_SIZE <= iova); /* no overlap with a live one */
	fill_and_check(p.ctx, again, 0x600d);
	GT_OK(viova_guest_ctx_status(p.ctx, &cs));
	assert_false(cs.lost);
	GT_OK(viova_guest_bo_close(again));
	gt_wait_pid(v->pid, 5000); /* now reap the zombie */
	parent_check_close(&p, 0xa11e);
	munmap(v, sizeof(*v));
}

static void test_reap_implicit_ctx_create(void **state)
{
	struct viova_guest_ctx *more;
	struct victim *v = victims_map(1);
	struct parent p;
	(void)state;

	parent_open(&p);
	victim_start(p.dev, p.vm, v, false);
	victim_kill(v, false);
	expect_host_contexts(p.contexts0 + 2, 2000); /* the orphans are still there */
	assert_int_equal(heap_allocations(p.vm), 1 + 3);

	GT_OK(viova_guest_ctx_create(p.dev, NULL, &more)); /* reaps first */
	assert_int_equal(heap_allocations(p.vm), 1);
	GT_OK(viova_guest_sync(p.dev, 5 * SEC));
	assert_int_equal(host_contexts(), p.contexts0 + 1);
	GT_OK(viova_guest_ctx_destroy(more));
	parent_check_close(&p, 0xc7e);
	munmap(v, sizeof(*v));
}

static void test_reap_implicit_sync(void **state)
{
	struct victim *v = victims_map(1);
	struct parent p;
	(void)state;

	parent_open(&p);
	victim_start(p.dev, p.vm, v, false);
	victim_kill(v, false);
	assert_int_equal(heap_allocations(p.vm), 1 + 3);
	gt_sleep_ms(300); /* sync looks for orphans at most every 250 ms */
	GT_OK(viova_guest_sync(p.dev, 5 * SEC));
	assert_int_equal(host_contexts(), p.contexts0);
	assert_int_equal(heap_allocations(p.vm), 1);
	parent_check_close(&p, 0x5c);
	munmap(v, sizeof(*v));
}

static void test_reap_after_death_holding_heap_lock(void **state)
{
	struct viova_guest_reap r = {0};
	struct viova_guest_vm_info vi;
	struct victim *v = victims_map(1);
	struct parent p;
	(void)state;

	parent_open(&p);
	victim_start(p.dev, p.vm, v, true);
	victim_kill(v, false);
	alarm(10); /* a deadlock would otherwise hang until meson's timeout */
	GT_OK(viova_guest_device_reap(p.dev, &r));
	alarm(0);
	assert_int_equal(r.contexts, 2);
	assert_int_equal(r.ranges, 3);
	GT_OK(viova_guest_vm_info(p.vm, &vi));
	assert_int_equal(vi.recoveries, 1);
	assert_false(vi.broken);
	assert_int_equal(vi.allocations, 1);
	assert_int_equal(host_contexts(), p.contexts0);
	parent_check_close(&p, 0x10c4);
	munmap(v, sizeof(*v));
}

#define VICTIMS 3

/* Shared between the parent and the second survivor. */
struct race {
	uint32_t go;
	uint32_t ready;
	int ret[2];
	struct viova_guest_reap r[2];
};

static void race_reap(struct race *rc, int who, struct viova_guest_device *dev)
{
	__atomic_add_fetch(&rc->ready, 1, __ATOMIC_ACQ_REL);
	while (!__atomic_load_n(&rc->go, __ATOMIC_ACQUIRE))
		;
	rc->ret[who] = viova_guest_device_reap(dev, &rc->r[who]);
}

static void test_reap_concurrent_exactly_once(void **state)
{
	struct race *rc;
	struct victim *v = victims_map(VICTIMS);
	struct parent p;
	(void)state;

	rc = mmap(NULL, sizeof(*rc), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(rc != MAP_FAILED);
	parent_open(&p);
	for (int round = 0; round < 4; round++) {
		pid_t other;
		int st;

		memset(rc, 0, sizeof(*rc));
		for (int i = 0; i < VICTIMS; i++)
			victim_start(p.dev, p.vm, &v[i], false);
		expect_host_contexts(p.contexts0 + 2 * VICTIMS, 2000);
		/* a second survivor (it owns a context of its own, like the parent) */
		other = fork();
		assert_true(other >= 0);
		if (other == 0) {
			struct viova_guest_ctx *mine;

			if (viova_guest_ctx_create(
				p.dev, &(struct viova_guest_ctx_options){.share_vm = p.vm}, &mine))
				_exit(30);
			race_reap(rc, 1, p.dev);
			viova_guest_ctx_destroy(mine);
			viova_guest_device_close(p.dev);
			_exit(0);
		}
		/* its ctx_create (which reaps implicitly) is done before the victims die */
		while (__atomic_load_n(&rc->ready, __ATOMIC_ACQUIRE) < 1)
			gt_sleep_ms(1);
		for (int i = 0; i < VICTIMS; i++)
			victim_kill(&v[i], false);
		__atomic_add_fetch(&rc->ready, 1, __ATOMIC_ACQ_REL);
		__atomic_store_n(&rc->go, 1, __ATOMIC_RELEASE);
		rc->ret[0] = viova_guest_device_reap(p.dev, &rc->r[0]);
		st = gt_wait_pid(other, 10000);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		GT_OK(rc->ret[0]);
		assert_int_equal(rc->ret[1], 0);
		/* each orphan destroyed once in all, each dead process recycled once */
		assert_int_equal(rc->r[0].contexts + rc->r[1].contexts, 2 * VICTIMS);
		assert_int_equal(rc->r[0].processes + rc->r[1].processes, VICTIMS);
		/* the parent swept its heap: none of the dead's ranges is left in it */
		GT_OK(viova_guest_device_reap(p.dev, &rc->r[0]));
		assert_int_equal(heap_allocations(p.vm), 1);
		expect_host_contexts(p.contexts0, 2000);
	}
	parent_check_close(&p, 0x0cce);
	munmap(rc, sizeof(*rc));
	munmap(v, sizeof(*v) * VICTIMS);
}

static void test_reap_spares_live_child(void **state)
{
	struct viova_guest_reap r = {0};
	struct viova_guest_ctx *more;
	struct parent p;
	int ready[2], go[2], st;
	pid_t pid;
	char c = 1;
	(void)state;

	parent_open(&p);
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct viova_guest_ctx *mine;
		struct viova_guest_bo *bo;

		close(ready[0]);
		close(go[1]);
		if (viova_guest_ctx_create(
			p.dev, &(struct viova_guest_ctx_options){.share_vm = p.vm}, &mine) ||
		    viova_guest_bo_create(mine, BO_SIZE, 0, NULL, &bo) ||
		    viova_guest_sync(p.dev, 5 * SEC) || write(ready[1], &c, 1) != 1 ||
		    read(go[0], &c, 1) != 1)
			_exit(40);
		/* after the parent's reaps: the context and its buffer still work */
		fill_and_check(mine, bo, 0x11fe);
		viova_guest_device_close(p.dev);
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	GT_OK(viova_guest_device_reap(p.dev, &r));
	assert_true(r.contexts == 0 && r.processes == 0 && r.ranges == 0);
	GT_OK(viova_guest_ctx_create(p.dev, NULL, &more));
	GT_OK(viova_guest_sync(p.dev, 5 * SEC));
	assert_int_equal(host_contexts(), p.contexts0 + 2);
	assert_int_equal(heap_allocations(p.vm), 2);
	GT_OK(viova_guest_ctx_destroy(more));
	assert_int_equal(write(go[1], &c, 1), 1);
	st = gt_wait_pid(pid, 10000);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	close(ready[0]);
	close(go[1]);
	/* it closed its device: everything of it is gone, nothing for a reaper */
	assert_int_equal(heap_allocations(p.vm), 1);
	parent_check_close(&p, 0x5afe);
}

/*
 * A pid is reused only after its process died and was waited for. The test cannot make the
 * kernel hand a dead child's pid to a new process on demand, so it fakes the result: the dead
 * child's slot is made to name a live process (a sleeping helper) while keeping the child's
 * start time. A liveness test by pid alone (kill(pid, 0)) would take the orphans for live
 * ones forever; the start time (/proc/<pid>/stat field 22) tells them apart.
 */
static void test_reap_pid_reuse(void **state)
{
	struct viova_guest_reap r = {0};
	struct victim *v = victims_map(1);
	struct parent p;
	uint32_t slot = GUEST_MAX_PROCS;
	pid_t helper;
	int ret;
	(void)state;

	parent_open(&p);
	victim_start(p.dev, p.vm, v, false);
	for (uint32_t s = 0; s < GUEST_MAX_PROCS; s++) {
		const struct guest_proc *gp = &p.dev->sh->procs[s];

		if ((uint32_t)gp->gs == GUEST_PROC_ACTIVE && gp->pid == v->pid)
			slot = s;
	}
	assert_true(slot < GUEST_MAX_PROCS); /* the victim owns things: it has a slot */
	/*
	 * Start times count clock ticks (10 ms): a real reuse needs the kernel to go through
	 * every other pid first, which takes far longer; the fake must not start in the same tick.
	 */
	gt_sleep_ms(50);
	helper = fork();
	assert_true(helper >= 0);
	if (helper == 0) {
		for (;;)
			pause();
	}
	victim_kill(v, false);
	/* "the victim's pid now belongs to the helper" */
	__atomic_store_n(&p.dev->sh->procs[slot].pid, (int32_t)helper, __ATOMIC_RELEASE);
	assert_int_equal(kill(helper, 0), 0);

	ret = viova_guest_device_reap(p.dev, &r);
	kill(helper, SIGKILL);
	gt_wait_pid(helper, 5000);
	GT_OK(ret);
	assert_int_equal(r.contexts, 2);
	assert_int_equal(r.processes, 1);
	assert_int_equal(host_contexts(), p.contexts0);
	assert_int_equal(heap_allocations(p.vm), 1);
	parent_check_close(&p, 0x9e05e);
	munmap(v, sizeof(*v));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reap_explicit),
	    cmocka_unit_test(test_reap_implicit_ctx_create),
	    cmocka_unit_test(test_reap_implicit_sync),
	    cmocka_unit_test(test_reap_after_death_holding_heap_lock),
	    cmocka_unit_test(test_reap_concurrent_exactly_once),
	    cmocka_unit_test(test_reap_spares_live_child),
	    cmocka_unit_test(test_reap_pid_reuse),
	};

	return cmocka_run_group_tests(tests, gt_group_setup, gt_group_teardown);
}

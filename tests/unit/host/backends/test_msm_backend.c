/* SPDX-License-Identifier: MIT */
/*
 * test_msm_backend.c - the msm backend against the msm emulator (msm_emu.h): for each viova op,
 * the exact ioctl request and the struct fields the backend sends, and how each kernel error
 * comes back to the core.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <drm/drm.h>
#include <drm/msm_drm.h>

#include "msm_emu.h"
#include "viova/backend.h"

#define PAGE 4096u
#define VA0 0x100000000ull

struct fx {
	struct msm_emu *emu;
	struct viova_backend *be;
	struct viova_be_vm *vm;
	int fd; /* the VM's file */
};

struct fault_log {
	int n;
	void *ctx;
	uint64_t fence, iova;
	int err;
	uint64_t completed_seen; /* fence_completed's view when the fault arrived */
	struct viova_backend *be;
	struct viova_be_ctx *bctx;
};

static struct fault_log faults;

static void on_fault(void *cookie, void *ctx, uint64_t fence, uint64_t iova, int err)
{
	(void)cookie;
	faults.n++;
	faults.ctx = ctx;
	faults.fence = fence;
	faults.iova = iova;
	faults.err = err;
	/* rule 1: the faulting job's fence is not visible yet (rule 4: this call is allowed) */
	faults.completed_seen = faults.be->ops->fence_completed(faults.be, faults.bctx);
}

static const struct viova_backend_events no_events = {.job_fault = on_fault};

static struct viova_backend *create(struct msm_emu *emu, int expect)
{
	struct viova_backend_config cfg = {.device = "/dev/dri/renderD128"};
	struct viova_backend *be = NULL;

	drm_seam_set(msm_emu_seam(emu));
	assert_int_equal(viova_backend_create("msm", &cfg, &no_events, NULL, &be), expect);
	return be;
}

static int setup_with(void **state, const struct msm_emu_config *cfg)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct viova_be_ctx *c;

	f->emu = msm_emu_new(cfg);
	f->be = create(f->emu, 0);
	assert_int_equal(f->be->ops->vm_create(f->be, &f->vm), 0);
	/* learn the VM's fd from a queue made on it */
	assert_int_equal(f->be->ops->ctx_create(f->be, f->vm, NULL, NULL, &c), 0);
	f->fd = emu_log_last(msm_emu_log(f->emu), DRM_IOCTL_MSM_SUBMITQUEUE_NEW)->fd;
	f->be->ops->ctx_destroy(f->be, c);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, NULL);
}

static int setup_hold(void **state)
{
	static const struct msm_emu_config cfg = {.name = "msm",
						  .major = 1,
						  .minor = 12,
						  .has_va = true,
						  .va_start = VA0,
						  .va_size = 1ull << 36,
						  .nr_prios = 3,
						  .hold_jobs = true};

	return setup_with(state, &cfg);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	f->be->ops->vm_destroy(f->be, f->vm);
	f->be->ops->destroy(f->be);
	assert_int_equal(msm_emu_open_files(f->emu), 0);
	assert_int_equal(msm_emu_mappings(f->emu), 0);
	msm_emu_free(f->emu);
	drm_seam_set(NULL);
	free(f);
	return 0;
}

static struct viova_be_bo *new_bo(struct fx *f, uint64_t size, uint32_t flags, uint64_t iova)
{
	struct viova_be_bo *bo = NULL;

	assert_int_equal(f->be->ops->bo_create(f->be, f->vm, size, flags, &bo), 0);
	if (iova)
		assert_int_equal(f->be->ops->bo_set_iova(f->be, f->vm, bo, iova), 0);
	return bo;
}

static uint32_t handle_of_last_new(struct fx *f)
{
	const struct emu_call *c = emu_log_last(msm_emu_log(f->emu), DRM_IOCTL_MSM_GEM_NEW);
	struct drm_msm_gem_new n;

	assert_non_null(c);
	memcpy(&n, c->out, sizeof(n));
	return n.handle;
}

static void test_probe_and_caps(void **state)
{
	struct msm_emu *emu = msm_emu_new(NULL);
	struct viova_backend *be = create(emu, 0);
	struct viova_capset caps = {0};
	const struct emu_call *c;
	struct drm_msm_param p;
	uint32_t i, saw_start = 0, saw_size = 0;

	(void)state;
	c = emu_log_call(msm_emu_log(emu), 0);
	assert_int_equal(c->request, DRM_IOCTL_VERSION);
	for (i = 1; i < emu_log_count(msm_emu_log(emu)); i++) {
		c = emu_log_call(msm_emu_log(emu), i);
		assert_int_equal(c->request, DRM_IOCTL_MSM_GET_PARAM);
		memcpy(&p, c->arg, sizeof(p));
		assert_int_equal(p.pipe, MSM_PIPE_3D0);
		assert_int_equal(p.len, 0);
		saw_start += p.param == MSM_PARAM_VA_START;
		saw_size += p.param == MSM_PARAM_VA_SIZE;
	}
	assert_int_equal(saw_start, 1);
	assert_int_equal(saw_size, 1);
	assert_int_equal(msm_emu_open_files(emu), 0); /* the probe fd is closed again */
	assert_int_equal(be->ops->get_caps(be, &caps), 0);
	assert_int_equal(caps.backend, VIOVA_BACKEND_MSM);
	assert_int_equal(caps.va_start, VA0);
	assert_int_equal(caps.va_size, 0xff00000000ull);
	assert_int_equal(caps.driver_major, 1);
	assert_int_equal(caps.driver_minor, 12);
	assert_int_equal(caps.gpu_id, 660);
	assert_int_equal(caps.chip_id, 0x06060001);
	assert_true(caps.features & VIOVA_FEATURE_SET_IOVA);
	assert_true(caps.features & VIOVA_FEATURE_SUBMIT_CMDBUF);
	assert_false(caps.features & VIOVA_FEATURE_VM_BIND);
	assert_false(caps.features & VIOVA_FEATURE_SUBMIT_SIM);
	assert_int_equal(caps.clone_flags, VIOVA_CLONE_ALL & ~VIOVA_CLONE_TIMELINE);
	be->ops->destroy(be);
	msm_emu_free(emu);
	drm_seam_set(NULL);
}

static void test_refuse_old_kernel(void **state)
{
	struct msm_emu_config cfg = {
	    .name = "msm", .major = 1, .minor = 8, .patch = 0, .has_va = false, .nr_prios = 3};
	struct msm_emu *emu = msm_emu_new(&cfg);

	(void)state;
	assert_null(create(emu, -ENODEV));
	assert_non_null(strstr(msm_emu_last_log(emu), "1.8.0"));
	assert_non_null(strstr(msm_emu_last_log(emu), "VA_START"));
	assert_int_equal(msm_emu_open_files(emu), 0);
	msm_emu_free(emu);
	drm_seam_set(NULL);
}

static void test_refuse_other_driver(void **state)
{
	struct msm_emu_config cfg = {.name = "i915",
				     .major = 1,
				     .minor = 6,
				     .has_va = true,
				     .va_start = VA0,
				     .va_size = 1ull << 32,
				     .nr_prios = 1};
	struct msm_emu *emu = msm_emu_new(&cfg);
	struct viova_backend_config bc = {.device = "/nonexistent"};
	struct viova_backend *be = NULL;

	(void)state;
	assert_null(create(emu, -ENODEV));
	assert_non_null(strstr(msm_emu_last_log(emu), "\"i915\""));
	/* a node that does not open: -ENODEV too, naming the path */
	assert_int_equal(viova_backend_create("msm", &bc, &no_events, NULL, &be), -ENODEV);
	assert_non_null(strstr(msm_emu_last_log(emu), "/nonexistent"));
	msm_emu_free(emu);
	drm_seam_set(NULL);
}

static void test_vm_is_a_file(void **state)
{
	struct fx *f = *state;
	struct viova_be_vm *vm2;
	struct viova_be_bo *a, *b;

	assert_int_equal(msm_emu_open_files(f->emu), 1);
	assert_int_equal(f->be->ops->vm_create(f->be, &vm2), 0);
	assert_int_equal(msm_emu_open_files(f->emu), 2);
	/* the same iova in two VMs: two address spaces, no conflict */
	a = new_bo(f, PAGE, 0, VA0);
	assert_int_equal(f->be->ops->bo_create(f->be, vm2, PAGE, 0, &b), 0);
	assert_int_not_equal(emu_log_last(msm_emu_log(f->emu), DRM_IOCTL_MSM_GEM_NEW)->fd, f->fd);
	assert_int_equal(f->be->ops->bo_set_iova(f->be, vm2, b, VA0), 0);
	/* a buffer is only mapped in the VM (file) it was made in */
	assert_int_equal(f->be->ops->bo_set_iova(f->be, vm2, a, VA0 + PAGE), -EOPNOTSUPP);
	f->be->ops->bo_close(f->be, a);
	/* the core drops VM 2 while b (made there, now unmapped) lives: the file stays open */
	assert_int_equal(f->be->ops->bo_set_iova(f->be, vm2, b, 0), 0);
	f->be->ops->vm_destroy(f->be, vm2);
	assert_int_equal(msm_emu_open_files(f->emu), 2);
	assert_int_equal(f->be->ops->bo_write(f->be, b, 0, "x", 1), 0);
	f->be->ops->bo_close(f->be, b);
	assert_int_equal(msm_emu_open_files(f->emu), 1);
}

static struct drm_msm_submitqueue last_queue(struct fx *f)
{
	const struct emu_call *c = emu_log_last(msm_emu_log(f->emu), DRM_IOCTL_MSM_SUBMITQUEUE_NEW);
	struct drm_msm_submitqueue q;

	assert_non_null(c);
	assert_int_equal(c->fd, f->fd);
	memcpy(&q, c->out, sizeof(q));
	return q;
}

static void test_ctx_priority_and_clone(void **state)
{
	struct fx *f = *state;
	struct viova_be_ctx_params hi = {.params = VIOVA_CTX_NO_ERROR_CAPTURE,
					 .priority = VIOVA_PRIORITY_MAX};
	struct viova_be_ctx_params lo = {.params = 0, .priority = VIOVA_PRIORITY_MIN};
	struct viova_be_ctx_params bad = {.params = 1u << 30, .priority = 0};
	struct viova_be_ctx *a, *b, *cl, *cl2;
	const struct emu_call *c;
	uint32_t n;

	assert_int_equal(f->be->ops->ctx_create(f->be, f->vm, &hi, NULL, &a), 0);
	assert_int_equal(last_queue(f).prio, 0); /* msm: 0 is the most urgent */
	assert_int_equal(last_queue(f).flags, 0);
	assert_int_equal(f->be->ops->ctx_create(f->be, f->vm, &lo, NULL, &b), 0);
	assert_int_equal(last_queue(f).prio, 2); /* 3 levels: the least urgent */
	n = emu_log_own_count(msm_emu_log(f->emu));
	assert_int_equal(f->be->ops->ctx_create(f->be, f->vm, &bad, NULL, &cl), -EINVAL);
	assert_int_equal(emu_log_own_count(msm_emu_log(f->emu)), n); /* refused before the kernel */

	/* clone: SCHEDATTR copies the priority from the backend's stored parameters */
	assert_int_equal(f->be->ops->ctx_clone(f->be, a, VIOVA_CLONE_SCHEDATTR | VIOVA_CLONE_VM,
					       f->vm, NULL, &cl),
			 0);
	assert_int_equal(last_queue(f).prio, 0);
	/* without SCHEDATTR the clone gets the default (middle level) */
	assert_int_equal(f->be->ops->ctx_clone(f->be, a, VIOVA_CLONE_FLAGS, f->vm, NULL, &cl2), 0);
	assert_int_equal(last_queue(f).prio, 1);
	assert_int_equal(msm_emu_queues(f->emu, f->fd), 4);
	/* a shared timeline cannot be had: one seqno timeline per submitqueue */
	assert_int_equal(f->be->ops->ctx_clone(f->be, a, VIOVA_CLONE_TIMELINE, f->vm, NULL, &b),
			 -EOPNOTSUPP);

	f->be->ops->ctx_destroy(f->be, cl2);
	c = emu_log_last(msm_emu_log(f->emu), DRM_IOCTL_MSM_SUBMITQUEUE_CLOSE);
	assert_non_null(c);
	assert_int_equal(c->fd, f->fd);
	assert_int_equal(*(const uint32_t *)c->arg, 4); /* queue ids 1..4 in creation order */
	f->be->ops->ctx_destroy(f->be, cl);
	f->be->ops->ctx_destroy(f->be, b);
	f->be->ops->ctx_destroy(f->be, a);
	assert_int_equal(msm_emu_queues(f->emu, f->fd), 0);
}

static void test_bo_flags(void **state)
{
	static const struct {
		uint32_t viova, msm;
	} map[] = {
	    {0, MSM_BO_WC},
	    {VIOVA_GEM_CACHED_COHERENT, MSM_BO_CACHED_COHERENT},
	    {VIOVA_GEM_UNCACHED, MSM_BO_UNCACHED},
	    {VIOVA_GEM_GPU_READONLY, MSM_BO_WC | MSM_BO_GPU_READONLY},
	};
	struct fx *f = *state;
	struct viova_be_bo *bo;
	struct drm_msm_gem_new n;
	struct drm_gem_close cl;
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		bo = new_bo(f, 3 * PAGE, map[i].viova, 0);
		memcpy(&n, emu_log_last(msm_emu_log(f->emu), DRM_IOCTL_MSM_GEM_NEW)->arg, sizeof(n));
		assert_int_equal(n.size, 3 * PAGE);
		assert_int_equal(n.flags, map[i].msm);
		f->be->ops->bo_close(f->be, bo);
		memcpy(&cl, emu_log_last(msm_emu_log(f->emu), DRM_IOCTL_GEM_CLOSE)->arg, sizeof(cl));
		assert_int_equal(cl.handle, 1); /* the only object */
		assert_int_equal(msm_emu_objects(f->emu, f->fd), 0);
	}
	assert_int_equal(f->be->ops->bo_create(f->be, f->vm, PAGE,
					       VIOVA_GEM_CACHED_COHERENT | VIOVA_GEM_UNCACHED, &bo),
			 -EINVAL);
	assert_int_equal(f->be->ops->bo_create(f->be, f->vm, 100, 0, &bo), -EINVAL);
	emu_log_fail_next(msm_emu_log(f->emu), DRM_IOCTL_MSM_GEM_NEW, -ENOMEM);
	assert_int_equal(f->be->ops->bo_create(f->be, f->vm, PAGE, 0, &bo), -ENOMEM);
}

static struct drm_msm_gem_info last_info(struct fx *f)
{
	const struct emu_call *c = emu_log_last(msm_emu_log(f->emu), DRM_IOCTL_MSM_GEM_INFO);
	struct drm_msm_gem_info i;

	assert_non_null(c);
	assert_int_equal(c->fd, f->fd);
	memcpy(&i, c->arg, sizeof(i));
	return i;
}

static void test_set_iova(void **state)
{
	struct fx *f = *state;
	struct viova_be_bo *a = new_bo(f, 2 * PAGE, 0, 0), *b;
	uint32_t ha = handle_of_last_new(f), n;
	struct drm_msm_gem_info info;

	assert_int_equal(f->be->ops->bo_set_iova(f->be, f->vm, a, VA0 + 0x10000), 0);
	info = last_info(f);
	assert_int_equal(info.handle, ha);
	assert_int_equal(info.info, MSM_INFO_SET_IOVA);
	assert_int_equal(info.value, VA0 + 0x10000);
	assert_int_equal(info.len, 0);
	assert_int_equal(msm_emu_iova(f->emu, f->fd, ha), VA0 + 0x10000);
	/* the same iova again: the kernel's idempotent answer */
	assert_int_equal(f->be->ops->bo_set_iova(f->be, f->vm, a, VA0 + 0x10000), 0);

	/* overlapping range: the kernel's -ENOSPC comes back as is */
	b = new_bo(f, PAGE, 0, 0);
	assert_int_equal(f->be->ops->bo_set_iova(f->be, f->vm, b, VA0 + 0x11000), -ENOSPC);
	/* a different iova for a mapped buffer: -EBUSY without asking the kernel, which would
	 * have dropped the old mapping (seed 004) */
	n = emu_log_own_count(msm_emu_log(f->emu));
	assert_int_equal(f->be->ops->bo_set_iova(f->be, f->vm, a, VA0 + 0x40000), -EBUSY);
	assert_int_equal(emu_log_own_count(msm_emu_log(f->emu)), n);
	assert_int_equal(msm_emu_iova(f->emu, f->fd, ha), VA0 + 0x10000);

	/* 0 clears */
	assert_int_equal(f->be->ops->bo_set_iova(f->be, f->vm, a, 0), 0);
	assert_int_equal(last_info(f).value, 0);
	assert_int_equal(msm_emu_iova(f->emu, f->fd, ha), 0);
	assert_int_equal(f->be->ops->bo_set_iova(f->be, f->vm, b, VA0 + 0x11000), 0);

	/* every other kernel answer: the ones the guest can act on pass, the rest are -EIO */
	emu_log_fail_next(msm_emu_log(f->emu), DRM_IOCTL_MSM_GEM_INFO, -EOPNOTSUPP);
	assert_int_equal(f->be->ops->bo_set_iova(f->be, f->vm, a, VA0), -EOPNOTSUPP);
	emu_log_fail_next(msm_emu_log(f->emu), DRM_IOCTL_MSM_GEM_INFO, -EINVAL);
	assert_int_equal(f->be->ops->bo_set_iova(f->be, f->vm, a, VA0), -EINVAL);
	emu_log_fail_next(msm_emu_log(f->emu), DRM_IOCTL_MSM_GEM_INFO, -ENOMEM);
	assert_int_equal(f->be->ops->bo_set_iova(f->be, f->vm, a, VA0), -ENOMEM);
	emu_log_fail_next(msm_emu_log(f->emu), DRM_IOCTL_MSM_GEM_INFO, -ENOENT);
	assert_int_equal(f->be->ops->bo_set_iova(f->be, f->vm, a, VA0), -EIO);
	/* a failure changed nothing: the buffer can still be placed */
	assert_int_equal(msm_emu_iova(f->emu, f->fd, ha), 0);
	assert_int_equal(f->be->ops->bo_set_iova(f->be, f->vm, a, VA0), 0);
	/* outside the window: the kernel has no room there */
	assert_int_equal(f->be->ops->bo_set_iova(f->be, f->vm, b, 0), 0);
	assert_int_equal(f->be->ops->bo_set_iova(f->be, f->vm, b, VA0 - PAGE), -ENOSPC);
	f->be->ops->bo_close(f->be, b);
	f->be->ops->bo_close(f->be, a);
}

static void test_no_sparse(void **state)
{
	struct fx *f = *state;
	struct viova_be_bo *a = new_bo(f, PAGE, 0, 0);
	uint32_t n = emu_log_own_count(msm_emu_log(f->emu));

	assert_int_equal(f->be->ops->bind(f->be, f->vm, a, VA0, PAGE, 0, 0), -EOPNOTSUPP);
	assert_int_equal(f->be->ops->unbind(f->be, f->vm, VA0, PAGE), -EOPNOTSUPP);
	assert_int_equal(emu_log_own_count(msm_emu_log(f->emu)), n);
	f->be->ops->bo_close(f->be, a);
}

static void test_upload_download(void **state)
{
	struct fx *f = *state;
	struct viova_be_bo *a = new_bo(f, 2 * PAGE, 0, 0);
	uint32_t ha = handle_of_last_new(f);
	uint8_t in[64], out[64];
	struct drm_msm_gem_info info;

	for (int i = 0; i < 64; i++)
		in[i] = (uint8_t)(i * 7 + 1);
	assert_int_equal(f->be->ops->bo_write(f->be, a, PAGE + 8, in, sizeof(in)), 0);
	info = last_info(f);
	assert_int_equal(info.info, MSM_INFO_GET_OFFSET);
	assert_int_equal(info.handle, ha);
	assert_memory_equal(msm_emu_mem(f->emu, f->fd, ha) + PAGE + 8, in, sizeof(in));
	assert_int_equal(f->be->ops->bo_read(f->be, a, PAGE + 8, out, sizeof(out)), 0);
	assert_memory_equal(out, in, sizeof(in));
	assert_int_equal(msm_emu_mappings(f->emu), 1); /* mapped once, kept */
	assert_int_equal(f->be->ops->bo_read(f->be, a, 2 * PAGE - 8, out, 16), -EINVAL);
	assert_int_equal(f->be->ops->bo_write(f->be, a, UINT64_MAX - 4, in, 16), -EINVAL);
	f->be->ops->bo_close(f->be, a);
	assert_int_equal(msm_emu_mappings(f->emu), 0);
}

struct job {
	struct viova_be_submit_bo bos[2];
	struct viova_submit_cmdbuf cmds[2];
	struct viova_be_submit s;
};

static void job_init(struct job *j, struct viova_be_bo *a, uint64_t ia, struct viova_be_bo *b,
		     uint64_t ib, uint64_t fence)
{
	memset(j, 0, sizeof(*j));
	j->bos[0] = (struct viova_be_submit_bo){.bo = a, .iova = ia, .flags = VIOVA_SUBMIT_BO_READ};
	j->bos[1] = (struct viova_be_submit_bo){
	    .bo = b,
	    .iova = ib,
	    .flags = VIOVA_SUBMIT_BO_READ | VIOVA_SUBMIT_BO_WRITE | VIOVA_SUBMIT_BO_DUMP};
	j->cmds[0] = (struct viova_submit_cmdbuf){
	    .bo_index = 0, .type = VIOVA_CMDBUF_BUF, .offset = 0x100, .size = 0x40};
	j->cmds[1] = (struct viova_submit_cmdbuf){
	    .bo_index = 0, .type = VIOVA_CMDBUF_IB_TARGET, .offset = 0x200, .size = 0x20};
	j->s = (struct viova_be_submit){.format = VIOVA_SUBMIT_FORMAT_CMDBUF,
					.bo_count = 2,
					.bos = j->bos,
					.cmds = j->cmds,
					.cmd_size = sizeof(j->cmds),
					.out_fence = fence};
}

static void test_submit_and_fences(void **state)
{
	struct fx *f = *state;
	struct viova_be_bo *a = new_bo(f, PAGE, 0, VA0), *b = new_bo(f, PAGE, 0, VA0 + PAGE);
	uint32_t ha = 1, hb = 2, qid;
	struct viova_be_ctx *c;
	const struct drm_msm_gem_submit_bo *kb;
	const struct drm_msm_gem_submit_cmd *kc;
	const struct emu_call *call;
	struct drm_msm_gem_submit ks;
	struct drm_msm_wait_fence w;
	struct job j;

	assert_int_equal(f->be->ops->ctx_create(f->be, f->vm, NULL, NULL, &c), 0);
	qid = last_queue(f).id;
	job_init(&j, a, VA0, b, VA0 + PAGE, 10);
	assert_int_equal(f->be->ops->submit(f->be, c, &j.s), 0);
	call = emu_log_last(msm_emu_log(f->emu), DRM_IOCTL_MSM_GEM_SUBMIT);
	assert_int_equal(call->fd, f->fd);
	memcpy(&ks, call->arg, sizeof(ks));
	assert_int_equal(ks.flags, MSM_PIPE_3D0);
	assert_int_equal(ks.queueid, qid);
	assert_int_equal(ks.nr_bos, 2);
	assert_int_equal(ks.nr_cmds, 2);
	assert_int_equal(msm_emu_last_submit(f->emu, (const void **)&kb, (const void **)&kc), 2);
	assert_int_equal(kb[0].handle, ha);
	assert_int_equal(kb[0].flags, MSM_SUBMIT_BO_READ);
	assert_int_equal(kb[0].presumed, VA0);
	assert_int_equal(kb[1].handle, hb);
	assert_int_equal(kb[1].flags,
			 MSM_SUBMIT_BO_READ | MSM_SUBMIT_BO_WRITE | MSM_SUBMIT_BO_DUMP);
	assert_int_equal(kb[1].presumed, VA0 + PAGE);
	assert_int_equal(kc[0].type, MSM_SUBMIT_CMD_BUF);
	assert_int_equal(kc[0].submit_idx, 0);
	assert_int_equal(kc[0].submit_offset, 0x100);
	assert_int_equal(kc[0].size, 0x40);
	assert_int_equal(kc[0].nr_relocs, 0);
	assert_int_equal(kc[1].type, MSM_SUBMIT_CMD_IB_TARGET_BUF);
	assert_int_equal(f->be->ops->fence_completed(f->be, c), 10);
	call = emu_log_last(msm_emu_log(f->emu), DRM_IOCTL_MSM_WAIT_FENCE);
	memcpy(&w, call->arg, sizeof(w));
	assert_int_equal(w.fence, 1); /* the kernel's seqno, not the guest's 10 */
	assert_int_equal(w.queueid, qid);

	f->be->ops->ctx_destroy(f->be, c);
	f->be->ops->bo_close(f->be, b);
	f->be->ops->bo_close(f->be, a);
}

/* Jobs held by the emulated GPU: busy buffers, timeouts, then completion. */
static void test_held_jobs(void **state)
{
	struct fx *f = *state;
	struct viova_be_bo *a = new_bo(f, PAGE, 0, VA0), *b = new_bo(f, PAGE, 0, VA0 + PAGE);
	struct drm_msm_wait_fence w;
	struct viova_be_ctx *c;
	struct job j;

	assert_int_equal(f->be->ops->ctx_create(f->be, f->vm, NULL, NULL, &c), 0);
	job_init(&j, a, VA0, b, 0, 5);
	assert_int_equal(f->be->ops->submit(f->be, c, &j.s), 0);
	job_init(&j, a, VA0, b, 0, 7);
	assert_int_equal(f->be->ops->submit(f->be, c, &j.s), 0);
	assert_int_equal(f->be->ops->fence_completed(f->be, c), 0);
	assert_int_equal(f->be->ops->fence_wait(f->be, c, 6, 1000), -ETIMEDOUT);
	/* this thread's wait (the completion thread waits on the oldest job meanwhile) */
	memcpy(&w, emu_log_last_own(msm_emu_log(f->emu), DRM_IOCTL_MSM_WAIT_FENCE)->arg, sizeof(w));
	assert_int_equal(w.fence, 2); /* fence 6 is reached by the job of fence 7 */
	assert_int_equal(f->be->ops->fence_wait(f->be, c, 8, 1000), -EINVAL); /* never submitted */
	/* the kernel's -EBUSY for clearing a busy buffer */
	assert_int_equal(f->be->ops->bo_set_iova(f->be, f->vm, b, 0), -EBUSY);
	msm_emu_complete(f->emu);
	assert_int_equal(f->be->ops->fence_wait(f->be, c, 5, 1000), 0);
	assert_int_equal(f->be->ops->fence_completed(f->be, c), 7);
	assert_int_equal(f->be->ops->bo_set_iova(f->be, f->vm, b, 0), 0);
	f->be->ops->ctx_destroy(f->be, c);
	f->be->ops->bo_close(f->be, b);
	f->be->ops->bo_close(f->be, a);
}

/* The kernel's per-queue fault count becomes a job_fault event before the fence shows. */
static void test_fault_event(void **state)
{
	struct fx *f = *state;
	struct viova_be_bo *a = new_bo(f, PAGE, 0, VA0), *b = new_bo(f, PAGE, 0, VA0 + PAGE);
	struct viova_be_ctx *c;
	struct drm_msm_submitqueue_query q;
	int cookie;
	struct job j;

	assert_int_equal(f->be->ops->ctx_create(f->be, f->vm, NULL, &cookie, &c), 0);
	memset(&faults, 0, sizeof(faults));
	faults.be = f->be;
	faults.bctx = c;
	job_init(&j, a, VA0, b, 0, 4);
	assert_int_equal(f->be->ops->submit(f->be, c, &j.s), 0);
	msm_emu_fault(f->emu, f->fd, last_queue(f).id);
	msm_emu_complete(f->emu);
	assert_int_equal(f->be->ops->fence_completed(f->be, c), 4);
	assert_int_equal(faults.n, 1);
	assert_ptr_equal(faults.ctx, &cookie);
	assert_int_equal(faults.fence, 4);
	assert_int_equal(faults.err, -EIO);
	assert_int_equal(faults.completed_seen, 0);
	memcpy(&q, emu_log_last(msm_emu_log(f->emu), DRM_IOCTL_MSM_SUBMITQUEUE_QUERY)->arg, sizeof(q));
	assert_int_equal(q.param, MSM_SUBMITQUEUE_PARAM_FAULTS);
	assert_int_equal(q.id, last_queue(f).id);
	assert_int_equal(q.len, 4);
	/* a clean job afterwards: no new event */
	job_init(&j, a, VA0, b, 0, 5);
	assert_int_equal(f->be->ops->submit(f->be, c, &j.s), 0);
	msm_emu_complete(f->emu);
	assert_int_equal(f->be->ops->fence_wait(f->be, c, 5, 1000), 0);
	assert_int_equal(faults.n, 1);
	f->be->ops->ctx_destroy(f->be, c);
	f->be->ops->bo_close(f->be, b);
	f->be->ops->bo_close(f->be, a);
}

static void test_submit_refusals(void **state)
{
	struct fx *f = *state;
	struct viova_be_bo *a = new_bo(f, PAGE, 0, VA0), *b = new_bo(f, PAGE, 0, 0);
	struct viova_be_ctx *c;
	struct job j;
	uint32_t n;

	assert_int_equal(f->be->ops->ctx_create(f->be, f->vm, NULL, NULL, &c), 0);
	n = emu_log_own_count(msm_emu_log(f->emu));
	job_init(&j, a, VA0, b, 0, 1);
	assert_int_equal(f->be->ops->submit(f->be, c, &j.s), -EINVAL); /* b has no iova */
	assert_int_equal(f->be->ops->bo_set_iova(f->be, f->vm, b, VA0 + PAGE), 0);
	n = emu_log_own_count(msm_emu_log(f->emu));
	job_init(&j, a, VA0, b, VA0 + 2 * PAGE, 1);
	assert_int_equal(f->be->ops->submit(f->be, c, &j.s), -EINVAL); /* tables disagree */
	job_init(&j, a, VA0, b, 0, 1);
	j.s.format = VIOVA_SUBMIT_FORMAT_SIM;
	assert_int_equal(f->be->ops->submit(f->be, c, &j.s), -EINVAL);
	job_init(&j, a, VA0, b, 0, 1);
	j.cmds[1].offset = PAGE - 0x10; /* runs past the buffer */
	assert_int_equal(f->be->ops->submit(f->be, c, &j.s), -EINVAL);
	job_init(&j, a, VA0, b, 0, 1);
	j.cmds[0].size = 6; /* not whole dwords */
	assert_int_equal(f->be->ops->submit(f->be, c, &j.s), -EINVAL);
	job_init(&j, a, VA0, b, 0, 1);
	j.cmds[0].bo_index = 2;
	assert_int_equal(f->be->ops->submit(f->be, c, &j.s), -EINVAL);
	job_init(&j, a, VA0, b, 0, 1);
	j.cmds[0].type = 9;
	assert_int_equal(f->be->ops->submit(f->be, c, &j.s), -EINVAL);
	job_init(&j, a, VA0, b, 0, 1);
	j.bos[0].flags = 0;
	assert_int_equal(f->be->ops->submit(f->be, c, &j.s), -EINVAL);
	assert_int_equal(emu_log_own_count(msm_emu_log(f->emu)), n); /* none reached the kernel */

	/* kernel errors on submit */
	job_init(&j, a, VA0, b, 0, 1);
	emu_log_fail_next(msm_emu_log(f->emu), DRM_IOCTL_MSM_GEM_SUBMIT, -ENOMEM);
	assert_int_equal(f->be->ops->submit(f->be, c, &j.s), -ENOMEM);
	emu_log_fail_next(msm_emu_log(f->emu), DRM_IOCTL_MSM_GEM_SUBMIT, -EFAULT);
	assert_int_equal(f->be->ops->submit(f->be, c, &j.s), -EIO);
	emu_log_fail_next(msm_emu_log(f->emu), DRM_IOCTL_MSM_GEM_SUBMIT, -EAGAIN);
	assert_int_equal(f->be->ops->submit(f->be, c, &j.s), -EAGAIN);
	/* none of them consumed the fence; held, so that the wait below reaches the kernel
	 * before the completion thread can retire the job */
	msm_emu_set_hold(f->emu, true);
	assert_int_equal(f->be->ops->submit(f->be, c, &j.s), 0);
	assert_int_equal(f->be->ops->submit(f->be, c, &j.s), -EINVAL); /* fence 1 again */
	emu_log_fail_next(msm_emu_log(f->emu), DRM_IOCTL_MSM_WAIT_FENCE, -ENOENT);
	assert_int_equal(f->be->ops->fence_wait(f->be, c, 1, 0), -EIO);
	msm_emu_complete(f->emu);
	assert_int_equal(f->be->ops->fence_wait(f->be, c, 1, 0), 0);
	f->be->ops->ctx_destroy(f->be, c);
	f->be->ops->bo_close(f->be, b);
	f->be->ops->bo_close(f->be, a);
}

/* "auto" finds the msm node; with none it says so and runs the sim. */
static void test_auto(void **state)
{
	struct msm_emu_config other = {.name = "amdgpu",
				       .major = 3,
				       .minor = 57,
				       .has_va = true,
				       .va_start = VA0,
				       .va_size = 1ull << 32,
				       .nr_prios = 1};
	struct msm_emu *emu = msm_emu_new(NULL);
	struct viova_backend *be = NULL;

	(void)state;
	drm_seam_set(msm_emu_seam(emu));
	assert_int_equal(viova_backend_create("auto", NULL, &no_events, NULL, &be), 0);
	assert_string_equal(be->ops->name, "msm");
	be->ops->destroy(be);
	msm_emu_free(emu);
	emu = msm_emu_new(&other);
	drm_seam_set(msm_emu_seam(emu));
	assert_int_equal(viova_backend_create("auto", NULL, &no_events, NULL, &be), 0);
	assert_string_equal(be->ops->name, "sim");
	assert_non_null(strstr(msm_emu_last_log(emu), "/dev/dri/renderD128=amdgpu"));
	assert_non_null(strstr(msm_emu_last_log(emu), "falling back to the sim"));
	assert_int_equal(msm_emu_open_files(emu), 0);
	be->ops->destroy(be);
	msm_emu_free(emu);
	drm_seam_set(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_probe_and_caps),
	    cmocka_unit_test(test_refuse_old_kernel),
	    cmocka_unit_test(test_refuse_other_driver),
	    cmocka_unit_test(test_auto),
	    cmocka_unit_test_setup_teardown(test_vm_is_a_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ctx_priority_and_clone, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bo_flags, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_set_iova, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_sparse, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_upload_download, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_submit_and_fences, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_held_jobs, setup_hold, teardown),
	    cmocka_unit_test_setup_teardown(test_fault_event, setup_hold, teardown),
	    cmocka_unit_test_setup_teardown(test_submit_refusals, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/*
 * test_i915_backend.c - the i915 backend against the i915 emulator (i915_emu.h): for each viova
 * op, the exact ioctl request and the struct fields the backend sends (or the state they leave
 * in the emulated kernel, where the argument points into the backend's stack), and how each
 * kernel error comes back to the core.
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
#include <drm/i915_drm.h>

#include "i915/i915.h"
#include "i915_emu.h"
#include "viova/backend.h"

#define PAGE 4096u
#define VA0 I915_VA_START

struct fx {
	struct i915_emu *emu;
	struct viova_backend *be;
	struct viova_be_vm *vm;
	uint32_t vm_id;
};

static int nfaults;
static uint64_t fault_fence, fault_seen;
static struct viova_backend *fault_be;
static struct viova_be_ctx *fault_ctx;

static void on_fault(void *cookie, void *ctx, uint64_t fence, uint64_t iova, int err)
{
	(void)cookie, (void)ctx, (void)iova;
	assert_int_equal(err, -EIO);
	nfaults++;
	fault_fence = fence;
	fault_seen = fault_be->ops->fence_completed(fault_be, fault_ctx); /* before the fence */
}

static const struct viova_backend_events no_events = {.job_fault = on_fault};

static struct viova_backend *create(struct i915_emu *emu, int expect)
{
	struct viova_backend_config cfg = {.device = "/dev/dri/renderD129"};
	struct viova_backend *be = NULL;

	drm_seam_set(i915_emu_seam(emu));
	assert_int_equal(viova_backend_create("i915", &cfg, &no_events, NULL, &be), expect);
	return be;
}

static int setup_with(void **state, const struct i915_emu_config *cfg)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct drm_i915_gem_vm_control v;

	f->emu = i915_emu_new(cfg);
	f->be = create(f->emu, 0);
	assert_int_equal(f->be->ops->vm_create(f->be, &f->vm), 0);
	memcpy(&v, emu_log_last(i915_emu_log(f->emu), DRM_IOCTL_I915_GEM_VM_CREATE)->out, sizeof(v));
	f->vm_id = v.vm_id;
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, NULL);
}

static int setup_priv(void **state)
{
	static const struct i915_emu_config cfg = {.name = "i915",
						   .major = 1,
						   .minor = 6,
						   .softpin = true,
						   .gtt_size = 1ull << 48,
						   .cap_sys_nice = true,
						   .cap_sys_admin = true};

	return setup_with(state, &cfg);
}

static int setup_hold(void **state)
{
	static const struct i915_emu_config cfg = {.name = "i915",
						   .major = 1,
						   .minor = 6,
						   .softpin = true,
						   .gtt_size = 1ull << 48,
						   .hold_jobs = true};

	return setup_with(state, &cfg);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	f->be->ops->vm_destroy(f->be, f->vm);
	assert_int_equal(i915_emu_vm_ids(f->emu), 0);
	f->be->ops->destroy(f->be);
	assert_int_equal(i915_emu_open_files(f->emu), 0);
	assert_int_equal(i915_emu_mappings(f->emu), 0);
	assert_int_equal(i915_emu_contexts(f->emu), 0);
	assert_int_equal(i915_emu_objects(f->emu), 0);
	i915_emu_free(f->emu);
	drm_seam_set(NULL);
	free(f);
	return 0;
}

static uint32_t last_ctx_id(struct fx *f)
{
	struct drm_i915_gem_context_create_ext c;

	memcpy(&c, emu_log_last(i915_emu_log(f->emu), DRM_IOCTL_I915_GEM_CONTEXT_CREATE_EXT)->out, sizeof(c));
	return c.ctx_id;
}

static uint32_t last_handle(struct fx *f)
{
	struct drm_i915_gem_create c;

	memcpy(&c, emu_log_last(i915_emu_log(f->emu), DRM_IOCTL_I915_GEM_CREATE)->out, sizeof(c));
	return c.handle;
}

static struct viova_be_bo *new_bo(struct fx *f, uint64_t size, uint32_t flags, uint64_t iova,
				  uint32_t *handle)
{
	struct viova_be_bo *bo = NULL;

	assert_int_equal(f->be->ops->bo_create(f->be, f->vm, size, flags, &bo), 0);
	if (handle)
		*handle = last_handle(f);
	if (iova)
		assert_int_equal(f->be->ops->bo_set_iova(f->be, f->vm, bo, iova), 0);
	return bo;
}

static void test_probe_and_caps(void **state)
{
	struct i915_emu *emu = i915_emu_new(NULL);
	struct viova_backend *be = create(emu, 0);
	struct viova_capset caps = {0};
	struct drm_i915_gem_context_param p;
	const struct emu_call *c;

	(void)state;
	assert_int_equal(emu_log_call(i915_emu_log(emu), 0)->request, DRM_IOCTL_VERSION);
	assert_int_equal(emu_log_call(i915_emu_log(emu), 1)->request, DRM_IOCTL_I915_GETPARAM);
	c = emu_log_last(i915_emu_log(emu), DRM_IOCTL_I915_GEM_CONTEXT_GETPARAM);
	memcpy(&p, c->arg, sizeof(p));
	assert_int_equal(p.ctx_id, 0);
	assert_int_equal(p.param, I915_CONTEXT_PARAM_GTT_SIZE);
	assert_int_equal(be->ops->get_caps(be, &caps), 0);
	assert_int_equal(caps.backend, VIOVA_BACKEND_I915);
	assert_int_equal(caps.va_start, VA0);
	assert_int_equal(caps.va_start + caps.va_size, 1ull << 48);
	assert_int_equal(caps.chip_id, 0x9a49);
	assert_int_equal(caps.driver_minor, 6);
	assert_true(caps.features & VIOVA_FEATURE_SET_IOVA);
	assert_true(caps.features & VIOVA_FEATURE_SUBMIT_CMDBUF);
	assert_false(caps.features & VIOVA_FEATURE_VM_BIND);
	assert_int_equal(caps.clone_flags, VIOVA_CLONE_ALL & ~VIOVA_CLONE_TIMELINE);
	be->ops->destroy(be);
	assert_int_equal(i915_emu_open_files(emu), 0);
	i915_emu_free(emu);
	drm_seam_set(NULL);
}

static void test_refusals_at_open(void **state)
{
	struct i915_emu_config nosoft = {.name = "i915",
					 .major = 1,
					 .minor = 6,
					 .patch = 3,
					 .softpin = false,
					 .gtt_size = 1ull << 48};
	struct i915_emu_config small = {
	    .name = "i915", .major = 1, .minor = 6, .softpin = true, .gtt_size = 1ull << 32};
	struct i915_emu_config other = {
	    .name = "msm", .major = 1, .minor = 12, .softpin = true, .gtt_size = 1ull << 48};
	struct i915_emu *emu;

	(void)state;
	emu = i915_emu_new(&nosoft);
	assert_null(create(emu, -ENODEV));
	assert_non_null(strstr(i915_emu_last_log(emu), "1.6.3"));
	assert_non_null(strstr(i915_emu_last_log(emu), "SOFTPIN"));
	assert_int_equal(i915_emu_open_files(emu), 0);
	i915_emu_free(emu);
	emu = i915_emu_new(&small);
	assert_null(create(emu, -ENODEV));
	assert_non_null(strstr(i915_emu_last_log(emu), "0x100000000-byte GTT"));
	i915_emu_free(emu);
	emu = i915_emu_new(&other);
	assert_null(create(emu, -ENODEV));
	assert_non_null(strstr(i915_emu_last_log(emu), "\"msm\""));
	i915_emu_free(emu);
	drm_seam_set(NULL);
}

static void test_vm(void **state)
{
	struct fx *f = *state;
	struct viova_be_vm *vm2;
	struct drm_i915_gem_vm_control v;

	assert_int_equal(i915_emu_vm_ids(f->emu), 1);
	assert_int_equal(f->be->ops->vm_create(f->be, &vm2), 0);
	assert_int_equal(i915_emu_vm_ids(f->emu), 2);
	memcpy(&v, emu_log_last(i915_emu_log(f->emu), DRM_IOCTL_I915_GEM_VM_CREATE)->out, sizeof(v));
	f->be->ops->vm_destroy(f->be, vm2);
	memcpy(&v, emu_log_last(i915_emu_log(f->emu), DRM_IOCTL_I915_GEM_VM_DESTROY)->arg, sizeof(v));
	assert_int_equal(v.vm_id, 2);
	assert_int_equal(v.flags, 0);
	assert_int_equal(i915_emu_vm_ids(f->emu), 1);
	emu_log_fail_next(i915_emu_log(f->emu), DRM_IOCTL_I915_GEM_VM_CREATE, -ENOMEM);
	assert_int_equal(f->be->ops->vm_create(f->be, &vm2), -ENOMEM);
}

static void test_ctx_create(void **state)
{
	struct fx *f = *state;
	struct viova_be_ctx_params p = {.params = VIOVA_CTX_RECOVERABLE | VIOVA_CTX_BANNABLE |
						  VIOVA_CTX_NO_ERROR_CAPTURE,
					.priority = -300};
	struct drm_i915_gem_context_create_ext req;
	const struct i915_emu_ctx *k;
	struct viova_be_ctx *c, *d;

	assert_int_equal(f->be->ops->ctx_create(f->be, f->vm, &p, NULL, &c), 0);
	memcpy(&req, emu_log_last(i915_emu_log(f->emu), DRM_IOCTL_I915_GEM_CONTEXT_CREATE_EXT)->arg,
	       sizeof(req));
	assert_int_equal(req.flags, I915_CONTEXT_CREATE_FLAGS_USE_EXTENSIONS);
	assert_int_not_equal(req.extensions, 0);
	k = i915_emu_ctx(f->emu, last_ctx_id(f));
	assert_non_null(k);
	assert_int_equal(k->vm, i915_emu_vm_of_id(f->emu, f->vm_id)); /* SETPARAM(VM) */
	assert_int_equal(k->priority, -300);
	assert_true(k->bannable);
	assert_true(k->recoverable);
	assert_true(k->no_error_capture);
	/* unprivileged host: the kernel's -EPERM for priority > 0 and for unbannable */
	p.priority = 5;
	assert_int_equal(f->be->ops->ctx_create(f->be, f->vm, &p, NULL, &d), -EPERM);
	assert_int_equal(i915_emu_contexts(f->emu), 1);
	/* not bannable: never asked of the kernel (it needs CAP_SYS_ADMIN, and a guest must not
	 * be able to hang the GPU for good) */
	p.priority = 0;
	p.params = VIOVA_CTX_RECOVERABLE;
	assert_int_equal(f->be->ops->ctx_create(f->be, f->vm, &p, NULL, &d), 0);
	assert_true(i915_emu_ctx(f->emu, last_ctx_id(f))->bannable);
	f->be->ops->ctx_destroy(f->be, d);
	assert_int_equal(i915_emu_contexts(f->emu), 1);
	f->be->ops->ctx_destroy(f->be, c);
	assert_int_equal(i915_emu_contexts(f->emu), 0);
	{
		struct drm_i915_gem_context_destroy dd;

		memcpy(&dd, emu_log_last(i915_emu_log(f->emu), DRM_IOCTL_I915_GEM_CONTEXT_DESTROY)->arg,
		       sizeof(dd));
		assert_int_equal(dd.ctx_id, 1);
	}
}

/* Requests with this CONTEXT_GETPARAM param since call index from. */
static int getparams(struct fx *f, uint32_t from, uint64_t param)
{
	int n = 0;

	for (uint32_t i = from; i < emu_log_count(i915_emu_log(f->emu)); i++) {
		const struct emu_call *c = emu_log_call(i915_emu_log(f->emu), i);
		struct drm_i915_gem_context_param p;

		if (c->request != DRM_IOCTL_I915_GEM_CONTEXT_GETPARAM)
			continue;
		memcpy(&p, c->arg, sizeof(p));
		n += p.param == param;
	}
	return n;
}

static void test_clone(void **state)
{
	struct fx *f = *state;
	struct viova_be_ctx_params p = {.params = VIOVA_CTX_NO_ERROR_CAPTURE, .priority = 700};
	struct viova_be_ctx *src, *cl;
	struct viova_be_vm *vm2;
	struct i915_emu_ctx *ks;
	const struct i915_emu_ctx *kc;
	uint32_t src_id, from, ids;

	assert_int_equal(f->be->ops->ctx_create(f->be, f->vm, &p, NULL, &src), 0);
	src_id = last_ctx_id(f);
	assert_int_equal(f->be->ops->vm_create(f->be, &vm2), 0);

	/* FLAGS + SCHEDATTR, own VM: read with GETPARAM, written with create SETPARAMs */
	from = emu_log_count(i915_emu_log(f->emu));
	assert_int_equal(f->be->ops->ctx_clone(
			     f->be, src, VIOVA_CLONE_FLAGS | VIOVA_CLONE_SCHEDATTR, vm2, NULL, &cl),
			 0);
	assert_int_equal(getparams(f, from, I915_CONTEXT_PARAM_BANNABLE), 0);
	assert_int_equal(getparams(f, from, I915_CONTEXT_PARAM_RECOVERABLE), 1);
	assert_int_equal(getparams(f, from, I915_CONTEXT_PARAM_NO_ERROR_CAPTURE), 1);
	assert_int_equal(getparams(f, from, I915_CONTEXT_PARAM_PRIORITY), 1);
	assert_int_equal(getparams(f, from, I915_CONTEXT_PARAM_VM), 0);
	kc = i915_emu_ctx(f->emu, last_ctx_id(f));
	assert_int_equal(kc->priority, 700);
	assert_true(kc->bannable);
	assert_false(kc->recoverable);
	assert_true(kc->no_error_capture);
	assert_int_not_equal(kc->vm, i915_emu_ctx(f->emu, src_id)->vm);
	f->be->ops->ctx_destroy(f->be, cl);

	/* nothing copied: the defaults */
	assert_int_equal(f->be->ops->ctx_clone(f->be, src, 0, vm2, NULL, &cl), 0);
	kc = i915_emu_ctx(f->emu, last_ctx_id(f));
	assert_int_equal(kc->priority, 0);
	assert_true(kc->bannable);
	assert_false(kc->no_error_capture);
	f->be->ops->ctx_destroy(f->be, cl);

	/* VM: GETPARAM(VM) gives a new id for the same VM, used once and dropped */
	ids = i915_emu_vm_ids(f->emu);
	from = emu_log_count(i915_emu_log(f->emu));
	assert_int_equal(f->be->ops->ctx_clone(f->be, src, VIOVA_CLONE_VM, f->vm, NULL, &cl), 0);
	assert_int_equal(getparams(f, from, I915_CONTEXT_PARAM_VM), 1);
	assert_non_null(emu_log_last(i915_emu_log(f->emu), DRM_IOCTL_I915_GEM_VM_DESTROY));
	assert_int_equal(i915_emu_vm_ids(f->emu), ids);
	assert_int_equal(i915_emu_ctx(f->emu, last_ctx_id(f))->vm,
			 i915_emu_ctx(f->emu, src_id)->vm);
	f->be->ops->ctx_destroy(f->be, cl);
	assert_int_equal(f->be->ops->ctx_clone(f->be, src, VIOVA_CLONE_VM, vm2, NULL, &cl),
			 -EINVAL);

	/* ENGINES + SSEU with a user engine map (arranged as another SETPARAM would) */
	ks = i915_emu_ctx(f->emu, src_id);
	{
		struct drm_i915_gem_context_param_sseu s = {.flags =
								I915_CONTEXT_SSEU_FLAG_ENGINE_INDEX,
							    .slice_mask = 0x3,
							    .subslice_mask = 0xf0};
		uint8_t engines[16] = {0};

		engines[8] = I915_ENGINE_CLASS_VIDEO; /* engines[0] = {VIDEO, 0} */
		engines[12] = I915_ENGINE_CLASS_RENDER;
		memcpy(ks->engines, engines, sizeof(engines));
		ks->engines_size = sizeof(engines);
		memcpy(ks->sseu, &s, sizeof(s));
		ks->sseu_set = true;
	}
	assert_int_equal(f->be->ops->ctx_clone(f->be, src, VIOVA_CLONE_ENGINES | VIOVA_CLONE_SSEU,
					       vm2, NULL, &cl),
			 0);
	kc = i915_emu_ctx(f->emu, last_ctx_id(f));
	assert_int_equal(kc->engines_size, 16);
	assert_memory_equal(kc->engines, ks->engines, 16);
	assert_true(kc->sseu_set);
	{
		struct drm_i915_gem_context_param_sseu s;

		memcpy(&s, kc->sseu, sizeof(s));
		assert_int_equal(s.slice_mask, 0x3);
		assert_int_equal(s.subslice_mask, 0xf0);
		assert_int_equal(s.flags, I915_CONTEXT_SSEU_FLAG_ENGINE_INDEX);
	}
	f->be->ops->ctx_destroy(f->be, cl);
	/* SSEU without the engine map: the maps differ (seed 003): -EINVAL, nothing made */
	from = i915_emu_contexts(f->emu);
	assert_int_equal(f->be->ops->ctx_clone(f->be, src, VIOVA_CLONE_SSEU, vm2, NULL, &cl),
			 -EINVAL);
	assert_int_equal(i915_emu_contexts(f->emu), from);
	/* TIMELINE: not in today's uapi */
	assert_int_equal(f->be->ops->ctx_clone(f->be, src, VIOVA_CLONE_TIMELINE, vm2, NULL, &cl),
			 -EOPNOTSUPP);
	/* a kernel error while reading the source */
	emu_log_fail_next(i915_emu_log(f->emu), DRM_IOCTL_I915_GEM_CONTEXT_GETPARAM, -ENOENT);
	assert_int_equal(f->be->ops->ctx_clone(f->be, src, VIOVA_CLONE_FLAGS, vm2, NULL, &cl),
			 -EIO);
	f->be->ops->ctx_destroy(f->be, src);
	f->be->ops->vm_destroy(f->be, vm2);
}

/* Default engine map: SSEU of the render engine is copied. */
static void test_clone_sseu_default_map(void **state)
{
	struct fx *f = *state;
	struct viova_be_ctx *src, *cl;
	struct drm_i915_gem_context_param_sseu s = {.slice_mask = 0x2, .subslice_mask = 0x3c};
	const struct i915_emu_ctx *kc;

	assert_int_equal(f->be->ops->ctx_create(f->be, f->vm, NULL, NULL, &src), 0);
	s.engine.engine_class = I915_ENGINE_CLASS_RENDER;
	memcpy(i915_emu_ctx(f->emu, last_ctx_id(f))->sseu, &s, sizeof(s));
	i915_emu_ctx(f->emu, last_ctx_id(f))->sseu_set = true;
	assert_int_equal(f->be->ops->ctx_clone(f->be, src, VIOVA_CLONE_SSEU, f->vm, NULL, &cl), 0);
	kc = i915_emu_ctx(f->emu, last_ctx_id(f));
	memcpy(&s, kc->sseu, sizeof(s));
	assert_int_equal(s.slice_mask, 0x2);
	assert_int_equal(s.subslice_mask, 0x3c);
	assert_int_equal(s.engine.engine_class, I915_ENGINE_CLASS_RENDER);
	f->be->ops->ctx_destroy(f->be, cl);
	f->be->ops->ctx_destroy(f->be, src);
}

static void test_bo_and_set_iova(void **state)
{
	struct fx *f = *state;
	struct drm_i915_gem_create cr;
	struct drm_gem_close cl;
	struct viova_be_bo *a, *b, *x;
	struct viova_be_vm *vm2;
	uint32_t ha, n;

	a = new_bo(f, 2 * PAGE, 0, 0, &ha);
	memcpy(&cr, emu_log_last(i915_emu_log(f->emu), DRM_IOCTL_I915_GEM_CREATE)->arg, sizeof(cr));
	assert_int_equal(cr.size, 2 * PAGE);
	assert_int_equal(f->be->ops->bo_create(f->be, f->vm, PAGE, VIOVA_GEM_GPU_READONLY, &x),
			 -EOPNOTSUPP);
	emu_log_fail_next(i915_emu_log(f->emu), DRM_IOCTL_I915_GEM_CREATE, -ENOMEM);
	assert_int_equal(f->be->ops->bo_create(f->be, f->vm, PAGE, 0, &x), -ENOMEM);

	/* SET_IOVA is the backend's own table: no ioctl */
	n = emu_log_own_count(i915_emu_log(f->emu));
	assert_int_equal(f->be->ops->bo_set_iova(f->be, f->vm, a, VA0 + 0x10000), 0);
	assert_int_equal(f->be->ops->bo_set_iova(f->be, f->vm, a, VA0 + 0x10000), 0);
	assert_int_equal(f->be->ops->bo_set_iova(f->be, f->vm, a, VA0 + 0x20000), -EBUSY);
	b = new_bo(f, PAGE, 0, 0, NULL);
	n = emu_log_own_count(i915_emu_log(f->emu));
	assert_int_equal(f->be->ops->bo_set_iova(f->be, f->vm, b, VA0 + 0x11000), -ENOSPC);
	assert_int_equal(f->be->ops->bo_set_iova(f->be, f->vm, b, VA0 + 0x11800), -EINVAL);
	assert_int_equal(f->be->ops->bo_set_iova(f->be, f->vm, b, VA0 - PAGE), -EINVAL);
	assert_int_equal(f->be->ops->bo_set_iova(f->be, f->vm, b, 1ull << 48), -EINVAL);
	assert_int_equal(f->be->ops->bo_set_iova(f->be, f->vm, b, (1ull << 48) - PAGE), 0);
	assert_int_equal(emu_log_own_count(i915_emu_log(f->emu)), n);
	/* another VM has its own table: the same range is free there */
	assert_int_equal(f->be->ops->vm_create(f->be, &vm2), 0);
	assert_int_equal(f->be->ops->bo_set_iova(f->be, vm2, b, VA0 + 0x10000), 0);
	/* clearing asks the kernel whether a job still has it */
	assert_int_equal(f->be->ops->bo_set_iova(f->be, f->vm, a, 0), 0);
	assert_non_null(emu_log_last(i915_emu_log(f->emu), DRM_IOCTL_I915_GEM_BUSY));
	assert_int_equal(f->be->ops->bo_set_iova(f->be, f->vm, b, VA0 + 0x10000), -EBUSY);
	assert_int_equal(f->be->ops->bo_set_iova(f->be, f->vm, b, 0), 0);
	assert_int_equal(f->be->ops->bo_set_iova(f->be, f->vm, b, VA0 + 0x10000), 0);
	f->be->ops->bo_close(f->be, b); /* drops its placements in both VMs */
	f->be->ops->vm_destroy(f->be, vm2);
	f->be->ops->bo_close(f->be, a);
	memcpy(&cl, emu_log_last(i915_emu_log(f->emu), DRM_IOCTL_GEM_CLOSE)->arg, sizeof(cl));
	assert_int_equal(cl.handle, ha);
}

static void test_upload_download(void **state)
{
	struct fx *f = *state;
	uint32_t ha, hb;
	struct viova_be_bo *a = new_bo(f, 2 * PAGE, 0, 0, &ha);
	struct viova_be_bo *b = new_bo(f, PAGE, VIOVA_GEM_CACHED_COHERENT, 0, &hb);
	struct drm_i915_gem_mmap_offset mo;
	uint8_t in[32], out[32];

	for (int i = 0; i < 32; i++)
		in[i] = (uint8_t)(0x40 + i);
	assert_int_equal(f->be->ops->bo_write(f->be, a, PAGE, in, sizeof(in)), 0);
	memcpy(&mo, emu_log_last(i915_emu_log(f->emu), DRM_IOCTL_I915_GEM_MMAP_OFFSET)->arg, sizeof(mo));
	assert_int_equal(mo.handle, ha);
	assert_int_equal(mo.flags, I915_MMAP_OFFSET_WC);
	assert_memory_equal(i915_emu_mem(f->emu, ha) + PAGE, in, sizeof(in));
	assert_int_equal(f->be->ops->bo_read(f->be, a, PAGE, out, sizeof(out)), 0);
	assert_memory_equal(out, in, sizeof(in));
	assert_int_equal(f->be->ops->bo_read(f->be, b, 0, out, sizeof(out)), 0);
	memcpy(&mo, emu_log_last(i915_emu_log(f->emu), DRM_IOCTL_I915_GEM_MMAP_OFFSET)->arg, sizeof(mo));
	assert_int_equal(mo.handle, hb);
	assert_int_equal(mo.flags, I915_MMAP_OFFSET_WB);
	assert_int_equal(f->be->ops->bo_write(f->be, b, PAGE - 4, in, 8), -EINVAL);
	f->be->ops->bo_close(f->be, b);
	f->be->ops->bo_close(f->be, a);
}

static void test_no_sparse(void **state)
{
	struct fx *f = *state;
	struct viova_be_bo *a = new_bo(f, PAGE, 0, 0, NULL);

	assert_int_equal(f->be->ops->bind(f->be, f->vm, a, VA0, PAGE, 0, 0), -EOPNOTSUPP);
	assert_int_equal(f->be->ops->unbind(f->be, f->vm, VA0, PAGE), -EOPNOTSUPP);
	f->be->ops->bo_close(f->be, a);
}

struct job {
	struct viova_be_submit_bo bos[2];
	struct viova_submit_cmdbuf cmd;
	struct viova_be_submit s;
};

/* bos[0] = data (written), bos[1] = batch */
static void job_init(struct job *j, struct viova_be_bo *data, struct viova_be_bo *batch,
		     uint64_t fence)
{
	memset(j, 0, sizeof(*j));
	j->bos[0] = (struct viova_be_submit_bo){
	    .bo = data, .flags = VIOVA_SUBMIT_BO_WRITE | VIOVA_SUBMIT_BO_DUMP};
	j->bos[1] = (struct viova_be_submit_bo){.bo = batch, .flags = VIOVA_SUBMIT_BO_READ};
	j->cmd = (struct viova_submit_cmdbuf){
	    .bo_index = 1, .type = VIOVA_CMDBUF_BUF, .offset = 0x40, .size = 0x80};
	j->s = (struct viova_be_submit){.format = VIOVA_SUBMIT_FORMAT_CMDBUF,
					.bo_count = 2,
					.bos = j->bos,
					.cmds = &j->cmd,
					.cmd_size = sizeof(j->cmd),
					.out_fence = fence};
}

static void test_submit_softpin(void **state)
{
	struct fx *f = *state;
	uint64_t high = 0x800000000000ull; /* bit 47 set: canonical form sign-extends */
	uint32_t hd, hb, ctx_id, vmobj;
	struct viova_be_bo *data = new_bo(f, 2 * PAGE, 0, high, &hd);
	struct viova_be_bo *batch = new_bo(f, PAGE, 0, VA0, &hb);
	const struct drm_i915_gem_exec_object2 *o;
	struct drm_i915_gem_execbuffer2 eb;
	struct drm_i915_gem_wait w;
	struct viova_be_ctx *c;
	struct job j;

	assert_int_equal(f->be->ops->ctx_create(f->be, f->vm, NULL, NULL, &c), 0);
	ctx_id = last_ctx_id(f);
	job_init(&j, data, batch, 3);
	/* held until polled below: the completion thread would otherwise retire it first */
	i915_emu_set_hold(f->emu, true);
	assert_int_equal(f->be->ops->submit(f->be, c, &j.s), 0);
	memcpy(&eb, emu_log_last(i915_emu_log(f->emu), DRM_IOCTL_I915_GEM_EXECBUFFER2)->arg, sizeof(eb));
	assert_int_equal(eb.buffer_count, 2);
	assert_int_equal(eb.batch_start_offset, 0x40);
	assert_int_equal(eb.batch_len, 0x80);
	assert_int_equal(eb.flags, I915_EXEC_NO_RELOC | I915_EXEC_BATCH_FIRST);
	assert_int_equal(eb.rsvd1, ctx_id);
	assert_int_equal(i915_emu_last_exec(f->emu, (const void **)&o), 2);
	assert_int_equal(o[0].handle, hb); /* batch first */
	assert_int_equal(o[0].offset, VA0);
	assert_int_equal(o[0].flags, EXEC_OBJECT_PINNED | EXEC_OBJECT_SUPPORTS_48B_ADDRESS);
	assert_int_equal(o[1].handle, hd);
	assert_int_equal(o[1].offset, 0xffff800000000000ull);
	assert_int_equal(o[1].flags, EXEC_OBJECT_PINNED | EXEC_OBJECT_SUPPORTS_48B_ADDRESS |
					 EXEC_OBJECT_WRITE | EXEC_OBJECT_CAPTURE);
	vmobj = i915_emu_vm_of_id(f->emu, f->vm_id);
	assert_int_equal(i915_emu_bound(f->emu, vmobj, hd), high);
	assert_int_equal(i915_emu_bound(f->emu, vmobj, hb), VA0);
	assert_int_equal(f->be->ops->fence_completed(f->be, c), 0);
	memcpy(&w, emu_log_last_own(i915_emu_log(f->emu), DRM_IOCTL_I915_GEM_WAIT)->arg, sizeof(w));
	assert_int_equal(w.bo_handle, hb);
	assert_int_equal(w.timeout_ns, 0); /* a poll */
	i915_emu_set_hold(f->emu, false);
	i915_emu_complete(f->emu);
	assert_int_equal(f->be->ops->fence_wait(f->be, c, 3, 1000000000ull), 0);
	assert_int_equal(f->be->ops->fence_completed(f->be, c), 3);

	/* moved: the next execbuf softpins it at the new place, the kernel rebinds */
	assert_int_equal(f->be->ops->bo_set_iova(f->be, f->vm, data, 0), 0);
	assert_int_equal(f->be->ops->bo_set_iova(f->be, f->vm, data, VA0 + 0x100000), 0);
	job_init(&j, data, batch, 4);
	assert_int_equal(f->be->ops->submit(f->be, c, &j.s), 0);
	assert_int_equal(i915_emu_bound(f->emu, vmobj, hd), VA0 + 0x100000);

	/* refusals before the kernel (this thread's calls: the completion thread may still be
	 * retiring job 4) */
	{
		uint32_t n;
		struct viova_be_bo *loose = new_bo(f, PAGE, 0, 0, NULL);

		n = emu_log_own_count(i915_emu_log(f->emu));
		job_init(&j, loose, batch, 5); /* not placed in this VM */
		assert_int_equal(f->be->ops->submit(f->be, c, &j.s), -EINVAL);
		job_init(&j, data, batch, 5);
		j.cmd.offset = 4; /* batch start must be 8-aligned */
		assert_int_equal(f->be->ops->submit(f->be, c, &j.s), -EINVAL);
		job_init(&j, data, batch, 5);
		j.cmd.type = VIOVA_CMDBUF_IB_TARGET; /* one BUF: the batch */
		assert_int_equal(f->be->ops->submit(f->be, c, &j.s), -EINVAL);
		job_init(&j, data, batch, 5);
		j.bos[0].iova = VA0 + 0x200000; /* core and backend disagree */
		assert_int_equal(f->be->ops->submit(f->be, c, &j.s), -EINVAL);
		job_init(&j, data, batch, 4); /* fence not increasing */
		assert_int_equal(f->be->ops->submit(f->be, c, &j.s), -EINVAL);
		job_init(&j, data, batch, 5);
		j.s.cmd_size = 2 * sizeof(j.cmd);
		assert_int_equal(f->be->ops->submit(f->be, c, &j.s), -EINVAL);
		assert_int_equal(emu_log_own_count(i915_emu_log(f->emu)), n);
		f->be->ops->bo_close(f->be, loose);
	}
	/* kernel errors on execbuf */
	job_init(&j, data, batch, 5);
	emu_log_fail_next(i915_emu_log(f->emu), DRM_IOCTL_I915_GEM_EXECBUFFER2, -EIO); /* banned context */
	assert_int_equal(f->be->ops->submit(f->be, c, &j.s), -EIO);
	emu_log_fail_next(i915_emu_log(f->emu), DRM_IOCTL_I915_GEM_EXECBUFFER2, -ENOSPC);
	assert_int_equal(f->be->ops->submit(f->be, c, &j.s), -ENOSPC);
	emu_log_fail_next(i915_emu_log(f->emu), DRM_IOCTL_I915_GEM_EXECBUFFER2, -ENOENT);
	assert_int_equal(f->be->ops->submit(f->be, c, &j.s), -EIO);
	emu_log_fail_next(i915_emu_log(f->emu), DRM_IOCTL_I915_GEM_EXECBUFFER2, -EINTR);
	assert_int_equal(f->be->ops->submit(f->be, c, &j.s), -EIO);
	assert_int_equal(f->be->ops->submit(f->be, c, &j.s), 0); /* the fence was not used */
	f->be->ops->ctx_destroy(f->be, c);
	f->be->ops->bo_close(f->be, batch);
	f->be->ops->bo_close(f->be, data);
}

static void test_held_jobs(void **state)
{
	struct fx *f = *state;
	struct viova_be_bo *data = new_bo(f, PAGE, 0, VA0 + PAGE, NULL);
	struct viova_be_bo *batch = new_bo(f, PAGE, 0, VA0, NULL);
	struct viova_be_ctx *c;
	struct job j;

	assert_int_equal(f->be->ops->ctx_create(f->be, f->vm, NULL, NULL, &c), 0);
	job_init(&j, data, batch, 2);
	assert_int_equal(f->be->ops->submit(f->be, c, &j.s), 0);
	assert_int_equal(f->be->ops->fence_completed(f->be, c), 0);
	assert_int_equal(f->be->ops->fence_wait(f->be, c, 1, 1000), -ETIMEDOUT); /* -ETIME */
	assert_int_equal(f->be->ops->fence_wait(f->be, c, 3, 1000), -EINVAL);
	assert_int_equal(f->be->ops->bo_set_iova(f->be, f->vm, data, 0), -EBUSY);
	/* the job hung the GPU: a job_fault before its fence shows */
	i915_emu_ctx(f->emu, last_ctx_id(f))->guilty = 1;
	nfaults = 0;
	fault_be = f->be;
	fault_ctx = c;
	i915_emu_complete(f->emu);
	assert_int_equal(f->be->ops->fence_wait(f->be, c, 2, 1000), 0);
	assert_int_equal(nfaults, 1);
	assert_int_equal(fault_fence, 2);
	assert_int_equal(fault_seen, 0);
	assert_int_equal(f->be->ops->fence_completed(f->be, c), 2);
	assert_int_equal(nfaults, 1);
	assert_int_equal(f->be->ops->bo_set_iova(f->be, f->vm, data, 0), 0);
	f->be->ops->ctx_destroy(f->be, c);
	f->be->ops->bo_close(f->be, batch);
	f->be->ops->bo_close(f->be, data);
}

/* "auto" with a device: that node's driver decides. */
static void test_auto(void **state)
{
	struct viova_backend_config cfg = {.device = "/dev/dri/renderD130"};
	struct i915_emu *emu = i915_emu_new(NULL);
	struct viova_backend *be = NULL;

	(void)state;
	drm_seam_set(i915_emu_seam(emu));
	assert_int_equal(viova_backend_create("auto", &cfg, &no_events, NULL, &be), 0);
	assert_string_equal(be->ops->name, "i915");
	be->ops->destroy(be);
	assert_int_equal(i915_emu_open_files(emu), 0);
	i915_emu_free(emu);
	drm_seam_set(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_probe_and_caps),
	    cmocka_unit_test(test_refusals_at_open),
	    cmocka_unit_test(test_auto),
	    cmocka_unit_test_setup_teardown(test_vm, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ctx_create, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_clone, setup_priv, teardown),
	    cmocka_unit_test_setup_teardown(test_clone_sseu_default_map, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bo_and_set_iova, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_upload_download, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_sparse, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_submit_softpin, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_held_jobs, setup_hold, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/*
 * i915.c - the i915 backend: viova VMs, contexts and buffers on an Intel render node.
 *
 * DOC: how viova maps onto i915 (docs/drivers.md has the per-command table)
 *
 *   viova VM        GEM_VM_CREATE id on the one device fd (a full ppGTT of its own)
 *   viova context   GEM_CONTEXT_CREATE_EXT with SETPARAM(VM, PRIORITY, BANNABLE, RECOVERABLE,
 *                   NO_ERROR_CAPTURE) chained as create extensions; always bannable
 *   viova buffer    GEM_CREATE (handles belong to the fd, so a buffer works in every VM)
 *   SET_IOVA        no ioctl: i915 has no "map at" call outside VM_BIND (which upstream i915
 *                   never merged). The backend keeps the placement per VM and softpins it:
 *
 *     SET_IOVA(vm, bo, iova)  -->  vm->maps += {bo, iova}        (checked here: aligned, in
 *                                                                 the window, no overlap)
 *     SUBMIT(ctx in vm, bos)  -->  exec_object2[i].offset = canonical(vm->maps[bo])
 *                                  .flags = PINNED | SUPPORTS_48B_ADDRESS (| WRITE | CAPTURE)
 *
 *                   and the kernel binds each object at exactly that offset for the batch.
 *   clone           i915 removed I915_CONTEXT_CREATE_EXT_CLONE (Linux 5.15): every copied
 *                   property is read from the source with CONTEXT_GETPARAM and passed to the
 *                   new context as a SETPARAM create extension.
 *   fences          the batch buffer's handle per job; GEM_WAIT on it (relative timeout).
 *   completion      a thread per instance (completion.h) blocks in GEM_WAIT on the oldest
 *                   job's batch of each context in turn, 20 ms at a time, and raises
 *                   fence_signaled; fence_completed / fence_wait retire through the same
 *                   path, so a fence is reported once and a guest that only watches its
 *                   fence still sees it
 *   faults          GET_RESET_STATS(batch_active) after each completion: a new count is a
 *                   job_fault event (-EIO, iova 0: the uapi does not say where), sent
 *                   before the fence shows
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <drm/drm.h>
#include <drm/i915_drm.h>

#include "../completion.h"
#include "../drm_seam.h"
#include "i915.h"

#define I915_MAX_BOS 65536u
#define I915_MAX_WAIT_NS 100000000ull
#define I915_MAX_ENGINES_BYTES 4096u

struct i915_map {
	struct viova_be_bo *bo;
	uint64_t iova;
};

/* Lives while the core holds it or a context runs in it (submit reads its placements). */
struct viova_be_vm {
	uint32_t id;
	uint32_t refs;
	uint32_t nmaps, cap;
	struct i915_map *maps; /* SET_IOVA placements; linear: see docs/drivers.md */
	struct viova_be_vm *next;
};

struct viova_be_ctx {
	struct be_cctx cq; /* fences and faults (kernel id of a job: its batch handle) */
	struct viova_be_vm *vm;
	uint32_t id;
	uint32_t params; /* as the guest asked; ALLOW_PREEMPT and !BANNABLE live only here */
};

struct viova_be_bo {
	uint32_t handle;
	uint32_t flags;
	uint64_t size;
	void *map;
};

struct i915_be {
	struct viova_backend base;
	const struct drm_seam *seam;
	int fd;
	char device[256];
	uint32_t drv_major, drv_minor, drv_patch;
	uint32_t chip_id;
	uint64_t gtt_size;
	struct viova_be_vm *vms;
	struct be_completion cq;
};

/* What a new context is created with (ctx_create and clone share it). */
struct i915_ctx_setup {
	uint32_t vm_id;
	uint32_t params;
	int32_t priority;
	void *engines; /* I915_CONTEXT_PARAM_ENGINES blob or NULL (default map) */
	uint32_t engines_size;
	bool sseu_set;
	struct drm_i915_gem_context_param_sseu sseu;
};

static struct i915_be *to_i915(struct viova_backend *be)
{
	return (struct i915_be *)be;
}

static struct i915_be *i915_of_cq(struct be_completion *bc)
{
	return (struct i915_be *)((char *)bc - offsetof(struct i915_be, cq));
}

static struct viova_be_ctx *i915_ctx_of(struct be_cctx *c)
{
	return (struct viova_be_ctx *)((char *)c - offsetof(struct viova_be_ctx, cq));
}

static int i915_ioctl(struct i915_be *d, unsigned long req, void *arg)
{
	return d->seam->ioctl(d->seam->cookie, d->fd, req, arg);
}

/* Same policy as msm: errors the guest can act on pass, host-side trouble is -EIO. */
static int i915_map_err(int kerr)
{
	switch (kerr) {
	case -EBUSY:
	case -ENOSPC:
	case -EOPNOTSUPP:
	case -EINVAL:
	case -ENOMEM:
	case -EPERM: /* priority > 0 without CAP_SYS_NICE, unbannable without CAP_SYS_ADMIN */
	case -EIO:   /* a banned context */
	case -EAGAIN:
		return kerr;
	case -ETIME:
	case -ETIMEDOUT:
		return -ETIMEDOUT;
	default:
		return -EIO;
	}
}

/* Sign-extend bit 47: the only form of a high address execbuf accepts. */
static uint64_t i915_canonical(uint64_t addr)
{
	return (uint64_t)((int64_t)(addr << 16) >> 16);
}

static int i915_get_caps(struct viova_backend *be, struct viova_capset *caps)
{
	struct i915_be *d = to_i915(be);

	caps->backend = VIOVA_BACKEND_I915;
	caps->va_start = I915_VA_START;
	caps->va_size = d->gtt_size - I915_VA_START;
	caps->reserved_start = 0;
	caps->reserved_size = 0;
	caps->page_size = 4096;
	caps->min_alignment = 4096;
	caps->features = VIOVA_FEATURE_SET_IOVA | VIOVA_FEATURE_MULTI_VM | VIOVA_FEATURE_UPLOAD |
			 VIOVA_FEATURE_DOWNLOAD | VIOVA_FEATURE_SUBMIT_CMDBUF |
			 VIOVA_FEATURE_PRIORITY | VIOVA_FEATURE_WAIT_BLOCKS;
	/* TIMELINE: upstream removed both CREATE_EXT_CLONE and any way to share a timeline
	 * between two contexts (SINGLE_TIMELINE is within one context). */
	caps->clone_flags = VIOVA_CLONE_ALL & ~VIOVA_CLONE_TIMELINE;
	caps->driver_major = d->drv_major;
	caps->driver_minor = d->drv_minor;
	caps->driver_patch = d->drv_patch;
	caps->gpu_id = d->chip_id;
	caps->chip_id = d->chip_id;
	caps->max_wait_ns = I915_MAX_WAIT_NS;
	return 0;
}

static void i915_vm_put(struct i915_be *d, struct viova_be_vm *vm);

/* The kernel side of a context: destroyed, its VM reference dropped. */
static void i915_ctx_release(struct i915_be *d, struct viova_be_ctx *ctx)
{
	struct drm_i915_gem_context_destroy req = {0};

	req.ctx_id = ctx->id;
	i915_ioctl(d, DRM_IOCTL_I915_GEM_CONTEXT_DESTROY, &req);
	i915_vm_put(d, ctx->vm);
	free(ctx);
}

static void i915_destroy(struct viova_backend *be)
{
	struct i915_be *d = to_i915(be);
	struct be_cctx *c;

	be_comp_stop(&d->cq);
	/* The core destroys every context first; one left over must not leak its context. */
	while ((c = be_comp_leftover(&d->cq)))
		i915_ctx_release(d, i915_ctx_of(c));
	be_comp_fini(&d->cq);
	d->seam->close(d->seam->cookie, d->fd);
	free(d);
}

static int i915_vm_create(struct viova_backend *be, struct viova_be_vm **out)
{
	struct i915_be *d = to_i915(be);
	struct drm_i915_gem_vm_control req = {0};
	struct viova_be_vm *vm = calloc(1, sizeof(*vm));
	int ret;

	if (!vm)
		return -ENOMEM;
	ret = i915_ioctl(d, DRM_IOCTL_I915_GEM_VM_CREATE, &req);
	if (ret) {
		free(vm);
		return i915_map_err(ret);
	}
	vm->id = req.vm_id;
	vm->refs = 1;
	vm->next = d->vms;
	d->vms = vm;
	*out = vm;
	return 0;
}

static void i915_vm_put(struct i915_be *d, struct viova_be_vm *vm)
{
	struct drm_i915_gem_vm_control req = {0};
	struct viova_be_vm **p;

	if (--vm->refs)
		return;
	for (p = &d->vms; *p && *p != vm; p = &(*p)->next)
		;
	if (*p)
		*p = vm->next;
	req.vm_id = vm->id;
	i915_ioctl(d, DRM_IOCTL_I915_GEM_VM_DESTROY, &req);
	free(vm->maps);
	free(vm);
}

static void i915_vm_destroy(struct viova_backend *be, struct viova_be_vm *vm)
{
	if (vm)
		i915_vm_put(to_i915(be), vm);
}

/* Append one SETPARAM create extension to the chain being built. */
static void i915_ext(struct drm_i915_gem_context_create_ext_setparam *ext, uint32_t *n,
		     uint64_t param, uint64_t value, uint32_t size)
{
	struct drm_i915_gem_context_create_ext_setparam *e = &ext[*n];

	memset(e, 0, sizeof(*e));
	e->base.name = I915_CONTEXT_CREATE_EXT_SETPARAM;
	e->param.param = param;
	e->param.value = value;
	e->param.size = size;
	if (*n)
		ext[*n - 1].base.next_extension = (uint64_t)(uintptr_t)e;
	(*n)++;
}

static int i915_ctx_new(struct i915_be *d, struct viova_be_vm *vm, const struct i915_ctx_setup *s,
			void *cookie, struct viova_be_ctx **out)
{
	struct drm_i915_gem_context_create_ext_setparam ext[7];
	struct drm_i915_gem_context_create_ext req = {0};
	struct viova_be_ctx *c = calloc(1, sizeof(*c));
	uint32_t n = 0;
	int ret;

	if (!c)
		return -ENOMEM;
	/* Order matters to the kernel: ENGINES before SSEU (SSEU names an engine index). */
	i915_ext(ext, &n, I915_CONTEXT_PARAM_VM, s->vm_id, 0);
	if (s->engines)
		i915_ext(ext, &n, I915_CONTEXT_PARAM_ENGINES, (uint64_t)(uintptr_t)s->engines,
			 s->engines_size);
	if (s->sseu_set)
		i915_ext(ext, &n, I915_CONTEXT_PARAM_SSEU, (uint64_t)(uintptr_t)&s->sseu,
			 sizeof(s->sseu));
	i915_ext(ext, &n, I915_CONTEXT_PARAM_PRIORITY, (uint64_t)(int64_t)s->priority, 0);
	/*
	 * Always bannable in the kernel: BANNABLE = 0 needs CAP_SYS_ADMIN and would let a guest
	 * hang the GPU for everyone. The guest's bit is kept host-side (params) and cloned.
	 */
	i915_ext(ext, &n, I915_CONTEXT_PARAM_BANNABLE, 1, 0);
	i915_ext(ext, &n, I915_CONTEXT_PARAM_RECOVERABLE, !!(s->params & VIOVA_CTX_RECOVERABLE), 0);
	i915_ext(ext, &n, I915_CONTEXT_PARAM_NO_ERROR_CAPTURE,
		 !!(s->params & VIOVA_CTX_NO_ERROR_CAPTURE), 0);
	req.flags = I915_CONTEXT_CREATE_FLAGS_USE_EXTENSIONS;
	req.extensions = (uint64_t)(uintptr_t)ext;
	ret = i915_ioctl(d, DRM_IOCTL_I915_GEM_CONTEXT_CREATE_EXT, &req);
	if (ret) {
		free(c);
		return i915_map_err(ret);
	}
	c->vm = vm;
	vm->refs++;
	c->id = req.ctx_id;
	c->params = s->params;
	be_comp_ctx_add(&d->cq, &c->cq, cookie);
	*out = c;
	return 0;
}

static int i915_ctx_create(struct viova_backend *be, struct viova_be_vm *vm,
			   const struct viova_be_ctx_params *params, void *ctx_cookie,
			   struct viova_be_ctx **out)
{
	struct i915_ctx_setup s = {.params = VIOVA_CTX_BANNABLE | VIOVA_CTX_RECOVERABLE};

	if (!vm || !out)
		return -EINVAL;
	if (params) {
		if (params->params & ~VIOVA_CTX_PARAMS_ALL ||
		    params->priority < VIOVA_PRIORITY_MIN || params->priority > VIOVA_PRIORITY_MAX)
			return -EINVAL;
		s.params = params->params;
		s.priority = params->priority; /* same range as I915_CONTEXT_*_USER_PRIORITY */
	}
	s.vm_id = vm->id;
	return i915_ctx_new(to_i915(be), vm, &s, ctx_cookie, out);
}

static int i915_getparam(struct i915_be *d, uint32_t ctx, uint64_t param, uint64_t *value)
{
	struct drm_i915_gem_context_param p = {.ctx_id = ctx, .param = param};
	int ret = i915_ioctl(d, DRM_IOCTL_I915_GEM_CONTEXT_GETPARAM, &p);

	if (!ret)
		*value = p.value;
	return ret;
}

/* Read src's properties named by flags into s (seed 003 semantics, without the removed uapi). */
static int i915_clone_read(struct i915_be *d, struct viova_be_ctx *src, uint32_t flags,
			   struct i915_ctx_setup *s, uint32_t *vm_ref)
{
	struct drm_i915_gem_context_param p;
	uint64_t v;
	int ret;

	if (flags & VIOVA_CLONE_ENGINES) {
		/* size 0 asks for the size; 0 back means the default engine map */
		memset(&p, 0, sizeof(p));
		p.ctx_id = src->id;
		p.param = I915_CONTEXT_PARAM_ENGINES;
		ret = i915_ioctl(d, DRM_IOCTL_I915_GEM_CONTEXT_GETPARAM, &p);
		if (ret)
			return ret;
		if (p.size > I915_MAX_ENGINES_BYTES)
			return -EINVAL;
		if (p.size) {
			s->engines = calloc(1, p.size);
			if (!s->engines)
				return -ENOMEM;
			s->engines_size = p.size;
			p.value = (uint64_t)(uintptr_t)s->engines;
			ret = i915_ioctl(d, DRM_IOCTL_I915_GEM_CONTEXT_GETPARAM, &p);
			if (ret)
				return ret;
		}
	}
	if (flags & VIOVA_CLONE_FLAGS) {
		/* the two bits without a kernel counterpart here come from the stored params */
		s->params = src->params & (VIOVA_CTX_ALLOW_PREEMPT | VIOVA_CTX_BANNABLE);
		if ((ret = i915_getparam(d, src->id, I915_CONTEXT_PARAM_RECOVERABLE, &v)))
			return ret;
		s->params |= v ? VIOVA_CTX_RECOVERABLE : 0;
		if ((ret = i915_getparam(d, src->id, I915_CONTEXT_PARAM_NO_ERROR_CAPTURE, &v)))
			return ret;
		s->params |= v ? VIOVA_CTX_NO_ERROR_CAPTURE : 0;
	}
	if (flags & VIOVA_CLONE_SCHEDATTR) {
		if ((ret = i915_getparam(d, src->id, I915_CONTEXT_PARAM_PRIORITY, &v)))
			return ret;
		s->priority = (int32_t)(int64_t)v;
	}
	if (flags & VIOVA_CLONE_SSEU) {
		/*
		 * SSEU is per engine: the render engine of the default map, or index 0 of a
		 * user map. A user map not cloned along would give the clone the default map,
		 * whose engine differs: -EINVAL, the rule of seed 003's clone_sseu.
		 */
		memset(&p, 0, sizeof(p));
		memset(&s->sseu, 0, sizeof(s->sseu));
		if (s->engines) {
			s->sseu.flags = I915_CONTEXT_SSEU_FLAG_ENGINE_INDEX;
		} else if (!(flags & VIOVA_CLONE_ENGINES)) {
			p.ctx_id = src->id;
			p.param = I915_CONTEXT_PARAM_ENGINES;
			if ((ret = i915_ioctl(d, DRM_IOCTL_I915_GEM_CONTEXT_GETPARAM, &p)))
				return ret;
			if (p.size)
				return -EINVAL;
			memset(&p, 0, sizeof(p));
		}
		if (!s->engines)
			s->sseu.engine.engine_class = I915_ENGINE_CLASS_RENDER;
		p.ctx_id = src->id;
		p.param = I915_CONTEXT_PARAM_SSEU;
		p.size = sizeof(s->sseu);
		p.value = (uint64_t)(uintptr_t)&s->sseu;
		if ((ret = i915_ioctl(d, DRM_IOCTL_I915_GEM_CONTEXT_GETPARAM, &p)))
			return ret;
		s->sseu_set = true;
	}
	if (flags & VIOVA_CLONE_VM) {
		/* GETPARAM(VM) hands out a new id for src's VM: used once, then dropped */
		if ((ret = i915_getparam(d, src->id, I915_CONTEXT_PARAM_VM, &v)))
			return ret;
		*vm_ref = (uint32_t)v;
		s->vm_id = (uint32_t)v;
	}
	return 0;
}

static int i915_ctx_clone(struct viova_backend *be, struct viova_be_ctx *src, uint32_t flags,
			  struct viova_be_vm *vm, void *ctx_cookie, struct viova_be_ctx **out)
{
	struct i915_be *d = to_i915(be);
	struct i915_ctx_setup s = {.params = VIOVA_CTX_BANNABLE | VIOVA_CTX_RECOVERABLE};
	struct drm_i915_gem_vm_control put = {0};
	uint32_t vm_ref = 0;
	int ret;

	if (flags & ~VIOVA_CLONE_ALL || !vm || !out)
		return -EINVAL;
	if (!src)
		return -ENOENT;
	if (flags & VIOVA_CLONE_TIMELINE)
		return -EOPNOTSUPP;
	if ((flags & VIOVA_CLONE_VM) && vm != src->vm)
		return -EINVAL;
	s.vm_id = vm->id;
	ret = i915_clone_read(d, src, flags, &s, &vm_ref);
	if (!ret)
		ret = i915_ctx_new(d, vm, &s, ctx_cookie, out);
	else
		ret = i915_map_err(ret);
	if (vm_ref) {
		put.vm_id = vm_ref;
		i915_ioctl(d, DRM_IOCTL_I915_GEM_VM_DESTROY, &put);
	}
	free(s.engines);
	return ret;
}

/* The thread is out of the context (and its last fence reported) before the kernel drops it. */
static void i915_ctx_destroy(struct viova_backend *be, struct viova_be_ctx *ctx)
{
	struct i915_be *d = to_i915(be);

	if (!ctx)
		return;
	be_comp_ctx_del(&d->cq, &ctx->cq);
	i915_ctx_release(d, ctx);
}

static int i915_bo_create(struct viova_backend *be, struct viova_be_vm *home, uint64_t size,
			  uint32_t flags, struct viova_be_bo **out)
{
	struct i915_be *d = to_i915(be);
	struct drm_i915_gem_create req = {.size = size};
	struct viova_be_bo *bo;
	int ret;

	if (!home || !out || !size || size % 4096 || flags & ~VIOVA_GEM_FLAGS_ALL ||
	    ((flags & VIOVA_GEM_CACHED_COHERENT) && (flags & VIOVA_GEM_UNCACHED)))
		return -EINVAL;
	/* A ppGTT has no per-object read-only pages for userspace: refuse rather than ignore. */
	if (flags & VIOVA_GEM_GPU_READONLY)
		return -EOPNOTSUPP;
	bo = calloc(1, sizeof(*bo));
	if (!bo)
		return -ENOMEM;
	ret = i915_ioctl(d, DRM_IOCTL_I915_GEM_CREATE, &req);
	if (ret) {
		free(bo);
		return i915_map_err(ret);
	}
	bo->handle = req.handle;
	bo->flags = flags;
	bo->size = size;
	*out = bo;
	return 0;
}

static struct i915_map *i915_find(struct viova_be_vm *vm, const struct viova_be_bo *bo)
{
	uint32_t i;

	for (i = 0; i < vm->nmaps; i++) {
		if (vm->maps[i].bo == bo)
			return &vm->maps[i];
	}
	return NULL;
}

static void i915_bo_close(struct viova_backend *be, struct viova_be_bo *bo)
{
	struct i915_be *d = to_i915(be);
	struct drm_gem_close req;
	struct viova_be_vm *vm;
	struct i915_map *m;

	if (!bo)
		return;
	/* The core removed the placements already; never leave a dangling one anyway. */
	for (vm = d->vms; vm; vm = vm->next) {
		while ((m = i915_find(vm, bo)))
			*m = vm->maps[--vm->nmaps];
	}
	if (bo->map)
		d->seam->munmap(d->seam->cookie, bo->map, bo->size);
	memset(&req, 0, sizeof(req));
	req.handle = bo->handle;
	i915_ioctl(d, DRM_IOCTL_GEM_CLOSE, &req);
	free(bo);
}

static int i915_bo_set_iova(struct viova_backend *be, struct viova_be_vm *vm,
			    struct viova_be_bo *bo, uint64_t iova)
{
	struct i915_be *d = to_i915(be);
	struct i915_map *m;
	uint64_t end = iova + (bo ? bo->size : 0);
	uint32_t i;

	if (!vm || !bo)
		return -EINVAL;
	m = i915_find(vm, bo);
	if (!iova) {
		struct drm_i915_gem_busy busy = {.handle = bo->handle};
		int ret;

		if (!m)
			return 0;
		/* an unfinished job still has it at this offset */
		ret = i915_ioctl(d, DRM_IOCTL_I915_GEM_BUSY, &busy);
		if (ret)
			return i915_map_err(ret);
		if (busy.busy)
			return -EBUSY;
		*m = vm->maps[--vm->nmaps];
		return 0;
	}
	if (iova % 4096 || end < iova || iova < I915_VA_START || end > d->gtt_size)
		return -EINVAL;
	if (m)
		return m->iova == iova ? 0 : -EBUSY;
	for (i = 0; i < vm->nmaps; i++) {
		if (iova < vm->maps[i].iova + vm->maps[i].bo->size && vm->maps[i].iova < end)
			return -ENOSPC;
	}
	if (vm->nmaps == vm->cap) {
		uint32_t cap = vm->cap ? vm->cap * 2 : 16;
		struct i915_map *p = realloc(vm->maps, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		vm->maps = p;
		vm->cap = cap;
	}
	vm->maps[vm->nmaps++] = (struct i915_map){.bo = bo, .iova = iova};
	return 0;
}

static int i915_bind(struct viova_backend *be, struct viova_be_vm *vm, struct viova_be_bo *bo,
		     uint64_t addr, uint64_t range, uint64_t bo_offset, uint32_t flags)
{
	(void)be, (void)vm, (void)bo, (void)addr, (void)range, (void)bo_offset, (void)flags;
	return -EOPNOTSUPP; /* VM_BIND was never merged into upstream i915 (only xe has it) */
}

static int i915_unbind(struct viova_backend *be, struct viova_be_vm *vm, uint64_t addr,
		       uint64_t range)
{
	(void)be, (void)vm, (void)addr, (void)range;
	return -EOPNOTSUPP;
}

static int i915_bo_access(struct viova_backend *be, struct viova_be_bo *bo, uint64_t offset,
			  uint64_t size)
{
	struct i915_be *d = to_i915(be);
	struct drm_i915_gem_mmap_offset req = {0};
	int ret, err = 0;
	void *p;

	if (!bo || offset > bo->size || size > bo->size - offset)
		return -EINVAL;
	if (!size || bo->map)
		return 0;
	req.handle = bo->handle;
	req.flags =
	    bo->flags & VIOVA_GEM_CACHED_COHERENT ? I915_MMAP_OFFSET_WB : I915_MMAP_OFFSET_WC;
	ret = i915_ioctl(d, DRM_IOCTL_I915_GEM_MMAP_OFFSET, &req);
	if (ret)
		return i915_map_err(ret);
	p = d->seam->mmap(d->seam->cookie, bo->size, PROT_READ | PROT_WRITE, MAP_SHARED, d->fd,
			  (off_t)req.offset, &err);
	if (!p)
		return err == -ENOMEM ? -ENOMEM : -EIO;
	bo->map = p;
	return 0;
}

static int i915_bo_write(struct viova_backend *be, struct viova_be_bo *bo, uint64_t offset,
			 const void *data, uint64_t size)
{
	int ret = i915_bo_access(be, bo, offset, size);

	if (!ret && size)
		memcpy((uint8_t *)bo->map + offset, data, size);
	return ret;
}

static int i915_bo_read(struct viova_backend *be, struct viova_be_bo *bo, uint64_t offset,
			void *data, uint64_t size)
{
	int ret = i915_bo_access(be, bo, offset, size);

	if (!ret && size)
		memcpy(data, (const uint8_t *)bo->map + offset, size);
	return ret;
}

static int i915_submit(struct viova_backend *be, struct viova_be_ctx *ctx,
		       const struct viova_be_submit *job)
{
	struct i915_be *d = to_i915(be);
	struct drm_i915_gem_exec_object2 *obj;
	struct drm_i915_gem_execbuffer2 eb;
	struct viova_submit_cmdbuf r;
	struct viova_be_bo *batch;
	uint32_t i, n;
	int ret = -EINVAL;

	/* i915 runs one batch buffer per execbuf: exactly one BUF record. */
	if (!ctx || !job || job->format != VIOVA_SUBMIT_FORMAT_CMDBUF || job->pad0 || !job->cmds ||
	    job->cmd_size != sizeof(r) || !job->bo_count || job->bo_count > I915_MAX_BOS ||
	    !job->bos)
		return -EINVAL;
	memcpy(&r, job->cmds, sizeof(r));
	if (r.type != VIOVA_CMDBUF_BUF || r.bo_index >= job->bo_count || !job->bos[r.bo_index].bo)
		return -EINVAL;
	batch = job->bos[r.bo_index].bo;
	if (!r.size || r.size % 8 || r.offset % 8 || r.offset > batch->size ||
	    r.size > batch->size - r.offset || r.offset + r.size > UINT32_MAX)
		return -EINVAL;
	/* The fence grows, and there is room for it before the kernel runs anything. */
	ret = be_comp_submit_prepare(&d->cq, &ctx->cq, job->out_fence);
	if (ret)
		return ret;
	ret = -EINVAL;
	obj = calloc(job->bo_count, sizeof(*obj));
	if (!obj)
		return -ENOMEM;
	/* The batch goes first (I915_EXEC_BATCH_FIRST), the others keep their order. */
	for (i = 0, n = 1; i < job->bo_count; i++) {
		const struct viova_be_submit_bo *e = &job->bos[i];
		struct drm_i915_gem_exec_object2 *o = i == r.bo_index ? &obj[0] : &obj[n++];
		const struct i915_map *m = e->bo ? i915_find(ctx->vm, e->bo) : NULL;

		/* every buffer needs its SET_IOVA placement in this VM, the one the core has */
		if (!m || e->pad0 || e->flags & ~VIOVA_SUBMIT_BO_FLAGS_ALL ||
		    !(e->flags & (VIOVA_SUBMIT_BO_READ | VIOVA_SUBMIT_BO_WRITE)) ||
		    (e->iova && e->iova != m->iova))
			goto out;
		if (o->handle) /* listed twice */
			goto out;
		o->handle = e->bo->handle;
		o->offset = i915_canonical(m->iova);
		o->flags = EXEC_OBJECT_PINNED | EXEC_OBJECT_SUPPORTS_48B_ADDRESS |
			   (e->flags & VIOVA_SUBMIT_BO_WRITE ? EXEC_OBJECT_WRITE : 0) |
			   (e->flags & VIOVA_SUBMIT_BO_DUMP ? EXEC_OBJECT_CAPTURE : 0);
	}
	memset(&eb, 0, sizeof(eb));
	eb.buffers_ptr = (uint64_t)(uintptr_t)obj;
	eb.buffer_count = job->bo_count;
	eb.batch_start_offset = (uint32_t)r.offset;
	eb.batch_len = (uint32_t)r.size;
	eb.flags = I915_EXEC_DEFAULT | I915_EXEC_NO_RELOC | I915_EXEC_BATCH_FIRST;
	i915_execbuffer2_set_context_id(eb, ctx->id);
	ret = i915_ioctl(d, DRM_IOCTL_I915_GEM_EXECBUFFER2, &eb);
	if (ret) {
		ret = i915_map_err(ret);
		goto out;
	}
	be_comp_submit_commit(&d->cq, &ctx->cq, job->out_fence, batch->handle);
out:
	free(obj);
	return ret;
}

/*
 * i915 counts, per context, the hangs it found the context guilty of (batch_active). The
 * completion engine reads it after each completion; a new count becomes a job_fault of the job
 * whose completion revealed it, before its fence shows (backend.h, rule 1). Where the GPU
 * faulted is not in the uapi (only in the root-only error state in sysfs).
 */
static int i915_cq_faults(struct be_completion *bc, struct be_cctx *cc, uint32_t *count)
{
	struct drm_i915_reset_stats st = {.ctx_id = i915_ctx_of(cc)->id};
	int ret = i915_ioctl(i915_of_cq(bc), DRM_IOCTL_I915_GET_RESET_STATS, &st);

	if (!ret)
		*count = st.batch_active;
	return ret;
}

/* GEM_WAIT on the job's batch; done means every earlier job of the context is done too. */
static int i915_cq_wait(struct be_completion *bc, struct be_cctx *cc, const struct be_pending *job,
			uint64_t timeout_ns)
{
	struct drm_i915_gem_wait w = {.bo_handle = job->kernel};
	int ret;

	(void)cc;
	if (timeout_ns > I915_MAX_WAIT_NS * 10)
		timeout_ns = I915_MAX_WAIT_NS * 10;
	w.timeout_ns = (int64_t)timeout_ns; /* relative; negative would mean forever */
	ret = i915_ioctl(i915_of_cq(bc), DRM_IOCTL_I915_GEM_WAIT, &w);
	return ret ? i915_map_err(ret) : 0;
}

static const struct be_completion_ops i915_cq_ops = {
    .wait = i915_cq_wait,
    .faults = i915_cq_faults,
};

static uint64_t i915_fence_completed(struct viova_backend *be, struct viova_be_ctx *ctx)
{
	return ctx ? be_comp_completed(&to_i915(be)->cq, &ctx->cq) : 0;
}

static int i915_fence_wait(struct viova_backend *be, struct viova_be_ctx *ctx, uint64_t fence,
			   uint64_t timeout_ns)
{
	return ctx ? be_comp_wait(&to_i915(be)->cq, &ctx->cq, fence, timeout_ns) : -EINVAL;
}

static const struct viova_backend_ops i915_ops = {
    .name = "i915",
    .get_caps = i915_get_caps,
    .destroy = i915_destroy,
    .vm_create = i915_vm_create,
    .vm_destroy = i915_vm_destroy,
    .ctx_create = i915_ctx_create,
    .ctx_clone = i915_ctx_clone,
    .ctx_destroy = i915_ctx_destroy,
    .bo_create = i915_bo_create,
    .bo_close = i915_bo_close,
    .bo_set_iova = i915_bo_set_iova,
    .bind = i915_bind,
    .unbind = i915_unbind,
    .bo_write = i915_bo_write,
    .bo_read = i915_bo_read,
    .submit = i915_submit,
    .fence_completed = i915_fence_completed,
    .fence_wait = i915_fence_wait,
};

static int i915_probe(struct i915_be *d)
{
	struct drm_version v;
	char name[32] = "";
	int softpin = 0, chip = 0;
	drm_i915_getparam_t gp;
	uint64_t gtt = 0;
	int ret;

	memset(&v, 0, sizeof(v));
	v.name = name;
	v.name_len = sizeof(name) - 1;
	ret = i915_ioctl(d, DRM_IOCTL_VERSION, &v);
	if (!ret)
		name[v.name_len < sizeof(name) - 1 ? v.name_len : sizeof(name) - 1] = '\0';
	if (ret || strcmp(name, "i915") != 0) {
		drm_seam_logf(d->seam, "i915: %s is driven by \"%s\", not i915: use --backend %s",
			      d->device, ret ? "?" : name, ret ? "auto" : name);
		return -ENODEV;
	}
	d->drv_major = (uint32_t)v.version_major;
	d->drv_minor = (uint32_t)v.version_minor;
	d->drv_patch = (uint32_t)v.version_patchlevel;
	gp.param = I915_PARAM_HAS_EXEC_SOFTPIN;
	gp.value = &softpin;
	if (i915_ioctl(d, DRM_IOCTL_I915_GETPARAM, &gp) || !softpin) {
		drm_seam_logf(
		    d->seam,
		    "i915: %s (i915 %u.%u.%u) has no softpin (I915_PARAM_HAS_EXEC_SOFTPIN): "
		    "guest-chosen iovas cannot be honoured",
		    d->device, d->drv_major, d->drv_minor, d->drv_patch);
		return -ENODEV;
	}
	gp.param = I915_PARAM_CHIPSET_ID;
	gp.value = &chip;
	if (!i915_ioctl(d, DRM_IOCTL_I915_GETPARAM, &gp))
		d->chip_id = (uint32_t)chip;
	/* context 0's GTT size is the ppGTT every VM gets */
	if (i915_getparam(d, 0, I915_CONTEXT_PARAM_GTT_SIZE, &gtt) || gtt < (1ull << 47)) {
		drm_seam_logf(d->seam,
			      "i915: %s (i915 %u.%u.%u, chip 0x%04x) has a 0x%llx-byte GTT: a full "
			      "48-bit ppGTT is needed for per-VM guest iovas",
			      d->device, d->drv_major, d->drv_minor, d->drv_patch, d->chip_id,
			      (unsigned long long)gtt);
		return -ENODEV;
	}
	d->gtt_size = gtt;
	return 0;
}

int i915_backend_create(const struct viova_backend_config *config,
			const struct viova_backend_events *events, void *cookie,
			struct viova_backend **out)
{
	const char *dev = config && config->device ? config->device : I915_DEFAULT_DEVICE;
	struct i915_be *d;
	int ret;

	if (!out || strlen(dev) >= sizeof(d->device))
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->seam = drm_seam_get();
	strcpy(d->device, dev);
	d->fd = d->seam->open(d->seam->cookie, dev, O_RDWR);
	if (d->fd < 0) {
		ret = d->fd;
		drm_seam_logf(d->seam,
			      "i915: cannot open %s (errno %d): pass --device with a render "
			      "node of an Intel GPU",
			      dev, -ret);
		free(d);
		return ret == -ENOMEM ? -ENOMEM : -ENODEV;
	}
	ret = i915_probe(d);
	if (ret) {
		d->seam->close(d->seam->cookie, d->fd);
		free(d);
		return ret;
	}
	d->base.ops = &i915_ops;
	d->base.events = events;
	d->base.events_cookie = cookie;
	ret = be_comp_start(&d->cq, &d->base, &i915_cq_ops, d->seam);
	if (ret) {
		drm_seam_logf(d->seam,
			      "i915: cannot start the completion thread for %s (errno %d): "
			      "raise the process's thread limit (ulimit -u) or free memory",
			      d->device, -ret);
		d->seam->close(d->seam->cookie, d->fd);
		free(d);
		return ret;
	}
	*out = &d->base;
	return 0;
}

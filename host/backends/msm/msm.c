/* SPDX-License-Identifier: MIT */
/*
 * msm.c - the msm backend: viova VMs, contexts and buffers on a Qualcomm Adreno render node.
 *
 * DOC: how viova maps onto msm (docs/drivers.md has the per-command table)
 *
 *   viova VM        one drm fd: msm gives every open file its own GPU address space
 *                   [VA_START, VA_START + VA_SIZE), so VMs are isolated by the kernel itself
 *   viova context   a SUBMITQUEUE on its VM's fd (priority mapped; msm has no context flags)
 *   viova buffer    GEM_NEW on the fd of the VM it is created in (GEM handles are per fd)
 *   SET_IOVA        GEM_INFO(MSM_INFO_SET_IOVA): the kernel checks the range (seed 004)
 *   fences          the kernel's per-queue seqno (32 bits) recorded against the guest's
 *                   out_fence; completion is asked with MSM_WAIT_FENCE (absolute timeout)
 *   completion      a thread per instance (completion.h) blocks in MSM_WAIT_FENCE on the
 *                   oldest seqno of each queue in turn, 20 ms at a time, and raises
 *                   fence_signaled; fence_completed / fence_wait retire through the same
 *                   path, so a fence is reported once and a guest that only watches its
 *                   fence still sees it
 *   faults          SUBMITQUEUE_QUERY(FAULTS) after each completion: a new count is a
 *                   job_fault event (-EIO, iova 0: the uapi does not say where), sent
 *                   before the fence shows
 *
 * Nothing here calls the kernel except through the drm seam (drm_seam.h), so tests run the
 * same code against an emulation of the driver.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <drm/drm.h>
#include <drm/msm_drm.h>

#include "../completion.h"
#include "../drm_seam.h"
#include "msm.h"

#define MSM_MAX_CMDS 4096u /* command stream pieces per submit */
#define MSM_MAX_BOS 65536u /* buffers per submit */
#define MSM_MAX_WAIT_NS 100000000ull

/*
 * A VM lives while the core holds it, a context runs in it or a buffer was made on its fd: GEM
 * handles die with the file, and a buffer may outlive the core's VM (the core frees a VM once
 * nothing is mapped in it and no context runs in it).
 */
struct viova_be_vm {
	int fd;
	uint32_t refs;
};

struct viova_be_ctx {
	struct be_cctx cq; /* fences and faults (kernel id of a job: its queue seqno) */
	struct viova_be_vm *vm;
	uint32_t queue_id;
	uint32_t params;
	int32_t priority;
};

struct viova_be_bo {
	struct viova_be_vm *home;
	uint32_t handle;
	uint32_t flags;
	uint64_t size;
	uint64_t iova; /* 0: not mapped */
	void *map;     /* CPU mapping for upload/download, made on first use */
};

struct msm_be {
	struct viova_backend base;
	const struct drm_seam *seam;
	char device[256];
	uint32_t nr_prios;
	uint32_t drv_major, drv_minor, drv_patch;
	uint64_t gpu_id, chip_id, va_start, va_size;
	struct be_completion cq;
};

static struct msm_be *to_msm(struct viova_backend *be)
{
	return (struct msm_be *)be;
}

static struct msm_be *msm_of_cq(struct be_completion *bc)
{
	return (struct msm_be *)((char *)bc - offsetof(struct msm_be, cq));
}

static struct viova_be_ctx *msm_ctx_of(struct be_cctx *c)
{
	return (struct viova_be_ctx *)((char *)c - offsetof(struct viova_be_ctx, cq));
}

static int msm_ioctl(struct msm_be *m, int fd, unsigned long req, void *arg)
{
	return m->seam->ioctl(m->seam->cookie, fd, req, arg);
}

/*
 * Kernel errno -> what the guest sees. The SET_IOVA/submit answers the guest can act on pass
 * through; anything else means the host's own use of the driver went wrong (a stale handle, a
 * bad pointer), which is not the guest's business: -EIO.
 */
static int msm_map_err(int kerr)
{
	switch (kerr) {
	case -EBUSY:
	case -ENOSPC:
	case -EOPNOTSUPP:
	case -EINVAL:
	case -ENOMEM:
	case -ETIMEDOUT:
		return kerr;
	default:
		return -EIO;
	}
}

static int msm_get_param(struct msm_be *m, int fd, uint32_t param, uint64_t *value)
{
	struct drm_msm_param p = {.pipe = MSM_PIPE_3D0, .param = param};
	int ret = msm_ioctl(m, fd, DRM_IOCTL_MSM_GET_PARAM, &p);

	if (!ret)
		*value = p.value;
	return ret;
}

/* msm: 0 is the highest priority, nr_prios - 1 the lowest; viova: higher is more urgent. */
static uint32_t msm_prio(const struct msm_be *m, int32_t priority)
{
	uint64_t span = (uint64_t)(VIOVA_PRIORITY_MAX - VIOVA_PRIORITY_MIN + 1);
	uint64_t level = (uint64_t)(priority - VIOVA_PRIORITY_MIN) * m->nr_prios / span;

	return m->nr_prios - 1 - (uint32_t)level;
}

static int msm_get_caps(struct viova_backend *be, struct viova_capset *caps)
{
	struct msm_be *m = to_msm(be);

	caps->backend = VIOVA_BACKEND_MSM;
	caps->va_start = m->va_start;
	caps->va_size = m->va_size;
	caps->reserved_start = 0; /* the per-process drm_mm spans the whole window */
	caps->reserved_size = 0;
	caps->page_size = 4096;
	caps->min_alignment = 4096;
	caps->features = VIOVA_FEATURE_SET_IOVA | VIOVA_FEATURE_MULTI_VM | VIOVA_FEATURE_UPLOAD |
			 VIOVA_FEATURE_DOWNLOAD | VIOVA_FEATURE_SUBMIT_CMDBUF |
			 VIOVA_FEATURE_PRIORITY | VIOVA_FEATURE_WAIT_BLOCKS;
	/* TIMELINE: each msm submitqueue has its own seqno timeline, none can be shared. */
	caps->clone_flags = VIOVA_CLONE_ALL & ~VIOVA_CLONE_TIMELINE;
	caps->driver_major = m->drv_major;
	caps->driver_minor = m->drv_minor;
	caps->driver_patch = m->drv_patch;
	caps->gpu_id = (uint32_t)m->gpu_id;
	caps->chip_id = m->chip_id;
	caps->max_wait_ns = MSM_MAX_WAIT_NS;
	return 0;
}

static void msm_vm_put(struct msm_be *m, struct viova_be_vm *vm);

/* The kernel side of a context: its queue closed, its VM reference dropped. */
static void msm_ctx_release(struct msm_be *m, struct viova_be_ctx *ctx)
{
	uint32_t id = ctx->queue_id;

	/* Queued jobs keep running in the kernel; it holds its own references. */
	msm_ioctl(m, ctx->vm->fd, DRM_IOCTL_MSM_SUBMITQUEUE_CLOSE, &id);
	msm_vm_put(m, ctx->vm);
	free(ctx);
}

static void msm_destroy(struct viova_backend *be)
{
	struct msm_be *m = to_msm(be);
	struct be_cctx *c;

	be_comp_stop(&m->cq);
	/* The core destroys every context first; one left over must not leak its queue. */
	while ((c = be_comp_leftover(&m->cq)))
		msm_ctx_release(m, msm_ctx_of(c));
	be_comp_fini(&m->cq);
	free(m);
}

static int msm_vm_create(struct viova_backend *be, struct viova_be_vm **out)
{
	struct msm_be *m = to_msm(be);
	struct viova_be_vm *vm = calloc(1, sizeof(*vm));
	int fd;

	if (!vm)
		return -ENOMEM;
	/* A new open file is a new per-process address space: that is the VM. */
	fd = m->seam->open(m->seam->cookie, m->device, O_RDWR);
	if (fd < 0) {
		free(vm);
		return fd == -ENOMEM ? -ENOMEM : -ENODEV;
	}
	vm->fd = fd;
	vm->refs = 1;
	*out = vm;
	return 0;
}

static void msm_vm_put(struct msm_be *m, struct viova_be_vm *vm)
{
	if (--vm->refs)
		return;
	m->seam->close(m->seam->cookie, vm->fd);
	free(vm);
}

static void msm_vm_destroy(struct viova_backend *be, struct viova_be_vm *vm)
{
	if (vm)
		msm_vm_put(to_msm(be), vm);
}

static int msm_queue_new(struct msm_be *m, struct viova_be_vm *vm, uint32_t params,
			 int32_t priority, void *cookie, struct viova_be_ctx **out)
{
	struct drm_msm_submitqueue q = {.flags = 0, .prio = msm_prio(m, priority)};
	struct viova_be_ctx *c;
	int ret;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	ret = msm_ioctl(m, vm->fd, DRM_IOCTL_MSM_SUBMITQUEUE_NEW, &q);
	if (ret) {
		free(c);
		return msm_map_err(ret);
	}
	c->vm = vm;
	vm->refs++;
	c->queue_id = q.id;
	c->params = params;
	c->priority = priority;
	be_comp_ctx_add(&m->cq, &c->cq, cookie);
	*out = c;
	return 0;
}

static int msm_ctx_create(struct viova_backend *be, struct viova_be_vm *vm,
			  const struct viova_be_ctx_params *params, void *ctx_cookie,
			  struct viova_be_ctx **out)
{
	uint32_t p = VIOVA_CTX_BANNABLE | VIOVA_CTX_RECOVERABLE;
	int32_t prio = VIOVA_PRIORITY_DEFAULT;

	if (!vm || !out)
		return -EINVAL;
	if (params) {
		if (params->params & ~VIOVA_CTX_PARAMS_ALL ||
		    params->priority < VIOVA_PRIORITY_MIN || params->priority > VIOVA_PRIORITY_MAX)
			return -EINVAL;
		p = params->params;
		prio = params->priority;
	}
	return msm_queue_new(to_msm(be), vm, p, prio, ctx_cookie, out);
}

static int msm_ctx_clone(struct viova_backend *be, struct viova_be_ctx *src, uint32_t flags,
			 struct viova_be_vm *vm, void *ctx_cookie, struct viova_be_ctx **out)
{
	uint32_t p = VIOVA_CTX_BANNABLE | VIOVA_CTX_RECOVERABLE;
	int32_t prio = VIOVA_PRIORITY_DEFAULT;

	if (flags & ~VIOVA_CLONE_ALL || !vm || !out)
		return -EINVAL;
	if (!src)
		return -ENOENT;
	if (flags & VIOVA_CLONE_TIMELINE)
		return -EOPNOTSUPP;
	if ((flags & VIOVA_CLONE_VM) && vm != src->vm)
		return -EINVAL;
	/*
	 * msm has no clone: the parameters are the backend's own copy. ENGINES and SSEU have
	 * nothing to copy (one 3D pipe, no slice control), so they hold trivially.
	 */
	if (flags & VIOVA_CLONE_FLAGS)
		p = src->params;
	if (flags & VIOVA_CLONE_SCHEDATTR)
		prio = src->priority;
	return msm_queue_new(to_msm(be), vm, p, prio, ctx_cookie, out);
}

/* The thread is out of the context (and its last fence reported) before the queue closes. */
static void msm_ctx_destroy(struct viova_backend *be, struct viova_be_ctx *ctx)
{
	struct msm_be *m = to_msm(be);

	if (!ctx)
		return;
	be_comp_ctx_del(&m->cq, &ctx->cq);
	msm_ctx_release(m, ctx);
}

static int msm_bo_create(struct viova_backend *be, struct viova_be_vm *home, uint64_t size,
			 uint32_t flags, struct viova_be_bo **out)
{
	struct msm_be *m = to_msm(be);
	struct drm_msm_gem_new req = {.size = size};
	struct viova_be_bo *bo;
	int ret;

	if (!home || !out || !size || size % 4096 || flags & ~VIOVA_GEM_FLAGS_ALL ||
	    ((flags & VIOVA_GEM_CACHED_COHERENT) && (flags & VIOVA_GEM_UNCACHED)))
		return -EINVAL;
	/* viova's default caching is write-combined, as msm's MSM_BO_WC. */
	if (flags & VIOVA_GEM_CACHED_COHERENT)
		req.flags = MSM_BO_CACHED_COHERENT;
	else if (flags & VIOVA_GEM_UNCACHED)
		req.flags = MSM_BO_UNCACHED;
	else
		req.flags = MSM_BO_WC;
	if (flags & VIOVA_GEM_GPU_READONLY)
		req.flags |= MSM_BO_GPU_READONLY;
	bo = calloc(1, sizeof(*bo));
	if (!bo)
		return -ENOMEM;
	ret = msm_ioctl(m, home->fd, DRM_IOCTL_MSM_GEM_NEW, &req);
	if (ret) {
		free(bo);
		return msm_map_err(ret);
	}
	bo->home = home;
	home->refs++;
	bo->handle = req.handle;
	bo->flags = flags;
	bo->size = size;
	*out = bo;
	return 0;
}

static void msm_bo_close(struct viova_backend *be, struct viova_be_bo *bo)
{
	struct msm_be *m = to_msm(be);
	struct drm_gem_close req;

	if (!bo)
		return;
	if (bo->map)
		m->seam->munmap(m->seam->cookie, bo->map, bo->size);
	memset(&req, 0, sizeof(req));
	req.handle = bo->handle;
	/* The kernel drops the iova with the last reference (a running job holds one). */
	msm_ioctl(m, bo->home->fd, DRM_IOCTL_GEM_CLOSE, &req);
	msm_vm_put(m, bo->home);
	free(bo);
}

static int msm_bo_set_iova(struct viova_backend *be, struct viova_be_vm *vm, struct viova_be_bo *bo,
			   uint64_t iova)
{
	struct msm_be *m = to_msm(be);
	struct drm_msm_gem_info req = {.info = MSM_INFO_SET_IOVA, .value = iova};
	int ret;

	if (!vm || !bo)
		return -EINVAL;
	/* A GEM handle exists on one fd only: mapping it in another VM would need PRIME. */
	if (vm != bo->home)
		return -EOPNOTSUPP;
	/*
	 * msm answers a second, different iova with -EBUSY but drops the old mapping on the way
	 * (seed 004); a failed op must change nothing, so that case never reaches the kernel.
	 */
	if (iova && bo->iova && iova != bo->iova)
		return -EBUSY;
	req.handle = bo->handle;
	ret = msm_ioctl(m, vm->fd, DRM_IOCTL_MSM_GEM_INFO, &req);
	if (ret)
		return msm_map_err(ret);
	bo->iova = iova;
	return 0;
}

static int msm_bind(struct viova_backend *be, struct viova_be_vm *vm, struct viova_be_bo *bo,
		    uint64_t addr, uint64_t range, uint64_t bo_offset, uint32_t flags)
{
	(void)be, (void)vm, (void)bo, (void)addr, (void)range, (void)bo_offset, (void)flags;
	return -EOPNOTSUPP; /* msm has no sparse binding uapi */
}

static int msm_unbind(struct viova_backend *be, struct viova_be_vm *vm, uint64_t addr,
		      uint64_t range)
{
	(void)be, (void)vm, (void)addr, (void)range;
	return -EOPNOTSUPP;
}

/* The buffer's CPU mapping: GEM_INFO(GET_OFFSET) gives the fake offset to mmap the fd at. */
static int msm_bo_map(struct msm_be *m, struct viova_be_bo *bo)
{
	struct drm_msm_gem_info req = {.handle = bo->handle, .info = MSM_INFO_GET_OFFSET};
	int ret, err = 0;
	void *p;

	if (bo->map)
		return 0;
	ret = msm_ioctl(m, bo->home->fd, DRM_IOCTL_MSM_GEM_INFO, &req);
	if (ret)
		return msm_map_err(ret);
	p = m->seam->mmap(m->seam->cookie, bo->size, PROT_READ | PROT_WRITE, MAP_SHARED,
			  bo->home->fd, (off_t)req.value, &err);
	if (!p)
		return err == -ENOMEM ? -ENOMEM : -EIO;
	bo->map = p;
	return 0;
}

static int msm_bo_access(struct viova_backend *be, struct viova_be_bo *bo, uint64_t offset,
			 uint64_t size)
{
	if (!bo || offset > bo->size || size > bo->size - offset)
		return -EINVAL;
	return size ? msm_bo_map(to_msm(be), bo) : 0;
}

static int msm_bo_write(struct viova_backend *be, struct viova_be_bo *bo, uint64_t offset,
			const void *data, uint64_t size)
{
	int ret = msm_bo_access(be, bo, offset, size);

	if (!ret && size)
		memcpy((uint8_t *)bo->map + offset, data, size);
	return ret;
}

static int msm_bo_read(struct viova_backend *be, struct viova_be_bo *bo, uint64_t offset,
		       void *data, uint64_t size)
{
	int ret = msm_bo_access(be, bo, offset, size);

	if (!ret && size)
		memcpy(data, (const uint8_t *)bo->map + offset, size);
	return ret;
}

static int msm_cmd_type(uint32_t type, uint32_t *out)
{
	switch (type) {
	case VIOVA_CMDBUF_BUF:
		*out = MSM_SUBMIT_CMD_BUF;
		return 0;
	case VIOVA_CMDBUF_IB_TARGET:
		*out = MSM_SUBMIT_CMD_IB_TARGET_BUF;
		return 0;
	case VIOVA_CMDBUF_CTX_RESTORE:
		*out = MSM_SUBMIT_CMD_CTX_RESTORE_BUF;
		return 0;
	default:
		return -EINVAL;
	}
}

static int msm_submit(struct viova_backend *be, struct viova_be_ctx *ctx,
		      const struct viova_be_submit *job)
{
	struct msm_be *m = to_msm(be);
	const struct viova_submit_cmdbuf *rec;
	struct drm_msm_gem_submit_bo *bos = NULL;
	struct drm_msm_gem_submit_cmd *cmds = NULL;
	struct drm_msm_gem_submit req;
	uint32_t i, ncmds;
	int ret = -EINVAL;

	if (!ctx || !job || job->format != VIOVA_SUBMIT_FORMAT_CMDBUF || job->pad0 || !job->cmds ||
	    !job->cmd_size || job->cmd_size % sizeof(*rec) || job->bo_count > MSM_MAX_BOS ||
	    (job->bo_count && !job->bos))
		return -EINVAL;
	ncmds = job->cmd_size / (uint32_t)sizeof(*rec);
	if (ncmds > MSM_MAX_CMDS)
		return -EINVAL;
	/* The fence grows, and there is room for it before the kernel queues anything, so a
	 * queued job is never lost. */
	ret = be_comp_submit_prepare(&m->cq, &ctx->cq, job->out_fence);
	if (ret)
		return ret;
	ret = -EINVAL;
	bos = calloc(job->bo_count ? job->bo_count : 1, sizeof(*bos));
	cmds = calloc(ncmds, sizeof(*cmds));
	if (!bos || !cmds) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < job->bo_count; i++) {
		const struct viova_be_submit_bo *e = &job->bos[i];

		if (!e->bo || e->bo->home != ctx->vm || e->pad0 ||
		    e->flags & ~VIOVA_SUBMIT_BO_FLAGS_ALL ||
		    !(e->flags & (VIOVA_SUBMIT_BO_READ | VIOVA_SUBMIT_BO_WRITE)) || !e->bo->iova ||
		    (e->iova && e->iova != e->bo->iova))
			goto out; /* unmapped: msm would pick an iova itself, in the guest's window
				   */
		bos[i].flags = (e->flags & VIOVA_SUBMIT_BO_READ ? MSM_SUBMIT_BO_READ : 0) |
			       (e->flags & VIOVA_SUBMIT_BO_WRITE ? MSM_SUBMIT_BO_WRITE : 0) |
			       (e->flags & VIOVA_SUBMIT_BO_DUMP ? MSM_SUBMIT_BO_DUMP : 0);
		bos[i].handle = e->bo->handle;
		bos[i].presumed = e->bo->iova;
	}
	rec = job->cmds;
	for (i = 0; i < ncmds; i++) {
		struct viova_submit_cmdbuf r;
		uint64_t bsize;

		memcpy(&r, &rec[i], sizeof(r)); /* guest memory: one read per field set */
		if (r.bo_index >= job->bo_count || msm_cmd_type(r.type, &cmds[i].type))
			goto out;
		bsize = job->bos[r.bo_index].bo->size;
		/* msm takes 32-bit, dword-aligned pieces inside the buffer. */
		if (!r.size || r.size % 4 || r.offset % 4 || r.offset > bsize ||
		    r.size > bsize - r.offset || bsize > UINT32_MAX + 1ull)
			goto out;
		cmds[i].submit_idx = r.bo_index;
		cmds[i].submit_offset = (uint32_t)r.offset;
		cmds[i].size = (uint32_t)r.size;
	}
	memset(&req, 0, sizeof(req));
	req.flags = MSM_PIPE_3D0;
	req.nr_bos = job->bo_count;
	req.nr_cmds = ncmds;
	req.bos = (uint64_t)(uintptr_t)bos;
	req.cmds = (uint64_t)(uintptr_t)cmds;
	req.fence_fd = -1;
	req.queueid = ctx->queue_id;
	ret = msm_ioctl(m, ctx->vm->fd, DRM_IOCTL_MSM_GEM_SUBMIT, &req);
	if (ret) {
		ret = ret == -EAGAIN ? -EAGAIN : msm_map_err(ret);
		goto out;
	}
	be_comp_submit_commit(&m->cq, &ctx->cq, job->out_fence, req.fence);
out:
	free(bos);
	free(cmds);
	return ret;
}

/* Absolute CLOCK_MONOTONIC deadline, as MSM_WAIT_FENCE takes it. */
static struct drm_msm_timespec msm_deadline(uint64_t timeout_ns)
{
	struct timespec now;
	uint64_t ns;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (timeout_ns > MSM_MAX_WAIT_NS * 10)
		timeout_ns = MSM_MAX_WAIT_NS * 10;
	ns = (uint64_t)now.tv_nsec + timeout_ns;
	return (struct drm_msm_timespec){.tv_sec = now.tv_sec + (int64_t)(ns / 1000000000ull),
					 .tv_nsec = (int64_t)(ns % 1000000000ull)};
}

/*
 * The kernel counts, per queue, the jobs it found guilty of a GPU fault or hang (and reset the
 * GPU for). The completion engine reads it after each completion; a new count is reported as a
 * fault of the job whose completion revealed it, before that job's fence becomes visible
 * (backend.h, rule 1). Which job exactly faulted, and where, is not in the uapi.
 */
static int msm_cq_faults(struct be_completion *bc, struct be_cctx *cc, uint32_t *count)
{
	struct viova_be_ctx *c = msm_ctx_of(cc);
	struct drm_msm_submitqueue_query q = {.id = c->queue_id,
					      .param = MSM_SUBMITQUEUE_PARAM_FAULTS};
	uint32_t faults = 0;
	int ret;

	q.data = (uint64_t)(uintptr_t)&faults;
	q.len = sizeof(faults);
	ret = msm_ioctl(msm_of_cq(bc), c->vm->fd, DRM_IOCTL_MSM_SUBMITQUEUE_QUERY, &q);
	if (!ret)
		*count = faults;
	return ret;
}

/* MSM_WAIT_FENCE on the job's seqno; done means every earlier job of the queue is done too. */
static int msm_cq_wait(struct be_completion *bc, struct be_cctx *cc, const struct be_pending *job,
		       uint64_t timeout_ns)
{
	struct viova_be_ctx *c = msm_ctx_of(cc);
	struct drm_msm_wait_fence w = {
	    .fence = job->kernel, .timeout = msm_deadline(timeout_ns), .queueid = c->queue_id};
	int ret = msm_ioctl(msm_of_cq(bc), c->vm->fd, DRM_IOCTL_MSM_WAIT_FENCE, &w);

	return ret ? msm_map_err(ret) : 0;
}

static const struct be_completion_ops msm_cq_ops = {
    .wait = msm_cq_wait,
    .faults = msm_cq_faults,
};

static uint64_t msm_fence_completed(struct viova_backend *be, struct viova_be_ctx *ctx)
{
	return ctx ? be_comp_completed(&to_msm(be)->cq, &ctx->cq) : 0;
}

static int msm_fence_wait(struct viova_backend *be, struct viova_be_ctx *ctx, uint64_t fence,
			  uint64_t timeout_ns)
{
	return ctx ? be_comp_wait(&to_msm(be)->cq, &ctx->cq, fence, timeout_ns) : -EINVAL;
}

static const struct viova_backend_ops msm_ops = {
    .name = "msm",
    .get_caps = msm_get_caps,
    .destroy = msm_destroy,
    .vm_create = msm_vm_create,
    .vm_destroy = msm_vm_destroy,
    .ctx_create = msm_ctx_create,
    .ctx_clone = msm_ctx_clone,
    .ctx_destroy = msm_ctx_destroy,
    .bo_create = msm_bo_create,
    .bo_close = msm_bo_close,
    .bo_set_iova = msm_bo_set_iova,
    .bind = msm_bind,
    .unbind = msm_unbind,
    .bo_write = msm_bo_write,
    .bo_read = msm_bo_read,
    .submit = msm_submit,
    .fence_completed = msm_fence_completed,
    .fence_wait = msm_fence_wait,
};

/* Driver name and version of fd; name NUL-terminated. */
static int msm_version(struct msm_be *m, int fd, char *name, size_t len)
{
	struct drm_version v;
	int ret;

	memset(&v, 0, sizeof(v));
	v.name = name;
	v.name_len = len - 1;
	ret = msm_ioctl(m, fd, DRM_IOCTL_VERSION, &v);
	if (ret)
		return ret;
	name[v.name_len < len - 1 ? v.name_len : len - 1] = '\0';
	m->drv_major = (uint32_t)v.version_major;
	m->drv_minor = (uint32_t)v.version_minor;
	m->drv_patch = (uint32_t)v.version_patchlevel;
	return 0;
}

static int msm_probe(struct msm_be *m, int fd)
{
	char name[32] = "";
	uint64_t prios = 0;
	int ret;

	ret = msm_version(m, fd, name, sizeof(name));
	if (ret || strcmp(name, "msm") != 0) {
		drm_seam_logf(m->seam, "msm: %s is driven by \"%s\", not msm: use --backend %s",
			      m->device, ret ? "?" : name, ret ? "auto" : name);
		return -ENODEV;
	}
	if (msm_get_param(m, fd, MSM_PARAM_VA_START, &m->va_start) ||
	    msm_get_param(m, fd, MSM_PARAM_VA_SIZE, &m->va_size) || !m->va_size) {
		drm_seam_logf(
		    m->seam,
		    "msm: %s runs msm driver %u.%u.%u without MSM_PARAM_VA_START/VA_SIZE: "
		    "no per-process address space, so guest-chosen iovas (SET_IOVA) are "
		    "impossible; msm 1.9.0 (Linux 5.19) or later with an IOMMU is needed",
		    m->device, m->drv_major, m->drv_minor, m->drv_patch);
		return -ENODEV;
	}
	if (m->va_start % 4096 || m->va_size % 4096 || m->va_start + m->va_size < m->va_start) {
		drm_seam_logf(m->seam, "msm: %s reports an unusable VA window 0x%llx+0x%llx",
			      m->device, (unsigned long long)m->va_start,
			      (unsigned long long)m->va_size);
		return -ENODEV;
	}
	if (msm_get_param(m, fd, MSM_PARAM_PRIORITIES, &prios) || !prios)
		prios = 1;
	m->nr_prios = prios > 64 ? 64 : (uint32_t)prios;
	msm_get_param(m, fd, MSM_PARAM_GPU_ID, &m->gpu_id);
	msm_get_param(m, fd, MSM_PARAM_CHIP_ID, &m->chip_id);
	return 0;
}

int msm_backend_create(const struct viova_backend_config *config,
		       const struct viova_backend_events *events, void *cookie,
		       struct viova_backend **out)
{
	const char *dev = config && config->device ? config->device : MSM_DEFAULT_DEVICE;
	struct msm_be *m;
	int fd, ret;

	if (!out || strlen(dev) >= sizeof(m->device))
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->seam = drm_seam_get();
	strcpy(m->device, dev);
	fd = m->seam->open(m->seam->cookie, dev, O_RDWR);
	if (fd < 0) {
		drm_seam_logf(m->seam,
			      "msm: cannot open %s (errno %d): pass --device with a render "
			      "node of an Adreno GPU",
			      dev, -fd);
		free(m);
		return fd == -ENOMEM ? -ENOMEM : -ENODEV;
	}
	ret = msm_probe(m, fd);
	m->seam->close(m->seam->cookie, fd);
	if (ret) {
		free(m);
		return ret;
	}
	m->base.ops = &msm_ops;
	m->base.events = events;
	m->base.events_cookie = cookie;
	ret = be_comp_start(&m->cq, &m->base, &msm_cq_ops, m->seam);
	if (ret) {
		drm_seam_logf(m->seam,
			      "msm: cannot start the completion thread for %s (errno %d): "
			      "raise the process's thread limit (ulimit -u) or free memory",
			      m->device, -ret);
		free(m);
		return ret;
	}
	*out = &m->base;
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * sim_backend.c - the sim backend's ops table, instance lifetime, capset, contexts (params,
 * priority, clone per seed 003) and fences. Address spaces and buffers are in sim_vm.c, the GPU
 * in sim_gpu.c; docs/sim.md says what is modelled and why.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim_priv.h"

/* ---- instance ---------------------------------------------------------------------------- */

static bool sim_page_aligned(uint64_t v)
{
	return (v & (SIM_PAGE_SIZE - 1)) == 0;
}

static int sim_apply_config(struct sim_backend *sb, const struct viova_backend_config *cfg)
{
	struct viova_backend_config c = {0};

	if (cfg)
		c = *cfg;
	sb->va_start = c.sim_va_start ? c.sim_va_start : SIM_DEFAULT_VA_START;
	sb->va_size = c.sim_va_size ? c.sim_va_size : SIM_DEFAULT_VA_SIZE;
	sb->max_bytes = c.sim_max_bytes ? c.sim_max_bytes : SIM_DEFAULT_MAX_BYTES;
	sb->job_timeout_ns = c.sim_job_timeout_ns;
	if (!sb->job_timeout_ns)
		sb->job_timeout_ns = SIM_DEFAULT_JOB_TIMEOUT_NS;
	if (!sim_page_aligned(sb->va_start) || !sim_page_aligned(sb->va_size) ||
	    sb->va_start + sb->va_size < sb->va_start)
		return -EINVAL;
	if (!c.sim_reserved_start && !c.sim_reserved_size) {
		if (sb->va_size <= SIM_DEFAULT_RESERVED_SIZE)
			return -EINVAL; /* nothing would be left for the guest */
		sb->res_size = SIM_DEFAULT_RESERVED_SIZE;
		sb->res_start = sb->va_start + sb->va_size - sb->res_size;
		return 0;
	}
	sb->res_start = c.sim_reserved_start;
	sb->res_size = c.sim_reserved_size;
	if (!sb->res_size || !sim_page_aligned(sb->res_start) || !sim_page_aligned(sb->res_size) ||
	    sb->res_start + sb->res_size < sb->res_start || sb->res_start < sb->va_start ||
	    sb->res_start + sb->res_size > sb->va_start + sb->va_size)
		return -EINVAL;
	return 0;
}

static const struct viova_backend_ops sim_ops;

int sim_backend_create(const struct viova_backend_config *config,
		       const struct viova_backend_events *events, void *cookie,
		       struct viova_backend **out)
{
	struct sim_backend *sb;
	pthread_condattr_t ca;
	int ret;

	if (!out)
		return -EINVAL;
	sb = calloc(1, sizeof(*sb));
	if (!sb)
		return -ENOMEM;
	ret = sim_apply_config(sb, config);
	if (ret) {
		free(sb);
		return ret;
	}
	/* Fence waits use absolute CLOCK_MONOTONIC deadlines: wall-clock jumps must not matter. */
	if (pthread_condattr_init(&ca)) {
		free(sb);
		return -ENOMEM;
	}
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (pthread_mutex_init(&sb->lock, NULL)) {
		pthread_condattr_destroy(&ca);
		free(sb);
		return -ENOMEM;
	}
	if (pthread_cond_init(&sb->work_cv, &ca)) {
		pthread_mutex_destroy(&sb->lock);
		pthread_condattr_destroy(&ca);
		free(sb);
		return -ENOMEM;
	}
	if (pthread_cond_init(&sb->done_cv, &ca)) {
		pthread_cond_destroy(&sb->work_cv);
		pthread_mutex_destroy(&sb->lock);
		pthread_condattr_destroy(&ca);
		free(sb);
		return -ENOMEM;
	}
	pthread_condattr_destroy(&ca);
	sb->base.ops = &sim_ops;
	sb->base.events = events;
	sb->base.events_cookie = cookie;
	sb->bo_next = 1;
	*out = &sb->base;
	return 0;
}

static void sim_ctx_destroy(struct viova_backend *be, struct viova_be_ctx *ctx);

static void sim_destroy(struct viova_backend *be)
{
	struct sim_backend *sb = sim_of(be);
	uint32_t i;

	if (!be)
		return;
	/*
	 * The core destroys everything first; whatever is left (a core bug, or a connection torn
	 * down hard) is released here in dependency order: contexts (cancelling their jobs and
	 * reporting their fences), then the worker, then buffers, then VMs.
	 */
	while (sb->ctxs)
		sim_ctx_destroy(be, sb->ctxs);
	sim_gpu_stop(sb);
	pthread_mutex_lock(&sb->lock);
	for (i = 1; i < sb->bo_next; i++) {
		if (sb->bo_tab[i])
			sim_bo_teardown(sb, sb->bo_tab[i]);
	}
	while (sb->vms) {
		struct viova_be_vm *vm = sb->vms;

		vm->refs = 1;
		sim_vm_put(sb, vm);
	}
	pthread_mutex_unlock(&sb->lock);
	free(sb->bo_tab);
	free(sb->bo_free);
	free(sb->rq);
	pthread_cond_destroy(&sb->done_cv);
	pthread_cond_destroy(&sb->work_cv);
	pthread_mutex_destroy(&sb->lock);
	free(sb);
}

static int sim_get_caps(struct viova_backend *be, struct viova_capset *caps)
{
	struct sim_backend *sb = sim_of(be);

	if (!be || !caps)
		return -EINVAL;
	caps->backend = VIOVA_BACKEND_SIM;
	caps->va_start = sb->va_start;
	caps->va_size = sb->va_size;
	caps->reserved_start = sb->res_start;
	caps->reserved_size = sb->res_size;
	caps->features = VIOVA_FEATURE_SET_IOVA | VIOVA_FEATURE_VM_BIND | VIOVA_FEATURE_MULTI_VM |
			 VIOVA_FEATURE_UPLOAD | VIOVA_FEATURE_DOWNLOAD | VIOVA_FEATURE_SUBMIT_SIM |
			 VIOVA_FEATURE_PRIORITY | VIOVA_FEATURE_WAIT_BLOCKS;
	caps->page_size = SIM_PAGE_SIZE;
	caps->min_alignment = SIM_MIN_ALIGNMENT;
	caps->clone_flags = VIOVA_CLONE_ALL;
	caps->driver_major = SIM_DRIVER_MAJOR;
	caps->driver_minor = SIM_DRIVER_MINOR;
	caps->driver_patch = SIM_DRIVER_PATCH;
	caps->gpu_id = SIM_GPU_ID;
	caps->chip_id = SIM_CHIP_ID;
	caps->max_wait_ns = SIM_MAX_WAIT_NS;
	return 0;
}

/* ---- contexts ---------------------------------------------------------------------------- */

static struct viova_be_ctx *sim_ctx_alloc(struct sim_backend *sb, struct viova_be_vm *vm,
					  void *cookie)
{
	struct viova_be_ctx *ctx = calloc(1, sizeof(*ctx));
	struct sim_timeline *tl = calloc(1, sizeof(*tl));

	if (!ctx || !tl) {
		free(ctx);
		free(tl);
		return NULL;
	}
	ctx->sb = sb;
	ctx->vm = vm;
	ctx->tl = tl;
	ctx->cookie = cookie;
	ctx->params = SIM_DEFAULT_PARAMS;
	ctx->priority = VIOVA_PRIORITY_DEFAULT;
	ctx->engines = SIM_DEFAULT_ENGINES;
	ctx->sseu = SIM_DEFAULT_SSEU;
	tl->refs = 1;
	tl->rq_idx = SIM_RQ_NONE;
	return ctx;
}

/* Make ctx live (lock held): ids, references, lists, counters. */
static void sim_ctx_link(struct sim_backend *sb, struct viova_be_ctx *ctx, bool new_timeline)
{
	ctx->id = ++sb->next_id;
	if (new_timeline) {
		ctx->tl->id = ++sb->next_id;
		sb->st.timelines++;
	}
	ctx->vm->refs++;
	ctx->next = sb->ctxs;
	if (sb->ctxs)
		sb->ctxs->prev = ctx;
	sb->ctxs = ctx;
	sb->st.ctxs++;
}

static int sim_ctx_create(struct viova_backend *be, struct viova_be_vm *vm,
			  const struct viova_be_ctx_params *params, void *ctx_cookie,
			  struct viova_be_ctx **out)
{
	struct sim_backend *sb = sim_of(be);
	struct viova_be_ctx *ctx;

	if (!be || !vm || !out || vm->sb != sb)
		return -EINVAL;
	if (params && (params->params & ~VIOVA_CTX_PARAMS_ALL))
		return -EINVAL;
	if (params &&
	    (params->priority < VIOVA_PRIORITY_MIN || params->priority > VIOVA_PRIORITY_MAX))
		return -EINVAL;
	ctx = sim_ctx_alloc(sb, vm, ctx_cookie);
	if (!ctx)
		return -ENOMEM;
	if (params) {
		ctx->params = params->params;
		ctx->priority = params->priority;
	}
	pthread_mutex_lock(&sb->lock);
	if (sim_gpu_rq_reserve(sb, sb->st.timelines + 1)) {
		pthread_mutex_unlock(&sb->lock);
		free(ctx->tl);
		free(ctx);
		return -ENOMEM;
	}
	sim_ctx_link(sb, ctx, true);
	pthread_mutex_unlock(&sb->lock);
	*out = ctx;
	return 0;
}

/*
 * Seed 003: each flag copies one aspect from src, in bit order; what is not named keeps the
 * defaults of a new context. ENGINES comes before SSEU because SSEU is per engine and needs
 * compatible engine maps (the i915 rule: -EINVAL otherwise).
 */
static int sim_ctx_clone(struct viova_backend *be, struct viova_be_ctx *src, uint32_t flags,
			 struct viova_be_vm *vm, void *ctx_cookie, struct viova_be_ctx **out)
{
	struct sim_backend *sb = sim_of(be);
	struct viova_be_ctx *ctx;
	int ret;

	if (!be || !out)
		return -EINVAL;
	if (flags & ~VIOVA_CLONE_ALL)
		return -EINVAL;
	if (!src || src->sb != sb)
		return -ENOENT;
	if (!vm || vm->sb != sb)
		return -EINVAL;
	/* CLONE_VM shares the source's address space: any other VM contradicts the flag. */
	if ((flags & VIOVA_CLONE_VM) && vm != src->vm)
		return -EINVAL;
	ctx = sim_ctx_alloc(sb, vm, ctx_cookie);
	if (!ctx)
		return -ENOMEM;

	pthread_mutex_lock(&sb->lock);
	if (flags & VIOVA_CLONE_ENGINES)
		ctx->engines = src->engines;
	if (flags & VIOVA_CLONE_FLAGS)
		ctx->params = src->params;
	if (flags & VIOVA_CLONE_SCHEDATTR)
		ctx->priority = src->priority;
	if (flags & VIOVA_CLONE_SSEU) {
		if (ctx->engines != src->engines) {
			ret = -EINVAL;
			goto err;
		}
		ctx->sseu = src->sseu;
	}
	if (flags & VIOVA_CLONE_TIMELINE) {
		free(ctx->tl);
		ctx->tl = src->tl;
		ctx->tl->refs++;
	} else if (sim_gpu_rq_reserve(sb, sb->st.timelines + 1)) {
		ret = -ENOMEM;
		goto err;
	}
	sim_ctx_link(sb, ctx, !(flags & VIOVA_CLONE_TIMELINE));
	pthread_mutex_unlock(&sb->lock);
	*out = ctx;
	return 0;

err:
	pthread_mutex_unlock(&sb->lock);
	free(ctx->tl); /* its own: no error path follows sharing src's */
	free(ctx);
	return ret;
}

/*
 * Queued jobs are cancelled, a running one stops at its next page; the fences still signal:
 * the last submitted fence is reported here (unless the worker already did) before returning,
 * and no event names ctx afterwards.
 */
static void sim_ctx_destroy(struct viova_backend *be, struct viova_be_ctx *ctx)
{
	struct sim_backend *sb = sim_of(be);
	const struct viova_backend_events *ev = be ? be->events : NULL;
	void *cookie = ctx ? ctx->cookie : NULL;
	uint64_t final = 0;

	if (!be || !ctx)
		return;
	pthread_mutex_lock(&sb->lock);
	ctx->destroying = true;
	sim_gpu_quiesce_ctx(sb, ctx); /* returns with the lock held, ctx idle */
	if (ctx->last_submitted > ctx->reported)
		final = ctx->last_submitted;
	ctx->completed = ctx->last_submitted;

	if (ctx->prev)
		ctx->prev->next = ctx->next;
	else
		sb->ctxs = ctx->next;
	if (ctx->next)
		ctx->next->prev = ctx->prev;
	if (--ctx->tl->refs == 0) {
		free(ctx->tl);
		sb->st.timelines--;
	}
	sim_vm_put(sb, ctx->vm);
	sb->st.ctxs--;
	pthread_mutex_unlock(&sb->lock);
	free(ctx);

	if (final && ev && ev->fence_signaled)
		ev->fence_signaled(be->events_cookie, cookie, final);
}

/* ---- fences ------------------------------------------------------------------------------ */

static uint64_t sim_fence_completed(struct viova_backend *be, struct viova_be_ctx *ctx)
{
	struct sim_backend *sb = sim_of(be);
	uint64_t v;

	if (!be || !ctx)
		return 0;
	pthread_mutex_lock(&sb->lock);
	v = ctx->completed;
	pthread_mutex_unlock(&sb->lock);
	return v;
}

static void sim_deadline(struct timespec *ts, uint64_t timeout_ns)
{
	uint64_t ns;

	clock_gettime(CLOCK_MONOTONIC, ts);
	/* Beyond ~292 years: as good as forever, and keeps tv_sec from overflowing. */
	if (timeout_ns > (1ull << 62))
		timeout_ns = 1ull << 62;
	ns = (uint64_t)ts->tv_nsec + timeout_ns % 1000000000ull;
	ts->tv_sec += (time_t)(timeout_ns / 1000000000ull + ns / 1000000000ull);
	ts->tv_nsec = (long)(ns % 1000000000ull);
}

/*
 * Like msm's WAIT_FENCE, a fence that was never submitted is -EINVAL at once: blocking on it
 * could only time out, and a guest could use that to stall the connection thread.
 */
static int sim_fence_wait(struct viova_backend *be, struct viova_be_ctx *ctx, uint64_t fence,
			  uint64_t timeout_ns)
{
	struct sim_backend *sb = sim_of(be);
	struct timespec dl;
	int ret = 0;

	if (!be || !ctx)
		return -EINVAL;
	sim_deadline(&dl, timeout_ns);
	pthread_mutex_lock(&sb->lock);
	if (fence > ctx->last_submitted) {
		ret = -EINVAL;
		goto out;
	}
	while (ctx->completed < fence) {
		if (timeout_ns == 0 ||
		    pthread_cond_timedwait(&sb->done_cv, &sb->lock, &dl) == ETIMEDOUT) {
			ret = ctx->completed < fence ? -ETIMEDOUT : 0;
			break;
		}
	}
out:
	pthread_mutex_unlock(&sb->lock);
	return ret;
}

/* ---- debug hooks ------------------------------------------------------------------------- */

void sim_debug_stats(struct viova_backend *be, struct sim_debug_stats *st)
{
	struct sim_backend *sb = sim_of(be);

	pthread_mutex_lock(&sb->lock);
	*st = sb->st;
	st->bytes = sb->bytes;
	st->worker_started = sb->worker_started;
	pthread_mutex_unlock(&sb->lock);
}

void sim_debug_pause(struct viova_backend *be)
{
	struct sim_backend *sb = sim_of(be);

	pthread_mutex_lock(&sb->lock);
	sb->paused = true;
	pthread_mutex_unlock(&sb->lock);
}

void sim_debug_resume(struct viova_backend *be)
{
	struct sim_backend *sb = sim_of(be);

	pthread_mutex_lock(&sb->lock);
	sb->paused = false;
	pthread_cond_broadcast(&sb->work_cv);
	pthread_mutex_unlock(&sb->lock);
}

int sim_debug_wait_parked(struct viova_backend *be, uint64_t timeout_ns)
{
	struct sim_backend *sb = sim_of(be);
	struct timespec dl;
	int ret = 0;

	sim_deadline(&dl, timeout_ns);
	pthread_mutex_lock(&sb->lock);
	while (!sb->parked) {
		if (pthread_cond_timedwait(&sb->done_cv, &sb->lock, &dl) == ETIMEDOUT) {
			ret = sb->parked ? 0 : -ETIMEDOUT;
			break;
		}
	}
	pthread_mutex_unlock(&sb->lock);
	return ret;
}

void sim_debug_set_job_timeout(struct viova_backend *be, uint64_t timeout_ns)
{
	struct sim_backend *sb = sim_of(be);

	pthread_mutex_lock(&sb->lock);
	sb->job_timeout_ns = timeout_ns ? timeout_ns : SIM_DEFAULT_JOB_TIMEOUT_NS;
	pthread_mutex_unlock(&sb->lock);
}

void sim_debug_fail_backing(struct viova_backend *be, uint32_t n)
{
	struct sim_backend *sb = sim_of(be);

	pthread_mutex_lock(&sb->lock);
	sb->backing_fail = n;
	pthread_mutex_unlock(&sb->lock);
}

void sim_debug_set_backing_window(struct viova_backend *be, void (*fn)(void *arg), void *arg)
{
	struct sim_backend *sb = sim_of(be);

	pthread_mutex_lock(&sb->lock);
	sb->backing_window = fn;
	sb->backing_window_arg = arg;
	pthread_mutex_unlock(&sb->lock);
}

void sim_debug_ctx_info(struct viova_backend *be, struct viova_be_ctx *ctx,
			struct sim_debug_ctx_info *info)
{
	struct sim_backend *sb = sim_of(be);

	pthread_mutex_lock(&sb->lock);
	info->params = ctx->params;
	info->priority = ctx->priority;
	info->engines = ctx->engines;
	info->sseu = ctx->sseu;
	info->timeline_id = ctx->tl->id;
	info->vm = ctx->vm;
	info->last_submitted = ctx->last_submitted;
	info->completed = ctx->completed;
	info->faults = ctx->faults;
	info->last_fault_iova = ctx->last_fault_iova;
	info->banned = ctx->banned;
	pthread_mutex_unlock(&sb->lock);
}

void sim_debug_ctx_set_engines(struct viova_backend *be, struct viova_be_ctx *ctx, uint32_t engines,
			       uint32_t sseu)
{
	struct sim_backend *sb = sim_of(be);

	pthread_mutex_lock(&sb->lock);
	ctx->engines = engines;
	ctx->sseu = sseu;
	pthread_mutex_unlock(&sb->lock);
}

/* ---- ops table --------------------------------------------------------------------------- */

static const struct viova_backend_ops sim_ops = {
    .name = "sim",
    .get_caps = sim_get_caps,
    .destroy = sim_destroy,
    .vm_create = sim_vm_create,
    .vm_destroy = sim_vm_destroy,
    .ctx_create = sim_ctx_create,
    .ctx_clone = sim_ctx_clone,
    .ctx_destroy = sim_ctx_destroy,
    .bo_create = sim_bo_create,
    .bo_close = sim_bo_close,
    .bo_set_iova = sim_bo_set_iova,
    .bind = sim_bind,
    .unbind = sim_unbind,
    .bo_write = sim_bo_write,
    .bo_read = sim_bo_read,
    .submit = sim_gpu_submit,
    .fence_completed = sim_fence_completed,
    .fence_wait = sim_fence_wait,
};

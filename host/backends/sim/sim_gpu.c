/* SPDX-License-Identifier: MIT */
/*
 * sim_gpu.c - the sim GPU: submit validation, per-timeline job queues and a run queue that is
 * strict between priorities and fair by work inside one, one worker thread per backend
 * instance, page-by-page translation of every access through the context's VM, faults,
 * in-order fences, cancellation.
 *
 * DOC: life of a job
 *
 *   submit()        validate format, bo list and every job word; copy the words   (-EINVAL)
 *     | lock        fence > previous, bos not duplicated and mapped where the core says,
 *     |             the context's budget of queued records (-EAGAIN), not banned (-EIO)
 *     v             bo->busy++ for each listed buffer (SET_IOVA clear -> -EBUSY)
 *   queued on ctx->tl (FIFO) ------------------------------- ctx_destroy: cancelled
 *     | worker: pops the run queue -- highest level, then least charged timeline
 *     v
 *   running: each word, each page: translate (lock held) -> move bytes (lock dropped)
 *     |   unmapped / read-only  -> fault: stop at this word  (iova of the failed access)
 *     |   first write to a buffer without memory: back it (sim_bo_back_gpu); no memory
 *     |                         -> fault -ENOMEM: stop at this word
 *     |   ctx_destroy / destroy -> cancel: stop before the next page
 *     |   budget spent (clock read every SIM_HANGCHECK_STEPS pages) -> -ETIMEDOUT, stop there
 *     v
 *   faulted: ban if the context is not RECOVERABLE or the job timed out (its later jobs are
 *     |      skipped, fences still signal); job_fault(fence, iova, -EFAULT / -ENOMEM /
 *     |      -ETIMEDOUT) with
 *     |      the lock dropped, job still queued
 *     v
 *   requeued (lock held): its work charged to the timeline, which rejoins the run queue
 *     |                   if it has more jobs
 *     v
 *   retired (lock held): bo->busy--, ctx->completed = fence, waiters woken
 *     v
 *   event (lock dropped): fence_signaled(fence); both events counted in ctx->cb_inflight
 *
 * One worker runs jobs one at a time, and a context's jobs sit on one FIFO timeline, so a
 * context's fences signal in submission order. The run queue only reorders between timelines
 * (docs/sim.md "Scheduling").
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim_priv.h"

/* Most buffers one submit may list (records are 8 bytes each on the wire). */
#define SIM_MAX_JOB_BOS 65536u

/* ---- validation -------------------------------------------------------------------------- */

static bool sim_wraps(uint64_t addr, uint64_t size)
{
	return addr + size < addr;
}

/* The rules of protocol.h for one job word; -EINVAL for any violation. */
static int sim_check_word(const struct viova_sim_job *w)
{
	if (w->flags)
		return -EINVAL;
	switch (w->op) {
	case VIOVA_SIM_OP_FILL:
		if ((w->arg0 & 3) || !w->arg1 || (w->arg1 & 3) || w->arg2 > UINT32_MAX ||
		    sim_wraps(w->arg0, w->arg1))
			return -EINVAL;
		return 0;
	case VIOVA_SIM_OP_COPY:
		if (!w->arg2 || sim_wraps(w->arg0, w->arg2) || sim_wraps(w->arg1, w->arg2))
			return -EINVAL;
		if (w->arg0 < w->arg1 + w->arg2 && w->arg1 < w->arg0 + w->arg2)
			return -EINVAL; /* overlapping iova ranges */
		return 0;
	case VIOVA_SIM_OP_WRITE_FENCE:
		if ((w->arg0 & 7) || w->arg2 || sim_wraps(w->arg0, 8))
			return -EINVAL;
		return 0;
	default:
		return -EINVAL;
	}
}

/* The lock-free part: shape of the submission and every job word. */
static int sim_check_submit(const struct sim_backend *sb, const struct viova_be_submit *s)
{
	const uint32_t bo_flags = VIOVA_SUBMIT_BO_READ | VIOVA_SUBMIT_BO_WRITE;
	uint32_t i;

	if (s->format != VIOVA_SUBMIT_FORMAT_SIM || s->pad0)
		return -EINVAL;
	if (!s->cmds || !s->cmd_size || s->cmd_size % sizeof(struct viova_sim_job) ||
	    s->cmd_size / sizeof(struct viova_sim_job) > SIM_MAX_JOB_WORDS)
		return -EINVAL;
	if (s->bo_count > SIM_MAX_JOB_BOS || (s->bo_count && !s->bos))
		return -EINVAL;
	for (i = 0; i < s->bo_count; i++) {
		const struct viova_be_submit_bo *b = &s->bos[i];

		if (!b->bo || b->bo->sb != sb || b->pad0 ||
		    (b->flags & ~VIOVA_SUBMIT_BO_FLAGS_ALL) || !(b->flags & bo_flags))
			return -EINVAL;
	}
	return 0;
}

/*
 * The bo list against the backend's own state (lock held): not closed, listed once, and if
 * the core says the buffer is mapped at iova in this VM, it really is (whole buffer from
 * offset 0 at iova). A mismatch means the core's table and ours disagree: refuse the job.
 */
static int sim_check_bos(struct viova_be_ctx *ctx, const struct viova_be_submit *s, uint64_t mark)
{
	uint32_t i;

	for (i = 0; i < s->bo_count; i++) {
		struct viova_be_bo *bo = s->bos[i].bo;
		uint64_t iova = s->bos[i].iova;
		struct viova_va_mapping m;

		if (bo->closed || bo->submit_mark == mark)
			return -EINVAL;
		bo->submit_mark = mark;
		if (iova && (viova_va_space_find_first(ctx->vm->vs, iova, 1, &m) ||
			     m.obj != bo->id || m.addr != iova || m.offset != 0))
			return -EINVAL;
	}
	return 0;
}

/* ---- run queue ---------------------------------------------------------------------------- */

/*
 * a runs before b: a higher level always first (priority is strict between levels, as in i915
 * and drm_sched); inside a level the timeline charged less work, so a context of many small
 * jobs and one of big jobs get comparable GPU time; equal charges go to the older head job.
 */
static bool sim_rq_before(const struct sim_timeline *a, const struct sim_timeline *b)
{
	if (a->level != b->level)
		return a->level > b->level;
	if (a->vtime != b->vtime)
		return a->vtime < b->vtime;
	return a->seq < b->seq;
}

static void sim_rq_set(struct sim_backend *sb, uint32_t i, struct sim_timeline *tl)
{
	sb->rq[i] = tl;
	tl->rq_idx = i;
}

static void sim_rq_up(struct sim_backend *sb, uint32_t i)
{
	struct sim_timeline *tl = sb->rq[i];

	while (i > 0 && sim_rq_before(tl, sb->rq[(i - 1) / 2])) {
		sim_rq_set(sb, i, sb->rq[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	sim_rq_set(sb, i, tl);
}

static void sim_rq_down(struct sim_backend *sb, uint32_t i)
{
	struct sim_timeline *tl = sb->rq[i];

	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= sb->rq_len)
			break;
		if (c + 1 < sb->rq_len && sim_rq_before(sb->rq[c + 1], sb->rq[c]))
			c++;
		if (!sim_rq_before(sb->rq[c], tl))
			break;
		sim_rq_set(sb, i, sb->rq[c]);
		i = c;
	}
	sim_rq_set(sb, i, tl);
}

int sim_gpu_rq_reserve(struct sim_backend *sb, uint32_t n)
{
	struct sim_timeline **rq;
	uint32_t cap;

	if (n <= sb->rq_cap)
		return 0;
	cap = sb->rq_cap ? sb->rq_cap : 8;
	while (cap < n)
		cap *= 2;
	rq = realloc(sb->rq, (size_t)cap * sizeof(*rq));
	if (!rq)
		return -ENOMEM;
	sb->rq = rq;
	sb->rq_cap = cap;
	return 0;
}

/*
 * Set a timeline's key from its head job (lock held). Its vtime is lifted to the level's
 * clock: a timeline that sat idle would otherwise come back with an old, low charge and hold
 * the GPU until it caught up. On a new level (a shared timeline whose next job has another
 * context's priority) its old charge means nothing: it starts at the level's clock.
 */
static void sim_rq_key(struct sim_backend *sb, struct sim_timeline *tl)
{
	int32_t level = tl->head->priority;
	uint64_t clock = sb->vclock[level - VIOVA_PRIORITY_MIN];

	if (level != tl->level || tl->vtime < clock)
		tl->vtime = clock;
	tl->level = level;
	tl->seq = tl->head->seq;
}

/* Queue a timeline that has a head job (lock held; room reserved at its creation). */
static void sim_rq_push(struct sim_backend *sb, struct sim_timeline *tl)
{
	sim_rq_key(sb, tl);
	sb->rq[sb->rq_len] = tl;
	sim_rq_up(sb, sb->rq_len++);
}

static void sim_rq_remove(struct sim_backend *sb, struct sim_timeline *tl)
{
	uint32_t i = tl->rq_idx;
	struct sim_timeline *last = sb->rq[--sb->rq_len];

	tl->rq_idx = SIM_RQ_NONE;
	if (last == tl)
		return;
	sim_rq_set(sb, i, last);
	sim_rq_up(sb, i);
	sim_rq_down(sb, last->rq_idx);
}

/* Drop what a job holds (lock held): buffer pins, queue accounting. Does not free the job. */
static void sim_job_release(struct sim_backend *sb, struct sim_job *job)
{
	uint32_t i;

	for (i = 0; i < job->nbos; i++) {
		struct viova_be_bo *bo = job->bos[i];

		if (--bo->busy == 0 && bo->closed)
			sim_bo_teardown(sb, bo);
	}
	job->ctx->queued--;
	job->ctx->queued_bytes -= job->alloc_size;
	sb->queued_bytes -= job->alloc_size;
	sb->st.jobs_queued--;
}

/*
 * The next job: the head of the first timeline on the run queue. The timeline stays on the
 * queue with its key frozen while the job runs (a job's charge is known only once it ends);
 * sim_gpu_requeue then sets the new key, so a job costs one sift, none with a lone timeline.
 */
static struct sim_job *sim_gpu_pick(struct sim_backend *sb)
{
	struct sim_timeline *tl;
	struct sim_job *job;

	if (!sb->rq_len)
		return NULL;
	tl = sb->rq[0];
	tl->running = true;
	sb->vclock[tl->level - VIOVA_PRIORITY_MIN] = tl->vtime;
	job = tl->head;
	tl->head = job->next;
	if (!tl->head)
		tl->tail = NULL;
	job->next = NULL;
	return job;
}

/*
 * i915 semantics: a context that cannot recover is banned after a fault. A timeout bans
 * whatever the params say, as a guilty drm_sched entity loses its queued jobs: otherwise every
 * job a guest queued before the core saw the loss could hold the GPU for a full budget.
 */
static bool sim_gpu_bans(const struct viova_be_ctx *ctx, int err)
{
	if (err == -ETIMEDOUT)
		return true;
	/* -ENOMEM: a first write the host could not back, a fault like any other */
	return (err == -EFAULT || err == -ENOMEM) && !(ctx->params & VIOVA_CTX_RECOVERABLE);
}

/*
 * Charge the job's work to its timeline and re-key it, or take it off the run queue if it has
 * no more jobs (lock held, before the job is released: ctx_destroy may free the timeline once
 * the job is gone). A banned context's work is not charged: it will not run anything again,
 * and its skipped jobs should signal promptly rather than wait until the others have caught
 * up with it.
 */
static void sim_gpu_requeue(struct sim_backend *sb, struct sim_job *job, int err)
{
	struct sim_timeline *tl = job->ctx->tl;

	tl->running = false;
	if (!job->ctx->banned && !sim_gpu_bans(job->ctx, err))
		tl->vtime += sb->run_cost;
	if (!tl->head) {
		sim_rq_remove(sb, tl);
		return;
	}
	sim_rq_key(sb, tl);
	/*
	 * Alone (the one-context case) there is no heap to walk. Up as well as down: a shared
	 * timeline's next job may be of a higher level.
	 */
	if (sb->rq_len > 1) {
		sim_rq_up(sb, tl->rq_idx);
		sim_rq_down(sb, tl->rq_idx);
	}
}

/* Append a submitted job (lock held); an idle timeline joins the run queue. */
static void sim_gpu_enqueue(struct sim_backend *sb, struct sim_timeline *tl, struct sim_job *job)
{
	if (tl->tail)
		tl->tail->next = job;
	else
		tl->head = job;
	tl->tail = job;
	if (tl->rq_idx == SIM_RQ_NONE)
		sim_rq_push(sb, tl);
}

/* ---- hang-check -------------------------------------------------------------------------- */

static uint64_t sim_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Saturating: a budget near UINT64_MAX means "never", not a deadline in the past. */
static uint64_t sim_add_sat(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

static void sim_hangcheck_start(struct sim_backend *sb)
{
	sb->hc_deadline = sim_add_sat(sim_now_ns(), sb->job_timeout_ns);
	sb->hc_steps = 0;
}

/*
 * The budget is GPU time: a worker held by the test hook is not running the job, so the time
 * parked moves the deadline. Reading the clock once per SIM_HANGCHECK_STEPS steps keeps the
 * check off the per-page path.
 */
static bool sim_hangcheck_expired(struct sim_backend *sb)
{
	if (++sb->hc_steps < SIM_HANGCHECK_STEPS)
		return false;
	sb->hc_steps = 0;
	return sim_now_ns() >= sb->hc_deadline;
}

/* ---- execution --------------------------------------------------------------------------- */

/* Park (lock held) while the test hook holds the GPU and nothing asks the job to stop. */
static void sim_gpu_park(struct sim_backend *sb, struct sim_job *job)
{
	uint64_t t0 = sim_now_ns();

	while (sb->paused && !job->cancel && !sb->stop) {
		if (!sb->parked) {
			sb->parked = true;
			pthread_cond_broadcast(&sb->done_cv);
		}
		pthread_cond_wait(&sb->work_cv, &sb->lock);
	}
	sb->parked = false;
	sb->hc_deadline = sim_add_sat(sb->hc_deadline, sim_now_ns() - t0);
}

/*
 * Called (lock held) before every step (at most one page of one word): 0 to go on,
 * -ECANCELED when ctx_destroy or destroy wants the job gone, -ETIMEDOUT when its budget is
 * spent. Cancellation is checked first: a context being destroyed gets no fault event.
 */
static int sim_gpu_gate(struct sim_backend *sb, struct sim_job *job)
{
	if (sb->paused)
		sim_gpu_park(sb, job);
	if (job->cancel || sb->stop)
		return -ECANCELED;
	if (sim_hangcheck_expired(sb))
		return -ETIMEDOUT;
	return 0;
}

static void sim_gpu_access_begin(struct sim_backend *sb, struct viova_be_bo *a,
				 struct viova_be_bo *b)
{
	sb->access[0] = a;
	sb->access[1] = b;
	pthread_mutex_unlock(&sb->lock);
}

static void sim_gpu_access_end(struct sim_backend *sb)
{
	pthread_mutex_lock(&sb->lock);
	sb->access[0] = sb->access[1] = NULL;
	if (sb->access_waiters)
		pthread_cond_broadcast(&sb->done_cv);
}

/* n is a multiple of 4; the pattern is stored little-endian from the first byte. */
static void sim_fill_pattern(uint8_t *p, uint64_t n, uint32_t pattern)
{
	uint64_t done = 4;

	memcpy(p, &pattern, 4);
	while (done < n) {
		uint64_t c = done < n - done ? done : n - done;

		memcpy(p + done, p, (size_t)c);
		done += c;
	}
}

static int sim_gpu_fill(struct sim_backend *sb, struct sim_job *job, const struct viova_sim_job *w,
			struct sim_fault *f)
{
	struct viova_be_vm *vm = job->ctx->vm;
	uint64_t done = 0;

	while (done < w->arg1) {
		uint64_t iova = w->arg0 + done, off, run;
		struct viova_be_bo *bo;
		int ret = sim_gpu_gate(sb, job);

		if (ret) {
			f->iova = iova;
			return ret;
		}
		if (sim_vm_translate(sb, vm, iova, w->arg1 - done, true, &bo, &off, &run)) {
			f->iova = iova;
			return -EFAULT;
		}
		if (!bo->mem && (ret = sim_bo_back_gpu(sb, bo, NULL))) {
			f->iova = iova;
			return ret;
		}
		sim_gpu_access_begin(sb, bo, NULL);
		sim_fill_pattern(bo->mem + off, run, (uint32_t)w->arg2);
		sim_gpu_access_end(sb);
		sb->run_cost += run + SIM_SCHED_STEP_COST;
		done += run;
	}
	return 0;
}

/* Source and destination are translated separately: each step stays inside one page of both. */
static int sim_gpu_copy(struct sim_backend *sb, struct sim_job *job, const struct viova_sim_job *w,
			struct sim_fault *f)
{
	struct viova_be_vm *vm = job->ctx->vm;
	uint64_t done = 0;

	while (done < w->arg2) {
		uint64_t dst = w->arg0 + done, src = w->arg1 + done;
		uint64_t soff, srun, doff, drun;
		struct viova_be_bo *sbo, *dbo;
		int ret = sim_gpu_gate(sb, job);

		if (ret) {
			f->iova = src; /* a step reads before it writes */
			return ret;
		}
		if (sim_vm_translate(sb, vm, src, w->arg2 - done, false, &sbo, &soff, &srun)) {
			f->iova = src;
			return -EFAULT;
		}
		if (sim_vm_translate(sb, vm, dst, srun, true, &dbo, &doff, &drun)) {
			f->iova = dst;
			return -EFAULT;
		}
		if (!dbo->mem && (ret = sim_bo_back_gpu(sb, dbo, sbo))) {
			f->iova = dst;
			return ret;
		}
		sim_gpu_access_begin(sb, dbo, sbo);
		/* distinct iovas may still alias the same pages (two mappings of one buffer) */
		if (sbo->mem)
			memmove(dbo->mem + doff, sbo->mem + soff, (size_t)drun);
		else
			memset(dbo->mem + doff, 0, (size_t)drun); /* never written: zeros */
		sim_gpu_access_end(sb);
		sb->run_cost += 2 * drun + SIM_SCHED_STEP_COST;
		done += drun;
	}
	return 0;
}

static int sim_gpu_write_fence(struct sim_backend *sb, struct sim_job *job,
			       const struct viova_sim_job *w, struct sim_fault *f)
{
	struct viova_be_bo *bo;
	uint64_t off, run;
	int ret = sim_gpu_gate(sb, job);

	if (ret) {
		f->iova = w->arg0;
		return ret;
	}
	/* 8 bytes at an 8-aligned iova never cross a page: one translation, done under the lock */
	if (sim_vm_translate(sb, job->ctx->vm, w->arg0, 8, true, &bo, &off, &run)) {
		f->iova = w->arg0;
		return -EFAULT;
	}
	if (!bo->mem && (ret = sim_bo_back_gpu(sb, bo, NULL))) {
		f->iova = w->arg0;
		return ret;
	}
	memcpy(bo->mem + off, &w->arg1, 8);
	sb->run_cost += 8 + SIM_SCHED_STEP_COST;
	return 0;
}

static void sim_gpu_run(struct sim_backend *sb, struct sim_job *job, struct sim_fault *f)
{
	uint32_t i;

	for (i = 0; i < job->nwords; i++) {
		const struct viova_sim_job *w = &job->words[i];
		int ret;

		switch (w->op) {
		case VIOVA_SIM_OP_FILL:
			ret = sim_gpu_fill(sb, job, w, f);
			break;
		case VIOVA_SIM_OP_COPY:
			ret = sim_gpu_copy(sb, job, w, f);
			break;
		default: /* validated at submit: WRITE_FENCE */
			ret = sim_gpu_write_fence(sb, job, w, f);
			break;
		}
		if (ret) {
			f->err = ret;
			f->word = i;
			return;
		}
	}
}

/*
 * A job stopped on a fault or its hang-check (lock held on entry and exit): ban per
 * sim_gpu_bans. job_fault is called with the lock dropped and the job still queued, so its
 * fence is not visible yet (rule 1).
 */
static void sim_gpu_fault(struct sim_backend *sb, struct sim_job *job, const struct sim_fault *f)
{
	const struct viova_backend_events *ev = sb->base.events;
	struct viova_be_ctx *ctx = job->ctx;

	sb->st.jobs_faulted++;
	if (f->err == -ETIMEDOUT)
		sb->st.jobs_timed_out++;
	ctx->faults++;
	ctx->last_fault_iova = f->iova;
	if (sim_gpu_bans(ctx, f->err))
		ctx->banned = true;
	if (!ev || !ev->job_fault || ctx->destroying)
		return;
	ctx->cb_inflight++;
	pthread_mutex_unlock(&sb->lock);
	ev->job_fault(sb->base.events_cookie, ctx->cookie, job->fence, f->iova, f->err);
	pthread_mutex_lock(&sb->lock);
	ctx->cb_inflight--;
}

/*
 * Retire one job (lock held on entry and exit), reporting it with the lock dropped. Order
 * (the contract of viova/backend.h):
 *
 *   1. faulted: state (faults, ban) under the lock, then job_fault with the lock dropped --
 *      the job is still queued, so fence_completed / fence_wait cannot see its fence yet
 *   2. lock: buffers released, ctx->completed = fence, waiters woken
 *   3. fence_signaled with the lock dropped
 *
 * so whoever learns the fence by any route (event, poll, wait) already has the fault.
 * ctx->cb_inflight counts both calls; ctx_destroy waits for it (and for ctx->queued).
 */
static void sim_gpu_retire(struct sim_backend *sb, struct sim_job *job, const struct sim_fault *f,
			   bool skipped)
{
	const struct viova_backend_events *ev = sb->base.events;
	struct viova_be_ctx *ctx = job->ctx;
	void *cookie = ctx->cookie;
	uint64_t fence = job->fence;

	if (skipped) {
		sb->st.jobs_skipped++;
	} else if (f->err == -ECANCELED) {
		sb->st.jobs_cancelled++;
	} else {
		sb->st.jobs_run++;
		if (f->err)
			sim_gpu_fault(sb, job, f);
	}
	sim_job_release(sb, job);
	ctx->completed = fence;
	pthread_cond_broadcast(&sb->done_cv);
	if (ctx->destroying || !ev)
		return; /* ctx_destroy reports the last fence itself */

	ctx->reported = fence;
	ctx->cb_inflight++;
	pthread_mutex_unlock(&sb->lock);
	if (ev->fence_signaled)
		ev->fence_signaled(sb->base.events_cookie, cookie, fence);
	pthread_mutex_lock(&sb->lock);
	ctx->cb_inflight--;
	pthread_cond_broadcast(&sb->done_cv);
}

static void *sim_gpu_main(void *arg)
{
	struct sim_backend *sb = arg;

	pthread_mutex_lock(&sb->lock);
	while (!sb->stop) {
		struct sim_fault f = {0};
		struct sim_job *job = sim_gpu_pick(sb);
		bool skipped;

		if (!job) {
			pthread_cond_wait(&sb->work_cv, &sb->lock);
			continue;
		}
		sb->running = job;
		skipped = job->ctx->banned;
		if (!skipped) {
			sb->run_cost = SIM_SCHED_JOB_COST;
			sim_hangcheck_start(sb);
			sim_gpu_run(sb, job, &f);
		}
		sb->running = NULL;
		sim_gpu_requeue(sb, job, f.err);
		sim_gpu_retire(sb, job, &f, skipped);
		free(job);
	}
	pthread_mutex_unlock(&sb->lock);
	return NULL;
}

/* ---- entry points ------------------------------------------------------------------------ */

int sim_gpu_submit(struct viova_backend *be, struct viova_be_ctx *ctx,
		   const struct viova_be_submit *s)
{
	struct sim_backend *sb = sim_of(be);
	struct sim_job *job;
	uint32_t nwords, i;
	size_t size;
	int ret;

	if (!be || !ctx || !s || ctx->sb != sb)
		return -EINVAL;
	ret = sim_check_submit(sb, s);
	if (ret)
		return ret;
	nwords = s->cmd_size / (uint32_t)sizeof(struct viova_sim_job);
	/* bounded by SIM_MAX_JOB_WORDS / SIM_MAX_JOB_BOS: no overflow */
	size = sizeof(*job) + (size_t)nwords * sizeof(struct viova_sim_job) +
	       (size_t)s->bo_count * sizeof(struct viova_be_bo *);
	job = malloc(size);
	if (!job)
		return -ENOMEM;
	memset(job, 0, sizeof(*job));
	job->words = (struct viova_sim_job *)(job + 1);
	job->bos = (struct viova_be_bo **)(job->words + nwords);
	job->nwords = nwords;
	job->nbos = s->bo_count;
	job->alloc_size = size;
	/* Validate the copy, not the caller's buffer: what runs is exactly what was checked. */
	memcpy(job->words, s->cmds, (size_t)nwords * sizeof(struct viova_sim_job));
	for (i = 0; i < nwords; i++) {
		ret = sim_check_word(&job->words[i]);
		if (ret) {
			free(job);
			return ret;
		}
	}
	for (i = 0; i < s->bo_count; i++)
		job->bos[i] = s->bos[i].bo;

	pthread_mutex_lock(&sb->lock);
	if (ctx->banned) {
		ret = -EIO;
		goto err;
	}
	if (s->out_fence <= ctx->last_submitted) {
		ret = -EINVAL;
		goto err;
	}
	if (size > SIM_MAX_QUEUED_BYTES_PER_CTX - ctx->queued_bytes) {
		ret = -EAGAIN;
		goto err;
	}
	ret = sim_check_bos(ctx, s, ++sb->submit_seq);
	if (ret)
		goto err;
	if (!sb->worker_started) {
		if (pthread_create(&sb->worker, NULL, sim_gpu_main, sb)) {
			ret = -ENOMEM;
			goto err;
		}
		sb->worker_started = true;
	}

	job->ctx = ctx;
	job->fence = s->out_fence;
	job->seq = sb->submit_seq;
	job->priority = ctx->priority;
	for (i = 0; i < job->nbos; i++)
		job->bos[i]->busy++;
	sim_gpu_enqueue(sb, ctx->tl, job);
	ctx->queued++;
	ctx->queued_bytes += size;
	ctx->last_submitted = s->out_fence;
	sb->queued_bytes += size;
	sb->st.jobs_queued++;
	pthread_cond_broadcast(&sb->work_cv);
	pthread_mutex_unlock(&sb->lock);
	return 0;

err:
	pthread_mutex_unlock(&sb->lock);
	free(job);
	return ret;
}

void sim_gpu_quiesce_ctx(struct sim_backend *sb, struct viova_be_ctx *ctx)
{
	struct sim_timeline *tl = ctx->tl;
	struct sim_job **pp = &tl->head, *prev = NULL;

	/*
	 * Off the run queue while its head (the key) changes, back on below if jobs are left; a
	 * running timeline keeps its frozen key and sim_gpu_requeue sorts it out.
	 */
	if (!tl->running && tl->rq_idx != SIM_RQ_NONE)
		sim_rq_remove(sb, tl);
	/* The timeline may be shared (CLONE_TIMELINE): only this context's jobs go. */
	while (*pp) {
		struct sim_job *j = *pp;

		if (j->ctx != ctx) {
			prev = j;
			pp = &j->next;
			continue;
		}
		*pp = j->next;
		if (tl->tail == j)
			tl->tail = prev;
		sim_job_release(sb, j);
		sb->st.jobs_cancelled++;
		free(j);
	}
	if (tl->head && !tl->running)
		sim_rq_push(sb, tl);
	if (sb->running && sb->running->ctx == ctx) {
		sb->running->cancel = true;
		pthread_cond_broadcast(&sb->work_cv); /* a parked worker must see it */
	}
	while (ctx->queued || ctx->cb_inflight)
		pthread_cond_wait(&sb->done_cv, &sb->lock);
}

void sim_gpu_stop(struct sim_backend *sb)
{
	bool started;

	pthread_mutex_lock(&sb->lock);
	started = sb->worker_started;
	sb->stop = true;
	pthread_cond_broadcast(&sb->work_cv);
	pthread_mutex_unlock(&sb->lock);
	if (started)
		pthread_join(sb->worker, NULL);
	sb->worker_started = false;
}

/* SPDX-License-Identifier: MIT */
/*
 * msm_emu.c - the msm kernel driver, as far as the msm backend uses it (msm_emu.h).
 *
 * Modelled on drivers/gpu/drm/msm (msm_drv.c, msm_gem.c, msm_submitqueue.c) for semantics;
 * simplified where the backend cannot tell: objects live until GEM_CLOSE, a submit needs every
 * buffer already mapped in the file's address space (the real kernel would pick an iova for an
 * unmapped one itself; the backend never lets that happen).
 *
 * Thread safe, as the kernel is: one lock over the whole model; WAIT_FENCE sleeps on a
 * condition variable (lock dropped) until the job completes or its absolute CLOCK_MONOTONIC
 * deadline passes, as msm_wait_fence() does, so a backend's completion thread and the test
 * thread can both be in the "kernel" at once.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>

#include <drm/drm.h>
#include <drm/msm_drm.h>

#include "msm_emu.h"

#define EMU_FILES 64
#define EMU_OBJS 1024
#define EMU_QUEUES 64
#define EMU_JOBS 256
#define EMU_FD0 100

struct emu_obj {
	bool live;
	uint32_t flags;
	uint64_t size;
	uint64_t iova; /* 0: no vma in this file's address space */
	uint8_t *mem;
	bool mapped;
};

struct emu_queue {
	bool live;
	uint32_t prio;
	uint32_t seq, completed;
	uint32_t faults;
};

struct emu_job {
	uint32_t queue;
	uint32_t seq;
	uint32_t nbos;
	uint32_t handles[16]; /* what the job keeps busy (first 16) */
};

struct emu_file {
	bool open;
	struct emu_obj objs[EMU_OBJS];	     /* handle = index + 1 */
	struct emu_queue queues[EMU_QUEUES]; /* id = index; 0 is the default queue */
	struct emu_job jobs[EMU_JOBS];
	uint32_t njobs;
};

struct msm_emu {
	pthread_mutex_t lock;  /* everything below */
	pthread_cond_t done;   /* a job completed, a queue or file went away */
	pthread_cond_t asleep; /* a WAIT_FENCE went to sleep (msm_emu_await_waiters) */
	int waiting;	       /* WAIT_FENCE calls asleep now */
	struct drm_seam seam;
	struct msm_emu_config cfg;
	struct emu_file *files[EMU_FILES];
	struct emu_log log; /* ioctls seen, error injection */
	struct drm_msm_gem_submit_bo sbos[64];
	struct drm_msm_gem_submit_cmd scmds[64];
	uint32_t snbos;
	char last_log[512];
	int mappings;
};

/* The test-facing getters take a const emulator; the lock is not part of what they promise. */
static void emu_lock(const struct msm_emu *e)
{
	pthread_mutex_lock((pthread_mutex_t *)&e->lock);
}

static void emu_unlock(const struct msm_emu *e)
{
	pthread_mutex_unlock((pthread_mutex_t *)&e->lock);
}

static struct emu_file *emu_file(const struct msm_emu *e, int fd)
{
	if (fd < EMU_FD0 || fd >= EMU_FD0 + EMU_FILES || !e->files[fd - EMU_FD0] ||
	    !e->files[fd - EMU_FD0]->open)
		return NULL;
	return e->files[fd - EMU_FD0];
}

static struct emu_obj *emu_obj(struct emu_file *f, uint32_t handle)
{
	if (!handle || handle > EMU_OBJS || !f->objs[handle - 1].live)
		return NULL;
	return &f->objs[handle - 1];
}

static int emu_open(void *cookie, const char *path, int flags)
{
	struct msm_emu *e = cookie;
	int i;

	(void)flags;
	if (strncmp(path, "/dev/dri/renderD", 16) != 0)
		return -ENOENT;
	emu_lock(e);
	for (i = 0; i < EMU_FILES; i++) {
		if (!e->files[i]) {
			e->files[i] = calloc(1, sizeof(struct emu_file));
			if (!e->files[i]) {
				emu_unlock(e);
				return -ENOMEM;
			}
			e->files[i]->open = true;
			e->files[i]->queues[0].live = true; /* msm's default queue */
			emu_unlock(e);
			return EMU_FD0 + i;
		}
	}
	emu_unlock(e);
	return -EMFILE;
}

static void emu_release(struct emu_file *f)
{
	int i;

	for (i = 0; i < EMU_OBJS; i++) {
		if (f->objs[i].live)
			free(f->objs[i].mem);
	}
	free(f);
}

static int emu_close(void *cookie, int fd)
{
	struct msm_emu *e = cookie;
	struct emu_file *f;

	emu_lock(e);
	f = emu_file(e, fd);
	if (!f) {
		emu_unlock(e);
		return -EBADF;
	}
	emu_release(f);
	e->files[fd - EMU_FD0] = NULL;
	pthread_cond_broadcast(&e->done); /* a waiter on this file answers -EBADF */
	emu_unlock(e);
	return 0;
}

static bool emu_busy(const struct emu_file *f, uint32_t handle)
{
	uint32_t i, j;

	for (i = 0; i < f->njobs; i++) {
		const struct emu_job *j0 = &f->jobs[i];

		if (j0->seq <= f->queues[j0->queue].completed)
			continue;
		for (j = 0; j < j0->nbos; j++) {
			if (j0->handles[j] == handle)
				return true;
		}
	}
	return false;
}

/* msm_gem_set_iova() on a per-process address space (seed 004). */
static int emu_set_iova(const struct msm_emu *e, struct emu_file *f, uint32_t handle,
			struct emu_obj *o, uint64_t iova)
{
	uint64_t end = iova + o->size;
	int i;

	if (!iova) {
		if (!o->iova)
			return 0;
		if (emu_busy(f, handle))
			return -EBUSY;
		o->iova = 0;
		return 0;
	}
	if (o->iova) {
		if (o->iova == iova)
			return 0;
		/* The mismatched case: msm drops the old vma and answers -EBUSY. */
		if (!emu_busy(f, handle))
			o->iova = 0;
		return -EBUSY;
	}
	if (iova % 4096)
		return -EINVAL;
	/* drm_mm_insert_node_in_range() over [iova, iova + size): no room means -ENOSPC. */
	if (end < iova || iova < e->cfg.va_start || end > e->cfg.va_start + e->cfg.va_size)
		return -ENOSPC;
	for (i = 0; i < EMU_OBJS; i++) {
		const struct emu_obj *p = &f->objs[i];

		if (p->live && p->iova && iova < p->iova + p->size && p->iova < end)
			return -ENOSPC;
	}
	o->iova = iova;
	return 0;
}

static int emu_get_param(const struct msm_emu *e, struct drm_msm_param *p)
{
	if (p->pipe != MSM_PIPE_3D0 || p->len || p->pad)
		return -EINVAL;
	switch (p->param) {
	case MSM_PARAM_GPU_ID:
		p->value = 660;
		return 0;
	case MSM_PARAM_CHIP_ID:
		p->value = 0x06060001;
		return 0;
	case MSM_PARAM_PRIORITIES:
		p->value = e->cfg.nr_prios;
		return 0;
	case MSM_PARAM_VA_START:
		if (!e->cfg.has_va)
			return -EINVAL;
		p->value = e->cfg.va_start;
		return 0;
	case MSM_PARAM_VA_SIZE:
		if (!e->cfg.has_va)
			return -EINVAL;
		p->value = e->cfg.va_size;
		return 0;
	default:
		return -EINVAL;
	}
}

static int emu_submit(struct msm_emu *e, struct emu_file *f, struct drm_msm_gem_submit *s)
{
	const struct drm_msm_gem_submit_bo *bos = (const void *)(uintptr_t)s->bos;
	const struct drm_msm_gem_submit_cmd *cmds = (const void *)(uintptr_t)s->cmds;
	struct emu_queue *q;
	struct emu_job *job;
	uint32_t i;

	if ((s->flags & MSM_PIPE_ID_MASK) != MSM_PIPE_3D0 ||
	    s->flags & ~(MSM_SUBMIT_FLAGS | MSM_PIPE_ID_MASK) || s->pad)
		return -EINVAL;
	if (s->queueid >= EMU_QUEUES || !f->queues[s->queueid].live)
		return -ENOENT;
	if (!s->nr_cmds || s->nr_bos > 64 || s->nr_cmds > 64)
		return -EINVAL; /* the emulator's own limits */
	for (i = 0; i < s->nr_bos; i++) {
		struct emu_obj *o = emu_obj(f, bos[i].handle);

		if (!o || bos[i].flags & ~MSM_SUBMIT_BO_FLAGS ||
		    !(bos[i].flags & (MSM_SUBMIT_BO_READ | MSM_SUBMIT_BO_WRITE)))
			return -EINVAL;
		if (!o->iova)
			return -EINVAL;
	}
	for (i = 0; i < s->nr_cmds; i++) {
		const struct drm_msm_gem_submit_cmd *c = &cmds[i];
		struct emu_obj *o;

		if (c->type < MSM_SUBMIT_CMD_BUF || c->type > MSM_SUBMIT_CMD_CTX_RESTORE_BUF ||
		    c->submit_idx >= s->nr_bos || c->nr_relocs || c->pad || c->size % 4)
			return -EINVAL;
		o = emu_obj(f, bos[c->submit_idx].handle);
		if ((uint64_t)c->submit_offset + c->size > o->size)
			return -EINVAL;
	}
	if (f->njobs == EMU_JOBS)
		return -EAGAIN;
	q = &f->queues[s->queueid];
	job = &f->jobs[f->njobs++];
	job->queue = s->queueid;
	job->seq = ++q->seq;
	job->nbos = s->nr_bos < 16 ? s->nr_bos : 16;
	for (i = 0; i < job->nbos; i++)
		job->handles[i] = bos[i].handle;
	if (!e->cfg.hold_jobs)
		q->completed = q->seq;
	memcpy(e->sbos, bos, s->nr_bos * sizeof(*bos));
	memcpy(e->scmds, cmds, s->nr_cmds * sizeof(*cmds));
	e->snbos = s->nr_bos;
	s->fence = job->seq;
	return 0;
}

static int emu_gem_info(struct msm_emu *e, struct emu_file *f, struct drm_msm_gem_info *a)
{
	struct emu_obj *o;

	if (a->pad)
		return -EINVAL;
	if (a->len)
		return -EINVAL;
	o = emu_obj(f, a->handle);
	if (!o)
		return -ENOENT;
	switch (a->info) {
	case MSM_INFO_GET_OFFSET:
		a->value = (uint64_t)a->handle << 20;
		return 0;
	case MSM_INFO_GET_IOVA:
		a->value = o->iova;
		return 0;
	case MSM_INFO_SET_IOVA:
		if (!e->cfg.has_va)
			return -EOPNOTSUPP;
		return emu_set_iova(e, f, a->handle, o, a->value);
	default:
		return -EINVAL;
	}
}

/*
 * msm_wait_fence(): sleeps until the queue's seqno reaches the fence or the absolute deadline
 * passes. The file and queue are looked up again after every sleep: another thread may have
 * closed them meanwhile.
 */
static int emu_wait_fence(struct msm_emu *e, int fd, struct drm_msm_wait_fence *w)
{
	struct timespec dl = {.tv_sec = (time_t)w->timeout.tv_sec,
			      .tv_nsec = (long)w->timeout.tv_nsec};
	int slept = 0;

	if (w->flags & ~MSM_WAIT_FENCE_FLAGS || w->timeout.tv_nsec < 0 ||
	    w->timeout.tv_nsec >= 1000000000)
		return -EINVAL;
	for (;;) {
		struct emu_file *f = emu_file(e, fd);
		struct emu_queue *q;

		if (!f)
			return -EBADF;
		if (w->queueid >= EMU_QUEUES || !f->queues[w->queueid].live)
			return -ENOENT;
		q = &f->queues[w->queueid];
		if (w->fence > q->seq)
			return -EINVAL; /* msm: "waiting on invalid fence" */
		if (w->fence <= q->completed)
			return 0;
		if (slept == ETIMEDOUT)
			return -ETIMEDOUT;
		e->waiting++;
		pthread_cond_broadcast(&e->asleep);
		slept = pthread_cond_timedwait(&e->done, &e->lock, &dl);
		e->waiting--;
	}
}

static int emu_dispatch(struct msm_emu *e, int fd, struct emu_file *f, unsigned long req, void *arg)
{
	switch (req) {
	case DRM_IOCTL_VERSION: {
		struct drm_version *v = arg;
		size_t n = strlen(e->cfg.name);

		v->version_major = e->cfg.major;
		v->version_minor = e->cfg.minor;
		v->version_patchlevel = e->cfg.patch;
		if (v->name && v->name_len)
			memcpy(v->name, e->cfg.name, n < v->name_len ? n : v->name_len);
		v->name_len = n;
		v->date_len = 0;
		v->desc_len = 0;
		return 0;
	}
	case DRM_IOCTL_MSM_GET_PARAM:
		return emu_get_param(e, arg);
	case DRM_IOCTL_MSM_GEM_NEW: {
		struct drm_msm_gem_new *n = arg;
		uint32_t i;

		if (!n->size || n->flags & ~(MSM_BO_FLAGS | MSM_BO_CACHED_COHERENT))
			return -EINVAL;
		for (i = 0; i < EMU_OBJS && f->objs[i].live; i++)
			;
		if (i == EMU_OBJS)
			return -ENOMEM;
		f->objs[i] = (struct emu_obj){.live = true, .flags = n->flags, .size = n->size};
		f->objs[i].mem = calloc(1, n->size);
		if (!f->objs[i].mem) {
			f->objs[i].live = false;
			return -ENOMEM;
		}
		n->handle = i + 1;
		return 0;
	}
	case DRM_IOCTL_GEM_CLOSE: {
		struct drm_gem_close *c = arg;
		struct emu_obj *o = emu_obj(f, c->handle);

		if (!o || c->pad)
			return -EINVAL;
		free(o->mem);
		*o = (struct emu_obj){0};
		return 0;
	}
	case DRM_IOCTL_MSM_GEM_INFO:
		return emu_gem_info(e, f, arg);
	case DRM_IOCTL_MSM_SUBMITQUEUE_NEW: {
		struct drm_msm_submitqueue *q = arg;
		uint32_t i;

		if (q->flags & ~MSM_SUBMITQUEUE_FLAGS || q->prio >= e->cfg.nr_prios)
			return -EINVAL;
		for (i = 1; i < EMU_QUEUES && f->queues[i].live; i++)
			;
		if (i == EMU_QUEUES)
			return -ENOMEM;
		f->queues[i] = (struct emu_queue){.live = true, .prio = q->prio};
		q->id = i;
		return 0;
	}
	case DRM_IOCTL_MSM_SUBMITQUEUE_CLOSE: {
		uint32_t id = *(uint32_t *)arg;

		/* msm_submitqueue_remove(): the default queue 0 cannot be removed */
		if (!id || id >= EMU_QUEUES || !f->queues[id].live)
			return -ENOENT;
		f->queues[id].live = false;
		pthread_cond_broadcast(&e->done); /* a waiter on it answers -ENOENT */
		return 0;
	}
	case DRM_IOCTL_MSM_GEM_SUBMIT:
		return emu_submit(e, f, arg);
	case DRM_IOCTL_MSM_SUBMITQUEUE_QUERY: {
		struct drm_msm_submitqueue_query *q = arg;
		uint32_t n;

		if (q->pad || q->param != MSM_SUBMITQUEUE_PARAM_FAULTS)
			return -EINVAL;
		if (q->id >= EMU_QUEUES || !f->queues[q->id].live)
			return -ENOENT;
		/* msm_submitqueue_query_faults(): len 0 asks for the size */
		if (!q->len) {
			q->len = sizeof(uint32_t);
			return 0;
		}
		n = q->len < sizeof(uint32_t) ? q->len : sizeof(uint32_t);
		memcpy((void *)(uintptr_t)q->data, &f->queues[q->id].faults, n);
		q->len = n;
		return 0;
	}
	case DRM_IOCTL_MSM_WAIT_FENCE:
		return emu_wait_fence(e, fd, arg);
	default:
		return -ENOTTY;
	}
}

static int emu_ioctl(void *cookie, int fd, unsigned long req, void *arg)
{
	struct msm_emu *e = cookie;
	uint32_t seq = emu_log_begin(&e->log, fd, req, arg);
	struct emu_file *f;
	int ret;

	emu_lock(e);
	f = emu_file(e, fd);
	if (!f)
		ret = -EBADF;
	else if (!(ret = emu_log_take_fail(&e->log, req)))
		ret = emu_dispatch(e, fd, f, req, arg);
	emu_unlock(e);
	return emu_log_end(&e->log, seq, arg, ret);
}

static void *emu_mmap(void *cookie, size_t len, int prot, int flags, int fd, off_t offset, int *err)
{
	struct msm_emu *e = cookie;
	struct emu_file *f;
	struct emu_obj *o = NULL;

	(void)prot;
	emu_lock(e);
	f = emu_file(e, fd);
	if (f && (flags & MAP_SHARED) && (uint64_t)offset % (1u << 20) == 0)
		o = emu_obj(f, (uint32_t)((uint64_t)offset >> 20));
	if (!o || len > o->size) {
		emu_unlock(e);
		*err = -EINVAL;
		return NULL;
	}
	o->mapped = true;
	e->mappings++;
	emu_unlock(e);
	return o->mem;
}

static int emu_munmap(void *cookie, void *addr, size_t len)
{
	struct msm_emu *e = cookie;

	(void)addr, (void)len;
	emu_lock(e);
	e->mappings--;
	emu_unlock(e);
	return 0;
}

static void emu_log(void *cookie, const char *msg)
{
	struct msm_emu *e = cookie;

	emu_lock(e);
	snprintf(e->last_log, sizeof(e->last_log), "%s", msg);
	emu_unlock(e);
}

struct msm_emu *msm_emu_new(const struct msm_emu_config *cfg)
{
	static const struct msm_emu_config def = {
	    .name = "msm",
	    .major = 1,
	    .minor = 12,
	    .patch = 0,
	    .has_va = true,
	    .va_start = 0x100000000ull,
	    .va_size = 0xff00000000ull,
	    .nr_prios = 3,
	};
	struct msm_emu *e = calloc(1, sizeof(*e));
	pthread_condattr_t ca;

	if (!e)
		return NULL;
	/* WAIT_FENCE deadlines are absolute CLOCK_MONOTONIC, as in the kernel */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->done, &ca);
	pthread_cond_init(&e->asleep, &ca);
	pthread_condattr_destroy(&ca);
	emu_log_init(&e->log);
	e->cfg = cfg ? *cfg : def;
	e->seam = (struct drm_seam){
	    .cookie = e,
	    .open = emu_open,
	    .ioctl = emu_ioctl,
	    .mmap = emu_mmap,
	    .munmap = emu_munmap,
	    .close = emu_close,
	    .log = emu_log,
	};
	return e;
}

void msm_emu_free(struct msm_emu *e)
{
	int i;

	if (!e)
		return;
	for (i = 0; i < EMU_FILES; i++) {
		if (e->files[i])
			emu_release(e->files[i]);
	}
	emu_log_fini(&e->log);
	pthread_cond_destroy(&e->asleep);
	pthread_cond_destroy(&e->done);
	pthread_mutex_destroy(&e->lock);
	free(e);
}

struct emu_log *msm_emu_log(struct msm_emu *e)
{
	return &e->log;
}

const struct drm_seam *msm_emu_seam(struct msm_emu *e)
{
	return &e->seam;
}

void msm_emu_set_hold(struct msm_emu *e, bool hold)
{
	emu_lock(e);
	e->cfg.hold_jobs = hold;
	emu_unlock(e);
}

void msm_emu_complete(struct msm_emu *e)
{
	int i, q;

	emu_lock(e);
	for (i = 0; i < EMU_FILES; i++) {
		if (!e->files[i])
			continue;
		for (q = 0; q < EMU_QUEUES; q++)
			e->files[i]->queues[q].completed = e->files[i]->queues[q].seq;
	}
	pthread_cond_broadcast(&e->done);
	emu_unlock(e);
}

uint32_t msm_emu_complete_next(struct msm_emu *e, int fd, uint32_t queue, bool fault)
{
	struct emu_file *f;
	struct emu_queue *q;
	uint32_t seq = 0;

	emu_lock(e);
	f = emu_file(e, fd);
	if (f && queue < EMU_QUEUES) {
		q = &f->queues[queue];
		if (q->completed < q->seq) {
			/* the fault is counted by the time the job shows as done, as in msm's
			 * recovery: a waiter woken by the completion reads the new count */
			q->faults += fault;
			seq = ++q->completed;
			pthread_cond_broadcast(&e->done);
		}
	}
	emu_unlock(e);
	return seq;
}

int msm_emu_await_waiters(struct msm_emu *e, int n, uint64_t timeout_ns)
{
	struct timespec dl;
	uint64_t ns;
	int ret = 0;

	clock_gettime(CLOCK_MONOTONIC, &dl);
	ns = (uint64_t)dl.tv_nsec + timeout_ns;
	dl.tv_sec += (time_t)(ns / 1000000000ull);
	dl.tv_nsec = (long)(ns % 1000000000ull);
	emu_lock(e);
	while (e->waiting < n && ret != ETIMEDOUT)
		ret = pthread_cond_timedwait(&e->asleep, &e->lock, &dl);
	ret = e->waiting >= n ? 0 : -ETIMEDOUT;
	emu_unlock(e);
	return ret;
}

void msm_emu_fault(struct msm_emu *e, int fd, uint32_t queue)
{
	struct emu_file *f;

	emu_lock(e);
	f = emu_file(e, fd);
	if (f && queue < EMU_QUEUES)
		f->queues[queue].faults++;
	emu_unlock(e);
}

int msm_emu_open_files(const struct msm_emu *e)
{
	int i, n = 0;

	emu_lock(e);
	for (i = 0; i < EMU_FILES; i++)
		n += e->files[i] != NULL;
	emu_unlock(e);
	return n;
}

static struct emu_obj *emu_obj_at(const struct msm_emu *e, int fd, uint32_t handle)
{
	struct emu_file *f = emu_file(e, fd);

	return f ? emu_obj(f, handle) : NULL;
}

int64_t msm_emu_iova(const struct msm_emu *e, int fd, uint32_t handle)
{
	struct emu_obj *o;
	int64_t v;

	emu_lock(e);
	o = emu_obj_at(e, fd, handle);
	v = o ? (int64_t)o->iova : -1;
	emu_unlock(e);
	return v;
}

uint32_t msm_emu_objects(const struct msm_emu *e, int fd)
{
	struct emu_file *f;
	uint32_t i, n = 0;

	emu_lock(e);
	f = emu_file(e, fd);
	for (i = 0; f && i < EMU_OBJS; i++)
		n += f->objs[i].live;
	emu_unlock(e);
	return n;
}

uint32_t msm_emu_queues(const struct msm_emu *e, int fd)
{
	struct emu_file *f;
	uint32_t i, n = 0;

	emu_lock(e);
	f = emu_file(e, fd);
	for (i = 1; f && i < EMU_QUEUES; i++)
		n += f->queues[i].live;
	emu_unlock(e);
	return n;
}

uint8_t *msm_emu_mem(const struct msm_emu *e, int fd, uint32_t handle)
{
	struct emu_obj *o;
	uint8_t *mem;

	emu_lock(e);
	o = emu_obj_at(e, fd, handle);
	mem = o ? o->mem : NULL;
	emu_unlock(e);
	return mem;
}

uint32_t msm_emu_last_submit(const struct msm_emu *e, const void **bos, const void **cmds)
{
	uint32_t n;

	emu_lock(e);
	*bos = e->sbos;
	*cmds = e->scmds;
	n = e->snbos;
	emu_unlock(e);
	return n;
}

const char *msm_emu_last_log(const struct msm_emu *e)
{
	return e->last_log; /* a backend logs from its creation, or once per failing wait */
}

int msm_emu_mappings(const struct msm_emu *e)
{
	int n;

	emu_lock(e);
	n = e->mappings;
	emu_unlock(e);
	return n;
}

void msm_emu_totals(const struct msm_emu *e, struct msm_emu_totals *t)
{
	int i, j;

	memset(t, 0, sizeof(*t));
	emu_lock(e);
	for (i = 0; i < EMU_FILES; i++) {
		const struct emu_file *f = e->files[i];

		if (!f)
			continue;
		t->files++;
		for (j = 1; j < EMU_QUEUES; j++)
			t->queues += f->queues[j].live;
		for (j = 0; j < EMU_OBJS; j++) {
			if (!f->objs[j].live)
				continue;
			t->objects++;
			t->bytes += f->objs[j].size;
			t->placed += f->objs[j].iova != 0;
		}
	}
	emu_unlock(e);
}

uint32_t msm_emu_object_at(const struct msm_emu *e, int fd, uint64_t iova)
{
	struct emu_file *f;
	uint32_t i, h = 0;

	emu_lock(e);
	f = emu_file(e, fd);
	for (i = 0; f && i < EMU_OBJS && !h; i++) {
		const struct emu_obj *o = &f->objs[i];

		if (o->live && o->iova && iova >= o->iova && iova - o->iova < o->size)
			h = i + 1;
	}
	emu_unlock(e);
	return h;
}

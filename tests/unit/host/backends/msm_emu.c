/* SPDX-License-Identifier: MIT */
/*
 * msm_emu.c - the msm kernel driver, as far as the msm backend uses it (msm_emu.h).
 *
 * Modelled on drivers/gpu/drm/msm (msm_drv.c, msm_gem.c, msm_submitqueue.c) for semantics;
 * simplified where the backend cannot tell: objects live until GEM_CLOSE, a submit needs every
 * buffer already mapped in the file's address space (the real kernel would pick an iova for an
 * unmapped one itself; the backend never lets that happen), and waits never block (a held job
 * answers -ETIMEDOUT at once).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

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
	for (i = 0; i < EMU_FILES; i++) {
		if (!e->files[i]) {
			e->files[i] = calloc(1, sizeof(struct emu_file));
			if (!e->files[i])
				return -ENOMEM;
			e->files[i]->open = true;
			e->files[i]->queues[0].live = true; /* msm's default queue */
			return EMU_FD0 + i;
		}
	}
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
	struct emu_file *f = emu_file(e, fd);

	if (!f)
		return -EBADF;
	emu_release(f);
	e->files[fd - EMU_FD0] = NULL;
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

static int emu_dispatch(struct msm_emu *e, struct emu_file *f, unsigned long req, void *arg)
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
	case DRM_IOCTL_MSM_WAIT_FENCE: {
		struct drm_msm_wait_fence *w = arg;
		struct emu_queue *q;

		if (w->flags & ~MSM_WAIT_FENCE_FLAGS)
			return -EINVAL;
		if (w->queueid >= EMU_QUEUES || !f->queues[w->queueid].live)
			return -ENOENT;
		q = &f->queues[w->queueid];
		if (w->fence > q->seq)
			return -EINVAL; /* msm: "waiting on invalid fence" */
		return w->fence <= q->completed ? 0 : -ETIMEDOUT;
	}
	default:
		return -ENOTTY;
	}
}

static int emu_ioctl(void *cookie, int fd, unsigned long req, void *arg)
{
	struct msm_emu *e = cookie;
	struct emu_call *c = emu_log_begin(&e->log, fd, req, arg);
	struct emu_file *f = emu_file(e, fd);
	int err;

	if (!f)
		return emu_log_end(c, arg, -EBADF);
	err = emu_log_take_fail(&e->log, req);
	return emu_log_end(c, arg, err ? err : emu_dispatch(e, f, req, arg));
}

static void *emu_mmap(void *cookie, size_t len, int prot, int flags, int fd, off_t offset, int *err)
{
	struct msm_emu *e = cookie;
	struct emu_file *f = emu_file(e, fd);
	struct emu_obj *o;

	(void)prot;
	if (!f || !(flags & MAP_SHARED)) {
		*err = -EINVAL;
		return NULL;
	}
	o = emu_obj(f, (uint32_t)((uint64_t)offset >> 20));
	if (!o || (uint64_t)offset % (1u << 20) || len > o->size) {
		*err = -EINVAL;
		return NULL;
	}
	o->mapped = true;
	e->mappings++;
	return o->mem;
}

static int emu_munmap(void *cookie, void *addr, size_t len)
{
	struct msm_emu *e = cookie;

	(void)addr, (void)len;
	e->mappings--;
	return 0;
}

static void emu_log(void *cookie, const char *msg)
{
	struct msm_emu *e = cookie;

	snprintf(e->last_log, sizeof(e->last_log), "%s", msg);
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

	if (!e)
		return NULL;
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





void msm_emu_complete(struct msm_emu *e)
{
	int i, q;

	for (i = 0; i < EMU_FILES; i++) {
		if (!e->files[i])
			continue;
		for (q = 0; q < EMU_QUEUES; q++)
			e->files[i]->queues[q].completed = e->files[i]->queues[q].seq;
	}
}

void msm_emu_fault(struct msm_emu *e, int fd, uint32_t queue)
{
	struct emu_file *f = emu_file(e, fd);

	if (f && queue < EMU_QUEUES)
		f->queues[queue].faults++;
}

int msm_emu_open_files(const struct msm_emu *e)
{
	int i, n = 0;

	for (i = 0; i < EMU_FILES; i++)
		n += e->files[i] != NULL;
	return n;
}

int64_t msm_emu_iova(const struct msm_emu *e, int fd, uint32_t handle)
{
	struct emu_file *f = emu_file(e, fd);
	struct emu_obj *o = f ? emu_obj(f, handle) : NULL;

	return o ? (int64_t)o->iova : -1;
}

uint32_t msm_emu_objects(const struct msm_emu *e, int fd)
{
	struct emu_file *f = emu_file(e, fd);
	uint32_t i, n = 0;

	for (i = 0; f && i < EMU_OBJS; i++)
		n += f->objs[i].live;
	return n;
}

uint32_t msm_emu_queues(const struct msm_emu *e, int fd)
{
	struct emu_file *f = emu_file(e, fd);
	uint32_t i, n = 0;

	for (i = 1; f && i < EMU_QUEUES; i++)
		n += f->queues[i].live;
	return n;
}

uint8_t *msm_emu_mem(const struct msm_emu *e, int fd, uint32_t handle)
{
	struct emu_file *f = emu_file(e, fd);
	struct emu_obj *o = f ? emu_obj(f, handle) : NULL;

	return o ? o->mem : NULL;
}

uint32_t msm_emu_last_submit(const struct msm_emu *e, const void **bos, const void **cmds)
{
	*bos = e->sbos;
	*cmds = e->scmds;
	return e->snbos;
}

const char *msm_emu_last_log(const struct msm_emu *e)
{
	return e->last_log;
}

int msm_emu_mappings(const struct msm_emu *e)
{
	return e->mappings;
}

void msm_emu_totals(const struct msm_emu *e, struct msm_emu_totals *t)
{
	int i, j;

	memset(t, 0, sizeof(*t));
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
}

uint32_t msm_emu_object_at(const struct msm_emu *e, int fd, uint64_t iova)
{
	struct emu_file *f = emu_file(e, fd);
	uint32_t i;

	for (i = 0; f && i < EMU_OBJS; i++) {
		const struct emu_obj *o = &f->objs[i];

		if (o->live && o->iova && iova >= o->iova && iova - o->iova < o->size)
			return i + 1;
	}
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * i915_emu.c - the i915 kernel driver, as far as the i915 backend uses it (i915_emu.h).
 *
 * Semantics follow drivers/gpu/drm/i915/gem (i915_gem_context.c: create-time SETPARAM
 * extensions and their privilege checks, CONTEXT_GETPARAM; i915_gem_execbuffer.c: softpin).
 * Simplified where the backend cannot tell: one handle namespace for all open files, every
 * execbuf object must be softpinned (the backend never lets the kernel choose).
 *
 * Thread safe, as the kernel is: one lock over the whole model; GEM_WAIT sleeps on a condition
 * variable (lock dropped) until the object is idle or its relative timeout runs out, and writes
 * back the time left, as i915_gem_wait_ioctl() does.
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
#include <drm/i915_drm.h>

#include "i915_emu.h"

#define EMU_OBJS 512
#define EMU_VMS 64
#define EMU_IDS 256
#define EMU_CTXS 64
#define EMU_JOBS 256
#define EMU_FD0 200
#define EMU_FILES 8

struct emu_obj {
	bool live;
	uint64_t size;
	uint8_t *mem;
};

struct emu_vm {
	uint32_t refs;
	uint64_t bound[EMU_OBJS + 1]; /* by handle: address (not canonical), 0 = unbound */
};

struct emu_job {
	uint32_t ctx;
	uint32_t nh;
	uint32_t handles[16];
	bool done;
};

struct i915_emu {
	pthread_mutex_t lock;  /* everything below */
	pthread_cond_t done;   /* a job completed, an object went away */
	pthread_cond_t asleep; /* a GEM_WAIT went to sleep (i915_emu_await_waiters) */
	int waiting;	       /* GEM_WAIT calls asleep now */
	struct drm_seam seam;
	struct i915_emu_config cfg;
	bool files[EMU_FILES];
	struct emu_obj objs[EMU_OBJS + 1]; /* handle = index, 0 unused */
	struct emu_vm *vms[EMU_VMS];
	uint32_t ids[EMU_IDS];		    /* id -> vm index + 1 (0: free); id 0 unused */
	struct i915_emu_ctx ctxs[EMU_CTXS]; /* id = index; 0 is the default context */
	struct emu_job jobs[EMU_JOBS];
	uint32_t njobs;
	struct emu_log log; /* ioctls seen, error injection */
	struct drm_i915_gem_exec_object2 exec[32];
	uint32_t nexec;
	char last_log[512];
	int mappings;
};

/* The test-facing getters take a const emulator; the lock is not part of what they promise. */
static void emu_lock(const struct i915_emu *e)
{
	pthread_mutex_lock((pthread_mutex_t *)&e->lock);
}

static void emu_unlock(const struct i915_emu *e)
{
	pthread_mutex_unlock((pthread_mutex_t *)&e->lock);
}

static uint64_t canonical(uint64_t a)
{
	return (uint64_t)((int64_t)(a << 16) >> 16);
}

static int vm_new(struct i915_emu *e)
{
	int i;

	for (i = 0; i < EMU_VMS; i++) {
		if (!e->vms[i]) {
			e->vms[i] = calloc(1, sizeof(struct emu_vm));
			if (!e->vms[i])
				return -ENOMEM;
			e->vms[i]->refs = 1;
			return i;
		}
	}
	return -ENOMEM;
}

static void vm_put(struct i915_emu *e, uint32_t vm)
{
	if (--e->vms[vm]->refs == 0) {
		free(e->vms[vm]);
		e->vms[vm] = NULL;
	}
}

static int id_new(struct i915_emu *e, uint32_t vm)
{
	int i;

	for (i = 1; i < EMU_IDS; i++) {
		if (!e->ids[i]) {
			e->ids[i] = vm + 1;
			return i;
		}
	}
	return -ENOMEM;
}

static struct emu_obj *obj(struct i915_emu *e, uint32_t h)
{
	return h && h <= EMU_OBJS && e->objs[h].live ? &e->objs[h] : NULL;
}

static bool busy(const struct i915_emu *e, uint32_t h)
{
	uint32_t i, j;

	for (i = 0; i < e->njobs; i++) {
		for (j = 0; !e->jobs[i].done && j < e->jobs[i].nh; j++) {
			if (e->jobs[i].handles[j] == h)
				return true;
		}
	}
	return false;
}

static int create_param(struct i915_emu *e, struct i915_emu_ctx *c, bool *vm_set,
			const struct drm_i915_gem_context_param *p)
{
	int64_t v = (int64_t)p->value;

	if (p->ctx_id)
		return -EINVAL;
	switch (p->param) {
	case I915_CONTEXT_PARAM_VM: {
		uint32_t id = (uint32_t)p->value;

		if (p->size)
			return -EINVAL;
		if (!id || id >= EMU_IDS || !e->ids[id])
			return -ENOENT;
		if (*vm_set)
			vm_put(e, c->vm);
		c->vm = e->ids[id] - 1;
		e->vms[c->vm]->refs++;
		*vm_set = true;
		return 0;
	}
	case I915_CONTEXT_PARAM_PRIORITY:
		if (p->size)
			return -EINVAL;
		if (v > I915_CONTEXT_MAX_USER_PRIORITY || v < I915_CONTEXT_MIN_USER_PRIORITY)
			return -EINVAL;
		if (v > 0 && !e->cfg.cap_sys_nice)
			return -EPERM;
		c->priority = v;
		return 0;
	case I915_CONTEXT_PARAM_BANNABLE:
		if (p->size)
			return -EINVAL;
		if (!p->value && !e->cfg.cap_sys_admin)
			return -EPERM;
		c->bannable = p->value != 0;
		return 0;
	case I915_CONTEXT_PARAM_RECOVERABLE:
		if (p->size)
			return -EINVAL;
		c->recoverable = p->value != 0;
		return 0;
	case I915_CONTEXT_PARAM_NO_ERROR_CAPTURE:
		if (p->size)
			return -EINVAL;
		c->no_error_capture = p->value != 0;
		return 0;
	case I915_CONTEXT_PARAM_ENGINES:
		if (p->size < 8 || (p->size - 8) % 4 || p->size > sizeof(c->engines))
			return -EINVAL;
		memcpy(c->engines, (const void *)(uintptr_t)p->value, p->size);
		c->engines_size = p->size;
		return 0;
	case I915_CONTEXT_PARAM_SSEU: {
		struct drm_i915_gem_context_param_sseu s;

		if (p->size != sizeof(s))
			return -EINVAL;
		memcpy(&s, (const void *)(uintptr_t)p->value, sizeof(s));
		/* an engine index needs a user engine map, set earlier in the chain */
		if (!!(s.flags & I915_CONTEXT_SSEU_FLAG_ENGINE_INDEX) != (c->engines_size != 0))
			return -EINVAL;
		memcpy(c->sseu, &s, sizeof(s));
		c->sseu_set = true;
		return 0;
	}
	default:
		return -EINVAL;
	}
}

static int ctx_create(struct i915_emu *e, struct drm_i915_gem_context_create_ext *a)
{
	const struct i915_user_extension *ext;
	struct i915_emu_ctx c = {.live = true, .bannable = true, .recoverable = true};
	bool vm_set = false;
	int i, ret = 0, n = 0;

	if (a->flags & I915_CONTEXT_CREATE_FLAGS_UNKNOWN)
		return -EINVAL;
	ext = a->flags & I915_CONTEXT_CREATE_FLAGS_USE_EXTENSIONS
		  ? (const void *)(uintptr_t)a->extensions
		  : NULL;
	for (; ext && !ret; ext = (const void *)(uintptr_t)ext->next_extension) {
		const struct drm_i915_gem_context_create_ext_setparam *sp = (const void *)ext;

		if (++n > 16)
			ret = -E2BIG;
		else if (ext->name != I915_CONTEXT_CREATE_EXT_SETPARAM) /* CLONE: removed */
			ret = -EINVAL;
		else
			ret = create_param(e, &c, &vm_set, &sp->param);
	}
	if (!ret && !vm_set) {
		ret = vm_new(e); /* a private VM */
		if (ret >= 0) {
			c.vm = (uint32_t)ret;
			vm_set = true;
			ret = 0;
		}
	}
	for (i = 1; !ret && i < EMU_CTXS && e->ctxs[i].live; i++)
		;
	if (!ret && i == EMU_CTXS)
		ret = -ENOMEM;
	if (ret) {
		if (vm_set)
			vm_put(e, c.vm);
		return ret;
	}
	e->ctxs[i] = c;
	a->ctx_id = (uint32_t)i;
	return 0;
}

static int ctx_getparam(struct i915_emu *e, struct drm_i915_gem_context_param *p)
{
	struct i915_emu_ctx *c;

	if (p->ctx_id >= EMU_CTXS || (p->ctx_id && !e->ctxs[p->ctx_id].live))
		return -ENOENT;
	c = &e->ctxs[p->ctx_id];
	switch (p->param) {
	case I915_CONTEXT_PARAM_GTT_SIZE:
		p->value = e->cfg.gtt_size;
		return 0;
	case I915_CONTEXT_PARAM_PRIORITY:
		p->value = (uint64_t)c->priority;
		return 0;
	case I915_CONTEXT_PARAM_BANNABLE:
		p->value = c->bannable;
		return 0;
	case I915_CONTEXT_PARAM_RECOVERABLE:
		p->value = c->recoverable;
		return 0;
	case I915_CONTEXT_PARAM_NO_ERROR_CAPTURE:
		p->value = c->no_error_capture;
		return 0;
	case I915_CONTEXT_PARAM_VM: {
		int id;

		if (!p->ctx_id)
			return -ENODEV;
		id = id_new(e, c->vm); /* a new id for the same VM */
		if (id < 0)
			return id;
		e->vms[c->vm]->refs++;
		p->value = (uint64_t)id;
		return 0;
	}
	case I915_CONTEXT_PARAM_ENGINES:
		if (!p->size) {
			p->size = c->engines_size;
			return 0;
		}
		if (p->size < c->engines_size)
			return -EINVAL;
		memcpy((void *)(uintptr_t)p->value, c->engines, c->engines_size);
		p->size = c->engines_size;
		return 0;
	case I915_CONTEXT_PARAM_SSEU: {
		struct drm_i915_gem_context_param_sseu s;

		if (p->size != sizeof(s))
			return -EINVAL;
		memcpy(&s, (const void *)(uintptr_t)p->value, sizeof(s));
		if (!!(s.flags & I915_CONTEXT_SSEU_FLAG_ENGINE_INDEX) != (c->engines_size != 0))
			return -EINVAL;
		if (c->sseu_set) {
			memcpy(&s, c->sseu, sizeof(s));
		} else {
			s.slice_mask = 0x1;
			s.subslice_mask = 0xff;
			s.min_eus_per_subslice = s.max_eus_per_subslice = 8;
		}
		memcpy((void *)(uintptr_t)p->value, &s, sizeof(s));
		return 0;
	}
	default:
		return -EINVAL;
	}
}

static int execbuf(struct i915_emu *e, struct drm_i915_gem_execbuffer2 *eb)
{
	struct drm_i915_gem_exec_object2 *o = (void *)(uintptr_t)eb->buffers_ptr;
	uint32_t n = eb->buffer_count, i, j, ctx = (uint32_t)eb->rsvd1, bi;
	struct emu_vm *vm;
	struct emu_job *job;

	if (ctx == 0 || ctx >= EMU_CTXS || !e->ctxs[ctx].live)
		return -ENOENT;
	if (!n || n > 32 || eb->flags & __I915_EXEC_UNKNOWN_FLAGS)
		return -EINVAL;
	vm = e->vms[e->ctxs[ctx].vm];
	for (i = 0; i < n; i++) {
		struct emu_obj *ob = obj(e, o[i].handle);
		uint64_t a = o[i].offset & ((1ull << 48) - 1);

		if (!ob)
			return -ENOENT;
		if (o[i].flags & __EXEC_OBJECT_UNKNOWN_FLAGS || o[i].relocation_count)
			return -EINVAL;
		if (!(o[i].flags & EXEC_OBJECT_PINNED))
			return -EINVAL; /* the emulator only places softpinned objects */
		if (o[i].offset % 4096 || canonical(o[i].offset) != o[i].offset ||
		    a + ob->size > e->cfg.gtt_size)
			return -EINVAL;
		if (!(o[i].flags & EXEC_OBJECT_SUPPORTS_48B_ADDRESS) && a + ob->size > (1ull << 32))
			return -EINVAL;
		for (j = 0; j < i; j++) {
			uint64_t b = o[j].offset & ((1ull << 48) - 1);

			if (o[j].handle == o[i].handle)
				return -EINVAL;
			if (a < b + e->objs[o[j].handle].size && b < a + ob->size)
				return -ENOSPC; /* two pinned objects on one range */
		}
	}
	bi = eb->flags & I915_EXEC_BATCH_FIRST ? 0 : n - 1;
	if (eb->batch_start_offset % 8 || eb->batch_len % 8 ||
	    (uint64_t)eb->batch_start_offset + eb->batch_len > e->objs[o[bi].handle].size)
		return -EINVAL;
	if (e->njobs == EMU_JOBS)
		return -EAGAIN;
	/* bind: evict whatever else overlaps in this VM (busy: -ENOSPC, nothing changed) */
	for (i = 0; i < n; i++) {
		uint64_t a = o[i].offset & ((1ull << 48) - 1), sz = e->objs[o[i].handle].size;

		for (j = 1; j <= EMU_OBJS; j++) {
			if (j == o[i].handle || !vm->bound[j])
				continue;
			if (a < vm->bound[j] + e->objs[j].size && vm->bound[j] < a + sz &&
			    busy(e, j))
				return -ENOSPC;
		}
	}
	for (i = 0; i < n; i++) {
		uint64_t a = o[i].offset & ((1ull << 48) - 1), sz = e->objs[o[i].handle].size;

		for (j = 1; j <= EMU_OBJS; j++) {
			if (vm->bound[j] && a < vm->bound[j] + e->objs[j].size &&
			    vm->bound[j] < a + sz)
				vm->bound[j] = 0;
		}
		vm->bound[o[i].handle] = a;
	}
	job = &e->jobs[e->njobs++];
	job->ctx = ctx;
	job->nh = n < 16 ? n : 16;
	for (i = 0; i < job->nh; i++)
		job->handles[i] = o[i].handle;
	job->done = !e->cfg.hold_jobs;
	memcpy(e->exec, o, n * sizeof(*o));
	e->nexec = n;
	return 0;
}

static void deadline(struct timespec *ts, uint64_t ns)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ns += (uint64_t)ts->tv_nsec;
	ts->tv_sec += (time_t)(ns / 1000000000ull);
	ts->tv_nsec = (long)(ns % 1000000000ull);
}

static uint64_t left_ns(const struct timespec *dl)
{
	struct timespec now;
	int64_t ns;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ns = (int64_t)(dl->tv_sec - now.tv_sec) * 1000000000ll + (dl->tv_nsec - now.tv_nsec);
	return ns > 0 ? (uint64_t)ns : 0;
}

/*
 * i915_gem_wait_ioctl(): sleeps until nothing runs on the object or the relative timeout
 * (negative: forever) runs out; -ETIME then, and timeout_ns is the time left either way.
 */
static int gem_wait(struct i915_emu *e, struct drm_i915_gem_wait *w)
{
	bool forever = w->timeout_ns < 0;
	struct timespec dl;
	int slept = 0;

	if (w->flags)
		return -EINVAL;
	deadline(&dl, forever ? 0 : (uint64_t)w->timeout_ns);
	for (;;) {
		if (!obj(e, w->bo_handle))
			return -ENOENT;
		if (!busy(e, w->bo_handle))
			break;
		if (slept == ETIMEDOUT || (!forever && !w->timeout_ns)) {
			w->timeout_ns = 0;
			return -ETIME;
		}
		e->waiting++;
		pthread_cond_broadcast(&e->asleep);
		if (forever)
			slept = pthread_cond_wait(&e->done, &e->lock);
		else
			slept = pthread_cond_timedwait(&e->done, &e->lock, &dl);
		e->waiting--;
	}
	if (!forever)
		w->timeout_ns = (int64_t)left_ns(&dl);
	return 0;
}

static int dispatch(struct i915_emu *e, unsigned long req, void *arg)
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
		return 0;
	}
	case DRM_IOCTL_I915_GETPARAM: {
		drm_i915_getparam_t *g = arg;

		if (g->param == I915_PARAM_HAS_EXEC_SOFTPIN)
			*g->value = e->cfg.softpin;
		else if (g->param == I915_PARAM_CHIPSET_ID)
			*g->value = 0x9a49;
		else
			return -EINVAL;
		return 0;
	}
	case DRM_IOCTL_I915_GEM_VM_CREATE: {
		struct drm_i915_gem_vm_control *v = arg;
		int vm, id;

		if (v->extensions || v->flags || v->vm_id)
			return -EINVAL;
		vm = vm_new(e);
		if (vm < 0)
			return vm;
		id = id_new(e, (uint32_t)vm);
		if (id < 0) {
			vm_put(e, (uint32_t)vm);
			return id;
		}
		v->vm_id = (uint32_t)id;
		return 0;
	}
	case DRM_IOCTL_I915_GEM_VM_DESTROY: {
		struct drm_i915_gem_vm_control *v = arg;

		if (v->extensions || v->flags)
			return -EINVAL;
		if (!v->vm_id || v->vm_id >= EMU_IDS || !e->ids[v->vm_id])
			return -ENOENT;
		vm_put(e, e->ids[v->vm_id] - 1);
		e->ids[v->vm_id] = 0;
		return 0;
	}
	case DRM_IOCTL_I915_GEM_CONTEXT_CREATE_EXT:
		return ctx_create(e, arg);
	case DRM_IOCTL_I915_GEM_CONTEXT_DESTROY: {
		struct drm_i915_gem_context_destroy *d = arg;

		if (d->pad)
			return -EINVAL;
		if (!d->ctx_id || d->ctx_id >= EMU_CTXS || !e->ctxs[d->ctx_id].live)
			return -ENOENT;
		vm_put(e, e->ctxs[d->ctx_id].vm);
		e->ctxs[d->ctx_id].live = false;
		return 0;
	}
	case DRM_IOCTL_I915_GEM_CONTEXT_GETPARAM:
		return ctx_getparam(e, arg);
	case DRM_IOCTL_I915_GEM_CREATE: {
		struct drm_i915_gem_create *c = arg;
		uint32_t h;

		if (!c->size)
			return -EINVAL;
		for (h = 1; h <= EMU_OBJS && e->objs[h].live; h++)
			;
		if (h > EMU_OBJS)
			return -ENOMEM;
		c->size = (c->size + 4095) & ~4095ull;
		e->objs[h].mem = calloc(1, c->size);
		if (!e->objs[h].mem)
			return -ENOMEM;
		e->objs[h].live = true;
		e->objs[h].size = c->size;
		c->handle = h;
		return 0;
	}
	case DRM_IOCTL_GEM_CLOSE: {
		struct drm_gem_close *c = arg;
		int v;

		if (!obj(e, c->handle) || c->pad)
			return -EINVAL;
		for (v = 0; v < EMU_VMS; v++) {
			if (e->vms[v])
				e->vms[v]->bound[c->handle] = 0;
		}
		free(e->objs[c->handle].mem);
		e->objs[c->handle] = (struct emu_obj){0};
		pthread_cond_broadcast(&e->done); /* a waiter on it answers -ENOENT */
		return 0;
	}
	case DRM_IOCTL_I915_GEM_MMAP_OFFSET: {
		struct drm_i915_gem_mmap_offset *m = arg;

		if (m->pad || m->extensions ||
		    (m->flags != I915_MMAP_OFFSET_WC && m->flags != I915_MMAP_OFFSET_WB))
			return -EINVAL;
		if (!obj(e, m->handle))
			return -ENOENT;
		m->offset = (uint64_t)m->handle << 20;
		return 0;
	}
	case DRM_IOCTL_I915_GEM_BUSY: {
		struct drm_i915_gem_busy *b = arg;

		if (!obj(e, b->handle))
			return -ENOENT;
		b->busy = busy(e, b->handle) ? 0x10001u : 0; /* render engine, read + write */
		return 0;
	}
	case DRM_IOCTL_I915_GEM_WAIT:
		return gem_wait(e, arg);
	case DRM_IOCTL_I915_GEM_EXECBUFFER2:
		return execbuf(e, arg);
	case DRM_IOCTL_I915_GET_RESET_STATS: {
		struct drm_i915_reset_stats *r = arg;

		if (r->flags || r->pad)
			return -EINVAL;
		if (!r->ctx_id || r->ctx_id >= EMU_CTXS || !e->ctxs[r->ctx_id].live)
			return -ENOENT;
		r->reset_count = 0; /* CAP_SYS_ADMIN only */
		r->batch_active = e->ctxs[r->ctx_id].guilty;
		r->batch_pending = 0;
		return 0;
	}
	default:
		return -ENOTTY;
	}
}

static int emu_open(void *cookie, const char *path, int flags)
{
	struct i915_emu *e = cookie;
	int i;

	(void)flags;
	if (strncmp(path, "/dev/dri/renderD", 16) != 0)
		return -ENOENT;
	emu_lock(e);
	for (i = 0; i < EMU_FILES && e->files[i]; i++)
		;
	if (i < EMU_FILES)
		e->files[i] = true;
	emu_unlock(e);
	return i < EMU_FILES ? EMU_FD0 + i : -EMFILE;
}

static bool emu_fd_open(const struct i915_emu *e, int fd)
{
	return fd >= EMU_FD0 && fd < EMU_FD0 + EMU_FILES && e->files[fd - EMU_FD0];
}

static int emu_close(void *cookie, int fd)
{
	struct i915_emu *e = cookie;
	int ret = 0;

	emu_lock(e);
	if (emu_fd_open(e, fd))
		e->files[fd - EMU_FD0] = false;
	else
		ret = -EBADF;
	emu_unlock(e);
	return ret;
}

static int emu_ioctl(void *cookie, int fd, unsigned long req, void *arg)
{
	struct i915_emu *e = cookie;
	uint32_t seq = emu_log_begin(&e->log, fd, req, arg);
	int ret;

	emu_lock(e);
	if (!emu_fd_open(e, fd))
		ret = -EBADF;
	else if (!(ret = emu_log_take_fail(&e->log, req)))
		ret = dispatch(e, req, arg);
	emu_unlock(e);
	return emu_log_end(&e->log, seq, arg, ret);
}

static void *emu_mmap(void *cookie, size_t len, int prot, int flags, int fd, off_t offset, int *err)
{
	struct i915_emu *e = cookie;
	struct emu_obj *o;

	(void)prot, (void)fd;
	emu_lock(e);
	o = obj(e, (uint32_t)((uint64_t)offset >> 20));
	if (!o || !(flags & MAP_SHARED) || (uint64_t)offset % (1u << 20) || len > o->size) {
		emu_unlock(e);
		*err = -EINVAL;
		return NULL;
	}
	e->mappings++;
	emu_unlock(e);
	return o->mem;
}

static int emu_munmap(void *cookie, void *addr, size_t len)
{
	struct i915_emu *e = cookie;

	(void)addr, (void)len;
	emu_lock(e);
	e->mappings--;
	emu_unlock(e);
	return 0;
}

static void emu_log(void *cookie, const char *msg)
{
	struct i915_emu *e = cookie;

	emu_lock(e);
	snprintf(e->last_log, sizeof(e->last_log), "%s", msg);
	emu_unlock(e);
}

struct i915_emu *i915_emu_new(const struct i915_emu_config *cfg)
{
	static const struct i915_emu_config def = {
	    .name = "i915", .major = 1, .minor = 6, .softpin = true, .gtt_size = 1ull << 48};
	struct i915_emu *e = calloc(1, sizeof(*e));
	pthread_condattr_t ca;

	if (!e)
		return NULL;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->done, &ca);
	pthread_cond_init(&e->asleep, &ca);
	pthread_condattr_destroy(&ca);
	emu_log_init(&e->log);
	e->cfg = cfg ? *cfg : def;
	e->ctxs[0] = (struct i915_emu_ctx){.live = true, .bannable = true, .recoverable = true};
	e->seam = (struct drm_seam){.cookie = e,
				    .open = emu_open,
				    .ioctl = emu_ioctl,
				    .mmap = emu_mmap,
				    .munmap = emu_munmap,
				    .close = emu_close,
				    .log = emu_log};
	return e;
}

void i915_emu_free(struct i915_emu *e)
{
	int i;

	if (!e)
		return;
	for (i = 0; i <= EMU_OBJS; i++)
		free(e->objs[i].mem);
	for (i = 0; i < EMU_VMS; i++)
		free(e->vms[i]);
	emu_log_fini(&e->log);
	pthread_cond_destroy(&e->asleep);
	pthread_cond_destroy(&e->done);
	pthread_mutex_destroy(&e->lock);
	free(e);
}

struct emu_log *i915_emu_log(struct i915_emu *e)
{
	return &e->log;
}

const struct drm_seam *i915_emu_seam(struct i915_emu *e)
{
	return &e->seam;
}

void i915_emu_set_hold(struct i915_emu *e, bool hold)
{
	emu_lock(e);
	e->cfg.hold_jobs = hold;
	emu_unlock(e);
}

void i915_emu_complete(struct i915_emu *e)
{
	uint32_t i;

	emu_lock(e);
	for (i = 0; i < e->njobs; i++)
		e->jobs[i].done = true;
	pthread_cond_broadcast(&e->done);
	emu_unlock(e);
}

bool i915_emu_complete_next(struct i915_emu *e, uint32_t ctx_id, bool guilty)
{
	uint32_t i;
	bool found = false;

	emu_lock(e);
	for (i = 0; i < e->njobs && !found; i++) {
		if (e->jobs[i].ctx != ctx_id || e->jobs[i].done)
			continue;
		/* the hang is counted by the time the batch shows idle, as after a reset */
		if (guilty && ctx_id < EMU_CTXS)
			e->ctxs[ctx_id].guilty++;
		e->jobs[i].done = true;
		found = true;
	}
	if (found)
		pthread_cond_broadcast(&e->done);
	emu_unlock(e);
	return found;
}

int i915_emu_await_waiters(struct i915_emu *e, int n, uint64_t timeout_ns)
{
	struct timespec dl;
	int ret = 0;

	deadline(&dl, timeout_ns);
	emu_lock(e);
	while (e->waiting < n && ret != ETIMEDOUT)
		ret = pthread_cond_timedwait(&e->asleep, &e->lock, &dl);
	ret = e->waiting >= n ? 0 : -ETIMEDOUT;
	emu_unlock(e);
	return ret;
}

uint32_t i915_emu_vm_ids(const struct i915_emu *e)
{
	uint32_t i, n = 0;

	emu_lock(e);
	for (i = 1; i < EMU_IDS; i++)
		n += e->ids[i] != 0;
	emu_unlock(e);
	return n;
}

uint32_t i915_emu_vm_of_id(const struct i915_emu *e, uint32_t id)
{
	uint32_t vm;

	emu_lock(e);
	vm = id && id < EMU_IDS && e->ids[id] ? e->ids[id] - 1 : ~0u;
	emu_unlock(e);
	return vm;
}

static uint32_t contexts_locked(const struct i915_emu *e)
{
	uint32_t i, n = 0;

	for (i = 1; i < EMU_CTXS; i++)
		n += e->ctxs[i].live;
	return n;
}

uint32_t i915_emu_contexts(const struct i915_emu *e)
{
	uint32_t n;

	emu_lock(e);
	n = contexts_locked(e);
	emu_unlock(e);
	return n;
}

struct i915_emu_ctx *i915_emu_ctx(struct i915_emu *e, uint32_t ctx_id)
{
	struct i915_emu_ctx *c;

	emu_lock(e);
	c = ctx_id < EMU_CTXS && e->ctxs[ctx_id].live ? &e->ctxs[ctx_id] : NULL;
	emu_unlock(e);
	return c;
}

uint32_t i915_emu_objects(const struct i915_emu *e)
{
	uint32_t i, n = 0;

	emu_lock(e);
	for (i = 1; i <= EMU_OBJS; i++)
		n += e->objs[i].live;
	emu_unlock(e);
	return n;
}

uint8_t *i915_emu_mem(const struct i915_emu *e, uint32_t handle)
{
	uint8_t *m;

	emu_lock(e);
	m = handle && handle <= EMU_OBJS && e->objs[handle].live ? e->objs[handle].mem : NULL;
	emu_unlock(e);
	return m;
}

uint64_t i915_emu_bound(const struct i915_emu *e, uint32_t vm, uint32_t handle)
{
	uint64_t a;

	emu_lock(e);
	a = vm < EMU_VMS && e->vms[vm] && handle <= EMU_OBJS ? e->vms[vm]->bound[handle] : 0;
	emu_unlock(e);
	return a;
}

uint32_t i915_emu_last_exec(const struct i915_emu *e, const void **objs)
{
	uint32_t n;

	emu_lock(e);
	*objs = e->exec;
	n = e->nexec;
	emu_unlock(e);
	return n;
}

const char *i915_emu_last_log(const struct i915_emu *e)
{
	return e->last_log; /* a backend logs from its creation, or once per failing wait */
}

int i915_emu_mappings(const struct i915_emu *e)
{
	int n;

	emu_lock(e);
	n = e->mappings;
	emu_unlock(e);
	return n;
}

int i915_emu_open_files(const struct i915_emu *e)
{
	int i, n = 0;

	emu_lock(e);
	for (i = 0; i < EMU_FILES; i++)
		n += e->files[i];
	emu_unlock(e);
	return n;
}

void i915_emu_totals(const struct i915_emu *e, struct i915_emu_totals *t)
{
	uint32_t i, h;

	memset(t, 0, sizeof(*t));
	emu_lock(e);
	for (i = 0; i < EMU_VMS; i++) {
		if (!e->vms[i])
			continue;
		t->vms++;
		for (h = 1; h <= EMU_OBJS; h++)
			t->bound += e->vms[i]->bound[h] != 0;
	}
	t->contexts = contexts_locked(e);
	for (h = 1; h <= EMU_OBJS; h++) {
		if (e->objs[h].live) {
			t->objects++;
			t->bytes += e->objs[h].size;
		}
	}
	emu_unlock(e);
}

uint32_t i915_emu_object_at(const struct i915_emu *e, uint32_t vm, uint64_t iova)
{
	uint32_t h, found = 0;

	emu_lock(e);
	for (h = 1; vm < EMU_VMS && e->vms[vm] && h <= EMU_OBJS && !found; h++) {
		uint64_t a = e->vms[vm]->bound[h];

		if (a && e->objs[h].live && iova >= a && iova - a < e->objs[h].size)
			found = h;
	}
	emu_unlock(e);
	return found;
}

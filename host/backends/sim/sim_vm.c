/* SPDX-License-Identifier: MIT */
/*
 * sim_vm.c - the sim "kernel"'s memory side: per-VM address spaces with msm's SET_IOVA rules
 * (seed 004), sparse bind/unbind, buffers backed by real host pages from their first write
 * (lazy backing), CPU access, and the page-by-page translation the sim GPU uses.
 *
 * The backend keeps its own va_space per VM, independent of the core's: it is the "GPU page
 * table". Every op below re-checks its input as the kernel would (defence in depth); a failed
 * op changes nothing.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "sim_priv.h"

static bool sim_aligned(uint64_t v, uint64_t a)
{
	return (v & (a - 1)) == 0;
}

/* [addr, addr + size) wraps, or is not entirely inside the VA window. */
static bool sim_outside_window(const struct sim_backend *sb, uint64_t addr, uint64_t size)
{
	return addr + size < addr || addr < sb->va_start ||
	       addr + size > sb->va_start + sb->va_size;
}

static bool sim_touches_reserved(const struct sim_backend *sb, uint64_t addr, uint64_t size)
{
	return sb->res_size && addr < sb->res_start + sb->res_size && sb->res_start < addr + size;
}

/* ---- VMs --------------------------------------------------------------------------------- */

int sim_vm_create(struct viova_backend *be, struct viova_be_vm **out)
{
	struct sim_backend *sb = sim_of(be);
	struct viova_va_space_config cfg = {0};
	struct viova_be_vm *vm;
	int ret;

	if (!be || !out)
		return -EINVAL;
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	cfg.start = sb->va_start;
	cfg.range = sb->va_size;
	cfg.reserve_addr = sb->res_start;
	cfg.reserve_range = sb->res_size;
	ret = viova_va_space_create(&cfg, &vm->vs);
	if (!ret)
		ret = viova_va_ops_create(&vm->ops);
	if (ret) {
		viova_va_space_destroy(vm->vs);
		free(vm);
		/* the window was validated at create: only memory can fail here */
		return ret == -ENOMEM ? -ENOMEM : -EINVAL;
	}
	vm->sb = sb;
	vm->refs = 1;
	pthread_mutex_lock(&sb->lock);
	vm->id = ++sb->next_id;
	vm->next = sb->vms;
	if (sb->vms)
		sb->vms->prev = vm;
	sb->vms = vm;
	sb->st.vms++;
	pthread_mutex_unlock(&sb->lock);
	*out = vm;
	return 0;
}

void sim_vm_put(struct sim_backend *sb, struct viova_be_vm *vm)
{
	if (--vm->refs)
		return;
	if (vm->prev)
		vm->prev->next = vm->next;
	else
		sb->vms = vm->next;
	if (vm->next)
		vm->next->prev = vm->prev;
	/* Mappings left behind are dropped with the table; the buffers themselves live on. */
	viova_va_ops_destroy(vm->ops);
	viova_va_space_destroy(vm->vs);
	sb->st.vms--;
	free(vm);
}

/*
 * The core calls this once no context uses vm; a context that still does (a core bug) keeps
 * the VM alive until it is destroyed, so a running job never translates through freed tables.
 */
void sim_vm_destroy(struct viova_backend *be, struct viova_be_vm *vm)
{
	struct sim_backend *sb = sim_of(be);

	if (!be || !vm)
		return;
	pthread_mutex_lock(&sb->lock);
	sim_vm_put(sb, vm);
	pthread_mutex_unlock(&sb->lock);
}

/* ---- buffers ----------------------------------------------------------------------------- */

static int sim_bo_id_alloc(struct sim_backend *sb, uint32_t *id)
{
	if (sb->bo_nfree) {
		*id = sb->bo_free[--sb->bo_nfree];
		return 0;
	}
	if (sb->bo_next == UINT32_MAX)
		return -ENOMEM;
	if (sb->bo_next >= sb->bo_cap) {
		uint32_t cap = sb->bo_cap ? sb->bo_cap * 2 : 64;
		struct viova_be_bo **tab;
		uint32_t *fr;

		if (cap < sb->bo_cap)
			return -ENOMEM;
		tab = realloc(sb->bo_tab, (size_t)cap * sizeof(*tab));
		if (!tab)
			return -ENOMEM;
		sb->bo_tab = tab;
		fr = realloc(sb->bo_free, (size_t)cap * sizeof(*fr));
		if (!fr)
			return -ENOMEM;
		sb->bo_free = fr;
		memset(&sb->bo_tab[sb->bo_cap], 0, (size_t)(cap - sb->bo_cap) * sizeof(*tab));
		sb->bo_cap = cap;
	}
	*id = sb->bo_next++;
	return 0;
}

/*
 * Buffer memory, allocated at a buffer's first write (lazy backing, docs/sim.md "Buffers"):
 * most buffers are closed without ever being written, and a kernel's shmem-backed GEM object
 * also commits its pages only when they are touched. Large buffers get their own anonymous
 * mapping: zero-filled, committed page by page by the host kernel as they are written (so a
 * sparsely written 512 MiB buffer costs only the pages written), returned whole on close.
 * Small ones come from calloc: one mmap per 4 KiB buffer would cost two syscalls per buffer's
 * life and, once neighbours are unmapped, a kernel VMA each (vm.max_map_count is 65530 by
 * default). Nothing needs the bytes to be page aligned: the sim GPU translates to (buffer,
 * offset), never to a host address.
 */
static uint8_t *sim_mem_alloc(uint64_t size)
{
	void *p;

	if (size > SIM_SMALL_BO_SIZE) {
		p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
		return p == MAP_FAILED ? NULL : p;
	}
	return calloc(1, (size_t)size);
}

static void sim_mem_free(uint8_t *p, uint64_t size)
{
	if (size > SIM_SMALL_BO_SIZE)
		munmap(p, (size_t)size);
	else
		free(p);
}

/* The test hook (lock held): true if this backing must fail as if out of memory. */
static bool sim_backing_refused(struct sim_backend *sb)
{
	if (!sb->backing_fail)
		return false;
	if (sb->backing_fail != UINT32_MAX)
		sb->backing_fail--;
	return true;
}

/* Lock held, bo not in sb->access[]: the only place bo->mem is set. */
static int sim_bo_publish(struct sim_backend *sb, struct viova_be_bo *bo, uint8_t *p)
{
	if (bo->mem) {
		/* lost the race to another first write: theirs is the backing, ours goes */
		if (p) {
			sim_mem_free(p, bo->size);
			sb->st.backing_lost++;
		}
		return 0;
	}
	if (!p) {
		sb->st.backing_failures++;
		return -ENOMEM;
	}
	bo->mem = p;
	sb->st.bos_backed++;
	sb->st.bytes_backed += bo->size;
	return 0;
}

int sim_bo_back_gpu(struct sim_backend *sb, struct viova_be_bo *bo, struct viova_be_bo *other)
{
	uint8_t *p;

	if (sim_backing_refused(sb)) {
		sb->st.backing_failures++;
		return -ENOMEM;
	}
	/* Like a page move: the buffers stay alive and the CPU keeps off them meanwhile. */
	sb->access[0] = bo;
	sb->access[1] = other;
	pthread_mutex_unlock(&sb->lock);
	p = sim_mem_alloc(bo->size);
	pthread_mutex_lock(&sb->lock);
	sb->access[0] = sb->access[1] = NULL;
	if (sb->access_waiters)
		pthread_cond_broadcast(&sb->done_cv);
	return sim_bo_publish(sb, bo, p);
}

int sim_bo_back_cpu(struct sim_backend *sb, struct viova_be_bo *bo)
{
	void (*window)(void *) = sb->backing_window;
	void *window_arg = sb->backing_window_arg;
	uint8_t *p;

	if (sim_backing_refused(sb)) {
		sb->st.backing_failures++;
		return -ENOMEM;
	}
	/*
	 * Unlocked: a large mmap must not hold up the worker. The worker may back bo meanwhile
	 * (a job writing it); sim_bo_publish then frees ours.
	 */
	pthread_mutex_unlock(&sb->lock);
	p = sim_mem_alloc(bo->size);
	if (window)
		window(window_arg);
	pthread_mutex_lock(&sb->lock);
	sim_bo_wait_access(sb, bo);
	return sim_bo_publish(sb, bo, p);
}

int sim_bo_create(struct viova_backend *be, struct viova_be_vm *home, uint64_t size, uint32_t flags,
		  struct viova_be_bo **out)
{
	struct sim_backend *sb = sim_of(be);
	struct viova_be_bo *bo;
	int ret;

	if (!be || !home || !out || home->sb != sb)
		return -EINVAL;
	if (!size || !sim_aligned(size, SIM_PAGE_SIZE))
		return -EINVAL;
#if SIZE_MAX < UINT64_MAX
	if (size > SIZE_MAX)
		return -ENOMEM;
#endif
	if (flags & ~VIOVA_GEM_FLAGS_ALL)
		return -EINVAL;
	if ((flags & VIOVA_GEM_CACHED_COHERENT) && (flags & VIOVA_GEM_UNCACHED))
		return -EINVAL;
	bo = calloc(1, sizeof(*bo));
	if (!bo)
		return -ENOMEM;
	bo->sb = sb;
	bo->size = size;
	bo->flags = flags;

	/*
	 * The whole size is charged now, though the memory comes at the first write: the budget
	 * bounds what the buffers may come to hold, so a write can only fail when the host itself
	 * is out of memory, never because other buffers were written first.
	 */
	pthread_mutex_lock(&sb->lock);
	if (size > sb->max_bytes - sb->bytes) {
		ret = -ENOMEM;
		goto err_unlock;
	}
	ret = sim_bo_id_alloc(sb, &bo->id);
	if (ret)
		goto err_unlock;
	sb->bytes += size;
	sb->bo_tab[bo->id] = bo;
	sb->st.bos++;
	pthread_mutex_unlock(&sb->lock);
	*out = bo;
	return 0;

err_unlock:
	pthread_mutex_unlock(&sb->lock);
	free(bo);
	return ret;
}

void sim_bo_wait_access(struct sim_backend *sb, const struct viova_be_bo *bo)
{
	while (sb->access[0] == bo || sb->access[1] == bo) {
		sb->access_waiters++;
		pthread_cond_wait(&sb->done_cv, &sb->lock);
		sb->access_waiters--;
	}
}

/* Remove every mapping of id from vs without allocating (teardown cannot fail). */
/* Every mapping of buffer id in vs: one hash probe, then unlinks by node (no tree descent). */
static void sim_vs_drop_obj(struct viova_va_space *vs, uint32_t id)
{
	viova_va_space_obj_remove_all(vs, id);
}

void sim_bo_teardown(struct sim_backend *sb, struct viova_be_bo *bo)
{
	struct viova_be_vm *vm;

	sim_bo_wait_access(sb, bo);
	for (vm = sb->vms; vm; vm = vm->next)
		sim_vs_drop_obj(vm->vs, bo->id);
	if (bo->mem) {
		sim_mem_free(bo->mem, bo->size);
		sb->st.bos_backed--;
		sb->st.bytes_backed -= bo->size;
	}
	sb->bytes -= bo->size;
	sb->bo_tab[bo->id] = NULL;
	sb->bo_free[sb->bo_nfree++] = bo->id;
	sb->st.bos--;
	free(bo);
}

/*
 * The core closes a buffer only after its mappings are gone and no job uses it. If a queued
 * job still lists it anyway, the job keeps it (mapped, memory alive) like a kernel submit holds
 * a GEM reference, and the last retire frees it.
 */
void sim_bo_close(struct viova_backend *be, struct viova_be_bo *bo)
{
	struct sim_backend *sb = sim_of(be);

	if (!be || !bo)
		return;
	pthread_mutex_lock(&sb->lock);
	if (bo->busy)
		bo->closed = true;
	else
		sim_bo_teardown(sb, bo);
	pthread_mutex_unlock(&sb->lock);
}

/* ---- SET_IOVA ---------------------------------------------------------------------------- */

/*
 * msm SET_IOVA (seed 004), checked in this order:
 *
 *   iova == 0        clear: the SET_IOVA mapping of bo in vm goes, with any remnants of it that
 *                    binds split off; pieces made by VM_BIND stay (a kernel's clear removes only
 *                    that vma); -EBUSY while a job lists bo
 *   misaligned       -EINVAL  (page size / min_alignment)
 *   outside window   -EINVAL  (or wraps)
 *   bo mapped in vm  0 if it is exactly this mapping again (whole buffer at iova), else -EBUSY
 *   reserved / used  -ENOSPC  (the range is not free: kernel-reserved or another mapping)
 *
 * Unlike msm, a mismatched iova does not also drop the old mapping: a failed op changes
 * nothing, and the core keeps its own table in step with ours.
 */
/* The SET_IOVA mapping of buffer id in vs, if any: 0 or -ENOENT. */
static int sim_find_whole(struct viova_va_space *vs, uint32_t id, struct viova_va_mapping *m)
{
	struct viova_va_iter it;

	if (!viova_va_space_obj_mapped(vs, id))
		return -ENOENT;
	viova_va_space_iter_obj(vs, &it, id);
	while (viova_va_iter_next(&it, m))
		if (m->flags & SIM_MAP_WHOLE)
			return 0;
	return -ENOENT;
}

int sim_bo_set_iova(struct viova_backend *be, struct viova_be_vm *vm, struct viova_be_bo *bo,
		    uint64_t iova)
{
	struct sim_backend *sb = sim_of(be);
	struct viova_va_mapping m = {0};
	int ret = 0;

	if (!be || !vm || !bo || vm->sb != sb || bo->sb != sb || bo->closed)
		return -EINVAL;
	pthread_mutex_lock(&sb->lock);
	if (!iova) {
		if (sim_find_whole(vm->vs, bo->id, &m))
			goto out; /* nothing to clear */
		if (bo->busy) {
			ret = -EBUSY;
			goto out;
		}
		/* the SET_IOVA mapping, or what is left of it after binds split it */
		do
			viova_va_space_obj_remove(vm->vs, bo->id, m.addr, m.range, NULL);
		while (sim_find_whole(vm->vs, bo->id, &m) == 0);
		goto out;
	}
	if (!sim_aligned(iova, SIM_PAGE_SIZE) || !sim_aligned(iova, SIM_MIN_ALIGNMENT) ||
	    sim_outside_window(sb, iova, bo->size)) {
		ret = -EINVAL;
		goto out;
	}
	if (viova_va_space_obj_mapped(vm->vs, bo->id)) {
		if (sim_find_whole(vm->vs, bo->id, &m) == 0 && m.addr == iova)
			goto out;
		ret = -EBUSY;
		goto out;
	}
	/*
	 * One descent checks and inserts. Window and alignment passed above, so what the space
	 * can still refuse is "not free": -EACCES (kernel-reserved), -EEXIST (another mapping),
	 * -ENOSPC (mapping quota). All are msm's -ENOSPC.
	 */
	m.addr = iova;
	m.range = bo->size;
	m.obj = bo->id;
	m.flags = SIM_MAP_WHOLE;
	ret = viova_va_space_insert(vm->vs, &m, NULL);
	if (ret && ret != -ENOMEM)
		ret = -ENOSPC;
out:
	pthread_mutex_unlock(&sb->lock);
	return ret;
}

/* ---- sparse bind ------------------------------------------------------------------------- */

/* drm_gpuvm-style range check shared by bind and unbind: -EINVAL for any violation. */
static int sim_check_bind_range(const struct sim_backend *sb, uint64_t addr, uint64_t range)
{
	if (!range || !sim_aligned(addr, SIM_PAGE_SIZE) || !sim_aligned(range, SIM_PAGE_SIZE))
		return -EINVAL;
	if (sim_outside_window(sb, addr, range) || sim_touches_reserved(sb, addr, range))
		return -EINVAL;
	return 0;
}

int sim_bind(struct viova_backend *be, struct viova_be_vm *vm, struct viova_be_bo *bo,
	     uint64_t addr, uint64_t range, uint64_t bo_offset, uint32_t flags)
{
	struct sim_backend *sb = sim_of(be);
	struct viova_va_mapping m = {0};
	int ret;

	if (!be || !vm || !bo || vm->sb != sb || bo->sb != sb || bo->closed)
		return -EINVAL;
	if (flags & ~VIOVA_BIND_FLAGS_ALL)
		return -EINVAL;
	ret = sim_check_bind_range(sb, addr, range);
	if (ret)
		return ret;
	if (!sim_aligned(bo_offset, SIM_PAGE_SIZE) || bo_offset > bo->size ||
	    range > bo->size - bo_offset)
		return -EINVAL;
	m.addr = addr;
	m.range = range;
	m.obj = bo->id;
	m.offset = bo_offset;
	m.flags = (flags & VIOVA_BIND_READONLY) ? SIM_MAP_READONLY : 0;

	pthread_mutex_lock(&sb->lock);
	ret = viova_va_space_sm_map(vm->vs, &m, vm->ops, NULL);
	if (!ret)
		ret = viova_va_space_apply(vm->vs, vm->ops);
	else if (ret != -ENOMEM)
		ret = -ENOSPC; /* mapping quota: the range checks above already passed */
	viova_va_ops_reset(vm->ops);
	pthread_mutex_unlock(&sb->lock);
	return ret;
}

int sim_unbind(struct viova_backend *be, struct viova_be_vm *vm, uint64_t addr, uint64_t range)
{
	struct sim_backend *sb = sim_of(be);
	int ret;

	if (!be || !vm || vm->sb != sb)
		return -EINVAL;
	ret = sim_check_bind_range(sb, addr, range);
	if (ret)
		return ret;
	pthread_mutex_lock(&sb->lock);
	ret = viova_va_space_sm_unmap(vm->vs, addr, range, vm->ops, NULL);
	if (!ret)
		ret = viova_va_space_apply(vm->vs, vm->ops);
	else if (ret != -ENOMEM)
		ret = -ENOSPC; /* splitting would exceed the mapping quota */
	viova_va_ops_reset(vm->ops);
	pthread_mutex_unlock(&sb->lock);
	return ret;
}

/* ---- CPU access -------------------------------------------------------------------------- */

static int sim_bo_access_check(struct sim_backend *sb, const struct viova_be_bo *bo,
			       uint64_t offset, const void *data, uint64_t size)
{
	if (!sb || !bo || bo->sb != sb || bo->closed)
		return -EINVAL;
	if (offset > bo->size || size > bo->size - offset)
		return -EINVAL;
	if (size && !data)
		return -EINVAL;
	return 0;
}

int sim_bo_write(struct viova_backend *be, struct viova_be_bo *bo, uint64_t offset,
		 const void *data, uint64_t size)
{
	struct sim_backend *sb = sim_of(be);
	int ret = sim_bo_access_check(sb, bo, offset, data, size);

	if (ret || !size)
		return ret;
	pthread_mutex_lock(&sb->lock);
	/* The worker may be filling this buffer outside the lock: let that page finish. */
	sim_bo_wait_access(sb, bo);
	if (!bo->mem) {
		ret = sim_bo_back_cpu(sb, bo);
		if (ret) {
			pthread_mutex_unlock(&sb->lock);
			return ret;
		}
	}
	memcpy(bo->mem + offset, data, (size_t)size);
	pthread_mutex_unlock(&sb->lock);
	return 0;
}

int sim_bo_read(struct viova_backend *be, struct viova_be_bo *bo, uint64_t offset, void *data,
		uint64_t size)
{
	struct sim_backend *sb = sim_of(be);
	int ret = sim_bo_access_check(sb, bo, offset, data, size);

	if (ret || !size)
		return ret;
	pthread_mutex_lock(&sb->lock);
	sim_bo_wait_access(sb, bo);
	if (bo->mem)
		memcpy(data, bo->mem + offset, (size_t)size);
	else
		memset(data, 0, (size_t)size); /* never written: zeros, and still no backing */
	pthread_mutex_unlock(&sb->lock);
	return 0;
}

/* ---- translation ------------------------------------------------------------------------- */

int sim_vm_translate(struct sim_backend *sb, struct viova_be_vm *vm, uint64_t iova, uint64_t want,
		     bool write, struct viova_be_bo **bo, uint64_t *off, uint64_t *run)
{
	struct viova_va_mapping m;
	struct viova_be_bo *b;
	uint64_t in_page = SIM_PAGE_SIZE - (iova & (SIM_PAGE_SIZE - 1));

	/* Mappings are page granular, so one lookup covers the rest of this page. */
	if (viova_va_space_find_first(vm->vs, iova, 1, &m))
		return -EFAULT;
	if (m.obj >= sb->bo_next || !(b = sb->bo_tab[m.obj]))
		return -EFAULT;
	if (write && ((m.flags & SIM_MAP_READONLY) || (b->flags & VIOVA_GEM_GPU_READONLY)))
		return -EFAULT;
	*bo = b;
	*off = m.offset + (iova - m.addr);
	*run = want < in_page ? want : in_page;
	return 0;
}

/* ---- debug hooks ------------------------------------------------------------------------- */

uint32_t sim_debug_vm_count(struct viova_backend *be, struct viova_be_vm *vm)
{
	struct sim_backend *sb = sim_of(be);
	uint32_t n;

	pthread_mutex_lock(&sb->lock);
	n = viova_va_space_count(vm->vs);
	pthread_mutex_unlock(&sb->lock);
	return n;
}

int sim_debug_vm_find(struct viova_backend *be, struct viova_be_vm *vm, uint64_t iova,
		      struct sim_debug_mapping *out)
{
	struct sim_backend *sb = sim_of(be);
	struct viova_va_mapping m;
	int ret;

	pthread_mutex_lock(&sb->lock);
	ret = viova_va_space_find_first(vm->vs, iova, 1, &m);
	if (!ret) {
		out->addr = m.addr;
		out->range = m.range;
		out->bo = m.obj < sb->bo_next ? sb->bo_tab[m.obj] : NULL;
		out->bo_offset = m.offset;
		out->readonly = (m.flags & SIM_MAP_READONLY) != 0;
	}
	pthread_mutex_unlock(&sb->lock);
	return ret;
}

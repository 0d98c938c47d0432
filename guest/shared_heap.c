/* SPDX-License-Identifier: MIT */
/*
 * shared_heap.c - memory shared by forked processes, its robust locks, and a VM's iova heap.
 *
 * DOC: a VM heap that forked processes share
 *
 *   memfd "viova-vm-<id>" (MAP_SHARED, inherited by fork)
 *   +--------------------------+-----------------------------------------------------+
 *   | guest_heap_shared (4 KiB)| common/vma region, in-place mode (offsets and u32   |
 *   | robust pshared mutex,    | indices only, so it means the same in every process)|
 *   | broken flag, recoveries  |                                                     |
 *   +--------------------------+-----------------------------------------------------+
 *
 * Every vma call runs under the robust mutex; the vma wrapper's own (process-local) mutex is
 * then never contended. When a process dies holding the mutex, the next locker gets
 * EOWNERDEAD: it marks the mutex consistent and runs viova_vma_check over the whole heap. The
 * dead process may have been anywhere, including in the middle of an AVL rotation; if the
 * check passes the heap is used as it is (at worst the dead process's own allocations stay
 * allocated: nobody else knows it no longer needs them). If the check fails, the heap is
 * marked broken and every later allocation fails with -EUCLEAN: repairing a half-rotated tree
 * by guessing would risk handing out a range twice, which is the one thing an iova allocator
 * must never do.
 *
 * Why a robust pthread mutex and not a hand-written futex lock: glibc's robust list is the
 * kernel-supported way to learn that a holder died (the kernel walks the dead thread's list
 * and sets FUTEX_OWNER_DIED); a lock of our own would need a pid check and a timeout, and a
 * recycled pid would make it guess.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest_priv.h"

#define HEAP_HDR_SIZE 4096u

int guest_shm_create(const char *name, size_t size, void **map)
{
	int fd, ret;
	void *p;

	fd = memfd_create(name, MFD_CLOEXEC);
	if (fd < 0)
		return guest_err(-errno, "memfd_create(%s): %s", name, strerror(errno));
	if (ftruncate(fd, (off_t)size) < 0) {
		ret = -errno;
		close(fd);
		return guest_err(ret, "ftruncate(%s, %zu): %s", name, size, strerror(-ret));
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ret = -errno;
	/* The mapping keeps the memory; forked children inherit the mapping, not the fd. */
	close(fd);
	if (p == MAP_FAILED)
		return guest_err(ret, "mmap(%s, %zu bytes): %s", name, size, strerror(-ret));
	*map = p;
	return 0;
}

int guest_shlock_init(pthread_mutex_t *m)
{
	pthread_mutexattr_t a;
	int ret;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	ret = pthread_mutex_init(m, &a);
	pthread_mutexattr_destroy(&a);
	return -ret;
}

int guest_shlock(pthread_mutex_t *m, bool *recovered)
{
	int ret = pthread_mutex_lock(m);

	if (recovered)
		*recovered = false;
	if (ret == EOWNERDEAD) {
		pthread_mutex_consistent(m);
		if (recovered)
			*recovered = true;
		return 0;
	}
	return -ret;
}

void guest_shunlock(pthread_mutex_t *m)
{
	pthread_mutex_unlock(m);
}

static enum viova_vma_strategy vma_strategy(uint32_t s, enum viova_vma_type *type)
{
	*type = VIOVA_VMA_SIMPLE;
	switch (s) {
	case VIOVA_GUEST_VMA_LOW_TO_HIGH:
		return VIOVA_VMA_LOW_TO_HIGH;
	case VIOVA_GUEST_VMA_BEST_FIT:
		return VIOVA_VMA_BEST_FIT;
	case VIOVA_GUEST_VMA_RANDOM:
		*type = VIOVA_VMA_RANDOM;
		return VIOVA_VMA_STRATEGY_DEFAULT;
	default:
		return VIOVA_VMA_HIGH_TO_LOW;
	}
}

int guest_heap_create(struct guest_heap *heap, const struct viova_capset *caps, uint32_t strategy,
		      uint64_t seed, uint32_t max_ranges, uint32_t vm_id)
{
	struct viova_vma_config cfg = {0};
	struct guest_heap_shared *sh;
	size_t bytes, total;
	char name[32];
	void *map;
	int ret;

	cfg.start = caps->va_start;
	cfg.end = caps->va_start + caps->va_size;
	cfg.strategy = vma_strategy(strategy, &cfg.type);
	cfg.default_align = caps->min_alignment ? caps->min_alignment : VIOVA_VMA_DEFAULT_ALIGN;
	cfg.seed = strategy == VIOVA_GUEST_VMA_RANDOM ? seed : 0;
	/* +1: the kernel-reserved region is a reservation too. */
	ret = viova_vma_in_place_size(&cfg, max_ranges + 1, &bytes);
	if (ret)
		return guest_err(ret,
				 "VM %" PRIu32 ": heap for %" PRIu32 " ranges over [0x%" PRIx64
				 ", 0x%" PRIx64 "): %s",
				 vm_id, max_ranges, cfg.start, cfg.end, strerror(-ret));
	total = HEAP_HDR_SIZE + ((bytes + 4095) & ~(size_t)4095);
	snprintf(name, sizeof(name), "viova-vm-%" PRIu32, vm_id);
	ret = guest_shm_create(name, total, &map);
	if (ret)
		return ret;
	sh = map;
	ret = guest_shlock_init(&sh->lock);
	if (ret == 0)
		ret = viova_vma_init_in_place((uint8_t *)map + HEAP_HDR_SIZE, total - HEAP_HDR_SIZE,
					      &cfg, &heap->vma);
	if (ret == 0 && caps->reserved_size && caps->reserved_start >= cfg.start &&
	    caps->reserved_start < cfg.end) {
		uint64_t rsize = caps->reserved_size;

		if (rsize > cfg.end - caps->reserved_start)
			rsize = cfg.end - caps->reserved_start;
		ret =
		    viova_vma_reserve(heap->vma, VIOVA_VMA_NO_HANDLE, caps->reserved_start, rsize);
	}
	if (ret) {
		if (heap->vma)
			viova_vma_destroy(heap->vma);
		heap->vma = NULL;
		munmap(map, total);
		return guest_err(ret, "VM %" PRIu32 ": cannot set up its iova heap (%s)", vm_id,
				 strerror(-ret));
	}
	sh->heap_off = HEAP_HDR_SIZE;
	sh->heap_bytes = total - HEAP_HDR_SIZE;
	sh->strategy = strategy;
	sh->seed = cfg.seed;
	__atomic_store_n(&sh->magic, GUEST_HEAP_MAGIC, __ATOMIC_RELEASE);
	heap->map = map;
	heap->map_size = total;
	heap->sh = sh;
	return 0;
}

void guest_heap_unmap(struct guest_heap *heap)
{
	if (heap->vma)
		viova_vma_destroy(heap->vma); /* in-place: frees the wrapper only */
	if (heap->map)
		munmap(heap->map, heap->map_size);
	memset(heap, 0, sizeof(*heap));
}

int guest_heap_lock(struct guest_heap *heap, struct viova_guest_device *dev)
{
	bool recovered;
	char why[160];
	int ret;

	ret = guest_shlock(&heap->sh->lock, &recovered);
	if (ret)
		return guest_err(ret, "VM heap lock failed (%s): the heap is unusable",
				 strerror(-ret));
	if (recovered) {
		__atomic_add_fetch(&heap->sh->recoveries, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&dev->sh->lock_recoveries, 1, __ATOMIC_RELAXED);
		why[0] = '\0';
		if (!heap->sh->broken && viova_vma_check(heap->vma, why, sizeof(why)) != 0) {
			heap->sh->broken = 1;
			fprintf(
			    stderr,
			    "viova-guest: a process died inside the iova allocator and left the "
			    "heap inconsistent (%s); the VM's heap is marked broken\n",
			    why);
		}
	}
	if (heap->sh->broken) {
		guest_shunlock(&heap->sh->lock);
		return guest_err(-EUCLEAN,
				 "the VM's iova heap is broken (a process died while changing it "
				 "and the check failed): destroy the contexts using this VM and "
				 "create a new one");
	}
	return 0;
}

void guest_heap_unlock(struct guest_heap *heap)
{
	guest_shunlock(&heap->sh->lock);
}

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
 *   | broken flag, recoveries  +-----------------------------------------------------+
 *   |                          | owner index: handle -> owner tag of the process     |
 *   |                          | that allocated the range (orphan reaping, reap.c)   |
 *   +--------------------------+-----------------------------------------------------+
 *
 * Every vma call runs under the robust mutex; the vma wrapper's own (process-local) mutex is
 * then never contended. When a process dies holding the mutex, the next locker gets
 * EOWNERDEAD: it marks the mutex consistent and runs viova_vma_check over the whole heap. The
 * dead process may have been anywhere, including in the middle of an AVL rotation; if the
 * check passes the heap is used as it is (the dead process's own allocations stay allocated
 * until a survivor reaps them, reap.c, after the host dropped its contexts). If the check
 * fails, the heap is
 * marked broken and every later allocation fails with -EUCLEAN: repairing a half-rotated tree
 * by guessing would risk handing out a range twice, which is the one thing an iova allocator
 * must never do. A recovered heap that passes gets its owner index rebuilt: entries whose
 * handle holds no range, and duplicates a half-done removal left, are dropped (a lost entry
 * only means that range is never reaped: leaking is safe, handing out twice is not).
 *
 * Why a robust pthread mutex and not a hand-written futex lock: glibc's robust list is the
 * kernel-supported way to learn that a holder died (the kernel walks the dead thread's list
 * and sets FUTEX_OWNER_DIED); a lock of our own would need a pid check and a timeout, and a
 * recycled pid would make it guess.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest_priv.h"

#define HEAP_HDR_SIZE 4096u
#define OTAB_HANDLE(e) ((uint32_t)((e) >> 32))
#define OTAB_TAG(e) ((uint32_t)(e))
#define OTAB_TOMB UINT64_MAX /* a deleted entry: lookups probe past it, inserts reuse it */
#define OTAB_LIVE(e) ((e) != 0 && (e) != OTAB_TOMB)

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
	uint32_t bits;
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
	bytes = (bytes + 4095) & ~(size_t)4095;
	/* owner index: at most 2/3 full with every range of the heap live */
	for (bits = 4; ((uint64_t)1 << bits) < ((uint64_t)max_ranges + 1) * 3 / 2 + 1; bits++)
		;
	total = HEAP_HDR_SIZE + bytes + (((sizeof(uint64_t) << bits) + 4095) & ~(size_t)4095);
	snprintf(name, sizeof(name), "viova-vm-%" PRIu32, vm_id);
	ret = guest_shm_create(name, total, &map);
	if (ret)
		return ret;
	sh = map;
	ret = guest_shlock_init(&sh->lock);
	if (ret == 0)
		ret = viova_vma_init_in_place((uint8_t *)map + HEAP_HDR_SIZE, bytes, &cfg,
					      &heap->vma);
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
	sh->heap_bytes = bytes;
	sh->otab_off = HEAP_HDR_SIZE + bytes;
	sh->otab_bits = bits;
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

/* ---- owner index ---- */

static uint64_t *otab(const struct guest_heap *heap)
{
	return (uint64_t *)((uint8_t *)heap->map + heap->sh->otab_off);
}

static uint32_t otab_mask(const struct guest_heap *heap)
{
	return (1u << heap->sh->otab_bits) - 1;
}

/*
 * Home slot: the handle itself. Handles are ids this library hands out (buffer ids, mostly
 * consecutive), so consecutive allocations write consecutive entries: a scattering hash put
 * every bo_create on a cold cache line and page of the index (+190 ns per buffer measured).
 * Deletion leaves a tombstone: backward-shift deletion would walk the whole run of consecutive
 * handles on every free, and such runs are the normal case here.
 */
static uint32_t otab_home(const struct guest_heap *heap, uint32_t handle)
{
	return handle & otab_mask(heap);
}

/* Index of handle's entry, or -1. */
static int64_t otab_find(const struct guest_heap *heap, uint32_t handle)
{
	const uint64_t *t = otab(heap);
	uint32_t mask = otab_mask(heap), i = otab_home(heap, handle), n;

	for (n = 0; n <= mask; n++, i = (i + 1) & mask) {
		uint64_t e = __atomic_load_n(&t[i], __ATOMIC_RELAXED);

		if (!e)
			return -1;
		if (e != OTAB_TOMB && OTAB_HANDLE(e) == handle)
			return i;
	}
	return -1;
}

static void otab_rebuild(struct guest_heap *heap);

void guest_heap_own(struct guest_heap *heap, uint32_t handle, uint32_t tag)
{
	uint64_t *t = otab(heap), v = (uint64_t)handle << 32 | tag;
	uint32_t mask = otab_mask(heap), i = otab_home(heap, handle), n;
	int64_t reuse = -1;

	if (!tag || v == OTAB_TOMB) {
		guest_heap_disown(heap, handle); /* no owner known: never reaped */
		return;
	}
	/* One 64-bit store: a process dying here leaves either no entry or a whole one. */
	for (n = 0; n <= mask; n++, i = (i + 1) & mask) {
		uint64_t e = __atomic_load_n(&t[i], __ATOMIC_RELAXED);

		if (e == OTAB_TOMB) {
			if (reuse < 0)
				reuse = i;
			continue;
		}
		if (e && OTAB_HANDLE(e) != handle)
			continue;
		if (!e && reuse >= 0) {
			i = (uint32_t)reuse;
			heap->sh->otab_tombs--;
		}
		__atomic_store_n(&t[i], v, __ATOMIC_RELAXED);
		return;
	}
}

void guest_heap_disown(struct guest_heap *heap, uint32_t handle)
{
	int64_t at = otab_find(heap, handle);

	if (at < 0)
		return;
	__atomic_store_n(&otab(heap)[at], OTAB_TOMB, __ATOMIC_RELAXED);
	/* Tombstones lengthen probes: past a quarter of the index, rebuild it without them. */
	if (++heap->sh->otab_tombs > (otab_mask(heap) + 1) / 4)
		otab_rebuild(heap);
}

uint32_t guest_heap_owner(const struct guest_heap *heap, uint32_t handle)
{
	int64_t at = otab_find(heap, handle);

	return at < 0 ? 0 : OTAB_TAG(otab(heap)[at]);
}

/* After a recovery, or when tombstones pile up: keep one entry per handle that holds a range. */
static void otab_rebuild(struct guest_heap *heap)
{
	uint32_t n = 0, size = otab_mask(heap) + 1, i;
	uint64_t *t = otab(heap), *keep;

	keep = malloc(sizeof(*keep) * size);
	for (i = 0; keep && i < size; i++) {
		if (OTAB_LIVE(t[i]) &&
		    viova_vma_lookup(heap->vma, OTAB_HANDLE(t[i]), NULL, NULL) == 0)
			keep[n++] = t[i];
	}
	memset(t, 0, sizeof(*t) * size);
	heap->sh->otab_tombs = 0;
	for (i = 0; i < n; i++)
		guest_heap_own(heap, OTAB_HANDLE(keep[i]), OTAB_TAG(keep[i]));
	if (!keep)
		fprintf(stderr, "viova-guest: out of memory rebuilding a recovered heap's owner "
				"index: its ranges will not be reaped\n");
	free(keep);
}

uint32_t guest_heap_reap(struct guest_heap *heap, bool (*gone)(void *arg, uint32_t tag), void *arg)
{
	struct viova_vma_range r;
	uint64_t from, end;
	uint32_t n = 0, tag;

	viova_vma_address_range(heap->vma, &from, &end);
	while (viova_vma_next_range(heap->vma, from, &r) == 0) {
		from = r.offset + r.size;
		if (r.kind != VIOVA_VMA_RANGE_ALLOCATED)
			continue;
		tag = guest_heap_owner(heap, r.handle);
		if (!tag || !gone(arg, tag))
			continue;
		if (viova_vma_free(heap->vma, r.handle) == 0)
			n++;
		guest_heap_disown(heap, r.handle);
	}
	return n;
}

int guest_heap_check_owners(struct guest_heap *heap, char *why, size_t len)
{
	uint32_t size = otab_mask(heap) + 1, i, tombs = 0;
	const uint64_t *t = otab(heap);

	for (i = 0; i < size; i++) {
		uint32_t h = OTAB_HANDLE(t[i]);

		tombs += t[i] == OTAB_TOMB;
		if (!OTAB_LIVE(t[i]))
			continue;
		if (viova_vma_lookup(heap->vma, h, NULL, NULL) != 0) {
			snprintf(why, len,
				 "owner index slot %" PRIu32 ": handle %" PRIu32 " holds no range",
				 i, h);
			return -EUCLEAN;
		}
		if (otab_find(heap, h) != (int64_t)i) {
			snprintf(why, len,
				 "owner index slot %" PRIu32 ": handle %" PRIu32
				 " is unreachable from its home slot or duplicated",
				 i, h);
			return -EUCLEAN;
		}
	}
	if (tombs != heap->sh->otab_tombs) {
		snprintf(why, len, "owner index: %" PRIu32 " deleted entries, the count says %" PRIu32,
			 tombs, heap->sh->otab_tombs);
		return -EUCLEAN;
	}
	return 0;
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
		} else if (!heap->sh->broken) {
			otab_rebuild(heap);
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

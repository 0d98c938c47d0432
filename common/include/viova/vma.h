/* SPDX-License-Identifier: MIT */
/*
 * viova/vma.h - the iova range allocator ("vma heap"), guest-side core of viova.
 *
 * A heap hands out ranges of a 64-bit address space [start, end) to objects named by a caller's
 * u32 handle, so that a guest can choose GPU virtual addresses locally, without asking the host.
 *
 *   - alloc / free / reserve are O(log n) even when the heap is badly fragmented: the heap keeps
 *     one address-ordered AVL tree with a node per used range that also carries the hole after
 *     it (plus one head node for the hole at the start; together they tile [start, end)), each
 *     node augmented with (an upper bound of) the largest hole in its subtree and, for eight
 *     alignments, of the most bytes a hole offers after alignment; plus a size-ordered tree of
 *     holes for BEST_FIT
 *     (docs/allocator.md has the diagram, the costs and the figures).
 *   - All heap state lives in one region reachable from its header by offsets and u32 indices;
 *     nothing in it is a pointer. The region is either owned and growable (viova_vma_create) or
 *     a fixed buffer supplied by the caller (viova_vma_init_in_place), e.g. shared memory.
 *   - Every public function takes the heap's mutex, so one heap may be used by many threads.
 *
 * Errors: functions that can fail return 0 or a negative errno; results travel through
 * out-parameters and are written only on success. An address is never used as an error value.
 *
 * The instance registry at the end of this header gives seed-style refcounted access per
 * (device, context) or (device, VM): open / open_as / close.
 */
#ifndef VIOVA_VMA_H
#define VIOVA_VMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Tag for a reservation that belongs to no object. Never a valid allocation handle. */
#define VIOVA_VMA_NO_HANDLE UINT32_MAX

/* Alignment used when a heap's config leaves default_align at 0: the GPU page size. */
#define VIOVA_VMA_DEFAULT_ALIGN 4096ull

/* Largest alignment a request may ask for (2^47, half of a 48-bit GPU address space). */
#define VIOVA_VMA_MAX_ALIGN (1ull << 47)

/* Kinds of heap. */
enum viova_vma_type {
	/* Tree-based allocator; where it places a range is chosen by the strategy. */
	VIOVA_VMA_SIMPLE = 0,
	/*
	 * Bump pointer ("next fit"): each allocation takes the lowest fitting offset at or above a
	 * cursor, and the cursor moves to the end of that allocation. When nothing fits between the
	 * cursor and the end of the heap, the search wraps once: it takes the lowest fitting offset
	 * from the start of the heap, stepping over every live allocation and reservation, and the
	 * cursor continues after it. If nothing fits anywhere, -ENOSPC. It never returns a range
	 * that overlaps a live one (IGT's RELOC does after a wrap).
	 */
	VIOVA_VMA_RELOC = 1,
	/*
	 * Seeded random placement: draws a point p = start + (splitmix64(state) % (end - start)),
	 * state starting at cfg.seed (splitmix64 as published by Vigna: state +=
	 * 0x9e3779b97f4a7c15, then the two xor-shift-multiply rounds), and takes the lowest fitting
	 * offset at or above p, wrapping to the lowest fitting offset of the heap when nothing fits
	 * above p. The same seed and the same sequence of calls give the same addresses. Never
	 * overlapping (IGT's RANDOM may overlap).
	 */
	VIOVA_VMA_RANDOM = 2,
};

/* Placement policies of a SIMPLE heap. RELOC and RANDOM heaps take only _DEFAULT. */
enum viova_vma_strategy {
	/* HIGH_TO_LOW for SIMPLE: high addresses exercise bit 47 and canonical forms early. */
	VIOVA_VMA_STRATEGY_DEFAULT = 0,
	/* First fit from the bottom: the lowest offset where the request fits. */
	VIOVA_VMA_LOW_TO_HIGH = 1,
	/* First fit from the top: the highest offset where the request fits. */
	VIOVA_VMA_HIGH_TO_LOW = 2,
	/*
	 * The smallest hole in which the request fits (ties: the lowest hole), at the lowest
	 * fitting offset inside it. Keeps large holes intact for large requests.
	 */
	VIOVA_VMA_BEST_FIT = 3,
};

/* Configuration of a heap. Zero-initialise it and set at least start and end. */
struct viova_vma_config {
	uint64_t start; /* first address of the range */
	uint64_t end;	/* one past the last address; start < end */
	enum viova_vma_type type;
	enum viova_vma_strategy strategy;
	/* Minimum alignment of every allocation: power of two <= 2^47; 0 = VIOVA_VMA_DEFAULT_ALIGN.
	 */
	uint64_t default_align;
	uint64_t seed; /* RANDOM: seed of the placement generator; ignored otherwise */
};

/* An allocation request for viova_vma_alloc_ex(). */
struct viova_vma_alloc_args {
	uint32_t handle; /* caller's object handle, not VIOVA_VMA_NO_HANDLE */
	uint64_t size;	 /* bytes, > 0 */
	/* power of two <= 2^47, or 0; the effective alignment is max(align, heap default). */
	uint64_t align;
	/*
	 * 0, or a power of two B: the range must not cross a multiple of B (it lies within one
	 * B-aligned block), e.g. 4 GiB for state base addresses. size must be <= B.
	 */
	uint64_t no_span;
};

enum viova_vma_range_kind {
	VIOVA_VMA_RANGE_ALLOCATED = 1, /* from alloc: keyed by handle */
	VIOVA_VMA_RANGE_RESERVED = 2,  /* from reserve: keyed by offset and size; handle is a tag */
};

/* One used range, as reported by viova_vma_next_range(). */
struct viova_vma_range {
	uint64_t offset;
	uint64_t size;
	uint32_t handle; /* VIOVA_VMA_NO_HANDLE for an untagged reservation */
	enum viova_vma_range_kind kind;
};

struct viova_vma_stats {
	uint64_t start, end;   /* the heap's range */
	uint64_t free_bytes;   /* bytes in holes (end - start - allocated - reserved) */
	uint64_t largest_hole; /* bytes of the largest hole, 0 when full */
	uint64_t holes;	       /* number of holes; adjacent holes are always merged */
	uint64_t allocations;  /* live allocations */
	uint64_t allocated_bytes;
	uint64_t reservations; /* live reservations */
	uint64_t reserved_bytes;
	uint64_t reloc_wraps;	 /* RELOC / RANDOM: searches that wrapped to the start */
	uint64_t nodes_used;	 /* tree nodes in use (one per used range, plus one) */
	uint64_t nodes_capacity; /* nodes the region can hold before it grows / -ENOMEM */
	uint64_t memory_bytes;	 /* bytes of allocator memory held (region + wrapper) */
	/*
	 * bytes the live structure needs: header, nodes in use, and handle-index slots for the
	 * live allocations at the index's maximum load (3/4). memory_bytes - memory_used_bytes is
	 * slack: free-listed nodes after a peak (the arena never shrinks) and growth headroom.
	 */
	uint64_t memory_used_bytes;
};

struct viova_vma; /* a heap; opaque */

/*
 * viova_vma_create - create a heap that owns its memory and grows as needed (malloc/realloc).
 * @cfg: configuration, copied.
 * @out: receives the heap; destroy it with viova_vma_destroy().
 *
 * Returns 0, or
 *   -EINVAL  cfg is NULL or invalid: start >= end, unknown type or strategy, a strategy other than
 *            DEFAULT for RELOC / RANDOM, default_align not a power of two or above 2^47;
 *   -ENOMEM  out of memory.
 */
int viova_vma_create(const struct viova_vma_config *cfg, struct viova_vma **out);

/*
 * viova_vma_in_place_size - bytes of buffer that viova_vma_init_in_place() needs so that the heap
 * can always hold @ranges live ranges (allocations plus reservations), however fragmented.
 * The figure depends on cfg->strategy (BEST_FIT keeps a second tree).
 *
 * Returns 0 and sets *bytes, or
 *   -EINVAL     cfg invalid (see viova_vma_create), ranges == 0 or bytes NULL;
 *   -EOVERFLOW  ranges too large for 32-bit node indices or for size_t.
 */
int viova_vma_in_place_size(const struct viova_vma_config *cfg, uint32_t ranges, size_t *bytes);

/*
 * viova_vma_init_in_place - create a heap whose whole state lives in a caller-provided buffer.
 * @buf:   at least 64-byte aligned; the caller owns it and must keep it alive until
 *         viova_vma_destroy(). Nothing written into it is a pointer, so it may be copied,
 *         mapped at another address, or shared (see viova_vma_attach_in_place()).
 * @bytes: its size; the heap never grows: when it is full, alloc and reserve return -ENOMEM
 *         and leave the heap unchanged. viova_vma_in_place_size() says how much N ranges need;
 *         leftover bytes become extra capacity.
 * @cfg:   configuration, copied into the buffer.
 * @out:   receives the heap (a small process-local wrapper holding the mutex).
 *
 * Returns 0, or
 *   -EINVAL  buf or out NULL, buf misaligned, bytes too small for one range, cfg invalid;
 *   -ENOMEM  the process-local wrapper could not be allocated.
 */
int viova_vma_init_in_place(void *buf, size_t bytes, const struct viova_vma_config *cfg,
			    struct viova_vma **out);

/*
 * viova_vma_attach_in_place - wrap a buffer that already holds a heap made by
 * viova_vma_init_in_place(), e.g. a copy of it or the same memory mapped elsewhere. The header is
 * validated and the whole structure checked (viova_vma_check), O(n). Only one wrapper may use a
 * buffer at a time: the mutex is in the wrapper (a later version puts a process-shared one in
 * the header).
 *
 * Returns 0, or
 *   -EINVAL   buf or out NULL, misaligned, or bytes smaller than the heap's region;
 *   -EPROTO   not a heap: wrong magic or version;
 *   -EUCLEAN  the header or the structure is inconsistent;
 *   -ENOMEM   the wrapper could not be allocated.
 */
int viova_vma_attach_in_place(void *buf, size_t bytes, struct viova_vma **out);

/*
 * viova_vma_destroy - free the heap (owned mode) or only its wrapper (in-place mode; the buffer
 * is left as it is). Live allocations are dropped. NULL is a no-op. Nobody may use the heap
 * concurrently.
 */
void viova_vma_destroy(struct viova_vma *vma);

/*
 * viova_vma_alloc - viova_vma_alloc_ex() with no no-span boundary.
 */
int viova_vma_alloc(struct viova_vma *vma, uint32_t handle, uint64_t size, uint64_t align,
		    uint64_t *offset);

/*
 * viova_vma_alloc_ex - give object @args->handle a range of @args->size bytes.
 *
 * Idempotent per handle: if the handle already has a range of the same size that satisfies the
 * requested alignment and no-span boundary, that offset is returned again and nothing changes.
 * Where the range goes is decided by the heap's type and strategy (see the enums above).
 *
 * Returns 0 and sets *offset, or
 *   -EINVAL  vma/args/offset NULL, handle == VIOVA_VMA_NO_HANDLE, size 0, align not 0 or a
 *            power of two <= 2^47, no_span not 0 or a power of two, size > no_span;
 *   -EEXIST  the handle already holds a range of another size, or one that violates the
 *            requested alignment / no-span (free it first);
 *   -ENOSPC  no hole can hold the request with that alignment (includes size > end - start);
 *   -ENOMEM  in-place heap full, or out of memory while growing; the heap is unchanged.
 */
int viova_vma_alloc_ex(struct viova_vma *vma, const struct viova_vma_alloc_args *args,
		       uint64_t *offset);

/*
 * viova_vma_free - release the range allocated to @handle; it merges with adjacent holes.
 * Reservations are released only by viova_vma_unreserve(). An owned heap whose node array is
 * at most a quarter live shrinks here (amortised O(1); it never fails because of that).
 *
 * Returns 0, or
 *   -EINVAL  vma NULL;
 *   -ENOENT  no allocation has this handle.
 */
int viova_vma_free(struct viova_vma *vma, uint32_t handle);

/* viova_vma_is_allocated - true iff @handle holds exactly [offset, offset + size). */
bool viova_vma_is_allocated(struct viova_vma *vma, uint32_t handle, uint64_t size, uint64_t offset);

/*
 * viova_vma_lookup - the range allocated to @handle.
 *
 * Returns 0 and sets *offset and *size (either may be NULL), or
 *   -EINVAL  vma NULL;
 *   -ENOENT  no allocation has this handle.
 */
int viova_vma_lookup(struct viova_vma *vma, uint32_t handle, uint64_t *offset, uint64_t *size);

/*
 * viova_vma_reserve - take [offset, offset + size) out of circulation, tagged with @handle
 * (or VIOVA_VMA_NO_HANDLE). A reservation is identified by its offset and size, not by its
 * tag, so one handle may tag several reservations. The whole range must be free.
 *
 * Returns 0, or
 *   -EINVAL  vma NULL, size 0, or offset + size wraps around 2^64;
 *   -ERANGE  the range is not inside [start, end);
 *   -EEXIST  exactly this range is already reserved;
 *   -EBUSY   the range overlaps an allocation or another reservation;
 *   -ENOMEM  in-place heap full, or out of memory while growing; the heap is unchanged.
 */
int viova_vma_reserve(struct viova_vma *vma, uint32_t handle, uint64_t offset, uint64_t size);

/*
 * viova_vma_unreserve - release the reservation [offset, offset + size) tagged @handle. Offset,
 * size and tag must match the reservation exactly.
 *
 * Returns 0, or
 *   -EINVAL  vma NULL;
 *   -ENOENT  no reservation has exactly this offset and size;
 *   -EPERM   the reservation exists but carries another tag.
 */
int viova_vma_unreserve(struct viova_vma *vma, uint32_t handle, uint64_t offset, uint64_t size);

/* viova_vma_is_reserved - true iff [offset, offset + size) is exactly one reservation. */
bool viova_vma_is_reserved(struct viova_vma *vma, uint64_t offset, uint64_t size);

/*
 * viova_vma_reserve_if_not_allocated - if @handle is already allocated at exactly
 * [offset, offset + size), report it (*was_allocated = true) and change nothing; otherwise
 * reserve the range tagged @handle (*was_allocated = false). Used when a caller pins an object at
 * an address it chose itself.
 *
 * Returns 0, or the errors of viova_vma_reserve() (was_allocated is then not written);
 *   -EINVAL also when was_allocated is NULL.
 */
int viova_vma_reserve_if_not_allocated(struct viova_vma *vma, uint32_t handle, uint64_t size,
				       uint64_t offset, bool *was_allocated);

/* viova_vma_address_range - the heap's [start, end). Returns 0, or -EINVAL if an argument is NULL.
 */
int viova_vma_address_range(struct viova_vma *vma, uint64_t *start, uint64_t *end);

/* viova_vma_is_empty - true iff the heap has no allocation and no reservation. */
bool viova_vma_is_empty(struct viova_vma *vma);

/*
 * viova_vma_next_range - iteration in address order: the used range (allocation or reservation)
 * with the lowest offset >= @from. Start with from = start, continue with from = offset + size.
 * O(log n) per step; the heap may change between steps.
 *
 * Returns 0 and fills *out, or
 *   -EINVAL  vma or out NULL;
 *   -ENOENT  no used range starts at or above @from.
 */
int viova_vma_next_range(struct viova_vma *vma, uint64_t from, struct viova_vma_range *out);

/*
 * viova_vma_get_stats - a consistent snapshot of the counters. O(log n) typically: the exact
 * largest_hole is found by a descent pruned with the tree's bounds (more only when many holes
 * are within 0.2% of the largest). Returns 0, or -EINVAL (NULL).
 */
int viova_vma_get_stats(struct viova_vma *vma, struct viova_vma_stats *stats);

/*
 * viova_vma_check - debug: verify every structural invariant, O(n): AVL order, balance and
 * parent links, the "largest hole in subtree" bounds, the nodes (used range + the hole after
 * it, and the head) tiling [start, end), the size tree (BEST_FIT), the handle index, the node free
 * list and the counters. Used by the tests and by viova_vma_attach_in_place().
 *
 * Returns 0, or
 *   -EINVAL   vma NULL;
 *   -EUCLEAN  an invariant is broken; a description is written to @why (may be NULL).
 */
int viova_vma_check(struct viova_vma *vma, char *why, size_t why_len);

/* Short names for messages: "simple", "reloc", "random"; "high_to_low", ... ("?" if unknown). */
const char *viova_vma_type_name(enum viova_vma_type type);
const char *viova_vma_strategy_name(enum viova_vma_strategy strategy);

/*
 * 48-bit canonical addresses (Intel GPUs): bit 47 is copied into bits 48..63, so an address in
 * the upper half of the 48-bit space becomes 0xffff8000_00000000 and above. The heap works on
 * decanonical addresses; convert at the edge with these helpers.
 */
static inline uint64_t viova_vma_canonical(uint64_t addr)
{
	/* Shift-based sign extension on an unsigned value: no implementation-defined shifts. */
	return (addr & (1ull << 47)) ? (addr | 0xffff000000000000ull)
				     : (addr & 0x0000ffffffffffffull);
}

static inline uint64_t viova_vma_decanonical(uint64_t addr)
{
	return addr & 0x0000ffffffffffffull;
}

static inline bool viova_vma_is_canonical(uint64_t addr)
{
	return viova_vma_canonical(addr) == addr;
}

/*
 * ---- Instance registry -------------------------------------------------------------------
 *
 * Seed semantics: a process opens "the allocator of (device, context)" or "of (device, VM)".
 * Opening the same key again returns a new handle on the same heap (refcount + 1); open_as lets
 * another VM id share a VM's heap (forked children share a VM with their parent); the heap is
 * destroyed when its last handle closes, and that close says whether it was empty.
 *
 * Handles are opaque non-zero u64s, never reused while the registry lives (a stale handle gives
 * -ENOENT, not somebody else's heap). Every function is thread-safe. open, open_as and close are
 * O(1) expected (a hash table of keys, a free list of handle slots), lookup is O(1).
 */
enum viova_vma_owner {
	VIOVA_VMA_OWNER_CTX = 1, /* per-context address space */
	VIOVA_VMA_OWNER_VM = 2,	 /* an explicit VM object (shareable with open_as) */
};

struct viova_vma_key {
	uint64_t device; /* which GPU: an fd, a device number, ... */
	enum viova_vma_owner owner;
	uint32_t id; /* context id or VM id */
};

struct viova_vma_registry;

/* Returns 0, or -EINVAL (out NULL), -ENOMEM. */
int viova_vma_registry_create(struct viova_vma_registry **out);

/*
 * viova_vma_registry_destroy - close every handle still open and destroy the heaps. No other
 * thread may use the registry or its heaps. NULL is a no-op.
 */
void viova_vma_registry_destroy(struct viova_vma_registry *reg);

/*
 * viova_vma_open - open the heap of @key, creating it from @cfg on first open.
 *
 * Returns 0 and sets *handle, or
 *   -EINVAL  an argument NULL, key->owner unknown, cfg invalid (see viova_vma_create);
 *   -EEXIST  the key's heap exists with another range, type, strategy, default alignment or
 *            seed (close it, or open with the same configuration);
 *   -ENOMEM  out of memory.
 */
int viova_vma_open(struct viova_vma_registry *reg, const struct viova_vma_key *key,
		   const struct viova_vma_config *cfg, uint64_t *handle);

/*
 * viova_vma_open_as - share the VM heap behind @handle under VM id @new_vm of the same device;
 * returns a new handle (refcount + 1). Opening (device, VM, new_vm) later returns that heap.
 *
 * Returns 0 and sets *new_handle, or
 *   -EINVAL  reg or new_handle NULL, or @handle is a context heap (only VMs are shared);
 *   -ENOENT  @handle is not open;
 *   -EEXIST  (device, VM, new_vm) already names another heap;
 *   -ENOMEM  out of memory.
 */
int viova_vma_open_as(struct viova_vma_registry *reg, uint64_t handle, uint32_t new_vm,
		      uint64_t *new_handle);

/*
 * viova_vma_close - close @handle. When it was the heap's last handle the heap is destroyed.
 * @was_empty (may be NULL): true iff this close destroyed the heap and it held no allocation
 * and no reservation; false when other handles keep the heap alive.
 *
 * Returns 0, or -EINVAL (reg NULL), -ENOENT (@handle not open).
 */
int viova_vma_close(struct viova_vma_registry *reg, uint64_t handle, bool *was_empty);

/*
 * viova_vma_get - the heap behind @handle. It stays valid until the handle is closed; using it
 * after that is the caller's bug.
 *
 * Returns 0, or -EINVAL (NULL argument), -ENOENT (@handle not open).
 */
int viova_vma_get(struct viova_vma_registry *reg, uint64_t handle, struct viova_vma **vma);

/*
 * viova_vma_refcount - number of open handles on the heap behind @handle (all keys together).
 *
 * Returns 0, or -EINVAL (NULL argument), -ENOENT (@handle not open).
 */
int viova_vma_refcount(struct viova_vma_registry *reg, uint64_t handle, uint32_t *refs);

#endif /* VIOVA_VMA_H */

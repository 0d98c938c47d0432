/* SPDX-License-Identifier: MIT */
/*
 * va_space.h - a per-process GPU virtual address space with split/merge.
 *
 * The host keeps one of these per guest address space (VM). Every range a guest sends is checked
 * against it before the kernel sees it:
 *
 *   SET_IOVA(buffer, iova)   viova_va_space_insert()        whole buffer at iova, overlap rejected
 *   SET_IOVA(buffer, 0)      viova_va_space_obj_remove()    through the buffer's own list
 *   VM_BIND(map pieces)      viova_va_space_sm_map()  + apply   sparse bind, splits what it covers
 *   VM_UNBIND(range)         viova_va_space_sm_unmap() + apply  splits what it partly covers
 *   close(buffer)            viova_va_space_obj_unmap_ops() + apply  every mapping of the buffer
 *   GPU access at iova       viova_va_space_find_first(iova, 1)      translate / fault
 *
 * A space covers [start, start + range) and may hold one reserved region (the kernel's) that no
 * mapping may touch. Mappings never overlap. Each mapping is
 *
 *     { addr, range, obj, offset, flags }
 *
 * where obj is a caller key for the backing buffer (the host packs (context id << 32) | buffer id)
 * and offset is the byte offset of addr inside that buffer. Addresses and sizes are in bytes, but
 * the module never assumes a page size: callers check alignment.
 *
 * Split/merge follows the drm_gpuva manager: sm_map() and sm_unmap() compute an ordered list of
 * operations (unmap, remap, map) WITHOUT touching the space; the caller inspects it (e.g. to drive
 * the kernel), then applies it or drops it. docs/va-space.md draws the 15 cases.
 *
 * Storage: an address-ordered red-black tree whose nodes live in an arena and link by u32 index;
 * a hash of object keys heads a doubly linked list of each object's mappings. See docs/va-space.md
 * for complexity and memory per mapping.
 *
 * Thread safety: none. A space and its op lists are used under the caller's lock.
 */
#ifndef VIOVA_VA_SPACE_H
#define VIOVA_VA_SPACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Mapping flag: a sparse mapping has no backing object (Vulkan sparse residency, msm MAP_NULL).
 * Its obj and offset must be 0; it is on no object's list and never gets the keep flag.
 * Every other bit of flags belongs to the caller (e.g. read-only) and is carried through splits;
 * two mappings whose flags differ are never "physically contiguous" (see keep below).
 */
#define VIOVA_VA_SPARSE (1u << 0)

/* Most mappings one space can hold (node indices are 31 bit, a few are kept for bookkeeping). */
#define VIOVA_VA_MAX_MAPPINGS 0x7ffffff0u

/* One mapping, always passed by value: the space never hands out pointers into itself. */
struct viova_va_mapping {
	uint64_t addr;	 /* first byte */
	uint64_t range;	 /* size in bytes, > 0; addr + range may equal 2^64 but not exceed it */
	uint64_t obj;	 /* backing object key (0 and ignored for VIOVA_VA_SPARSE) */
	uint64_t offset; /* byte offset of addr inside obj; offset + range may not exceed 2^64 */
	uint32_t flags;	 /* VIOVA_VA_SPARSE | caller bits */
};

struct viova_va_space_config {
	uint64_t start;		/* first address of the space */
	uint64_t range;		/* size of the space, > 0; start + range may equal 2^64 */
	uint64_t reserve_addr;	/* kernel-reserved region inside the space ... */
	uint64_t reserve_range; /* ... of this size; 0 = no reserved region */
	uint32_t max_mappings;	/* quota: most live mappings; 0 = VIOVA_VA_MAX_MAPPINGS */
};

struct viova_va_space;

/*
 * Why a range was refused. Each reason maps to exactly one errno (listed); the distinct codes let
 * a caller switch on the return value alone, the struct lets it write a precise message.
 */
enum viova_va_reason {
	VIOVA_VA_OK = 0,
	VIOVA_VA_ZERO_SIZE,    /* -EINVAL: range == 0 */
	VIOVA_VA_BAD_SPARSE,   /* -EINVAL: VIOVA_VA_SPARSE with obj or offset != 0 */
	VIOVA_VA_WRAP,	       /* -EOVERFLOW: addr + range exceeds 2^64 */
	VIOVA_VA_OBJ_WRAP,     /* -EOVERFLOW: offset + range exceeds 2^64 */
	VIOVA_VA_OUT_OF_SPACE, /* -ERANGE: not entirely inside [start, start + range) */
	VIOVA_VA_RESERVED,     /* -EACCES: touches the reserved region */
	VIOVA_VA_OVERLAP,      /* -EEXIST: overlaps an existing mapping (insert only) */
	VIOVA_VA_LIMIT,	       /* -ENOSPC: would exceed max_mappings */
	VIOVA_VA_NOMEM,	       /* -ENOMEM: out of memory */
};

struct viova_va_reject {
	enum viova_va_reason reason;
	int err;			  /* the negative errno that was returned */
	uint64_t addr, range;		  /* the request as given */
	uint64_t bound_addr, bound_range; /* OUT_OF_SPACE: the space; RESERVED: reserved region */
	struct viova_va_mapping conflict; /* OVERLAP: the lowest existing mapping that overlaps */
	uint32_t limit;			  /* LIMIT: max_mappings */
};

/*
 * Create an empty space. *out is owned by the caller and released with viova_va_space_destroy().
 * Returns 0, or
 *   -EINVAL     cfg or out is NULL, cfg->range == 0, or max_mappings > VIOVA_VA_MAX_MAPPINGS
 *   -EOVERFLOW  start + range or reserve_addr + reserve_range exceeds 2^64
 *   -ERANGE     the reserved region is not entirely inside the space
 *   -ENOMEM     out of memory
 */
int viova_va_space_create(const struct viova_va_space_config *cfg, struct viova_va_space **out);

/*
 * Free the space and every mapping record in it; the caller tears down the real (kernel) mappings
 * first. Op lists built for it become useless (free them separately). NULL is ignored.
 */
void viova_va_space_destroy(struct viova_va_space *vs);

/* Number of live mappings (the reserved region is not a mapping). */
uint32_t viova_va_space_count(const struct viova_va_space *vs);

/* Heap bytes held by the space: nodes, object hash, bookkeeping (not op lists). */
size_t viova_va_space_mem_bytes(const struct viova_va_space *vs);

/*
 * Would viova_va_space_insert(vs, m) succeed? Checks, in this order, and returns the first failure:
 *   -EINVAL     m->range == 0, or VIOVA_VA_SPARSE with a nonzero obj/offset
 *   -EOVERFLOW  addr + range or offset + range exceeds 2^64
 *   -ERANGE     not inside the space
 *   -EACCES     touches the reserved region
 *   -EEXIST     overlaps an existing mapping
 *   -ENOSPC     the space already holds max_mappings
 * If why is not NULL it is filled in either way (reason VIOVA_VA_OK on success). Never -ENOMEM.
 */
int viova_va_space_check(const struct viova_va_space *vs, const struct viova_va_mapping *m,
			 struct viova_va_reject *why);

/*
 * Add mapping *m. It must not overlap any existing mapping (use sm_map() to replace).
 * O(log n). Returns 0, or any code of viova_va_space_check(), or -ENOMEM; on failure the space is
 * unchanged and *why (if not NULL) says why.
 */
int viova_va_space_insert(struct viova_va_space *vs, const struct viova_va_mapping *m,
			  struct viova_va_reject *why);

/*
 * Remove the mapping that is exactly [addr, addr + range). O(log n). If removed is not NULL it
 * receives the removed mapping. Returns 0, or
 *   -ENOENT  no mapping starts at addr with that exact range (use sm_unmap() for partial ranges)
 */
int viova_va_space_remove(struct viova_va_space *vs, uint64_t addr, uint64_t range,
			  struct viova_va_mapping *removed);

/*
 * Remove the mapping of obj that is exactly [addr, addr + range), found through obj's list
 * instead of a tree descent: one hash probe, O(k) for the k mappings of obj, then an unlink by
 * node (the red-black erase touches only the node's neighbourhood). For a caller that knows
 * which object owns the range and that the object has few mappings (a buffer's SET_IOVA
 * mapping); otherwise viova_va_space_remove() is O(log n) whatever k is. If removed is not NULL
 * it receives the removed mapping. Returns 0, or
 *   -ENOENT  obj has no mapping that is exactly [addr, addr + range) (sparse mappings have no
 *            object and are never found here)
 */
int viova_va_space_obj_remove(struct viova_va_space *vs, uint64_t obj, uint64_t addr,
			      uint64_t range, struct viova_va_mapping *removed);

/*
 * Remove every mapping of obj (none: nothing happens). O(k) plus the erases, no tree descent
 * and one hash probe: what a driver does when a buffer's address is cleared or the buffer
 * goes. Returns how many mappings were removed.
 */
uint32_t viova_va_space_obj_remove_all(struct viova_va_space *vs, uint64_t obj);

/*
 * Lookups. Each copies the mapping found into *out (may be NULL) and returns 0, or -ENOENT if
 * there is none (also for range == 0 or a wrapping range). O(log n).
 *   find:       the mapping that is exactly [addr, addr + range)
 *   find_first: the lowest mapping that intersects [addr, addr + range)
 *   find_prev:  the mapping that ends exactly at start (adjacent before; a gap means none)
 *   find_next:  the mapping that begins exactly at end (adjacent after; a gap means none)
 */
int viova_va_space_find(const struct viova_va_space *vs, uint64_t addr, uint64_t range,
			struct viova_va_mapping *out);
int viova_va_space_find_first(const struct viova_va_space *vs, uint64_t addr, uint64_t range,
			      struct viova_va_mapping *out);
int viova_va_space_find_prev(const struct viova_va_space *vs, uint64_t start,
			     struct viova_va_mapping *out);
int viova_va_space_find_next(const struct viova_va_space *vs, uint64_t end,
			     struct viova_va_mapping *out);

/*
 * True if no mapping and no byte of the reserved region lies in [addr, addr + range). Like the
 * drm_gpuva manager (whose reserved region is a node of its tree) the reserved region counts as
 * occupied. Says nothing about the range being inside the space: use viova_va_space_check().
 * A zero or wrapping range is reported empty. O(log n).
 */
bool viova_va_space_interval_empty(const struct viova_va_space *vs, uint64_t addr, uint64_t range);

/* True if obj has at least one mapping (SET_IOVA: "buffer already mapped elsewhere"). O(1). */
bool viova_va_space_obj_mapped(const struct viova_va_space *vs, uint64_t obj);

/*
 * Iteration. An iterator is a plain struct on the caller's stack (no cleanup). It is valid until
 * the space changes; after a change viova_va_iter_next() returns false and sets it->err = -ESTALE.
 *
 *   struct viova_va_iter it;
 *   struct viova_va_mapping m;
 *   viova_va_space_iter_range(vs, &it, addr, range);
 *   while (viova_va_iter_next(&it, &m))
 *           ...;
 *
 * iter_range visits, in address order, every mapping intersecting [addr, addr + range):
 * O(log n + k). iter_obj visits every mapping of obj in unspecified order: O(k).
 */
struct viova_va_iter {
	/* private */
	const struct viova_va_space *vs;
	uint64_t gen;
	uint64_t last;
	uint32_t node;
	uint32_t by_obj;
	/* public: 0, or -ESTALE if the space changed under the iterator */
	int err;
};

void viova_va_space_iter_range(const struct viova_va_space *vs, struct viova_va_iter *it,
			       uint64_t addr, uint64_t range);
void viova_va_space_iter_obj(const struct viova_va_space *vs, struct viova_va_iter *it,
			     uint64_t obj);
bool viova_va_iter_next(struct viova_va_iter *it, struct viova_va_mapping *out);

/*
 * Split/merge operation lists.
 *
 * An op list is computed from the current space and changes nothing until applied:
 *
 *   UNMAP  va = an existing mapping that goes away entirely.
 *   REMAP  va = an existing mapping that goes away, and the pieces of it that survive:
 *          prev (the part before the request) and/or next (the part after it), with their
 *          object offsets adjusted. has_prev / has_next say which exist (at least one).
 *   MAP    va = the requested mapping. Exactly one, last, in sm_map() lists only.
 *
 * Order: the UNMAPs/REMAPs of the affected mappings in address order, then the MAP. An sm_map()
 * list holds any number of UNMAPs, at most two REMAPs and one MAP; an sm_unmap() list holds
 * UNMAPs and at most two REMAPs.
 *
 * keep (UNMAP and REMAP in sm_map() lists): the existing mapping is backed by the same object at
 * the contiguous offset, with the same flags, as the request, i.e. its page table entries are
 * exactly what the request would write over the overlap; a driver may keep them and write only
 * the delta. Sparse mappings never keep. sm_unmap() and obj_unmap lists never set keep.
 */
enum viova_va_op_type {
	VIOVA_VA_OP_MAP = 1,
	VIOVA_VA_OP_REMAP,
	VIOVA_VA_OP_UNMAP,
};

struct viova_va_op {
	enum viova_va_op_type type;
	bool keep;
	bool has_prev;
	bool has_next;
	struct viova_va_mapping va;
	struct viova_va_mapping prev;
	struct viova_va_mapping next;
};

struct viova_va_ops;

/* Create an empty op list, reusable for any number of builds. Returns 0, -EINVAL (out NULL),
 * -ENOMEM. */
int viova_va_ops_create(struct viova_va_ops **out);

/* Free an op list (dropping any pending ops; the space is not touched). NULL ok. */
void viova_va_ops_destroy(struct viova_va_ops *ops);

/* Drop the pending ops without applying them; the space is not touched. */
void viova_va_ops_reset(struct viova_va_ops *ops);

/* Number of ops in the list (still readable after apply, until the next build or reset). */
uint32_t viova_va_ops_count(const struct viova_va_ops *ops);

/* The i-th op (0-based), or NULL if i >= count. Valid until the next build or reset. */
const struct viova_va_op *viova_va_ops_at(const struct viova_va_ops *ops, uint32_t i);

/*
 * Compute into ops (replacing its contents) what integrating *req takes: see the op list rules
 * above. *req must pass the checks of viova_va_space_check() except the overlap check, so:
 *   -EINVAL, -EOVERFLOW, -ERANGE, -EACCES  as viova_va_space_check() (why filled if not NULL)
 *   -ENOSPC     applying would leave more than max_mappings mappings
 *   -ENOMEM     out of memory (for the list or the nodes it reserves)
 * On success the space is logically unchanged, but it has reserved the nodes and hash room the
 * apply needs, so that apply cannot fail half-way. O(log n + k).
 * An identical existing mapping still yields UNMAP(keep) + MAP, as in the drm_gpuva manager.
 */
int viova_va_space_sm_map(struct viova_va_space *vs, const struct viova_va_mapping *req,
			  struct viova_va_ops *ops, struct viova_va_reject *why);

/*
 * Compute into ops what unmapping [addr, addr + range) takes: an UNMAP for each mapping inside
 * it and a REMAP for each mapping only partly inside (at most two). A range holding no mapping
 * yields an empty list. Errors:
 *   -EINVAL, -EOVERFLOW, -ERANGE, -EACCES  as viova_va_space_check() for addr/range (range 0,
 *               wrap, outside the space, touching the reserved region); why filled if not NULL
 *   -ENOSPC     splitting a mapping in two would leave more than max_mappings mappings
 *   -ENOMEM     out of memory
 * On success the space is logically unchanged (see sm_map). O(log n + k).
 */
int viova_va_space_sm_unmap(struct viova_va_space *vs, uint64_t addr, uint64_t range,
			    struct viova_va_ops *ops, struct viova_va_reject *why);

/*
 * Compute into ops one UNMAP per mapping of obj, in address order (empty list if it has none):
 * closing a buffer. Returns 0 or -ENOMEM. O(k log k).
 */
int viova_va_space_obj_unmap_ops(struct viova_va_space *vs, uint64_t obj, struct viova_va_ops *ops);

/*
 * Apply ops to vs: afterwards the space holds exactly what the ops say, and the list can no
 * longer be applied. Checks first and changes nothing on failure:
 *   -EINVAL  ops was never built, or was built for another space
 *   -ESTALE  the space changed since ops was built (including by applying ops already), so the
 *            list no longer describes it: build a new one
 * O((k + 1) log n).
 */
int viova_va_space_apply(struct viova_va_space *vs, struct viova_va_ops *ops);

/*
 * Format a rejection for a log line or an error ring entry, naming the range, the conflict and
 * the fix, e.g. "range 0x1000+0x2000 overlaps mapping of buffer 7 at 0x2000+0x1000: unmap it
 * first or choose a free range". obj_noun names the object ("buffer"; NULL means "object").
 * snprintf semantics: returns the length the full message needs; buf may be NULL if len is 0.
 */
int viova_va_reject_format(const struct viova_va_reject *why, const char *obj_noun, char *buf,
			   size_t len);

/* Short stable name of a reason ("overlap", "reserved", ...), for logs and tests. */
const char *viova_va_reason_name(enum viova_va_reason reason);

/*
 * DEBUG: verify every structural invariant (tree order and balance, parent links, no overlap,
 * bounds, reserved region, object lists and hash, node accounting). O(n). Returns 0, or -EUCLEAN
 * with a description of the first violation in msg (if not NULL). For tests and debugging only.
 */
int viova_va_space_debug_check(const struct viova_va_space *vs, char *msg, size_t len);

#ifdef __cplusplus
}
#endif

#endif

/* SPDX-License-Identifier: MIT */
/*
 * vma_priv.h - internals shared by the common/vma*.c files (not installed, not public).
 *
 * The heap region (everything a heap knows) is one block of memory:
 *
 *   offset 0          nodes_off             slinks_off              slots_off        region_bytes
 *   +-----------------+---------------------+-----------------------+----------------+
 *   | struct          | struct vma_node     | struct vma_slinks     | struct vma_slot|
 *   | vma_region      | [node_cap]          | [node_cap]            | [slot_cap]     |
 *   | (header)        | index 0 = NIL       | (BEST_FIT only)       | handle index   |
 *   +-----------------+---------------------+-----------------------+----------------+
 *
 * Nodes refer to each other by u32 index (0 = none) and the header refers to the arrays by byte
 * offset, so the block holds no pointer: it can be realloc'ed (owned mode), copied, or mapped
 * at different addresses by different processes (in-place mode).
 */
#ifndef VIOVA_VMA_PRIV_H
#define VIOVA_VMA_PRIV_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "viova/vma.h"

#define VMA_NIL 0u
#define VMA_MAGIC 0x616d7669u /* "ivma" */
/*
 * 2: max_hole as a 16-bit code; 3: holes cache their own levels; 4: max_hole folded into lvl[0]
 * (level 0 is the hole size itself), so one vector max repairs every aggregate; 5: one node per
 * used range carrying the hole after it (plus one head node for the hole at the start), 80-byte
 * nodes.
 */
#define VMA_VERSION 5u
/* Deepest AVL tree with 2^32 nodes is 1.44 * 32 < 48; the checker refuses anything deeper. */
#define VMA_MAX_HEIGHT 64
/*
 * Levels of the augmentation: level j >= 1 is alignment g << j (g = the heap's default
 * alignment), so with g = 4 KiB they cover 8 KiB .. 512 KiB. Level 0 is the hole size itself
 * (alignment 1): the largest-hole aggregate, and for requests aligned to g a bound that is exact
 * whenever holes start on a multiple of g (the normal case; see vma_hole_levels).
 */
#define VMA_LEVELS 8

enum vma_kind {
	VMA_HEAD = 0, /* the one node with no used range: it carries the hole at the start */
	VMA_ALLOC = 1,
	VMA_RESV = 2,
	VMA_FREE = 3, /* on the node free list */
};

/*
 * One node per used range (allocation or reservation) plus the head: the used range
 * [start, start + size) and the hole that follows it, [start + size, start + size + hole),
 * up to the next used range (hole = 0: none). The head has start = the heap's start and size 0,
 * so its hole is the free space before the first used range. Nodes tile the heap in address
 * order, which is the order of the address tree; holes never touch (each ends where a used
 * range begins), so there is nothing to merge. 80 bytes.
 *
 *   | head: hole  |## alloc 7 ##| hole |== resv ==| (no hole) |## alloc 3 ##|   hole   |
 *   [ node head                ][ node 7         ][ node resv            ][ node 3           ]
 *
 * lvl[j] bounds from above, over the holes of this subtree, the bytes usable by a request
 * aligned to g << j: hole_end - align_up(hole_start, g << j), stored as a 15-bit float rounded
 * up (vma_lvl_encode). A search skips every subtree whose lvl[] is below the request: no hole
 * in it can take the request *after alignment*; a largest-hole aggregate alone only knows sizes
 * (docs/allocator.md, "alignment"). lvl[0] is that largest-hole aggregate (level 0 = the size):
 *
 *   lvl[0]  lvl[1]   lvl[2]   ...  lvl[7]       one 16-byte vector: a repair step is one
 *   size    g << 1   g << 2        g << 7       pmaxsw of (left, right, own) and one compare
 *
 * own[] caches the node's own hole's levels (vma_hole_refresh, zeroes when hole = 0), so a
 * repair step never encodes anything. The code of the largest hole is not exact on purpose: a
 * big hole that shrinks or grows by a few pages keeps its code, so the repair walk stops at
 * once instead of carrying a new exact maximum to the root (docs/allocator.md, "repair"). The
 * exact largest hole is found on demand by a descent pruned with lvl[0] (vma_tree_largest_hole).
 *
 * lvl[] and own[] sit at offsets 48 and 64: with the 64-byte aligned array and an 80-byte
 * stride both are 16-byte aligned.
 */
struct vma_node {
	uint64_t start;		      /* used range (the head: the heap's start) */
	uint64_t size;		      /* used range bytes (0 only for the head) */
	uint64_t hole;		      /* bytes of free space right after the used range */
	uint32_t left, right, parent; /* address tree; free list uses left */
	uint32_t handle;	      /* ALLOC: object handle; RESV: tag; HEAD: 0 */
	uint8_t height;		      /* AVL height, leaf = 1, NIL = 0 */
	uint8_t kind;		      /* enum vma_kind */
	uint8_t pad[6];		      /* zero */
	int16_t lvl[VMA_LEVELS];
	int16_t own[VMA_LEVELS];
};

/*
 * Size tree (the nodes whose hole is not empty, ordered by (hole, hole start)), parallel to the
 * node array; lvl as above.
 */
struct vma_slinks {
	uint32_t left, right, parent;
	int16_t lvl[VMA_LEVELS];
	uint8_t height;
	uint8_t pad[3];
};

/* Handle index: open addressing, linear probing; node == VMA_NIL marks an empty slot. */
struct vma_slot {
	uint32_t handle;
	uint32_t node;
};

struct vma_region {
	uint32_t magic;
	uint32_t version;
	uint64_t region_bytes;

	/* configuration */
	uint64_t start, end;
	uint32_t type, strategy; /* strategy normalised: never DEFAULT for SIMPLE */
	uint64_t default_align;
	uint64_t seed;

	/* placement state */
	uint64_t rng_state; /* RANDOM: splitmix64 state */
	uint64_t cursor;    /* RELOC: next-fit cursor */
	uint64_t wraps;

	/* layout */
	uint64_t nodes_off, slinks_off, slots_off; /* slinks_off == 0: no size tree */
	uint32_t node_cap;			   /* entries of the node array, NIL included */
	uint32_t node_hwm;			   /* first never-used index */
	uint32_t free_head;			   /* node free list, linked through .left */
	uint32_t nodes_live;			   /* nodes in the address tree */
	uint32_t slot_cap;			   /* power of two */
	uint32_t slot_bits;			   /* log2(slot_cap) */
	uint32_t slot_used;
	uint32_t in_place;

	/* trees */
	uint32_t root;	/* address tree */
	uint32_t sroot; /* size tree */

	/* counters */
	uint64_t holes;
	uint64_t allocs, alloc_bytes;
	uint64_t resvs, resv_bytes;
};

/*
 * The process-local lock of a heap: 0 free, 1 held, 2 held and somebody may sleep on it (a
 * private futex; Drepper's "Futexes are tricky", mutex 3). Uncontended, lock is one cmpxchg and
 * unlock one xchg, inlined: ~10 instructions per operation instead of ~50 for the two calls of
 * pthread_mutex_lock/unlock (docs/allocator.md, "Measured figures"). Process-local on purpose:
 * a heap shared by processes runs every call under its owner's robust pthread mutex
 * (guest/shared_heap.c), so this one is never contended there.
 */
typedef _Atomic uint32_t vma_lock_t;

/* The process-local handle on a region: the lock and cached array addresses. */
struct viova_vma {
	vma_lock_t lock;
	struct vma_region *r;
	struct vma_node *n;
	struct vma_slinks *sl; /* NULL unless BEST_FIT */
	struct vma_slot *slots;
	bool owned;
};

void vma_lock_wait(vma_lock_t *l, uint32_t seen);
void vma_unlock_wake(vma_lock_t *l);

static inline void vma_lock(struct viova_vma *v)
{
	uint32_t seen = 0;

	if (!atomic_compare_exchange_strong_explicit(&v->lock, &seen, 1, memory_order_acquire,
						     memory_order_relaxed))
		vma_lock_wait(&v->lock, seen);
}

static inline void vma_unlock(struct viova_vma *v)
{
	if (atomic_exchange_explicit(&v->lock, 0, memory_order_release) == 2)
		vma_unlock_wake(&v->lock);
}

/* The hole a node carries: [vma_hole_start, vma_hole_end), empty when x->hole == 0. */
static inline uint64_t vma_hole_start(const struct vma_node *x)
{
	return x->start + x->size;
}

static inline uint64_t vma_hole_end(const struct vma_node *x)
{
	return x->start + x->size + x->hole;
}

/*
 * Monotone 15-bit code of a byte count, rounded UP: exact below 1024, else 10 significant bits
 * (relative error < 1/512). enc(u) < enc(S) implies u < S, which is all pruning needs. Codes
 * are >= 0 and < 2^15, so they fit int16_t with NIL's zeroes as the minimum, and eight of them
 * are maxed with one SSE2 instruction (pmaxsw).
 */
static inline int16_t vma_lvl_encode(uint64_t u)
{
	/*
	 * u >= 1024 (b >= 10): keep the top 10 bits, rounded up, ceil(u / 2^sh) = 512 .. 1024,
	 * above an exponent field sh << 9. A mantissa of 1024 carries into the exponent by
	 * itself: (sh << 9) + 1024 == ((sh + 1) << 9) + 512. u < 1024: sh = 0 and the code is u
	 * (u = 0 too: (0 - 1) + 1 wraps to 0). Branch-free: ceil(u / 2^sh) = ((u - 1) >> sh) + 1.
	 */
	int b = 63 - __builtin_clzll(u | 1);
	int sh = b > 9 ? b - 9 : 0;

	return (int16_t)(((uint64_t)sh << 9) + ((u - 1) >> sh) + 1); /* <= 56 << 9 */
}

/*
 * The largest byte count whose code is @c (codes round up, so every u with vma_lvl_encode(u) ==
 * c is <= this): an upper bound to prune with when an exact maximum is wanted.
 */
static inline uint64_t vma_lvl_decode_max(int16_t c)
{
	if (c < 1024)
		return c < 0 ? 0 : (uint64_t)c;
	if (c >= (56 << 9)) /* 2^64 after rounding up */
		return UINT64_MAX;
	return ((uint64_t)(c & 511) + 512) << ((c >> 9) - 1);
}

/*
 * Own levels of node @x's hole (cached in x->own): usable bytes after aligning its start.
 *
 * Level 0 is enc(hole). Level j >= 1 is enc(hole - pad_j), pad_j = (-hole_start) mod (g << j),
 * and pad_j grows with j (pad_0 would be (-hole_start) mod g: 0 on a heap whose holes start on
 * multiples of g, which is why level 0 can be the size itself and still prune g-aligned requests
 * exactly). When even pad_7 keeps the code of the size (big holes: a 100 TiB hole, the usual case
 * on the hot path) all eight levels are that code. Otherwise one code per distinct pad (many
 * holes are aligned beyond g), 0 from the first pad >= hole on, and a level whose value keeps the
 * bit length of the hole (or is below 1024 with it) shares the hole's shift: a subtraction, a
 * shift and an add instead of a bit scan. An empty hole is all zeroes. vma_check.c recomputes
 * these with the plain definition.
 */
static inline void vma_hole_levels(const struct vma_region *r, const struct vma_node *x,
				   int16_t out[VMA_LEVELS])
{
	uint64_t neg = 0 - vma_hole_start(x), size = x->hole;

	if (!size) {
		for (int j = 0; j < VMA_LEVELS; j++)
			out[j] = 0;
		return;
	}

	/*
	 * A value u in [lim, size] has size's shift sh (lim = 2^b, or 0 when size < 1024), so
	 * its code is base + ((u - 1) >> sh) (vma_lvl_encode's formula) without a bit scan.
	 */
	int b = 63 - __builtin_clzll(size);
	int sh = b > 9 ? b - 9 : 0;
	uint64_t lim = b > 9 ? 1ull << b : 0, base = ((uint64_t)sh << 9) + 1;
	int16_t code = (int16_t)(base + ((size - 1) >> sh));
	uint64_t pad7 = neg & ((r->default_align << (VMA_LEVELS - 1)) - 1);

	if (pad7 < size && size - pad7 >= lim &&
	    (int16_t)(base + ((size - pad7 - 1) >> sh)) == code) {
		/* even pad7 stays in the code band of size: every level is size's code */
		for (int j = 0; j < VMA_LEVELS; j++)
			out[j] = code;
		return;
	}

	uint64_t prev_pad = 0;

	out[0] = code;
	for (int j = 1; j < VMA_LEVELS; j++) {
		uint64_t pad = neg & ((r->default_align << j) - 1);

		if (pad != prev_pad) {	   /* many holes are aligned beyond g: once per pad */
			if (pad >= size) { /* pads only grow: this level and all above are 0 */
				for (; j < VMA_LEVELS; j++)
					out[j] = 0;
				return;
			}
			uint64_t u = size - pad;

			code = u >= lim ? (int16_t)(base + ((u - 1) >> sh)) : vma_lvl_encode(u);
			prev_pad = pad;
		}
		out[j] = code;
	}
}

/* Refresh @x's cached own levels after its hole's start or size changed. */
static inline void vma_hole_refresh(const struct vma_region *r, struct vma_node *x)
{
	vma_hole_levels(r, x, x->own);
}

/* Recompute the cached array addresses after the region moved. */
void vma_bind(struct viova_vma *v);

/* ---- address tree and size tree (vma_tree.c) ---- */
/* Re-establish height / lvl[] / balance from @i up to the root after @i or its links changed. */
void vma_tree_fix_up(struct viova_vma *v, uint32_t i);
/*
 * Insert new node @x (start, size, hole, own set) right after @after in address order (@after
 * != NIL) with one repair walk. The walk also recomputes @after (x lands in its right subtree),
 * so a caller that just changed @after's hole needs no separate vma_tree_fix_up(after).
 */
void vma_tree_insert_after(struct viova_vma *v, uint32_t after, uint32_t x);
/* Insert @x as the only node of an empty tree. */
void vma_tree_insert_root(struct viova_vma *v, uint32_t x);
/* Unlink @x. @ancestor: NIL, or an ancestor of x whose own fields the caller changed. */
void vma_tree_remove(struct viova_vma *v, uint32_t x, uint32_t ancestor);
/* In-order neighbours in the address tree (NIL at either end); inline: every free asks. */
static inline uint32_t vma_tree_prev(const struct viova_vma *v, uint32_t x)
{
	const struct vma_node *n = v->n;

	if (n[x].left != VMA_NIL) {
		x = n[x].left;
		while (n[x].right != VMA_NIL)
			x = n[x].right;
		return x;
	}
	uint32_t p = n[x].parent;

	while (p != VMA_NIL && n[p].left == x) {
		x = p;
		p = n[p].parent;
	}
	return p;
}

static inline uint32_t vma_tree_next(const struct viova_vma *v, uint32_t x)
{
	const struct vma_node *n = v->n;

	if (n[x].right != VMA_NIL) {
		x = n[x].right;
		while (n[x].left != VMA_NIL)
			x = n[x].left;
		return x;
	}
	uint32_t p = n[x].parent;

	while (p != VMA_NIL && n[p].right == x) {
		x = p;
		p = n[p].parent;
	}
	return p;
}
/*
 * The node whose used range or hole contains @addr (start <= addr < hole end), or NIL if addr
 * is outside the heap. Never the head when a used range starts at the heap's start.
 */
uint32_t vma_tree_find(const struct viova_vma *v, uint64_t addr);
/* The exact size of the largest hole (0 if none): O(log n) unless many holes share its code. */
uint64_t vma_tree_largest_hole(const struct viova_vma *v);

/* Size tree: only when v->sl != NULL; no-ops otherwise (inline: no call on other heaps). */
void vma_size_tree_insert(struct viova_vma *v, uint32_t x);
void vma_size_tree_remove(struct viova_vma *v, uint32_t x);

static inline void vma_size_insert(struct viova_vma *v, uint32_t x)
{
	if (v->sl)
		vma_size_tree_insert(v, x);
}

static inline void vma_size_remove(struct viova_vma *v, uint32_t x)
{
	if (v->sl)
		vma_size_tree_remove(v, x);
}

/* ---- handle index (vma_handles.c) ---- */
uint32_t vma_handles_find(const struct viova_vma *v, uint32_t handle);
/* Caller guaranteed room (vma_reserve_room) and that @handle is absent. */
void vma_handles_insert(struct viova_vma *v, uint32_t handle, uint32_t node);
/* Remove @handle and return its node, or NIL (nothing done) if it is absent: one probe. */
uint32_t vma_handles_take(struct viova_vma *v, uint32_t handle);
/* Point the present entry of @handle at @node (the node moved in the arena). */
void vma_handles_rebind(struct viova_vma *v, uint32_t handle, uint32_t node);
/* Insert every entry of @old (cap @old_cap) into the empty table of @v: used when it grows. */
void vma_handles_rehash(struct viova_vma *v, const struct vma_slot *old, uint32_t old_cap);
/* Largest number of entries a table of @cap slots accepts (load factor 3/4). */
static inline uint32_t vma_handles_limit(uint32_t cap)
{
	return (uint32_t)(((uint64_t)cap * 3) / 4);
}

/* ---- checker (vma_check.c), called with the lock held ---- */
int vma_check_locked(const struct viova_vma *v, char *why, size_t why_len);

#endif

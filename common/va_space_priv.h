/* SPDX-License-Identifier: MIT */
/*
 * va_space_priv.h - internals shared by va_space.c (tree, lookups), va_space_obj.c (object links)
 * and va_space_sm.c (split/merge op lists). Not installed, not part of the API.
 */
#ifndef VIOVA_VA_SPACE_PRIV_H
#define VIOVA_VA_SPACE_PRIV_H

#include <stdint.h>

#include "viova/va_space.h"

/*
 * Node arena: one array indexed by u32, so reaching a node is one address computation (no
 * chunk table on the dependent chain of a tree descent). Growing may move it (realloc below
 * VAS_MMAP_BYTES, mremap above), so a struct vas_node pointer is only valid until the next
 * vas_reserve_nodes(); every operation reserves first and takes pointers afterwards, and links
 * are indices. Growth: doubling up to VAS_GROW_STEP nodes, then by 1/16 in whole steps. Index 0
 * is the red-black sentinel (always black); indices are 31 bit, bit 31 of `parent` is the
 * colour.
 */
#define VAS_FIRST_NODES 64u
#define VAS_GROW_STEP 1024u
#define VAS_MMAP_BYTES (1u << 20) /* arenas from 1 MiB: anonymous mapping, grown by mremap */
#define VAS_NIL 0u
#define VAS_RED 0x80000000u
#define VAS_IDX_MASK 0x7fffffffu
/* parent value of a node on the free list: no live node can have it as parent */
#define VAS_FREE_MARK 0x7fffffffu

/*
 * 56 bytes: the whole per-mapping cost apart from a share of the object hash. The fields a tree
 * descent reads (addr, range, left, right) come first so that they share a cache line more often.
 */
struct vas_node {
	uint64_t addr;
	uint64_t range;
	union {
		struct {
			uint32_t left; /* free list: next free node */
			uint32_t right;
		};
		uint32_t
		    child[2]; /* [0] left, [1] right: lets a descent pick a side without a branch */
	};
	uint32_t parent; /* bit 31: red */
	uint32_t flags;
	uint64_t obj;
	uint64_t offset;
	uint32_t onext; /* this object's mappings: doubly linked, head in the hash */
	uint32_t oprev;
};

_Static_assert(sizeof(struct vas_node) == 56, "the per-mapping budget in docs/va-space.md");

/* Object hash slot, packed to 12 bytes so one probe touches one cache line (mostly). */
struct vas_slot {
	uint64_t key;
	uint32_t head; /* first node of the object's list; VAS_NIL = empty slot */
} __attribute__((packed));

_Static_assert(sizeof(struct vas_slot) == 12, "the per-object budget in docs/va-space.md");

struct viova_va_space {
	uint64_t start, last; /* inclusive bounds of the space */
	uint64_t rsv_addr, rsv_range, rsv_last;
	uint64_t gen; /* bumped by every change: stale op lists and iterators detect it */
	uint32_t root;
	uint32_t count;
	uint32_t max_mappings;

	struct vas_node *node; /* [nalloc]: the arena */
	size_t node_bytes;     /* its size */
	bool node_mapped;      /* mmap'd (>= VAS_MMAP_BYTES), else heap */
	uint32_t nalloc;       /* nodes in the arena, sentinel included */
	uint32_t free_head, nfree;

	/* object key -> head of its mapping list; open addressing, linear probing, head 0 = empty
	 */
	struct vas_slot *hslot;
	uint32_t hcap; /* power of two, or 0 before the first object */
	uint32_t hcount;
};

static inline struct vas_node *vas_n(const struct viova_va_space *vs, uint32_t i)
{
	return &vs->node[i];
}

/* last byte of a node; a node never wraps, so this never overflows */
static inline uint64_t vas_last(const struct vas_node *n)
{
	return n->addr + (n->range - 1);
}

static inline void vas_copy_out(const struct vas_node *n, struct viova_va_mapping *m)
{
	if (!m)
		return;
	m->addr = n->addr;
	m->range = n->range;
	m->obj = n->obj;
	m->offset = n->offset;
	m->flags = n->flags;
}

/* va_space.c */
int vas_validate(const struct viova_va_space *vs, const struct viova_va_mapping *m, bool is_map,
		 struct viova_va_reject *why);
void vas_reject(struct viova_va_reject *why, enum viova_va_reason reason, uint64_t addr,
		uint64_t range);
int vas_reserve_nodes(struct viova_va_space *vs, uint32_t need);
uint32_t vas_node_take(struct viova_va_space *vs);
void vas_node_put(struct viova_va_space *vs, uint32_t i);
uint32_t vas_lower_bound(const struct viova_va_space *vs, uint64_t addr);
uint32_t vas_succ(const struct viova_va_space *vs, uint32_t x);
void vas_tree_insert(struct viova_va_space *vs, uint32_t z);
void vas_tree_link(struct viova_va_space *vs, uint32_t z, uint32_t parent, bool left);
void vas_tree_erase(struct viova_va_space *vs, uint32_t z);

/* va_space_obj.c */
uint32_t vas_obj_head(const struct viova_va_space *vs, uint64_t obj);
int vas_obj_reserve(struct viova_va_space *vs, uint64_t obj);
int vas_obj_prepare(struct viova_va_space *vs, uint64_t obj, uint32_t *slot);
void vas_obj_link(struct viova_va_space *vs, uint32_t i);
void vas_obj_link_slot(struct viova_va_space *vs, uint32_t i, uint32_t slot);
void vas_obj_unlink(struct viova_va_space *vs, uint32_t i);
uint32_t vas_obj_slot(const struct viova_va_space *vs, uint64_t obj);
void vas_obj_unlink_slot(struct viova_va_space *vs, uint32_t i, uint32_t slot);
int vas_obj_check(const struct viova_va_space *vs, char *msg, size_t len, uint32_t *linked);
void vas_obj_free(struct viova_va_space *vs);

#endif

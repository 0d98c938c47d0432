/* SPDX-License-Identifier: MIT */
/*
 * va_space.c - the address space itself: node arena, red-black tree ordered by address, range
 * validation, insert / remove / lookups / iteration, rejection messages and the debug checker.
 *
 * Mappings never overlap, so ordering nodes by start address also orders them by last byte. That
 * is what lets a plain (not augmented) balanced tree answer "first mapping intersecting [a, b]"
 * with one descent: the lowest node whose last byte is >= a either intersects or starts after b.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "va_space_priv.h"

/* ---- node arena ------------------------------------------------------------------------- */

/*
 * Resize the arena to bytes. Small arenas live on the heap (a VM with a few mappings costs no
 * kernel mapping: vm.max_map_count is shared with the sim's buffers); from VAS_MMAP_BYTES on it
 * is an anonymous mapping grown with mremap, which moves page tables instead of copying, so a
 * big space grows without copying megabytes each time.
 */
static struct vas_node *arena_resize(struct viova_va_space *vs, size_t bytes)
{
	void *p;

	if (bytes < VAS_MMAP_BYTES)
		return realloc(vs->node, bytes);
	if (vs->node_mapped) {
		p = mremap(vs->node, vs->node_bytes, bytes, MREMAP_MAYMOVE);
		return p == MAP_FAILED ? NULL : p;
	}
	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	memcpy(p, vs->node, vs->node_bytes); /* the one copy, off the heap */
	free(vs->node);
	vs->node_mapped = true;
	return p;
}

static int vas_grow(struct viova_va_space *vs)
{
	uint32_t base = vs->nalloc, add, i;
	struct vas_node *t;
	size_t bytes;

	add = base < VAS_FIRST_NODES ? VAS_FIRST_NODES
	      : base < VAS_GROW_STEP
		  ? base
		  : (base / 16 + VAS_GROW_STEP - 1) / VAS_GROW_STEP * VAS_GROW_STEP;
	if (base > VAS_IDX_MASK - add)
		return -ENOMEM;
	bytes = (size_t)(base + add) * sizeof(*t);
	if (bytes >= VAS_MMAP_BYTES) {
		/* whole pages: use the rest of the last one too */
		bytes = (bytes + 4095) & ~(size_t)4095;
		add = (uint32_t)(bytes / sizeof(*t)) - base;
		bytes = (size_t)(base + add) * sizeof(*t);
		if (base > VAS_IDX_MASK - add)
			return -ENOMEM;
	}
	/* moves the nodes: no vas_node pointer may be held across this (see va_space_priv.h) */
	t = arena_resize(vs, bytes);
	if (!t)
		return -ENOMEM;
	memset(t + base, 0, (size_t)add * sizeof(*t));
	vs->node = t;
	vs->node_bytes = bytes;
	vs->nalloc = base + add;
	/* index 0 is the sentinel, never on the free list; push in reverse so low indices go first
	 */
	for (i = add; i-- > 0;) {
		if (base + i == VAS_NIL)
			continue;
		vas_node_put(vs, base + i);
	}
	return 0;
}

/* Make sure `need` nodes can be taken without allocating. */
int vas_reserve_nodes(struct viova_va_space *vs, uint32_t need)
{
	while (vs->nfree < need) {
		int ret = vas_grow(vs);

		if (ret)
			return ret;
	}
	return 0;
}

/* Take a free node; the caller reserved it (never fails). */
uint32_t vas_node_take(struct viova_va_space *vs)
{
	uint32_t i = vs->free_head;
	struct vas_node *n = vas_n(vs, i);

	vs->free_head = n->left;
	vs->nfree--;
	memset(n, 0, sizeof(*n));
	return i;
}

void vas_node_put(struct viova_va_space *vs, uint32_t i)
{
	struct vas_node *n = vas_n(vs, i);

	memset(n, 0, sizeof(*n));
	n->parent = VAS_FREE_MARK;
	n->left = vs->free_head;
	vs->free_head = i;
	vs->nfree++;
}

/* ---- red-black tree --------------------------------------------------------------------- */

static inline uint32_t par(const struct viova_va_space *vs, uint32_t i)
{
	return vas_n(vs, i)->parent & VAS_IDX_MASK;
}

static inline void set_par(struct viova_va_space *vs, uint32_t i, uint32_t p)
{
	struct vas_node *n = vas_n(vs, i);

	n->parent = (n->parent & VAS_RED) | p;
}

static inline bool is_red(const struct viova_va_space *vs, uint32_t i)
{
	return vas_n(vs, i)->parent & VAS_RED;
}

static inline void set_red(struct viova_va_space *vs, uint32_t i)
{
	vas_n(vs, i)->parent |= VAS_RED;
}

static inline void set_black(struct viova_va_space *vs, uint32_t i)
{
	vas_n(vs, i)->parent &= ~VAS_RED;
}

/* Replace child link old -> new in the parent p (or the root). */
static void replace_child(struct viova_va_space *vs, uint32_t p, uint32_t old, uint32_t new)
{
	if (p == VAS_NIL)
		vs->root = new;
	else if (vas_n(vs, p)->left == old)
		vas_n(vs, p)->left = new;
	else
		vas_n(vs, p)->right = new;
}

static void rotate_left(struct viova_va_space *vs, uint32_t x)
{
	struct vas_node *xn = vas_n(vs, x);
	uint32_t y = xn->right;
	struct vas_node *yn = vas_n(vs, y);
	uint32_t p = par(vs, x);

	xn->right = yn->left;
	if (yn->left != VAS_NIL)
		set_par(vs, yn->left, x);
	set_par(vs, y, p);
	replace_child(vs, p, x, y);
	yn->left = x;
	set_par(vs, x, y);
}

static void rotate_right(struct viova_va_space *vs, uint32_t x)
{
	struct vas_node *xn = vas_n(vs, x);
	uint32_t y = xn->left;
	struct vas_node *yn = vas_n(vs, y);
	uint32_t p = par(vs, x);

	xn->left = yn->right;
	if (yn->right != VAS_NIL)
		set_par(vs, yn->right, x);
	set_par(vs, y, p);
	replace_child(vs, p, x, y);
	yn->right = x;
	set_par(vs, x, y);
}

/* Hang node z under parent (VAS_NIL: as the root) on the given side, then rebalance. */
void vas_tree_link(struct viova_va_space *vs, uint32_t z, uint32_t parent, bool left)
{
	struct vas_node *zn = vas_n(vs, z);

	zn->left = zn->right = VAS_NIL;
	zn->parent = parent | VAS_RED;
	if (parent == VAS_NIL)
		vs->root = z;
	else if (left)
		vas_n(vs, parent)->left = z;
	else
		vas_n(vs, parent)->right = z;

	while (is_red(vs, par(vs, z))) {
		uint32_t p = par(vs, z), g = par(vs, p), u;

		if (p == vas_n(vs, g)->left) {
			u = vas_n(vs, g)->right;
			if (is_red(vs, u)) {
				set_black(vs, p);
				set_black(vs, u);
				set_red(vs, g);
				z = g;
				continue;
			}
			if (z == vas_n(vs, p)->right) {
				z = p;
				rotate_left(vs, z);
				p = par(vs, z);
			}
			set_black(vs, p);
			set_red(vs, g);
			rotate_right(vs, g);
		} else {
			u = vas_n(vs, g)->left;
			if (is_red(vs, u)) {
				set_black(vs, p);
				set_black(vs, u);
				set_red(vs, g);
				z = g;
				continue;
			}
			if (z == vas_n(vs, p)->left) {
				z = p;
				rotate_right(vs, z);
				p = par(vs, z);
			}
			set_black(vs, p);
			set_red(vs, g);
			rotate_left(vs, g);
		}
	}
	set_black(vs, vs->root);
}

/* Link node z (addr set, not overlapping anything) into the tree. */
void vas_tree_insert(struct viova_va_space *vs, uint32_t z)
{
	uint64_t addr = vas_n(vs, z)->addr;
	uint32_t y = VAS_NIL, x = vs->root;
	bool left = false;

	while (x != VAS_NIL) {
		y = x;
		left = addr < vas_n(vs, x)->addr;
		x = left ? vas_n(vs, x)->left : vas_n(vs, x)->right;
	}
	vas_tree_link(vs, z, y, left);
}

/*
 * One descent that both finds where [addr, last] would hang and whether it overlaps a mapping.
 * It descends by addr alone; the last nodes where it turned right and left are the in-order
 * neighbours of the new node (pred: highest start below addr, succ: lowest start above it),
 * and mappings do not overlap each other, so [addr, last] is free iff pred ends before addr
 * and succ starts after last. The side is picked without a branch (it is data-dependent and
 * would mispredict half the time, as in vas_lower_bound). Returns a node that overlaps, or
 * VAS_NIL with *parent / *left set.
 */
static uint32_t insert_point(const struct viova_va_space *vs, uint64_t addr, uint64_t last,
			     uint32_t *parent, bool *left)
{
	uint32_t x = vs->root, p = VAS_NIL, pred = VAS_NIL, succ = VAS_NIL;
	bool go_left = false;

	while (x != VAS_NIL) {
		const struct vas_node *n = vas_n(vs, x);

		go_left = addr < n->addr;
		pred = go_left ? pred : x;
		succ = go_left ? x : succ;
		p = x;
		x = n->child[!go_left];
	}
	if (pred != VAS_NIL && vas_last(vas_n(vs, pred)) >= addr)
		return pred;
	if (succ != VAS_NIL && vas_n(vs, succ)->addr <= last)
		return succ;
	*parent = p;
	*left = go_left;
	return VAS_NIL;
}

/* Put v where u was (v may be the sentinel, whose parent then guides the fix-up). */
static void transplant(struct viova_va_space *vs, uint32_t u, uint32_t v)
{
	uint32_t p = par(vs, u);

	replace_child(vs, p, u, v);
	set_par(vs, v, p);
}

static uint32_t minimum(const struct viova_va_space *vs, uint32_t x)
{
	while (vas_n(vs, x)->left != VAS_NIL)
		x = vas_n(vs, x)->left;
	return x;
}

static void erase_fixup(struct viova_va_space *vs, uint32_t x)
{
	while (x != vs->root && !is_red(vs, x)) {
		uint32_t p = par(vs, x), w;

		if (x == vas_n(vs, p)->left) {
			w = vas_n(vs, p)->right;
			if (is_red(vs, w)) {
				set_black(vs, w);
				set_red(vs, p);
				rotate_left(vs, p);
				w = vas_n(vs, p)->right;
			}
			if (!is_red(vs, vas_n(vs, w)->left) && !is_red(vs, vas_n(vs, w)->right)) {
				set_red(vs, w);
				x = p;
				continue;
			}
			if (!is_red(vs, vas_n(vs, w)->right)) {
				set_black(vs, vas_n(vs, w)->left);
				set_red(vs, w);
				rotate_right(vs, w);
				w = vas_n(vs, p)->right;
			}
			if (is_red(vs, p))
				set_red(vs, w);
			else
				set_black(vs, w);
			set_black(vs, p);
			set_black(vs, vas_n(vs, w)->right);
			rotate_left(vs, p);
		} else {
			w = vas_n(vs, p)->left;
			if (is_red(vs, w)) {
				set_black(vs, w);
				set_red(vs, p);
				rotate_right(vs, p);
				w = vas_n(vs, p)->left;
			}
			if (!is_red(vs, vas_n(vs, w)->left) && !is_red(vs, vas_n(vs, w)->right)) {
				set_red(vs, w);
				x = p;
				continue;
			}
			if (!is_red(vs, vas_n(vs, w)->left)) {
				set_black(vs, vas_n(vs, w)->right);
				set_red(vs, w);
				rotate_left(vs, w);
				w = vas_n(vs, p)->left;
			}
			if (is_red(vs, p))
				set_red(vs, w);
			else
				set_black(vs, w);
			set_black(vs, p);
			set_black(vs, vas_n(vs, w)->left);
			rotate_right(vs, p);
		}
		x = vs->root;
	}
	set_black(vs, x);
}

/* Unlink node z from the tree (the node itself is left for the caller to free or reuse). */
void vas_tree_erase(struct viova_va_space *vs, uint32_t z)
{
	struct vas_node *zn = vas_n(vs, z);
	uint32_t x, y = z;
	bool y_red = is_red(vs, y);

	if (zn->left == VAS_NIL) {
		x = zn->right;
		transplant(vs, z, x);
	} else if (zn->right == VAS_NIL) {
		x = zn->left;
		transplant(vs, z, x);
	} else {
		struct vas_node *yn;

		y = minimum(vs, zn->right);
		yn = vas_n(vs, y);
		y_red = is_red(vs, y);
		x = yn->right;
		if (par(vs, y) == z) {
			set_par(vs, x, y);
		} else {
			transplant(vs, y, x);
			yn->right = zn->right;
			set_par(vs, yn->right, y);
		}
		transplant(vs, z, y);
		yn->left = zn->left;
		set_par(vs, yn->left, y);
		if (is_red(vs, z))
			set_red(vs, y);
		else
			set_black(vs, y);
	}
	if (!y_red)
		erase_fixup(vs, x);
	/* the sentinel must stay black and parentless for the next user */
	vas_n(vs, VAS_NIL)->parent = VAS_NIL;
}

/* Lowest node whose last byte is >= addr (it intersects addr or lies above it), or VAS_NIL. */
uint32_t vas_lower_bound(const struct viova_va_space *vs, uint64_t addr)
{
	uint32_t x = vs->root, best = VAS_NIL;

	/* branch-free: the side taken is data-dependent and would mispredict half the time */
	while (x != VAS_NIL) {
		const struct vas_node *n = vas_n(vs, x);
		bool below = vas_last(n) < addr;

		best = below ? best : x;
		x = n->child[below];
	}
	return best;
}

uint32_t vas_succ(const struct viova_va_space *vs, uint32_t x)
{
	uint32_t y;

	if (vas_n(vs, x)->right != VAS_NIL)
		return minimum(vs, vas_n(vs, x)->right);
	y = par(vs, x);
	while (y != VAS_NIL && x == vas_n(vs, y)->right) {
		x = y;
		y = par(vs, y);
	}
	return y;
}

/* ---- create / destroy ------------------------------------------------------------------- */

int viova_va_space_create(const struct viova_va_space_config *cfg, struct viova_va_space **out)
{
	struct viova_va_space *vs;
	int ret;

	if (!cfg || !out || cfg->range == 0 || cfg->max_mappings > VIOVA_VA_MAX_MAPPINGS)
		return -EINVAL;
	if (cfg->start + (cfg->range - 1) < cfg->start)
		return -EOVERFLOW;
	if (cfg->reserve_range) {
		uint64_t rlast = cfg->reserve_addr + (cfg->reserve_range - 1);

		if (rlast < cfg->reserve_addr)
			return -EOVERFLOW;
		if (cfg->reserve_addr < cfg->start || rlast > cfg->start + (cfg->range - 1))
			return -ERANGE;
	}
	vs = calloc(1, sizeof(*vs));
	if (!vs)
		return -ENOMEM;
	vs->start = cfg->start;
	vs->last = cfg->start + (cfg->range - 1);
	vs->rsv_addr = cfg->reserve_addr;
	vs->rsv_range = cfg->reserve_range;
	vs->rsv_last = cfg->reserve_range ? cfg->reserve_addr + (cfg->reserve_range - 1) : 0;
	vs->max_mappings = cfg->max_mappings ? cfg->max_mappings : VIOVA_VA_MAX_MAPPINGS;
	vs->root = VAS_NIL;
	/* the first nodes include the sentinel */
	ret = vas_grow(vs);
	if (ret) {
		free(vs);
		return ret;
	}
	*out = vs;
	return 0;
}

void viova_va_space_destroy(struct viova_va_space *vs)
{
	if (!vs)
		return;
	if (vs->node_mapped)
		munmap(vs->node, vs->node_bytes);
	else
		free(vs->node);
	vas_obj_free(vs);
	free(vs);
}

uint32_t viova_va_space_count(const struct viova_va_space *vs)
{
	return vs->count;
}

size_t viova_va_space_mem_bytes(const struct viova_va_space *vs)
{
	return sizeof(*vs) + vs->node_bytes + (size_t)vs->hcap * sizeof(*vs->hslot);
}

/* ---- validation ------------------------------------------------------------------------- */

static int reason_errno(enum viova_va_reason r)
{
	switch (r) {
	case VIOVA_VA_OK:
		return 0;
	case VIOVA_VA_ZERO_SIZE:
	case VIOVA_VA_BAD_SPARSE:
		return -EINVAL;
	case VIOVA_VA_WRAP:
	case VIOVA_VA_OBJ_WRAP:
		return -EOVERFLOW;
	case VIOVA_VA_OUT_OF_SPACE:
		return -ERANGE;
	case VIOVA_VA_RESERVED:
		return -EACCES;
	case VIOVA_VA_OVERLAP:
		return -EEXIST;
	case VIOVA_VA_LIMIT:
		return -ENOSPC;
	case VIOVA_VA_NOMEM:
		return -ENOMEM;
	}
	return -EINVAL;
}

void vas_reject(struct viova_va_reject *why, enum viova_va_reason reason, uint64_t addr,
		uint64_t range)
{
	if (!why)
		return;
	memset(why, 0, sizeof(*why));
	why->reason = reason;
	why->err = reason_errno(reason);
	why->addr = addr;
	why->range = range;
}

static int fail(struct viova_va_reject *why, enum viova_va_reason reason, uint64_t addr,
		uint64_t range)
{
	vas_reject(why, reason, addr, range);
	return reason_errno(reason);
}

/*
 * Everything but overlap and quota. is_map: m describes a mapping (obj/offset/flags matter);
 * otherwise only addr/range are looked at (sm_unmap).
 */
int vas_validate(const struct viova_va_space *vs, const struct viova_va_mapping *m, bool is_map,
		 struct viova_va_reject *why)
{
	uint64_t last;

	if (m->range == 0)
		return fail(why, VIOVA_VA_ZERO_SIZE, m->addr, m->range);
	if (is_map && (m->flags & VIOVA_VA_SPARSE) && (m->obj || m->offset))
		return fail(why, VIOVA_VA_BAD_SPARSE, m->addr, m->range);
	last = m->addr + (m->range - 1);
	if (last < m->addr)
		return fail(why, VIOVA_VA_WRAP, m->addr, m->range);
	if (is_map && m->offset + (m->range - 1) < m->offset)
		return fail(why, VIOVA_VA_OBJ_WRAP, m->addr, m->range);
	if (m->addr < vs->start || last > vs->last) {
		fail(why, VIOVA_VA_OUT_OF_SPACE, m->addr, m->range);
		if (why) {
			why->bound_addr = vs->start;
			why->bound_range = vs->last - vs->start + 1; /* 0 means 2^64 */
		}
		return -ERANGE;
	}
	if (vs->rsv_range && m->addr <= vs->rsv_last && vs->rsv_addr <= last) {
		fail(why, VIOVA_VA_RESERVED, m->addr, m->range);
		if (why) {
			why->bound_addr = vs->rsv_addr;
			why->bound_range = vs->rsv_range;
		}
		return -EACCES;
	}
	vas_reject(why, VIOVA_VA_OK, m->addr, m->range);
	return 0;
}

int viova_va_space_check(const struct viova_va_space *vs, const struct viova_va_mapping *m,
			 struct viova_va_reject *why)
{
	uint32_t x;
	int ret;

	ret = vas_validate(vs, m, true, why);
	if (ret)
		return ret;
	x = vas_lower_bound(vs, m->addr);
	if (x != VAS_NIL && vas_n(vs, x)->addr <= m->addr + (m->range - 1)) {
		fail(why, VIOVA_VA_OVERLAP, m->addr, m->range);
		if (why)
			vas_copy_out(vas_n(vs, x), &why->conflict);
		return -EEXIST;
	}
	if (vs->count >= vs->max_mappings) {
		fail(why, VIOVA_VA_LIMIT, m->addr, m->range);
		if (why)
			why->limit = vs->max_mappings;
		return -ENOSPC;
	}
	return 0;
}

/* ---- insert / remove -------------------------------------------------------------------- */

int viova_va_space_insert(struct viova_va_space *vs, const struct viova_va_mapping *m,
			  struct viova_va_reject *why)
{
	uint32_t i, parent, slot = 0;
	struct vas_node *n;
	bool left;
	int ret;

	/* the same checks, in the same order, as viova_va_space_check(), with one tree descent */
	ret = vas_validate(vs, m, true, why);
	if (ret)
		return ret;
	if (insert_point(vs, m->addr, m->addr + (m->range - 1), &parent, &left) != VAS_NIL)
		return viova_va_space_check(vs, m, why); /* fills in the lowest conflict */
	if (vs->count >= vs->max_mappings)
		return viova_va_space_check(vs, m, why);
	/* allocations do not touch the tree, so parent/left stay valid */
	if (!(m->flags & VIOVA_VA_SPARSE) && vas_obj_prepare(vs, m->obj, &slot))
		return fail(why, VIOVA_VA_NOMEM, m->addr, m->range);
	if (vas_reserve_nodes(vs, 1))
		return fail(why, VIOVA_VA_NOMEM, m->addr, m->range);

	i = vas_node_take(vs);
	n = vas_n(vs, i);
	n->addr = m->addr;
	n->range = m->range;
	n->obj = m->obj;
	n->offset = m->offset;
	n->flags = m->flags;
	vas_tree_link(vs, i, parent, left);
	if (!(m->flags & VIOVA_VA_SPARSE))
		vas_obj_link_slot(vs, i, slot);
	vs->count++;
	vs->gen++;
	return 0;
}

static uint32_t find_exact(const struct viova_va_space *vs, uint64_t addr, uint64_t range)
{
	uint32_t x = vs->root;

	while (x != VAS_NIL) {
		const struct vas_node *n = vas_n(vs, x);

		if (addr == n->addr)
			return n->range == range ? x : VAS_NIL;
		x = addr < n->addr ? n->left : n->right;
	}
	return VAS_NIL;
}

int viova_va_space_remove(struct viova_va_space *vs, uint64_t addr, uint64_t range,
			  struct viova_va_mapping *removed)
{
	uint32_t x;

	if (range == 0)
		return -ENOENT;
	x = find_exact(vs, addr, range);
	if (x == VAS_NIL)
		return -ENOENT;
	vas_copy_out(vas_n(vs, x), removed);
	vas_obj_unlink(vs, x);
	vas_tree_erase(vs, x);
	vas_node_put(vs, x);
	vs->count--;
	vs->gen++;
	return 0;
}

/* Drop node x (obj's, in slot s) from the list, the tree and the arena. */
static void remove_linked(struct viova_va_space *vs, uint32_t x, uint32_t s)
{
	vas_obj_unlink_slot(vs, x, s);
	vas_tree_erase(vs, x);
	vas_node_put(vs, x);
	vs->count--;
	vs->gen++;
}

int viova_va_space_obj_remove(struct viova_va_space *vs, uint64_t obj, uint64_t addr,
			      uint64_t range, struct viova_va_mapping *removed)
{
	uint32_t s, x;

	if (!vs->hcap || range == 0)
		return -ENOENT;
	s = vas_obj_slot(vs, obj);
	for (x = vs->hslot[s].head; x != VAS_NIL; x = vas_n(vs, x)->onext) {
		const struct vas_node *n = vas_n(vs, x);

		if (n->addr == addr && n->range == range)
			break;
	}
	if (x == VAS_NIL)
		return -ENOENT;
	vas_copy_out(vas_n(vs, x), removed);
	remove_linked(vs, x, s);
	return 0;
}

uint32_t viova_va_space_obj_remove_all(struct viova_va_space *vs, uint64_t obj)
{
	uint32_t s, x, n = 0;

	if (!vs->hcap)
		return 0;
	s = vas_obj_slot(vs, obj);
	/* removing the head keeps s valid until the last one deletes the slot */
	while ((x = vs->hslot[s].head) != VAS_NIL) {
		bool last = vas_n(vs, x)->onext == VAS_NIL;

		remove_linked(vs, x, s);
		n++;
		if (last)
			break;
	}
	return n;
}

/* ---- lookups ---------------------------------------------------------------------------- */

static bool range_last(uint64_t addr, uint64_t range, uint64_t *last)
{
	if (range == 0)
		return false;
	*last = addr + (range - 1);
	return *last >= addr;
}

int viova_va_space_find(const struct viova_va_space *vs, uint64_t addr, uint64_t range,
			struct viova_va_mapping *out)
{
	uint32_t x;

	if (range == 0)
		return -ENOENT;
	x = find_exact(vs, addr, range);
	if (x == VAS_NIL)
		return -ENOENT;
	vas_copy_out(vas_n(vs, x), out);
	return 0;
}

int viova_va_space_find_first(const struct viova_va_space *vs, uint64_t addr, uint64_t range,
			      struct viova_va_mapping *out)
{
	uint64_t last;
	uint32_t x;

	if (!range_last(addr, range, &last))
		return -ENOENT;
	x = vas_lower_bound(vs, addr);
	if (x == VAS_NIL || vas_n(vs, x)->addr > last)
		return -ENOENT;
	vas_copy_out(vas_n(vs, x), out);
	return 0;
}

int viova_va_space_find_prev(const struct viova_va_space *vs, uint64_t start,
			     struct viova_va_mapping *out)
{
	uint32_t x;

	if (start == 0)
		return -ENOENT;
	x = vas_lower_bound(vs, start - 1);
	if (x == VAS_NIL || vas_last(vas_n(vs, x)) != start - 1)
		return -ENOENT;
	vas_copy_out(vas_n(vs, x), out);
	return 0;
}

int viova_va_space_find_next(const struct viova_va_space *vs, uint64_t end,
			     struct viova_va_mapping *out)
{
	uint32_t x = vas_lower_bound(vs, end);

	if (x == VAS_NIL || vas_n(vs, x)->addr != end)
		return -ENOENT;
	vas_copy_out(vas_n(vs, x), out);
	return 0;
}

bool viova_va_space_interval_empty(const struct viova_va_space *vs, uint64_t addr, uint64_t range)
{
	uint64_t last;
	uint32_t x;

	if (!range_last(addr, range, &last))
		return true;
	if (vs->rsv_range && addr <= vs->rsv_last && vs->rsv_addr <= last)
		return false;
	x = vas_lower_bound(vs, addr);
	return x == VAS_NIL || vas_n(vs, x)->addr > last;
}

/* ---- iteration -------------------------------------------------------------------------- */

void viova_va_space_iter_range(const struct viova_va_space *vs, struct viova_va_iter *it,
			       uint64_t addr, uint64_t range)
{
	memset(it, 0, sizeof(*it));
	it->vs = vs;
	it->gen = vs->gen;
	if (!range_last(addr, range, &it->last))
		return; /* node stays VAS_NIL: nothing to visit */
	it->node = vas_lower_bound(vs, addr);
}

void viova_va_space_iter_obj(const struct viova_va_space *vs, struct viova_va_iter *it,
			     uint64_t obj)
{
	memset(it, 0, sizeof(*it));
	it->vs = vs;
	it->gen = vs->gen;
	it->by_obj = 1;
	it->node = vas_obj_head(vs, obj);
}

bool viova_va_iter_next(struct viova_va_iter *it, struct viova_va_mapping *out)
{
	const struct viova_va_space *vs = it->vs;
	const struct vas_node *n;

	if (it->gen != vs->gen) {
		it->err = -ESTALE;
		it->node = VAS_NIL;
		return false;
	}
	if (it->node == VAS_NIL)
		return false;
	n = vas_n(vs, it->node);
	if (it->by_obj) {
		vas_copy_out(n, out);
		it->node = n->onext;
		return true;
	}
	if (n->addr > it->last) {
		it->node = VAS_NIL;
		return false;
	}
	vas_copy_out(n, out);
	it->node = vas_succ(vs, it->node);
	return true;
}

/* ---- messages --------------------------------------------------------------------------- */

const char *viova_va_reason_name(enum viova_va_reason reason)
{
	switch (reason) {
	case VIOVA_VA_OK:
		return "ok";
	case VIOVA_VA_ZERO_SIZE:
		return "zero-size";
	case VIOVA_VA_BAD_SPARSE:
		return "bad-sparse";
	case VIOVA_VA_WRAP:
		return "wrap";
	case VIOVA_VA_OBJ_WRAP:
		return "object-wrap";
	case VIOVA_VA_OUT_OF_SPACE:
		return "out-of-space";
	case VIOVA_VA_RESERVED:
		return "reserved";
	case VIOVA_VA_OVERLAP:
		return "overlap";
	case VIOVA_VA_LIMIT:
		return "limit";
	case VIOVA_VA_NOMEM:
		return "no-memory";
	}
	return "unknown";
}

int viova_va_reject_format(const struct viova_va_reject *why, const char *obj_noun, char *buf,
			   size_t len)
{
	const char *noun = obj_noun ? obj_noun : "object";
	uint64_t a = why->addr, r = why->range;
	const struct viova_va_mapping *c = &why->conflict;

	switch (why->reason) {
	case VIOVA_VA_OK:
		return snprintf(buf, len, "range 0x%" PRIx64 "+0x%" PRIx64 " is acceptable", a, r);
	case VIOVA_VA_ZERO_SIZE:
		return snprintf(
		    buf, len, "range 0x%" PRIx64 "+0x0 is empty: give a size of at least one page",
		    a);
	case VIOVA_VA_BAD_SPARSE:
		return snprintf(buf, len,
				"sparse range 0x%" PRIx64 "+0x%" PRIx64
				" names a %s or an offset: a sparse mapping has no backing, pass 0 "
				"for both",
				a, r, noun);
	case VIOVA_VA_WRAP:
		return snprintf(
		    buf, len,
		    "range 0x%" PRIx64 "+0x%" PRIx64
		    " wraps past the top of the 64-bit address space: shrink or move it",
		    a, r);
	case VIOVA_VA_OBJ_WRAP:
		return snprintf(buf, len,
				"range 0x%" PRIx64 "+0x%" PRIx64
				": its %s offset plus size wraps past 2^64: fix the offset",
				a, r, noun);
	case VIOVA_VA_OUT_OF_SPACE:
		return snprintf(buf, len,
				"range 0x%" PRIx64 "+0x%" PRIx64
				" is outside the address space 0x%" PRIx64 "+0x%" PRIx64
				": choose a range inside it",
				a, r, why->bound_addr, why->bound_range);
	case VIOVA_VA_RESERVED:
		return snprintf(buf, len,
				"range 0x%" PRIx64 "+0x%" PRIx64
				" overlaps the reserved region 0x%" PRIx64 "+0x%" PRIx64
				": choose a range outside it",
				a, r, why->bound_addr, why->bound_range);
	case VIOVA_VA_OVERLAP:
		if (c->flags & VIOVA_VA_SPARSE)
			return snprintf(buf, len,
					"range 0x%" PRIx64 "+0x%" PRIx64
					" overlaps sparse mapping at 0x%" PRIx64 "+0x%" PRIx64
					": unmap it first or choose a free range",
					a, r, c->addr, c->range);
		return snprintf(buf, len,
				"range 0x%" PRIx64 "+0x%" PRIx64 " overlaps mapping of %s %" PRIu64
				" at 0x%" PRIx64 "+0x%" PRIx64
				": unmap it first or choose a free range",
				a, r, noun, c->obj, c->addr, c->range);
	case VIOVA_VA_LIMIT:
		return snprintf(buf, len,
				"range 0x%" PRIx64 "+0x%" PRIx64
				" would exceed the limit of %u mappings: unmap something first or "
				"raise the quota",
				a, r, why->limit);
	case VIOVA_VA_NOMEM:
		return snprintf(buf, len,
				"range 0x%" PRIx64 "+0x%" PRIx64
				": out of memory for the mapping: free memory and retry",
				a, r);
	}
	return snprintf(buf, len, "range 0x%" PRIx64 "+0x%" PRIx64 ": unknown reason %d", a, r,
			(int)why->reason);
}

/* ---- debug checker ---------------------------------------------------------------------- */

struct walk {
	const struct viova_va_space *vs;
	char *msg;
	size_t len;
	uint32_t seen;
	uint32_t sparse;
	bool have_prev;
	uint64_t prev_last;
};

#define BAD(w, ...)                                                                                \
	do {                                                                                       \
		if ((w)->msg)                                                                      \
			snprintf((w)->msg, (w)->len, __VA_ARGS__);                                 \
		return -EUCLEAN;                                                                   \
	} while (0)

/* In-order walk: returns the black height of the subtree at x, or -EUCLEAN. depth bounds runaway.
 */
static int walk(struct walk *w, uint32_t x, uint32_t parent, unsigned int depth)
{
	const struct viova_va_space *vs = w->vs;
	const struct vas_node *n;
	int lh, rh;

	if (x == VAS_NIL)
		return 1;
	if (x >= vs->nalloc)
		BAD(w, "node %u out of arena (%u nodes)", x, vs->nalloc);
	if (depth > 2 * 32)
		BAD(w, "tree deeper than %u at node %u: loop or imbalance", depth, x);
	n = vas_n(vs, x);
	if (n->parent == VAS_FREE_MARK)
		BAD(w, "node %u is in the tree and on the free list", x);
	if ((n->parent & VAS_IDX_MASK) != parent)
		BAD(w, "node %u: parent link %u, expected %u", x, n->parent & VAS_IDX_MASK, parent);
	if (is_red(vs, x) && is_red(vs, parent))
		BAD(w, "red node %u has a red parent %u", x, parent);

	lh = walk(w, n->left, x, depth + 1);
	if (lh < 0)
		return lh;

	if (n->range == 0)
		BAD(w, "mapping at 0x%" PRIx64 " has size 0", n->addr);
	if (vas_last(n) < n->addr)
		BAD(w, "mapping 0x%" PRIx64 "+0x%" PRIx64 " wraps", n->addr, n->range);
	if (n->addr < vs->start || vas_last(n) > vs->last)
		BAD(w, "mapping 0x%" PRIx64 "+0x%" PRIx64 " outside the space", n->addr, n->range);
	if (vs->rsv_range && n->addr <= vs->rsv_last && vs->rsv_addr <= vas_last(n))
		BAD(w, "mapping 0x%" PRIx64 "+0x%" PRIx64 " in the reserved region", n->addr,
		    n->range);
	if (w->have_prev && n->addr <= w->prev_last)
		BAD(w,
		    "mapping 0x%" PRIx64 " out of order or overlapping (previous ends 0x%" PRIx64
		    ")",
		    n->addr, w->prev_last);
	if (n->offset + (n->range - 1) < n->offset)
		BAD(w, "mapping 0x%" PRIx64 ": object offset wraps", n->addr);
	if (n->flags & VIOVA_VA_SPARSE) {
		if (n->obj || n->offset || n->onext || n->oprev)
			BAD(w, "sparse mapping 0x%" PRIx64 " has an object or object links",
			    n->addr);
		w->sparse++;
	} else if (vas_obj_head(vs, n->obj) == VAS_NIL) {
		BAD(w, "mapping 0x%" PRIx64 " of object %" PRIu64 " missing from the object hash",
		    n->addr, n->obj);
	}
	w->have_prev = true;
	w->prev_last = vas_last(n);
	w->seen++;

	rh = walk(w, n->right, x, depth + 1);
	if (rh < 0)
		return rh;
	if (lh != rh)
		BAD(w, "node %u: black heights differ (%d left, %d right)", x, lh, rh);
	return lh + (is_red(vs, x) ? 0 : 1);
}

int viova_va_space_debug_check(const struct viova_va_space *vs, char *msg, size_t len)
{
	struct walk w = {.vs = vs, .msg = msg, .len = len};
	uint32_t i, nfree = 0, linked = 0;
	int ret;

	if (msg && len)
		msg[0] = '\0';
	if (vas_n(vs, VAS_NIL)->parent & VAS_RED)
		BAD(&w, "sentinel is red");
	if (is_red(vs, vs->root))
		BAD(&w, "root %u is red", vs->root);
	if (vs->root != VAS_NIL && par(vs, vs->root) != VAS_NIL)
		BAD(&w, "root %u has a parent", vs->root);
	ret = walk(&w, vs->root, VAS_NIL, 0);
	if (ret < 0)
		return ret;
	if (w.seen != vs->count)
		BAD(&w, "tree holds %u mappings, count says %u", w.seen, vs->count);
	if (vs->count > vs->max_mappings)
		BAD(&w, "%u mappings exceed the limit %u", vs->count, vs->max_mappings);
	for (i = vs->free_head; i != VAS_NIL; i = vas_n(vs, i)->left) {
		if (i >= vs->nalloc || vas_n(vs, i)->parent != VAS_FREE_MARK || nfree > vs->nalloc)
			BAD(&w, "free list corrupt at node %u", i);
		nfree++;
	}
	if (nfree != vs->nfree)
		BAD(&w, "free list holds %u nodes, nfree says %u", nfree, vs->nfree);
	if (1 + vs->count + vs->nfree != vs->nalloc)
		BAD(&w, "node accounting: 1 + %u live + %u free != %u allocated", vs->count,
		    vs->nfree, vs->nalloc);
	ret = vas_obj_check(vs, msg, len, &linked);
	if (ret)
		return ret;
	if (linked + w.sparse != vs->count)
		BAD(&w, "object lists hold %u mappings, %u sparse, %u live", linked, w.sparse,
		    vs->count);
	return 0;
}

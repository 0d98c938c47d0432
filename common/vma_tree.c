// SPDX-License-Identifier: MIT
/*
 * vma_tree.c - the two AVL trees of a heap, linked by u32 indices inside the node arena.
 *
 * Address tree: every segment (hole, allocation, reservation) ordered by start. Each node keeps
 * max_hole, the largest hole in its subtree, which lets placement skip whole subtrees that
 * cannot hold a request (vma.c). Size tree (BEST_FIT heaps only): holes ordered by (size, start),
 * links in the parallel vma_slinks array.
 *
 * Both trees have parent links, so a change made at a known node (a hole shrinks, an
 * allocation turns into a hole) is repaired by walking up from that node, and the walk stops as
 * soon as a subtree's height and max_hole come out unchanged: above that point nothing can
 * differ. Most updates therefore touch O(1) nodes; the worst case is the height, O(log n).
 *
 * Node 0 is NIL: height 0, max_hole 0, never written, so children can be read without checks.
 */
#include <string.h>

#include "vma_priv.h"

enum tree_id { T_ADDR, T_SIZE };

static inline uint32_t *lnk_left(struct viova_vma *v, enum tree_id t, uint32_t i)
{
	return t == T_ADDR ? &v->n[i].left : &v->sl[i].left;
}

static inline uint32_t *lnk_right(struct viova_vma *v, enum tree_id t, uint32_t i)
{
	return t == T_ADDR ? &v->n[i].right : &v->sl[i].right;
}

static inline uint32_t *lnk_parent(struct viova_vma *v, enum tree_id t, uint32_t i)
{
	return t == T_ADDR ? &v->n[i].parent : &v->sl[i].parent;
}

static inline uint8_t *lnk_height(struct viova_vma *v, enum tree_id t, uint32_t i)
{
	return t == T_ADDR ? &v->n[i].height : &v->sl[i].height;
}

static inline int16_t *lnk_lvl(struct viova_vma *v, enum tree_id t, uint32_t i)
{
	return t == T_ADDR ? v->n[i].lvl : v->sl[i].lvl;
}

static inline uint32_t *root_of(struct viova_vma *v, enum tree_id t)
{
	return t == T_ADDR ? &v->r->root : &v->r->sroot;
}

static inline uint8_t height(struct viova_vma *v, enum tree_id t, uint32_t i)
{
	return *lnk_height(v, t, i);
}

static inline uint64_t max3(uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t m = a > b ? a : b;

	return m > c ? m : c;
}

/* Eight level codes as one SSE2 register (GCC / clang vector extension, no intrinsics). */
typedef int16_t lvl_vec __attribute__((vector_size(16)));

static inline lvl_vec lvl_load(const int16_t *p)
{
	lvl_vec v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline lvl_vec lvl_max(lvl_vec a, lvl_vec b)
{
	lvl_vec gt = a > b;

	return (a & gt) | (b & ~gt);
}

static inline bool lvl_ge(lvl_vec a, lvl_vec b) /* a >= b in every lane */
{
	lvl_vec lt = a < b;
	uint64_t w[2];

	memcpy(w, &lt, sizeof(w));
	return !(w[0] | w[1]);
}

/*
 * Recompute height, lvl[] (and max_hole for the address tree) of @i from its own fields and its
 * children's stored values. Returns whether any stored value changed; *grew tells whether the
 * new aggregates are >= the old ones in every component.
 */
static inline bool update_full(struct viova_vma *v, enum tree_id t, uint32_t i, bool *grew)
{
	uint32_t l = *lnk_left(v, t, i), r = *lnk_right(v, t, i);
	uint8_t hl = height(v, t, l), hr = height(v, t, r);
	uint8_t h = (uint8_t)(1 + (hl > hr ? hl : hr));
	int16_t *d = lnk_lvl(v, t, i);
	lvl_vec old = lvl_load(d);
	lvl_vec m = lvl_max(lvl_load(lnk_lvl(v, t, l)), lvl_load(lnk_lvl(v, t, r)));
	bool changed = *lnk_height(v, t, i) != h;

	*lnk_height(v, t, i) = h;
	if (v->n[i].kind == VMA_HOLE) {
		int16_t own[VMA_LEVELS];

		vma_own_levels(v->r, &v->n[i], own);
		m = lvl_max(m, lvl_load(own));
	}
	changed |= memcmp(d, &m, sizeof(m)) != 0;
	*grew = lvl_ge(m, old);
	memcpy(d, &m, sizeof(m));
	if (t == T_ADDR) {
		struct vma_node *x = &v->n[i];
		uint64_t mh =
		    max3(x->kind == VMA_HOLE ? x->size : 0, v->n[l].max_hole, v->n[r].max_hole);

		changed |= x->max_hole != mh;
		*grew &= mh >= x->max_hole;
		x->max_hole = mh;
	}
	return changed;
}

static inline bool update(struct viova_vma *v, enum tree_id t, uint32_t i)
{
	bool grew;

	return update_full(v, t, i, &grew);
}

/*
 * update_full() for a node whose own fields did not change and whose children's aggregates
 * can only have grown: the new aggregate is max(stored, children), without recomputing the
 * node's own levels (the costly part for a hole).
 */
static inline bool update_grow(struct viova_vma *v, enum tree_id t, uint32_t i)
{
	uint32_t l = *lnk_left(v, t, i), r = *lnk_right(v, t, i);
	uint8_t hl = height(v, t, l), hr = height(v, t, r);
	uint8_t h = (uint8_t)(1 + (hl > hr ? hl : hr));
	int16_t *d = lnk_lvl(v, t, i);
	lvl_vec m =
	    lvl_max(lvl_load(d), lvl_max(lvl_load(lnk_lvl(v, t, l)), lvl_load(lnk_lvl(v, t, r))));
	bool changed = *lnk_height(v, t, i) != h;

	*lnk_height(v, t, i) = h;
	changed |= memcmp(d, &m, sizeof(m)) != 0;
	memcpy(d, &m, sizeof(m));
	if (t == T_ADDR) {
		struct vma_node *x = &v->n[i];
		uint64_t mh = max3(x->max_hole, v->n[l].max_hole, v->n[r].max_hole);

		changed |= x->max_hole != mh;
		x->max_hole = mh;
	}
	return changed;
}

/* Make @parent (or the root when NIL) point at @new instead of @old. */
static inline void replace_child(struct viova_vma *v, enum tree_id t, uint32_t parent, uint32_t old,
				 uint32_t new)
{
	if (parent == VMA_NIL)
		*root_of(v, t) = new;
	else if (*lnk_left(v, t, parent) == old)
		*lnk_left(v, t, parent) = new;
	else
		*lnk_right(v, t, parent) = new;
	if (new != VMA_NIL)
		*lnk_parent(v, t, new) = parent;
}

/*
 *      x                y
 *     / \              / \
 *    a   y     =>     x   c
 *       / \          / \
 *      b   c        a   b
 */
static uint32_t rotate_left(struct viova_vma *v, enum tree_id t, uint32_t x)
{
	uint32_t y = *lnk_right(v, t, x);
	uint32_t b = *lnk_left(v, t, y);

	replace_child(v, t, *lnk_parent(v, t, x), x, y);
	*lnk_right(v, t, x) = b;
	if (b != VMA_NIL)
		*lnk_parent(v, t, b) = x;
	*lnk_left(v, t, y) = x;
	*lnk_parent(v, t, x) = y;
	update(v, t, x);
	update(v, t, y);
	return y;
}

/* Mirror of rotate_left. */
static uint32_t rotate_right(struct viova_vma *v, enum tree_id t, uint32_t x)
{
	uint32_t y = *lnk_left(v, t, x);
	uint32_t b = *lnk_right(v, t, y);

	replace_child(v, t, *lnk_parent(v, t, x), x, y);
	*lnk_left(v, t, x) = b;
	if (b != VMA_NIL)
		*lnk_parent(v, t, b) = x;
	*lnk_right(v, t, y) = x;
	*lnk_parent(v, t, x) = y;
	update(v, t, x);
	update(v, t, y);
	return y;
}

/* Rotate at @x, whose children differ in height by 2; returns the subtree's new root. */
static uint32_t rotate_balance(struct viova_vma *v, enum tree_id t, uint32_t x, int bf)
{
	uint32_t l = *lnk_left(v, t, x), r = *lnk_right(v, t, x);

	if (bf > 1) {
		if (height(v, t, *lnk_left(v, t, l)) < height(v, t, *lnk_right(v, t, l)))
			rotate_left(v, t, l);
		return rotate_right(v, t, x);
	}
	if (height(v, t, *lnk_right(v, t, r)) < height(v, t, *lnk_left(v, t, r)))
		rotate_right(v, t, r);
	return rotate_left(v, t, x);
}

/*
 * Walk from @i to the root, rebalancing and recomputing. Stops early once a subtree root's
 * (height, max_hole, lvl[]) equal what was stored before: the ancestors were computed from
 * exactly those values. Callers must therefore fix up every node whose own fields they changed.
 * No early stop happens before @barrier (a node on the way up; NIL = none) has been recomputed:
 * tree_remove() needs that for the node it moved.
 */
static void fix_up_from(struct viova_vma *v, enum tree_id t, uint32_t i, uint32_t barrier)
{
	/* The first node and the barrier changed their own fields; above them only children did. */
	bool own_changed = true, child_grew = false;

	while (i != VMA_NIL) {
		bool passed = barrier == VMA_NIL || barrier == i;
		int bf =
		    (int)height(v, t, *lnk_left(v, t, i)) - (int)height(v, t, *lnk_right(v, t, i));
		uint32_t top = i;
		bool changed, grew = true;

		if (barrier == i)
			own_changed = true;
		if (bf > 1 || bf < -1) {
			uint8_t old_h = height(v, t, i);
			uint64_t old_max = t == T_ADDR ? v->n[i].max_hole : 0;
			lvl_vec old_lvl = lvl_load(lnk_lvl(v, t, i));

			top = rotate_balance(v, t, i, bf);
			lvl_vec now = lvl_load(lnk_lvl(v, t, top));

			changed = height(v, t, top) != old_h ||
				  (t == T_ADDR && v->n[top].max_hole != old_max) ||
				  memcmp(&now, &old_lvl, sizeof(now));
			grew =
			    lvl_ge(now, old_lvl) && (t != T_ADDR || v->n[top].max_hole >= old_max);
		} else if (!own_changed && child_grew) {
			changed = update_grow(v, t, i);
		} else {
			changed = update_full(v, t, i, &grew);
		}
		own_changed = false;
		child_grew = grew;
		if (passed)
			barrier = VMA_NIL;
		if (passed && !changed)
			return;
		i = *lnk_parent(v, t, top);
	}
}

static void fix_up(struct viova_vma *v, enum tree_id t, uint32_t i)
{
	fix_up_from(v, t, i, VMA_NIL);
}

static void init_leaf(struct viova_vma *v, enum tree_id t, uint32_t x, uint32_t parent)
{
	*lnk_left(v, t, x) = VMA_NIL;
	*lnk_right(v, t, x) = VMA_NIL;
	*lnk_parent(v, t, x) = parent;
	*lnk_height(v, t, x) = 1;
	vma_own_levels(v->r, &v->n[x], lnk_lvl(v, t, x));
	if (t == T_ADDR)
		v->n[x].max_hole = v->n[x].kind == VMA_HOLE ? v->n[x].size : 0;
}

static uint32_t leftmost(struct viova_vma *v, enum tree_id t, uint32_t i)
{
	while (*lnk_left(v, t, i) != VMA_NIL)
		i = *lnk_left(v, t, i);
	return i;
}

/*
 * Unlink @z; @barrier (NIL or an ancestor of z whose own fields changed) is recomputed on the
 * way up. With two children, z's in-order successor y (leftmost of z's right subtree) is
 * spliced out and put in z's place, so node identities never change (the handle index and the
 * other tree refer to nodes by index).
 */
static void tree_remove(struct viova_vma *v, enum tree_id t, uint32_t z, uint32_t barrier)
{
	uint32_t zl = *lnk_left(v, t, z), zr = *lnk_right(v, t, z);
	uint32_t zp = *lnk_parent(v, t, z);
	uint32_t start;

	if (zl == VMA_NIL || zr == VMA_NIL) {
		replace_child(v, t, zp, z, zl != VMA_NIL ? zl : zr);
		fix_up_from(v, t, zp, barrier);
		return;
	}

	uint32_t y = leftmost(v, t, zr);

	if (*lnk_parent(v, t, y) != z) {
		uint32_t yp = *lnk_parent(v, t, y), yr = *lnk_right(v, t, y);

		*lnk_left(v, t, yp) = yr;
		if (yr != VMA_NIL)
			*lnk_parent(v, t, yr) = yp;
		*lnk_right(v, t, y) = zr;
		*lnk_parent(v, t, zr) = y;
		start = yp;
	} else {
		start = y;
	}
	*lnk_left(v, t, y) = zl;
	*lnk_parent(v, t, zl) = y;
	replace_child(v, t, zp, z, y);
	/*
	 * y now stands where z stood: give it z's old values, which are what z's parent was
	 * computed from, so that the early stop above y stays valid; below y it must not stop,
	 * or y would keep aggregates that still count z.
	 */
	*lnk_height(v, t, y) = *lnk_height(v, t, z);
	memcpy(lnk_lvl(v, t, y), lnk_lvl(v, t, z), sizeof(int16_t) * VMA_LEVELS);
	if (t == T_ADDR)
		v->n[y].max_hole = v->n[z].max_hole;
	fix_up_from(v, t, start, barrier != VMA_NIL ? barrier : y); /* barrier is above y */
}

static uint32_t tree_next(struct viova_vma *v, enum tree_id t, uint32_t x)
{
	if (*lnk_right(v, t, x) != VMA_NIL)
		return leftmost(v, t, *lnk_right(v, t, x));
	uint32_t p = *lnk_parent(v, t, x);

	while (p != VMA_NIL && *lnk_right(v, t, p) == x) {
		x = p;
		p = *lnk_parent(v, t, p);
	}
	return p;
}

/* ---- address tree ---- */

void vma_tree_fix_up(struct viova_vma *v, uint32_t i)
{
	fix_up(v, T_ADDR, i);
}

void vma_tree_insert_root(struct viova_vma *v, uint32_t x)
{
	init_leaf(v, T_ADDR, x, VMA_NIL);
	v->r->root = x;
}

void vma_tree_insert_after(struct viova_vma *v, uint32_t after, uint32_t x)
{
	uint32_t p;

	if (v->n[after].right == VMA_NIL) {
		p = after;
		v->n[p].right = x;
	} else {
		p = leftmost(v, T_ADDR, v->n[after].right);
		v->n[p].left = x;
	}
	init_leaf(v, T_ADDR, x, p);
	fix_up_from(v, T_ADDR, p, after);
}

void vma_tree_remove(struct viova_vma *v, uint32_t x, uint32_t ancestor)
{
	tree_remove(v, T_ADDR, x, ancestor);
}

uint32_t vma_tree_next(const struct viova_vma *v, uint32_t x)
{
	return tree_next((struct viova_vma *)v, T_ADDR, x);
}

uint32_t vma_tree_prev(const struct viova_vma *v, uint32_t x)
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

uint32_t vma_tree_find(const struct viova_vma *v, uint64_t addr)
{
	const struct vma_node *n = v->n;
	uint32_t i = v->r->root;

	while (i != VMA_NIL) {
		if (addr < n[i].start)
			i = n[i].left;
		else if (addr - n[i].start >= n[i].size)
			i = n[i].right;
		else
			return i;
	}
	return VMA_NIL;
}

/* ---- size tree ---- */

static inline bool size_less(const struct vma_node *a, const struct vma_node *b)
{
	return a->size < b->size || (a->size == b->size && a->start < b->start);
}

void vma_size_insert(struct viova_vma *v, uint32_t x)
{
	if (!v->sl)
		return;

	uint32_t p = VMA_NIL, i = v->r->sroot;
	bool left = false;

	while (i != VMA_NIL) {
		p = i;
		left = size_less(&v->n[x], &v->n[i]);
		i = left ? v->sl[i].left : v->sl[i].right;
	}
	init_leaf(v, T_SIZE, x, p);
	if (p == VMA_NIL) {
		v->r->sroot = x;
		return;
	}
	if (left)
		v->sl[p].left = x;
	else
		v->sl[p].right = x;
	fix_up(v, T_SIZE, p);
}

void vma_size_remove(struct viova_vma *v, uint32_t x)
{
	if (v->sl)
		tree_remove(v, T_SIZE, x, VMA_NIL);
}

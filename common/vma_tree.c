// SPDX-License-Identifier: MIT
/*
 * vma_tree.c - the two AVL trees of a heap, linked by u32 indices inside the node arena.
 *
 * Address tree: every node (a used range and the hole after it, or the head) ordered by start.
 * Each node keeps lvl[], the largest hole of its subtree (lvl[0]) and the most it offers at seven
 * larger alignments, which lets placement skip whole subtrees that cannot hold a request
 * (vma.c). Size tree (BEST_FIT heaps only): the nodes with a non-empty hole, ordered by (hole,
 * hole start), links in the parallel vma_slinks array.
 *
 * Both trees have parent links, so a change made at a known node (a hole shrinks, an
 * allocation turns into a hole) is repaired by walking up from that node, and the walk stops as
 * soon as a subtree's height and lvl[] come out unchanged: above that point nothing can
 * differ. Most updates therefore touch O(1) nodes; the worst case is the height, O(log n).
 *
 * Node 0 is NIL: height 0, lvl[] 0, never written, so children can be read without checks.
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

/* Eight level codes as one SSE2 register (GCC / clang vector extension, no intrinsics). */
typedef int16_t lvl_vec __attribute__((vector_size(16)));

static inline lvl_vec lvl_load(const int16_t *p)
{
	lvl_vec v;

	memcpy(&v, p, sizeof(v));
	return v;
}

#ifdef __SSE2__
#include <emmintrin.h>

/* pmaxsw / pcmpgtw + pmovmskb: GCC does not turn the generic select below into them. */
static inline lvl_vec lvl_max(lvl_vec a, lvl_vec b)
{
	return (lvl_vec)_mm_max_epi16((__m128i)a, (__m128i)b);
}

static inline bool lvl_eq(lvl_vec a, lvl_vec b)
{
	return _mm_movemask_epi8(_mm_cmpeq_epi16((__m128i)a, (__m128i)b)) == 0xffff;
}
#else
static inline lvl_vec lvl_max(lvl_vec a, lvl_vec b)
{
	lvl_vec gt = a > b;

	return (a & gt) | (b & ~gt);
}

static inline bool lvl_eq(lvl_vec a, lvl_vec b)
{
	return memcmp(&a, &b, sizeof(a)) == 0;
}
#endif

/*
 * Recompute height and lvl[] of address-tree node @i from its children's stored values and its
 * hole's cached own levels (vma_hole_refresh): two pmaxsw and one compare, whatever the node.
 * Returns whether the stored height or lvl[] changed. The node array comes in a local: through v->n
 * every store of the uint8_t height (a character type, which may alias anything) forced the
 * compiler to reload the array pointer.
 */
static inline bool addr_update(struct vma_node *n, uint32_t i)
{
	struct vma_node *x = &n[i];
	const struct vma_node *a = &n[x->left], *b = &n[x->right];
	uint8_t h = (uint8_t)(1 + (a->height > b->height ? a->height : b->height));
	lvl_vec m = lvl_max(lvl_max(lvl_load(a->lvl), lvl_load(b->lvl)), lvl_load(x->own));
	bool changed = x->height != h || !lvl_eq(m, lvl_load(x->lvl));

	x->height = h;
	memcpy(x->lvl, &m, sizeof(m));
	return changed;
}

/* addr_update() for the size tree: links and aggregates in @sl, own levels in @n. */
static inline bool size_update(struct vma_slinks *sl, const struct vma_node *n, uint32_t i)
{
	struct vma_slinks *x = &sl[i];
	const struct vma_slinks *a = &sl[x->left], *b = &sl[x->right];
	uint8_t h = (uint8_t)(1 + (a->height > b->height ? a->height : b->height));
	lvl_vec m = lvl_max(lvl_max(lvl_load(a->lvl), lvl_load(b->lvl)), lvl_load(n[i].own));
	bool changed = x->height != h || !lvl_eq(m, lvl_load(x->lvl));

	x->height = h;
	memcpy(x->lvl, &m, sizeof(m));
	return changed;
}

static inline bool update(struct viova_vma *v, enum tree_id t, uint32_t i)
{
	return t == T_ADDR ? addr_update(v->n, i) : size_update(v->sl, v->n, i);
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

/* Rebalance at @i (balance factor @bf, +-2); returns whether the subtree's top changed. */
static bool rebalance(struct viova_vma *v, enum tree_id t, uint32_t *i, int bf)
{
	uint8_t old_h = height(v, t, *i);
	lvl_vec old_lvl = lvl_load(lnk_lvl(v, t, *i));

	*i = rotate_balance(v, t, *i, bf);
	return height(v, t, *i) != old_h || !lvl_eq(lvl_load(lnk_lvl(v, t, *i)), old_lvl);
}

/*
 * Walk from @i to the root, rebalancing and recomputing. Stops early once a subtree root's
 * (height, lvl[]) equal what was stored before: the ancestors were computed from exactly those
 * values. Callers must therefore fix up every node whose own fields they changed. No early stop
 * happens before @barrier (a node on the way up; NIL = none) has been recomputed: tree_remove()
 * needs that for the node it moved.
 *
 * Every step recomputes its node in full (children + own levels): two pmaxsw, cheaper than
 * tracking which nodes could take a "children only grew" step instead (measured: 2 294 -> 2 155
 * instructions per high_to_low pair at 1e5 when that tracking was removed).
 *
 * The walk runs in two phases: up to the barrier without looking at "changed", then with the
 * early stop and nothing else; one loop testing "barrier passed?" on every step cost 35-115
 * instructions more per alloc+free pair at 1e5 for all strategies but RELOC (docs/allocator.md,
 * version 5).
 *
 * This is the address tree's walk, with the node array in a local (see addr_update);
 * size_fix_up_from() is the same for the size tree. addr_step() is one step at *i (rebalancing
 * moves *i to the subtree's new root).
 */
static inline bool addr_step(struct viova_vma *v, struct vma_node *n, uint32_t *i)
{
	int bf = (int)n[n[*i].left].height - (int)n[n[*i].right].height;

	if (bf > 1 || bf < -1)
		return rebalance(v, T_ADDR, i, bf);
	return addr_update(n, *i);
}

static void addr_fix_up_from(struct viova_vma *v, uint32_t i, uint32_t barrier)
{
	struct vma_node *n = v->n;

	/* up to the barrier: recompute without stopping */
	if (barrier != VMA_NIL) {
		for (;;) {
			if (i == VMA_NIL)
				return;

			bool at = i == barrier;
			bool changed = addr_step(v, n, &i);

			if (at) {
				if (!changed)
					return;
				i = n[i].parent;
				break;
			}
			i = n[i].parent;
		}
	}
	while (i != VMA_NIL && addr_step(v, n, &i))
		i = n[i].parent;
}

static inline bool size_step(struct viova_vma *v, struct vma_slinks *sl, const struct vma_node *n,
			     uint32_t *i)
{
	int bf = (int)sl[sl[*i].left].height - (int)sl[sl[*i].right].height;

	if (bf > 1 || bf < -1)
		return rebalance(v, T_SIZE, i, bf);
	return size_update(sl, n, *i);
}

/* addr_fix_up_from() for the size tree. */
static void size_fix_up_from(struct viova_vma *v, uint32_t i, uint32_t barrier)
{
	struct vma_slinks *sl = v->sl;
	const struct vma_node *n = v->n;

	if (barrier != VMA_NIL) {
		for (;;) {
			if (i == VMA_NIL)
				return;

			bool at = i == barrier;
			bool changed = size_step(v, sl, n, &i);

			if (at) {
				if (!changed)
					return;
				i = sl[i].parent;
				break;
			}
			i = sl[i].parent;
		}
	}
	while (i != VMA_NIL && size_step(v, sl, n, &i))
		i = sl[i].parent;
}

static void fix_up_from(struct viova_vma *v, enum tree_id t, uint32_t i, uint32_t barrier)
{
	if (t == T_ADDR)
		addr_fix_up_from(v, i, barrier);
	else
		size_fix_up_from(v, i, barrier);
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
	memcpy(lnk_lvl(v, t, x), v->n[x].own, sizeof(int16_t) * VMA_LEVELS);
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
	fix_up_from(v, t, start, barrier != VMA_NIL ? barrier : y); /* barrier is above y */
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
	struct vma_node *n = v->n;
	uint32_t p;

	init_leaf(v, T_ADDR, x, VMA_NIL);
	if (n[after].right == VMA_NIL) {
		p = after;
		n[p].right = x;
	} else {
		p = n[after].right;
		while (n[p].left != VMA_NIL)
			p = n[p].left;
		n[p].left = x;
	}
	n[x].parent = p;
	addr_fix_up_from(v, p, after);
}

void vma_tree_remove(struct viova_vma *v, uint32_t x, uint32_t ancestor)
{
	tree_remove(v, T_ADDR, x, ancestor);
}

uint32_t vma_tree_find(const struct viova_vma *v, uint64_t addr)
{
	const struct vma_node *n = v->n;
	uint32_t i = v->r->root;

	while (i != VMA_NIL) {
		if (addr < n[i].start)
			i = n[i].left;
		else if (addr - n[i].start >= n[i].size + n[i].hole)
			i = n[i].right;
		else
			return i;
	}
	return VMA_NIL;
}

/*
 * Exact largest hole at or under @i, given that a hole of @best bytes is known: subtrees whose
 * size code (lvl[0]) bounds them to <= best are skipped, the child with the higher code is
 * visited first.
 */
static uint64_t largest_under(const struct vma_node *n, uint32_t i, uint64_t best)
{
	while (i != VMA_NIL && vma_lvl_decode_max(n[i].lvl[0]) > best) {
		uint32_t a = n[i].left, b = n[i].right;

		if (n[i].hole > best)
			best = n[i].hole;
		if (n[b].lvl[0] > n[a].lvl[0]) {
			a = b;
			b = n[i].left;
		}
		best = largest_under(n, a, best);
		i = b;
	}
	return best;
}

uint64_t vma_tree_largest_hole(const struct viova_vma *v)
{
	return largest_under(v->n, v->r->root, 0);
}

/* ---- size tree ---- */

static inline bool size_less(const struct vma_node *a, const struct vma_node *b)
{
	return a->hole < b->hole || (a->hole == b->hole && a->start < b->start);
}

void vma_size_tree_insert(struct viova_vma *v, uint32_t x)
{
	struct vma_slinks *sl = v->sl;
	const struct vma_node *n = v->n;
	uint32_t p = VMA_NIL, i = v->r->sroot;
	bool left = false;

	while (i != VMA_NIL) {
		p = i;
		left = size_less(&n[x], &n[i]);
		i = left ? sl[i].left : sl[i].right;
	}
	init_leaf(v, T_SIZE, x, p);
	if (p == VMA_NIL) {
		v->r->sroot = x;
		return;
	}
	if (left)
		sl[p].left = x;
	else
		sl[p].right = x;
	size_fix_up_from(v, p, VMA_NIL);
}

void vma_size_tree_remove(struct viova_vma *v, uint32_t x)
{
	tree_remove(v, T_SIZE, x, VMA_NIL);
}

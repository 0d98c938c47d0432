// SPDX-License-Identifier: MIT
/*
 * vma_check.c - the structural invariant checker behind viova_vma_check().
 *
 * It must survive a corrupted region (viova_vma_attach_in_place runs it on a buffer somebody
 * else wrote): every index is range-checked before it is followed, recursion is bounded by
 * VMA_MAX_HEIGHT and the visit count by the number of live nodes, and the handle index is
 * validated before it is probed (a full table would make a probe loop forever).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vma_priv.h"

struct ck {
	const struct viova_vma *v;
	char *why;
	size_t why_len;
	int err;
	uint32_t visited;
	/* in-order state of the address walk */
	uint64_t expect; /* start the next node must have */
	bool first;	 /* the next node visited is the first in address order */
	uint64_t holes, allocs, alloc_bytes, resvs, resv_bytes;
	/* in-order state of the size walk */
	uint32_t prev_size_node;
};

__attribute__((format(printf, 2, 3))) static void fail(struct ck *c, const char *fmt, ...)
{
	va_list ap;

	if (c->err)
		return;
	c->err = -EUCLEAN;
	if (c->why && c->why_len) {
		va_start(ap, fmt);
		vsnprintf(c->why, c->why_len, fmt, ap);
		va_end(ap);
	}
}

static bool index_ok(struct ck *c, uint32_t i, const char *what)
{
	if (i < c->v->r->node_hwm)
		return true;
	fail(c, "%s: node index %" PRIu32 " beyond the %" PRIu32 " nodes ever used", what, i,
	     c->v->r->node_hwm);
	return false;
}

static void visit_node(struct ck *c, uint32_t i)
{
	const struct vma_region *r = c->v->r;
	const struct vma_node *x = &c->v->n[i];

	if (x->start != c->expect)
		fail(c,
		     "nodes do not tile the range: node %" PRIu32 " starts at 0x%" PRIx64
		     ", expected 0x%" PRIx64,
		     i, x->start, c->expect);
	if (x->size > r->end - x->start || x->hole > r->end - x->start - x->size)
		fail(c,
		     "node %" PRIu32 " at 0x%" PRIx64 " with 0x%" PRIx64 " used and 0x%" PRIx64
		     " hole bytes goes past the end",
		     i, x->start, x->size, x->hole);
	if (c->err)
		return;
	/* the head comes first and only there; every other node has a used range */
	if ((x->kind == VMA_HEAD) != c->first)
		fail(c,
		     "node %" PRIu32 " at 0x%" PRIx64 " of kind %u %s the first in address order",
		     i, x->start, x->kind, c->first ? "is" : "is not");
	if ((x->kind == VMA_HEAD) != (x->size == 0))
		fail(c, "node %" PRIu32 " at 0x%" PRIx64 " of kind %u has %" PRIu64 " used bytes",
		     i, x->start, x->kind, x->size);
	c->first = false;
	c->expect = x->start + x->size + x->hole;
	if (x->hole)
		c->holes++;
	switch (x->kind) {
	case VMA_HEAD:
		if (x->handle)
			fail(c, "the head node has handle %" PRIu32 ", not 0", x->handle);
		break;
	case VMA_ALLOC:
		c->allocs++;
		c->alloc_bytes += x->size;
		if (vma_handles_find(c->v, x->handle) != i)
			fail(c,
			     "allocation of handle %" PRIu32 " at 0x%" PRIx64
			     " is not in the handle index",
			     x->handle, x->start);
		break;
	case VMA_RESV:
		c->resvs++;
		c->resv_bytes += x->size;
		break;
	default:
		fail(c, "node %" PRIu32 " in the address tree has kind %u", i, x->kind);
	}
}

/*
 * A node's own levels (its hole's) by their definition (vma_hole_levels takes shortcuts: check
 * them): level 0 is the size (alignment 1), level j >= 1 alignment g << j.
 */
static void ref_own_levels(const struct vma_region *r, const struct vma_node *x,
			   int16_t out[VMA_LEVELS])
{
	uint64_t s = x->start + x->size;

	for (int j = 0; j < VMA_LEVELS; j++) {
		uint64_t a = j ? r->default_align << j : 1;
		uint64_t pad = (a - (s & (a - 1))) & (a - 1);

		out[j] = pad < x->hole ? vma_lvl_encode(x->hole - pad) : 0;
	}
}

/* Are @got the subtree maxima of @i's own levels and its children's stored levels? */
static void check_levels(struct ck *c, uint32_t i, const int16_t *got, const int16_t *l,
			 const int16_t *r, const char *tree)
{
	int16_t own[VMA_LEVELS];

	ref_own_levels(c->v->r, &c->v->n[i], own);
	for (int j = 0; j < VMA_LEVELS; j++) {
		int16_t m = own[j] > l[j] ? own[j] : l[j];

		m = m > r[j] ? m : r[j];
		if (got[j] != m) {
			fail(c,
			     "%s node %" PRIu32 " at 0x%" PRIx64
			     ": lvl[%d] = %d, subtree maximum is %d",
			     tree, i, c->v->n[i].start, j, got[j], m);
			return;
		}
	}
}

/* Returns the subtree height, or -1 after a failure. */
static int check_addr(struct ck *c, uint32_t i, uint32_t parent, int depth)
{
	const struct vma_node *n = c->v->n;

	if (i == VMA_NIL)
		return 0;
	if (!index_ok(c, i, "address tree") || c->err)
		return -1;
	if (depth > VMA_MAX_HEIGHT || ++c->visited > c->v->r->nodes_live) {
		fail(c, "address tree has a cycle or more nodes than the %" PRIu32 " live ones",
		     c->v->r->nodes_live);
		return -1;
	}
	if (n[i].parent != parent)
		fail(c, "node %" PRIu32 ": parent link %" PRIu32 ", expected %" PRIu32, i,
		     n[i].parent, parent);

	int hl = check_addr(c, n[i].left, i, depth + 1);

	if (hl < 0)
		return -1;
	visit_node(c, i);

	int hr = check_addr(c, n[i].right, i, depth + 1);

	if (hr < 0 || c->err)
		return -1;
	if (hl - hr > 1 || hr - hl > 1)
		fail(c, "node %" PRIu32 " at 0x%" PRIx64 " is unbalanced: heights %d / %d", i,
		     n[i].start, hl, hr);

	int h = 1 + (hl > hr ? hl : hr);

	if (n[i].height != h)
		fail(c, "node %" PRIu32 ": stored height %u, real %d", i, n[i].height, h);
	if (memcmp(n[i].pad, (uint8_t[sizeof(n[i].pad)]){0}, sizeof(n[i].pad)))
		fail(c, "node %" PRIu32 ": padding is not zero", i);

	int16_t own[VMA_LEVELS];

	ref_own_levels(c->v->r, &n[i], own);
	if (memcmp(own, n[i].own, sizeof(own)))
		fail(c,
		     "node %" PRIu32 " at 0x%" PRIx64 ": cached own levels of its hole are stale",
		     i, n[i].start);
	check_levels(c, i, n[i].lvl, n[n[i].left].lvl, n[n[i].right].lvl, "address tree");
	return c->err ? -1 : h;
}

static int check_size(struct ck *c, uint32_t i, uint32_t parent, int depth)
{
	const struct vma_node *n = c->v->n;
	const struct vma_slinks *sl = c->v->sl;

	if (i == VMA_NIL)
		return 0;
	if (!index_ok(c, i, "size tree") || c->err)
		return -1;
	if (depth > VMA_MAX_HEIGHT || ++c->visited > c->v->r->nodes_live) {
		fail(c, "size tree has a cycle or more nodes than there are holes");
		return -1;
	}
	if (sl[i].parent != parent)
		fail(c, "size tree node %" PRIu32 ": parent link %" PRIu32 ", expected %" PRIu32, i,
		     sl[i].parent, parent);

	int hl = check_size(c, sl[i].left, i, depth + 1);

	if (hl < 0)
		return -1;
	if ((n[i].kind != VMA_HEAD && n[i].kind != VMA_ALLOC && n[i].kind != VMA_RESV) ||
	    !n[i].hole)
		fail(c, "size tree holds node %" PRIu32 " at 0x%" PRIx64 " which has no hole", i,
		     n[i].start);
	uint32_t p = c->prev_size_node;

	if (p != VMA_NIL &&
	    !(n[p].hole < n[i].hole || (n[p].hole == n[i].hole && n[p].start < n[i].start)))
		fail(c, "size tree out of order at hole 0x%" PRIx64 "+0x%" PRIx64,
		     n[i].start + n[i].size, n[i].hole);
	c->prev_size_node = i;
	c->holes++;

	int hr = check_size(c, sl[i].right, i, depth + 1);

	if (hr < 0 || c->err)
		return -1;
	if (hl - hr > 1 || hr - hl > 1)
		fail(c, "size tree node %" PRIu32 " is unbalanced: heights %d / %d", i, hl, hr);

	int h = 1 + (hl > hr ? hl : hr);

	if (sl[i].height != h)
		fail(c, "size tree node %" PRIu32 ": stored height %u, real %d", i, sl[i].height,
		     h);
	check_levels(c, i, sl[i].lvl, sl[sl[i].left].lvl, sl[sl[i].right].lvl, "size tree");
	return c->err ? -1 : h;
}

static void check_slots(struct ck *c)
{
	const struct viova_vma *v = c->v;
	const struct vma_region *r = v->r;
	uint32_t used = 0;

	if (r->slot_used > vma_handles_limit(r->slot_cap)) {
		fail(c, "handle index holds %" PRIu32 " entries, limit %" PRIu32, r->slot_used,
		     vma_handles_limit(r->slot_cap));
		return;
	}
	for (uint32_t s = 0; s < r->slot_cap; s++) {
		const struct vma_slot *e = &v->slots[s];

		if (e->node == VMA_NIL)
			continue;
		used++;
		if (!index_ok(c, e->node, "handle index"))
			return;
		if (v->n[e->node].kind != VMA_ALLOC || v->n[e->node].handle != e->handle)
			fail(c,
			     "handle index: handle %" PRIu32 " -> node %" PRIu32
			     " which is not that allocation",
			     e->handle, e->node);
	}
	if (used != r->slot_used)
		fail(c, "handle index has %" PRIu32 " entries, header says %" PRIu32, used,
		     r->slot_used);
	if (c->err)
		return;
	/* Only now is probing safe; it also proves every entry is reachable from its home. */
	for (uint32_t s = 0; s < r->slot_cap; s++)
		if (v->slots[s].node != VMA_NIL &&
		    vma_handles_find(v, v->slots[s].handle) != v->slots[s].node)
			fail(c, "handle %" PRIu32 " is unreachable or duplicated in the index",
			     v->slots[s].handle);
}

static void check_free_list(struct ck *c)
{
	const struct vma_region *r = c->v->r;
	uint32_t expect = r->node_hwm - 1 - r->nodes_live, count = 0;

	if (r->nodes_live > r->node_hwm - 1) {
		fail(c, "%" PRIu32 " live nodes but only %" PRIu32 " ever used", r->nodes_live,
		     r->node_hwm - 1);
		return;
	}
	for (uint32_t i = r->free_head; i != VMA_NIL; i = c->v->n[i].left) {
		if (!index_ok(c, i, "free list"))
			return;
		if (++count > expect || c->v->n[i].kind != VMA_FREE) {
			fail(c, "node free list is corrupt at node %" PRIu32, i);
			return;
		}
	}
	if (count != expect)
		fail(c, "node free list has %" PRIu32 " nodes, expected %" PRIu32, count, expect);
}

int vma_check_locked(const struct viova_vma *v, char *why, size_t why_len)
{
	const struct vma_region *r = v->r;
	static const struct vma_node nil;
	struct ck c = {.v = v, .why = why, .why_len = why_len, .expect = r->start, .first = true};

	if (why && why_len)
		why[0] = '\0';
	if (r->node_hwm > r->node_cap || r->node_hwm < 2) {
		fail(&c, "node high-water mark %" PRIu32 " outside [2, %" PRIu32 "]", r->node_hwm,
		     r->node_cap);
		return c.err;
	}
	if (memcmp(&v->n[VMA_NIL], &nil, sizeof(nil)) ||
	    (v->sl && memcmp(&v->sl[VMA_NIL], &(struct vma_slinks){0}, sizeof(v->sl[0]))))
		fail(&c, "the NIL node was written to");
	check_slots(&c);
	check_free_list(&c);
	if (c.err)
		return c.err;
	if (r->root == VMA_NIL || !index_ok(&c, r->root, "root"))
		fail(&c, "address tree is empty: the range must at least have its head node");
	else
		check_addr(&c, r->root, VMA_NIL, 1);
	if (c.err)
		return c.err;
	if (c.expect != r->end)
		fail(&c, "nodes end at 0x%" PRIx64 ", the heap at 0x%" PRIx64, c.expect, r->end);
	if (c.visited != r->nodes_live)
		fail(&c, "address tree has %" PRIu32 " nodes, %" PRIu32 " are live", c.visited,
		     r->nodes_live);
	if (c.holes != r->holes || c.allocs != r->allocs || c.alloc_bytes != r->alloc_bytes ||
	    c.resvs != r->resvs || c.resv_bytes != r->resv_bytes)
		fail(&c,
		     "counters disagree with the tree: holes %" PRIu64 "/%" PRIu64
		     ", allocations %" PRIu64 "/%" PRIu64 " (0x%" PRIx64 "/0x%" PRIx64
		     " bytes), reservations %" PRIu64 "/%" PRIu64 " (0x%" PRIx64 "/0x%" PRIx64
		     " bytes)",
		     c.holes, r->holes, c.allocs, r->allocs, c.alloc_bytes, r->alloc_bytes, c.resvs,
		     r->resvs, c.resv_bytes, r->resv_bytes);
	if (r->allocs != r->slot_used)
		fail(&c, "%" PRIu64 " allocations but %" PRIu32 " handle index entries", r->allocs,
		     r->slot_used);
	if (c.err || !v->sl)
		return c.err;

	uint64_t holes = c.holes;

	c.holes = 0;
	c.visited = 0;
	c.prev_size_node = VMA_NIL;
	if (r->sroot != VMA_NIL && index_ok(&c, r->sroot, "size root"))
		check_size(&c, r->sroot, VMA_NIL, 1);
	if (!c.err && c.holes != holes)
		fail(&c, "size tree has %" PRIu64 " holes, the address tree %" PRIu64, c.holes,
		     holes);
	return c.err;
}

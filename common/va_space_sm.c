/* SPDX-License-Identifier: MIT */
/*
 * va_space_sm.c - split/merge: building op lists (sm_map, sm_unmap, obj_unmap) and applying them.
 *
 * Building walks the mappings that intersect the request in address order, O(log n + k), and
 * records for each the node it came from. Nothing in the space changes, but the build reserves
 * what the apply will need (one node for the map, one more if a mapping is split in three, and a
 * hash slot for a new object), so that apply has no failure path once it has checked that the
 * space is still the one the list was built from (generation counter).
 *
 * Apply edits nodes in place where it can: a REMAP that keeps only the piece before the request
 * shrinks the node, one that keeps only the piece after it moves the node's start forward. Both
 * keep the tree ordered because the piece stays between the node's neighbours.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "va_space_priv.h"

enum ops_state {
	OPS_EMPTY,
	OPS_BUILT,
	OPS_APPLIED,
};

struct vas_op {
	struct viova_va_op pub;
	uint32_t node; /* UNMAP / REMAP: the node of pub.va */
};

struct viova_va_ops {
	struct vas_op *op;
	uint32_t count, cap;
	enum ops_state state;
	const struct viova_va_space *vs;
	uint64_t gen;
};

int viova_va_ops_create(struct viova_va_ops **out)
{
	struct viova_va_ops *ops;

	if (!out)
		return -EINVAL;
	ops = calloc(1, sizeof(*ops));
	if (!ops)
		return -ENOMEM;
	*out = ops;
	return 0;
}

void viova_va_ops_destroy(struct viova_va_ops *ops)
{
	if (!ops)
		return;
	free(ops->op);
	free(ops);
}

void viova_va_ops_reset(struct viova_va_ops *ops)
{
	ops->count = 0;
	ops->state = OPS_EMPTY;
	ops->vs = NULL;
	ops->gen = 0;
}

uint32_t viova_va_ops_count(const struct viova_va_ops *ops)
{
	return ops->count;
}

const struct viova_va_op *viova_va_ops_at(const struct viova_va_ops *ops, uint32_t i)
{
	return i < ops->count ? &ops->op[i].pub : NULL;
}

static struct vas_op *push(struct viova_va_ops *ops)
{
	struct vas_op *op;

	if (ops->count == ops->cap) {
		uint32_t cap = ops->cap ? ops->cap * 2 : 8;
		struct vas_op *t;

		if (cap < ops->cap)
			return NULL;
		t = realloc(ops->op, (size_t)cap * sizeof(*t));
		if (!t)
			return NULL;
		ops->op = t;
		ops->cap = cap;
	}
	op = &ops->op[ops->count++];
	memset(op, 0, sizeof(*op));
	return op;
}

static void node_mapping(const struct vas_node *n, struct viova_va_mapping *m)
{
	vas_copy_out(n, m);
}

/*
 * keep: the existing mapping n shows, over its overlap with req, exactly the pages req would map
 * (same object, same flags, offsets in step). Neither side may be sparse (no backing to keep).
 * No sum below can wrap: the added distance lies inside a mapping whose offset + range fits.
 */
static bool contiguous(const struct vas_node *n, const struct viova_va_mapping *req)
{
	if ((n->flags | req->flags) & VIOVA_VA_SPARSE)
		return false;
	if (n->obj != req->obj || n->flags != req->flags)
		return false;
	if (n->addr <= req->addr)
		return n->offset + (req->addr - n->addr) == req->offset;
	return n->offset == req->offset + (n->addr - req->addr);
}

/*
 * Record UNMAP or REMAP ops for every mapping intersecting [addr, last]. req is the mapping being
 * integrated (sm_map: keep flags computed against it) or NULL (sm_unmap: keep never set).
 * Returns the net change of the mapping count not counting a MAP, and the number of three-way
 * splits (each needs a fresh node at apply time).
 */
static int collect(struct viova_va_space *vs, struct viova_va_ops *ops, uint64_t addr,
		   uint64_t last, const struct viova_va_mapping *req, int64_t *delta,
		   uint32_t *splits)
{
	uint32_t x = vas_lower_bound(vs, addr);

	*delta = 0;
	*splits = 0;
	while (x != VAS_NIL) {
		const struct vas_node *n = vas_n(vs, x);
		uint64_t nlast = vas_last(n);
		struct vas_op *op;

		if (n->addr > last)
			break;
		op = push(ops);
		if (!op)
			return -ENOMEM;
		op->node = x;
		node_mapping(n, &op->pub.va);
		op->pub.keep = req ? contiguous(n, req) : false;
		(*delta)--;
		if (n->addr < addr) {
			op->pub.has_prev = true;
			node_mapping(n, &op->pub.prev);
			op->pub.prev.range = addr - n->addr;
			(*delta)++;
		}
		if (nlast > last) {
			op->pub.has_next = true;
			node_mapping(n, &op->pub.next);
			op->pub.next.addr = last + 1;
			op->pub.next.range = nlast - last;
			/* a sparse mapping has no backing to move through: its offset stays 0 */
			if (!(n->flags & VIOVA_VA_SPARSE))
				op->pub.next.offset = n->offset + (last + 1 - n->addr);
			(*delta)++;
		}
		if (op->pub.has_prev && op->pub.has_next)
			(*splits)++;
		op->pub.type =
		    op->pub.has_prev || op->pub.has_next ? VIOVA_VA_OP_REMAP : VIOVA_VA_OP_UNMAP;
		if (nlast >= last)
			break;
		x = vas_succ(vs, x);
	}
	return 0;
}

static int nomem(struct viova_va_ops *ops, struct viova_va_reject *why, uint64_t addr,
		 uint64_t range)
{
	viova_va_ops_reset(ops);
	vas_reject(why, VIOVA_VA_NOMEM, addr, range);
	return -ENOMEM;
}

static int over_limit(struct viova_va_space *vs, struct viova_va_ops *ops,
		      struct viova_va_reject *why, uint64_t addr, uint64_t range)
{
	viova_va_ops_reset(ops);
	vas_reject(why, VIOVA_VA_LIMIT, addr, range);
	if (why)
		why->limit = vs->max_mappings;
	return -ENOSPC;
}

static void built(struct viova_va_space *vs, struct viova_va_ops *ops)
{
	ops->state = OPS_BUILT;
	ops->vs = vs;
	ops->gen = vs->gen;
}

int viova_va_space_sm_map(struct viova_va_space *vs, const struct viova_va_mapping *req,
			  struct viova_va_ops *ops, struct viova_va_reject *why)
{
	uint32_t splits;
	int64_t delta;
	struct vas_op *op;
	int ret;

	viova_va_ops_reset(ops);
	ret = vas_validate(vs, req, true, why);
	if (ret)
		return ret;
	ret = collect(vs, ops, req->addr, req->addr + (req->range - 1), req, &delta, &splits);
	if (ret)
		return nomem(ops, why, req->addr, req->range);
	op = push(ops);
	if (!op)
		return nomem(ops, why, req->addr, req->range);
	op->pub.type = VIOVA_VA_OP_MAP;
	op->pub.va = *req;
	op->node = VAS_NIL;

	if ((int64_t)vs->count + delta + 1 > (int64_t)vs->max_mappings)
		return over_limit(vs, ops, why, req->addr, req->range);
	if (vas_reserve_nodes(vs, splits + 1))
		return nomem(ops, why, req->addr, req->range);
	if (!(req->flags & VIOVA_VA_SPARSE) && vas_obj_reserve(vs, req->obj))
		return nomem(ops, why, req->addr, req->range);
	built(vs, ops);
	return 0;
}

int viova_va_space_sm_unmap(struct viova_va_space *vs, uint64_t addr, uint64_t range,
			    struct viova_va_ops *ops, struct viova_va_reject *why)
{
	struct viova_va_mapping req = {.addr = addr, .range = range};
	uint32_t splits;
	int64_t delta;
	int ret;

	viova_va_ops_reset(ops);
	ret = vas_validate(vs, &req, false, why);
	if (ret)
		return ret;
	ret = collect(vs, ops, addr, addr + (range - 1), NULL, &delta, &splits);
	if (ret)
		return nomem(ops, why, addr, range);
	if ((int64_t)vs->count + delta > (int64_t)vs->max_mappings)
		return over_limit(vs, ops, why, addr, range);
	if (vas_reserve_nodes(vs, splits))
		return nomem(ops, why, addr, range);
	built(vs, ops);
	return 0;
}

static int by_addr(const void *a, const void *b)
{
	const struct vas_op *x = a, *y = b;

	return x->pub.va.addr < y->pub.va.addr ? -1 : x->pub.va.addr > y->pub.va.addr;
}

int viova_va_space_obj_unmap_ops(struct viova_va_space *vs, uint64_t obj, struct viova_va_ops *ops)
{
	uint32_t i;

	viova_va_ops_reset(ops);
	for (i = vas_obj_head(vs, obj); i != VAS_NIL; i = vas_n(vs, i)->onext) {
		struct vas_op *op = push(ops);

		if (!op) {
			viova_va_ops_reset(ops);
			return -ENOMEM;
		}
		op->pub.type = VIOVA_VA_OP_UNMAP;
		op->node = i;
		node_mapping(vas_n(vs, i), &op->pub.va);
	}
	if (ops->count > 1)
		qsort(ops->op, ops->count, sizeof(*ops->op), by_addr);
	built(vs, ops);
	return 0;
}

static void fill(struct vas_node *n, const struct viova_va_mapping *m)
{
	n->addr = m->addr;
	n->range = m->range;
	n->obj = m->obj;
	n->offset = m->offset;
	n->flags = m->flags;
}

/* A new node for m, linked everywhere; the build reserved it. */
static void add(struct viova_va_space *vs, const struct viova_va_mapping *m)
{
	uint32_t i = vas_node_take(vs);

	fill(vas_n(vs, i), m);
	vas_tree_insert(vs, i);
	vas_obj_link(vs, i);
	vs->count++;
}

int viova_va_space_apply(struct viova_va_space *vs, struct viova_va_ops *ops)
{
	uint32_t k;

	if (ops->state == OPS_EMPTY || ops->vs != vs)
		return -EINVAL;
	if (ops->state == OPS_APPLIED || ops->gen != vs->gen)
		return -ESTALE;

	for (k = 0; k < ops->count; k++) {
		const struct viova_va_op *op = &ops->op[k].pub;
		struct vas_node *n = vas_n(vs, ops->op[k].node);

		switch (op->type) {
		case VIOVA_VA_OP_UNMAP:
			vas_obj_unlink(vs, ops->op[k].node);
			vas_tree_erase(vs, ops->op[k].node);
			vas_node_put(vs, ops->op[k].node);
			vs->count--;
			break;
		case VIOVA_VA_OP_REMAP:
			if (op->has_prev) {
				n->range = op->prev.range;
				if (op->has_next)
					add(vs, &op->next);
			} else {
				n->addr = op->next.addr;
				n->range = op->next.range;
				n->offset = op->next.offset;
			}
			break;
		case VIOVA_VA_OP_MAP:
			add(vs, &op->va);
			break;
		}
	}
	if (ops->count)
		vs->gen++;
	ops->state = OPS_APPLIED;
	return 0;
}

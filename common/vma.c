// SPDX-License-Identifier: MIT
/*
 * vma.c - heap lifecycle, region layout and growth, and the operations of viova/vma.h:
 * placement (strategies), splitting a node's hole for a new range, giving a range back to the hole
 * before it.
 *
 * The trees live in vma_tree.c, the handle index in vma_handles.c, the checker in vma_check.c and
 * the instance registry in vma_registry.c. docs/allocator.md explains the design.
 */
#include <errno.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vma_priv.h"

/* Largest ranges count a region supports: R + 2 nodes and 4R/3 slots must fit in u32. */
#define VMA_MAX_RANGES (1u << 30)
#define VMA_HDR_BYTES ((sizeof(struct vma_region) + 63) & ~(size_t)63)
#define VMA_OWNED_INITIAL_NODES 64u
#define VMA_OWNED_INITIAL_SLOTS 64u

/* The layout docs and the memory figures assume these sizes; lvl[] and own[] 16-byte aligned. */
_Static_assert(sizeof(struct vma_node) == 80, "struct vma_node must stay 80 bytes");
_Static_assert(offsetof(struct vma_node, lvl) % 16 == 0 && offsetof(struct vma_node, own) % 16 == 0,
	       "lvl[] and own[] must be 16-byte aligned");
_Static_assert(sizeof(struct vma_slinks) == 32, "struct vma_slinks must stay 32 bytes");

struct vma_req {
	uint64_t size;
	uint64_t align; /* effective: >= the heap's default */
	uint64_t no_span;
	/* augmentation level used for pruning: min(log2(align / g), LEVELS - 1); level 0 (the
	 * size) serves align == g: exact unless a hole starts off a multiple of g */
	uint32_t lvl;
	int16_t need; /* vma_lvl_encode(size): a subtree whose lvl[] is below cannot take it */
};

static inline bool is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

/* ---- the heap lock's slow paths (the fast paths are inline in vma_priv.h) ---- */

/* Contended: mark the lock 2 (a waiter may sleep) and sleep until it is released. */
void vma_lock_wait(vma_lock_t *l, uint32_t seen)
{
	if (seen != 2)
		seen = atomic_exchange_explicit(l, 2, memory_order_acquire);
	while (seen != 0) {
		syscall(SYS_futex, l, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0);
		seen = atomic_exchange_explicit(l, 2, memory_order_acquire);
	}
}

void vma_unlock_wake(vma_lock_t *l)
{
	syscall(SYS_futex, l, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* ---- configuration and layout ---- */

static int normalize_config(const struct viova_vma_config *in, struct viova_vma_config *out)
{
	if (!in || in->start >= in->end)
		return -EINVAL;
	*out = *in;
	switch (in->type) {
	case VIOVA_VMA_SIMPLE:
		if (in->strategy == VIOVA_VMA_STRATEGY_DEFAULT)
			out->strategy = VIOVA_VMA_HIGH_TO_LOW;
		else if (in->strategy != VIOVA_VMA_LOW_TO_HIGH &&
			 in->strategy != VIOVA_VMA_HIGH_TO_LOW &&
			 in->strategy != VIOVA_VMA_BEST_FIT)
			return -EINVAL;
		break;
	case VIOVA_VMA_RELOC:
	case VIOVA_VMA_RANDOM:
		if (in->strategy != VIOVA_VMA_STRATEGY_DEFAULT)
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	if (!in->default_align)
		out->default_align = VIOVA_VMA_DEFAULT_ALIGN;
	else if (!is_pow2(in->default_align) || in->default_align > VIOVA_VMA_MAX_ALIGN)
		return -EINVAL;
	if (out->type != VIOVA_VMA_RANDOM)
		out->seed = 0;
	return 0;
}

struct vma_layout {
	uint64_t nodes_off, slinks_off, slots_off, total;
};

static int compute_layout(uint32_t ncap, uint32_t scap, bool size_tree, struct vma_layout *lay)
{
	uint64_t off = VMA_HDR_BYTES;

	lay->nodes_off = off;
	off += (uint64_t)ncap * sizeof(struct vma_node);
	lay->slinks_off = 0;
	if (size_tree) {
		lay->slinks_off = off;
		off += (uint64_t)ncap * sizeof(struct vma_slinks);
	}
	lay->slots_off = off;
	off += (uint64_t)scap * sizeof(struct vma_slot);
	lay->total = off;
	return off > SIZE_MAX ? -EOVERFLOW : 0;
}

/* Smallest power-of-two slot count whose load limit admits @entries. */
static uint32_t slots_for(uint32_t entries)
{
	uint32_t cap = 8;

	while (vma_handles_limit(cap) < entries)
		cap <<= 1;
	return cap;
}

static uint32_t bits_of(uint32_t pow2)
{
	uint32_t b = 0;

	while ((1u << b) < pow2)
		b++;
	return b;
}

void vma_bind(struct viova_vma *v)
{
	char *base = (char *)v->r;

	v->n = (struct vma_node *)(base + v->r->nodes_off);
	v->sl = v->r->slinks_off ? (struct vma_slinks *)(base + v->r->slinks_off) : NULL;
	v->slots = (struct vma_slot *)(base + v->r->slots_off);
}

static uint32_t node_new(struct viova_vma *v, uint8_t kind, uint64_t start, uint64_t size,
			 uint64_t hole, uint32_t handle)
{
	struct vma_region *r = v->r;
	uint32_t i;

	if (r->free_head != VMA_NIL) {
		i = r->free_head;
		r->free_head = v->n[i].left;
	} else {
		i = r->node_hwm++;
	}
	r->nodes_live++;

	struct vma_node *x = &v->n[i];

	/* every field: links, height and lvl[] are set when it is linked (init_leaf) */
	*x = (struct vma_node){
	    .start = start, .size = size, .hole = hole, .kind = kind, .handle = handle};
	vma_hole_refresh(r, x);
	if (v->sl)
		memset(&v->sl[i], 0, sizeof(v->sl[i]));
	return i;
}

static void node_free(struct viova_vma *v, uint32_t i)
{
	memset(&v->n[i], 0, sizeof(v->n[i]));
	v->n[i].kind = VMA_FREE;
	v->n[i].left = v->r->free_head;
	v->r->free_head = i;
	v->r->nodes_live--;
}

/* Fill a fresh header at @r for @cfg (normalised) and make the whole range one hole. */
static void region_init(struct vma_region *r, const struct viova_vma_config *cfg,
			const struct vma_layout *lay, uint32_t ncap, uint32_t scap, bool in_place)
{
	memset(r, 0, sizeof(*r));
	r->magic = VMA_MAGIC;
	r->version = VMA_VERSION;
	r->region_bytes = lay->total;
	r->start = cfg->start;
	r->end = cfg->end;
	r->type = cfg->type;
	r->strategy = cfg->strategy;
	r->default_align = cfg->default_align;
	r->seed = cfg->seed;
	r->rng_state = cfg->seed;
	r->cursor = cfg->start;
	r->nodes_off = lay->nodes_off;
	r->slinks_off = lay->slinks_off;
	r->slots_off = lay->slots_off;
	r->node_cap = ncap;
	r->node_hwm = 1;
	r->slot_cap = scap;
	r->slot_bits = bits_of(scap);
	r->in_place = in_place;

	char *base = (char *)r;

	memset(base + lay->nodes_off, 0, sizeof(struct vma_node)); /* NIL */
	if (lay->slinks_off)
		memset(base + lay->slinks_off, 0, sizeof(struct vma_slinks));
	memset(base + lay->slots_off, 0, (size_t)scap * sizeof(struct vma_slot));
}

static void heap_start(struct viova_vma *v)
{
	struct vma_region *r = v->r;
	uint32_t h = node_new(v, VMA_HEAD, r->start, 0, r->end - r->start, 0);

	vma_tree_insert_root(v, h);
	vma_size_insert(v, h);
	r->holes = 1;
}

static struct viova_vma *wrapper_new(struct vma_region *r, bool owned)
{
	struct viova_vma *v = calloc(1, sizeof(*v));

	if (!v)
		return NULL;
	atomic_init(&v->lock, 0);
	v->r = r;
	v->owned = owned;
	vma_bind(v);
	return v;
}

int viova_vma_create(const struct viova_vma_config *cfg, struct viova_vma **out)
{
	struct viova_vma_config c;
	struct vma_layout lay;
	int ret;

	if (!out)
		return -EINVAL;
	ret = normalize_config(cfg, &c);
	if (ret)
		return ret;
	ret = compute_layout(VMA_OWNED_INITIAL_NODES, VMA_OWNED_INITIAL_SLOTS,
			     c.strategy == VIOVA_VMA_BEST_FIT, &lay);
	if (ret)
		return ret;

	struct vma_region *r = malloc(lay.total);

	if (!r)
		return -ENOMEM;
	region_init(r, &c, &lay, VMA_OWNED_INITIAL_NODES, VMA_OWNED_INITIAL_SLOTS, false);

	struct viova_vma *v = wrapper_new(r, true);

	if (!v) {
		free(r);
		return -ENOMEM;
	}
	heap_start(v);
	*out = v;
	return 0;
}

static int in_place_bytes(const struct viova_vma_config *c, uint32_t ranges, uint64_t *bytes)
{
	struct vma_layout lay;
	int ret =
	    compute_layout(ranges + 2, slots_for(ranges), c->strategy == VIOVA_VMA_BEST_FIT, &lay);

	*bytes = lay.total;
	return ret;
}

int viova_vma_in_place_size(const struct viova_vma_config *cfg, uint32_t ranges, size_t *bytes)
{
	struct viova_vma_config c;
	uint64_t total;
	int ret;

	if (!bytes || !ranges)
		return -EINVAL;
	ret = normalize_config(cfg, &c);
	if (ret)
		return ret;
	if (ranges > VMA_MAX_RANGES)
		return -EOVERFLOW;
	ret = in_place_bytes(&c, ranges, &total);
	if (ret)
		return ret;
	*bytes = (size_t)total;
	return 0;
}

int viova_vma_init_in_place(void *buf, size_t bytes, const struct viova_vma_config *cfg,
			    struct viova_vma **out)
{
	struct viova_vma_config c;
	struct vma_layout lay;
	uint64_t need;
	int ret;

	if (!buf || !out || ((uintptr_t)buf & 63))
		return -EINVAL;
	ret = normalize_config(cfg, &c);
	if (ret)
		return ret;

	/* The largest guaranteed range count the buffer holds; in_place_bytes grows with it. */
	uint32_t lo = 0, hi = VMA_MAX_RANGES;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo + 1) / 2;

		if (in_place_bytes(&c, mid, &need) == 0 && need <= bytes)
			lo = mid;
		else
			hi = mid - 1;
	}
	if (lo == 0)
		return -EINVAL;

	/* Leftover bytes become extra nodes (extra reservations, or slack against fragmentation).
	 */
	bool size_tree = c.strategy == VIOVA_VMA_BEST_FIT;
	uint32_t scap = slots_for(lo);
	uint64_t per_node = sizeof(struct vma_node) + (size_tree ? sizeof(struct vma_slinks) : 0);
	uint64_t ncap =
	    (bytes - VMA_HDR_BYTES - (uint64_t)scap * sizeof(struct vma_slot)) / per_node;

	if (ncap > UINT32_MAX - 1)
		ncap = UINT32_MAX - 1;
	ret = compute_layout((uint32_t)ncap, scap, size_tree, &lay);
	if (ret || lay.total > bytes)
		return -EINVAL;

	struct vma_region *r = buf;

	region_init(r, &c, &lay, (uint32_t)ncap, scap, true);

	struct viova_vma *v = wrapper_new(r, false);

	if (!v)
		return -ENOMEM;
	heap_start(v);
	*out = v;
	return 0;
}

int viova_vma_attach_in_place(void *buf, size_t bytes, struct viova_vma **out)
{
	struct vma_region *r = buf;
	struct vma_layout lay;

	if (!buf || !out || ((uintptr_t)buf & 63) || bytes < sizeof(*r))
		return -EINVAL;
	if (r->magic != VMA_MAGIC || r->version != VMA_VERSION)
		return -EPROTO;
	if (r->region_bytes > bytes)
		return -EINVAL;
	/* placement reads these before any check could: refuse values no heap would write */
	if (!is_pow2(r->default_align) || r->default_align > VIOVA_VMA_MAX_ALIGN ||
	    r->type > VIOVA_VMA_RANDOM || r->strategy > VIOVA_VMA_BEST_FIT ||
	    (r->type == VIOVA_VMA_SIMPLE && r->strategy == VIOVA_VMA_STRATEGY_DEFAULT))
		return -EUCLEAN;
	if (!r->in_place || !is_pow2(r->slot_cap) || r->slot_cap < 8 ||
	    r->slot_bits != bits_of(r->slot_cap) || r->node_cap < 2 || r->node_hwm < 1 ||
	    r->node_hwm > r->node_cap || r->start >= r->end)
		return -EUCLEAN;
	if (compute_layout(r->node_cap, r->slot_cap, r->strategy == VIOVA_VMA_BEST_FIT, &lay) ||
	    lay.total != r->region_bytes || lay.nodes_off != r->nodes_off ||
	    lay.slinks_off != r->slinks_off || lay.slots_off != r->slots_off)
		return -EUCLEAN;

	struct viova_vma *v = wrapper_new(r, false);

	if (!v)
		return -ENOMEM;
	if (vma_check_locked(v, NULL, 0)) {
		viova_vma_destroy(v);
		return -EUCLEAN;
	}
	*out = v;
	return 0;
}

void viova_vma_destroy(struct viova_vma *vma)
{
	if (!vma)
		return;
	if (vma->owned)
		free(vma->r);
	free(vma);
}

/*
 * Move an owned region to a larger block: node indices stay valid (nodes are copied as they
 * are), the handle index is rebuilt when its capacity changes. O(n), amortised O(1) per
 * insertion because capacities double.
 */
static int relayout(struct viova_vma *v, uint32_t ncap, uint32_t scap)
{
	struct vma_region *old = v->r;
	struct vma_layout lay;
	int ret = compute_layout(ncap, scap, old->slinks_off != 0, &lay);

	if (ret)
		return ret;

	struct vma_region *r = malloc(lay.total);

	if (!r)
		return -ENOMEM;
	memcpy(r, old, sizeof(*r));
	memcpy((char *)r + lay.nodes_off, v->n, (size_t)old->node_hwm * sizeof(struct vma_node));
	if (v->sl)
		memcpy((char *)r + lay.slinks_off, v->sl,
		       (size_t)old->node_hwm * sizeof(struct vma_slinks));
	r->region_bytes = lay.total;
	r->nodes_off = lay.nodes_off;
	r->slinks_off = lay.slinks_off;
	r->slots_off = lay.slots_off;
	r->node_cap = ncap;

	struct vma_slot *old_slots = v->slots;
	uint32_t old_scap = old->slot_cap;

	v->r = r;
	vma_bind(v);
	if (scap == old_scap) {
		memcpy(v->slots, old_slots, (size_t)scap * sizeof(struct vma_slot));
	} else {
		memset(v->slots, 0, (size_t)scap * sizeof(struct vma_slot));
		r->slot_cap = scap;
		r->slot_bits = bits_of(scap);
		r->slot_used = 0;
		vma_handles_rehash(v, old_slots, old_scap);
	}
	free(old);
	return 0;
}

/* Make sure @nodes more nodes and @slots more handle entries fit: grow, or -ENOMEM in place. */
static int reserve_room(struct viova_vma *v, uint32_t nodes, uint32_t slots)
{
	struct vma_region *r = v->r;
	uint64_t ncap = r->node_cap, scap = r->slot_cap;

	while (ncap - 1 - r->nodes_live < nodes)
		ncap *= 2;
	while ((uint64_t)r->slot_used + slots > vma_handles_limit((uint32_t)scap))
		scap *= 2;
	if (ncap == r->node_cap && scap == r->slot_cap)
		return 0;
	if (r->in_place || ncap > UINT32_MAX - 1 || scap > (1u << 31))
		return -ENOMEM;
	return relayout(v, (uint32_t)ncap, (uint32_t)scap);
}

/* Owned heaps never shrink their node array below this many entries. */
#define VMA_SHRINK_MIN_NODES 4096u

/* Re-point every link to node @from (address tree, size tree, handle index) at @to. */
static void move_node(struct viova_vma *v, uint32_t from, uint32_t to)
{
	struct vma_node *n = v->n;
	struct vma_region *r = v->r;
	uint32_t p;

	n[to] = n[from];
	p = n[to].parent;
	if (p == VMA_NIL)
		r->root = to;
	else if (n[p].left == from)
		n[p].left = to;
	else
		n[p].right = to;
	if (n[to].left != VMA_NIL)
		n[n[to].left].parent = to;
	if (n[to].right != VMA_NIL)
		n[n[to].right].parent = to;
	if (v->sl && n[to].hole) {
		struct vma_slinks *sl = v->sl;

		sl[to] = sl[from];
		p = sl[to].parent;
		if (p == VMA_NIL)
			r->sroot = to;
		else if (sl[p].left == from)
			sl[p].left = to;
		else
			sl[p].right = to;
		if (sl[to].left != VMA_NIL)
			sl[sl[to].left].parent = to;
		if (sl[to].right != VMA_NIL)
			sl[sl[to].right].parent = to;
	}
	if (n[to].kind == VMA_ALLOC)
		vma_handles_rebind(v, n[to].handle, to);
	n[from].kind = VMA_FREE;
}

/*
 * Owned heaps only: when at most a quarter of the node array is live, move the live nodes into
 * its lower half and give the upper half back (and the handle slots likewise). Capacities grow
 * by doubling when full and shrink by halving when a quarter full, so a heap that grew for a
 * peak does not keep the peak's memory, and the O(capacity) copy is amortised O(1) per
 * operation (at least a quarter of the capacity in frees happened since the last resize).
 * Failing to allocate the smaller block just keeps the larger one.
 */
static __attribute__((noinline)) void shrink(struct viova_vma *v)
{
	struct vma_region *r = v->r;
	uint32_t ncap = r->node_cap / 2, scap = r->slot_cap;

	/* halve the handle slots too while they would still be at most half their load limit */
	while (scap > VMA_OWNED_INITIAL_SLOTS && r->slot_used * 2 <= vma_handles_limit(scap / 2))
		scap /= 2;

	/* live nodes above the new capacity go to free indices below it (there are enough) */
	struct vma_node *n = v->n;
	uint32_t lo = 1;

	for (uint32_t i = ncap; i < r->node_hwm; i++) {
		if (n[i].kind == VMA_FREE)
			continue;
		while (n[lo].kind != VMA_FREE)
			lo++;
		move_node(v, i, lo++);
	}
	if (r->node_hwm > ncap)
		r->node_hwm = ncap;
	r->free_head = VMA_NIL;
	for (uint32_t i = r->node_hwm; i-- > 1;) {
		if (n[i].kind == VMA_FREE) {
			n[i].left = r->free_head;
			r->free_head = i;
		}
	}
	(void)relayout(v, ncap, scap); /* on -ENOMEM the compacted heap stays in the old block */
}

/* The check is inline on every free, the compaction (rare) is not. */
static inline void maybe_shrink(struct viova_vma *v)
{
	const struct vma_region *r = v->r;

	if (!r->in_place && r->node_cap > VMA_SHRINK_MIN_NODES &&
	    (uint64_t)r->nodes_live * 4 <= r->node_cap)
		shrink(v);
}

/* ---- placement ---- */

/* Does [o, o + size) cross a multiple of no_span? (size <= no_span is checked up front.) */
static inline bool crosses(uint64_t o, uint64_t size, uint64_t no_span)
{
	return no_span && (o & ~(no_span - 1)) != ((o + size - 1) & ~(no_span - 1));
}

/*
 * Lowest offset o in [s, e) with o aligned, o + size <= e, and no no-span crossing.
 * Only two candidates matter: align_up(s), and if that crosses a boundary, the boundary itself
 * (every aligned offset in between crosses it too; a boundary is aligned when align <= no_span,
 * and when align > no_span an aligned offset never crosses since size <= no_span).
 */
static bool fit_low(uint64_t s, uint64_t e, const struct vma_req *q, uint64_t *out)
{
	uint64_t m = q->align - 1, o;

	if (e - s < q->size || s > UINT64_MAX - m)
		return false;
	o = (s + m) & ~m;
	if (crosses(o, q->size, q->no_span)) {
		uint64_t last = o | (q->no_span - 1);

		if (last == UINT64_MAX)
			return false;
		o = last + 1;
	}
	if (o > e - q->size)
		return false;
	*out = o;
	return true;
}

/* Highest such offset: align_down(e - size), or below the boundary it would cross. */
static bool fit_high(uint64_t s, uint64_t e, const struct vma_req *q, uint64_t *out)
{
	uint64_t m = q->align - 1, o;

	if (e - s < q->size)
		return false;
	o = (e - q->size) & ~m;
	if (crosses(o, q->size, q->no_span)) {
		uint64_t b = (o + q->size - 1) & ~(q->no_span - 1);

		if (b < q->size)
			return false;
		o = (b - q->size) & ~m;
	}
	if (o < s)
		return false;
	*out = o;
	return true;
}

/* Can subtree @i (address tree) hold @q at all? (A necessary condition, see struct vma_node.) */
static inline bool may_fit(const struct vma_node *n, uint32_t i, const struct vma_req *q)
{
	return n[i].lvl[q->lvl] >= q->need;
}

/* Can @x's hole take @q at or above @lo? Sets *off to the lowest such offset. */
static inline bool hole_fits_low(const struct vma_node *x, uint64_t lo, const struct vma_req *q,
				 uint64_t *off)
{
	uint64_t s = vma_hole_start(x), e = s + x->hole;

	return x->hole >= q->size && e > lo && fit_low(s > lo ? s : lo, e, q, off);
}

/*
 * Lowest fitting offset >= lo in subtree @i. Subtrees that cannot hold the request after
 * alignment (may_fit) are skipped without being entered, so the search is one root-to-leaf
 * descent, O(log n). Only a hole that passes may_fit and still does not fit (clipped by lo, a
 * no-span boundary, an alignment above the levels, a hole not aligned to g, the codes' rounding)
 * makes it go on to the next candidate: O((1 + k) log n) for k such near-misses
 * (docs/allocator.md). An in-order walk with an explicit stack of the nodes whose left subtree
 * is being searched (ancestors of the current node, so at most the tree height).
 */
static uint32_t first_fit(const struct viova_vma *v, uint32_t i, uint64_t lo,
			  const struct vma_req *q, uint64_t *off)
{
	const struct vma_node *n = v->n;
	uint32_t stack[VMA_MAX_HEIGHT + 1];
	int sp = 0;

	for (;;) {
		while (i != VMA_NIL && may_fit(n, i, q)) {
			/* Every hole left of x ends at or before x->start: useless when <= lo. */
			if (n[i].start > lo) {
				stack[sp++] = i;
				i = n[i].left;
				continue;
			}
			if (hole_fits_low(&n[i], lo, q, off))
				return i;
			i = n[i].right;
		}
		if (!sp)
			return VMA_NIL;
		i = stack[--sp];
		if (hole_fits_low(&n[i], lo, q, off))
			return i;
		i = n[i].right;
	}
}

/* Highest fitting offset in subtree @i: first_fit mirrored (no lower bound). */
static uint32_t last_fit(const struct viova_vma *v, uint32_t i, const struct vma_req *q,
			 uint64_t *off)
{
	const struct vma_node *n = v->n;
	uint32_t stack[VMA_MAX_HEIGHT + 1];
	int sp = 0;

	for (;;) {
		while (i != VMA_NIL && may_fit(n, i, q)) {
			stack[sp++] = i;
			i = n[i].right;
		}
		if (!sp)
			return VMA_NIL;
		i = stack[--sp];

		const struct vma_node *x = &n[i];

		if (x->hole >= q->size && fit_high(vma_hole_start(x), vma_hole_end(x), q, off))
			return i;
		i = x->left;
	}
}

/*
 * Smallest hole (then lowest) that fits: the first hole in (size, start) order of the size
 * tree that takes the request, found with the same pruning as first_fit.
 */
static uint32_t best_fit(const struct viova_vma *v, uint32_t i, const struct vma_req *q,
			 uint64_t *off)
{
	const struct vma_slinks *sl = v->sl;
	const struct vma_node *n = v->n;
	uint32_t stack[VMA_MAX_HEIGHT + 1];
	int sp = 0;

	for (;;) {
		while (i != VMA_NIL && sl[i].lvl[q->lvl] >= q->need) {
			if (n[i].hole < q->size) { /* so is everything to its left */
				i = sl[i].right;
				continue;
			}
			stack[sp++] = i;
			i = sl[i].left;
		}
		if (!sp)
			return VMA_NIL;
		i = stack[--sp];
		if (fit_low(vma_hole_start(&n[i]), vma_hole_end(&n[i]), q, off))
			return i;
		i = sl[i].right;
	}
}

/* splitmix64: documented in viova/vma.h (RANDOM) so that placements can be reproduced. */
static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Lowest fit at or above @lo, else (wrapping) the lowest fit of the heap. */
static uint32_t next_fit(struct viova_vma *v, uint64_t lo, const struct vma_req *q, uint64_t *off)
{
	uint32_t h = first_fit(v, v->r->root, lo, q, off);

	if (h == VMA_NIL && lo > v->r->start) {
		h = first_fit(v, v->r->root, v->r->start, q, off);
		if (h != VMA_NIL)
			v->r->wraps++;
	}
	return h;
}

/* Choose the hole and the offset for @q according to the heap's type and strategy. */
static uint32_t place(struct viova_vma *v, const struct vma_req *q, uint64_t *off)
{
	struct vma_region *r = v->r;

	switch (r->type) {
	case VIOVA_VMA_RELOC:
		return next_fit(v, r->cursor, q, off);
	case VIOVA_VMA_RANDOM: {
		uint64_t p = r->start + splitmix64(&r->rng_state) % (r->end - r->start);

		return next_fit(v, p, q, off);
	}
	default:
		break;
	}
	switch (r->strategy) {
	case VIOVA_VMA_LOW_TO_HIGH:
		return first_fit(v, r->root, r->start, q, off);
	case VIOVA_VMA_BEST_FIT:
		return best_fit(v, r->sroot, q, off);
	default:
		return last_fit(v, r->root, q, off);
	}
}

/*
 * Turn [o, o + size) of node @h's hole into a used range: a new node that carries what is left
 * of the hole above it, while h keeps the part below it. One insertion, one repair walk.
 *
 *   before:  |## h ##|<------------------- h's hole ------------------->|
 *   after:   |## h ##|<- h's hole ->|## u ##|<------ u's hole -------->|
 *
 * u lands right after h in address order, i.e. in h's right subtree, so the walk from u's
 * parent recomputes h too (vma_tree_insert_after): when a big hole moves from h to u (LOW_TO_HIGH,
 * RELOC) the aggregates above h keep their codes and the walk stops there. Returns u.
 */
static uint32_t carve(struct viova_vma *v, uint32_t h, uint64_t o, uint64_t size, uint8_t kind,
		      uint32_t tag)
{
	struct vma_node *x = &v->n[h];
	uint64_t e = vma_hole_end(x);
	uint64_t lo = o - vma_hole_start(x), hi = e - (o + size);
	uint32_t u;

	vma_size_remove(v, h);
	x->hole = lo;
	vma_hole_refresh(v->r, x);
	u = node_new(v, kind, o, size, hi, tag);
	vma_tree_insert_after(v, h, u);
	if (lo)
		vma_size_insert(v, h);
	if (hi)
		vma_size_insert(v, u);
	v->r->holes += (uint64_t)(lo != 0) + (hi != 0) - 1;
	return u;
}

/*
 * Give used range @x back: its bytes and its hole join the hole of its predecessor p (there
 * always is one: the head precedes every used range), and x's node is removed. One removal;
 * one repair walk when p is an ancestor of x (x has no left child), else a second one for p.
 */
static void release(struct viova_vma *v, uint32_t x)
{
	struct vma_node *n = v->n;
	uint32_t p = vma_tree_prev(v, x);
	uint64_t before = (n[p].hole != 0) + (n[x].hole != 0);

	if (n[p].hole)
		vma_size_remove(v, p);
	if (n[x].hole)
		vma_size_remove(v, x);
	n[p].hole += n[x].size + n[x].hole;
	vma_hole_refresh(v->r, &n[p]);
	if (n[x].left == VMA_NIL) {
		vma_tree_remove(v, x, p); /* p is x's ancestor: recomputed on the way up */
	} else {
		vma_tree_remove(v, x, VMA_NIL);
		vma_tree_fix_up(v, p);
	}
	node_free(v, x);
	vma_size_insert(v, p);
	v->r->holes += 1 - before;
}

/* ---- operations ---- */

int viova_vma_alloc(struct viova_vma *vma, uint32_t handle, uint64_t size, uint64_t align,
		    uint64_t *offset)
{
	struct viova_vma_alloc_args a = {.handle = handle, .size = size, .align = align};

	return viova_vma_alloc_ex(vma, &a, offset);
}

int viova_vma_alloc_ex(struct viova_vma *vma, const struct viova_vma_alloc_args *args,
		       uint64_t *offset)
{
	if (!vma || !args || !offset || args->handle == VIOVA_VMA_NO_HANDLE || !args->size)
		return -EINVAL;
	if (args->align && (!is_pow2(args->align) || args->align > VIOVA_VMA_MAX_ALIGN))
		return -EINVAL;
	if (args->no_span && (!is_pow2(args->no_span) || args->size > args->no_span))
		return -EINVAL;

	struct viova_vma *v = vma;
	struct vma_region *r;
	int ret = 0;

	vma_lock(v);
	r = v->r;

	struct vma_req q = {
	    .size = args->size,
	    .align = args->align > r->default_align ? args->align : r->default_align,
	    .no_span = args->no_span,
	};
	uint32_t lvl = (uint32_t)(__builtin_ctzll(q.align) - __builtin_ctzll(r->default_align));

	q.lvl = lvl < VMA_LEVELS ? lvl : VMA_LEVELS - 1;
	q.need = vma_lvl_encode(q.size);
	uint32_t u = vma_handles_find(v, args->handle);

	if (u != VMA_NIL) {
		const struct vma_node *x = &v->n[u];

		if (x->size != q.size || (x->start & (q.align - 1)) ||
		    crosses(x->start, q.size, q.no_span))
			ret = -EEXIST;
		else
			*offset = x->start;
		goto out;
	}
	if (q.size > r->end - r->start) {
		ret = -ENOSPC;
		goto out;
	}

	/* Placement may advance the RANDOM generator / RELOC state: undo it if we fail. */
	uint64_t rng = r->rng_state, wraps = r->wraps, o = 0;
	uint32_t h = place(v, &q, &o);

	if (h == VMA_NIL) {
		ret = -ENOSPC;
	} else {
		ret = reserve_room(v, 1, 1);
		r = v->r;
	}
	if (ret) {
		r->rng_state = rng;
		r->wraps = wraps;
		goto out;
	}
	u = carve(v, h, o, q.size, VMA_ALLOC, args->handle);
	vma_handles_insert(v, args->handle, u);
	r->allocs++;
	r->alloc_bytes += q.size;
	if (r->type == VIOVA_VMA_RELOC)
		r->cursor = o + q.size;
	*offset = o;
out:
	vma_unlock(v);
	return ret;
}

int viova_vma_free(struct viova_vma *vma, uint32_t handle)
{
	if (!vma)
		return -EINVAL;
	vma_lock(vma);

	uint32_t u = vma_handles_take(vma, handle);
	int ret = -ENOENT;

	if (u != VMA_NIL) {
		vma->r->allocs--;
		vma->r->alloc_bytes -= vma->n[u].size;
		release(vma, u);
		maybe_shrink(vma);
		ret = 0;
	}
	vma_unlock(vma);
	return ret;
}

bool viova_vma_is_allocated(struct viova_vma *vma, uint32_t handle, uint64_t size, uint64_t offset)
{
	bool yes = false;

	if (!vma)
		return false;
	vma_lock(vma);

	uint32_t u = vma_handles_find(vma, handle);

	if (u != VMA_NIL)
		yes = vma->n[u].start == offset && vma->n[u].size == size;
	vma_unlock(vma);
	return yes;
}

int viova_vma_lookup(struct viova_vma *vma, uint32_t handle, uint64_t *offset, uint64_t *size)
{
	int ret = -ENOENT;

	if (!vma)
		return -EINVAL;
	vma_lock(vma);

	uint32_t u = vma_handles_find(vma, handle);

	if (u != VMA_NIL) {
		if (offset)
			*offset = vma->n[u].start;
		if (size)
			*size = vma->n[u].size;
		ret = 0;
	}
	vma_unlock(vma);
	return ret;
}

static int reserve_locked(struct viova_vma *v, uint32_t tag, uint64_t offset, uint64_t size)
{
	struct vma_region *r = v->r;

	if (offset < r->start || offset >= r->end || size > r->end - offset)
		return -ERANGE;

	uint32_t h = vma_tree_find(v, offset);
	const struct vma_node *x = &v->n[h];

	if (offset < vma_hole_start(x)) { /* inside x's used range */
		if (x->kind == VMA_RESV && x->start == offset && x->size == size)
			return -EEXIST;
		return -EBUSY;
	}
	if (vma_hole_end(x) - offset < size)
		return -EBUSY;

	int ret = reserve_room(v, 1, 0);

	if (ret)
		return ret;
	carve(v, h, offset, size, VMA_RESV, tag);
	v->r->resvs++;
	v->r->resv_bytes += size;
	return 0;
}

static int check_range_args(uint64_t offset, uint64_t size)
{
	if (!size || offset > UINT64_MAX - size)
		return -EINVAL;
	return 0;
}

int viova_vma_reserve(struct viova_vma *vma, uint32_t handle, uint64_t offset, uint64_t size)
{
	if (!vma)
		return -EINVAL;

	int ret = check_range_args(offset, size);

	if (ret)
		return ret;
	vma_lock(vma);
	ret = reserve_locked(vma, handle, offset, size);
	vma_unlock(vma);
	return ret;
}

/* The reservation at exactly [offset, offset + size), or NIL. */
static uint32_t find_resv(const struct viova_vma *v, uint64_t offset, uint64_t size)
{
	uint32_t x = vma_tree_find(v, offset);

	if (x == VMA_NIL || v->n[x].kind != VMA_RESV || v->n[x].start != offset ||
	    v->n[x].size != size)
		return VMA_NIL;
	return x;
}

int viova_vma_unreserve(struct viova_vma *vma, uint32_t handle, uint64_t offset, uint64_t size)
{
	if (!vma)
		return -EINVAL;
	vma_lock(vma);

	uint32_t x = find_resv(vma, offset, size);
	int ret = 0;

	if (x == VMA_NIL) {
		ret = -ENOENT;
	} else if (vma->n[x].handle != handle) {
		ret = -EPERM;
	} else {
		vma->r->resvs--;
		vma->r->resv_bytes -= size;
		release(vma, x);
		maybe_shrink(vma);
	}
	vma_unlock(vma);
	return ret;
}

bool viova_vma_is_reserved(struct viova_vma *vma, uint64_t offset, uint64_t size)
{
	if (!vma)
		return false;
	vma_lock(vma);

	bool yes = find_resv(vma, offset, size) != VMA_NIL;

	vma_unlock(vma);
	return yes;
}

int viova_vma_reserve_if_not_allocated(struct viova_vma *vma, uint32_t handle, uint64_t size,
				       uint64_t offset, bool *was_allocated)
{
	if (!vma || !was_allocated)
		return -EINVAL;

	int ret = check_range_args(offset, size);

	if (ret)
		return ret;
	vma_lock(vma);

	uint32_t u = vma_handles_find(vma, handle);

	if (u != VMA_NIL && vma->n[u].start == offset && vma->n[u].size == size) {
		*was_allocated = true;
	} else {
		ret = reserve_locked(vma, handle, offset, size);
		if (!ret)
			*was_allocated = false;
	}
	vma_unlock(vma);
	return ret;
}

int viova_vma_address_range(struct viova_vma *vma, uint64_t *start, uint64_t *end)
{
	if (!vma || !start || !end)
		return -EINVAL;
	/* Immutable after creation: no lock needed. */
	*start = vma->r->start;
	*end = vma->r->end;
	return 0;
}

bool viova_vma_is_empty(struct viova_vma *vma)
{
	if (!vma)
		return false;
	vma_lock(vma);

	bool empty = vma->r->allocs == 0 && vma->r->resvs == 0;

	vma_unlock(vma);
	return empty;
}

int viova_vma_next_range(struct viova_vma *vma, uint64_t from, struct viova_vma_range *out)
{
	if (!vma || !out)
		return -EINVAL;
	vma_lock(vma);

	struct viova_vma *v = vma;
	uint32_t x = VMA_NIL;
	int ret = -ENOENT;

	if (from < v->r->end) {
		x = vma_tree_find(v, from < v->r->start ? v->r->start : from);
		/* x holds from in its used range or hole: the next used range starts after x */
		if (v->n[x].start < from || v->n[x].kind == VMA_HEAD)
			x = vma_tree_next(v, x);
	}
	if (x != VMA_NIL) {
		out->offset = v->n[x].start;
		out->size = v->n[x].size;
		out->handle = v->n[x].handle;
		out->kind = v->n[x].kind == VMA_ALLOC ? VIOVA_VMA_RANGE_ALLOCATED
						      : VIOVA_VMA_RANGE_RESERVED;
		ret = 0;
	}
	vma_unlock(vma);
	return ret;
}

int viova_vma_get_stats(struct viova_vma *vma, struct viova_vma_stats *st)
{
	if (!vma || !st)
		return -EINVAL;
	vma_lock(vma);

	const struct vma_region *r = vma->r;

	memset(st, 0, sizeof(*st));
	st->start = r->start;
	st->end = r->end;
	st->allocations = r->allocs;
	st->allocated_bytes = r->alloc_bytes;
	st->reservations = r->resvs;
	st->reserved_bytes = r->resv_bytes;
	st->free_bytes = (r->end - r->start) - r->alloc_bytes - r->resv_bytes;
	st->largest_hole = vma_tree_largest_hole(vma);
	st->holes = r->holes;
	st->reloc_wraps = r->wraps;
	st->nodes_used = r->nodes_live;
	st->nodes_capacity = r->node_cap - 1;
	st->memory_bytes = r->region_bytes + sizeof(*vma);
	st->memory_used_bytes =
	    VMA_HDR_BYTES + sizeof(*vma) +
	    (uint64_t)r->nodes_live *
		(sizeof(struct vma_node) + (vma->sl ? sizeof(struct vma_slinks) : 0)) +
	    ((uint64_t)r->slot_used * sizeof(struct vma_slot) * 4 + 2) / 3;
	vma_unlock(vma);
	return 0;
}

int viova_vma_check(struct viova_vma *vma, char *why, size_t why_len)
{
	if (!vma)
		return -EINVAL;
	vma_lock(vma);

	int ret = vma_check_locked(vma, why, why_len);

	vma_unlock(vma);
	return ret;
}

const char *viova_vma_type_name(enum viova_vma_type type)
{
	switch (type) {
	case VIOVA_VMA_SIMPLE:
		return "simple";
	case VIOVA_VMA_RELOC:
		return "reloc";
	case VIOVA_VMA_RANDOM:
		return "random";
	}
	return "?";
}

const char *viova_vma_strategy_name(enum viova_vma_strategy strategy)
{
	switch (strategy) {
	case VIOVA_VMA_STRATEGY_DEFAULT:
		return "default";
	case VIOVA_VMA_LOW_TO_HIGH:
		return "low_to_high";
	case VIOVA_VMA_HIGH_TO_LOW:
		return "high_to_low";
	case VIOVA_VMA_BEST_FIT:
		return "best_fit";
	}
	return "?";
}

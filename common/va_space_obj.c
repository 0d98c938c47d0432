/* SPDX-License-Identifier: MIT */
/*
 * va_space_obj.c - object <-> mapping links.
 *
 * Each object key with at least one mapping has one slot in an open-addressing hash (linear
 * probing, backward-shift deletion so there are no tombstones). The slot holds the index of the
 * first node of a doubly linked list threaded through the nodes (onext / oprev), so linking and
 * unlinking a mapping is O(1) and closing a buffer visits only its own mappings.
 *
 *   hash slot            nodes (in the tree by address, in the list by object)
 *   { key=7, head=12 } -> [12] <-> [3] <-> [40] -> 0
 *
 * A slot is 12 bytes (packed key + head) and the table is at most 3/4 full, so an object costs
 * 16..32 bytes on top of its mappings' nodes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "va_space_priv.h"

#define HASH_MIN 64u

/* splitmix64 finaliser: caller keys are often small or (ctx << 32 | id), so mix all bits */
static inline uint32_t slot_of(uint64_t key, uint32_t mask)
{
	key ^= key >> 30;
	key *= 0xbf58476d1ce4e5b9ull;
	key ^= key >> 27;
	key *= 0x94d049bb133111ebull;
	key ^= key >> 31;
	return (uint32_t)key & mask;
}

/* Slot holding key, or the empty slot where it would go. Needs hcap > 0. */
static uint32_t probe(const struct viova_va_space *vs, uint64_t key)
{
	uint32_t mask = vs->hcap - 1, s = slot_of(key, mask);

	while (vs->hslot[s].head != VAS_NIL && vs->hslot[s].key != key)
		s = (s + 1) & mask;
	return s;
}

uint32_t vas_obj_head(const struct viova_va_space *vs, uint64_t obj)
{
	if (!vs->hcap)
		return VAS_NIL;
	return vs->hslot[probe(vs, obj)].head;
}

bool viova_va_space_obj_mapped(const struct viova_va_space *vs, uint64_t obj)
{
	return vas_obj_head(vs, obj) != VAS_NIL;
}

static int rehash(struct viova_va_space *vs, uint32_t cap)
{
	struct vas_slot *old = vs->hslot, *nslot;
	uint32_t ocap = vs->hcap, i;

	nslot = calloc(cap, sizeof(*nslot));
	if (!nslot)
		return -ENOMEM;
	vs->hslot = nslot;
	vs->hcap = cap;
	for (i = 0; i < ocap; i++) {
		if (old[i].head != VAS_NIL)
			nslot[probe(vs, old[i].key)] = old[i];
	}
	free(old);
	return 0;
}

/* Room for one more object: grow at 3/4 full. */
static int make_room(struct viova_va_space *vs)
{
	if (vs->hcap && ((uint64_t)vs->hcount + 1) * 4 <= (uint64_t)vs->hcap * 3)
		return 0;
	if (vs->hcap >= (1u << 31))
		return -ENOMEM;
	return rehash(vs, vs->hcap ? vs->hcap * 2 : HASH_MIN);
}

/* Make sure linking a mapping of obj later cannot need memory. */
int vas_obj_reserve(struct viova_va_space *vs, uint64_t obj)
{
	if (vas_obj_head(vs, obj) != VAS_NIL)
		return 0;
	return make_room(vs);
}

/*
 * The slot obj's list lives in (or will start in), with room made first if obj is new: one probe
 * on the common path. The slot stays valid until the hash changes.
 */
int vas_obj_prepare(struct viova_va_space *vs, uint64_t obj, uint32_t *slot)
{
	int ret;

	if (vs->hcap) {
		*slot = probe(vs, obj);
		/* known object, or a new one and the table has room: the probe's slot is it */
		if (vs->hslot[*slot].head != VAS_NIL ||
		    ((uint64_t)vs->hcount + 1) * 4 <= (uint64_t)vs->hcap * 3)
			return 0;
	}
	ret = make_room(vs);
	if (ret)
		return ret;
	*slot = probe(vs, obj);
	return 0;
}

/* Put node i at the head of its object's list in slot s (from vas_obj_prepare). */
void vas_obj_link_slot(struct viova_va_space *vs, uint32_t i, uint32_t s)
{
	struct vas_node *n = vas_n(vs, i);

	n->onext = n->oprev = VAS_NIL;
	if (vs->hslot[s].head == VAS_NIL) {
		vs->hslot[s].key = n->obj;
		vs->hcount++;
	} else {
		n->onext = vs->hslot[s].head;
		vas_n(vs, n->onext)->oprev = i;
	}
	vs->hslot[s].head = i;
}

/* Link node i into its object's list; room was reserved. Sparse nodes are not linked. */
void vas_obj_link(struct viova_va_space *vs, uint32_t i)
{
	struct vas_node *n = vas_n(vs, i);

	if (n->flags & VIOVA_VA_SPARSE) {
		n->onext = n->oprev = VAS_NIL;
		return;
	}
	vas_obj_link_slot(vs, i, probe(vs, n->obj));
}

/* Remove slot s; later entries of its probe run move up so lookups never cross a hole. */
static void slot_delete(struct viova_va_space *vs, uint32_t s)
{
	uint32_t mask = vs->hcap - 1, j = s;

	for (;;) {
		uint32_t home;

		j = (j + 1) & mask;
		if (vs->hslot[j].head == VAS_NIL)
			break;
		home = slot_of(vs->hslot[j].key, mask);
		/* entry j may fill the hole at s only if its home is not in (s, j] (cyclically) */
		if (s <= j ? (s < home && home <= j) : (s < home || home <= j))
			continue;
		vs->hslot[s] = vs->hslot[j];
		s = j;
	}
	vs->hslot[s].head = VAS_NIL;
	vs->hslot[s].key = 0;
	vs->hcount--;
}

/* Slot of obj (VAS_NIL-headed if it has no mapping); needs hcap > 0. */
uint32_t vas_obj_slot(const struct viova_va_space *vs, uint64_t obj)
{
	return probe(vs, obj);
}

/* vas_obj_unlink() for a caller that already probed obj's slot s (saves the probe). */
void vas_obj_unlink_slot(struct viova_va_space *vs, uint32_t i, uint32_t s)
{
	struct vas_node *n = vas_n(vs, i);

	if (n->onext != VAS_NIL)
		vas_n(vs, n->onext)->oprev = n->oprev;
	if (n->oprev != VAS_NIL)
		vas_n(vs, n->oprev)->onext = n->onext;
	else if (n->onext != VAS_NIL)
		vs->hslot[s].head = n->onext;
	else
		slot_delete(vs, s);
	n->onext = n->oprev = VAS_NIL;
}

void vas_obj_unlink(struct viova_va_space *vs, uint32_t i)
{
	struct vas_node *n = vas_n(vs, i);

	if (n->flags & VIOVA_VA_SPARSE)
		return;
	if (n->onext != VAS_NIL)
		vas_n(vs, n->onext)->oprev = n->oprev;
	if (n->oprev != VAS_NIL) {
		vas_n(vs, n->oprev)->onext = n->onext;
	} else {
		uint32_t s = probe(vs, n->obj);

		if (n->onext != VAS_NIL)
			vs->hslot[s].head = n->onext;
		else
			slot_delete(vs, s);
	}
	n->onext = n->oprev = VAS_NIL;
}

void vas_obj_free(struct viova_va_space *vs)
{
	free(vs->hslot);
	vs->hslot = NULL;
	vs->hcap = vs->hcount = 0;
}

/* Debug: every slot findable, every list well linked and made of live nodes of that object. */
int vas_obj_check(const struct viova_va_space *vs, char *msg, size_t len, uint32_t *linked)
{
	uint32_t s, used = 0, total = 0;

#define OBAD(...)                                                                                  \
	do {                                                                                       \
		if (msg)                                                                           \
			snprintf(msg, len, __VA_ARGS__);                                           \
		return -EUCLEAN;                                                                   \
	} while (0)

	if (vs->hcap & (vs->hcap - 1))
		OBAD("hash capacity %u is not a power of two", vs->hcap);
	for (s = 0; s < vs->hcap; s++) {
		uint32_t i, prev = VAS_NIL, steps = 0;
		uint64_t key = vs->hslot[s].key;

		if (vs->hslot[s].head == VAS_NIL)
			continue;
		used++;
		if (probe(vs, key) != s)
			OBAD("object %" PRIu64 " in hash slot %u is not reachable from its home",
			     key, s);
		for (i = vs->hslot[s].head; i != VAS_NIL; i = vas_n(vs, i)->onext) {
			const struct vas_node *n;

			if (i >= vs->nalloc || ++steps > vs->count)
				OBAD("object %" PRIu64 ": list runs off the arena or loops", key);
			n = vas_n(vs, i);
			if (n->parent == VAS_FREE_MARK)
				OBAD("object %" PRIu64 ": list holds free node %u", key, i);
			if (n->obj != key || (n->flags & VIOVA_VA_SPARSE))
				OBAD("object %" PRIu64 ": list holds node %u of object %" PRIu64
				     " flags 0x%x",
				     key, i, n->obj, n->flags);
			if (n->oprev != prev)
				OBAD("object %" PRIu64 ": node %u back link %u, expected %u", key,
				     i, n->oprev, prev);
			prev = i;
		}
		total += steps;
	}
	if (used != vs->hcount)
		OBAD("hash holds %u objects, count says %u", used, vs->hcount);
	if (vs->hcap && (uint64_t)used * 4 > (uint64_t)vs->hcap * 3)
		OBAD("hash over-full: %u of %u slots", used, vs->hcap);
	*linked = total;
	return 0;
#undef OBAD
}

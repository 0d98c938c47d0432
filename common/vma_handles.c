// SPDX-License-Identifier: MIT
/*
 * vma_handles.c - handle -> node index of a heap's allocations.
 *
 * Open addressing with linear probing in the region's slot array; a slot stores the handle next
 * to the node index so that a probe never has to visit a node. Fibonacci hashing spreads the
 * sequential handles callers usually have. Deletion shifts the following cluster back instead of
 * leaving tombstones, so lookups stay short however many frees happened. Load factor <= 3/4
 * (vma_handles_limit); vma.c grows the table (owned mode) or refuses (in-place) before that.
 */
#include "vma_priv.h"

static inline uint32_t slot_of(const struct viova_vma *v, uint32_t handle)
{
	return (uint32_t)((handle * 0x9e3779b1u) >> (32 - v->r->slot_bits));
}

uint32_t vma_handles_find(const struct viova_vma *v, uint32_t handle)
{
	uint32_t mask = v->r->slot_cap - 1;

	for (uint32_t i = slot_of(v, handle);; i = (i + 1) & mask) {
		const struct vma_slot *s = &v->slots[i];

		if (s->node == VMA_NIL)
			return VMA_NIL;
		if (s->handle == handle)
			return s->node;
	}
}

void vma_handles_insert(struct viova_vma *v, uint32_t handle, uint32_t node)
{
	uint32_t mask = v->r->slot_cap - 1;
	uint32_t i = slot_of(v, handle);

	while (v->slots[i].node != VMA_NIL)
		i = (i + 1) & mask;
	v->slots[i].handle = handle;
	v->slots[i].node = node;
	v->r->slot_used++;
}

uint32_t vma_handles_take(struct viova_vma *v, uint32_t handle)
{
	uint32_t mask = v->r->slot_cap - 1;
	uint32_t i = slot_of(v, handle);

	while (v->slots[i].handle != handle || v->slots[i].node == VMA_NIL) {
		if (v->slots[i].node == VMA_NIL)
			return VMA_NIL;
		i = (i + 1) & mask;
	}

	uint32_t node = v->slots[i].node;

	/*
	 * Backward-shift deletion: walk the rest of the cluster and move back every entry whose
	 * home slot does not lie cyclically in (hole, j], i.e. that would become unreachable.
	 */
	uint32_t hole = i;

	for (uint32_t j = (i + 1) & mask; v->slots[j].node != VMA_NIL; j = (j + 1) & mask) {
		uint32_t home = slot_of(v, v->slots[j].handle);

		if (((j - home) & mask) >= ((j - hole) & mask)) {
			v->slots[hole] = v->slots[j];
			hole = j;
		}
	}
	v->slots[hole].node = VMA_NIL;
	v->slots[hole].handle = 0;
	v->r->slot_used--;
	return node;
}

void vma_handles_rehash(struct viova_vma *v, const struct vma_slot *old, uint32_t old_cap)
{
	for (uint32_t i = 0; i < old_cap; i++)
		if (old[i].node != VMA_NIL)
			vma_handles_insert(v, old[i].handle, old[i].node);
}

void vma_handles_rebind(struct viova_vma *v, uint32_t handle, uint32_t node)
{
	uint32_t mask = v->r->slot_cap - 1;

	for (uint32_t i = slot_of(v, handle); v->slots[i].node != VMA_NIL; i = (i + 1) & mask) {
		if (v->slots[i].handle == handle) {
			v->slots[i].node = node;
			return;
		}
	}
}

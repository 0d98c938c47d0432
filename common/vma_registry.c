// SPDX-License-Identifier: MIT
/*
 * vma_registry.c - refcounted heaps per (device, context) or (device, VM), seed semantics.
 *
 *   handles (slots)          keys                      heaps
 *   +------------------+
 *   | 1: dev 3, ctx 1  |---+
 *   | 2: dev 3, ctx 1  |---+------------------------> heap A  refs 2
 *   | 3: dev 3, vm 1   |---+
 *   | 4: dev 3, vm 1   |---+------------------------> heap B  refs 3
 *   | 5: dev 3, vm 2   |---+  (open_as of handle 3)
 *   +------------------+
 *
 * Every open adds a slot. A slot names its key and its heap; all slots with the same key point
 * to the same heap. A hash table (open addressing, linear probing, backward-shift deletion)
 * maps each key with at least one open slot to its heap and that slot count, so open and
 * open_as are O(1) expected however many handles are open; closed slots are kept on a free
 * list. Handles are (generation << 32 | slot + 1): a closed slot is reused with a new
 * generation, so a stale handle is refused rather than aliasing a newer heap.
 *
 * This registry is process-local (it holds pointers); only the heaps' regions are designed to
 * be shared between processes.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "viova/vma.h"

struct reg_heap {
	struct viova_vma *vma;
	struct viova_vma_config cfg; /* as given (for the reopen comparison) */
	uint32_t refs;
};

struct reg_slot {
	uint32_t gen;
	bool open;
	uint32_t next_free; /* closed slots: index + 1 of the next closed one, 0 = end */
	struct viova_vma_key key;
	struct reg_heap *heap;
};

/* Key table entry; heap == NULL marks an empty entry. */
struct reg_key {
	struct viova_vma_key key;
	struct reg_heap *heap;
	uint32_t slots; /* open slots with this key */
};

struct viova_vma_registry {
	pthread_mutex_t lock;
	struct reg_slot *slots;
	uint32_t nslots, cap;
	uint32_t free_head; /* index + 1 of a closed slot, 0 = none */
	struct reg_key *keys;
	uint32_t kcap, kused; /* kcap: 0 or a power of two; kused <= kcap / 2 */
};

int viova_vma_registry_create(struct viova_vma_registry **out)
{
	if (!out)
		return -EINVAL;

	struct viova_vma_registry *reg = calloc(1, sizeof(*reg));

	if (!reg)
		return -ENOMEM;
	if (pthread_mutex_init(&reg->lock, NULL)) {
		free(reg);
		return -ENOMEM;
	}
	*out = reg;
	return 0;
}

static void heap_put(struct reg_heap *h, bool *was_empty)
{
	bool empty = false;

	if (--h->refs == 0) {
		empty = viova_vma_is_empty(h->vma);
		viova_vma_destroy(h->vma);
		free(h);
	}
	if (was_empty)
		*was_empty = empty;
}

void viova_vma_registry_destroy(struct viova_vma_registry *reg)
{
	if (!reg)
		return;
	for (uint32_t i = 0; i < reg->nslots; i++)
		if (reg->slots[i].open)
			heap_put(reg->slots[i].heap, NULL);
	free(reg->slots);
	free(reg->keys);
	pthread_mutex_destroy(&reg->lock);
	free(reg);
}

static bool same_key(const struct viova_vma_key *a, const struct viova_vma_key *b)
{
	return a->device == b->device && a->owner == b->owner && a->id == b->id;
}

static uint32_t key_hash(const struct viova_vma_key *k)
{
	uint64_t x = k->device * 0x9e3779b97f4a7c15ull ^ ((uint64_t)k->owner << 32 | k->id);

	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ull;
	return (uint32_t)(x ^ (x >> 29));
}

/* The table entry of @key, or the empty entry where it would go (kcap must be > 0). */
static struct reg_key *key_slot(struct viova_vma_registry *reg, const struct viova_vma_key *key)
{
	uint32_t mask = reg->kcap - 1;

	for (uint32_t i = key_hash(key) & mask;; i = (i + 1) & mask)
		if (!reg->keys[i].heap || same_key(&reg->keys[i].key, key))
			return &reg->keys[i];
}

static struct reg_heap *find_key(struct viova_vma_registry *reg, const struct viova_vma_key *key)
{
	return reg->kcap ? key_slot(reg, key)->heap : NULL;
}

/* Make room for one more key (load <= 1/2); rehash into a doubled table. */
static int key_reserve(struct viova_vma_registry *reg)
{
	if (reg->kcap && (reg->kused + 1) * 2 <= reg->kcap)
		return 0;

	uint32_t cap = reg->kcap ? reg->kcap * 2 : 16, old_cap = reg->kcap;
	struct reg_key *old = reg->keys, *k;

	if (cap > (1u << 30))
		return -ENOMEM;
	k = calloc(cap, sizeof(*k));
	if (!k)
		return -ENOMEM;
	reg->keys = k;
	reg->kcap = cap;
	for (uint32_t i = 0; i < old_cap; i++)
		if (old[i].heap)
			*key_slot(reg, &old[i].key) = old[i];
	free(old);
	return 0;
}

/* One more open slot named @key on heap @h (key_reserve() was called). */
static void key_ref(struct viova_vma_registry *reg, const struct viova_vma_key *key,
		    struct reg_heap *h)
{
	struct reg_key *e = key_slot(reg, key);

	if (!e->heap) {
		e->key = *key;
		e->heap = h;
		e->slots = 0;
		reg->kused++;
	}
	e->slots++;
}

/* One open slot named @key fewer: the last one removes the key (backward-shift deletion). */
static void key_unref(struct viova_vma_registry *reg, const struct viova_vma_key *key)
{
	uint32_t mask = reg->kcap - 1;
	struct reg_key *e = key_slot(reg, key);

	if (--e->slots)
		return;

	uint32_t hole = (uint32_t)(e - reg->keys);

	for (uint32_t j = (hole + 1) & mask; reg->keys[j].heap; j = (j + 1) & mask) {
		uint32_t home = key_hash(&reg->keys[j].key) & mask;

		if (((j - home) & mask) >= ((j - hole) & mask)) {
			reg->keys[hole] = reg->keys[j];
			hole = j;
		}
	}
	memset(&reg->keys[hole], 0, sizeof(reg->keys[hole]));
	reg->kused--;
}

/* Compare two configurations after the defaults are applied the way the heap applies them. */
static bool same_config(const struct viova_vma_config *a, const struct viova_vma_config *b)
{
	enum viova_vma_strategy sa = a->strategy, sb = b->strategy;
	uint64_t da = a->default_align ? a->default_align : VIOVA_VMA_DEFAULT_ALIGN;
	uint64_t db = b->default_align ? b->default_align : VIOVA_VMA_DEFAULT_ALIGN;

	if (a->type == VIOVA_VMA_SIMPLE && sa == VIOVA_VMA_STRATEGY_DEFAULT)
		sa = VIOVA_VMA_HIGH_TO_LOW;
	if (b->type == VIOVA_VMA_SIMPLE && sb == VIOVA_VMA_STRATEGY_DEFAULT)
		sb = VIOVA_VMA_HIGH_TO_LOW;
	return a->start == b->start && a->end == b->end && a->type == b->type && sa == sb &&
	       da == db && (a->type != VIOVA_VMA_RANDOM || a->seed == b->seed);
}

/* A free slot (growing the array if needed), taken off the free list; index or -ENOMEM. */
static int64_t slot_get(struct viova_vma_registry *reg)
{
	if (reg->free_head) {
		uint32_t i = reg->free_head - 1;

		reg->free_head = reg->slots[i].next_free;
		return i;
	}
	if (reg->nslots == reg->cap) {
		uint32_t cap = reg->cap ? reg->cap * 2 : 16;
		struct reg_slot *s;

		if (cap > (1u << 30))
			return -ENOMEM;
		s = realloc(reg->slots, cap * sizeof(*s));
		if (!s)
			return -ENOMEM;
		memset(s + reg->cap, 0, (cap - reg->cap) * sizeof(*s));
		reg->slots = s;
		reg->cap = cap;
	}
	return reg->nslots++;
}

/* Give back a slot slot_get() returned but nobody opened. */
static void slot_put(struct viova_vma_registry *reg, uint32_t i)
{
	reg->slots[i].next_free = reg->free_head;
	reg->free_head = i + 1;
}

static uint64_t slot_open(struct viova_vma_registry *reg, uint32_t i,
			  const struct viova_vma_key *key, struct reg_heap *h)
{
	struct reg_slot *s = &reg->slots[i];

	s->gen++;
	s->open = true;
	s->key = *key;
	s->heap = h;
	h->refs++;
	key_ref(reg, key, h);
	return ((uint64_t)s->gen << 32) | (i + 1);
}

static struct reg_slot *slot_of(struct viova_vma_registry *reg, uint64_t handle)
{
	uint32_t i = (uint32_t)handle;

	if (i == 0 || i > reg->nslots)
		return NULL;

	struct reg_slot *s = &reg->slots[i - 1];

	return s->open && s->gen == (uint32_t)(handle >> 32) ? s : NULL;
}

int viova_vma_open(struct viova_vma_registry *reg, const struct viova_vma_key *key,
		   const struct viova_vma_config *cfg, uint64_t *handle)
{
	if (!reg || !key || !cfg || !handle)
		return -EINVAL;
	if (key->owner != VIOVA_VMA_OWNER_CTX && key->owner != VIOVA_VMA_OWNER_VM)
		return -EINVAL;

	int ret = 0;

	pthread_mutex_lock(&reg->lock);

	struct reg_heap *h = find_key(reg, key);
	int64_t i;

	if (h && !same_config(&h->cfg, cfg)) {
		ret = -EEXIST;
		goto out;
	}
	ret = key_reserve(reg);
	if (ret)
		goto out;
	i = slot_get(reg);
	if (i < 0) {
		ret = (int)i;
		goto out;
	}
	if (!h) {
		h = calloc(1, sizeof(*h));
		if (!h) {
			slot_put(reg, (uint32_t)i);
			ret = -ENOMEM;
			goto out;
		}
		ret = viova_vma_create(cfg, &h->vma);
		if (ret) {
			free(h);
			slot_put(reg, (uint32_t)i);
			goto out;
		}
		h->cfg = *cfg;
	}
	*handle = slot_open(reg, (uint32_t)i, key, h);
out:
	pthread_mutex_unlock(&reg->lock);
	return ret;
}

int viova_vma_open_as(struct viova_vma_registry *reg, uint64_t handle, uint32_t new_vm,
		      uint64_t *new_handle)
{
	if (!reg || !new_handle)
		return -EINVAL;

	int ret = 0;

	pthread_mutex_lock(&reg->lock);

	struct reg_slot *s = slot_of(reg, handle);

	if (!s) {
		ret = -ENOENT;
		goto out;
	}
	if (s->key.owner != VIOVA_VMA_OWNER_VM) {
		ret = -EINVAL;
		goto out;
	}

	struct viova_vma_key key = {
	    .device = s->key.device, .owner = VIOVA_VMA_OWNER_VM, .id = new_vm};
	struct reg_heap *h = s->heap, *other = find_key(reg, &key);

	if (other && other != h) {
		ret = -EEXIST;
		goto out;
	}

	ret = key_reserve(reg);
	if (ret)
		goto out;

	int64_t i = slot_get(reg); /* may move reg->slots: s is stale from here on */

	if (i < 0) {
		ret = (int)i;
		goto out;
	}
	*new_handle = slot_open(reg, (uint32_t)i, &key, h);
out:
	pthread_mutex_unlock(&reg->lock);
	return ret;
}

int viova_vma_close(struct viova_vma_registry *reg, uint64_t handle, bool *was_empty)
{
	if (!reg)
		return -EINVAL;
	pthread_mutex_lock(&reg->lock);

	struct reg_slot *s = slot_of(reg, handle);
	int ret = 0;

	if (!s) {
		ret = -ENOENT;
	} else {
		s->open = false;
		key_unref(reg, &s->key);
		slot_put(reg, (uint32_t)(s - reg->slots));
		heap_put(s->heap, was_empty);
		s->heap = NULL;
	}
	pthread_mutex_unlock(&reg->lock);
	return ret;
}

int viova_vma_get(struct viova_vma_registry *reg, uint64_t handle, struct viova_vma **vma)
{
	if (!reg || !vma)
		return -EINVAL;
	pthread_mutex_lock(&reg->lock);

	struct reg_slot *s = slot_of(reg, handle);

	if (s)
		*vma = s->heap->vma;
	pthread_mutex_unlock(&reg->lock);
	return s ? 0 : -ENOENT;
}

int viova_vma_refcount(struct viova_vma_registry *reg, uint64_t handle, uint32_t *refs)
{
	if (!reg || !refs)
		return -EINVAL;
	pthread_mutex_lock(&reg->lock);

	struct reg_slot *s = slot_of(reg, handle);

	if (s)
		*refs = s->heap->refs;
	pthread_mutex_unlock(&reg->lock);
	return s ? 0 : -ENOENT;
}

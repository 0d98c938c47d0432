/* SPDX-License-Identifier: MIT */
/*
 * host_idmap.c - guest id -> arena index, the O(1) lookup behind every buffer id a guest names.
 *
 * Open addressing with linear probing, at most 3/4 full, deletion by backward shift (no
 * tombstones, so a long-lived connection that creates and closes millions of buffers never
 * degrades). Keys are guest ids, which are nonzero (the decoder rejects 0), so key 0 marks an
 * empty slot. 8 bytes per slot: 11..21 bytes per live id.
 *
 * Written here rather than taken from a library: glib's GHashTable costs ~40 bytes per entry
 * plus a separate allocation per table, and hsearch(3) cannot delete; the per-mapping memory
 * target (docs/architecture.md) leaves no room for either.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host_priv.h"

#define IDMAP_MIN 16u

static inline uint32_t home_of(uint32_t key, uint32_t mask)
{
	/* Fibonacci hashing: guest ids are often dense (1, 2, 3...), spread them. */
	return (uint32_t)(((uint64_t)key * 0x9e3779b97f4a7c15ull) >> 32) & mask;
}

uint32_t host_idmap_get(const struct host_idmap *m, uint32_t key)
{
	uint32_t mask, s;

	if (!m->cap || key == 0)
		return HOST_NIL;
	mask = m->cap - 1;
	for (s = home_of(key, mask); m->slots[s].key; s = (s + 1) & mask) {
		if (m->slots[s].key == key)
			return m->slots[s].val;
	}
	return HOST_NIL;
}

static void place(struct host_idslot *slots, uint32_t mask, uint32_t key, uint32_t val)
{
	uint32_t s = home_of(key, mask);

	while (slots[s].key)
		s = (s + 1) & mask;
	slots[s].key = key;
	slots[s].val = val;
}

static int rehash(struct host_idmap *m, uint32_t cap)
{
	struct host_idslot *slots = calloc(cap, sizeof(*slots));
	uint32_t i;

	if (!slots)
		return -ENOMEM;
	for (i = 0; i < m->cap; i++) {
		if (m->slots[i].key)
			place(slots, cap - 1, m->slots[i].key, m->slots[i].val);
	}
	free(m->slots);
	m->slots = slots;
	m->cap = cap;
	return 0;
}

int host_idmap_reserve(struct host_idmap *m, uint32_t n)
{
	uint64_t need = (uint64_t)m->count + n;
	uint64_t cap = m->cap ? m->cap : IDMAP_MIN;

	while (need > cap / 4 * 3)
		cap *= 2;
	if (cap > (1ull << 31))
		return -ENOMEM;
	if (cap == m->cap)
		return 0;
	return rehash(m, (uint32_t)cap);
}

int host_idmap_put(struct host_idmap *m, uint32_t key, uint32_t val)
{
	int ret;

	if (key == 0 || val == HOST_NIL)
		return -EINVAL;
	if (host_idmap_get(m, key) != HOST_NIL)
		return -EEXIST;
	ret = host_idmap_reserve(m, 1);
	if (ret)
		return ret;
	place(m->slots, m->cap - 1, key, val);
	m->count++;
	return 0;
}

int host_idmap_del(struct host_idmap *m, uint32_t key)
{
	uint32_t mask, s, j;

	if (!m->cap || key == 0)
		return -ENOENT;
	mask = m->cap - 1;
	for (s = home_of(key, mask); m->slots[s].key != key; s = (s + 1) & mask) {
		if (!m->slots[s].key)
			return -ENOENT;
	}
	/*
	 * Backward shift: pull later members of the probe run into the hole when the hole lies
	 * between their home slot and where they sit (cyclically), so lookups never stop early.
	 */
	j = s;
	for (;;) {
		uint32_t home;

		j = (j + 1) & mask;
		if (!m->slots[j].key)
			break;
		home = home_of(m->slots[j].key, mask);
		if (((j - home) & mask) >= ((j - s) & mask)) {
			m->slots[s] = m->slots[j];
			s = j;
		}
	}
	m->slots[s].key = 0;
	m->slots[s].val = 0;
	m->count--;
	return 0;
}

void host_idmap_free(struct host_idmap *m)
{
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

size_t host_idmap_mem_bytes(const struct host_idmap *m)
{
	return (size_t)m->cap * sizeof(struct host_idslot);
}

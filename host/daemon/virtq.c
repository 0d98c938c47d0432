/* SPDX-License-Identifier: MIT */
/* Split virtqueues in guest RAM, every guest-written value checked (virtq.h). */
#include "virtq.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int region_lookup(const struct viova_guest_mem *mem, bool by_qva, uint64_t addr,
			 uint64_t len, void **out)
{
	if (len == 0)
		return -EINVAL;
	if (addr + len < addr)
		return -EFAULT;
	for (uint32_t i = 0; i < mem->nregions; i++) {
		const struct viova_guest_region *r = &mem->regions[i];
		uint64_t start = by_qva ? r->qva : r->gpa;

		/* Written so that nothing can overflow: addr >= start, then sizes only. */
		if (addr < start || len > r->size || addr - start > r->size - len)
			continue;
		*out = r->host + (addr - start);
		return 0;
	}
	return -EFAULT;
}

int viova_guest_mem_gpa(const struct viova_guest_mem *mem, uint64_t gpa, uint64_t len, void **out)
{
	return region_lookup(mem, false, gpa, len, out);
}

int viova_guest_mem_qva(const struct viova_guest_mem *mem, uint64_t qva, uint64_t len, void **out)
{
	return region_lookup(mem, true, qva, len, out);
}

void viova_virtq_init(struct viova_virtq *vq)
{
	memset(vq, 0, sizeof(*vq));
	vq->kick_fd = -1;
	vq->call_fd = -1;
	vq->err_fd = -1;
}

void viova_virtq_reset(struct viova_virtq *vq)
{
	if (vq->kick_fd >= 0)
		close(vq->kick_fd);
	if (vq->call_fd >= 0)
		close(vq->call_fd);
	if (vq->err_fd >= 0)
		close(vq->err_fd);
	viova_virtq_init(vq);
}

int viova_virtq_map(struct viova_virtq *vq, const struct viova_guest_mem *mem)
{
	uint64_t num = vq->num;
	uint64_t ev = vq->event_idx ? 2 : 0;
	void *d, *a, *u;
	int ret;

	vq->desc = NULL;
	vq->avail = NULL;
	vq->used = NULL;
	if (num == 0 || !vq->addr_set)
		return -EINVAL;
	ret = viova_guest_mem_qva(mem, vq->desc_qva, 16 * num, &d);
	if (!ret)
		ret = viova_guest_mem_qva(mem, vq->avail_qva, 4 + 2 * num + ev, &a);
	if (!ret)
		ret = viova_guest_mem_qva(mem, vq->used_qva, 4 + 8 * num + ev, &u);
	if (ret)
		return ret;
	if ((uintptr_t)d % 16 || (uintptr_t)a % 2 || (uintptr_t)u % 4)
		return -EINVAL;
	vq->desc = d;
	vq->avail = a;
	vq->used = u;
	vq->used_idx = le16toh(__atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE));
	vq->signalled_used_valid = false;
	return 0;
}

bool viova_virtq_ready(const struct viova_virtq *vq)
{
	return vq->desc && vq->started && vq->enabled && !vq->broken;
}

static void signal_fd(int fd)
{
	uint64_t one = 1;

	if (fd >= 0 && write(fd, &one, sizeof(one)) != sizeof(one))
		perror("viova-host: virtqueue eventfd write");
}

static int break_queue(struct viova_virtq *vq, int err, const char *why, uint32_t value)
{
	fprintf(stderr,
		"viova-host: virtqueue (size %u) refused a descriptor chain at avail %u: %s (%u); "
		"the queue stops until the driver resets the device\n",
		vq->num, vq->last_avail_idx, why, value);
	vq->broken = true;
	signal_fd(vq->err_fd);
	return err;
}

#define DESC_KNOWN_FLAGS (VRING_DESC_F_NEXT | VRING_DESC_F_WRITE | VRING_DESC_F_INDIRECT)

int viova_virtq_pop(struct viova_virtq *vq, const struct viova_guest_mem *mem,
		    struct viova_virtq_elem *elem)
{
	const struct vring_desc *table;
	uint32_t table_n, idx, visited = 0, total = 0;
	uint16_t avail_idx, head;
	bool in_indirect = false;

	if (vq->broken)
		return -EIO;
	if (!viova_virtq_ready(vq))
		return -ENODEV;
	/* Acquire: the ring entry and descriptors are read after the index that published them. */
	avail_idx = le16toh(__atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE));
	if (avail_idx == vq->last_avail_idx)
		return -EAGAIN;
	if ((uint16_t)(avail_idx - vq->last_avail_idx) > vq->num)
		return break_queue(vq, -EIO, "avail->idx runs ahead by more than the queue size",
				   (uint16_t)(avail_idx - vq->last_avail_idx));
	head = le16toh(
	    __atomic_load_n(&vq->avail->ring[vq->last_avail_idx % vq->num], __ATOMIC_RELAXED));
	if (head >= vq->num)
		return break_queue(vq, -EINVAL, "head index >= queue size", head);

	memset(elem, 0, offsetof(struct viova_virtq_elem, out));
	elem->head = head;
	table = vq->desc;
	table_n = vq->num;
	idx = head;
	for (;;) {
		struct vring_desc d;
		uint16_t flags;
		uint64_t addr;
		uint32_t len;
		void *p;

		if (idx >= table_n)
			return break_queue(vq, -EINVAL, "next index >= table size", idx);
		/* visited catches a loop within a table; total bounds the walk even if a future
		 * change let tables nest. */
		if (++visited > table_n || ++total > vq->num + VIOVA_VIRTQ_MAX_SIZE)
			return break_queue(vq, -ELOOP, "chain longer than its table (a loop)",
					   visited);
		memcpy(&d, &table[idx], sizeof(d)); /* copy out, then check */
		flags = le16toh(d.flags);
		addr = le64toh(d.addr);
		len = le32toh(d.len);
		if (flags & ~DESC_KNOWN_FLAGS)
			return break_queue(vq, -EINVAL, "unknown descriptor flags", flags);
		if (flags & VRING_DESC_F_INDIRECT) {
			if (!vq->indirect_ok)
				return break_queue(vq, -EINVAL, "indirect table not negotiated",
						   idx);
			if (in_indirect || (flags & VRING_DESC_F_NEXT) || visited != 1)
				return break_queue(vq, -EINVAL,
						   "indirect table nested, chained or not alone",
						   idx);
			if (len == 0 || len % sizeof(struct vring_desc) ||
			    len / sizeof(struct vring_desc) > VIOVA_VIRTQ_MAX_SIZE)
				return break_queue(vq, -EINVAL, "indirect table length", len);
			if (viova_guest_mem_gpa(mem, addr, len, &p))
				return break_queue(vq, -EFAULT, "indirect table outside guest RAM",
						   len);
			table = p;
			table_n = len / sizeof(struct vring_desc);
			idx = 0;
			visited = 0;
			in_indirect = true;
			continue;
		}
		if (viova_guest_mem_gpa(mem, addr, len, &p))
			return break_queue(vq, -EFAULT,
					   "buffer outside guest RAM, wrapping or empty", len);
		if (flags & VRING_DESC_F_WRITE) {
			if (elem->in_num >= VIOVA_VIRTQ_MAX_SG)
				return break_queue(vq, -E2BIG, "too many writable buffers",
						   elem->in_num);
			elem->in[elem->in_num].base = p;
			elem->in[elem->in_num++].len = len;
			elem->in_bytes += len;
		} else {
			if (elem->in_num)
				return break_queue(vq, -EINVAL,
						   "readable buffer after a writable one", idx);
			if (elem->out_num >= VIOVA_VIRTQ_MAX_SG)
				return break_queue(vq, -E2BIG, "too many readable buffers",
						   elem->out_num);
			elem->out[elem->out_num].base = p;
			elem->out[elem->out_num++].len = len;
			elem->out_bytes += len;
		}
		if (!(flags & VRING_DESC_F_NEXT))
			break;
		idx = le16toh(d.next);
	}

	vq->last_avail_idx++;
	if (vq->event_idx) {
		/* avail_event lives right after used->ring[num]: ask for a kick at the next one. */
		uint16_t *avail_event = (uint16_t *)&vq->used->ring[vq->num];

		__atomic_store_n(avail_event, htole16(vq->last_avail_idx), __ATOMIC_RELAXED);
	}
	return 0;
}

int viova_virtq_push(struct viova_virtq *vq, uint16_t head, uint32_t written)
{
	struct vring_used_elem *e;

	if (!vq->used)
		return -ENODEV;
	if (head >= vq->num)
		return -EINVAL;
	e = &vq->used->ring[vq->used_idx % vq->num];
	e->id = htole32(head);
	e->len = htole32(written);
	vq->used_idx++;
	/* Release: the guest must see the entry before the index that publishes it. */
	__atomic_store_n(&vq->used->idx, htole16(vq->used_idx), __ATOMIC_RELEASE);
	return 0;
}

int viova_virtq_notify(struct viova_virtq *vq)
{
	uint64_t one = 1;

	if (vq->call_fd < 0 || !vq->avail)
		return 0;
	/* Our used->idx store must be visible before we read the guest's suppression fields. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vq->event_idx) {
		uint16_t old = vq->signalled_used, cur = vq->used_idx;
		bool valid = vq->signalled_used_valid;
		uint16_t event =
		    le16toh(__atomic_load_n(&vq->avail->ring[vq->num], __ATOMIC_RELAXED));

		vq->signalled_used = cur;
		vq->signalled_used_valid = true;
		if (valid && !vring_need_event(event, cur, old))
			return 0;
	} else if (le16toh(__atomic_load_n(&vq->avail->flags, __ATOMIC_RELAXED)) &
		   VRING_AVAIL_F_NO_INTERRUPT) {
		return 0;
	}
	if (write(vq->call_fd, &one, sizeof(one)) != sizeof(one))
		return -errno;
	return 0;
}

int viova_virtq_drain_kick(struct viova_virtq *vq)
{
	uint64_t v;

	if (vq->kick_fd < 0)
		return -EBADF;
	if (read(vq->kick_fd, &v, sizeof(v)) != sizeof(v))
		return errno ? -errno : -EIO;
	return 0;
}

static int iov_copy(const struct viova_virtq_iov *iov, uint32_t n, uint64_t offset, void *buf,
		    size_t len, bool to_iov)
{
	uint8_t *b = buf;

	for (uint32_t i = 0; i < n && len; i++) {
		size_t chunk;

		if (offset >= iov[i].len) {
			offset -= iov[i].len;
			continue;
		}
		chunk = iov[i].len - offset;
		if (chunk > len)
			chunk = len;
		if (to_iov)
			memcpy((uint8_t *)iov[i].base + offset, b, chunk);
		else
			memcpy(b, (const uint8_t *)iov[i].base + offset, chunk);
		b += chunk;
		len -= chunk;
		offset = 0;
	}
	return len ? -EFAULT : 0;
}

int viova_virtq_read(const struct viova_virtq_elem *elem, uint64_t offset, void *dst, size_t len)
{
	if (offset > elem->out_bytes || len > elem->out_bytes - offset)
		return -EFAULT;
	return iov_copy(elem->out, elem->out_num, offset, dst, len, false);
}

int viova_virtq_write(const struct viova_virtq_elem *elem, uint64_t offset, const void *src,
		      size_t len)
{
	if (offset > elem->in_bytes || len > elem->in_bytes - offset)
		return -EFAULT;
	return iov_copy(elem->in, elem->in_num, offset, (void *)src, len, true);
}

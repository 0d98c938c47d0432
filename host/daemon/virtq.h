/* SPDX-License-Identifier: MIT */
/*
 * virtq.h - guest RAM as the vhost-user front-end shares it, and split virtqueues in it
 * (viova-host's vhost-user-gpu back-end; docs/vhost-user.md).
 *
 * Everything a guest wrote is untrusted: ring indices, descriptor addresses, lengths, flags and
 * next links are copied out of shared memory once, then checked, then used. A malformed chain
 * puts the queue in the "broken" state (virtio's DEVICE_NEEDS_RESET): the queue refuses work
 * until the front-end restarts it, and the error eventfd (SET_VRING_ERR) is signalled.
 *
 *   guest RAM (MAP_SHARED of the front-end's fds)
 *   +------------------+     +-------------------+     +-------------------------+
 *   | desc[num]  16 B  | <-- | avail: flags idx  |     | used: flags idx         |
 *   | addr len flags   |     |   ring[num] (head)| --> |   ring[num] {id, len}   |
 *   | next             |     |   used_event      |     |   avail_event           |
 *   +------------------+     +-------------------+     +-------------------------+
 *   pop: avail->ring[last_avail_idx % num] = head; walk desc[head].next (or an indirect table)
 *   push: used->ring[used_idx % num] = {head, written}; used->idx = ++used_idx (release)
 */
#ifndef VIOVA_DAEMON_VIRTQ_H
#define VIOVA_DAEMON_VIRTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/virtio_ring.h>

#include <viova/vhost_user.h>

/* Largest queue the spec allows (split rings: 2^15). */
#define VIOVA_VIRTQ_MAX_SIZE 32768u
/* Most readable (and, separately, writable) buffers of one chain; more are refused. */
#define VIOVA_VIRTQ_MAX_SG 64u

struct viova_guest_region {
	uint64_t gpa;	/* guest-physical start */
	uint64_t size;	/* bytes */
	uint64_t qva;	/* front-end virtual start (ring addresses use these) */
	uint8_t *host;	/* our mapping of gpa */
	void *map_base; /* what munmap() gets: the page holding the region's start */
	size_t map_len;
};

/* The current memory table. Owned by the vhost-user device; empty = nregions 0. */
struct viova_guest_mem {
	uint32_t nregions;
	struct viova_guest_region regions[VIOVA_VHOST_USER_MAX_REGIONS];
};

/*
 * viova_guest_mem_gpa() - host pointer for the guest-physical range [gpa, gpa + len).
 * The whole range must lie in one region (len 0 is refused too: a zero-length buffer carries
 * nothing and is a common sign of a confused driver).
 * Returns 0 and *out, or -EFAULT when the range wraps or leaves every region, -EINVAL for len 0.
 */
int viova_guest_mem_gpa(const struct viova_guest_mem *mem, uint64_t gpa, uint64_t len, void **out);

/*
 * viova_guest_mem_qva() - same for a front-end virtual range (vring addresses are given so).
 * Returns 0, -EFAULT or -EINVAL as viova_guest_mem_gpa().
 */
int viova_guest_mem_qva(const struct viova_guest_mem *mem, uint64_t qva, uint64_t len, void **out);

struct viova_virtq {
	uint32_t num;	  /* 0 = not configured */
	bool enabled;	  /* SET_VRING_ENABLE (or no protocol features: enabled from the start) */
	bool started;	  /* kick fd received, not stopped by GET_VRING_BASE */
	bool broken;	  /* malformed chain seen: refuse work until restarted */
	bool indirect_ok; /* VIRTIO_RING_F_INDIRECT_DESC negotiated */
	bool event_idx;	  /* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool addr_set;	  /* SET_VRING_ADDR accepted */
	uint16_t last_avail_idx;
	uint16_t used_idx;
	uint16_t signalled_used;
	bool signalled_used_valid;
	uint64_t desc_qva, avail_qva, used_qva;
	/* Host pointers into guest RAM; NULL until the addresses translate. */
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	int kick_fd, call_fd, err_fd; /* -1 when absent; owned by the queue */
};

/* A buffer of a chain, pointing into guest RAM: copy out before validating what is in it. */
struct viova_virtq_iov {
	void *base;
	uint32_t len;
};

struct viova_virtq_elem {
	uint16_t head;		  /* give it back to viova_virtq_push() */
	uint32_t out_num, in_num; /* device-readable buffers first, then device-writable ones */
	uint64_t out_bytes, in_bytes;
	struct viova_virtq_iov out[VIOVA_VIRTQ_MAX_SG];
	struct viova_virtq_iov in[VIOVA_VIRTQ_MAX_SG];
};

/* viova_virtq_init() - an unconfigured queue with no fds. Never fails. */
void viova_virtq_init(struct viova_virtq *vq);

/* viova_virtq_reset() - close the queue's fds and return it to the viova_virtq_init() state. */
void viova_virtq_reset(struct viova_virtq *vq);

/*
 * viova_virtq_map() - translate the queue's ring addresses (desc/avail/used_qva, num) through
 * @mem, checking that each ring lies whole in one region and is aligned as virtio requires
 * (desc 16, avail 2, used 4). On success the ring pointers are set and used_idx is taken from
 * the guest's used->idx (so a restarted queue continues where it stopped).
 * Returns 0, -EINVAL (num 0 or misaligned address) or -EFAULT (ring outside guest RAM); on
 * error the ring pointers are cleared.
 */
int viova_virtq_map(struct viova_virtq *vq, const struct viova_guest_mem *mem);

/* viova_virtq_ready() - true when the queue may be popped: mapped, started, enabled, not broken. */
bool viova_virtq_ready(const struct viova_virtq *vq);

/*
 * viova_virtq_pop() - take the next available chain and describe its buffers in @elem.
 * Every descriptor is copied out of guest RAM, then checked: index < num, addr + len inside one
 * guest region without wrap, at most num descriptors per chain (a loop is caught by that cap),
 * at most VIOVA_VIRTQ_MAX_SG buffers, readable before writable, indirect tables only when
 * negotiated, whole in guest RAM, a multiple of 16 bytes, not nested and not combined with NEXT.
 * On a malformed chain nothing is consumed, the queue becomes broken and err_fd is signalled.
 * Returns 0 with @elem filled; -EAGAIN when the ring is empty; -ENODEV when the queue is not
 * ready (viova_virtq_ready()); -EIO when the queue is broken or the guest's avail->idx is more
 * than num ahead; -EINVAL / -EFAULT / -ELOOP / -E2BIG for the malformed chain that broke it.
 */
int viova_virtq_pop(struct viova_virtq *vq, const struct viova_guest_mem *mem,
		    struct viova_virtq_elem *elem);

/*
 * viova_virtq_push() - return chain @head to the guest with @written bytes written into its
 * writable buffers (the used ring entry; the index update is a release store).
 * Returns 0, -ENODEV when the rings are not mapped, -EINVAL when head >= num.
 */
int viova_virtq_push(struct viova_virtq *vq, uint16_t head, uint32_t written);

/*
 * viova_virtq_notify() - signal call_fd if the guest wants an interrupt for what was pushed
 * since the last notification (VRING_AVAIL_F_NO_INTERRUPT, or used_event with EVENT_IDX).
 * Returns 0 (also when no interrupt was needed or there is no call fd), or -errno of write().
 */
int viova_virtq_notify(struct viova_virtq *vq);

/*
 * viova_virtq_drain_kick() - consume a kick (read the kick eventfd) so that poll() rearms.
 * Returns 0, -EAGAIN when no kick was pending (non-blocking fd), -EBADF without a kick fd.
 */
int viova_virtq_drain_kick(struct viova_virtq *vq);

/*
 * viova_virtq_read() - copy @len bytes starting at byte @offset of the chain's readable buffers
 * into @dst (the copy-out step before validation).
 * Returns 0, or -EFAULT when the readable buffers hold fewer than offset + len bytes.
 */
int viova_virtq_read(const struct viova_virtq_elem *elem, uint64_t offset, void *dst, size_t len);

/*
 * viova_virtq_write() - copy @len bytes into the chain's writable buffers from byte @offset.
 * Returns 0, or -EFAULT when the writable buffers hold fewer than offset + len bytes.
 */
int viova_virtq_write(const struct viova_virtq_elem *elem, uint64_t offset, const void *src,
		      size_t len);

#endif /* VIOVA_DAEMON_VIRTQ_H */

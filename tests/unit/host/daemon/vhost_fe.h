/* SPDX-License-Identifier: MIT */
/*
 * vhost_fe.h - a fake vhost-user front-end for tests: sends requests (with SCM_RIGHTS fds) on
 * its end of the connection, reads the back-end's replies, and plays the guest driver on split
 * rings laid out in a memfd "guest RAM". Header-only (static functions) so each test program
 * takes what it uses; cmocka's assert macros report failures.
 */
#ifndef VIOVA_TEST_VHOST_FE_H
#define VIOVA_TEST_VHOST_FE_H

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/virtio_ring.h>

#include <viova/vhost_user.h>

/* Send one request: header, payload and nfds descriptors in one sendmsg(). */
static inline void vfe_send(int fe, uint32_t req, uint32_t flags, const void *payload,
			    uint32_t size, const int *fds, unsigned nfds)
{
	struct viova_vhost_user_hdr h = {
	    .request = req, .flags = flags | VIOVA_VHOST_USER_VERSION, .size = size};
	union {
		char buf[CMSG_SPACE(sizeof(int) * 8)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov[2] = {{&h, sizeof(h)}, {(void *)payload, size}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = size ? 2 : 1};

	assert_true(nfds <= 8);
	if (nfds) {
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	assert_int_equal(sendmsg(fe, &mh, MSG_NOSIGNAL), (ssize_t)(sizeof(h) + size));
}

/* Read one reply to req (at most max payload bytes); returns its payload size. */
static inline uint32_t vfe_reply(int fe, uint32_t req, void *payload, uint32_t max)
{
	struct viova_vhost_user_hdr h;
	struct pollfd p = {.fd = fe, .events = POLLIN};

	assert_int_equal(poll(&p, 1, 10000), 1); /* a hung back-end fails, not hangs, the test */
	assert_int_equal(recv(fe, &h, sizeof(h), MSG_WAITALL), sizeof(h));
	assert_int_equal(h.request, req);
	assert_int_equal(h.flags, VIOVA_VHOST_USER_VERSION | VIOVA_VHOST_USER_FLAG_REPLY);
	assert_true(h.size <= max);
	if (h.size)
		assert_int_equal(recv(fe, payload, h.size, MSG_WAITALL), h.size);
	return h.size;
}

static inline uint64_t vfe_reply_u64(int fe, uint32_t req)
{
	uint64_t v = ~0ull;

	assert_int_equal(vfe_reply(fe, req, &v, sizeof(v)), 8);
	return v;
}

/* A GET_* request: send it, return the u64 answer. */
static inline uint64_t vfe_get_u64(int fe, uint32_t req)
{
	vfe_send(fe, req, 0, NULL, 0, NULL, 0);
	return vfe_reply_u64(fe, req);
}

/*
 * A request with NEED_REPLY (REPLY_ACK acked): returns the back-end's ack, 0 = success.
 * It also orders the test after the back-end handled the request.
 */
static inline uint64_t vfe_ack(int fe, uint32_t req, const void *payload, uint32_t size,
			       const int *fds, unsigned nfds)
{
	vfe_send(fe, req, VIOVA_VHOST_USER_FLAG_NEED_REPLY, payload, size, fds, nfds);
	return vfe_reply_u64(fe, req);
}

static inline uint64_t vfe_ack_u64(int fe, uint32_t req, uint64_t v)
{
	return vfe_ack(fe, req, &v, sizeof(v), NULL, 0);
}

static inline uint64_t vfe_ack_state(int fe, uint32_t req, uint32_t index, uint32_t num)
{
	struct vhost_vring_state s = {.index = index, .num = num};

	return vfe_ack(fe, req, &s, sizeof(s), NULL, 0);
}

static inline uint64_t vfe_ack_vring_fd(int fe, uint32_t req, uint32_t index, int fd)
{
	uint64_t v = index;

	return vfe_ack(fe, req, &v, sizeof(v), &fd, 1);
}

/* One guest-RAM region [gpa, gpa + size) at front-end address qva, from ram_fd offset 0. */
static inline uint64_t vfe_ack_mem_table(int fe, int ram_fd, uint64_t gpa, uint64_t size,
					 uint64_t qva)
{
	struct viova_vhost_user_memory m = {.nregions = 1};

	m.regions[0] = (struct viova_vhost_user_region){gpa, size, qva, 0};
	return vfe_ack(fe, VIOVA_VHOST_USER_SET_MEM_TABLE, &m, 8 + 32, &ram_fd, 1);
}

/* The guest driver's split ring: descriptor table, avail and used rings in its RAM. */
struct vfe_ring {
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t num;
	uint16_t avail_idx; /* next avail->idx to publish */
	uint16_t used_seen; /* used entries consumed */
};

static inline void vfe_set_desc(struct vfe_ring *r, uint16_t i, uint64_t gpa, uint32_t len,
				uint16_t flags, uint16_t next)
{
	r->desc[i] = (struct vring_desc){.addr = gpa, .len = len, .flags = flags, .next = next};
}

/* Make chain head available (release: the descriptors are visible before the index). */
static inline void vfe_publish(struct vfe_ring *r, uint16_t head)
{
	r->avail->ring[r->avail_idx % r->num] = head;
	__atomic_store_n(&r->avail->idx, (uint16_t)(r->avail_idx + 1), __ATOMIC_RELEASE);
	r->avail_idx++;
}

/*
 * Wait (at most timeout_ms) for the next used entry, signalled on call_fd; returns its len and
 * its id in *id.
 */
static inline uint32_t vfe_wait_used(struct vfe_ring *r, int call_fd, int timeout_ms, uint32_t *id)
{
	struct vring_used_elem e;

	while (__atomic_load_n(&r->used->idx, __ATOMIC_ACQUIRE) == r->used_seen) {
		struct pollfd p = {.fd = call_fd, .events = POLLIN};
		uint64_t v;

		assert_int_equal(poll(&p, 1, timeout_ms), 1);
		assert_int_equal(read(call_fd, &v, sizeof(v)), sizeof(v));
	}
	e = r->used->ring[r->used_seen % r->num];
	r->used_seen++;
	*id = e.id;
	return e.len;
}

#endif /* VIOVA_TEST_VHOST_FE_H */

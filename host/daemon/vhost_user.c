/* SPDX-License-Identifier: MIT */
/* vhost-user back-end: framing, fd passing and request handlers (vhost_user.h). */
#include "vhost_user.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

struct msg {
	struct viova_vhost_user_hdr hdr;
	union {
		uint64_t u64;
		struct vhost_vring_state state;
		struct vhost_vring_addr addr;
		struct viova_vhost_user_memory mem;
		struct viova_vhost_user_config config;
		uint8_t raw[VIOVA_VHOST_USER_MAX_PAYLOAD];
	} p;
	int fds[VIOVA_VHOST_USER_MAX_FDS];
	uint32_t nfds;
	bool fds_truncated;
};

static const char *const request_names[] = {
    [VIOVA_VHOST_USER_GET_FEATURES] = "GET_FEATURES",
    [VIOVA_VHOST_USER_SET_FEATURES] = "SET_FEATURES",
    [VIOVA_VHOST_USER_SET_OWNER] = "SET_OWNER",
    [VIOVA_VHOST_USER_RESET_OWNER] = "RESET_OWNER",
    [VIOVA_VHOST_USER_SET_MEM_TABLE] = "SET_MEM_TABLE",
    [VIOVA_VHOST_USER_SET_LOG_BASE] = "SET_LOG_BASE",
    [VIOVA_VHOST_USER_SET_LOG_FD] = "SET_LOG_FD",
    [VIOVA_VHOST_USER_SET_VRING_NUM] = "SET_VRING_NUM",
    [VIOVA_VHOST_USER_SET_VRING_ADDR] = "SET_VRING_ADDR",
    [VIOVA_VHOST_USER_SET_VRING_BASE] = "SET_VRING_BASE",
    [VIOVA_VHOST_USER_GET_VRING_BASE] = "GET_VRING_BASE",
    [VIOVA_VHOST_USER_SET_VRING_KICK] = "SET_VRING_KICK",
    [VIOVA_VHOST_USER_SET_VRING_CALL] = "SET_VRING_CALL",
    [VIOVA_VHOST_USER_SET_VRING_ERR] = "SET_VRING_ERR",
    [VIOVA_VHOST_USER_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
    [VIOVA_VHOST_USER_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
    [VIOVA_VHOST_USER_GET_QUEUE_NUM] = "GET_QUEUE_NUM",
    [VIOVA_VHOST_USER_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
    [VIOVA_VHOST_USER_GET_CONFIG] = "GET_CONFIG",
    [VIOVA_VHOST_USER_SET_CONFIG] = "SET_CONFIG",
    [VIOVA_VHOST_USER_GPU_SET_SOCKET] = "GPU_SET_SOCKET",
};

const char *viova_vhost_user_request_name(uint32_t request)
{
	if (request < sizeof(request_names) / sizeof(request_names[0]) && request_names[request])
		return request_names[request];
	return "UNKNOWN";
}

int viova_vhost_user_create(int sock, const struct viova_vhost_user_cfg *cfg,
			    struct viova_vhost_user_dev **out)
{
	struct viova_vhost_user_dev *dev;

	if (sock < 0)
		return -EINVAL;
	if (cfg->num_queues == 0 || cfg->num_queues > VIOVA_VHOST_USER_MAX_QUEUES ||
	    cfg->config_size > VIOVA_VHOST_USER_MAX_CONFIG_SIZE) {
		close(sock);
		return -EINVAL;
	}
	dev = calloc(1, sizeof(*dev));
	if (!dev) {
		close(sock);
		return -ENOMEM;
	}
	dev->sock = sock;
	dev->cfg = *cfg;
	dev->cfg.features |= 1ull << VIOVA_VHOST_USER_F_PROTOCOL_FEATURES;
	dev->gpu_sock = -1;
	for (uint32_t i = 0; i < VIOVA_VHOST_USER_MAX_QUEUES; i++)
		viova_virtq_init(&dev->vq[i]);
	*out = dev;
	return 0;
}

static void unmap_mem(struct viova_guest_mem *mem)
{
	for (uint32_t i = 0; i < mem->nregions; i++)
		munmap(mem->regions[i].map_base, mem->regions[i].map_len);
	memset(mem, 0, sizeof(*mem));
}

void viova_vhost_user_disconnect(struct viova_vhost_user_dev *dev)
{
	for (uint32_t i = 0; i < VIOVA_VHOST_USER_MAX_QUEUES; i++)
		viova_virtq_reset(&dev->vq[i]);
	unmap_mem(&dev->mem);
	if (dev->gpu_sock >= 0)
		close(dev->gpu_sock);
	dev->gpu_sock = -1;
	dev->features = 0;
	dev->protocol_features = 0;
	dev->owner = false;
	dev->dead = true;
}

void viova_vhost_user_destroy(struct viova_vhost_user_dev *dev)
{
	if (!dev)
		return;
	viova_vhost_user_disconnect(dev);
	close(dev->sock);
	free(dev);
}

/* ---- framing ------------------------------------------------------------------------------ */

static void close_fds(struct msg *m)
{
	for (uint32_t i = 0; i < m->nfds; i++)
		if (m->fds[i] >= 0)
			close(m->fds[i]);
	m->nfds = 0;
}

static int read_full(int fd, void *buf, size_t len)
{
	uint8_t *b = buf;

	while (len) {
		ssize_t n = recv(fd, b, len, MSG_WAITALL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -EIO;
		if (n == 0)
			return -ECONNRESET;
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * The fds travel with the first byte of the header, so the header is read by recvmsg() with room
 * for VIOVA_VHOST_USER_MAX_FDS of them; the kernel closes any it could not deliver and sets
 * MSG_CTRUNC, which we turn into a refusal once the payload is read (the stream stays in sync).
 */
static int recv_msg(int sock, struct msg *m)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VIOVA_VHOST_USER_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {.iov_base = &m->hdr, .iov_len = sizeof(m->hdr)};
	struct msghdr mh = {
	    .msg_iov = &iov,
	    .msg_iovlen = 1,
	    .msg_control = ctl.buf,
	    .msg_controllen = sizeof(ctl.buf),
	};
	ssize_t n;
	int ret;

	m->nfds = 0;
	m->fds_truncated = false;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -EIO;
	if (n == 0)
		return -ECONNRESET;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		size_t cnt;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		cnt = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < cnt; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (m->nfds < VIOVA_VHOST_USER_MAX_FDS) {
				m->fds[m->nfds++] = fd;
			} else {
				close(fd);
				m->fds_truncated = true;
			}
		}
	}
	if (mh.msg_flags & MSG_CTRUNC)
		m->fds_truncated = true;
	if ((size_t)n < sizeof(m->hdr)) {
		ret = read_full(sock, (uint8_t *)&m->hdr + n, sizeof(m->hdr) - (size_t)n);
		if (ret)
			goto fail;
	}
	if (m->hdr.size > VIOVA_VHOST_USER_MAX_PAYLOAD) {
		fprintf(stderr,
			"viova-host: vhost-user %s: payload size %u exceeds %u; the front-end "
			"is not speaking vhost-user, closing the connection\n",
			viova_vhost_user_request_name(m->hdr.request), m->hdr.size,
			VIOVA_VHOST_USER_MAX_PAYLOAD);
		ret = -EMSGSIZE;
		goto fail;
	}
	ret = read_full(sock, &m->p, m->hdr.size);
	if (ret)
		goto fail;
	return 0;
fail:
	close_fds(m);
	return ret;
}

static int send_reply(struct viova_vhost_user_dev *dev, uint32_t request, const void *payload,
		      uint32_t size)
{
	struct viova_vhost_user_hdr h = {
	    .request = request,
	    .flags = VIOVA_VHOST_USER_VERSION | VIOVA_VHOST_USER_FLAG_REPLY,
	    .size = size,
	};
	struct iovec iov[2] = {
	    {.iov_base = &h, .iov_len = sizeof(h)},
	    {.iov_base = (void *)payload, .iov_len = size},
	};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = size ? 2 : 1};
	ssize_t n;

	do
		n = sendmsg(dev->sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)(sizeof(h) + size)) {
		dev->dead = true;
		return -EPIPE;
	}
	return 0;
}

static int reply_u64(struct viova_vhost_user_dev *dev, uint32_t request, uint64_t v)
{
	return send_reply(dev, request, &v, sizeof(v));
}

/* ---- handlers ----------------------------------------------------------------------------- */

static int refuse(const struct msg *m, int err, const char *what, uint64_t value, const char *fix)
{
	fprintf(stderr, "viova-host: vhost-user %s refused: %s 0x%llx; %s\n",
		viova_vhost_user_request_name(m->hdr.request), what, (unsigned long long)value,
		fix);
	return err;
}

static int want(const struct msg *m, uint32_t size, uint32_t nfds)
{
	if (m->hdr.size != size)
		return refuse(m, -EBADMSG, "payload size", m->hdr.size,
			      "the size must match the request's payload struct");
	if (m->nfds != nfds)
		return refuse(m, -EINVAL, "fd count", m->nfds, "wrong number of SCM_RIGHTS fds");
	return 0;
}

static int queue_index(const struct viova_vhost_user_dev *dev, const struct msg *m, uint64_t idx)
{
	if (idx >= dev->cfg.num_queues)
		return refuse(m, -EINVAL, "queue index", idx, "the device has fewer queues");
	return 0;
}

static bool proto_acked(const struct viova_vhost_user_dev *dev)
{
	return dev->features & (1ull << VIOVA_VHOST_USER_F_PROTOCOL_FEATURES);
}

static int set_features(struct viova_vhost_user_dev *dev, const struct msg *m)
{
	int ret = want(m, 8, 0);
	uint64_t f = m->p.u64;

	if (ret)
		return ret;
	if (f & ~dev->cfg.features & ~dev->cfg.tolerated_features)
		return refuse(m, -EINVAL, "unoffered feature bits",
			      f & ~dev->cfg.features & ~dev->cfg.tolerated_features,
			      "ack only bits GET_FEATURES returned");
	f &= dev->cfg.features;
	for (uint32_t i = 0; i < dev->cfg.num_queues; i++)
		if (dev->vq[i].started)
			return refuse(m, -EBUSY, "queue started", i,
				      "stop the queues (GET_VRING_BASE) before changing features");
	dev->features = f;
	for (uint32_t i = 0; i < dev->cfg.num_queues; i++) {
		struct viova_virtq *vq = &dev->vq[i];

		vq->indirect_ok = f & (1ull << VIRTIO_RING_F_INDIRECT_DESC);
		vq->event_idx = f & (1ull << VIRTIO_RING_F_EVENT_IDX);
		/* The rings' sizes depend on EVENT_IDX: translate them again. */
		if (vq->addr_set)
			viova_virtq_map(vq, &dev->mem);
	}
	return 0;
}

static int set_protocol_features(struct viova_vhost_user_dev *dev, const struct msg *m)
{
	int ret = want(m, 8, 0);

	if (ret)
		return ret;
	if (m->p.u64 & ~dev->cfg.protocol_features)
		return refuse(m, -EINVAL, "unoffered protocol feature bits",
			      m->p.u64 & ~dev->cfg.protocol_features,
			      "ack only bits GET_PROTOCOL_FEATURES returned");
	dev->protocol_features = m->p.u64;
	return 0;
}

static void reset_device(struct viova_vhost_user_dev *dev)
{
	for (uint32_t i = 0; i < VIOVA_VHOST_USER_MAX_QUEUES; i++)
		viova_virtq_reset(&dev->vq[i]);
	dev->features = 0;
	dev->owner = false;
}

/*
 * Builds the whole new table first; only when every region is mapped does it replace the old
 * one, so a refused table leaves the previous mapping (and the rings in it) untouched.
 */
static int set_mem_table(struct viova_vhost_user_dev *dev, struct msg *m)
{
	struct viova_guest_mem next = {0};
	uint32_t n;
	int ret = 0;

	if (m->hdr.size < 8)
		return refuse(m, -EBADMSG, "payload size", m->hdr.size, "need at least 8 bytes");
	n = m->p.mem.nregions;
	if (n == 0 || n > VIOVA_VHOST_USER_MAX_REGIONS)
		return refuse(m, -E2BIG, "region count", n, "send 1..8 regions");
	ret = want(m, 8 + n * (uint32_t)sizeof(struct viova_vhost_user_region), n);
	if (ret)
		return ret;
	for (uint32_t i = 0; i < n; i++) {
		const struct viova_vhost_user_region *r = &m->p.mem.regions[i];
		struct viova_guest_region *g = &next.regions[i];
		uint64_t end_off = r->mmap_offset + r->memory_size, map_off;
		struct stat st;
		void *p;

		if (r->memory_size == 0 ||
		    r->guest_phys_addr + r->memory_size < r->guest_phys_addr ||
		    r->userspace_addr + r->memory_size < r->userspace_addr ||
		    end_off < r->mmap_offset || end_off > (uint64_t)INT64_MAX) {
			ret = refuse(m, -EINVAL, "region size", r->memory_size,
				     "region must be non-empty and must not wrap");
			goto fail;
		}
		for (uint32_t j = 0; j < i; j++) {
			const struct viova_vhost_user_region *o = &m->p.mem.regions[j];

			if (r->guest_phys_addr < o->guest_phys_addr + o->memory_size &&
			    o->guest_phys_addr < r->guest_phys_addr + r->memory_size) {
				ret = refuse(m, -EINVAL, "overlapping guest-physical region",
					     r->guest_phys_addr, "regions must be disjoint");
				goto fail;
			}
		}
		/* A file shorter than the region would turn guest accesses into SIGBUS. */
		if (fstat(m->fds[i], &st) < 0) {
			ret = -errno;
			goto fail;
		}
		if ((uint64_t)st.st_size < end_off) {
			ret = refuse(m, -EFAULT, "region end beyond its file", end_off,
				     "mmap_offset + memory_size must fit in the fd");
			goto fail;
		}
		/* Map only the region (from the page holding its start), not the file's head. */
		map_off = r->mmap_offset & ~(uint64_t)(sysconf(_SC_PAGESIZE) - 1);
		p = mmap(NULL, (size_t)(end_off - map_off), PROT_READ | PROT_WRITE, MAP_SHARED,
			 m->fds[i], (off_t)map_off);
		if (p == MAP_FAILED) {
			ret = -errno;
			refuse(m, ret, "mmap of region", r->guest_phys_addr, "check the fd");
			goto fail;
		}
		g->gpa = r->guest_phys_addr;
		g->size = r->memory_size;
		g->qva = r->userspace_addr;
		g->map_base = p;
		g->map_len = (size_t)(end_off - map_off);
		g->host = (uint8_t *)p + (r->mmap_offset - map_off);
		next.nregions = i + 1;
	}
	unmap_mem(&dev->mem);
	dev->mem = next;
	for (uint32_t i = 0; i < dev->cfg.num_queues; i++)
		if (dev->vq[i].addr_set && viova_virtq_map(&dev->vq[i], &dev->mem))
			fprintf(stderr,
				"viova-host: vhost-user SET_MEM_TABLE: queue %u's rings are not in "
				"the new table; the queue stays unusable until SET_VRING_ADDR\n",
				i);
	return 0;
fail:
	unmap_mem(&next);
	return ret;
}

static bool is_pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

static int set_vring_num(struct viova_vhost_user_dev *dev, const struct msg *m)
{
	int ret = want(m, 8, 0);
	struct viova_virtq *vq;
	uint32_t old;

	if (ret || (ret = queue_index(dev, m, m->p.state.index)))
		return ret;
	vq = &dev->vq[m->p.state.index];
	if (!is_pow2(m->p.state.num) || m->p.state.num > VIOVA_VIRTQ_MAX_SIZE)
		return refuse(m, -EINVAL, "queue size", m->p.state.num,
			      "use a power of two up to 32768");
	if (vq->started)
		return refuse(m, -EBUSY, "queue started", m->p.state.index,
			      "stop it with GET_VRING_BASE first");
	old = vq->num;
	vq->num = m->p.state.num;
	if (vq->addr_set && viova_virtq_map(vq, &dev->mem)) {
		vq->num = old;
		viova_virtq_map(vq, &dev->mem);
		return refuse(m, -EFAULT, "rings of this size leave guest RAM", m->p.state.num,
			      "set the ring addresses for the new size");
	}
	return 0;
}

static int set_vring_addr(struct viova_vhost_user_dev *dev, const struct msg *m)
{
	const struct vhost_vring_addr *a = &m->p.addr;
	struct viova_virtq *vq, saved;
	int ret = want(m, sizeof(*a), 0);

	if (ret || (ret = queue_index(dev, m, a->index)))
		return ret;
	if (a->flags)
		return refuse(m, -EINVAL, "vring flags", a->flags,
			      "dirty logging is not offered: send flags 0");
	vq = &dev->vq[a->index];
	saved = *vq;
	vq->desc_qva = a->desc_user_addr;
	vq->avail_qva = a->avail_user_addr;
	vq->used_qva = a->used_user_addr;
	vq->addr_set = true;
	ret = viova_virtq_map(vq, &dev->mem);
	if (ret) {
		*vq = saved;
		return refuse(m, ret, "ring address (desc)", a->desc_user_addr,
			      "set SET_VRING_NUM and SET_MEM_TABLE first; rings must lie in one "
			      "region and be aligned");
	}
	return 0;
}

static int set_vring_base(struct viova_vhost_user_dev *dev, const struct msg *m)
{
	int ret = want(m, 8, 0);
	struct viova_virtq *vq;

	if (ret || (ret = queue_index(dev, m, m->p.state.index)))
		return ret;
	vq = &dev->vq[m->p.state.index];
	if (m->p.state.num > 0xffff)
		return refuse(m, -EINVAL, "ring base", m->p.state.num,
			      "a split ring index is 16-bit");
	if (vq->started)
		return refuse(m, -EBUSY, "queue started", m->p.state.index,
			      "stop it with GET_VRING_BASE first");
	vq->last_avail_idx = (uint16_t)m->p.state.num;
	return 0;
}

static int get_vring_base(struct viova_vhost_user_dev *dev, const struct msg *m, bool *replied)
{
	int ret = want(m, 8, 0);
	struct vhost_vring_state st;
	struct viova_virtq *vq;

	if (ret || (ret = queue_index(dev, m, m->p.state.index)))
		return ret;
	vq = &dev->vq[m->p.state.index];
	vq->started = false;
	if (vq->kick_fd >= 0)
		close(vq->kick_fd);
	if (vq->call_fd >= 0)
		close(vq->call_fd);
	vq->kick_fd = -1;
	vq->call_fd = -1;
	st.index = m->p.state.index;
	st.num = vq->last_avail_idx;
	*replied = true;
	return send_reply(dev, m->hdr.request, &st, sizeof(st));
}

static int set_vring_fd(struct viova_vhost_user_dev *dev, struct msg *m)
{
	uint64_t v = m->p.u64;
	bool nofd = v & VIOVA_VHOST_USER_VRING_NOFD_MASK;
	struct viova_virtq *vq;
	int ret, *slot, fd = -1;

	if (m->hdr.size != 8)
		return want(m, 8, m->nfds);
	if (v & ~(VIOVA_VHOST_USER_VRING_IDX_MASK | VIOVA_VHOST_USER_VRING_NOFD_MASK))
		return refuse(m, -EINVAL, "reserved bits", v, "only bits 0-8 are defined");
	ret = want(m, 8, nofd ? 0 : 1);
	if (ret || (ret = queue_index(dev, m, v & VIOVA_VHOST_USER_VRING_IDX_MASK)))
		return ret;
	vq = &dev->vq[v & VIOVA_VHOST_USER_VRING_IDX_MASK];
	if (!nofd) {
		fd = m->fds[0];
		m->fds[0] = -1; /* the queue owns it now */
	}
	switch (m->hdr.request) {
	case VIOVA_VHOST_USER_SET_VRING_KICK:
		slot = &vq->kick_fd;
		/* Kicks are drained from the event loop: never block on an empty eventfd. */
		if (fd >= 0)
			fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		vq->started = true;
		vq->broken = false;
		if (!proto_acked(dev))
			vq->enabled = true;
		break;
	case VIOVA_VHOST_USER_SET_VRING_CALL:
		slot = &vq->call_fd;
		vq->signalled_used_valid = false;
		break;
	default:
		slot = &vq->err_fd;
		break;
	}
	if (*slot >= 0)
		close(*slot);
	*slot = fd;
	return 0;
}

static int set_vring_enable(struct viova_vhost_user_dev *dev, const struct msg *m)
{
	int ret = want(m, 8, 0);

	if (ret || (ret = queue_index(dev, m, m->p.state.index)))
		return ret;
	if (!proto_acked(dev))
		return refuse(m, -EINVAL, "features", dev->features,
			      "ack VHOST_USER_F_PROTOCOL_FEATURES before SET_VRING_ENABLE");
	if (m->p.state.num > 1)
		return refuse(m, -EINVAL, "enable value", m->p.state.num, "send 0 or 1");
	dev->vq[m->p.state.index].enabled = m->p.state.num;
	return 0;
}

static int check_config(const struct viova_vhost_user_dev *dev, const struct msg *m)
{
	const struct viova_vhost_user_config *c = &m->p.config;

	if (m->hdr.size < VIOVA_VHOST_USER_CONFIG_HDR_SIZE || m->nfds)
		return refuse(m, -EBADMSG, "payload size", m->hdr.size, "need the 12-byte header");
	if (c->size > VIOVA_VHOST_USER_MAX_CONFIG_SIZE ||
	    m->hdr.size != VIOVA_VHOST_USER_CONFIG_HDR_SIZE + c->size)
		return refuse(m, -EBADMSG, "config size", c->size,
			      "payload must be 12 + size bytes, size <= 256");
	if ((uint64_t)c->offset + c->size > dev->cfg.config_size)
		return refuse(m, -EINVAL, "config range end", (uint64_t)c->offset + c->size,
			      "stay inside the device's config space");
	return 0;
}

static int get_config(struct viova_vhost_user_dev *dev, const struct msg *m, bool *replied)
{
	struct viova_vhost_user_config out;
	int ret = check_config(dev, m);

	if (!ret && !dev->cfg.get_config)
		ret = refuse(m, -ENODEV, "config size", dev->cfg.config_size,
			     "this device has no config space");
	if (!ret) {
		out = m->p.config;
		ret = dev->cfg.get_config(dev->cfg.opaque, out.offset, out.size, out.region);
	}
	*replied = true;
	if (ret) {
		/* vhost-user.rst: a zero-length reply tells the front-end GET_CONFIG failed. */
		int r = send_reply(dev, m->hdr.request, NULL, 0);

		return r ? r : ret;
	}
	return send_reply(dev, m->hdr.request, &out, VIOVA_VHOST_USER_CONFIG_HDR_SIZE + out.size);
}

static int set_config(struct viova_vhost_user_dev *dev, const struct msg *m)
{
	int ret = check_config(dev, m);

	if (ret)
		return ret;
	if (!dev->cfg.set_config)
		return refuse(m, -ENODEV, "config offset", m->p.config.offset,
			      "this device's config space is read-only");
	return dev->cfg.set_config(dev->cfg.opaque, m->p.config.offset, m->p.config.size,
				   m->p.config.region);
}

static int gpu_set_socket(struct viova_vhost_user_dev *dev, struct msg *m)
{
	int ret = want(m, 0, 1);

	if (ret)
		return ret;
	if (dev->gpu_sock >= 0)
		close(dev->gpu_sock);
	dev->gpu_sock = m->fds[0];
	m->fds[0] = -1;
	return 0;
}

static int dispatch(struct viova_vhost_user_dev *dev, struct msg *m, bool *replied)
{
	int ret;

	switch (m->hdr.request) {
	case VIOVA_VHOST_USER_GET_FEATURES:
		if ((ret = want(m, 0, 0)))
			return ret;
		*replied = true;
		return reply_u64(dev, m->hdr.request, dev->cfg.features);
	case VIOVA_VHOST_USER_SET_FEATURES:
		return set_features(dev, m);
	case VIOVA_VHOST_USER_SET_OWNER:
		if ((ret = want(m, 0, 0)))
			return ret;
		dev->owner = true;
		return 0;
	case VIOVA_VHOST_USER_RESET_OWNER:
		if ((ret = want(m, 0, 0)))
			return ret;
		reset_device(dev);
		return 0;
	case VIOVA_VHOST_USER_GET_PROTOCOL_FEATURES:
		if ((ret = want(m, 0, 0)))
			return ret;
		*replied = true;
		return reply_u64(dev, m->hdr.request, dev->cfg.protocol_features);
	case VIOVA_VHOST_USER_SET_PROTOCOL_FEATURES:
		return set_protocol_features(dev, m);
	case VIOVA_VHOST_USER_GET_QUEUE_NUM:
		if ((ret = want(m, 0, 0)))
			return ret;
		*replied = true;
		return reply_u64(dev, m->hdr.request, dev->cfg.num_queues);
	case VIOVA_VHOST_USER_SET_MEM_TABLE:
		return set_mem_table(dev, m);
	case VIOVA_VHOST_USER_SET_VRING_NUM:
		return set_vring_num(dev, m);
	case VIOVA_VHOST_USER_SET_VRING_ADDR:
		return set_vring_addr(dev, m);
	case VIOVA_VHOST_USER_SET_VRING_BASE:
		return set_vring_base(dev, m);
	case VIOVA_VHOST_USER_GET_VRING_BASE:
		return get_vring_base(dev, m, replied);
	case VIOVA_VHOST_USER_SET_VRING_KICK:
	case VIOVA_VHOST_USER_SET_VRING_CALL:
	case VIOVA_VHOST_USER_SET_VRING_ERR:
		return set_vring_fd(dev, m);
	case VIOVA_VHOST_USER_SET_VRING_ENABLE:
		return set_vring_enable(dev, m);
	case VIOVA_VHOST_USER_GET_CONFIG:
		return get_config(dev, m, replied);
	case VIOVA_VHOST_USER_SET_CONFIG:
		return set_config(dev, m);
	case VIOVA_VHOST_USER_GPU_SET_SOCKET:
		return gpu_set_socket(dev, m);
	default:
		return refuse(m, -EOPNOTSUPP, "request", m->hdr.request,
			      "viova-host does not offer the feature this request belongs to");
	}
}

int viova_vhost_user_handle_one(struct viova_vhost_user_dev *dev)
{
	struct msg *m;
	bool replied = false;
	int ret;

	if (dev->dead)
		return -ENOTCONN;
	m = malloc(sizeof(*m));
	if (!m)
		return -ENOMEM;
	ret = recv_msg(dev->sock, m);
	if (ret) {
		dev->dead = true;
		free(m);
		return ret;
	}
	if (m->fds_truncated)
		ret = refuse(m, -E2BIG, "fd count above", VIOVA_VHOST_USER_MAX_FDS,
			     "send at most 8 fds per message");
	else if ((m->hdr.flags & VIOVA_VHOST_USER_VERSION_MASK) != VIOVA_VHOST_USER_VERSION ||
		 (m->hdr.flags &
		  ~(VIOVA_VHOST_USER_VERSION_MASK | VIOVA_VHOST_USER_FLAG_NEED_REPLY)))
		ret = refuse(m, -EPROTO, "flags", m->hdr.flags,
			     "version must be 1 and only NEED_REPLY may be set");
	else
		ret = dispatch(dev, m, &replied);
	close_fds(m);
	if (!replied && !dev->dead && (m->hdr.flags & VIOVA_VHOST_USER_FLAG_NEED_REPLY) &&
	    (dev->protocol_features & (1ull << VIOVA_VHOST_USER_PROTOCOL_F_REPLY_ACK))) {
		int r = reply_u64(dev, m->hdr.request, ret ? 1 : 0);

		if (r)
			ret = r;
	}
	free(m);
	return ret;
}

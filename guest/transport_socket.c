/* SPDX-License-Identifier: MIT */
/*
 * transport_socket.c - the unix-socket transport: viova/socket.h framing over AF_UNIX
 * SOCK_SEQPACKET, the response area and doorbell in one sealed memfd, sleeping on the
 * doorbell with a shared futex.
 *
 * DOC: why a futex doorbell and not reply messages
 *
 * Forked processes share the socket. If the host answered "batch done" with a message, any of
 * them could read an answer meant for another (and threads of one process likewise), so every
 * waiter would need its own channel. Instead nothing but HELLO_REPLY and BYE ever travels
 * back: results are in the response area, and the host bumps doorbell.progress (and wakes
 * FUTEX waiters on it) after each batch and each fence or fault. A waiter re-reads its own
 * condition after every wake-up, so one wake-up serves every process and thread, and nobody
 * can steal anybody's answer. Sleeps are cut into slices of GUEST_WAIT_SLICE_NS so that a
 * host that died (it wakes nobody) is noticed by a poll() for POLLHUP within one slice.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "guest_priv.h"
#include "viova/socket.h"

struct sock_transport {
	struct guest_transport base;
	int fd;
	void *map; /* memfd: response area + doorbell */
	size_t map_size;
	struct viova_sock_doorbell *bell;
	char bye[VIOVA_SOCK_MESSAGE_SIZE];
};

static struct sock_transport *st_of(struct guest_transport *t)
{
	return (struct sock_transport *)t;
}

static void ns_to_timeval(uint64_t ns, struct timeval *tv)
{
	tv->tv_sec = (time_t)(ns / 1000000000ull);
	tv->tv_usec = (suseconds_t)(ns % 1000000000ull / 1000);
	if (!tv->tv_sec && !tv->tv_usec)
		tv->tv_usec = 1;
}

/* Connect a SEQPACKET socket to path with send/receive timeouts. */
static int sock_connect(const char *path, uint64_t timeout_ns, int *out, char *why, size_t why_len)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv;
	int fd, ret;

	if (!path[0] || strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(why, why_len, "socket path \"%s\" is empty or longer than %zu bytes", path,
			 sizeof(sa.sun_path) - 1);
		return -EINVAL;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		snprintf(why, why_len, "socket(AF_UNIX, SOCK_SEQPACKET): %s", strerror(errno));
		return ret;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		snprintf(why, why_len,
			 "cannot connect to %s (%s): is `viova-host --listen unix:%s` running?",
			 path, strerror(errno), path);
		close(fd);
		return ret;
	}
	ns_to_timeval(timeout_ns, &tv);
	/* One batch is one message: ask for room for two (the kernel caps it at wmem_max). */
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &(int){2 << 20}, sizeof(int));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	*out = fd;
	return 0;
}

static int recv_frame(int fd, void *buf, size_t cap, size_t *len)
{
	ssize_t n;

	do {
		n = recv(fd, buf, cap, 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return (errno == EAGAIN || errno == EWOULDBLOCK) ? -ETIMEDOUT : -errno;
	if (n == 0)
		return -ECONNRESET;
	*len = (size_t)n;
	return 0;
}

static void msg_copy(char *dst, size_t cap, const uint8_t *src, size_t src_len)
{
	size_t n = strnlen((const char *)src, src_len);

	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* HELLO with the memfd; HELLO_REPLY with the capset. */
static int handshake(struct sock_transport *s, int memfd, uint64_t area_size, uint64_t bell_off,
		     struct viova_capset *caps)
{
	struct viova_sock_hello hello = {
	    .frame = {.magic = VIOVA_SOCK_MAGIC, .type = VIOVA_SOCK_HELLO, .length = sizeof(hello)},
	    .wire_major = VIOVA_WIRE_MAJOR,
	    .wire_minor = VIOVA_WIRE_MINOR,
	    .area_size = area_size,
	    .doorbell_offset = bell_off,
	};
	union {
		struct viova_sock_hello_reply reply;
		struct viova_sock_bye bye;
		uint8_t raw[VIOVA_SOCK_MAX_CONTROL];
	} in;
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {.iov_base = &hello, .iov_len = sizeof(hello)};
	struct msghdr msg = {
	    .msg_iov = &iov,
	    .msg_iovlen = 1,
	    .msg_control = cbuf,
	    .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;
	char text[VIOVA_SOCK_MESSAGE_SIZE];
	size_t len = 0;
	int ret;

	memset(cbuf, 0, sizeof(cbuf));
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &memfd, sizeof(int));
	if (sendmsg(s->fd, &msg, MSG_NOSIGNAL) < 0) {
		ret = -errno;
		return guest_err(ret == -EAGAIN ? -ETIMEDOUT : ret, "socket HELLO: sendmsg: %s",
				 strerror(errno));
	}
	memset(&in, 0, sizeof(in));
	ret = recv_frame(s->fd, &in, sizeof(in), &len);
	if (ret == -ETIMEDOUT)
		return guest_err(ret, "socket HELLO: the host did not answer in time");
	if (ret)
		return guest_err(-EPROTO,
				 "socket HELLO: the host closed the connection without "
				 "answering (%s): is this a viova-host socket?",
				 strerror(-ret));
	if (len < sizeof(in.reply.frame) || in.reply.frame.magic != VIOVA_SOCK_MAGIC ||
	    in.reply.frame.length != len)
		return guest_err(-EPROTO,
				 "socket HELLO: the answer (%zu bytes) is not a viova "
				 "socket frame: is this a viova-host socket?",
				 len);
	if (in.reply.frame.type == VIOVA_SOCK_BYE && len == sizeof(in.bye)) {
		msg_copy(text, sizeof(text), in.bye.message, sizeof(in.bye.message));
		return guest_err(-ECONNRESET, "socket HELLO: the host refused the connection: %s",
				 text);
	}
	if (in.reply.frame.type != VIOVA_SOCK_HELLO_REPLY || len != sizeof(in.reply))
		return guest_err(-EPROTO,
				 "socket HELLO: expected HELLO_REPLY (%zu bytes), got "
				 "frame type %u of %zu bytes",
				 sizeof(in.reply), in.reply.frame.type, len);
	msg_copy(text, sizeof(text), in.reply.message, sizeof(in.reply.message));
	if (in.reply.status == VIOVA_EPROTONOSUPPORT)
		return guest_err(-EPROTONOSUPPORT,
				 "the host speaks viova wire %u.%u, this library %u.%u: use a "
				 "guest library and host with the same wire major (%s)",
				 in.reply.wire_major, in.reply.wire_minor, VIOVA_WIRE_MAJOR,
				 VIOVA_WIRE_MINOR, text);
	if (in.reply.status)
		return guest_err(-(int)in.reply.status, "the host refused the connection: %s (%s)",
				 text, viova_codec_errno_name(in.reply.status));
	/* The host accepted; its capset must still speak our major (a broken host otherwise). */
	if (in.reply.caps.wire_major != VIOVA_WIRE_MAJOR)
		return guest_err(-EPROTONOSUPPORT,
				 "the host's capset announces viova wire %u.%u, this library "
				 "speaks %u.%u: refusing it (majors must match)",
				 in.reply.caps.wire_major, in.reply.caps.wire_minor,
				 VIOVA_WIRE_MAJOR, VIOVA_WIRE_MINOR);
	*caps = in.reply.caps;
	return 0;
}

static int sock_open(const char *target, const struct guest_transport_params *p,
		     struct guest_transport **out, struct guest_transport_info *info)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t bell_off = ((size_t)p->area_size + page - 1) & ~(page - 1);
	size_t total = bell_off + page;
	struct sock_transport *s;
	char why[200];
	int memfd = -1, ret;

	s = calloc(1, sizeof(*s));
	if (!s)
		return guest_err(-ENOMEM, "socket transport: out of memory");
	s->base.ops = &guest_transport_socket;
	s->fd = -1;
	ret = sock_connect(target, p->timeout_ns, &s->fd, why, sizeof(why));
	if (ret) {
		guest_err(ret, "%s", why);
		goto fail;
	}
	/* Sealed so the host can trust the size it maps (a shrink would SIGBUS it). */
	memfd = memfd_create("viova-resp", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (memfd < 0 || ftruncate(memfd, (off_t)total) < 0 ||
	    fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		ret = guest_err(-errno, "socket transport: response memfd of %zu bytes: %s", total,
				strerror(errno));
		goto fail;
	}
	s->map = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (s->map == MAP_FAILED) {
		s->map = NULL;
		ret = guest_err(-errno, "socket transport: mmap of %zu bytes: %s", total,
				strerror(errno));
		goto fail;
	}
	s->map_size = total;
	s->bell = (struct viova_sock_doorbell *)((uint8_t *)s->map + bell_off);
	ret = handshake(s, memfd, p->area_size, bell_off, &info->caps);
	if (ret)
		goto fail;
	close(memfd);
	{
		int sndbuf = 0;
		socklen_t sl = sizeof(sndbuf);

		/* A SEQPACKET message must fit the send buffer; keep half of it as headroom. */
		getsockopt(s->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &sl);
		info->max_message = sndbuf > 8192 ? (uint32_t)sndbuf / 2 : 4096;
	}
	info->area = s->map;
	info->res_id = 0; /* "the memfd sent with HELLO" (docs/protocol.md, socket transport) */
	*out = &s->base;
	return 0;

fail:
	if (memfd >= 0)
		close(memfd);
	if (s->map)
		munmap(s->map, s->map_size);
	if (s->fd >= 0)
		close(s->fd);
	free(s);
	return ret;
}

static void sock_close(struct guest_transport *t)
{
	struct sock_transport *s = st_of(t);

	if (s->map)
		munmap(s->map, s->map_size);
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}

static int sock_send(struct guest_transport *t, const void *batch, size_t len)
{
	struct sock_transport *s = st_of(t);
	struct viova_sock_frame f = {
	    .magic = VIOVA_SOCK_MAGIC,
	    .type = VIOVA_SOCK_BATCH,
	    .length = (uint32_t)(sizeof(f) + len),
	};
	struct iovec iov[2] = {
	    {.iov_base = &f, .iov_len = sizeof(f)},
	    {.iov_base = (void *)batch, .iov_len = len},
	};
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
	ssize_t n;

	do {
		n = sendmsg(s->fd, &msg, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n >= 0)
		return 0;
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return -ETIMEDOUT;
	if (errno == EMSGSIZE || errno == ENOBUFS)
		return -EMSGSIZE;
	return -ENODEV;
}

static uint32_t sock_progress(struct guest_transport *t)
{
	return __atomic_load_n(&st_of(t)->bell->progress, __ATOMIC_SEQ_CST);
}

static int sock_wait(struct guest_transport *t, uint32_t seen, uint64_t timeout_ns)
{
	struct viova_sock_doorbell *b = st_of(t)->bell;
	struct timespec ts = {
	    .tv_sec = (time_t)(timeout_ns / 1000000000ull),
	    .tv_nsec = (long)(timeout_ns % 1000000000ull),
	};
	long r;
	int ret = 0;

	/* Announce first, then re-check: the host bumps progress before it reads waiters. */
	__atomic_add_fetch(&b->waiters, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&b->progress, __ATOMIC_SEQ_CST) == seen) {
		/* Not FUTEX_PRIVATE: the word is in a file mapping shared with the host. */
		r = syscall(SYS_futex, &b->progress, FUTEX_WAIT, seen, &ts, NULL, 0);
		if (r < 0 && errno == ETIMEDOUT)
			ret = -ETIMEDOUT;
	}
	__atomic_sub_fetch(&b->waiters, 1, __ATOMIC_SEQ_CST);
	return ret;
}

static int sock_alive(struct guest_transport *t, char *why, size_t why_len)
{
	struct sock_transport *s = st_of(t);
	struct pollfd pfd = {.fd = s->fd, .events = POLLIN | POLLRDHUP};
	union {
		struct viova_sock_bye bye;
		uint8_t raw[VIOVA_SOCK_MAX_CONTROL];
	} in;
	ssize_t n;

	if (poll(&pfd, 1, 0) <= 0)
		return 0;
	if (pfd.revents & POLLIN) {
		/* The only thing a host sends after HELLO_REPLY is BYE, just before closing. */
		n = recv(s->fd, &in, sizeof(in), MSG_DONTWAIT);
		if (n == (ssize_t)sizeof(in.bye) && in.bye.frame.magic == VIOVA_SOCK_MAGIC &&
		    in.bye.frame.type == VIOVA_SOCK_BYE)
			msg_copy(s->bye, sizeof(s->bye), in.bye.message, sizeof(in.bye.message));
	}
	if (!(pfd.revents & (POLLHUP | POLLRDHUP | POLLERR)))
		return 0;
	snprintf(why, why_len, "the host closed the connection%s%s", s->bye[0] ? ": " : "", s->bye);
	return -ENODEV;
}

const struct guest_transport_ops guest_transport_socket = {
    .scheme = "unix",
    .open = sock_open,
    .close = sock_close,
    .send = sock_send,
    .progress = sock_progress,
    .wait = sock_wait,
    .alive = sock_alive,
};

int guest_socket_host_stats(const char *target, uint64_t timeout_ns,
			    struct viova_guest_host_stats *st, char *why, size_t why_len)
{
	struct viova_sock_frame req = {
	    .magic = VIOVA_SOCK_MAGIC,
	    .type = VIOVA_SOCK_STATS,
	    .length = sizeof(req),
	};
	union {
		struct viova_sock_stats_reply r;
		uint8_t raw[VIOVA_SOCK_MAX_CONTROL];
	} in;
	size_t len = 0;
	int fd, ret;

	ret = sock_connect(target, timeout_ns, &fd, why, why_len);
	if (ret)
		return ret;
	if (send(fd, &req, sizeof(req), MSG_NOSIGNAL) < 0) {
		ret = -errno;
		snprintf(why, why_len, "STATS: send: %s", strerror(errno));
		close(fd);
		return ret;
	}
	ret = recv_frame(fd, &in, sizeof(in), &len);
	close(fd);
	if (ret) {
		snprintf(why, why_len, "STATS: no answer from %s (%s)", target, strerror(-ret));
		return ret == -ETIMEDOUT ? ret : -EPROTO;
	}
	if (len != sizeof(in.r) || in.r.frame.magic != VIOVA_SOCK_MAGIC ||
	    in.r.frame.type != VIOVA_SOCK_STATS_REPLY || in.r.frame.length != len) {
		snprintf(why, why_len,
			 "STATS: %s answered a %zu-byte frame that is not "
			 "STATS_REPLY",
			 target, len);
		return -EPROTO;
	}
	st->connections = in.r.connections;
	st->contexts = in.r.contexts;
	st->vms = in.r.vms;
	st->buffers = in.r.buffers;
	st->mappings = in.r.mappings;
	st->jobs_pending = in.r.jobs_pending;
	st->bytes = in.r.bytes;
	st->connections_total = in.r.connections_total;
	st->batches = in.r.batches;
	st->rejected = in.r.rejected;
	return 0;
}

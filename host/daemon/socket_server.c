/* SPDX-License-Identifier: MIT */
/*
 * socket_server.c - one thread per guest connection of `viova-host --listen unix:PATH`.
 *
 * DOC: life of a connection
 *
 *   accept (a pending slot, daemon.h) ─> thread: recv first frame (--hello-timeout-ms)
 *               STATS  ─> STATS_REPLY, close                      (monitoring, no host)
 *               HELLO + memfd ─> checks (version, seals, then sizes) ─> mmap
 *                        ─> a guest slot ─> viova_host_create ─> HELLO_REPLY(capset)
 *               loop: recv BATCH (<= 16 + max_batch_size, else MSG_TRUNC)
 *                        ─> viova_host_process ─> doorbell.progress++ / FUTEX_WAKE
 *               EOF, error, malformed frame (BYE first) or shutdown (BYE first)
 *                        ─> viova_host_destroy (everything the guest owned) ─> munmap
 *                        ─> under d->lock: unlink, close ─> d->dead ─> joined by main
 *
 * Why a thread per connection rather than one poll loop: the host core is single-threaded
 * per connection and WAIT_FENCE may block it for up to capset.max_wait_ns; in a shared loop
 * one guest's wait (or a long teardown) would stall every other guest. Threads keep guests
 * independent; --max-connections bounds them.
 *
 * Events: the backend reports fence completions and GPU faults on its own thread. The
 * backend is created through a hook (viova_host_config.backend_create) that hands it a copy
 * of the host's event table whose entries first forward to the host, then ring the doorbell,
 * so a guest sleeping on a fence wakes without polling.
 */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "viova/codec.h"

#define MAX_AREA (1ull << 30)
#define MAX_FDS 4

struct daemon_conn {
	struct daemon_thread t; /* first: threads.c frees the connection through it */
	struct daemon *d;
	uint64_t id;
	bool guest; /* counted in d->guests, else in d->pending */
	struct viova_host *host;
	void *map;
	size_t map_size;
	uint64_t area_size;
	struct viova_sock_doorbell *bell;
	/* the host's events, and the tap the backend calls instead */
	const struct viova_backend_events *host_events;
	void *host_cookie;
	struct viova_backend_events tap;
	struct viova_host_counters counters; /* last published, under d->lock */
};
_Static_assert(offsetof(struct daemon_conn, t) == 0, "threads.c frees the conn via t");

static struct daemon_conn *conn_of(struct daemon_thread *t)
{
	return (struct daemon_conn *)t;
}

/* The connection whose host is being created on this thread (for the backend hook). */
static _Thread_local struct daemon_conn *creating;

/* Tell the main thread that a slot freed (it may accept again, and join the ended thread). */
static void wake_main(struct daemon *d)
{
	uint64_t one = 1;
	ssize_t n = write(d->wake_fd, &one, sizeof(one));

	(void)n; /* EAGAIN only if the counter is saturated: the main thread wakes anyway */
}

static void ring(struct daemon_conn *c)
{
	struct viova_sock_doorbell *b = c->bell;

	/* Results are published (release) before this; a waiter re-checks after waking. */
	__atomic_add_fetch(&b->progress, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&b->waiters, __ATOMIC_SEQ_CST))
		syscall(SYS_futex, &b->progress, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

static void tap_fence(void *cookie, void *ctx, uint64_t fence)
{
	struct daemon_conn *c = cookie;

	c->host_events->fence_signaled(c->host_cookie, ctx, fence);
	ring(c);
}

static void tap_fault(void *cookie, void *ctx, uint64_t fence, uint64_t iova, int err)
{
	struct daemon_conn *c = cookie;

	c->host_events->job_fault(c->host_cookie, ctx, fence, iova, err);
	ring(c);
}

static int tap_backend_create(const char *name, const struct viova_backend_config *config,
			      const struct viova_backend_events *events, void *cookie,
			      struct viova_backend **out)
{
	struct daemon_conn *c = creating;

	c->host_events = events;
	c->host_cookie = cookie;
	c->tap.fence_signaled = tap_fence;
	c->tap.job_fault = tap_fault;
	return viova_backend_create(name, config, &c->tap, c, out);
}

static int resp_map(void *cookie, uint32_t res_id, uint64_t size, void **mem)
{
	struct daemon_conn *c = cookie;

	if (res_id != 0)
		return -ENOENT; /* the socket transport has one object: the HELLO memfd */
	if (size > c->area_size)
		return -EINVAL;
	*mem = c->map;
	return 0;
}

static void host_log(void *cookie, int level, const char *msg)
{
	struct daemon_conn *c = cookie;
	static const char *const names[] = {"error", "warn", "info"};

	daemon_log(c->d, true, "conn %" PRIu64 ": %s: %s", c->id,
		   level >= 0 && level <= 2 ? names[level] : "?", msg);
}

static void send_frame(int fd, const void *frame, size_t len)
{
	/* Best effort: the peer may be gone already, and the connection ends either way. */
	(void)send(fd, frame, len, MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void send_bye(int fd, uint32_t status, const char *msg)
{
	struct viova_sock_bye bye = {
	    .frame = {.magic = VIOVA_SOCK_MAGIC, .type = VIOVA_SOCK_BYE, .length = sizeof(bye)},
	    .status = status,
	};

	snprintf((char *)bye.message, sizeof(bye.message), "%s", msg);
	send_frame(fd, &bye, sizeof(bye));
}

static void send_hello_reply(int fd, uint32_t status, const struct viova_capset *caps,
			     const char *msg)
{
	struct viova_sock_hello_reply r = {
	    .frame = {.magic = VIOVA_SOCK_MAGIC,
		      .type = VIOVA_SOCK_HELLO_REPLY,
		      .length = sizeof(r)},
	    .status = status,
	    .wire_major = VIOVA_WIRE_MAJOR,
	    .wire_minor = VIOVA_WIRE_MINOR,
	};

	if (caps)
		r.caps = *caps;
	snprintf((char *)r.message, sizeof(r.message), "%s", msg ? msg : "");
	send_frame(fd, &r, sizeof(r));
}

/* A malformed frame: say why, count it, and end this connection only. */
static void reject(struct daemon_conn *c, const char *msg)
{
	daemon_log(c->d, false, "conn %" PRIu64 ": closing: %s", c->id, msg);
	send_bye(c->t.fd, VIOVA_EPROTO, msg);
	pthread_mutex_lock(&c->d->lock);
	c->d->rejected++;
	pthread_mutex_unlock(&c->d->lock);
}

static void close_fds(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

/*
 * Receive one message into buf. Returns its length, 0 at EOF, -1 on error; *trunc when it was
 * larger than cap; file descriptors it carried land in fds (up to MAX_FDS, the rest closed).
 */
static ssize_t recv_msg(int fd, void *buf, size_t cap, bool *trunc, int *fds, int *nfds)
{
	char cbuf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
	struct iovec iov = {.iov_base = buf, .iov_len = cap};
	struct msghdr msg = {
	    .msg_iov = &iov,
	    .msg_iovlen = 1,
	    .msg_control = cbuf,
	    .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;
	ssize_t n;

	*nfds = 0;
	do {
		n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	*trunc = (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0;
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		size_t k, cnt;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		cnt = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (k = 0; k < cnt; k++) {
			int f;

			memcpy(&f, CMSG_DATA(cm) + k * sizeof(int), sizeof(int));
			if (*nfds < MAX_FDS)
				fds[(*nfds)++] = f;
			else
				close(f);
		}
	}
	return n;
}

static bool frame_ok(const struct viova_sock_frame *f, size_t n)
{
	return n >= sizeof(*f) && f->magic == VIOVA_SOCK_MAGIC && f->flags == 0 &&
	       f->reserved == 0 && f->length == n;
}

static void serve_stats(struct daemon_conn *c)
{
	struct daemon *d = c->d;
	struct viova_sock_stats_reply r = {
	    .frame = {.magic = VIOVA_SOCK_MAGIC,
		      .type = VIOVA_SOCK_STATS_REPLY,
		      .length = sizeof(r)},
	};
	struct daemon_thread *t;

	pthread_mutex_lock(&d->lock);
	r.connections = d->guests;
	for (t = d->conns.live; t; t = t->next) {
		const struct daemon_conn *x = conn_of(t);

		if (!x->guest)
			continue;
		r.contexts += x->counters.contexts;
		r.vms += x->counters.vms;
		r.buffers += x->counters.buffers;
		r.mappings += x->counters.mappings;
		r.jobs_pending += x->counters.jobs_pending;
		r.bytes += x->counters.bytes;
	}
	r.connections_total = d->connections_total;
	r.batches = d->batches;
	r.rejected = d->rejected;
	pthread_mutex_unlock(&d->lock);
	send_frame(c->t.fd, &r, sizeof(r));
}

/*
 * Validate HELLO and its memfd, map it. Returns NULL or the refusal (status in *status).
 *
 * DOC: why the seals are checked before the size
 *
 * The guest keeps its own descriptor of the memfd. Until F_SEAL_SHRINK is set it can
 * ftruncate() the file at any moment, also between our fstat() and our first write to the
 * doorbell: a write to a page past the end of a shared file mapping is SIGBUS, which kills
 * the whole daemon. Seals cannot be removed once set, so
 *
 *   F_GET_SEALS has SHRINK and GROW  ─> fstat: the size it reports is final
 *                                    ─> size checks ─> mmap
 *
 * is race-free, while fstat-then-seals is not (tests/.../test_guest_daemon.c,
 * test_memfd_shrink_race). GROW is required too (socket.h says so): the mapping is fixed at
 * HELLO, so a grown file is harmless to us, but a guest must not be able to change the
 * object after the handshake in either direction. Only tmpfs memfds pass: hugetlbfs can be
 * sealed as well, but its 2 MiB pages break the "area + one page" layout and our munmap
 * length.
 */
static const char *check_hello(struct daemon_conn *c, const struct viova_sock_hello *h, int memfd,
			       uint32_t *status, char *why, size_t why_len)
{
	const int need = F_SEAL_SHRINK | F_SEAL_GROW;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	struct statfs fs;
	struct stat sb;
	int seals;

	*status = VIOVA_EINVAL;
	if (h->wire_major != VIOVA_WIRE_MAJOR) {
		*status = VIOVA_EPROTONOSUPPORT;
		snprintf(why, why_len,
			 "this host speaks viova wire %u.%u, the guest %u.%u: use a guest library "
			 "with wire major %u",
			 VIOVA_WIRE_MAJOR, VIOVA_WIRE_MINOR, h->wire_major, h->wire_minor,
			 VIOVA_WIRE_MAJOR);
		return why;
	}
	if (h->flags || h->reserved)
		return "HELLO: flags and reserved must be 0";
	seals = fcntl(memfd, F_GET_SEALS);
	if (seals < 0)
		return "HELLO: the file descriptor is not a sealable memfd (memfd_create with "
		       "MFD_ALLOW_SEALING)";
	if ((seals & need) != need) {
		snprintf(why, why_len,
			 "HELLO: memfd seals are 0x%x, need F_SEAL_SHRINK | F_SEAL_GROW "
			 "(memfd_create with MFD_ALLOW_SEALING, then F_ADD_SEALS)",
			 (unsigned)seals & 0xffffu);
		return why;
	}
	/* From here on the size cannot change. */
	if (fstat(memfd, &sb) < 0 || !S_ISREG(sb.st_mode) || fstatfs(memfd, &fs) < 0 ||
	    fs.f_type != TMPFS_MAGIC)
		return "HELLO: the file descriptor is not a tmpfs memfd (memfd_create without "
		       "MFD_HUGETLB)";
	if (h->area_size < 4096 || h->area_size > MAX_AREA || h->area_size % 8) {
		snprintf(why, why_len,
			 "HELLO: area_size %" PRIu64 " must be a multiple of 8 in "
			 "4096..%llu",
			 h->area_size, MAX_AREA);
		return why;
	}
	/* The doorbell follows the area on the next page: the mapping stays area + one page. */
	if (h->doorbell_offset != ((h->area_size + page - 1) & ~(uint64_t)(page - 1)) ||
	    h->doorbell_offset > (uint64_t)sb.st_size ||
	    (uint64_t)sb.st_size - h->doorbell_offset < sizeof(struct viova_sock_doorbell)) {
		snprintf(why, why_len,
			 "HELLO: doorbell_offset %" PRIu64 " must be area_size %" PRIu64
			 " rounded up to the page size, with 64 bytes there inside "
			 "the %lld-byte memfd",
			 h->doorbell_offset, h->area_size, (long long)sb.st_size);
		return why;
	}
	c->map_size = (size_t)h->doorbell_offset + page;
	if ((uint64_t)sb.st_size < c->map_size)
		c->map_size = (size_t)sb.st_size;
	c->map = mmap(NULL, c->map_size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (c->map == MAP_FAILED) {
		c->map = NULL;
		*status = VIOVA_ENOMEM;
		snprintf(why, why_len, "HELLO: cannot map the %zu-byte memfd (%s)", c->map_size,
			 strerror(errno));
		return why;
	}
	c->area_size = h->area_size;
	c->bell = (struct viova_sock_doorbell *)((uint8_t *)c->map + h->doorbell_offset);
	return NULL;
}

static void publish_counters(struct daemon_conn *c, bool batch)
{
	struct viova_host_counters k;

	viova_host_counters(c->host, &k);
	pthread_mutex_lock(&c->d->lock);
	c->counters = k;
	if (batch)
		c->d->batches++;
	pthread_mutex_unlock(&c->d->lock);
}

static void serve_guest(struct daemon_conn *c, const struct viova_sock_hello *h, int memfd)
{
	struct daemon *d = c->d;
	struct viova_host_config cfg = {0};
	struct viova_backend_config backend_config = {.device = d->opts.device};
	struct viova_capset caps;
	const char *refusal;
	uint32_t status;
	char why[VIOVA_SOCK_MESSAGE_SIZE];
	char name[32];
	uint8_t *buf;
	size_t cap;
	int ret;

	refusal = check_hello(c, h, memfd, &status, why, sizeof(why));
	close(memfd);
	pthread_mutex_lock(&d->lock);
	if (!refusal && d->guests >= d->opts.max_connections) {
		status = VIOVA_EBUSY;
		snprintf(why, sizeof(why),
			 "viova-host serves at most %" PRIu32 " guest connections: "
			 "close one, or start it with a larger --max-connections",
			 d->opts.max_connections);
		refusal = why;
	}
	if (!refusal) {
		/* From its pending slot to a guest slot: the main thread may accept again. */
		d->guests++;
		d->pending--;
		d->connections_total++;
		c->guest = true;
	}
	pthread_mutex_unlock(&d->lock);
	if (!refusal)
		wake_main(d);
	if (refusal) {
		daemon_log(d, false, "conn %" PRIu64 ": refused: %s", c->id, refusal);
		send_hello_reply(c->t.fd, status, NULL, refusal);
		pthread_mutex_lock(&d->lock);
		d->rejected++;
		pthread_mutex_unlock(&d->lock);
		return;
	}

	cfg.backend = d->opts.backend;
	cfg.backend_config = &backend_config;
	cfg.backend_create = tap_backend_create;
	cfg.max_batch_size = d->opts.max_batch_size;
	cfg.quotas = d->opts.quotas;
	cfg.budget = d->budget;
	snprintf(name, sizeof(name), "connection %" PRIu64, c->id);
	cfg.name = name;
	cfg.resp_map = resp_map;
	cfg.transport_cookie = c;
	cfg.log = host_log;
	cfg.log_cookie = c;
	creating = c;
	ret = viova_host_create(&cfg, &c->host);
	creating = NULL;
	if (ret == 0)
		ret = viova_host_get_caps(c->host, &caps);
	if (ret) {
		snprintf(why, sizeof(why), "cannot create a host on backend \"%s\" (%s)",
			 d->opts.backend, strerror(-ret));
		daemon_log(d, false, "conn %" PRIu64 ": refused: %s", c->id, why);
		send_hello_reply(c->t.fd, viova_codec_wire_errno(ret), NULL, why);
		return;
	}
	send_hello_reply(c->t.fd, 0, &caps, NULL);
	daemon_log(d, true,
		   "conn %" PRIu64 ": guest wire %u.%u, %" PRIu64 "-byte response area, "
		   "backend %s",
		   c->id, h->wire_major, h->wire_minor, h->area_size, d->opts.backend);

	/* No receive timeout from here on: a guest may stay idle as long as it likes. */
	setsockopt(c->t.fd, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){0}, sizeof(struct timeval));
	cap = sizeof(struct viova_sock_frame) + caps.max_batch_size;
	buf = aligned_alloc(64, (cap + 63) & ~(size_t)63);
	if (!buf) {
		send_bye(c->t.fd, VIOVA_ENOMEM, "viova-host is out of memory");
		return;
	}
	for (;;) {
		struct viova_sock_frame f;
		int fds[MAX_FDS], nfds;
		bool trunc;
		ssize_t n = recv_msg(c->t.fd, buf, cap, &trunc, fds, &nfds);

		/*
		 * SHUT_RD still delivers what was queued before it: stop at the next frame
		 * boundary, so a shutdown waits for at most the batch in progress.
		 */
		if (n <= 0 || __atomic_load_n(&d->stopping, __ATOMIC_ACQUIRE)) {
			if (n > 0)
				close_fds(fds, nfds);
			if (__atomic_load_n(&d->stopping, __ATOMIC_ACQUIRE))
				send_bye(c->t.fd, VIOVA_ENODEV, "viova-host is shutting down");
			break;
		}
		if (nfds) {
			close_fds(fds, nfds);
			reject(c, "a BATCH frame carried file descriptors: only HELLO may");
			break;
		}
		if (trunc) {
			snprintf(why, sizeof(why),
				 "a frame longer than %zu bytes (16 + capset "
				 "max_batch_size %" PRIu32 "): split batches",
				 cap, caps.max_batch_size);
			reject(c, why);
			break;
		}
		memcpy(&f, buf, (size_t)n < sizeof(f) ? (size_t)n : sizeof(f));
		if (!frame_ok(&f, (size_t)n) || f.type != VIOVA_SOCK_BATCH) {
			snprintf(why, sizeof(why),
				 "malformed frame (%zd bytes, magic 0x%08" PRIx32
				 ", type %u): expected BATCH",
				 n, (size_t)n >= 4 ? f.magic : 0, (size_t)n >= 6 ? f.type : 0);
			reject(c, why);
			break;
		}
		viova_host_process(c->host, buf + sizeof(f), (size_t)n - sizeof(f));
		publish_counters(c, true);
		ring(c);
	}
	free(buf);
}

/*
 * Unlink first, then close, both under d->lock: daemon_conn_shutdown_all walks the list under
 * the same lock, so it can never shutdown() a descriptor number that was closed and reused.
 */
static void conn_end(struct daemon_conn *c)
{
	struct daemon *d = c->d;

	if (c->host) {
		struct viova_host_counters k;

		viova_host_counters(c->host, &k);
		daemon_log(d, true,
			   "conn %" PRIu64 ": closed after %" PRIu64 " batches; releasing "
			   "%" PRIu32 " contexts, %" PRIu32 " buffers, %" PRIu32 " mappings",
			   c->id, k.batches, k.contexts, k.buffers, k.mappings);
		/* Everything the guest owned goes with its connection. */
		viova_host_destroy(c->host);
		c->host = NULL;
	}
	if (c->map)
		munmap(c->map, c->map_size);
	c->map = NULL;
	pthread_mutex_lock(&d->lock);
	if (c->guest)
		d->guests--;
	else
		d->pending--;
	daemon_thread_end_locked(d, &d->conns, &c->t);
	pthread_mutex_unlock(&d->lock);
	wake_main(d);
}

static void *conn_main(void *arg)
{
	struct daemon_conn *c = arg;
	union {
		struct viova_sock_frame f;
		struct viova_sock_hello hello;
		uint8_t raw[VIOVA_SOCK_MAX_CONTROL];
	} in;
	struct timeval tv = {
	    .tv_sec = c->d->opts.hello_timeout_ms / 1000,
	    .tv_usec = (suseconds_t)(c->d->opts.hello_timeout_ms % 1000) * 1000,
	};
	int fds[MAX_FDS], nfds;
	char why[VIOVA_SOCK_MESSAGE_SIZE];
	bool trunc;
	ssize_t n;

	setsockopt(c->t.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	memset(&in, 0, sizeof(in));
	n = recv_msg(c->t.fd, &in, sizeof(in), &trunc, fds, &nfds);
	if (n <= 0) {
		if (n < 0)
			daemon_log(c->d, true,
				   "conn %" PRIu64 ": no first frame within %" PRIu32 " ms (%s)",
				   c->id, c->d->opts.hello_timeout_ms, strerror(errno));
		close_fds(fds, nfds);
	} else if (!trunc && frame_ok(&in.f, (size_t)n) && in.f.type == VIOVA_SOCK_STATS &&
		   (size_t)n == sizeof(in.f) && nfds == 0) {
		serve_stats(c);
	} else if (!trunc && frame_ok(&in.f, (size_t)n) && in.f.type == VIOVA_SOCK_HELLO &&
		   (size_t)n == sizeof(in.hello) && nfds == 1) {
		serve_guest(c, &in.hello, fds[0]);
	} else {
		close_fds(fds, nfds);
		snprintf(why, sizeof(why),
			 "first frame must be HELLO (%zu bytes + one memfd) or "
			 "STATS, got %zd bytes, type %u, %d fds",
			 sizeof(in.hello), n, (size_t)n >= 6 ? in.f.type : 0, nfds);
		reject(c, why);
	}
	conn_end(c);
	return NULL;
}

int daemon_conn_start(struct daemon *d, int fd)
{
	static uint64_t next_id = 1;
	struct daemon_conn *c = calloc(1, sizeof(*c));
	int ret;

	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	c->d = d;
	c->t.fd = fd;
	pthread_mutex_lock(&d->lock);
	c->id = next_id++;
	d->pending++;
	pthread_mutex_unlock(&d->lock);
	ret = daemon_thread_start(d, &d->conns, &c->t, conn_main, c);
	if (ret == -ESHUTDOWN) {
		pthread_mutex_lock(&d->lock);
		d->pending--;
		pthread_mutex_unlock(&d->lock);
		close(fd);
		free(c);
	} else if (ret) {
		daemon_log(d, false, "cannot start a connection thread (%s)", strerror(-ret));
		conn_end(c);
	}
	return ret;
}

void daemon_conn_reap(struct daemon *d)
{
	daemon_threads_reap(d, &d->conns);
}

void daemon_conn_shutdown_all(struct daemon *d)
{
	pthread_mutex_lock(&d->lock);
	__atomic_store_n(&d->stopping, true, __ATOMIC_RELEASE);
	/* SHUT_RD ends the thread's recv with EOF; it can still send its BYE. */
	daemon_threads_shutdown_locked(&d->conns, SHUT_RD);
	pthread_mutex_unlock(&d->lock);
}

static void still_running(struct daemon *d, struct daemon_thread *t, unsigned grace_ms)
{
	daemon_log(d, false,
		   "conn %" PRIu64 ": still inside a batch or its teardown after %u ms "
		   "(a WAIT_FENCE may block up to capset max_wait_ns per command)",
		   conn_of(t)->id, grace_ms);
}

unsigned daemon_conn_join_all(struct daemon *d, unsigned grace_ms)
{
	return daemon_threads_join_all(d, &d->conns, grace_ms, still_running);
}

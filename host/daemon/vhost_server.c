/* SPDX-License-Identifier: MIT */
/*
 * vhost_server.c - viova-host as a QEMU vhost-user-gpu back-end (--socket-path / --fd).
 *
 * DOC: threads
 *
 *   main thread: poll ──> listening socket ──accept──> live < --max-connections ?
 *        │                                     yes: thread "vhost-user #N" (conn_thread)
 *        │                                     no:  close at once, logged (rate-limited)
 *        ├──> wake_fd: a front-end thread ended ──> join it, accept again if paused
 *        └──> stop fd (signalfd; a test's eventfd) ──> shutdown every front-end socket,
 *             set vhost_stop_fd, join them all (at most SHUTDOWN_GRACE_MS)
 *
 *   front-end thread N: its own viova_vhost_user_dev (guest RAM mapping, virtqueues),
 *   its own viova_vgpu (contexts, resources, one libviova-host per context); shares only
 *   the daemon budget (atomic, host.h) and the read-only options with the others.
 *
 * Why a thread per front-end: the device model runs every command synchronously and a
 * WAIT_FENCE in a batch may hold the thread for up to the capset's max_wait_ns; in one shared
 * loop one VM's wait (or a long teardown) would stall every other VM's control queue. Why an
 * over-limit front-end is closed instead of left in the listen backlog: QEMU reads the reply
 * to its first request (GET_FEATURES) blocking, so a queued QEMU would hang at startup with
 * no message; a closed socket fails its device setup at once ("Failed to read msg header"),
 * and our log names the limit. --fd (an already connected socket from a launcher) is one
 * connection served on the main thread; the daemon exits when it ends.
 *
 * DOC: the event loop of one connection
 *
 *   poll ──> vhost-user socket ──peek header──> reset the device model first when the request
 *      │                                        drops what its host pointers point into
 *      │                                        (SET_MEM_TABLE, RESET_OWNER, GET_VRING_BASE of
 *      │                                        the control queue), then
 *      │                                        viova_vhost_user_handle_one()
 *      ├──> kick fd of queue 0 (control) / 1 (cursor) ──> pop ─> viova_vgpu_process ─> push,
 *      │                                                   notify once per batch
 *      ├──> display socket (VHOST_USER_GPU_SET_SOCKET): display is not supported, so we send
 *      │    no request on it; the spec has the front-end only answer the back-end's requests,
 *      │    so anything read there is dropped, and a hang-up just stops polling it
 *      └──> stop fd: the daemon is shutting down
 *
 * The device model holds host pointers into guest RAM (response areas), valid only for the
 * memory table they were translated with (vgpu.h), hence the reset before the table changes.
 * After a disconnect everything that connection owned is released; the others go on.
 */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/virtio_gpu.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "vgpu.h"
#include "vhost_user.h"

#define CTRL_Q 0u
#define CURSOR_Q 1u

/*
 * Virtio features offered: VIRGL so the guest driver sends 3D commands, EDID for GET_EDID,
 * CONTEXT_INIT so the guest can name capset 30. Stock QEMU 10 drops CONTEXT_INIT (the guest then
 * sends context_init 0, served as viova); QEMU with qemu-patches/0001 passes it on.
 */
#define VGPU_FEATURES                                                                              \
	((1ull << VIRTIO_GPU_F_VIRGL) | (1ull << VIRTIO_GPU_F_EDID) |                              \
	 (1ull << VIRTIO_GPU_F_CONTEXT_INIT) | (1ull << 32) /* VERSION_1 */ |                      \
	 (1ull << 28) /* RING_F_INDIRECT_DESC */ | (1ull << 29) /* RING_F_EVENT_IDX */)
/*
 * VIRTIO_F_RING_RESET (bit 40): QEMU 10's vhost-user-gpu copies the features the guest negotiated
 * with QEMU's own virtio-pci device (queue_reset=on by default) into SET_FEATURES, whether or not
 * GET_FEATURES offered them. Accepting the bit costs nothing: per-queue reset would reach a
 * backend as vring stop/start messages, which are handled anyway, and the Linux virtio_gpu driver
 * never resets a single queue. Refusing it would make every default QEMU command line fail.
 */
#define VGPU_TOLERATED_FEATURES (1ull << 40)
#define VGPU_PROTOCOL_FEATURES                                                                     \
	((1ull << VIOVA_VHOST_USER_PROTOCOL_F_REPLY_ACK) |                                         \
	 (1ull << VIOVA_VHOST_USER_PROTOCOL_F_CONFIG))

/* Pops per kick before the socket gets a turn again (a guest cannot starve the control plane). */
#define BATCH 256u
/* SIGTERM: how long to wait for front-end threads inside a batch or a teardown. */
#define SHUTDOWN_GRACE_MS 5000

/* One front-end connection; its thread owns everything but sock, next and started. */
struct vhost_conn {
	/*
	 * First (threads.c frees the connection through it). t.fd is our own descriptor of the
	 * connection (the device gets a dup): shutdown() on it at stop ends a read blocked inside
	 * viova_vhost_user_handle_one().
	 */
	struct daemon_thread t;
	struct daemon *d;
	uint64_t id; /* "vhost-user #id" in every log line of this connection */
	bool first_timeout; /* the first request must come within --hello-timeout-ms */
};
_Static_assert(offsetof(struct vhost_conn, t) == 0, "threads.c frees the conn via t");

static void conn_log(const struct vhost_conn *c, bool verbose_only, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void conn_log(const struct vhost_conn *c, bool verbose_only, const char *fmt, ...)
{
	char line[448];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	daemon_log(c->d, verbose_only, "vhost-user #%" PRIu64 ": %s", c->id, line);
}

/* The device model's and every context host's log (--verbose), tagged with the connection. */
static void host_log(void *cookie, int level, const char *msg)
{
	static const char *const names[] = {"error", "warn", "info"};

	conn_log(cookie, true, "%s: %s", level >= 0 && level <= 2 ? names[level] : "?", msg);
}

static int gpu_get_config(void *opaque, uint32_t offset, uint32_t size, uint8_t *buf)
{
	struct virtio_gpu_config c = {.num_scanouts = 1, .num_capsets = 1};

	(void)opaque;
	memcpy(buf, (const uint8_t *)&c + offset, size);
	return 0;
}

static int gpu_set_config(void *opaque, uint32_t offset, uint32_t size, const uint8_t *buf)
{
	(void)opaque;
	(void)buf;
	/* Only events_clear is writable; there are no events to clear (no display). */
	if (offset == offsetof(struct virtio_gpu_config, events_clear) && size == 4)
		return 0;
	return -EINVAL;
}

void vhost_server_print_capabilities(FILE *f)
{
	/*
	 * QEMU docs/interop/vhost-user.rst, "vhost-user-gpu": the optional features are
	 * "render-node" (--render-node PATH) and "virgl" (--virgl). Neither option exists here
	 * (--device picks the GPU; 3D is always on), so none is listed and libvirt passes neither.
	 */
	fprintf(f, "{\n  \"type\": \"gpu\",\n  \"features\": []\n}\n");
}

/*
 * Look at the next request without consuming it. Returns the header size peeked (0 at EOF),
 * or -errno; *index gets the u32 starting the payload when there is one (queue index).
 */
static int peek_request(int sock, struct viova_vhost_user_hdr *h, uint32_t *index)
{
	uint8_t buf[sizeof(*h) + sizeof(uint32_t)];
	/*
	 * Wait for the whole header (handle_one() would block for it too): a header split across
	 * two writes must not let SET_MEM_TABLE through without the reset.
	 */
	ssize_t n = recv(sock, buf, sizeof(*h), MSG_PEEK | MSG_WAITALL);

	*index = UINT32_MAX;
	if (n < 0)
		return -errno;
	if ((size_t)n < sizeof(*h))
		return (int)n;
	memcpy(h, buf, sizeof(*h));
	if (h->size >= sizeof(uint32_t) && h->request == VIOVA_VHOST_USER_GET_VRING_BASE) {
		/* The payload follows the header in the same sendmsg(): wait for its first word. */
		n = recv(sock, buf, sizeof(buf), MSG_PEEK | MSG_WAITALL);
		if (n == (ssize_t)sizeof(buf))
			memcpy(index, buf + sizeof(*h), sizeof(*index));
	}
	return (int)sizeof(*h);
}

static void run_queue(struct vhost_conn *c, struct viova_vhost_user_dev *dev, struct viova_vgpu *vg,
		      uint32_t qi)
{
	struct viova_virtq *vq = &dev->vq[qi];
	struct viova_virtq_elem *elem = malloc(sizeof(*elem));
	uint32_t n = 0;
	int ret = 0;

	viova_virtq_drain_kick(vq);
	if (!elem) {
		conn_log(c, false, "out of memory for a queue %" PRIu32 " element", qi);
		return;
	}
	while (n < BATCH && (ret = viova_virtq_pop(vq, &dev->mem, elem)) == 0) {
		uint32_t written = 0;

		viova_vgpu_process(vg, &dev->mem, elem, &written);
		ret = viova_virtq_push(vq, elem->head, written);
		if (ret)
			break;
		n++;
	}
	if (ret && ret != -EAGAIN && ret != -ENODEV)
		conn_log(c, false, "queue %" PRIu32 ": %s (the guest driver must reset the device)",
			 qi, strerror(-ret));
	if (n)
		viova_virtq_notify(vq);
	free(elem);
	/* More left than one batch: come back after the socket had its turn (eventfd rearm). */
	if (n == BATCH && vq->kick_fd >= 0) {
		uint64_t one = 1;

		if (write(vq->kick_fd, &one, sizeof(one)) < 0)
			conn_log(c, true, "requeue kick: %s", strerror(errno));
	}
}

/* One request from the front-end, after the device-model reset its kind requires. */
static void handle_request(struct vhost_conn *c, struct viova_vhost_user_dev *dev,
			   struct viova_vgpu *vg)
{
	struct viova_vhost_user_hdr h = {0};
	uint32_t index;
	int ret = peek_request(dev->sock, &h, &index);

	if (ret == (int)sizeof(h) &&
	    (h.request == VIOVA_VHOST_USER_SET_MEM_TABLE ||
	     h.request == VIOVA_VHOST_USER_RESET_OWNER ||
	     (h.request == VIOVA_VHOST_USER_GET_VRING_BASE && index == CTRL_Q)))
		viova_vgpu_reset(vg);
	ret = viova_vhost_user_handle_one(dev);
	if (ret && !dev->dead)
		conn_log(c, true, "%s refused: %s", viova_vhost_user_request_name(h.request),
			 strerror(-ret));
}

/* Drop what the front-end wrote on the display socket; false once it is gone. */
static bool display_drain(int gpu_sock, short revents)
{
	char junk[256];
	ssize_t n = recv(gpu_sock, junk, sizeof(junk), MSG_DONTWAIT);

	return !(n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) ||
		 (revents & (POLLHUP | POLLERR | POLLNVAL)));
}

/* The event loop of one connection (DOC above), until it ends or stop_fd becomes readable. */
static void serve_dev(struct vhost_conn *c, struct viova_vhost_user_dev *dev, struct viova_vgpu *vg,
		      int stop_fd)
{
	uint32_t first_ms = c->d->opts.hello_timeout_ms;
	int timeout = c->first_timeout && first_ms ? (int)first_ms : -1;
	bool gpu_gone = false;
	int gpu_fd = -1; /* the display socket gpu_gone is about */

	while (!dev->dead) {
		struct pollfd p[5];
		int n;

		if (dev->gpu_sock != gpu_fd) { /* a new GPU_SET_SOCKET: poll the new one */
			gpu_fd = dev->gpu_sock;
			gpu_gone = false;
		}
		p[0] = (struct pollfd){.fd = dev->sock, .events = POLLIN};
		p[1] = (struct pollfd){.fd = stop_fd, .events = POLLIN};
		p[2] = (struct pollfd){.fd = dev->vq[CTRL_Q].started ? dev->vq[CTRL_Q].kick_fd : -1,
				       .events = POLLIN};
		p[3] = (struct pollfd){.fd = dev->vq[CURSOR_Q].started ? dev->vq[CURSOR_Q].kick_fd
								       : -1,
				       .events = POLLIN};
		p[4] = (struct pollfd){.fd = gpu_gone ? -1 : gpu_fd, .events = POLLIN};
		n = poll(p, 5, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			conn_log(c, false, "poll: %s", strerror(errno));
			break;
		}
		if (n == 0) {
			/* A silent client would hold one of --max-connections slots for good. */
			conn_log(
			    c, false,
			    "closing: no request within %" PRIu32 " ms of connecting (a "
			    "front-end starts with GET_FEATURES; the wait is --hello-timeout-ms)",
			    first_ms);
			break;
		}
		if (p[1].revents)
			break;
		if (p[2].revents & POLLIN)
			run_queue(c, dev, vg, CTRL_Q);
		if (p[3].revents & POLLIN)
			run_queue(c, dev, vg, CURSOR_Q);
		if (p[4].revents)
			gpu_gone = !display_drain(gpu_fd, p[4].revents);
		if (p[0].revents) {
			handle_request(c, dev, vg);
			timeout = -1;
		}
	}
}

/*
 * Serve connection c until it ends or stop_fd becomes readable. Everything created here (device
 * model, contexts and their hosts, guest RAM mapping, queue fds) is released before returning;
 * c->t.fd stays open (the caller closes it).
 */
static void conn_serve(struct vhost_conn *c, int stop_fd)
{
	struct daemon *d = c->d;
	struct viova_backend_config bc = {.device = d->opts.device};
	struct viova_host_config hc = {
	    .backend = d->opts.backend,
	    .backend_config = &bc,
	    .quotas = d->opts.quotas,
	    .max_batch_size = d->opts.max_batch_size,
	    .log = host_log,
	    .log_cookie = c,
	    .budget = d->budget, /* the one thing shared with the other front-ends */
	};
	struct viova_vgpu_config vc = {.host = &hc, .log = host_log, .log_cookie = c};
	struct viova_vhost_user_cfg cfg = {
	    .features = VGPU_FEATURES,
	    .tolerated_features = VGPU_TOLERATED_FEATURES,
	    .protocol_features = VGPU_PROTOCOL_FEATURES,
	    .num_queues = 2,
	    .get_config = gpu_get_config,
	    .set_config = gpu_set_config,
	    .config_size = sizeof(struct virtio_gpu_config),
	};
	struct viova_vhost_user_dev *dev;
	struct viova_vgpu *vg;
	int sock, ret;

	ret = viova_vgpu_create(&vc, &vg);
	if (ret) {
		conn_log(c, false,
			 "closing: no virtio-gpu device model on backend %s (%s): check --backend "
			 "and --device, or free memory",
			 d->opts.backend, strerror(-ret));
		return;
	}
	sock = fcntl(c->t.fd, F_DUPFD_CLOEXEC, 3);
	ret = sock < 0 ? -errno : viova_vhost_user_create(sock, &cfg, &dev);
	if (ret) {
		conn_log(c, false, "closing: cannot set up the connection (%s)", strerror(-ret));
		viova_vgpu_destroy(vg);
		return;
	}
	conn_log(c, false, "front-end connected");
	serve_dev(c, dev, vg, stop_fd);
	/* Contexts first (their pointers into guest RAM), then the mappings. */
	viova_vgpu_destroy(vg);
	viova_vhost_user_destroy(dev);
	conn_log(c, false, "front-end disconnected");
}

/* ---- front-end threads (--socket-path) ------------------------------------------------------ */

/* c's thread ends: unlink it and close its socket (threads.c), wake the main thread to join. */
static void conn_end(struct vhost_conn *c)
{
	struct daemon *d = c->d;
	uint64_t one = 1;
	ssize_t n;

	pthread_mutex_lock(&d->lock);
	daemon_thread_end_locked(d, &d->vhost, &c->t);
	pthread_mutex_unlock(&d->lock);
	n = write(d->wake_fd, &one, sizeof(one));
	(void)n; /* EAGAIN only when the counter is saturated: the main thread wakes anyway */
}

static void *conn_thread(void *arg)
{
	struct vhost_conn *c = arg;

	conn_serve(c, c->d->vhost_stop_fd);
	conn_end(c);
	return NULL;
}

/* A thread for the accepted front-end fd (taken over: closed on failure). 0 or -errno. */
static int conn_start(struct daemon *d, int fd)
{
	struct vhost_conn *c = calloc(1, sizeof(*c));
	int ret;

	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	c->d = d;
	c->t.fd = fd;
	c->first_timeout = true;
	pthread_mutex_lock(&d->lock);
	c->id = ++d->connections_total;
	pthread_mutex_unlock(&d->lock);
	ret = daemon_thread_start(d, &d->vhost, &c->t, conn_thread, c);
	if (ret == -ESHUTDOWN) {
		close(fd);
		free(c);
	} else if (ret) {
		conn_log(c, false, "closing: cannot start its thread (%s)", strerror(-ret));
		conn_end(c);
	}
	return ret;
}

/* Join and free the front-end threads that ended. Main thread only. */
static void conns_reap(struct daemon *d)
{
	daemon_threads_reap(d, &d->vhost);
}

/*
 * Wake every front-end thread: the stop eventfd ends its poll, shutdown() a read blocked on a
 * front-end that sent half a message.
 */
static void conns_stop_all(struct daemon *d)
{
	uint64_t one = 1;
	ssize_t n;

	pthread_mutex_lock(&d->lock);
	d->stopping = true;
	n = write(d->vhost_stop_fd, &one, sizeof(one));
	(void)n; /* a fresh eventfd cannot be saturated */
	daemon_threads_shutdown_locked(&d->vhost, SHUT_RDWR);
	pthread_mutex_unlock(&d->lock);
}

static void still_running(struct daemon *d, struct daemon_thread *t, unsigned grace_ms)
{
	(void)d;
	conn_log((struct vhost_conn *)t, false,
		 "still inside a command or its teardown after %u ms (a WAIT_FENCE may block up to "
		 "capset max_wait_ns)",
		 grace_ms);
}

/* Wait up to grace_ms for every front-end thread to end, join them; how many did not. */
static unsigned conns_join_all(struct daemon *d, unsigned grace_ms)
{
	return daemon_threads_join_all(d, &d->vhost, grace_ms, still_running);
}

/* ---- the accept loop ------------------------------------------------------------------------- */

/*
 * State of the accept side: paused after accept() or a thread start failed for want of
 * resources, until a front-end thread ends (wake_fd) or DAEMON_ACCEPT_RETRY_MS pass; one log
 * line per DAEMON_LOG_PERIOD_MS for accept failures, and one for refused front-ends.
 */
struct acceptor {
	struct daemon_pause pause;
	struct daemon_ratelimit fail, full;
};

static void accept_failed(struct daemon *d, struct acceptor *a, int err, const char *what)
{
	uint64_t dropped;
	uint32_t live;

	/* The listening socket stays readable: without a pause the loop would spin. */
	daemon_pause_accept(&a->pause);
	if (!daemon_ratelimit_ok(&a->fail, &dropped))
		return;
	pthread_mutex_lock(&d->lock);
	live = d->vhost.count;
	pthread_mutex_unlock(&d->lock);
	daemon_log(d, false,
		   "vhost-user: %s: %s with %" PRIu32 " front-ends connected (%" PRIu64
		   " similar failures not logged): not accepting until one disconnects or %d ms "
		   "pass; raise `ulimit -n` or lower --max-connections",
		   what, strerror(err), live, dropped, DAEMON_ACCEPT_RETRY_MS);
}

static void refuse(struct daemon *d, struct acceptor *a, int fd, uint32_t live)
{
	uint64_t dropped;

	pthread_mutex_lock(&d->lock);
	d->rejected++;
	pthread_mutex_unlock(&d->lock);
	if (daemon_ratelimit_ok(&a->full, &dropped))
		daemon_log(d, false,
			   "vhost-user: refused a front-end: %" PRIu32 " connected, the "
			   "--max-connections limit (%" PRIu64 " more refused and not logged); "
			   "its QEMU fails to set up the device: raise --max-connections or "
			   "start another viova-host",
			   live, dropped);
	close(fd); /* after the line: whoever sees the close finds the reason logged */
}

static void accept_one(struct daemon *d, struct acceptor *a, int lfd)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	uint32_t live;
	int ret;

	if (fd < 0) {
		if (!daemon_accept_error_is_transient(errno))
			accept_failed(d, a, errno, "accept");
		return;
	}
	pthread_mutex_lock(&d->lock);
	live = d->vhost.count;
	pthread_mutex_unlock(&d->lock);
	if (live >= d->opts.max_connections) {
		refuse(d, a, fd, live);
		return;
	}
	ret = conn_start(d, fd);
	if (ret)
		accept_failed(d, a, -ret, "front-end thread");
}

static int serve_init(struct daemon *d)
{
	pthread_condattr_t ca;

	d->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	d->vhost_stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->wake_fd < 0 || d->vhost_stop_fd < 0) {
		int ret = -errno;

		daemon_log(d, false, "vhost-user: eventfd: %s", strerror(errno));
		if (d->wake_fd >= 0)
			close(d->wake_fd);
		if (d->vhost_stop_fd >= 0)
			close(d->vhost_stop_fd);
		return ret;
	}
	pthread_mutex_init(&d->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&d->conns_done, &ca);
	pthread_condattr_destroy(&ca);
	return 0;
}

int vhost_server_serve(struct daemon *d, int lfd, int stop_fd)
{
	struct acceptor a = {0};
	unsigned left;
	int ret = serve_init(d);

	if (ret)
		return ret;
	for (;;) {
		struct pollfd p[3];
		int timeout;

		/* A negative fd is skipped by poll(): new clients wait in the listen backlog. */
		p[0] = (struct pollfd){.fd = daemon_accept_resumed(&a.pause, &timeout) ? lfd : -1,
				       .events = POLLIN};
		p[1] = (struct pollfd){.fd = stop_fd, .events = POLLIN};
		p[2] = (struct pollfd){.fd = d->wake_fd, .events = POLLIN};
		if (poll(p, 3, timeout) < 0) {
			if (errno == EINTR)
				continue;
			daemon_log(d, false, "vhost-user: poll: %s", strerror(errno));
			break;
		}
		if (p[1].revents)
			break;
		if (p[2].revents & POLLIN) {
			uint64_t v;

			/* A front-end ended: a slot (and its descriptors) is free. */
			if (read(d->wake_fd, &v, sizeof(v)) == sizeof(v))
				a.pause.paused = false;
			conns_reap(d);
		}
		if (p[0].revents & POLLIN)
			accept_one(d, &a, lfd);
	}
	conns_stop_all(d);
	left = conns_join_all(d, SHUTDOWN_GRACE_MS);
	if (left)
		return (int)left; /* their threads still use d */
	close(d->wake_fd);
	close(d->vhost_stop_fd);
	pthread_cond_destroy(&d->conns_done);
	pthread_mutex_destroy(&d->lock);
	return 0;
}

static int listen_vhost(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "viova-host: --socket-path %s is longer than %zu bytes\n", path,
			sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	/* A live back-end's socket is never taken over (QEMU would be left talking to nobody). */
	fd = daemon_prepare_socket_path(path, &sa, SOCK_STREAM);
	if (fd)
		return fd;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
		int ret = -errno;

		fprintf(stderr, "viova-host: cannot listen on %s: %s\n", path, strerror(errno));
		close(fd);
		return ret;
	}
	return fd;
}

/* --fd: the launcher's connected socket, served on this thread; the daemon ends with it. */
static int serve_fd(struct daemon *d, int sfd)
{
	struct vhost_conn c = {.t.fd = d->opts.vhost_fd, .d = d, .id = 1};

	daemon_log(d, false, "vhost-user-gpu on fd %d (backend %s)", d->opts.vhost_fd,
		   d->opts.backend);
	conn_serve(&c, sfd);
	close(c.t.fd);
	return 0;
}

static int serve_path(struct daemon *d, int sfd)
{
	struct signalfd_siginfo si;
	int lfd = listen_vhost(d->opts.vhost_path), ret;

	if (lfd < 0)
		return 1;
	daemon_log(d, false, "vhost-user-gpu on %s (backend %s, up to %" PRIu32 " front-ends)",
		   d->opts.vhost_path, d->opts.backend, d->opts.max_connections);
	ret = vhost_server_serve(d, lfd, sfd);
	close(lfd);
	unlink(d->opts.vhost_path);
	if (read(sfd, &si, sizeof(si)) == sizeof(si))
		daemon_log(d, false, "signal %" PRIu32 ": stopped", si.ssi_signo);
	if (ret > 0) {
		/*
		 * A thread still inside the host core cannot be interrupted and what it uses cannot
		 * be freed: leave without it; process exit releases what its guest owned.
		 */
		daemon_log(d, false, "exiting with %d front-end connections still busy", ret);
		fflush(stderr);
		_exit(1);
	}
	if (ret == 0)
		daemon_log(d, false,
			   "vhost-user-gpu stopped after %" PRIu64
			   " front-end connections (%" PRIu64 " refused over --max-connections)",
			   d->connections_total, d->rejected);
	return ret ? 1 : 0;
}

int vhost_server_run(struct daemon *d)
{
	sigset_t mask;
	int sfd, ret;

	/* Signals reach this thread only, through sfd; front-end threads inherit the mask. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		fprintf(stderr, "viova-host: signalfd: %s\n", strerror(errno));
		return 1;
	}
	ret = d->opts.vhost_fd >= 0 ? serve_fd(d, sfd) : serve_path(d, sfd);
	close(sfd);
	return ret;
}

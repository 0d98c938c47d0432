/* SPDX-License-Identifier: MIT */
/*
 * vhost_server.c - viova-host as a QEMU vhost-user-gpu back-end (--socket-path / --fd): one
 * vhost-user connection at a time, served by this thread.
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
 *      └──> signalfd: SIGTERM / SIGINT end the daemon
 *
 * The device model holds host pointers into guest RAM (response areas), valid only for the
 * memory table they were translated with (vgpu.h), hence the reset before the table changes.
 * After a disconnect everything is released and, with --socket-path, the next connection is
 * accepted; with --fd the daemon exits (the front-end owns that socket's life).
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/virtio_gpu.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon.h"
#include "vgpu.h"
#include "vhost_user.h"

#define CTRL_Q 0u
#define CURSOR_Q 1u

/* Virtio features offered: VIRGL so the guest driver sends 3D commands, EDID for GET_EDID. */
#define VGPU_FEATURES                                                                              \
	((1ull << VIRTIO_GPU_F_VIRGL) | (1ull << VIRTIO_GPU_F_EDID) |                              \
	 (1ull << 32) /* VERSION_1 */ | (1ull << 28) /* RING_F_INDIRECT_DESC */ |                  \
	 (1ull << 29) /* RING_F_EVENT_IDX */)
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

static void run_queue(struct daemon *d, struct viova_vhost_user_dev *dev, struct viova_vgpu *vg,
		      uint32_t qi)
{
	struct viova_virtq *vq = &dev->vq[qi];
	struct viova_virtq_elem *elem = malloc(sizeof(*elem));
	uint32_t n = 0;
	int ret = 0;

	viova_virtq_drain_kick(vq);
	if (!elem) {
		daemon_log(d, false, "vhost-user: out of memory for a queue %" PRIu32 " element",
			   qi);
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
		daemon_log(d, false,
			   "vhost-user: queue %" PRIu32 ": %s (the guest driver must "
			   "reset the device)",
			   qi, strerror(-ret));
	if (n)
		viova_virtq_notify(vq);
	free(elem);
	/* More left than one batch: come back after the socket had its turn (eventfd rearm). */
	if (n == BATCH && vq->kick_fd >= 0) {
		uint64_t one = 1;

		if (write(vq->kick_fd, &one, sizeof(one)) < 0)
			daemon_log(d, true, "vhost-user: requeue kick: %s", strerror(errno));
	}
}

/* Serve one connection until it ends. Returns 1 when a signal asked to stop, else 0. */
static int serve_conn(struct daemon *d, int sock, int sfd, struct viova_vgpu *vg)
{
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
	bool gpu_gone = false;
	int gpu_fd = -1; /* the display socket gpu_gone is about */
	int stop = 0, ret;

	ret = viova_vhost_user_create(sock, &cfg, &dev);
	if (ret) {
		daemon_log(d, false, "vhost-user: cannot set up the connection: %s",
			   strerror(-ret));
		return 0;
	}
	daemon_log(d, false, "vhost-user: front-end connected");
	while (!dev->dead) {
		struct pollfd p[5];

		if (dev->gpu_sock != gpu_fd) { /* a new GPU_SET_SOCKET: poll the new one */
			gpu_fd = dev->gpu_sock;
			gpu_gone = false;
		}
		p[0] = (struct pollfd){.fd = dev->sock, .events = POLLIN};
		p[1] = (struct pollfd){.fd = sfd, .events = POLLIN};
		p[2] = (struct pollfd){.fd = dev->vq[CTRL_Q].started ? dev->vq[CTRL_Q].kick_fd : -1,
				       .events = POLLIN};
		p[3] = (struct pollfd){.fd = dev->vq[CURSOR_Q].started ? dev->vq[CURSOR_Q].kick_fd
								       : -1,
				       .events = POLLIN};
		p[4] = (struct pollfd){.fd = gpu_gone ? -1 : gpu_fd, .events = POLLIN};
		if (poll(p, 5, -1) < 0) {
			if (errno == EINTR)
				continue;
			daemon_log(d, false, "vhost-user: poll: %s", strerror(errno));
			break;
		}
		if (p[1].revents) {
			stop = 1;
			break;
		}
		if (p[2].revents & POLLIN)
			run_queue(d, dev, vg, CTRL_Q);
		if (p[3].revents & POLLIN)
			run_queue(d, dev, vg, CURSOR_Q);
		if (p[4].revents) {
			char junk[256];
			ssize_t n = recv(dev->gpu_sock, junk, sizeof(junk), MSG_DONTWAIT);

			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) ||
			    (p[4].revents & (POLLHUP | POLLERR | POLLNVAL)))
				gpu_gone = true;
		}
		if (p[0].revents) {
			struct viova_vhost_user_hdr h = {0};
			uint32_t index;

			ret = peek_request(dev->sock, &h, &index);
			if (ret == (int)sizeof(h) &&
			    (h.request == VIOVA_VHOST_USER_SET_MEM_TABLE ||
			     h.request == VIOVA_VHOST_USER_RESET_OWNER ||
			     (h.request == VIOVA_VHOST_USER_GET_VRING_BASE && index == CTRL_Q)))
				viova_vgpu_reset(vg);
			ret = viova_vhost_user_handle_one(dev);
			if (ret && !dev->dead)
				daemon_log(d, true, "vhost-user: %s refused: %s",
					   viova_vhost_user_request_name(h.request),
					   strerror(-ret));
		}
	}
	/* Disconnect: contexts first (their pointers into guest RAM), then the mappings. */
	viova_vgpu_reset(vg);
	viova_vhost_user_destroy(dev);
	daemon_log(d, false, "vhost-user: front-end disconnected");
	return stop;
}

static int listen_vhost(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat sb;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "viova-host: --socket-path %s is longer than %zu bytes\n", path,
			sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (lstat(path, &sb) == 0) {
		if (!S_ISSOCK(sb.st_mode)) {
			fprintf(stderr,
				"viova-host: %s exists and is not a socket: choose another "
				"--socket-path\n",
				path);
			return -EEXIST;
		}
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0) {
		int ret = -errno;

		fprintf(stderr, "viova-host: cannot listen on %s: %s\n", path, strerror(errno));
		close(fd);
		return ret;
	}
	return fd;
}

int vhost_server_run(struct daemon *d)
{
	struct viova_host_config hc = {.max_batch_size = d->opts.max_batch_size};
	struct viova_backend_config bc = {.device = d->opts.device};
	struct viova_vgpu_config vc = {.host = &hc};
	struct viova_vgpu *vg;
	sigset_t mask;
	int sfd, lfd = -1, ret;

	hc.backend = d->opts.backend;
	hc.backend_config = &bc;
	hc.quotas = d->opts.quotas;
	hc.budget = d->budget;
	ret = viova_vgpu_create(&vc, &vg);
	if (ret) {
		fprintf(stderr, "viova-host: virtio-gpu device model (backend %s): %s\n",
			d->opts.backend, strerror(-ret));
		return 1;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0) {
		fprintf(stderr, "viova-host: signalfd: %s\n", strerror(errno));
		viova_vgpu_destroy(vg);
		return 1;
	}
	if (d->opts.vhost_fd >= 0) {
		daemon_log(d, false, "vhost-user-gpu on fd %d (backend %s)", d->opts.vhost_fd,
			   d->opts.backend);
		serve_conn(d, d->opts.vhost_fd, sfd, vg);
		ret = 0;
		goto out;
	}
	lfd = listen_vhost(d->opts.vhost_path);
	if (lfd < 0) {
		ret = 1;
		goto out;
	}
	daemon_log(d, false, "vhost-user-gpu on %s (backend %s)", d->opts.vhost_path,
		   d->opts.backend);
	for (;;) {
		struct pollfd p[2] = {{.fd = lfd, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
		int c;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0) {
			daemon_log(d, false, "vhost-user: accept: %s", strerror(errno));
			if (errno == EMFILE || errno == ENFILE)
				sleep(1);
			continue;
		}
		if (serve_conn(d, c, sfd, vg))
			break;
	}
	close(lfd);
	unlink(d->opts.vhost_path);
	ret = 0;
out:
	close(sfd);
	viova_vgpu_destroy(vg);
	return ret;
}

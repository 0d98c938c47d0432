/* SPDX-License-Identifier: MIT */
/*
 * main.c - `viova-host`: the host daemon. This mode serves guests over a unix socket
 * (viova/socket.h framing), or QEMU as a vhost-user-gpu back-end (vhost_server.c).
 *
 *   viova-host --listen unix:/run/viova.sock --backend sim [--verbose]
 *   viova-host --socket-path /run/viova-gpu.sock | --fd N  [--backend sim]
 *   viova-host --print-capabilities
 *
 * The main thread listens and accepts; each connection gets its own thread and its own
 * viova_host instance (socket_server.c). Every connection holds a slot (daemon.h, "connection
 * slots"): when the pending slots are full, or accept() runs out of descriptors, the main
 * thread stops polling the listening socket until a connection ends (or, for a descriptor
 * shortage, for at most DAEMON_ACCEPT_RETRY_MS), so it never spins on a listen socket it cannot
 * drain. SIGTERM / SIGINT: stop accepting, tell every guest (BYE), tear every connection down
 * (waiting at most SHUTDOWN_GRACE_MS for a batch in progress), remove the socket, exit 0.
 * vhost-user-gpu mode has the same shape (a thread per front-end, vhost_server.c) and shares
 * the daemon budget and the backend choice made here.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
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

#include "viova/backend.h"

#include "daemon.h"

/* SIGTERM: how long to wait for connection threads inside a batch or a teardown. */
#define SHUTDOWN_GRACE_MS 5000

void daemon_log(struct daemon *d, bool verbose_only, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (verbose_only && !d->opts.verbose)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "viova-host: %s\n", line);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: viova-host --listen unix:PATH [--backend NAME] [--device PATH] [--verbose]\n"
		"       viova-host --socket-path PATH | --fd N [--backend NAME] [--device PATH]\n"
		"       viova-host --print-capabilities\n"
		"                  [--max-connections N] [--max-pending N]\n"
		"                  [--hello-timeout-ms MS] [--max-batch-size BYTES]\n"
		"                  [--max-device-{bytes,buffers,mappings} N]\n"
		"                  [--max-total-{bytes,buffers,mappings} N]\n"
		"\n"
		"Serve viova guests (libviova-guest, URI unix:PATH) on a unix socket.\n"
		"\n"
		"  --listen unix:PATH      socket to create (a stale socket file is replaced)\n"
		"  --backend NAME          GPU backend: sim (default; simulated kernel + GPU),\n"
		"                          msm, i915 (real drivers, docs/drivers.md), or auto\n"
		"                          (the first msm/i915 render node, else sim)\n"
		"  --device PATH           render node for msm/i915 (default: probe\n"
		"                          /dev/dri/renderD*)\n"
		"  --max-connections N     guest connections (vhost-user: front-ends) served at\n"
		"                          once (default 64); vhost-user front-ends beyond it\n"
		"                          are closed at once\n"
		"  --max-pending N         connections not past HELLO (and STATS requests)\n"
		"                          served at once; more wait in the listen backlog\n"
		"                          (default 16)\n"
		"  --hello-timeout-ms MS   a connection must send HELLO or STATS (vhost-user:\n"
		"                          its first request) within MS (default 5000)\n"
		"  --max-batch-size BYTES  largest batch a guest may send (default 1 MiB)\n"
		"  --max-device-bytes SIZE bytes of live buffers one guest device (socket\n"
		"                          connection, or virtio-gpu context) may hold over all\n"
		"                          its contexts (default 4G; SIZE takes K, M, G, T)\n"
		"  --max-device-buffers N  live buffers per device (default 262144)\n"
		"  --max-device-mappings N live mappings per device (default 262144)\n"
		"  --max-total-bytes SIZE  bytes of live buffers of all guests together\n"
		"                          (default 16G; 0 = unlimited)\n"
		"  --max-total-buffers N   live buffers of all guests (default 1048576; 0 = no limit)\n"
		"  --max-total-mappings N  live mappings of all guests (default 1048576; 0 = no\n"
		"                          limit). A command over any budget fails with EDQUOT\n"
		"                          naming it (docs/security.md, \"Budgets\")\n"
		"  --socket-path PATH      vhost-user-gpu back-end for QEMU: listen on PATH and\n"
		"                          serve every front-end (one per VM device) at once,\n"
		"                          each on its own thread with its own devices\n"
		"  --fd N                  vhost-user-gpu back-end on the inherited socket N\n"
		"  --print-capabilities    print the vhost-user back-end capabilities (JSON)\n"
		"  --verbose               log connections and every command failure\n"
		"  --help                  this text\n"
		"\n"
		"Each connection is one guest device with its own contexts, VMs and buffers;\n"
		"a disconnect destroys everything it owned. SIGTERM/SIGINT shut down cleanly.\n");
}

static int parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

/* A byte count with an optional binary suffix: 4096, 64K, 512M, 4G, 1T (also "4GiB"). */
static int parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	static const char units[] = "KMGT";
	const char *u;
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *s == '-')
		return -EINVAL;
	if (*end && (u = strchr(units, *end & ~0x20)) != NULL) {
		shift = 10 * (unsigned)(u - units + 1);
		end++;
		if (!strcmp(end, "iB") || !strcmp(end, "B"))
			end += strlen(end);
	}
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return -EINVAL;
	v <<= shift;
	if (v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static void probe_fence(void *cookie, void *ctx, uint64_t fence)
{
	(void)cookie, (void)ctx, (void)fence;
}

static void probe_fault(void *cookie, void *ctx, uint64_t fence, uint64_t iova, int err)
{
	(void)cookie, (void)ctx, (void)fence, (void)iova, (void)err;
}

/*
 * Create the backend once at startup and drop it: a wrong --backend or --device is reported
 * now, with the reason, instead of refusing every guest later. (Each connection then gets its
 * own instance: one guest's kernel objects never share an fd with another's.)
 */
static int probe_backend(const struct daemon_opts *o)
{
	static const struct viova_backend_events ev = {probe_fence, probe_fault};
	struct viova_backend_config bc = {.device = o->device};
	struct viova_backend *be;
	int ret = viova_backend_create(o->backend, &bc, &ev, NULL, &be);

	if (ret) {
		fprintf(stderr, "viova-host: backend %s%s%s: %s%s\n", o->backend,
			o->device ? " on " : "", o->device ? o->device : "", strerror(-ret),
			ret == -ENOENT ? " (backends: sim, msm, i915, auto)" : "");
		return ret;
	}
	be->ops->destroy(be);
	return 0;
}

/* Long options without a short letter. */
enum {
	OPT_DEV_BYTES = 256,
	OPT_DEV_BUFFERS,
	OPT_DEV_MAPPINGS,
	OPT_TOTAL_BYTES,
	OPT_TOTAL_BUFFERS,
	OPT_TOTAL_MAPPINGS,
};

/* Defaults of the daemon budget (docs/security.md, "Budgets", says why). */
#define DEF_TOTAL_BYTES (16ull << 30)
#define DEF_TOTAL_OBJECTS (1ull << 20)
/* Device budgets: the host core's limit for a count (viova_host_quotas). */
#define MAX_DEVICE_OBJECTS (1u << 26)

static const char *const budget_flag[] = {"device-bytes", "device-buffers", "device-mappings",
					  "total-bytes",  "total-buffers",  "total-mappings"};

/* --max-device-* / --max-total-*: 0 on success, else the exit status (message printed). */
static int parse_budget(int ch, const char *arg, struct daemon_opts *o)
{
	uint64_t v;

	switch (ch) {
	case OPT_DEV_BYTES:
		if (parse_size(arg, 4096, INT64_MAX, &o->quotas.max_device_bytes))
			break;
		return 0;
	case OPT_DEV_BUFFERS:
	case OPT_DEV_MAPPINGS:
		if (parse_size(arg, 1, MAX_DEVICE_OBJECTS, &v))
			break;
		*(ch == OPT_DEV_BUFFERS ? &o->quotas.max_device_buffers
					: &o->quotas.max_device_mappings) = (uint32_t)v;
		return 0;
	case OPT_TOTAL_BYTES:
		if (parse_size(arg, 0, INT64_MAX, &o->total.max_bytes))
			break;
		return 0;
	case OPT_TOTAL_BUFFERS:
		if (parse_size(arg, 0, UINT32_MAX, &o->total.max_buffers))
			break;
		return 0;
	default:
		if (parse_size(arg, 0, UINT32_MAX, &o->total.max_mappings))
			break;
		return 0;
	}
	fprintf(stderr,
		"viova-host: --max-%s %s: use a number with an optional K/M/G/T suffix (device "
		"budgets: bytes >= 4096, counts 1..%u; total budgets: 0 = unlimited)\n",
		budget_flag[ch - OPT_DEV_BYTES], arg, MAX_DEVICE_OBJECTS);
	return 2;
}

static int parse_args(int argc, char **argv, struct daemon_opts *o)
{
	static const struct option longopts[] = {
	    {"max-device-bytes", required_argument, NULL, OPT_DEV_BYTES},
	    {"max-device-buffers", required_argument, NULL, OPT_DEV_BUFFERS},
	    {"max-device-mappings", required_argument, NULL, OPT_DEV_MAPPINGS},
	    {"max-total-bytes", required_argument, NULL, OPT_TOTAL_BYTES},
	    {"max-total-buffers", required_argument, NULL, OPT_TOTAL_BUFFERS},
	    {"max-total-mappings", required_argument, NULL, OPT_TOTAL_MAPPINGS},
	    {"listen", required_argument, NULL, 'l'},
	    {"backend", required_argument, NULL, 'b'},
	    {"device", required_argument, NULL, 'd'},
	    {"max-connections", required_argument, NULL, 'c'},
	    {"max-batch-size", required_argument, NULL, 's'},
	    {"max-pending", required_argument, NULL, 'p'},
	    {"hello-timeout-ms", required_argument, NULL, 't'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"socket-path", required_argument, NULL, 'S'},
	    {"fd", required_argument, NULL, 'F'},
	    {"print-capabilities", no_argument, NULL, 'P'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int ch;

	o->backend = "sim";
	o->max_connections = 64;
	o->max_pending = 16;
	o->hello_timeout_ms = 5000;
	o->vhost_fd = -1;
	o->total.max_bytes = DEF_TOTAL_BYTES;
	o->total.max_buffers = DEF_TOTAL_OBJECTS;
	o->total.max_mappings = DEF_TOTAL_OBJECTS;
	while ((ch = getopt_long(argc, argv, "l:b:d:c:s:p:t:vh", longopts, NULL)) != -1) {
		switch (ch) {
		case OPT_DEV_BYTES:
		case OPT_DEV_BUFFERS:
		case OPT_DEV_MAPPINGS:
		case OPT_TOTAL_BYTES:
		case OPT_TOTAL_BUFFERS:
		case OPT_TOTAL_MAPPINGS:
			if (parse_budget(ch, optarg, o))
				return 2;
			break;
		case 'l':
			if (strncmp(optarg, "unix:", 5) != 0 || !optarg[5]) {
				fprintf(stderr,
					"viova-host: --listen %s: use unix:/path/to/socket "
					"(vhost-user-gpu: --socket-path or --fd)\n",
					optarg);
				return 2;
			}
			o->listen_path = optarg + 5;
			break;
		case 'b':
			o->backend = optarg;
			break;
		case 'd':
			o->device = optarg;
			break;
		case 'c':
			if (parse_u32(optarg, 1, 4096, &o->max_connections)) {
				fprintf(stderr, "viova-host: --max-connections %s: use 1..4096\n",
					optarg);
				return 2;
			}
			break;
		case 's':
			if (parse_u32(optarg, 4096, 1u << 31, &o->max_batch_size)) {
				fprintf(stderr, "viova-host: --max-batch-size %s: use 4096..2^31\n",
					optarg);
				return 2;
			}
			break;
		case 'p':
			if (parse_u32(optarg, 1, 4096, &o->max_pending)) {
				fprintf(stderr, "viova-host: --max-pending %s: use 1..4096\n",
					optarg);
				return 2;
			}
			break;
		case 't':
			if (parse_u32(optarg, 10, 600000, &o->hello_timeout_ms)) {
				fprintf(stderr,
					"viova-host: --hello-timeout-ms %s: use 10..600000\n",
					optarg);
				return 2;
			}
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'S':
			o->vhost_path = optarg;
			break;
		case 'F': {
			uint32_t fd;

			if (parse_u32(optarg, 0, INT32_MAX, &fd)) {
				fprintf(stderr, "viova-host: --fd %s: use an open socket number\n",
					optarg);
				return 2;
			}
			o->vhost_fd = (int)fd;
			break;
		}
		case 'P':
			vhost_server_print_capabilities(stdout);
			return 1;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "viova-host: unexpected argument \"%s\"\n", argv[optind]);
		return 2;
	}
	if (!!o->listen_path + !!o->vhost_path + (o->vhost_fd >= 0) > 1) {
		fprintf(stderr, "viova-host: --listen, --socket-path and --fd exclude each other: "
				"pick one\n");
		return 2;
	}
	if (!o->listen_path && !o->vhost_path && o->vhost_fd < 0) {
		fprintf(stderr, "viova-host: --listen unix:PATH, --socket-path PATH or --fd N is "
				"required (see --help)\n");
		return 2;
	}
	return 0;
}

static int listen_on(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, ret;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "viova-host: socket path %s is longer than %zu bytes\n", path,
			sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	ret = daemon_prepare_socket_path(path, &sa, SOCK_SEQPACKET);
	if (ret)
		return ret;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
		ret = -errno;
		fprintf(stderr, "viova-host: cannot listen on %s: %s\n", path, strerror(errno));
		close(fd);
		return ret;
	}
	return fd;
}

/*
 * State of the accept side of the main loop.
 *
 *   poll listen fd?  = pending slot free  &&  !pause.paused
 *   paused           = accept() or the thread start failed for want of resources; cleared by
 *                      a connection ending (wake_fd) or after DAEMON_ACCEPT_RETRY_MS
 */
struct acceptor {
	struct daemon_pause pause;
	bool full_logged; /* "pending slots full" said once per episode */
	struct daemon_ratelimit fail;
};

static void accept_failed(struct daemon *d, struct acceptor *a, int err, const char *what)
{
	uint32_t guests, pending;
	uint64_t dropped;

	/* Descriptors or memory come back when a connection ends: do not retry before. */
	daemon_pause_accept(&a->pause);
	if (!daemon_ratelimit_ok(&a->fail, &dropped))
		return;
	pthread_mutex_lock(&d->lock);
	guests = d->guests;
	pending = d->pending;
	pthread_mutex_unlock(&d->lock);
	daemon_log(d, false,
		   "%s: %s with %" PRIu32 " guest and %" PRIu32 " pending connections "
		   "(%" PRIu64 " similar failures not logged): not accepting until a connection "
		   "ends or %d ms pass; raise `ulimit -n` or lower --max-connections / "
		   "--max-pending",
		   what, strerror(err), guests, pending, dropped, DAEMON_ACCEPT_RETRY_MS);
}

/* Accept one connection and start its thread. */
static void accept_one(struct daemon *d, struct acceptor *a, int lfd)
{
	int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	int ret;

	if (cfd < 0) {
		if (!daemon_accept_error_is_transient(errno))
			accept_failed(d, a, errno, "accept");
		return;
	}
	ret = daemon_conn_start(d, cfd);
	if (ret && ret != -ESHUTDOWN)
		accept_failed(d, a, -ret, "connection thread");
}

/* Poll the listening socket? Also says once when the pending slots fill up. */
static bool accepting(struct daemon *d, struct acceptor *a, int *timeout_ms)
{
	uint32_t pending;

	if (!daemon_accept_resumed(&a->pause, timeout_ms))
		return false;
	pthread_mutex_lock(&d->lock);
	pending = d->pending;
	pthread_mutex_unlock(&d->lock);
	if (pending < d->opts.max_pending) {
		a->full_logged = false;
		return true;
	}
	if (!a->full_logged)
		daemon_log(d, true,
			   "%" PRIu32 " connections have not sent HELLO yet (--max-pending): "
			   "new ones wait in the listen backlog until one ends (at most %" PRIu32
			   " ms)",
			   pending, d->opts.hello_timeout_ms);
	a->full_logged = true;
	return false;
}

int main(int argc, char **argv)
{
	struct daemon d = {0};
	struct acceptor acc = {0};
	struct pollfd pfd[3];
	pthread_condattr_t ca;
	sigset_t mask;
	int lfd, sfd, ret;
	unsigned left;

	ret = parse_args(argc, argv, &d.opts);
	if (ret)
		return ret == 1 ? 0 : ret;
	if (probe_backend(&d.opts))
		return 1;
	ret = viova_host_budget_create(&d.opts.total, &d.budget);
	if (ret) {
		fprintf(stderr, "viova-host: daemon budget: %s\n", strerror(-ret));
		return 1;
	}
	if (!d.opts.listen_path) {
		ret = vhost_server_run(&d);
		viova_host_budget_destroy(d.budget);
		return ret;
	}
	pthread_mutex_init(&d.lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&d.conns_done, &ca);
	pthread_condattr_destroy(&ca);

	/* Signals are read by this thread only (signalfd); connection threads inherit the mask. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	d.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (sfd < 0 || d.wake_fd < 0) {
		fprintf(stderr, "viova-host: %s: %s\n", sfd < 0 ? "signalfd" : "eventfd",
			strerror(errno));
		viova_host_budget_destroy(d.budget);
		return 1;
	}
	lfd = listen_on(d.opts.listen_path);
	if (lfd < 0) {
		if (lfd != -EEXIST && lfd != -EADDRINUSE)
			fprintf(stderr, "viova-host: cannot listen on %s: %s\n", d.opts.listen_path,
				strerror(-lfd));
		close(sfd);
		close(d.wake_fd);
		viova_host_budget_destroy(d.budget);
		return 1;
	}
	daemon_log(&d, false,
		   "serving unix:%s (backend %s, up to %" PRIu32 " guest and %" PRIu32
		   " pending connections)",
		   d.opts.listen_path, d.opts.backend, d.opts.max_connections, d.opts.max_pending);

	pfd[1] = (struct pollfd){.fd = sfd, .events = POLLIN};
	pfd[2] = (struct pollfd){.fd = d.wake_fd, .events = POLLIN};
	for (;;) {
		int timeout;

		/* A negative fd is skipped by poll(): the listen backlog holds new clients. */
		pfd[0] = (struct pollfd){.fd = accepting(&d, &acc, &timeout) ? lfd : -1,
					 .events = POLLIN};
		if (poll(pfd, 3, timeout) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "viova-host: poll: %s\n", strerror(errno));
			break;
		}
		if (pfd[1].revents) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si))
				daemon_log(&d, false, "signal %" PRIu32 ": shutting down",
					   si.ssi_signo);
			break;
		}
		if (pfd[2].revents & POLLIN) {
			uint64_t v;

			/* A connection ended or became a guest: a slot (and descriptor) is free. */
			if (read(d.wake_fd, &v, sizeof(v)) == sizeof(v))
				acc.pause.paused = false;
			daemon_conn_reap(&d);
		}
		if (pfd[0].revents & POLLIN)
			accept_one(&d, &acc, lfd);
	}
	close(lfd);
	unlink(d.opts.listen_path);
	daemon_conn_shutdown_all(&d);
	left = daemon_conn_join_all(&d, SHUTDOWN_GRACE_MS);
	if (left) {
		/*
		 * A thread still inside the host core cannot be interrupted, and freeing what it
		 * uses is not possible: leave without it. Process exit releases what its guest
		 * owned (memory here, kernel objects for a real backend).
		 */
		daemon_log(&d, false,
			   "stopped with %u connections still busy after %d ms; exiting without "
			   "them",
			   left, SHUTDOWN_GRACE_MS);
		fflush(stderr);
		_exit(1);
	}
	close(sfd);
	close(d.wake_fd);
	daemon_log(&d, false,
		   "stopped after %" PRIu64 " guest connections, %" PRIu64 " batches, %" PRIu64
		   " rejected",
		   d.connections_total, d.batches, d.rejected);
	pthread_cond_destroy(&d.conns_done);
	pthread_mutex_destroy(&d.lock);
	viova_host_budget_destroy(d.budget);
	return 0;
}

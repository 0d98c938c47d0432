/* SPDX-License-Identifier: MIT */
/*
 * main.c - `viova-host`: the host daemon. This mode serves guests over a unix socket
 * (viova/socket.h framing); the vhost-user-gpu mode for QEMU comes with the next issue.
 *
 *   viova-host --listen unix:/run/viova.sock --backend sim [--verbose]
 *
 * The main thread listens and accepts; each connection gets its own thread and its own
 * viova_host instance (socket_server.c). SIGTERM / SIGINT: stop accepting, tell every guest
 * (BYE), tear every connection down, remove the socket, exit 0.
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
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon.h"

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
		"usage: viova-host --listen unix:PATH [--backend NAME] [--verbose]\n"
		"                  [--max-connections N] [--max-batch-size BYTES]\n"
		"\n"
		"Serve viova guests (libviova-guest, URI unix:PATH) on a unix socket.\n"
		"\n"
		"  --listen unix:PATH      socket to create (a stale socket file is replaced)\n"
		"  --backend NAME          GPU backend: sim (default; simulated kernel + GPU)\n"
		"  --max-connections N     guest connections served at once (default 64)\n"
		"  --max-batch-size BYTES  largest batch a guest may send (default 1 MiB)\n"
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

static int parse_args(int argc, char **argv, struct daemon_opts *o)
{
	static const struct option longopts[] = {
	    {"listen", required_argument, NULL, 'l'},
	    {"backend", required_argument, NULL, 'b'},
	    {"max-connections", required_argument, NULL, 'c'},
	    {"max-batch-size", required_argument, NULL, 's'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int ch;

	o->backend = "sim";
	o->max_connections = 64;
	while ((ch = getopt_long(argc, argv, "l:b:c:s:vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			if (strncmp(optarg, "unix:", 5) != 0 || !optarg[5]) {
				fprintf(stderr,
					"viova-host: --listen %s: use unix:/path/to/socket "
					"(vhost-user mode is not in this build)\n",
					optarg);
				return 2;
			}
			o->listen_path = optarg + 5;
			break;
		case 'b':
			o->backend = optarg;
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
		case 'v':
			o->verbose = true;
			break;
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
	if (!o->listen_path) {
		fprintf(stderr, "viova-host: --listen unix:PATH is required (see --help)\n");
		return 2;
	}
	return 0;
}

/* A socket file left by a daemon that died is replaced; a live one is not. */
static int prepare_path(const char *path, const struct sockaddr_un *sa)
{
	struct stat sb;
	int fd, ret;

	if (lstat(path, &sb) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(sb.st_mode)) {
		fprintf(stderr, "viova-host: %s exists and is not a socket: choose another path\n",
			path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ret = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	if (ret == 0) {
		fprintf(stderr, "viova-host: another viova-host already serves %s\n", path);
		return -EADDRINUSE;
	}
	return unlink(path) < 0 ? -errno : 0;
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
	ret = prepare_path(path, &sa);
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

int main(int argc, char **argv)
{
	struct daemon d = {0};
	struct pollfd pfd[2];
	sigset_t mask;
	int lfd, sfd, ret;

	ret = parse_args(argc, argv, &d.opts);
	if (ret)
		return ret == 1 ? 0 : ret;
	pthread_mutex_init(&d.lock, NULL);

	/* Signals are read by this thread only (signalfd); connection threads inherit the mask. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0) {
		fprintf(stderr, "viova-host: signalfd: %s\n", strerror(errno));
		return 1;
	}
	lfd = listen_on(d.opts.listen_path);
	if (lfd < 0) {
		if (lfd != -EEXIST && lfd != -EADDRINUSE)
			fprintf(stderr, "viova-host: cannot listen on %s: %s\n", d.opts.listen_path,
				strerror(-lfd));
		return 1;
	}
	daemon_log(&d, false, "serving unix:%s (backend %s, up to %" PRIu32 " connections)",
		   d.opts.listen_path, d.opts.backend, d.opts.max_connections);

	pfd[0] = (struct pollfd){.fd = lfd, .events = POLLIN};
	pfd[1] = (struct pollfd){.fd = sfd, .events = POLLIN};
	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
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
		if (pfd[0].revents & POLLIN) {
			int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

			if (cfd < 0) {
				if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
					daemon_log(&d, false, "accept: %s", strerror(errno));
				continue;
			}
			daemon_conn_start(&d, cfd);
		}
	}
	close(lfd);
	unlink(d.opts.listen_path);
	daemon_conn_shutdown_all(&d);
	daemon_conn_join_all(&d);
	close(sfd);
	daemon_log(&d, false,
		   "stopped after %" PRIu64 " guest connections, %" PRIu64 " batches, %" PRIu64
		   " rejected",
		   d.connections_total, d.batches, d.rejected);
	pthread_mutex_destroy(&d.lock);
	return 0;
}

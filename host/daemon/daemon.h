/* SPDX-License-Identifier: MIT */
/*
 * daemon.h - viova-host internals shared by main.c (arguments, listening, signals) and
 * socket_server.c (one thread per guest connection). Not installed.
 */
#ifndef VIOVA_DAEMON_H
#define VIOVA_DAEMON_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "viova/host.h"
#include "viova/socket.h"

struct daemon_opts {
	const char *listen_path; /* after "unix:" */
	const char *backend;	 /* "sim" */
	uint32_t max_connections;
	uint32_t max_batch_size; /* 0: the host core's default */
	bool verbose;
};

struct daemon_conn;

/* Daemon-wide state; the lock protects the connection list and the totals. */
struct daemon {
	struct daemon_opts opts;
	pthread_mutex_t lock;
	struct daemon_conn *conns; /* live connection threads (guest and admin) */
	uint32_t guests;	   /* live guest connections (HELLO accepted) */
	uint64_t connections_total;
	uint64_t batches;
	uint64_t rejected;
	bool stopping;
};

/* Log a daemon line to stderr: "viova-host: ..." (always) or only with --verbose. */
__attribute__((format(printf, 3, 4))) void daemon_log(struct daemon *d, bool verbose_only,
						      const char *fmt, ...);

/* Start a thread serving the accepted socket fd. Returns 0 or a negative errno. */
int daemon_conn_start(struct daemon *d, int fd);
/* Wake every connection thread for shutdown (their guests get BYE). */
void daemon_conn_shutdown_all(struct daemon *d);
/* Wait for every connection thread to end. */
void daemon_conn_join_all(struct daemon *d);

#endif /* VIOVA_DAEMON_H */

/* SPDX-License-Identifier: MIT */
/*
 * daemon.h - viova-host internals shared by main.c (arguments, listening, signals) and
 * socket_server.c (one thread per connection). Not installed.
 *
 * DOC: connection slots
 *
 * Every accepted connection holds a thread and a file descriptor, so every one is counted:
 *
 *   accept ──> pending (before HELLO; STATS; refused HELLO)   at most --max-pending
 *                 │ HELLO accepted
 *                 v
 *              guest                                          at most --max-connections
 *
 * The main thread polls the listening socket only while a pending slot is free and the last
 * accept did not run out of descriptors; further clients wait in the kernel's listen backlog
 * (FIFO) until a slot frees, which the HELLO timeout bounds. A connection thread that ends
 * writes wake_fd so the main thread reconsiders accepting and joins the thread.
 */
#ifndef VIOVA_DAEMON_H
#define VIOVA_DAEMON_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "viova/host.h"
#include "viova/socket.h"

struct daemon_opts {
	const char *listen_path;  /* after "unix:" */
	const char *backend;	  /* "sim", "msm", "i915", "auto" */
	const char *device;	  /* --device: render node for msm/i915 (NULL: probe) */
	uint32_t max_connections; /* guests (HELLO accepted) */
	uint32_t max_pending;	  /* connections not (yet) guests */
	uint32_t hello_timeout_ms;
	uint32_t max_batch_size; /* 0: the host core's default */
	/* --max-device-*: every host's device budget (0: the host core's default) */
	struct viova_host_quotas quotas;
	/* --max-total-*: the daemon budget shared by every host (0: unlimited) */
	struct viova_host_budget_limits total;
	bool verbose;
	const char *vhost_path; /* --socket-path: vhost-user-gpu mode, listening */
	int vhost_fd;		/* --fd: vhost-user-gpu mode on an inherited socket; -1: none */
};

struct daemon_conn;

/* Daemon-wide state; the lock protects the connection lists, the counts and the totals. */
struct daemon {
	struct daemon_opts opts;
	/* Shared by every connection's host; created before the first, outlives them (refs). */
	struct viova_host_budget *budget;
	pthread_mutex_t lock;
	pthread_cond_t conns_done; /* CLOCK_MONOTONIC; broadcast when a connection ends */
	int wake_fd;		   /* eventfd: a connection ended or became a guest */
	struct daemon_conn *conns; /* live connection threads (guest and pending) */
	struct daemon_conn *dead;  /* ended, not joined yet (daemon_conn_reap) */
	uint32_t guests;	   /* live guest connections (HELLO accepted) */
	uint32_t pending;	   /* live connections that are not guests */
	uint64_t connections_total;
	uint64_t batches;
	uint64_t rejected;
	bool stopping;
};

/* Log a daemon line to stderr: "viova-host: ..." (always) or only with --verbose. */
__attribute__((format(printf, 3, 4))) void daemon_log(struct daemon *d, bool verbose_only,
						      const char *fmt, ...);

/*
 * Start a thread serving the accepted socket fd (taken over: closed on failure) in a pending
 * slot; the caller checked that one is free. Returns 0, -ESHUTDOWN when stopping, -ENOMEM or
 * pthread_create's error (negative).
 */
int daemon_conn_start(struct daemon *d, int fd);
/* Join and free the connection threads that ended. Main thread only. */
void daemon_conn_reap(struct daemon *d);
/* Wake every connection thread for shutdown (their guests get BYE). */
void daemon_conn_shutdown_all(struct daemon *d);
/*
 * Wait up to grace_ms for every connection thread to end, then join them. Returns how many
 * are still running (each is logged): a batch can hold its thread in the host core for long
 * (WAIT_FENCE), and the caller decides not to wait for it.
 */
unsigned daemon_conn_join_all(struct daemon *d, unsigned grace_ms);

/*
 * vhost-user-gpu mode (vhost_server.c): serve QEMU on opts.vhost_fd, or one connection after
 * another on opts.vhost_path, until SIGTERM / SIGINT (--fd: until the connection ends).
 * Returns the process exit status.
 */
int vhost_server_run(struct daemon *d);
/* --print-capabilities: the JSON object QEMU's backend conventions ask for. */
void vhost_server_print_capabilities(FILE *f);

#endif /* VIOVA_DAEMON_H */

/* SPDX-License-Identifier: MIT */
/*
 * daemon.h - viova-host internals shared by main.c (arguments, listening, signals),
 * socket_server.c (one thread per guest connection) and vhost_server.c (one thread per
 * vhost-user front-end connection). Not installed.
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
 *
 * vhost-user-gpu mode (--socket-path) has no HELLO, so no pending state: an accepted
 * front-end gets a thread at once while fewer than --max-connections are live, and is closed
 * at once otherwise (vhost_server.c says why refusing beats waiting). Only one mode runs per
 * process; the lock, conns_done, wake_fd, stopping and the totals serve whichever it is.
 */
#ifndef VIOVA_DAEMON_H
#define VIOVA_DAEMON_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/un.h>
#include <time.h>

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
struct vhost_conn;

/* Daemon-wide state; the lock protects the connection lists, the counts and the totals. */
/*
 * ---- threads.c: the connection threads of both servers ----
 * A daemon_thread is the FIRST member of each server's connection struct (daemon_threads_reap
 * frees it as the whole struct). All lists and counts are under d->lock.
 */
struct daemon_thread {
	struct daemon_thread *next;
	pthread_t thread;
	bool started; /* thread is joinable */
	int fd;	      /* the connection's socket: shut down at stop, closed when it ends */
};

struct daemon_threads {
	struct daemon_thread *live; /* running */
	struct daemon_thread *dead; /* ended, not joined yet */
	uint32_t count;		    /* live */
};

struct daemon;

/*
 * Link t into set->live and start fn(arg) on it. 0; -ESHUTDOWN when the daemon is stopping
 * (t not linked); or pthread_create's -errno (t linked: end it as its thread would have).
 */
int daemon_thread_start(struct daemon *d, struct daemon_threads *set, struct daemon_thread *t,
			void *(*fn)(void *), void *arg);
/* d->lock held, from t's own thread as it ends: unlink, close t->fd, queue for the join. */
void daemon_thread_end_locked(struct daemon *d, struct daemon_threads *set,
			      struct daemon_thread *t);
/* Join and free the threads that ended. Main thread only. */
void daemon_threads_reap(struct daemon *d, struct daemon_threads *set);
/* d->lock held: shutdown(fd, how) every live connection (wakes a thread blocked reading it). */
void daemon_threads_shutdown_locked(struct daemon_threads *set, int how);
/*
 * Wait up to grace_ms for every thread of set to end, then join them. still() is called (lock
 * held) for each thread still running, to log it; returns how many there are.
 */
unsigned daemon_threads_join_all(struct daemon *d, struct daemon_threads *set, unsigned grace_ms,
				 void (*still)(struct daemon *d, struct daemon_thread *t,
					       unsigned grace_ms));

struct daemon {
	struct daemon_opts opts;
	/* Shared by every connection's host; created before the first, outlives them (refs). */
	struct viova_host_budget *budget;
	pthread_mutex_t lock;
	pthread_cond_t conns_done; /* CLOCK_MONOTONIC; broadcast when a connection ends */
	int wake_fd;		   /* eventfd: a connection ended or became a guest */
	struct daemon_threads conns; /* socket mode: connection threads (guest and pending) */
	uint32_t guests;	   /* live guest connections (HELLO accepted) */
	uint32_t pending;	   /* live connections that are not guests */
	uint64_t connections_total;
	uint64_t batches;
	uint64_t rejected;
	bool stopping;
	/* vhost-user-gpu mode (vhost_server.c): front-end threads, under lock */
	struct daemon_threads vhost;
	int vhost_stop_fd; /* eventfd written once at shutdown: every front-end thread polls it */
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

/* ---- pacing.c: accept pauses, rate-limited log lines, deadlines ---- */

/* After accept() failed for want of descriptors or memory: retry at the latest after this. */
#define DAEMON_ACCEPT_RETRY_MS 1000
/* At most one line per this period for an event a client can repeat at will. */
#define DAEMON_LOG_PERIOD_MS 10000

/* Monotonic milliseconds. */
uint64_t daemon_now_ms(void);
/* *dl = CLOCK_MONOTONIC now + ms, for pthread_cond_timedwait on a monotonic condvar. */
void daemon_deadline_ms(struct timespec *dl, unsigned ms);

struct daemon_ratelimit {
	uint64_t next;	  /* ms: next line allowed */
	uint64_t dropped; /* events not logged since the last line */
};
/* May a line be logged now? If so, *dropped says how many events were not logged before it. */
bool daemon_ratelimit_ok(struct daemon_ratelimit *r, uint64_t *dropped);

/* accept() failed with err: true when it is the client's problem or nothing was pending. */
bool daemon_accept_error_is_transient(int err);

/*
 * A shortage (EMFILE, ENFILE, ENOBUFS, ENOMEM, a thread that cannot start) leaves the listen
 * socket readable: poll would return at once, forever. Pause accepting until a connection ends
 * (the caller clears paused) or DAEMON_ACCEPT_RETRY_MS pass.
 */
struct daemon_pause {
	bool paused;
	uint64_t resume_at; /* ms, when paused */
};
void daemon_pause_accept(struct daemon_pause *p);
/* May the listen socket be polled now? Else *timeout_ms says when to look again (-1: no limit). */
bool daemon_accept_resumed(struct daemon_pause *p, int *timeout_ms);

/*
 * daemon_prepare_socket_path - make @path ready for bind(): nothing there, or a socket file
 * left by a daemon that died (removed). Probes with a non-blocking connect of @type
 * (SOCK_SEQPACKET for --listen, SOCK_STREAM for --socket-path): only ECONNREFUSED means stale;
 * a listener (even one with a full backlog, or of another type) is left alone.
 * Returns 0; -EEXIST (not a socket), -EADDRINUSE (in use), or the probe's / unlink's -errno;
 * the message is printed.
 */
int daemon_prepare_socket_path(const char *path, const struct sockaddr_un *sa, int type);

/*
 * vhost-user-gpu mode (vhost_server.c): serve QEMU on opts.vhost_fd (one connection, on this
 * thread), or up to opts.max_connections front-ends at once on opts.vhost_path, until SIGTERM /
 * SIGINT (--fd: until the connection ends). Returns the process exit status.
 */
int vhost_server_run(struct daemon *d);
/*
 * The accept loop of --socket-path, without signals (vhost_server_run() wraps it; tests call
 * it on a thread of their own): accept on the listening socket lfd, a thread per front-end,
 * until stop_fd is readable (it is polled, never read). Then every front-end is disconnected
 * and its device torn down. d is zeroed but for opts and budget; the lock, conns_done and
 * wake_fd are set up and released here. Returns 0; -errno when it could not start (logged);
 * or how many front-end threads were still busy after the grace period (each logged; d must
 * then not be freed).
 */
int vhost_server_serve(struct daemon *d, int lfd, int stop_fd);
/* --print-capabilities: the JSON object QEMU's backend conventions ask for. */
void vhost_server_print_capabilities(FILE *f);

#endif /* VIOVA_DAEMON_H */

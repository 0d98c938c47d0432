/* SPDX-License-Identifier: MIT */
/*
 * guest_test.h - harness of the guest integration tests: start the real viova-host daemon
 * (path from meson, VIOVA_HOST_PATH) on a socket in a fresh temporary directory, stop it with
 * SIGTERM and check that it exits cleanly. Every wait is bounded. Include after <cmocka.h>.
 */
#ifndef VIOVA_TESTS_GUEST_TEST_H
#define VIOVA_TESTS_GUEST_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "viova/guest.h"

#ifndef VIOVA_HOST_PATH
#error "VIOVA_HOST_PATH (the viova-host executable) must be defined by meson"
#endif

#define GT_TIMEOUT_NS 5000000000ull

struct gt_daemon {
	pid_t pid;
	char dir[64];
	char path[128]; /* socket path */
	char uri[136];	/* "unix:" + path */
	char log[128];	/* daemon stderr */
};

static inline uint64_t gt_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void gt_sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000l};

	nanosleep(&ts, NULL);
}

/* Start viova-host with extra arguments (NULL-terminated list, may be NULL). */
static inline int gt_daemon_start_args(struct gt_daemon *d, const char *const *extra)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	uint64_t deadline;
	const char *argv[16];
	int n = 0;

	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "/tmp/viova-gt-XXXXXX");
	if (!mkdtemp(d->dir))
		return -errno;
	snprintf(d->path, sizeof(d->path), "%s/host.sock", d->dir);
	snprintf(d->uri, sizeof(d->uri), "unix:%s", d->path);
	snprintf(d->log, sizeof(d->log), "%s/host.log", d->dir);
	argv[n++] = VIOVA_HOST_PATH;
	argv[n++] = "--listen";
	argv[n++] = d->uri;
	argv[n++] = "--backend";
	argv[n++] = "sim";
	argv[n++] = "--verbose";
	while (extra && *extra && n < 15)
		argv[n++] = *extra++;
	argv[n] = NULL;
	d->pid = fork();
	if (d->pid < 0)
		return -errno;
	if (d->pid == 0) {
		int fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd >= 0) {
			dup2(fd, 2);
			close(fd);
		}
		execv(VIOVA_HOST_PATH, (char *const *)argv);
		_exit(127);
	}
	/* Ready when it accepts a connection. */
	memcpy(sa.sun_path, d->path, strlen(d->path) + 1);
	deadline = gt_now_ns() + GT_TIMEOUT_NS;
	while (gt_now_ns() < deadline) {
		int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		int ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;

		if (fd >= 0)
			close(fd);
		if (ok)
			return 0;
		if (waitpid(d->pid, NULL, WNOHANG) == d->pid) {
			d->pid = 0;
			return -ECHILD;
		}
		gt_sleep_ms(5);
	}
	return -ETIMEDOUT;
}

static inline int gt_daemon_start(struct gt_daemon *d)
{
	return gt_daemon_start_args(d, NULL);
}

/* Wait for pid up to timeout_ms; returns its wait status, or -1 (then it is SIGKILLed). */
static inline int gt_wait_pid(pid_t pid, unsigned timeout_ms)
{
	uint64_t deadline = gt_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	int st;

	while (gt_now_ns() < deadline) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return st;
		gt_sleep_ms(2);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

/* SIGTERM the daemon; returns its wait status (0 = clean exit) or -1 if it had to be killed. */
static inline int gt_daemon_stop(struct gt_daemon *d)
{
	int st = 0;

	if (d->pid > 0) {
		kill(d->pid, SIGTERM);
		st = gt_wait_pid(d->pid, 10000);
		d->pid = 0;
	}
	unlink(d->path);
	unlink(d->log);
	rmdir(d->dir);
	return st;
}

/* Print the daemon's log (on failure, to see why). */
static inline void gt_daemon_dump_log(const struct gt_daemon *d)
{
	char line[512];
	FILE *f = fopen(d->log, "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		fprintf(stderr, "  | %s", line);
	fclose(f);
}

/*
 * GT_SHARED_DAEMON(name): one daemon for all the tests of a file, the static `name`, and the
 * group hooks for cmocka_run_group_tests(): gt_group_setup() starts it, gt_group_teardown()
 * stops it and fails the group unless it exited cleanly. A macro, not functions here: the
 * hooks must reach the file's own daemon, and a static daemon in this header would be an
 * unused variable in the files that start their own.
 */
#define GT_SHARED_DAEMON(name)                                                                     \
	static struct gt_daemon name;                                                              \
                                                                                                   \
	static int gt_group_setup(void **state)                                                    \
	{                                                                                          \
		(void)state;                                                                       \
		return gt_daemon_start(&name);                                                     \
	}                                                                                          \
                                                                                                   \
	static int gt_group_teardown(void **state)                                                 \
	{                                                                                          \
		(void)state;                                                                       \
		return gt_daemon_stop(&name) == 0 ? 0 : -1;                                        \
	}

/* Fail with the library's message when a call does not return 0. */
#define GT_OK(call)                                                                                \
	do {                                                                                       \
		int gt_ret_ = (call);                                                              \
		if (gt_ret_ != 0)                                                                  \
			fail_msg("%s = %d (%s): %s", #call, gt_ret_, strerror(-gt_ret_),           \
				 viova_guest_last_error());                                        \
	} while (0)

#endif /* VIOVA_TESTS_GUEST_TEST_H */

/* SPDX-License-Identifier: MIT */
/*
 * pacing.c - what both accept loops (socket mode, main.c; vhost-user mode, vhost_server.c)
 * need so that a client cannot make the daemon spin or flood its log: pausing accept() after a
 * resource failure, rate-limited log lines, and deadlines for the shutdown grace period.
 */
#include <errno.h>
#include <time.h>

#include "daemon.h"

uint64_t daemon_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void daemon_deadline_ms(struct timespec *dl, unsigned ms)
{
	clock_gettime(CLOCK_MONOTONIC, dl);
	dl->tv_sec += ms / 1000;
	dl->tv_nsec += (long)(ms % 1000) * 1000000l;
	if (dl->tv_nsec >= 1000000000l) {
		dl->tv_sec++;
		dl->tv_nsec -= 1000000000l;
	}
}

bool daemon_ratelimit_ok(struct daemon_ratelimit *r, uint64_t *dropped)
{
	uint64_t now = daemon_now_ms();

	if (now < r->next) {
		r->dropped++;
		return false;
	}
	*dropped = r->dropped;
	r->dropped = 0;
	r->next = now + DAEMON_LOG_PERIOD_MS;
	return true;
}

bool daemon_accept_error_is_transient(int err)
{
	/* The client's problem, or nothing left to accept; anything else is a shortage. */
	return err == EINTR || err == EAGAIN || err == ECONNABORTED || err == EPROTO ||
	       err == EPERM;
}

void daemon_pause_accept(struct daemon_pause *p)
{
	p->paused = true;
	p->resume_at = daemon_now_ms() + DAEMON_ACCEPT_RETRY_MS;
}

bool daemon_accept_resumed(struct daemon_pause *p, int *timeout_ms)
{
	uint64_t now;

	*timeout_ms = -1;
	if (!p->paused)
		return true;
	now = daemon_now_ms();
	if (now < p->resume_at) {
		*timeout_ms = (int)(p->resume_at - now);
		return false;
	}
	p->paused = false;
	return true;
}

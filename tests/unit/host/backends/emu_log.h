/* SPDX-License-Identifier: MIT */
/*
 * emu_log.h - what the kernel emulators (msm_emu, i915_emu) share: a ring of the ioctls the
 * backend made (request, argument as sent and as answered, result, calling thread) so tests can
 * assert the exact calls, and one-shot error injection ("the next ioctl of this request fails
 * with err").
 *
 * Thread safe: a backend's completion thread makes ioctls (waits, fault queries) while the test
 * thread does. The thread that initialised the log (the test's) is its owner; the *_own
 * functions and error injection look only at the owner's calls, so a test's assertions about
 * what its own op sent do not depend on where the completion thread is.
 */
#ifndef VIOVA_TESTS_EMU_LOG_H
#define VIOVA_TESTS_EMU_LOG_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define EMU_LOG_CALLS 256 /* ioctls remembered (a ring) */
#define EMU_LOG_ARG 128	  /* bytes of each ioctl argument copied */

struct emu_call {
	int fd;
	unsigned long request;
	int ret;
	bool own;		  /* made by the owner thread */
	uint8_t arg[EMU_LOG_ARG]; /* the argument as the backend passed it */
	uint8_t out[EMU_LOG_ARG]; /* the same after the kernel's answer was written back */
};

struct emu_log {
	pthread_mutex_t lock;
	pthread_t owner;
	struct emu_call ring[EMU_LOG_CALLS];
	uint32_t n, own_n;
	unsigned long fail_req;
	int fail_err;
};

/* The calling thread becomes the owner. */
void emu_log_init(struct emu_log *l);
void emu_log_fini(struct emu_log *l);

/* Start recording an ioctl: returns its sequence number (finish it with emu_log_end). */
uint32_t emu_log_begin(struct emu_log *l, int fd, unsigned long req, const void *arg);
/* The injected error for req if the caller is the owner, consumed (0: none). */
int emu_log_take_fail(struct emu_log *l, unsigned long req);
/* Store the result and the argument as answered (dropped if the ring moved past it); ret. */
int emu_log_end(struct emu_log *l, uint32_t seq, const void *arg, int ret);

/* Number of ioctls seen, call i (0 = first; only the last EMU_LOG_CALLS are kept; else NULL). */
uint32_t emu_log_count(struct emu_log *l);
const struct emu_call *emu_log_call(struct emu_log *l, uint32_t i);
/* Number of ioctls the owner made (for "nothing reached the kernel" checks). */
uint32_t emu_log_own_count(struct emu_log *l);
/* The most recent call of request, or NULL; _own: the most recent the owner made. */
const struct emu_call *emu_log_last(struct emu_log *l, unsigned long request);
const struct emu_call *emu_log_last_own(struct emu_log *l, unsigned long request);
/* The owner's next ioctl of request returns err (a negative errno) without reaching the
 * kernel model. */
void emu_log_fail_next(struct emu_log *l, unsigned long request, int err);

#endif

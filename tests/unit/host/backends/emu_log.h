/* SPDX-License-Identifier: MIT */
/*
 * emu_log.h - what the kernel emulators (msm_emu, i915_emu) share: a ring of the ioctls the
 * backend made (request, argument as sent and as answered, result) so tests can assert the
 * exact calls, and one-shot error injection ("the next ioctl of this request fails with err").
 */
#ifndef VIOVA_TESTS_EMU_LOG_H
#define VIOVA_TESTS_EMU_LOG_H

#include <stdint.h>

#define EMU_LOG_CALLS 256 /* ioctls remembered (a ring) */
#define EMU_LOG_ARG 128	  /* bytes of each ioctl argument copied */

struct emu_call {
	int fd;
	unsigned long request;
	int ret;
	uint8_t arg[EMU_LOG_ARG]; /* the argument as the backend passed it */
	uint8_t out[EMU_LOG_ARG]; /* the same after the kernel's answer was written back */
};

struct emu_log {
	struct emu_call ring[EMU_LOG_CALLS];
	uint32_t n;
	unsigned long fail_req;
	int fail_err;
};

/* Start recording an ioctl: returns its record (finish it with emu_log_end). */
struct emu_call *emu_log_begin(struct emu_log *l, int fd, unsigned long req, const void *arg);
/* The injected error for req, consumed (0: none). */
int emu_log_take_fail(struct emu_log *l, unsigned long req);
/* Store the result and the argument as answered; returns ret. */
int emu_log_end(struct emu_call *c, const void *arg, int ret);

/* Number of ioctls seen, call i (0 = first; only the last EMU_LOG_CALLS are kept; else NULL). */
uint32_t emu_log_count(const struct emu_log *l);
const struct emu_call *emu_log_call(const struct emu_log *l, uint32_t i);
/* The most recent call of request, or NULL. */
const struct emu_call *emu_log_last(const struct emu_log *l, unsigned long request);
/* The next ioctl of request returns err (a negative errno) without reaching the kernel model. */
void emu_log_fail_next(struct emu_log *l, unsigned long request, int err);

#endif

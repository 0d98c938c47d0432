/* SPDX-License-Identifier: MIT */
/*
 * msm_emu.h - an in-process emulation of the msm kernel driver behind the drm seam, for the msm
 * backend's tests. It models what the backend relies on: one GPU address space per open file
 * with seed 004's SET_IOVA rules, GEM objects with real memory (mmap returns it), submitqueues
 * with 32-bit seqno fences, and a GPU that either completes every job at once or holds jobs
 * until the test completes them (so buffers stay busy, and WAIT_FENCE blocks until its
 * deadline). It records every ioctl. Thread safe: a backend's completion thread calls into it
 * while the test does.
 */
#ifndef VIOVA_TESTS_MSM_EMU_H
#define VIOVA_TESTS_MSM_EMU_H

#include <stdbool.h>
#include <stdint.h>

#include "emu_log.h"

#include "drm_seam.h"

struct msm_emu_config {
	const char *name; /* driver name (DRM_IOCTL_VERSION); "msm" */
	int major, minor, patch;
	bool has_va; /* MSM_PARAM_VA_START / VA_SIZE answered (per-process address spaces) */
	uint64_t va_start, va_size;
	uint32_t nr_prios;
	bool hold_jobs; /* jobs stay queued until msm_emu_complete*() (msm_emu_set_hold) */
};

struct msm_emu;

/* A new emulator with cfg (NULL: msm 1.12.0, VA 4 GiB + 0xff_0000_0000, 3 priorities). */
struct msm_emu *msm_emu_new(const struct msm_emu_config *cfg);
/* Frees everything; asserts nothing. */
void msm_emu_free(struct msm_emu *e);
/* The seam that routes to e (install with drm_seam_set()). */
const struct drm_seam *msm_emu_seam(struct msm_emu *e);

/* The ioctls the backend made, and error injection (emu_log.h). */
struct emu_log *msm_emu_log(struct msm_emu *e);

/* Hold jobs from now on (true), or complete the ones submitted from now on at once (false). */
void msm_emu_set_hold(struct msm_emu *e, bool hold);
/* Hold mode: complete every job queued so far on every file. */
void msm_emu_complete(struct msm_emu *e);
/*
 * Hold mode: complete the oldest held job of queue on fd, first counting a fault for it when
 * fault (MSM_SUBMITQUEUE_PARAM_FAULTS + 1), and wake WAIT_FENCE. Returns its seqno, 0 if the
 * queue had no held job.
 */
uint32_t msm_emu_complete_next(struct msm_emu *e, int fd, uint32_t queue, bool fault);
/* Block until at least n WAIT_FENCE calls are asleep in the emulator: 0, or -ETIMEDOUT. */
int msm_emu_await_waiters(struct msm_emu *e, int n, uint64_t timeout_ns);

/* The GPU found a job of queue on fd guilty of a fault (MSM_SUBMITQUEUE_PARAM_FAULTS + 1). */
void msm_emu_fault(struct msm_emu *e, int fd, uint32_t queue);

/* State for assertions. */
int msm_emu_open_files(const struct msm_emu *e);
/* iova of handle on fd (0: none); -1 for an unknown fd/handle. */
int64_t msm_emu_iova(const struct msm_emu *e, int fd, uint32_t handle);
uint32_t msm_emu_objects(const struct msm_emu *e, int fd);
uint32_t msm_emu_queues(const struct msm_emu *e, int fd);
/* Memory of an object (for checking uploads without going through the backend). */
uint8_t *msm_emu_mem(const struct msm_emu *e, int fd, uint32_t handle);
/* Copies of the last GEM_SUBMIT's bo and cmd tables (valid until the next submit). */
uint32_t msm_emu_last_submit(const struct msm_emu *e, const void **bos, const void **cmds);
/* Lines given to the seam's log. */
const char *msm_emu_last_log(const struct msm_emu *e);
int msm_emu_mappings(const struct msm_emu *e); /* CPU mappings handed out and not unmapped */

/* Everything alive in the emulated kernel, over all open files (the "objects alive" probe). */
struct msm_emu_totals {
	uint32_t files;	  /* open files = address spaces (VMs) */
	uint32_t queues;  /* submitqueues, not counting each file's default queue */
	uint32_t objects; /* GEM objects */
	uint64_t bytes;	  /* their sizes */
	uint32_t placed;  /* objects with an iova in their file's address space */
};
void msm_emu_totals(const struct msm_emu *e, struct msm_emu_totals *t);
/* Handle of the object whose iova range on fd holds iova (0: nothing there, or no such fd). */
uint32_t msm_emu_object_at(const struct msm_emu *e, int fd, uint64_t iova);

#endif /* VIOVA_TESTS_MSM_EMU_H */

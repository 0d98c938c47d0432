/* SPDX-License-Identifier: MIT */
/*
 * fence_queue.h - a context's jobs that a kernel queue has accepted and that have not been seen
 * complete yet, oldest first: the bookkeeping the msm and i915 backends share. How to wait for
 * one job is the driver's (MSM_WAIT_FENCE on its queue seqno, GEM_WAIT on its batch buffer);
 * what a completion means is common: one kernel queue completes in order, so a done job
 * retires itself and every older one. Not locked: completion.c owns the queues and calls these
 * under its lock.
 */
#ifndef VIOVA_BACKENDS_FENCE_QUEUE_H
#define VIOVA_BACKENDS_FENCE_QUEUE_H

#include <stdint.h>

struct be_pending {
	uint64_t fence;	 /* the guest's out_fence */
	uint32_t kernel; /* what the driver waits on: msm queue seqno, i915 batch handle */
	uint32_t pad0;
};

struct be_fence_queue {
	struct be_pending *jobs;
	uint32_t n, cap;
};

/* Room for one more job, so that a push after a successful submit ioctl cannot fail: 0/-ENOMEM. */
int be_fq_reserve(struct be_fence_queue *q);
/* Append a job the kernel accepted (after be_fq_reserve). */
void be_fq_push(struct be_fence_queue *q, uint64_t fence, uint32_t kernel);
/* Index of the first pending job whose fence reaches @fence: 0, or -EINVAL when none does. */
int be_fq_find(const struct be_fence_queue *q, uint64_t fence, uint32_t *idx);
/* Job @idx completed: drop it and every older job; returns its fence (the new "completed"). */
uint64_t be_fq_retire(struct be_fence_queue *q, uint32_t idx);
void be_fq_free(struct be_fence_queue *q);

#endif

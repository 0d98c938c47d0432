/* SPDX-License-Identifier: MIT */
/* fence_queue.c - see fence_queue.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fence_queue.h"

int be_fq_reserve(struct be_fence_queue *q)
{
	if (q->n == q->cap) {
		uint32_t cap = q->cap ? q->cap * 2 : 16;
		struct be_pending *p = realloc(q->jobs, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		q->jobs = p;
		q->cap = cap;
	}
	return 0;
}

void be_fq_push(struct be_fence_queue *q, uint64_t fence, uint32_t kernel)
{
	q->jobs[q->n++] = (struct be_pending){.fence = fence, .kernel = kernel};
}

int be_fq_find(const struct be_fence_queue *q, uint64_t fence, uint32_t *idx)
{
	uint32_t i;

	for (i = 0; i < q->n && q->jobs[i].fence < fence; i++)
		;
	if (i == q->n)
		return -EINVAL;
	*idx = i;
	return 0;
}

uint64_t be_fq_retire(struct be_fence_queue *q, uint32_t idx)
{
	uint64_t fence = q->jobs[idx].fence;

	memmove(q->jobs, q->jobs + idx + 1, (q->n - idx - 1) * sizeof(*q->jobs));
	q->n -= idx + 1;
	return fence;
}

void be_fq_free(struct be_fence_queue *q)
{
	free(q->jobs);
	q->jobs = NULL;
	q->n = q->cap = 0;
}

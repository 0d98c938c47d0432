/* SPDX-License-Identifier: MIT */
/*
 * retire.c - the retire queue: an iova released by the guest goes back to its VM's allocator
 * only when nothing can still reach it.
 *
 * DOC: when an entry is released
 *
 *   entry {VM, heap handle, local seqno of the releasing command, gate, (ctx, fence)...}
 *
 *   released when ALL of:
 *     1. local_seq <= the last local seqno this process has sent
 *          the GEM_CLOSE / SET_IOVA 0 / VM_UNBIND is on its way; a command another process
 *          sends after the release is processed after it (one connection, one order)
 *     2. gate == 0, or processed_seqno >= gate
 *          set when the context was destroyed: the host has drained and dropped it
 *     3. for every (ctx, fence): the ctx slot's completed_fence >= fence and the ctx is not lost
 *          a lost context refuses GEM_CLOSE and keeps its mappings until it is destroyed,
 *          so its ranges wait for condition 2 instead (guest_retire_ctx_gone)
 *
 * The host agrees: it keeps a closed buffer that a job still uses as a zombie, with its
 * mapping, and drops it at the start of the first batch after the job's fence signalled — the
 * batch that could carry a GEM_NEW reusing the range comes no earlier than that.
 * Entries are checked on every flush, before an allocation gives up with -ENOSPC, and by
 * viova_guest_retire(); the queue is process-local (a forked child starts with an empty one).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "guest_priv.h"

int guest_retire_add(struct viova_guest_device *dev, struct viova_guest_vm *vm, uint32_t handle,
		     uint64_t local_seq, uint64_t gate, const struct guest_retire_cond *cond,
		     uint32_t ncond)
{
	struct guest_retire *e;

	e = malloc(sizeof(*e) + (size_t)ncond * sizeof(*cond));
	if (!e)
		/* Keeping the range allocated forever is safe; reusing it early is not. */
		return guest_err(-ENOMEM,
				 "retire: out of memory; the range of handle %" PRIu32
				 " in VM %" PRIu32 " stays allocated",
				 handle, vm->id);
	e->vm = vm;
	e->handle = handle;
	e->ncond = ncond;
	e->local_seq = local_seq;
	e->gate = gate;
	if (ncond)
		memcpy(e->cond, cond, (size_t)ncond * sizeof(*cond));
	guest_vm_get(vm);
	e->next = dev->retire;
	dev->retire = e;
	return 0;
}

static bool ready(struct viova_guest_device *dev, const struct guest_retire *e, uint64_t processed)
{
	uint32_t i;

	if (e->local_seq > dev->local_sent)
		return false;
	if (e->gate && processed < e->gate)
		return false;
	for (i = 0; i < e->ncond; i++) {
		struct viova_resp_ctx slot = {0};

		if (!e->cond[i].ctx_id)
			continue;
		if (e->cond[i].fence == UINT64_MAX)
			return false;
		viova_codec_resp_guest_ctx(&dev->resp, e->cond[i].ctx_id, &slot);
		if (slot.lost || slot.completed_fence < e->cond[i].fence)
			return false;
	}
	return true;
}

uint32_t guest_retire_poll(struct viova_guest_device *dev)
{
	uint64_t processed = guest_processed(dev);
	struct guest_retire **pp = &dev->retire, *e;
	uint32_t left = 0;

	while ((e = *pp) != NULL) {
		if (!ready(dev, e, processed)) {
			pp = &e->next;
			left++;
			continue;
		}
		*pp = e->next;
		/* -EUCLEAN (broken heap) or -ENOENT: nothing more to give back either way. */
		guest_vm_free_handle_locked(e->vm, e->handle);
		guest_vm_put(e->vm);
		free(e);
		dev->st.retire_released++;
	}
	return left;
}

void guest_retire_ctx_gone(struct viova_guest_device *dev, uint32_t ctx_id, uint64_t gate)
{
	struct guest_retire *e;
	uint32_t i;

	for (e = dev->retire; e; e = e->next) {
		for (i = 0; i < e->ncond; i++) {
			if (e->cond[i].ctx_id != ctx_id)
				continue;
			e->cond[i].ctx_id = 0;
			if (gate > e->gate)
				e->gate = gate;
		}
	}
}

void guest_retire_drop(struct viova_guest_device *dev)
{
	struct guest_retire *e;

	while ((e = dev->retire) != NULL) {
		dev->retire = e->next;
		guest_vm_put(e->vm);
		free(e);
	}
}

uint32_t guest_retire_count(const struct viova_guest_device *dev)
{
	const struct guest_retire *e;
	uint32_t n = 0;

	for (e = dev->retire; e; e = e->next)
		n++;
	return n;
}

static bool cond_retired(struct viova_guest_device *dev, void *arg)
{
	uint32_t *left = arg;

	guest_enter(dev);
	*left = guest_retire_poll(dev);
	guest_leave(dev);
	return *left == 0;
}

int viova_guest_retire(struct viova_guest_device *dev, uint64_t timeout_ns, uint32_t *pending)
{
	uint32_t left = 0;
	int ret;

	if (!dev)
		return guest_err(-EINVAL, "retire: dev is NULL");
	guest_enter(dev);
	ret = guest_flush_locked(dev);
	guest_leave(dev);
	if (ret == 0)
		guest_reap_auto(dev, GUEST_REAP_INTERVAL_NS);
	if (ret == 0)
		ret = guest_wait(dev, cond_retired, &left, timeout_ns);
	if (pending)
		*pending = left;
	if (ret == -ETIMEDOUT)
		return guest_err(ret,
				 "retire: %" PRIu32 " iova ranges still wait for their jobs "
				 "or contexts after %" PRIu64 " ms",
				 left, timeout_ns / 1000000);
	return ret;
}

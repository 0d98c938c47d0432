/* SPDX-License-Identifier: MIT */
/*
 * cmdbuf.c - the per-process command batch, sending it, and waiting for the host.
 *
 * DOC: seqnos when several processes share one connection
 *
 * The host requires seqnos to increase strictly over the connection, in the order batches
 * arrive. Each process encodes with its own local seqnos (the encoder's counter); the real
 * ones are given at send time, under the shared send lock, from the shared counter:
 *
 *   process A batch: local 17 18 19        process B batch: local 4 5
 *   lock; base = next (= 230)               ...waits for the lock...
 *   patch: 230 231 232, last_seqno = 232
 *   next = 233; send(A's frame); unlock
 *                                           lock; base = 233; patch 233 234; send; unlock
 *
 * So seqno order = send order = the order the host processes them, without a round trip and
 * without a broker. A process that dies between taking seqnos and sending leaves a gap, which
 * the protocol allows (seqnos must increase, not be contiguous).
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "guest_priv.h"

uint64_t guest_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int guest_cmdbuf_init(struct viova_guest_device *dev, uint32_t batch_size)
{
	dev->batch = aligned_alloc(64, ((size_t)batch_size + 63) & ~(size_t)63);
	if (!dev->batch)
		return guest_err(-ENOMEM, "cannot allocate a %" PRIu32 "-byte batch", batch_size);
	dev->batch_cap = batch_size;
	return viova_codec_enc_init(&dev->enc, dev->batch, batch_size, 1);
}

void guest_cmdbuf_fini(struct viova_guest_device *dev)
{
	free(dev->batch);
	dev->batch = NULL;
}

void guest_cmdbuf_reset(struct viova_guest_device *dev)
{
	viova_codec_enc_reset(&dev->enc);
	/* The child's local seqnos go on from the parent's; nothing of its own was sent yet. */
	dev->local_sent = viova_codec_enc_next_seqno(&dev->enc) - 1;
	dev->sent_real = 0;
}

uint64_t guest_real_seqno(const struct viova_guest_device *dev, uint64_t local)
{
	return dev->flush_real0 + (local - dev->flush_local0);
}

static void patch_seqnos(uint8_t *batch, size_t len, uint64_t base)
{
	size_t off = sizeof(struct viova_batch_hdr);
	struct viova_batch_hdr bh;
	uint64_t seq = base;

	while (off + sizeof(struct viova_cmd_hdr) <= len) {
		struct viova_cmd_hdr h;

		memcpy(&h, batch + off, sizeof(h));
		h.seqno = seq++;
		memcpy(batch + off, &h, sizeof(h));
		off += h.length;
	}
	memcpy(&bh, batch, sizeof(bh));
	bh.last_seqno = seq - 1;
	memcpy(batch, &bh, sizeof(bh));
}

int guest_flush_locked(struct viova_guest_device *dev)
{
	uint32_t n = viova_codec_enc_count(&dev->enc);
	uint64_t local_last, base;
	bool recovered;
	size_t len = 0;
	int ret;

	if (n == 0)
		return 0;
	ret = guest_check_lost(dev);
	if (ret)
		return ret;
	ret = viova_codec_enc_finish(&dev->enc, &len);
	if (ret)
		return guest_err(ret, "cannot finish the batch (%s)", strerror(-ret));
	local_last = viova_codec_enc_next_seqno(&dev->enc) - 1;

	ret = guest_shlock(&dev->sh->send_lock, &recovered);
	if (ret)
		return guest_err(ret, "the shared send lock failed (%s)", strerror(-ret));
	if (recovered) /* the holder died between taking seqnos and sending: a gap, harmless */
		__atomic_add_fetch(&dev->sh->lock_recoveries, 1, __ATOMIC_RELAXED);
	base = dev->sh->next_seqno;
	patch_seqnos(dev->batch, len, base);
	dev->sh->next_seqno = base + n;
	ret = dev->tops->send(dev->tp, dev->batch, len);
	guest_shunlock(&dev->sh->send_lock);
	if (ret == -ETIMEDOUT)
		return guest_err(ret,
				 "the host did not take a %zu-byte batch within the send "
				 "timeout; it stays batched",
				 len);
	if (ret == -EMSGSIZE)
		return guest_err(ret,
				 "the socket refused a %zu-byte batch: open the device with a "
				 "smaller batch_size",
				 len);
	if (ret) {
		char why[200] = "send failed";

		dev->tops->alive(dev->tp, why, sizeof(why));
		guest_mark_lost(dev, why);
		return -ENODEV;
	}
	dev->flush_local0 = local_last - n + 1;
	dev->flush_real0 = base;
	dev->local_sent = local_last;
	dev->sent_real = base + n - 1;
	dev->st.batches++;
	dev->st.bytes_sent += len;
	viova_codec_enc_reset(&dev->enc);
	if (dev->retire)
		guest_retire_poll(dev);
	return 0;
}

uint64_t guest_processed(const struct viova_guest_device *dev)
{
	if (!dev->resp.mem)
		return 0;
	return viova_codec_resp_guest_processed(&dev->resp);
}

int guest_wait(struct viova_guest_device *dev, guest_cond_fn cond, void *arg, uint64_t timeout_ns)
{
	uint64_t deadline = guest_now_ns() + timeout_ns, now;
	bool slept = false;
	char why[200];
	uint32_t seen;
	int ret;

	for (;;) {
		/* Progress first, then the condition: a change in between ends the sleep. */
		seen = dev->tops->progress(dev->tp);
		if (cond(dev, arg))
			break;
		ret = guest_check_lost(dev);
		if (ret)
			return ret;
		now = guest_now_ns();
		if (now >= deadline)
			return -ETIMEDOUT;
		if (!slept) {
			slept = true;
			__atomic_add_fetch(&dev->st.waits, 1, __ATOMIC_RELAXED);
		}
		ret = dev->tops->wait(dev->tp, seen,
				      deadline - now < GUEST_WAIT_SLICE_NS ? deadline - now
									   : GUEST_WAIT_SLICE_NS);
		if (ret == -ETIMEDOUT && dev->tops->alive(dev->tp, why, sizeof(why))) {
			if (cond(dev, arg))
				break;
			guest_mark_lost(dev, why);
			return -ENODEV;
		}
	}
	if (dev->resp.mem)
		guest_drain_errors(dev);
	return 0;
}

static bool cond_seqno(struct viova_guest_device *dev, void *arg)
{
	return guest_processed(dev) >= *(const uint64_t *)arg;
}

int guest_wait_seqno(struct viova_guest_device *dev, uint64_t seqno, uint64_t timeout_ns)
{
	return guest_wait(dev, cond_seqno, &seqno, timeout_ns);
}

int viova_guest_flush(struct viova_guest_device *dev, uint64_t *last_seqno)
{
	int ret;

	if (!dev)
		return guest_err(-EINVAL, "flush: dev is NULL");
	guest_enter(dev);
	ret = guest_flush_locked(dev);
	if (ret == 0 && last_seqno)
		*last_seqno = dev->sent_real;
	guest_leave(dev);
	return ret;
}

int viova_guest_sync(struct viova_guest_device *dev, uint64_t timeout_ns)
{
	uint64_t local = 0, seq;
	int ret;

	if (!dev)
		return guest_err(-EINVAL, "sync: dev is NULL");
	guest_enter(dev);
	ret = guest_check_lost(dev);
	if (ret == 0)
		GUEST_ENCODE(dev, ret, viova_codec_enc_sync(&dev->enc, &local));
	if (ret == 0)
		ret = guest_flush_locked(dev);
	seq = guest_real_seqno(dev, local);
	guest_leave(dev);
	if (ret)
		return ret;
	ret = guest_wait_seqno(dev, seq, timeout_ns);
	if (ret == -ETIMEDOUT)
		return guest_err(ret,
				 "sync: the host has not processed seqno %" PRIu64 " after %" PRIu64
				 " ms (processed: %" PRIu64 ")",
				 seq, timeout_ns / 1000000, guest_processed(dev));
	if (ret == 0) {
		guest_enter(dev);
		guest_retire_poll(dev);
		guest_leave(dev);
		guest_reap_auto(dev, GUEST_REAP_INTERVAL_NS);
	}
	return ret;
}

/*
 * DOC: response lanes
 *
 * Responses (downloads, queries, fence waits) go to guest-chosen offsets of the payload
 * region, which every process of the connection shares. The region is cut into
 * GUEST_MAX_LANES lanes; a call claims one with a CAS on its tid (a shared-page word), uses
 * it for its round trips, and frees it. A lane whose answer did not arrive in time stays
 * "busy until" that seqno is processed, so a late answer never lands in the next user's
 * data; a lane held by a dead process is reclaimed.
 */
int guest_lane_claim(struct viova_guest_device *dev, uint64_t timeout_ns, uint32_t *lane)
{
	uint64_t deadline = guest_now_ns() + timeout_ns;
	int32_t tid = (int32_t)syscall(SYS_gettid);
	uint32_t i;

	for (;;) {
		uint64_t processed = guest_processed(dev);

		for (i = 0; i < dev->lane_count; i++) {
			struct guest_lane *l = &dev->sh->lanes[i];
			int32_t free_tid = 0;

			if (__atomic_load_n(&l->tid, __ATOMIC_RELAXED) != 0)
				continue;
			if (!__atomic_compare_exchange_n(&l->tid, &free_tid, tid, false,
							 __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
				continue;
			if (__atomic_load_n(&l->busy_until, __ATOMIC_RELAXED) > processed) {
				__atomic_store_n(&l->tid, 0, __ATOMIC_RELEASE);
				continue;
			}
			__atomic_store_n(&l->pid, (int32_t)getpid(), __ATOMIC_RELAXED);
			*lane = i;
			return 0;
		}
		/* Reclaim lanes of processes that died holding them. */
		for (i = 0; i < dev->lane_count; i++) {
			struct guest_lane *l = &dev->sh->lanes[i];
			int32_t holder = __atomic_load_n(&l->tid, __ATOMIC_RELAXED);
			int32_t pid = __atomic_load_n(&l->pid, __ATOMIC_RELAXED);

			if (holder && pid > 0 && kill(pid, 0) < 0 && errno == ESRCH)
				__atomic_compare_exchange_n(&l->tid, &holder, 0, false,
							    __ATOMIC_RELEASE, __ATOMIC_RELAXED);
		}
		if (guest_now_ns() >= deadline)
			return guest_err(-ETIMEDOUT,
					 "all %" PRIu32 " response lanes stayed busy: "
					 "too many threads waiting on one connection",
					 dev->lane_count);
		usleep(200);
	}
}

void guest_lane_release(struct viova_guest_device *dev, uint32_t lane, uint64_t busy_until)
{
	struct guest_lane *l = &dev->sh->lanes[lane];

	__atomic_store_n(&l->busy_until, busy_until, __ATOMIC_RELAXED);
	__atomic_store_n(&l->tid, 0, __ATOMIC_RELEASE);
}

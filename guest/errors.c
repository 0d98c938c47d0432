/* SPDX-License-Identifier: MIT */
/*
 * errors.c - the two kinds of error a guest sees: this thread's last-error message (a call
 * failed locally), and the host's error records (a command failed on the host).
 *
 * DOC: one host error ring, several processes
 *
 * The host's ring in the response area has one consumer index (err_tail). Forked processes
 * share the area, so records are moved, under the shared log lock, from the ring into a log in
 * the connection's shared page; each process reads that log with its own cursor:
 *
 *   host ring [tail, head)  --drain (log lock)-->  shared log[count % 256]
 *                                                  ^ process A cursor   ^ process B cursor
 *
 * A process that falls more than 256 records behind misses the oldest ones and is told how
 * many (errors_missed). The drain runs whenever any process reads errors or finishes a wait,
 * so the host's ring does not fill while somebody is working.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "guest_priv.h"

static _Thread_local char last_error[320];

int guest_err(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	return err;
}

void guest_err_clear(void)
{
	last_error[0] = '\0';
}

const char *viova_guest_last_error(void)
{
	return last_error;
}

void guest_drain_errors(struct viova_guest_device *dev)
{
	struct guest_shared *sh = dev->sh;
	struct viova_err_rec rec;
	uint32_t overflow;

	struct viova_resp_area *a = dev->area;

	/* Cheap test first (both indices are in the shared area): nothing new means no lock. */
	if (__atomic_load_n(&a->err_head, __ATOMIC_ACQUIRE) ==
	    __atomic_load_n(&a->err_tail, __ATOMIC_ACQUIRE))
		return;
	if (guest_shlock(&sh->log_lock, NULL))
		return;
	/* Another process may have consumed records: continue from the shared tail. */
	dev->resp.err_tail = __atomic_load_n(&a->err_tail, __ATOMIC_ACQUIRE);
	while (viova_codec_resp_guest_pop_error(&dev->resp, &rec) == 0) {
		sh->log[sh->log_count % GUEST_LOG_RECORDS] = rec;
		__atomic_store_n(&sh->log_count, sh->log_count + 1, __ATOMIC_RELEASE);
	}
	overflow = viova_codec_resp_guest_overflow(&dev->resp);
	if (overflow > sh->log_missed)
		sh->log_missed = overflow;
	guest_shunlock(&sh->log_lock);
}

int viova_guest_read_errors(struct viova_guest_device *dev, struct viova_err_rec *recs,
			    uint32_t max, uint32_t *count)
{
	struct guest_shared *sh;
	uint64_t head;
	uint32_t n = 0;
	int ret;

	if (!dev || !count || (!recs && max))
		return guest_err(-EINVAL, "read_errors: dev, count and recs (for max > 0) must "
					  "not be NULL");
	*count = 0;
	ret = guest_enter(dev);
	if (ret)
		return ret;
	sh = dev->sh;
	guest_drain_errors(dev);
	ret = guest_shlock(&sh->log_lock, NULL);
	if (ret) {
		guest_leave(dev);
		return guest_err(ret, "read_errors: the shared error log lock failed (%s)",
				 strerror(-ret));
	}
	head = sh->log_count;
	if (head - dev->log_cursor > GUEST_LOG_RECORDS) {
		/* Overwritten before this process read them. */
		dev->st.errors_missed += head - dev->log_cursor - GUEST_LOG_RECORDS;
		dev->log_cursor = head - GUEST_LOG_RECORDS;
	}
	while (n < max && dev->log_cursor < head) {
		recs[n++] = sh->log[dev->log_cursor % GUEST_LOG_RECORDS];
		dev->log_cursor++;
	}
	if (sh->log_missed > dev->st.errors_missed)
		dev->st.errors_missed = sh->log_missed;
	guest_shunlock(&sh->log_lock);
	dev->st.errors_read += n;
	*count = n;
	guest_leave(dev);
	return 0;
}

int viova_guest_format_error(const struct viova_err_rec *rec, char *buf, size_t size)
{
	if (!rec)
		return guest_err(-EINVAL, "format_error: rec is NULL");
	return viova_codec_format_err_rec(rec, buf, size);
}

/* SPDX-License-Identifier: MIT */
/*
 * host_errlog.c - how a failure reaches the guest: error ring record, lost flag, log message.
 *
 * A handler that refuses a command stages the failure with host_reject() (errno, two details,
 * a message naming the thing, the value and the fix) and returns the errno; the batch loop then
 * calls host_report_failure(), which applies the lost rule and publishes:
 *
 *   handler --host_reject()--> h->fail --host_report_failure()--> error ring record
 *                                                     |            (seqno, cmd, errno, reason 0,
 *                                                     |             details, CTX_LOST flag)
 *                                                     +-> ctx slot: lost_err, then lost
 *                                                     +-> log callback + viova_host_last_error
 *
 * The lost rule (docs/architecture.md, "When a context is lost"): a failure of an operation
 * whose effect the guest relies on without waiting for an answer loses the context.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "host_priv.h"

/* Messages may be cut to fit their buffer: every fact is also in the record's fields. */
__attribute__((format(printf, 3, 4))) static void fmt_cut(char *buf, size_t size, const char *fmt,
							  ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

bool host_cmd_loses_ctx(uint16_t cmd, bool gem_new_with_iova)
{
	switch (cmd) {
	case VIOVA_CMD_SET_IOVA:
	case VIOVA_CMD_VM_BIND:
	case VIOVA_CMD_VM_UNBIND:
	case VIOVA_CMD_SUBMIT:
		return true;
	case VIOVA_CMD_GEM_NEW:
		return gem_new_with_iova;
	default:
		return false;
	}
}

void host_log(struct viova_host *h, int level, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (!h->log)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	h->log(h->log_cookie, level, buf);
}

int host_reject(struct viova_host *h, int err, uint64_t detail0, uint64_t detail1, const char *fmt,
		...)
{
	va_list ap;

	/* The first, most specific reason wins (a helper may stage before its caller). */
	if (h->fail.staged)
		return h->fail.err;
	h->fail.staged = true;
	h->fail.err = err;
	h->fail.detail0 = detail0;
	h->fail.detail1 = detail1;
	va_start(ap, fmt);
	vsnprintf(h->fail.msg, sizeof(h->fail.msg), fmt, ap);
	va_end(ap);
	return err;
}

void host_push_record(struct viova_host *h, const struct viova_err_rec *rec)
{
	pthread_mutex_lock(&h->lock);
	if (h->have_resp && viova_codec_resp_host_push_error(&h->resp, rec) == 0)
		__atomic_fetch_add(&h->errors_logged, 1, __ATOMIC_RELAXED);
	else
		__atomic_fetch_add(&h->errors_dropped, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&h->lock);
}

bool host_mark_lost_locked(struct viova_host *h, struct host_ctx *c, uint32_t err)
{
	if (__atomic_load_n(&c->lost_err, __ATOMIC_RELAXED))
		return false;
	__atomic_store_n(&c->lost_err, err ? err : VIOVA_EIO, __ATOMIC_RELEASE);
	if (h->have_resp)
		viova_codec_resp_host_ctx_lost(&h->resp, c->id, err ? err : VIOVA_EIO);
	return true;
}

/* Lost rule + record + message for a failure of the current command. */
static void report(struct viova_host *h, int err, uint16_t reason, uint64_t d0, uint64_t d1,
		   uint32_t extra_flags, bool loses, const char *what)
{
	struct host_ctx *c = host_ctx_get(h, h->cur_ctx);
	struct viova_err_rec rec = {
	    .seqno = h->cur_seqno,
	    .detail0 = d0,
	    .detail1 = d1,
	    .cmd = h->cur_cmd,
	    .reason = reason,
	    .ctx_id = h->cur_ctx,
	    .err = viova_codec_wire_errno(err),
	    .flags = extra_flags,
	};
	bool lost = false;

	h->failed++;
	if (c) {
		__atomic_fetch_add(&c->errors, 1, __ATOMIC_RELAXED);
		if (loses) {
			pthread_mutex_lock(&h->lock);
			lost = host_mark_lost_locked(h, c, rec.err);
			pthread_mutex_unlock(&h->lock);
		}
	}
	if (lost)
		rec.flags |= VIOVA_ERR_CTX_LOST;
	host_push_record(h, &rec);
	fmt_cut(h->last_error, sizeof(h->last_error), "%s%s", what,
		lost ? "; the context is now lost: destroy and recreate it" : "");
	host_log(h, VIOVA_HOST_LOG_ERROR, "%s", h->last_error);
}

void host_report_failure(struct viova_host *h, int err)
{
	char what[sizeof(h->last_error)];
	char prefix[80];

	if (!h->fail.staged) {
		/* Defensive: every refusal should be staged with a precise message. */
		host_reject(h, err, 0, 0, "failed with %s",
			    viova_codec_errno_name(viova_codec_wire_errno(err)));
	}
	if (h->cur_ctx)
		fmt_cut(prefix, sizeof(prefix), "%s (seqno %" PRIu64 ", ctx %" PRIu32 ")",
			viova_codec_cmd_name(h->cur_cmd), h->cur_seqno, h->cur_ctx);
	else
		fmt_cut(prefix, sizeof(prefix), "%s (seqno %" PRIu64 ")",
			viova_codec_cmd_name(h->cur_cmd), h->cur_seqno);
	fmt_cut(what, sizeof(what), "%s: %s [%s]", prefix, h->fail.msg,
		viova_codec_errno_name(viova_codec_wire_errno(h->fail.err)));
	report(h, h->fail.err, VIOVA_REASON_NONE, h->fail.detail0, h->fail.detail1, 0, h->cur_loses,
	       what);
	h->fail.staged = false;
}

void host_report_decode(struct viova_host *h, const struct viova_codec_dec_error *e)
{
	struct viova_err_rec rec;

	viova_codec_dec_error_to_rec(e, &rec);
	h->cur_cmd = e->cmd;
	h->cur_ctx = e->ctx_id;
	h->cur_seqno = e->seqno;
	/*
	 * A malformed mapping or submission command may be one the guest already builds on, so it
	 * loses the context like a refused one. Batch-level (fatal) rejections name no context.
	 */
	report(h, e->err, rec.reason, rec.detail0, rec.detail1, rec.flags,
	       !e->fatal && host_cmd_loses_ctx(e->cmd, true), e->msg);
}

/* SPDX-License-Identifier: MIT */
/*
 * codec_names.c - names of reasons and wire errnos, the errno of each rejection class, and the
 * one-line rendering of an error-log record.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "viova/codec.h"

struct reason_info {
	const char *name;
	int err; /* negative errno */
};

#define R(code, e) [VIOVA_REASON_##code] = {#code, -(e)}
static const struct reason_info reasons[VIOVA_REASON_COUNT] = {
    R(NONE, EIO),
    R(BATCH_TRUNCATED, EBADMSG),
    R(BATCH_MAGIC, EPROTO),
    R(BATCH_VERSION, EPROTONOSUPPORT),
    R(BATCH_LENGTH, EBADMSG),
    R(BATCH_TOO_LARGE, EMSGSIZE),
    R(HDR_TRUNCATED, EBADMSG),
    R(LEN_TOO_SHORT, EBADMSG),
    R(LEN_MISALIGNED, EBADMSG),
    R(LEN_OVERRUN, EBADMSG),
    R(SEQNO_ORDER, EPROTO),
    R(LAST_SEQNO, EPROTO),
    R(UNKNOWN_CMD, ENOSYS),
    R(CMD_TOO_LARGE, EMSGSIZE),
    R(CMD_TOO_SHORT, EBADMSG),
    R(RESERVED_NONZERO, EINVAL),
    R(UNKNOWN_FLAGS, EINVAL),
    R(BAD_CTX, EINVAL),
    R(BAD_VALUE, EINVAL),
    R(MISALIGNED, EINVAL),
    R(RANGE_WRAP, EOVERFLOW),
    R(ARRAY_BOUNDS, EOVERFLOW),
    R(ARRAY_OVERLAP, EINVAL),
    R(TAIL_NONZERO, E2BIG),
};
#undef R

const char *viova_codec_reason_name(uint16_t reason)
{
	return reason < VIOVA_REASON_COUNT ? reasons[reason].name : "UNKNOWN";
}

int viova_codec_reason_errno(uint16_t reason)
{
	return reason < VIOVA_REASON_COUNT ? reasons[reason].err : -EINVAL;
}

struct errno_name {
	uint32_t value;
	const char *name;
};

#define E(name)                                                                                    \
	{                                                                                          \
		VIOVA_##name, #name                                                                \
	}
static const struct errno_name errnos[] = {
    E(EPERM),		E(ENOENT),     E(EIO),	     E(E2BIG),	 E(EAGAIN),    E(ENOMEM),
    E(EFAULT),		E(EBUSY),      E(EEXIST),    E(ENODEV),	 E(EINVAL),    E(ENOSPC),
    E(ERANGE),		E(ENOSYS),     E(EPROTO),    E(EBADMSG), E(EOVERFLOW), E(EMSGSIZE),
    E(EPROTONOSUPPORT), E(EOPNOTSUPP), E(ETIMEDOUT), E(EDQUOT),	 E(ECANCELED),
};
#undef E

const char *viova_codec_errno_name(uint32_t wire_err)
{
	size_t i;

	if (wire_err == 0)
		return "OK";
	for (i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++) {
		if (errnos[i].value == wire_err)
			return errnos[i].name;
	}
	return "E?";
}

uint32_t viova_codec_wire_errno(int host_errno)
{
	uint32_t v = host_errno < 0 ? (uint32_t) - (int64_t)host_errno : (uint32_t)host_errno;
	size_t i;

	if (v == 0)
		return 0;
	for (i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++) {
		if (errnos[i].value == v)
			return v;
	}
	return VIOVA_EIO;
}

int viova_codec_format_err_rec(const struct viova_err_rec *rec, char *buf, size_t size)
{
	char ctx[24] = "";

	if (rec->ctx_id)
		snprintf(ctx, sizeof(ctx), ", ctx %" PRIu32, rec->ctx_id);
	if (rec->reason != VIOVA_REASON_NONE) {
		/* A decode rejection: detail1 is the field offset, detail0 its value. */
		return snprintf(
		    buf, size,
		    "%s (seqno %" PRIu64 "%s): %s, rejected by the decoder [%s], "
		    "field %s = 0x%" PRIx64 "%s%s",
		    rec->cmd ? viova_codec_cmd_name(rec->cmd) : "batch", rec->seqno, ctx,
		    viova_codec_errno_name(rec->err), viova_codec_reason_name(rec->reason),
		    rec->cmd ? viova_codec_field_name(rec->cmd, (uint32_t)rec->detail1) : "header",
		    rec->detail0,
		    (rec->flags & VIOVA_ERR_BATCH_ABORT) ? "; rest of the batch skipped" : "",
		    (rec->flags & VIOVA_ERR_CTX_LOST) ? "; context lost" : "");
	}
	return snprintf(
	    buf, size,
	    "%s (seqno %" PRIu64 "%s): %s%s, detail0 = 0x%" PRIx64 ", detail1 = 0x%" PRIx64 "%s",
	    viova_codec_cmd_name(rec->cmd), rec->seqno, ctx, viova_codec_errno_name(rec->err),
	    (rec->flags & VIOVA_ERR_ASYNC) ? " (reported after processing)" : "", rec->detail0,
	    rec->detail1, (rec->flags & VIOVA_ERR_CTX_LOST) ? "; context lost" : "");
}

/* SPDX-License-Identifier: MIT */
/*
 * codec_fields.c - tables describing the wire format: command names and sizes, the minimum
 * command sizes of every minor, and the offset/size of every field of every struct.
 *
 * The field table is built with offsetof/sizeof from viova/protocol.h, so it cannot disagree
 * with the compiler. tests/unit/protocol/dump_layout.c prints it, check_spec.py compares it with
 * docs/protocol.md, and test_codec_tables.c checks that each struct's fields tile it exactly
 * (a field added to the header but not here fails that test).
 */
#include <stddef.h>
#include <string.h>

#include "viova/codec.h"

struct cmd_info {
	const char *name;
	const char *strct;
	uint32_t size;
};

#define CMD(code, s) [VIOVA_CMD_##code] = {#code, #s, sizeof(struct s)}
static const struct cmd_info cmd_table[VIOVA_CMD_COUNT] = {
    CMD(NOP, viova_cmd_nop),
    CMD(SYNC, viova_cmd_sync),
    CMD(RESP_INIT, viova_cmd_resp_init),
    CMD(CTX_CREATE, viova_cmd_ctx_create),
    CMD(CTX_CLONE, viova_cmd_ctx_clone),
    CMD(CTX_DESTROY, viova_cmd_ctx_destroy),
    CMD(VM_CREATE, viova_cmd_vm_create),
    CMD(VM_DESTROY, viova_cmd_vm_destroy),
    CMD(GEM_NEW, viova_cmd_gem_new),
    CMD(GEM_CLOSE, viova_cmd_gem_close),
    CMD(SET_IOVA, viova_cmd_set_iova),
    CMD(VM_BIND, viova_cmd_vm_bind),
    CMD(VM_UNBIND, viova_cmd_vm_unbind),
    CMD(GEM_UPLOAD, viova_cmd_gem_upload),
    CMD(GEM_DOWNLOAD, viova_cmd_gem_download),
    CMD(SUBMIT, viova_cmd_submit),
    CMD(WAIT_FENCE, viova_cmd_wait_fence),
    CMD(QUERY, viova_cmd_query),
};
#undef CMD

/*
 * Minimum command length per minor: the struct size as it was in that minor. When minor 1
 * appends a field to a command, add a row whose entry for it is the new size; rows never change
 * once released (docs/protocol.md, "Versioning").
 */
static const uint16_t min_size[VIOVA_WIRE_MINOR + 1][VIOVA_CMD_COUNT] = {
    [0] =
	{
	    [VIOVA_CMD_NOP] = 24,
	    [VIOVA_CMD_SYNC] = 24,
	    [VIOVA_CMD_RESP_INIT] = 40,
	    [VIOVA_CMD_CTX_CREATE] = 48,
	    [VIOVA_CMD_CTX_CLONE] = 40,
	    [VIOVA_CMD_CTX_DESTROY] = 24,
	    [VIOVA_CMD_VM_CREATE] = 32,
	    [VIOVA_CMD_VM_DESTROY] = 32,
	    [VIOVA_CMD_GEM_NEW] = 56,
	    [VIOVA_CMD_GEM_CLOSE] = 32,
	    [VIOVA_CMD_SET_IOVA] = 40,
	    [VIOVA_CMD_VM_BIND] = 64,
	    [VIOVA_CMD_VM_UNBIND] = 48,
	    [VIOVA_CMD_GEM_UPLOAD] = 48,
	    [VIOVA_CMD_GEM_DOWNLOAD] = 48,
	    [VIOVA_CMD_SUBMIT] = 56,
	    [VIOVA_CMD_WAIT_FENCE] = 48,
	    [VIOVA_CMD_QUERY] = 40,
	},
};

const char *viova_codec_cmd_name(uint16_t cmd)
{
	if (cmd < VIOVA_CMD_COUNT && cmd_table[cmd].name)
		return cmd_table[cmd].name;
	return "UNKNOWN_CMD";
}

uint32_t viova_codec_cmd_struct_size(uint16_t cmd)
{
	if (cmd < VIOVA_CMD_COUNT && cmd_table[cmd].name)
		return cmd_table[cmd].size;
	return 0;
}

uint32_t viova_codec_cmd_min_size(uint16_t cmd, uint16_t minor)
{
	if (cmd >= VIOVA_CMD_COUNT)
		return 0;
	if (minor > VIOVA_WIRE_MINOR)
		minor = VIOVA_WIRE_MINOR;
	return min_size[minor][cmd];
}

#define STRUCT(s)                                                                                  \
	{                                                                                          \
#s, sizeof(struct s)                                                               \
	}
static const struct viova_codec_struct_info structs[] = {
    STRUCT(viova_capset),	  STRUCT(viova_batch_hdr),	STRUCT(viova_cmd_hdr),
    STRUCT(viova_cmd_nop),	  STRUCT(viova_cmd_sync),	STRUCT(viova_cmd_resp_init),
    STRUCT(viova_cmd_ctx_create), STRUCT(viova_cmd_ctx_clone),	STRUCT(viova_cmd_ctx_destroy),
    STRUCT(viova_cmd_vm_create),  STRUCT(viova_cmd_vm_destroy), STRUCT(viova_cmd_gem_new),
    STRUCT(viova_cmd_gem_close),  STRUCT(viova_cmd_set_iova),	STRUCT(viova_cmd_vm_bind),
    STRUCT(viova_cmd_vm_unbind),  STRUCT(viova_cmd_gem_upload), STRUCT(viova_cmd_gem_download),
    STRUCT(viova_cmd_submit),	  STRUCT(viova_submit_bo),	STRUCT(viova_submit_cmdbuf),
    STRUCT(viova_sim_job),	  STRUCT(viova_cmd_wait_fence), STRUCT(viova_fence_status),
    STRUCT(viova_cmd_query),	  STRUCT(viova_ctx_stats),	STRUCT(viova_resp_area),
    STRUCT(viova_resp_ctx),	  STRUCT(viova_err_rec),	STRUCT(viova_resp_hdr),
};
#undef STRUCT

/* Wire type name of a member, from its C type. */
#define WIRE_TYPE(x)                                                                               \
	_Generic((x), uint16_t                                                                     \
		 : "u16", uint32_t                                                                 \
		 : "u32", int32_t                                                                  \
		 : "s32", uint64_t                                                                 \
		 : "u64", uint64_t *                                                               \
		 : "u64[]", struct viova_cmd_hdr                                                   \
		 : "viova_cmd_hdr", default                                                        \
		 : "?")
#define F(s, f)                                                                                    \
	{                                                                                          \
#s, #f, WIRE_TYPE(((struct s *)0)->f), offsetof(struct s, f),                      \
		    sizeof(((struct s *)0)->f)                                                     \
	}

static const struct viova_codec_field_info fields[] = {
    F(viova_capset, wire_major),
    F(viova_capset, wire_minor),
    F(viova_capset, backend),
    F(viova_capset, va_start),
    F(viova_capset, va_size),
    F(viova_capset, reserved_start),
    F(viova_capset, reserved_size),
    F(viova_capset, features),
    F(viova_capset, page_size),
    F(viova_capset, min_alignment),
    F(viova_capset, max_batch_size),
    F(viova_capset, max_contexts),
    F(viova_capset, max_vms),
    F(viova_capset, max_buffers),
    F(viova_capset, max_mappings),
    F(viova_capset, clone_flags),
    F(viova_capset, max_bytes),
    F(viova_capset, driver_major),
    F(viova_capset, driver_minor),
    F(viova_capset, driver_patch),
    F(viova_capset, gpu_id),
    F(viova_capset, chip_id),
    F(viova_capset, max_wait_ns),

    F(viova_batch_hdr, magic),
    F(viova_batch_hdr, length),
    F(viova_batch_hdr, major),
    F(viova_batch_hdr, minor),
    F(viova_batch_hdr, flags),
    F(viova_batch_hdr, last_seqno),

    F(viova_cmd_hdr, cmd),
    F(viova_cmd_hdr, flags),
    F(viova_cmd_hdr, length),
    F(viova_cmd_hdr, seqno),
    F(viova_cmd_hdr, ctx_id),
    F(viova_cmd_hdr, reserved),

    F(viova_cmd_nop, hdr),

    F(viova_cmd_sync, hdr),

    F(viova_cmd_resp_init, hdr),
    F(viova_cmd_resp_init, res_id),
    F(viova_cmd_resp_init, err_records),
    F(viova_cmd_resp_init, size),

    F(viova_cmd_ctx_create, hdr),
    F(viova_cmd_ctx_create, flags),
    F(viova_cmd_ctx_create, params),
    F(viova_cmd_ctx_create, priority),
    F(viova_cmd_ctx_create, vm_id),
    F(viova_cmd_ctx_create, share_ctx_id),
    F(viova_cmd_ctx_create, pad0),

    F(viova_cmd_ctx_clone, hdr),
    F(viova_cmd_ctx_clone, src_ctx_id),
    F(viova_cmd_ctx_clone, flags),
    F(viova_cmd_ctx_clone, vm_id),
    F(viova_cmd_ctx_clone, pad0),

    F(viova_cmd_ctx_destroy, hdr),

    F(viova_cmd_vm_create, hdr),
    F(viova_cmd_vm_create, vm_id),
    F(viova_cmd_vm_create, flags),

    F(viova_cmd_vm_destroy, hdr),
    F(viova_cmd_vm_destroy, vm_id),
    F(viova_cmd_vm_destroy, pad0),

    F(viova_cmd_gem_new, hdr),
    F(viova_cmd_gem_new, buf_id),
    F(viova_cmd_gem_new, flags),
    F(viova_cmd_gem_new, size),
    F(viova_cmd_gem_new, iova),
    F(viova_cmd_gem_new, vm_id),
    F(viova_cmd_gem_new, pad0),

    F(viova_cmd_gem_close, hdr),
    F(viova_cmd_gem_close, buf_id),
    F(viova_cmd_gem_close, pad0),

    F(viova_cmd_set_iova, hdr),
    F(viova_cmd_set_iova, buf_id),
    F(viova_cmd_set_iova, vm_id),
    F(viova_cmd_set_iova, iova),

    F(viova_cmd_vm_bind, hdr),
    F(viova_cmd_vm_bind, vm_id),
    F(viova_cmd_vm_bind, buf_id),
    F(viova_cmd_vm_bind, addr),
    F(viova_cmd_vm_bind, range),
    F(viova_cmd_vm_bind, buf_offset),
    F(viova_cmd_vm_bind, flags),
    F(viova_cmd_vm_bind, pad0),

    F(viova_cmd_vm_unbind, hdr),
    F(viova_cmd_vm_unbind, vm_id),
    F(viova_cmd_vm_unbind, pad0),
    F(viova_cmd_vm_unbind, addr),
    F(viova_cmd_vm_unbind, range),

    F(viova_cmd_gem_upload, hdr),
    F(viova_cmd_gem_upload, buf_id),
    F(viova_cmd_gem_upload, data_offset),
    F(viova_cmd_gem_upload, buf_offset),
    F(viova_cmd_gem_upload, size),

    F(viova_cmd_gem_download, hdr),
    F(viova_cmd_gem_download, buf_id),
    F(viova_cmd_gem_download, resp_offset),
    F(viova_cmd_gem_download, buf_offset),
    F(viova_cmd_gem_download, size),

    F(viova_cmd_submit, hdr),
    F(viova_cmd_submit, flags),
    F(viova_cmd_submit, format),
    F(viova_cmd_submit, out_fence),
    F(viova_cmd_submit, bo_offset),
    F(viova_cmd_submit, bo_count),
    F(viova_cmd_submit, cmd_offset),
    F(viova_cmd_submit, cmd_size),

    F(viova_submit_bo, buf_id),
    F(viova_submit_bo, flags),

    F(viova_submit_cmdbuf, bo_index),
    F(viova_submit_cmdbuf, type),
    F(viova_submit_cmdbuf, offset),
    F(viova_submit_cmdbuf, size),

    F(viova_sim_job, op),
    F(viova_sim_job, flags),
    F(viova_sim_job, arg0),
    F(viova_sim_job, arg1),
    F(viova_sim_job, arg2),

    F(viova_cmd_wait_fence, hdr),
    F(viova_cmd_wait_fence, fence),
    F(viova_cmd_wait_fence, timeout_ns),
    F(viova_cmd_wait_fence, resp_offset),
    F(viova_cmd_wait_fence, flags),

    F(viova_fence_status, completed_fence),

    F(viova_cmd_query, hdr),
    F(viova_cmd_query, what),
    F(viova_cmd_query, resp_offset),
    F(viova_cmd_query, resp_size),
    F(viova_cmd_query, pad0),

    F(viova_ctx_stats, submits),
    F(viova_ctx_stats, completed_fence),
    F(viova_ctx_stats, bytes),
    F(viova_ctx_stats, errors),
    F(viova_ctx_stats, faults),
    F(viova_ctx_stats, lost),
    F(viova_ctx_stats, buffers),
    F(viova_ctx_stats, mappings),
    F(viova_ctx_stats, vms),
    F(viova_ctx_stats, pad0),

    F(viova_resp_area, magic),
    F(viova_resp_area, major),
    F(viova_resp_area, minor),
    F(viova_resp_area, hdr_size),
    F(viova_resp_area, area_size),
    F(viova_resp_area, ctx_offset),
    F(viova_resp_area, ctx_count),
    F(viova_resp_area, err_offset),
    F(viova_resp_area, err_capacity),
    F(viova_resp_area, payload_offset),
    F(viova_resp_area, payload_size),
    F(viova_resp_area, ctx_slot_size),
    F(viova_resp_area, err_rec_size),
    F(viova_resp_area, reserved0),
    F(viova_resp_area, processed_seqno),
    F(viova_resp_area, batches),
    F(viova_resp_area, err_head),
    F(viova_resp_area, err_overflow),
    F(viova_resp_area, reserved1),
    F(viova_resp_area, err_tail),
    F(viova_resp_area, pad0),
    F(viova_resp_area, reserved2),

    F(viova_resp_ctx, completed_fence),
    F(viova_resp_ctx, fault_iova),
    F(viova_resp_ctx, faults),
    F(viova_resp_ctx, lost),
    F(viova_resp_ctx, lost_err),
    F(viova_resp_ctx, active),

    F(viova_err_rec, seqno),
    F(viova_err_rec, detail0),
    F(viova_err_rec, detail1),
    F(viova_err_rec, cmd),
    F(viova_err_rec, reason),
    F(viova_err_rec, ctx_id),
    F(viova_err_rec, err),
    F(viova_err_rec, flags),

    F(viova_resp_hdr, seqno),
    F(viova_resp_hdr, err),
    F(viova_resp_hdr, size),
};
#undef F
#undef WIRE_TYPE

#define C(name)                                                                                    \
	{                                                                                          \
#name, (int64_t)(name)                                                             \
	}
static const struct viova_codec_const_info consts[] = {
    C(VIOVA_WIRE_MAJOR),
    C(VIOVA_WIRE_MINOR),
    C(VIOVA_CAPSET_ID),
    C(VIOVA_CAPSET_VERSION),
    C(VIOVA_BATCH_MAGIC),
    C(VIOVA_RESP_MAGIC),

    C(VIOVA_EPERM),
    C(VIOVA_ENOENT),
    C(VIOVA_EIO),
    C(VIOVA_E2BIG),
    C(VIOVA_EAGAIN),
    C(VIOVA_ENOMEM),
    C(VIOVA_EFAULT),
    C(VIOVA_EBUSY),
    C(VIOVA_EEXIST),
    C(VIOVA_ENODEV),
    C(VIOVA_EINVAL),
    C(VIOVA_ENOSPC),
    C(VIOVA_ERANGE),
    C(VIOVA_ENOSYS),
    C(VIOVA_EPROTO),
    C(VIOVA_EBADMSG),
    C(VIOVA_EOVERFLOW),
    C(VIOVA_EMSGSIZE),
    C(VIOVA_EPROTONOSUPPORT),
    C(VIOVA_EOPNOTSUPP),
    C(VIOVA_ETIMEDOUT),
    C(VIOVA_EDQUOT),
    C(VIOVA_ECANCELED),

    C(VIOVA_REASON_NONE),
    C(VIOVA_REASON_BATCH_TRUNCATED),
    C(VIOVA_REASON_BATCH_MAGIC),
    C(VIOVA_REASON_BATCH_VERSION),
    C(VIOVA_REASON_BATCH_LENGTH),
    C(VIOVA_REASON_BATCH_TOO_LARGE),
    C(VIOVA_REASON_HDR_TRUNCATED),
    C(VIOVA_REASON_LEN_TOO_SHORT),
    C(VIOVA_REASON_LEN_MISALIGNED),
    C(VIOVA_REASON_LEN_OVERRUN),
    C(VIOVA_REASON_SEQNO_ORDER),
    C(VIOVA_REASON_LAST_SEQNO),
    C(VIOVA_REASON_UNKNOWN_CMD),
    C(VIOVA_REASON_CMD_TOO_LARGE),
    C(VIOVA_REASON_CMD_TOO_SHORT),
    C(VIOVA_REASON_RESERVED_NONZERO),
    C(VIOVA_REASON_UNKNOWN_FLAGS),
    C(VIOVA_REASON_BAD_CTX),
    C(VIOVA_REASON_BAD_VALUE),
    C(VIOVA_REASON_MISALIGNED),
    C(VIOVA_REASON_RANGE_WRAP),
    C(VIOVA_REASON_ARRAY_BOUNDS),
    C(VIOVA_REASON_ARRAY_OVERLAP),
    C(VIOVA_REASON_TAIL_NONZERO),
    C(VIOVA_REASON_COUNT),

    C(VIOVA_BACKEND_SIM),
    C(VIOVA_BACKEND_MSM),
    C(VIOVA_BACKEND_I915),

    C(VIOVA_FEATURE_SET_IOVA),
    C(VIOVA_FEATURE_VM_BIND),
    C(VIOVA_FEATURE_MULTI_VM),
    C(VIOVA_FEATURE_UPLOAD),
    C(VIOVA_FEATURE_DOWNLOAD),
    C(VIOVA_FEATURE_SUBMIT_SIM),
    C(VIOVA_FEATURE_SUBMIT_CMDBUF),
    C(VIOVA_FEATURE_PRIORITY),
    C(VIOVA_FEATURE_WAIT_BLOCKS),

    C(VIOVA_CMD_NOP),
    C(VIOVA_CMD_SYNC),
    C(VIOVA_CMD_RESP_INIT),
    C(VIOVA_CMD_CTX_CREATE),
    C(VIOVA_CMD_CTX_CLONE),
    C(VIOVA_CMD_CTX_DESTROY),
    C(VIOVA_CMD_VM_CREATE),
    C(VIOVA_CMD_VM_DESTROY),
    C(VIOVA_CMD_GEM_NEW),
    C(VIOVA_CMD_GEM_CLOSE),
    C(VIOVA_CMD_SET_IOVA),
    C(VIOVA_CMD_VM_BIND),
    C(VIOVA_CMD_VM_UNBIND),
    C(VIOVA_CMD_GEM_UPLOAD),
    C(VIOVA_CMD_GEM_DOWNLOAD),
    C(VIOVA_CMD_SUBMIT),
    C(VIOVA_CMD_WAIT_FENCE),
    C(VIOVA_CMD_QUERY),
    C(VIOVA_CMD_COUNT),

    C(VIOVA_CTX_CREATE_SHARE_VM),
    C(VIOVA_CTX_CREATE_FLAGS_ALL),
    C(VIOVA_CTX_NO_ERROR_CAPTURE),
    C(VIOVA_CTX_BANNABLE),
    C(VIOVA_CTX_RECOVERABLE),
    C(VIOVA_CTX_ALLOW_PREEMPT),
    C(VIOVA_CTX_PARAMS_ALL),
    C(VIOVA_PRIORITY_MIN),
    C(VIOVA_PRIORITY_DEFAULT),
    C(VIOVA_PRIORITY_MAX),

    C(VIOVA_CLONE_ENGINES),
    C(VIOVA_CLONE_FLAGS),
    C(VIOVA_CLONE_SCHEDATTR),
    C(VIOVA_CLONE_SSEU),
    C(VIOVA_CLONE_TIMELINE),
    C(VIOVA_CLONE_VM),
    C(VIOVA_CLONE_ALL),

    C(VIOVA_GEM_GPU_READONLY),
    C(VIOVA_GEM_CACHED_COHERENT),
    C(VIOVA_GEM_UNCACHED),
    C(VIOVA_GEM_FLAGS_ALL),
    C(VIOVA_BIND_READONLY),
    C(VIOVA_BIND_FLAGS_ALL),

    C(VIOVA_SUBMIT_FORMAT_SIM),
    C(VIOVA_SUBMIT_FORMAT_CMDBUF),
    C(VIOVA_SUBMIT_BO_READ),
    C(VIOVA_SUBMIT_BO_WRITE),
    C(VIOVA_SUBMIT_BO_DUMP),
    C(VIOVA_SUBMIT_BO_FLAGS_ALL),
    C(VIOVA_CMDBUF_BUF),
    C(VIOVA_CMDBUF_IB_TARGET),
    C(VIOVA_CMDBUF_CTX_RESTORE),
    C(VIOVA_SIM_OP_FILL),
    C(VIOVA_SIM_OP_COPY),
    C(VIOVA_SIM_OP_WRITE_FENCE),

    C(VIOVA_QUERY_CAPS),
    C(VIOVA_QUERY_CTX_STATS),

    C(VIOVA_RESP_MIN_PAYLOAD),
    C(VIOVA_RESP_DEFAULT_ERR_RECORDS),
    C(VIOVA_RESP_MAX_ERR_RECORDS),
    C(VIOVA_ERR_CTX_LOST),
    C(VIOVA_ERR_ASYNC),
    C(VIOVA_ERR_BATCH_ABORT),
};
#undef C

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

const struct viova_codec_struct_info *viova_codec_structs(size_t *count)
{
	*count = COUNT_OF(structs);
	return structs;
}

const struct viova_codec_field_info *viova_codec_fields(size_t *count)
{
	*count = COUNT_OF(fields);
	return fields;
}

const struct viova_codec_const_info *viova_codec_consts(size_t *count)
{
	*count = COUNT_OF(consts);
	return consts;
}

/* Header fields, reported with their path from the command ("hdr.seqno"). */
static const char *hdr_field_name(uint32_t offset)
{
	if (offset < offsetof(struct viova_cmd_hdr, flags))
		return "hdr.cmd";
	if (offset < offsetof(struct viova_cmd_hdr, length))
		return "hdr.flags";
	if (offset < offsetof(struct viova_cmd_hdr, seqno))
		return "hdr.length";
	if (offset < offsetof(struct viova_cmd_hdr, ctx_id))
		return "hdr.seqno";
	if (offset < offsetof(struct viova_cmd_hdr, reserved))
		return "hdr.ctx_id";
	return "hdr.reserved";
}

const char *viova_codec_field_name(uint16_t cmd, uint32_t offset)
{
	size_t i;

	if (offset < sizeof(struct viova_cmd_hdr))
		return hdr_field_name(offset);
	if (cmd >= VIOVA_CMD_COUNT || !cmd_table[cmd].name)
		return "payload";
	for (i = 0; i < COUNT_OF(fields); i++) {
		const struct viova_codec_field_info *f = &fields[i];

		if (strcmp(f->strct, cmd_table[cmd].strct) == 0 && offset >= f->offset &&
		    offset < f->offset + f->size)
			return f->name;
	}
	return "payload";
}

/* SPDX-License-Identifier: MIT */
/*
 * viova/protocol.h - the viova wire format: every struct and constant that crosses the
 * guest/host boundary. Nothing else in the tree defines a wire struct.
 *
 * docs/protocol.md is the written specification; tests/unit/protocol/check_spec.py fails the
 * "unit" suite when a struct, field offset, field size or constant here and a table there differ.
 *
 * Rules every struct below follows (and the asserts at the end of each block enforce):
 *  - little-endian; fixed-width integers only, no pointers, no bitfields, no enums;
 *  - every field naturally aligned, every struct a multiple of 8 bytes, padding explicit
 *    ("pad0", "reserved") and required to be zero by the decoder;
 *  - structs only grow at the end, in a new minor version (see docs/protocol.md, Versioning).
 *
 * Stream overview:
 *
 *   batch = viova_batch_hdr | command | command | ...          (one transport message)
 *   command = viova_cmd_hdr (24 bytes) | body | [payload ...]   (length = whole command)
 *
 *   response area (shared memory, written by the host, read by the guest):
 *   +-------------------+---------------------+------------------+--------------------------+
 *   | viova_resp_area   | viova_resp_ctx x N  | viova_err_rec x M | payload (guest-chosen   |
 *   | (header, seqno,   | (per-context slots, | (error log ring)  |  offsets: resp headers  |
 *   |  ring indices)    |  slot = ctx id)     |                   |  + data)                |
 *   +-------------------+---------------------+------------------+--------------------------+
 */
#ifndef VIOVA_PROTOCOL_H
#define VIOVA_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

/*
 * The wire is little-endian and the codec copies structs with memcpy, so a big-endian build
 * would silently speak a different protocol. Refuse it at compile time instead.
 */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "viova's wire format is little-endian; big-endian hosts/guests are not supported");

/* Padding the compiler inserts on its own would be uninitialised bytes on the wire. */
#pragma GCC diagnostic push
#pragma GCC diagnostic error "-Wpadded"

/* Pins one field: offset and size. Used for every field of every wire struct. */
#define VIOVA_WIRE_FIELD(type, field, off, size)                                                   \
	_Static_assert(offsetof(struct type, field) == (off) &&                                    \
			   sizeof(((struct type *)0)->field) == (size),                            \
		       #type "." #field " must be at byte " #off " with size " #size)
/* Pins a struct's size; also checks the multiple-of-8 rule. */
#define VIOVA_WIRE_SIZE(type, size)                                                                \
	_Static_assert(sizeof(struct type) == (size) && (size) % 8 == 0,                           \
		       "struct " #type " must be " #size " bytes (a multiple of 8)")

/* ------------------------------------------------------------------------------------------ */
/* Versions and identifiers                                                                    */
/* ------------------------------------------------------------------------------------------ */

/* Incompatible changes bump the major; both sides must speak the same major. */
#define VIOVA_WIRE_MAJOR 1
/* Compatible additions (new commands, fields appended to structs, new flag bits) bump the minor. */
#define VIOVA_WIRE_MINOR 0

/*
 * virtio-gpu capset id of the viova capset. Ids 1..9 are in use (virgl, virgl2,
 * gfxstream-vulkan, venus, cross-domain, drm, gfxstream-magma, gfxstream-gles,
 * gfxstream-composer) and new ones are allocated upwards, so the id stays well above them; it
 * must stay below 31: Linux (6.1 and 6.12 at least) builds its mask of supported capsets with
 * `1 << id` on an int, so an id >= 31 sets the wrong bit and CONTEXT_INIT naming it fails with
 * EINVAL (docs/protocol.md, "Why capset id 30").
 */
#define VIOVA_CAPSET_ID 30
/* GET_CAPSET version: equal to the wire major. */
#define VIOVA_CAPSET_VERSION 1

#define VIOVA_BATCH_MAGIC 0x424f4956u /* "VIOB" little-endian */
#define VIOVA_RESP_MAGIC 0x524f4956u  /* "VIOR" little-endian */

/* ------------------------------------------------------------------------------------------ */
/* Wire errno values                                                                           */
/* ------------------------------------------------------------------------------------------ */
/*
 * Errors travel as positive numbers in viova's own namespace so that a guest never depends on
 * the host's libc. They equal the Linux values; on Linux builds this is asserted below so a
 * host may put (-ret) of a failed call on the wire after viova_wire_errno().
 */
#define VIOVA_EPERM 1
#define VIOVA_ENOENT 2
#define VIOVA_EIO 5
#define VIOVA_E2BIG 7
#define VIOVA_EAGAIN 11
#define VIOVA_ENOMEM 12
#define VIOVA_EFAULT 14
#define VIOVA_EBUSY 16
#define VIOVA_EEXIST 17
#define VIOVA_ENODEV 19
#define VIOVA_EINVAL 22
#define VIOVA_ENOSPC 28
#define VIOVA_ERANGE 34
#define VIOVA_ENOSYS 38
#define VIOVA_EPROTO 71
#define VIOVA_EBADMSG 74
#define VIOVA_EOVERFLOW 75
#define VIOVA_EMSGSIZE 90
#define VIOVA_EPROTONOSUPPORT 93
#define VIOVA_EOPNOTSUPP 95
#define VIOVA_ETIMEDOUT 110
#define VIOVA_EDQUOT 122
#define VIOVA_ECANCELED 125

#ifdef __linux__
#include <errno.h>
_Static_assert(VIOVA_EPERM == EPERM && VIOVA_ENOENT == ENOENT && VIOVA_EIO == EIO &&
		   VIOVA_E2BIG == E2BIG && VIOVA_EAGAIN == EAGAIN && VIOVA_ENOMEM == ENOMEM &&
		   VIOVA_EFAULT == EFAULT && VIOVA_EBUSY == EBUSY && VIOVA_EEXIST == EEXIST &&
		   VIOVA_ENODEV == ENODEV && VIOVA_EINVAL == EINVAL && VIOVA_ENOSPC == ENOSPC &&
		   VIOVA_ERANGE == ERANGE && VIOVA_ENOSYS == ENOSYS && VIOVA_EPROTO == EPROTO &&
		   VIOVA_EBADMSG == EBADMSG && VIOVA_EOVERFLOW == EOVERFLOW &&
		   VIOVA_EMSGSIZE == EMSGSIZE && VIOVA_EPROTONOSUPPORT == EPROTONOSUPPORT &&
		   VIOVA_EOPNOTSUPP == EOPNOTSUPP && VIOVA_ETIMEDOUT == ETIMEDOUT &&
		   VIOVA_EDQUOT == EDQUOT && VIOVA_ECANCELED == ECANCELED,
	       "viova wire errno values must equal the Linux errno values");
#endif

/* ------------------------------------------------------------------------------------------ */
/* Decoder rejection reasons (viova_err_rec.reason)                                            */
/* ------------------------------------------------------------------------------------------ */
/*
 * One code per malformation class, so a guest can tell "my encoder is broken" from "the host
 * refused the operation" (reason 0) without parsing text. The errno for each is in
 * docs/protocol.md and viova_proto_reason_errno().
 */
#define VIOVA_REASON_NONE 0	       /* not a decode error: the host or backend refused it */
#define VIOVA_REASON_BATCH_TRUNCATED 1 /* batch shorter than viova_batch_hdr */
#define VIOVA_REASON_BATCH_MAGIC 2     /* batch magic is not VIOVA_BATCH_MAGIC */
#define VIOVA_REASON_BATCH_VERSION 3   /* batch major differs from the host's */
#define VIOVA_REASON_BATCH_LENGTH 4    /* batch length != bytes received, or not a multiple of 8 */
#define VIOVA_REASON_BATCH_TOO_LARGE 5 /* batch longer than capset.max_batch_size */
#define VIOVA_REASON_HDR_TRUNCATED 6   /* fewer bytes left than a command header */
#define VIOVA_REASON_LEN_TOO_SHORT 7   /* command length < sizeof(viova_cmd_hdr) */
#define VIOVA_REASON_LEN_MISALIGNED 8  /* command length not a multiple of 8 */
#define VIOVA_REASON_LEN_OVERRUN 9     /* command length > bytes left in the batch */
#define VIOVA_REASON_SEQNO_ORDER 10    /* seqno not greater than the previous one */
#define VIOVA_REASON_LAST_SEQNO 11     /* batch last_seqno != seqno of its last command */
#define VIOVA_REASON_UNKNOWN_CMD 12    /* command code unknown at the negotiated version */
#define VIOVA_REASON_CMD_TOO_LARGE 13  /* command longer than the decoder's copy buffer */
#define VIOVA_REASON_CMD_TOO_SHORT 14  /* length < the command's size at the negotiated minor */
#define VIOVA_REASON_RESERVED_NONZERO 15 /* a pad/reserved field is not zero */
#define VIOVA_REASON_UNKNOWN_FLAGS 16	 /* a flags field has a bit not defined at this version */
#define VIOVA_REASON_BAD_CTX 17		 /* ctx id missing, present where forbidden, or too big */
#define VIOVA_REASON_BAD_VALUE 18	 /* a field value out of its documented domain */
#define VIOVA_REASON_MISALIGNED 19	 /* an offset/address field not aligned as required */
#define VIOVA_REASON_RANGE_WRAP 20	 /* start + size wraps around */
#define VIOVA_REASON_ARRAY_BOUNDS 21	 /* count x element size overflows or leaves the command */
#define VIOVA_REASON_ARRAY_OVERLAP 22 /* two payload ranges, or a payload and the body, overlap */
#define VIOVA_REASON_TAIL_NONZERO 23  /* bytes this host does not know (newer minor) not zero */
#define VIOVA_REASON_COUNT 24

/* ------------------------------------------------------------------------------------------ */
/* Capset (virtio-gpu GET_CAPSET, socket QUERY CAPS)                                           */
/* ------------------------------------------------------------------------------------------ */

#define VIOVA_BACKEND_SIM 1
#define VIOVA_BACKEND_MSM 2
#define VIOVA_BACKEND_I915 3

/* viova_capset.features: what the host supports. A clear bit means the command/option fails. */
#define VIOVA_FEATURE_SET_IOVA (1ull << 0)	/* SET_IOVA and GEM_NEW with an iova */
#define VIOVA_FEATURE_VM_BIND (1ull << 1)	/* VM_BIND / VM_UNBIND (sparse) */
#define VIOVA_FEATURE_MULTI_VM (1ull << 2)	/* VM_CREATE and CTX_CREATE_SHARE_VM */
#define VIOVA_FEATURE_UPLOAD (1ull << 3)	/* GEM_UPLOAD */
#define VIOVA_FEATURE_DOWNLOAD (1ull << 4)	/* GEM_DOWNLOAD */
#define VIOVA_FEATURE_SUBMIT_SIM (1ull << 5)	/* SUBMIT with VIOVA_SUBMIT_FORMAT_SIM */
#define VIOVA_FEATURE_SUBMIT_CMDBUF (1ull << 6) /* SUBMIT with VIOVA_SUBMIT_FORMAT_CMDBUF */
#define VIOVA_FEATURE_PRIORITY (1ull << 7)	/* CTX_CREATE priority honoured */
#define VIOVA_FEATURE_WAIT_BLOCKS (1ull << 8)	/* WAIT_FENCE may block up to max_wait_ns */

/*
 * Capabilities of one host/backend. Every field is "0 = not supported / no limit known" so a
 * newer guest reading an older, shorter capset sees zeros for fields it does not get.
 * Quotas: max_contexts per connection; max_vms, max_buffers, max_mappings, max_bytes per context.
 */
struct viova_capset {
	uint16_t wire_major;
	uint16_t wire_minor;
	uint32_t backend;	 /* VIOVA_BACKEND_* */
	uint64_t va_start;	 /* first usable iova */
	uint64_t va_size;	 /* bytes of iova space from va_start */
	uint64_t reserved_start; /* kernel-reserved region inside the VA range (0/0 = none) */
	uint64_t reserved_size;
	uint64_t features;	 /* VIOVA_FEATURE_* */
	uint32_t page_size;	 /* iova / size granularity */
	uint32_t min_alignment;	 /* alignment required of buffer iovas (>= page_size) */
	uint32_t max_batch_size; /* bytes, batch header included */
	uint32_t max_contexts;	 /* ctx ids are 1..max_contexts */
	uint32_t max_vms;
	uint32_t max_buffers;
	uint32_t max_mappings;
	uint32_t clone_flags; /* VIOVA_CLONE_* the backend honours */
	uint64_t max_bytes;   /* bytes of buffers per context */
	uint32_t driver_major;
	uint32_t driver_minor;
	uint32_t driver_patch;
	uint32_t gpu_id;
	uint64_t chip_id;
	uint64_t max_wait_ns; /* longest WAIT_FENCE block (0: never blocks, poll) */
};
VIOVA_WIRE_SIZE(viova_capset, 120);
VIOVA_WIRE_FIELD(viova_capset, wire_major, 0, 2);
VIOVA_WIRE_FIELD(viova_capset, wire_minor, 2, 2);
VIOVA_WIRE_FIELD(viova_capset, backend, 4, 4);
VIOVA_WIRE_FIELD(viova_capset, va_start, 8, 8);
VIOVA_WIRE_FIELD(viova_capset, va_size, 16, 8);
VIOVA_WIRE_FIELD(viova_capset, reserved_start, 24, 8);
VIOVA_WIRE_FIELD(viova_capset, reserved_size, 32, 8);
VIOVA_WIRE_FIELD(viova_capset, features, 40, 8);
VIOVA_WIRE_FIELD(viova_capset, page_size, 48, 4);
VIOVA_WIRE_FIELD(viova_capset, min_alignment, 52, 4);
VIOVA_WIRE_FIELD(viova_capset, max_batch_size, 56, 4);
VIOVA_WIRE_FIELD(viova_capset, max_contexts, 60, 4);
VIOVA_WIRE_FIELD(viova_capset, max_vms, 64, 4);
VIOVA_WIRE_FIELD(viova_capset, max_buffers, 68, 4);
VIOVA_WIRE_FIELD(viova_capset, max_mappings, 72, 4);
VIOVA_WIRE_FIELD(viova_capset, clone_flags, 76, 4);
VIOVA_WIRE_FIELD(viova_capset, max_bytes, 80, 8);
VIOVA_WIRE_FIELD(viova_capset, driver_major, 88, 4);
VIOVA_WIRE_FIELD(viova_capset, driver_minor, 92, 4);
VIOVA_WIRE_FIELD(viova_capset, driver_patch, 96, 4);
VIOVA_WIRE_FIELD(viova_capset, gpu_id, 100, 4);
VIOVA_WIRE_FIELD(viova_capset, chip_id, 104, 8);
VIOVA_WIRE_FIELD(viova_capset, max_wait_ns, 112, 8);

/* ------------------------------------------------------------------------------------------ */
/* Batch and command headers                                                                   */
/* ------------------------------------------------------------------------------------------ */

/*
 * First bytes of every transport message. last_seqno is what the host publishes as processed
 * once it is done with the batch, whatever happened inside it: a guest waiting for that seqno
 * wakes up even when a command in the middle breaks the framing.
 */
struct viova_batch_hdr {
	uint32_t magic;	 /* VIOVA_BATCH_MAGIC */
	uint32_t length; /* whole batch in bytes, this header included; multiple of 8 */
	uint16_t major;	 /* wire version the guest speaks */
	uint16_t minor;
	uint32_t flags;	     /* none defined: must be 0 */
	uint64_t last_seqno; /* seqno of the last command (0 for an empty batch) */
};
VIOVA_WIRE_SIZE(viova_batch_hdr, 24);
VIOVA_WIRE_FIELD(viova_batch_hdr, magic, 0, 4);
VIOVA_WIRE_FIELD(viova_batch_hdr, length, 4, 4);
VIOVA_WIRE_FIELD(viova_batch_hdr, major, 8, 2);
VIOVA_WIRE_FIELD(viova_batch_hdr, minor, 10, 2);
VIOVA_WIRE_FIELD(viova_batch_hdr, flags, 12, 4);
VIOVA_WIRE_FIELD(viova_batch_hdr, last_seqno, 16, 8);

/* Command codes. 0 is never valid, so a zeroed buffer is rejected rather than run as NOPs. */
#define VIOVA_CMD_NOP 1
#define VIOVA_CMD_SYNC 2
#define VIOVA_CMD_RESP_INIT 3
#define VIOVA_CMD_CTX_CREATE 4
#define VIOVA_CMD_CTX_CLONE 5
#define VIOVA_CMD_CTX_DESTROY 6
#define VIOVA_CMD_VM_CREATE 7
#define VIOVA_CMD_VM_DESTROY 8
#define VIOVA_CMD_GEM_NEW 9
#define VIOVA_CMD_GEM_CLOSE 10
#define VIOVA_CMD_SET_IOVA 11
#define VIOVA_CMD_VM_BIND 12
#define VIOVA_CMD_VM_UNBIND 13
#define VIOVA_CMD_GEM_UPLOAD 14
#define VIOVA_CMD_GEM_DOWNLOAD 15
#define VIOVA_CMD_SUBMIT 16
#define VIOVA_CMD_WAIT_FENCE 17
#define VIOVA_CMD_QUERY 18
#define VIOVA_CMD_COUNT 19 /* one past the highest code of this minor */

/*
 * Every command starts with this. ctx_id names the guest context the command acts in; VM and
 * buffer ids in the body are looked up in that context's own namespace. Connection-level
 * commands (NOP, SYNC, RESP_INIT, QUERY CAPS) require ctx_id 0.
 */
struct viova_cmd_hdr {
	uint16_t cmd;	   /* VIOVA_CMD_* */
	uint16_t flags;	   /* none defined: must be 0 */
	uint32_t length;   /* whole command in bytes, header and payload included; multiple of 8 */
	uint64_t seqno;	   /* strictly increasing per connection, chosen by the guest */
	uint32_t ctx_id;   /* 0, or 1..capset.max_contexts */
	uint32_t reserved; /* must be 0 */
};
VIOVA_WIRE_SIZE(viova_cmd_hdr, 24);
VIOVA_WIRE_FIELD(viova_cmd_hdr, cmd, 0, 2);
VIOVA_WIRE_FIELD(viova_cmd_hdr, flags, 2, 2);
VIOVA_WIRE_FIELD(viova_cmd_hdr, length, 4, 4);
VIOVA_WIRE_FIELD(viova_cmd_hdr, seqno, 8, 8);
VIOVA_WIRE_FIELD(viova_cmd_hdr, ctx_id, 16, 4);
VIOVA_WIRE_FIELD(viova_cmd_hdr, reserved, 20, 4);

/* ------------------------------------------------------------------------------------------ */
/* Connection-level commands                                                                   */
/* ------------------------------------------------------------------------------------------ */

/* NOP: does nothing; its seqno is published like any other. */
struct viova_cmd_nop {
	struct viova_cmd_hdr hdr;
};
VIOVA_WIRE_SIZE(viova_cmd_nop, 24);
VIOVA_WIRE_FIELD(viova_cmd_nop, hdr, 0, 24);

/* SYNC: publish processed_seqno = this seqno now, before the rest of the batch runs. */
struct viova_cmd_sync {
	struct viova_cmd_hdr hdr;
};
VIOVA_WIRE_SIZE(viova_cmd_sync, 24);
VIOVA_WIRE_FIELD(viova_cmd_sync, hdr, 0, 24);

/*
 * RESP_INIT: attach the response area. res_id is the transport's handle of the shared memory
 * (virtio-gpu: the resource id; socket: 0 = the memfd sent with this message).
 */
struct viova_cmd_resp_init {
	struct viova_cmd_hdr hdr;
	uint32_t res_id;
	uint32_t err_records; /* error ring capacity, a power of two; 0 = host default */
	uint64_t size;	      /* bytes of the area */
};
VIOVA_WIRE_SIZE(viova_cmd_resp_init, 40);
VIOVA_WIRE_FIELD(viova_cmd_resp_init, hdr, 0, 24);
VIOVA_WIRE_FIELD(viova_cmd_resp_init, res_id, 24, 4);
VIOVA_WIRE_FIELD(viova_cmd_resp_init, err_records, 28, 4);
VIOVA_WIRE_FIELD(viova_cmd_resp_init, size, 32, 8);

/* ------------------------------------------------------------------------------------------ */
/* Contexts and VMs                                                                            */
/* ------------------------------------------------------------------------------------------ */

/* CTX_CREATE flags */
#define VIOVA_CTX_CREATE_SHARE_VM (1u << 0) /* use VM vm_id of context share_ctx_id */
#define VIOVA_CTX_CREATE_FLAGS_ALL (VIOVA_CTX_CREATE_SHARE_VM)

/* Context parameters (copied by CTX_CLONE with VIOVA_CLONE_FLAGS) */
#define VIOVA_CTX_NO_ERROR_CAPTURE (1u << 0)
#define VIOVA_CTX_BANNABLE (1u << 1)
#define VIOVA_CTX_RECOVERABLE (1u << 2)
#define VIOVA_CTX_ALLOW_PREEMPT (1u << 3)
#define VIOVA_CTX_PARAMS_ALL                                                                       \
	(VIOVA_CTX_NO_ERROR_CAPTURE | VIOVA_CTX_BANNABLE | VIOVA_CTX_RECOVERABLE |                 \
	 VIOVA_CTX_ALLOW_PREEMPT)

/* Priority: higher runs first; backends map the range onto their levels. */
#define VIOVA_PRIORITY_MIN (-1023)
#define VIOVA_PRIORITY_DEFAULT 0
#define VIOVA_PRIORITY_MAX 1023

/*
 * CTX_CREATE: create context hdr.ctx_id (guest-chosen). Without SHARE_VM it gets a new VM
 * named vm_id in its namespace; with SHARE_VM it joins VM vm_id of context share_ctx_id, under
 * the same id.
 */
struct viova_cmd_ctx_create {
	struct viova_cmd_hdr hdr;
	uint32_t flags;	       /* VIOVA_CTX_CREATE_* */
	uint32_t params;       /* VIOVA_CTX_* parameters */
	int32_t priority;      /* VIOVA_PRIORITY_MIN..MAX */
	uint32_t vm_id;	       /* nonzero */
	uint32_t share_ctx_id; /* SHARE_VM: the owner of vm_id; else 0 */
	uint32_t pad0;
};
VIOVA_WIRE_SIZE(viova_cmd_ctx_create, 48);
VIOVA_WIRE_FIELD(viova_cmd_ctx_create, hdr, 0, 24);
VIOVA_WIRE_FIELD(viova_cmd_ctx_create, flags, 24, 4);
VIOVA_WIRE_FIELD(viova_cmd_ctx_create, params, 28, 4);
VIOVA_WIRE_FIELD(viova_cmd_ctx_create, priority, 32, 4);
VIOVA_WIRE_FIELD(viova_cmd_ctx_create, vm_id, 36, 4);
VIOVA_WIRE_FIELD(viova_cmd_ctx_create, share_ctx_id, 40, 4);
VIOVA_WIRE_FIELD(viova_cmd_ctx_create, pad0, 44, 4);

/* CTX_CLONE flags: what the new context copies from the source (seed 003 semantics). */
#define VIOVA_CLONE_ENGINES (1u << 0)
#define VIOVA_CLONE_FLAGS (1u << 1)
#define VIOVA_CLONE_SCHEDATTR (1u << 2)
#define VIOVA_CLONE_SSEU (1u << 3)
#define VIOVA_CLONE_TIMELINE (1u << 4)
#define VIOVA_CLONE_VM (1u << 5)
/*
 * Exactly the bits of this minor, not ~0: an older host then rejects a newer guest's ALL
 * (unknown bit) instead of silently cloning less than the guest asked for.
 */
#define VIOVA_CLONE_ALL                                                                            \
	(VIOVA_CLONE_ENGINES | VIOVA_CLONE_FLAGS | VIOVA_CLONE_SCHEDATTR | VIOVA_CLONE_SSEU |      \
	 VIOVA_CLONE_TIMELINE | VIOVA_CLONE_VM)

/*
 * CTX_CLONE: create context hdr.ctx_id as a copy of src_ctx_id. With VIOVA_CLONE_VM it shares
 * the source's VM (vm_id must be 0); without, it gets a fresh VM named vm_id.
 */
struct viova_cmd_ctx_clone {
	struct viova_cmd_hdr hdr;
	uint32_t src_ctx_id;
	uint32_t flags; /* VIOVA_CLONE_* */
	uint32_t vm_id;
	uint32_t pad0;
};
VIOVA_WIRE_SIZE(viova_cmd_ctx_clone, 40);
VIOVA_WIRE_FIELD(viova_cmd_ctx_clone, hdr, 0, 24);
VIOVA_WIRE_FIELD(viova_cmd_ctx_clone, src_ctx_id, 24, 4);
VIOVA_WIRE_FIELD(viova_cmd_ctx_clone, flags, 28, 4);
VIOVA_WIRE_FIELD(viova_cmd_ctx_clone, vm_id, 32, 4);
VIOVA_WIRE_FIELD(viova_cmd_ctx_clone, pad0, 36, 4);

/* CTX_DESTROY: destroy hdr.ctx_id and everything only it owns. */
struct viova_cmd_ctx_destroy {
	struct viova_cmd_hdr hdr;
};
VIOVA_WIRE_SIZE(viova_cmd_ctx_destroy, 24);
VIOVA_WIRE_FIELD(viova_cmd_ctx_destroy, hdr, 0, 24);

/* VM_CREATE: an additional VM (address space) vm_id in context hdr.ctx_id. */
struct viova_cmd_vm_create {
	struct viova_cmd_hdr hdr;
	uint32_t vm_id;
	uint32_t flags; /* none defined: must be 0 */
};
VIOVA_WIRE_SIZE(viova_cmd_vm_create, 32);
VIOVA_WIRE_FIELD(viova_cmd_vm_create, hdr, 0, 24);
VIOVA_WIRE_FIELD(viova_cmd_vm_create, vm_id, 24, 4);
VIOVA_WIRE_FIELD(viova_cmd_vm_create, flags, 28, 4);

struct viova_cmd_vm_destroy {
	struct viova_cmd_hdr hdr;
	uint32_t vm_id;
	uint32_t pad0;
};
VIOVA_WIRE_SIZE(viova_cmd_vm_destroy, 32);
VIOVA_WIRE_FIELD(viova_cmd_vm_destroy, hdr, 0, 24);
VIOVA_WIRE_FIELD(viova_cmd_vm_destroy, vm_id, 24, 4);
VIOVA_WIRE_FIELD(viova_cmd_vm_destroy, pad0, 28, 4);

/* ------------------------------------------------------------------------------------------ */
/* Buffers and mappings                                                                        */
/* ------------------------------------------------------------------------------------------ */

/* GEM_NEW flags */
#define VIOVA_GEM_GPU_READONLY (1u << 0)
#define VIOVA_GEM_CACHED_COHERENT (1u << 1) /* default caching is write-combined */
#define VIOVA_GEM_UNCACHED (1u << 2)	    /* exclusive with CACHED_COHERENT */
#define VIOVA_GEM_FLAGS_ALL                                                                        \
	(VIOVA_GEM_GPU_READONLY | VIOVA_GEM_CACHED_COHERENT | VIOVA_GEM_UNCACHED)

/*
 * GEM_NEW: buffer buf_id (guest-chosen) of size bytes. iova != 0 maps it at iova in VM vm_id
 * (0 = the context's own VM) as part of the creation: both happen or neither.
 */
struct viova_cmd_gem_new {
	struct viova_cmd_hdr hdr;
	uint32_t buf_id;
	uint32_t flags; /* VIOVA_GEM_* */
	uint64_t size;
	uint64_t iova;	/* 0 = no mapping */
	uint32_t vm_id; /* must be 0 when iova is 0 */
	uint32_t pad0;
};
VIOVA_WIRE_SIZE(viova_cmd_gem_new, 56);
VIOVA_WIRE_FIELD(viova_cmd_gem_new, hdr, 0, 24);
VIOVA_WIRE_FIELD(viova_cmd_gem_new, buf_id, 24, 4);
VIOVA_WIRE_FIELD(viova_cmd_gem_new, flags, 28, 4);
VIOVA_WIRE_FIELD(viova_cmd_gem_new, size, 32, 8);
VIOVA_WIRE_FIELD(viova_cmd_gem_new, iova, 40, 8);
VIOVA_WIRE_FIELD(viova_cmd_gem_new, vm_id, 48, 4);
VIOVA_WIRE_FIELD(viova_cmd_gem_new, pad0, 52, 4);

struct viova_cmd_gem_close {
	struct viova_cmd_hdr hdr;
	uint32_t buf_id;
	uint32_t pad0;
};
VIOVA_WIRE_SIZE(viova_cmd_gem_close, 32);
VIOVA_WIRE_FIELD(viova_cmd_gem_close, hdr, 0, 24);
VIOVA_WIRE_FIELD(viova_cmd_gem_close, buf_id, 24, 4);
VIOVA_WIRE_FIELD(viova_cmd_gem_close, pad0, 28, 4);

/* SET_IOVA: map the whole buffer at iova in VM vm_id (0 = the context's VM); iova 0 clears. */
struct viova_cmd_set_iova {
	struct viova_cmd_hdr hdr;
	uint32_t buf_id;
	uint32_t vm_id;
	uint64_t iova;
};
VIOVA_WIRE_SIZE(viova_cmd_set_iova, 40);
VIOVA_WIRE_FIELD(viova_cmd_set_iova, hdr, 0, 24);
VIOVA_WIRE_FIELD(viova_cmd_set_iova, buf_id, 24, 4);
VIOVA_WIRE_FIELD(viova_cmd_set_iova, vm_id, 28, 4);
VIOVA_WIRE_FIELD(viova_cmd_set_iova, iova, 32, 8);

/* VM_BIND flags */
#define VIOVA_BIND_READONLY (1u << 0)
#define VIOVA_BIND_FLAGS_ALL (VIOVA_BIND_READONLY)

/* VM_BIND: map [buf_offset, buf_offset + range) of buf_id at [addr, addr + range) in vm_id. */
struct viova_cmd_vm_bind {
	struct viova_cmd_hdr hdr;
	uint32_t vm_id; /* 0 = the context's VM */
	uint32_t buf_id;
	uint64_t addr;
	uint64_t range;
	uint64_t buf_offset;
	uint32_t flags; /* VIOVA_BIND_* */
	uint32_t pad0;
};
VIOVA_WIRE_SIZE(viova_cmd_vm_bind, 64);
VIOVA_WIRE_FIELD(viova_cmd_vm_bind, hdr, 0, 24);
VIOVA_WIRE_FIELD(viova_cmd_vm_bind, vm_id, 24, 4);
VIOVA_WIRE_FIELD(viova_cmd_vm_bind, buf_id, 28, 4);
VIOVA_WIRE_FIELD(viova_cmd_vm_bind, addr, 32, 8);
VIOVA_WIRE_FIELD(viova_cmd_vm_bind, range, 40, 8);
VIOVA_WIRE_FIELD(viova_cmd_vm_bind, buf_offset, 48, 8);
VIOVA_WIRE_FIELD(viova_cmd_vm_bind, flags, 56, 4);
VIOVA_WIRE_FIELD(viova_cmd_vm_bind, pad0, 60, 4);

/* VM_UNBIND: remove every mapping piece inside [addr, addr + range) (splitting at the edges). */
struct viova_cmd_vm_unbind {
	struct viova_cmd_hdr hdr;
	uint32_t vm_id; /* 0 = the context's VM */
	uint32_t pad0;
	uint64_t addr;
	uint64_t range;
};
VIOVA_WIRE_SIZE(viova_cmd_vm_unbind, 48);
VIOVA_WIRE_FIELD(viova_cmd_vm_unbind, hdr, 0, 24);
VIOVA_WIRE_FIELD(viova_cmd_vm_unbind, vm_id, 24, 4);
VIOVA_WIRE_FIELD(viova_cmd_vm_unbind, pad0, 28, 4);
VIOVA_WIRE_FIELD(viova_cmd_vm_unbind, addr, 32, 8);
VIOVA_WIRE_FIELD(viova_cmd_vm_unbind, range, 40, 8);

/* ------------------------------------------------------------------------------------------ */
/* Data path without host-mapped memory                                                        */
/* ------------------------------------------------------------------------------------------ */

/*
 * GEM_UPLOAD: write size bytes, carried inline at data_offset (from the command start), into
 * buf_id at buf_offset. data_offset >= the struct size, 8-aligned; the command ends at
 * data_offset + size rounded up to 8 with zero padding.
 */
struct viova_cmd_gem_upload {
	struct viova_cmd_hdr hdr;
	uint32_t buf_id;
	uint32_t data_offset;
	uint64_t buf_offset;
	uint64_t size;
};
VIOVA_WIRE_SIZE(viova_cmd_gem_upload, 48);
VIOVA_WIRE_FIELD(viova_cmd_gem_upload, hdr, 0, 24);
VIOVA_WIRE_FIELD(viova_cmd_gem_upload, buf_id, 24, 4);
VIOVA_WIRE_FIELD(viova_cmd_gem_upload, data_offset, 28, 4);
VIOVA_WIRE_FIELD(viova_cmd_gem_upload, buf_offset, 32, 8);
VIOVA_WIRE_FIELD(viova_cmd_gem_upload, size, 40, 8);

/*
 * GEM_DOWNLOAD: the host writes a viova_resp_hdr at resp_offset of the response payload
 * region, followed by size bytes read from buf_id at buf_offset.
 */
struct viova_cmd_gem_download {
	struct viova_cmd_hdr hdr;
	uint32_t buf_id;
	uint32_t resp_offset; /* 8-aligned, relative to the payload region */
	uint64_t buf_offset;
	uint64_t size;
};
VIOVA_WIRE_SIZE(viova_cmd_gem_download, 48);
VIOVA_WIRE_FIELD(viova_cmd_gem_download, hdr, 0, 24);
VIOVA_WIRE_FIELD(viova_cmd_gem_download, buf_id, 24, 4);
VIOVA_WIRE_FIELD(viova_cmd_gem_download, resp_offset, 28, 4);
VIOVA_WIRE_FIELD(viova_cmd_gem_download, buf_offset, 32, 8);
VIOVA_WIRE_FIELD(viova_cmd_gem_download, size, 40, 8);

/* ------------------------------------------------------------------------------------------ */
/* Submission and fences                                                                       */
/* ------------------------------------------------------------------------------------------ */

/* SUBMIT formats of the command area */
#define VIOVA_SUBMIT_FORMAT_SIM 1    /* array of viova_sim_job (sim backend) */
#define VIOVA_SUBMIT_FORMAT_CMDBUF 2 /* array of viova_submit_cmdbuf (msm, i915) */

/* viova_submit_bo.flags */
#define VIOVA_SUBMIT_BO_READ (1u << 0)
#define VIOVA_SUBMIT_BO_WRITE (1u << 1)
#define VIOVA_SUBMIT_BO_DUMP (1u << 2)
#define VIOVA_SUBMIT_BO_FLAGS_ALL                                                                  \
	(VIOVA_SUBMIT_BO_READ | VIOVA_SUBMIT_BO_WRITE | VIOVA_SUBMIT_BO_DUMP)

/*
 * SUBMIT: run a job on context hdr.ctx_id's VM. The buffer list (bo_count x viova_submit_bo at
 * bo_offset) names every buffer the job touches, so the host keeps their iovas busy until the
 * job's fence signals. The command area (cmd_size bytes at cmd_offset) holds job records in
 * the given format. The job signals out_fence on the context's timeline (strictly increasing).
 */
struct viova_cmd_submit {
	struct viova_cmd_hdr hdr;
	uint32_t flags;	 /* none defined: must be 0 */
	uint32_t format; /* VIOVA_SUBMIT_FORMAT_* */
	uint64_t out_fence;
	uint32_t bo_offset; /* from the command start; 0 when bo_count is 0 */
	uint32_t bo_count;
	uint32_t cmd_offset; /* from the command start */
	uint32_t cmd_size;   /* bytes, a nonzero multiple of the format's record size */
};
VIOVA_WIRE_SIZE(viova_cmd_submit, 56);
VIOVA_WIRE_FIELD(viova_cmd_submit, hdr, 0, 24);
VIOVA_WIRE_FIELD(viova_cmd_submit, flags, 24, 4);
VIOVA_WIRE_FIELD(viova_cmd_submit, format, 28, 4);
VIOVA_WIRE_FIELD(viova_cmd_submit, out_fence, 32, 8);
VIOVA_WIRE_FIELD(viova_cmd_submit, bo_offset, 40, 4);
VIOVA_WIRE_FIELD(viova_cmd_submit, bo_count, 44, 4);
VIOVA_WIRE_FIELD(viova_cmd_submit, cmd_offset, 48, 4);
VIOVA_WIRE_FIELD(viova_cmd_submit, cmd_size, 52, 4);

struct viova_submit_bo {
	uint32_t buf_id;
	uint32_t flags; /* VIOVA_SUBMIT_BO_*: READ and/or WRITE required */
};
VIOVA_WIRE_SIZE(viova_submit_bo, 8);
VIOVA_WIRE_FIELD(viova_submit_bo, buf_id, 0, 4);
VIOVA_WIRE_FIELD(viova_submit_bo, flags, 4, 4);

/* viova_submit_cmdbuf.type (msm submit cmd types; i915 takes one BUF: the batch buffer) */
#define VIOVA_CMDBUF_BUF 1
#define VIOVA_CMDBUF_IB_TARGET 2
#define VIOVA_CMDBUF_CTX_RESTORE 3

/* A driver command stream piece: size bytes at offset inside buffer bos[bo_index]. */
struct viova_submit_cmdbuf {
	uint32_t bo_index; /* < bo_count */
	uint32_t type;	   /* VIOVA_CMDBUF_* */
	uint64_t offset;
	uint64_t size;
};
VIOVA_WIRE_SIZE(viova_submit_cmdbuf, 24);
VIOVA_WIRE_FIELD(viova_submit_cmdbuf, bo_index, 0, 4);
VIOVA_WIRE_FIELD(viova_submit_cmdbuf, type, 4, 4);
VIOVA_WIRE_FIELD(viova_submit_cmdbuf, offset, 8, 8);
VIOVA_WIRE_FIELD(viova_submit_cmdbuf, size, 16, 8);

/*
 * Sim GPU job words. Every address is an iova of the submitting context's VM and is
 * translated through its mappings; a miss faults the job and loses the context.
 *   FILL        arg0 = iova (4-aligned), arg1 = size (nonzero multiple of 4),
 *               arg2 = 32-bit pattern repeated
 *   COPY        arg0 = dst iova, arg1 = src iova, arg2 = size (nonzero); ranges must not overlap
 *   WRITE_FENCE arg0 = iova (8-aligned), arg1 = 64-bit value written, arg2 = 0
 */
#define VIOVA_SIM_OP_FILL 1
#define VIOVA_SIM_OP_COPY 2
#define VIOVA_SIM_OP_WRITE_FENCE 3

struct viova_sim_job {
	uint32_t op;	/* VIOVA_SIM_OP_* */
	uint32_t flags; /* none defined: must be 0 */
	uint64_t arg0;
	uint64_t arg1;
	uint64_t arg2;
};
VIOVA_WIRE_SIZE(viova_sim_job, 32);
VIOVA_WIRE_FIELD(viova_sim_job, op, 0, 4);
VIOVA_WIRE_FIELD(viova_sim_job, flags, 4, 4);
VIOVA_WIRE_FIELD(viova_sim_job, arg0, 8, 8);
VIOVA_WIRE_FIELD(viova_sim_job, arg1, 16, 8);
VIOVA_WIRE_FIELD(viova_sim_job, arg2, 24, 8);

/*
 * WAIT_FENCE: wait until context hdr.ctx_id has completed fence (at most timeout_ns, capped by
 * capset.max_wait_ns), then write a viova_resp_hdr (err 0 or VIOVA_ETIMEDOUT) followed by a
 * viova_fence_status at resp_offset.
 */
struct viova_cmd_wait_fence {
	struct viova_cmd_hdr hdr;
	uint64_t fence;
	uint64_t timeout_ns;
	uint32_t resp_offset;
	uint32_t flags; /* none defined: must be 0 */
};
VIOVA_WIRE_SIZE(viova_cmd_wait_fence, 48);
VIOVA_WIRE_FIELD(viova_cmd_wait_fence, hdr, 0, 24);
VIOVA_WIRE_FIELD(viova_cmd_wait_fence, fence, 24, 8);
VIOVA_WIRE_FIELD(viova_cmd_wait_fence, timeout_ns, 32, 8);
VIOVA_WIRE_FIELD(viova_cmd_wait_fence, resp_offset, 40, 4);
VIOVA_WIRE_FIELD(viova_cmd_wait_fence, flags, 44, 4);

struct viova_fence_status {
	uint64_t completed_fence; /* the context's last completed fence at reply time */
};
VIOVA_WIRE_SIZE(viova_fence_status, 8);
VIOVA_WIRE_FIELD(viova_fence_status, completed_fence, 0, 8);

/* QUERY subjects */
#define VIOVA_QUERY_CAPS 1	/* ctx_id 0; answers struct viova_capset */
#define VIOVA_QUERY_CTX_STATS 2 /* ctx_id != 0; answers struct viova_ctx_stats */

/*
 * QUERY: the host writes a viova_resp_hdr and up to resp_size - 16 bytes of the answer at
 * resp_offset; viova_resp_hdr.size says how many bytes the full answer has.
 */
struct viova_cmd_query {
	struct viova_cmd_hdr hdr;
	uint32_t what; /* VIOVA_QUERY_* */
	uint32_t resp_offset;
	uint32_t resp_size; /* bytes reserved at resp_offset, >= 16, multiple of 8 */
	uint32_t pad0;
};
VIOVA_WIRE_SIZE(viova_cmd_query, 40);
VIOVA_WIRE_FIELD(viova_cmd_query, hdr, 0, 24);
VIOVA_WIRE_FIELD(viova_cmd_query, what, 24, 4);
VIOVA_WIRE_FIELD(viova_cmd_query, resp_offset, 28, 4);
VIOVA_WIRE_FIELD(viova_cmd_query, resp_size, 32, 4);
VIOVA_WIRE_FIELD(viova_cmd_query, pad0, 36, 4);

struct viova_ctx_stats {
	uint64_t submits;
	uint64_t completed_fence;
	uint64_t bytes; /* bytes of live buffers */
	uint64_t errors;
	uint32_t faults;
	uint32_t lost;
	uint32_t buffers;
	uint32_t mappings;
	uint32_t vms;
	uint32_t pad0;
};
VIOVA_WIRE_SIZE(viova_ctx_stats, 56);
VIOVA_WIRE_FIELD(viova_ctx_stats, submits, 0, 8);
VIOVA_WIRE_FIELD(viova_ctx_stats, completed_fence, 8, 8);
VIOVA_WIRE_FIELD(viova_ctx_stats, bytes, 16, 8);
VIOVA_WIRE_FIELD(viova_ctx_stats, errors, 24, 8);
VIOVA_WIRE_FIELD(viova_ctx_stats, faults, 32, 4);
VIOVA_WIRE_FIELD(viova_ctx_stats, lost, 36, 4);
VIOVA_WIRE_FIELD(viova_ctx_stats, buffers, 40, 4);
VIOVA_WIRE_FIELD(viova_ctx_stats, mappings, 44, 4);
VIOVA_WIRE_FIELD(viova_ctx_stats, vms, 48, 4);
VIOVA_WIRE_FIELD(viova_ctx_stats, pad0, 52, 4);

/* ------------------------------------------------------------------------------------------ */
/* Response area (shared memory; the host writes, the guest reads, except err_tail)           */
/* ------------------------------------------------------------------------------------------ */

/* Smallest payload region the host accepts (room for QUERY CAPS and a few replies). */
#define VIOVA_RESP_MIN_PAYLOAD 4096
/* Error ring capacity used when RESP_INIT asks for 0. */
#define VIOVA_RESP_DEFAULT_ERR_RECORDS 64
/* Largest error ring a host accepts. */
#define VIOVA_RESP_MAX_ERR_RECORDS 65536

/*
 * Area header. Fields up to "reserved0" are written once by the host at RESP_INIT, magic last.
 * The second cache line holds what the host keeps updating; the third holds the one field the
 * guest writes (err_tail), so host and guest never write the same line.
 */
struct viova_resp_area {
	uint32_t magic; /* VIOVA_RESP_MAGIC, stored last (release) */
	uint16_t major;
	uint16_t minor;
	uint32_t hdr_size;  /* sizeof(struct viova_resp_area) of the host */
	uint32_t area_size; /* bytes */
	uint32_t ctx_offset;
	uint32_t ctx_count; /* slots; slot i is context id i, slot 0 unused */
	uint32_t err_offset;
	uint32_t err_capacity; /* records, a power of two */
	uint32_t payload_offset;
	uint32_t payload_size;
	uint32_t ctx_slot_size; /* sizeof(struct viova_resp_ctx) */
	uint32_t err_rec_size;	/* sizeof(struct viova_err_rec) */
	uint64_t reserved0[2];
	/* host-updated, cache line 1 */
	uint64_t processed_seqno; /* release-stored after each batch / SYNC */
	uint64_t batches;	  /* batches processed, diagnostics */
	uint32_t err_head;	  /* records produced (free-running) */
	uint32_t err_overflow;	  /* records dropped because the ring was full */
	uint64_t reserved1[5];
	/* guest-updated, cache line 2 */
	uint32_t err_tail; /* records consumed (free-running) */
	uint32_t pad0;
	uint64_t reserved2[7];
};
VIOVA_WIRE_SIZE(viova_resp_area, 192);
VIOVA_WIRE_FIELD(viova_resp_area, magic, 0, 4);
VIOVA_WIRE_FIELD(viova_resp_area, major, 4, 2);
VIOVA_WIRE_FIELD(viova_resp_area, minor, 6, 2);
VIOVA_WIRE_FIELD(viova_resp_area, hdr_size, 8, 4);
VIOVA_WIRE_FIELD(viova_resp_area, area_size, 12, 4);
VIOVA_WIRE_FIELD(viova_resp_area, ctx_offset, 16, 4);
VIOVA_WIRE_FIELD(viova_resp_area, ctx_count, 20, 4);
VIOVA_WIRE_FIELD(viova_resp_area, err_offset, 24, 4);
VIOVA_WIRE_FIELD(viova_resp_area, err_capacity, 28, 4);
VIOVA_WIRE_FIELD(viova_resp_area, payload_offset, 32, 4);
VIOVA_WIRE_FIELD(viova_resp_area, payload_size, 36, 4);
VIOVA_WIRE_FIELD(viova_resp_area, ctx_slot_size, 40, 4);
VIOVA_WIRE_FIELD(viova_resp_area, err_rec_size, 44, 4);
VIOVA_WIRE_FIELD(viova_resp_area, reserved0, 48, 16);
VIOVA_WIRE_FIELD(viova_resp_area, processed_seqno, 64, 8);
VIOVA_WIRE_FIELD(viova_resp_area, batches, 72, 8);
VIOVA_WIRE_FIELD(viova_resp_area, err_head, 80, 4);
VIOVA_WIRE_FIELD(viova_resp_area, err_overflow, 84, 4);
VIOVA_WIRE_FIELD(viova_resp_area, reserved1, 88, 40);
VIOVA_WIRE_FIELD(viova_resp_area, err_tail, 128, 4);
VIOVA_WIRE_FIELD(viova_resp_area, pad0, 132, 4);
VIOVA_WIRE_FIELD(viova_resp_area, reserved2, 136, 56);

/* Per-context slot, index = ctx id. Reset to zero when the context is created. */
struct viova_resp_ctx {
	uint64_t completed_fence; /* release-stored when a job's fence signals */
	uint64_t fault_iova;	  /* address of the last GPU fault */
	uint32_t faults;	  /* GPU faults so far */
	uint32_t lost;		  /* 1 once the context is lost; stored after lost_err (release) */
	uint32_t lost_err;	  /* wire errno that lost it */
	uint32_t active;	  /* 1 while the context exists */
};
VIOVA_WIRE_SIZE(viova_resp_ctx, 32);
VIOVA_WIRE_FIELD(viova_resp_ctx, completed_fence, 0, 8);
VIOVA_WIRE_FIELD(viova_resp_ctx, fault_iova, 8, 8);
VIOVA_WIRE_FIELD(viova_resp_ctx, faults, 16, 4);
VIOVA_WIRE_FIELD(viova_resp_ctx, lost, 20, 4);
VIOVA_WIRE_FIELD(viova_resp_ctx, lost_err, 24, 4);
VIOVA_WIRE_FIELD(viova_resp_ctx, active, 28, 4);

/* viova_err_rec.flags */
#define VIOVA_ERR_CTX_LOST (1u << 0)	/* this error marked ctx_id lost */
#define VIOVA_ERR_ASYNC (1u << 1)	/* raised after the command was processed (GPU fault) */
#define VIOVA_ERR_BATCH_ABORT (1u << 2) /* framing broken: the rest of the batch was skipped */

/*
 * One error log record. detail0/detail1 are per-command (docs/protocol.md); for decode
 * rejections detail0 is the offending value and detail1 the field's byte offset in the command.
 */
struct viova_err_rec {
	uint64_t seqno; /* command that failed (0 if unknown: batch framing) */
	uint64_t detail0;
	uint64_t detail1;
	uint16_t cmd;	 /* VIOVA_CMD_* (0 if unknown) */
	uint16_t reason; /* VIOVA_REASON_* */
	uint32_t ctx_id;
	uint32_t err;	/* VIOVA_E* */
	uint32_t flags; /* VIOVA_ERR_* */
};
VIOVA_WIRE_SIZE(viova_err_rec, 40);
VIOVA_WIRE_FIELD(viova_err_rec, seqno, 0, 8);
VIOVA_WIRE_FIELD(viova_err_rec, detail0, 8, 8);
VIOVA_WIRE_FIELD(viova_err_rec, detail1, 16, 8);
VIOVA_WIRE_FIELD(viova_err_rec, cmd, 24, 2);
VIOVA_WIRE_FIELD(viova_err_rec, reason, 26, 2);
VIOVA_WIRE_FIELD(viova_err_rec, ctx_id, 28, 4);
VIOVA_WIRE_FIELD(viova_err_rec, err, 32, 4);
VIOVA_WIRE_FIELD(viova_err_rec, flags, 36, 4);

/*
 * Header of a per-command response in the payload region (GEM_DOWNLOAD, WAIT_FENCE, QUERY).
 * The data follows it; seqno is stored last (release), so a guest that reads its own seqno
 * here knows the response is complete.
 */
struct viova_resp_hdr {
	uint64_t seqno; /* the command this answers */
	uint32_t err;	/* 0 or VIOVA_E* */
	uint32_t size;	/* bytes of data that follow (full answer size for QUERY) */
};
VIOVA_WIRE_SIZE(viova_resp_hdr, 16);
VIOVA_WIRE_FIELD(viova_resp_hdr, seqno, 0, 8);
VIOVA_WIRE_FIELD(viova_resp_hdr, err, 8, 4);
VIOVA_WIRE_FIELD(viova_resp_hdr, size, 12, 4);

#pragma GCC diagnostic pop

#endif /* VIOVA_PROTOCOL_H */

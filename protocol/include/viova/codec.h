/* SPDX-License-Identifier: MIT */
/*
 * viova/codec.h - encoder (guest), strict decoder (host), response-area helpers (both sides)
 * and the name/layout tables of the viova wire format defined in viova/protocol.h.
 *
 * Errors follow docs/conventions.md: 0 (or a documented positive count) on success, a negative
 * errno on failure. Nothing here allocates memory or takes locks; every buffer is the caller's.
 * One encoder, decoder or response-area handle must not be used by two threads at once.
 */
#ifndef VIOVA_CODEC_H
#define VIOVA_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "viova/protocol.h"

/* ========================================================================================== */
/* Encoder (guest side)                                                                        */
/* ========================================================================================== */

/*
 * Appends commands into one caller-owned batch buffer. The first sizeof(viova_batch_hdr)
 * bytes are reserved for the batch header, written by viova_codec_enc_finish().
 *
 * Every append either writes the whole command or nothing:
 *   -ENOSPC    it does not fit in what is left: send the batch (finish + transport), reset, retry;
 *   -EMSGSIZE  it cannot fit even into an empty batch of this capacity (or exceeds the 4 GiB a
 *              batch length can express): split it (uploads) or use a bigger buffer;
 *   -EINVAL    a NULL array or data pointer with a nonzero count or size.
 * Seqnos are assigned from a counter that survives viova_codec_enc_reset(), so they stay
 * strictly increasing over the life of the connection; a failed append consumes none.
 * The encoder does not judge values (ids, flags, ranges): the host decoder is the authority.
 */
struct viova_codec_encoder {
	/* private: use the functions below */
	uint8_t *buf;
	size_t cap;
	size_t len;
	uint64_t next_seqno;
	uint64_t last_seqno;
	uint32_t count;
};

/*
 * viova_codec_enc_init - start encoding into buf[0..cap). first_seqno is the seqno of the first
 * command (nonzero; 0 is "nothing processed yet" in the response area). buf must stay valid
 * while the encoder is used; the encoder never writes outside it.
 * Returns 0, or -EINVAL if buf is NULL, first_seqno is 0, or cap cannot hold the batch header
 * and one command header.
 */
int viova_codec_enc_init(struct viova_codec_encoder *e, void *buf, size_t cap,
			 uint64_t first_seqno);

/* viova_codec_enc_reset - drop the appended commands (after sending them); seqnos continue. */
void viova_codec_enc_reset(struct viova_codec_encoder *e);

/*
 * viova_codec_enc_finish - write the batch header; *len receives the batch size to send
 * (buf[0..*len)). The encoder keeps its content until reset, so finish may be called again.
 * Returns 0, or -ENODATA if no command was appended (nothing to send).
 */
int viova_codec_enc_finish(struct viova_codec_encoder *e, size_t *len);

/* Commands appended since the last reset, and bytes used (batch header included). */
uint32_t viova_codec_enc_count(const struct viova_codec_encoder *e);
size_t viova_codec_enc_size(const struct viova_codec_encoder *e);
/* Seqno the next appended command will get. */
uint64_t viova_codec_enc_next_seqno(const struct viova_codec_encoder *e);
/* Largest GEM_UPLOAD data that fits into an empty batch of this encoder's capacity. */
uint64_t viova_codec_enc_upload_max(const struct viova_codec_encoder *e);

/*
 * Typed appends, one per command. ctx_id goes into the command header; *seqno (may be NULL)
 * receives the seqno given to the command. Errors: -ENOSPC, -EMSGSIZE, -EINVAL as above.
 */
int viova_codec_enc_nop(struct viova_codec_encoder *e, uint64_t *seqno);
int viova_codec_enc_sync(struct viova_codec_encoder *e, uint64_t *seqno);
int viova_codec_enc_resp_init(struct viova_codec_encoder *e, uint32_t res_id, uint32_t err_records,
			      uint64_t size, uint64_t *seqno);
int viova_codec_enc_ctx_create(struct viova_codec_encoder *e, uint32_t ctx_id, uint32_t flags,
			       uint32_t params, int32_t priority, uint32_t vm_id,
			       uint32_t share_ctx_id, uint64_t *seqno);
int viova_codec_enc_ctx_clone(struct viova_codec_encoder *e, uint32_t ctx_id, uint32_t src_ctx_id,
			      uint32_t flags, uint32_t vm_id, uint64_t *seqno);
int viova_codec_enc_ctx_destroy(struct viova_codec_encoder *e, uint32_t ctx_id, uint64_t *seqno);
int viova_codec_enc_vm_create(struct viova_codec_encoder *e, uint32_t ctx_id, uint32_t vm_id,
			      uint32_t flags, uint64_t *seqno);
int viova_codec_enc_vm_destroy(struct viova_codec_encoder *e, uint32_t ctx_id, uint32_t vm_id,
			       uint64_t *seqno);
int viova_codec_enc_gem_new(struct viova_codec_encoder *e, uint32_t ctx_id, uint32_t buf_id,
			    uint32_t flags, uint64_t size, uint32_t vm_id, uint64_t iova,
			    uint64_t *seqno);
int viova_codec_enc_gem_close(struct viova_codec_encoder *e, uint32_t ctx_id, uint32_t buf_id,
			      uint64_t *seqno);
int viova_codec_enc_set_iova(struct viova_codec_encoder *e, uint32_t ctx_id, uint32_t buf_id,
			     uint32_t vm_id, uint64_t iova, uint64_t *seqno);

/* Arguments of VM_BIND (the wire struct's body fields). */
struct viova_codec_bind {
	uint32_t vm_id;
	uint32_t buf_id;
	uint64_t addr;
	uint64_t range;
	uint64_t buf_offset;
	uint32_t flags;
};
int viova_codec_enc_vm_bind(struct viova_codec_encoder *e, uint32_t ctx_id,
			    const struct viova_codec_bind *bind, uint64_t *seqno);
int viova_codec_enc_vm_unbind(struct viova_codec_encoder *e, uint32_t ctx_id, uint32_t vm_id,
			      uint64_t addr, uint64_t range, uint64_t *seqno);

/* GEM_UPLOAD: copies data[0..size) inline into the batch. */
int viova_codec_enc_gem_upload(struct viova_codec_encoder *e, uint32_t ctx_id, uint32_t buf_id,
			       uint64_t buf_offset, const void *data, uint64_t size,
			       uint64_t *seqno);
int viova_codec_enc_gem_download(struct viova_codec_encoder *e, uint32_t ctx_id, uint32_t buf_id,
				 uint64_t buf_offset, uint64_t size, uint32_t resp_offset,
				 uint64_t *seqno);

/*
 * Arguments of SUBMIT. cmds points to cmd_count records of the format's type
 * (struct viova_sim_job for VIOVA_SUBMIT_FORMAT_SIM, struct viova_submit_cmdbuf for
 * VIOVA_SUBMIT_FORMAT_CMDBUF); both arrays are copied into the batch. An unknown format is
 * encoded with 8-byte records so that decoder tests can produce it.
 */
struct viova_codec_submit {
	uint32_t flags;
	uint32_t format;
	uint64_t out_fence;
	const struct viova_submit_bo *bos;
	uint32_t bo_count;
	const void *cmds;
	uint32_t cmd_count;
};
int viova_codec_enc_submit(struct viova_codec_encoder *e, uint32_t ctx_id,
			   const struct viova_codec_submit *submit, uint64_t *seqno);
int viova_codec_enc_wait_fence(struct viova_codec_encoder *e, uint32_t ctx_id, uint64_t fence,
			       uint64_t timeout_ns, uint32_t resp_offset, uint64_t *seqno);
int viova_codec_enc_query(struct viova_codec_encoder *e, uint32_t ctx_id, uint32_t what,
			  uint32_t resp_offset, uint32_t resp_size, uint64_t *seqno);

/* Record size of a SUBMIT format (0 for an unknown format). */
uint32_t viova_codec_submit_record_size(uint32_t format);

/* Sim GPU job constructors (values are not checked here; the decoder checks them). */
static inline struct viova_sim_job viova_codec_sim_fill(uint64_t iova, uint64_t size,
							uint32_t pattern)
{
	return (struct viova_sim_job){
	    .op = VIOVA_SIM_OP_FILL, .arg0 = iova, .arg1 = size, .arg2 = pattern};
}
static inline struct viova_sim_job viova_codec_sim_copy(uint64_t dst, uint64_t src, uint64_t size)
{
	return (struct viova_sim_job){
	    .op = VIOVA_SIM_OP_COPY, .arg0 = dst, .arg1 = src, .arg2 = size};
}
static inline struct viova_sim_job viova_codec_sim_write_fence(uint64_t iova, uint64_t value)
{
	return (struct viova_sim_job){.op = VIOVA_SIM_OP_WRITE_FENCE, .arg0 = iova, .arg1 = value};
}

/* ========================================================================================== */
/* Decoder (host side)                                                                         */
/* ========================================================================================== */

/*
 * DOC: decoding a batch
 *
 * The batch may sit in memory the guest can still write (virtio-gpu guest pages, a shared
 * memfd). The decoder therefore never validates in place:
 *
 *   shared batch            decoder                               caller
 *   +------------+  memcpy  +----------+  checks on the COPY   +------------------+
 *   | cmd header |--------->| local hdr|--> framing (fatal)    |                  |
 *   | body+data  |--------->| scratch  |--> body, arrays ----->| viova_codec_cmd  |
 *   +------------+          +----------+   (skip on failure)   | (+ scratch ptrs) |
 *                                                              +------------------+
 *
 * Framing errors (header truncated, length short/misaligned/overrunning) end the batch: the
 * rest cannot be located. Any other rejection skips just that command; the caller logs it
 * (viova_codec_dec_error_to_rec) and continues, so later independent commands still run.
 * After the last command, viova_codec_dec_publish_seqno() says what to publish as processed.
 */

/* Host-side decoding parameters (from the host's capset and connection state). */
struct viova_codec_dec_config {
	uint16_t host_minor;	 /* the host's wire minor (normally VIOVA_WIRE_MINOR) */
	uint32_t max_contexts;	 /* capset.max_contexts: valid ctx ids are 1..max_contexts */
	uint32_t max_batch_size; /* capset.max_batch_size (0: only the 32-bit length limits) */
	uint64_t prev_seqno;	 /* highest seqno already processed on this connection */
	void *scratch;		 /* caller-owned copy buffer, 8-byte aligned */
	size_t scratch_size;	 /* bytes; commands longer than this are rejected */
};

/* A rejection: what failed, where, and a message naming the field and its value. */
struct viova_codec_dec_error {
	int err;	       /* negative errno (see viova_codec_reason_errno) */
	uint16_t reason;       /* VIOVA_REASON_* */
	uint16_t cmd;	       /* command code, 0 if the header could not be read */
	uint32_t ctx_id;       /* header ctx id, 0 if unknown */
	uint64_t seqno;	       /* header seqno, 0 if unknown */
	uint32_t batch_offset; /* byte offset of the command in the batch */
	uint32_t field_offset; /* byte offset of the offending field in the command */
	const char *field;     /* static field name ("" for framing errors) */
	int64_t index;	       /* array element index, -1 if not in an array */
	uint64_t value;	       /* offending value */
	uint64_t limit;	       /* the bound it broke, where one applies */
	bool fatal;	       /* true: the rest of the batch was skipped */
	char msg[224]; /* e.g. "SET_IOVA (seqno 12): reserved field pad0 = 0x5, must be 0" */
};

/*
 * One decoded command, copied out of the batch. The fixed part is a private copy (zero-extended
 * when an older-minor guest sent a shorter struct). Payload pointers point into the caller's
 * scratch buffer and stay valid until the next viova_codec_dec_next() call.
 */
struct viova_codec_cmd {
	union {
		struct viova_cmd_hdr hdr;
		struct viova_cmd_nop nop;
		struct viova_cmd_sync sync;
		struct viova_cmd_resp_init resp_init;
		struct viova_cmd_ctx_create ctx_create;
		struct viova_cmd_ctx_clone ctx_clone;
		struct viova_cmd_ctx_destroy ctx_destroy;
		struct viova_cmd_vm_create vm_create;
		struct viova_cmd_vm_destroy vm_destroy;
		struct viova_cmd_gem_new gem_new;
		struct viova_cmd_gem_close gem_close;
		struct viova_cmd_set_iova set_iova;
		struct viova_cmd_vm_bind vm_bind;
		struct viova_cmd_vm_unbind vm_unbind;
		struct viova_cmd_gem_upload gem_upload;
		struct viova_cmd_gem_download gem_download;
		struct viova_cmd_submit submit;
		struct viova_cmd_wait_fence wait_fence;
		struct viova_cmd_query query;
	};
	uint16_t minor;		/* negotiated minor this command was decoded at */
	const uint8_t *data;	/* GEM_UPLOAD: size bytes of data */
	const uint8_t *bos;	/* SUBMIT: bo_count x struct viova_submit_bo */
	const uint8_t *records; /* SUBMIT: record_count records of the submit format */
	uint32_t record_count;
};

/* Element accessors for SUBMIT payloads (index must be below the count; copies, no aliasing). */
static inline struct viova_submit_bo viova_codec_cmd_bo(const struct viova_codec_cmd *c, uint32_t i)
{
	struct viova_submit_bo bo;

	memcpy(&bo, c->bos + (size_t)i * sizeof(bo), sizeof(bo));
	return bo;
}
static inline struct viova_sim_job viova_codec_cmd_sim_job(const struct viova_codec_cmd *c,
							   uint32_t i)
{
	struct viova_sim_job job;

	memcpy(&job, c->records + (size_t)i * sizeof(job), sizeof(job));
	return job;
}
static inline struct viova_submit_cmdbuf viova_codec_cmd_cmdbuf(const struct viova_codec_cmd *c,
								uint32_t i)
{
	struct viova_submit_cmdbuf cb;

	memcpy(&cb, c->records + (size_t)i * sizeof(cb), sizeof(cb));
	return cb;
}

struct viova_codec_decoder {
	/* private: use the functions below */
	const uint8_t *batch;
	size_t len;
	size_t off;
	uint8_t *scratch;
	size_t scratch_size;
	uint32_t max_contexts;
	uint16_t minor;
	bool have_last;	  /* batch header readable: its last_seqno counts */
	bool done;	  /* no more commands will be returned */
	bool end_checked; /* last_seqno was compared */
	uint64_t prev_seqno;
	uint64_t max_seqno;
	uint64_t last_seqno;	 /* from the batch header */
	uint64_t last_cmd_seqno; /* seqno of the last command whose framing was sound */
	uint64_t ncmds;
};

/*
 * viova_codec_dec_begin - start decoding batch[0..len). The batch header is copied and
 * checked (magic, major, length == len, multiple of 8, <= max_batch_size, flags 0).
 * The decoder keeps pointers to batch and cfg->scratch (not to cfg) until decoding ends.
 * Returns 0; or a negative errno with *err filled (err->fatal set; no command will be
 * returned): -EBADMSG (truncated, bad length), -EPROTO (magic), -EPROTONOSUPPORT (major),
 * -EMSGSIZE (too large), -EINVAL (flags, or a cfg without scratch).
 * Even then viova_codec_dec_publish_seqno() gives the seqno to publish.
 */
int viova_codec_dec_begin(struct viova_codec_decoder *d, const struct viova_codec_dec_config *cfg,
			  const void *batch, size_t len, struct viova_codec_dec_error *err);

/*
 * viova_codec_dec_next - decode the next command into *out.
 * Returns 1 with *out filled; 0 at the end of the batch; or a negative errno with *err
 * filled when a command is rejected (its class in err->reason, see VIOVA_REASON_*):
 *   -EBADMSG framing / too short, -EPROTO seqno order or last_seqno, -ENOSYS unknown command,
 *   -EMSGSIZE larger than scratch, -EINVAL reserved/flags/ctx/value/alignment/overlap,
 *   -EOVERFLOW wrap or array bounds, -E2BIG unknown trailing bytes not zero.
 * After a rejection with err->fatal false, call again for the next command; after a fatal
 * one (or 0) every further call returns 0.
 * On a rejection *out is zeroed except out->hdr, which holds the command's header once it
 * could be read (cmd 0 otherwise); body fields are filled only for rejections found after the
 * body was copied, never left over from an earlier command. A host must not apply a rejected
 * command; it may use out->hdr (cmd, ctx_id, seqno) to report and to apply its lost rule.
 */
int viova_codec_dec_next(struct viova_codec_decoder *d, struct viova_codec_cmd *out,
			 struct viova_codec_dec_error *err);

/*
 * viova_codec_dec_publish_seqno - the seqno to publish as processed once the caller has
 * handled every command: the largest of the batch's last_seqno (when its header was readable),
 * every command seqno seen, and cfg->prev_seqno. Never smaller than prev_seqno.
 */
uint64_t viova_codec_dec_publish_seqno(const struct viova_codec_decoder *d);

/* Fill an error-log record for a rejection (detail0 = value, detail1 = field offset). */
void viova_codec_dec_error_to_rec(const struct viova_codec_dec_error *err,
				  struct viova_err_rec *rec);

/* ========================================================================================== */
/* Response area                                                                               */
/* ========================================================================================== */

/*
 * DOC: response area ownership and memory ordering
 *
 *   writer  field(s)                                 ordering
 *   host    header (layout), magic last              magic store-release; guest load-acquire
 *   host    payload data, then viova_resp_hdr.seqno  seqno store-release
 *   host    error record, then err_head              err_head store-release
 *   host    err_overflow                             store-release
 *   host    ctx slot fields, then completed_fence / lost   store-release
 *   host    processed_seqno (after all of the above for the batch)   store-release
 *   guest   err_tail after copying records out       store-release; host load-acquire
 *
 * The host never reads anything back from the area except err_tail, and treats that as
 * untrusted (a corrupt tail makes the ring look full or emptier than it is, never out of
 * bounds): layout, indices and
 * counters live in the host's private viova_codec_resp_host.
 */

/* Offsets of the regions for an area (all within area_size, regions 8- or 64-aligned). */
struct viova_codec_resp_layout {
	uint32_t area_size;
	uint32_t ctx_offset;
	uint32_t ctx_count; /* slots: max_contexts + 1 (slot 0 unused) */
	uint32_t err_offset;
	uint32_t err_capacity;
	uint32_t payload_offset;
	uint32_t payload_size;
	uint32_t ctx_slot_size; /* stride of the ctx table (a newer host may use bigger slots) */
	uint32_t err_rec_size;	/* stride of the error ring */
};

/*
 * viova_codec_resp_layout - compute the layout of an area of area_size bytes with ctx_count
 * context slots and an error ring of err_capacity records (0 = default).
 * Returns 0; -EINVAL if ctx_count is 0 or err_capacity is not a power of two or above
 * VIOVA_RESP_MAX_ERR_RECORDS; -EOVERFLOW if area_size exceeds UINT32_MAX; -ENOSPC if the area
 * leaves less than VIOVA_RESP_MIN_PAYLOAD bytes of payload.
 */
int viova_codec_resp_layout(uint64_t area_size, uint32_t ctx_count, uint32_t err_capacity,
			    struct viova_codec_resp_layout *out);

/* Host view of an area. private: use the functions below. */
struct viova_codec_resp_host {
	uint8_t *mem;
	struct viova_codec_resp_layout lay;
	uint64_t processed;
	uint64_t batches;
	uint32_t err_head;
	uint32_t err_overflow;
};

/*
 * viova_codec_resp_host_init - lay out and initialise the area at mem (8-byte aligned, size
 * bytes, shared with the guest): zeroes it, writes the header and stores the magic last.
 * Returns 0 or an error of viova_codec_resp_layout(); -EINVAL also for a NULL/misaligned mem.
 */
int viova_codec_resp_host_init(struct viova_codec_resp_host *h, void *mem, size_t size,
			       uint32_t ctx_count, uint32_t err_capacity);

/*
 * viova_codec_resp_host_reserve - bounds-check a response of size data bytes at the
 * guest-chosen resp_offset (relative to the payload region) and return where its data goes,
 * so a backend can write downloads in place. Returns 0 with *data set; -EINVAL if resp_offset
 * is not 8-aligned; -EFAULT if resp_offset + 16 + size leaves the payload region.
 */
int viova_codec_resp_host_reserve(struct viova_codec_resp_host *h, uint32_t resp_offset,
				  uint64_t size, void **data);

/*
 * viova_codec_resp_host_commit - write the viova_resp_hdr at resp_offset (seqno last, release)
 * after the data is in place. size is what the header reports; the bounds checked are those of
 * data_size bytes (data_size <= size for a truncated QUERY answer).
 * Returns 0, -EINVAL, -EFAULT as reserve.
 */
int viova_codec_resp_host_commit(struct viova_codec_resp_host *h, uint32_t resp_offset,
				 uint64_t seqno, uint32_t err, uint32_t size, uint64_t data_size);

/* reserve + copy data + commit in one call. Same errors. */
int viova_codec_resp_host_write(struct viova_codec_resp_host *h, uint32_t resp_offset,
				uint64_t seqno, uint32_t err, const void *data, uint32_t size);

/*
 * viova_codec_resp_host_push_error - append a record to the error ring.
 * Returns 0; or -ENOSPC when the ring is full (or err_tail is corrupt): the record is dropped
 * and err_overflow counts it.
 */
int viova_codec_resp_host_push_error(struct viova_codec_resp_host *h,
				     const struct viova_err_rec *rec);

/*
 * viova_codec_resp_host_publish - store processed_seqno = seqno (release); used by SYNC.
 * Never moves backwards: a smaller seqno leaves the published value unchanged.
 */
void viova_codec_resp_host_publish(struct viova_codec_resp_host *h, uint64_t seqno);

/*
 * viova_codec_resp_host_end_batch - count a processed batch (batches, release) and publish
 * seqno (viova_codec_dec_publish_seqno()). Called once per batch, also for rejected batches,
 * so a guest whose batch header was unreadable still sees its batch consumed.
 */
void viova_codec_resp_host_end_batch(struct viova_codec_resp_host *h, uint64_t seqno);

/* Per-context slot updates. Each returns 0, or -EINVAL if ctx_id is 0 or >= ctx_count. */
int viova_codec_resp_host_ctx_open(struct viova_codec_resp_host *h, uint32_t ctx_id);
int viova_codec_resp_host_ctx_close(struct viova_codec_resp_host *h, uint32_t ctx_id);
int viova_codec_resp_host_ctx_fence(struct viova_codec_resp_host *h, uint32_t ctx_id,
				    uint64_t completed_fence);
int viova_codec_resp_host_ctx_fault(struct viova_codec_resp_host *h, uint32_t ctx_id,
				    uint32_t faults, uint64_t fault_iova);
int viova_codec_resp_host_ctx_lost(struct viova_codec_resp_host *h, uint32_t ctx_id, uint32_t err);

/* Guest view of an area. private: use the functions below. */
struct viova_codec_resp_guest {
	uint8_t *mem;
	struct viova_codec_resp_layout lay;
	uint32_t err_tail;
};

/*
 * viova_codec_resp_guest_attach - validate the header the host wrote into mem[0..size).
 * Returns 0; -EAGAIN if the magic is not there yet (host has not processed RESP_INIT);
 * -EPROTONOSUPPORT if the host's major differs; -EBADMSG if the layout does not fit in size
 * or its record sizes are smaller than this guest's structs; -EINVAL for NULL/misaligned mem.
 */
int viova_codec_resp_guest_attach(struct viova_codec_resp_guest *g, void *mem, size_t size);

/* Last seqno the host has fully processed (acquire). */
uint64_t viova_codec_resp_guest_processed(const struct viova_codec_resp_guest *g);
/* Records the host dropped because the ring was full (acquire). */
uint32_t viova_codec_resp_guest_overflow(const struct viova_codec_resp_guest *g);
/* Batches the host has finished, including rejected ones (acquire). */
uint64_t viova_codec_resp_guest_batches(const struct viova_codec_resp_guest *g);

/*
 * viova_codec_resp_guest_pop_error - copy the oldest unread record to *rec and release its slot.
 * Returns 0; -EAGAIN if there is none; -EBADMSG if the host's head is inconsistent (more
 * records than the ring holds).
 */
int viova_codec_resp_guest_pop_error(struct viova_codec_resp_guest *g, struct viova_err_rec *rec);

/* Copy slot ctx_id (acquire on lost and completed_fence). Returns 0 or -EINVAL (range). */
int viova_codec_resp_guest_ctx(const struct viova_codec_resp_guest *g, uint32_t ctx_id,
			       struct viova_resp_ctx *slot);

/*
 * viova_codec_resp_guest_read - read the response to command seqno at resp_offset: *err and
 * *size from its header, and min(size, cap) data bytes into data (may be NULL when cap is 0).
 * cap must not exceed the bytes the guest reserved after the header at resp_offset (the
 * command's resp_size - 16 for QUERY): for a truncated QUERY answer *size is the FULL answer
 * size, larger than what the host wrote, and a larger cap would copy the neighbouring
 * response's bytes.
 * Returns 0; -EAGAIN if the header does not carry seqno yet; -EFAULT if the offset or the
 * reported size leaves the payload region; -EINVAL if resp_offset is not 8-aligned.
 */
int viova_codec_resp_guest_read(const struct viova_codec_resp_guest *g, uint32_t resp_offset,
				uint64_t seqno, void *data, size_t cap, uint32_t *err,
				uint32_t *size);

/* ========================================================================================== */
/* Names and tables                                                                            */
/* ========================================================================================== */

/* "SET_IOVA", ..., or "CMD_<n>" style "unknown" for codes outside the table. Never NULL. */
const char *viova_codec_cmd_name(uint16_t cmd);
/* "RESERVED_NONZERO", ..., "UNKNOWN" for unknown codes. Never NULL. */
const char *viova_codec_reason_name(uint16_t reason);
/* The negative errno a rejection reason is reported with (-EINVAL for unknown reasons). */
int viova_codec_reason_errno(uint16_t reason);
/* "EINVAL", ..., "E?" for values without a wire name. Never NULL. */
const char *viova_codec_errno_name(uint32_t wire_err);
/*
 * viova_codec_wire_errno - map a host errno (positive or negative) to the wire value: the
 * value itself when it is one of the VIOVA_E* numbers, VIOVA_EIO otherwise (so host-internal
 * codes never leak onto the wire).
 */
uint32_t viova_codec_wire_errno(int host_errno);
/* Minimum length of a command at wire minor `minor` (0 if the command does not exist then). */
uint32_t viova_codec_cmd_min_size(uint16_t cmd, uint16_t minor);
/* Size of the command's struct as this build knows it (0 for an unknown command). */
uint32_t viova_codec_cmd_struct_size(uint16_t cmd);
/*
 * Name of the field of command cmd's struct covering byte `offset` ("hdr.seqno", "pad0",
 * "payload" past the struct). Never NULL.
 */
const char *viova_codec_field_name(uint16_t cmd, uint32_t offset);

/*
 * viova_codec_format_err_rec - human-readable line for an error record, e.g.
 * "SET_IOVA (seqno 12, ctx 3): EBUSY [NONE] detail0=0x10000 detail1=0x20000".
 * Writes at most size bytes (always NUL-terminated when size > 0); returns the length that the
 * full line has (snprintf semantics).
 */
int viova_codec_format_err_rec(const struct viova_err_rec *rec, char *buf, size_t size);

/* Layout tables of every wire struct and constant, for the spec checker and diagnostics. */
struct viova_codec_struct_info {
	const char *name; /* without "struct " */
	uint32_t size;
};
struct viova_codec_field_info {
	const char *strct;
	const char *name;
	const char *type; /* "u16", "u32", "u64", "s32", "u64[]", or a struct name */
	uint32_t offset;
	uint32_t size;
};
struct viova_codec_const_info {
	const char *name;
	int64_t value;
};
const struct viova_codec_struct_info *viova_codec_structs(size_t *count);
const struct viova_codec_field_info *viova_codec_fields(size_t *count);
const struct viova_codec_const_info *viova_codec_consts(size_t *count);

#endif /* VIOVA_CODEC_H */

/* SPDX-License-Identifier: MIT */
/*
 * host_priv.h - internals of libviova-host shared by its stage files:
 *
 *   host.c           instance, batch loop, command dispatch, seqno publication
 *   host_errlog.c    staged rejections -> error ring, log callback, lost contexts
 *   host_ctx.c       contexts (create, clone, destroy), VM names, VMs
 *   host_bo.c        buffer table (per context), GEM_NEW/CLOSE/UPLOAD/DOWNLOAD, zombies
 *   host_validate.c  range checks with messages (alignment, window, buffer bounds, overlap)
 *   host_map.c       SET_IOVA, VM_BIND, VM_UNBIND: validate, call the backend, apply
 *   host_submit.c    SUBMIT, WAIT_FENCE, busy tracking, backend events (any thread)
 *   host_query.c     QUERY, statistics, counters
 *   host_quota.c     quota checks with messages
 *   host_idmap.c     guest id -> index hash (pure helper)
 *
 * Ownership, top down: viova_host -> host_ctx[1..max_contexts] -> (VM names -> host_vm,
 * shared by reference count) and (buffer arena + id map). A buffer's va_space key is
 * (ctx id << 32) | arena index, unique among live and zombie buffers of a connection.
 */
#ifndef VIOVA_HOST_PRIV_H
#define VIOVA_HOST_PRIV_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "viova/backend.h"
#include "viova/codec.h"
#include "viova/host.h"
#include "viova/va_space.h"

#define HOST_NIL UINT32_MAX

/* ------------------------------------------------------------------------------------------ */
/* host_idmap.c: u32 guest id (nonzero) -> u32 value, open addressing, backward-shift delete   */

struct host_idslot {
	uint32_t key; /* 0 = empty */
	uint32_t val;
};

struct host_idmap {
	struct host_idslot *slots;
	uint32_t cap; /* power of two, or 0 before the first insertion */
	uint32_t count;
};

/* Value for key, or HOST_NIL. O(1) expected. */
uint32_t host_idmap_get(const struct host_idmap *m, uint32_t key);
/* Make sure count + n entries fit without allocating: 0 or -ENOMEM. */
int host_idmap_reserve(struct host_idmap *m, uint32_t n);
/* Insert: 0, -EINVAL (key 0 or val HOST_NIL), -EEXIST, -ENOMEM (map unchanged). */
int host_idmap_put(struct host_idmap *m, uint32_t key, uint32_t val);
/* Remove: 0 or -ENOENT. Never allocates. */
int host_idmap_del(struct host_idmap *m, uint32_t key);
void host_idmap_free(struct host_idmap *m);
size_t host_idmap_mem_bytes(const struct host_idmap *m);

/* ------------------------------------------------------------------------------------------ */
/* Objects                                                                                     */

/* va_space mapping flags owned by the host (VIOVA_VA_SPARSE is bit 0). */
#define HOST_MAP_WHOLE (1u << 8)     /* SET_IOVA / GEM_NEW mapping of the whole buffer */
#define HOST_MAP_BIND (1u << 9)	     /* a VM_BIND piece */
#define HOST_MAP_READONLY (1u << 10) /* VIOVA_BIND_READONLY */

static inline uint64_t host_obj_key(uint32_t ctx_id, uint32_t bo_index)
{
	return ((uint64_t)ctx_id << 32) | bo_index;
}

struct host_vm {
	struct viova_be_vm *be;
	struct viova_va_space *vs;
	uint32_t refs;		     /* VM names (in any context) pointing here */
	uint32_t users;		     /* contexts running in this VM */
	uint32_t owner;		     /* context that created it, for messages */
	uint32_t owner_id;	     /* its name there */
	struct host_vm *prev, *next; /* every VM of the connection */
};

struct host_vmname {
	uint32_t id;
	uint32_t pad0;
	struct host_vm *vm;
};

/* host_bo.flags (low bits are VIOVA_GEM_*) */
#define HOST_BO_USED (1u << 30)
#define HOST_BO_ZOMBIE (1u << 31)

struct host_bo {
	struct viova_be_bo *be;
	uint64_t size;
	uint64_t busy_fence; /* last fence of a job listing this buffer (0: never used) */
	/* One whole (SET_IOVA) mapping cached, so the hot paths skip the tracker's object hash;
	 * mappings in further VMs are found through the tracker. */
	struct host_vm *wvm; /* NULL: none cached */
	uint64_t wiova;
	uint32_t id;	/* guest id */
	uint32_t nmaps; /* mappings in any VM */
	uint32_t flags; /* VIOVA_GEM_* | HOST_BO_* */
	uint32_t link;	/* free list / zombie list; submit duplicate mark while in use */
};

#define HOST_FSEQ 64 /* recent (fence, seqno) pairs kept to name the SUBMIT of a faulting job */

struct host_ctx {
	/* Written by backend events (any thread): atomics only. */
	uint64_t completed; /* last signalled fence */
	uint64_t fault_iova;
	uint64_t errors;
	uint32_t faults;
	uint32_t lost_err; /* wire errno that lost it; 0 = not lost */
	/* Changed only under host->lock (events test it under the lock). */
	bool live;
	/* Connection thread only. */
	uint32_t id;
	struct viova_be_ctx *be;
	struct host_vm *vm; /* the VM it runs in */
	uint32_t vm_id;	    /* that VM's name here */
	uint32_t params;
	int32_t priority;
	uint32_t nvms;
	struct host_vmname *vms; /* [max_vms], then the vmslot table (one allocation) */
	uint8_t *vmslot;	 /* vm_id -> index + 1 into vms (host_ctx.c DOC) */
	uint32_t vmmask;
	struct host_idmap ids; /* buffer id -> arena index */
	struct host_bo *bos;   /* arena */
	uint32_t bo_cap, bo_top, bo_free;
	uint32_t nbufs; /* live + zombie */
	uint32_t zombies, zombie_head;
	uint32_t nmappings;
	uint32_t submit_mark;
	uint64_t bytes;
	uint64_t last_fence;
	uint64_t submits;
	struct {
		uint64_t fence, seqno;
	} fseq[HOST_FSEQ];
};

/* The failure being built for the current command (host_reject). */
struct host_failure {
	bool staged;
	int err; /* negative errno */
	uint64_t detail0, detail1;
	char msg[320];
};

struct viova_host {
	struct viova_backend *be;
	struct viova_backend_events events;
	struct viova_capset caps;
	struct viova_host_quotas q;
	uint32_t max_batch_size;
	uint64_t teardown_timeout_ns;
	viova_host_resp_map_fn resp_map;
	viova_host_resp_unmap_fn resp_unmap;
	void *transport_cookie;
	viova_host_log_fn log;
	void *log_cookie;
	/*
	 * Device budget use: what this host has charged (to itself and, with a daemon budget,
	 * to that too) for all its contexts. Connection thread only; host_budget.c moves them.
	 */
	uint32_t nbufs;
	uint32_t nmappings;
	uint64_t bytes;
	struct viova_host_budget *budget; /* daemon budget (a reference), or NULL */
	char name[32];			  /* for budget messages */

	/* Guards the response area's error ring and context slots, and host_ctx.live, against
	 * backend event threads. Never held while calling the backend. */
	pthread_mutex_t lock;
	bool have_resp;
	struct viova_codec_resp_host resp;
	uint32_t resp_res_id;
	void *resp_mem;
	uint64_t resp_size;

	struct host_ctx *ctx; /* [max_contexts + 1], slot 0 unused */
	uint32_t nctx;
	uint32_t nvms;
	struct host_vm *vm_list;
	uint32_t zombies; /* all contexts */

	/* the command being processed */
	uint16_t cur_cmd;
	bool cur_loses; /* a failure of this command loses its context */
	uint32_t cur_ctx;
	uint64_t cur_seqno;
	/*
	 * Blocking time the rest of this batch's WAIT_FENCE commands may still spend: all of
	 * them together block at most capset.max_wait_ns, so a batch full of waits cannot hold
	 * the connection (and a daemon shutdown) for minutes.
	 */
	uint64_t wait_budget_ns;
	struct host_failure fail;
	char last_error[384];

	uint64_t seqno;			 /* highest seqno processed */
	void *scratch;			 /* decoder copy buffer, max_batch_size bytes */
	struct viova_va_ops *ops;	 /* op list reused for every split/merge */
	struct viova_be_submit_bo *sbos; /* SUBMIT buffer list being resolved */
	uint32_t *sidx;			 /* arena index of each entry */
	uint32_t sbos_cap;

	/* counters (connection thread, except the atomics marked) */
	uint64_t batches, commands, failed, backend_calls, errors_logged;
	uint64_t errors_dropped; /* atomic: also from event threads */
	uint64_t faults;	 /* atomic */
	size_t mem;		 /* bytes allocated by the core (see host_alloc) */
};

/* Count a backend call (every ops->X from the core goes through this). */
#define HOST_BE(h, op, ...) ((h)->backend_calls++, (h)->be->ops->op((h)->be, __VA_ARGS__))

/* Memory the core allocates, accounted for viova_host_mem_bytes(). */
void *host_alloc(struct viova_host *h, size_t size);
void *host_realloc(struct viova_host *h, void *p, size_t old_size, size_t size);
void host_free(struct viova_host *h, void *p, size_t size);

/* ------------------------------------------------------------------------------------------ */
/* host_errlog.c                                                                               */

/*
 * Stage the current command's failure: err (negative errno), details for the error record and
 * a message naming the thing, the value and the fix. Returns err so a handler can
 * "return host_reject(...)". The batch loop reports it (host_report_failure).
 */
__attribute__((format(printf, 5, 6))) int host_reject(struct viova_host *h, int err,
						      uint64_t detail0, uint64_t detail1,
						      const char *fmt, ...);
/* Report the failure of the current command: error ring, log, counters, lost rule. */
void host_report_failure(struct viova_host *h, int err);
/* Report a decoder rejection. */
void host_report_decode(struct viova_host *h, const struct viova_codec_dec_error *e);
/* Push a record (takes the lock). */
void host_push_record(struct viova_host *h, const struct viova_err_rec *rec);
/* Mark ctx lost with wire errno err; caller holds h->lock. Returns true if it was not lost. */
bool host_mark_lost_locked(struct viova_host *h, struct host_ctx *c, uint32_t err);
__attribute__((format(printf, 3, 4))) void host_log(struct viova_host *h, int level,
						    const char *fmt, ...);
/* True if a failure of this command marks its context lost (docs/architecture.md). */
bool host_cmd_loses_ctx(uint16_t cmd, bool gem_new_with_iova);

/* ------------------------------------------------------------------------------------------ */
/* host_ctx.c                                                                                  */

/* The live context id, or NULL. */
static inline struct host_ctx *host_ctx_get(struct viova_host *h, uint32_t id)
{
	if (id == 0 || id > h->q.max_contexts || !h->ctx[id].live)
		return NULL;
	return &h->ctx[id];
}
/* Look up the current command's context; stages ENOENT if it does not exist. */
int host_ctx_require(struct viova_host *h, uint32_t id, struct host_ctx **out);
/* VM named vm_id in c (0 = the VM c runs in); stages ENOENT. */
int host_vm_lookup(struct viova_host *h, struct host_ctx *c, uint32_t vm_id, struct host_vm **out);
int host_cmd_ctx_create(struct viova_host *h, const struct viova_cmd_ctx_create *cmd);
int host_cmd_ctx_clone(struct viova_host *h, const struct viova_cmd_ctx_clone *cmd);
int host_cmd_ctx_destroy(struct viova_host *h, uint32_t ctx_id);
int host_cmd_vm_create(struct viova_host *h, const struct viova_cmd_vm_create *cmd);
int host_cmd_vm_destroy(struct viova_host *h, const struct viova_cmd_vm_destroy *cmd);
/* Tear a live context down completely (CTX_DESTROY and viova_host_destroy). */
void host_ctx_teardown(struct viova_host *h, struct host_ctx *c);

/* ------------------------------------------------------------------------------------------ */
/* host_bo.c                                                                                   */

/* Live (not zombie) buffer buf_id of c; stages ENOENT naming the context. */
int host_bo_lookup(struct viova_host *h, struct host_ctx *c, uint32_t buf_id, uint32_t *index);
/* Buffer behind a va_space key whose context is c (live or zombie), or NULL. */
struct host_bo *host_bo_of_key(struct host_ctx *c, uint64_t key, uint32_t *index);
int host_cmd_gem_new(struct viova_host *h, const struct viova_cmd_gem_new *cmd);
int host_cmd_gem_close(struct viova_host *h, const struct viova_cmd_gem_close *cmd);
int host_cmd_gem_upload(struct viova_host *h, const struct viova_codec_cmd *cmd);
int host_cmd_gem_download(struct viova_host *h, const struct viova_cmd_gem_download *cmd);
/* Remove every mapping of buffer index i in every VM c names (backend first). Cannot fail. */
void host_bo_unmap_all(struct viova_host *h, struct host_ctx *c, uint32_t i);
/* Unmap + close + free buffer index i (no checks). */
void host_bo_release(struct viova_host *h, struct host_ctx *c, uint32_t i);
/* Release zombies of c whose jobs completed. */
void host_bo_reap(struct viova_host *h, struct host_ctx *c);
/* host_bo_reap() for every live context (host.c). */
void host_reap_all(struct viova_host *h);

/* ------------------------------------------------------------------------------------------ */
/* host_validate.c                                                                             */

/* Page/alignment check of value named what; stages EINVAL. */
int host_check_aligned(struct viova_host *h, const char *what, uint64_t value, uint64_t align);
/* [offset, offset + size) inside a buffer of bo_size bytes; stages EINVAL. */
int host_check_in_buffer(struct viova_host *h, uint32_t buf_id, uint64_t bo_size, uint64_t offset,
			 uint64_t size);
/*
 * Stage a va_space rejection (why) of range in VM vm_name of context c with the errno the
 * kernel would give: outside the window or wrapping EINVAL, reserved region or overlap ENOSPC,
 * tracker full EDQUOT, out of memory ENOMEM.
 */
int host_reject_range(struct viova_host *h, struct host_ctx *c, uint32_t vm_name,
		      const struct viova_va_reject *why);
/* Describe the owner of a mapping: "buffer 7 of context 3" / "closed buffer 7 ...". */
void host_describe_mapping(struct viova_host *h, const struct viova_va_mapping *m, char *buf,
			   size_t len);
/* True while an unfinished job of c lists the buffer. Refreshes c->completed if in doubt. */
bool host_bo_busy(struct viova_host *h, struct host_ctx *c, const struct host_bo *bo);

/* ------------------------------------------------------------------------------------------ */
/* host_map.c                                                                                  */

int host_cmd_set_iova(struct viova_host *h, const struct viova_cmd_set_iova *cmd);
int host_cmd_vm_bind(struct viova_host *h, const struct viova_cmd_vm_bind *cmd);
int host_cmd_vm_unbind(struct viova_host *h, const struct viova_cmd_vm_unbind *cmd);
/* Map buffer i of c whole at iova in vm (checks + backend + va_space); used by GEM_NEW. */
int host_map_whole(struct viova_host *h, struct host_ctx *c, struct host_vm *vm, uint32_t vm_name,
		   uint32_t i, uint64_t iova);
/*
 * Remove the whole (SET_IOVA) mapping m of a buffer with nmaps mappings from vm's tracker: by
 * the buffer's list when nmaps <= HOST_OBJ_WALK_MAX, else by a tree descent.
 */
#define HOST_OBJ_WALK_MAX 8u
void host_vs_remove_whole(struct host_vm *vm, const struct viova_va_mapping *m, uint32_t nmaps);
/* The whole mapping of buffer i of c in vm: 0 with *m filled, or -ENOENT. */
int host_find_whole(struct host_ctx *c, struct host_vm *vm, uint32_t i, struct viova_va_mapping *m);

/* ------------------------------------------------------------------------------------------ */
/* host_submit.c                                                                               */

int host_cmd_submit(struct viova_host *h, const struct viova_codec_cmd *cmd);
int host_cmd_wait_fence(struct viova_host *h, const struct viova_cmd_wait_fence *cmd);
/* c's completed fence (acquire). */
static inline uint64_t host_ctx_completed(const struct host_ctx *c)
{
	return __atomic_load_n(&c->completed, __ATOMIC_ACQUIRE);
}
/* Raise c->completed to fence (monotonic) and mirror it into c's slot; any thread. */
void host_ctx_complete(struct viova_host *h, struct host_ctx *c, uint64_t fence);
/* Wait (bounded) for every job of c; returns 0 or -ETIMEDOUT. */
int host_ctx_drain(struct viova_host *h, struct host_ctx *c, uint64_t timeout_ns);
/* The events given to the backend. */
void host_ev_fence_signaled(void *cookie, void *ctx, uint64_t fence);
void host_ev_job_fault(void *cookie, void *ctx, uint64_t fence, uint64_t iova, int err);

/* ------------------------------------------------------------------------------------------ */
/* host_query.c                                                                                */

int host_cmd_query(struct viova_host *h, const struct viova_cmd_query *cmd);
void host_fill_stats(struct host_ctx *c, struct viova_ctx_stats *s);
/* Write a response header with err (and no data) if resp_offset is usable; best effort. */
void host_resp_error(struct viova_host *h, uint32_t resp_offset, int err);
/* Stage EFAULT when there is no response area. */
int host_require_resp(struct viova_host *h);

/* ------------------------------------------------------------------------------------------ */
/* host_quota.c                                                                                */

int host_quota_buffer(struct viova_host *h, struct host_ctx *c, uint64_t size);
int host_quota_mappings(struct viova_host *h, struct host_ctx *c, int64_t delta);
/*
 * host_quota_mappings() that first releases completed zombies when the quota would refuse;
 * only where no op list or tracker change is pending (GEM_NEW, SET_IOVA). host_quota_buffer()
 * does the same.
 */
int host_quota_mappings_reap(struct viova_host *h, struct host_ctx *c, int64_t delta);
int host_quota_vms(struct viova_host *h, struct host_ctx *c);
/* Apply defaults and limits to cfg quotas: 0 or -EINVAL. */
int host_quota_init(struct viova_host_quotas *q, const struct viova_host_quotas *cfg);

/* ------------------------------------------------------------------------------------------ */
/* host_budget.c                                                                               */

/*
 * The charge side of the quotas: host_quota_*() check the context quota and the device budget
 * (connection thread, nothing shared); host_budget_take_*() then charge the device counters
 * and the daemon budget (atomic, shared), which may still refuse with EDQUOT. Each take is
 * matched by exactly one put when the object goes, or when the command fails afterwards.
 */
/* Charge one buffer of size bytes; stages EDQUOT naming the daemon budget. */
int host_budget_take_buffer(struct viova_host *h, uint64_t size);
void host_budget_put_buffer(struct viova_host *h, uint64_t size);
/* host_budget_take_maps() / _put_maps() with a daemon budget (out of line). */
int host_budget_take_maps_shared(struct viova_host *h, uint32_t n, bool may_reap);
void host_budget_put_maps_shared(struct viova_host *h, uint32_t n);
/*
 * Charge n mappings. may_reap: no op list or tracker change is pending, so completed zombies
 * may be released to make room before refusing (GEM_NEW, SET_IOVA; not VM_BIND/UNBIND).
 * Inline: SET_IOVA's hot path, where a call per command is measurable.
 */
static inline int host_budget_take_maps(struct viova_host *h, uint32_t n, bool may_reap)
{
	if (h->budget)
		return host_budget_take_maps_shared(h, n, may_reap);
	h->nmappings += n;
	return 0;
}
static inline void host_budget_put_maps(struct viova_host *h, uint32_t n)
{
	if (h->budget)
		host_budget_put_maps_shared(h, n);
	else
		h->nmappings -= n;
}
/* At viova_host_create: hold a reference to b (may be NULL). */
void host_budget_attach(struct viova_host *h, struct viova_host_budget *b);
/* At viova_host_destroy, after every context: return what is left (a bug if any), unref. */
void host_budget_detach(struct viova_host *h);
/* "4 GiB", "4.06 GiB", "12 KiB", "100 B": sizes in budget messages. */
const char *host_fmt_size(char *buf, size_t len, uint64_t v);

#endif /* VIOVA_HOST_PRIV_H */

/* SPDX-License-Identifier: MIT */
/*
 * host_test.h - harness shared by the host integration tests: a host on the REAL sim backend,
 * seen through a thin forwarding wrapper, a guest-side encoder, and the guest's view of the
 * response area.
 *
 * The wrapper ("counting/faulting test double") is NOT a fake backend: every op forwards to the
 * sim instance created by viova_backend_create("sim"); it only counts calls (to prove the core
 * rejected input before the backend saw it) and, when a test arms it, makes one op fail with a
 * chosen errno without forwarding (to inject backend failures the sim would not produce on
 * valid input). Include after <cmocka.h>.
 */
#ifndef VIOVA_TESTS_HOST_TEST_H
#define VIOVA_TESTS_HOST_TEST_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim/sim.h"
#include "viova/codec.h"
#include "viova/host.h"

/* ---- counting / faulting wrapper around the real sim -------------------------------------- */

enum ht_op {
	HT_GET_CAPS,
	HT_DESTROY,
	HT_VM_CREATE,
	HT_VM_DESTROY,
	HT_CTX_CREATE,
	HT_CTX_CLONE,
	HT_CTX_DESTROY,
	HT_BO_CREATE,
	HT_BO_CLOSE,
	HT_BO_SET_IOVA,
	HT_BIND,
	HT_UNBIND,
	HT_BO_WRITE,
	HT_BO_READ,
	HT_SUBMIT,
	HT_FENCE_COMPLETED,
	HT_FENCE_WAIT,
	HT_OP_COUNT
};

struct ht_be {
	struct viova_backend base; /* first: the host sees this */
	struct viova_backend *inner;
	uint64_t calls[HT_OP_COUNT];
	int fail_op; /* -1: none */
	int fail_err;
	struct viova_be_ctx *last_ctx; /* last context created or cloned */
};

static inline struct ht_be *ht_be_of(struct viova_backend *be)
{
	return (struct ht_be *)be;
}

/* Count op; return the injected error if armed for it (one shot). */
static inline int ht_be_enter(struct viova_backend *be, enum ht_op op)
{
	struct ht_be *w = ht_be_of(be);

	w->calls[op]++;
	if (w->fail_op == (int)op) {
		w->fail_op = -1;
		return w->fail_err;
	}
	return 0;
}

#define HT_FWD(be, op, name, ...)                                                                  \
	do {                                                                                       \
		int e_ = ht_be_enter(be, op);                                                      \
		if (e_)                                                                            \
			return e_;                                                                 \
		return ht_be_of(be)->inner->ops->name(ht_be_of(be)->inner, __VA_ARGS__);           \
	} while (0)

static int ht_get_caps(struct viova_backend *be, struct viova_capset *c)
{
	HT_FWD(be, HT_GET_CAPS, get_caps, c);
}
static void ht_destroy(struct viova_backend *be)
{
	struct ht_be *w = ht_be_of(be);

	w->inner->ops->destroy(w->inner);
	free(w);
}
static int ht_vm_create(struct viova_backend *be, struct viova_be_vm **out)
{
	HT_FWD(be, HT_VM_CREATE, vm_create, out);
}
static void ht_vm_destroy(struct viova_backend *be, struct viova_be_vm *vm)
{
	ht_be_of(be)->calls[HT_VM_DESTROY]++;
	ht_be_of(be)->inner->ops->vm_destroy(ht_be_of(be)->inner, vm);
}
static int ht_ctx_create(struct viova_backend *be, struct viova_be_vm *vm,
			 const struct viova_be_ctx_params *p, void *cookie,
			 struct viova_be_ctx **out)
{
	struct ht_be *w = ht_be_of(be);
	int e = ht_be_enter(be, HT_CTX_CREATE);

	if (e)
		return e;
	e = w->inner->ops->ctx_create(w->inner, vm, p, cookie, out);
	if (!e)
		w->last_ctx = *out;
	return e;
}
static int ht_ctx_clone(struct viova_backend *be, struct viova_be_ctx *src, uint32_t flags,
			struct viova_be_vm *vm, void *cookie, struct viova_be_ctx **out)
{
	struct ht_be *w = ht_be_of(be);
	int e = ht_be_enter(be, HT_CTX_CLONE);

	if (e)
		return e;
	e = w->inner->ops->ctx_clone(w->inner, src, flags, vm, cookie, out);
	if (!e)
		w->last_ctx = *out;
	return e;
}
static void ht_ctx_destroy(struct viova_backend *be, struct viova_be_ctx *ctx)
{
	ht_be_of(be)->calls[HT_CTX_DESTROY]++;
	ht_be_of(be)->inner->ops->ctx_destroy(ht_be_of(be)->inner, ctx);
}
static int ht_bo_create(struct viova_backend *be, struct viova_be_vm *home, uint64_t size,
			uint32_t flags, struct viova_be_bo **out)
{
	HT_FWD(be, HT_BO_CREATE, bo_create, home, size, flags, out);
}
static void ht_bo_close(struct viova_backend *be, struct viova_be_bo *bo)
{
	ht_be_of(be)->calls[HT_BO_CLOSE]++;
	ht_be_of(be)->inner->ops->bo_close(ht_be_of(be)->inner, bo);
}
static int ht_bo_set_iova(struct viova_backend *be, struct viova_be_vm *vm, struct viova_be_bo *bo,
			  uint64_t iova)
{
	HT_FWD(be, HT_BO_SET_IOVA, bo_set_iova, vm, bo, iova);
}
static int ht_bind(struct viova_backend *be, struct viova_be_vm *vm, struct viova_be_bo *bo,
		   uint64_t addr, uint64_t range, uint64_t off, uint32_t flags)
{
	HT_FWD(be, HT_BIND, bind, vm, bo, addr, range, off, flags);
}
static int ht_unbind(struct viova_backend *be, struct viova_be_vm *vm, uint64_t addr,
		     uint64_t range)
{
	HT_FWD(be, HT_UNBIND, unbind, vm, addr, range);
}
static int ht_bo_write(struct viova_backend *be, struct viova_be_bo *bo, uint64_t off,
		       const void *data, uint64_t size)
{
	HT_FWD(be, HT_BO_WRITE, bo_write, bo, off, data, size);
}
static int ht_bo_read(struct viova_backend *be, struct viova_be_bo *bo, uint64_t off, void *data,
		      uint64_t size)
{
	HT_FWD(be, HT_BO_READ, bo_read, bo, off, data, size);
}
static int ht_submit(struct viova_backend *be, struct viova_be_ctx *ctx,
		     const struct viova_be_submit *job)
{
	HT_FWD(be, HT_SUBMIT, submit, ctx, job);
}
static uint64_t ht_fence_completed(struct viova_backend *be, struct viova_be_ctx *ctx)
{
	ht_be_of(be)->calls[HT_FENCE_COMPLETED]++;
	return ht_be_of(be)->inner->ops->fence_completed(ht_be_of(be)->inner, ctx);
}
static int ht_fence_wait(struct viova_backend *be, struct viova_be_ctx *ctx, uint64_t fence,
			 uint64_t timeout_ns)
{
	HT_FWD(be, HT_FENCE_WAIT, fence_wait, ctx, fence, timeout_ns);
}

static const struct viova_backend_ops ht_ops = {
    .name = "sim",
    .get_caps = ht_get_caps,
    .destroy = ht_destroy,
    .vm_create = ht_vm_create,
    .vm_destroy = ht_vm_destroy,
    .ctx_create = ht_ctx_create,
    .ctx_clone = ht_ctx_clone,
    .ctx_destroy = ht_ctx_destroy,
    .bo_create = ht_bo_create,
    .bo_close = ht_bo_close,
    .bo_set_iova = ht_bo_set_iova,
    .bind = ht_bind,
    .unbind = ht_unbind,
    .bo_write = ht_bo_write,
    .bo_read = ht_bo_read,
    .submit = ht_submit,
    .fence_completed = ht_fence_completed,
    .fence_wait = ht_fence_wait,
};

/* viova_host_backend_create_fn: the real sim, wrapped. */
static int ht_backend_create(const char *name, const struct viova_backend_config *config,
			     const struct viova_backend_events *events, void *cookie,
			     struct viova_backend **out)
{
	struct ht_be *w = calloc(1, sizeof(*w));
	int ret;

	if (!w)
		return -ENOMEM;
	ret = viova_backend_create(name, config, events, cookie, &w->inner);
	if (ret) {
		free(w);
		return ret;
	}
	w->base.ops = &ht_ops;
	w->base.events = events;
	w->base.events_cookie = cookie;
	w->fail_op = -1;
	*out = &w->base;
	return 0;
}

/* ---- harness ----------------------------------------------------------------------------- */

#define HT_AREA_SIZE (256u << 10)
#define HT_BATCH_SIZE (64u << 10)
#define HT_RES_ID 7u

struct ht {
	struct viova_host *h;
	struct ht_be *be;
	struct viova_backend *sim; /* the real sim instance */
	uint64_t *area;		   /* response area (8-aligned) */
	uint64_t *batch;
	struct viova_codec_encoder enc;
	struct viova_codec_resp_guest g;
	struct viova_capset caps;
	char last_log[512];
	int log_errors;
	int log_warns;
	int unmapped;
};

static int ht_resp_map(void *cookie, uint32_t res_id, uint64_t size, void **mem)
{
	struct ht *t = cookie;

	if (res_id != HT_RES_ID)
		return -ENOENT;
	if (size > HT_AREA_SIZE)
		return -EINVAL;
	*mem = t->area;
	return 0;
}

static void ht_resp_unmap(void *cookie, uint32_t res_id, void *mem, uint64_t size)
{
	struct ht *t = cookie;

	(void)res_id;
	(void)size;
	assert_ptr_equal(mem, t->area);
	t->unmapped++;
}

static void ht_log(void *cookie, int level, const char *msg)
{
	struct ht *t = cookie;

	snprintf(t->last_log, sizeof(t->last_log), "%s", msg);
	if (level == VIOVA_HOST_LOG_ERROR)
		t->log_errors++;
	else if (level == VIOVA_HOST_LOG_WARN)
		t->log_warns++;
	if (getenv("HT_VERBOSE"))
		fprintf(stderr, "[host %d] %s\n", level, msg);
}

/* Send what was encoded; returns viova_host_process()'s result (failed commands). */
static inline int ht_send(struct ht *t)
{
	size_t len;
	int ret;

	assert_int_equal(viova_codec_enc_finish(&t->enc, &len), 0);
	ret = viova_host_process(t->h, t->batch, len);
	viova_codec_enc_reset(&t->enc);
	return ret;
}

/* Create a host with quotas q (NULL: defaults) and attach the response area. */
static inline struct ht *ht_new_q(const struct viova_host_quotas *q)
{
	struct ht *t = calloc(1, sizeof(*t));
	struct viova_host_config cfg = {0};

	assert_non_null(t);
	t->area = aligned_alloc(64, HT_AREA_SIZE);
	t->batch = aligned_alloc(64, HT_BATCH_SIZE);
	assert_non_null(t->area);
	assert_non_null(t->batch);
	memset(t->area, 0xa5, HT_AREA_SIZE); /* the host must zero it */
	cfg.backend = "sim";
	cfg.backend_create = ht_backend_create;
	if (q)
		cfg.quotas = *q;
	cfg.resp_map = ht_resp_map;
	cfg.resp_unmap = ht_resp_unmap;
	cfg.transport_cookie = t;
	cfg.log = ht_log;
	cfg.log_cookie = t;
	cfg.max_batch_size = HT_BATCH_SIZE;
	assert_int_equal(viova_host_create(&cfg, &t->h), 0);
	t->be = ht_be_of(viova_host_backend(t->h));
	t->sim = t->be->inner;
	assert_int_equal(viova_host_get_caps(t->h, &t->caps), 0);
	assert_int_equal(viova_codec_enc_init(&t->enc, t->batch, HT_BATCH_SIZE, 1), 0);
	assert_int_equal(viova_codec_enc_resp_init(&t->enc, HT_RES_ID, 0, HT_AREA_SIZE, NULL), 0);
	assert_int_equal(ht_send(t), 0);
	assert_int_equal(viova_codec_resp_guest_attach(&t->g, t->area, HT_AREA_SIZE), 0);
	return t;
}

static inline struct ht *ht_new(void)
{
	return ht_new_q(NULL);
}

/* Destroy the host; the response area must have been handed back exactly once. */
static inline void ht_free(struct ht *t)
{
	viova_host_destroy(t->h);
	assert_int_equal(t->unmapped, 1);
	free(t->area);
	free(t->batch);
	free(t);
}

/* Seqno of the next command. */
static inline uint64_t ht_seq(struct ht *t)
{
	return viova_codec_enc_next_seqno(&t->enc);
}

/* Pop one error record; fails the test if there is none. */
static inline struct viova_err_rec ht_pop(struct ht *t)
{
	struct viova_err_rec rec;

	assert_int_equal(viova_codec_resp_guest_pop_error(&t->g, &rec), 0);
	return rec;
}

static inline void ht_no_error(struct ht *t)
{
	struct viova_err_rec rec;
	int ret = viova_codec_resp_guest_pop_error(&t->g, &rec);

	if (ret == 0)
		fail_msg("unexpected error record: cmd %u seqno %llu err %u reason %u (%s)",
			 rec.cmd, (unsigned long long)rec.seqno, rec.err, rec.reason, t->last_log);
	assert_int_equal(ret, -EAGAIN);
}

/* Pop one record and check command, errno (wire) and seqno. */
static inline struct viova_err_rec ht_expect(struct ht *t, uint16_t cmd, uint32_t err,
					     uint64_t seqno)
{
	struct viova_err_rec rec = ht_pop(t);

	if (rec.cmd != cmd || rec.err != err || rec.seqno != seqno)
		fail_msg("expected %s %s seqno %llu, got %s %s seqno %llu (%s)",
			 viova_codec_cmd_name(cmd), viova_codec_errno_name(err),
			 (unsigned long long)seqno, viova_codec_cmd_name(rec.cmd),
			 viova_codec_errno_name(rec.err), (unsigned long long)rec.seqno,
			 t->last_log);
	return rec;
}

/* Run one command built by the caller's encoder call and expect it to fail with err. */
#define HT_FAILS(t, err, call)                                                                     \
	do {                                                                                       \
		uint64_t s_ = ht_seq(t);                                                           \
		uint16_t c_;                                                                       \
		assert_int_equal((call), 0);                                                       \
		c_ = ((const struct viova_cmd_hdr *)((const uint8_t *)(t)->batch +                 \
						     sizeof(struct viova_batch_hdr)))              \
			 ->cmd;                                                                    \
		assert_int_equal(ht_send(t), 1);                                                   \
		ht_expect(t, c_, err, s_);                                                         \
	} while (0)

/* Run one command and expect success. */
#define HT_OK(t, call)                                                                             \
	do {                                                                                       \
		assert_int_equal((call), 0);                                                       \
		if (ht_send(t) != 0)                                                               \
			fail_msg("command failed: %s", viova_host_last_error((t)->h));             \
		ht_no_error(t);                                                                    \
	} while (0)

/* Backend calls that change state (everything but caps/queries/reads/waits). */
static inline uint64_t ht_mutating_calls(const struct ht *t)
{
	uint64_t n = 0;
	int i;

	for (i = 0; i < HT_OP_COUNT; i++) {
		if (i == HT_GET_CAPS || i == HT_FENCE_COMPLETED || i == HT_FENCE_WAIT ||
		    i == HT_BO_READ)
			continue;
		n += t->be->calls[i];
	}
	return n;
}

/* A snapshot of everything a rejected command must leave unchanged. */
struct ht_snap {
	struct viova_host_counters c;
	struct sim_debug_stats sim;
	uint64_t mutating;
};

static inline void ht_snap(struct ht *t, struct ht_snap *s)
{
	memset(s, 0, sizeof(*s));
	viova_host_counters(t->h, &s->c);
	sim_debug_stats(t->sim, &s->sim);
	s->mutating = ht_mutating_calls(t);
}

static inline void ht_same(struct ht *t, const struct ht_snap *a)
{
	struct ht_snap b;

	ht_snap(t, &b);
	assert_int_equal(a->mutating, b.mutating); /* the backend was not asked to change */
	assert_int_equal(a->c.contexts, b.c.contexts);
	assert_int_equal(a->c.vms, b.c.vms);
	assert_int_equal(a->c.buffers, b.c.buffers);
	assert_int_equal(a->c.mappings, b.c.mappings);
	assert_int_equal(a->c.bytes, b.c.bytes);
	assert_int_equal(a->sim.vms, b.sim.vms);
	assert_int_equal(a->sim.ctxs, b.sim.ctxs);
	assert_int_equal(a->sim.bos, b.sim.bos);
	assert_int_equal(a->sim.bytes, b.sim.bytes);
}

/* Context ctx with VM vm_id, default params. */
static inline void ht_ctx(struct ht *t, uint32_t ctx, uint32_t vm_id)
{
	HT_OK(t, viova_codec_enc_ctx_create(&t->enc, ctx, 0, 0, 0, vm_id, 0, NULL));
}

/* Buffer buf of size bytes in ctx, mapped at iova (0: unmapped) in the context's VM. */
static inline void ht_buf(struct ht *t, uint32_t ctx, uint32_t buf, uint64_t size, uint64_t iova)
{
	HT_OK(t, viova_codec_enc_gem_new(&t->enc, ctx, buf, 0, size, 0, iova, NULL));
}

/* Slot of ctx as the guest sees it. */
static inline struct viova_resp_ctx ht_slot(struct ht *t, uint32_t ctx)
{
	struct viova_resp_ctx s;

	assert_int_equal(viova_codec_resp_guest_ctx(&t->g, ctx, &s), 0);
	return s;
}

/* Download size bytes of buf at off into out (through GEM_DOWNLOAD and the response area). */
static inline void ht_download(struct ht *t, uint32_t ctx, uint32_t buf, uint64_t off, void *out,
			       uint32_t size)
{
	uint64_t s;
	uint32_t err, got;

	assert_int_equal(viova_codec_enc_gem_download(&t->enc, ctx, buf, off, size, 0, &s), 0);
	if (ht_send(t))
		fail_msg("download failed: %s", viova_host_last_error(t->h));
	assert_int_equal(viova_codec_resp_guest_read(&t->g, 0, s, out, size, &err, &got), 0);
	assert_int_equal(err, 0);
	assert_int_equal(got, size);
}

/* The VA of the sim's default window a test can use freely. */
#define HT_VA(t, n) ((t)->caps.va_start + (uint64_t)(n)*0x100000ull)

#endif /* VIOVA_TESTS_HOST_TEST_H */

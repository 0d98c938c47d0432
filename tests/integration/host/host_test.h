/* SPDX-License-Identifier: MIT */
/*
 * host_test.h - harness shared by the host integration tests: a host on a REAL backend, seen
 * through a thin forwarding wrapper, a guest-side encoder, and the guest's view of the response
 * area.
 *
 * The backend is the sim unless the test is built with -DHT_BACKEND_MSM or -DHT_BACKEND_I915:
 * then it is the msm / i915 backend, talking to its in-process kernel emulator
 * (tests/unit/host/backends/{msm,i915}_emu.c) through the drm seam, one emulator per host.
 * A backend-agnostic test (test_host_isolation.c) reads only what every backend offers: host
 * counters, the wrapper's call counts, and the probes at the end of this file (objects alive,
 * what a context's GPU address space holds, a GPU fault on a context's next job).
 *
 * The wrapper ("counting/faulting test double") is NOT a fake backend: every op forwards to the
 * instance created by viova_backend_create(); it only counts calls (to prove the core rejected
 * input before the backend saw it) and, when a test arms it, makes one op fail with a chosen
 * errno without forwarding (to inject backend failures the backend would not produce on valid
 * input). Include after <cmocka.h>.
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

#if defined(HT_BACKEND_MSM) && defined(HT_BACKEND_I915)
#error "HT_BACKEND_MSM and HT_BACKEND_I915 exclude each other"
#elif defined(HT_BACKEND_MSM)
#include <drm/msm_drm.h>

#include "drm_seam.h"
#include "msm_emu.h"
#define HT_BACKEND "msm"
#define HT_EMU 1
typedef struct msm_emu ht_emu_t;
#elif defined(HT_BACKEND_I915)
#include <drm/i915_drm.h>

#include "drm_seam.h"
#include "i915_emu.h"
#define HT_BACKEND "i915"
#define HT_EMU 1
typedef struct i915_emu ht_emu_t;
#else
#define HT_BACKEND "sim"
#define HT_EMU 0
#endif

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

/* The kernel's name for a backend context (emulated backends): msm file + queue, i915 context. */
#define HT_MAX_KCTX 64
struct ht_kctx {
	struct viova_be_ctx *ctx;
	int fd;	     /* msm: the file (= VM) the queue lives on */
	uint32_t id; /* msm: submitqueue id; i915: context id */
};

struct ht_be {
	struct viova_backend base; /* first: the host sees this */
	struct viova_backend *inner;
	uint64_t calls[HT_OP_COUNT];
	int fail_op; /* -1: none */
	int fail_err;
	struct viova_be_ctx *last_ctx; /* last context created or cloned */
	struct ht_kctx kctx[HT_MAX_KCTX];
};

#if HT_EMU
/*
 * The emulator of the host being created (ht_new_q() sets it before viova_host_create(), which
 * creates the backend on the seam the emulator installed). One host at a time per process.
 */
static ht_emu_t *ht_emu_current;

/* Remember which kernel object the backend made for ctx: the last create ioctl's answer. */
static void ht_kctx_record(struct ht_be *w, struct viova_be_ctx *ctx)
{
	struct ht_kctx k = {.ctx = ctx, .fd = -1};
	int i;

#if defined(HT_BACKEND_MSM)
	const struct emu_call *c = emu_log_last(msm_emu_log(ht_emu_current), DRM_IOCTL_MSM_SUBMITQUEUE_NEW);
	struct drm_msm_submitqueue q;

	assert_non_null(c);
	memcpy(&q, c->out, sizeof(q)); /* the log's bytes are not aligned for the struct */
	k.fd = c->fd;
	k.id = q.id;
#else
	const struct emu_call *c =
	    emu_log_last(i915_emu_log(ht_emu_current), DRM_IOCTL_I915_GEM_CONTEXT_CREATE_EXT);
	struct drm_i915_gem_context_create_ext cc;

	assert_non_null(c);
	memcpy(&cc, c->out, sizeof(cc)); /* the log's bytes are not aligned for the struct */
	k.id = cc.ctx_id;
#endif
	for (i = 0; i < HT_MAX_KCTX; i++) {
		if (!w->kctx[i].ctx || w->kctx[i].ctx == ctx) {
			w->kctx[i] = k;
			return;
		}
	}
	fail_msg("host_test.h: more than %d backend contexts; raise HT_MAX_KCTX", HT_MAX_KCTX);
}

static void ht_kctx_forget(struct ht_be *w, struct viova_be_ctx *ctx)
{
	int i;

	for (i = 0; i < HT_MAX_KCTX; i++) {
		if (w->kctx[i].ctx == ctx)
			w->kctx[i].ctx = NULL;
	}
}

static const struct ht_kctx *ht_kctx_of(struct ht_be *w, struct viova_be_ctx *ctx)
{
	int i;

	for (i = 0; i < HT_MAX_KCTX; i++) {
		if (w->kctx[i].ctx == ctx)
			return &w->kctx[i];
	}
	fail_msg("host_test.h: backend context %p was not created through the wrapper", ctx);
	return NULL;
}
#endif

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
	if (!e) {
		w->last_ctx = *out;
#if HT_EMU
		ht_kctx_record(w, *out);
#endif
	}
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
	if (!e) {
		w->last_ctx = *out;
#if HT_EMU
		ht_kctx_record(w, *out);
#endif
	}
	return e;
}
static void ht_ctx_destroy(struct viova_backend *be, struct viova_be_ctx *ctx)
{
	ht_be_of(be)->calls[HT_CTX_DESTROY]++;
	ht_be_of(be)->inner->ops->ctx_destroy(ht_be_of(be)->inner, ctx);
#if HT_EMU
	ht_kctx_forget(ht_be_of(be), ctx);
#endif
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
    .name = HT_BACKEND,
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

/* viova_host_backend_create_fn: the real backend, wrapped. */
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
	struct viova_backend *sim; /* the real sim instance (NULL on msm / i915) */
#if HT_EMU
	ht_emu_t *emu; /* the kernel the msm / i915 backend talks to */
#endif
	uint64_t *area; /* response area (8-aligned) */
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

/*
 * Send a SIM submit on ctx listing only buffer buf (WRITE) with out_fence fence at once;
 * returns ht_send()'s count. Not HT_OK: a job that will fault is queued fine (0) and leaves
 * its record for the test to pop, a refused one answers 1.
 */
static inline int ht_submit_write(struct ht *t, uint32_t ctx, uint64_t fence, uint32_t buf,
				  const struct viova_sim_job *jobs, uint32_t njobs)
{
	struct viova_submit_bo bo = {buf, VIOVA_SUBMIT_BO_WRITE};
	struct viova_codec_submit sub = {.format = VIOVA_SUBMIT_FORMAT_SIM,
					 .out_fence = fence,
					 .bos = &bo,
					 .bo_count = 1,
					 .cmds = jobs,
					 .cmd_count = njobs};

	assert_int_equal(viova_codec_enc_submit(&t->enc, ctx, &sub, NULL), 0);
	return ht_send(t);
}

/*
 * Create a host with quotas q (NULL: defaults), sharing the daemon budget b (NULL: none), named
 * name in budget messages (NULL: the host's default), and attach the response area.
 */
static inline struct ht *ht_new_qb(const struct viova_host_quotas *q, struct viova_host_budget *b,
				   const char *name)
{
	struct ht *t = calloc(1, sizeof(*t));
	struct viova_host_config cfg = {0};

	assert_non_null(t);
	t->area = aligned_alloc(64, HT_AREA_SIZE);
	t->batch = aligned_alloc(64, HT_BATCH_SIZE);
	assert_non_null(t->area);
	assert_non_null(t->batch);
	memset(t->area, 0xa5, HT_AREA_SIZE); /* the host must zero it */
#if defined(HT_BACKEND_MSM)
	t->emu = msm_emu_new(NULL);
	assert_non_null(t->emu);
	drm_seam_set(msm_emu_seam(t->emu));
#elif defined(HT_BACKEND_I915)
	t->emu = i915_emu_new(NULL);
	assert_non_null(t->emu);
	drm_seam_set(i915_emu_seam(t->emu));
#endif
#if HT_EMU
	ht_emu_current = t->emu;
#endif
	cfg.backend = HT_BACKEND;
	cfg.backend_create = ht_backend_create;
	if (q)
		cfg.quotas = *q;
	cfg.resp_map = ht_resp_map;
	cfg.resp_unmap = ht_resp_unmap;
	cfg.transport_cookie = t;
	cfg.log = ht_log;
	cfg.log_cookie = t;
	cfg.max_batch_size = HT_BATCH_SIZE;
	cfg.budget = b;
	cfg.name = name;
	assert_int_equal(viova_host_create(&cfg, &t->h), 0);
	t->be = ht_be_of(viova_host_backend(t->h));
	assert_string_equal(t->be->inner->ops->name, HT_BACKEND);
	t->sim = HT_EMU ? NULL : t->be->inner;
	assert_int_equal(viova_host_get_caps(t->h, &t->caps), 0);
	assert_int_equal(viova_codec_enc_init(&t->enc, t->batch, HT_BATCH_SIZE, 1), 0);
	assert_int_equal(viova_codec_enc_resp_init(&t->enc, HT_RES_ID, 0, HT_AREA_SIZE, NULL), 0);
	assert_int_equal(ht_send(t), 0);
	assert_int_equal(viova_codec_resp_guest_attach(&t->g, t->area, HT_AREA_SIZE), 0);
	return t;
}

/* Create a host with quotas q (NULL: defaults) and attach the response area. */
static inline struct ht *ht_new_q(const struct viova_host_quotas *q)
{
	return ht_new_qb(q, NULL, NULL);
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
#if defined(HT_BACKEND_MSM)
	assert_int_equal(msm_emu_open_files(t->emu), 0); /* the backend closed every file */
	msm_emu_free(t->emu);
#elif defined(HT_BACKEND_I915)
	assert_int_equal(i915_emu_open_files(t->emu), 0);
	i915_emu_free(t->emu);
#endif
#if HT_EMU
	drm_seam_set(NULL);
	ht_emu_current = NULL;
#endif
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

/*
 * Objects alive behind the backend, as the backend's own world counts them: the sim's
 * statistics, or what the emulated kernel holds (msm: open files, queues, GEM objects; i915:
 * VM objects, contexts, GEM objects). Comparable between two probes of one host only.
 */
struct ht_alive {
	uint32_t vms;
	uint32_t ctxs;
	uint32_t bos;
	uint64_t bytes;
	uint32_t placed; /* kernel placements (msm iovas, i915 bindings); sim: 0 */
};

static inline void ht_alive(struct ht *t, struct ht_alive *a)
{
	memset(a, 0, sizeof(*a));
#if defined(HT_BACKEND_MSM)
	struct msm_emu_totals k;

	msm_emu_totals(t->emu, &k);
	*a = (struct ht_alive){k.files, k.queues, k.objects, k.bytes, k.placed};
#elif defined(HT_BACKEND_I915)
	struct i915_emu_totals k;

	i915_emu_totals(t->emu, &k);
	*a = (struct ht_alive){k.vms, k.contexts, k.objects, k.bytes, k.bound};
#else
	struct sim_debug_stats st;

	sim_debug_stats(t->sim, &st);
	*a = (struct ht_alive){st.vms, st.ctxs, st.bos, st.bytes, 0};
#endif
}

/* A snapshot of everything a rejected command must leave unchanged. */
struct ht_snap {
	struct viova_host_counters c;
	struct ht_alive alive;
	uint64_t mutating;
};

static inline void ht_snap(struct ht *t, struct ht_snap *s)
{
	memset(s, 0, sizeof(*s));
	viova_host_counters(t->h, &s->c);
	ht_alive(t, &s->alive);
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
	assert_int_equal(a->alive.vms, b.alive.vms);
	assert_int_equal(a->alive.ctxs, b.alive.ctxs);
	assert_int_equal(a->alive.bos, b.alive.bos);
	assert_int_equal(a->alive.bytes, b.alive.bytes);
	assert_int_equal(a->alive.placed, b.alive.placed);
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

/* ---- probes every backend answers (backend-agnostic tests) --------------------------------- */

/*
 * Whether the GPU address space ctx runs in has memory behind iova, as the backend's own world
 * sees it: the sim's page table of the context's VM; the msm emulator's placements on the
 * queue's file; the i915 emulator's bindings in the context's VM object (i915 binds at
 * EXECBUFFER2, so a buffer is there once a job of that VM has used it).
 */
static inline bool ht_gpu_maps(struct ht *t, struct viova_be_ctx *ctx, uint64_t iova)
{
#if defined(HT_BACKEND_MSM)
	return msm_emu_object_at(t->emu, ht_kctx_of(t->be, ctx)->fd, iova) != 0;
#elif defined(HT_BACKEND_I915)
	struct i915_emu_ctx *k = i915_emu_ctx(t->emu, ht_kctx_of(t->be, ctx)->id);

	assert_non_null(k);
	return i915_emu_object_at(t->emu, k->vm, iova) != 0;
#else
	struct sim_debug_ctx_info info;
	struct sim_debug_mapping m;

	sim_debug_ctx_info(t->sim, ctx, &info);
	return sim_debug_vm_find(t->sim, (struct viova_be_vm *)info.vm, iova, &m) == 0;
#endif
}

/*
 * Emulated backends: the GPU faults on the next job of ctx, as the kernel reports it (msm: the
 * queue's fault count; i915: a hang the context is found guilty of). The emulators do not run
 * command streams, so a test that needs a job to fault says so here; the backend then learns
 * it the way it would from real hardware. The sim runs its jobs itself: fails there.
 */
static inline void ht_gpu_fault_next_job(struct ht *t, struct viova_be_ctx *ctx)
{
#if defined(HT_BACKEND_MSM)
	const struct ht_kctx *k = ht_kctx_of(t->be, ctx);

	msm_emu_fault(t->emu, k->fd, k->id);
#elif defined(HT_BACKEND_I915)
	struct i915_emu_ctx *k = i915_emu_ctx(t->emu, ht_kctx_of(t->be, ctx)->id);

	assert_non_null(k);
	k->guilty++;
#else
	(void)t;
	(void)ctx;
	fail_msg("ht_gpu_fault_next_job: the sim runs its jobs; make the job fault instead");
#endif
}

#endif /* VIOVA_TESTS_HOST_TEST_H */

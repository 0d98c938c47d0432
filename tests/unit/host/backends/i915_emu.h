/* SPDX-License-Identifier: MIT */
/*
 * i915_emu.h - an in-process emulation of the i915 kernel driver behind the drm seam, for the
 * i915 backend's tests: VM ids (refcounted, GETPARAM(VM) hands out a new id), a context table
 * with get/set params (create-time SETPARAM extensions, CONTEXT_GETPARAM), GEM objects with
 * real memory, and EXECBUFFER2 softpin checks (page aligned, canonical, 48-bit flag, inside the
 * GTT, no overlap inside one execbuf; older bindings in the VM that overlap are evicted, as
 * i915 does). Jobs complete at once, or are held until the test completes them (GEM_WAIT
 * then blocks until its timeout). Thread safe: a backend's completion thread calls into it
 * while the test does.
 */
#ifndef VIOVA_TESTS_I915_EMU_H
#define VIOVA_TESTS_I915_EMU_H

#include <stdbool.h>
#include <stdint.h>

#include "emu_log.h"

#include "drm_seam.h"

struct i915_emu_config {
	const char *name; /* "i915" */
	int major, minor, patch;
	bool softpin;
	uint64_t gtt_size;
	bool cap_sys_nice;  /* priority > 0 allowed */
	bool cap_sys_admin; /* BANNABLE = 0 allowed */
	bool hold_jobs;
};

/* What one context holds (for assertions). */
struct i915_emu_ctx {
	bool live;
	uint32_t vm; /* VM object index */
	int64_t priority;
	bool bannable, recoverable, no_error_capture;
	uint32_t engines_size;
	uint8_t engines[64];
	bool sseu_set;
	uint8_t sseu[64];
	uint32_t guilty; /* hangs this context was found guilty of (GET_RESET_STATS batch_active);
			  * a test raises it to model a GPU hang (i915_emu_complete_next does it
			  * under the emulator's lock) */
};

struct i915_emu;

/* NULL cfg: i915 1.6.0, softpin, 2^48 GTT, unprivileged. */
struct i915_emu *i915_emu_new(const struct i915_emu_config *cfg);
void i915_emu_free(struct i915_emu *e);
const struct drm_seam *i915_emu_seam(struct i915_emu *e);

/* The ioctls the backend made, and error injection (emu_log.h). */
struct emu_log *i915_emu_log(struct i915_emu *e);

/* Hold jobs from now on (true), or complete the ones submitted from now on at once (false). */
void i915_emu_set_hold(struct i915_emu *e, bool hold);
/* Hold mode: complete every held job. */
void i915_emu_complete(struct i915_emu *e);
/*
 * Hold mode: complete the oldest held job of kernel context ctx_id, first counting a hang it
 * is guilty of when guilty (GET_RESET_STATS batch_active + 1), and wake GEM_WAIT. False if the
 * context had no held job.
 */
bool i915_emu_complete_next(struct i915_emu *e, uint32_t ctx_id, bool guilty);
/* Block until at least n GEM_WAIT calls are asleep in the emulator: 0, or -ETIMEDOUT. */
int i915_emu_await_waiters(struct i915_emu *e, int n, uint64_t timeout_ns);

/* Live VM ids (not objects), contexts, GEM objects. */
uint32_t i915_emu_vm_ids(const struct i915_emu *e);
uint32_t i915_emu_vm_of_id(const struct i915_emu *e, uint32_t id); /* object index; ~0u: none */
uint32_t i915_emu_contexts(const struct i915_emu *e);
/* A context (NULL: none); tests may change it, as a CONTEXT_SETPARAM of another client would. */
struct i915_emu_ctx *i915_emu_ctx(struct i915_emu *e, uint32_t ctx_id);
uint32_t i915_emu_objects(const struct i915_emu *e);
uint8_t *i915_emu_mem(const struct i915_emu *e, uint32_t handle);
/* Where handle is bound in VM object vm (0: not bound). */
uint64_t i915_emu_bound(const struct i915_emu *e, uint32_t vm, uint32_t handle);
/* Copy of the last execbuf's objects. */
uint32_t i915_emu_last_exec(const struct i915_emu *e, const void **objs);
const char *i915_emu_last_log(const struct i915_emu *e);
int i915_emu_mappings(const struct i915_emu *e);
int i915_emu_open_files(const struct i915_emu *e);

/* Everything alive in the emulated kernel (the "objects alive" probe). */
struct i915_emu_totals {
	uint32_t vms;	   /* VM objects (not ids) */
	uint32_t contexts; /* not counting the default context 0 */
	uint32_t objects;  /* GEM objects */
	uint64_t bytes;	   /* their sizes */
	uint32_t bound;	   /* (VM, object) bindings left by execbufs */
};
void i915_emu_totals(const struct i915_emu *e, struct i915_emu_totals *t);
/* Handle of the object bound in VM object vm over iova (0: nothing there, or no such VM). */
uint32_t i915_emu_object_at(const struct i915_emu *e, uint32_t vm, uint64_t iova);

#endif /* VIOVA_TESTS_I915_EMU_H */

/* SPDX-License-Identifier: MIT */
/*
 * test_sim_backend.c - the sim backend called DIRECTLY (no host core in front of it): it must
 * enforce the kernel's rules on its own (seed 004 SET_IOVA, sparse bind, buffer bounds, seed
 * 003 clone, submit validation) and leave its state unchanged after every refusal.
 */
#include <stdlib.h>

#include "sim_test.h"

#define PAGE 4096ull
#define VA_START SIM_DEFAULT_VA_START
#define VA_END (SIM_DEFAULT_VA_START + SIM_DEFAULT_VA_SIZE)
#define RES_START (VA_END - SIM_DEFAULT_RESERVED_SIZE)

struct fx {
	struct ev_log log;
	struct viova_backend *be;
	const struct viova_backend_ops *ops;
	struct viova_be_vm *vm;
	struct viova_be_ctx *ctx;
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	sim_open(&f->log, NULL, &f->be, &f->vm);
	f->ops = f->be->ops;
	assert_int_equal(f->ops->ctx_create(f->be, f->vm, NULL, f, &f->ctx), 0);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	if (f->ctx)
		f->ops->ctx_destroy(f->be, f->ctx);
	sim_close(f->be, f->vm);
	ev_fini(&f->log);
	free(f);
	return 0;
}

static struct viova_be_bo *new_bo(struct fx *f, uint64_t size)
{
	struct viova_be_bo *bo = NULL;

	assert_int_equal(f->ops->bo_create(f->be, f->vm, size, 0, &bo), 0);
	assert_non_null(bo);
	return bo;
}

/* The mapping at iova is exactly [addr, addr + range) of bo from bo_offset. */
static void assert_mapped(struct fx *f, uint64_t iova, uint64_t addr, uint64_t range,
			  const struct viova_be_bo *bo, uint64_t bo_offset)
{
	struct sim_debug_mapping m;

	assert_int_equal(sim_debug_vm_find(f->be, f->vm, iova, &m), 0);
	assert_int_equal(m.addr, addr);
	assert_int_equal(m.range, range);
	assert_ptr_equal(m.bo, bo);
	assert_int_equal(m.bo_offset, bo_offset);
}

static void assert_unmapped(struct fx *f, uint64_t iova)
{
	struct sim_debug_mapping m;

	assert_int_equal(sim_debug_vm_find(f->be, f->vm, iova, &m), -ENOENT);
}

/* ---- registry, config, caps ---------------------------------------------------------- */

static void test_registry(void **state)
{
	struct viova_backend *be = (void *)0x1;

	(void)state;
	/*
	 * The driver backends (issue 8) are registered as they are written; on a machine without
	 * their GPU they answer -ENODEV (backend.h), before that -ENOENT. Never an instance here.
	 */
	for (int k = 0; k < 2; k++) {
		int ret = viova_backend_create(k ? "i915" : "msm", NULL, NULL, NULL, &be);

		assert_true(ret == -ENOENT || ret == -ENODEV);
		assert_ptr_equal(be, (void *)0x1);
	}
	assert_int_equal(viova_backend_create("", NULL, NULL, NULL, &be), -ENOENT);
	assert_int_equal(viova_backend_create("SIM", NULL, NULL, NULL, &be), -ENOENT);
	assert_ptr_equal(be, (void *)0x1);
	assert_int_equal(viova_backend_create(NULL, NULL, NULL, NULL, &be), -EINVAL);
	assert_int_equal(viova_backend_create("sim", NULL, NULL, NULL, NULL), -EINVAL);

	/* no events at all is allowed (nobody listens) */
	assert_int_equal(viova_backend_create("sim", NULL, NULL, NULL, &be), 0);
	assert_string_equal(be->ops->name, "sim");
	be->ops->destroy(be);
}

static void test_config(void **state)
{
	struct viova_backend_config c = {0};
	struct viova_backend *be = NULL;
	struct viova_capset caps;

	(void)state;
	c.sim_va_start = 0x100000001ull; /* not page aligned */
	assert_int_equal(viova_backend_create("sim", &c, NULL, NULL, &be), -EINVAL);
	c.sim_va_start = 0xfffffffffffff000ull; /* wraps */
	c.sim_va_size = 0x2000;
	assert_int_equal(viova_backend_create("sim", &c, NULL, NULL, &be), -EINVAL);
	c.sim_va_start = 0x10000000;
	c.sim_va_size = 0x1000000; /* smaller than the default reserved region: nothing left */
	assert_int_equal(viova_backend_create("sim", &c, NULL, NULL, &be), -EINVAL);
	c.sim_va_size = 0x10000000;
	c.sim_reserved_start = 0x8000000;
	c.sim_reserved_size = 0x1000; /* below the window */
	assert_int_equal(viova_backend_create("sim", &c, NULL, NULL, &be), -EINVAL);
	c.sim_reserved_start = 0x1fff0000;
	c.sim_reserved_size = 0x20000; /* sticks out of the window's end */
	assert_int_equal(viova_backend_create("sim", &c, NULL, NULL, &be), -EINVAL);
	c.sim_reserved_start = 0x10000000;
	c.sim_reserved_size = 0; /* start without size */
	assert_int_equal(viova_backend_create("sim", &c, NULL, NULL, &be), -EINVAL);
	assert_null(be);

	c.sim_reserved_start = 0x10000000;
	c.sim_reserved_size = 0x100000;
	c.sim_max_bytes = 3 * PAGE;
	assert_int_equal(viova_backend_create("sim", &c, NULL, NULL, &be), 0);
	memset(&caps, 0, sizeof(caps));
	assert_int_equal(be->ops->get_caps(be, &caps), 0);
	assert_int_equal(caps.va_start, 0x10000000);
	assert_int_equal(caps.va_size, 0x10000000);
	assert_int_equal(caps.reserved_start, 0x10000000);
	assert_int_equal(caps.reserved_size, 0x100000);
	{
		/* the budget: 3 pages in total */
		struct viova_be_vm *vm;
		struct viova_be_bo *a, *b;

		assert_int_equal(be->ops->vm_create(be, &vm), 0);
		assert_int_equal(be->ops->bo_create(be, vm, 2 * PAGE, 0, &a), 0);
		assert_int_equal(be->ops->bo_create(be, vm, 2 * PAGE, 0, &b), -ENOMEM);
		assert_int_equal(be->ops->bo_create(be, vm, PAGE, 0, &b), 0);
		be->ops->bo_close(be, a);
		assert_int_equal(be->ops->bo_create(be, vm, 2 * PAGE, 0, &a), 0);
		be->ops->bo_close(be, a);
		be->ops->bo_close(be, b);
		be->ops->vm_destroy(be, vm);
	}
	assert_sim_empty(be);
	be->ops->destroy(be);
}

static void test_caps(void **state)
{
	struct fx *f = *state;
	struct viova_capset caps;

	memset(&caps, 0xa5, sizeof(caps));
	assert_int_equal(f->ops->get_caps(f->be, &caps), 0);
	assert_int_equal(caps.backend, VIOVA_BACKEND_SIM);
	assert_int_equal(caps.va_start, VA_START);
	assert_int_equal(caps.va_size, SIM_DEFAULT_VA_SIZE);
	assert_int_equal(caps.reserved_start, RES_START);
	assert_int_equal(caps.reserved_size, SIM_DEFAULT_RESERVED_SIZE);
	assert_int_equal(caps.page_size, 4096);
	assert_int_equal(caps.min_alignment, 4096);
	assert_int_equal(caps.features, VIOVA_FEATURE_SET_IOVA | VIOVA_FEATURE_VM_BIND |
					    VIOVA_FEATURE_MULTI_VM | VIOVA_FEATURE_UPLOAD |
					    VIOVA_FEATURE_DOWNLOAD | VIOVA_FEATURE_SUBMIT_SIM |
					    VIOVA_FEATURE_PRIORITY | VIOVA_FEATURE_WAIT_BLOCKS);
	assert_int_equal(caps.clone_flags, VIOVA_CLONE_ALL);
	assert_int_equal(caps.max_wait_ns, SIM_MAX_WAIT_NS);
	assert_int_equal(caps.gpu_id, SIM_GPU_ID);
	/* the core's fields are left alone */
	assert_int_equal(caps.wire_major, 0xa5a5);
	assert_int_equal(caps.max_batch_size, 0xa5a5a5a5u);
	assert_int_equal(caps.max_contexts, 0xa5a5a5a5u);
	assert_int_equal(caps.max_bytes, 0xa5a5a5a5a5a5a5a5ull);
	assert_int_equal(f->ops->get_caps(f->be, NULL), -EINVAL);
}

/* ---- buffers ------------------------------------------------------------------------- */

static void test_bo_create_rejects(void **state)
{
	struct fx *f = *state;
	struct viova_be_bo *bo = NULL;
	struct sim_debug_stats st;

	assert_int_equal(f->ops->bo_create(f->be, f->vm, 0, 0, &bo), -EINVAL);
	assert_int_equal(f->ops->bo_create(f->be, f->vm, PAGE + 1, 0, &bo), -EINVAL);
	assert_int_equal(f->ops->bo_create(f->be, f->vm, PAGE, 1u << 7, &bo), -EINVAL);
	assert_int_equal(f->ops->bo_create(f->be, f->vm, PAGE,
					   VIOVA_GEM_CACHED_COHERENT | VIOVA_GEM_UNCACHED, &bo),
			 -EINVAL);
	assert_int_equal(f->ops->bo_create(f->be, NULL, PAGE, 0, &bo), -EINVAL);
	/* more than the instance's budget */
	assert_int_equal(f->ops->bo_create(f->be, f->vm, SIM_DEFAULT_MAX_BYTES + PAGE, 0, &bo),
			 -ENOMEM);
	assert_int_equal(f->ops->bo_create(f->be, f->vm, 0xfffffffffffff000ull, 0, &bo), -ENOMEM);
	assert_null(bo);
	sim_debug_stats(f->be, &st);
	assert_int_equal(st.bos, 0);
	assert_int_equal(st.bytes, 0);

	assert_int_equal(f->ops->bo_create(f->be, f->vm, 3 * PAGE, VIOVA_GEM_UNCACHED, &bo), 0);
	sim_debug_stats(f->be, &st);
	assert_int_equal(st.bos, 1);
	assert_int_equal(st.bytes, 3 * PAGE);
	f->ops->bo_close(f->be, bo);
}

static void test_bo_read_write(void **state)
{
	struct fx *f = *state;
	struct viova_be_bo *bo = new_bo(f, 2 * PAGE);
	uint8_t buf[PAGE], out[PAGE];
	uint32_t i;

	/* new buffers are zero-filled */
	assert_int_equal(f->ops->bo_read(f->be, bo, 0, out, sizeof(out)), 0);
	for (i = 0; i < sizeof(out); i++)
		assert_int_equal(out[i], 0);
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	/* across the page boundary */
	assert_int_equal(f->ops->bo_write(f->be, bo, PAGE / 2, buf, sizeof(buf)), 0);
	assert_int_equal(f->ops->bo_read(f->be, bo, PAGE / 2, out, sizeof(out)), 0);
	assert_memory_equal(buf, out, sizeof(buf));

	/* out of bounds: refused, buffer unchanged */
	memset(out, 0xee, sizeof(out));
	assert_int_equal(f->ops->bo_write(f->be, bo, 2 * PAGE - 8, out, 16), -EINVAL);
	assert_int_equal(f->ops->bo_write(f->be, bo, 2 * PAGE + 1, out, 0), -EINVAL);
	assert_int_equal(f->ops->bo_write(f->be, bo, 8, out, UINT64_MAX - 4), -EINVAL);
	assert_int_equal(f->ops->bo_write(f->be, bo, UINT64_MAX, out, 2), -EINVAL);
	assert_int_equal(f->ops->bo_read(f->be, bo, 2 * PAGE - 8, out, 16), -EINVAL);
	assert_int_equal(f->ops->bo_read(f->be, bo, PAGE, out, UINT64_MAX), -EINVAL);
	assert_int_equal(f->ops->bo_write(f->be, bo, 0, NULL, 8), -EINVAL);
	assert_int_equal(f->ops->bo_write(f->be, NULL, 0, out, 8), -EINVAL);
	/* up to the last byte, and empty accesses, are fine */
	assert_int_equal(f->ops->bo_read(f->be, bo, 2 * PAGE - 1, out, 1), 0);
	assert_int_equal(f->ops->bo_read(f->be, bo, 2 * PAGE, out, 0), 0);
	assert_int_equal(f->ops->bo_read(f->be, bo, PAGE / 2, out, sizeof(out)), 0);
	assert_memory_equal(buf, out, sizeof(buf));
	f->ops->bo_close(f->be, bo);
}

/* ---- SET_IOVA (seed 004) -------------------------------------------------------------- */

static void test_set_iova_rules(void **state)
{
	struct fx *f = *state;
	struct viova_be_bo *a = new_bo(f, 4 * PAGE), *b = new_bo(f, 2 * PAGE);
	const uint64_t ia = VA_START + 0x100000;

	assert_int_equal(f->ops->bo_set_iova(f->be, f->vm, a, ia), 0);
	assert_mapped(f, ia + PAGE, ia, 4 * PAGE, a, 0);
	/* the same request again is a no-op success */
	assert_int_equal(f->ops->bo_set_iova(f->be, f->vm, a, ia), 0);
	assert_int_equal(sim_debug_vm_count(f->be, f->vm), 1);

	/* mapped elsewhere already: EBUSY, and (unlike msm) the old mapping stays */
	assert_int_equal(f->ops->bo_set_iova(f->be, f->vm, a, ia + 0x100000), -EBUSY);
	assert_mapped(f, ia, ia, 4 * PAGE, a, 0);
	assert_unmapped(f, ia + 0x100000);

	/* overlap with a's range, from below, inside, from above: ENOSPC */
	assert_int_equal(f->ops->bo_set_iova(f->be, f->vm, b, ia - PAGE), -ENOSPC);
	assert_int_equal(f->ops->bo_set_iova(f->be, f->vm, b, ia + PAGE), -ENOSPC);
	assert_int_equal(f->ops->bo_set_iova(f->be, f->vm, b, ia + 3 * PAGE), -ENOSPC);
	/* outside the window, wrapping, misaligned: EINVAL */
	assert_int_equal(f->ops->bo_set_iova(f->be, f->vm, b, VA_START - PAGE), -EINVAL);
	assert_int_equal(f->ops->bo_set_iova(f->be, f->vm, b, PAGE), -EINVAL);
	assert_int_equal(f->ops->bo_set_iova(f->be, f->vm, b, VA_END - PAGE), -EINVAL);
	assert_int_equal(f->ops->bo_set_iova(f->be, f->vm, b, VA_END), -EINVAL);
	assert_int_equal(f->ops->bo_set_iova(f->be, f->vm, b, 0xfffffffffffff000ull), -EINVAL);
	assert_int_equal(f->ops->bo_set_iova(f->be, f->vm, b, ia + 0x100000 + 8), -EINVAL);
	assert_int_equal(f->ops->bo_set_iova(f->be, f->vm, b, ia + 0x100800), -EINVAL);
	/* the kernel-reserved region is not free: ENOSPC, also when only touching it */
	assert_int_equal(f->ops->bo_set_iova(f->be, f->vm, b, RES_START), -ENOSPC);
	assert_int_equal(f->ops->bo_set_iova(f->be, f->vm, b, RES_START - PAGE), -ENOSPC);
	/* nothing of the above changed anything */
	assert_int_equal(sim_debug_vm_count(f->be, f->vm), 1);
	assert_mapped(f, ia, ia, 4 * PAGE, a, 0);

	/* right below the reserved region and right after a: fine */
	assert_int_equal(f->ops->bo_set_iova(f->be, f->vm, b, RES_START - 2 * PAGE), 0);
	f->ops->bo_set_iova(f->be, f->vm, b, 0);
	assert_int_equal(f->ops->bo_set_iova(f->be, f->vm, b, ia + 4 * PAGE), 0);
	assert_int_equal(sim_debug_vm_count(f->be, f->vm), 2);

	/* iova 0 clears; clearing an unmapped buffer is a no-op */
	assert_int_equal(f->ops->bo_set_iova(f->be, f->vm, a, 0), 0);
	assert_unmapped(f, ia);
	assert_int_equal(f->ops->bo_set_iova(f->be, f->vm, a, 0), 0);
	/* now a can go elsewhere */
	assert_int_equal(f->ops->bo_set_iova(f->be, f->vm, a, ia + 0x100000), 0);
	assert_mapped(f, ia + 0x100000, ia + 0x100000, 4 * PAGE, a, 0);

	assert_int_equal(f->ops->bo_set_iova(f->be, NULL, a, ia), -EINVAL);
	assert_int_equal(f->ops->bo_set_iova(f->be, f->vm, NULL, ia), -EINVAL);

	f->ops->bo_set_iova(f->be, f->vm, a, 0);
	f->ops->bo_set_iova(f->be, f->vm, b, 0);
	assert_int_equal(sim_debug_vm_count(f->be, f->vm), 0);
	f->ops->bo_close(f->be, a);
	f->ops->bo_close(f->be, b);
}

/* Each VM is its own address space: one buffer may sit at the same or another iova in each. */
static void test_set_iova_per_vm(void **state)
{
	struct fx *f = *state;
	struct viova_be_vm *vm2;
	struct viova_be_bo *a = new_bo(f, PAGE), *b = new_bo(f, PAGE);
	struct sim_debug_mapping m;
	const uint64_t ia = VA_START + 0x200000;

	assert_int_equal(f->ops->vm_create(f->be, &vm2), 0);
	assert_int_equal(f->ops->bo_set_iova(f->be, f->vm, a, ia), 0);
	assert_int_equal(f->ops->bo_set_iova(f->be, vm2, b, ia), 0);
	assert_int_equal(f->ops->bo_set_iova(f->be, vm2, a, ia + PAGE), 0);
	assert_int_equal(sim_debug_vm_find(f->be, vm2, ia, &m), 0);
	assert_ptr_equal(m.bo, b);
	assert_mapped(f, ia, ia, PAGE, a, 0);
	/* closing a buffer removes it from every VM */
	f->ops->bo_close(f->be, a);
	assert_int_equal(sim_debug_vm_count(f->be, f->vm), 0);
	assert_int_equal(sim_debug_vm_count(f->be, vm2), 1);
	f->ops->bo_close(f->be, b);
	assert_int_equal(sim_debug_vm_count(f->be, vm2), 0);
	f->ops->vm_destroy(f->be, vm2);
}

/* ---- sparse bind ---------------------------------------------------------------------- */

static void test_bind_rejects(void **state)
{
	struct fx *f = *state;
	struct viova_be_bo *bo = new_bo(f, 4 * PAGE);
	const uint64_t base = VA_START + 0x400000;

	/* outside the buffer */
	assert_int_equal(f->ops->bind(f->be, f->vm, bo, base, 5 * PAGE, 0, 0), -EINVAL);
	assert_int_equal(f->ops->bind(f->be, f->vm, bo, base, 2 * PAGE, 3 * PAGE, 0), -EINVAL);
	assert_int_equal(f->ops->bind(f->be, f->vm, bo, base, PAGE, 4 * PAGE, 0), -EINVAL);
	assert_int_equal(f->ops->bind(f->be, f->vm, bo, base, PAGE, UINT64_MAX - 4095, 0), -EINVAL);
	/* misaligned address, size, offset; empty */
	assert_int_equal(f->ops->bind(f->be, f->vm, bo, base + 16, PAGE, 0, 0), -EINVAL);
	assert_int_equal(f->ops->bind(f->be, f->vm, bo, base, PAGE - 16, 0, 0), -EINVAL);
	assert_int_equal(f->ops->bind(f->be, f->vm, bo, base, PAGE, 16, 0), -EINVAL);
	assert_int_equal(f->ops->bind(f->be, f->vm, bo, base, 0, 0, 0), -EINVAL);
	/* outside the window, wrapping, reserved region */
	assert_int_equal(f->ops->bind(f->be, f->vm, bo, VA_START - PAGE, 2 * PAGE, 0, 0), -EINVAL);
	assert_int_equal(f->ops->bind(f->be, f->vm, bo, VA_END - PAGE, 2 * PAGE, 0, 0), -EINVAL);
	assert_int_equal(f->ops->bind(f->be, f->vm, bo, 0xfffffffffffff000ull, 2 * PAGE, 0, 0),
			 -EINVAL);
	assert_int_equal(f->ops->bind(f->be, f->vm, bo, RES_START - PAGE, 2 * PAGE, 0, 0), -EINVAL);
	/* unknown flag */
	assert_int_equal(f->ops->bind(f->be, f->vm, bo, base, PAGE, 0, 1u << 5), -EINVAL);
	assert_int_equal(sim_debug_vm_count(f->be, f->vm), 0);

	/* unbind: same range rules */
	assert_int_equal(f->ops->unbind(f->be, f->vm, base, 0), -EINVAL);
	assert_int_equal(f->ops->unbind(f->be, f->vm, base + 8, PAGE), -EINVAL);
	assert_int_equal(f->ops->unbind(f->be, f->vm, VA_START - PAGE, 2 * PAGE), -EINVAL);
	assert_int_equal(f->ops->unbind(f->be, f->vm, RES_START, PAGE), -EINVAL);
	/* an empty range is fine */
	assert_int_equal(f->ops->unbind(f->be, f->vm, base, PAGE), 0);
	f->ops->bo_close(f->be, bo);
}

static void test_bind_split_merge(void **state)
{
	struct fx *f = *state;
	struct viova_be_bo *a = new_bo(f, 4 * PAGE), *b = new_bo(f, 4 * PAGE);
	struct sim_debug_mapping m;
	const uint64_t base = VA_START + 0x800000;

	/* a whole at base; b's page 2 over a's page 1 splits a in three */
	assert_int_equal(f->ops->bo_set_iova(f->be, f->vm, a, base), 0);
	assert_int_equal(
	    f->ops->bind(f->be, f->vm, b, base + PAGE, PAGE, 2 * PAGE, VIOVA_BIND_READONLY), 0);
	assert_int_equal(sim_debug_vm_count(f->be, f->vm), 3);
	assert_mapped(f, base, base, PAGE, a, 0);
	assert_mapped(f, base + PAGE, base + PAGE, PAGE, b, 2 * PAGE);
	assert_int_equal(sim_debug_vm_find(f->be, f->vm, base + PAGE, &m), 0);
	assert_true(m.readonly);
	assert_mapped(f, base + 2 * PAGE, base + 2 * PAGE, 2 * PAGE, a, 2 * PAGE);

	/* a is no longer mapped whole at base: SET_IOVA there is "mapped elsewhere" */
	assert_int_equal(f->ops->bo_set_iova(f->be, f->vm, a, base), -EBUSY);

	/* unbind a hole in the tail piece */
	assert_int_equal(f->ops->unbind(f->be, f->vm, base + 2 * PAGE, PAGE), 0);
	assert_unmapped(f, base + 2 * PAGE);
	assert_mapped(f, base + 3 * PAGE, base + 3 * PAGE, PAGE, a, 3 * PAGE);
	assert_int_equal(sim_debug_vm_count(f->be, f->vm), 3);

	/* clear removes what is left of a's SET_IOVA mapping in this VM, b stays */
	assert_int_equal(f->ops->bo_set_iova(f->be, f->vm, a, 0), 0);
	assert_int_equal(sim_debug_vm_count(f->be, f->vm), 1);
	assert_mapped(f, base + PAGE, base + PAGE, PAGE, b, 2 * PAGE);
	assert_int_equal(f->ops->unbind(f->be, f->vm, base, 4 * PAGE), 0);
	assert_int_equal(sim_debug_vm_count(f->be, f->vm), 0);
	f->ops->bo_close(f->be, a);
	f->ops->bo_close(f->be, b);
}

/* ---- contexts and clone (seed 003) ---------------------------------------------------- */

static void test_ctx_create_rejects(void **state)
{
	struct fx *f = *state;
	struct viova_be_ctx_params p = {.params = VIOVA_CTX_PARAMS_ALL + 1, .priority = 0};
	struct viova_be_ctx *c = NULL;
	struct sim_debug_stats st;
	struct sim_debug_ctx_info info;

	assert_int_equal(f->ops->ctx_create(f->be, f->vm, &p, NULL, &c), -EINVAL);
	p.params = 1u << 31;
	assert_int_equal(f->ops->ctx_create(f->be, f->vm, &p, NULL, &c), -EINVAL);
	p.params = 0;
	p.priority = VIOVA_PRIORITY_MAX + 1;
	assert_int_equal(f->ops->ctx_create(f->be, f->vm, &p, NULL, &c), -EINVAL);
	p.priority = VIOVA_PRIORITY_MIN - 1;
	assert_int_equal(f->ops->ctx_create(f->be, f->vm, &p, NULL, &c), -EINVAL);
	p.priority = 0;
	assert_int_equal(f->ops->ctx_create(f->be, NULL, &p, NULL, &c), -EINVAL);
	assert_null(c);
	sim_debug_stats(f->be, &st);
	assert_int_equal(st.ctxs, 1);

	p.params = VIOVA_CTX_NO_ERROR_CAPTURE | VIOVA_CTX_ALLOW_PREEMPT;
	p.priority = VIOVA_PRIORITY_MIN;
	assert_int_equal(f->ops->ctx_create(f->be, f->vm, &p, NULL, &c), 0);
	sim_debug_ctx_info(f->be, c, &info);
	assert_int_equal(info.params, p.params);
	assert_int_equal(info.priority, VIOVA_PRIORITY_MIN);
	assert_ptr_equal(info.vm, f->vm);
	f->ops->ctx_destroy(f->be, c);
}

static void test_clone_rejects(void **state)
{
	struct fx *f = *state;
	struct viova_be_vm *vm2;
	struct viova_be_ctx *c = NULL;
	struct sim_debug_stats st;

	assert_int_equal(f->ops->vm_create(f->be, &vm2), 0);
	/* unknown bit */
	assert_int_equal(f->ops->ctx_clone(f->be, f->ctx, VIOVA_CLONE_ALL + 1, f->vm, NULL, &c),
			 -EINVAL);
	assert_int_equal(f->ops->ctx_clone(f->be, f->ctx, 1u << 31, vm2, NULL, &c), -EINVAL);
	/* unknown source */
	assert_int_equal(f->ops->ctx_clone(f->be, NULL, 0, vm2, NULL, &c), -ENOENT);
	/* CLONE_VM names the source's VM; another one contradicts it */
	assert_int_equal(f->ops->ctx_clone(f->be, f->ctx, VIOVA_CLONE_VM, vm2, NULL, &c), -EINVAL);
	assert_int_equal(f->ops->ctx_clone(f->be, f->ctx, 0, NULL, NULL, &c), -EINVAL);
	/* SSEU needs compatible engine maps (i915 rule): source with 2 engines, clone default 1 */
	sim_debug_ctx_set_engines(f->be, f->ctx, 2, 0x3);
	assert_int_equal(f->ops->ctx_clone(f->be, f->ctx, VIOVA_CLONE_SSEU, vm2, NULL, &c),
			 -EINVAL);
	assert_null(c);
	sim_debug_stats(f->be, &st);
	assert_int_equal(st.ctxs, 1);
	assert_int_equal(st.timelines, 1);
	f->ops->vm_destroy(f->be, vm2);
}

/* Each flag alone, and ALL: what is named is copied, the rest keeps new-context defaults. */
static void test_clone_matrix(void **state)
{
	struct fx *f = *state;
	struct viova_be_ctx_params p = {.params = VIOVA_CTX_NO_ERROR_CAPTURE, .priority = 321};
	static const uint32_t cases[] = {
	    0,
	    VIOVA_CLONE_ENGINES,
	    VIOVA_CLONE_FLAGS,
	    VIOVA_CLONE_SCHEDATTR,
	    VIOVA_CLONE_ENGINES | VIOVA_CLONE_SSEU,
	    VIOVA_CLONE_TIMELINE,
	    VIOVA_CLONE_VM,
	    VIOVA_CLONE_ALL,
	};
	struct viova_be_ctx *src;
	struct sim_debug_ctx_info si, ci;
	uint32_t i;

	assert_int_equal(f->ops->ctx_create(f->be, f->vm, &p, NULL, &src), 0);
	sim_debug_ctx_set_engines(f->be, src, 2, 0x6);
	sim_debug_ctx_info(f->be, src, &si);

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t fl = cases[i];
		struct viova_be_vm *vm = f->vm, *own = NULL;
		struct viova_be_ctx *c;

		if (!(fl & VIOVA_CLONE_VM)) {
			assert_int_equal(f->ops->vm_create(f->be, &own), 0);
			vm = own;
		}
		assert_int_equal(f->ops->ctx_clone(f->be, src, fl, vm, NULL, &c), 0);
		sim_debug_ctx_info(f->be, c, &ci);
		assert_int_equal(ci.engines, (fl & VIOVA_CLONE_ENGINES) ? 2 : 1);
		assert_int_equal(ci.sseu, (fl & VIOVA_CLONE_SSEU) ? 0x6 : 0x1);
		assert_int_equal(ci.params, (fl & VIOVA_CLONE_FLAGS) ? VIOVA_CTX_NO_ERROR_CAPTURE
								     : SIM_DEFAULT_PARAMS);
		assert_int_equal(ci.priority, (fl & VIOVA_CLONE_SCHEDATTR) ? 321 : 0);
		if (fl & VIOVA_CLONE_TIMELINE)
			assert_int_equal(ci.timeline_id, si.timeline_id);
		else
			assert_int_not_equal(ci.timeline_id, si.timeline_id);
		assert_ptr_equal(ci.vm, (fl & VIOVA_CLONE_VM) ? si.vm : own);
		f->ops->ctx_destroy(f->be, c);
		if (own)
			f->ops->vm_destroy(f->be, own);
	}
	f->ops->ctx_destroy(f->be, src);
}

/* A shared timeline outlives the context that created it; a VM outlives its vm_destroy while
 * a context still runs in it (defence against a core that destroys in the wrong order). */
static void test_lifetimes(void **state)
{
	struct fx *f = *state;
	struct viova_be_vm *vm2;
	struct viova_be_ctx *a, *b;
	struct viova_be_bo *bo;
	struct sim_debug_stats st;

	assert_int_equal(f->ops->vm_create(f->be, &vm2), 0);
	assert_int_equal(f->ops->ctx_create(f->be, vm2, NULL, NULL, &a), 0);
	assert_int_equal(
	    f->ops->ctx_clone(f->be, a, VIOVA_CLONE_TIMELINE | VIOVA_CLONE_VM, vm2, NULL, &b), 0);
	assert_int_equal(f->ops->bo_create(f->be, vm2, PAGE, 0, &bo), 0);
	assert_int_equal(f->ops->bo_set_iova(f->be, vm2, bo, VA_START), 0);
	f->ops->vm_destroy(f->be, vm2); /* early: contexts still hold it */
	f->ops->ctx_destroy(f->be, a);
	sim_debug_stats(f->be, &st);
	assert_int_equal(st.vms, 2);
	assert_int_equal(st.timelines, 2); /* f->ctx's, and a's still used by b */
	{
		/* b still runs in vm2 and shares a's (orphaned) timeline */
		struct viova_sim_job w = w_fill(VA_START, PAGE, 0x11223344);
		uint32_t v = 0;

		assert_int_equal(submit_words(f->be, b, &bo, 1, &w, 1, 1), 0);
		assert_int_equal(f->ops->fence_wait(f->be, b, 1, 5 * SEC), 0);
		assert_int_equal(f->ops->bo_read(f->be, bo, PAGE - 4, &v, 4), 0);
		assert_int_equal(v, 0x11223344);
	}
	f->ops->ctx_destroy(f->be, b);
	sim_debug_stats(f->be, &st);
	assert_int_equal(st.vms, 1);
	assert_int_equal(st.timelines, 1);
	f->ops->bo_close(f->be, bo);
}

/* ---- submit validation ---------------------------------------------------------------- */

static void assert_nothing_queued(struct fx *f)
{
	struct sim_debug_stats st;
	struct sim_debug_ctx_info info;

	sim_debug_stats(f->be, &st);
	assert_int_equal(st.jobs_queued, 0);
	assert_int_equal(st.jobs_run, 0);
	sim_debug_ctx_info(f->be, f->ctx, &info);
	assert_int_equal(info.last_submitted, 0);
}

static void test_submit_rejects_words(void **state)
{
	struct fx *f = *state;
	const uint64_t i0 = VA_START + 0x100000;
	const struct viova_sim_job bad[] = {
	    {.op = 0, .arg0 = i0, .arg1 = 4},				  /* op 0 */
	    {.op = 4, .arg0 = i0, .arg1 = 4},				  /* unknown */
	    {.op = VIOVA_SIM_OP_FILL, .flags = 1, .arg0 = i0, .arg1 = 4}, /* flags */
	    w_fill(i0 + 2, 4, 0),					  /* misaligned */
	    w_fill(i0, 0, 0),						  /* empty */
	    w_fill(i0, 6, 0),						  /* size % 4 */
	    {.op = VIOVA_SIM_OP_FILL, .arg0 = i0, .arg1 = 4, .arg2 = 1ull << 32},
	    w_fill(0xfffffffffffffff0ull, 0x20, 0),  /* wraps */
	    w_copy(i0, i0 + 0x1000, 0),		     /* empty */
	    w_copy(i0, i0 + 0x10, 0x20),	     /* overlap */
	    w_copy(i0 + 0x10, i0, 0x20),	     /* overlap */
	    w_copy(i0, i0, 4),			     /* same */
	    w_copy(0xfffffffffffffff0ull, i0, 0x20), /* dst wraps */
	    w_copy(i0, 0xfffffffffffffff0ull, 0x20), /* src wraps */
	    {.op = VIOVA_SIM_OP_COPY, .flags = 2, .arg0 = i0, .arg1 = i0 + 64, .arg2 = 4},
	    w_fence(i0 + 4, 1), /* misaligned */
	    {.op = VIOVA_SIM_OP_WRITE_FENCE, .arg0 = i0, .arg1 = 1, .arg2 = 1},
	    w_fence(0xfffffffffffffff8ull, 1), /* ends at 2^64: counted as wrapping */
	};
	uint32_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* a bad word anywhere refuses the whole job */
		struct viova_sim_job words[3] = {w_fill(i0, 4, 1), bad[i], w_fence(i0, 1)};

		assert_int_equal(submit_words(f->be, f->ctx, NULL, 0, &bad[i], 1, 1), -EINVAL);
		assert_int_equal(submit_words(f->be, f->ctx, NULL, 0, words, 3, 1), -EINVAL);
	}
	assert_nothing_queued(f);
	/* a never-submitted fence is refused at once, not waited for */
	assert_int_equal(f->ops->fence_wait(f->be, f->ctx, 1, 10 * SEC), -EINVAL);
	assert_int_equal(f->ops->fence_wait(f->be, f->ctx, 0, 0), 0);
}

static void test_submit_rejects_shape(void **state)
{
	struct fx *f = *state;
	struct viova_be_bo *bo = new_bo(f, PAGE), *bo2 = new_bo(f, PAGE);
	struct viova_sim_job w = w_fill(VA_START, 4, 1);
	struct viova_submit_cmdbuf cb = {0};
	struct viova_be_submit_bo list[2] = {
	    {.bo = bo, .flags = VIOVA_SUBMIT_BO_READ},
	    {.bo = bo2, .flags = VIOVA_SUBMIT_BO_WRITE},
	};
	struct viova_be_submit ok = {
	    .format = VIOVA_SUBMIT_FORMAT_SIM,
	    .bo_count = 2,
	    .bos = list,
	    .cmds = &w,
	    .cmd_size = sizeof(w),
	    .out_fence = 5,
	};
	struct viova_be_submit s;
	struct sim_debug_stats st;

	assert_int_equal(f->ops->bo_set_iova(f->be, f->vm, bo, VA_START), 0);

	s = ok; /* the msm/i915 format is not the sim's */
	s.format = VIOVA_SUBMIT_FORMAT_CMDBUF;
	s.cmds = &cb;
	s.cmd_size = sizeof(cb);
	assert_int_equal(f->ops->submit(f->be, f->ctx, &s), -EINVAL);
	s = ok;
	s.format = 0;
	assert_int_equal(f->ops->submit(f->be, f->ctx, &s), -EINVAL);
	s = ok;
	s.cmd_size = 0;
	assert_int_equal(f->ops->submit(f->be, f->ctx, &s), -EINVAL);
	s = ok;
	s.cmd_size = sizeof(w) - 8;
	assert_int_equal(f->ops->submit(f->be, f->ctx, &s), -EINVAL);
	s = ok;
	s.cmds = NULL;
	assert_int_equal(f->ops->submit(f->be, f->ctx, &s), -EINVAL);
	s = ok;
	s.pad0 = 1;
	assert_int_equal(f->ops->submit(f->be, f->ctx, &s), -EINVAL);
	s = ok;
	s.cmd_size = (SIM_MAX_JOB_WORDS + 1) * (uint32_t)sizeof(w);
	assert_int_equal(f->ops->submit(f->be, f->ctx, &s), -EINVAL);
	s = ok;
	s.bos = NULL;
	assert_int_equal(f->ops->submit(f->be, f->ctx, &s), -EINVAL);
	/* bo list entries: flags unknown or neither READ nor WRITE, duplicates, pad, NULL */
	list[1].flags = 1u << 3;
	assert_int_equal(f->ops->submit(f->be, f->ctx, &ok), -EINVAL);
	list[1].flags = VIOVA_SUBMIT_BO_DUMP;
	assert_int_equal(f->ops->submit(f->be, f->ctx, &ok), -EINVAL);
	list[1].flags = VIOVA_SUBMIT_BO_WRITE;
	list[1].bo = bo;
	assert_int_equal(f->ops->submit(f->be, f->ctx, &ok), -EINVAL);
	list[1].bo = NULL;
	assert_int_equal(f->ops->submit(f->be, f->ctx, &ok), -EINVAL);
	list[1].bo = bo2;
	list[1].pad0 = 1;
	assert_int_equal(f->ops->submit(f->be, f->ctx, &ok), -EINVAL);
	list[1].pad0 = 0;
	/* the core claims an iova our tables do not have */
	list[0].iova = VA_START + PAGE;
	assert_int_equal(f->ops->submit(f->be, f->ctx, &ok), -EINVAL);
	list[1].iova = VA_START; /* bo2 is not there, bo is */
	list[0].iova = VA_START;
	assert_int_equal(f->ops->submit(f->be, f->ctx, &ok), -EINVAL);
	list[1].iova = 0;
	s = ok; /* fence 0 is not after the context's previous fence (0) */
	s.out_fence = 0;
	assert_int_equal(f->ops->submit(f->be, f->ctx, &s), -EINVAL);
	assert_int_equal(f->ops->submit(f->be, NULL, &ok), -EINVAL);
	assert_int_equal(f->ops->submit(f->be, f->ctx, NULL), -EINVAL);
	assert_nothing_queued(f);
	sim_debug_stats(f->be, &st);
	assert_false(st.worker_started); /* nothing ever reached the GPU */

	/* the same submission, fixed, goes through; then its fence may not be reused */
	assert_int_equal(f->ops->submit(f->be, f->ctx, &ok), 0);
	assert_int_equal(f->ops->fence_wait(f->be, f->ctx, 5, 5 * SEC), 0);
	assert_int_equal(f->ops->submit(f->be, f->ctx, &ok), -EINVAL);
	ok.out_fence = 4;
	assert_int_equal(f->ops->submit(f->be, f->ctx, &ok), -EINVAL);
	ok.out_fence = 6;
	assert_int_equal(f->ops->submit(f->be, f->ctx, &ok), 0);
	assert_int_equal(f->ops->fence_wait(f->be, f->ctx, 6, 5 * SEC), 0);
	assert_int_equal(f->ops->fence_completed(f->be, f->ctx), 6);
	assert_true(ev_wait_fence(&f->log, f, 6, 5 * SEC));

	f->ops->bo_set_iova(f->be, f->vm, bo, 0);
	f->ops->bo_close(f->be, bo);
	f->ops->bo_close(f->be, bo2);
}

/* Whatever the core forgot is released by destroy (valgrind: no leak). */
static void test_destroy_leftovers(void **state)
{
	struct viova_backend *be;
	struct viova_be_vm *vm;
	struct viova_be_ctx *ctx, *clone;
	struct viova_be_bo *bo;
	struct viova_sim_job w = w_fill(VA_START, 2 * PAGE, 7);
	struct ev_log log;

	(void)state;
	ev_init(&log);
	assert_int_equal(viova_backend_create("sim", NULL, &ev_ops, &log, &be), 0);
	assert_int_equal(be->ops->vm_create(be, &vm), 0);
	assert_int_equal(be->ops->ctx_create(be, vm, NULL, &log, &ctx), 0);
	assert_int_equal(be->ops->ctx_clone(be, ctx, VIOVA_CLONE_ALL, vm, &vm, &clone), 0);
	assert_int_equal(be->ops->bo_create(be, vm, 2 * PAGE, 0, &bo), 0);
	assert_int_equal(be->ops->bo_set_iova(be, vm, bo, VA_START), 0);
	sim_debug_pause(be);
	assert_int_equal(submit_words(be, ctx, &bo, 1, &w, 1, 1), 0);
	assert_int_equal(submit_words(be, clone, &bo, 1, &w, 1, 9), 0);
	be->ops->destroy(be);
	/* both contexts' fences were reported before destroy returned */
	assert_int_equal(ev_last_fence(&log, &log), 1);
	assert_int_equal(ev_last_fence(&log, &vm), 9);
	assert_int_equal(log.order_errors, 0);
	ev_fini(&log);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_registry),
	    cmocka_unit_test(test_config),
	    cmocka_unit_test_setup_teardown(test_caps, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_bo_create_rejects, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_bo_read_write, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_set_iova_rules, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_set_iova_per_vm, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_bind_rejects, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_bind_split_merge, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_ctx_create_rejects, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_clone_rejects, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_clone_matrix, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_lifetimes, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_submit_rejects_words, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_submit_rejects_shape, fx_setup, fx_teardown),
	    cmocka_unit_test(test_destroy_leftovers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

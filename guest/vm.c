/* SPDX-License-Identifier: MIT */
/*
 * vm.c - guest VMs: their iova heaps (strategy, seed, environment), sparse ranges, VM_BIND /
 * VM_UNBIND, extra VMs (VM_CREATE).
 *
 * Heap handles: a buffer's iova in a VM is allocated under the buffer's id; a sparse range
 * under a handle with bit 31 set (VM_RANGE_BIT), so viova_guest_vm_free can refuse to free a
 * buffer's iova by address. Ids come from the shared counter, so processes sharing a heap never
 * use the same handle.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "guest_priv.h"

#define VM_RANGE_BIT 0x80000000u

const char *guest_strategy_name(uint32_t strategy)
{
	switch (strategy) {
	case VIOVA_GUEST_VMA_LOW_TO_HIGH:
		return "low_to_high";
	case VIOVA_GUEST_VMA_HIGH_TO_LOW:
		return "high_to_low";
	case VIOVA_GUEST_VMA_BEST_FIT:
		return "best_fit";
	case VIOVA_GUEST_VMA_RANDOM:
		return "random";
	default:
		return "default";
	}
}

/* VIOVA_VMA_STRATEGY / VIOVA_VMA_SEED, applied where the options leave the choice open. */
static int resolve_options(const struct viova_guest_vm_options *in, uint32_t *strategy,
			   uint64_t *seed, uint32_t *max_ranges)
{
	const char *env;
	char *end;

	*strategy = in ? in->strategy : VIOVA_GUEST_VMA_DEFAULT;
	*seed = in ? in->seed : 0;
	*max_ranges = in && in->max_ranges ? in->max_ranges : GUEST_DEFAULT_MAX_RANGES;
	if (*strategy > VIOVA_GUEST_VMA_RANDOM)
		return guest_err(-EINVAL,
				 "VM options: strategy %" PRIu32 " is not a "
				 "VIOVA_GUEST_VMA_* value (0..4)",
				 *strategy);
	if (*strategy == VIOVA_GUEST_VMA_DEFAULT) {
		env = getenv("VIOVA_VMA_STRATEGY");
		*strategy = VIOVA_GUEST_VMA_HIGH_TO_LOW;
		if (env && *env) {
			uint32_t s;

			for (s = VIOVA_GUEST_VMA_LOW_TO_HIGH; s <= VIOVA_GUEST_VMA_RANDOM; s++) {
				if (strcmp(env, guest_strategy_name(s)) == 0)
					break;
			}
			if (s > VIOVA_GUEST_VMA_RANDOM)
				return guest_err(-EINVAL,
						 "VIOVA_VMA_STRATEGY=%s: use low_to_high, "
						 "high_to_low, best_fit or random",
						 env);
			*strategy = s;
		}
	}
	if (*seed == 0) {
		env = getenv("VIOVA_VMA_SEED");
		*seed = 1;
		if (env && *env) {
			unsigned long long v = strtoull(env, &end, 0);

			if (*end || v == 0)
				return guest_err(-EINVAL, "VIOVA_VMA_SEED=%s: use a nonzero number",
						 env);
			*seed = v;
		}
	}
	return 0;
}

int guest_vm_new(struct viova_guest_device *dev, const struct viova_guest_vm_options *opts,
		 bool extra, struct viova_guest_vm **out)
{
	struct viova_guest_vm *vm;
	uint32_t strategy, max_ranges;
	uint64_t seed;
	int ret;

	ret = resolve_options(opts, &strategy, &seed, &max_ranges);
	if (ret)
		return ret;
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return guest_err(-ENOMEM, "VM: out of memory");
	vm->dev = dev;
	vm->id = guest_next_id(dev);
	vm->owner = dev->pid;
	vm->extra = extra;
	ret = guest_heap_create(&vm->heap, &dev->caps, strategy, seed, max_ranges, vm->id);
	if (ret) {
		free(vm);
		return ret;
	}
	vm->next = dev->vms;
	dev->vms = vm;
	*out = vm;
	return 0;
}

void guest_vm_get(struct viova_guest_vm *vm)
{
	vm->refs++;
}

void guest_vm_put(struct viova_guest_vm *vm)
{
	struct viova_guest_vm **pp;

	if (--vm->refs)
		return;
	for (pp = &vm->dev->vms; *pp; pp = &(*pp)->next) {
		if (*pp == vm) {
			*pp = vm->next;
			break;
		}
	}
	guest_heap_unmap(&vm->heap);
	free(vm);
}

uint32_t guest_vm_wire_id(const struct viova_guest_ctx *ctx, const struct viova_guest_vm *vm)
{
	return vm == ctx->vm ? 0 : vm->id;
}

/* Can a command of ctx name vm? Its primary VM, or an extra VM created in it. */
static int vm_visible(const struct viova_guest_ctx *ctx, const struct viova_guest_vm *vm,
		      const char *what)
{
	if (vm->dev != ctx->dev || vm->dead)
		return guest_err(-EINVAL, "%s: VM %" PRIu32 " is destroyed or another device's",
				 what, vm->id);
	if (vm == ctx->vm || (vm->extra && vm->host_ctx_id == ctx->id))
		return 0;
	return guest_err(-EINVAL,
			 "%s: VM %" PRIu32 " is not visible from context %" PRIu32
			 " (only its primary VM %" PRIu32 " and VMs created in it are)",
			 what, vm->id, ctx->id, ctx->vm->id);
}

int guest_vm_alloc_locked(struct viova_guest_vm *vm, uint32_t handle, uint64_t size, uint64_t align,
			  uint64_t *addr, const char *what)
{
	struct viova_guest_device *dev = vm->dev;
	uint32_t tag = guest_owner_tag(dev);
	int ret, tries;

	for (tries = 0;; tries++) {
		ret = guest_heap_lock(&vm->heap, dev);
		if (ret)
			return ret;
		ret = viova_vma_alloc(vm->heap.vma, handle, size, align, addr);
		if (ret == 0) /* who to give it back for if this process dies (reap.c) */
			guest_heap_own(&vm->heap, handle, tag);
		guest_heap_unlock(&vm->heap);
		/* Full: ranges waiting to retire may be ready now. */
		if (ret != -ENOSPC || tries || !dev->retire)
			break;
		guest_retire_poll(dev);
	}
	if (ret == -ENOSPC)
		return guest_err(ret,
				 "%s: VM %" PRIu32 " has no free 0x%" PRIx64 "-byte range "
				 "(strategy %s, %" PRIu32 " ranges retiring): close buffers, "
				 "wait for jobs, or use another VM",
				 what, vm->id, size, guest_strategy_name(vm->heap.sh->strategy),
				 guest_retire_count(dev));
	if (ret == -ENOMEM)
		return guest_err(ret,
				 "%s: VM %" PRIu32 "'s heap holds no more ranges: create it "
				 "with a larger max_ranges",
				 what, vm->id);
	if (ret)
		return guest_err(ret, "%s: VM %" PRIu32 " allocation of 0x%" PRIx64 " bytes: %s",
				 what, vm->id, size, strerror(-ret));
	return 0;
}

int guest_vm_free_handle_locked(struct viova_guest_vm *vm, uint32_t handle)
{
	int ret = guest_heap_lock(&vm->heap, vm->dev);

	if (ret)
		return ret;
	ret = viova_vma_free(vm->heap.vma, handle);
	guest_heap_disown(&vm->heap, handle);
	guest_heap_unlock(&vm->heap);
	return ret;
}

int viova_guest_vm_create(struct viova_guest_ctx *ctx, const struct viova_guest_vm_options *opts,
			  struct viova_guest_vm **out)
{
	struct viova_guest_device *dev;
	struct viova_guest_vm *vm;
	uint64_t seq;
	int ret;

	if (!ctx || !out)
		return guest_err(-EINVAL, "vm_create: ctx and out must not be NULL");
	dev = ctx->dev;
	if (!(dev->caps.features & VIOVA_FEATURE_MULTI_VM))
		return guest_err(-EOPNOTSUPP, "vm_create: the host lacks the MULTI_VM feature");
	guest_enter(dev);
	ret = guest_ctx_usable(ctx, "vm_create");
	if (ret == 0)
		ret = guest_vm_new(dev, opts, true, &vm);
	if (ret == 0) {
		GUEST_ENCODE(dev, ret,
			     viova_codec_enc_vm_create(&dev->enc, ctx->id, vm->id, 0, &seq));
		if (ret) {
			guest_vm_get(vm);
			guest_vm_put(vm);
			guest_err(ret, "vm_create: cannot encode VM_CREATE (%s)", strerror(-ret));
		} else {
			vm->host_ctx_id = ctx->id;
			guest_vm_get(vm); /* the "exists" reference, dropped by vm_destroy */
			*out = vm;
		}
	}
	guest_leave(dev);
	return ret;
}

int viova_guest_vm_destroy(struct viova_guest_vm *vm)
{
	struct viova_guest_device *dev;
	struct viova_vma_stats vs;
	uint64_t seq;
	int ret;

	if (!vm)
		return guest_err(-EINVAL, "vm_destroy: vm is NULL");
	dev = vm->dev;
	if (!vm->extra)
		return guest_err(-EINVAL,
				 "vm_destroy: VM %" PRIu32 " is a context's primary VM: "
				 "it goes with its last context",
				 vm->id);
	guest_enter(dev);
	if (!guest_mine(dev, vm->owner)) {
		guest_leave(dev);
		return guest_err(-EPERM, "vm_destroy: VM %" PRIu32 " belongs to process %d", vm->id,
				 (int)vm->owner);
	}
	ret = guest_heap_lock(&vm->heap, dev);
	if (ret == 0) {
		viova_vma_get_stats(vm->heap.vma, &vs);
		guest_heap_unlock(&vm->heap);
		if (vs.allocations)
			ret = guest_err(-EBUSY,
					"vm_destroy: VM %" PRIu32 " still has %" PRIu64
					" iova ranges: unmap, close or free them first",
					vm->id, vs.allocations);
	}
	if (ret == 0 && vm->host_ctx_id && !guest_check_lost(dev))
		GUEST_ENCODE(dev, ret,
			     viova_codec_enc_vm_destroy(&dev->enc, vm->host_ctx_id, vm->id, &seq));
	if (ret == 0) {
		vm->dead = true;
		vm->host_ctx_id = 0;
		guest_vm_put(vm);
	}
	guest_leave(dev);
	return ret;
}

int viova_guest_vm_alloc(struct viova_guest_vm *vm, uint64_t size, uint64_t align, uint64_t *addr)
{
	struct viova_guest_device *dev;
	int ret;

	if (!vm || !addr || !size)
		return guest_err(-EINVAL, "vm_alloc: vm and addr must not be NULL, size not 0");
	dev = vm->dev;
	if (size % dev->caps.page_size || (align && (align & (align - 1))))
		return guest_err(-EINVAL,
				 "vm_alloc: size 0x%" PRIx64 " must be a multiple of the "
				 "page size 0x%" PRIx32 " and align (0x%" PRIx64 ") a power of two",
				 size, dev->caps.page_size, align);
	guest_enter(dev);
	ret = vm->dead ? guest_err(-EINVAL, "vm_alloc: VM %" PRIu32 " is destroyed", vm->id) : 0;
	if (ret == 0)
		ret = guest_vm_alloc_locked(vm, guest_next_id(dev) | VM_RANGE_BIT, size, align,
					    addr, "vm_alloc");
	guest_leave(dev);
	return ret;
}

int viova_guest_vm_free(struct viova_guest_vm *vm, uint64_t addr)
{
	struct guest_retire_cond cond[64];
	struct viova_guest_device *dev;
	struct viova_vma_range r;
	struct viova_guest_ctx *c;
	uint32_t n = 0;
	int ret;

	if (!vm)
		return guest_err(-EINVAL, "vm_free: vm is NULL");
	dev = vm->dev;
	guest_enter(dev);
	ret = guest_heap_lock(&vm->heap, dev);
	if (ret)
		goto out;
	ret = viova_vma_next_range(vm->heap.vma, addr, &r);
	guest_heap_unlock(&vm->heap);
	if (ret || r.offset != addr || r.kind != VIOVA_VMA_RANGE_ALLOCATED ||
	    !(r.handle & VM_RANGE_BIT)) {
		ret = guest_err(-ENOENT,
				"vm_free: no range from vm_alloc starts at 0x%" PRIx64
				" in VM %" PRIu32 " (a buffer's iova is released by closing "
				"the buffer)",
				addr, vm->id);
		goto out;
	}
	/* Jobs run on their context's primary VM: those of this process's contexts on vm. */
	for (c = dev->ctxs; c; c = c->next) {
		if (c->vm == vm && guest_mine(dev, c->owner) && c->last_fence && n < 64)
			cond[n++] =
			    (struct guest_retire_cond){.ctx_id = c->id, .fence = c->last_fence};
	}
	ret = guest_retire_add(dev, vm, r.handle, viova_codec_enc_next_seqno(&dev->enc) - 1, 0,
			       cond, n);
out:
	guest_leave(dev);
	return ret;
}

int viova_guest_vm_bind(struct viova_guest_vm *vm, struct viova_guest_bo *bo, uint64_t addr,
			uint64_t range, uint64_t bo_offset, uint32_t flags)
{
	struct viova_codec_bind b;
	struct viova_guest_device *dev;
	struct viova_guest_ctx *ctx;
	uint64_t page, seq;
	int ret;

	if (!vm || !bo)
		return guest_err(-EINVAL, "vm_bind: vm and bo must not be NULL");
	ctx = bo->ctx;
	dev = ctx->dev;
	page = dev->caps.page_size;
	if (!(dev->caps.features & VIOVA_FEATURE_VM_BIND))
		return guest_err(-EOPNOTSUPP, "vm_bind: the host lacks the VM_BIND feature");
	if (!range || (addr | range | bo_offset) % page || bo_offset > bo->size ||
	    range > bo->size - bo_offset || addr + range < addr || flags & ~VIOVA_BIND_FLAGS_ALL)
		return guest_err(
		    -EINVAL,
		    "vm_bind: addr 0x%" PRIx64 " range 0x%" PRIx64 " bo_offset 0x%" PRIx64
		    " flags 0x%" PRIx32 ": need page-aligned values inside buffer %" PRIu32
		    " (0x%" PRIx64 " bytes) and flags in 0x%x",
		    addr, range, bo_offset, flags, bo->id, bo->size, VIOVA_BIND_FLAGS_ALL);
	guest_enter(dev);
	ret = guest_ctx_usable(ctx, "vm_bind");
	if (ret == 0)
		ret = vm_visible(ctx, vm, "vm_bind");
	if (ret == 0) {
		b = (struct viova_codec_bind){
		    .vm_id = guest_vm_wire_id(ctx, vm),
		    .buf_id = bo->id,
		    .addr = addr,
		    .range = range,
		    .buf_offset = bo_offset,
		    .flags = flags,
		};
		GUEST_ENCODE(dev, ret, viova_codec_enc_vm_bind(&dev->enc, ctx->id, &b, &seq));
	}
	guest_leave(dev);
	return ret;
}

int viova_guest_vm_unbind(struct viova_guest_ctx *ctx, struct viova_guest_vm *vm, uint64_t addr,
			  uint64_t range)
{
	struct viova_guest_device *dev;
	struct viova_guest_ctx *c;
	uint64_t seq;
	int ret;

	if (!ctx || !vm)
		return guest_err(-EINVAL, "vm_unbind: ctx and vm must not be NULL");
	dev = ctx->dev;
	if (!range || (addr | range) % dev->caps.page_size || addr + range < addr)
		return guest_err(-EINVAL,
				 "vm_unbind: addr 0x%" PRIx64 " range 0x%" PRIx64
				 " must be page-aligned, nonzero and not wrap",
				 addr, range);
	/* The host refuses to unmap what a running job uses: let those jobs finish. */
	guest_enter(dev);
restart:
	for (c = dev->ctxs; c; c = c->next) {
		struct viova_resp_ctx slot;
		uint64_t fence = c->last_fence;

		if (c->vm != vm || !guest_mine(dev, c->owner) || !fence)
			continue;
		guest_ctx_slot(c, &slot);
		if (slot.completed_fence >= fence || slot.lost)
			continue;
		guest_leave(dev);
		ret = viova_guest_fence_wait(c, fence, dev->timeout_ns);
		if (ret && ret != -EIO)
			return ret;
		guest_enter(dev);
		goto restart; /* the list may have changed while unlocked */
	}
	ret = guest_ctx_usable(ctx, "vm_unbind");
	if (ret == 0)
		ret = vm_visible(ctx, vm, "vm_unbind");
	if (ret == 0)
		GUEST_ENCODE(dev, ret,
			     viova_codec_enc_vm_unbind(
				 &dev->enc, ctx->id, guest_vm_wire_id(ctx, vm), addr, range, &seq));
	guest_leave(dev);
	return ret;
}

int viova_guest_vm_info(struct viova_guest_vm *vm, struct viova_guest_vm_info *info)
{
	struct viova_vma_stats vs;
	int ret;

	if (!vm || !info)
		return guest_err(-EINVAL, "vm_info: vm and info must not be NULL");
	guest_enter(vm->dev);
	memset(info, 0, sizeof(*info));
	info->id = vm->id;
	info->strategy = vm->heap.sh->strategy;
	info->seed = vm->heap.sh->seed;
	info->start = vm->dev->caps.va_start;
	info->end = vm->dev->caps.va_start + vm->dev->caps.va_size;
	ret = guest_heap_lock(&vm->heap, vm->dev);
	if (ret == 0) {
		viova_vma_get_stats(vm->heap.vma, &vs);
		guest_heap_unlock(&vm->heap);
		info->allocations = vs.allocations;
		info->allocated_bytes = vs.allocated_bytes;
		info->free_bytes = vs.free_bytes;
		info->largest_hole = vs.largest_hole;
	} else if (ret == -EUCLEAN) {
		ret = 0;
	}
	info->recoveries = __atomic_load_n(&vm->heap.sh->recoveries, __ATOMIC_RELAXED);
	info->broken = __atomic_load_n(&vm->heap.sh->broken, __ATOMIC_RELAXED) != 0;
	guest_leave(vm->dev);
	return ret;
}

int viova_guest_vm_check(struct viova_guest_vm *vm)
{
	char why[200] = "";
	int ret;

	if (!vm)
		return guest_err(-EINVAL, "vm_check: vm is NULL");
	guest_enter(vm->dev);
	ret = guest_heap_lock(&vm->heap, vm->dev);
	if (ret == 0) {
		ret = viova_vma_check(vm->heap.vma, why, sizeof(why));
		if (ret == 0)
			ret = guest_heap_check_owners(&vm->heap, why, sizeof(why));
		guest_heap_unlock(&vm->heap);
		if (ret)
			guest_err(ret, "vm_check: VM %" PRIu32 "'s heap is inconsistent: %s",
				  vm->id, why);
	}
	guest_leave(vm->dev);
	return ret;
}

uint32_t viova_guest_vm_id(const struct viova_guest_vm *vm)
{
	return vm ? vm->id : 0;
}

int viova_guest_vm_debug_lock(struct viova_guest_vm *vm)
{
	if (!vm)
		return -EINVAL;
	return guest_shlock(&vm->heap.sh->lock, NULL);
}

int viova_guest_vm_debug_unlock(struct viova_guest_vm *vm)
{
	if (!vm)
		return -EINVAL;
	guest_shunlock(&vm->heap.sh->lock);
	return 0;
}

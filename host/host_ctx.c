/* SPDX-License-Identifier: MIT */
/*
 * host_ctx.c - guest contexts and VMs.
 *
 * A context has a namespace of VM names (vm_id -> host_vm, at most max_vms). The VM it runs in
 * is one of them (vm_id 0 in commands means that one). VMs are shared by reference:
 *
 *   ctx 1: { 1 -> VM a, 2 -> VM b }       CTX_CREATE(ctx 1, vm 1), VM_CREATE(ctx 1, vm 2)
 *   ctx 2: { 1 -> VM a }                   CTX_CLONE(ctx 2, src 1, CLONE_VM): shares a as "1"
 *   ctx 3: { 2 -> VM b }                   CTX_CREATE(ctx 3, SHARE_VM, ctx 1, vm 2)
 *
 *   VM a: refs 2 (names), users 2 (ctx 1, ctx 2 run in it)
 *   VM b: refs 2, users 1 (ctx 3)
 *
 * A VM dies with its last name. Buffers belong to one context and can only be mapped in VMs
 * that context names; since a context's buffers are released before its names, a VM that
 * loses its last name never holds a mapping.
 *
 * Seed 003 (context clone): flags ENGINES, FLAGS, SCHEDATTR, SSEU, TIMELINE, VM, explicit ALL;
 * unknown bits EINVAL; reserved fields nonzero EINVAL; unknown source ENOENT; CLONE_VM shares
 * the source's VM, without it the clone gets a fresh one.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "host_priv.h"

int host_ctx_require(struct viova_host *h, uint32_t id, struct host_ctx **out)
{
	*out = host_ctx_get(h, id);
	if (!*out)
		return host_reject(h, -ENOENT, id, 0,
				   "context %" PRIu32 " does not exist: create it with CTX_CREATE "
				   "first",
				   id);
	return 0;
}

/*
 * DOC: VM names -> index
 *
 * A context's VM names live in vms[0..nvms) (dense, so teardown and buffer release walk only
 * the live ones) and are found through a small open-addressing table of u8 indices (index + 1,
 * 0 = empty) with at least twice as many slots as max_vms, so lookups are O(1) whatever the
 * guest-chosen ids (a scan of up to 64 names cost up to 16 cache lines per command).
 *
 *   vmslot: [ 0 | 2 | 0 | 0 | 1 | 3 | 0 | ... ]      slot = hash(vm_id) & mask, linear probing
 *                 |           |   |
 *   vms:   [ {id 7, VM a} {id 1, VM b} {id 9, VM c} ]
 *
 * Removal deletes with backward shift (no tombstones), then moves the last name into the hole
 * and repoints its slot.
 */
static uint32_t vm_home(uint32_t vm_id, uint32_t mask)
{
	return ((vm_id * 0x9e3779b1u) >> 16) & mask;
}

/* Slot holding vm_id, or the empty slot where it would go. */
static uint32_t vm_probe(const struct host_ctx *c, uint32_t vm_id)
{
	uint32_t s = vm_home(vm_id, c->vmmask);

	while (c->vmslot[s] && c->vms[c->vmslot[s] - 1].id != vm_id)
		s = (s + 1) & c->vmmask;
	return s;
}

static struct host_vmname *vm_name(struct host_ctx *c, uint32_t vm_id)
{
	uint32_t s = vm_probe(c, vm_id);

	return c->vmslot[s] ? &c->vms[c->vmslot[s] - 1] : NULL;
}

/* Add a name (not present; the max_vms quota was checked). */
static void vm_name_add(struct host_ctx *c, uint32_t vm_id, struct host_vm *vm)
{
	uint32_t idx = c->nvms++;

	c->vms[idx].id = vm_id;
	c->vms[idx].vm = vm;
	c->vmslot[vm_probe(c, vm_id)] = (uint8_t)(idx + 1);
}

static void vm_name_del(struct host_ctx *c, struct host_vmname *n)
{
	uint32_t idx = (uint32_t)(n - c->vms), last, s = vm_probe(c, n->id), j = s;

	for (;;) {
		uint32_t home;

		j = (j + 1) & c->vmmask;
		if (!c->vmslot[j])
			break;
		home = vm_home(c->vms[c->vmslot[j] - 1].id, c->vmmask);
		/* entry j may fill the hole at s only if its home is not in (s, j] (cyclically) */
		if (s <= j ? (s < home && home <= j) : (s < home || home <= j))
			continue;
		c->vmslot[s] = c->vmslot[j];
		s = j;
	}
	c->vmslot[s] = 0;
	last = --c->nvms;
	if (idx != last) {
		c->vms[idx] = c->vms[last];
		c->vmslot[vm_probe(c, c->vms[idx].id)] = (uint8_t)(idx + 1);
	}
}

int host_vm_lookup(struct viova_host *h, struct host_ctx *c, uint32_t vm_id, struct host_vm **out)
{
	struct host_vmname *n;

	if (vm_id == 0) {
		*out = c->vm;
		return 0;
	}
	n = vm_name(c, vm_id);
	if (!n)
		return host_reject(h, -ENOENT, vm_id, c->id,
				   "VM %" PRIu32 " does not exist in context %" PRIu32
				   ": create it with VM_CREATE, or pass 0 for the context's own VM "
				   "(%" PRIu32 ")",
				   vm_id, c->id, c->vm_id);
	*out = n->vm;
	return 0;
}

/* A new VM (backend + address-space tracker); not linked to any name yet. */
static int vm_new(struct viova_host *h, uint32_t owner, uint32_t owner_id, struct host_vm **out)
{
	struct viova_va_space_config vcfg = {
	    .start = h->caps.va_start,
	    .range = h->caps.va_size,
	    .reserve_addr = h->caps.reserved_start,
	    .reserve_range = h->caps.reserved_size,
	    /* per-context quotas bound it; host_quota_init made sure the sum fits */
	    .max_mappings = 0,
	};
	struct host_vm *vm = host_alloc(h, sizeof(*vm));
	int ret;

	if (!vm)
		return host_reject(h, -ENOMEM, owner_id, 0, "out of host memory for VM %" PRIu32,
				   owner_id);
	ret = viova_va_space_create(&vcfg, &vm->vs);
	if (ret) {
		host_free(h, vm, sizeof(*vm));
		return host_reject(h, ret == -ENOMEM ? -ENOMEM : -ENODEV, owner_id, 0,
				   "cannot track the backend's VA window 0x%" PRIx64 "+0x%" PRIx64
				   " (reserved 0x%" PRIx64 "+0x%" PRIx64 ") for VM %" PRIu32,
				   h->caps.va_start, h->caps.va_size, h->caps.reserved_start,
				   h->caps.reserved_size, owner_id);
	}
	ret = HOST_BE(h, vm_create, &vm->be);
	if (ret) {
		viova_va_space_destroy(vm->vs);
		host_free(h, vm, sizeof(*vm));
		return host_reject(h, ret, owner_id, 0,
				   "backend %s could not create VM %" PRIu32 " of context %" PRIu32,
				   h->be->ops->name, owner_id, owner);
	}
	vm->owner = owner;
	vm->owner_id = owner_id;
	vm->next = h->vm_list;
	if (h->vm_list)
		h->vm_list->prev = vm;
	h->vm_list = vm;
	h->nvms++;
	*out = vm;
	return 0;
}

/* Drop a reference (a name); the last one destroys the VM. */
static void vm_unref(struct viova_host *h, struct host_vm *vm)
{
	if (--vm->refs)
		return;
	if (viova_va_space_count(vm->vs))
		host_log(h, VIOVA_HOST_LOG_WARN,
			 "teardown: VM %" PRIu32 " of context %" PRIu32 " still held %" PRIu32
			 " mappings (host bug)",
			 vm->owner_id, vm->owner, viova_va_space_count(vm->vs));
	HOST_BE(h, vm_destroy, vm->be);
	viova_va_space_destroy(vm->vs);
	if (vm->prev)
		vm->prev->next = vm->next;
	else
		h->vm_list = vm->next;
	if (vm->next)
		vm->next->prev = vm->prev;
	h->nvms--;
	host_free(h, vm, sizeof(*vm));
}

/* Common part of CTX_CREATE and CTX_CLONE once the backend context exists. */
static void ctx_commit(struct viova_host *h, struct host_ctx *c, uint32_t id, struct host_vm *vm,
		       uint32_t vm_id, struct viova_be_ctx *be)
{
	c->id = id;
	c->be = be;
	c->vm = vm;
	c->vm_id = vm_id;
	vm_name_add(c, vm_id, vm);
	c->bo_free = HOST_NIL;
	c->zombie_head = HOST_NIL;
	vm->refs++;
	vm->users++;
	h->nctx++;
	pthread_mutex_lock(&h->lock);
	c->live = true;
	if (h->have_resp)
		viova_codec_resp_host_ctx_open(&h->resp, id);
	pthread_mutex_unlock(&h->lock);
}

/* Slots of the VM-name table: a power of two >= 2 * max_vms (<= 128, u8 indices fit). */
static uint32_t vm_slots(const struct viova_host *h)
{
	uint32_t n = 4;

	while (n < 2 * h->q.max_vms)
		n *= 2;
	return n;
}

static size_t vms_bytes(const struct viova_host *h)
{
	return sizeof(struct host_vmname) * h->q.max_vms + vm_slots(h);
}

/* Check the new id and allocate its VM-name array. */
static int ctx_prepare(struct viova_host *h, uint32_t id, struct host_ctx **out)
{
	struct host_ctx *c = &h->ctx[id];

	if (c->live)
		return host_reject(h, -EEXIST, id, 0,
				   "context %" PRIu32 " already exists: destroy it first or choose "
				   "another id (1..%" PRIu32 ")",
				   id, h->q.max_contexts);
	if (h->nctx >= h->q.max_contexts)
		return host_reject(h, -EDQUOT, h->nctx, h->q.max_contexts,
				   "the connection already has %" PRIu32
				   " contexts, its max_contexts quota: destroy one first",
				   h->nctx);
	memset(c, 0, sizeof(*c));
	c->vms = host_alloc(h, vms_bytes(h));
	if (!c->vms)
		return host_reject(h, -ENOMEM, id, 0, "out of host memory for context %" PRIu32,
				   id);
	memset(c->vms, 0, vms_bytes(h));
	c->vmslot = (uint8_t *)(c->vms + h->q.max_vms);
	c->vmmask = vm_slots(h) - 1;
	*out = c;
	return 0;
}

static void ctx_unprepare(struct viova_host *h, struct host_ctx *c)
{
	host_free(h, c->vms, vms_bytes(h));
	c->vms = NULL;
}

int host_cmd_ctx_create(struct viova_host *h, const struct viova_cmd_ctx_create *cmd)
{
	uint32_t id = cmd->hdr.ctx_id;
	struct viova_be_ctx_params params = {.params = cmd->params, .priority = cmd->priority};
	struct host_vm *vm = NULL;
	struct viova_be_ctx *be;
	struct host_ctx *c, *share;
	bool fresh = false;
	int ret;

	/* The decoder checked the domains; what the backend supports is checked here. */
	if (cmd->priority && !(h->caps.features & VIOVA_FEATURE_PRIORITY))
		return host_reject(h, -EOPNOTSUPP, (uint64_t)(int64_t)cmd->priority, 0,
				   "priority %" PRId32
				   " requested but backend %s has no priorities "
				   "(capset feature PRIORITY clear): pass 0",
				   cmd->priority, h->be->ops->name);
	if (cmd->flags & VIOVA_CTX_CREATE_SHARE_VM) {
		if (!(h->caps.features & VIOVA_FEATURE_MULTI_VM))
			return host_reject(h, -EOPNOTSUPP, cmd->flags, 0,
					   "SHARE_VM needs capset feature MULTI_VM, which backend "
					   "%s lacks: create the context with its own VM",
					   h->be->ops->name);
		share = host_ctx_get(h, cmd->share_ctx_id);
		if (!share)
			return host_reject(h, -ENOENT, cmd->share_ctx_id, 0,
					   "share_ctx_id %" PRIu32 " names no live context: create "
					   "it first",
					   cmd->share_ctx_id);
		if (host_vm_lookup(h, share, cmd->vm_id, &vm))
			return h->fail.err;
	}
	ret = ctx_prepare(h, id, &c);
	if (ret)
		return ret;
	if (!vm) {
		ret = vm_new(h, id, cmd->vm_id, &vm);
		if (ret) {
			ctx_unprepare(h, c);
			return ret;
		}
		fresh = true;
	}
	ret = HOST_BE(h, ctx_create, vm->be, &params, c, &be);
	if (ret) {
		if (fresh) {
			vm->refs = 1;
			vm_unref(h, vm);
		}
		ctx_unprepare(h, c);
		return host_reject(h, ret, id, cmd->params,
				   "backend %s could not create context %" PRIu32
				   " (params 0x%" PRIx32 ", priority %" PRId32 ")",
				   h->be->ops->name, id, cmd->params, cmd->priority);
	}
	c->params = cmd->params;
	c->priority = cmd->priority;
	ctx_commit(h, c, id, vm, cmd->vm_id, be);
	return 0;
}

int host_cmd_ctx_clone(struct viova_host *h, const struct viova_cmd_ctx_clone *cmd)
{
	uint32_t id = cmd->hdr.ctx_id, flags = cmd->flags;
	struct host_vm *vm;
	struct viova_be_ctx *be;
	struct host_ctx *c, *src;
	uint32_t vm_id;
	int ret;

	/* Seed 003 order: unknown bits, reserved fields, then the source. */
	if (flags & ~VIOVA_CLONE_ALL)
		return host_reject(h, -EINVAL, flags, VIOVA_CLONE_ALL,
				   "clone flags 0x%" PRIx32 " have unknown bits 0x%" PRIx32
				   " (known: 0x%x): drop them",
				   flags, flags & ~VIOVA_CLONE_ALL, VIOVA_CLONE_ALL);
	if (cmd->pad0)
		return host_reject(h, -EINVAL, cmd->pad0, 0,
				   "reserved field pad0 = 0x%" PRIx32 ", must be 0", cmd->pad0);
	src = host_ctx_get(h, cmd->src_ctx_id);
	if (!src)
		return host_reject(h, -ENOENT, cmd->src_ctx_id, 0,
				   "src_ctx_id %" PRIu32
				   " names no live context: clone an existing "
				   "context",
				   cmd->src_ctx_id);
	if (flags & ~h->caps.clone_flags)
		return host_reject(h, -EOPNOTSUPP, flags, h->caps.clone_flags,
				   "backend %s cannot clone 0x%" PRIx32 " (it honours 0x%" PRIx32
				   ", capset clone_flags): drop those flags",
				   h->be->ops->name, flags & ~h->caps.clone_flags,
				   h->caps.clone_flags);
	if (!(flags & VIOVA_CLONE_VM) && !cmd->vm_id)
		return host_reject(
		    h, -EINVAL, cmd->vm_id, 0,
		    "without CLONE_VM the clone needs a name (vm_id) for its new VM");
	ret = ctx_prepare(h, id, &c);
	if (ret)
		return ret;
	if (flags & VIOVA_CLONE_VM) {
		vm = src->vm;
		vm_id = src->vm_id;
	} else {
		vm_id = cmd->vm_id;
		ret = vm_new(h, id, vm_id, &vm);
		if (ret) {
			ctx_unprepare(h, c);
			return ret;
		}
	}
	ret = HOST_BE(h, ctx_clone, src->be, flags, vm->be, c, &be);
	if (ret) {
		if (!(flags & VIOVA_CLONE_VM)) {
			vm->refs = 1;
			vm_unref(h, vm);
		}
		ctx_unprepare(h, c);
		return host_reject(h, ret, cmd->src_ctx_id, flags,
				   "backend %s could not clone context %" PRIu32 " into %" PRIu32
				   " with flags 0x%" PRIx32,
				   h->be->ops->name, cmd->src_ctx_id, id, flags);
	}
	c->params = (flags & VIOVA_CLONE_FLAGS) ? src->params : 0;
	c->priority = (flags & VIOVA_CLONE_SCHEDATTR) ? src->priority : 0;
	ctx_commit(h, c, id, vm, vm_id, be);
	return 0;
}

/*
 * DOC: tearing a context down
 *
 *   1. wait for its jobs (up to teardown_timeout_ns)   nothing may still touch its buffers
 *   2. backend ctx_destroy                             cancels what is left; fences signal;
 *                                                      no event names the context afterwards
 *   3. mark it dead (lock), close its response slot
 *   4. each buffer (closed-but-busy ones too):         unmap in every VM (backend first,
 *                                                      then the va_space), backend bo_close
 *   5. drop its VM names                               the last name destroys the VM
 *
 * Jobs go first because a job is the only thing that can reach a buffer without the host;
 * buffers go before VM names so that a VM losing its last name never holds a mapping.
 */
void host_ctx_teardown(struct viova_host *h, struct host_ctx *c)
{
	uint32_t i;

	if (host_ctx_drain(h, c, h->teardown_timeout_ns))
		host_log(h, VIOVA_HOST_LOG_WARN,
			 "teardown of context %" PRIu32 ": jobs up to fence %" PRIu64
			 " did not finish within %" PRIu64 " ns (completed %" PRIu64
			 "); the backend cancels them",
			 c->id, c->last_fence, h->teardown_timeout_ns, host_ctx_completed(c));
	HOST_BE(h, ctx_destroy, c->be);
	c->be = NULL;

	pthread_mutex_lock(&h->lock);
	c->live = false;
	if (h->have_resp)
		viova_codec_resp_host_ctx_close(&h->resp, c->id);
	pthread_mutex_unlock(&h->lock);

	for (i = 0; i < c->bo_top; i++) {
		if (c->bos[i].flags & HOST_BO_USED)
			host_bo_release(h, c, i);
	}
	h->zombies -= c->zombies;
	c->zombies = 0;
	c->vm->users--;
	for (i = 0; i < c->nvms; i++)
		vm_unref(h, c->vms[i].vm);

	host_idmap_free(&c->ids);
	host_free(h, c->bos, sizeof(*c->bos) * (size_t)c->bo_cap);
	host_free(h, c->vms, vms_bytes(h));
	memset(c, 0, sizeof(*c));
	if (--h->nctx == 0) {
		/* An idle connection keeps no per-job scratch. */
		host_free(h, h->sbos, (sizeof(*h->sbos) + sizeof(*h->sidx)) * (size_t)h->sbos_cap);
		h->sbos = NULL;
		h->sidx = NULL;
		h->sbos_cap = 0;
	}
}

int host_cmd_ctx_destroy(struct viova_host *h, uint32_t ctx_id)
{
	struct host_ctx *c;
	int ret = host_ctx_require(h, ctx_id, &c);

	if (ret)
		return ret;
	host_ctx_teardown(h, c);
	return 0;
}

int host_cmd_vm_create(struct viova_host *h, const struct viova_cmd_vm_create *cmd)
{
	struct host_ctx *c;
	struct host_vm *vm;
	int ret;

	if (!(h->caps.features & VIOVA_FEATURE_MULTI_VM))
		return host_reject(h, -EOPNOTSUPP, cmd->vm_id, 0,
				   "backend %s has one VM per context (capset feature MULTI_VM "
				   "clear): use vm_id 0",
				   h->be->ops->name);
	ret = host_ctx_require(h, cmd->hdr.ctx_id, &c);
	if (ret)
		return ret;
	if (vm_name(c, cmd->vm_id))
		return host_reject(h, -EEXIST, cmd->vm_id, c->id,
				   "VM %" PRIu32 " already exists in context %" PRIu32
				   ": choose another id",
				   cmd->vm_id, c->id);
	ret = host_quota_vms(h, c);
	if (ret)
		return ret;
	ret = vm_new(h, c->id, cmd->vm_id, &vm);
	if (ret)
		return ret;
	vm->refs = 1;
	vm_name_add(c, cmd->vm_id, vm);
	return 0;
}

/* Another live context naming vm (for messages), or 0. */
static uint32_t other_user(struct viova_host *h, const struct host_ctx *self,
			   const struct host_vm *vm)
{
	uint32_t i, j;

	for (i = 1; i <= h->q.max_contexts; i++) {
		const struct host_ctx *o = &h->ctx[i];

		if (!o->live || o == self)
			continue;
		for (j = 0; j < o->nvms; j++) {
			if (o->vms[j].vm == vm)
				return i;
		}
	}
	return 0;
}

int host_cmd_vm_destroy(struct viova_host *h, const struct viova_cmd_vm_destroy *cmd)
{
	struct host_vmname *n;
	struct host_ctx *c;
	struct host_vm *vm;
	int ret = host_ctx_require(h, cmd->hdr.ctx_id, &c);

	if (ret)
		return ret;
	n = vm_name(c, cmd->vm_id);
	if (!n)
		return host_reject(h, -ENOENT, cmd->vm_id, c->id,
				   "VM %" PRIu32 " does not exist in context %" PRIu32, cmd->vm_id,
				   c->id);
	vm = n->vm;
	if (vm == c->vm)
		return host_reject(h, -EBUSY, cmd->vm_id, c->id,
				   "VM %" PRIu32 " is the VM context %" PRIu32
				   " runs in: destroy the context instead",
				   cmd->vm_id, c->id);
	if (vm->refs > 1)
		return host_reject(h, -EBUSY, cmd->vm_id, other_user(h, c, vm),
				   "VM %" PRIu32 " is shared with context %" PRIu32
				   ": destroy that context first",
				   cmd->vm_id, other_user(h, c, vm));
	if (viova_va_space_count(vm->vs))
		return host_reject(h, -EBUSY, cmd->vm_id, viova_va_space_count(vm->vs),
				   "VM %" PRIu32 " still holds %" PRIu32
				   " mappings: clear (SET_IOVA 0) or unbind them first",
				   cmd->vm_id, viova_va_space_count(vm->vs));
	vm_name_del(c, n);
	vm_unref(h, vm);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * vgpu.c - the virtio-gpu device model (vgpu.h; docs/vhost-user.md, "virtio-gpu device model").
 *
 * Each command is copied out of the chain's readable buffers into a local struct before any
 * field is looked at; a chain shorter than the command's struct is ERR_UNSPEC. Fields of the
 * uapi structs are little-endian; this back-end only builds on little-endian hosts (checked
 * below), so they are used as they are.
 */
#include "vgpu.h"

#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/virtio_gpu.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "vgpu.c reads virtio-gpu's little-endian structs directly"
#endif

struct vgpu_ctx {
	struct viova_vgpu *vg;
	uint32_t ctx_id; /* 0 = free slot */
	uint32_t slot;
	struct viova_host *host;
	uint32_t area_res; /* resource id of the response area, 0 = none */
	void *gather;	   /* contiguous alias of a scattered response area, or NULL */
	size_t gather_len;
};

struct vgpu_res {
	uint32_t id; /* 0 = free */
	uint32_t nentries;
	struct virtio_gpu_mem_entry *entries; /* NULL = no backing */
	uint64_t backing_bytes;
	uint64_t attached; /* bit = context slot */
	uint32_t users;	   /* contexts using it as their response area */
};

struct viova_vgpu {
	struct viova_host_config host_cfg;
	struct viova_backend_config backend_cfg;
	bool has_backend_cfg;
	viova_host_log_fn log;
	void *log_cookie;
	struct viova_capset caps;
	const struct viova_guest_mem *mem; /* the table of the command being processed */
	struct vgpu_ctx *ctx[VIOVA_VGPU_MAX_CONTEXTS];
	struct vgpu_res *res;
	uint32_t nres;	  /* live resources */
	uint8_t *payload; /* SUBMIT_3D copy-out buffer, caps.max_batch_size bytes, 8-aligned */
};

static void vg_log(struct viova_vgpu *vg, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void vg_log(struct viova_vgpu *vg, int level, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (!vg->log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	vg->log(vg->log_cookie, level, msg);
}

static struct vgpu_ctx *ctx_find(struct viova_vgpu *vg, uint32_t ctx_id)
{
	if (ctx_id == 0)
		return NULL;
	for (uint32_t i = 0; i < VIOVA_VGPU_MAX_CONTEXTS; i++)
		if (vg->ctx[i] && vg->ctx[i]->ctx_id == ctx_id)
			return vg->ctx[i];
	return NULL;
}

static struct vgpu_res *res_find(struct viova_vgpu *vg, uint32_t id)
{
	if (id == 0)
		return NULL;
	for (uint32_t i = 0; i < VIOVA_VGPU_MAX_RESOURCES; i++)
		if (vg->res[i].id == id)
			return &vg->res[i];
	return NULL;
}

static void res_drop_backing(struct vgpu_res *r)
{
	free(r->entries);
	r->entries = NULL;
	r->nentries = 0;
	r->backing_bytes = 0;
}

/* ---- response area: RESP_INIT's res_id -> the resource's backing ------------------------- */

/*
 * DOC: gathering a scattered response area
 *
 * libviova-host wants the area as one flat range. When the backing entries, translated one by
 * one, already follow each other in our mapping of guest RAM, that range is used as it is.
 * Otherwise each entry's pages are aliased, in order, into a fresh reserved range with
 * mremap(old_size = 0), which on a shared mapping creates a second mapping of the SAME pages:
 * host writes land in the guest's pages, no copy, no bounce buffer.
 *
 *   guest RAM (memfd, MAP_SHARED)    [ ..B.. ][ ... ][ ..A.. ][ ... ]
 *   entries: A, B                        ^                ^
 *   gather (reserved, then aliased)  [ ..A.. ][ ..B.. ]   -> resp_map result
 *
 * Aliasing works on whole pages only, so scattered entries must be page-aligned in address
 * and length (guest pages are). The alias keeps pointing at guest memory even if the memory
 * table is replaced later, so a stale area never becomes a dangling host pointer.
 */
static int gather(struct vgpu_ctx *c, const struct vgpu_res *r, uint64_t size, void **mem)
{
	struct viova_vgpu *vg = c->vg;
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), off = 0, total;
	uint32_t n = 0;
	uint8_t *base;

	/* entries needed to cover size; all page-aligned */
	while (off < size) {
		const struct virtio_gpu_mem_entry *e = &r->entries[n];

		if ((e->addr | e->length) & (page - 1)) {
			vg_log(vg, VIOVA_HOST_LOG_ERROR,
			       "RESP_INIT (ctx %u): resource %u entry %u (0x%llx+0x%x) is not "
			       "page-aligned and the backing is not contiguous: back the response "
			       "area with whole guest pages",
			       c->ctx_id, r->id, n, (unsigned long long)e->addr, e->length);
			return -EINVAL;
		}
		off += e->length;
		n++;
	}
	total = off;
	base = mmap(NULL, (size_t)total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
		    0);
	if (base == MAP_FAILED)
		return -ENOMEM;
	off = 0;
	for (uint32_t i = 0; i < n; i++) {
		void *src, *dst;

		if (viova_guest_mem_gpa(vg->mem, r->entries[i].addr, r->entries[i].length, &src))
			goto fail;
		dst =
		    mremap(src, 0, r->entries[i].length, MREMAP_MAYMOVE | MREMAP_FIXED, base + off);
		if (dst == MAP_FAILED) {
			vg_log(vg, VIOVA_HOST_LOG_ERROR,
			       "RESP_INIT (ctx %u): cannot alias resource %u entry %u: %s",
			       c->ctx_id, r->id, i, strerror(errno));
			goto fail;
		}
		off += r->entries[i].length;
	}
	c->gather = base;
	c->gather_len = (size_t)total;
	*mem = base;
	return 0;
fail:
	munmap(base, (size_t)total); /* the aliases made so far go with it */
	return -EFAULT;
}

static int vg_resp_map(void *cookie, uint32_t res_id, uint64_t size, void **mem)
{
	struct vgpu_ctx *c = cookie;
	struct viova_vgpu *vg = c->vg;
	struct vgpu_res *r = res_find(vg, res_id);
	uint8_t *base = NULL, *next = NULL;
	bool contiguous = true;
	uint64_t covered = 0;
	int ret;

	if (!r || !(r->attached & (1ull << c->slot))) {
		vg_log(
		    vg, VIOVA_HOST_LOG_ERROR,
		    "RESP_INIT (ctx %u): resource %u does not exist or is not attached to the "
		    "context: create it (RESOURCE_CREATE_3D) and attach it (CTX_ATTACH_RESOURCE)",
		    c->ctx_id, res_id);
		return -ENOENT;
	}
	if (!r->entries || size == 0 || size > r->backing_bytes) {
		vg_log(vg, VIOVA_HOST_LOG_ERROR,
		       "RESP_INIT (ctx %u): resource %u has %llu bytes of backing, the area needs "
		       "%llu: attach enough guest pages first (RESOURCE_ATTACH_BACKING)",
		       c->ctx_id, res_id, (unsigned long long)r->backing_bytes,
		       (unsigned long long)size);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < r->nentries && covered < size; i++) {
		void *p;

		if (viova_guest_mem_gpa(vg->mem, r->entries[i].addr, r->entries[i].length, &p)) {
			vg_log(
			    vg, VIOVA_HOST_LOG_ERROR,
			    "RESP_INIT (ctx %u): resource %u entry %u (0x%llx+0x%x) is no longer "
			    "in guest RAM",
			    c->ctx_id, res_id, i, (unsigned long long)r->entries[i].addr,
			    r->entries[i].length);
			return -EFAULT;
		}
		if (!base)
			base = p;
		else if (p != next)
			contiguous = false;
		next = (uint8_t *)p + r->entries[i].length;
		covered += r->entries[i].length;
	}
	if (!contiguous) {
		ret = gather(c, r, size, mem);
		if (ret == 0) {
			r->users++;
			c->area_res = r->id;
		}
		return ret;
	}
	if ((uintptr_t)base % 8) {
		vg_log(
		    vg, VIOVA_HOST_LOG_ERROR,
		    "RESP_INIT (ctx %u): resource %u backing starts at a host address not 8-byte "
		    "aligned: start the backing on a page",
		    c->ctx_id, res_id);
		return -EINVAL;
	}
	r->users++;
	c->area_res = r->id;
	*mem = base;
	return 0;
}

static void vg_resp_unmap(void *cookie, uint32_t res_id, void *mem, uint64_t size)
{
	struct vgpu_ctx *c = cookie;
	struct vgpu_res *r = res_find(c->vg, res_id);

	(void)size;
	if (c->gather && mem == c->gather) {
		munmap(c->gather, c->gather_len);
		c->gather = NULL;
		c->gather_len = 0;
	}
	c->area_res = 0;
	if (r && r->users)
		r->users--;
}

/* ---- contexts ------------------------------------------------------------------------------ */

static void ctx_destroy(struct viova_vgpu *vg, struct vgpu_ctx *c)
{
	/* resp_unmap runs inside and drops the response area's use count */
	viova_host_destroy(c->host);
	for (uint32_t i = 0; i < VIOVA_VGPU_MAX_RESOURCES; i++)
		vg->res[i].attached &= ~(1ull << c->slot);
	vg->ctx[c->slot] = NULL;
	free(c);
}

static uint32_t cmd_ctx_create(struct viova_vgpu *vg, const struct virtio_gpu_ctx_create *cmd)
{
	uint32_t ctx_id = cmd->hdr.ctx_id;
	uint32_t capset = cmd->context_init & VIRTIO_GPU_CONTEXT_INIT_CAPSET_ID_MASK;
	struct viova_host_config hc = vg->host_cfg;
	struct vgpu_ctx *c;
	char name[32];
	uint32_t slot;
	int ret;

	if (ctx_id == 0)
		return VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID;
	if (ctx_find(vg, ctx_id)) {
		vg_log(vg, VIOVA_HOST_LOG_ERROR,
		       "CTX_CREATE: context %u already exists: destroy it first", ctx_id);
		return VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID;
	}
	if (cmd->nlen > sizeof(cmd->debug_name) ||
	    (cmd->context_init & ~VIRTIO_GPU_CONTEXT_INIT_CAPSET_ID_MASK)) {
		vg_log(vg, VIOVA_HOST_LOG_ERROR,
		       "CTX_CREATE %u: nlen %u (at most %zu) or context_init 0x%x (unknown bits) "
		       "invalid",
		       ctx_id, cmd->nlen, sizeof(cmd->debug_name), cmd->context_init);
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	}
	/* stock QEMU's vhost-user-gpu forwards no CONTEXT_INIT: 0 means "the viova capset" */
	if (capset != 0 && capset != VIOVA_CAPSET_ID) {
		vg_log(vg, VIOVA_HOST_LOG_ERROR,
		       "CTX_CREATE %u: capset %u is not served here: use capset %u (viova) or 0",
		       ctx_id, capset, VIOVA_CAPSET_ID);
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	}
	for (slot = 0; slot < VIOVA_VGPU_MAX_CONTEXTS && vg->ctx[slot]; slot++)
		;
	if (slot == VIOVA_VGPU_MAX_CONTEXTS) {
		vg_log(vg, VIOVA_HOST_LOG_ERROR,
		       "CTX_CREATE %u: %u contexts already live: destroy one first", ctx_id,
		       VIOVA_VGPU_MAX_CONTEXTS);
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	c->vg = vg;
	c->ctx_id = ctx_id;
	c->slot = slot;
	hc.resp_map = vg_resp_map;
	hc.resp_unmap = vg_resp_unmap;
	hc.transport_cookie = c;
	snprintf(name, sizeof(name), "virtio-gpu context %u", ctx_id);
	hc.name = name;
	ret = viova_host_create(&hc, &c->host);
	if (ret) {
		vg_log(vg, VIOVA_HOST_LOG_ERROR, "CTX_CREATE %u: libviova-host: %s", ctx_id,
		       strerror(-ret));
		free(c);
		return ret == -ENOMEM ? VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY
				      : VIRTIO_GPU_RESP_ERR_UNSPEC;
	}
	vg->ctx[slot] = c;
	vg_log(vg, VIOVA_HOST_LOG_INFO, "CTX_CREATE %u: viova context (context_init %u: %s)", ctx_id,
	       capset,
	       capset ? "the guest named the viova capset"
		      : "the default context, as from a front-end without CONTEXT_INIT");
	return VIRTIO_GPU_RESP_OK_NODATA;
}

/* ---- resources ----------------------------------------------------------------------------- */

static uint32_t cmd_res_create(struct viova_vgpu *vg, uint32_t id)
{
	if (id == 0 || res_find(vg, id)) {
		vg_log(vg, VIOVA_HOST_LOG_ERROR,
		       "RESOURCE_CREATE_3D: resource id %u is 0 or already in use", id);
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	}
	for (uint32_t i = 0; i < VIOVA_VGPU_MAX_RESOURCES; i++) {
		if (vg->res[i].id == 0) {
			memset(&vg->res[i], 0, sizeof(vg->res[i]));
			vg->res[i].id = id;
			vg->nres++;
			return VIRTIO_GPU_RESP_OK_NODATA;
		}
	}
	vg_log(vg, VIOVA_HOST_LOG_ERROR,
	       "RESOURCE_CREATE_3D %u: %u resources already live: unref one first", id,
	       VIOVA_VGPU_MAX_RESOURCES);
	return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
}

static uint32_t cmd_attach_backing(struct viova_vgpu *vg, const struct viova_virtq_elem *elem,
				   const struct virtio_gpu_resource_attach_backing *cmd)
{
	struct vgpu_res *r = res_find(vg, cmd->resource_id);
	struct virtio_gpu_mem_entry *e;
	uint64_t total = 0;
	uint32_t n = cmd->nr_entries;

	if (!r)
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (r->entries || n == 0 || n > VIOVA_VGPU_MAX_ENTRIES ||
	    elem->out_bytes < sizeof(*cmd) + (uint64_t)n * sizeof(*e)) {
		vg_log(vg, VIOVA_HOST_LOG_ERROR,
		       "RESOURCE_ATTACH_BACKING %u: %s (nr_entries %u, at most %u, command %llu "
		       "bytes)",
		       cmd->resource_id,
		       r->entries ? "already has backing: detach it first"
				  : "entry count invalid or entries missing",
		       n, VIOVA_VGPU_MAX_ENTRIES, (unsigned long long)elem->out_bytes);
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	}
	e = malloc((size_t)n * sizeof(*e));
	if (!e)
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	if (viova_virtq_read(elem, sizeof(*cmd), e, (size_t)n * sizeof(*e))) {
		free(e);
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	}
	for (uint32_t i = 0; i < n; i++) {
		void *p;

		/* viova_guest_mem_gpa refuses length 0, wrap-around and anything outside RAM */
		if (viova_guest_mem_gpa(vg->mem, e[i].addr, e[i].length, &p) ||
		    total + e[i].length > VIOVA_VGPU_MAX_BACKING) {
			vg_log(vg, VIOVA_HOST_LOG_ERROR,
			       "RESOURCE_ATTACH_BACKING %u: entry %u (0x%llx+0x%x) is not inside "
			       "guest RAM or the backing exceeds %llu bytes",
			       cmd->resource_id, i, (unsigned long long)e[i].addr, e[i].length,
			       (unsigned long long)VIOVA_VGPU_MAX_BACKING);
			free(e);
			return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
		}
		total += e[i].length;
	}
	r->entries = e;
	r->nentries = n;
	r->backing_bytes = total;
	return VIRTIO_GPU_RESP_OK_NODATA;
}

/*
 * The guest is taking the pages of a response area away (UNREF or DETACH_BACKING). The Linux
 * driver does this on process exit BEFORE CTX_DESTROY (drm_gem_release runs before postclose),
 * and frees the pages once answered; libviova-host would go on writing fences and faults into
 * them. So the contexts using the area are closed now: their libviova-host is destroyed (jobs
 * waited for, then cancelled), the ctx_id stays registered as "closed" until CTX_DESTROY, and
 * SUBMIT_3D on it answers ERR_INVALID_CONTEXT_ID.
 */
static void res_release_users(struct viova_vgpu *vg, const char *what, struct vgpu_res *r)
{
	for (uint32_t i = 0; i < VIOVA_VGPU_MAX_CONTEXTS && r->users; i++) {
		struct vgpu_ctx *c = vg->ctx[i];

		if (!c || !c->host || c->area_res != r->id)
			continue;
		vg_log(vg, VIOVA_HOST_LOG_WARN,
		       "%s %u: the resource is the response area of context %u: the context is "
		       "closed (its viova state is released; CTX_DESTROY it)",
		       what, r->id, c->ctx_id);
		viova_host_destroy(c->host); /* resp_unmap drops r->users */
		c->host = NULL;
	}
}

/* ---- SUBMIT_3D ----------------------------------------------------------------------------- */

static uint32_t cmd_submit(struct viova_vgpu *vg, const struct viova_virtq_elem *elem,
			   const struct virtio_gpu_cmd_submit *cmd)
{
	struct vgpu_ctx *c = ctx_find(vg, cmd->hdr.ctx_id);

	if (!c)
		return VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID;
	if (!c->host) {
		vg_log(vg, VIOVA_HOST_LOG_ERROR,
		       "SUBMIT_3D (ctx %u): the context was closed when its response area was "
		       "released: destroy it and create a new one",
		       c->ctx_id);
		return VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID;
	}
	if (cmd->size > vg->caps.max_batch_size ||
	    elem->out_bytes < sizeof(*cmd) + (uint64_t)cmd->size) {
		vg_log(vg, VIOVA_HOST_LOG_ERROR,
		       "SUBMIT_3D (ctx %u): payload %u bytes, the chain carries %llu and the "
		       "capset allows %u: split the batch",
		       c->ctx_id, cmd->size,
		       (unsigned long long)(elem->out_bytes > sizeof(*cmd)
						? elem->out_bytes - sizeof(*cmd)
						: 0),
		       vg->caps.max_batch_size);
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	}
	/* copy out first: the guest may rewrite its buffer while the host decodes */
	if (viova_virtq_read(elem, sizeof(*cmd), vg->payload, cmd->size))
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	/* failed viova commands are reported through the context's error ring, not here */
	viova_host_process(c->host, vg->payload, cmd->size);
	return VIRTIO_GPU_RESP_OK_NODATA;
}

/* ---- GET_EDID: a minimal EDID 1.3 base block (no modes: the scanout is disabled) ---------- */

static void make_edid(uint8_t edid[128])
{
	static const uint8_t head[] = {0x00, 0xff, 0xff, 0xff, 0xff,
				       0xff, 0xff, 0x00, 0x59, 0x2f /* "VIO" */};
	uint8_t sum = 0;

	memset(edid, 0, 128);
	memcpy(edid, head, sizeof(head));
	edid[18] = 1;	 /* version 1 */
	edid[19] = 3;	 /* revision 3 */
	edid[20] = 0x80; /* digital input */
	for (int i = 0; i < 127; i++)
		sum += edid[i];
	edid[127] = (uint8_t)(0x100 - sum);
}

/* ---- dispatch ------------------------------------------------------------------------------ */

union vgpu_cmd {
	struct virtio_gpu_ctrl_hdr hdr;
	struct virtio_gpu_cmd_get_edid edid;
	struct virtio_gpu_get_capset_info capset_info;
	struct virtio_gpu_get_capset capset;
	struct virtio_gpu_ctx_create ctx_create;
	struct virtio_gpu_ctx_resource ctx_res;
	struct virtio_gpu_resource_create_3d create_3d;
	struct virtio_gpu_resource_attach_backing attach;
	struct virtio_gpu_resource_detach_backing detach;
	struct virtio_gpu_resource_unref unref;
	struct virtio_gpu_cmd_submit submit;
};

union vgpu_resp {
	struct virtio_gpu_ctrl_hdr hdr;
	struct virtio_gpu_resp_display_info display;
	struct virtio_gpu_resp_edid edid;
	struct virtio_gpu_resp_capset_info capset_info;
	struct {
		struct virtio_gpu_ctrl_hdr hdr;
		struct viova_capset caps;
	} capset;
};

/* Copy the command struct of @size bytes out of the chain; false if the chain is shorter. */
static bool get_cmd(const struct viova_virtq_elem *elem, union vgpu_cmd *cmd, size_t size)
{
	return elem->out_bytes >= size && viova_virtq_read(elem, 0, cmd, size) == 0;
}

/* Handle @cmd; fill @resp (header type included) and return the response size. */
static size_t dispatch(struct viova_vgpu *vg, const struct viova_virtq_elem *elem,
		       union vgpu_cmd *cmd, union vgpu_resp *resp)
{
	uint32_t type = VIRTIO_GPU_RESP_ERR_UNSPEC;
	size_t size = sizeof(resp->hdr);
	struct vgpu_res *r;
	struct vgpu_ctx *c;

	switch (cmd->hdr.type) {
	case VIRTIO_GPU_CMD_GET_DISPLAY_INFO:
		/* one scanout (the config space's num_scanouts = 1), disabled: compute only */
		type = VIRTIO_GPU_RESP_OK_DISPLAY_INFO;
		size = sizeof(resp->display);
		break;
	case VIRTIO_GPU_CMD_GET_EDID:
		if (!get_cmd(elem, cmd, sizeof(cmd->edid)))
			break;
		if (cmd->edid.scanout != 0) {
			type = VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID;
			break;
		}
		make_edid(resp->edid.edid);
		resp->edid.size = 128;
		type = VIRTIO_GPU_RESP_OK_EDID;
		size = sizeof(resp->edid);
		break;
	case VIRTIO_GPU_CMD_GET_CAPSET_INFO:
		if (!get_cmd(elem, cmd, sizeof(cmd->capset_info)))
			break;
		if (cmd->capset_info.capset_index != 0) {
			type = VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
			break;
		}
		resp->capset_info.capset_id = VIOVA_CAPSET_ID;
		resp->capset_info.capset_max_version = VIOVA_CAPSET_VERSION;
		resp->capset_info.capset_max_size = sizeof(struct viova_capset);
		type = VIRTIO_GPU_RESP_OK_CAPSET_INFO;
		size = sizeof(resp->capset_info);
		break;
	case VIRTIO_GPU_CMD_GET_CAPSET:
		if (!get_cmd(elem, cmd, sizeof(cmd->capset)))
			break;
		if (cmd->capset.capset_id != VIOVA_CAPSET_ID ||
		    cmd->capset.capset_version != VIOVA_CAPSET_VERSION) {
			type = VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
			break;
		}
		resp->capset.caps = vg->caps;
		type = VIRTIO_GPU_RESP_OK_CAPSET;
		size = sizeof(resp->capset);
		break;
	case VIRTIO_GPU_CMD_CTX_CREATE:
		if (get_cmd(elem, cmd, sizeof(cmd->ctx_create)))
			type = cmd_ctx_create(vg, &cmd->ctx_create);
		break;
	case VIRTIO_GPU_CMD_CTX_DESTROY:
		c = ctx_find(vg, cmd->hdr.ctx_id);
		type = VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID;
		if (c) {
			ctx_destroy(vg, c);
			type = VIRTIO_GPU_RESP_OK_NODATA;
		}
		break;
	case VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE:
	case VIRTIO_GPU_CMD_CTX_DETACH_RESOURCE:
		if (!get_cmd(elem, cmd, sizeof(cmd->ctx_res)))
			break;
		c = ctx_find(vg, cmd->hdr.ctx_id);
		r = res_find(vg, cmd->ctx_res.resource_id);
		if (!c) {
			type = VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID;
		} else if (!r) {
			type = VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
		} else if (cmd->hdr.type == VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE) {
			r->attached |= 1ull << c->slot;
			type = VIRTIO_GPU_RESP_OK_NODATA;
		} else {
			/* the response area stays attached while its context lives */
			r->attached &= ~(1ull << c->slot);
			type = VIRTIO_GPU_RESP_OK_NODATA;
		}
		break;
	case VIRTIO_GPU_CMD_RESOURCE_CREATE_3D:
		if (get_cmd(elem, cmd, sizeof(cmd->create_3d)))
			type = cmd_res_create(vg, cmd->create_3d.resource_id);
		break;
	case VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING:
		if (get_cmd(elem, cmd, sizeof(cmd->attach)))
			type = cmd_attach_backing(vg, elem, &cmd->attach);
		break;
	case VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING:
	case VIRTIO_GPU_CMD_RESOURCE_UNREF:
		if (!get_cmd(elem, cmd, sizeof(cmd->unref)))
			break;
		r = res_find(vg, cmd->unref.resource_id);
		if (!r) {
			type = VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
		} else if (cmd->hdr.type == VIRTIO_GPU_CMD_RESOURCE_UNREF) {
			res_release_users(vg, "RESOURCE_UNREF", r);
			res_drop_backing(r);
			r->id = 0;
			vg->nres--;
			type = VIRTIO_GPU_RESP_OK_NODATA;
		} else if (!r->entries) {
			type = VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
		} else {
			res_release_users(vg, "RESOURCE_DETACH_BACKING", r);
			res_drop_backing(r);
			type = VIRTIO_GPU_RESP_OK_NODATA;
		}
		break;
	case VIRTIO_GPU_CMD_SUBMIT_3D:
		if (get_cmd(elem, cmd, sizeof(cmd->submit)))
			type = cmd_submit(vg, elem, &cmd->submit);
		break;
	default:
		vg_log(vg, VIOVA_HOST_LOG_ERROR,
		       "virtio-gpu command 0x%x is not supported by viova-host (2D, blob and "
		       "transfer commands are not served)",
		       cmd->hdr.type);
		break;
	}
	resp->hdr.type = type;
	if (type >= VIRTIO_GPU_RESP_ERR_UNSPEC)
		size = sizeof(resp->hdr);
	return size;
}

int viova_vgpu_process(struct viova_vgpu *vg, const struct viova_guest_mem *mem,
		       const struct viova_virtq_elem *elem, uint32_t *written)
{
	union vgpu_cmd cmd;
	union vgpu_resp resp_buf, *resp = &resp_buf;
	bool short_hdr = false;
	size_t size;
	int ret;

	if (!vg || !mem || !elem || !written)
		return -EINVAL;
	*written = 0;
	memset(&cmd, 0, sizeof(cmd));
	if (!get_cmd(elem, &cmd, sizeof(cmd.hdr))) {
		vg_log(vg, VIOVA_HOST_LOG_ERROR,
		       "virtio-gpu command of %llu bytes is shorter than its %zu-byte header",
		       (unsigned long long)elem->out_bytes, sizeof(cmd.hdr));
		short_hdr = true; /* answered ERR_UNSPEC with a zero header */
	} else if (cmd.hdr.type == VIRTIO_GPU_CMD_UPDATE_CURSOR ||
		   cmd.hdr.type == VIRTIO_GPU_CMD_MOVE_CURSOR) {
		return 0; /* no cursor plane; cursor commands have no answer */
	}
	memset(resp, 0, sizeof(*resp));
	vg->mem = mem;
	if (short_hdr) {
		resp->hdr.type = VIRTIO_GPU_RESP_ERR_UNSPEC;
		size = sizeof(resp->hdr);
	} else {
		size = dispatch(vg, elem, &cmd, resp);
	}
	vg->mem = NULL;
	if (cmd.hdr.flags & VIRTIO_GPU_FLAG_FENCE) {
		/* processing was synchronous: the fence has signalled by now */
		resp->hdr.flags = VIRTIO_GPU_FLAG_FENCE;
		resp->hdr.fence_id = cmd.hdr.fence_id;
		resp->hdr.ctx_id = cmd.hdr.ctx_id;
		if (cmd.hdr.flags & VIRTIO_GPU_FLAG_INFO_RING_IDX) {
			resp->hdr.flags |= VIRTIO_GPU_FLAG_INFO_RING_IDX;
			resp->hdr.ring_idx = cmd.hdr.ring_idx;
		}
	}
	ret = viova_virtq_write(elem, 0, resp, size);
	if (ret == 0)
		*written = (uint32_t)size;
	return ret;
}

/* ---- lifecycle ----------------------------------------------------------------------------- */

int viova_vgpu_create(const struct viova_vgpu_config *cfg, struct viova_vgpu **out)
{
	struct viova_vgpu *vg;
	struct viova_host *probe;
	int ret;

	if (!out)
		return -EINVAL;
	vg = calloc(1, sizeof(*vg));
	if (!vg)
		return -ENOMEM;
	if (cfg && cfg->host)
		vg->host_cfg = *cfg->host;
	if (vg->host_cfg.backend_config) {
		/* the template's pointer need not outlive this call */
		vg->backend_cfg = *vg->host_cfg.backend_config;
		vg->host_cfg.backend_config = &vg->backend_cfg;
	}
	if (vg->host_cfg.backend)
		vg->host_cfg.backend = strdup(vg->host_cfg.backend);
	vg->host_cfg.resp_map = NULL;
	vg->host_cfg.resp_unmap = NULL;
	vg->host_cfg.transport_cookie = NULL;
	/* each context's host gets its own name; the budget must outlive vg (the caller's) */
	vg->host_cfg.name = NULL;
	if (cfg) {
		vg->log = cfg->log;
		vg->log_cookie = cfg->log_cookie;
	}
	vg->res = calloc(VIOVA_VGPU_MAX_RESOURCES, sizeof(*vg->res));
	ret = vg->res ? 0 : -ENOMEM;
	if (ret == 0)
		ret = viova_host_create(&vg->host_cfg, &probe);
	if (ret == 0) {
		ret = viova_host_get_caps(probe, &vg->caps);
		viova_host_destroy(probe);
	}
	if (ret == 0) {
		vg->payload = aligned_alloc(64, (vg->caps.max_batch_size + 63u) & ~63u);
		if (!vg->payload)
			ret = -ENOMEM;
	}
	if (ret) {
		free(vg->res);
		free((char *)vg->host_cfg.backend);
		free(vg);
		return ret;
	}
	*out = vg;
	return 0;
}

void viova_vgpu_reset(struct viova_vgpu *vg)
{
	if (!vg)
		return;
	for (uint32_t i = 0; i < VIOVA_VGPU_MAX_CONTEXTS; i++)
		if (vg->ctx[i])
			ctx_destroy(vg, vg->ctx[i]);
	for (uint32_t i = 0; i < VIOVA_VGPU_MAX_RESOURCES; i++) {
		res_drop_backing(&vg->res[i]);
		memset(&vg->res[i], 0, sizeof(vg->res[i]));
	}
	vg->nres = 0;
}

void viova_vgpu_destroy(struct viova_vgpu *vg)
{
	if (!vg)
		return;
	viova_vgpu_reset(vg);
	free(vg->payload);
	free(vg->res);
	free((char *)vg->host_cfg.backend);
	free(vg);
}

int viova_vgpu_caps(const struct viova_vgpu *vg, struct viova_capset *caps)
{
	if (!vg || !caps)
		return -EINVAL;
	*caps = vg->caps;
	return 0;
}

struct viova_host *viova_vgpu_ctx_host(struct viova_vgpu *vg, uint32_t ctx_id)
{
	struct vgpu_ctx *c = vg ? ctx_find(vg, ctx_id) : NULL;

	return c ? c->host : NULL;
}

uint32_t viova_vgpu_ctx_count(const struct viova_vgpu *vg)
{
	uint32_t n = 0;

	for (uint32_t i = 0; vg && i < VIOVA_VGPU_MAX_CONTEXTS; i++)
		n += vg->ctx[i] != NULL;
	return n;
}

uint32_t viova_vgpu_resource_count(const struct viova_vgpu *vg)
{
	return vg ? vg->nres : 0;
}

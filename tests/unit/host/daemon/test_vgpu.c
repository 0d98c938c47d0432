/* SPDX-License-Identifier: MIT */
/*
 * host/daemon/vgpu.c: virtio-gpu control commands placed in a memfd "guest RAM", handed to the
 * device model as popped chains (readable buffers first, then the writable answer buffer),
 * the way viova_virtq_pop() describes them. The whole path: capsets, contexts, a 3D resource
 * whose guest pages become libviova-host's response area, a real viova batch through
 * SUBMIT_3D with a sim FILL checked byte for byte, and what a hostile guest can send.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/virtio_gpu.h>

#include <viova/codec.h>

#include "vgpu.h"

#define RAM_SIZE (4u << 20)
#define RAM_GPA 0x100000ull
#define CMD_OFF 0x0u	   /* command header struct */
#define EXTRA_OFF 0x1000u  /* entries / payload (second readable buffer) */
#define RESP_OFF 0x30000u  /* answer buffer */
#define AREA_OFF 0x100000u /* the response area's pages */
#define AREA_SIZE (128u << 10)
#define BATCH_MAX (64u << 10)
#define RES 5u
#define CTX 1u
#define SEC 1000000000ull

struct fx {
	int fd;
	uint8_t *ram;
	struct viova_guest_mem mem;
	struct viova_vgpu *vg;
	struct viova_capset caps;
	uint64_t batch[BATCH_MAX / 8];
	struct viova_codec_encoder enc;
	int log_errors;
};

static void fx_log(void *cookie, int level, const char *msg)
{
	struct fx *f = cookie;

	if (level == VIOVA_HOST_LOG_ERROR)
		f->log_errors++;
	if (getenv("VGPU_VERBOSE"))
		fprintf(stderr, "[vgpu %d] %s\n", level, msg);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct viova_host_config hc = {.backend = "sim", .max_batch_size = BATCH_MAX};
	struct viova_vgpu_config cfg = {.host = &hc, .log = fx_log};

	assert_non_null(f);
	f->fd = memfd_create("vgpu-guest-ram", MFD_CLOEXEC);
	assert_true(f->fd >= 0);
	assert_int_equal(ftruncate(f->fd, RAM_SIZE), 0);
	f->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f->fd, 0);
	assert_true(f->ram != MAP_FAILED);
	f->mem.nregions = 1;
	f->mem.regions[0] = (struct viova_guest_region){.gpa = RAM_GPA,
							.size = RAM_SIZE,
							.qva = 0x7f0000000000ull,
							.host = f->ram,
							.map_base = f->ram,
							.map_len = RAM_SIZE};
	hc.log = fx_log;
	hc.log_cookie = f;
	cfg.log_cookie = f;
	assert_int_equal(viova_vgpu_create(&cfg, &f->vg), 0);
	assert_int_equal(viova_vgpu_caps(f->vg, &f->caps), 0);
	assert_int_equal(viova_codec_enc_init(&f->enc, f->batch, sizeof(f->batch), 1), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	viova_vgpu_destroy(f->vg);
	munmap(f->ram, RAM_SIZE);
	close(f->fd);
	free(f);
	return 0;
}

/*
 * Place cmd (and extra, as a second readable buffer) in guest RAM, run it with resp_cap bytes
 * of answer room, copy the answer to resp. Returns viova_vgpu_process()'s result.
 */
static int run_raw(struct fx *f, const void *cmd, size_t len, const void *extra, size_t extra_len,
		   void *resp, size_t resp_cap, uint32_t *written)
{
	struct viova_virtq_elem *e = calloc(1, sizeof(*e));
	int ret;

	assert_non_null(e);
	memcpy(f->ram + CMD_OFF, cmd, len);
	e->out[0] = (struct viova_virtq_iov){f->ram + CMD_OFF, (uint32_t)len};
	e->out_num = 1;
	e->out_bytes = len;
	if (extra_len) {
		memcpy(f->ram + EXTRA_OFF, extra, extra_len);
		e->out[1] = (struct viova_virtq_iov){f->ram + EXTRA_OFF, (uint32_t)extra_len};
		e->out_num = 2;
		e->out_bytes += extra_len;
	}
	memset(f->ram + RESP_OFF, 0xee, 4096);
	if (resp_cap) {
		e->in[0] = (struct viova_virtq_iov){f->ram + RESP_OFF, (uint32_t)resp_cap};
		e->in_num = 1;
		e->in_bytes = resp_cap;
	}
	ret = viova_vgpu_process(f->vg, &f->mem, e, written);
	if (ret == 0 && *written)
		memcpy(resp, f->ram + RESP_OFF, *written);
	free(e);
	return ret;
}

/* Run a command expecting a header-only answer; returns its type. */
static uint32_t run(struct fx *f, const void *cmd, size_t len, const void *extra, size_t extra_len)
{
	struct virtio_gpu_ctrl_hdr r;
	uint32_t written;

	assert_int_equal(run_raw(f, cmd, len, extra, extra_len, &r, sizeof(r), &written), 0);
	assert_int_equal(written, sizeof(r));
	return r.type;
}

static struct virtio_gpu_ctrl_hdr hdr(uint32_t type, uint32_t ctx_id)
{
	return (struct virtio_gpu_ctrl_hdr){.type = type, .ctx_id = ctx_id};
}

static uint32_t ctx_create(struct fx *f, uint32_t ctx_id, uint32_t context_init)
{
	struct virtio_gpu_ctx_create c = {
	    .hdr = hdr(VIRTIO_GPU_CMD_CTX_CREATE, ctx_id), .nlen = 4, .context_init = context_init};

	memcpy(c.debug_name, "test", 4);
	return run(f, &c, sizeof(c), NULL, 0);
}

static uint32_t ctx_destroy(struct fx *f, uint32_t ctx_id)
{
	struct virtio_gpu_ctrl_hdr h = hdr(VIRTIO_GPU_CMD_CTX_DESTROY, ctx_id);

	return run(f, &h, sizeof(h), NULL, 0);
}

static uint32_t res_cmd(struct fx *f, uint32_t type, uint32_t ctx_id, uint32_t res)
{
	struct virtio_gpu_resource_unref u = {.hdr = hdr(type, ctx_id), .resource_id = res};

	return run(f, &u, sizeof(u), NULL, 0);
}

static uint32_t res_create(struct fx *f, uint32_t res)
{
	struct virtio_gpu_resource_create_3d c = {.hdr = hdr(VIRTIO_GPU_CMD_RESOURCE_CREATE_3D, 0),
						  .resource_id = res,
						  .target = 0 /* buffer */,
						  .width = AREA_SIZE,
						  .height = 1,
						  .depth = 1,
						  .array_size = 1};

	return run(f, &c, sizeof(c), NULL, 0);
}

static uint32_t attach(struct fx *f, uint32_t res, const struct virtio_gpu_mem_entry *e, uint32_t n,
		       uint32_t claimed)
{
	struct virtio_gpu_resource_attach_backing a = {
	    .hdr = hdr(VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING, 0),
	    .resource_id = res,
	    .nr_entries = claimed};

	return run(f, &a, sizeof(a), e, n * sizeof(*e));
}

static uint32_t submit(struct fx *f, uint32_t ctx_id, const void *payload, uint32_t size,
		       uint32_t claimed)
{
	struct virtio_gpu_cmd_submit s = {.hdr = hdr(VIRTIO_GPU_CMD_SUBMIT_3D, ctx_id),
					  .size = claimed};

	return run(f, &s, sizeof(s), payload, size);
}

/* Send what the encoder holds through SUBMIT_3D on ctx_id. */
static uint32_t submit_enc(struct fx *f, uint32_t ctx_id)
{
	size_t len;
	uint32_t t;

	assert_int_equal(viova_codec_enc_finish(&f->enc, &len), 0);
	t = submit(f, ctx_id, f->batch, (uint32_t)len, (uint32_t)len);
	viova_codec_enc_reset(&f->enc);
	return t;
}

/* Resource RES with two contiguous 64 KiB backing entries at AREA_OFF, attached to ctx. */
static void area_resource(struct fx *f, uint32_t ctx)
{
	struct virtio_gpu_mem_entry e[2] = {{RAM_GPA + AREA_OFF, AREA_SIZE / 2, 0},
					    {RAM_GPA + AREA_OFF + AREA_SIZE / 2, AREA_SIZE / 2, 0}};

	assert_int_equal(res_create(f, RES), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(attach(f, RES, e, 2, 2), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(res_cmd(f, VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE, ctx, RES),
			 VIRTIO_GPU_RESP_OK_NODATA);
}

static void resp_init(struct fx *f, uint32_t ctx)
{
	assert_int_equal(viova_codec_enc_resp_init(&f->enc, RES, 0, AREA_SIZE, NULL), 0);
	assert_int_equal(submit_enc(f, ctx), VIRTIO_GPU_RESP_OK_NODATA);
}

/* ---- tests --------------------------------------------------------------------------------- */

static void test_capset(void **state)
{
	struct fx *f = *state;
	struct virtio_gpu_get_capset_info ci = {.hdr = hdr(VIRTIO_GPU_CMD_GET_CAPSET_INFO, 0)};
	struct virtio_gpu_get_capset gc = {.hdr = hdr(VIRTIO_GPU_CMD_GET_CAPSET, 0),
					   .capset_id = VIOVA_CAPSET_ID,
					   .capset_version = 1};
	struct virtio_gpu_resp_capset_info rci;
	struct {
		struct virtio_gpu_ctrl_hdr h;
		struct viova_capset c;
	} rc;
	struct viova_host_config hc = {.backend = "sim", .max_batch_size = BATCH_MAX};
	struct viova_capset ref;
	struct viova_host *h;
	uint32_t w;

	assert_int_equal(run_raw(f, &ci, sizeof(ci), NULL, 0, &rci, sizeof(rci), &w), 0);
	assert_int_equal(w, sizeof(rci));
	assert_int_equal(rci.hdr.type, VIRTIO_GPU_RESP_OK_CAPSET_INFO);
	assert_int_equal(rci.capset_id, VIOVA_CAPSET_ID);
	assert_int_equal(rci.capset_max_version, 1);
	assert_int_equal(rci.capset_max_size, sizeof(struct viova_capset));
	ci.capset_index = 1;
	assert_int_equal(run(f, &ci, sizeof(ci), NULL, 0), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);

	assert_int_equal(run_raw(f, &gc, sizeof(gc), NULL, 0, &rc, sizeof(rc), &w), 0);
	assert_int_equal(w, sizeof(rc));
	assert_int_equal(rc.h.type, VIRTIO_GPU_RESP_OK_CAPSET);
	assert_int_equal(viova_host_create(&hc, &h), 0);
	assert_int_equal(viova_host_get_caps(h, &ref), 0);
	viova_host_destroy(h);
	assert_memory_equal(&rc.c, &ref, sizeof(ref));
	assert_int_equal(rc.c.max_batch_size, BATCH_MAX);

	gc.capset_version = 2;
	assert_int_equal(run(f, &gc, sizeof(gc), NULL, 0), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	gc.capset_version = 1;
	gc.capset_id = 1; /* virgl */
	assert_int_equal(run(f, &gc, sizeof(gc), NULL, 0), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
}

static void test_display_edid(void **state)
{
	struct fx *f = *state;
	struct virtio_gpu_ctrl_hdr h = hdr(VIRTIO_GPU_CMD_GET_DISPLAY_INFO, 0);
	struct virtio_gpu_cmd_get_edid ge = {.hdr = hdr(VIRTIO_GPU_CMD_GET_EDID, 0)};
	struct virtio_gpu_resp_display_info *di = malloc(sizeof(*di));
	struct virtio_gpu_resp_edid *ed = malloc(sizeof(*ed));
	uint8_t sum = 0;
	uint32_t w;

	assert_non_null(di);
	assert_non_null(ed);
	assert_int_equal(run_raw(f, &h, sizeof(h), NULL, 0, di, sizeof(*di), &w), 0);
	assert_int_equal(w, sizeof(*di));
	assert_int_equal(di->hdr.type, VIRTIO_GPU_RESP_OK_DISPLAY_INFO);
	for (int i = 0; i < VIRTIO_GPU_MAX_SCANOUTS; i++)
		assert_int_equal(di->pmodes[i].enabled, 0);
	assert_int_equal(run_raw(f, &ge, sizeof(ge), NULL, 0, ed, sizeof(*ed), &w), 0);
	assert_int_equal(w, sizeof(*ed));
	assert_int_equal(ed->hdr.type, VIRTIO_GPU_RESP_OK_EDID);
	assert_int_equal(ed->size, 128);
	assert_int_equal(ed->edid[0], 0x00);
	assert_int_equal(ed->edid[1], 0xff);
	for (int i = 0; i < 128; i++)
		sum += ed->edid[i];
	assert_int_equal(sum, 0);
	ge.scanout = 1;
	assert_int_equal(run(f, &ge, sizeof(ge), NULL, 0), VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID);
	free(di);
	free(ed);
}

static void test_ctx_create(void **state)
{
	struct fx *f = *state;

	/* stock QEMU: no CONTEXT_INIT, context_init 0 */
	assert_int_equal(ctx_create(f, 1, 0), VIRTIO_GPU_RESP_OK_NODATA);
	/* patched QEMU: the viova capset named explicitly */
	assert_int_equal(ctx_create(f, 2, VIOVA_CAPSET_ID), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(viova_vgpu_ctx_count(f->vg), 2);
	assert_non_null(viova_vgpu_ctx_host(f->vg, 1));
	assert_non_null(viova_vgpu_ctx_host(f->vg, 2));
	assert_ptr_not_equal(viova_vgpu_ctx_host(f->vg, 1), viova_vgpu_ctx_host(f->vg, 2));
	/* another capset (virgl 1, venus 4), unknown bits, double create, id 0 */
	assert_int_equal(ctx_create(f, 3, 1), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	assert_int_equal(ctx_create(f, 3, 4), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	assert_int_equal(ctx_create(f, 3, 0x100 | VIOVA_CAPSET_ID),
			 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	assert_int_equal(ctx_create(f, 1, 0), VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID);
	assert_int_equal(ctx_create(f, 0, 0), VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID);
	assert_int_equal(viova_vgpu_ctx_count(f->vg), 2);

	assert_int_equal(ctx_destroy(f, 1), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(ctx_destroy(f, 1), VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID);
	assert_null(viova_vgpu_ctx_host(f->vg, 1));
	/* device reset / disconnect destroys the rest */
	viova_vgpu_reset(f->vg);
	assert_int_equal(viova_vgpu_ctx_count(f->vg), 0);
	assert_int_equal(ctx_create(f, 2, 0), VIRTIO_GPU_RESP_OK_NODATA);
	/* the context table's bound */
	for (uint32_t i = 1; i < VIOVA_VGPU_MAX_CONTEXTS; i++)
		assert_int_equal(ctx_create(f, 100 + i, 0), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(ctx_create(f, 99, 0), VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
	assert_int_equal(ctx_destroy(f, 2), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(ctx_create(f, 99, 0), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(viova_vgpu_ctx_count(f->vg), VIOVA_VGPU_MAX_CONTEXTS);
}

/*
 * The whole path: RESP_INIT naming a guest-backed 3D resource, then CTX_CREATE, GEM_NEW at an
 * iova, a sim FILL, WAIT_FENCE, and GEM_DOWNLOAD whose bytes land in the guest's pages.
 */
static void test_submit_fill(void **state)
{
	struct fx *f = *state;
	struct viova_codec_resp_guest g;
	struct viova_fence_status fs;
	struct viova_sim_job job;
	struct viova_submit_bo bo = {1, VIOVA_SUBMIT_BO_READ | VIOVA_SUBMIT_BO_WRITE};
	struct viova_codec_submit sub = {.format = VIOVA_SUBMIT_FORMAT_SIM,
					 .out_fence = 1,
					 .bos = &bo,
					 .bo_count = 1,
					 .cmds = &job,
					 .cmd_count = 1};
	struct virtio_gpu_cmd_submit fenced = {.hdr = hdr(VIRTIO_GPU_CMD_SUBMIT_3D, CTX)};
	struct virtio_gpu_ctrl_hdr r;
	uint64_t iova = f->caps.va_start + 0x100000ull;
	uint64_t s_wait, s_dl;
	uint32_t words[1024], err, size, w;
	size_t len;

	assert_int_equal(ctx_create(f, CTX, 0), VIRTIO_GPU_RESP_OK_NODATA);
	area_resource(f, CTX);
	memset(f->ram + AREA_OFF, 0xa5, AREA_SIZE);
	resp_init(f, CTX);
	assert_int_equal(viova_codec_resp_guest_attach(&g, f->ram + AREA_OFF, AREA_SIZE), 0);

	job = viova_codec_sim_fill(iova, 8192, 0x5eedf00d);
	assert_int_equal(viova_codec_enc_ctx_create(&f->enc, 1, 0, 0, 0, 1, 0, NULL), 0);
	assert_int_equal(viova_codec_enc_gem_new(&f->enc, 1, 1, 0, 8192, 0, iova, NULL), 0);
	assert_int_equal(viova_codec_enc_submit(&f->enc, 1, &sub, NULL), 0);
	assert_int_equal(viova_codec_enc_wait_fence(&f->enc, 1, 1, SEC, 8192, &s_wait), 0);
	assert_int_equal(viova_codec_enc_gem_download(&f->enc, 1, 1, 4096, 4096, 0, &s_dl), 0);
	assert_int_equal(viova_codec_enc_finish(&f->enc, &len), 0);

	/* sent fenced: the answer echoes fence and context, after the work is done */
	fenced.hdr.flags = VIRTIO_GPU_FLAG_FENCE;
	fenced.hdr.fence_id = 0x1234;
	fenced.size = (uint32_t)len;
	assert_int_equal(run_raw(f, &fenced, sizeof(fenced), f->batch, len, &r, sizeof(r), &w), 0);
	viova_codec_enc_reset(&f->enc);
	assert_int_equal(w, sizeof(r));
	assert_int_equal(r.type, VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(r.flags, VIRTIO_GPU_FLAG_FENCE);
	assert_int_equal(r.fence_id, 0x1234);
	assert_int_equal(r.ctx_id, CTX);
	assert_int_equal(viova_codec_resp_guest_processed(&g), s_dl);

	assert_int_equal(
	    viova_codec_resp_guest_read(&g, 8192, s_wait, &fs, sizeof(fs), &err, &size), 0);
	assert_int_equal(err, 0);
	assert_true(fs.completed_fence >= 1);
	assert_int_equal(
	    viova_codec_resp_guest_read(&g, 0, s_dl, words, sizeof(words), &err, &size), 0);
	assert_int_equal(err, 0);
	assert_int_equal(size, sizeof(words));
	for (uint32_t i = 0; i < 1024; i++)
		assert_int_equal(words[i], 0x5eedf00d);

	/*
	 * The guest takes the area away before destroying the context (a process exit does:
	 * GEM release before postclose): the context is closed at once, nothing writes into the
	 * freed pages, and the ctx_id waits for CTX_DESTROY.
	 */
	assert_int_equal(res_cmd(f, VIRTIO_GPU_CMD_RESOURCE_UNREF, 0, RES),
			 VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(viova_vgpu_resource_count(f->vg), 0);
	assert_int_equal(viova_vgpu_ctx_count(f->vg), 1);
	assert_null(viova_vgpu_ctx_host(f->vg, CTX));
	memset(f->ram + AREA_OFF, 0xa5, AREA_SIZE);
	assert_int_equal(viova_codec_enc_nop(&f->enc, NULL), 0);
	assert_int_equal(submit_enc(f, CTX), VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID);
	assert_int_equal(f->ram[AREA_OFF], 0xa5);
	assert_int_equal(ctx_create(f, CTX, 0), VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID);
	assert_int_equal(ctx_destroy(f, CTX), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(viova_vgpu_ctx_count(f->vg), 0);
}

/*
 * Scattered backing (entries in reverse order, as a guest's page allocator may hand them out):
 * the host gathers them into one alias of the guest pages and writes land where the guest
 * expects them, in entry order.
 */
static void test_resp_area_scattered(void **state)
{
	struct fx *f = *state;
	struct virtio_gpu_mem_entry rev[2] = {{RAM_GPA + AREA_OFF + AREA_SIZE, AREA_SIZE / 2, 0},
					      {RAM_GPA + AREA_OFF, AREA_SIZE / 2, 0}};
	struct viova_codec_resp_guest g;
	struct viova_host_counters c;
	uint32_t magic;

	memset(f->ram + AREA_OFF, 0xa5, 2 * AREA_SIZE);
	assert_int_equal(ctx_create(f, CTX, 0), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(res_create(f, RES), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(attach(f, RES, rev, 2, 2), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(res_cmd(f, VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE, CTX, RES),
			 VIRTIO_GPU_RESP_OK_NODATA);
	resp_init(f, CTX);
	assert_int_equal(viova_host_counters(viova_vgpu_ctx_host(f->vg, CTX), &c), 0);
	assert_int_equal(c.failed, 0);
	/* area offset 0 is entry 0: guest AREA_OFF + AREA_SIZE */
	memcpy(&magic, f->ram + AREA_OFF + AREA_SIZE, sizeof(magic));
	assert_int_equal(magic, VIOVA_RESP_MAGIC);
	assert_int_equal(
	    viova_codec_resp_guest_attach(&g, f->ram + AREA_OFF + AREA_SIZE, AREA_SIZE / 2),
	    -EBADMSG); /* the guest's view is split: only the host sees it whole */
	/* both halves were written (zeroed by the host), nothing outside them */
	assert_int_equal(f->ram[AREA_OFF + 100], 0);
	assert_int_equal(f->ram[AREA_OFF + AREA_SIZE / 2], 0xa5);
	assert_int_equal(f->ram[AREA_OFF + AREA_SIZE + AREA_SIZE / 2], 0xa5);
	/* DETACH_BACKING of an area in use closes its context (and unmaps the alias) */
	assert_int_equal(res_cmd(f, VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING, 0, RES),
			 VIRTIO_GPU_RESP_OK_NODATA);
	assert_null(viova_vgpu_ctx_host(f->vg, CTX));
	assert_int_equal(ctx_destroy(f, CTX), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(res_cmd(f, VIRTIO_GPU_CMD_RESOURCE_UNREF, 0, RES),
			 VIRTIO_GPU_RESP_OK_NODATA);
}

/* RESP_INIT refused: not attached to the context, scattered and not page-aligned, too small. */
static void test_resp_area_refused(void **state)
{
	struct fx *f = *state;
	struct virtio_gpu_mem_entry gap[2] = {
	    {RAM_GPA + AREA_OFF + 8, AREA_SIZE / 2, 0},
	    {RAM_GPA + AREA_OFF + 2 * AREA_SIZE, AREA_SIZE / 2, 0}};
	struct viova_host_counters c;

	assert_int_equal(ctx_create(f, CTX, 0), VIRTIO_GPU_RESP_OK_NODATA);
	/* not attached to the context */
	assert_int_equal(res_create(f, RES), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(attach(f, RES, gap, 2, 2), VIRTIO_GPU_RESP_OK_NODATA);
	resp_init(f, CTX);
	assert_int_equal(viova_host_counters(viova_vgpu_ctx_host(f->vg, CTX), &c), 0);
	assert_int_equal(c.failed, 1);
	/* attached, but its two entries are neither contiguous nor page-aligned */
	assert_int_equal(res_cmd(f, VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE, CTX, RES),
			 VIRTIO_GPU_RESP_OK_NODATA);
	resp_init(f, CTX);
	assert_int_equal(viova_host_counters(viova_vgpu_ctx_host(f->vg, CTX), &c), 0);
	assert_int_equal(c.failed, 2);
	/* nothing holds it: it can go */
	assert_int_equal(res_cmd(f, VIRTIO_GPU_CMD_RESOURCE_UNREF, 0, RES),
			 VIRTIO_GPU_RESP_OK_NODATA);
	/* too small: one 4 KiB page for a 128 KiB area */
	gap[0].addr = RAM_GPA + AREA_OFF;
	gap[0].length = 4096;
	assert_int_equal(res_create(f, RES), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(attach(f, RES, gap, 1, 1), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(res_cmd(f, VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE, CTX, RES),
			 VIRTIO_GPU_RESP_OK_NODATA);
	resp_init(f, CTX);
	assert_int_equal(viova_host_counters(viova_vgpu_ctx_host(f->vg, CTX), &c), 0);
	assert_int_equal(c.failed, 3);
	assert_int_equal(res_cmd(f, VIRTIO_GPU_CMD_RESOURCE_UNREF, 0, RES),
			 VIRTIO_GPU_RESP_OK_NODATA);
}

static void test_hostile(void **state)
{
	struct fx *f = *state;
	struct virtio_gpu_ctrl_hdr h = hdr(VIRTIO_GPU_CMD_GET_DISPLAY_INFO, 0), r;
	struct virtio_gpu_get_capset gc = {.hdr = hdr(VIRTIO_GPU_CMD_GET_CAPSET, 0),
					   .capset_id = VIOVA_CAPSET_ID,
					   .capset_version = 1};
	struct virtio_gpu_mem_entry e[2];
	uint8_t *big = calloc(1, BATCH_MAX + 16);
	uint32_t w;

	assert_non_null(big);
	/* short header: ERR_UNSPEC */
	assert_int_equal(run_raw(f, &h, 10, NULL, 0, &r, sizeof(r), &w), 0);
	assert_int_equal(w, sizeof(r));
	assert_int_equal(r.type, VIRTIO_GPU_RESP_ERR_UNSPEC);
	/* header fine but the command's struct truncated */
	assert_int_equal(run(f, &gc, sizeof(gc) - 4, NULL, 0), VIRTIO_GPU_RESP_ERR_UNSPEC);
	/* unknown and 2D commands */
	h.type = 0x0999;
	assert_int_equal(run(f, &h, sizeof(h), NULL, 0), VIRTIO_GPU_RESP_ERR_UNSPEC);
	h.type = VIRTIO_GPU_CMD_RESOURCE_CREATE_2D;
	assert_int_equal(run(f, &h, sizeof(h), NULL, 0), VIRTIO_GPU_RESP_ERR_UNSPEC);
	/* cursor commands: no answer */
	h.type = VIRTIO_GPU_CMD_MOVE_CURSOR;
	assert_int_equal(run_raw(f, &h, sizeof(h), NULL, 0, &r, sizeof(r), &w), 0);
	assert_int_equal(w, 0);
	assert_int_equal(f->ram[RESP_OFF], 0xee);
	/* no room for the answer: -EFAULT, nothing written */
	h.type = VIRTIO_GPU_CMD_GET_DISPLAY_INFO;
	assert_int_equal(run_raw(f, &h, sizeof(h), NULL, 0, &r, sizeof(r), &w), -EFAULT);
	assert_int_equal(w, 0);
	assert_int_equal(f->ram[RESP_OFF], 0xee);

	/* unknown ctx_id */
	assert_int_equal(submit(f, 77, big, 64, 64), VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID);
	assert_int_equal(ctx_destroy(f, 77), VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID);
	assert_int_equal(res_cmd(f, VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE, 77, RES),
			 VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID);
	/* oversized SUBMIT_3D, and a size larger than what the chain carries */
	assert_int_equal(ctx_create(f, CTX, 0), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(submit(f, CTX, big, BATCH_MAX + 8, BATCH_MAX + 8),
			 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	assert_int_equal(submit(f, CTX, big, 64, 4096), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	assert_int_equal(submit(f, CTX, big, 64, 0xffffffffu),
			 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	/* garbage payload of a valid size: answered OK, the host core rejects the batch */
	memset(big, 0x5a, 256);
	assert_int_equal(submit(f, CTX, big, 256, 256), VIRTIO_GPU_RESP_OK_NODATA);

	/* resources: double create, id 0, unknown id */
	assert_int_equal(res_create(f, RES), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(res_create(f, RES), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	assert_int_equal(res_create(f, 0), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	assert_int_equal(res_cmd(f, VIRTIO_GPU_CMD_RESOURCE_UNREF, 0, 99),
			 VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	assert_int_equal(attach(f, 99, e, 0, 0), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	/* backing outside guest RAM, wrapping, zero length, zero / too many / missing entries */
	e[0] = (struct virtio_gpu_mem_entry){RAM_GPA + RAM_SIZE - 4096, 8192, 0};
	assert_int_equal(attach(f, RES, e, 1, 1), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	e[0] = (struct virtio_gpu_mem_entry){0x1000, 4096, 0}; /* below the region */
	assert_int_equal(attach(f, RES, e, 1, 1), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	e[0] = (struct virtio_gpu_mem_entry){0xfffffffffffff000ull, 0x2000, 0};
	assert_int_equal(attach(f, RES, e, 1, 1), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	e[0] = (struct virtio_gpu_mem_entry){RAM_GPA, 0, 0};
	assert_int_equal(attach(f, RES, e, 1, 1), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	e[0] = (struct virtio_gpu_mem_entry){RAM_GPA + AREA_OFF, 4096, 0};
	assert_int_equal(attach(f, RES, e, 1, 0), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	assert_int_equal(attach(f, RES, e, 1, VIOVA_VGPU_MAX_ENTRIES + 1),
			 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	assert_int_equal(attach(f, RES, e, 1, 2), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	assert_int_equal(res_cmd(f, VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING, 0, RES),
			 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER); /* none attached */
	/* a valid one, then a second attach without detaching */
	assert_int_equal(attach(f, RES, e, 1, 1), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(attach(f, RES, e, 1, 1), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	assert_true(f->log_errors > 0);
	/* reset drops resources and contexts */
	viova_vgpu_reset(f->vg);
	assert_int_equal(viova_vgpu_resource_count(f->vg), 0);
	assert_int_equal(viova_vgpu_ctx_count(f->vg), 0);
	free(big);
}

/*
 * Fence echo with INFO_RING_IDX on an error answer too, a payload split over several readable
 * buffers, and the resource table's bound.
 */
static void test_fence_split_limits(void **state)
{
	struct fx *f = *state;
	struct virtio_gpu_ctrl_hdr h = hdr(VIRTIO_GPU_CMD_CTX_DESTROY, 42), r;
	struct virtio_gpu_cmd_submit sub = {.hdr = hdr(VIRTIO_GPU_CMD_SUBMIT_3D, CTX)};
	struct viova_virtq_elem *e = calloc(1, sizeof(*e));
	struct viova_codec_resp_guest g;
	uint64_t seq;
	size_t len, half;
	uint32_t w, i;

	assert_non_null(e);
	h.flags = VIRTIO_GPU_FLAG_FENCE | VIRTIO_GPU_FLAG_INFO_RING_IDX;
	h.fence_id = 99;
	h.ring_idx = 3;
	assert_int_equal(run_raw(f, &h, sizeof(h), NULL, 0, &r, sizeof(r), &w), 0);
	assert_int_equal(r.type, VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID);
	assert_int_equal(r.flags, VIRTIO_GPU_FLAG_FENCE | VIRTIO_GPU_FLAG_INFO_RING_IDX);
	assert_int_equal(r.fence_id, 99);
	assert_int_equal(r.ctx_id, 42);
	assert_int_equal(r.ring_idx, 3);
	/* unfenced: no fence fields in the answer */
	h.flags = 0;
	assert_int_equal(run_raw(f, &h, sizeof(h), NULL, 0, &r, sizeof(r), &w), 0);
	assert_int_equal(r.flags, 0);
	assert_int_equal(r.fence_id, 0);

	/* header, then the batch in two pieces elsewhere in guest RAM */
	assert_int_equal(ctx_create(f, CTX, 0), VIRTIO_GPU_RESP_OK_NODATA);
	area_resource(f, CTX);
	assert_int_equal(viova_codec_enc_resp_init(&f->enc, RES, 0, AREA_SIZE, NULL), 0);
	assert_int_equal(viova_codec_enc_sync(&f->enc, &seq), 0);
	assert_int_equal(viova_codec_enc_finish(&f->enc, &len), 0);
	half = len / 2 + 3;
	sub.size = (uint32_t)len;
	memcpy(f->ram + CMD_OFF, &sub, sizeof(sub));
	memcpy(f->ram + EXTRA_OFF, f->batch, half);
	memcpy(f->ram + EXTRA_OFF + 0x8000, (uint8_t *)f->batch + half, len - half);
	e->out[0] = (struct viova_virtq_iov){f->ram + CMD_OFF, sizeof(sub)};
	e->out[1] = (struct viova_virtq_iov){f->ram + EXTRA_OFF, (uint32_t)half};
	e->out[2] = (struct viova_virtq_iov){f->ram + EXTRA_OFF + 0x8000, (uint32_t)(len - half)};
	e->out_num = 3;
	e->out_bytes = sizeof(sub) + len;
	e->in[0] = (struct viova_virtq_iov){f->ram + RESP_OFF, sizeof(r)};
	e->in_num = 1;
	e->in_bytes = sizeof(r);
	assert_int_equal(viova_vgpu_process(f->vg, &f->mem, e, &w), 0);
	viova_codec_enc_reset(&f->enc);
	memcpy(&r, f->ram + RESP_OFF, sizeof(r));
	assert_int_equal(r.type, VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(viova_codec_resp_guest_attach(&g, f->ram + AREA_OFF, AREA_SIZE), 0);
	assert_int_equal(viova_codec_resp_guest_processed(&g), seq);
	free(e);

	/* resource table: RES plus MAX - 1 more fit, the next one does not */
	for (i = 1; i < VIOVA_VGPU_MAX_RESOURCES; i++)
		assert_int_equal(res_create(f, 1000 + i), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(viova_vgpu_resource_count(f->vg), VIOVA_VGPU_MAX_RESOURCES);
	assert_int_equal(res_create(f, 999), VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
	assert_int_equal(res_cmd(f, VIRTIO_GPU_CMD_RESOURCE_UNREF, 0, 1001),
			 VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(res_create(f, 999), VIRTIO_GPU_RESP_OK_NODATA);
}

/* Reset while a context uses a resource as its response area: both go, no leak, no stale use. */
static void test_reset_with_area(void **state)
{
	struct fx *f = *state;

	assert_int_equal(ctx_create(f, CTX, VIOVA_CAPSET_ID), VIRTIO_GPU_RESP_OK_NODATA);
	area_resource(f, CTX);
	resp_init(f, CTX);
	viova_vgpu_reset(f->vg);
	assert_int_equal(viova_vgpu_resource_count(f->vg), 0);
	/* the same ids work again after the reset */
	assert_int_equal(ctx_create(f, CTX, 0), VIRTIO_GPU_RESP_OK_NODATA);
	area_resource(f, CTX);
	resp_init(f, CTX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_capset, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_display_edid, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ctx_create, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_submit_fill, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_resp_area_scattered, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_resp_area_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fence_split_limits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reset_with_area, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

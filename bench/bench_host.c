/* SPDX-License-Identifier: MIT */
/*
 * bench_host.c - the host core's throughput and memory on the sim backend (issue 5).
 *
 *   set_iova   SET_IOVA commands/s through decode + validate + apply + sim backend: a set of
 *              fresh buffers is mapped, then cleared, round after round (batches encoded
 *              once beforehand; only viova_host_process() is timed). Target >= 3 M/s.
 *              Also the sim backend alone doing the same set/clear (no host core), to show
 *              how the time splits.
 *   nop        NOPs: decode + dispatch alone.
 *   mixed      a stream of GEM_NEW(+iova), GEM_UPLOAD, SET_IOVA clear/set, VM_BIND/UNBIND,
 *              GEM_DOWNLOAD, GEM_CLOSE and an occasional SUBMIT: commands/s.
 *   gem_new    GEM_NEW with an iova + its GEM_CLOSE: the host's cost of one guest bo_create
 *              (what bounds `bench_guest`'s end-to-end ratio).
 *   fill       the sim GPU's page walk alone (ops table, no core): jobs of 4096 FILL words
 *              over one written (backed) 64 KiB buffer, cache-hot: ns per 4 KiB page step.
 *              Under callgrind use --toggle-collect=sim_gpu_main (the worker thread).
 *   memory     host-core heap bytes per live mapping: (mapped - unmapped) / mappings, and per
 *              buffer with its mapping. Target <= 96 B per mapping.
 *
 * Output: a table plus "BENCH host op=... key=value" lines (bench_util.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "viova/codec.h"
#include "viova/host.h"

#define PAGE 4096u
#define BATCH (1u << 20)
/* Live buffers per round (the sim mmaps large buffers: stay well below vm.max_map_count). */
#define NBUF 32768u
#define ROUNDS 8u
#define AREA (1u << 20)

/*
 * Rounds of the set/clear loops (-r N, default ROUNDS). A reduced run (-r 1 -o set_iova) is
 * what to put under `valgrind --tool=callgrind --toggle-collect=timed_*` to compare variants
 * by instruction count on a loaded machine: only the timed_* functions hold the timed work.
 */
static uint32_t rounds = ROUNDS;

struct batches {
	uint8_t **buf;
	size_t *len;
	uint32_t n, cap;
	uint64_t cmds;
	struct viova_codec_encoder enc;
};

static uint64_t *area;

static int resp_map(void *cookie, uint32_t res_id, uint64_t size, void **mem)
{
	(void)cookie;
	(void)res_id;
	if (size > AREA)
		return -EINVAL;
	*mem = area;
	return 0;
}

static void die(const char *what, int ret)
{
	fprintf(stderr, "bench_host: %s failed (%d)\n", what, ret);
	exit(1);
}

static void b_open(struct batches *b)
{
	int ret;

	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 16;
		b->buf = realloc(b->buf, sizeof(*b->buf) * b->cap);
		b->len = realloc(b->len, sizeof(*b->len) * b->cap);
		if (!b->buf || !b->len)
			die("realloc", -ENOMEM);
	}
	b->buf[b->n] = aligned_alloc(64, BATCH);
	if (!b->buf[b->n])
		die("aligned_alloc", -ENOMEM);
	ret = viova_codec_enc_init(&b->enc, b->buf[b->n], BATCH,
				   b->n ? viova_codec_enc_next_seqno(&b->enc) : b->cmds + 1);
	if (ret)
		die("enc_init", ret);
}

static void b_close(struct batches *b)
{
	if (viova_codec_enc_finish(&b->enc, &b->len[b->n]) == 0)
		b->n++;
	else
		free(b->buf[b->n]);
}

/* Run an encoder call; on -ENOSPC start a new batch and retry. */
#define ENC(b, call)                                                                               \
	do {                                                                                       \
		int r_ = (call);                                                                   \
		if (r_ == -ENOSPC) {                                                               \
			b_close(b);                                                                \
			b_open(b);                                                                 \
			r_ = (call);                                                               \
		}                                                                                  \
		if (r_)                                                                            \
			die(#call, r_);                                                            \
		(b)->cmds++;                                                                       \
	} while (0)

static void b_free(struct batches *b)
{
	for (uint32_t i = 0; i < b->n; i++)
		free(b->buf[i]);
	free(b->buf);
	free(b->len);
	memset(b, 0, sizeof(*b));
}

/* Process every batch; returns seconds. Any failed command aborts the benchmark. */
static double b_run(struct viova_host *h, struct batches *b)
{
	uint64_t t0 = bench_now_ns();

	for (uint32_t i = 0; i < b->n; i++) {
		int ret = viova_host_process(h, b->buf[i], b->len[i]);

		if (ret)
			die(viova_host_last_error(h), ret);
	}
	return (double)(bench_now_ns() - t0) / 1e9;
}

static struct viova_host *host_new(uint64_t *seqno)
{
	struct viova_backend_config bc = {.sim_max_bytes = (uint64_t)NBUF * 2 * PAGE};
	struct viova_host_config cfg = {
	    .backend = "sim",
	    .backend_config = &bc,
	    .quotas = {.max_contexts = 4,
		       .max_buffers = NBUF + 16,
		       .max_mappings = 4 * NBUF,
		       .max_bytes = (uint64_t)NBUF * 2 * PAGE},
	    .max_batch_size = BATCH,
	    .resp_map = resp_map,
	};
	struct viova_host *h;
	struct batches b = {0};
	int ret = viova_host_create(&cfg, &h);

	if (ret)
		die("viova_host_create", ret);
	b.cmds = *seqno;
	b_open(&b);
	ENC(&b, viova_codec_enc_resp_init(&b.enc, 1, 0, AREA, NULL));
	ENC(&b, viova_codec_enc_ctx_create(&b.enc, 1, 0, 0, 0, 1, 0, NULL));
	b_close(&b);
	b_run(h, &b);
	*seqno = viova_codec_enc_next_seqno(&b.enc) - 1;
	b_free(&b);
	return h;
}

/* The timed part of bench_set_iova, by name for callgrind's --toggle-collect. */
__attribute__((noinline)) static double timed_set_iova(struct viova_host *h, struct batches *b)
{
	return b_run(h, b);
}

static uint64_t iova_of(const struct viova_capset *caps, uint32_t i)
{
	return caps->va_start + (uint64_t)i * 2 * PAGE;
}

static void bench_set_iova(void)
{
	uint64_t seq = 0;
	struct viova_host *h = host_new(&seq);
	struct viova_capset caps;
	struct batches b = {0};
	size_t mem_empty, mem_unmapped, mem_mapped;
	double secs;
	uint64_t cmds;

	viova_host_get_caps(h, &caps);
	mem_empty = viova_host_mem_bytes(h);
	b.cmds = seq;
	b_open(&b);
	for (uint32_t i = 1; i <= NBUF; i++)
		ENC(&b, viova_codec_enc_gem_new(&b.enc, 1, i, 0, PAGE, 0, 0, NULL));
	b_close(&b);
	b_run(h, &b);
	seq = viova_codec_enc_next_seqno(&b.enc) - 1;
	b_free(&b);
	mem_unmapped = viova_host_mem_bytes(h);

	/* the timed stream: ROUNDS x (map every buffer, clear every buffer) */
	b.cmds = seq;
	b_open(&b);
	cmds = b.cmds;
	for (uint32_t r = 0; r < rounds; r++) {
		for (uint32_t i = 1; i <= NBUF; i++)
			ENC(&b, viova_codec_enc_set_iova(
				    &b.enc, 1, i, 0, iova_of(&caps, (i * 7919u + r) % NBUF), NULL));
		for (uint32_t i = 1; i <= NBUF; i++)
			ENC(&b, viova_codec_enc_set_iova(&b.enc, 1, i, 0, 0, NULL));
	}
	b_close(&b);
	cmds = b.cmds - cmds;
	secs = timed_set_iova(h, &b);
	b_free(&b);

	printf("%-34s %12.0f cmds/s  (%" PRIu64 " commands, %u live buffers, %.3f s)\n",
	       "SET_IOVA set/clear (core+sim)", (double)cmds / secs, cmds, NBUF, secs);
	bench_line("host",
		   "op=set_iova cmds_per_s=%.0f ns_per_cmd=%.1f commands=%" PRIu64
		   " buffers=%u target_cmds_per_s=3000000",
		   (double)cmds / secs, secs * 1e9 / (double)cmds, cmds, NBUF);

	/* memory: map every buffer once more and measure */
	{
		struct viova_host_counters c;

		viova_host_counters(h, &c);
		b.cmds = c.processed_seqno;
	}
	b_open(&b);
	for (uint32_t i = 1; i <= NBUF; i++)
		ENC(&b, viova_codec_enc_set_iova(&b.enc, 1, i, 0, iova_of(&caps, i), NULL));
	b_close(&b);
	b_run(h, &b);
	b_free(&b);
	mem_mapped = viova_host_mem_bytes(h);
	printf("%-34s %12.1f B        (per buffer with its mapping: %.1f B)\n",
	       "host bytes per live mapping", (double)(mem_mapped - mem_unmapped) / NBUF,
	       (double)(mem_mapped - mem_empty) / NBUF);
	bench_line("host",
		   "op=memory bytes_per_mapping=%.1f bytes_per_buffer_and_mapping=%.1f "
		   "mappings=%u target_bytes_per_mapping=96",
		   (double)(mem_mapped - mem_unmapped) / NBUF,
		   (double)(mem_mapped - mem_empty) / NBUF, NBUF);
	viova_host_destroy(h);
}

/* The sim backend alone, same set/clear pattern: what the backend costs without the core. */
static void noop_fence(void *c, void *x, uint64_t f)
{
	(void)c;
	(void)x;
	(void)f;
}
static void noop_fault(void *c, void *x, uint64_t f, uint64_t i, int e)
{
	(void)c;
	(void)x;
	(void)f;
	(void)i;
	(void)e;
}

__attribute__((noinline)) static uint64_t timed_backend(struct viova_backend *be,
							struct viova_be_vm *vm,
							struct viova_be_bo **bos,
							const struct viova_capset *caps)
{
	uint64_t n = 0;

	for (uint32_t r = 0; r < rounds; r++) {
		for (uint32_t i = 0; i < NBUF; i++, n++)
			be->ops->bo_set_iova(be, vm, bos[i],
					     iova_of(caps, ((i + 1) * 7919u + r) % NBUF));
		for (uint32_t i = 0; i < NBUF; i++, n++)
			be->ops->bo_set_iova(be, vm, bos[i], 0);
	}
	return n;
}

static void bench_backend_only(void)
{
	static const struct viova_backend_events ev = {noop_fence, noop_fault};
	struct viova_backend_config bc = {.sim_max_bytes = (uint64_t)NBUF * 2 * PAGE};
	struct viova_be_bo **bos = calloc(NBUF, sizeof(*bos));
	struct viova_backend *be = NULL;
	struct viova_capset caps = {0};
	struct viova_be_vm *vm;
	uint64_t t0, n;
	double secs;

	if (!bos || viova_backend_create("sim", &bc, &ev, NULL, &be))
		die("sim backend", -1);
	be->ops->get_caps(be, &caps);
	if (be->ops->vm_create(be, &vm))
		die("vm_create", -1);
	for (uint32_t i = 0; i < NBUF; i++) {
		if (be->ops->bo_create(be, vm, PAGE, 0, &bos[i]))
			die("bo_create", -1);
	}
	t0 = bench_now_ns();
	n = timed_backend(be, vm, bos, &caps);
	secs = (double)(bench_now_ns() - t0) / 1e9;
	printf("%-34s %12.0f calls/s (the backend's share of the above)\n", "sim bo_set_iova alone",
	       (double)n / secs);
	bench_line("host", "op=set_iova_backend_only calls_per_s=%.0f ns_per_call=%.1f",
		   (double)n / secs, secs * 1e9 / (double)n);
	for (uint32_t i = 0; i < NBUF; i++)
		be->ops->bo_close(be, bos[i]);
	be->ops->vm_destroy(be, vm);
	be->ops->destroy(be);
	free(bos);
}

/* NOPs: the cost of decode + dispatch alone, the floor under every command. */
static void bench_nop(void)
{
	uint64_t seq = 0;
	struct viova_host *h = host_new(&seq);
	struct batches b = {0};
	uint64_t cmds;
	double secs;

	b.cmds = seq;
	b_open(&b);
	cmds = b.cmds;
	for (uint32_t i = 0; i < 2 * rounds * NBUF; i++)
		ENC(&b, viova_codec_enc_nop(&b.enc, NULL));
	b_close(&b);
	cmds = b.cmds - cmds;
	secs = b_run(h, &b);
	b_free(&b);
	printf("%-34s %12.0f cmds/s  (%.1f ns each: decode + dispatch)\n", "NOP",
	       (double)cmds / secs, secs * 1e9 / (double)cmds);
	bench_line("host", "op=nop cmds_per_s=%.0f ns_per_cmd=%.1f", (double)cmds / secs,
		   secs * 1e9 / (double)cmds);
	viova_host_destroy(h);
}

static void bench_mixed(void)
{
	uint64_t seq = 0;
	struct viova_host *h = host_new(&seq);
	struct viova_capset caps;
	struct batches b = {0};
	uint8_t data[256];
	uint64_t cmds, fence = 0;
	const uint32_t iters = 20000;
	double secs;

	memset(data, 0x5a, sizeof(data));
	viova_host_get_caps(h, &caps);
	b.cmds = seq;
	b_open(&b);
	cmds = b.cmds;
	for (uint32_t i = 1; i <= iters; i++) {
		uint32_t id = i % 4096 + 1;
		uint64_t va = iova_of(&caps, id * 4), va2 = iova_of(&caps, id * 4 + 2);
		struct viova_codec_bind bind = {0, id, va2, PAGE, PAGE, 0};

		ENC(&b, viova_codec_enc_gem_new(&b.enc, 1, id, 0, 2 * PAGE, 0, va, NULL));
		ENC(&b, viova_codec_enc_gem_upload(&b.enc, 1, id, 64, data, sizeof(data), NULL));
		ENC(&b, viova_codec_enc_vm_bind(&b.enc, 1, &bind, NULL));
		if (i % 16 == 0) {
			struct viova_sim_job job = viova_codec_sim_fill(va, 256, i);
			struct viova_submit_bo bo = {id, VIOVA_SUBMIT_BO_WRITE};
			struct viova_codec_submit sub = {.format = VIOVA_SUBMIT_FORMAT_SIM,
							 .out_fence = ++fence,
							 .bos = &bo,
							 .bo_count = 1,
							 .cmds = &job,
							 .cmd_count = 1};

			ENC(&b, viova_codec_enc_submit(&b.enc, 1, &sub, NULL));
			ENC(&b,
			    viova_codec_enc_wait_fence(&b.enc, 1, fence, 100000000ull, 4096, NULL));
		}
		ENC(&b, viova_codec_enc_gem_download(&b.enc, 1, id, 0, 512, 0, NULL));
		ENC(&b, viova_codec_enc_vm_unbind(&b.enc, 1, 0, va2, PAGE, NULL));
		ENC(&b, viova_codec_enc_set_iova(&b.enc, 1, id, 0, 0, NULL));
		ENC(&b, viova_codec_enc_set_iova(&b.enc, 1, id, 0, va2, NULL));
		ENC(&b, viova_codec_enc_gem_close(&b.enc, 1, id, NULL));
	}
	b_close(&b);
	cmds = b.cmds - cmds;
	secs = b_run(h, &b);
	b_free(&b);
	printf("%-34s %12.0f cmds/s  (%" PRIu64 " commands, 1 submit per 16 buffers)\n",
	       "mixed stream", (double)cmds / secs, cmds);
	bench_line("host", "op=mixed cmds_per_s=%.0f commands=%" PRIu64, (double)cmds / secs, cmds);
	viova_host_destroy(h);
}

/* The timed part of bench_gem_new. */
__attribute__((noinline)) static double timed_gem_new(struct viova_host *h, struct batches *b)
{
	return b_run(h, b);
}

/*
 * gem_new: what a guest's bo_create costs the host — GEM_NEW with a guest-chosen iova (create
 * the buffer, map it) and later GEM_CLOSE (unmap, free), for NBUF 4 KiB buffers per round.
 */
static void bench_gem_new(void)
{
	uint64_t seq = 0;
	struct viova_host *h = host_new(&seq);
	struct viova_capset caps;
	struct batches b = {0};
	uint64_t cmds;
	double secs;

	viova_host_get_caps(h, &caps);
	b.cmds = seq;
	b_open(&b);
	cmds = b.cmds;
	for (uint32_t r = 0; r < rounds; r++) {
		for (uint32_t i = 1; i <= NBUF; i++)
			ENC(&b, viova_codec_enc_gem_new(&b.enc, 1, i, 0, PAGE, 0,
							iova_of(&caps, (i * 7919u + r) % NBUF),
							NULL));
		for (uint32_t i = 1; i <= NBUF; i++)
			ENC(&b, viova_codec_enc_gem_close(&b.enc, 1, i, NULL));
	}
	b_close(&b);
	cmds = b.cmds - cmds;
	secs = timed_gem_new(h, &b);
	b_free(&b);
	printf("%-34s %12.0f buffers/s (%.0f ns per GEM_NEW+iova and its GEM_CLOSE)\n",
	       "GEM_NEW(+iova) + GEM_CLOSE", (double)cmds / 2 / secs, secs * 2e9 / (double)cmds);
	bench_line("host", "op=gem_new buffers_per_s=%.0f ns_per_buffer=%.1f buffers=%" PRIu64,
		   (double)cmds / 2 / secs, secs * 2e9 / (double)cmds, cmds / 2);
	viova_host_destroy(h);
}

/*
 * fill: the GPU worker's hot path on memory that is already backed and in cache. One 64 KiB
 * buffer, written once through bo_write, mapped at the window's start; each job is
 * FILL_WORDS FILLs of the whole buffer (16 page steps each); rounds jobs, each waited for.
 */
#define FILL_BO (64u * 1024u)
#define FILL_WORDS 4096u

__attribute__((noinline)) static void timed_fill(struct viova_backend *be, struct viova_be_ctx *ctx,
						 const struct viova_be_submit *s, uint64_t *fence)
{
	struct viova_be_submit sub = *s;

	for (uint32_t r = 0; r < rounds; r++) {
		sub.out_fence = ++*fence;
		if (be->ops->submit(be, ctx, &sub))
			die("submit", -1);
		while (be->ops->fence_wait(be, ctx, *fence, 100000000ull) == -ETIMEDOUT)
			;
	}
}

static void bench_fill(void)
{
	static const struct viova_backend_events ev = {noop_fence, noop_fault};
	struct viova_sim_job *words = calloc(FILL_WORDS, sizeof(*words));
	uint8_t *init = calloc(1, FILL_BO);
	struct viova_backend *be = NULL;
	struct viova_capset caps = {0};
	struct viova_be_submit_bo sbo = {0};
	struct viova_be_submit sub = {0};
	struct viova_be_vm *vm;
	struct viova_be_ctx *ctx;
	struct viova_be_bo *bo;
	uint64_t fence = 0, t0, steps;
	double secs;

	if (!words || !init || viova_backend_create("sim", NULL, &ev, NULL, &be))
		die("sim backend", -1);
	be->ops->get_caps(be, &caps);
	if (be->ops->vm_create(be, &vm) || be->ops->ctx_create(be, vm, NULL, NULL, &ctx) ||
	    be->ops->bo_create(be, vm, FILL_BO, 0, &bo) ||
	    be->ops->bo_set_iova(be, vm, bo, caps.va_start) ||
	    be->ops->bo_write(be, bo, 0, init, FILL_BO))
		die("fill setup", -1);
	for (uint32_t i = 0; i < FILL_WORDS; i++)
		words[i] = viova_codec_sim_fill(caps.va_start, FILL_BO, i);
	sbo.bo = bo;
	sbo.iova = caps.va_start;
	sbo.flags = VIOVA_SUBMIT_BO_WRITE;
	sub.format = VIOVA_SUBMIT_FORMAT_SIM;
	sub.bo_count = 1;
	sub.bos = &sbo;
	sub.cmds = words;
	sub.cmd_size = FILL_WORDS * (uint32_t)sizeof(*words);
	/* warm-up job: worker started, buffer in cache */
	sub.out_fence = ++fence;
	if (be->ops->submit(be, ctx, &sub))
		die("submit", -1);
	while (be->ops->fence_wait(be, ctx, fence, 100000000ull) == -ETIMEDOUT)
		;
	t0 = bench_now_ns();
	timed_fill(be, ctx, &sub, &fence);
	secs = (double)(bench_now_ns() - t0) / 1e9;
	steps = (uint64_t)rounds * FILL_WORDS * (FILL_BO / PAGE);
	printf("%-34s %12.1f ns per 4 KiB page step (%.2f GB/s, cache-hot 64 KiB buffer)\n",
	       "sim GPU FILL (backed buffer)", secs * 1e9 / (double)steps,
	       (double)steps * PAGE / secs / 1e9);
	bench_line("host", "op=fill ns_per_page_step=%.1f gb_per_s=%.2f steps=%" PRIu64,
		   secs * 1e9 / (double)steps, (double)steps * PAGE / secs / 1e9, steps);
	be->ops->ctx_destroy(be, ctx);
	be->ops->bo_set_iova(be, vm, bo, 0);
	be->ops->bo_close(be, bo);
	be->ops->vm_destroy(be, vm);
	be->ops->destroy(be);
	free(words);
	free(init);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: bench_host [-r ROUNDS] [-o set_iova|backend|nop|mixed|gem_new|fill]\n"
		"  -r  set/clear rounds over %u buffers (default %u; 1 for callgrind)\n"
		"  -o  run only that part\n",
		NBUF, ROUNDS);
	exit(2);
}

int main(int argc, char **argv)
{
	const char *only = NULL;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-r") && i + 1 < argc) {
			rounds = (uint32_t)strtoul(argv[++i], NULL, 0);
			if (rounds == 0 || rounds > 64)
				usage();
		} else if (!strcmp(argv[i], "-o") && i + 1 < argc) {
			only = argv[++i];
		} else {
			usage();
		}
	}
	area = aligned_alloc(64, AREA);
	if (!area)
		die("aligned_alloc", -ENOMEM);
	printf("bench_host: host core on the sim backend (one connection, one context)\n");
	if (!only || !strcmp(only, "set_iova"))
		bench_set_iova();
	if (!only || !strcmp(only, "backend"))
		bench_backend_only();
	if (!only || !strcmp(only, "nop"))
		bench_nop();
	if (!only || !strcmp(only, "mixed"))
		bench_mixed();
	if (!only || !strcmp(only, "gem_new"))
		bench_gem_new();
	if (!only || !strcmp(only, "fill"))
		bench_fill();
	free(area);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * demo.c - `viova demo`: the main job. It starts viova-host (sim backend) on a temporary unix
 * socket and runs a realistic guest workload against it, in several processes:
 *
 *   render   its own connection; a context and a clone of it (own VM), hundreds of buffers
 *            with local iovas, fill + copy jobs through those iovas, every byte downloaded and
 *            checked; buffers closed while a job still uses them (the retire queue keeps
 *            their iovas out of circulation until the fence signals); a sparse range bound
 *            piece by piece from several buffers and filled through in one job
 *   stream   its own connection; hundreds of unmapped buffers mapped by a stream of SET_IOVA,
 *            uploads, copy chains checked; one deliberate bad job (a fill of an unmapped iova)
 *            whose GPU fault comes back in the error log with the job's seqno and loses its
 *            context, which is then recovered by cloning it
 *   forker   its own connection; forks children that share its VM: each child makes its own
 *            context on that VM and allocates iovas from the one shared heap (no broker, no
 *            round trip), runs jobs and checks them; the parent checks the heap afterwards
 *
 * Progress lines while it runs; at the end a per-process summary (buffers, jobs, bytes
 * checked, errors expected/seen), the host's per-context counters (QUERY CTX_STATS), the
 * daemon's totals after everybody disconnected, and the wall time. Exit status 0 only when
 * every check passed.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "viova/codec.h"
#include "viova/guest.h"
#include "viova_tool.h"

#define KIB 1024ull
#define MIB (1024ull * 1024)
#define SEC 1000000000ull
#define WAIT (10 * SEC)
#define DEADLINE_S 45
#define ROWS 8
#define ROW_CTX 4
#define FORK_CHILDREN 3
#define PHASES 16 /* phase messages a row keeps until the main process prints them */

/* One process's results, in memory shared with the demo's main process. */
struct row {
	char name[24];
	int pid;
	char phase[PHASES][200];
	uint64_t phase_ns[PHASES];
	uint32_t phase_seq;
	uint64_t buffers, jobs, bytes_checked, set_iovas, binds, retired;
	uint32_t errors_expected, errors_seen, unexpected;
	char problem[200];
	uint32_t nctx;
	struct {
		uint32_t id;
		char what[12];
		struct viova_ctx_stats st;
	} ctx[ROW_CTX];
	int done;
};

struct board {
	struct row row[ROWS];
	uint32_t nrows;
};

struct wk {
	struct row *row;
	struct viova_guest_device *dev;
	uint64_t rng;
};

static struct board *board;
static char host_uri[160];

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

/* Record a progress message; the main process prints it (with its time) as it polls. */
__attribute__((format(printf, 2, 3))) static void phase(struct wk *w, const char *fmt, ...)
{
	uint32_t slot = w->row->phase_seq % PHASES;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->row->phase[slot], sizeof(w->row->phase[slot]), fmt, ap);
	va_end(ap);
	w->row->phase_ns[slot] = now_ns();
	__atomic_add_fetch(&w->row->phase_seq, 1, __ATOMIC_RELEASE);
}

__attribute__((format(printf, 2, 3))) static void problem(struct wk *w, const char *fmt, ...)
{
	va_list ap;

	if (w->row->unexpected++ == 0) {
		va_start(ap, fmt);
		vsnprintf(w->row->problem, sizeof(w->row->problem), fmt, ap);
		va_end(ap);
	}
}

/* A call that must succeed; on failure the worker records why and gives up. */
#define MUST(w, call)                                                                              \
	do {                                                                                       \
		int must_ret_ = (call);                                                            \
		if (must_ret_) {                                                                   \
			problem(w, "%s: %s", #call, viova_guest_last_error());                     \
			return -1;                                                                 \
		}                                                                                  \
	} while (0)

static uint32_t pattern_of(uint32_t id, uint32_t salt)
{
	return (id * 2654435761u) ^ (salt * 40503u) ^ 0x5a000000u;
}

static uint64_t iova_of(struct viova_guest_bo *bo)
{
	uint64_t iova = 0;

	viova_guest_bo_iova(bo, NULL, &iova);
	return iova;
}

/* Download [off, off + size) of bo and compare every word with `word`. */
static int check_words(struct wk *w, struct viova_guest_bo *bo, uint64_t off, uint64_t size,
		       uint32_t word)
{
	uint32_t *buf = malloc(size);
	int ret = 0;

	if (!buf) {
		problem(w, "out of memory");
		return -1;
	}
	if (viova_guest_bo_download(bo, off, buf, size, WAIT)) {
		problem(w, "download of buffer %u: %s", viova_guest_bo_id(bo),
			viova_guest_last_error());
		ret = -1;
	}
	for (uint64_t i = 0; ret == 0 && i < size / 4; i++) {
		if (buf[i] != word) {
			problem(w, "buffer %u byte 0x%" PRIx64 ": 0x%08x, expected 0x%08x",
				viova_guest_bo_id(bo), off + i * 4, buf[i], word);
			ret = -1;
		}
	}
	if (ret == 0)
		w->row->bytes_checked += size;
	free(buf);
	return ret;
}

/* Submit records over the listed buffers (all READ|WRITE) and wait for the fence. */
static int run_job(struct wk *w, struct viova_guest_ctx *ctx, struct viova_guest_bo **bos,
		   uint32_t nbos, const struct viova_sim_job *jobs, uint32_t njobs, uint64_t *fence,
		   bool wait)
{
	struct viova_guest_submit_bo *sb = calloc(nbos ? nbos : 1, sizeof(*sb));
	struct viova_guest_submit s = {
	    .format = VIOVA_SUBMIT_FORMAT_SIM,
	    .bo_count = nbos,
	    .bos = sb,
	    .cmds = jobs,
	    .cmd_count = njobs,
	};
	uint64_t f = 0;
	int ret;

	for (uint32_t i = 0; i < nbos; i++)
		sb[i] = (struct viova_guest_submit_bo){bos[i], VIOVA_SUBMIT_BO_READ |
								   VIOVA_SUBMIT_BO_WRITE};
	ret = viova_guest_submit(ctx, &s, &f, NULL);
	free(sb);
	if (ret) {
		problem(w, "submit on context %u: %s", viova_guest_ctx_id(ctx),
			viova_guest_last_error());
		return -1;
	}
	w->row->jobs++;
	if (fence)
		*fence = f;
	if (wait && viova_guest_fence_wait(ctx, f, WAIT)) {
		problem(w, "fence %" PRIu64 " of context %u: %s", f, viova_guest_ctx_id(ctx),
			viova_guest_last_error());
		return -1;
	}
	return 0;
}

/* Create n buffers of 4..64 KiB in ctx (mapped at local iovas unless flags say otherwise). */
static int make_buffers(struct wk *w, struct viova_guest_ctx *ctx, struct viova_guest_bo **bos,
			uint32_t n, uint32_t flags)
{
	for (uint32_t i = 0; i < n; i++) {
		w->rng = w->rng * 6364136223846793005ull + 1442695040888963407ull;
		MUST(w, viova_guest_bo_create(ctx, (1 + (w->rng >> 60)) * 4 * KIB, flags, NULL,
					      &bos[i]));
		w->row->buffers++;
	}
	return 0;
}

/* Fill every buffer with its own pattern in one job, then check every byte. */
static int fill_and_check(struct wk *w, struct viova_guest_ctx *ctx, struct viova_guest_bo **bos,
			  uint32_t n, uint32_t salt)
{
	struct viova_sim_job *jobs = calloc(n, sizeof(*jobs));
	int ret = 0;

	for (uint32_t i = 0; i < n; i++)
		jobs[i] = viova_codec_sim_fill(iova_of(bos[i]), viova_guest_bo_size(bos[i]),
					       pattern_of(viova_guest_bo_id(bos[i]), salt));
	if (run_job(w, ctx, bos, n, jobs, n, NULL, true))
		ret = -1;
	for (uint32_t i = 0; ret == 0 && i < n; i++)
		ret = check_words(w, bos[i], 0, viova_guest_bo_size(bos[i]),
				  pattern_of(viova_guest_bo_id(bos[i]), salt));
	free(jobs);
	return ret;
}

static void keep_ctx_stats(struct wk *w, struct viova_guest_ctx *ctx, const char *what)
{
	struct row *r = w->row;

	if (r->nctx == ROW_CTX)
		return;
	if (viova_guest_ctx_stats(ctx, &r->ctx[r->nctx].st, WAIT)) {
		problem(w, "QUERY CTX_STATS of context %u: %s", viova_guest_ctx_id(ctx),
			viova_guest_last_error());
		return;
	}
	r->ctx[r->nctx].id = viova_guest_ctx_id(ctx);
	snprintf(r->ctx[r->nctx].what, sizeof(r->ctx[r->nctx].what), "%s", what);
	r->nctx++;
}

/* Read the error log; every record counts as seen, and as unexpected unless `expected`. */
static void drain_errors(struct wk *w, uint64_t expected_seqno)
{
	struct viova_err_rec recs[16];
	char line[256];
	uint32_t n = 0;

	if (viova_guest_sync(w->dev, WAIT) || viova_guest_read_errors(w->dev, recs, 16, &n)) {
		problem(w, "reading the error log: %s", viova_guest_last_error());
		return;
	}
	for (uint32_t i = 0; i < n; i++) {
		viova_guest_format_error(&recs[i], line, sizeof(line));
		w->row->errors_seen++;
		if (expected_seqno && recs[i].seqno == expected_seqno &&
		    recs[i].err == VIOVA_EFAULT && (recs[i].flags & VIOVA_ERR_CTX_LOST))
			phase(w, "error log: %s", line);
		else
			problem(w, "unexpected error record: %s", line);
	}
}

/* ---- render: contexts, a clone, hundreds of buffers, retire path, sparse binding ---- */

#define RENDER_BOS 160

static int render_retire(struct wk *w, struct viova_guest_ctx *ctx, struct viova_guest_bo **bos)
{
	struct viova_guest_bo *fresh[40], *listed[41], *scratch;
	struct viova_sim_job jobs[88];
	struct viova_guest_stats st;
	uint64_t closed[41], fence;
	uint32_t i, k, reused = 0;
	bool running;

	/*
	 * One job: a fill of each of the first 40 buffers, then 48 passes over a 16 MiB scratch
	 * buffer, so that it is still running when its buffers are closed.
	 */
	MUST(w, viova_guest_bo_create(ctx, 16 * MIB, 0, NULL, &scratch));
	w->row->buffers++;
	for (i = 0; i < 40; i++) {
		listed[i] = bos[i];
		jobs[i] = viova_codec_sim_fill(iova_of(bos[i]), viova_guest_bo_size(bos[i]),
					       0x0f0f0000u + i);
	}
	listed[40] = scratch;
	for (i = 40; i < 88; i++)
		jobs[i] = viova_codec_sim_fill(iova_of(scratch), 16 * MIB, i);
	if (run_job(w, ctx, listed, 41, jobs, 88, &fence, false))
		return -1;
	for (i = 0; i < 41; i++) {
		closed[i] = iova_of(listed[i]);
		MUST(w, viova_guest_bo_close(listed[i]));
	}
	MUST(w, viova_guest_flush(w->dev, NULL));
	MUST(w, viova_guest_device_stats(w->dev, &st));
	phase(w,
	      "closed the 41 buffers of a running job: %" PRIu64 " iova ranges wait in the "
	      "retire queue",
	      st.retire_pending);
	MUST(w, make_buffers(w, ctx, fresh, 40, 0));
	running = viova_guest_fence_poll(ctx, fence) == 0;
	for (i = 0; i < 40; i++)
		for (k = 0; k < 41; k++)
			reused += iova_of(fresh[i]) == closed[k];
	if (running && reused)
		problem(w, "%u iovas were reused while the job that used them ran", reused);
	phase(w, "40 new buffers while the job %s: %u of them on a retiring range",
	      running ? "still runs" : "had already finished", reused);
	MUST(w, viova_guest_fence_wait(ctx, fence, WAIT));
	MUST(w, viova_guest_retire(w->dev, WAIT, NULL));
	MUST(w, viova_guest_device_stats(w->dev, &st));
	w->row->retired = st.retire_released;
	phase(w,
	      "fence %" PRIu64 " signalled: the retire queue gave %" PRIu64 " ranges back to "
	      "the allocator, %" PRIu64 " pending",
	      fence, st.retire_released, st.retire_pending);
	for (i = 0; i < 40; i++)
		bos[i] = fresh[i];
	return fill_and_check(w, ctx, bos, 40, 7);
}

static int render_sparse(struct wk *w, struct viova_guest_ctx *ctx, struct viova_guest_bo **bos)
{
	struct viova_guest_vm *vm = viova_guest_ctx_vm(ctx);
	struct viova_guest_bo *users[8];
	struct viova_sim_job fill;
	uint64_t range;
	uint32_t i;

	/* 8 x 4 KiB pieces of 8 buffers, side by side in one 32 KiB sparse range */
	MUST(w, viova_guest_vm_alloc(vm, 32 * KIB, 64 * KIB, &range));
	for (i = 0; i < 8; i++) {
		users[i] = bos[100 + i];
		MUST(w, viova_guest_vm_bind(vm, users[i], range + i * 4 * KIB, 4 * KIB, 0, 0));
		w->row->binds++;
	}
	fill = viova_codec_sim_fill(range, 32 * KIB, 0x5ba25e00u);
	if (run_job(w, ctx, users, 8, &fill, 1, NULL, true))
		return -1;
	for (i = 0; i < 8; i++)
		if (check_words(w, users[i], 0, 4 * KIB, 0x5ba25e00u))
			return -1;
	MUST(w, viova_guest_vm_unbind(ctx, vm, range, 32 * KIB));
	MUST(w, viova_guest_vm_free(vm, range));
	phase(w,
	      "sparse range 0x%" PRIx64 ": 8 pieces of 8 buffers bound, filled by one job, "
	      "checked, unbound",
	      range);
	return 0;
}

static int render_main(struct wk *w)
{
	struct viova_guest_bo *a[RENDER_BOS], *b[RENDER_BOS];
	struct viova_guest_ctx *ctx, *clone;
	struct viova_sim_job copies[RENDER_BOS];
	uint32_t i;

	MUST(w, viova_guest_ctx_create(w->dev, NULL, &ctx));
	MUST(w,
	     viova_guest_ctx_clone(ctx, VIOVA_CLONE_FLAGS | VIOVA_CLONE_SCHEDATTR, NULL, &clone));
	phase(w, "context %u and its clone %u (own VM) created", viova_guest_ctx_id(ctx),
	      viova_guest_ctx_id(clone));
	MUST(w, make_buffers(w, ctx, a, RENDER_BOS, 0));
	MUST(w, make_buffers(w, clone, b, RENDER_BOS, 0));
	phase(w, "%u buffers with local iovas (first at 0x%" PRIx64 "), no round trip",
	      2 * RENDER_BOS, iova_of(a[0]));
	MUST(w, fill_and_check(w, ctx, a, RENDER_BOS, 1));
	MUST(w, fill_and_check(w, clone, b, RENDER_BOS, 2));
	phase(w, "fill jobs checked byte for byte in both contexts");

	/* copy a[i] into a[i + 1]'s place: each buffer then holds its predecessor's pattern */
	for (i = 0; i + 1 < RENDER_BOS; i++) {
		uint64_t n = viova_guest_bo_size(b[i]) < viova_guest_bo_size(b[i + 1])
				 ? viova_guest_bo_size(b[i])
				 : viova_guest_bo_size(b[i + 1]);

		copies[i] = viova_codec_sim_copy(iova_of(b[i + 1]), iova_of(b[i]), n);
	}
	/* copies run in order, so go backwards: every source is read before it is written */
	for (i = 0; i < (RENDER_BOS - 1) / 2; i++) {
		struct viova_sim_job t = copies[i];

		copies[i] = copies[RENDER_BOS - 2 - i];
		copies[RENDER_BOS - 2 - i] = t;
	}
	if (run_job(w, clone, b, RENDER_BOS, copies, RENDER_BOS - 1, NULL, true))
		return -1;
	for (i = 0; i + 1 < RENDER_BOS; i++) {
		uint64_t n = copies[RENDER_BOS - 2 - i].arg2;

		if (check_words(w, b[i + 1], 0, n, pattern_of(viova_guest_bo_id(b[i]), 2)))
			return -1;
	}
	phase(w, "copy chain of %u buffers checked", RENDER_BOS);
	if (render_retire(w, ctx, a) || render_sparse(w, ctx, a))
		return -1;
	keep_ctx_stats(w, ctx, "render");
	keep_ctx_stats(w, clone, "clone");
	MUST(w, viova_guest_ctx_destroy(clone));
	MUST(w, viova_guest_ctx_destroy(ctx));
	drain_errors(w, 0);
	return 0;
}

/* ---- stream: SET_IOVA streaming, uploads, a deliberate GPU fault, recovery by clone ---- */

#define STREAM_BOS 300

static int stream_fault(struct wk *w)
{
	struct viova_guest_ctx *victim, *rescue;
	struct viova_guest_ctx_status cs;
	struct viova_guest_bo *bo;
	struct viova_sim_job bad;
	struct viova_guest_submit_bo sb;
	struct viova_guest_submit s = {.format = VIOVA_SUBMIT_FORMAT_SIM,
				       .bo_count = 1,
				       .bos = &sb,
				       .cmds = &bad,
				       .cmd_count = 1};
	uint64_t fence, seqno, hole;

	MUST(w, viova_guest_ctx_create(w->dev, NULL, &victim));
	MUST(w, viova_guest_bo_create(victim, 4 * KIB, 0, NULL, &bo));
	w->row->buffers++;
	hole = iova_of(bo) - 256 * MIB; /* nothing is mapped there */
	bad = viova_codec_sim_fill(hole, 4 * KIB, 0xbad);
	sb = (struct viova_guest_submit_bo){bo, VIOVA_SUBMIT_BO_WRITE};
	MUST(w, viova_guest_submit(victim, &s, &fence, &seqno));
	w->row->jobs++;
	w->row->errors_expected++;
	phase(w, "deliberate bad job: SUBMIT seqno %" PRIu64 " fills unmapped iova 0x%" PRIx64,
	      seqno, hole);
	MUST(w, viova_guest_fence_wait(victim, fence, WAIT));
	MUST(w, viova_guest_ctx_status(victim, &cs));
	if (!cs.lost || cs.fault_iova != hole)
		problem(w,
			"context %u not lost after its GPU fault (lost %d, fault at 0x%" PRIx64 ")",
			viova_guest_ctx_id(victim), cs.lost, cs.fault_iova);
	drain_errors(w, seqno);
	/* recovery: clone the lost context (the seed's path), new VM, work goes on */
	MUST(w, viova_guest_ctx_clone(victim, VIOVA_CLONE_FLAGS, NULL, &rescue));
	MUST(w, viova_guest_bo_create(rescue, 16 * KIB, 0, NULL, &bo));
	w->row->buffers++;
	if (fill_and_check(w, rescue, &bo, 1, 9))
		return -1;
	phase(w, "context %u lost (%s at 0x%" PRIx64 "); its clone %u works",
	      viova_guest_ctx_id(victim), viova_codec_errno_name(cs.lost_err), cs.fault_iova,
	      viova_guest_ctx_id(rescue));
	keep_ctx_stats(w, victim, "lost");
	keep_ctx_stats(w, rescue, "rescue");
	MUST(w, viova_guest_ctx_destroy(rescue));
	MUST(w, viova_guest_ctx_destroy(victim));
	return 0;
}

static int stream_main(struct wk *w)
{
	struct viova_guest_bo *bos[STREAM_BOS];
	struct viova_sim_job copies[STREAM_BOS / 2];
	struct viova_guest_ctx *ctx;
	uint32_t *data;
	uint64_t fence;
	uint32_t i;

	MUST(w,
	     viova_guest_ctx_create(
		 w->dev,
		 &(struct viova_guest_ctx_options){
		     .vm = &(struct viova_guest_vm_options){.strategy = VIOVA_GUEST_VMA_BEST_FIT}},
		 &ctx));
	MUST(w, make_buffers(w, ctx, bos, STREAM_BOS, VIOVA_GUEST_BO_NO_IOVA));
	phase(w, "%u unmapped buffers in context %u; streaming SET_IOVA for each", STREAM_BOS,
	      viova_guest_ctx_id(ctx));
	for (i = 0; i < STREAM_BOS; i++) {
		MUST(w, viova_guest_bo_set_iova(bos[i], NULL, NULL));
		w->row->set_iovas++;
	}
	/* upload a pattern into the first half; copy each into its partner in the second */
	data = malloc(64 * KIB);
	for (i = 0; i < STREAM_BOS / 2; i++) {
		uint32_t word = pattern_of(viova_guest_bo_id(bos[i]), 3);
		uint64_t n =
		    viova_guest_bo_size(bos[i]) < viova_guest_bo_size(bos[i + STREAM_BOS / 2])
			? viova_guest_bo_size(bos[i])
			: viova_guest_bo_size(bos[i + STREAM_BOS / 2]);

		for (uint64_t k = 0; k < n / 4; k++)
			data[k] = word;
		if (viova_guest_bo_upload(bos[i], 0, data, n)) {
			free(data);
			problem(w, "upload: %s", viova_guest_last_error());
			return -1;
		}
		copies[i] =
		    viova_codec_sim_copy(iova_of(bos[i + STREAM_BOS / 2]), iova_of(bos[i]), n);
	}
	free(data);
	if (run_job(w, ctx, bos, STREAM_BOS, copies, STREAM_BOS / 2, &fence, true))
		return -1;
	for (i = 0; i < STREAM_BOS / 2; i++)
		if (check_words(w, bos[i + STREAM_BOS / 2], 0, copies[i].arg2,
				pattern_of(viova_guest_bo_id(bos[i]), 3)))
			return -1;
	phase(w, "%u uploads copied by the GPU through streamed iovas, checked", STREAM_BOS / 2);
	/* unmap half (SET_IOVA 0, streamed), close the rest */
	for (i = 0; i < STREAM_BOS / 2; i++)
		MUST(w, viova_guest_bo_clear_iova(bos[i], NULL, WAIT));
	for (i = 0; i < STREAM_BOS; i++)
		MUST(w, viova_guest_bo_close(bos[i]));
	if (stream_fault(w))
		return -1;
	keep_ctx_stats(w, ctx, "stream");
	MUST(w, viova_guest_ctx_destroy(ctx));
	drain_errors(w, 0);
	return 0;
}

/* ---- forker: children sharing one VM heap ---- */

#define FORK_BOS 100

static int share_vm_work(struct wk *w, struct viova_guest_vm *vm, uint32_t salt)
{
	struct viova_guest_bo *bos[FORK_BOS];
	struct viova_guest_ctx *ctx;

	MUST(w, viova_guest_ctx_create(w->dev, &(struct viova_guest_ctx_options){.share_vm = vm},
				       &ctx));
	phase(w, "context %u on the shared VM %u", viova_guest_ctx_id(ctx), viova_guest_vm_id(vm));
	MUST(w, make_buffers(w, ctx, bos, FORK_BOS, 0));
	MUST(w, fill_and_check(w, ctx, bos, FORK_BOS, salt));
	phase(w, "%u buffers from the shared heap, filled and checked", FORK_BOS);
	for (uint32_t i = 0; i < FORK_BOS; i++)
		MUST(w, viova_guest_bo_close(bos[i]));
	keep_ctx_stats(w, ctx, "shared");
	MUST(w, viova_guest_ctx_destroy(ctx));
	return 0;
}

static struct row *new_row(const char *name)
{
	struct row *r = &board->row[__atomic_fetch_add(&board->nrows, 1, __ATOMIC_ACQ_REL)];

	snprintf(r->name, sizeof(r->name), "%s", name);
	r->pid = getpid();
	return r;
}

static int forker_main(struct wk *w)
{
	struct viova_guest_vm_info vi;
	struct viova_guest_ctx *owner;
	struct viova_guest_vm *vm;
	pid_t pids[FORK_CHILDREN];
	int ret = 0;

	MUST(w, viova_guest_ctx_create(w->dev, NULL, &owner));
	vm = viova_guest_ctx_vm(owner);
	phase(w, "context %u owns VM %u; forking %d children that share it",
	      viova_guest_ctx_id(owner), viova_guest_vm_id(vm), FORK_CHILDREN);
	for (int c = 0; c < FORK_CHILDREN; c++) {
		char name[24];

		snprintf(name, sizeof(name), "forker/child%d", c + 1);
		pids[c] = fork();
		if (pids[c] == 0) {
			struct wk cw = {
			    .row = new_row(name), .dev = w->dev, .rng = 77 + (uint64_t)c};

			ret = share_vm_work(&cw, vm, 20 + (uint32_t)c);
			viova_guest_device_close(w->dev);
			__atomic_store_n(&cw.row->done, 1, __ATOMIC_RELEASE);
			_exit(ret || cw.row->unexpected ? 1 : 0);
		}
		if (pids[c] < 0) {
			problem(w, "fork: %s", strerror(errno));
			return -1;
		}
	}
	ret = share_vm_work(w, vm, 10);
	for (int c = 0; c < FORK_CHILDREN; c++) {
		int st;

		waitpid(pids[c], &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			problem(w, "child %d ended with status 0x%x", c + 1, st);
	}
	MUST(w, viova_guest_retire(w->dev, WAIT, NULL));
	MUST(w, viova_guest_vm_info(vm, &vi));
	MUST(w, viova_guest_vm_check(vm));
	if (vi.allocations)
		problem(w, "shared heap of VM %u still holds %" PRIu64 " ranges", vi.id,
			vi.allocations);
	else
		phase(w, "all %d processes done: the shared heap is empty and consistent",
		      FORK_CHILDREN + 1);
	keep_ctx_stats(w, owner, "owner");
	MUST(w, viova_guest_ctx_destroy(owner));
	drain_errors(w, 0);
	return ret;
}

/* ---- the demo's main process ---- */

static pid_t start_worker(const char *name, int (*fn)(struct wk *), uint64_t seed)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct wk w = {.row = new_row(name), .rng = seed};
		int ret;

		if (viova_guest_device_open(host_uri, NULL, &w.dev)) {
			problem(&w, "device_open(%s): %s", host_uri, viova_guest_last_error());
			ret = -1;
		} else {
			phase(&w, "connected to %s", host_uri);
			ret = fn(&w);
			if (ret == 0 && !w.row->unexpected)
				phase(&w, "done");
			viova_guest_device_close(w.dev);
		}
		__atomic_store_n(&w.row->done, 1, __ATOMIC_RELEASE);
		_exit(ret || w.row->unexpected ? 1 : 0);
	}
	return pid;
}

/* viova-host: --host, $VIOVA_HOST, next to this executable, the build tree, then $PATH. */
static int find_host(const char *opt, char *out, size_t len)
{
	char self[PATH_MAX], *slash;
	const char *env = getenv("VIOVA_HOST");
	ssize_t n;

	if (opt || env) {
		snprintf(out, len, "%s", opt ? opt : env);
		return access(out, X_OK) == 0 ? 0 : -ENOENT;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			if (snprintf(out, len, "%s/viova-host", self) < (int)len &&
			    access(out, X_OK) == 0)
				return 0;
			if (snprintf(out, len, "%s/../host/daemon/viova-host", self) < (int)len &&
			    access(out, X_OK) == 0)
				return 0;
		}
	}
	snprintf(out, len, "viova-host");
	return 1; /* let execvp search $PATH */
}

static pid_t start_host(const char *exe, const char *sock, const char *log)
{
	char listen[160];
	pid_t pid;

	snprintf(listen, sizeof(listen), "unix:%s", sock);
	pid = fork();
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd >= 0) {
			dup2(fd, 2);
			close(fd);
		}
		execlp(exe, exe, "--listen", listen, "--backend", "sim", "--verbose", (char *)NULL);
		fprintf(stderr, "viova demo: cannot run %s: %s\n", exe, strerror(errno));
		_exit(127);
	}
	return pid;
}

static int wait_listening(const char *sock, pid_t host)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	uint64_t deadline = now_ns() + 5 * SEC;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	while (now_ns() < deadline) {
		int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		int ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;

		if (fd >= 0)
			close(fd);
		if (ok)
			return 0;
		if (waitpid(host, NULL, WNOHANG) == host)
			return -ECHILD;
		usleep(5000);
	}
	return -ETIMEDOUT;
}

static void print_log(const char *log)
{
	char line[512];
	FILE *f = fopen(log, "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		printf("  host| %s", line);
	fclose(f);
}

struct progress_line {
	uint64_t ns;
	uint32_t row, slot;
};

static int by_time(const void *a, const void *b)
{
	const struct progress_line *x = a, *y = b;

	return x->ns < y->ns ? -1 : x->ns > y->ns;
}

/* Print the progress messages recorded since the last call, in the order they happened. */
static void print_progress(uint64_t t0, uint32_t *seen)
{
	struct progress_line lines[ROWS * PHASES];
	uint32_t n = 0, rows = __atomic_load_n(&board->nrows, __ATOMIC_ACQUIRE);

	for (uint32_t i = 0; i < rows && i < ROWS; i++) {
		struct row *r = &board->row[i];
		uint32_t seq = __atomic_load_n(&r->phase_seq, __ATOMIC_ACQUIRE);

		if (seq - seen[i] > PHASES)
			seen[i] = seq - PHASES;
		for (; seen[i] != seq; seen[i]++)
			lines[n++] = (struct progress_line){r->phase_ns[seen[i] % PHASES], i,
							    seen[i] % PHASES};
	}
	qsort(lines, n, sizeof(lines[0]), by_time);
	for (uint32_t i = 0; i < n; i++)
		printf("[%6.2fs] %-14s %s\n", (double)(lines[i].ns - t0) / 1e9,
		       board->row[lines[i].row].name,
		       board->row[lines[i].row].phase[lines[i].slot]);
	fflush(stdout);
}

static const char *mib(uint64_t bytes, char *buf, size_t len)
{
	snprintf(buf, len, "%.2f MiB", (double)bytes / (double)MIB);
	return buf;
}

static int summary(double wall, const struct viova_guest_host_stats *hs, bool hs_ok)
{
	uint64_t tb = 0, tj = 0, tc = 0;
	uint32_t bad = 0;
	char m[32];

	printf("\n== summary: %u processes, wall time %.2f s\n\n", board->nrows, wall);
	printf("  %-15s %6s %8s %6s %6s %6s %13s %12s  %s\n", "process", "pid", "buffers", "jobs",
	       "iovas", "binds", "bytes checked", "errors e/s", "result");
	for (uint32_t i = 0; i < board->nrows; i++) {
		struct row *r = &board->row[i];
		bool ok = r->done && !r->unexpected && r->errors_seen == r->errors_expected;

		printf("  %-15s %6d %8" PRIu64 " %6" PRIu64 " %6" PRIu64 " %6" PRIu64
		       " %13s %5u/%-6u  %s\n",
		       r->name, r->pid, r->buffers, r->jobs, r->set_iovas, r->binds,
		       mib(r->bytes_checked, m, sizeof(m)), r->errors_expected, r->errors_seen,
		       ok ? "ok" : "FAILED");
		if (!ok)
			printf("      why: %s\n", r->problem[0] ? r->problem
						  : !r->done	? "did not finish"
								: "errors expected != seen");
		bad += !ok;
		tb += r->buffers;
		tj += r->jobs;
		tc += r->bytes_checked;
	}
	printf("  %-15s %6s %8" PRIu64 " %6" PRIu64 " %27s\n", "total", "", tb, tj,
	       mib(tc, m, sizeof(m)));

	printf(
	    "\n  host counters per context (QUERY CTX_STATS, just before each was destroyed):\n");
	printf("  %-15s %-7s %4s %8s %10s %8s %9s %10s %7s %5s\n", "process", "role", "ctx",
	       "submits", "completed", "buffers", "mappings", "KiB", "faults", "lost");
	for (uint32_t i = 0; i < board->nrows; i++) {
		struct row *r = &board->row[i];

		for (uint32_t k = 0; k < r->nctx; k++) {
			const struct viova_ctx_stats *s = &r->ctx[k].st;

			printf("  %-15s %-7s %4u %8" PRIu64 " %10" PRIu64 " %8u %9u %10" PRIu64
			       " %7u %5u\n",
			       r->name, r->ctx[k].what, r->ctx[k].id, s->submits,
			       s->completed_fence, s->buffers, s->mappings,
			       (uint64_t)(s->bytes / KIB), s->faults, s->lost);
		}
	}
	if (hs_ok) {
		printf(
		    "\n  viova-host after every guest disconnected: %u connections, %u contexts, "
		    "%u VMs, %u buffers, %u mappings, %" PRIu64 " bytes (%" PRIu64
		    " connections and %" PRIu64 " batches served)\n",
		    hs->connections, hs->contexts, hs->vms, hs->buffers, hs->mappings, hs->bytes,
		    hs->connections_total, hs->batches);
		if (hs->connections || hs->contexts || hs->vms || hs->buffers || hs->mappings ||
		    hs->bytes) {
			printf("  FAILED: the host still holds objects of disconnected guests\n");
			bad++;
		}
	} else {
		printf("\n  FAILED: could not read the daemon's totals\n");
		bad++;
	}
	return bad ? 1 : 0;
}

int viova_tool_demo(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"host", required_argument, NULL, 'H'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct viova_guest_host_stats hs = {0};
	char dir[] = "/tmp/viova-demo-XXXXXX", sock[96], log[96], exe[PATH_MAX];
	const char *host_opt = NULL;
	uint32_t seen[ROWS] = {0};
	pid_t host, workers[3];
	uint64_t t0 = now_ns();
	bool hs_ok = false;
	int ch, st, ret;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "H:h", longopts, NULL)) != -1) {
		if (ch == 'H') {
			host_opt = optarg;
		} else {
			printf(
			    "usage: viova demo [--host PATH/TO/viova-host]\n"
			    "Starts viova-host (sim backend) on a temporary socket and runs the\n"
			    "guest workload described in README.md against it.\n");
			return ch == 'h' ? 0 : 2;
		}
	}
	if (find_host(host_opt, exe, sizeof(exe)) < 0) {
		fprintf(stderr,
			"viova demo: viova-host not found at %s: build it (meson compile) "
			"or pass --host PATH\n",
			exe);
		return 1;
	}
	if (!mkdtemp(dir)) {
		fprintf(stderr, "viova demo: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	snprintf(sock, sizeof(sock), "%s/host.sock", dir);
	snprintf(log, sizeof(log), "%s/host.log", dir);
	snprintf(host_uri, sizeof(host_uri), "unix:%s", sock);
	board =
	    mmap(NULL, sizeof(*board), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (board == MAP_FAILED) {
		fprintf(stderr, "viova demo: mmap: %s\n", strerror(errno));
		return 1;
	}
	fflush(stdout);
	host = start_host(exe, sock, log);
	ret = host > 0 ? wait_listening(sock, host) : -ECHILD;
	if (ret) {
		fprintf(stderr, "viova demo: %s did not start listening on %s (%s)\n", exe, sock,
			strerror(-ret));
		print_log(log);
		return 1;
	}
	printf("viova demo: viova-host (%s, sim backend) listens on %s\n", exe, host_uri);
	printf("viova demo: 3 guest processes, one of which forks %d children sharing its VM\n\n",
	       FORK_CHILDREN);
	fflush(stdout);
	workers[0] = start_worker("render", render_main, 1);
	workers[1] = start_worker("stream", stream_main, 2);
	workers[2] = start_worker("forker", forker_main, 3);

	/* Progress: print each phase change as it happens. */
	for (;;) {
		int running = 0;

		for (int i = 0; i < 3; i++)
			if (workers[i] > 0 && waitpid(workers[i], &st, WNOHANG) == 0)
				running++;
		print_progress(t0, seen);
		if (!running)
			break;
		if (now_ns() - t0 > DEADLINE_S * SEC) {
			printf("viova demo: workers still running after %d s: stopping them\n",
			       DEADLINE_S);
			for (int i = 0; i < 3; i++)
				kill(workers[i], SIGKILL);
		}
		usleep(20000);
	}
	while (waitpid(-1, &st, WNOHANG) > 0)
		;
	/* The daemon's totals once every guest is gone: everything must have been released. */
	for (int i = 0; i < 200; i++) {
		hs_ok = viova_guest_host_stats(host_uri, 5 * SEC, &hs) == 0;
		if (!hs_ok || hs.connections == 0)
			break;
		usleep(10000);
	}
	kill(host, SIGTERM);
	waitpid(host, &st, 0);
	ret = summary((double)(now_ns() - t0) / 1e9, &hs, hs_ok);
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		printf("  FAILED: viova-host ended with status 0x%x\n", st);
		ret = 1;
	}
	if (ret) {
		printf("\nviova-host log:\n");
		print_log(log);
	}
	unlink(log);
	unlink(sock);
	rmdir(dir);
	munmap(board, sizeof(*board));
	printf("\nviova demo: %s\n", ret ? "FAILED" : "OK, every check passed");
	return ret;
}

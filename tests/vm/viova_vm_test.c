/* SPDX-License-Identifier: MIT */
/*
 * viova_vm_test.c - the guest side of the VM test (issue 7): runs a demo-like workload through
 * libviova-guest over virtgpu:/dev/dri/renderD128 (or argv[1]) against a viova-host
 * vhost-user-gpu back-end, and prints PASS or FAIL (with the first problem) as its last line.
 *
 *   contexts   a context and a clone of it (own VM)
 *   buffers    buffers with local iovas in both, a buffer mapped later by SET_IOVA
 *   jobs       sim fill of every buffer and a copy chain, every byte downloaded and compared
 *   bind       a sparse range bound from two buffers and filled through, if caps has VM_BIND
 *   attack     a fill of an unmapped iova: the host must reject it, the fault must come back
 *              in the error log with the job's seqno and the context must be lost
 *
 * Exit status 0 on PASS. Not a meson test: it needs a guest with a viova virtio-gpu device
 * (tests/vm/run-vm.sh ... --test /bin/viova_vm_test).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "viova/codec.h"
#include "viova/guest.h"

#define KIB 1024ull
#define MIB (1024ull * 1024)
#define WAIT 10000000000ull
#define NBOS 16

static int failures;

#define CHECK(call)                                                                                \
	do {                                                                                       \
		int check_ret_ = (call);                                                           \
		if (check_ret_) {                                                                  \
			printf("FAIL: %s = %d: %s\n", #call, check_ret_,                           \
			       viova_guest_last_error());                                          \
			failures++;                                                                \
			return -1;                                                                 \
		}                                                                                  \
	} while (0)

static uint64_t iova_of(struct viova_guest_bo *bo)
{
	uint64_t iova = 0;

	viova_guest_bo_iova(bo, NULL, &iova);
	return iova;
}

static uint32_t pattern_of(uint32_t id, uint32_t salt)
{
	return (id * 2654435761u) ^ (salt * 40503u) ^ 0x3c000000u;
}

static int run(struct viova_guest_ctx *ctx, struct viova_guest_bo **bos, uint32_t nbos,
	       const struct viova_sim_job *jobs, uint32_t njobs, uint32_t bo_flags, uint64_t *seqno)
{
	struct viova_guest_submit_bo sb[NBOS + 1];
	struct viova_guest_submit s = {
	    .format = VIOVA_SUBMIT_FORMAT_SIM,
	    .bo_count = nbos,
	    .bos = sb,
	    .cmds = jobs,
	    .cmd_count = njobs,
	};
	uint64_t fence = 0;

	for (uint32_t i = 0; i < nbos; i++)
		sb[i] = (struct viova_guest_submit_bo){bos[i], bo_flags};
	CHECK(viova_guest_submit(ctx, &s, &fence, seqno));
	CHECK(viova_guest_fence_wait(ctx, fence, WAIT));
	return 0;
}

/* Download [0, size) of bo and compare every word with word. */
static int check_words(struct viova_guest_bo *bo, uint64_t size, uint32_t word, uint64_t *checked)
{
	uint32_t *buf = malloc(size);

	if (!buf) {
		printf("FAIL: out of memory\n");
		failures++;
		return -1;
	}
	if (viova_guest_bo_download(bo, 0, buf, size, WAIT)) {
		printf("FAIL: download of buffer %u: %s\n", viova_guest_bo_id(bo),
		       viova_guest_last_error());
		failures++;
		free(buf);
		return -1;
	}
	for (uint64_t i = 0; i < size / 4; i++) {
		if (buf[i] != word) {
			printf("FAIL: buffer %u byte 0x%" PRIx64 ": 0x%08x, expected 0x%08x\n",
			       viova_guest_bo_id(bo), i * 4, buf[i], word);
			failures++;
			free(buf);
			return -1;
		}
	}
	*checked += size;
	free(buf);
	return 0;
}

static int fill_and_check(struct viova_guest_ctx *ctx, struct viova_guest_bo **bos, uint32_t n,
			  uint32_t salt, uint64_t *checked)
{
	struct viova_sim_job jobs[NBOS];

	for (uint32_t i = 0; i < n; i++)
		jobs[i] = viova_codec_sim_fill(iova_of(bos[i]), viova_guest_bo_size(bos[i]),
					       pattern_of(viova_guest_bo_id(bos[i]), salt));
	if (run(ctx, bos, n, jobs, n, VIOVA_SUBMIT_BO_READ | VIOVA_SUBMIT_BO_WRITE, NULL))
		return -1;
	for (uint32_t i = 0; i < n; i++)
		if (check_words(bos[i], viova_guest_bo_size(bos[i]),
				pattern_of(viova_guest_bo_id(bos[i]), salt), checked))
			return -1;
	return 0;
}

static int workload(struct viova_guest_device *dev, const struct viova_capset *caps)
{
	struct viova_guest_bo *a[NBOS], *b[NBOS], *late, *pieces[2];
	struct viova_guest_ctx *ctx, *clone, *victim;
	struct viova_guest_ctx_status cs;
	struct viova_sim_job copies[NBOS], job;
	struct viova_err_rec recs[8];
	uint64_t checked = 0, seqno = 0, hole, range;
	uint32_t i, n = 0;
	bool seen = false;

	CHECK(viova_guest_ctx_create(dev, NULL, &ctx));
	CHECK(viova_guest_ctx_clone(ctx, VIOVA_CLONE_FLAGS, NULL, &clone));
	printf("contexts %u and clone %u\n", viova_guest_ctx_id(ctx), viova_guest_ctx_id(clone));
	for (i = 0; i < NBOS; i++) {
		CHECK(viova_guest_bo_create(ctx, (1 + i % 4) * 4 * KIB, 0, NULL, &a[i]));
		CHECK(viova_guest_bo_create(clone, 8 * KIB, 0, NULL, &b[i]));
	}
	if (fill_and_check(ctx, a, NBOS, 1, &checked) ||
	    fill_and_check(clone, b, NBOS, 2, &checked))
		return -1;
	printf("fill: %u buffers in 2 contexts checked\n", 2 * NBOS);

	/* copy chain b[i] -> b[i + 1], backwards so every source is read before it is written */
	for (i = 0; i + 1 < NBOS; i++)
		copies[i] = viova_codec_sim_copy(iova_of(b[NBOS - 1 - i]), iova_of(b[NBOS - 2 - i]),
						 8 * KIB);
	if (run(clone, b, NBOS, copies, NBOS - 1, VIOVA_SUBMIT_BO_READ | VIOVA_SUBMIT_BO_WRITE,
		NULL))
		return -1;
	for (i = 0; i + 1 < NBOS; i++)
		if (check_words(b[i + 1], 8 * KIB, pattern_of(viova_guest_bo_id(b[i]), 2),
				&checked))
			return -1;
	printf("copy chain of %u buffers checked\n", NBOS);

	/* SET_IOVA: a buffer created without an iova, mapped afterwards */
	CHECK(viova_guest_bo_create(ctx, 16 * KIB, VIOVA_GUEST_BO_NO_IOVA, NULL, &late));
	CHECK(viova_guest_bo_set_iova(late, NULL, NULL));
	if (fill_and_check(ctx, &late, 1, 3, &checked))
		return -1;
	printf("SET_IOVA buffer at 0x%" PRIx64 " checked\n", iova_of(late));

	if (caps->features & VIOVA_FEATURE_VM_BIND) {
		struct viova_guest_vm *vm = viova_guest_ctx_vm(ctx);

		pieces[0] = a[4];
		pieces[1] = a[8];
		CHECK(viova_guest_vm_alloc(vm, 8 * KIB, 64 * KIB, &range));
		CHECK(viova_guest_vm_bind(vm, pieces[0], range, 4 * KIB, 0, 0));
		CHECK(viova_guest_vm_bind(vm, pieces[1], range + 4 * KIB, 4 * KIB, 0, 0));
		job = viova_codec_sim_fill(range, 8 * KIB, 0x5ba25e00u);
		if (run(ctx, pieces, 2, &job, 1, VIOVA_SUBMIT_BO_READ | VIOVA_SUBMIT_BO_WRITE,
			NULL) ||
		    check_words(pieces[0], 4 * KIB, 0x5ba25e00u, &checked) ||
		    check_words(pieces[1], 4 * KIB, 0x5ba25e00u, &checked))
			return -1;
		CHECK(viova_guest_vm_unbind(ctx, vm, range, 8 * KIB));
		CHECK(viova_guest_vm_free(vm, range));
		printf("VM_BIND sparse range 0x%" PRIx64 " of 2 buffers checked\n", range);
	} else {
		printf("VM_BIND not in the capset: skipped\n");
	}

	/* the attack: a job writing where nothing of this context is mapped */
	CHECK(viova_guest_ctx_create(dev, NULL, &victim));
	CHECK(viova_guest_bo_create(victim, 4 * KIB, 0, NULL, &late));
	hole = iova_of(late) - 256 * MIB;
	job = viova_codec_sim_fill(hole, 4 * KIB, 0xbad);
	if (run(victim, &late, 1, &job, 1, VIOVA_SUBMIT_BO_WRITE, &seqno))
		return -1;
	CHECK(viova_guest_ctx_status(victim, &cs));
	CHECK(viova_guest_sync(dev, WAIT));
	CHECK(viova_guest_read_errors(dev, recs, 8, &n));
	for (i = 0; i < n; i++) {
		char line[256];

		viova_guest_format_error(&recs[i], line, sizeof(line));
		printf("error log: %s\n", line);
		if (recs[i].seqno == seqno && recs[i].err == VIOVA_EFAULT &&
		    (recs[i].flags & VIOVA_ERR_CTX_LOST))
			seen = true;
	}
	if (!cs.lost || cs.fault_iova != hole || !seen) {
		printf("FAIL: the fill of unmapped iova 0x%" PRIx64 " (seqno %" PRIu64
		       ") was not rejected: lost %d, fault 0x%" PRIx64 ", record %s\n",
		       hole, seqno, cs.lost, cs.fault_iova, seen ? "seen" : "missing");
		failures++;
		return -1;
	}
	printf("attack on 0x%" PRIx64 " rejected: context %u lost, fault in the error log\n", hole,
	       viova_guest_ctx_id(victim));
	CHECK(viova_guest_ctx_destroy(victim));
	CHECK(viova_guest_ctx_destroy(clone));
	CHECK(viova_guest_ctx_destroy(ctx));
	printf("%" PRIu64 " bytes checked\n", checked);
	return 0;
}

int main(int argc, char **argv)
{
	char uri[256];
	struct viova_guest_device *dev;
	struct viova_capset caps;

	snprintf(uri, sizeof(uri), "virtgpu:%s", argc > 1 ? argv[1] : "/dev/dri/renderD128");
	if (viova_guest_device_open(uri, NULL, &dev)) {
		printf("FAIL: open %s: %s\n", uri, viova_guest_last_error());
		return 1;
	}
	viova_guest_device_caps(dev, &caps);
	printf("%s: viova wire %u.%u, features 0x%" PRIx64 "\n", uri, caps.wire_major,
	       caps.wire_minor, caps.features);
	workload(dev, &caps);
	viova_guest_device_close(dev);
	if (failures) {
		printf("FAIL\n");
		return 1;
	}
	printf("PASS\n");
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * test_host_sim_hang.c - the sim GPU's hang-check seen through the host core, as a guest sees
 * it: a job that overruns its budget loses its context with ETIMEDOUT (lost errno, one ASYNC |
 * CTX_LOST record naming the SUBMIT's seqno and fence), its fence still completes so
 * WAIT_FENCE returns, later SUBMITs on it are refused, and another context's job queued behind
 * the hung one runs with exact bytes. docs/sim.md "Hang-check".
 *
 * The budget is 20 ms (sim_debug_set_job_timeout); the job is 1024 FILL words of 4 GiB each
 * over one 64 MiB buffer bound 64 times: 2^30 page steps, over 50 s at 50 ns a step, far
 * beyond every bounded wait below whatever the machine's speed.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "host_test.h"

#define PAGE 4096u
#define MIB (1ull << 20)
#define SEC 1000000000ull

#define ALIAS_BO_SIZE (64 * MIB)
#define ALIAS_COUNT 64u
#define HUGE_WORDS 1024u /* 32 KiB of records: fits the harness's 64 KiB batch */
#define ALIAS_VA(t) HT_VA(t, 1024)

static void submit(struct ht *t, uint32_t ctx, uint64_t fence, uint32_t buf,
		   const struct viova_sim_job *jobs, uint32_t njobs)
{
	/* queued; a timeout comes later */
	assert_int_equal(ht_submit_write(t, ctx, fence, buf, jobs, njobs), 0);
}

/* WAIT_FENCE until it answers 0; each try blocks at most capset.max_wait_ns. */
static void wait_done(struct ht *t, uint32_t ctx, uint64_t fence)
{
	struct viova_fence_status fs;
	uint32_t err, size, tries;

	for (tries = 0; tries < 100; tries++) {
		uint64_t s = ht_seq(t);

		assert_int_equal(viova_codec_enc_wait_fence(&t->enc, ctx, fence, SEC, 128, NULL),
				 0);
		assert_int_equal(ht_send(t), 0);
		assert_int_equal(
		    viova_codec_resp_guest_read(&t->g, 128, s, &fs, sizeof(fs), &err, &size), 0);
		if (err == 0) {
			assert_true(fs.completed_fence >= fence);
			return;
		}
		assert_int_equal(err, VIOVA_ETIMEDOUT);
	}
	fail_msg("fence %llu of context %u did not complete: the hang-check did not fire",
		 (unsigned long long)fence, ctx);
}

static void test_timeout_loses_context(void **state)
{
	struct ht *t = ht_new();
	struct viova_sim_job *huge = calloc(HUGE_WORDS, sizeof(*huge));
	struct viova_sim_job small[2];
	uint32_t words[4];
	struct viova_err_rec r;
	uint64_t s;
	(void)state;

	assert_non_null(huge);
	sim_debug_set_job_timeout(t->sim, 20000000ull);
	ht_ctx(t, 1, 1);
	ht_ctx(t, 2, 2);
	ht_buf(t, 1, 1, ALIAS_BO_SIZE, 0);
	for (uint32_t i = 0; i < ALIAS_COUNT; i++) {
		struct viova_codec_bind b = {0, 1, ALIAS_VA(t) + i * ALIAS_BO_SIZE, ALIAS_BO_SIZE,
					     0, 0};

		HT_OK(t, viova_codec_enc_vm_bind(&t->enc, 1, &b, NULL));
	}
	ht_buf(t, 2, 1, PAGE, HT_VA(t, 0));
	for (uint32_t i = 0; i < HUGE_WORDS; i++)
		huge[i] = viova_codec_sim_fill(ALIAS_VA(t), ALIAS_COUNT * ALIAS_BO_SIZE, i);

	s = ht_seq(t);
	submit(t, 1, 1, 1, huge, HUGE_WORDS);
	/* context 2's job is queued behind the hung one (8 bytes + a fence word: 2 steps) */
	small[0] = viova_codec_sim_fill(HT_VA(t, 0), 8, 0x600dcafe);
	small[1] = viova_codec_sim_write_fence(HT_VA(t, 0) + 8, 0x1122334455667788ull);
	submit(t, 2, 1, 1, small, 2);

	wait_done(t, 1, 1);
	/* the log says what happened and what to do, not the translation-fault advice */
	assert_non_null(strstr(t->last_log, "ran past the GPU time budget"));
	assert_non_null(strstr(t->last_log, "split long work into smaller jobs"));
	/* fault before fence: WAIT_FENCE answered, so the record and lost flag are there */
	assert_int_equal(ht_slot(t, 1).lost, 1);
	assert_int_equal(viova_host_ctx_lost(t->h, 1), VIOVA_ETIMEDOUT);
	r = ht_pop(t);
	assert_int_equal(r.cmd, VIOVA_CMD_SUBMIT);
	assert_int_equal(r.seqno, s);
	assert_int_equal(r.ctx_id, 1);
	assert_int_equal(r.err, VIOVA_ETIMEDOUT);
	assert_int_equal(r.flags, VIOVA_ERR_ASYNC | VIOVA_ERR_CTX_LOST);
	assert_int_equal(r.detail1, 1);
	assert_in_range(r.detail0, ALIAS_VA(t), ALIAS_VA(t) + ALIAS_COUNT * ALIAS_BO_SIZE - 1);
	ht_no_error(t);

	/* the other context is untouched and its job ran */
	wait_done(t, 2, 1);
	assert_int_equal(viova_host_ctx_lost(t->h, 2), 0);
	ht_download(t, 2, 1, 0, words, sizeof(words));
	assert_int_equal(words[0], 0x600dcafe);
	assert_int_equal(words[1], 0x600dcafe);
	assert_int_equal(words[2], 0x55667788);
	assert_int_equal(words[3], 0x11223344);
	ht_no_error(t);

	/* the lost context takes no more jobs */
	s = ht_seq(t);
	assert_int_equal(ht_submit_write(t, 1, 2, 1, small, 1), 1);
	ht_expect(t, VIOVA_CMD_SUBMIT, VIOVA_EIO, s);
	free(huge);
	ht_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_timeout_loses_context),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

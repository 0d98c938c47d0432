/* SPDX-License-Identifier: MIT */
/*
 * test_host_budget.c - the device budget (all contexts of one host) and the daemon budget
 * (every host sharing a struct viova_host_budget), host/host_budget.c and host/host_quota.c:
 * refusals with EDQUOT that change nothing and name the budget, the value, the use, the limit
 * and the fix; every release path returning its charge; hosts on two threads never pushing the
 * shared totals past a limit.
 *
 * Each refusal here is one the per-context quotas alone would allow (they stay at their
 * defaults, far above the budgets), so removing a budget check fails these tests.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "host_test.h"

#define PAGE 4096u

static void usage(struct viova_host_budget *b, struct viova_host_budget_usage *u)
{
	assert_int_equal(viova_host_budget_usage(b, u), 0);
}

/* The daemon budget holds exactly what host t holds (t is its only host with objects). */
static void budget_matches(struct ht *t, struct viova_host_budget *b)
{
	struct viova_host_counters c;
	struct viova_host_budget_usage u;

	viova_host_counters(t->h, &c);
	usage(b, &u);
	assert_int_equal(u.buffers, c.buffers);
	assert_int_equal(u.bytes, c.bytes);
	assert_int_equal(u.mappings, c.mappings);
}

static void budget_empty(struct viova_host_budget *b, uint32_t hosts)
{
	struct viova_host_budget_usage u;

	usage(b, &u);
	assert_int_equal(u.buffers, 0);
	assert_int_equal(u.bytes, 0);
	assert_int_equal(u.mappings, 0);
	assert_int_equal(u.hosts, hosts);
}

/* The last failure's message contains every string of the NULL-terminated list. */
static void said(struct ht *t, ...)
{
	const char *msg = viova_host_last_error(t->h);
	const char *want;
	va_list ap;

	va_start(ap, t);
	while ((want = va_arg(ap, const char *)) != NULL) {
		if (!strstr(msg, want))
			fail_msg("message \"%s\" lacks \"%s\"", msg, want);
	}
	va_end(ap);
}

/* Two contexts of one host share its device budget; the per-context quotas would allow more. */
static void test_device_budget(void **state)
{
	struct viova_host_quotas q = {
	    .max_device_bytes = 8 * PAGE, .max_device_buffers = 3, .max_device_mappings = 2};
	struct ht *t = ht_new_qb(&q, NULL, "device 2");
	struct viova_codec_bind bind = {0, 2, HT_VA(t, 4), PAGE, 0, 0};
	struct ht_snap snap;
	(void)state;

	ht_ctx(t, 1, 1);
	ht_ctx(t, 2, 1);
	ht_buf(t, 1, 1, 4 * PAGE, 0);
	ht_buf(t, 2, 1, 4 * PAGE, 0);
	/* bytes: 32 KiB held over two contexts, each far below its own max_bytes */
	ht_snap(t, &snap);
	HT_FAILS(t, VIOVA_EDQUOT, viova_codec_enc_gem_new(&t->enc, 2, 2, 0, PAGE, 0, 0, NULL));
	said(t, "GEM_NEW", "buffer of 4 KiB", "device 2", "from 32 KiB to 36 KiB",
	     "device budget of 32 KiB", "--max-device-bytes", "free buffers or raise the limit",
	     NULL);
	ht_same(t, &snap);
	/* GEM_NEW with an iova: refused before the mapping too */
	HT_FAILS(t, VIOVA_EDQUOT,
		 viova_codec_enc_gem_new(&t->enc, 2, 2, 0, PAGE, 0, HT_VA(t, 0), NULL));
	ht_same(t, &snap);
	/* closing a buffer of context 1 makes room for context 2 */
	HT_OK(t, viova_codec_enc_gem_close(&t->enc, 1, 1, NULL));
	ht_buf(t, 2, 2, PAGE, HT_VA(t, 0));
	ht_buf(t, 1, 2, PAGE, 0);

	/* buffers: 3 live in two contexts */
	ht_snap(t, &snap);
	HT_FAILS(t, VIOVA_EDQUOT, viova_codec_enc_gem_new(&t->enc, 1, 3, 0, PAGE, 0, 0, NULL));
	said(t, "device 2 already holds 3 buffers", "--max-device-buffers", NULL);
	ht_same(t, &snap);

	/* mappings: 2 over two contexts; SET_IOVA and VM_BIND refused alike */
	HT_OK(t, viova_codec_enc_set_iova(&t->enc, 1, 2, 0, HT_VA(t, 0), NULL));
	ht_snap(t, &snap);
	HT_FAILS(t, VIOVA_EDQUOT, viova_codec_enc_set_iova(&t->enc, 2, 1, 0, HT_VA(t, 8), NULL));
	said(t, "device 2 holds 2 mappings", "device budget of 2", "--max-device-mappings", NULL);
	ht_same(t, &snap);
	HT_FAILS(t, VIOVA_EDQUOT, viova_codec_enc_vm_bind(&t->enc, 2, &bind, NULL));
	ht_same(t, &snap);
	/* destroying context 1 returns its buffer and mapping */
	HT_OK(t, viova_codec_enc_ctx_destroy(&t->enc, 1, NULL));
	HT_OK(t, viova_codec_enc_vm_bind(&t->enc, 2, &bind, NULL));
	ht_buf(t, 2, 3, PAGE, 0);
	ht_free(t);
}

/* A second host is refused while the first holds the daemon budget, and served once it goes. */
static void test_daemon_budget_two_hosts(void **state)
{
	struct viova_host_budget_limits lim = {
	    .max_bytes = 16 * PAGE, .max_buffers = 3, .max_mappings = 2};
	struct viova_host_budget *b;
	struct viova_host_budget_usage u, u0;
	struct ht *a, *c;
	struct viova_codec_bind bind;
	struct ht_snap snap;
	(void)state;

	assert_int_equal(viova_host_budget_create(&lim, &b), 0);
	a = ht_new_qb(NULL, b, "connection 1");
	c = ht_new_qb(NULL, b, "connection 2");
	budget_empty(b, 2);
	ht_ctx(a, 1, 1);
	ht_ctx(c, 1, 1);
	ht_buf(a, 1, 1, 8 * PAGE, HT_VA(a, 0));

	/* bytes */
	ht_snap(c, &snap);
	usage(b, &u0);
	HT_FAILS(c, VIOVA_EDQUOT, viova_codec_enc_gem_new(&c->enc, 1, 1, 0, 10 * PAGE, 0, 0, NULL));
	said(c, "buffer of 40 KiB", "all guests", "from 32 KiB to 72 KiB", "connection 2 holds 0 B",
	     "daemon budget of 64 KiB", "--max-total-bytes", "raise the limit", NULL);
	ht_same(c, &snap);
	usage(b, &u);
	assert_memory_equal(&u, &u0, sizeof(u));
	ht_buf(c, 1, 1, 8 * PAGE, 0);
	HT_FAILS(c, VIOVA_EDQUOT, viova_codec_enc_gem_new(&c->enc, 1, 2, 0, PAGE, 0, 0, NULL));
	/* the first host frees: the second gets the room */
	HT_OK(a, viova_codec_enc_gem_close(&a->enc, 1, 1, NULL));
	ht_buf(c, 1, 2, PAGE, 0);
	ht_buf(c, 1, 3, PAGE, HT_VA(c, 0));

	/* buffers: 3 live, all in c */
	ht_snap(a, &snap);
	HT_FAILS(a, VIOVA_EDQUOT, viova_codec_enc_gem_new(&a->enc, 1, 2, 0, PAGE, 0, 0, NULL));
	said(a, "1 more buffers", "from 3 to 4 buffers", "connection 1 holds 0",
	     "daemon budget of 3", "--max-total-buffers", NULL);
	ht_same(a, &snap);

	/* mappings: 2 live, all in c; a bind of c's own is refused too */
	HT_OK(c, viova_codec_enc_set_iova(&c->enc, 1, 1, 0, HT_VA(c, 8), NULL));
	ht_snap(c, &snap);
	usage(b, &u0);
	bind = (struct viova_codec_bind){0, 2, HT_VA(c, 32), PAGE, 0, 0};
	HT_FAILS(c, VIOVA_EDQUOT, viova_codec_enc_vm_bind(&c->enc, 1, &bind, NULL));
	said(c, "1 more mappings", "from 2 to 3 mappings", "connection 2 holds 2",
	     "--max-total-mappings", NULL);
	ht_same(c, &snap);
	HT_FAILS(c, VIOVA_EDQUOT, viova_codec_enc_set_iova(&c->enc, 1, 2, 0, HT_VA(c, 32), NULL));
	ht_same(c, &snap);
	usage(b, &u);
	assert_memory_equal(&u, &u0, sizeof(u));

	/* the second host goes with live buffers and mappings: everything it held returns */
	ht_free(c);
	budget_empty(b, 1);
	ht_buf(a, 1, 2, 16 * PAGE, HT_VA(a, 0));
	budget_matches(a, b);
	ht_free(a);
	budget_empty(b, 0);
	viova_host_budget_destroy(b);
}

/* Submit one sim job on ctx listing buf, with out_fence fence. */
static void submit(struct ht *t, uint32_t ctx, uint64_t fence, uint32_t buf, uint64_t iova)
{
	struct viova_sim_job job = viova_codec_sim_fill(iova, 64, 7);
	struct viova_submit_bo bo = {buf, VIOVA_SUBMIT_BO_READ | VIOVA_SUBMIT_BO_WRITE};
	struct viova_codec_submit sub = {.format = VIOVA_SUBMIT_FORMAT_SIM,
					 .out_fence = fence,
					 .bos = &bo,
					 .bo_count = 1,
					 .cmds = &job,
					 .cmd_count = 1};

	HT_OK(t, viova_codec_enc_submit(&t->enc, ctx, &sub, NULL));
}

/*
 * Every path that creates or drops a buffer or mapping, including the failures after the
 * charge (backend refusals, a GEM_NEW whose range is taken), keeps the daemon budget equal to
 * what the host holds; the budget here is unlimited, so it only counts.
 */
static void test_release_paths(void **state)
{
	struct viova_host_budget *b;
	struct viova_codec_bind bind;
	struct viova_host_counters k;
	struct ht *t;
	(void)state;

	assert_int_equal(viova_host_budget_create(NULL, &b), 0);
	t = ht_new_qb(NULL, b, NULL);
	bind = (struct viova_codec_bind){0, 2, HT_VA(t, 16), 4 * PAGE, 0, 0};
	ht_ctx(t, 1, 1);
	ht_buf(t, 1, 1, PAGE, HT_VA(t, 0)); /* GEM_NEW + iova */
	ht_buf(t, 1, 2, 4 * PAGE, 0);
	budget_matches(t, b);
	/* SET_IOVA clear, set */
	HT_OK(t, viova_codec_enc_set_iova(&t->enc, 1, 1, 0, 0, NULL));
	budget_matches(t, b);
	HT_OK(t, viova_codec_enc_set_iova(&t->enc, 1, 1, 0, HT_VA(t, 1), NULL));
	/* bind, an unbind that splits (+1), an unbind that removes two pieces */
	HT_OK(t, viova_codec_enc_vm_bind(&t->enc, 1, &bind, NULL));
	HT_OK(t, viova_codec_enc_vm_unbind(&t->enc, 1, 0, bind.addr + PAGE, PAGE, NULL));
	viova_host_counters(t->h, &k);
	assert_int_equal(k.mappings, 3);
	budget_matches(t, b);
	HT_OK(t, viova_codec_enc_vm_unbind(&t->enc, 1, 0, bind.addr, 4 * PAGE, NULL));
	viova_host_counters(t->h, &k);
	assert_int_equal(k.mappings, 1);
	budget_matches(t, b);
	/* GEM_CLOSE of a mapped buffer returns the buffer, its bytes and its mapping */
	HT_OK(t, viova_codec_enc_gem_close(&t->enc, 1, 1, NULL));
	budget_matches(t, b);

	/* failures after the charge return it: backend refusals ... */
	t->be->fail_op = HT_BO_CREATE;
	t->be->fail_err = -ENOMEM;
	HT_FAILS(t, VIOVA_ENOMEM, viova_codec_enc_gem_new(&t->enc, 1, 3, 0, PAGE, 0, 0, NULL));
	budget_matches(t, b);
	t->be->fail_op = HT_BIND;
	t->be->fail_err = -EIO;
	HT_FAILS(t, VIOVA_EIO, viova_codec_enc_vm_bind(&t->enc, 1, &bind, NULL));
	budget_matches(t, b);
	HT_OK(t, viova_codec_enc_vm_bind(&t->enc, 1, &bind, NULL));
	t->be->fail_op = HT_UNBIND; /* a split (+1) the backend refuses */
	t->be->fail_err = -EIO;
	HT_FAILS(t, VIOVA_EIO,
		 viova_codec_enc_vm_unbind(&t->enc, 1, 0, bind.addr + PAGE, PAGE, NULL));
	budget_matches(t, b);
	/* ... (these lose context 1; context 2 goes on) and the range taken at insert time */
	ht_ctx(t, 2, 1);
	ht_buf(t, 2, 1, PAGE, HT_VA(t, 0));
	ht_buf(t, 2, 2, PAGE, 0);
	HT_FAILS(t, VIOVA_ENOSPC, viova_codec_enc_set_iova(&t->enc, 2, 2, 0, HT_VA(t, 0), NULL));
	budget_matches(t, b);
	t->be->fail_op = HT_BO_SET_IOVA;
	t->be->fail_err = -EIO;
	HT_FAILS(t, VIOVA_EIO, viova_codec_enc_set_iova(&t->enc, 2, 2, 0, HT_VA(t, 4), NULL));
	budget_matches(t, b);
	t->be->fail_op = HT_BO_SET_IOVA;
	t->be->fail_err = -EIO;
	HT_FAILS(t, VIOVA_EIO,
		 viova_codec_enc_gem_new(&t->enc, 2, 3, 0, PAGE, 0, HT_VA(t, 40), NULL));
	budget_matches(t, b);
	ht_free(t);
	budget_empty(b, 0);
	viova_host_budget_destroy(b);
}

/* Context destroy, a closed busy buffer (zombie), and host destroy with live objects. */
static void test_release_teardown(void **state)
{
	struct viova_host_budget *b;
	struct viova_host_counters k;
	struct viova_codec_bind bind;
	struct ht *t;
	(void)state;

	assert_int_equal(viova_host_budget_create(NULL, &b), 0);
	t = ht_new_qb(NULL, b, NULL);
	for (uint32_t ctx = 1; ctx <= 3; ctx++) {
		ht_ctx(t, ctx, 1);
		ht_buf(t, ctx, 1, PAGE, HT_VA(t, 0));
		ht_buf(t, ctx, 2, 4 * PAGE, 0);
		bind = (struct viova_codec_bind){0, 2, HT_VA(t, 8), 2 * PAGE, PAGE, 0};
		HT_OK(t, viova_codec_enc_vm_bind(&t->enc, ctx, &bind, NULL));
	}
	budget_matches(t, b);
	HT_OK(t, viova_codec_enc_ctx_destroy(&t->enc, 2, NULL));
	budget_matches(t, b);

	/* a zombie keeps its charge until its job is done and it is reaped */
	sim_debug_pause(t->sim);
	submit(t, 1, 1, 1, HT_VA(t, 0));
	HT_OK(t, viova_codec_enc_gem_close(&t->enc, 1, 1, NULL));
	viova_host_counters(t->h, &k);
	assert_int_equal(k.zombies, 1);
	budget_matches(t, b);
	sim_debug_resume(t->sim);
	HT_OK(t, viova_codec_enc_wait_fence(&t->enc, 1, 1, 5000000000ull, 128, NULL));
	HT_OK(t, viova_codec_enc_nop(&t->enc, NULL)); /* the next batch reaps it */
	viova_host_counters(t->h, &k);
	assert_int_equal(k.zombies, 0);
	budget_matches(t, b);

	/* host destroy with live buffers, bind pieces, a SET_IOVA mapping and a busy zombie */
	sim_debug_pause(t->sim);
	submit(t, 3, 1, 1, HT_VA(t, 0));
	HT_OK(t, viova_codec_enc_gem_close(&t->enc, 3, 1, NULL));
	sim_debug_resume(t->sim);
	viova_host_counters(t->h, &k);
	assert_true(k.buffers > 0 && k.mappings > 0);
	ht_free(t);
	budget_empty(b, 0);
	viova_host_budget_destroy(b);
}

/* ---- two hosts on two threads ------------------------------------------------------------ */

#define HAMMER_ROUNDS 400
#define HAMMER_HOLD 6 /* buffers each thread tries to hold at once: 9 pages, 3 mapped */

/* One thread alone reaches the byte limit every round; together they meet all three. */
static const struct viova_host_budget_limits hammer_lim = {
    .max_bytes = 6 * PAGE, .max_buffers = 5, .max_mappings = 2};

struct hammer {
	struct ht *t;
	struct viova_host_budget *b;
	uint64_t created, refused, other_failures, over_limit;
};

/* One command in its own batch; returns failures (no cmocka asserts off the main thread). */
static int one(struct ht *t)
{
	size_t len;
	int ret;

	if (viova_codec_enc_finish(&t->enc, &len))
		return -1;
	ret = viova_host_process(t->h, t->batch, len);
	viova_codec_enc_reset(&t->enc);
	return ret;
}

static void check_limits(struct hammer *w)
{
	struct viova_host_budget_usage u;

	viova_host_budget_usage(w->b, &u);
	if (u.bytes > hammer_lim.max_bytes || u.buffers > hammer_lim.max_buffers ||
	    u.mappings > hammer_lim.max_mappings)
		w->over_limit++;
}

static void *hammer(void *arg)
{
	struct hammer *w = arg;
	struct ht *t = w->t;
	bool held[HAMMER_HOLD];

	for (int r = 0; r < HAMMER_ROUNDS; r++) {
		for (uint32_t i = 0; i < HAMMER_HOLD; i++) {
			/* odd ones mapped, even ones 2 pages, so all three counters are contended
			 */
			uint64_t iova = (i & 1) ? HT_VA(t, i) : 0;
			uint64_t size = (i & 1) ? PAGE : 2 * PAGE;

			viova_codec_enc_gem_new(&t->enc, 1, i + 1, 0, size, 0, iova, NULL);
			held[i] = one(t) == 0;
			if (held[i])
				w->created++;
			else if (strstr(viova_host_last_error(t->h), "daemon budget"))
				w->refused++;
			else
				w->other_failures++;
			check_limits(w);
		}
		for (uint32_t i = 0; i < HAMMER_HOLD; i++) {
			if (!held[i])
				continue;
			viova_codec_enc_gem_close(&t->enc, 1, i + 1, NULL);
			if (one(t))
				w->other_failures++;
		}
		check_limits(w);
	}
	return NULL;
}

static void test_concurrent_hosts(void **state)
{
	struct viova_host_budget *b;
	struct hammer w[2] = {0};
	pthread_t th[2];
	(void)state;

	assert_int_equal(viova_host_budget_create(&hammer_lim, &b), 0);
	for (int i = 0; i < 2; i++) {
		w[i].b = b;
		w[i].t = ht_new_qb(NULL, b, i ? "connection 2" : "connection 1");
		ht_ctx(w[i].t, 1, 1);
	}
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, hammer, &w[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(w[i].other_failures, 0);
		assert_int_equal(w[i].over_limit, 0);
		/* 9 pages wanted against 6: each thread alone already meets the byte limit */
		assert_true(w[i].refused > 0);
	}
	/*
	 * Not per thread: a thread preempted while it holds the whole budget may leave the other
	 * refused for all of its rounds, which is the budget working.
	 */
	assert_true(w[0].created + w[1].created >= HAMMER_ROUNDS);
	budget_empty(b, 2);
	/* the context is destroyed with the host: the budget holds nothing more */
	ht_free(w[0].t);
	ht_free(w[1].t);
	budget_empty(b, 0);
	viova_host_budget_destroy(b);
}

/* Refcounting: the creator may drop the budget first; the last host frees it. */
static void test_budget_lifetime(void **state)
{
	struct viova_host_budget_limits lim = {.max_buffers = 1};
	struct viova_host_budget *b;
	struct viova_host_quotas bad = {.max_device_buffers = (1u << 26) + 1};
	struct viova_host_config cfg = {.budget = NULL, .quotas = bad};
	struct viova_host *h;
	struct ht *t;
	(void)state;

	assert_int_equal(viova_host_budget_create(NULL, NULL), -EINVAL);
	assert_int_equal(viova_host_budget_usage(NULL, NULL), -EINVAL);
	viova_host_budget_destroy(NULL);
	assert_int_equal(viova_host_create(&cfg, &h), -EINVAL); /* device budget out of range */
	assert_int_equal(viova_host_budget_create(&lim, &b), 0);
	t = ht_new_qb(NULL, b, NULL);
	viova_host_budget_destroy(b); /* t still holds it (valgrind: no use after free) */
	ht_ctx(t, 1, 1);
	ht_buf(t, 1, 1, PAGE, 0);
	HT_FAILS(t, VIOVA_EDQUOT, viova_codec_enc_gem_new(&t->enc, 1, 2, 0, PAGE, 0, 0, NULL));
	said(t, "this device holds 1", NULL);
	ht_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_device_budget),    cmocka_unit_test(test_daemon_budget_two_hosts),
	    cmocka_unit_test(test_release_paths),    cmocka_unit_test(test_release_teardown),
	    cmocka_unit_test(test_concurrent_hosts), cmocka_unit_test(test_budget_lifetime),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

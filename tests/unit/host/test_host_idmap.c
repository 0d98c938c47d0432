/* SPDX-License-Identifier: MIT */
/*
 * test_host_idmap.c - host/host_idmap.c, the guest id -> arena index map behind every buffer
 * lookup of the host core: API and error paths, then a randomized run against a plain array
 * model (including the backward-shift deletion, the part that is easy to get wrong).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "host_priv.h"

static void test_api(void **state)
{
	struct host_idmap m = {0};
	(void)state;

	assert_int_equal(host_idmap_get(&m, 1), HOST_NIL); /* empty, never allocated */
	assert_int_equal(host_idmap_del(&m, 1), -ENOENT);
	assert_int_equal(host_idmap_put(&m, 0, 1), -EINVAL);
	assert_int_equal(host_idmap_put(&m, 1, HOST_NIL), -EINVAL);
	assert_int_equal(host_idmap_put(&m, 7, 70), 0);
	assert_int_equal(host_idmap_put(&m, 7, 71), -EEXIST);
	assert_int_equal(host_idmap_get(&m, 7), 70);
	assert_int_equal(host_idmap_get(&m, 0), HOST_NIL);
	assert_int_equal(host_idmap_del(&m, 8), -ENOENT);
	assert_int_equal(host_idmap_del(&m, 7), 0);
	assert_int_equal(host_idmap_get(&m, 7), HOST_NIL);
	assert_int_equal(m.count, 0);
	/* reserve: afterwards n puts cannot grow (hence cannot fail) */
	assert_int_equal(host_idmap_reserve(&m, 100), 0);
	{
		uint32_t cap = m.cap;

		assert_true(cap >= 134);
		for (uint32_t i = 1; i <= 100; i++)
			assert_int_equal(host_idmap_put(&m, i * 977, i), 0);
		assert_int_equal(m.cap, cap);
		assert_true(host_idmap_mem_bytes(&m) == (size_t)cap * 8);
	}
	host_idmap_free(&m);
	assert_int_equal(host_idmap_mem_bytes(&m), 0);
}

/* Keys that all hash near each other stress probe runs and the shift on deletion. */
static void run_model(uint32_t key_space, uint32_t ops, uint64_t seed)
{
	struct host_idmap m = {0};
	uint32_t *model = calloc(key_space + 1, sizeof(*model)); /* 0 = absent, else val + 1 */
	uint32_t live = 0;

	assert_non_null(model);
	for (uint32_t n = 0; n < ops; n++) {
		uint32_t key, val;

		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		key = 1 + (uint32_t)(seed % key_space);
		val = (uint32_t)(seed >> 40);
		if ((seed >> 20) % 3 != 0) {
			int ret = host_idmap_put(&m, key, val);

			assert_int_equal(ret, model[key] ? -EEXIST : 0);
			if (!ret) {
				model[key] = val + 1;
				live++;
			}
		} else {
			int ret = host_idmap_del(&m, key);

			assert_int_equal(ret, model[key] ? 0 : -ENOENT);
			if (!ret) {
				model[key] = 0;
				live--;
			}
		}
		assert_int_equal(m.count, live);
		if (n % 64 == 0) {
			for (uint32_t k = 1; k <= key_space; k++)
				assert_int_equal(host_idmap_get(&m, k),
						 model[k] ? model[k] - 1 : HOST_NIL);
		}
	}
	/* load factor bound holds */
	assert_true(m.count <= m.cap / 4 * 3);
	host_idmap_free(&m);
	free(model);
}

static void test_model_small(void **state)
{
	(void)state;
	run_model(40, 20000, 0x1234567);
}

static void test_model_large(void **state)
{
	(void)state;
	run_model(5000, 60000, 0xabcdef01);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_api),
	    cmocka_unit_test(test_model_small),
	    cmocka_unit_test(test_model_large),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

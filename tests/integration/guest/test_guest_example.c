/* SPDX-License-Identifier: MIT */
/*
 * test_guest_example.c - run the example program of docs/guest-api.md (extracted from the doc
 * and compiled by the build) against a real viova-host: it must exit 0 and print the word the
 * GPU wrote. Keeps the documentation's example compiling and correct.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "guest_test.h"

#ifndef GUEST_EXAMPLE_PATH
#error "GUEST_EXAMPLE_PATH (the compiled docs/guest-api.md example) must be defined by meson"
#endif

static void test_doc_example(void **state)
{
	struct gt_daemon d;
	char out[512] = "";
	int pfd[2], st;
	ssize_t n;
	pid_t pid;
	(void)state;

	assert_int_equal(gt_daemon_start(&d), 0);
	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		execl(GUEST_EXAMPLE_PATH, GUEST_EXAMPLE_PATH, d.uri, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	n = read(pfd[0], out, sizeof(out) - 1);
	close(pfd[0]);
	st = gt_wait_pid(pid, 10000);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		gt_daemon_dump_log(&d);
		fail_msg("the example exited with status 0x%x; it printed: %s", st, out);
	}
	assert_true(n > 0);
	assert_non_null(strstr(out, "is 0xc0ffee00"));
	assert_int_equal(gt_daemon_stop(&d), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_doc_example),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/*
 * test_guest_daemon.c - the viova-host daemon's socket server:
 *   - disconnect cleanup: a guest that exits without closing, or is SIGKILLed with jobs in
 *     flight, leaves nothing behind on the host (daemon STATS back to zero);
 *   - hostile frames (garbage first frame, bad magic, oversized, truncated, a batch with file
 *     descriptors, an unsealed or too small memfd) close that connection only, with a BYE or
 *     a refusal saying why, and the daemon keeps serving others;
 *   - --max-connections refuses the extra guest with EBUSY;
 *   - SIGTERM: guests get BYE ("shutting down", seen as -ENODEV), the socket file goes,
 *     exit status 0; --help and bad arguments.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "guest_test.h"
#include "viova/codec.h"
#include "viova/socket.h"

#define SEC 1000000000ull
#define KIB 1024ull

static struct gt_daemon daemon_;

static int setup(void **state)
{
	(void)state;
	return gt_daemon_start(&daemon_);
}

static int teardown(void **state)
{
	(void)state;
	return gt_daemon_stop(&daemon_) == 0 ? 0 : -1;
}

/* Poll the daemon's totals until no guest connection is left (bounded). */
static void wait_idle(struct viova_guest_host_stats *hs)
{
	for (int i = 0; i < 500; i++) {
		GT_OK(viova_guest_host_stats(daemon_.uri, 5 * SEC, hs));
		if (hs->connections == 0)
			return;
		gt_sleep_ms(10);
	}
	fail_msg("a guest connection is still alive after 5 s");
}

/* A guest process that builds state, then exits abruptly (exit_how: 0 _exit, 1 SIGKILL). */
static void dirty_guest(int exit_how)
{
	struct viova_guest_device *dev;
	struct viova_guest_ctx *ctx, *c2;
	struct viova_guest_bo *bo[16];
	struct viova_sim_job jobs[16];
	uint64_t fence, iova, range;

	if (viova_guest_device_open(daemon_.uri, NULL, &dev) ||
	    viova_guest_ctx_create(dev, NULL, &ctx) ||
	    viova_guest_ctx_clone(ctx, VIOVA_CLONE_ALL, NULL, &c2))
		_exit(1);
	for (int i = 0; i < 16; i++) {
		if (viova_guest_bo_create(ctx, 1024 * KIB, 0, NULL, &bo[i]) ||
		    viova_guest_bo_iova(bo[i], NULL, &iova))
			_exit(2);
		jobs[i] = viova_codec_sim_fill(iova, 1024 * KIB, (uint32_t)i);
	}
	if (viova_guest_vm_alloc(viova_guest_ctx_vm(ctx), 64 * KIB, 0, &range) ||
	    viova_guest_vm_bind(viova_guest_ctx_vm(ctx), bo[0], range, 64 * KIB, 0, 0))
		_exit(3);
	struct viova_guest_submit_bo sb = {bo[0], VIOVA_SUBMIT_BO_WRITE, 0};
	struct viova_guest_submit s = {.format = VIOVA_SUBMIT_FORMAT_SIM,
				       .bo_count = 1,
				       .bos = &sb,
				       .cmds = jobs,
				       .cmd_count = 1};

	for (int k = 0; k < 8; k++)
		if (viova_guest_submit(ctx, &s, &fence, NULL))
			_exit(4);
	if (viova_guest_sync(dev, 5 * SEC))
		_exit(5);
	if (exit_how)
		raise(SIGKILL);
	_exit(0); /* no close: the host must clean up on its own */
}

static void test_disconnect_cleanup(void **state)
{
	struct viova_guest_host_stats hs;
	(void)state;

	for (int how = 0; how < 2; how++) {
		pid_t pid = fork();
		int st;

		assert_true(pid >= 0);
		if (pid == 0)
			dirty_guest(how);
		st = gt_wait_pid(pid, 10000);
		if (how == 0)
			assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		else
			assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
		wait_idle(&hs);
		assert_int_equal(hs.contexts, 0);
		assert_int_equal(hs.vms, 0);
		assert_int_equal(hs.buffers, 0);
		assert_int_equal(hs.mappings, 0);
		assert_int_equal(hs.jobs_pending, 0);
		assert_int_equal(hs.bytes, 0);
	}
	assert_true(hs.connections_total >= 2);
}

static int raw_connect(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = 5};
	int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);

	memcpy(sa.sun_path, daemon_.path, strlen(daemon_.path) + 1);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static int send_with_fd(int fd, const void *buf, size_t len, int passfd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = {0};
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *cm;

	if (passfd >= 0) {
		msg.msg_control = cbuf;
		msg.msg_controllen = sizeof(cbuf);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &passfd, sizeof(int));
	}
	return (int)sendmsg(fd, &msg, MSG_NOSIGNAL);
}

/* The next frame must be a BYE or HELLO_REPLY refusal containing `why`, then EOF. */
static void expect_refusal(int fd, const char *why)
{
	union {
		struct viova_sock_frame f;
		struct viova_sock_bye bye;
		struct viova_sock_hello_reply hr;
		uint8_t raw[512];
	} in;
	ssize_t n = recv(fd, &in, sizeof(in), 0);
	const char *msg;

	assert_true(n >= (ssize_t)sizeof(in.f));
	assert_int_equal(in.f.magic, VIOVA_SOCK_MAGIC);
	if (in.f.type == VIOVA_SOCK_BYE) {
		assert_int_equal(n, sizeof(in.bye));
		msg = (const char *)in.bye.message;
	} else {
		assert_int_equal(in.f.type, VIOVA_SOCK_HELLO_REPLY);
		assert_int_not_equal(in.hr.status, 0);
		msg = (const char *)in.hr.message;
	}
	if (!strstr(msg, why))
		fail_msg("refusal \"%s\" does not mention \"%s\"", msg, why);
	assert_int_equal(recv(fd, &in, sizeof(in), 0), 0);
	close(fd);
}

static int sealed_memfd(size_t size, bool seal)
{
	int fd = memfd_create("t", MFD_ALLOW_SEALING);

	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	if (seal)
		assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK), 0);
	return fd;
}

static void test_hostile_frames(void **state)
{
	struct viova_guest_host_stats before, after;
	struct viova_sock_hello h = {
	    .frame = {.magic = VIOVA_SOCK_MAGIC, .type = VIOVA_SOCK_HELLO, .length = sizeof(h)},
	    .wire_major = VIOVA_WIRE_MAJOR,
	    .area_size = 65536,
	    .doorbell_offset = 65536,
	};
	struct viova_guest_device *dev = NULL;
	struct viova_guest_ctx *ctx;
	struct viova_sock_frame f;
	uint8_t junk[64];
	int fd, mfd;
	(void)state;

	/* a healthy guest stays connected through all of it */
	GT_OK(viova_guest_device_open(daemon_.uri, NULL, &dev));
	GT_OK(viova_guest_ctx_create(dev, NULL, &ctx));
	GT_OK(viova_guest_sync(dev, 5 * SEC));
	GT_OK(viova_guest_host_stats(daemon_.uri, 5 * SEC, &before));

	memset(junk, 0x41, sizeof(junk));
	fd = raw_connect();
	assert_true(send(fd, junk, sizeof(junk), 0) > 0);
	expect_refusal(fd, "first frame must be HELLO");

	/* HELLO with an unsealed memfd, a too small one, none, bad flags */
	fd = raw_connect();
	mfd = sealed_memfd(65536 + 4096, false);
	assert_true(send_with_fd(fd, &h, sizeof(h), mfd) > 0);
	close(mfd);
	expect_refusal(fd, "F_SEAL_SHRINK");
	fd = raw_connect();
	mfd = sealed_memfd(65536, true);
	assert_true(send_with_fd(fd, &h, sizeof(h), mfd) > 0);
	close(mfd);
	expect_refusal(fd, "doorbell_offset");
	fd = raw_connect();
	assert_true(send_with_fd(fd, &h, sizeof(h), -1) > 0);
	expect_refusal(fd, "one memfd");
	fd = raw_connect();
	h.flags = 1;
	mfd = sealed_memfd(65536 + 4096, true);
	assert_true(send_with_fd(fd, &h, sizeof(h), mfd) > 0);
	expect_refusal(fd, "flags");
	h.flags = 0;

	/* after a good HELLO: a bad magic, an oversized frame, a truncated one, fds on a batch */
	for (int k = 0; k < 4; k++) {
		struct viova_sock_hello_reply r;
		size_t big = 2u << 20;
		uint8_t *buf = calloc(1, big);

		fd = raw_connect();
		assert_true(send_with_fd(fd, &h, sizeof(h), mfd) > 0);
		assert_int_equal(recv(fd, &r, sizeof(r), 0), (ssize_t)sizeof(r));
		assert_int_equal(r.status, 0);
		f = (struct viova_sock_frame){VIOVA_SOCK_MAGIC, VIOVA_SOCK_BATCH, 0, 0, 0};
		if (k == 0) {
			f.magic = 0xdeadbeef;
			f.length = sizeof(f);
			assert_true(send(fd, &f, sizeof(f), 0) > 0);
			expect_refusal(fd, "malformed frame");
		} else if (k == 1) {
			int sz = 4 << 20;

			setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
			f.length = (uint32_t)big;
			memcpy(buf, &f, sizeof(f));
			if (send(fd, buf, big, 0) > 0)
				expect_refusal(fd, "split batches");
			else
				close(fd); /* this kernel's socket limit refused it already */
		} else if (k == 2) {
			f.length = 100; /* claims more than was sent */
			assert_true(send(fd, &f, sizeof(f), 0) > 0);
			expect_refusal(fd, "malformed frame");
		} else {
			f.length = sizeof(f);
			assert_true(send_with_fd(fd, &f, sizeof(f), mfd) > 0);
			expect_refusal(fd, "file descriptors");
		}
		free(buf);
	}
	close(mfd);

	/* the healthy guest did not notice; the daemon counted every rejection */
	GT_OK(viova_guest_sync(dev, 5 * SEC));
	struct viova_guest_bo *bo;

	GT_OK(viova_guest_bo_create(ctx, 4 * KIB, 0, NULL, &bo));
	GT_OK(viova_guest_sync(dev, 5 * SEC));
	GT_OK(viova_guest_host_stats(daemon_.uri, 5 * SEC, &after));
	assert_int_equal(after.rejected, before.rejected + 9);
	assert_int_equal(after.buffers, 1);
	GT_OK(viova_guest_ctx_destroy(ctx));
	viova_guest_device_close(dev);
	wait_idle(&after);
}

static void test_max_connections(void **state)
{
	const char *extra[] = {"--max-connections", "1", NULL};
	struct viova_guest_device *a = NULL, *b = NULL;
	struct gt_daemon d2;
	(void)state;

	assert_int_equal(gt_daemon_start_args(&d2, extra), 0);
	GT_OK(viova_guest_device_open(d2.uri, NULL, &a));
	assert_int_equal(viova_guest_device_open(d2.uri, NULL, &b), -EBUSY);
	assert_non_null(strstr(viova_guest_last_error(), "--max-connections"));
	viova_guest_device_close(a);
	assert_int_equal(gt_daemon_stop(&d2), 0);
}

static void test_sigterm_shutdown(void **state)
{
	struct viova_guest_device *dev = NULL;
	struct viova_guest_ctx *ctx;
	struct gt_daemon d2;
	struct stat sb;
	int st;
	(void)state;

	assert_int_equal(gt_daemon_start(&d2), 0);
	GT_OK(viova_guest_device_open(d2.uri, NULL, &dev));
	GT_OK(viova_guest_ctx_create(dev, NULL, &ctx));
	GT_OK(viova_guest_sync(dev, 5 * SEC));
	kill(d2.pid, SIGTERM);
	st = gt_wait_pid(d2.pid, 5000);
	d2.pid = 0;
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_not_equal(stat(d2.path, &sb), 0); /* socket file removed */
	assert_int_equal(viova_guest_sync(dev, 5 * SEC), -ENODEV);
	assert_non_null(strstr(viova_guest_last_error(), "shutting down"));
	viova_guest_device_close(dev);
	gt_daemon_stop(&d2);
}

static int run_host(const char *a1, const char *a2)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		dup2(fd, 1);
		dup2(fd, 2);
		execl(VIOVA_HOST_PATH, VIOVA_HOST_PATH, a1, a2, (char *)NULL);
		_exit(127);
	}
	return gt_wait_pid(pid, 5000);
}

static void test_arguments(void **state)
{
	int st;
	(void)state;

	st = run_host("--help", NULL);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	st = run_host("--listen", "tcp:1234");
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 2);
	st = run_host("--bogus", NULL);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 2);
	st = run_host(NULL, NULL);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 2);
	/* a live daemon's socket is not stolen */
	st = run_host("--listen", daemon_.uri);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_disconnect_cleanup), cmocka_unit_test(test_hostile_frames),
	    cmocka_unit_test(test_max_connections),    cmocka_unit_test(test_sigterm_shutdown),
	    cmocka_unit_test(test_arguments),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

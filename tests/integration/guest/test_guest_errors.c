/* SPDX-License-Identifier: MIT */
/*
 * test_guest_errors.c - what a guest learns when things go wrong:
 *   - a host-side failure reaches the error log with its seqno, command, context and errno;
 *   - a GPU fault loses the context (status, async record with the SUBMIT's seqno and the
 *     faulting iova), later calls on it fail with -EIO, and cloning it recovers;
 *   - version refusals: a host speaking another wire major (announced in HELLO_REPLY or in
 *     the capset) and a daemon refusing a guest's wrong major, each with a clear message;
 *   - a host that dies: waits end with -ENODEV quickly instead of hanging.
 */
#include <inttypes.h>
#include <pthread.h>
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

GT_SHARED_DAEMON(daemon_)

/* Read every record available after a sync; returns how many. */
static uint32_t read_all(struct viova_guest_device *dev, struct viova_err_rec *recs, uint32_t max)
{
	uint32_t n = 0;

	GT_OK(viova_guest_sync(dev, 5 * SEC));
	GT_OK(viova_guest_read_errors(dev, recs, max, &n));
	return n;
}

static void test_error_log_contents(void **state)
{
	struct viova_guest_device *dev = NULL;
	struct viova_guest_ctx *ctx;
	struct viova_guest_bo *big, *bo;
	struct viova_err_rec recs[8];
	struct viova_guest_stats st;
	struct viova_guest_ctx_status cs;
	struct viova_capset caps;
	uint64_t seq_new, seq_dl;
	char line[256];
	uint8_t buf[16];
	uint32_t n;
	(void)state;

	GT_OK(viova_guest_device_open(daemon_.uri, NULL, &dev));
	GT_OK(viova_guest_device_caps(dev, &caps));
	GT_OK(viova_guest_ctx_create(dev, NULL, &ctx));
	GT_OK(viova_guest_bo_create(ctx, 4 * KIB, 0, NULL, &bo));
	assert_int_equal(read_all(dev, recs, 8), 0);

	/*
	 * Failures only the host can see: a buffer over the context's byte quota (created without
	 * an iova, so the context survives), then a download from it (the host does not know it).
	 */
	GT_OK(viova_guest_bo_create(ctx, caps.max_bytes + 4 * KIB, VIOVA_GUEST_BO_NO_IOVA, NULL,
				    &big));
	GT_OK(viova_guest_flush(dev, &seq_new));
	assert_int_equal(viova_guest_bo_download(big, 0, buf, sizeof(buf), 5 * SEC), -EIO);
	assert_non_null(strstr(viova_guest_last_error(), "ENOENT"));
	GT_OK(viova_guest_device_stats(dev, &st));
	seq_dl = st.last_seqno;

	n = read_all(dev, recs, 8);
	assert_int_equal(n, 2);
	assert_int_equal(recs[0].seqno, seq_new);
	assert_int_equal(recs[0].cmd, VIOVA_CMD_GEM_NEW);
	assert_int_equal(recs[0].err, VIOVA_EDQUOT);
	assert_int_equal(recs[0].reason, VIOVA_REASON_NONE);
	assert_int_equal(recs[0].ctx_id, viova_guest_ctx_id(ctx));
	assert_false(recs[0].flags & VIOVA_ERR_CTX_LOST);
	assert_int_equal(recs[1].seqno, seq_dl);
	assert_int_equal(recs[1].cmd, VIOVA_CMD_GEM_DOWNLOAD);
	assert_int_equal(recs[1].err, VIOVA_ENOENT);
	viova_guest_format_error(&recs[0], line, sizeof(line));
	assert_non_null(strstr(line, "GEM_NEW"));
	assert_non_null(strstr(line, "EDQUOT"));
	/* read once: a second read returns nothing new */
	GT_OK(viova_guest_read_errors(dev, recs, 8, &n));
	assert_int_equal(n, 0);
	GT_OK(viova_guest_device_stats(dev, &st));
	assert_int_equal(st.errors_read, 2);
	assert_int_equal(st.errors_missed, 0);
	GT_OK(viova_guest_ctx_status(ctx, &cs));
	assert_false(cs.lost);

	/* refused locally, before anything is sent, with a message naming the buffer */
	assert_int_equal(viova_guest_bo_upload(bo, 4 * KIB, buf, 1), -EINVAL);
	assert_non_null(strstr(viova_guest_last_error(), "outside buffer"));
	assert_int_equal(
	    viova_guest_format_error(&(struct viova_err_rec){.cmd = VIOVA_CMD_SET_IOVA,
							     .seqno = 12,
							     .ctx_id = 3,
							     .err = VIOVA_EBUSY,
							     .flags = VIOVA_ERR_CTX_LOST},
				     line, sizeof(line)) > 0,
	    1);
	assert_non_null(strstr(line, "SET_IOVA"));
	assert_non_null(strstr(line, "seqno 12"));
	assert_non_null(strstr(line, "EBUSY"));
	assert_non_null(strstr(line, "context lost"));
	GT_OK(viova_guest_bo_close(big));
	GT_OK(viova_guest_bo_close(bo));
	GT_OK(viova_guest_ctx_destroy(ctx));
	viova_guest_device_close(dev);
}

static void test_gpu_fault_loses_context(void **state)
{
	struct viova_guest_device *dev = NULL;
	struct viova_guest_ctx *ctx, *rescue;
	struct viova_guest_bo *bo, *bo2;
	struct viova_guest_ctx_status cs;
	struct viova_err_rec recs[8];
	uint64_t iova, fence, seq, bad;
	char line[256];
	uint32_t n;
	(void)state;

	GT_OK(viova_guest_device_open(daemon_.uri, NULL, &dev));
	GT_OK(viova_guest_ctx_create(dev, NULL, &ctx));
	GT_OK(viova_guest_bo_create(ctx, 4 * KIB, 0, NULL, &bo));
	GT_OK(viova_guest_bo_iova(bo, NULL, &iova));
	bad = iova + 64 * KIB * 1024; /* nothing is mapped there */
	struct viova_sim_job job = viova_codec_sim_fill(bad, 4 * KIB, 0x1);
	struct viova_guest_submit_bo b = {bo, VIOVA_SUBMIT_BO_WRITE, 0};
	struct viova_guest_submit s = {.format = VIOVA_SUBMIT_FORMAT_SIM,
				       .bo_count = 1,
				       .bos = &b,
				       .cmds = &job,
				       .cmd_count = 1};

	GT_OK(viova_guest_submit(ctx, &s, &fence, &seq));
	/* the faulted job's fence still signals: the wait ends, the context is lost */
	GT_OK(viova_guest_fence_wait(ctx, fence, 5 * SEC));
	GT_OK(viova_guest_ctx_status(ctx, &cs));
	assert_true(cs.lost);
	assert_int_equal(cs.lost_err, VIOVA_EFAULT);
	assert_int_equal(cs.faults, 1);
	assert_int_equal(cs.fault_iova, bad);

	n = read_all(dev, recs, 8);
	assert_int_equal(n, 1);
	assert_int_equal(recs[0].seqno, seq);
	assert_int_equal(recs[0].cmd, VIOVA_CMD_SUBMIT);
	assert_int_equal(recs[0].ctx_id, viova_guest_ctx_id(ctx));
	assert_int_equal(recs[0].err, VIOVA_EFAULT);
	assert_int_equal(recs[0].detail0, bad);
	assert_int_equal(recs[0].detail1, fence);
	assert_true(recs[0].flags & VIOVA_ERR_ASYNC);
	assert_true(recs[0].flags & VIOVA_ERR_CTX_LOST);
	viova_guest_format_error(&recs[0], line, sizeof(line));
	assert_non_null(strstr(line, "EFAULT"));
	assert_non_null(strstr(line, "after processing"));
	assert_non_null(strstr(line, "context lost"));

	/* a lost context refuses work locally, with the reason */
	assert_int_equal(viova_guest_bo_create(ctx, 4 * KIB, 0, NULL, &bo2), -EIO);
	assert_non_null(strstr(viova_guest_last_error(), "lost"));
	assert_int_equal(viova_guest_submit(ctx, &s, &fence, NULL), -EIO);

	/* recovery: clone the lost context (new VM), work goes on there */
	GT_OK(viova_guest_ctx_clone(ctx, VIOVA_CLONE_FLAGS, NULL, &rescue));
	GT_OK(viova_guest_bo_create(rescue, 4 * KIB, 0, NULL, &bo2));
	GT_OK(viova_guest_bo_iova(bo2, NULL, &iova));
	job = viova_codec_sim_fill(iova, 4 * KIB, 0x600d600d);
	b.bo = bo2;
	GT_OK(viova_guest_submit(rescue, &s, &fence, NULL));
	GT_OK(viova_guest_fence_wait(rescue, fence, 5 * SEC));
	uint32_t word;

	GT_OK(viova_guest_bo_download(bo2, 100, &word, 4, 5 * SEC));
	assert_int_equal(word, 0x600d600d);
	GT_OK(viova_guest_ctx_status(rescue, &cs));
	assert_false(cs.lost);

	/* the lost context's buffer keeps its iova until the context is destroyed */
	GT_OK(viova_guest_bo_close(bo));
	GT_OK(viova_guest_retire(dev, 0, NULL) == -ETIMEDOUT ? 0 : -1);
	GT_OK(viova_guest_ctx_destroy(ctx));
	GT_OK(viova_guest_retire(dev, 5 * SEC, NULL));
	assert_int_equal(read_all(dev, recs, 8), 0);
	GT_OK(viova_guest_ctx_destroy(rescue));
	viova_guest_device_close(dev);
}

/* ---- fake hosts for the handshake checks ---- */

struct fake {
	char path[128];
	int lfd;
	int mode; /* 0: capset with major 2; 1: status EPROTONOSUPPORT; 2: garbage; 3: close */
	pthread_t thread;
};

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	struct viova_sock_hello_reply r = {
	    .frame = {.magic = VIOVA_SOCK_MAGIC,
		      .type = VIOVA_SOCK_HELLO_REPLY,
		      .length = sizeof(r)},
	    .wire_major = 2,
	};
	uint8_t in[512];
	int fd = accept(f->lfd, NULL, NULL);

	if (fd < 0)
		return NULL;
	if (recv(fd, in, sizeof(in), 0) > 0) {
		if (f->mode == 0) {
			r.caps.wire_major = 2;
			r.caps.wire_minor = 7;
			send(fd, &r, sizeof(r), 0);
		} else if (f->mode == 1) {
			r.status = VIOVA_EPROTONOSUPPORT;
			snprintf((char *)r.message, sizeof(r.message), "fake speaks 2.0");
			send(fd, &r, sizeof(r), 0);
		} else if (f->mode == 2) {
			send(fd, "HTTP/1.1 400\r\n", 14, 0);
		}
	}
	gt_sleep_ms(50);
	close(fd);
	return NULL;
}

static void fake_start(struct fake *f, int mode)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	f->mode = mode;
	snprintf(f->path, sizeof(f->path), "%s/fake%d.sock", daemon_.dir, mode);
	memcpy(sa.sun_path, f->path, strlen(f->path) + 1);
	f->lfd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	assert_true(f->lfd >= 0);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(f->lfd, 1), 0);
	assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
}

static void fake_stop(struct fake *f)
{
	pthread_join(f->thread, NULL);
	close(f->lfd);
	unlink(f->path);
}

static void test_wire_version_refused(void **state)
{
	struct viova_guest_device_options o = {.timeout_ns = 2 * SEC};
	struct viova_guest_device *dev = NULL;
	char uri[160];
	struct fake f;
	(void)state;

	fake_start(&f, 0);
	snprintf(uri, sizeof(uri), "unix:%s", f.path);
	assert_int_equal(viova_guest_device_open(uri, &o, &dev), -EPROTONOSUPPORT);
	assert_non_null(strstr(viova_guest_last_error(), "2.7"));
	assert_non_null(strstr(viova_guest_last_error(), "1.0"));
	fake_stop(&f);

	fake_start(&f, 1);
	snprintf(uri, sizeof(uri), "unix:%s", f.path);
	assert_int_equal(viova_guest_device_open(uri, &o, &dev), -EPROTONOSUPPORT);
	assert_non_null(strstr(viova_guest_last_error(), "fake speaks 2.0"));
	fake_stop(&f);

	fake_start(&f, 2);
	snprintf(uri, sizeof(uri), "unix:%s", f.path);
	assert_int_equal(viova_guest_device_open(uri, &o, &dev), -EPROTO);
	fake_stop(&f);

	fake_start(&f, 3);
	snprintf(uri, sizeof(uri), "unix:%s", f.path);
	assert_int_equal(viova_guest_device_open(uri, &o, &dev), -EPROTO);
	fake_stop(&f);
	assert_null(dev);
}

/* The real daemon refuses a HELLO with another major, and says which versions. */
static void test_daemon_refuses_major(void **state)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct viova_sock_hello h = {
	    .frame = {.magic = VIOVA_SOCK_MAGIC, .type = VIOVA_SOCK_HELLO, .length = sizeof(h)},
	    .wire_major = VIOVA_WIRE_MAJOR + 1,
	    .area_size = 65536,
	    .doorbell_offset = 65536,
	};
	struct viova_sock_hello_reply r;
	char cbuf[CMSG_SPACE(sizeof(int))] = {0};
	struct iovec iov = {.iov_base = &h, .iov_len = sizeof(h)};
	struct msghdr msg = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	int fd, memfd;
	(void)state;

	memfd = memfd_create("t", MFD_ALLOW_SEALING);
	assert_int_equal(ftruncate(memfd, 65536 + 4096), 0);
	assert_int_equal(fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK), 0);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &memfd, sizeof(int));
	memcpy(sa.sun_path, daemon_.path, strlen(daemon_.path) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(sendmsg(fd, &msg, 0), (ssize_t)sizeof(h));
	assert_int_equal(recv(fd, &r, sizeof(r), 0), (ssize_t)sizeof(r));
	assert_int_equal(r.frame.type, VIOVA_SOCK_HELLO_REPLY);
	assert_int_equal(r.status, VIOVA_EPROTONOSUPPORT);
	assert_int_equal(r.wire_major, VIOVA_WIRE_MAJOR);
	assert_non_null(strstr((char *)r.message, "wire"));
	assert_int_equal(recv(fd, &r, sizeof(r), 0), 0); /* and it hangs up */
	close(fd);
	close(memfd);
}

static void test_host_death_no_hang(void **state)
{
	struct gt_daemon d2;
	struct viova_guest_device *dev = NULL;
	struct viova_guest_ctx *ctx;
	struct viova_guest_bo *bo;
	uint64_t t0;
	uint8_t b;
	(void)state;

	assert_int_equal(gt_daemon_start(&d2), 0);
	GT_OK(viova_guest_device_open(d2.uri, NULL, &dev));
	GT_OK(viova_guest_ctx_create(dev, NULL, &ctx));
	GT_OK(viova_guest_bo_create(ctx, 4 * KIB, 0, NULL, &bo));
	GT_OK(viova_guest_sync(dev, 5 * SEC));
	kill(d2.pid, SIGKILL);
	waitpid(d2.pid, NULL, 0);
	d2.pid = 0;
	t0 = gt_now_ns();
	assert_int_equal(viova_guest_bo_download(bo, 0, &b, 1, 30 * SEC), -ENODEV);
	assert_true(gt_now_ns() - t0 <
		    2 * SEC); /* noticed by the liveness check, not the timeout */
	assert_int_equal(viova_guest_sync(dev, 30 * SEC), -ENODEV);
	assert_int_equal(viova_guest_bo_create(ctx, 4 * KIB, 0, NULL, &bo), -ENODEV);
	assert_non_null(strstr(viova_guest_last_error(), "lost"));
	viova_guest_device_close(dev); /* must not hang or crash */
	gt_daemon_stop(&d2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_error_log_contents),
	    cmocka_unit_test(test_gpu_fault_loses_context),
	    cmocka_unit_test(test_wire_version_refused),
	    cmocka_unit_test(test_daemon_refuses_major),
	    cmocka_unit_test(test_host_death_no_hang),
	};

	return cmocka_run_group_tests(tests, gt_group_setup, gt_group_teardown);
}

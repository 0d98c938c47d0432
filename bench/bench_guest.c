/* SPDX-License-Identifier: MIT */
/*
 * bench_guest.c - why viova exists, in one number: creating a buffer with an iova chosen
 * locally in the guest (GEM_NEW with the iova, batched, no wait) against the same creation
 * waiting for a host round trip per buffer (GEM_NEW, then SYNC and a wait for its processed
 * seqno), on the same transport: a real viova-host process (sim backend) over the unix
 * socket. Target: ratio >= 20 (docs/DESIGN performance targets).
 *
 *   local_iova         what the guest program sees: bo_create in a loop (allocator + encoder;
 *                      batches are sent as they fill, the host works in parallel); `ratio`
 *                      is this rate over the round-trip rate
 *   local_iova_synced  the same, timed until the host has processed every GEM_NEW (one SYNC
 *                      at the end): end-to-end throughput, bounded by the host's cost of
 *                      creating and mapping a buffer (`ratio_end_to_end`)
 *   roundtrip          bo_create + viova_guest_sync per buffer
 *
 * The best of ROUNDS rounds is kept for each mode (the machine is shared, noise only slows).
 * viova-host is found next to this program's build directory (../host/daemon/viova-host) or
 * through $VIOVA_HOST.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"
#include "viova/guest.h"

#define LOCAL_N 20000u
#define RT_N 2000u
#define ROUNDS 3
#define SEC 1000000000ull

static void die(const char *what)
{
	fprintf(stderr, "bench_guest: %s: %s\n", what, viova_guest_last_error());
	exit(1);
}

static int find_host(char *out, size_t len)
{
	char self[PATH_MAX], *slash;
	const char *env = getenv("VIOVA_HOST");
	ssize_t n;

	if (env) {
		snprintf(out, len, "%s", env);
		return access(out, X_OK);
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return -1;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	if (snprintf(out, len, "%s/../host/daemon/viova-host", self) >= (int)len)
		return -1;
	return access(out, X_OK);
}

static pid_t start_host(const char *exe, const char *sock)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char listen[160];
	uint64_t deadline;
	pid_t pid;

	snprintf(listen, sizeof(listen), "unix:%s", sock);
	pid = fork();
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		dup2(fd, 2);
		execl(exe, exe, "--listen", listen, "--backend", "sim", (char *)NULL);
		_exit(127);
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	deadline = bench_now_ns() + 5 * SEC;
	while (bench_now_ns() < deadline) {
		int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		int ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;

		close(fd);
		if (ok)
			return pid;
		usleep(5000);
	}
	kill(pid, SIGKILL);
	return -1;
}

struct result {
	double local_s, synced_s, rt_s;
};

static void one_round(struct viova_guest_device *dev, struct viova_guest_bo **bos, struct result *r)
{
	struct viova_guest_ctx *ctx;
	uint64_t t0, t1, t2;
	uint32_t i;

	if (viova_guest_ctx_create(dev, NULL, &ctx) || viova_guest_sync(dev, 5 * SEC))
		die("context");

	t0 = bench_now_ns();
	for (i = 0; i < LOCAL_N; i++)
		if (viova_guest_bo_create(ctx, 4096, 0, NULL, &bos[i]))
			die("bo_create (local iova)");
	t1 = bench_now_ns();
	if (viova_guest_sync(dev, 30 * SEC))
		die("sync");
	t2 = bench_now_ns();
	r->local_s = (double)(t1 - t0) / 1e9;
	r->synced_s = (double)(t2 - t0) / 1e9;
	for (i = 0; i < LOCAL_N; i++)
		viova_guest_bo_close(bos[i]);
	if (viova_guest_retire(dev, 30 * SEC, NULL))
		die("retire");

	t0 = bench_now_ns();
	for (i = 0; i < RT_N; i++) {
		if (viova_guest_bo_create(ctx, 4096, 0, NULL, &bos[i]))
			die("bo_create (round trip)");
		if (viova_guest_sync(dev, 5 * SEC))
			die("sync (round trip)");
	}
	t1 = bench_now_ns();
	r->rt_s = (double)(t1 - t0) / 1e9;
	if (viova_guest_ctx_destroy(ctx))
		die("ctx_destroy");
}

int main(void)
{
	char dir[] = "/tmp/viova-bench-XXXXXX", sock[96], uri[128], exe[PATH_MAX + 64];
	struct viova_guest_bo **bos = calloc(LOCAL_N, sizeof(*bos));
	struct viova_guest_device *dev;
	struct result best = {1e9, 1e9, 1e9}, r;
	double local_rate, synced_rate, rt_rate;
	int st;
	pid_t host;

	if (find_host(exe, sizeof(exe))) {
		fprintf(stderr,
			"bench_guest: viova-host not found (%s): build it or set "
			"VIOVA_HOST\n",
			exe);
		return 1;
	}
	if (!bos || !mkdtemp(dir))
		return 1;
	snprintf(sock, sizeof(sock), "%s/host.sock", dir);
	snprintf(uri, sizeof(uri), "unix:%s", sock);
	host = start_host(exe, sock);
	if (host < 0) {
		fprintf(stderr, "bench_guest: %s did not start\n", exe);
		return 1;
	}
	if (viova_guest_device_open(uri, NULL, &dev))
		die("device_open");
	for (int k = 0; k < ROUNDS; k++) {
		one_round(dev, bos, &r);
		best.local_s = r.local_s < best.local_s ? r.local_s : best.local_s;
		best.synced_s = r.synced_s < best.synced_s ? r.synced_s : best.synced_s;
		best.rt_s = r.rt_s < best.rt_s ? r.rt_s : best.rt_s;
	}
	viova_guest_device_close(dev);
	kill(host, SIGTERM);
	waitpid(host, &st, 0);
	rmdir(dir);
	free(bos);

	local_rate = LOCAL_N / best.local_s;
	synced_rate = LOCAL_N / best.synced_s;
	rt_rate = RT_N / best.rt_s;
	printf("guest buffer creation over the unix socket to viova-host (sim), 4 KiB buffers, "
	       "best of %d rounds\n",
	       ROUNDS);
	printf("  %-20s %8s %14s %12s\n", "mode", "buffers", "buffers/s", "us/buffer");
	printf("  %-20s %8u %14.0f %12.2f\n", "local_iova", LOCAL_N, local_rate, 1e6 / local_rate);
	printf("  %-20s %8u %14.0f %12.2f\n", "local_iova_synced", LOCAL_N, synced_rate,
	       1e6 / synced_rate);
	printf("  %-20s %8u %14.0f %12.2f\n", "roundtrip", RT_N, rt_rate, 1e6 / rt_rate);
	printf(
	    "  ratio local_iova / roundtrip = %.1fx (target >= 20x); end to end (synced) %.1fx\n",
	    local_rate / rt_rate, synced_rate / rt_rate);
	bench_line("guest", "mode=local_iova buffers=%u buffers_per_s=%.0f ns_per_buffer=%.0f",
		   LOCAL_N, local_rate, 1e9 / local_rate);
	bench_line("guest",
		   "mode=local_iova_synced buffers=%u buffers_per_s=%.0f "
		   "ns_per_buffer=%.0f",
		   LOCAL_N, synced_rate, 1e9 / synced_rate);
	bench_line("guest", "mode=roundtrip buffers=%u buffers_per_s=%.0f us_per_roundtrip=%.1f",
		   RT_N, rt_rate, 1e6 / rt_rate);
	bench_line("guest", "ratio=%.1f ratio_end_to_end=%.1f target=20", local_rate / rt_rate,
		   synced_rate / rt_rate);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}

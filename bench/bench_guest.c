/* SPDX-License-Identifier: MIT */
/*
 * bench_guest.c - why viova exists, in one number: creating a buffer with an iova chosen
 * locally in the guest (GEM_NEW with the iova, batched, no wait) against the same creation
 * waiting for a host round trip per buffer (GEM_NEW, then SYNC and a wait for its processed
 * seqno), on the same transport: a real viova-host process (sim backend) over the unix
 * socket. Target: ratio >= 20 (docs/DESIGN performance targets). The modes are described in
 * creation.h; bench_vm runs the same measurement inside a VM over virtio-gpu.
 *
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
#include "creation.h"
#include "viova/guest.h"

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

int main(void)
{
	char dir[] = "/tmp/viova-bench-XXXXXX", sock[96], uri[128], exe[PATH_MAX + 64];
	const struct creation_params params = {
	    .local_n = 20000, .rt_n = 2000, .rounds = 3, .sync_timeout_ns = 30 * SEC};
	struct creation_result best;
	struct viova_guest_device *dev;
	int st, ret;
	pid_t host;

	if (find_host(exe, sizeof(exe))) {
		fprintf(stderr,
			"bench_guest: viova-host not found (%s): build it or set "
			"VIOVA_HOST\n",
			exe);
		return 1;
	}
	if (!mkdtemp(dir))
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
	ret = creation_bench(dev, &params, &best);
	viova_guest_device_close(dev);
	kill(host, SIGTERM);
	waitpid(host, &st, 0);
	rmdir(dir);
	if (ret)
		return 1;
	creation_report("guest", "guest buffer creation over the unix socket to viova-host (sim)",
			&params, &best);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}

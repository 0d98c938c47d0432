/* SPDX-License-Identifier: MIT */
/*
 * socket_path.c - getting a unix socket path ready for bind(), shared by --listen (socket mode)
 * and --socket-path (vhost-user-gpu mode): a socket file left behind by a daemon that died is
 * replaced, a live one never is.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon.h"

int daemon_prepare_socket_path(const char *path, const struct sockaddr_un *sa, int type)
{
	struct stat sb;
	int fd, ret;

	if (lstat(path, &sb) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(sb.st_mode)) {
		fprintf(stderr, "viova-host: %s exists and is not a socket: choose another path\n",
			path);
		return -EEXIST;
	}
	/*
	 * Only ECONNREFUSED proves nobody listens. Non-blocking: a live daemon whose backlog is
	 * full answers EAGAIN at once, where a blocking connect would hang here, and it must not
	 * be mistaken for a dead one. A socket of another type listening there (EPROTOTYPE)
	 * is in use too.
	 */
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	ret = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0 ? -errno : 0;
	close(fd);
	if (ret == -ECONNREFUSED)
		return unlink(path) < 0 ? -errno : 0;
	if (ret == 0 || ret == -EAGAIN || ret == -EPROTOTYPE) {
		fprintf(stderr, "viova-host: another process already serves %s: stop it or "
				"choose another path\n", path);
		return -EADDRINUSE;
	}
	fprintf(stderr, "viova-host: cannot tell whether %s is in use (connect: %s): remove it "
			"if no daemon serves it\n", path, strerror(-ret));
	return ret;
}

/* SPDX-License-Identifier: MIT */
/*
 * viova-host in vhost-user-gpu mode driven by fake QEMU front-ends (vhost_fe.h). The real
 * binary: --fd with one end of a socketpair, --socket-path with reconnects and with two
 * front-ends stopped by SIGTERM, --print-capabilities. The handshake, config space, display
 * socket, a memfd guest RAM, the control queue set up and kicked; GET_CAPSET_INFO, CTX_CREATE
 * and SUBMIT_3D (a RESP_INIT batch into a guest-backed response area) answered in the used ring.
 * Then vhost_server.c in this process (vhost_server_serve on a thread) for what needs a look
 * inside: several front-ends at once, one disconnecting, --max-connections, the first-request
 * timeout, shutdown with live front-ends (threads joined, descriptors and budget back to where
 * they were) and the daemon budget shared by front-ends.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/virtio_gpu.h>

#include <viova/codec.h>
#include <viova/protocol.h>

#include "daemon.h"
#include "vhost_fe.h"

#define RAM_SIZE (2u << 20)
#define RAM_GPA 0x40000000ull
#define RAM_QVA 0x7f1000000000ull
#define QSIZE 64u
#define DESC_OFF 0x0u
#define AVAIL_OFF 0x1000u
#define USED_OFF 0x2000u
#define CMD_OFF 0x10000u
#define EXTRA_OFF 0x11000u
#define RESP_OFF 0x20000u
#define AREA_OFF 0x100000u
#define AREA_SIZE (64u << 10)
#define RES 7u
#define CTX 1u

struct fe {
	pid_t pid;
	int sock;     /* our end of the vhost-user connection */
	int gpu_peer; /* our end of the display socket */
	int ram_fd;
	uint8_t *ram;
	int kick, call;
	struct vfe_ring ring;
	uint64_t batch[1024];
	struct viova_codec_encoder enc;
	struct viova_codec_resp_guest guest; /* the response area, once attached */
	bool guest_attached;
};

static void spawn(struct fe *f, const char *const *args)
{
	const char *argv[8] = {VIOVA_HOST_PATH};
	unsigned n = 1;

	for (; *args; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	f->pid = fork();
	assert_true(f->pid >= 0);
	if (f->pid == 0) {
		/* a failed assertion must not leave the daemon behind */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execv(VIOVA_HOST_PATH, (char *const *)argv);
		_exit(127);
	}
}

static void spawn_fd(struct fe *f)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	f->pid = fork();
	assert_true(f->pid >= 0);
	if (f->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* The front-end's socket as fd 3, inherited (dup2 clears CLOEXEC). */
		if (dup2(sv[1], 3) < 0)
			_exit(126);
		execl(VIOVA_HOST_PATH, VIOVA_HOST_PATH, "--fd", "3", "--backend", "sim",
		      (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	f->sock = sv[0];
}

static int connect_path(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	strcpy(sa.sun_path, path);
	for (int i = 0; i < 500; i++) { /* the daemon may not be listening yet: up to 5 s */
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_true(fd >= 0);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		close(fd);
		usleep(10000);
	}
	fail_msg("viova-host never listened on %s", path);
	return -1;
}

static int wait_exit(pid_t pid, int timeout_ms)
{
	int st;

	for (int i = 0; i < timeout_ms / 10; i++) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

/* Everything QEMU's vhost-user-gpu does up to a running control queue. */
static void handshake(struct fe *f)
{
	uint64_t feat, pf;
	struct {
		uint32_t offset, size, flags;
		struct virtio_gpu_config c;
	} cfg = {.offset = 0, .size = sizeof(struct virtio_gpu_config)};
	int gpu[2];
	struct vhost_vring_addr a = {.index = 0,
				     .desc_user_addr = RAM_QVA + DESC_OFF,
				     .avail_user_addr = RAM_QVA + AVAIL_OFF,
				     .used_user_addr = RAM_QVA + USED_OFF};

	feat = vfe_get_u64(f->sock, VIOVA_VHOST_USER_GET_FEATURES);
	assert_true(feat & (1ull << VIRTIO_GPU_F_VIRGL));
	assert_true(feat & (1ull << VIRTIO_GPU_F_EDID));
	assert_true(feat & (1ull << VIOVA_VHOST_USER_F_PROTOCOL_FEATURES));
	assert_true(feat & (1ull << 32));
	pf = vfe_get_u64(f->sock, VIOVA_VHOST_USER_GET_PROTOCOL_FEATURES);
	assert_true(pf & (1ull << VIOVA_VHOST_USER_PROTOCOL_F_REPLY_ACK));
	assert_true(pf & (1ull << VIOVA_VHOST_USER_PROTOCOL_F_CONFIG));
	vfe_send(f->sock, VIOVA_VHOST_USER_SET_PROTOCOL_FEATURES, 0,
		 &(uint64_t){(1ull << VIOVA_VHOST_USER_PROTOCOL_F_REPLY_ACK) |
			     (1ull << VIOVA_VHOST_USER_PROTOCOL_F_CONFIG)},
		 8, NULL, 0);
	assert_int_equal(vfe_ack(f->sock, VIOVA_VHOST_USER_SET_OWNER, NULL, 0, NULL, 0), 0);
	assert_int_equal(vfe_ack_u64(f->sock, VIOVA_VHOST_USER_SET_FEATURES,
				     (1ull << 32) | (1ull << VIRTIO_GPU_F_VIRGL) |
					 (1ull << VIRTIO_GPU_F_EDID) |
					 (1ull << VIOVA_VHOST_USER_F_PROTOCOL_FEATURES)),
			 0);

	vfe_send(f->sock, VIOVA_VHOST_USER_GET_CONFIG, 0, &cfg, sizeof(cfg), NULL, 0);
	assert_int_equal(vfe_reply(f->sock, VIOVA_VHOST_USER_GET_CONFIG, &cfg, sizeof(cfg)),
			 sizeof(cfg));
	assert_int_equal(cfg.c.num_scanouts, 1);
	assert_int_equal(cfg.c.num_capsets, 1);

	/* The display socket: the back-end keeps it; we (the display) get no request on it. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, gpu), 0);
	assert_int_equal(vfe_ack(f->sock, VIOVA_VHOST_USER_GPU_SET_SOCKET, NULL, 0, &gpu[1], 1), 0);
	close(gpu[1]);
	f->gpu_peer = gpu[0];

	f->ram_fd = memfd_create("guest-ram", MFD_CLOEXEC);
	assert_true(f->ram_fd >= 0);
	assert_int_equal(ftruncate(f->ram_fd, RAM_SIZE), 0);
	f->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f->ram_fd, 0);
	assert_true(f->ram != MAP_FAILED);
	assert_int_equal(vfe_ack_mem_table(f->sock, f->ram_fd, RAM_GPA, RAM_SIZE, RAM_QVA), 0);

	f->ring = (struct vfe_ring){.desc = (void *)(f->ram + DESC_OFF),
				    .avail = (void *)(f->ram + AVAIL_OFF),
				    .used = (void *)(f->ram + USED_OFF),
				    .num = QSIZE};
	f->kick = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	f->call = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_int_equal(vfe_ack_state(f->sock, VIOVA_VHOST_USER_SET_VRING_NUM, 0, QSIZE), 0);
	assert_int_equal(vfe_ack_state(f->sock, VIOVA_VHOST_USER_SET_VRING_BASE, 0, 0), 0);
	assert_int_equal(vfe_ack(f->sock, VIOVA_VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0),
			 0);
	assert_int_equal(vfe_ack_vring_fd(f->sock, VIOVA_VHOST_USER_SET_VRING_CALL, 0, f->call), 0);
	assert_int_equal(vfe_ack_vring_fd(f->sock, VIOVA_VHOST_USER_SET_VRING_KICK, 0, f->kick), 0);
	assert_int_equal(vfe_ack_state(f->sock, VIOVA_VHOST_USER_SET_VRING_ENABLE, 0, 1), 0);
	assert_int_equal(viova_codec_enc_init(&f->enc, f->batch, sizeof(f->batch), 1), 0);
}

/* Put one control command in the ring and kick, without waiting for its answer (at RESP_OFF). */
static uint16_t ctrl_post(struct fe *f, const void *cmd, uint32_t len, const void *extra,
			  uint32_t extra_len, uint32_t resp_cap)
{
	uint16_t head = (uint16_t)((f->ring.avail_idx * 3u) % QSIZE), d = head;
	uint64_t one = 1;

	memcpy(f->ram + CMD_OFF, cmd, len);
	vfe_set_desc(&f->ring, d, RAM_GPA + CMD_OFF, len, VRING_DESC_F_NEXT, (uint16_t)(d + 1));
	d++;
	if (extra_len) {
		memcpy(f->ram + EXTRA_OFF, extra, extra_len);
		vfe_set_desc(&f->ring, d, RAM_GPA + EXTRA_OFF, extra_len, VRING_DESC_F_NEXT,
			     (uint16_t)(d + 1));
		d++;
	}
	memset(f->ram + RESP_OFF, 0xee, resp_cap);
	vfe_set_desc(&f->ring, d, RAM_GPA + RESP_OFF, resp_cap, VRING_DESC_F_WRITE, 0);
	vfe_publish(&f->ring, head);
	assert_int_equal(write(f->kick, &one, sizeof(one)), sizeof(one));
	return head;
}

/*
 * One control command through the ring: cmd (+ extra) readable, resp_cap writable; kick, wait
 * for the used entry. Returns the bytes the device wrote; the answer is at RESP_OFF.
 */
static uint32_t ctrl(struct fe *f, const void *cmd, uint32_t len, const void *extra,
		     uint32_t extra_len, uint32_t resp_cap)
{
	uint16_t head = ctrl_post(f, cmd, len, extra, extra_len, resp_cap);
	uint32_t id, written;

	written = vfe_wait_used(&f->ring, f->call, 10000, &id);
	assert_int_equal(id, head);
	return written;
}

/* A command with a header-only answer: its type. */
static uint32_t ctrl_type(struct fe *f, const void *cmd, uint32_t len, const void *extra,
			  uint32_t extra_len)
{
	struct virtio_gpu_ctrl_hdr r;

	assert_int_equal(ctrl(f, cmd, len, extra, extra_len, sizeof(r)), sizeof(r));
	memcpy(&r, f->ram + RESP_OFF, sizeof(r));
	return r.type;
}

static struct virtio_gpu_ctrl_hdr hdr(uint32_t type, uint32_t ctx_id)
{
	return (struct virtio_gpu_ctrl_hdr){.type = type, .ctx_id = ctx_id};
}

static void capset_info(struct fe *f)
{
	struct virtio_gpu_get_capset_info ci = {.hdr = hdr(VIRTIO_GPU_CMD_GET_CAPSET_INFO, 0)};
	struct virtio_gpu_resp_capset_info r;

	assert_int_equal(ctrl(f, &ci, sizeof(ci), NULL, 0, sizeof(r)), sizeof(r));
	memcpy(&r, f->ram + RESP_OFF, sizeof(r));
	assert_int_equal(r.hdr.type, VIRTIO_GPU_RESP_OK_CAPSET_INFO);
	assert_int_equal(r.capset_id, VIOVA_CAPSET_ID);
	assert_int_equal(r.capset_max_version, 1);
}

static void ctx_create(struct fe *f)
{
	struct virtio_gpu_ctx_create c = {.hdr = hdr(VIRTIO_GPU_CMD_CTX_CREATE, CTX), .nlen = 4};

	memcpy(c.debug_name, "test", 4);
	assert_int_equal(ctrl_type(f, &c, sizeof(c), NULL, 0), VIRTIO_GPU_RESP_OK_NODATA);
}

/* A 3D resource over guest pages as the context's response area, set by a RESP_INIT batch. */
static void submit_3d(struct fe *f)
{
	struct virtio_gpu_resource_create_3d rc = {.hdr = hdr(VIRTIO_GPU_CMD_RESOURCE_CREATE_3D, 0),
						   .resource_id = RES,
						   .width = AREA_SIZE,
						   .height = 1,
						   .depth = 1,
						   .array_size = 1};
	struct virtio_gpu_resource_attach_backing ab = {
	    .hdr = hdr(VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING, 0),
	    .resource_id = RES,
	    .nr_entries = 1};
	struct virtio_gpu_mem_entry e = {RAM_GPA + AREA_OFF, AREA_SIZE, 0};
	struct virtio_gpu_ctx_resource ar = {.hdr = hdr(VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE, CTX),
					     .resource_id = RES};
	struct virtio_gpu_cmd_submit s = {.hdr = hdr(VIRTIO_GPU_CMD_SUBMIT_3D, CTX)};
	size_t len;

	assert_int_equal(ctrl_type(f, &rc, sizeof(rc), NULL, 0), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(ctrl_type(f, &ab, sizeof(ab), &e, sizeof(e)), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(ctrl_type(f, &ar, sizeof(ar), NULL, 0), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(viova_codec_enc_resp_init(&f->enc, RES, 0, AREA_SIZE, NULL), 0);
	assert_int_equal(viova_codec_enc_finish(&f->enc, &len), 0);
	viova_codec_enc_reset(&f->enc);
	s.size = (uint32_t)len;
	assert_int_equal(ctrl_type(f, &s, sizeof(s), f->batch, (uint32_t)len),
			 VIRTIO_GPU_RESP_OK_NODATA);
	/* fenced: the fence id comes back with the answer */
	s.hdr.flags = VIRTIO_GPU_FLAG_FENCE;
	s.hdr.fence_id = 42;
	assert_int_equal(
	    ctrl(f, &s, sizeof(s), f->batch, (uint32_t)len, sizeof(struct virtio_gpu_ctrl_hdr)),
	    sizeof(struct virtio_gpu_ctrl_hdr));
	{
		struct virtio_gpu_ctrl_hdr r;

		memcpy(&r, f->ram + RESP_OFF, sizeof(r));
		assert_int_equal(r.flags & VIRTIO_GPU_FLAG_FENCE, VIRTIO_GPU_FLAG_FENCE);
		assert_int_equal(r.fence_id, 42);
	}
	/* a context that does not exist, and a payload longer than the chain */
	s.hdr = hdr(VIRTIO_GPU_CMD_SUBMIT_3D, 9);
	assert_int_equal(ctrl_type(f, &s, sizeof(s), f->batch, (uint32_t)len),
			 VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID);
	s.hdr = hdr(VIRTIO_GPU_CMD_SUBMIT_3D, CTX);
	s.size = (uint32_t)len + 64;
	assert_int_equal(ctrl_type(f, &s, sizeof(s), f->batch, (uint32_t)len),
			 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
}

/* Close what the front-end has; -1 / NULL: not set up yet (a refused or silent client). */
static void fe_close(struct fe *f)
{
	int *fds[] = {&f->sock, &f->gpu_peer, &f->kick, &f->call, &f->ram_fd};

	for (unsigned i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
	if (f->ram)
		munmap(f->ram, RAM_SIZE);
	f->ram = NULL;
}

static void test_fd_mode(void **state)
{
	struct fe *f = calloc(1, sizeof(*f));
	char c;

	(void)state;
	assert_non_null(f);
	spawn_fd(f);
	handshake(f);
	capset_info(f);
	ctx_create(f);
	submit_3d(f);
	/* display not supported: nothing was sent on the display socket */
	assert_int_equal(recv(f->gpu_peer, &c, 1, MSG_DONTWAIT), -1);
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
	/* GET_VRING_BASE stops the control queue and answers where it stopped */
	vfe_send(f->sock, VIOVA_VHOST_USER_GET_VRING_BASE, 0,
		 &(struct vhost_vring_state){.index = 0}, sizeof(struct vhost_vring_state), NULL,
		 0);
	{
		struct vhost_vring_state st;

		assert_int_equal(
		    vfe_reply(f->sock, VIOVA_VHOST_USER_GET_VRING_BASE, &st, sizeof(st)),
		    sizeof(st));
		assert_int_equal(st.num, f->ring.avail_idx);
	}
	/* --fd: the front-end closing the socket ends the daemon, cleanly */
	fe_close(f);
	assert_int_equal(wait_exit(f->pid, 10000), 0);
	free(f);
}

static void test_socket_path_reconnect(void **state)
{
	char path[108];
	const char *args[] = {"--socket-path", path, "--backend", "sim", NULL};
	struct fe *f = calloc(1, sizeof(*f));

	(void)state;
	assert_non_null(f);
	snprintf(path, sizeof(path), "/tmp/viova-vhsrv-%d.sock", (int)getpid());
	unlink(path);
	spawn(f, args);
	for (int round = 0; round < 2; round++) {
		pid_t pid = f->pid;

		memset(f, 0, sizeof(*f));
		f->pid = pid;
		f->sock = connect_path(path);
		handshake(f);
		capset_info(f);
		/* same ctx id and resource id again: the previous connection's are gone */
		ctx_create(f);
		submit_3d(f);
		fe_close(f);
	}
	kill(f->pid, SIGTERM);
	assert_int_equal(wait_exit(f->pid, 10000), 0);
	assert_int_equal(access(path, F_OK), -1); /* the socket file is removed */
	free(f);
}

/*
 * --socket-path on a live back-end's socket is refused (exit 1) and the first one keeps serving;
 * on a socket file left by a dead one (bound, never listened) it starts.
 */
static void test_socket_path_live_and_stale(void **state)
{
	char path[108];
	const char *args[] = {"--socket-path", path, "--backend", "sim", NULL};
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct fe *f = calloc(1, sizeof(*f)), *g = calloc(1, sizeof(*g));
	int stale;

	(void)state;
	assert_non_null(f);
	assert_non_null(g);
	snprintf(path, sizeof(path), "/tmp/viova-vhsrv-live-%d.sock", (int)getpid());
	unlink(path);
	spawn(f, args);
	f->sock = connect_path(path); /* listening */
	spawn(g, args);
	assert_int_equal(wait_exit(g->pid, 10000), 1);
	handshake(f); /* the first daemon still owns the path and serves */
	capset_info(f);
	fe_close(f);
	kill(f->pid, SIGTERM);
	assert_int_equal(wait_exit(f->pid, 10000), 0);

	/* a dead daemon's socket file */
	strcpy(sa.sun_path, path);
	stale = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(stale, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(stale);
	memset(f, 0, sizeof(*f));
	spawn(f, args);
	f->sock = connect_path(path);
	handshake(f);
	fe_close(f);
	kill(f->pid, SIGTERM);
	assert_int_equal(wait_exit(f->pid, 10000), 0);
	free(f);
	free(g);
}

static void test_print_capabilities(void **state)
{
	char cmd[512];

	(void)state;
	snprintf(
	    cmd, sizeof(cmd),
	    "'%s' --print-capabilities | python3 -c 'import json, sys; c = json.load(sys.stdin); "
	    "sys.exit(0 if c[\"type\"] == \"gpu\" and isinstance(c[\"features\"], list) else 1)'",
	    VIOVA_HOST_PATH);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd),
		 "python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); "
		 "sys.exit(0 if d[\"type\"] == \"gpu\" and d[\"binary\"].endswith(\"/viova-host\") "
		 "and d[\"description\"] else 1)' '%s'",
		 VIOVA_DESCRIPTOR_PATH);
	assert_int_equal(system(cmd), 0);
	/* --socket-path and --fd exclude each other and --listen */
	snprintf(cmd, sizeof(cmd), "'%s' --fd 3 --socket-path /tmp/x 2>/dev/null", VIOVA_HOST_PATH);
	assert_int_equal(WEXITSTATUS(system(cmd)), 2);
	snprintf(cmd, sizeof(cmd), "'%s' --listen unix:/tmp/x --fd 3 2>/dev/null", VIOVA_HOST_PATH);
	assert_int_equal(WEXITSTATUS(system(cmd)), 2);
}

/* ---- many front-ends at once: the server in this process (vhost_server_serve) ------------- */

/*
 * vhost_server.c is compiled into this test and run on a thread, so ASan and valgrind see its
 * threads, /proc/self/fd counts its descriptors and the daemon budget can be read directly.
 * daemon_log (main.c in the daemon) is this capture.
 */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_text[256 << 10];
static size_t log_len;

void daemon_log(struct daemon *d, bool verbose_only, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	(void)d;
	(void)verbose_only; /* keep every line: the tests look at --verbose ones too */
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&log_lock);
	log_len += (size_t)snprintf(log_text + log_len, sizeof(log_text) - log_len, "%s\n", line);
	if (log_len >= sizeof(log_text))
		log_len = sizeof(log_text) - 1;
	pthread_mutex_unlock(&log_lock);
	if (getenv("VIOVA_TEST_VERBOSE"))
		fprintf(stderr, "viova-host: %s\n", line);
}

static bool log_has(const char *s)
{
	bool found;

	pthread_mutex_lock(&log_lock);
	found = strstr(log_text, s) != NULL;
	pthread_mutex_unlock(&log_lock);
	return found;
}

struct srv {
	struct daemon d;
	char path[108];
	int lfd, stop;
	int fds_before; /* this process's descriptors before the server started */
	pthread_t thread;
	int ret;
};

static void *srv_main(void *arg)
{
	struct srv *s = arg;

	s->ret = vhost_server_serve(&s->d, s->lfd, s->stop);
	return NULL;
}

static int count_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	assert_non_null(dir);
	while ((e = readdir(dir)))
		n += e->d_name[0] != '.';
	closedir(dir);
	return n - 1; /* the directory's own descriptor */
}

/* Wait (at most 10 s) until n front-end threads are live: teardowns are asynchronous. */
static void wait_live(struct srv *s, uint32_t n)
{
	uint32_t live = UINT32_MAX;

	for (int i = 0; i < 1000; i++) {
		pthread_mutex_lock(&s->d.lock);
		live = s->d.vhost.count;
		pthread_mutex_unlock(&s->d.lock);
		if (live == n)
			return;
		usleep(10000);
	}
	fail_msg("%u front-end threads live after 10 s, expected %u", live, n);
}

static struct srv *srv_start(uint32_t max_connections, uint64_t max_buffers, uint32_t first_ms)
{
	struct viova_host_budget_limits lim = {.max_buffers = max_buffers};
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct srv *s = calloc(1, sizeof(*s));
	int fd;

	assert_non_null(s);
	pthread_mutex_lock(&log_lock);
	log_len = 0;
	log_text[0] = 0;
	pthread_mutex_unlock(&log_lock);
	s->fds_before = count_fds();
	s->d.opts.backend = "sim";
	s->d.opts.max_connections = max_connections;
	s->d.opts.hello_timeout_ms = first_ms;
	s->d.opts.vhost_fd = -1;
	assert_int_equal(viova_host_budget_create(&lim, &s->d.budget), 0);
	snprintf(s->path, sizeof(s->path), "/tmp/viova-vhmulti-%d.sock", (int)getpid());
	unlink(s->path);
	strcpy(sa.sun_path, s->path);
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s->lfd >= 0);
	assert_int_equal(bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(s->lfd, 16), 0);
	s->stop = eventfd(0, EFD_CLOEXEC);
	assert_true(s->stop >= 0);
	assert_int_equal(pthread_create(&s->thread, NULL, srv_main, s), 0);
	/*
	 * One round trip: the accept loop is up (its eventfds exist) before a test counts fds.
	 * Waiting for its log line (under log_lock) also orders the server's init of d.lock
	 * before our first use of it, in a way ThreadSanitizer sees.
	 */
	fd = connect_path(s->path);
	vfe_get_u64(fd, VIOVA_VHOST_USER_GET_FEATURES);
	close(fd);
	for (int i = 0; i < 1000 && !log_has("vhost-user #1: front-end disconnected"); i++)
		usleep(10000);
	assert_true(log_has("vhost-user #1: front-end disconnected"));
	wait_live(s, 0);
	return s;
}

static void fe_free(struct fe *f);
static void expect_eof(int sock, int timeout_ms);

/*
 * Stop the server (bounded) while the n front-ends f are still connected: each must see its
 * socket closed. Then check nothing is left behind: descriptors, hosts, buffers.
 */
static void srv_stop_live(struct srv *s, struct fe **f, int n)
{
	struct viova_host_budget_usage u;
	struct timespec dl;
	uint64_t one = 1;

	assert_int_equal(write(s->stop, &one, sizeof(one)), sizeof(one));
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 20;
	assert_int_equal(pthread_timedjoin_np(s->thread, NULL, &dl), 0);
	assert_int_equal(s->ret, 0);
	assert_int_equal(viova_host_budget_usage(s->d.budget, &u), 0);
	assert_int_equal(u.hosts, 0);
	assert_int_equal(u.buffers, 0);
	assert_int_equal(u.bytes, 0);
	for (int i = 0; i < n; i++) {
		expect_eof(f[i]->sock, 5000);
		fe_free(f[i]);
	}
	viova_host_budget_destroy(s->d.budget);
	close(s->lfd);
	close(s->stop);
	unlink(s->path);
	assert_int_equal(count_fds(), s->fds_before);
	free(s);
}

static void srv_stop(struct srv *s)
{
	srv_stop_live(s, NULL, 0);
}

static struct viova_host_budget_usage usage(struct srv *s)
{
	struct viova_host_budget_usage u;

	assert_int_equal(viova_host_budget_usage(s->d.budget, &u), 0);
	return u;
}

static struct fe *fe_connect(struct srv *s)
{
	struct fe *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->gpu_peer = f->kick = f->call = f->ram_fd = -1;
	f->sock = connect_path(s->path);
	return f;
}

static void fe_free(struct fe *f)
{
	fe_close(f);
	free(f);
}

/* Everything one VM's device does: handshake, capset, a context, a response area, SUBMIT_3D. */
static void fe_full(struct fe *f)
{
	handshake(f);
	capset_info(f);
	ctx_create(f);
	submit_3d(f);
}

/* The back-end closed sock within timeout_ms. */
static void expect_eof(int sock, int timeout_ms)
{
	struct pollfd p = {.fd = sock, .events = POLLIN};
	char c;
	ssize_t n;

	assert_int_equal(poll(&p, 1, timeout_ms), 1);
	n = recv(sock, &c, 1, MSG_DONTWAIT);
	assert_true(n == 0 || (n < 0 && errno == ECONNRESET));
}

/* SUBMIT_3D on CTX of what f->enc holds; the answer must be OK_NODATA. */
static void submit_enc(struct fe *f)
{
	struct virtio_gpu_cmd_submit s = {.hdr = hdr(VIRTIO_GPU_CMD_SUBMIT_3D, CTX)};
	size_t len;

	assert_int_equal(viova_codec_enc_finish(&f->enc, &len), 0);
	viova_codec_enc_reset(&f->enc);
	s.size = (uint32_t)len;
	assert_int_equal(ctrl_type(f, &s, sizeof(s), f->batch, (uint32_t)len),
			 VIRTIO_GPU_RESP_OK_NODATA);
}

/*
 * SUBMIT_3D of what f->enc holds, one command: its wire errno from the response area's error
 * ring (0: none). The records submit_3d left there (its RESP_INIT sent twice) are skipped.
 */
static uint32_t run_cmd(struct fe *f, uint16_t cmd)
{
	struct viova_err_rec rec;

	if (!f->guest_attached) {
		assert_int_equal(
		    viova_codec_resp_guest_attach(&f->guest, f->ram + AREA_OFF, AREA_SIZE), 0);
		while (viova_codec_resp_guest_pop_error(&f->guest, &rec) == 0)
			;
		f->guest_attached = true;
	}
	submit_enc(f);
	if (viova_codec_resp_guest_pop_error(&f->guest, &rec) == -EAGAIN)
		return 0;
	assert_int_equal(rec.cmd, cmd);
	return rec.err;
}

/* viova context 1 with VM 1 inside virtio-gpu context CTX. */
static void viova_ctx(struct fe *f)
{
	assert_int_equal(viova_codec_enc_ctx_create(&f->enc, 1, 0, 0, 0, 1, 0, NULL), 0);
	assert_int_equal(run_cmd(f, VIOVA_CMD_CTX_CREATE), 0);
}

/* GEM_NEW of buffer buf (one page) in viova context 1: its wire errno (0 = created). */
static uint32_t gem_new(struct fe *f, uint32_t buf)
{
	assert_int_equal(viova_codec_enc_gem_new(&f->enc, 1, buf, 0, 4096, 0, 0, NULL), 0);
	return run_cmd(f, VIOVA_CMD_GEM_NEW);
}

/*
 * Three front-ends at once. A connects first and stays silent after GET_FEATURES: a server
 * serving one connection at a time would never answer B (vfe_reply fails after 10 s). All use
 * the same ctx id and resource id: each connection has its own namespace.
 */
static void test_concurrent_frontends(void **state)
{
	struct srv *s = srv_start(4, 0, 5000);
	struct fe *a, *b, *c;
	int base = count_fds();

	(void)state;
	a = fe_connect(s);
	b = fe_connect(s);
	c = fe_connect(s);
	assert_true(vfe_get_u64(a->sock, VIOVA_VHOST_USER_GET_FEATURES) &
		    (1ull << VIRTIO_GPU_F_VIRGL));
	fe_full(b);
	handshake(c);
	handshake(a);
	ctx_create(c);
	ctx_create(a);
	submit_3d(c);
	submit_3d(a);
	capset_info(b);
	wait_live(s, 3);
	assert_int_equal(usage(s).hosts, 3); /* one libviova-host per virtio-gpu context */
	/* #1 was srv_start's round trip */
	assert_true(log_has("vhost-user #4: front-end connected"));
	fe_free(a);
	fe_free(b);
	fe_free(c);
	wait_live(s, 0);
	assert_int_equal(count_fds(), base); /* every front-end's fds and mappings went */
	assert_int_equal(usage(s).hosts, 0);
	srv_stop(s);
}

/* A front-end that goes away with a command in flight takes only its own device with it. */
static void test_disconnect_one(void **state)
{
	struct virtio_gpu_get_capset_info ci = {.hdr = hdr(VIRTIO_GPU_CMD_GET_CAPSET_INFO, 0)};
	struct srv *s = srv_start(4, 0, 5000);
	struct fe *a, *b;

	(void)state;
	a = fe_connect(s);
	b = fe_connect(s);
	fe_full(a);
	fe_full(b);
	viova_ctx(b);
	assert_int_equal(gem_new(b, 1), 0);
	assert_int_equal(usage(s).hosts, 2);
	ctrl_post(a, &ci, sizeof(ci), NULL, 0, 64);
	fe_free(a);
	wait_live(s, 1);
	assert_int_equal(usage(s).hosts, 1);
	assert_true(log_has("vhost-user #2: front-end disconnected")); /* #1: srv_start's */
	assert_false(log_has("vhost-user #3: front-end disconnected"));
	/* B's context, its response area and its buffer are still there */
	assert_int_equal(gem_new(b, 2), 0);
	assert_int_equal(usage(s).buffers, 2);
	capset_info(b);
	fe_free(b);
	srv_stop(s);
}

/*
 * --max-connections 2: a third front-end is closed at once (not queued: QEMU would hang in its
 * first read), the two others go on, and a slot freed by a disconnect is taken by the next.
 */
static void test_max_connections(void **state)
{
	struct srv *s = srv_start(2, 0, 5000);
	struct fe *a, *b, *c;

	(void)state;
	a = fe_connect(s);
	b = fe_connect(s);
	handshake(a);
	handshake(b);
	c = fe_connect(s);
	expect_eof(c->sock, 5000);
	fe_free(c);
	assert_true(log_has("--max-connections"));
	capset_info(a);
	ctx_create(b);
	fe_free(a);
	wait_live(s, 1);
	c = fe_connect(s);
	fe_full(c);
	submit_3d(b);
	fe_free(b);
	fe_free(c);
	srv_stop(s);
}

/* A client that connects and says nothing loses its slot after --hello-timeout-ms. */
static void test_first_request_timeout(void **state)
{
	struct srv *s = srv_start(2, 0, 200);
	struct fe *idle, *b;

	(void)state;
	idle = fe_connect(s);
	b = fe_connect(s);
	fe_full(b); /* answered while idle holds its slot */
	expect_eof(idle->sock, 5000);
	assert_true(log_has("--hello-timeout-ms"));
	fe_free(idle);
	wait_live(s, 1);
	fe_free(b);
	srv_stop(s);
}

/*
 * Stop with live front-ends: guest RAM mapped, contexts with buffers, one command in flight and
 * one front-end silent in the middle of a message. Every thread is joined, every device torn
 * down (srv_stop counts descriptors and the budget), every front-end sees the socket close.
 */
static void test_shutdown_live(void **state)
{
	struct virtio_gpu_get_capset_info ci = {.hdr = hdr(VIRTIO_GPU_CMD_GET_CAPSET_INFO, 0)};
	struct viova_vhost_user_hdr half = {.request = VIOVA_VHOST_USER_SET_VRING_NUM,
					    .flags = VIOVA_VHOST_USER_VERSION,
					    .size = 8};
	struct srv *s = srv_start(4, 0, 5000);
	struct fe *f[3];

	(void)state;
	for (int i = 0; i < 3; i++)
		f[i] = fe_connect(s);
	for (int i = 0; i < 3; i++)
		fe_full(f[i]);
	viova_ctx(f[0]);
	assert_int_equal(gem_new(f[0], 1), 0);
	ctrl_post(f[1], &ci, sizeof(ci), NULL, 0, 64);
	/* a header announcing 8 bytes that never come: that thread blocks reading them */
	assert_int_equal(send(f[2]->sock, &half, sizeof(half), MSG_NOSIGNAL), sizeof(half));
	srv_stop_live(s, f, 3);
}

/* The daemon budget spans front-ends: B is refused (EDQUOT) while A holds it, served after. */
static void test_budget_spans_frontends(void **state)
{
	struct srv *s = srv_start(4, 1, 5000); /* the daemon budget: one buffer for everyone */
	struct fe *a, *b;

	(void)state;
	a = fe_connect(s);
	b = fe_connect(s);
	fe_full(a);
	fe_full(b);
	viova_ctx(a);
	viova_ctx(b);
	assert_int_equal(gem_new(a, 1), 0);
	assert_int_equal(gem_new(b, 1), VIOVA_EDQUOT);
	assert_int_equal(usage(s).buffers, 1);
	assert_true(log_has("vhost-user #3: error: GEM_NEW")); /* #1: srv_start's */
	/* A's disconnect returns its charge: B's next buffer fits */
	fe_free(a);
	wait_live(s, 1);
	assert_int_equal(usage(s).buffers, 0);
	assert_int_equal(gem_new(b, 2), 0);
	assert_int_equal(usage(s).buffers, 1);
	fe_free(b);
	srv_stop(s);
}

/*
 * The real binary with two front-ends served at once, then SIGTERM while both are live: exit 0
 * (under ASan a leak at exit would make it non-zero), both see the socket close, the socket
 * file is gone.
 */
static void test_socket_path_concurrent_sigterm(void **state)
{
	char path[108];
	const char *args[] = {"--socket-path", path, "--backend", "sim", NULL};
	struct fe *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	a->gpu_peer = a->kick = a->call = a->ram_fd = -1;
	b->gpu_peer = b->kick = b->call = b->ram_fd = -1;
	snprintf(path, sizeof(path), "/tmp/viova-vhsrv2-%d.sock", (int)getpid());
	unlink(path);
	spawn(a, args);
	a->sock = connect_path(path);
	b->sock = connect_path(path);
	handshake(a);
	handshake(b); /* answered while a stays connected */
	ctx_create(b);
	ctx_create(a);
	submit_3d(a);
	submit_3d(b);
	kill(a->pid, SIGTERM);
	assert_int_equal(wait_exit(a->pid, 20000), 0);
	expect_eof(a->sock, 5000);
	expect_eof(b->sock, 5000);
	assert_int_equal(access(path, F_OK), -1);
	fe_free(a);
	fe_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_socket_path_live_and_stale),
	    cmocka_unit_test(test_print_capabilities),
	    cmocka_unit_test(test_fd_mode),
	    cmocka_unit_test(test_socket_path_reconnect),
	    cmocka_unit_test(test_socket_path_concurrent_sigterm),
	    cmocka_unit_test(test_concurrent_frontends),
	    cmocka_unit_test(test_disconnect_one),
	    cmocka_unit_test(test_max_connections),
	    cmocka_unit_test(test_first_request_timeout),
	    cmocka_unit_test(test_shutdown_live),
	    cmocka_unit_test(test_budget_spans_frontends),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

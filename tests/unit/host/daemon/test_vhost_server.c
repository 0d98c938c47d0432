/* SPDX-License-Identifier: MIT */
/*
 * viova-host in vhost-user-gpu mode, the real binary driven by a fake QEMU front-end
 * (vhost_fe.h): --fd with one end of a socketpair and --socket-path with reconnects. The
 * handshake, config space, display socket, a memfd guest RAM, the control queue set up and
 * kicked; GET_CAPSET_INFO, CTX_CREATE and SUBMIT_3D (a RESP_INIT batch into a guest-backed
 * response area) answered in the used ring; a disconnect releases the device and the daemon
 * takes the next connection; --print-capabilities is valid JSON.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
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

/*
 * One control command through the ring: cmd (+ extra) readable, resp_cap writable; kick, wait
 * for the used entry. Returns the bytes the device wrote; the answer is at RESP_OFF.
 */
static uint32_t ctrl(struct fe *f, const void *cmd, uint32_t len, const void *extra,
		     uint32_t extra_len, uint32_t resp_cap)
{
	uint16_t head = (uint16_t)((f->ring.avail_idx * 3u) % QSIZE), d = head;
	uint32_t id, written;
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

static void fe_close(struct fe *f)
{
	close(f->sock);
	close(f->gpu_peer);
	close(f->kick);
	close(f->call);
	munmap(f->ram, RAM_SIZE);
	close(f->ram_fd);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_print_capabilities),
	    cmocka_unit_test(test_fd_mode),
	    cmocka_unit_test(test_socket_path_reconnect),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

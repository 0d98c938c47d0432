/* SPDX-License-Identifier: MIT */
/*
 * viova/vhost_user.h - wire structs of QEMU's vhost-user protocol (docs/interop/vhost-user.rst)
 * and of the vhost-user-gpu display socket (docs/interop/vhost-user-gpu.rst), as far as
 * viova-host speaks them. No installed header declares these (libvhost-user is not packaged in
 * Debian 12), so they are defined here once; docs/vhost-user.md says what is implemented.
 *
 * Byte order is the host's (both ends run on the same machine). Every message is
 *
 *   +----------------+--------------+-------------+-------------------+
 *   | request u32    | flags u32    | size u32    | payload[size]     |   + SCM_RIGHTS fds
 *   +----------------+--------------+-------------+-------------------+
 *   flags: bits 0-1 version (must be 1), bit 2 REPLY, bit 3 NEED_REPLY
 *
 * The vring structs (struct vhost_vring_state, struct vhost_vring_addr) are the kernel's, from
 * <linux/vhost_types.h>; the virtqueue layout is <linux/virtio_ring.h>.
 */
#ifndef VIOVA_VHOST_USER_H
#define VIOVA_VHOST_USER_H

#include <stddef.h>
#include <stdint.h>
#include <linux/vhost_types.h>

/* Front-end -> back-end requests (vhost-user.rst "Front-end message types"). */
enum viova_vhost_user_request {
	VIOVA_VHOST_USER_NONE = 0,
	VIOVA_VHOST_USER_GET_FEATURES = 1,
	VIOVA_VHOST_USER_SET_FEATURES = 2,
	VIOVA_VHOST_USER_SET_OWNER = 3,
	VIOVA_VHOST_USER_RESET_OWNER = 4,
	VIOVA_VHOST_USER_SET_MEM_TABLE = 5,
	VIOVA_VHOST_USER_SET_LOG_BASE = 6,
	VIOVA_VHOST_USER_SET_LOG_FD = 7,
	VIOVA_VHOST_USER_SET_VRING_NUM = 8,
	VIOVA_VHOST_USER_SET_VRING_ADDR = 9,
	VIOVA_VHOST_USER_SET_VRING_BASE = 10,
	VIOVA_VHOST_USER_GET_VRING_BASE = 11,
	VIOVA_VHOST_USER_SET_VRING_KICK = 12,
	VIOVA_VHOST_USER_SET_VRING_CALL = 13,
	VIOVA_VHOST_USER_SET_VRING_ERR = 14,
	VIOVA_VHOST_USER_GET_PROTOCOL_FEATURES = 15,
	VIOVA_VHOST_USER_SET_PROTOCOL_FEATURES = 16,
	VIOVA_VHOST_USER_GET_QUEUE_NUM = 17,
	VIOVA_VHOST_USER_SET_VRING_ENABLE = 18,
	VIOVA_VHOST_USER_SEND_RARP = 19,
	VIOVA_VHOST_USER_NET_SET_MTU = 20,
	VIOVA_VHOST_USER_SET_BACKEND_REQ_FD = 21,
	VIOVA_VHOST_USER_IOTLB_MSG = 22,
	VIOVA_VHOST_USER_SET_VRING_ENDIAN = 23,
	VIOVA_VHOST_USER_GET_CONFIG = 24,
	VIOVA_VHOST_USER_SET_CONFIG = 25,
	VIOVA_VHOST_USER_GET_INFLIGHT_FD = 31,
	VIOVA_VHOST_USER_SET_INFLIGHT_FD = 32,
	/* Carries the display socket (one fd, no payload) of vhost-user-gpu.rst. */
	VIOVA_VHOST_USER_GPU_SET_SOCKET = 33,
	VIOVA_VHOST_USER_GET_MAX_MEM_SLOTS = 36,
	VIOVA_VHOST_USER_ADD_MEM_REG = 37,
	VIOVA_VHOST_USER_REM_MEM_REG = 38,
};

#define VIOVA_VHOST_USER_VERSION 0x1u
#define VIOVA_VHOST_USER_VERSION_MASK 0x3u
#define VIOVA_VHOST_USER_FLAG_REPLY 0x4u
#define VIOVA_VHOST_USER_FLAG_NEED_REPLY 0x8u

/* Virtio feature bit that enables the protocol-feature negotiation (GET_FEATURES). */
#define VIOVA_VHOST_USER_F_PROTOCOL_FEATURES 30

/* Protocol feature bits (GET/SET_PROTOCOL_FEATURES). */
#define VIOVA_VHOST_USER_PROTOCOL_F_MQ 0
#define VIOVA_VHOST_USER_PROTOCOL_F_LOG_SHMFD 1
#define VIOVA_VHOST_USER_PROTOCOL_F_REPLY_ACK 3
#define VIOVA_VHOST_USER_PROTOCOL_F_BACKEND_REQ 5
#define VIOVA_VHOST_USER_PROTOCOL_F_CONFIG 9
#define VIOVA_VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS 15

/* SET_VRING_KICK/CALL/ERR u64 payload: bits 0-7 queue index, bit 8 "no fd attached". */
#define VIOVA_VHOST_USER_VRING_IDX_MASK 0xffull
#define VIOVA_VHOST_USER_VRING_NOFD_MASK (1ull << 8)

/* QEMU's VHOST_MEMORY_BASELINE_NREGIONS: regions (and fds) of one SET_MEM_TABLE. */
#define VIOVA_VHOST_USER_MAX_REGIONS 8
/* Most fds one message may carry; more is a protocol violation. */
#define VIOVA_VHOST_USER_MAX_FDS 8
/* Largest config space a GET/SET_CONFIG may address (QEMU's VHOST_USER_MAX_CONFIG_SIZE). */
#define VIOVA_VHOST_USER_MAX_CONFIG_SIZE 256

struct viova_vhost_user_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size; /* payload bytes that follow */
};
_Static_assert(sizeof(struct viova_vhost_user_hdr) == 12, "vhost-user header is 12 bytes");
_Static_assert(offsetof(struct viova_vhost_user_hdr, size) == 8, "size at 8");

/* One guest RAM region; the fd with the same position in SCM_RIGHTS backs it. */
struct viova_vhost_user_region {
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr; /* the front-end's virtual address of the region */
	uint64_t mmap_offset;	 /* offset of the region in its fd */
};
_Static_assert(sizeof(struct viova_vhost_user_region) == 32, "region is 32 bytes");
_Static_assert(offsetof(struct viova_vhost_user_region, mmap_offset) == 24, "mmap_offset at 24");

/* SET_MEM_TABLE payload; size on the wire = 8 + nregions * 32. */
struct viova_vhost_user_memory {
	uint32_t nregions;
	uint32_t padding;
	struct viova_vhost_user_region regions[VIOVA_VHOST_USER_MAX_REGIONS];
};
_Static_assert(offsetof(struct viova_vhost_user_memory, regions) == 8, "regions at 8");
_Static_assert(sizeof(struct viova_vhost_user_memory) == 8 + 8 * 32, "memory table size");

/* GET/SET_CONFIG payload; size on the wire = 12 + size. */
struct viova_vhost_user_config {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
	uint8_t region[VIOVA_VHOST_USER_MAX_CONFIG_SIZE];
};
#define VIOVA_VHOST_USER_CONFIG_HDR_SIZE 12u
_Static_assert(offsetof(struct viova_vhost_user_config, region) == 12, "config data at 12");

/* The kernel structs reused on the wire: check they have the layout vhost-user expects. */
_Static_assert(sizeof(struct vhost_vring_state) == 8, "vring state is {u32 index, u32 num}");
_Static_assert(sizeof(struct vhost_vring_addr) == 40, "vring addr is 2 x u32 + 4 x u64");
_Static_assert(offsetof(struct vhost_vring_addr, desc_user_addr) == 8, "desc_user_addr at 8");
_Static_assert(offsetof(struct vhost_vring_addr, used_user_addr) == 16, "used_user_addr at 16");
_Static_assert(offsetof(struct vhost_vring_addr, avail_user_addr) == 24, "avail_user_addr at 24");
_Static_assert(offsetof(struct vhost_vring_addr, log_guest_addr) == 32, "log_guest_addr at 32");

/* Largest payload viova-host accepts; anything bigger is a framing error (connection closed). */
#define VIOVA_VHOST_USER_MAX_PAYLOAD 4096u
_Static_assert(sizeof(struct viova_vhost_user_memory) <= VIOVA_VHOST_USER_MAX_PAYLOAD, "fits");
_Static_assert(sizeof(struct viova_vhost_user_config) <= VIOVA_VHOST_USER_MAX_PAYLOAD, "fits");

/*
 * vhost-user-gpu display socket (back-end -> front-end requests, optional replies). Same
 * 12-byte header as above with only the REPLY flag defined.
 */
enum viova_vhost_user_gpu_request {
	VIOVA_VHOST_USER_GPU_NONE = 0,
	VIOVA_VHOST_USER_GPU_GET_PROTOCOL_FEATURES = 1,
	VIOVA_VHOST_USER_GPU_SET_PROTOCOL_FEATURES = 2,
	VIOVA_VHOST_USER_GPU_GET_DISPLAY_INFO = 3,
	VIOVA_VHOST_USER_GPU_CURSOR_POS = 4,
	VIOVA_VHOST_USER_GPU_CURSOR_POS_HIDE = 5,
	VIOVA_VHOST_USER_GPU_CURSOR_UPDATE = 6,
	VIOVA_VHOST_USER_GPU_SCANOUT = 7,
	VIOVA_VHOST_USER_GPU_UPDATE = 8,
	VIOVA_VHOST_USER_GPU_DMABUF_SCANOUT = 9,
	VIOVA_VHOST_USER_GPU_DMABUF_UPDATE = 10,
};

struct viova_vhost_user_gpu_cursor_pos {
	uint32_t scanout_id;
	uint32_t x;
	uint32_t y;
};
_Static_assert(sizeof(struct viova_vhost_user_gpu_cursor_pos) == 12, "cursor pos is 12 bytes");

struct viova_vhost_user_gpu_scanout {
	uint32_t scanout_id;
	uint32_t width;
	uint32_t height;
};
_Static_assert(sizeof(struct viova_vhost_user_gpu_scanout) == 12, "scanout is 12 bytes");

/* VHOST_USER_GPU_UPDATE header; x8r8g8b8 pixel data follows it in the same payload. */
struct viova_vhost_user_gpu_update {
	uint32_t scanout_id;
	uint32_t x;
	uint32_t y;
	uint32_t width;
	uint32_t height;
};
_Static_assert(sizeof(struct viova_vhost_user_gpu_update) == 20, "update header is 20 bytes");

#endif /* VIOVA_VHOST_USER_H */

/* SPDX-License-Identifier: MIT */
/*
 * vhost_user.h - the back-end side of one vhost-user connection (QEMU docs/interop/vhost-user.rst):
 * message framing with SCM_RIGHTS fds, and the request handlers that keep the device state
 * (features, memory table with guest RAM mapped, vrings, config space, the vhost-user-gpu
 * display socket). The virtio-gpu device model sits on top: it polls viova_vhost_user_dev.sock and
 * the queues' kick fds, calls viova_vhost_user_handle_one() for the socket and viova_virtq_pop()
 * for kicks. docs/vhost-user.md describes what is implemented.
 *
 *   front-end (QEMU)                         back-end (this)
 *   GET_FEATURES / SET_FEATURES      ---->   offered & acked virtio features
 *   GET/SET_PROTOCOL_FEATURES        ---->   REPLY_ACK, CONFIG, MQ (as configured)
 *   SET_OWNER                        ---->
 *   SET_MEM_TABLE + fds              ---->   mmap(MAP_SHARED) each region, bounds-checked
 *   SET_VRING_NUM/BASE/ADDR          ---->   queue size, start index, rings translated
 *   SET_VRING_KICK/CALL/ERR + fd     ---->   queue started on KICK
 *   SET_VRING_ENABLE                 ---->   (when protocol features were acked)
 *   GET_VRING_BASE                   ---->   queue stopped, kick/call fds closed
 *   GPU_SET_SOCKET + fd              ---->   display socket kept for the device model
 *   EOF                              ---->   viova_vhost_user_disconnect(): everything released
 *
 * Replies: GET_* always; any other request when NEED_REPLY is set and REPLY_ACK was acked
 * (u64 0 = success, 1 = refused). A refused request leaves the device state unchanged.
 */
#ifndef VIOVA_DAEMON_VHOST_USER_H
#define VIOVA_DAEMON_VHOST_USER_H

#include <stdbool.h>
#include <stdint.h>

#include <viova/vhost_user.h>

#include "virtq.h"

/* Queues one device may have (virtio-gpu has 2: control and cursor). */
#define VIOVA_VHOST_USER_MAX_QUEUES 8u

struct viova_vhost_user_dev;

/* What the device model offers and how it answers config accesses. */
struct viova_vhost_user_cfg {
	uint64_t features;	    /* virtio features offered (PROTOCOL_FEATURES is added) */
	uint64_t protocol_features; /* protocol features offered */
	/*
	 * Virtio features a front-end may set in SET_FEATURES although they were not offered:
	 * accepted, dropped from dev->features and otherwise ignored. For transport bits a
	 * front-end forwards from the guest's negotiation without asking the backend (QEMU 10's
	 * vhost-user-gpu and VIRTIO_F_RING_RESET, see vhost_server.c). Any other unoffered bit is
	 * refused with -EINVAL.
	 */
	uint64_t tolerated_features;
	uint32_t num_queues;	    /* 1..VIOVA_VHOST_USER_MAX_QUEUES */
	/*
	 * Config space reads (GET_CONFIG): fill @buf with @size bytes from @offset, already
	 * checked to lie in [0, config_size). Returns 0 or -errno (refused). NULL: no config.
	 */
	int (*get_config)(void *opaque, uint32_t offset, uint32_t size, uint8_t *buf);
	/* Config space writes (SET_CONFIG), same checks. NULL: writes refused. */
	int (*set_config)(void *opaque, uint32_t offset, uint32_t size, const uint8_t *buf);
	uint32_t config_size; /* <= VIOVA_VHOST_USER_MAX_CONFIG_SIZE */
	void *opaque;
};

/* The device state. Read it freely; change it only through the functions below. */
struct viova_vhost_user_dev {
	int sock; /* the connection; owned */
	struct viova_vhost_user_cfg cfg;
	uint64_t features;	    /* acked by SET_FEATURES */
	uint64_t protocol_features; /* acked by SET_PROTOCOL_FEATURES */
	bool owner;		    /* SET_OWNER seen */
	bool dead;		    /* framing lost or peer gone: only disconnect/destroy remain */
	int gpu_sock;		    /* VHOST_USER_GPU_SET_SOCKET fd or -1; owned */
	struct viova_guest_mem mem;
	struct viova_virtq vq[VIOVA_VHOST_USER_MAX_QUEUES];
};

/*
 * viova_vhost_user_create() - a device for the connected stream socket @sock (ownership of
 * @sock passes to the device, also on failure). @cfg is copied.
 * Returns 0 and *out; -EINVAL for num_queues outside 1..VIOVA_VHOST_USER_MAX_QUEUES, config_size
 * above VIOVA_VHOST_USER_MAX_CONFIG_SIZE or sock < 0; -ENOMEM.
 */
int viova_vhost_user_create(int sock, const struct viova_vhost_user_cfg *cfg,
			    struct viova_vhost_user_dev **out);

/* viova_vhost_user_destroy() - disconnect and free (closes sock). NULL is allowed. */
void viova_vhost_user_destroy(struct viova_vhost_user_dev *dev);

/*
 * viova_vhost_user_disconnect() - release what the connection set up: unmap guest RAM, close
 * every queue fd and the display socket, forget features. sock stays open (closing it is
 * destroy's job) and the device is marked dead.
 */
void viova_vhost_user_disconnect(struct viova_vhost_user_dev *dev);

/*
 * viova_vhost_user_handle_one() - read one message from sock (blocking), handle it, reply.
 * Returns 0 when the request was carried out.
 * Connection errors (dev->dead is set; call viova_vhost_user_disconnect()):
 *   -ECONNRESET peer closed; -EMSGSIZE payload above VIOVA_VHOST_USER_MAX_PAYLOAD (the stream
 *   cannot be resynchronised); -EIO socket error or short message; -EPIPE a reply could not be
 *   sent; -ENOTCONN the device was already dead.
 * -ENOMEM: no message buffer (nothing read; try again).
 * Refused requests (state unchanged, connection goes on; a failure reply was sent when one is
 * due): -EPROTO bad version or flags; -EBADMSG payload size wrong for the request; -E2BIG too
 * many fds or regions; -EOPNOTSUPP unknown or unsupported request; -EINVAL bad value (queue
 * index, size not a power of two, unoffered feature, wrong fd count, ...); -EFAULT a region or
 * ring outside what was mapped; -EBUSY queue reconfigured while started; -ENODEV the
 * device model has no config space; -errno of mmap/fstat.
 */
int viova_vhost_user_handle_one(struct viova_vhost_user_dev *dev);

/* viova_vhost_user_request_name() - "SET_MEM_TABLE" etc., "UNKNOWN" otherwise. */
const char *viova_vhost_user_request_name(uint32_t request);

#endif /* VIOVA_DAEMON_VHOST_USER_H */

/* SPDX-License-Identifier: MIT */
/*
 * transport.h - how libviova-guest moves batches to a host and sleeps until it progresses.
 * Internal to guest/: one ops table per transport (socket now; virtgpu in the vhost-user
 * issue), chosen by the URI scheme in device.c.
 *
 * A transport provides three things the rest of the library builds on:
 *   - the response area: memory the host writes and this process reads, with the handle that
 *     RESP_INIT names it by (socket: res_id 0 = the memfd sent in HELLO);
 *   - send: one batch = one message, atomic with respect to other processes' messages;
 *   - a progress counter and a way to sleep until it changes (socket: the doorbell futex).
 * Every state the library waits for (processed seqno, completed fence, lost flag) is in the
 * response area; progress only says "look again".
 */
#ifndef VIOVA_GUEST_TRANSPORT_H
#define VIOVA_GUEST_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "viova/protocol.h"

struct guest_transport;

/* What device.c asks of a transport at open. */
struct guest_transport_params {
	uint64_t timeout_ns; /* handshake and send timeout */
	uint32_t area_size;  /* bytes of response area to allocate */
	uint32_t pad0;
};

/* What a transport hands back at open. */
struct guest_transport_info {
	struct viova_capset caps;
	void *area;	      /* response area, area_size bytes, 64-byte aligned */
	uint32_t res_id;      /* RESP_INIT res_id naming the area */
	uint32_t max_message; /* largest batch send() can carry */
};

struct guest_transport_ops {
	const char *scheme; /* "unix" */
	/* Connect to target (the URI after "scheme:") and do the handshake. */
	int (*open)(const char *target, const struct guest_transport_params *p,
		    struct guest_transport **out, struct guest_transport_info *info);
	/*
	 * Release this process's share: unmap, close fds. The connection ends when the last
	 * process holding it closes (or exits).
	 */
	void (*close)(struct guest_transport *t);
	/* Send one batch as one message. -ENODEV peer gone; -ETIMEDOUT not taken in time. */
	int (*send)(struct guest_transport *t, const void *batch, size_t len);
	/* Current progress value (acquire). */
	uint32_t (*progress)(struct guest_transport *t);
	/*
	 * Sleep until progress differs from seen, or timeout_ns. 0 woken (or already
	 * different), -ETIMEDOUT. Spurious wake-ups are allowed.
	 */
	int (*wait)(struct guest_transport *t, uint32_t seen, uint64_t timeout_ns);
	/* 0 while the peer is there; -ENODEV once it hung up (message in why). */
	int (*alive)(struct guest_transport *t, char *why, size_t why_len);
};

/* Every transport starts with this. */
struct guest_transport {
	const struct guest_transport_ops *ops;
};

extern const struct guest_transport_ops guest_transport_socket;
extern const struct guest_transport_ops guest_transport_virtgpu; /* transport_virtgpu.c */

/*
 * Daemon statistics over a separate short connection (socket transport only): target is the
 * socket path. Returns 0 or a negative errno (message in why).
 */
struct viova_guest_host_stats;
int guest_socket_host_stats(const char *target, uint64_t timeout_ns,
			    struct viova_guest_host_stats *st, char *why, size_t why_len);

#endif /* VIOVA_GUEST_TRANSPORT_H */

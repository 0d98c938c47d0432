/* SPDX-License-Identifier: MIT */
/*
 * viova/socket.h - framing of the unix-socket transport (guest library <-> viova-host
 * --listen unix:PATH). Only the framing lives here; what travels inside a BATCH frame is the
 * viova batch of viova/protocol.h, unchanged.
 *
 * docs/protocol.md, section "Socket transport", is the specification; the socket_spec test
 * (tests/integration/guest/check_sock_spec.py) fails when a struct, field or constant here and
 * a table there differ. Same rules as protocol.h: little-endian, fixed-width fields, every
 * struct a multiple of 8 bytes, explicit padding that must be zero.
 *
 *   connection = AF_UNIX SOCK_SEQPACKET: one frame = one message, so processes that share the
 *                connection after fork() never interleave bytes of two frames.
 *
 *   guest                                   viova-host
 *     HELLO + memfd (SCM_RIGHTS)  ------->   maps the memfd, creates the connection's host
 *                                 <-------   HELLO_REPLY (status, capset)
 *     BATCH (viova batch)         ------->   viova_host_process(); doorbell progress++, wake
 *     BATCH ...                   ------->
 *                                 <-------   BYE (only before the server closes on its own)
 *
 *   memfd shared with the server (sealed: it can neither shrink nor grow):
 *   +--------------------------------------+-------------------------+
 *   | response area (viova_resp_area ...)  | viova_sock_doorbell     |
 *   | [0, area_size), RESP_INIT res_id 0   | at doorbell_offset      |
 *   +--------------------------------------+-------------------------+
 *
 * The doorbell is how a guest sleeps without a reply message: the server increments
 * `progress` after every batch and every fence / fault event of the connection and wakes
 * FUTEX waiters on it (a shared-file futex works across the two processes).
 */
#ifndef VIOVA_SOCKET_H
#define VIOVA_SOCKET_H

#include <stddef.h>
#include <stdint.h>

#include "viova/protocol.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic error "-Wpadded"

#define VIOVA_SOCK_MAGIC 0x534f4956u /* "VIOS" little-endian */

/* Frame types (viova_sock_frame.type). */
#define VIOVA_SOCK_HELLO 1	 /* guest -> server, first frame, carries the memfd */
#define VIOVA_SOCK_HELLO_REPLY 2 /* server -> guest */
#define VIOVA_SOCK_BATCH 3	 /* guest -> server: a viova batch follows the frame header */
#define VIOVA_SOCK_STATS 4	 /* guest -> server, instead of HELLO: daemon-wide counters */
#define VIOVA_SOCK_STATS_REPLY 5 /* server -> guest */
#define VIOVA_SOCK_BYE 6	 /* server -> guest, just before the server closes */

/* Largest frame that is not a BATCH (all of them are fixed-size). */
#define VIOVA_SOCK_MAX_CONTROL 512
/* Bytes of a BYE / HELLO_REPLY message (NUL-terminated text). */
#define VIOVA_SOCK_MESSAGE_SIZE 128

/* Header of every frame. length covers the whole frame, this header included. */
struct viova_sock_frame {
	uint32_t magic;	 /* VIOVA_SOCK_MAGIC */
	uint16_t type;	 /* VIOVA_SOCK_* */
	uint16_t flags;	 /* none defined: must be 0 */
	uint32_t length; /* bytes of the whole message; BATCH: <= 16 + capset.max_batch_size */
	uint32_t reserved;
};
VIOVA_WIRE_SIZE(viova_sock_frame, 16);
VIOVA_WIRE_FIELD(viova_sock_frame, magic, 0, 4);
VIOVA_WIRE_FIELD(viova_sock_frame, type, 4, 2);
VIOVA_WIRE_FIELD(viova_sock_frame, flags, 6, 2);
VIOVA_WIRE_FIELD(viova_sock_frame, length, 8, 4);
VIOVA_WIRE_FIELD(viova_sock_frame, reserved, 12, 4);

/*
 * HELLO: the first frame of a guest connection, sent with exactly one file descriptor
 * (SCM_RIGHTS): a tmpfs memfd (not MFD_HUGETLB) sealed with F_SEAL_SHRINK | F_SEAL_GROW
 * before it is sent, at least doorbell_offset + sizeof(struct viova_sock_doorbell) bytes long.
 * The server checks the seals before it reads the size, so the size it maps is final; a memfd
 * missing either seal is refused (EINVAL), since a shrink would SIGBUS the server.
 */
struct viova_sock_hello {
	struct viova_sock_frame frame;
	uint16_t wire_major; /* VIOVA_WIRE_MAJOR of the guest */
	uint16_t wire_minor;
	uint32_t flags;		  /* none defined: must be 0 */
	uint64_t area_size;	  /* bytes of the response area at offset 0 (RESP_INIT size) */
	uint64_t doorbell_offset; /* area_size rounded up to the page size */
	uint64_t reserved;
};
VIOVA_WIRE_SIZE(viova_sock_hello, 48);
VIOVA_WIRE_FIELD(viova_sock_hello, frame, 0, 16);
VIOVA_WIRE_FIELD(viova_sock_hello, wire_major, 16, 2);
VIOVA_WIRE_FIELD(viova_sock_hello, wire_minor, 18, 2);
VIOVA_WIRE_FIELD(viova_sock_hello, flags, 20, 4);
VIOVA_WIRE_FIELD(viova_sock_hello, area_size, 24, 8);
VIOVA_WIRE_FIELD(viova_sock_hello, doorbell_offset, 32, 8);
VIOVA_WIRE_FIELD(viova_sock_hello, reserved, 40, 8);

/*
 * HELLO_REPLY: status 0 and the connection's capset, or a wire errno (EPROTONOSUPPORT for
 * another wire major, EINVAL for a bad HELLO or memfd, EBUSY when the daemon is full) with
 * a message; the server closes the connection after a refusal.
 */
struct viova_sock_hello_reply {
	struct viova_sock_frame frame;
	uint32_t status;     /* 0 or VIOVA_E* */
	uint16_t wire_major; /* the server's */
	uint16_t wire_minor;
	struct viova_capset caps;		  /* zero unless status is 0 */
	uint8_t message[VIOVA_SOCK_MESSAGE_SIZE]; /* why it refused, NUL-terminated */
};
VIOVA_WIRE_SIZE(viova_sock_hello_reply, 272);
VIOVA_WIRE_FIELD(viova_sock_hello_reply, frame, 0, 16);
VIOVA_WIRE_FIELD(viova_sock_hello_reply, status, 16, 4);
VIOVA_WIRE_FIELD(viova_sock_hello_reply, wire_major, 20, 2);
VIOVA_WIRE_FIELD(viova_sock_hello_reply, wire_minor, 22, 2);
VIOVA_WIRE_FIELD(viova_sock_hello_reply, caps, 24, 120);
VIOVA_WIRE_FIELD(viova_sock_hello_reply, message, 144, 128);

/*
 * BYE: the server is about to close the connection on its own (a malformed frame, a daemon
 * shutdown). The guest reads it when it notices the hang-up, to say why.
 */
struct viova_sock_bye {
	struct viova_sock_frame frame;
	uint32_t status; /* VIOVA_EPROTO malformed frame, VIOVA_ENODEV daemon shutting down */
	uint32_t pad0;
	uint8_t message[VIOVA_SOCK_MESSAGE_SIZE];
};
VIOVA_WIRE_SIZE(viova_sock_bye, 152);
VIOVA_WIRE_FIELD(viova_sock_bye, frame, 0, 16);
VIOVA_WIRE_FIELD(viova_sock_bye, status, 16, 4);
VIOVA_WIRE_FIELD(viova_sock_bye, pad0, 20, 4);
VIOVA_WIRE_FIELD(viova_sock_bye, message, 24, 128);

/*
 * STATS_REPLY: what every live guest connection of the daemon holds right now (sums of the
 * host counters, refreshed after each batch), for monitoring and the disconnect tests.
 */
struct viova_sock_stats_reply {
	struct viova_sock_frame frame;
	uint32_t connections; /* live guest connections (this one not counted) */
	uint32_t contexts;
	uint32_t vms;
	uint32_t buffers; /* closed-but-busy buffers included */
	uint32_t mappings;
	uint32_t jobs_pending;
	uint64_t bytes;		    /* bytes of live buffers */
	uint64_t connections_total; /* guest connections accepted since start */
	uint64_t batches;	    /* batches processed since start */
	uint64_t rejected; /* connections refused at HELLO or closed for a malformed frame */
};
VIOVA_WIRE_SIZE(viova_sock_stats_reply, 72);
VIOVA_WIRE_FIELD(viova_sock_stats_reply, frame, 0, 16);
VIOVA_WIRE_FIELD(viova_sock_stats_reply, connections, 16, 4);
VIOVA_WIRE_FIELD(viova_sock_stats_reply, contexts, 20, 4);
VIOVA_WIRE_FIELD(viova_sock_stats_reply, vms, 24, 4);
VIOVA_WIRE_FIELD(viova_sock_stats_reply, buffers, 28, 4);
VIOVA_WIRE_FIELD(viova_sock_stats_reply, mappings, 32, 4);
VIOVA_WIRE_FIELD(viova_sock_stats_reply, jobs_pending, 36, 4);
VIOVA_WIRE_FIELD(viova_sock_stats_reply, bytes, 40, 8);
VIOVA_WIRE_FIELD(viova_sock_stats_reply, connections_total, 48, 8);
VIOVA_WIRE_FIELD(viova_sock_stats_reply, batches, 56, 8);
VIOVA_WIRE_FIELD(viova_sock_stats_reply, rejected, 64, 8);

/*
 * The doorbell, in the memfd at doorbell_offset. progress is written only by the server,
 * waiters only by guests; the server reads waiters (untrusted: it only decides whether a
 * wake-up syscall is worth making).
 *
 *   server: publish results; progress += 1 (seq_cst); if waiters: FUTEX_WAKE(&progress, all)
 *   guest:  waiters += 1 (seq_cst); seen = progress; if the condition holds: done;
 *           FUTEX_WAIT(&progress, seen, timeout); waiters -= 1; re-check the condition
 */
struct viova_sock_doorbell {
	uint32_t progress; /* futex word, free-running */
	uint32_t waiters;  /* guests sleeping on progress */
	uint64_t reserved[7];
};
VIOVA_WIRE_SIZE(viova_sock_doorbell, 64);
VIOVA_WIRE_FIELD(viova_sock_doorbell, progress, 0, 4);
VIOVA_WIRE_FIELD(viova_sock_doorbell, waiters, 4, 4);
VIOVA_WIRE_FIELD(viova_sock_doorbell, reserved, 8, 56);

#pragma GCC diagnostic pop

#endif /* VIOVA_SOCKET_H */

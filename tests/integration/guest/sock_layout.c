/* SPDX-License-Identifier: MIT */
/*
 * sock_layout.c - print the compiled layout of the socket transport's wire structs and the
 * value of its constants (viova/socket.h), one per line, for check_sock_spec.py to compare
 * with the "Socket transport" section of docs/protocol.md:
 *
 *   struct <name> <size>
 *   field <struct> <name> <type> <offset> <size>
 *   const <NAME> <value>
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>

#include "viova/socket.h"

#define S(t) printf("struct " #t " %zu\n", sizeof(struct t))
#define F(t, f, type)                                                                              \
	printf("field " #t " " #f " %s %zu %zu\n", type, offsetof(struct t, f),                    \
	       sizeof(((struct t *)0)->f))
#define C(n) printf("const " #n " %" PRId64 "\n", (int64_t)(n))

int main(void)
{
	S(viova_sock_frame);
	F(viova_sock_frame, magic, "u32");
	F(viova_sock_frame, type, "u16");
	F(viova_sock_frame, flags, "u16");
	F(viova_sock_frame, length, "u32");
	F(viova_sock_frame, reserved, "u32");

	S(viova_sock_hello);
	F(viova_sock_hello, frame, "viova_sock_frame");
	F(viova_sock_hello, wire_major, "u16");
	F(viova_sock_hello, wire_minor, "u16");
	F(viova_sock_hello, flags, "u32");
	F(viova_sock_hello, area_size, "u64");
	F(viova_sock_hello, doorbell_offset, "u64");
	F(viova_sock_hello, reserved, "u64");

	S(viova_sock_hello_reply);
	F(viova_sock_hello_reply, frame, "viova_sock_frame");
	F(viova_sock_hello_reply, status, "u32");
	F(viova_sock_hello_reply, wire_major, "u16");
	F(viova_sock_hello_reply, wire_minor, "u16");
	F(viova_sock_hello_reply, caps, "viova_capset");
	F(viova_sock_hello_reply, message, "u8[128]");

	S(viova_sock_bye);
	F(viova_sock_bye, frame, "viova_sock_frame");
	F(viova_sock_bye, status, "u32");
	F(viova_sock_bye, pad0, "u32");
	F(viova_sock_bye, message, "u8[128]");

	S(viova_sock_stats_reply);
	F(viova_sock_stats_reply, frame, "viova_sock_frame");
	F(viova_sock_stats_reply, connections, "u32");
	F(viova_sock_stats_reply, contexts, "u32");
	F(viova_sock_stats_reply, vms, "u32");
	F(viova_sock_stats_reply, buffers, "u32");
	F(viova_sock_stats_reply, mappings, "u32");
	F(viova_sock_stats_reply, jobs_pending, "u32");
	F(viova_sock_stats_reply, bytes, "u64");
	F(viova_sock_stats_reply, connections_total, "u64");
	F(viova_sock_stats_reply, batches, "u64");
	F(viova_sock_stats_reply, rejected, "u64");

	S(viova_sock_doorbell);
	F(viova_sock_doorbell, progress, "u32");
	F(viova_sock_doorbell, waiters, "u32");
	F(viova_sock_doorbell, reserved, "u64[7]");

	C(VIOVA_SOCK_MAGIC);
	C(VIOVA_SOCK_HELLO);
	C(VIOVA_SOCK_HELLO_REPLY);
	C(VIOVA_SOCK_BATCH);
	C(VIOVA_SOCK_STATS);
	C(VIOVA_SOCK_STATS_REPLY);
	C(VIOVA_SOCK_BYE);
	C(VIOVA_SOCK_MAX_CONTROL);
	C(VIOVA_SOCK_MESSAGE_SIZE);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * test_codec_resp.c - protocol/codec_resp.c: layout limits, host init / guest attach checks,
 * the error ring (order, wrap-around of slots and of the 32-bit indices, overflow counting, a
 * corrupt guest tail), per-command responses (bounds, alignment, seqno matching, truncation),
 * monotonic processed seqno, and per-context slots.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "viova/codec.h"

#define AREA_SIZE 16384
#define CTX_SLOTS 9 /* max_contexts 8 */

static uint64_t area_mem[AREA_SIZE / 8];
static struct viova_codec_resp_host H;
static struct viova_codec_resp_guest G;

static struct viova_resp_area *area(void)
{
	return (struct viova_resp_area *)area_mem;
}

static int setup_cap4(void **state)
{
	(void)state;
	memset(area_mem, 0xa5, sizeof(area_mem)); /* init must clear old content */
	assert_int_equal(viova_codec_resp_host_init(&H, area_mem, AREA_SIZE, CTX_SLOTS, 4), 0);
	assert_int_equal(viova_codec_resp_guest_attach(&G, area_mem, AREA_SIZE), 0);
	return 0;
}

static struct viova_err_rec rec(uint64_t seqno)
{
	return (struct viova_err_rec){
	    .seqno = seqno,
	    .detail0 = seqno * 3,
	    .detail1 = ~seqno,
	    .cmd = VIOVA_CMD_SET_IOVA,
	    .ctx_id = 2,
	    .err = VIOVA_EBUSY,
	    .flags = VIOVA_ERR_CTX_LOST,
	};
}

static void pop_expect(uint64_t seqno)
{
	struct viova_err_rec got, want = rec(seqno);

	assert_int_equal(viova_codec_resp_guest_pop_error(&G, &got), 0);
	assert_memory_equal(&got, &want, sizeof(got));
}

/* ------------------------------------------------------------------------------------------ */

static void test_layout(void **state)
{
	struct viova_codec_resp_layout l;

	(void)state;
	assert_int_equal(viova_codec_resp_layout(AREA_SIZE, 65, 64, &l), 0);
	assert_int_equal(l.ctx_offset, sizeof(struct viova_resp_area));
	assert_true(l.err_offset >= l.ctx_offset + 65 * sizeof(struct viova_resp_ctx));
	assert_true(l.payload_offset >= l.err_offset + 64 * sizeof(struct viova_err_rec));
	assert_int_equal(l.err_offset % 64, 0);
	assert_int_equal(l.payload_offset % 64, 0);
	assert_int_equal(l.payload_offset + l.payload_size, AREA_SIZE);
	assert_true(l.payload_size >= VIOVA_RESP_MIN_PAYLOAD);

	/* Default ring size. */
	assert_int_equal(viova_codec_resp_layout(AREA_SIZE, 65, 0, &l), 0);
	assert_int_equal(l.err_capacity, VIOVA_RESP_DEFAULT_ERR_RECORDS);

	assert_int_equal(viova_codec_resp_layout(AREA_SIZE, 0, 64, &l), -EINVAL);
	assert_int_equal(viova_codec_resp_layout(AREA_SIZE, 65, 48, &l), -EINVAL);
	assert_int_equal(viova_codec_resp_layout(1ull << 32, 65, 64, &l), -EOVERFLOW);
	assert_int_equal(
	    viova_codec_resp_layout(1ull << 30, 65, VIOVA_RESP_MAX_ERR_RECORDS * 2, &l), -EINVAL);
	/* Too small for the payload minimum; a huge context count cannot wrap the maths. */
	assert_int_equal(viova_codec_resp_layout(4096, 65, 64, &l), -ENOSPC);
	assert_int_equal(viova_codec_resp_layout(UINT32_MAX, UINT32_MAX, 64, &l), -ENOSPC);
}

static void test_init_attach(void **state)
{
	struct viova_codec_resp_guest g;

	(void)state;
	memset(area_mem, 0, sizeof(area_mem));
	/* Before the host initialises the area. */
	assert_int_equal(viova_codec_resp_guest_attach(&g, area_mem, AREA_SIZE), -EAGAIN);
	assert_int_equal(
	    viova_codec_resp_host_init(&H, (uint8_t *)area_mem + 4, AREA_SIZE - 8, CTX_SLOTS, 4),
	    -EINVAL);
	assert_int_equal(viova_codec_resp_host_init(&H, area_mem, 2048, CTX_SLOTS, 4), -ENOSPC);
	assert_int_equal(viova_codec_resp_host_init(&H, area_mem, AREA_SIZE, CTX_SLOTS, 4), 0);
	assert_int_equal(area()->magic, VIOVA_RESP_MAGIC);
	assert_int_equal(area()->area_size, AREA_SIZE);
	assert_int_equal(area()->ctx_count, CTX_SLOTS);
	assert_int_equal(area()->err_capacity, 4);
	assert_int_equal(area()->hdr_size, sizeof(struct viova_resp_area));
	assert_int_equal(viova_codec_resp_guest_attach(&g, area_mem, AREA_SIZE), 0);
	assert_int_equal(g.lay.payload_offset, H.lay.payload_offset);
	assert_int_equal(viova_codec_resp_guest_processed(&g), 0);

	/* The guest maps less than the host laid out. */
	assert_int_equal(viova_codec_resp_guest_attach(&g, area_mem, AREA_SIZE - 64), -EBADMSG);
	/* A host of another major. */
	area()->major = VIOVA_WIRE_MAJOR + 1;
	assert_int_equal(viova_codec_resp_guest_attach(&g, area_mem, AREA_SIZE), -EPROTONOSUPPORT);
	area()->major = VIOVA_WIRE_MAJOR;
	/* Inconsistent layouts. */
	area()->err_capacity = 3;
	assert_int_equal(viova_codec_resp_guest_attach(&g, area_mem, AREA_SIZE), -EBADMSG);
	area()->err_capacity = 4;
	area()->err_rec_size = 32;
	assert_int_equal(viova_codec_resp_guest_attach(&g, area_mem, AREA_SIZE), -EBADMSG);
	area()->err_rec_size = sizeof(struct viova_err_rec);
	area()->payload_size = AREA_SIZE;
	assert_int_equal(viova_codec_resp_guest_attach(&g, area_mem, AREA_SIZE), -EBADMSG);
}

static void test_ring_order_and_wrap(void **state)
{
	struct viova_err_rec r;
	uint64_t s = 1;
	int round;

	(void)state;
	assert_int_equal(viova_codec_resp_guest_pop_error(&G, &r), -EAGAIN);
	/* 5 rounds of 3 records through a 4-slot ring: slots wrap, order holds. */
	for (round = 0; round < 5; round++) {
		uint64_t first = s;

		for (int i = 0; i < 3; i++, s++) {
			struct viova_err_rec x = rec(s);

			assert_int_equal(viova_codec_resp_host_push_error(&H, &x), 0);
		}
		for (uint64_t k = first; k < s; k++)
			pop_expect(k);
		assert_int_equal(viova_codec_resp_guest_pop_error(&G, &r), -EAGAIN);
	}
	assert_int_equal(area()->err_head, 15);
	assert_int_equal(area()->err_tail, 15);
	assert_int_equal(viova_codec_resp_guest_overflow(&G), 0);
}

static void test_ring_overflow(void **state)
{
	(void)state;
	for (uint64_t s = 1; s <= 7; s++) {
		struct viova_err_rec x = rec(s);

		assert_int_equal(viova_codec_resp_host_push_error(&H, &x), s <= 4 ? 0 : -ENOSPC);
	}
	/* The oldest records are kept, the 3 newest counted as dropped. */
	assert_int_equal(viova_codec_resp_guest_overflow(&G), 3);
	pop_expect(1);
	pop_expect(2);
	/* Room again: new records go in after the kept ones. */
	{
		struct viova_err_rec x = rec(8);

		assert_int_equal(viova_codec_resp_host_push_error(&H, &x), 0);
	}
	pop_expect(3);
	pop_expect(4);
	pop_expect(8);
	assert_int_equal(viova_codec_resp_guest_overflow(&G), 3);
}

/* The free-running 32-bit indices wrap around 2^32 without losing order. */
static void test_ring_index_wrap(void **state)
{
	(void)state;
	/* Start both sides just below 2^32 (private fields set as if 4G records had passed). */
	H.err_head = UINT32_MAX - 1;
	area()->err_head = UINT32_MAX - 1;
	area()->err_tail = UINT32_MAX - 1;
	G.err_tail = UINT32_MAX - 1;
	for (uint64_t s = 1; s <= 4; s++) {
		struct viova_err_rec x = rec(s);

		assert_int_equal(viova_codec_resp_host_push_error(&H, &x), 0);
	}
	assert_int_equal(area()->err_head, 2);
	{
		struct viova_err_rec x = rec(5);

		assert_int_equal(viova_codec_resp_host_push_error(&H, &x), -ENOSPC);
	}
	for (uint64_t s = 1; s <= 4; s++)
		pop_expect(s);
	assert_int_equal(area()->err_tail, 2);
}

/* A guest that writes garbage into err_tail only makes its own ring look full. */
static void test_ring_corrupt_tail(void **state)
{
	struct viova_err_rec x = rec(1), r;

	(void)state;
	area()->err_tail = 1000; /* ahead of head: "used" is enormous */
	assert_int_equal(viova_codec_resp_host_push_error(&H, &x), -ENOSPC);
	area()->err_tail = 0xfffffff0u;
	assert_int_equal(viova_codec_resp_host_push_error(&H, &x), -ENOSPC);
	assert_int_equal(viova_codec_resp_guest_overflow(&G), 2);
	/* The host's head did not move, and no slot was written. */
	assert_int_equal(area()->err_head, 0);
	area()->err_tail = 0;
	assert_int_equal(viova_codec_resp_host_push_error(&H, &x), 0);
	/* A guest that sees a head beyond capacity refuses to read garbage. */
	area()->err_head = 100;
	assert_int_equal(viova_codec_resp_guest_pop_error(&G, &r), -EBADMSG);
}

static void test_responses(void **state)
{
	const char msg[] = "hello, response";
	char buf[64];
	uint32_t err, size;
	void *dst;
	uint32_t psize = H.lay.payload_size;

	(void)state;
	assert_int_equal(viova_codec_resp_host_write(&H, 64, 17, 0, msg, sizeof(msg)), 0);
	assert_int_equal(viova_codec_resp_guest_read(&G, 64, 17, buf, sizeof(buf), &err, &size), 0);
	assert_int_equal(err, 0);
	assert_int_equal(size, sizeof(msg));
	assert_string_equal(buf, msg);
	/* Another command's seqno: not this response (yet). */
	assert_int_equal(viova_codec_resp_guest_read(&G, 64, 18, buf, sizeof(buf), &err, &size),
			 -EAGAIN);
	/* Truncated copy, full size reported. */
	memset(buf, 0, sizeof(buf));
	assert_int_equal(viova_codec_resp_guest_read(&G, 64, 17, buf, 5, &err, &size), 0);
	assert_int_equal(size, sizeof(msg));
	assert_string_equal(buf, "hello");

	/* Error responses carry no data. */
	assert_int_equal(viova_codec_resp_host_write(&H, 0, 18, VIOVA_ETIMEDOUT, NULL, 0), 0);
	assert_int_equal(viova_codec_resp_guest_read(&G, 0, 18, NULL, 0, &err, &size), 0);
	assert_int_equal(err, VIOVA_ETIMEDOUT);
	assert_int_equal(size, 0);

	/* Bounds: exactly at the end fits, one more byte does not; no wrap near 2^32. */
	assert_int_equal(viova_codec_resp_host_reserve(&H, psize - 16 - 8, 8, &dst), 0);
	assert_ptr_equal(dst, (uint8_t *)area_mem + H.lay.payload_offset + psize - 8);
	assert_int_equal(viova_codec_resp_host_reserve(&H, psize - 16 - 8, 9, &dst), -EFAULT);
	assert_int_equal(viova_codec_resp_host_reserve(&H, psize, 0, &dst), -EFAULT);
	assert_int_equal(viova_codec_resp_host_reserve(&H, 0xfffffff8u, 8, &dst), -EFAULT);
	assert_int_equal(viova_codec_resp_host_reserve(&H, 0, UINT64_MAX - 4, &dst), -EFAULT);
	assert_int_equal(viova_codec_resp_host_write(&H, 12, 19, 0, msg, 4), -EINVAL);
	assert_int_equal(viova_codec_resp_host_commit(&H, 0, 19, 0, 100, UINT64_MAX), -EFAULT);
	assert_int_equal(viova_codec_resp_guest_read(&G, psize, 17, buf, 8, &err, &size), -EFAULT);
	assert_int_equal(viova_codec_resp_guest_read(&G, 4, 17, buf, 8, &err, &size), -EINVAL);

	/* In-place: reserve, write, commit with a larger reported size (truncated QUERY). */
	assert_int_equal(viova_codec_resp_host_reserve(&H, 256, 8, &dst), 0);
	memcpy(dst, "12345678", 8);
	assert_int_equal(viova_codec_resp_host_commit(&H, 256, 20, 0, 120, 8), 0);
	assert_int_equal(viova_codec_resp_guest_read(&G, 256, 20, buf, 8, &err, &size), 0);
	assert_int_equal(size, 120);
	assert_memory_equal(buf, "12345678", 8);
}

static void test_processed_seqno(void **state)
{
	(void)state;
	viova_codec_resp_host_end_batch(&H, 10);
	assert_int_equal(viova_codec_resp_guest_processed(&G), 10);
	assert_int_equal(viova_codec_resp_guest_batches(&G), 1);
	/* Never backwards (e.g. a rejected batch that publishes only prev_seqno). */
	viova_codec_resp_host_end_batch(&H, 7);
	assert_int_equal(viova_codec_resp_guest_processed(&G), 10);
	assert_int_equal(viova_codec_resp_guest_batches(&G), 2);
	/* SYNC publishes mid-batch without counting a batch. */
	viova_codec_resp_host_publish(&H, 12);
	assert_int_equal(viova_codec_resp_guest_processed(&G), 12);
	assert_int_equal(viova_codec_resp_guest_batches(&G), 2);
}

static void test_ctx_slots(void **state)
{
	struct viova_resp_ctx s;

	(void)state;
	assert_int_equal(viova_codec_resp_host_ctx_open(&H, 3), 0);
	assert_int_equal(viova_codec_resp_guest_ctx(&G, 3, &s), 0);
	assert_int_equal(s.active, 1);
	assert_int_equal(s.lost, 0);
	assert_int_equal(viova_codec_resp_host_ctx_fence(&H, 3, 41), 0);
	assert_int_equal(viova_codec_resp_host_ctx_fault(&H, 3, 2, 0xdead000), 0);
	assert_int_equal(viova_codec_resp_host_ctx_lost(&H, 3, VIOVA_EFAULT), 0);
	assert_int_equal(viova_codec_resp_guest_ctx(&G, 3, &s), 0);
	assert_int_equal(s.completed_fence, 41);
	assert_int_equal(s.faults, 2);
	assert_int_equal(s.fault_iova, 0xdead000);
	assert_int_equal(s.lost, 1);
	assert_int_equal(s.lost_err, VIOVA_EFAULT);
	/* Slots are independent. */
	assert_int_equal(viova_codec_resp_guest_ctx(&G, 4, &s), 0);
	assert_int_equal(s.active, 0);
	assert_int_equal(s.completed_fence, 0);
	/* Close keeps the post-mortem values; a new context in the slot starts clean. */
	assert_int_equal(viova_codec_resp_host_ctx_close(&H, 3), 0);
	assert_int_equal(viova_codec_resp_guest_ctx(&G, 3, &s), 0);
	assert_int_equal(s.active, 0);
	assert_int_equal(s.lost, 1);
	assert_int_equal(viova_codec_resp_host_ctx_open(&H, 3), 0);
	assert_int_equal(viova_codec_resp_guest_ctx(&G, 3, &s), 0);
	assert_int_equal(s.lost, 0);
	assert_int_equal(s.faults, 0);
	/* Slot 0 and slots past the table are refused on both sides. */
	assert_int_equal(viova_codec_resp_host_ctx_open(&H, 0), -EINVAL);
	assert_int_equal(viova_codec_resp_host_ctx_lost(&H, CTX_SLOTS, VIOVA_EIO), -EINVAL);
	assert_int_equal(viova_codec_resp_host_ctx_fence(&H, UINT32_MAX, 1), -EINVAL);
	assert_int_equal(viova_codec_resp_guest_ctx(&G, CTX_SLOTS, &s), -EINVAL);
	assert_int_equal(viova_codec_resp_guest_ctx(&G, 0, &s), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_layout),
	    cmocka_unit_test(test_init_attach),
	    cmocka_unit_test_setup(test_ring_order_and_wrap, setup_cap4),
	    cmocka_unit_test_setup(test_ring_overflow, setup_cap4),
	    cmocka_unit_test_setup(test_ring_index_wrap, setup_cap4),
	    cmocka_unit_test_setup(test_ring_corrupt_tail, setup_cap4),
	    cmocka_unit_test_setup(test_responses, setup_cap4),
	    cmocka_unit_test_setup(test_processed_seqno, setup_cap4),
	    cmocka_unit_test_setup(test_ctx_slots, setup_cap4),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/*
 * test_codec_tables.c - protocol/codec_fields.c + codec_names.c: the layout tables describe
 * every struct completely (fields tile it, in order, no gap, known types), the command and
 * reason tables are complete, field names resolve, and wire errnos map as documented.
 * A field added to viova/protocol.h but not to the tables makes the tiling check fail.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "viova/codec.h"

static uint32_t type_size(const char *type)
{
	if (!strcmp(type, "u16"))
		return 2;
	if (!strcmp(type, "u32") || !strcmp(type, "s32"))
		return 4;
	if (!strcmp(type, "u64"))
		return 8;
	if (!strcmp(type, "viova_cmd_hdr"))
		return sizeof(struct viova_cmd_hdr);
	return 0; /* arrays: checked separately */
}

static void test_fields_tile_structs(void **state)
{
	size_t ns, nf, i, j;
	const struct viova_codec_struct_info *s = viova_codec_structs(&ns);
	const struct viova_codec_field_info *f = viova_codec_fields(&nf);
	size_t used = 0;

	(void)state;
	assert_true(ns >= 30);
	for (i = 0; i < ns; i++) {
		uint32_t pos = 0;

		assert_int_equal(s[i].size % 8, 0);
		for (j = 0; j < nf; j++) {
			if (strcmp(f[j].strct, s[i].name))
				continue;
			used++;
			if (f[j].offset != pos)
				fail_msg("%s.%s at %u, expected %u (gap or misordered)", s[i].name,
					 f[j].name, f[j].offset, pos);
			if (strcmp(f[j].type, "?") == 0)
				fail_msg("%s.%s has an unknown wire type", s[i].name, f[j].name);
			if (strcmp(f[j].type, "u64[]") == 0)
				assert_int_equal(f[j].size % 8, 0);
			else
				assert_int_equal(f[j].size, type_size(f[j].type));
			/* Natural alignment. */
			assert_int_equal(f[j].offset % (f[j].size >= 8 ? 8 : f[j].size), 0);
			pos += f[j].size;
		}
		if (pos != s[i].size)
			fail_msg("%s: fields cover %u of %u bytes", s[i].name, pos, s[i].size);
	}
	/* Every field belongs to a listed struct. */
	assert_int_equal(used, nf);
}

static void test_command_table(void **state)
{
	size_t ns, i;
	const struct viova_codec_struct_info *s = viova_codec_structs(&ns);

	(void)state;
	assert_int_equal(viova_codec_cmd_struct_size(0), 0);
	assert_int_equal(viova_codec_cmd_min_size(0, 0), 0);
	assert_int_equal(viova_codec_cmd_struct_size(VIOVA_CMD_COUNT), 0);
	assert_string_equal(viova_codec_cmd_name(VIOVA_CMD_COUNT), "UNKNOWN_CMD");
	for (uint16_t c = 1; c < VIOVA_CMD_COUNT; c++) {
		char sname[64];
		const char *name = viova_codec_cmd_name(c);
		bool found = false;

		assert_string_not_equal(name, "UNKNOWN_CMD");
		/* At the current minor the minimum is the whole struct. */
		assert_int_equal(viova_codec_cmd_min_size(c, VIOVA_WIRE_MINOR),
				 viova_codec_cmd_struct_size(c));
		/* Later minors never shrink a command. */
		assert_int_equal(viova_codec_cmd_min_size(c, VIOVA_WIRE_MINOR + 5),
				 viova_codec_cmd_min_size(c, VIOVA_WIRE_MINOR));
		/* The struct is named after the command: SET_IOVA -> viova_cmd_set_iova. */
		snprintf(sname, sizeof(sname), "viova_cmd_%s", name);
		for (char *p = sname; *p; p++)
			*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
		for (i = 0; i < ns; i++) {
			if (!strcmp(s[i].name, sname)) {
				assert_int_equal(s[i].size, viova_codec_cmd_struct_size(c));
				found = true;
			}
		}
		if (!found)
			fail_msg("no struct %s for command %u", sname, c);
	}
}

static void test_field_names(void **state)
{
	(void)state;
	assert_string_equal(viova_codec_field_name(VIOVA_CMD_SET_IOVA, 0), "hdr.cmd");
	assert_string_equal(viova_codec_field_name(VIOVA_CMD_SET_IOVA, 9), "hdr.seqno");
	assert_string_equal(viova_codec_field_name(VIOVA_CMD_SET_IOVA, 20), "hdr.reserved");
	assert_string_equal(viova_codec_field_name(VIOVA_CMD_SET_IOVA, 32), "iova");
	assert_string_equal(viova_codec_field_name(VIOVA_CMD_GEM_CLOSE, 28), "pad0");
	assert_string_equal(viova_codec_field_name(VIOVA_CMD_SUBMIT, 60), "payload");
	assert_string_equal(viova_codec_field_name(500, 40), "payload");
}

static void test_reasons(void **state)
{
	(void)state;
	for (uint16_t r = 0; r < VIOVA_REASON_COUNT; r++) {
		const char *name = viova_codec_reason_name(r);

		assert_string_not_equal(name, "UNKNOWN");
		assert_true(viova_codec_reason_errno(r) < 0);
		for (uint16_t q = 0; q < r; q++)
			assert_string_not_equal(viova_codec_reason_name(q), name);
	}
	assert_string_equal(viova_codec_reason_name(VIOVA_REASON_COUNT), "UNKNOWN");
	assert_int_equal(viova_codec_reason_errno(VIOVA_REASON_TAIL_NONZERO), -E2BIG);
	assert_int_equal(viova_codec_reason_errno(VIOVA_REASON_UNKNOWN_CMD), -ENOSYS);
}

static void test_errnos(void **state)
{
	(void)state;
	assert_int_equal(viova_codec_wire_errno(-EINVAL), VIOVA_EINVAL);
	assert_int_equal(viova_codec_wire_errno(EBUSY), VIOVA_EBUSY);
	assert_int_equal(viova_codec_wire_errno(0), 0);
	/* Host-internal codes never reach the wire as themselves. */
	assert_int_equal(viova_codec_wire_errno(-ENOTTY), VIOVA_EIO);
	assert_int_equal(viova_codec_wire_errno(-4095), VIOVA_EIO);
	assert_int_equal(viova_codec_wire_errno(-2147483647 - 1), VIOVA_EIO);
	assert_string_equal(viova_codec_errno_name(VIOVA_EDQUOT), "EDQUOT");
	assert_string_equal(viova_codec_errno_name(0), "OK");
	assert_string_equal(viova_codec_errno_name(4000), "E?");
}

static void test_format_exec_error(void **state)
{
	struct viova_err_rec rec = {
	    .seqno = 12,
	    .detail0 = 0x10000,
	    .detail1 = 0x20000,
	    .cmd = VIOVA_CMD_SET_IOVA,
	    .ctx_id = 3,
	    .err = VIOVA_EBUSY,
	    .flags = VIOVA_ERR_CTX_LOST,
	};
	char line[200];
	int n;

	(void)state;
	n = viova_codec_format_err_rec(&rec, line, sizeof(line));
	assert_string_equal(line, "SET_IOVA (seqno 12, ctx 3): EBUSY, detail0 = 0x10000, "
				  "detail1 = 0x20000; context lost");
	assert_int_equal(n, (int)strlen(line));
	/* Truncation is safe and reports the full length. */
	assert_int_equal(viova_codec_format_err_rec(&rec, line, 8), n);
	assert_string_equal(line, "SET_IOV");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fields_tile_structs),
	    cmocka_unit_test(test_command_table),
	    cmocka_unit_test(test_field_names),
	    cmocka_unit_test(test_reasons),
	    cmocka_unit_test(test_errnos),
	    cmocka_unit_test(test_format_exec_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

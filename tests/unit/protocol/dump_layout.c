/* SPDX-License-Identifier: MIT */
/*
 * dump_layout.c - print the compiled layout of every wire struct and the value of every wire
 * constant, one per line, for check_spec.py to compare with docs/protocol.md:
 *
 *   struct <name> <size>
 *   field <struct> <name> <type> <offset> <size>
 *   const <NAME> <value>
 */
#include <inttypes.h>
#include <stdio.h>

#include "viova/codec.h"

int main(void)
{
	size_t n, i;
	const struct viova_codec_struct_info *s = viova_codec_structs(&n);

	for (i = 0; i < n; i++)
		printf("struct %s %" PRIu32 "\n", s[i].name, s[i].size);

	const struct viova_codec_field_info *f = viova_codec_fields(&n);

	for (i = 0; i < n; i++)
		printf("field %s %s %s %" PRIu32 " %" PRIu32 "\n", f[i].strct, f[i].name, f[i].type,
		       f[i].offset, f[i].size);

	const struct viova_codec_const_info *c = viova_codec_consts(&n);

	for (i = 0; i < n; i++)
		printf("const %s %" PRId64 "\n", c[i].name, c[i].value);
	return 0;
}

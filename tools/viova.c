// SPDX-License-Identifier: MIT
/*
 * viova.c - the `viova` command line: a table of subcommands.
 *
 *   viova demo             the main job: viova-host (sim) and guest processes over its socket
 *   viova vma-walkthrough  the range allocator at work, step by step
 *   viova help             this list
 */
#include <stdio.h>
#include <string.h>

#include "viova_tool.h"

struct subcommand {
	const char *name;
	const char *help;
	int (*run)(int argc, char **argv);
};

static int help(int argc, char **argv);

static const struct subcommand subcommands[] = {
    {"demo", "run the main job: viova-host (sim backend) and several guest processes",
     viova_tool_demo},
    {"vma-walkthrough", "show the iova range allocator (common/vma) at work",
     viova_tool_vma_walkthrough},
    {"help", "list the subcommands", help},
};

#define NSUB (sizeof(subcommands) / sizeof(subcommands[0]))

static int help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("usage: viova <subcommand> [args]\n\n");
	for (size_t i = 0; i < NSUB; i++)
		printf("  %-16s %s\n", subcommands[i].name, subcommands[i].help);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		help(0, NULL);
		return 2;
	}
	for (size_t i = 0; i < NSUB; i++)
		if (!strcmp(argv[1], subcommands[i].name))
			return subcommands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "viova: unknown subcommand '%s'; run 'viova help' for the list\n", argv[1]);
	return 2;
}

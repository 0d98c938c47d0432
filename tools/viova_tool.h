/* SPDX-License-Identifier: MIT */
/*
 * viova_tool.h - subcommands of the `viova` CLI (tools/viova.c holds the table).
 *
 * Each subcommand is `int fn(int argc, char **argv)` with argv[0] = its own name, returning the
 * process exit status.
 */
#ifndef VIOVA_TOOL_H
#define VIOVA_TOOL_H

/* tools/vma_walkthrough.c: a short, readable tour of the range allocator (common/vma). */
int viova_tool_vma_walkthrough(int argc, char **argv);

/* tools/demo.c: the main job - viova-host (sim) and several guest processes over its socket. */
int viova_tool_demo(int argc, char **argv);

#endif

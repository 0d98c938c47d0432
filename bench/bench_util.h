/* SPDX-License-Identifier: MIT */
/*
 * bench_util.h - timing and reporting shared by the benchmark programs.
 *
 * Every figure a benchmark measures is printed twice: as a row of a readable table and as one
 * machine-readable line
 *
 *     BENCH <bench> key=value key=value ...
 *
 * so that scripts can grep "^BENCH vma " and compare runs.
 */
#ifndef VIOVA_BENCH_UTIL_H
#define VIOVA_BENCH_UTIL_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

/* Monotonic time in nanoseconds. */
static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: a fast, seeded generator so that every run of a benchmark does the same work. */
static inline uint64_t bench_rand(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1Dull;
}

/*
 * Print "BENCH <bench> <fmt...>" on its own line. fmt holds the key=value pairs, e.g.
 * bench_line("vma", "live=%u strategy=%s ns_per_op=%.1f", live, name, ns).
 */
__attribute__((format(printf, 2, 3)))
static inline void bench_line(const char *bench, const char *fmt, ...)
{
	va_list ap;

	printf("BENCH %s ", bench);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

#endif

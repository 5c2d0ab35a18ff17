/* SPDX-License-Identifier: MIT */
/*
 * fuzz_common.h - small helpers shared by the libFuzzer targets in
 * tests/fuzz/ (header-only; see docs/fuzzing.md).
 */
#ifndef PADDOCK_FUZZ_COMMON_H
#define PADDOCK_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* An invariant the target checks on top of the sanitizers: print and
 * abort, which libFuzzer reports as a crash and saves the input. */
#define FUZZ_CHECK(cond, ...)                                                   \
	do {                                                                    \
		if (!(cond)) {                                                  \
			fprintf(stderr, "fuzz invariant failed: %s (%s:%d): ",  \
				#cond, __FILE__, __LINE__);                     \
			fprintf(stderr, __VA_ARGS__);                           \
			fputc('\n', stderr);                                    \
			abort();                                                \
		}                                                               \
	} while (0)

/* Deterministic chunk sizes from a seed (xorshift32); never 0. */
static inline uint32_t fuzz_rand(uint32_t *s)
{
	uint32_t x = *s ? *s : 0x9e3779b9u;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*s = x;
	return x;
}

/* An exact-size heap copy, so that ASan sees reads past `len`
 * (the parsers take pointer + length, not NUL-terminated strings). */
static inline char *fuzz_dup(const uint8_t *p, size_t len)
{
	char *c = malloc(len ? len : 1);
	if (!c)
		abort();
	for (size_t i = 0; i < len; i++)
		c[i] = (char)p[i];
	return c;
}

/* A NUL-terminated heap copy (for APIs that take C strings). */
static inline char *fuzz_strdup(const uint8_t *p, size_t len)
{
	char *c = malloc(len + 1);
	if (!c)
		abort();
	for (size_t i = 0; i < len; i++)
		c[i] = (char)p[i];
	c[len] = '\0';
	return c;
}

#endif

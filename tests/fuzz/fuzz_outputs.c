/* SPDX-License-Identifier: MIT */
/*
 * fuzz_outputs.c - the line splitter (lines_*) and the outputs marker
 * block parser (outputs_*), fed in random chunking.
 *
 * Input: byte 0 picks the cap (max_line / max_bytes: 1..192, or the 64 KiB
 * default), bytes 1-4 seed the chunk sizes, the rest is the stream.
 *
 * Invariants beyond the sanitizers:
 *   - lines: what the splitter delivers, fed in random chunks, equals a
 *     straightforward reference split of the whole stream (CRLF, cut
 *     lines, final line without "\n"), and lines_count agrees;
 *   - a callback that stops the splitter stops it (rc returned, no more calls);
 *   - outputs: the result (found, entries in order, warning) is the same
 *     whether the stream comes in one piece, in random chunks, or as
 *     lines through outputs_feed_line; keys are unique and outputs_get
 *     finds each; outputs_to_json has one member per entry.
 */
#include <json-c/json.h>
#include <stdbool.h>
#include <string.h>

#include "fuzz_common.h"
#include "control/outputs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- lines ---------------------------------------------------------- */

struct got {
	const char *in;   /* the whole stream, for the reference */
	size_t in_len;
	size_t pos;       /* reference cursor */
	size_t max;
	size_t calls;
	size_t stop_at;   /* return 1 on this call (1-based); 0: never */
};

/* The reference: the next line of `in` at g->pos, as the splitter must
 * deliver it.  Returns false at the end of the stream. */
static bool ref_next(struct got *g, size_t *off, size_t *len, bool *cut)
{
	if (g->pos >= g->in_len)
		return false;
	const char *s = g->in + g->pos;
	size_t rest = g->in_len - g->pos;
	const char *nl = memchr(s, '\n', rest);
	size_t n = nl ? (size_t)(nl - s) : rest;
	*off = g->pos;
	if (nl) {
		if (n > g->max + 1) {
			*len = g->max;
			*cut = true;
		} else {
			size_t l = n;
			if (l && s[l - 1] == '\r')
				l--;
			*cut = l > g->max;
			*len = *cut ? g->max : l;
		}
		g->pos += n + 1;
	} else {
		*cut = n > g->max;
		*len = *cut ? g->max : n;
		g->pos += n;
	}
	return true;
}

static int lines_cb(void *ctx, const char *line, size_t len, bool truncated)
{
	struct got *g = ctx;
	size_t off, rlen;
	bool rcut;
	g->calls++;
	FUZZ_CHECK(ref_next(g, &off, &rlen, &rcut), "line %zu delivered after the end", g->calls);
	FUZZ_CHECK(len == rlen && truncated == rcut,
		   "line %zu: got len %zu cut %d, want len %zu cut %d", g->calls, len, truncated,
		   rlen, rcut);
	FUZZ_CHECK(memcmp(line, g->in + off, len) == 0, "line %zu: wrong bytes", g->calls);
	FUZZ_CHECK(line[len] == '\0', "line %zu not NUL-terminated", g->calls);
	return g->stop_at && g->calls == g->stop_at ? 7 : 0;
}

static void fuzz_lines(const char *s, size_t n, size_t max, uint32_t seed)
{
	struct got g = { .in = s, .in_len = n, .max = max };
	struct line_splitter *ls = lines_new(max, lines_cb, &g);
	for (size_t i = 0; i < n;) {
		size_t k = 1 + fuzz_rand(&seed) % 17;
		if (k > n - i)
			k = n - i;
		FUZZ_CHECK(lines_feed(ls, s + i, k) == 0, "lines_feed failed");
		i += k;
	}
	FUZZ_CHECK(lines_finish(ls) == 0, "lines_finish failed");
	size_t off, len;
	bool cut;
	FUZZ_CHECK(!ref_next(&g, &off, &len, &cut), "line %zu never delivered", g.calls + 1);
	FUZZ_CHECK(lines_count(ls) == g.calls, "lines_count %zu, callbacks %zu", lines_count(ls),
		   g.calls);
	lines_free(ls);

	/* Stop at the second line: lines_feed returns the callback's value. */
	size_t nls = 0;
	for (const char *q = s; (q = memchr(q, '\n', n - (size_t)(q - s))) != NULL; q++)
		nls++;
	if (nls >= 2) {
		struct got h = { .in = s, .in_len = n, .max = max, .stop_at = 2 };
		ls = lines_new(max, lines_cb, &h);
		int rc = lines_feed(ls, s, n);
		FUZZ_CHECK(rc == 7 && h.calls == 2, "stop: rc %d after %zu calls", rc, h.calls);
		lines_free(ls);
	}
}

/* ---- outputs -------------------------------------------------------- */

static void same(const struct outputs_parser *a, const struct outputs_parser *b, const char *how)
{
	FUZZ_CHECK(outputs_found(a) == outputs_found(b), "%s: found differs", how);
	FUZZ_CHECK(outputs_count(a) == outputs_count(b), "%s: count %zu vs %zu", how,
		   outputs_count(a), outputs_count(b));
	for (size_t i = 0; i < outputs_count(a); i++) {
		FUZZ_CHECK(strcmp(outputs_key(a, i), outputs_key(b, i)) == 0, "%s: key %zu differs",
			   how, i);
		FUZZ_CHECK(strcmp(outputs_value(a, i), outputs_value(b, i)) == 0,
			   "%s: value %zu differs", how, i);
	}
	const char *wa = outputs_warning(a), *wb = outputs_warning(b);
	FUZZ_CHECK((!wa && !wb) || (wa && wb && strcmp(wa, wb) == 0), "%s: warning \"%s\" vs \"%s\"",
		   how, wa ? wa : "(none)", wb ? wb : "(none)");
}

static int line_to_parser(void *ctx, const char *line, size_t len, bool truncated)
{
	outputs_feed_line(ctx, line, len, truncated);
	return 0;
}

static void fuzz_outputs(const char *s, size_t n, size_t max, uint32_t seed)
{
	struct outputs_parser *whole = outputs_new(max);
	outputs_feed(whole, s, n);
	outputs_finish(whole);

	struct outputs_parser *chunked = outputs_new(max);
	for (size_t i = 0; i < n;) {
		size_t k = fuzz_rand(&seed) % 23; /* 0-byte feeds too */
		if (k > n - i)
			k = n - i;
		outputs_feed(chunked, s + i, k);
		i += k;
	}
	outputs_finish(chunked);
	same(whole, chunked, "chunked");

	/* Lines split outside, as the runtime does with a shared splitter. */
	struct outputs_parser *bylines = outputs_new(max);
	struct line_splitter *ls = lines_new(max, line_to_parser, bylines);
	lines_feed(ls, s, n);
	lines_finish(ls);
	lines_free(ls);
	outputs_finish(bylines);
	same(whole, bylines, "by lines");

	size_t cnt = outputs_count(whole);
	FUZZ_CHECK(!cnt || outputs_found(whole), "entries without a found block");
	for (size_t i = 0; i < cnt; i++) {
		const char *k = outputs_key(whole, i);
		FUZZ_CHECK(k && *k, "entry %zu: empty key", i);
		FUZZ_CHECK(outputs_get(whole, k) == outputs_value(whole, i),
			   "key \"%s\" repeated or not found", k);
	}
	FUZZ_CHECK(outputs_key(whole, cnt) == NULL, "key past the end");
	json_object *o = outputs_to_json(whole);
	FUZZ_CHECK(o && (size_t)json_object_object_length(o) == cnt, "json has %d members, want %zu",
		   o ? json_object_object_length(o) : -1, cnt);
	json_object_put(o);

	outputs_free(whole);
	outputs_free(chunked);
	outputs_free(bylines);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 5)
		return 0;
	size_t max = data[0] < 0xc0 ? 1 + data[0] % 192 : 0;
	uint32_t seed = (uint32_t)data[1] | (uint32_t)data[2] << 8 | (uint32_t)data[3] << 16 |
			(uint32_t)data[4] << 24;
	char *s = fuzz_dup(data + 5, size - 5);
	fuzz_lines(s, size - 5, max ? max : OUTPUTS_DEFAULT_MAX, seed);
	fuzz_outputs(s, size - 5, max, seed);
	free(s);
	return 0;
}

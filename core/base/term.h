/* SPDX-License-Identifier: MIT */
/*
 * term.h - text from outside (agents, Task authors, API servers) made
 * safe to print on a terminal.
 *
 * Whatever an agent writes can end up in status.message, results, outputs,
 * events and logs; printed raw, "\033]0;pwned\007\033[2J" retitles the
 * window and clears the screen of whoever runs `paddock describe`.  Every
 * human-readable output goes through term_sanitize(), which shows visibly
 * what a terminal would act on:
 *
 *   C0 controls, DEL      \x1b \x07 \x7f ...  (\n \t \r by name; with
 *                         TERM_MULTILINE, \n, \t and \r\n are kept)
 *   C1 controls           \u0080 .. \u009f    (UTF-8 C2 80 .. C2 9F)
 *   bidi embeddings,      \u202a .. \u202e, \u2066 .. \u2069
 *   overrides, isolates   (Trojan Source)
 *   invalid UTF-8         \xff, one escape per byte
 *
 * Valid UTF-8 (é, 日本, emoji) and backslashes pass unchanged, so the
 * result is for reading, not for decoding.  Machine formats (-o json,
 * -o yaml) keep values exact and do not use term_sanitize().
 */
#ifndef PADDOCK_TERM_H
#define PADDOCK_TERM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/util.h"

/* term_sanitize() flags. */
enum {
	TERM_MULTILINE = 1u << 0, /* keep \n, \t and \r\n: the caller prints multi-line text */
};

/*
 * Append s[0..len) to `out`, escaped as above.  0, or -E2BIG when out's
 * cap is reached: out then holds a prefix of the escaped text that never
 * ends inside an escape.  The escaped text is at most 4 * len bytes.
 */
int term_sanitize(struct buf *out, const char *s, size_t len, unsigned flags);

/* The escaped copy of NUL-terminated s (NULL: ""); owned, never NULL. */
char *term_safe(const char *s, unsigned flags);

/* How many terminal columns s takes (escaped text: printable UTF-8):
 * East Asian wide characters and emoji 2, combining marks 0, others 1.
 * For padding table columns. */
size_t term_width(const char *s);

/*
 * The UTF-8 sequence at s[0..n): its length (1..4) with the code point in
 * *cp, 0 when s holds only a valid but incomplete start of a sequence,
 * -1 when s[0] cannot start a valid sequence (invalid, overlong,
 * surrogate, above U+10FFFF).  n must be > 0.
 */
int term_utf8_decode(const char *s, size_t n, uint32_t *cp);

/* Must code point cp be escaped on a terminal: C0 (including \n and \t),
 * DEL, C1, a bidi embedding, override or isolate? */
bool term_cp_unsafe(uint32_t cp);

/*
 * Escaping a stream written in chunks (`paddock logs` on a terminal): a
 * UTF-8 sequence (or "\r\n") cut between two chunks is held back until the
 * next one instead of being escaped as invalid.  Write chunks with
 * term_stream_write(), then term_stream_end() once (what is still held is
 * escaped then).  Both return 0 or a negative errno of the write to f.
 */
struct term_stream {
	unsigned flags;
	size_t held;
	char hold[4];
};
void term_stream_init(struct term_stream *ts, unsigned flags);
int term_stream_write(struct term_stream *ts, FILE *f, const char *s, size_t len);
int term_stream_end(struct term_stream *ts, FILE *f);

#endif

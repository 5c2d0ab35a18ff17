/* SPDX-License-Identifier: MIT */
/*
 * outputs.h - reading what a run produced from its output stream, with
 * bounded memory (DESIGN §6):
 *
 *   - struct line_splitter (lines_*): cuts a byte stream fed in arbitrary
 *     chunks into lines of at most max_line bytes (longer lines are
 *     delivered cut, with a flag), for the driver parsers and for
 *   - struct outputs_parser (outputs_*): finds the marker block
 *
 *       ---PADDOCK_OUTPUTS_START---
 *       key: value            (value escapes: \n \r \t \\)
 *       ---PADDOCK_OUTPUTS_END---
 *
 *     The last complete block in the stream wins; an unterminated or
 *     oversized block is ignored (an earlier complete block is kept) and
 *     reported by outputs_warning().
 */
#ifndef PADDOCK_OUTPUTS_H
#define PADDOCK_OUTPUTS_H

#include <stdbool.h>
#include <stddef.h>

#define OUTPUTS_START_MARKER "---PADDOCK_OUTPUTS_START---"
#define OUTPUTS_END_MARKER "---PADDOCK_OUTPUTS_END---"
#define OUTPUTS_DEFAULT_MAX (64 * 1024)

/* ---- line splitter ---------------------------------------------------- */

/*
 * One line: `len` bytes without the "\n" (and without a "\r" before it),
 * NUL-terminated, borrowed for the duration of the call.  `truncated`: the
 * line was longer than max_line and only its first max_line bytes are
 * given.  Return 0 to continue, non-zero to stop (lines_feed returns it).
 */
typedef int (*lines_fn)(void *ctx, const char *line, size_t len, bool truncated);

struct line_splitter;

/* max_line 0: OUTPUTS_DEFAULT_MAX.  `cb` and `ctx` are borrowed. */
struct line_splitter *lines_new(size_t max_line, lines_fn cb, void *ctx);
/* Feed `len` bytes (any chunking).  0, or the callback's non-zero value
 * (the rest of this chunk is then dropped). */
int lines_feed(struct line_splitter *ls, const char *data, size_t len);
/* End of stream: deliver a final line that had no "\n".  0 or the callback's value. */
int lines_finish(struct line_splitter *ls);
/* Lines delivered so far. */
size_t lines_count(const struct line_splitter *ls);
void lines_free(struct line_splitter *ls);

/* ---- outputs block ---------------------------------------------------- */

struct outputs_parser;
struct json_object;

/* max_bytes: cap on one block's bytes between the markers, and on a line
 * (0: OUTPUTS_DEFAULT_MAX).  Memory is O(max_bytes) whatever the stream. */
struct outputs_parser *outputs_new(size_t max_bytes);
/* Feed raw stream bytes, in any chunking. */
void outputs_feed(struct outputs_parser *p, const char *data, size_t len);
/* Or feed one already split line (e.g. from a shared line_splitter whose
 * max_line is at least max_bytes); `truncated` as lines_fn gives it. */
void outputs_feed_line(struct outputs_parser *p, const char *line, size_t len,
		       bool truncated);
/* End of stream: an unterminated final block is dropped (and reported). */
void outputs_finish(struct outputs_parser *p);

/* Whether a complete block was accepted. */
bool outputs_found(const struct outputs_parser *p);
/* The accepted block's entries, in first-appearance order, keys unique
 * (a repeated key keeps its last value).  Borrowed until the next feed or
 * outputs_free. */
size_t outputs_count(const struct outputs_parser *p);
const char *outputs_key(const struct outputs_parser *p, size_t i);
const char *outputs_value(const struct outputs_parser *p, size_t i);
/* Value of `key` or NULL. */
const char *outputs_get(const struct outputs_parser *p, const char *key);
/* A new json object { key: value, ... } of the accepted block ({} when
 * none).  Owned: json_object_put() it. */
struct json_object *outputs_to_json(const struct outputs_parser *p);
/*
 * One line about what was ignored after the accepted block (or when no
 * block was accepted), e.g. "outputs block over 65536 bytes, ignored",
 * "outputs block at line 12 not terminated, ignored", "outputs block:
 * 2 malformed lines ignored (first at line 14)"; NULL when nothing was.
 * Borrowed.
 */
const char *outputs_warning(const struct outputs_parser *p);
void outputs_free(struct outputs_parser *p);

#endif

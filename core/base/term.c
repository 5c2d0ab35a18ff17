/* SPDX-License-Identifier: MIT */
#include "config.h"
#include "base/term.h"

#include <errno.h>
#include <string.h>

int term_utf8_decode(const char *s, size_t n, uint32_t *cp)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned c = p[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	size_t len;
	unsigned lo = 0x80, hi = 0xbf; /* the allowed range of the second byte */
	uint32_t v;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2, v = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3, v = c & 0x0f;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4, v = c & 0x07;
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else {
		return -1;
	}
	for (size_t i = 1; i < len; i++) {
		if (i >= n)
			return 0;
		unsigned b = p[i];
		if (i == 1 ? b < lo || b > hi : (b & 0xc0) != 0x80)
			return -1;
		v = (v << 6) | (b & 0x3f);
	}
	*cp = v;
	return (int)len;
}

static bool bidi_control(uint32_t cp)
{
	return (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

bool term_cp_unsafe(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || bidi_control(cp);
}

/* The escape of one code point term_cp_unsafe() refused. */
static int escape_cp(struct buf *out, uint32_t cp)
{
	switch (cp) {
	case '\n': return buf_puts(out, "\\n");
	case '\t': return buf_puts(out, "\\t");
	case '\r': return buf_puts(out, "\\r");
	}
	char e[8];
	int n = cp <= 0x7f ? snprintf(e, sizeof(e), "\\x%02x", (unsigned)cp)
			   : snprintf(e, sizeof(e), "\\u%04x", (unsigned)cp);
	return buf_append(out, e, (size_t)n);
}

/* The escape of a byte that is not valid UTF-8. */
static int escape_byte(struct buf *out, unsigned char c)
{
	char e[8];
	int n = snprintf(e, sizeof(e), "\\x%02x", c);
	return buf_append(out, e, (size_t)n);
}

/*
 * The work of term_sanitize(); with `partial` (more text follows) it stops
 * before an incomplete UTF-8 sequence, or a \r that may start \r\n, at the
 * end, and *used says how far it got.
 */
static int sanitize(struct buf *out, const char *s, size_t len, unsigned flags, bool partial,
		    size_t *used)
{
	bool multi = flags & TERM_MULTILINE;
	size_t run = 0, i = 0; /* s[run..i) passes unchanged */
	int rc = 0;
	while (i < len) {
		uint32_t cp = 0;
		int k = term_utf8_decode(s + i, len - i, &cp);
		if (k == 0 && partial)
			break;
		if (cp == '\r' && multi && partial && i + 1 == len)
			break;
		bool keep = k > 0 && (!term_cp_unsafe(cp) ||
				      (multi && (cp == '\n' || cp == '\t' ||
						 (cp == '\r' && i + 1 < len && s[i + 1] == '\n'))));
		if (keep) {
			i += (size_t)k;
			continue;
		}
		if ((rc = buf_append(out, s + run, i - run)) < 0)
			break;
		if (k > 0) {
			rc = escape_cp(out, cp);
			i += (size_t)k;
		} else {
			rc = escape_byte(out, (unsigned char)s[i]);
			i++;
		}
		if (rc < 0)
			break;
		run = i;
	}
	if (rc == 0)
		rc = buf_append(out, s + run, i - run);
	if (used)
		*used = i;
	return rc;
}

int term_sanitize(struct buf *out, const char *s, size_t len, unsigned flags)
{
	return sanitize(out, s, len, flags, false, NULL);
}

char *term_safe(const char *s, unsigned flags)
{
	struct buf b;
	buf_init(&b, 0);
	term_sanitize(&b, s ? s : "", s ? strlen(s) : 0, flags);
	return buf_steal(&b);
}

/* ---- width ---------------------------------------------------------- */

struct range {
	uint32_t lo, hi;
};

static bool in(uint32_t cp, const struct range *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (cp >= r[i].lo && cp <= r[i].hi)
			return true;
	return false;
}

/* Combining marks, joiners and variation selectors: no column of their own. */
static const struct range zero_width[] = {
	{ 0x0300, 0x036f }, { 0x0483, 0x0489 }, { 0x0591, 0x05bd }, { 0x0610, 0x061a },
	{ 0x064b, 0x065f }, { 0x0e31, 0x0e31 }, { 0x0e34, 0x0e3a }, { 0x0e47, 0x0e4e },
	{ 0x1ab0, 0x1aff }, { 0x1dc0, 0x1dff }, { 0x200b, 0x200f }, { 0x20d0, 0x20ff },
	{ 0xfe00, 0xfe0f }, { 0xfe20, 0xfe2f }, { 0xfeff, 0xfeff }, { 0xe0100, 0xe01ef },
};

/* East Asian Wide and Fullwidth, and emoji: two columns. */
static const struct range wide[] = {
	{ 0x1100, 0x115f },   { 0x231a, 0x231b },   { 0x2329, 0x232a },   { 0x23e9, 0x23ec },
	{ 0x23f0, 0x23f0 },   { 0x23f3, 0x23f3 },   { 0x25fd, 0x25fe },   { 0x2614, 0x2615 },
	{ 0x2648, 0x2653 },   { 0x267f, 0x267f },   { 0x2693, 0x2693 },   { 0x26a1, 0x26a1 },
	{ 0x26aa, 0x26ab },   { 0x26bd, 0x26be },   { 0x26c4, 0x26c5 },   { 0x26ce, 0x26ce },
	{ 0x26d4, 0x26d4 },   { 0x26ea, 0x26ea },   { 0x26f2, 0x26f3 },   { 0x26f5, 0x26f5 },
	{ 0x26fa, 0x26fa },   { 0x26fd, 0x26fd },   { 0x2705, 0x2705 },   { 0x270a, 0x270b },
	{ 0x2728, 0x2728 },   { 0x274c, 0x274c },   { 0x274e, 0x274e },   { 0x2753, 0x2755 },
	{ 0x2757, 0x2757 },   { 0x2795, 0x2797 },   { 0x27b0, 0x27b0 },   { 0x27bf, 0x27bf },
	{ 0x2b1b, 0x2b1c },   { 0x2b50, 0x2b50 },   { 0x2b55, 0x2b55 },   { 0x2e80, 0x303e },
	{ 0x3041, 0x33ff },   { 0x3400, 0x4dbf },   { 0x4e00, 0x9fff },   { 0xa000, 0xa4cf },
	{ 0xa960, 0xa97f },   { 0xac00, 0xd7a3 },   { 0xf900, 0xfaff },   { 0xfe10, 0xfe19 },
	{ 0xfe30, 0xfe6f },   { 0xff00, 0xff60 },   { 0xffe0, 0xffe6 },   { 0x16fe0, 0x18cff },
	{ 0x1b000, 0x1b2ff }, { 0x1f004, 0x1f004 }, { 0x1f0cf, 0x1f0cf }, { 0x1f18e, 0x1f18e },
	{ 0x1f191, 0x1f19a }, { 0x1f200, 0x1f2ff }, { 0x1f300, 0x1f320 }, { 0x1f32d, 0x1f335 },
	{ 0x1f337, 0x1f37c }, { 0x1f37e, 0x1f393 }, { 0x1f3a0, 0x1f3ca }, { 0x1f3cf, 0x1f3d3 },
	{ 0x1f3e0, 0x1f3f0 }, { 0x1f3f4, 0x1f3f4 }, { 0x1f3f8, 0x1f43e }, { 0x1f440, 0x1f440 },
	{ 0x1f442, 0x1f4fc }, { 0x1f4ff, 0x1f53d }, { 0x1f54b, 0x1f54e }, { 0x1f550, 0x1f567 },
	{ 0x1f57a, 0x1f57a }, { 0x1f595, 0x1f596 }, { 0x1f5a4, 0x1f5a4 }, { 0x1f5fb, 0x1f64f },
	{ 0x1f680, 0x1f6c5 }, { 0x1f6cc, 0x1f6cc }, { 0x1f6d0, 0x1f6d2 }, { 0x1f6d5, 0x1f6d7 },
	{ 0x1f6dc, 0x1f6df }, { 0x1f6eb, 0x1f6ec }, { 0x1f6f4, 0x1f6fc }, { 0x1f7e0, 0x1f7eb },
	{ 0x1f7f0, 0x1f7f0 }, { 0x1f90c, 0x1f93a }, { 0x1f93c, 0x1f945 }, { 0x1f947, 0x1f9ff },
	{ 0x1fa70, 0x1faff }, { 0x20000, 0x2fffd }, { 0x30000, 0x3fffd },
};

size_t term_width(const char *s)
{
	size_t w = 0;
	if (!s)
		return 0;
	for (size_t n = strlen(s), i = 0; i < n;) {
		uint32_t cp = 0;
		int k = term_utf8_decode(s + i, n - i, &cp);
		if (k <= 0) { /* not escaped text: a byte is shown as something */
			w++;
			i++;
			continue;
		}
		i += (size_t)k;
		if (cp < 0x300)
			w += !term_cp_unsafe(cp);
		else if (in(cp, zero_width, ARRAY_SIZE(zero_width)))
			continue;
		else
			w += in(cp, wide, ARRAY_SIZE(wide)) ? 2 : 1;
	}
	return w;
}

/* ---- streams -------------------------------------------------------- */

void term_stream_init(struct term_stream *ts, unsigned flags)
{
	memset(ts, 0, sizeof(*ts));
	ts->flags = flags;
}

static int put(FILE *f, const struct buf *b)
{
	errno = 0;
	if (b->len && fwrite(b->data, 1, b->len, f) != b->len)
		return errno ? -errno : -EIO;
	return 0;
}

int term_stream_write(struct term_stream *ts, FILE *f, const char *s, size_t len)
{
	struct buf in, out;
	buf_init(&in, 0);
	buf_init(&out, 0);
	buf_append(&in, ts->hold, ts->held);
	buf_append(&in, s, len);
	size_t used = 0;
	sanitize(&out, in.data, in.len, ts->flags, true, &used);
	/* at most 3 bytes of a sequence, or one \r, are held */
	ts->held = in.len - used;
	memcpy(ts->hold, in.data + used, ts->held);
	int rc = put(f, &out);
	buf_free(&in);
	buf_free(&out);
	return rc;
}

int term_stream_end(struct term_stream *ts, FILE *f)
{
	struct buf out;
	buf_init(&out, 0);
	sanitize(&out, ts->hold, ts->held, ts->flags, false, NULL);
	ts->held = 0;
	int rc = put(f, &out);
	buf_free(&out);
	return rc;
}

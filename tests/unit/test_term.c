/* SPDX-License-Identifier: MIT */
/* test_term.c - term_sanitize(): what a terminal would act on is shown
 * visibly (C0, DEL, C1, bidi controls, invalid UTF-8), everything else
 * passes byte for byte; column widths; streams cut anywhere. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* By path: the core directory is searched after the system headers
 * (-idirafter), and ncurses has a <term.h> of its own. */
#include "base/term.h"
#include "base/util.h"

/* term_sanitize of the first n bytes of s (n < 0: strlen), owned. */
static char *san_n(const char *s, long n, unsigned flags)
{
	struct buf b;
	buf_init(&b, 0);
	ck_assert_int_eq(term_sanitize(&b, s, n < 0 ? strlen(s) : (size_t)n, flags), 0);
	return buf_steal(&b);
}

#define ck_san(in, flags, want)                                                  \
	do {                                                                     \
		char *got_ = san_n((in), -1, (flags));                           \
		ck_assert_str_eq(got_, (want));                                  \
		free(got_);                                                      \
	} while (0)

/* No byte a terminal acts on is left in s. */
static void assert_inert(const char *s, bool multi)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (multi && (*p == '\n' || *p == '\t'))
			continue;
		ck_assert_msg(*p >= 0x20 && *p != 0x7f, "raw control 0x%02x in \"%s\"", *p, s);
	}
	ck_assert_ptr_null(strstr(s, "\xc2\x9b"));
	ck_assert_ptr_null(strstr(s, "\xe2\x80\xae"));
}

START_TEST(the_reported_payload)
{
	const char *in = "x \033]0;pwned\007\033[2J";
	char *got = san_n(in, -1, 0);
	ck_assert_str_eq(got, "x \\x1b]0;pwned\\x07\\x1b[2J");
	assert_inert(got, false);
	free(got);
}
END_TEST

START_TEST(c0_and_del)
{
	/* every C0 control but the three with names is \xNN */
	for (unsigned c = 1; c < 0x20; c++) {
		if (c == '\n' || c == '\t' || c == '\r')
			continue;
		char in[4] = { 'a', (char)c, 'b', 0 }, want[16];
		snprintf(want, sizeof(want), "a\\x%02xb", c);
		ck_san(in, 0, want);
		ck_san(in, TERM_MULTILINE, want);
	}
	ck_san("a\x7f" "b", 0, "a\\x7fb");
	ck_san("bell\a", TERM_MULTILINE, "bell\\x07");
	/* NUL inside the given length */
	char *got = san_n("a\0b", 3, 0);
	ck_assert_str_eq(got, "a\\x00b");
	free(got);
}
END_TEST

START_TEST(newlines_tabs_cr)
{
	const char *in = "one\ttwo\nthree\r\nfour\rfive";
	ck_san(in, 0, "one\\ttwo\\nthree\\r\\nfour\\rfive");
	/* multi-line text keeps \n, \t and \r\n; a lone \r (overwrites the
	 * line) is still shown */
	ck_san(in, TERM_MULTILINE, "one\ttwo\nthree\r\nfour\\rfive");
	ck_san("end\r", TERM_MULTILINE, "end\\r");
}
END_TEST

START_TEST(c1_controls)
{
	/* U+0080..U+009F, in UTF-8 C2 80 .. C2 9F; U+009B is an 8-bit CSI */
	for (unsigned c = 0x80; c <= 0x9f; c++) {
		char in[5] = { 'a', (char)0xc2, (char)c, 'b', 0 }, want[16];
		snprintf(want, sizeof(want), "a\\u%04xb", c);
		ck_san(in, 0, want);
		ck_san(in, TERM_MULTILINE, want);
	}
	ck_san("\xc2\x9b" "2J", 0, "\\u009b2J");
	/* U+00A0 and up are printable */
	ck_san("\xc2\xa0\xc2\xa9", 0, "\xc2\xa0\xc2\xa9");
}
END_TEST

START_TEST(bidi_controls)
{
	static const char *const cps[][2] = {
		{ "\xe2\x80\xaa", "\\u202a" }, { "\xe2\x80\xab", "\\u202b" }, { "\xe2\x80\xac", "\\u202c" },
		{ "\xe2\x80\xad", "\\u202d" }, { "\xe2\x80\xae", "\\u202e" }, { "\xe2\x81\xa6", "\\u2066" },
		{ "\xe2\x81\xa7", "\\u2067" }, { "\xe2\x81\xa8", "\\u2068" }, { "\xe2\x81\xa9", "\\u2069" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cps); i++) {
		char *in = xasprintf("if (ok%s) {", cps[i][0]);
		char *want = xasprintf("if (ok%s) {", cps[i][1]);
		ck_san(in, 0, want);
		ck_san(in, TERM_MULTILINE, want);
		free(in);
		free(want);
	}
	/* the neighbours are ordinary text: U+2029, U+202F, U+2065, U+206A */
	const char *near = "\xe2\x80\xa9\xe2\x80\xaf\xe2\x81\xa5\xe2\x81\xaa";
	ck_san(near, 0, near);
}
END_TEST

START_TEST(invalid_utf8)
{
	ck_san("a\xff" "b", 0, "a\\xffb");
	ck_san("\xfe\xc0\xc1\xf5", 0, "\\xfe\\xc0\\xc1\\xf5");
	/* a lone continuation byte; an 8-bit CSI byte on its own */
	ck_san("\x80x\x9b" "2J", 0, "\\x80x\\x9b2J");
	/* overlong encodings of '/' and of NUL */
	ck_san("\xc0\xaf", 0, "\\xc0\\xaf");
	ck_san("\xe0\x80\xaf", 0, "\\xe0\\x80\\xaf");
	ck_san("\xf0\x80\x80\xaf", 0, "\\xf0\\x80\\x80\\xaf");
	/* UTF-16 surrogates; above U+10FFFF */
	ck_san("\xed\xa0\x80", 0, "\\xed\\xa0\\x80");
	ck_san("\xf4\x90\x80\x80", 0, "\\xf4\\x90\\x80\\x80");
	/* a sequence cut short, at the end and in the middle */
	ck_san("ok\xe6\x97", 0, "ok\\xe6\\x97");
	ck_san("\xe6\x97" "A", 0, "\\xe6\\x97A");
	/* an escape sequence smuggled as an overlong ESC */
	ck_san("\xc0\x9b[2J", 0, "\\xc0\\x9b[2J");
}
END_TEST

START_TEST(utf8_passes_exactly)
{
	static const char *const texts[] = {
		"plain ASCII: {\"a\": [1, 2]} \\ back\\slash ~",
		"caf\xc3\xa9 na\xc3\xafve \xc3\x85ngstr\xc3\xb6m",               /* é ï Å ö */
		"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",                           /* 日本語 */
		"\xf0\x9f\x9a\x80 \xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd",              /* emoji, skin tone */
		"\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d \xd9\x85\xd8\xb1\xd8\xad\xd8\xa8\xd8\xa7", /* RTL text */
		"e\xcc\x81 \xe2\x80\x8d \xef\xbb\xbf \xef\xbf\xbd",              /* combining, ZWJ, BOM, U+FFFD */
		"\xf4\x8f\xbf\xbf \xee\x80\x80",                                  /* U+10FFFF, private use */
	};
	for (size_t i = 0; i < ARRAY_SIZE(texts); i++) {
		ck_san(texts[i], 0, texts[i]);
		ck_san(texts[i], TERM_MULTILINE, texts[i]);
	}
	/* every valid encoding length, mixed with escapes */
	ck_san("\xc3\xa9\033\xe6\x97\xa5\007\xf0\x9f\x9a\x80", 0, "\xc3\xa9\\x1b\xe6\x97\xa5\\x07\xf0\x9f\x9a\x80");
}
END_TEST

START_TEST(safe_copy_and_cap)
{
	char *s = term_safe(NULL, 0);
	ck_assert_str_eq(s, "");
	free(s);
	s = term_safe("", 0);
	ck_assert_str_eq(s, "");
	free(s);
	s = term_safe("t\033itle\n", TERM_MULTILINE);
	ck_assert_str_eq(s, "t\\x1bitle\n");
	free(s);
	/* a cap: a prefix that never ends inside an escape */
	struct buf b;
	buf_init(&b, 5);
	ck_assert_int_eq(term_sanitize(&b, "ab\033cd", 5, 0), -E2BIG);
	ck_assert_str_eq(b.data, "ab");
	buf_free(&b);
	/* the bound of the header: at most 4 bytes per input byte */
	char all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (char)(i ? i : 1);
	buf_init(&b, 4 * sizeof(all));
	ck_assert_int_eq(term_sanitize(&b, all, sizeof(all), 0), 0);
	assert_inert(b.data, false);
	buf_free(&b);
}
END_TEST

START_TEST(decode_and_classes)
{
	uint32_t cp = 0;
	ck_assert_int_eq(term_utf8_decode("A", 1, &cp), 1);
	ck_assert_uint_eq(cp, 'A');
	ck_assert_int_eq(term_utf8_decode("\xc2\x9b", 2, &cp), 2);
	ck_assert_uint_eq(cp, 0x9b);
	ck_assert_int_eq(term_utf8_decode("\xe2\x80\xae", 3, &cp), 3);
	ck_assert_uint_eq(cp, 0x202e);
	ck_assert_int_eq(term_utf8_decode("\xf0\x9f\x9a\x80", 4, &cp), 4);
	ck_assert_uint_eq(cp, 0x1f680);
	ck_assert_int_eq(term_utf8_decode("\xf0\x9f\x9a", 3, &cp), 0);
	ck_assert_int_eq(term_utf8_decode("\xe0\x80", 2, &cp), -1);
	ck_assert_int_eq(term_utf8_decode("\xff", 1, &cp), -1);
	ck_assert(term_cp_unsafe(0x1b) && term_cp_unsafe('\n') && term_cp_unsafe(0x7f));
	ck_assert(term_cp_unsafe(0x85) && term_cp_unsafe(0x2067));
	ck_assert(!term_cp_unsafe(' ') && !term_cp_unsafe(0xa0) && !term_cp_unsafe(0x200f));
}
END_TEST

START_TEST(widths)
{
	ck_assert_uint_eq(term_width(NULL), 0);
	ck_assert_uint_eq(term_width("Succeeded"), 9);
	ck_assert_uint_eq(term_width("caf\xc3\xa9"), 4);                    /* café */
	ck_assert_uint_eq(term_width("\xe6\x97\xa5\xe6\x9c\xac"), 4);        /* 日本 */
	ck_assert_uint_eq(term_width("\xf0\x9f\x9a\x80!"), 3);               /* 🚀! */
	ck_assert_uint_eq(term_width("e\xcc\x81"), 1);                      /* e + U+0301 */
	/* the escaped form is what is measured */
	char *s = term_safe("x \033]0;pwned\007", 0);
	ck_assert_uint_eq(term_width(s), strlen(s));
	free(s);
}
END_TEST

/* The stream of `in` written in chunks of `step` bytes, escaped. */
static char *stream(const char *in, size_t len, size_t step, unsigned flags)
{
	char *out = NULL;
	size_t outlen = 0;
	FILE *f = open_memstream(&out, &outlen);
	ck_assert_ptr_nonnull(f);
	struct term_stream ts;
	term_stream_init(&ts, flags);
	for (size_t i = 0; i < len; i += step)
		ck_assert_int_eq(term_stream_write(&ts, f, in + i, len - i < step ? len - i : step), 0);
	ck_assert_int_eq(term_stream_end(&ts, f), 0);
	fclose(f);
	return out;
}

START_TEST(streams_cut_anywhere)
{
	const char *in = "line \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x9a\x80\r\n"
			 "\033[2J\xc2\x9b \xe2\x80\xae\tend\xff\n"
			 "last\xe6\x97";
	size_t len = strlen(in);
	char *whole = san_n(in, (long)len, TERM_MULTILINE);
	ck_assert_str_eq(whole, "line \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x9a\x80\r\n"
				"\\x1b[2J\\u009b \\u202e\tend\\xff\n"
				"last\\xe6\\x97");
	for (size_t step = 1; step <= len; step++) {
		char *got = stream(in, len, step, TERM_MULTILINE);
		ck_assert_msg(!strcmp(got, whole), "chunks of %zu: \"%s\"", step, got);
		free(got);
	}
	free(whole);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("term");
	TCase *tc = tcase_create("term");
	tcase_add_test(tc, the_reported_payload);
	tcase_add_test(tc, c0_and_del);
	tcase_add_test(tc, newlines_tabs_cr);
	tcase_add_test(tc, c1_controls);
	tcase_add_test(tc, bidi_controls);
	tcase_add_test(tc, invalid_utf8);
	tcase_add_test(tc, utf8_passes_exactly);
	tcase_add_test(tc, safe_copy_and_cap);
	tcase_add_test(tc, decode_and_classes);
	tcase_add_test(tc, widths);
	tcase_add_test(tc, streams_cut_anywhere);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

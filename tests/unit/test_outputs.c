/* SPDX-License-Identifier: MIT */
/* test_outputs.c - line splitter and outputs marker-block parser. */
#include <check.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/outputs.h"
#include "base/util.h"

#define S OUTPUTS_START_MARKER "\n"
#define E OUTPUTS_END_MARKER "\n"

/* ---- line splitter ---------------------------------------------------- */

struct collect {
	struct buf all;   /* "line|T\n" per line, T = truncated */
	int stop_after;   /* return 7 after this many lines, or -1 */
	int n;
};

static int collect_cb(void *ctx, const char *line, size_t len, bool truncated)
{
	struct collect *c = ctx;
	ck_assert_uint_eq(strlen(line), len); /* NUL-terminated at len */
	buf_append(&c->all, line, len);
	buf_puts(&c->all, truncated ? "|T\n" : "|\n");
	c->n++;
	return c->n == c->stop_after ? 7 : 0;
}

/* Split `in` fed as [0,k) + [k,n) with max_line `max`; returns owned dump. */
static char *split2(const char *in, size_t k, size_t max, size_t *count)
{
	struct collect c = { .stop_after = -1 };
	buf_init(&c.all, 0);
	struct line_splitter *ls = lines_new(max, collect_cb, &c);
	size_t n = strlen(in);
	ck_assert_int_eq(lines_feed(ls, in, k), 0);
	ck_assert_int_eq(lines_feed(ls, in + k, n - k), 0);
	ck_assert_int_eq(lines_finish(ls), 0);
	if (count)
		*count = lines_count(ls);
	lines_free(ls);
	return buf_steal(&c.all);
}

START_TEST(test_lines_every_split)
{
	const char *in = "one\r\ntwo\n\nthree\rx\nabcdefgh\nabcdefghi\nabcdefgh\r\nlast";
	const char *want = "one|\ntwo|\n|\nthree\rx|\nabcdefgh|\nabcdefgh|T\nabcdefgh|\nlast|\n";
	for (size_t k = 0; k <= strlen(in); k++) {
		size_t count = 0;
		char *got = split2(in, k, 8, &count);
		ck_assert_msg(strcmp(got, want) == 0, "split at %zu:\n%s", k, got);
		ck_assert_uint_eq(count, 8);
		free(got);
	}
	/* One byte at a time. */
	struct collect c = { .stop_after = -1 };
	buf_init(&c.all, 0);
	struct line_splitter *ls = lines_new(8, collect_cb, &c);
	for (size_t i = 0; in[i]; i++)
		lines_feed(ls, in + i, 1);
	lines_finish(ls);
	lines_free(ls);
	char *got = buf_steal(&c.all);
	ck_assert_str_eq(got, want);
	free(got);
}
END_TEST

START_TEST(test_lines_edges)
{
	/* A final '\r' without '\n' is data; "\n" at the end adds no empty line. */
	char *got = split2("a\nb\r", 2, 0, NULL);
	ck_assert_str_eq(got, "a|\nb\r|\n");
	free(got);
	got = split2("a\n", 1, 0, NULL);
	ck_assert_str_eq(got, "a|\n");
	free(got);
	got = split2("", 0, 0, NULL);
	ck_assert_str_eq(got, "");
	free(got);
	/* A very long line keeps only max bytes and says so, once. */
	char big[5000];
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	got = split2(big, 1234, 16, NULL);
	ck_assert_str_eq(got, "zzzzzzzzzzzzzzzz|T\n");
	free(got);

	/* The callback can stop the feed. */
	struct collect c = { .stop_after = 2 };
	buf_init(&c.all, 0);
	struct line_splitter *ls = lines_new(0, collect_cb, &c);
	ck_assert_int_eq(lines_feed(ls, "1\n2\n3\n", 6), 7);
	ck_assert_int_eq(c.n, 2);
	lines_free(ls);
	buf_free(&c.all);
	lines_free(NULL);
	ck_assert_int_eq(lines_feed(NULL, "x", 1), 0);
}
END_TEST

/* ---- outputs ---------------------------------------------------------- */

/* Parse `in` split at k with max bytes; caller frees. */
static struct outputs_parser *parse2(const char *in, size_t k, size_t max)
{
	struct outputs_parser *p = outputs_new(max);
	size_t n = strlen(in);
	outputs_feed(p, in, k);
	outputs_feed(p, in + k, n - k);
	outputs_finish(p);
	return p;
}

static struct outputs_parser *parse(const char *in, size_t max)
{
	return parse2(in, strlen(in), max);
}

/* "k=v;k=v;" of the accepted block. */
static char *dump(const struct outputs_parser *p)
{
	struct buf b;
	buf_init(&b, 0);
	for (size_t i = 0; i < outputs_count(p); i++)
		buf_printf(&b, "%s=%s;", outputs_key(p, i), outputs_value(p, i));
	return buf_steal(&b);
}

static const char STREAM[] =
	"agent says hi\n"
	"{\"type\":\"result\"}\r\n"
	S
	"branch: main\r\n"
	"commit: abc123\n"
	"summary: line one\\nline two \\\\o/ \\x\n"
	"note: ---PADDOCK_OUTPUTS_END---\n"
	"empty:\n"
	"\n"
	"spaced :   v  \n"
	E
	"trailing noise\n";

static const char STREAM_WANT[] =
	"branch=main;commit=abc123;summary=line one\nline two \\o/ \\x;"
	"note=---PADDOCK_OUTPUTS_END---;empty=;spaced=v  ;";

START_TEST(test_outputs_every_split)
{
	for (size_t k = 0; k <= strlen(STREAM); k++) {
		struct outputs_parser *p = parse2(STREAM, k, 0);
		char *d = dump(p);
		ck_assert_msg(strcmp(d, STREAM_WANT) == 0, "split at %zu: %s", k, d);
		ck_assert(outputs_found(p));
		ck_assert_ptr_null(outputs_warning(p));
		free(d);
		outputs_free(p);
	}
	struct outputs_parser *p = outputs_new(0);
	for (size_t i = 0; STREAM[i]; i++)
		outputs_feed(p, STREAM + i, 1);
	outputs_finish(p);
	char *d = dump(p);
	ck_assert_str_eq(d, STREAM_WANT);
	free(d);
	ck_assert_str_eq(outputs_get(p, "commit"), "abc123");
	ck_assert_ptr_null(outputs_get(p, "nope"));
	ck_assert_ptr_null(outputs_key(p, 99));
	outputs_free(p);
}
END_TEST

START_TEST(test_outputs_last_block_wins)
{
	struct outputs_parser *p = parse(S "a: 1\nb: 2\n" E "log\n" S "a: 3\n" E, 0);
	char *d = dump(p);
	ck_assert_str_eq(d, "a=3;"); /* b came from the older block only */
	free(d);
	outputs_free(p);

	/* Duplicate keys: last value, first position. */
	p = parse(S "x: 1\ny: 2\nx: 3\nz: 4\ny: 5\n" E, 0);
	d = dump(p);
	ck_assert_str_eq(d, "x=3;y=5;z=4;");
	free(d);
	outputs_free(p);
}
END_TEST

START_TEST(test_outputs_unterminated)
{
	/* An unterminated block after a complete one: the complete one stays. */
	struct outputs_parser *p = parse(S "a: 1\n" E "x\n" S "a: 2\nb: 3\n", 0);
	char *d = dump(p);
	ck_assert_str_eq(d, "a=1;");
	free(d);
	ck_assert_str_eq(outputs_warning(p), "outputs block at line 5 not terminated, ignored");
	outputs_free(p);

	/* Only an unterminated block: nothing found. */
	p = parse("hello\n" S "a: 1\n", 0);
	ck_assert(!outputs_found(p));
	ck_assert_uint_eq(outputs_count(p), 0);
	ck_assert_ptr_nonnull(strstr(outputs_warning(p), "line 2 not terminated"));
	outputs_free(p);

	/* A block restarted before its end: the first start is dropped. */
	p = parse(S "a: 1\n" S "b: 2\n" E, 0);
	d = dump(p);
	ck_assert_str_eq(d, "b=2;");
	free(d);
	outputs_free(p);

	/* An end marker without a start means nothing. */
	p = parse(E "a: 1\n" E, 0);
	ck_assert(!outputs_found(p));
	ck_assert_ptr_null(outputs_warning(p));
	outputs_free(p);

	/* A final end marker without a newline still closes the block. */
	p = parse(S "a: 1\n" OUTPUTS_END_MARKER, 0);
	ck_assert(outputs_found(p));
	ck_assert_str_eq(outputs_get(p, "a"), "1");
	outputs_free(p);
}
END_TEST

START_TEST(test_outputs_oversize)
{
	/* max 32: "a: 1\n" fits, 40 bytes of values do not. */
	struct outputs_parser *p =
		parse(S "a: 1\n" E S "b: 0123456789\nc: 0123456789\nd: 0123456789\n" E, 32);
	char *d = dump(p);
	ck_assert_str_eq(d, "a=1;");
	free(d);
	ck_assert_str_eq(outputs_warning(p), "outputs block over 32 bytes, ignored");
	outputs_free(p);

	/* One line longer than the cap also discards the block. */
	char in[512];
	snprintf(in, sizeof(in), S "k: %0100d\n" E, 7);
	p = parse(in, 32);
	ck_assert(!outputs_found(p));
	ck_assert_str_eq(outputs_warning(p), "outputs block over 32 bytes, ignored");
	outputs_free(p);

	/* A newer good block after an oversize one wins and clears the warning. */
	snprintf(in, sizeof(in), S "k: %0100d\n" E S "ok: yes\n" E, 7);
	p = parse(in, 32);
	ck_assert_str_eq(outputs_get(p, "ok"), "yes");
	ck_assert_ptr_null(outputs_warning(p));
	outputs_free(p);

	/* An oversize block still ends at its end marker; megabytes of it. */
	p = outputs_new(64);
	outputs_feed(p, S, strlen(S));
	char junk[4096];
	memset(junk, 'j', sizeof(junk));
	junk[100] = '\n';
	for (int i = 0; i < 1000; i++)
		outputs_feed(p, junk, sizeof(junk));
	outputs_feed(p, "\n" E S "x: 1\n" E, strlen("\n" E S "x: 1\n" E));
	outputs_finish(p);
	ck_assert_str_eq(outputs_get(p, "x"), "1");
	ck_assert_uint_eq(outputs_count(p), 1);
	outputs_free(p);

	/* An oversize unterminated block is reported as oversize. */
	p = parse(S "b: 0123456789012345678901234567890123456789\n", 32);
	ck_assert_str_eq(outputs_warning(p), "outputs block over 32 bytes, ignored");
	outputs_free(p);
}
END_TEST

START_TEST(test_outputs_markers_and_lines)
{
	/* Markers count only as whole lines (trailing blanks and CR allowed). */
	struct outputs_parser *p =
		parse("echo " OUTPUTS_START_MARKER "\n"
		      " " OUTPUTS_START_MARKER "\n"
		      "a: no\n"
		      OUTPUTS_START_MARKER "  \r\n"
		      "a: yes\r\n"
		      "b: " OUTPUTS_START_MARKER "\n"
		      OUTPUTS_END_MARKER "\t\r\n", 0);
	char *d = dump(p);
	ck_assert_str_eq(d, "a=yes;b=" OUTPUTS_START_MARKER ";");
	free(d);
	outputs_free(p);

	/* Malformed lines are skipped and counted; good ones kept. */
	p = parse("x\n" S "good: 1\nno colon here\n: nokey\nbad key!: v\n"
		  "also.good-key_2: 2\n" E, 0);
	d = dump(p);
	ck_assert_str_eq(d, "good=1;also.good-key_2=2;");
	free(d);
	ck_assert_msg(strstr(outputs_warning(p), "3 malformed lines ignored (first at line 4)"),
		      "%s", outputs_warning(p));
	outputs_free(p);

	/* Escapes: \n \r \t \\; others and a trailing backslash are kept. */
	p = parse(S "v: a\\tb\\rc\\\\nd\\q\\\n" E, 0);
	ck_assert_str_eq(outputs_get(p, "v"), "a\tb\rc\\nd\\q\\");
	outputs_free(p);
}
END_TEST

START_TEST(test_outputs_json_and_lines)
{
	struct outputs_parser *p = parse(S "branch: main\nmsg: a\\nb\n" E, 0);
	struct json_object *o = outputs_to_json(p);
	ck_assert_str_eq(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
			 "{\"branch\":\"main\",\"msg\":\"a\\nb\"}");
	json_object_put(o);
	outputs_free(p);

	o = outputs_to_json(NULL);
	ck_assert_str_eq(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), "{}");
	json_object_put(o);

	/* Fed through a shared splitter: the same result. */
	p = outputs_new(0);
	outputs_feed_line(p, "x", 1, false);
	outputs_feed_line(p, OUTPUTS_START_MARKER, strlen(OUTPUTS_START_MARKER), false);
	outputs_feed_line(p, "k: v", 4, false);
	outputs_feed_line(p, "cut: vvvv", 9, true);
	outputs_feed_line(p, OUTPUTS_END_MARKER, strlen(OUTPUTS_END_MARKER), false);
	outputs_finish(p);
	ck_assert(!outputs_found(p)); /* a cut line spoils the block */
	outputs_free(p);

	outputs_free(NULL);
	outputs_feed(NULL, "x", 1);
	outputs_finish(NULL);
	ck_assert_uint_eq(outputs_count(NULL), 0);
	ck_assert(!outputs_found(NULL));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("outputs");
	TCase *t = tcase_create("lines");
	tcase_add_test(t, test_lines_every_split);
	tcase_add_test(t, test_lines_edges);
	suite_add_tcase(s, t);
	t = tcase_create("outputs");
	tcase_add_test(t, test_outputs_every_split);
	tcase_add_test(t, test_outputs_last_block_wins);
	tcase_add_test(t, test_outputs_unterminated);
	tcase_add_test(t, test_outputs_oversize);
	tcase_add_test(t, test_outputs_markers_and_lines);
	tcase_add_test(t, test_outputs_json_and_lines);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

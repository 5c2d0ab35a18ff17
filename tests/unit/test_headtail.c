/* SPDX-License-Identifier: MIT */
/* test_headtail.c - a stream kept by its head and its tail within a cap
 * (base/headtail): nothing cut under the cap, the marker where the cut
 * is, the tail from a whole line, every byte accounted for. */
#include "config.h"

#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/headtail.h"
#include "base/util.h"

/* Feed `s` in chunks of `step`; the kept log (head + rest), owned. */
static char *keep(size_t cap, const char *s, size_t step, uint64_t *cut)
{
	struct headtail h;
	struct buf out;
	buf_init(&out, 0);
	headtail_init(&h, cap);
	size_t n = strlen(s);
	for (size_t i = 0; i < n; i += step) {
		size_t k = n - i < step ? n - i : step;
		size_t head = headtail_feed(&h, s + i, k);
		buf_append(&out, s + i, head);
	}
	*cut = headtail_cut(&h);
	headtail_finish(&h, &out, NULL);
	headtail_free(&h);
	return buf_steal(&out);
}

static char *lines(int n)
{
	struct buf b;
	buf_init(&b, 0);
	for (int i = 0; i < n; i++)
		buf_printf(&b, "line %04d\n", i);
	return buf_steal(&b);
}

START_TEST(under_the_cap_is_kept_whole)
{
	char *s = lines(100); /* 1000 bytes */
	for (size_t step = 1; step <= 1000; step *= 7) {
		uint64_t cut;
		char *k = keep(1000, s, step, &cut);
		ck_assert_str_eq(k, s);
		ck_assert_uint_eq(cut, 0);
		free(k);
	}
	free(s);
}
END_TEST

START_TEST(head_marker_tail)
{
	char *s = lines(1000); /* 10000 bytes */
	size_t cap = 2048;
	for (size_t step = 1; step <= 5000; step = step * 3 + 1) {
		uint64_t cut0;
		char *k = keep(cap, s, step, &cut0);
		ck_assert_uint_le(strlen(k), cap);
		ck_assert_int_eq(strncmp(k, "line 0000\n", 10), 0);
		char *m = strstr(k, HEADTAIL_MARK_PREFIX);
		ck_assert_ptr_nonnull(m);
		ck_assert_msg(m[-1] == '\n', "the marker starts a line");
		unsigned long long cut = 0;
		ck_assert_int_eq(sscanf(m, "[paddock] %llu bytes cut here (", &cut), 1);
		char *tail = strchr(m, '\n') + 1;
		/* the tail from a whole line, to the stream's end */
		ck_assert_int_eq(strncmp(tail, "line ", 5), 0);
		ck_assert_str_eq(tail + strlen(tail) - 10, "line 0999\n");
		/* head (up to the marker, less a newline of the marker's own) +
		 * cut + tail: the stream */
		size_t head = (size_t)(m - k);
		if (strncmp(k, s, head) != 0)
			head--;
		ck_assert_int_eq(strncmp(k, s, head), 0);
		ck_assert_uint_eq(head + cut + strlen(tail), strlen(s));
		ck_assert_uint_ge(cut, cut0);
		ck_assert_ptr_nonnull(strstr(s, tail));
		free(k);
	}
	free(s);
}
END_TEST

START_TEST(over_the_head_within_the_tail)
{
	/* 2048 - 256: head 896, tail 896: 1500 bytes need no cut */
	char *s = lines(150);
	uint64_t cut;
	char *k = keep(2048, s, 64, &cut);
	ck_assert_str_eq(k, s);
	ck_assert_uint_eq(cut, 0);
	free(k);
	free(s);
}
END_TEST

START_TEST(a_tail_without_newline)
{
	char s[8001];
	memset(s, 'x', 8000);
	s[8000] = '\0';
	uint64_t cut;
	char *k = keep(2048, s, 1000, &cut);
	ck_assert_uint_le(strlen(k), 2048);
	char *m = strstr(k, "\n" HEADTAIL_MARK_PREFIX);
	ck_assert_ptr_nonnull(m);
	char *tail = strchr(m + 1, '\n') + 1;
	ck_assert_uint_eq(strlen(tail), 896); /* kept whole: no line to start from */
	ck_assert_uint_eq(cut, 8000 - 896 - 896);
	free(k);
}
END_TEST

START_TEST(a_tiny_cap_keeps_the_head)
{
	char *s = lines(100);
	uint64_t cut;
	char *k = keep(100, s, 33, &cut);
	ck_assert_int_eq(strncmp(k, s, 100), 0);
	ck_assert_uint_eq(cut, 900);
	ck_assert_ptr_nonnull(strstr(k + 100, "900 bytes cut here"));
	free(k);
	free(s);
}
END_TEST

/* The smallest cap configuration accepts still holds the end: the tail
 * gets its share, the last line survives a cut. */
START_TEST(the_minimum_cap_keeps_the_end)
{
	struct headtail h;
	headtail_init(&h, HEADTAIL_CAP_MIN);
	ck_assert_uint_gt(h.tail_cap, 0);
	ck_assert_uint_le(h.head_cap + h.tail_cap + HEADTAIL_RESERVE, HEADTAIL_CAP_MIN);
	headtail_free(&h);
	char *s = lines(2000);
	uint64_t cut;
	char *k = keep(HEADTAIL_CAP_MIN, s, 77, &cut);
	ck_assert_uint_gt(cut, 0);
	ck_assert_uint_le(strlen(k), HEADTAIL_CAP_MIN);
	ck_assert_ptr_eq(strstr(k, "line 0000\n"), k);
	size_t kl = strlen(k);
	ck_assert_str_eq(k + kl - strlen("line 1999\n"), "line 1999\n");
	free(k);
	free(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("headtail");
	TCase *t = tcase_create("keep");
	tcase_add_test(t, under_the_cap_is_kept_whole);
	tcase_add_test(t, head_marker_tail);
	tcase_add_test(t, over_the_head_within_the_tail);
	tcase_add_test(t, a_tail_without_newline);
	tcase_add_test(t, a_tiny_cap_keeps_the_head);
	tcase_add_test(t, the_minimum_cap_keeps_the_end);
	suite_add_tcase(s, t);
	SRunner *r = srunner_create(s);
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* SPDX-License-Identifier: MIT */
/* test_cli_format.c - the CLI's costs ($0.0003, no float noise) and
 * table lines (padded columns, no trailing spaces). */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

/* The CLI is not a library: its pure helpers are compiled in here. */
#include "cli/format.c"

static void ck_cost(double usd, const char *want)
{
	char out[32];
	cli_format_cost(usd, out, sizeof(out));
	ck_assert_str_eq(out, want);
}

START_TEST(costs)
{
	ck_cost(0.00028200000000000002, "$0.0003");
	ck_cost(0.000282, "$0.0003");
	ck_cost(0.012, "$0.012");
	ck_cost(0.1234567, "$0.1235");
	ck_cost(1.5, "$1.50");
	ck_cost(2, "$2.00");
	ck_cost(0, "$0.00");
	ck_cost(0.00004, "<$0.0001");
	ck_cost(0.00005, "$0.0001");
	ck_cost(12.99996, "$13.00");
	char small[4];
	cli_format_cost(123.45, small, sizeof(small));
	ck_assert_str_eq(small, "$12"); /* cut, still terminated */
}
END_TEST

static char *line(const char *const *cells, const int *widths, size_t n)
{
	struct buf b;
	buf_init(&b, 0);
	cli_table_line(&b, cells, widths, n);
	return buf_steal(&b);
}

START_TEST(table_lines)
{
	static const int w[] = { 6, 4, 5 };
	const char *a[] = { "NAME", "AGE", "NOTE" };
	char *l = line(a, w, 3);
	ck_assert_str_eq(l, "NAME   AGE  NOTE\n");
	free(l);
	/* empty last cells leave no trailing spaces */
	const char *b[] = { "x", "", "" };
	l = line(b, w, 3);
	ck_assert_str_eq(l, "x\n");
	free(l);
	const char *c[] = { "x", "1s", NULL };
	l = line(c, w, 3);
	ck_assert_str_eq(l, "x      1s\n");
	free(l);
	/* a longer cell pushes the rest; wide characters count two columns */
	const char *d[] = { "longername", "1s", "n" };
	l = line(d, w, 3);
	ck_assert_str_eq(l, "longername 1s   n\n");
	free(l);
	const char *e[] = { "\xe4\xb8\xad\xe6\x96\x87", "1s", "n" }; /* 4 columns */
	l = line(e, w, 3);
	ck_assert_str_eq(l, "\xe4\xb8\xad\xe6\x96\x87   1s   n\n");
	free(l);
	/* appends to what the buffer holds (an indent), trims only its own */
	struct buf buf;
	buf_init(&buf, 0);
	(void)buf_puts(&buf, "  ");
	cli_table_line(&buf, b, w, 3);
	ck_assert_str_eq(buf.data, "  x\n");
	buf_free(&buf);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cli_format");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, costs);
	tcase_add_test(tc, table_lines);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

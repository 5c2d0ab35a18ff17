/* SPDX-License-Identifier: MIT */
/* test_jsonpath.c - -o jsonpath=TEMPLATE (cli/jsonpath.c): kubectl's
 * common templates over a List of Tasks, and every unsupported form
 * refused with its position. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/jsonpath.c"

static char err[512];

static const char LIST[] =
	"{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":["
	"{\"metadata\":{\"name\":\"q1\",\"labels\":{\"app.kubernetes.io/name\":\"web\",\"team\":\"a\"}},"
	" \"spec\":{\"type\":\"exec\",\"outputs\":[\"x\",\"y\"]},"
	" \"status\":{\"phase\":\"Succeeded\",\"usage\":{\"costUSD\":0.25,\"inputTokens\":12},\"ok\":true}},"
	"{\"metadata\":{\"name\":\"q2\"},\"spec\":{\"type\":\"codex\"},\"status\":{\"phase\":null}},"
	"{\"metadata\":{\"name\":\"q3\"},\"spec\":{\"type\":\"exec\"},\"status\":{\"phase\":\"Failed\"}}]}";

/* The template over LIST (or `doc`), owned; NULL when it does not compile. */
static char *run_on(const char *doc, const char *tmpl)
{
	struct jsonpath *p = NULL;
	if (jsonpath_compile(tmpl, &p, err, sizeof(err)) < 0)
		return NULL;
	json_object *root = json_tokener_parse(doc);
	ck_assert_ptr_nonnull(root);
	struct buf b;
	buf_init(&b, 0);
	ck_assert_int_eq(jsonpath_run(p, root, &b, err, sizeof(err)), 0);
	json_object_put(root);
	jsonpath_free(p);
	return buf_steal(&b);
}

#define ck_jp(tmpl, want)                                                       \
	do {                                                                    \
		char *got_ = run_on(LIST, (tmpl));                              \
		ck_assert_msg(got_, "%s: %s", (tmpl), err);                     \
		ck_assert_str_eq(got_, (want));                                 \
		free(got_);                                                     \
	} while (0)

START_TEST(kubectl_forms)
{
	ck_jp("{.kind}", "List");
	ck_jp("{.items[0].metadata.name}", "q1");
	ck_jp("{.items[-1].metadata.name}", "q3");
	ck_jp("{.items[*].metadata.name}", "q1 q2 q3");
	ck_jp("{.items[*].status.phase}", "Succeeded Failed"); /* null: nothing */
	ck_jp("{range .items[*]}{.metadata.name}{\"\\n\"}{end}", "q1\nq2\nq3\n");
	ck_jp("{range .items[*]}{.metadata.name}{\"\\t\"}{.status.phase}{\"\\n\"}{end}",
	      "q1\tSucceeded\nq2\t\nq3\tFailed\n");
	ck_jp("names: {.items[*].metadata.name}!", "names: q1 q2 q3!");
	ck_jp("{.items[0].status.usage.costUSD} {.items[0].status.usage.inputTokens} {.items[0].status.ok}",
	      "0.25 12 true");
	ck_jp("{.items[0].spec.outputs}", "[\"x\",\"y\"]");
	ck_jp("{.items[0].metadata.labels.app\\.kubernetes\\.io/name}", "web");
	ck_jp("{.items[0].metadata.labels['app.kubernetes.io/name']}", "web");
	ck_jp("{.items[0].metadata.labels[\"team\"]}", "a");
	ck_jp("{.items[0].metadata.labels.*}", "web a");
	ck_jp("{.items[9].metadata.name}{.nosuch.field}", "");
	ck_jp("{$.items[1].metadata.name}", "q2");
	/* nested: each item's outputs, relative to it, and $ still the root */
	ck_jp("{range .items[*]}{.metadata.name}:{range .spec.outputs[*]}[{@}]{end}{$.kind};{end}",
	      "q1:[x][y]List;q2:List;q3:List;");
	ck_jp("{ .items[1].spec.type }", "codex");
	ck_jp("{.items[0].metadata}",
	      "{\"name\":\"q1\",\"labels\":{\"app.kubernetes.io/name\":\"web\",\"team\":\"a\"}}");
	char *got = run_on("{\"metadata\":{\"name\":\"one\"}}", "{.metadata.name}");
	ck_assert_str_eq(got, "one");
	free(got);
}
END_TEST

/* Refused at compile time: the position (1-based) and what is supported. */
static void refused(const char *tmpl, const char *what, int pos)
{
	struct jsonpath *p = NULL;
	ck_assert_int_eq(jsonpath_compile(tmpl, &p, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(p);
	ck_assert_msg(strstr(err, what), "%s: %s", tmpl, err);
	char at[64];
	snprintf(at, sizeof(at), "at position %d of the template", pos);
	if (pos)
		ck_assert_msg(strstr(err, at), "%s: want %s: %s", tmpl, at, err);
	ck_assert_msg(strstr(err, "{range .items[*]}...{end}"), "%s", err);
}

START_TEST(unsupported_named_with_position)
{
	refused("{.items[?(@.x==1)].a}", "filters", 8);
	refused("{.items[0:2]}", "slices", 10);
	refused("{..name}", "recursive descent", 2);
	refused("{.items[*].length()}", "functions", 2);
	refused("{.items[0].a", "expected '}'", 13);
	refused("{metadata.name}", "expected a path", 2);
	refused("{}", "an empty {}", 1);
	refused("{end}", "{end} without a {range}", 1);
	refused("{range .items[*]}{.a}", "has no {end}", 0);
	refused("{.a[x]}", "unexpected 'x' in [...]", 5);
	refused("{.a['k]}", "closing '", 5);
	refused("{\"abc}", "closing quote", 2);
	refused("{.a b}", "unexpected 'b'", 5);
	char deep[512] = "";
	for (int i = 0; i <= JSONPATH_DEPTH; i++)
		strcat(deep, "{range .a[*]}");
	refused(deep, "nested deeper", 1 + 13 * JSONPATH_DEPTH);
	char *big = xmalloc(JSONPATH_MAX + 2);
	memset(big, 'x', JSONPATH_MAX + 1);
	big[JSONPATH_MAX + 1] = '\0';
	struct jsonpath *p = NULL;
	ck_assert_int_eq(jsonpath_compile(big, &p, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "longer than"));
	free(big);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("jsonpath");
	TCase *t = tcase_create("templates");
	tcase_add_test(t, kubectl_forms);
	tcase_add_test(t, unsupported_named_with_position);
	suite_add_tcase(s, t);
	SRunner *r = srunner_create(s);
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

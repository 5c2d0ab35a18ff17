/* SPDX-License-Identifier: MIT */
/* test_manifest.c - YAML/JSON manifests into json-c: scalar resolution,
 * multi-document input, and the refusals that keep hostile input cheap
 * (alias bombs, deep nesting, too many nodes, oversize), with NAME:L:C. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/manifest.h"
#include "base/util.h"

static char err[1024];

static json_object **parse_ok(const char *text, size_t *n)
{
	json_object **docs = NULL;
	err[0] = '\0';
	int rc = manifest_parse("m.yaml", text, strlen(text), NULL, &docs, n, err, sizeof(err));
	ck_assert_msg(rc == 0, "parse failed: %s", err);
	return docs;
}

static void parse_fails(const char *text, const struct manifest_limits *lim, const char *want)
{
	json_object **docs = (json_object **)0x1;
	size_t n = 77;
	err[0] = '\0';
	int rc = manifest_parse("m.yaml", text, strlen(text), lim, &docs, &n, err, sizeof(err));
	ck_assert_int_lt(rc, 0);
	ck_assert_ptr_eq(docs, (json_object **)0x1); /* untouched */
	ck_assert_uint_eq(n, 77);
	ck_assert_msg(strstr(err, want) != NULL, "error \"%s\" lacks \"%s\"", err, want);
}

static const char *js(json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

START_TEST(yaml_scalars)
{
	size_t n = 0;
	json_object **d = parse_ok("a: null\nb: ~\nc:\nd: true\ne: False\nf: 42\ng: -7\n"
				   "h: 0o17\ni: 0x1F\nj: 0755\nk: 1.5\nl: 1e3\nm: yes\nn: \"42\"\n"
				   "o: '0755'\np: 08\nq: !!str 12\nr: |\n  line\n",
				   &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(js(d[0]),
			 "{\"a\":null,\"b\":null,\"c\":null,\"d\":true,\"e\":false,\"f\":42,\"g\":-7,"
			 "\"h\":15,\"i\":31,\"j\":493,\"k\":1.5,\"l\":1000.0,\"m\":\"yes\",\"n\":\"42\","
			 "\"o\":\"0755\",\"p\":\"08\",\"q\":\"12\",\"r\":\"line\\n\"}");
	manifest_docs_free(d, n);
}
END_TEST

START_TEST(multi_doc_and_lists)
{
	size_t n = 0;
	json_object **d = parse_ok("---\nkind: A\n---\n# only a comment\n---\nkind: B\n...\n", &n);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(js(d[0]), "{\"kind\":\"A\"}");
	ck_assert_str_eq(js(d[1]), "{\"kind\":\"B\"}");
	manifest_docs_free(d, n);

	d = parse_ok("kind: List\napiVersion: v1\nitems:\n- kind: A\n- kind: B\n- kind: C\n", &n);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(js(d[2]), "{\"kind\":\"C\"}");
	manifest_docs_free(d, n);

	d = parse_ok("", &n);
	ck_assert_uint_eq(n, 0);
	manifest_docs_free(d, n);
}
END_TEST

START_TEST(json_input)
{
	size_t n = 0;
	json_object **d = parse_ok("  {\"kind\": \"A\", \"x\": [1, 2.5, true, null, \"s\"]}\n"
				   "{\"kind\":\"B\"}", &n);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(js(d[0]), "{\"kind\":\"A\",\"x\":[1,2.5,true,null,\"s\"]}");
	ck_assert_str_eq(js(d[1]), "{\"kind\":\"B\"}");
	manifest_docs_free(d, n);

	d = parse_ok("[{\"kind\":\"A\"},{\"kind\":\"B\"}]", &n);
	ck_assert_uint_eq(n, 2);
	manifest_docs_free(d, n);

	d = parse_ok("{\"kind\":\"List\",\"items\":[{\"kind\":\"A\"}]}", &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(js(d[0]), "{\"kind\":\"A\"}");
	manifest_docs_free(d, n);

	parse_fails("{\"a\": 1,\n \"b\": {\"c\": 1, \"c\": 2}}", NULL,
		    "m.yaml:2:16: duplicate key \"c\": remove one of them");
	/* escapes decode before the comparison */
	parse_fails("{\"a\": 1, \"\\u0061\": 2}", NULL, "duplicate key \"a\"");
	parse_fails("{\"a\": 1,}", NULL, "m.yaml:1:");
	parse_fails("{\"a\": 1", NULL, "unexpected end of JSON input");
	parse_fails("{\"a\": 1} 7", NULL, "m.yaml:1:10: expected '{' or '['");
}
END_TEST

START_TEST(duplicate_and_bad_keys)
{
	parse_fails("a: 1\nb:\n  c: 1\n  c: 2\n", NULL,
		    "m.yaml:4:3: duplicate key \"c\": remove one of them");
	parse_fails("? [a]\n: 1\n", NULL, "m.yaml:1:3: mapping keys must be strings, not a sequence");
	parse_fails("~: 1\n", NULL, "m.yaml:1:1: mapping keys must be strings: quote the key");
	parse_fails("a: !foo 1\n", NULL, "m.yaml:1:4: tag !foo is not supported: remove it");
	parse_fails("a: !!int abc\n", NULL, "value \"abc\" is not a valid !!int");
	parse_fails("a: 99999999999999999999\n", NULL, "number 99999999999999999999 is out of range");
	parse_fails("a: .inf\n", NULL, ".inf is not supported");
}
END_TEST

START_TEST(aliases_refused)
{
	parse_fails("a: &x 1\nb: 2\n", NULL, "m.yaml:1:4: aliases are not allowed (anchor &x)");
	parse_fails("a: [1]\nb: *x\n", NULL, "aliases are not allowed");

	/* billion laughs: refused at the first anchor, before any expansion */
	struct buf b;
	buf_init(&b, 0);
	buf_puts(&b, "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
	for (char c = 'b'; c <= 'j'; c++)
		buf_printf(&b, "%c: &%c [*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c]\n", c, c, c - 1, c - 1,
			   c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1);
	int64_t t0 = now_mono_ms();
	parse_fails(b.data, NULL, "m.yaml:1:4: aliases are not allowed (anchor &a)");
	ck_assert_int_lt(now_mono_ms() - t0, 5000); /* generous: it is microseconds */
	buf_free(&b);
}
END_TEST

START_TEST(limits)
{
	struct manifest_limits lim = { .max_depth = 4 };
	size_t n = 0;
	json_object **d = NULL;
	/* 4 levels is fine, 5 is not */
	ck_assert_int_eq(manifest_parse("m.yaml", "a: {b: {c: [1]}}", 16, &lim, &d, &n, err,
					sizeof(err)), 0);
	manifest_docs_free(d, n);
	parse_fails("a: {b: {c: [[1]]}}", &lim, "m.yaml:1:13: nesting deeper than 4 levels");
	parse_fails("{\"a\":{\"b\":{\"c\":[[1]]}}}", &lim, "nesting deeper than 4 levels");
	ck_assert_int_eq(manifest_parse("m.yaml", "{\"a\":{\"b\":{\"c\":[1]}}}", 21, &lim, &d, &n,
					err, sizeof(err)), 0);
	manifest_docs_free(d, n);

	/* default depth: deep YAML and JSON bombs are refused without recursion */
	struct buf b;
	buf_init(&b, 0);
	for (int i = 0; i < 100000; i++)
		buf_puts(&b, "[");
	parse_fails(b.data, NULL, "nesting deeper than 64 levels");
	buf_reset(&b);
	buf_puts(&b, "a: ");
	for (int i = 0; i < 100000; i++)
		buf_puts(&b, "[");
	parse_fails(b.data, NULL, "m.yaml:1:");
	buf_free(&b);

	struct manifest_limits nodes = { .max_nodes = 10 };
	parse_fails("a: [1,2,3,4,5,6,7,8,9,10]", &nodes, "more than 10 nodes: split the manifest");
	parse_fails("[1,2,3,4,5,6,7,8,9,10]", &nodes, "more than 10 nodes");

	struct manifest_limits bytes = { .max_bytes = 8 };
	json_object **docs = NULL;
	int rc = manifest_parse("m.yaml", "a: 123456789", 12, &bytes, &docs, &n, err, sizeof(err));
	ck_assert_int_eq(rc, -E2BIG);
	ck_assert_str_eq(err, "m.yaml:1:1: manifest is 12 bytes, more than the limit of 8: split it");
}
END_TEST

START_TEST(syntax_errors)
{
	parse_fails("a: [1, 2\nb: 3\n", NULL, "m.yaml:");
	parse_fails("a: b: c\n", NULL, "m.yaml:1:5: mapping values are not allowed in this context");
	parse_fails("a:\n\t- x\n", NULL, "m.yaml:2:1:");
}
END_TEST

START_TEST(fixtures)
{
	static const char *const files[] = { "task.yaml", "agent.yaml", "secret.yaml",
					     "all.json" };
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		char *path = xasprintf("%s/tests/data/manifests/%s", TOP_SRCDIR, files[i]);
		char *data = NULL;
		size_t len = 0, n = 0;
		ck_assert_int_eq(read_file(path, 1 << 20, &data, &len), 0);
		json_object **d = NULL;
		int rc = manifest_parse(path, data, len, NULL, &d, &n, err, sizeof(err));
		ck_assert_msg(rc == 0, "%s: %s", path, err);
		ck_assert_uint_ge(n, 1);
		manifest_docs_free(d, n);
		free(data);
		free(path);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("manifest");
	TCase *tc = tcase_create("manifest");
	tcase_add_test(tc, yaml_scalars);
	tcase_add_test(tc, multi_doc_and_lists);
	tcase_add_test(tc, json_input);
	tcase_add_test(tc, duplicate_and_bad_keys);
	tcase_add_test(tc, aliases_refused);
	tcase_add_test(tc, limits);
	tcase_add_test(tc, syntax_errors);
	tcase_add_test(tc, fixtures);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* SPDX-License-Identifier: MIT */
/* test_template.c - {{ deps.NAME.results.KEY }} rendering and checks. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/template.h"
#include "base/util.h"

struct dep {
	const char *name;
	const char *keys[4];
	const char *vals[4];
};

static const struct dep DEPS[] = {
	{ "build", { "branch", "commit" }, { "feature/x", "abc123" } },
	{ "test", { "report" }, { "12 passed {{ deps.build.results.commit }}" } },
	{ "my-task.v2", { "commit.sha" }, { "deadbeef" } },
	{ "empty", { 0 }, { 0 } },
};

struct lctx {
	int calls;
	int fail;   /* negative errno to return, or 0 */
};

static void join(char *b, size_t n, const char *const *items, size_t count)
{
	size_t o = 0;
	b[0] = '\0';
	for (size_t i = 0; i < count && items[i] && o < n; i++)
		o += (size_t)snprintf(b + o, n - o, "%s%s", i ? ", " : "", items[i]);
}

static int lookup(void *ctx, const char *dep, const char *key, const char **value, char *avail,
		  size_t availlen)
{
	struct lctx *l = ctx;
	l->calls++;
	if (l->fail)
		return l->fail;
	for (size_t i = 0; i < ARRAY_SIZE(DEPS); i++) {
		if (strcmp(DEPS[i].name, dep) != 0)
			continue;
		for (size_t k = 0; k < 4 && DEPS[i].keys[k]; k++) {
			if (strcmp(DEPS[i].keys[k], key) == 0) {
				*value = DEPS[i].vals[k];
				return 0;
			}
		}
		join(avail, availlen, DEPS[i].keys, 4);
		return -ENODATA;
	}
	const char *names[ARRAY_SIZE(DEPS)];
	for (size_t i = 0; i < ARRAY_SIZE(DEPS); i++)
		names[i] = DEPS[i].name;
	join(avail, availlen, names, ARRAY_SIZE(names));
	return -ENOENT;
}

/* Render; on success return the owned output, on failure NULL with err. */
static char *render(const char *in, size_t max, int *rc, char *err, size_t errlen)
{
	struct lctx l = { 0, 0 };
	char *out = NULL;
	err[0] = '\0';
	*rc = tmpl_render(in, lookup, &l, max, &out, err, errlen);
	return out;
}

struct ok_case {
	const char *in;
	const char *want;
};

static const struct ok_case OK[] = {
	{ "no tags at all", "no tags at all" },
	{ "", "" },
	{ "on {{ deps.build.results.branch }} now", "on feature/x now" },
	{ "{{deps.build.results.commit}}", "abc123" },
	{ "{{\tdeps.build.results.commit \n }}!", "abc123!" },
	{ "{{ deps.build.results.branch }}@{{ deps.build.results.commit }}", "feature/x@abc123" },
	{ "{{ deps.my-task.v2.results.commit.sha }}", "deadbeef" },
	{ "literal {{ \"{{\" }} and }} stay", "literal {{ and }} stay" },
	{ "{{\"}}\"}}", "}}" },
	{ "{{ \"\" }}x", "x" },
	{ "single { and } braces", "single { and } braces" },
	/* A value is inserted as is, never expanded again. */
	{ "{{ deps.test.results.report }}", "12 passed {{ deps.build.results.commit }}" },
};

START_TEST(test_render_ok)
{
	const struct ok_case *c = &OK[_i];
	char err[256];
	int rc;
	char *out = render(c->in, 0, &rc, err, sizeof(err));
	ck_assert_msg(rc == 0, "\"%s\": rc %d: %s", c->in, rc, err);
	ck_assert_str_eq(out, c->want);
	free(out);
}
END_TEST

struct bad_case {
	const char *in;
	int rc;
	const char *msg[3];  /* substrings of the error */
};

static const struct bad_case BAD[] = {
	{ "see {{ deps.lint.results.x }}", -ENOENT,
	  { "{{ deps.lint.results.x }} at line 1, column 5", "task \"lint\" is not a dependency",
	    "dependencies: build, test, my-task.v2, empty" } },
	{ "{{ deps.build.results.sha }}", -ENODATA,
	  { "task \"build\" has no result \"sha\"", "(results: branch, commit)" } },
	{ "{{ deps.empty.results.x }}", -ENODATA, { "(it has no results)" } },
	{ "a\nbc {{ deps.build.results.branch", -EINVAL,
	  { "unclosed \"{{\"", "line 2, column 4", "{{ \"{{\" }}" } },
	{ "x {{", -EINVAL, { "unclosed", "column 3" } },
	{ "{{ }}", -EINVAL, { "{{ }}", "empty tag" } },
	{ "{{}}", -EINVAL, { "empty tag" } },
	{ "{{ deps.build.outputs.branch }}", -EINVAL,
	  { "{{ deps.build.outputs.branch }}", "not a reference",
	    "use {{ deps.NAME.results.KEY }}" } },
	{ "{{ deps.build.results. }}", -EINVAL, { "not a reference" } },
	{ "{{ deps..results.x }}", -EINVAL, { "not a reference" } },
	{ "{{ deps.build.results.branch | upper }}", -EINVAL, { "unexpected text" } },
	{ "{{ build }}", -EINVAL, { "not a reference" } },
	{ "{{ \"abc }}", -EINVAL, { "unclosed string" } },
	{ "{{ \"a\" \"b\" }}", -EINVAL, { "unexpected text" } },
	/* A second bad tag after a good one is reported with its own position. */
	{ "{{ deps.build.results.branch }} {{ nope }}", -EINVAL, { "column 33" } },
};

START_TEST(test_render_bad)
{
	const struct bad_case *c = &BAD[_i];
	char err[512];
	int rc;
	char *out = render(c->in, 0, &rc, err, sizeof(err));
	ck_assert_msg(rc == c->rc, "\"%s\": rc %d, expected %d (%s)", c->in, rc, c->rc, err);
	ck_assert_ptr_null(out);
	ck_assert_msg(!strchr(err, '\n'), "\"%s\": message not one line: %s", c->in, err);
	for (size_t i = 0; i < 3 && c->msg[i]; i++)
		ck_assert_msg(strstr(err, c->msg[i]), "\"%s\": \"%s\" lacks \"%s\"", c->in, err,
			      c->msg[i]);
}
END_TEST

START_TEST(test_render_bounds)
{
	char err[256];
	int rc;
	/* "feature/x" is 9 bytes: "[" + 9 + "]" = 11. */
	char *out = render("[{{ deps.build.results.branch }}]", 11, &rc, err, sizeof(err));
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(out, "[feature/x]");
	free(out);
	out = render("[{{ deps.build.results.branch }}]", 10, &rc, err, sizeof(err));
	ck_assert_int_eq(rc, -E2BIG);
	ck_assert_ptr_null(out);
	ck_assert_msg(strstr(err, "over 10 bytes"), "%s", err);
	out = render("0123456789A", 10, &rc, err, sizeof(err));
	ck_assert_int_eq(rc, -E2BIG);
	ck_assert_ptr_null(out);

	/* Names longer than any Kubernetes name are refused, not copied. */
	char big[600];
	int n = snprintf(big, sizeof(big), "{{ deps.%0300d.results.k }}", 0);
	ck_assert_int_lt(n, (int)sizeof(big));
	out = render(big, 0, &rc, err, sizeof(err));
	ck_assert_int_eq(rc, -EINVAL);
	ck_assert_msg(strstr(err, "longer than 253"), "%s", err);
	/* The quoted tag is shortened in the message. */
	ck_assert_msg(strstr(err, "..."), "%s", err);
}
END_TEST

START_TEST(test_render_lookup_error)
{
	struct lctx l = { 0, -EIO };
	char err[256], *out = (char *)"untouched";
	int rc = tmpl_render("x {{ deps.build.results.branch }}", lookup, &l, 0, &out, err,
			     sizeof(err));
	ck_assert_int_eq(rc, -EIO);
	ck_assert_str_eq(out, "untouched");
	ck_assert_msg(strstr(err, "lookup failed"), "%s", err);
	ck_assert_int_eq(l.calls, 1);
	/* A template without tags never calls lookup. */
	l.calls = 0;
	l.fail = 0;
	rc = tmpl_render("plain", lookup, &l, 0, &out, err, sizeof(err));
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(l.calls, 0);
	free(out);
}
END_TEST

struct refs {
	char seen[8][64];
	size_t off[8];
	int n;
	int stop_at;
};

static int on_ref(void *ctx, const char *dep, const char *key, size_t offset)
{
	struct refs *r = ctx;
	if (r->n == r->stop_at)
		return -ECANCELED;
	snprintf(r->seen[r->n], sizeof(r->seen[0]), "%s/%s", dep, key);
	r->off[r->n] = offset;
	r->n++;
	return 0;
}

START_TEST(test_refs)
{
	struct refs r = { .stop_at = -1 };
	char err[256];
	const char *in = "A {{ deps.a.results.x }} {{ \"{{\" }} {{deps.b.results.y}}";
	ck_assert_int_eq(tmpl_refs(in, on_ref, &r, err, sizeof(err)), 0);
	ck_assert_int_eq(r.n, 2);
	ck_assert_str_eq(r.seen[0], "a/x");
	ck_assert_uint_eq(r.off[0], 2);
	ck_assert_str_eq(r.seen[1], "b/y");
	ck_assert_uint_eq(r.off[1], (size_t)(strstr(in, "{{deps.b") - in));

	struct refs r2 = { .stop_at = 1 };
	ck_assert_int_eq(tmpl_refs(in, on_ref, &r2, err, sizeof(err)), -ECANCELED);
	ck_assert_int_eq(r2.n, 1);

	struct refs r3 = { .stop_at = -1 };
	ck_assert_int_eq(tmpl_refs("{{ deps.a.results.x }} {{", on_ref, &r3, err, sizeof(err)),
			 -EINVAL);
	ck_assert_msg(strstr(err, "unclosed"), "%s", err);
}
END_TEST

START_TEST(test_check_deps)
{
	const char *deps[] = { "build", "test" };
	char err[256] = "";
	ck_assert_int_eq(tmpl_check_deps("{{ deps.build.results.x }}{{ deps.test.results.y }}",
					 deps, 2, err, sizeof(err)), 0);
	ck_assert_int_eq(tmpl_check_deps("no refs", NULL, 0, err, sizeof(err)), 0);
	ck_assert_int_eq(tmpl_check_deps("ok {{ deps.build.results.x }}\n  {{ deps.lint.results.y }}",
					 deps, 2, err, sizeof(err)), -ENOENT);
	ck_assert_msg(strstr(err, "{{ deps.lint.results.y }} at line 2, column 3"), "%s", err);
	ck_assert_msg(strstr(err, "not in dependsOn (build, test)"), "%s", err);
	ck_assert_msg(strstr(err, "add it to spec.dependsOn"), "%s", err);
	ck_assert_int_eq(tmpl_check_deps("{{ deps.x.results.y }}", NULL, 0, err, sizeof(err)),
			 -ENOENT);
	ck_assert_msg(strstr(err, "(empty)"), "%s", err);
	ck_assert_int_eq(tmpl_check_deps("{{ x", deps, 2, err, sizeof(err)), -EINVAL);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("template");
	TCase *t = tcase_create("render");
	tcase_add_loop_test(t, test_render_ok, 0, (int)ARRAY_SIZE(OK));
	tcase_add_loop_test(t, test_render_bad, 0, (int)ARRAY_SIZE(BAD));
	tcase_add_test(t, test_render_bounds);
	tcase_add_test(t, test_render_lookup_error);
	suite_add_tcase(s, t);
	t = tcase_create("refs");
	tcase_add_test(t, test_refs);
	tcase_add_test(t, test_check_deps);
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

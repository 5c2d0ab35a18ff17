/* SPDX-License-Identifier: MIT */
/*
 * control/template.c - {{ deps.NAME.results.KEY }} and {{ "literal" }} in prompts.
 * See template.h and docs/templates.md.
 */
#include "control/template.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

#define TMPL_NAME_MAX 253     /* Kubernetes object names; keys share the cap */
#define TMPL_DEFAULT_MAX (1024 * 1024)
#define SHOW_MAX 80           /* bytes of a tag quoted in an error */

enum tag_kind { TAG_REF, TAG_LIT };

struct tag {
	size_t start, end;        /* in[start, end) is the whole "{{ ... }}" */
	enum tag_kind kind;
	const char *lit;          /* TAG_LIT: the text, not NUL-terminated */
	size_t lit_len;
	char dep[TMPL_NAME_MAX + 1];
	char key[TMPL_NAME_MAX + 1];
	bool event;               /* event.PATH or schedule.PATH: dep is the root */
};

static const char HINT[] =
	"use {{ deps.NAME.results.KEY }}, or {{ \"{{\" }} for a literal \"{{\"";

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '-';
}

/* "line L, column C" of byte offset `off` (1-based, columns in bytes). */
static void where(const char *in, size_t off, char *b, size_t n)
{
	size_t line = 1, col = 1;
	for (size_t i = 0; i < off && in[i]; i++) {
		if (in[i] == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	snprintf(b, n, "line %zu, column %zu", line, col);
}

/* The tag source as written, shortened, one line. */
static void show(const char *in, size_t start, size_t end, char *b, size_t n)
{
	size_t len = end - start, o = 0;
	bool cut = len > SHOW_MAX;
	if (cut)
		len = SHOW_MAX;
	for (size_t i = 0; i < len && o + 1 < n; i++) {
		char c = in[start + i];
		b[o++] = (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
	}
	b[o] = '\0';
	if (cut && o + 4 < n)
		memcpy(b + o, "...", 4);
}

static int tag_error(const char *in, size_t start, size_t end, char *err, size_t errlen,
		     const char *what)
{
	char w[64], s[SHOW_MAX + 8];
	where(in, start, w, sizeof(w));
	show(in, start, end, s, sizeof(s));
	return errf(err, errlen, -EINVAL, "%s at %s: %s: %s", s, w, what, HINT);
}

/* "event.PATH" / "schedule.PATH" (len bytes at e): root into t->dep,
 * PATH into t->key. */
static int split_event(const char *e, size_t len, struct tag *t)
{
	static const char *const roots[] = { "event", "schedule" };
	for (size_t i = 0; i < ARRAY_SIZE(roots); i++) {
		size_t n = strlen(roots[i]);
		if (len <= n + 1 || memcmp(e, roots[i], n) || e[n] != '.')
			continue;
		if (len - n - 1 > TMPL_NAME_MAX)
			return -2;
		snprintf(t->dep, sizeof(t->dep), "%s", roots[i]);
		memcpy(t->key, e + n + 1, len - n - 1);
		t->key[len - n - 1] = '\0';
		t->event = true;
		return 0;
	}
	return -1;
}

/* Split "deps.NAME.results.KEY" (len bytes at e) into t->dep and t->key. */
static int split_ref(const char *e, size_t len, struct tag *t)
{
	static const char pre[] = "deps.", mid[] = ".results.";
	t->event = false;
	if (len <= sizeof(pre) - 1 || memcmp(e, pre, sizeof(pre) - 1) != 0)
		return -1;
	const char *name = e + sizeof(pre) - 1;
	size_t rest = len - (sizeof(pre) - 1);
	for (size_t i = 1; i + sizeof(mid) - 1 < rest; i++) {
		if (memcmp(name + i, mid, sizeof(mid) - 1) != 0)
			continue;
		size_t klen = rest - i - (sizeof(mid) - 1);
		if (i > TMPL_NAME_MAX || klen > TMPL_NAME_MAX)
			return -2;
		memcpy(t->dep, name, i);
		t->dep[i] = '\0';
		memcpy(t->key, name + i + sizeof(mid) - 1, klen);
		t->key[klen] = '\0';
		return 0;
	}
	return -1;
}

/* Parse the tag whose "{{" is at in[pos]; `events`: event.PATH and
 * schedule.PATH are references too. */
static int parse_tag_as(const char *in, size_t pos, bool events, struct tag *t, char *err,
			size_t errlen)
{
	size_t i = pos + 2;
	t->start = pos;
	while (is_ws(in[i]))
		i++;
	if (in[i] == '"') {
		const char *q = strchr(in + i + 1, '"');
		if (!q)
			return tag_error(in, pos, strlen(in), err, errlen,
					 "unclosed string in tag");
		t->kind = TAG_LIT;
		t->lit = in + i + 1;
		t->lit_len = (size_t)(q - t->lit);
		i = (size_t)(q - in) + 1;
	} else {
		size_t e = i;
		while (is_name_char(in[i]))
			i++;
		t->kind = TAG_REF;
		int r = e == i ? -1 : split_ref(in + e, i - e, t);
		if (r == -1 && events && e != i)
			r = split_event(in + e, i - e, t);
		if (r < 0) {
			/* Report the whole tag if it is closed at all. */
			const char *close = strstr(in + pos + 2, "}}");
			if (!close)
				return tag_error(in, pos, strlen(in), err, errlen,
						 "unclosed \"{{\"");
			size_t end = (size_t)(close - in) + 2;
			if (r == -2)
				return tag_error(in, pos, end, err, errlen,
						 "name or key longer than 253 bytes");
			return tag_error(in, pos, end, err, errlen,
					 e == i && in + i == close ? "empty tag"
								 : "not a reference");
		}
	}
	while (is_ws(in[i]))
		i++;
	if (in[i] != '}' || in[i + 1] != '}') {
		const char *close = strstr(in + i, "}}");
		if (!close)
			return tag_error(in, pos, strlen(in), err, errlen, "unclosed \"{{\"");
		return tag_error(in, pos, (size_t)(close - in) + 2, err, errlen,
				 "unexpected text before \"}}\"");
	}
	t->end = i + 2;
	return 0;
}

static int parse_tag(const char *in, size_t pos, struct tag *t, char *err, size_t errlen)
{
	return parse_tag_as(in, pos, false, t, err, errlen);
}

static int lookup_error(const char *in, const struct tag *t, int rc, const char *avail,
			char *err, size_t errlen)
{
	char w[64], s[SHOW_MAX + 8];
	where(in, t->start, w, sizeof(w));
	show(in, t->start, t->end, s, sizeof(s));
	if (rc == -ENOENT)
		return errf(err, errlen, rc, "%s at %s: task \"%s\" is not a dependency (%s%s)",
			    s, w, t->dep, *avail ? "dependencies: " : "no dependencies",
			    avail);
	if (rc == -ENODATA)
		return errf(err, errlen, rc, "%s at %s: task \"%s\" has no result \"%s\" (%s%s)",
			    s, w, t->dep, t->key, *avail ? "results: " : "it has no results",
			    avail);
	return errf(err, errlen, rc, "%s at %s: lookup failed: %s", s, w, strerror(-rc));
}

/* What a render does with a tag: append its text to b, or fail (an error
 * already in err, or -E2BIG for "too big"). */
typedef int (*tag_fn)(void *ctx, const char *in, const struct tag *t, struct buf *b, char *err,
		      size_t errlen);

/* The text between tags copied, each tag handed to fn; `events`: see
 * parse_tag_as; `what` names the result in the too-big message. */
static int render(const char *in, bool events, tag_fn fn, void *ctx, size_t max_out,
		  const char *what, const char *fix, char **out, char *err, size_t errlen)
{
	struct buf b;
	struct tag t;
	size_t pos = 0;
	int rc = 0;

	buf_init(&b, max_out ? max_out : TMPL_DEFAULT_MAX);
	for (;;) {
		const char *open = strstr(in + pos, "{{");
		size_t upto = open ? (size_t)(open - in) : strlen(in);
		rc = buf_append(&b, in + pos, upto - pos);
		if (rc < 0 || !open)
			break;
		if ((rc = parse_tag_as(in, upto, events, &t, err, errlen)) < 0)
			goto out;
		if ((rc = fn(ctx, in, &t, &b, err, errlen)) < 0)
			break;
		pos = t.end;
	}
	if (rc == -E2BIG) {
		rc = errf(err, errlen, -E2BIG, "%s is over %zu bytes: %s", what, b.cap, fix);
		goto out;
	}
	if (rc == 0)
		*out = buf_steal(&b);
out:
	buf_free(&b);
	return rc;
}

struct deps_ctx {
	tmpl_lookup_fn lookup;
	void *ctx;
};

static int deps_tag(void *vctx, const char *in, const struct tag *t, struct buf *b, char *err,
		    size_t errlen)
{
	struct deps_ctx *d = vctx;
	if (t->kind == TAG_LIT)
		return buf_append(b, t->lit, t->lit_len);
	const char *v = NULL;
	char avail[256] = "";
	int rc = d->lookup(d->ctx, t->dep, t->key, &v, avail, sizeof(avail));
	if (rc == 0 && !v)
		rc = -ENODATA;
	if (rc < 0) {
		avail[sizeof(avail) - 1] = '\0';
		rc = lookup_error(in, t, rc, avail, err, errlen);
		return rc == -E2BIG ? -EIO : rc; /* not "too big" */
	}
	return buf_puts(b, v);
}

int tmpl_render(const char *in, tmpl_lookup_fn lookup, void *ctx, size_t max_out, char **out,
		char *err, size_t errlen)
{
	if (!in || !lookup || !out)
		return errf(err, errlen, -EINVAL, "tmpl_render: missing argument");
	struct deps_ctx d = { lookup, ctx };
	return render(in, false, deps_tag, &d, max_out, "rendered prompt",
		      "shorten the prompt or the referenced results", out, err, errlen);
}

int tmpl_refs(const char *in, tmpl_ref_fn cb, void *ctx, char *err, size_t errlen)
{
	struct tag t;
	size_t pos = 0;

	if (!in)
		return errf(err, errlen, -EINVAL, "tmpl_refs: no template");
	for (;;) {
		const char *open = strstr(in + pos, "{{");
		if (!open)
			return 0;
		int rc = parse_tag(in, (size_t)(open - in), &t, err, errlen);
		if (rc < 0)
			return rc;
		if (t.kind == TAG_REF && cb) {
			rc = cb(ctx, t.dep, t.key, t.start);
			if (rc < 0)
				return rc;
		}
		pos = t.end;
	}
}

struct check_ctx {
	const char *in;
	const char *const *deps;
	size_t n;
	char *err;
	size_t errlen;
};

static int check_one(void *vctx, const char *dep, const char *key, size_t offset)
{
	struct check_ctx *c = vctx;
	for (size_t i = 0; i < c->n; i++)
		if (str_eq(c->deps[i], dep))
			return 0;

	char w[64], list[256];
	size_t o = 0;
	list[0] = '\0';
	for (size_t i = 0; i < c->n && o < sizeof(list); i++) {
		int k = snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : "",
				 c->deps[i] ? c->deps[i] : "");
		if (k < 0)
			break;
		o += (size_t)k;
	}
	if (o >= sizeof(list))
		memcpy(list + sizeof(list) - 4, "...", 4);
	where(c->in, offset, w, sizeof(w));
	return errf(c->err, c->errlen, -ENOENT,
		    "{{ deps.%s.results.%s }} at %s: task \"%s\" is not in dependsOn (%s): "
		    "add it to spec.dependsOn",
		    dep, key, w, dep, c->n ? list : "empty");
}

int tmpl_check_deps(const char *in, const char *const *deps, size_t n, char *err,
		    size_t errlen)
{
	struct check_ctx c = { in, deps, deps ? n : 0, err, errlen };
	return tmpl_refs(in, check_one, &c, err, errlen);
}

/* v with every "{{" written as {{ "{{" }}: literal under tmpl_render. */
static int put_escaped(struct buf *b, const char *v)
{
	int rc = 0;
	for (const char *o; rc == 0 && (o = strstr(v, "{{")); v = o + 2) {
		rc = buf_append(b, v, (size_t)(o - v));
		if (rc == 0)
			rc = buf_puts(b, "{{ \"{{\" }}");
	}
	return rc < 0 ? rc : buf_puts(b, v);
}

struct event_ctx {
	tmpl_event_fn fn;
	void *ctx;
};

static int event_tag(void *vctx, const char *in, const struct tag *t, struct buf *b, char *err,
		     size_t errlen)
{
	struct event_ctx *e = vctx;
	if (t->kind != TAG_REF || !t->event) /* deps and literals: for the Task's own pass */
		return buf_append(b, in + t->start, t->end - t->start);
	char *v = NULL;
	int rc = e->fn(e->ctx, t->dep, t->key, &v);
	if (rc == 0)
		rc = put_escaped(b, v ? v : "");
	else
		rc = errf(err, errlen, rc == -E2BIG ? -EIO : rc, "{{ %s.%s }}: %s", t->dep, t->key,
			  strerror(-rc));
	free(v);
	return rc;
}

int tmpl_render_event(const char *in, tmpl_event_fn fn, void *ctx, size_t max_out, char **out,
		      char *err, size_t errlen)
{
	if (!in || !fn || !out)
		return errf(err, errlen, -EINVAL, "tmpl_render_event: missing argument");
	struct event_ctx e = { fn, ctx };
	return render(in, true, event_tag, &e, max_out, "rendered text", "shorten the template", out,
		      err, errlen);
}

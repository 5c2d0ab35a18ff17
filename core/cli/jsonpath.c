/* SPDX-License-Identifier: MIT */
/*
 * cli/jsonpath.c - kubectl's JSONPath templates, the common part
 * (cli/jsonpath.h): compiled once into a flat list of nodes, then run
 * over each document.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jsonutil.h"
#include "cli/jsonpath.h"

#define JSONPATH_STEPS 32 /* steps of one path */

enum step_kind { ST_FIELD, ST_INDEX, ST_ALL };

struct step {
	enum step_kind k;
	char *name; /* ST_FIELD, owned */
	long idx;   /* ST_INDEX; < 0: from the end */
};

enum node_kind { N_TEXT, N_PATH, N_RANGE, N_END };

struct node {
	enum node_kind k;
	char *text; /* N_TEXT, owned */
	size_t len;
	bool root;  /* the path starts at $ (else at the current value) */
	struct step *steps;
	size_t n;
	size_t end; /* N_RANGE: index of its N_END */
};

struct jsonpath {
	struct node *v;
	size_t n;
};

static const char SUPPORTED[] =
	"use {.field}, {.a.b[0]}, {.items[*].field}, {range .items[*]}...{end} or {\"text\"}";

struct parser {
	const char *s;
	size_t pos, len;
	struct jsonpath *p;
	size_t open[JSONPATH_DEPTH]; /* ranges not yet ended */
	size_t depth;
	char *err;
	size_t errlen;
};

static int perr(struct parser *ps, size_t at, const char *fmt, ...) PD_PRINTF(3, 4);
static int perr(struct parser *ps, size_t at, const char *fmt, ...)
{
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return errf(ps->err, ps->errlen, -EINVAL, "jsonpath: %s at position %zu of the template: %s",
		    what, at + 1, SUPPORTED);
}

static struct node *add_node(struct jsonpath *p, enum node_kind k)
{
	p->v = xrealloc(p->v, (p->n + 1) * sizeof(*p->v));
	struct node *n = &p->v[p->n++];
	memset(n, 0, sizeof(*n));
	n->k = k;
	return n;
}

static void add_step(struct node *n, enum step_kind k, char *name, long idx)
{
	n->steps = xrealloc(n->steps, (n->n + 1) * sizeof(*n->steps));
	n->steps[n->n++] = (struct step){ k, name, idx };
}

static char peek(const struct parser *ps)
{
	return ps->pos < ps->len ? ps->s[ps->pos] : '\0';
}

static void skip_spaces(struct parser *ps)
{
	while (ps->pos < ps->len && (ps->s[ps->pos] == ' ' || ps->s[ps->pos] == '\t'))
		ps->pos++;
}

/* A key after '.': up to '.', '[', '}' or a space; "\." is a dot. */
static int parse_name(struct parser *ps, char **out)
{
	struct buf b;
	buf_init(&b, 0);
	while (ps->pos < ps->len && !strchr(".[} \t", ps->s[ps->pos])) {
		if (ps->s[ps->pos] == '\\' && ps->pos + 1 < ps->len)
			ps->pos++;
		(void)buf_append(&b, ps->s + ps->pos, 1);
		ps->pos++;
	}
	*out = buf_steal(&b);
	return 0;
}

/* [N], [*], ['key'] or ["key"], ps->pos on the '['. */
static int parse_bracket(struct parser *ps, struct node *n)
{
	size_t at = ps->pos++;
	char c = peek(ps);
	if (c == '*') {
		ps->pos++;
		add_step(n, ST_ALL, NULL, 0);
	} else if (c == '\'' || c == '"') {
		const char *q = memchr(ps->s + ps->pos + 1, c, ps->len - ps->pos - 1);
		if (!q)
			return perr(ps, ps->pos, "a quoted key without its closing %c", c);
		size_t start = ps->pos + 1;
		add_step(n, ST_FIELD, xstrndup(ps->s + start, (size_t)(q - (ps->s + start))), 0);
		ps->pos = (size_t)(q - ps->s) + 1;
	} else if (c == '-' || isdigit((unsigned char)c)) {
		char *end = NULL;
		errno = 0;
		long v = strtol(ps->s + ps->pos, &end, 10);
		if (errno || end == ps->s + ps->pos)
			return perr(ps, ps->pos, "a bad index");
		ps->pos = (size_t)(end - ps->s);
		if (peek(ps) == ':')
			return perr(ps, ps->pos, "slices [a:b] are not supported");
		add_step(n, ST_INDEX, NULL, v);
	} else if (c == '?') {
		return perr(ps, at, "filters [?(...)] are not supported");
	} else {
		return perr(ps, ps->pos, "unexpected '%c' in [...]", c ? c : ' ');
	}
	if (peek(ps) != ']')
		return perr(ps, ps->pos, "expected ']'");
	ps->pos++;
	return 0;
}

/* A path: [$|@] then .key .* [..] steps. */
static int parse_path(struct parser *ps, struct node *n)
{
	size_t at = ps->pos;
	bool anchored = false;
	if (peek(ps) == '$' || peek(ps) == '@') {
		n->root = peek(ps) == '$';
		anchored = true;
		ps->pos++;
	}
	int rc;
	for (;;) {
		char c = peek(ps);
		if (n->n == JSONPATH_STEPS)
			return perr(ps, ps->pos, "a path longer than %d steps", JSONPATH_STEPS);
		if (c == '.') {
			ps->pos++;
			c = peek(ps);
			if (c == '.')
				return perr(ps, ps->pos - 1, "recursive descent (..) is not supported");
			if (c == '*') {
				ps->pos++;
				add_step(n, ST_ALL, NULL, 0);
				continue;
			}
			if (c == '[' || c == '}' || c == ' ' || c == '\t' || !c) {
				anchored = true; /* "{.}": the current value */
				continue;
			}
			char *name;
			if ((rc = parse_name(ps, &name)) < 0)
				return rc;
			if (strchr(name, '(')) {
				free(name);
				return perr(ps, at, "functions are not supported");
			}
			add_step(n, ST_FIELD, name, 0);
		} else if (c == '[') {
			if ((rc = parse_bracket(ps, n)) < 0)
				return rc;
		} else {
			break;
		}
		anchored = true;
	}
	if (!anchored)
		return perr(ps, at, "expected a path such as .metadata.name");
	return 0;
}

/* "text" with \n \t \r \\ \" ; ps->pos on the opening quote. */
static int parse_literal(struct parser *ps)
{
	size_t at = ps->pos++;
	struct buf b;
	buf_init(&b, 0);
	for (;;) {
		if (ps->pos >= ps->len) {
			buf_free(&b);
			return perr(ps, at, "a string without its closing quote");
		}
		char c = ps->s[ps->pos++];
		if (c == '"')
			break;
		if (c == '\\' && ps->pos < ps->len) {
			char e = ps->s[ps->pos++];
			c = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e;
		}
		(void)buf_append(&b, &c, 1);
	}
	struct node *n = add_node(ps->p, N_TEXT);
	n->len = b.len;
	n->text = buf_steal(&b);
	return 0;
}

static bool word(const struct parser *ps, const char *w)
{
	size_t n = strlen(w);
	return ps->len - ps->pos >= n && !strncmp(ps->s + ps->pos, w, n) &&
	       (ps->pos + n == ps->len || strchr(" \t}", ps->s[ps->pos + n]));
}

/* One {...}; ps->pos after the '{'. */
static int parse_expr(struct parser *ps)
{
	size_t at = ps->pos - 1;
	int rc = 0;
	skip_spaces(ps);
	if (peek(ps) == '"') {
		rc = parse_literal(ps);
	} else if (word(ps, "range")) {
		if (ps->depth == JSONPATH_DEPTH)
			return perr(ps, at, "ranges nested deeper than %d", JSONPATH_DEPTH);
		ps->pos += 5;
		skip_spaces(ps);
		ps->open[ps->depth++] = ps->p->n;
		rc = parse_path(ps, add_node(ps->p, N_RANGE));
	} else if (word(ps, "end")) {
		if (!ps->depth)
			return perr(ps, at, "{end} without a {range}");
		ps->pos += 3;
		size_t r = ps->open[--ps->depth];
		add_node(ps->p, N_END);
		ps->p->v[r].end = ps->p->n - 1;
	} else if (peek(ps) == '}') {
		return perr(ps, at, "an empty {}");
	} else {
		rc = parse_path(ps, add_node(ps->p, N_PATH));
	}
	if (rc < 0)
		return rc;
	skip_spaces(ps);
	if (!peek(ps))
		return perr(ps, ps->pos, "expected '}'");
	if (peek(ps) != '}')
		return perr(ps, ps->pos, "unexpected '%c'", peek(ps));
	ps->pos++;
	return 0;
}

int jsonpath_compile(const char *tmpl, struct jsonpath **out, char *err, size_t errlen)
{
	size_t len = strlen(tmpl);
	if (len > JSONPATH_MAX)
		return errf(err, errlen, -EINVAL, "jsonpath: template longer than %d bytes",
			    JSONPATH_MAX);
	struct parser ps = { .s = tmpl, .len = len, .p = xcalloc(1, sizeof(struct jsonpath)),
			     .err = err, .errlen = errlen };
	int rc = 0;
	while (rc == 0 && ps.pos < len) {
		if (tmpl[ps.pos] == '{') {
			ps.pos++;
			rc = parse_expr(&ps);
			continue;
		}
		size_t start = ps.pos;
		while (ps.pos < len && tmpl[ps.pos] != '{')
			ps.pos++;
		struct node *n = add_node(ps.p, N_TEXT);
		n->text = xstrndup(tmpl + start, ps.pos - start);
		n->len = ps.pos - start;
	}
	if (rc == 0 && ps.depth)
		rc = errf(err, errlen, -EINVAL, "jsonpath: a {range} has no {end}: %s", SUPPORTED);
	if (rc < 0) {
		jsonpath_free(ps.p);
		return rc;
	}
	*out = ps.p;
	return 0;
}

/* ---- running ------------------------------------------------------------ */

struct vals {
	json_object **v;
	size_t n, cap;
};

static void vpush(struct vals *a, json_object *o)
{
	if (!o)
		return; /* missing or null: nothing, as kubectl prints it */
	if (a->n == a->cap) {
		a->cap = a->cap ? 2 * a->cap : 8;
		a->v = xrealloc(a->v, a->cap * sizeof(*a->v));
	}
	a->v[a->n++] = o;
}

/* The values a path reaches from cur (or root), borrowed, in *out. */
static void eval_path(const struct node *nd, json_object *cur, json_object *root, struct vals *out)
{
	struct vals a = { 0 }, b = { 0 };
	vpush(&a, nd->root ? root : cur);
	for (size_t s = 0; s < nd->n; s++) {
		const struct step *st = &nd->steps[s];
		b.n = 0;
		for (size_t i = 0; i < a.n; i++) {
			json_object *x = a.v[i];
			bool arr = json_object_is_type(x, json_type_array);
			if (st->k == ST_FIELD) {
				vpush(&b, jget(x, st->name));
			} else if (st->k == ST_INDEX && arr) {
				long len = (long)json_object_array_length(x);
				long k = st->idx < 0 ? len + st->idx : st->idx;
				if (k >= 0 && k < len)
					vpush(&b, json_object_array_get_idx(x, (size_t)k));
			} else if (st->k == ST_ALL && arr) {
				for (size_t k = 0; k < json_object_array_length(x); k++)
					vpush(&b, json_object_array_get_idx(x, k));
			} else if (st->k == ST_ALL && json_object_is_type(x, json_type_object)) {
				json_object_object_foreach(x, key, v) {
					(void)key;
					vpush(&b, v);
				}
			}
		}
		struct vals t = a;
		a = b;
		b = t;
	}
	free(b.v);
	*out = a;
}

static void put_value(struct buf *out, json_object *v)
{
	if (json_object_is_type(v, json_type_string))
		(void)buf_append(out, json_object_get_string(v), (size_t)json_object_get_string_len(v));
	else
		(void)buf_puts(out, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
								      JSON_C_TO_STRING_NOSLASHESCAPE));
}

static int run_nodes(const struct jsonpath *p, size_t from, size_t to, json_object *cur,
		     json_object *root, struct buf *out, char *err, size_t errlen)
{
	for (size_t i = from; i < to; i++) {
		const struct node *nd = &p->v[i];
		struct vals r = { 0 };
		int rc = 0;
		switch (nd->k) {
		case N_TEXT:
			(void)buf_append(out, nd->text, nd->len);
			break;
		case N_PATH:
			eval_path(nd, cur, root, &r);
			for (size_t k = 0; k < r.n; k++) {
				if (k)
					(void)buf_puts(out, " ");
				put_value(out, r.v[k]);
			}
			break;
		case N_RANGE:
			eval_path(nd, cur, root, &r);
			for (size_t k = 0; k < r.n && rc == 0; k++)
				rc = run_nodes(p, i + 1, nd->end, r.v[k], root, out, err, errlen);
			i = nd->end;
			break;
		case N_END:
			break;
		}
		free(r.v);
		if (rc < 0)
			return rc;
		if (out->len > JSONPATH_OUT_MAX)
			return errf(err, errlen, -E2BIG, "jsonpath: the output is over %u MiB",
				    JSONPATH_OUT_MAX >> 20);
	}
	return 0;
}

int jsonpath_run(const struct jsonpath *p, json_object *root, struct buf *out, char *err,
		 size_t errlen)
{
	return run_nodes(p, 0, p->n, root, root, out, err, errlen);
}

void jsonpath_free(struct jsonpath *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		free(p->v[i].text);
		for (size_t s = 0; s < p->v[i].n; s++)
			free(p->v[i].steps[s].name);
		free(p->v[i].steps);
	}
	free(p->v);
	free(p);
}

/* SPDX-License-Identifier: MIT */
#include "config.h"
#include "model/manifest.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "base/util.h"

#define TAG_PREFIX "tag:yaml.org,2002:"

void manifest_limits_default(struct manifest_limits *lim)
{
	lim->max_bytes = MANIFEST_DEFAULT_MAX_BYTES;
	lim->max_depth = MANIFEST_DEFAULT_MAX_DEPTH;
	lim->max_nodes = MANIFEST_DEFAULT_MAX_NODES;
}

void manifest_docs_free(json_object **docs, size_t n)
{
	if (!docs)
		return;
	for (size_t i = 0; i < n; i++)
		json_object_put(docs[i]);
	free(docs);
}

struct doclist {
	json_object **v;
	size_t n, alloc;
};

static void docs_push(struct doclist *d, json_object *o)
{
	if (d->n == d->alloc) {
		d->alloc = d->alloc ? d->alloc * 2 : 4;
		d->v = xrealloc(d->v, d->alloc * sizeof(*d->v));
	}
	d->v[d->n++] = o;
}

/* Add one top-level value: a sequence or a List kind gives its elements.
 * Takes ownership of `o`. */
static void docs_add(struct doclist *d, json_object *o)
{
	json_object *items = NULL, *kind = NULL;
	if (json_object_is_type(o, json_type_object) &&
	    json_object_object_get_ex(o, "kind", &kind) &&
	    str_eq(json_object_get_string(kind), "List") &&
	    json_object_object_get_ex(o, "items", &items) &&
	    json_object_is_type(items, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(items); i++)
			docs_push(d, json_object_get(json_object_array_get_idx(items, i)));
		json_object_put(o);
	} else if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(o); i++)
			docs_push(d, json_object_get(json_object_array_get_idx(o, i)));
		json_object_put(o);
	} else {
		docs_push(d, o);
	}
}

/* ---- YAML scalar resolution (core schema + leading-0 octal) -------- */

static bool all_in(const char *s, size_t n, const char *set)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strchr(set, s[i]) || s[i] == '\0')
			return false;
	return true;
}

static bool is_float(const char *s)
{
	const char *p = s;
	if (*p == '+' || *p == '-')
		p++;
	bool digits = false;
	while (*p >= '0' && *p <= '9') {
		p++;
		digits = true;
	}
	if (*p == '.') {
		p++;
		bool frac = false;
		while (*p >= '0' && *p <= '9') {
			p++;
			frac = true;
		}
		if (!digits && !frac)
			return false;
		digits = true;
	}
	if (!digits)
		return false;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return *p == '\0';
}

enum scalar_kind { SC_STR, SC_NULL, SC_BOOL, SC_INT, SC_FLOAT, SC_NONFINITE, SC_RANGE };

/* Classify a plain scalar; for SC_INT/SC_BOOL/SC_FLOAT fills the value. */
static enum scalar_kind resolve_plain(const char *s, size_t n, int64_t *iv, double *dv, bool *bv)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };
	static const char *const trues[] = { "true", "True", "TRUE" };
	static const char *const falses[] = { "false", "False", "FALSE" };
	static const char *const nonfinite[] = { ".inf", ".Inf", ".INF", "+.inf", "+.Inf",
						 "+.INF", "-.inf", "-.Inf", "-.INF", ".nan",
						 ".NaN", ".NAN" };
	if (strlen(s) != n) /* embedded NUL: never a number */
		return SC_STR;
	for (size_t i = 0; i < ARRAY_SIZE(nulls); i++)
		if (!strcmp(s, nulls[i]))
			return SC_NULL;
	for (size_t i = 0; i < ARRAY_SIZE(trues); i++)
		if (!strcmp(s, trues[i])) {
			*bv = true;
			return SC_BOOL;
		}
	for (size_t i = 0; i < ARRAY_SIZE(falses); i++)
		if (!strcmp(s, falses[i])) {
			*bv = false;
			return SC_BOOL;
		}
	for (size_t i = 0; i < ARRAY_SIZE(nonfinite); i++)
		if (!strcmp(s, nonfinite[i]))
			return SC_NONFINITE;

	const char *p = s;
	bool neg = false;
	int base = 10;
	if (*p == '+' || *p == '-') {
		neg = *p == '-';
		p++;
	}
	size_t rest = n - (size_t)(p - s);
	if (p == s && rest > 2 && p[0] == '0' && p[1] == 'o' && all_in(p + 2, rest - 2, "01234567")) {
		base = 8;
		p += 2;
	} else if (p == s && rest > 2 && p[0] == '0' && p[1] == 'x' &&
		   all_in(p + 2, rest - 2, "0123456789abcdefABCDEF")) {
		base = 16;
		p += 2;
	} else if (rest > 1 && p[0] == '0' && all_in(p, rest, "01234567")) {
		base = 8; /* YAML 1.1 / Kubernetes: 0755 */
	} else if (rest > 1 && p[0] == '0' && all_in(p, rest, "0123456789")) {
		return SC_STR; /* "08": neither octal nor a 1.2 decimal people mean */
	} else if (!all_in(p, rest, "0123456789")) {
		if (is_float(s)) {
			*dv = strtod(s, NULL);
			if (!isfinite(*dv))
				return SC_RANGE;
			return SC_FLOAT;
		}
		return SC_STR;
	}
	errno = 0;
	unsigned long long u = strtoull(p, NULL, base);
	if (errno == ERANGE || u > (unsigned long long)INT64_MAX + (neg ? 1u : 0u))
		return SC_RANGE;
	*iv = neg ? (int64_t)(0 - u) : (int64_t)u;
	return SC_INT;
}

/* ---- YAML ---------------------------------------------------------- */

struct yframe {
	json_object *obj;   /* borrowed: owned by its parent or by root */
	bool is_map;
	char *key;          /* pending key of a mapping, owned */
};

struct yctx {
	const char *name;
	struct manifest_limits lim;
	char *err;
	size_t errlen;
	size_t nodes;
	struct yframe *stack;
	int sp;
	json_object *root;
};

static int yerr(struct yctx *c, const yaml_mark_t *m, const char *fmt, ...) PD_PRINTF(3, 4);
static int yerr(struct yctx *c, const yaml_mark_t *m, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return errf(c->err, c->errlen, -EINVAL, "%s:%zu:%zu: %s", c->name, m->line + 1,
		    m->column + 1, msg);
}

static int count_node(struct yctx *c, const yaml_mark_t *m)
{
	if (++c->nodes > c->lim.max_nodes)
		return yerr(c, m, "more than %zu nodes: split the manifest", c->lim.max_nodes);
	return 0;
}

/* Attach `v` (owned) to the current container, or make it the root. */
static int attach(struct yctx *c, json_object *v, const yaml_mark_t *m)
{
	if (c->sp == 0) {
		c->root = v;
		return 0;
	}
	struct yframe *f = &c->stack[c->sp - 1];
	if (!f->is_map) {
		json_object_array_add(f->obj, v);
		return 0;
	}
	json_object_object_add(f->obj, f->key, v);
	free(f->key);
	f->key = NULL;
	return 0;
}

static bool key_expected(const struct yctx *c)
{
	return c->sp > 0 && c->stack[c->sp - 1].is_map && !c->stack[c->sp - 1].key;
}

static int check_anchor(struct yctx *c, const yaml_char_t *anchor, const yaml_mark_t *m)
{
	if (anchor)
		return yerr(c, m, "aliases are not allowed (anchor &%.64s): repeat the value instead",
			    (const char *)anchor);
	return 0;
}

static int on_scalar(struct yctx *c, const yaml_event_t *ev)
{
	const yaml_mark_t *m = &ev->start_mark;
	const char *val = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	const char *tag = (const char *)ev->data.scalar.tag;
	bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	int rc = check_anchor(c, ev->data.scalar.anchor, m);
	if (rc < 0)
		return rc;
	if ((rc = count_node(c, m)) < 0)
		return rc;

	if (tag && strcmp(tag, "!") && strncmp(tag, TAG_PREFIX, strlen(TAG_PREFIX)))
		return yerr(c, m, "tag %.64s is not supported: remove it", tag);
	const char *t = tag && strcmp(tag, "!") ? tag + strlen(TAG_PREFIX) : NULL;

	if (key_expected(c)) {
		if (plain && !t) {
			int64_t iv;
			double dv;
			bool bv;
			if (resolve_plain(val, len, &iv, &dv, &bv) == SC_NULL)
				return yerr(c, m, "mapping keys must be strings: quote the key");
		} else if (t && strcmp(t, "str")) {
			return yerr(c, m, "mapping keys must be strings: remove the tag !!%s", t);
		}
		if (strlen(val) != len)
			return yerr(c, m, "mapping keys must not contain NUL characters");
		struct yframe *f = &c->stack[c->sp - 1];
		if (json_object_object_get_ex(f->obj, val, NULL))
			return yerr(c, m, "duplicate key \"%.64s\": remove one of them", val);
		f->key = xstrndup(val, len);
		return 0;
	}

	json_object *v = NULL;
	if ((!plain && !t) || (t && !strcmp(t, "str")) || (!t && tag)) {
		v = json_object_new_string_len(val, (int)len);
	} else {
		int64_t iv = 0;
		double dv = 0;
		bool bv = false;
		enum scalar_kind k = resolve_plain(val, len, &iv, &dv, &bv);
		if (t) {
			enum scalar_kind want = !strcmp(t, "int")     ? SC_INT
						: !strcmp(t, "float") ? SC_FLOAT
						: !strcmp(t, "bool")  ? SC_BOOL
						: !strcmp(t, "null")  ? SC_NULL
								      : SC_STR;
			if (want == SC_STR)
				return yerr(c, m, "tag !!%.32s is not supported here: remove it", t);
			if (want == SC_FLOAT && k == SC_INT) {
				k = SC_FLOAT;
				dv = (double)iv;
			}
			if (k != want && !(k == SC_RANGE || k == SC_NONFINITE))
				return yerr(c, m, "value \"%.64s\" is not a valid !!%s", val, t);
		}
		switch (k) {
		case SC_NULL: v = NULL; break;
		case SC_BOOL: v = json_object_new_boolean(bv); break;
		case SC_INT: v = json_object_new_int64(iv); break;
		case SC_FLOAT: v = json_object_new_double(dv); break;
		case SC_RANGE:
			return yerr(c, m, "number %.64s is out of range: quote it for a string", val);
		case SC_NONFINITE:
			return yerr(c, m, "%s is not supported: use a finite number or quote it", val);
		case SC_STR: v = json_object_new_string_len(val, (int)len); break;
		}
	}
	return attach(c, v, m);
}

static int on_start(struct yctx *c, const yaml_event_t *ev, bool is_map)
{
	const yaml_mark_t *m = &ev->start_mark;
	const yaml_char_t *anchor = is_map ? ev->data.mapping_start.anchor
					   : ev->data.sequence_start.anchor;
	const char *tag = (const char *)(is_map ? ev->data.mapping_start.tag
						: ev->data.sequence_start.tag);
	int rc = check_anchor(c, anchor, m);
	if (rc < 0)
		return rc;
	if ((rc = count_node(c, m)) < 0)
		return rc;
	if (tag && strcmp(tag, is_map ? TAG_PREFIX "map" : TAG_PREFIX "seq") && strcmp(tag, "!"))
		return yerr(c, m, "tag %.64s is not supported: remove it", tag);
	if (key_expected(c))
		return yerr(c, m, "mapping keys must be strings, not a %s",
			    is_map ? "mapping" : "sequence");
	if (c->sp >= c->lim.max_depth)
		return yerr(c, m, "nesting deeper than %d levels", c->lim.max_depth);
	json_object *o = is_map ? json_object_new_object() : json_object_new_array();
	attach(c, o, m);
	c->stack[c->sp].obj = o;
	c->stack[c->sp].is_map = is_map;
	c->stack[c->sp].key = NULL;
	c->sp++;
	return 0;
}

static void yctx_reset(struct yctx *c)
{
	for (int i = 0; i < c->sp; i++) {
		free(c->stack[i].key);
		c->stack[i].key = NULL;
	}
	c->sp = 0;
	json_object_put(c->root);
	c->root = NULL;
}

static int parse_yaml(struct yctx *c, const char *data, size_t len, struct doclist *out)
{
	yaml_parser_t p;
	yaml_event_t ev;
	int rc = 0;
	if (!yaml_parser_initialize(&p))
		return errf(c->err, c->errlen, -ENOMEM, "%s: cannot initialize the YAML parser",
			    c->name);
	yaml_parser_set_input_string(&p, (const unsigned char *)data, len);
	bool done = false;
	while (!done && rc == 0) {
		if (!yaml_parser_parse(&p, &ev)) {
			const yaml_mark_t *m = &p.problem_mark;
			if (p.context)
				rc = yerr(c, m, "%s %s", p.problem ? p.problem : "syntax error",
					  p.context);
			else
				rc = yerr(c, m, "%s", p.problem ? p.problem : "syntax error");
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			yctx_reset(c);
			break;
		case YAML_DOCUMENT_END_EVENT:
			if (c->root)
				docs_add(out, c->root);
			c->root = NULL;
			break;
		case YAML_ALIAS_EVENT:
			rc = yerr(c, &ev.start_mark, "aliases are not allowed (*%.64s): repeat the value instead",
				  (const char *)ev.data.alias.anchor);
			break;
		case YAML_SCALAR_EVENT:
			rc = on_scalar(c, &ev);
			break;
		case YAML_SEQUENCE_START_EVENT:
			rc = on_start(c, &ev, false);
			break;
		case YAML_MAPPING_START_EVENT:
			rc = on_start(c, &ev, true);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			if (c->sp > 0)
				c->sp--;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yctx_reset(c);
	yaml_parser_delete(&p);
	return rc;
}

/* ---- JSON ---------------------------------------------------------- */

static void offset_to_linecol(const char *data, size_t off, size_t *line, size_t *col)
{
	size_t l = 1, c = 1;
	for (size_t i = 0; i < off; i++) {
		if (data[i] == '\n') {
			l++;
			c = 1;
		} else {
			c++;
		}
	}
	*line = l;
	*col = c;
}

static int jerr(struct yctx *c, const char *data, size_t off, const char *fmt, ...) PD_PRINTF(4, 5);
static int jerr(struct yctx *c, const char *data, size_t off, const char *fmt, ...)
{
	char msg[512];
	size_t line, col;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	offset_to_linecol(data, off, &line, &col);
	return errf(c->err, c->errlen, -EINVAL, "%s:%zu:%zu: %s", c->name, line, col, msg);
}

/* After json-c accepted data[start, end): count nodes and find duplicate
 * keys, which json-c silently collapses.  Depth is already bounded by the
 * tokener, so the frame stack is too. */
static int json_scan(struct yctx *c, const char *data, size_t start, size_t end)
{
	struct jframe {
		json_object *keys; /* set of seen keys (object frames), owned */
		bool want_key;
	};
	size_t cap = (size_t)c->lim.max_depth + 2;
	struct jframe *st = xcalloc(cap, sizeof(*st));
	size_t sp = 0;
	int rc = 0;
	for (size_t i = start; i < end && rc == 0; i++) {
		char ch = data[i];
		switch (ch) {
		case '{':
		case '[':
			if (sp >= cap) { /* cannot happen: json-c checked the depth */
				rc = jerr(c, data, i, "nesting deeper than %d levels", c->lim.max_depth);
				break;
			}
			rc = count_node(c, &(yaml_mark_t){ 0 });
			st[sp].keys = ch == '{' ? json_object_new_object() : NULL;
			st[sp].want_key = ch == '{';
			sp++;
			break;
		case '}':
		case ']':
			if (sp > 0) {
				sp--;
				json_object_put(st[sp].keys);
				st[sp].keys = NULL;
			}
			break;
		case ',':
			if (sp > 0 && st[sp - 1].keys)
				st[sp - 1].want_key = true;
			break;
		case ':':
			if (sp > 0)
				st[sp - 1].want_key = false;
			break;
		case '"': {
			size_t j = i + 1;
			bool esc = false;
			while (j < end && (esc || data[j] != '"')) {
				esc = !esc && data[j] == '\\';
				j++;
			}
			rc = count_node(c, &(yaml_mark_t){ 0 });
			if (rc == 0 && sp > 0 && st[sp - 1].keys && st[sp - 1].want_key) {
				/* decode escapes the way json-c does */
				char *raw = xstrndup(data + i, j + 1 - i);
				json_object *k = json_tokener_parse(raw);
				free(raw);
				const char *ks = json_object_get_string(k);
				if (ks && json_object_object_get_ex(st[sp - 1].keys, ks, NULL))
					rc = jerr(c, data, i, "duplicate key \"%.64s\": remove one of them", ks);
				else if (ks)
					json_object_object_add(st[sp - 1].keys, ks, NULL);
				json_object_put(k);
			}
			i = j;
			break;
		}
		case ' ': case '\t': case '\n': case '\r':
			break;
		default: /* number, true, false, null */
			rc = count_node(c, &(yaml_mark_t){ 0 });
			while (i + 1 < end && !strchr(",]} \t\r\n", data[i + 1]))
				i++;
			break;
		}
	}
	if (rc < 0 && c->nodes > c->lim.max_nodes)
		rc = jerr(c, data, start, "more than %zu nodes: split the manifest", c->lim.max_nodes);
	for (size_t k = 0; k < cap; k++)
		json_object_put(st[k].keys);
	free(st);
	return rc;
}

static int parse_json(struct yctx *c, const char *data, size_t len, size_t off,
		      struct doclist *out)
{
	int rc = 0;
	while (rc == 0) {
		while (off < len && strchr(" \t\r\n", data[off]) && data[off])
			off++;
		if (off >= len)
			break;
		if (data[off] != '{' && data[off] != '[') {
			rc = jerr(c, data, off, "expected '{' or '[' to start a JSON document");
			break;
		}
		struct json_tokener *tok = json_tokener_new_ex(c->lim.max_depth + 1);
		if (!tok)
			return errf(c->err, c->errlen, -ENOMEM, "%s: out of memory", c->name);
		json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS |
						    JSON_TOKENER_VALIDATE_UTF8);
		size_t chunk = len - off;
		json_object *o = json_tokener_parse_ex(tok, data + off, (int)chunk);
		enum json_tokener_error e = json_tokener_get_error(tok);
		size_t used = json_tokener_get_parse_end(tok);
		json_tokener_free(tok);
		if (e == json_tokener_continue) {
			rc = jerr(c, data, len, "unexpected end of JSON input");
		} else if (e == json_tokener_error_depth) {
			rc = jerr(c, data, off + used, "nesting deeper than %d levels", c->lim.max_depth);
		} else if (e != json_tokener_success) {
			rc = jerr(c, data, off + (used ? used - 1 : 0), "%s",
				  json_tokener_error_desc(e));
		} else {
			rc = json_scan(c, data, off, off + used);
			if (rc == 0)
				docs_add(out, o);
			else
				json_object_put(o);
			o = NULL;
		}
		json_object_put(o);
		off += used;
	}
	return rc;
}

int manifest_parse(const char *name, const char *data, size_t len,
		   const struct manifest_limits *lim, json_object ***docs, size_t *n,
		   char *err, size_t errlen)
{
	struct yctx c = { .name = name ? name : "<input>", .err = err, .errlen = errlen };
	manifest_limits_default(&c.lim);
	if (lim && lim->max_bytes)
		c.lim.max_bytes = lim->max_bytes;
	if (lim && lim->max_depth > 0)
		c.lim.max_depth = lim->max_depth;
	if (lim && lim->max_nodes)
		c.lim.max_nodes = lim->max_nodes;
	if (len > c.lim.max_bytes)
		return errf(err, errlen, -E2BIG, "%s:1:1: manifest is %zu bytes, more than the limit of %zu: split it",
			    c.name, len, c.lim.max_bytes);
	if (len > INT32_MAX)
		return errf(err, errlen, -E2BIG, "%s:1:1: manifest too large", c.name);

	struct doclist out = { 0 };
	size_t i = 0;
	while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n'))
		i++;
	/* A UTF-8 BOM is allowed before JSON too. */
	if (len - i >= 3 && !memcmp(data + i, "\xef\xbb\xbf", 3))
		i += 3;
	int rc;
	if (i < len && (data[i] == '{' || data[i] == '[')) {
		rc = parse_json(&c, data, len, i, &out);
	} else {
		c.stack = xcalloc((size_t)c.lim.max_depth + 1, sizeof(*c.stack));
		rc = parse_yaml(&c, data, len, &out);
		free(c.stack);
	}
	if (rc < 0) {
		manifest_docs_free(out.v, out.n);
		return rc;
	}
	*docs = out.v;
	*n = out.n;
	return 0;
}

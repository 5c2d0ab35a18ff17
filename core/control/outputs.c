/* SPDX-License-Identifier: MIT */
/*
 * control/outputs.c - line splitter and outputs marker-block parser (outputs.h).
 */
#include "control/outputs.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

/* ---- line splitter ---------------------------------------------------- */

struct line_splitter {
	char *buf;        /* max + 2 bytes: a line, a possible '\r', the NUL */
	size_t len;
	size_t max;
	bool over;        /* the current line passed max + 1 bytes */
	size_t count;
	lines_fn cb;
	void *ctx;
};

struct line_splitter *lines_new(size_t max_line, lines_fn cb, void *ctx)
{
	struct line_splitter *ls = xcalloc(1, sizeof(*ls));
	ls->max = max_line ? max_line : OUTPUTS_DEFAULT_MAX;
	ls->buf = xmalloc(ls->max + 2);
	ls->cb = cb;
	ls->ctx = ctx;
	return ls;
}

static int lines_emit(struct line_splitter *ls, bool at_newline)
{
	size_t len = ls->len;
	bool cut = ls->over;
	/* Strip the '\r' of a CRLF; a lone '\r' at the end of the stream is
	 * data.  When the line was cut, its end (and '\r') was dropped. */
	if (at_newline && !cut && len && ls->buf[len - 1] == '\r')
		len--;
	if (len > ls->max) {
		len = ls->max;
		cut = true;
	}
	ls->buf[len] = '\0';
	ls->len = 0;
	ls->over = false;
	ls->count++;
	return ls->cb ? ls->cb(ls->ctx, ls->buf, len, cut) : 0;
}

int lines_feed(struct line_splitter *ls, const char *data, size_t len)
{
	if (!ls)
		return 0;
	while (len) {
		const char *nl = memchr(data, '\n', len);
		size_t n = nl ? (size_t)(nl - data) : len;
		size_t room = ls->max + 1 - ls->len;
		size_t take = n < room ? n : room;
		memcpy(ls->buf + ls->len, data, take);
		ls->len += take;
		if (take < n)
			ls->over = true;
		if (!nl)
			break;
		int rc = lines_emit(ls, true);
		if (rc)
			return rc;
		data += n + 1;
		len -= n + 1;
	}
	return 0;
}

int lines_finish(struct line_splitter *ls)
{
	if (!ls || (!ls->len && !ls->over))
		return 0;
	return lines_emit(ls, false);
}

size_t lines_count(const struct line_splitter *ls)
{
	return ls ? ls->count : 0;
}

void lines_free(struct line_splitter *ls)
{
	if (!ls)
		return;
	free(ls->buf);
	free(ls);
}

/* ---- outputs block ---------------------------------------------------- */

struct kv {
	char *key;
	char *val;
	size_t idx;       /* position in the block, for ordering */
};

struct outputs_parser {
	size_t max;
	struct line_splitter *ls;   /* for outputs_feed */
	size_t line;                /* lines seen */
	/* block being read */
	bool in_block;
	bool block_over;
	size_t block_line;          /* line number of its START marker */
	struct buf block;           /* its raw lines, each ending "\n" */
	/* accepted block */
	bool found;
	struct kv *kv;
	size_t n;
	char warn[160];
};

static int feed_cb(void *ctx, const char *line, size_t len, bool truncated)
{
	outputs_feed_line(ctx, line, len, truncated);
	return 0;
}

struct outputs_parser *outputs_new(size_t max_bytes)
{
	struct outputs_parser *p = xcalloc(1, sizeof(*p));
	p->max = max_bytes ? max_bytes : OUTPUTS_DEFAULT_MAX;
	p->ls = lines_new(p->max, feed_cb, p);
	buf_init(&p->block, p->max);
	return p;
}

static void kv_clear(struct outputs_parser *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->kv[i].key);
		free(p->kv[i].val);
	}
	free(p->kv);
	p->kv = NULL;
	p->n = 0;
}

void outputs_free(struct outputs_parser *p)
{
	if (!p)
		return;
	kv_clear(p);
	lines_free(p->ls);
	buf_free(&p->block);
	free(p);
}

/* Is the line exactly `marker`, allowing trailing blanks? */
static bool is_marker(const char *line, size_t len, const char *marker)
{
	size_t ml = strlen(marker);
	while (len > ml && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	return len == ml && memcmp(line, marker, ml) == 0;
}

static bool is_key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '-';
}

/* Unescape \n \r \t \\ into a new string; other backslashes are kept. */
static char *unescape(const char *s, size_t len)
{
	char *o = xmalloc(len + 1), *w = o;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\\' && i + 1 < len) {
			char c = s[i + 1];
			char r = c == 'n' ? '\n' : c == 'r' ? '\r' : c == 't' ? '\t' :
				 c == '\\' ? '\\' : 0;
			if (r) {
				*w++ = r;
				i++;
				continue;
			}
		}
		*w++ = s[i];
	}
	*w = '\0';
	return o;
}

static int kv_cmp(const void *a, const void *b)
{
	const struct kv *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	if (c)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int kv_cmp_idx(const void *a, const void *b)
{
	const struct kv *x = a, *y = b;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Parse the raw block into the accepted entries (replacing them). */
static void accept_block(struct outputs_parser *p)
{
	const char *s = p->block.data ? p->block.data : "";
	size_t end = p->block.len, cap = 0, n = 0, bad = 0, first_bad = 0, lineno = 0;
	struct kv *kv = NULL;

	for (size_t i = 0; i < end; lineno++) {
		const char *nl = memchr(s + i, '\n', end - i);
		size_t ll = nl ? (size_t)(nl - (s + i)) : end - i;
		const char *l = s + i;
		i += ll + 1;

		size_t a = 0;
		while (a < ll && (l[a] == ' ' || l[a] == '\t'))
			a++;
		if (a == ll)
			continue; /* blank */
		size_t k = a;
		while (k < ll && is_key_char(l[k]))
			k++;
		size_t ke = k;
		while (k < ll && (l[k] == ' ' || l[k] == '\t'))
			k++;
		if (ke == a || k == ll || l[k] != ':' || memchr(l, '\0', ll)) {
			if (!bad++)
				first_bad = p->block_line + lineno + 1;
			continue;
		}
		size_t v = k + 1;
		while (v < ll && (l[v] == ' ' || l[v] == '\t'))
			v++;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			kv = xrealloc(kv, cap * sizeof(*kv));
		}
		kv[n].key = xstrndup(l + a, ke - a);
		kv[n].val = unescape(l + v, ll - v);
		kv[n].idx = n;
		n++;
	}

	/* Duplicate keys: the last value, at the first key's position.
	 * Sorting keeps this O(n log n) for hostile blocks. */
	if (n > 1) {
		qsort(kv, n, sizeof(*kv), kv_cmp);
		size_t w = 0;
		for (size_t r = 0; r < n;) {
			size_t g = r;
			while (g + 1 < n && strcmp(kv[g + 1].key, kv[r].key) == 0)
				g++;
			/* kv[r] is the first appearance, kv[g] the last value */
			struct kv keep = { kv[r].key, kv[g].val, kv[r].idx };
			for (size_t j = r; j <= g; j++) {
				if (kv[j].key != keep.key)
					free(kv[j].key);
				if (kv[j].val != keep.val)
					free(kv[j].val);
			}
			kv[w++] = keep;
			r = g + 1;
		}
		n = w;
		qsort(kv, n, sizeof(*kv), kv_cmp_idx);
	}

	kv_clear(p);
	p->kv = kv;
	p->n = n;
	p->found = true;
	p->warn[0] = '\0';
	if (bad)
		snprintf(p->warn, sizeof(p->warn),
			 "outputs block: %zu malformed line%s ignored (first at line %zu): "
			 "use \"key: value\" with keys of [A-Za-z0-9_.-]",
			 bad, bad == 1 ? "" : "s", first_bad);
}

static void drop_block(struct outputs_parser *p)
{
	p->in_block = false;
	p->block_over = false;
	buf_free(&p->block);   /* give back up to max bytes, not just reset */
	buf_init(&p->block, p->max);
}

void outputs_feed_line(struct outputs_parser *p, const char *line, size_t len,
		       bool truncated)
{
	if (!p)
		return;
	p->line++;
	if (len > p->max) {
		len = p->max;
		truncated = true;
	}
	if (!truncated && is_marker(line, len, OUTPUTS_START_MARKER)) {
		if (p->in_block)
			snprintf(p->warn, sizeof(p->warn),
				 "outputs block at line %zu not terminated, ignored",
				 p->block_line);
		drop_block(p);
		p->in_block = true;
		p->block_line = p->line;
		return;
	}
	if (!p->in_block)
		return;
	if (!truncated && is_marker(line, len, OUTPUTS_END_MARKER)) {
		if (p->block_over)
			snprintf(p->warn, sizeof(p->warn),
				 "outputs block over %zu bytes, ignored", p->max);
		else
			accept_block(p);
		drop_block(p);
		return;
	}
	if (p->block_over)
		return;
	if (truncated || buf_append(&p->block, line, len) < 0 ||
	    buf_append(&p->block, "\n", 1) < 0) {
		p->block_over = true;
		buf_free(&p->block);
		buf_init(&p->block, p->max);
	}
}

void outputs_feed(struct outputs_parser *p, const char *data, size_t len)
{
	if (p)
		lines_feed(p->ls, data, len);
}

void outputs_finish(struct outputs_parser *p)
{
	if (!p)
		return;
	lines_finish(p->ls);
	if (p->in_block) {
		if (p->block_over)
			snprintf(p->warn, sizeof(p->warn),
				 "outputs block over %zu bytes, ignored", p->max);
		else
			snprintf(p->warn, sizeof(p->warn),
				 "outputs block at line %zu not terminated, ignored",
				 p->block_line);
		drop_block(p);
	}
}

bool outputs_found(const struct outputs_parser *p)
{
	return p && p->found;
}

size_t outputs_count(const struct outputs_parser *p)
{
	return p ? p->n : 0;
}

const char *outputs_key(const struct outputs_parser *p, size_t i)
{
	return p && i < p->n ? p->kv[i].key : NULL;
}

const char *outputs_value(const struct outputs_parser *p, size_t i)
{
	return p && i < p->n ? p->kv[i].val : NULL;
}

const char *outputs_get(const struct outputs_parser *p, const char *key)
{
	if (!p || !key)
		return NULL;
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->kv[i].key, key) == 0)
			return p->kv[i].val;
	return NULL;
}

struct json_object *outputs_to_json(const struct outputs_parser *p)
{
	struct json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	for (size_t i = 0; p && i < p->n; i++)
		json_object_object_add(o, p->kv[i].key, json_object_new_string(p->kv[i].val));
	return o;
}

const char *outputs_warning(const struct outputs_parser *p)
{
	return p && p->warn[0] ? p->warn : NULL;
}

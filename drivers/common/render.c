/* SPDX-License-Identifier: MIT */
/*
 * render.c - the frame of every in-tree driver's renderer (render.h).
 */
#include "config.h"
#include "render.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUPERVISOR_PREFIX "[paddock] "
#define WORKSPACE "/workspace"

void drv_emit(struct drv_render *r, int kind, const char *s, size_t n)
{
	if (!r->emit || !s)
		return;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	/* The agent's own words are never cut (its answer is the point; the
	 * reader's line cap bounds them), nor changed but for a stray CR. */
	if (kind == PADDOCK_RENDER_TEXT && !memchr(s, '\r', n) && !memchr(s, '\n', n)) {
		r->emit(r->emit_ctx, kind, s, n);
		return;
	}
	/* Else one line, short: a newline inside (a path, a message) reads
	 * as a space, and a long line is cut at a UTF-8 boundary. */
	char buf[DRV_RENDER_LINE_MAX + 8];
	size_t m = n <= DRV_RENDER_LINE_MAX ? n : drv_utf8_cut(s, DRV_RENDER_LINE_MAX, n);
	memcpy(buf, s, m);
	for (size_t i = 0; i < m; i++)
		if (buf[i] == '\n' || buf[i] == '\r')
			buf[i] = ' ';
	if (m < n) {
		memcpy(buf + m, "...", 3);
		m += 3;
	}
	r->emit(r->emit_ctx, kind, buf, m);
}

void drv_emitf(struct drv_render *r, int kind, const char *fmt, ...)
{
	char buf[DRV_RENDER_LINE_MAX + 1];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	size_t len = (size_t)n < sizeof(buf) ? (size_t)n : drv_utf8_cut(buf, sizeof(buf) - 1, (size_t)n);
	drv_emit(r, kind, buf, len);
}

void drv_emit_text(struct drv_render *r, const char *s, size_t n)
{
	while (n) {
		const char *nl = memchr(s, '\n', n);
		size_t seg = nl ? (size_t)(nl - s) : n;
		size_t i = 0;
		while (i < seg && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
			i++;
		if (i < seg)
			drv_emit(r, PADDOCK_RENDER_TEXT, s, seg);
		if (!nl)
			break;
		s += seg + 1;
		n -= seg + 1;
	}
}

void drv_text_add(struct drv_render *r, const char *s, size_t n)
{
	size_t room = sizeof(r->text) - 1 - r->text_len;
	size_t m = n <= room ? n : drv_utf8_cut(s, room, n);
	memcpy(r->text + r->text_len, s, m);
	r->text_len += m;
	r->text[r->text_len] = '\0';
}

void drv_text_flush(struct drv_render *r)
{
	if (!r->text_len)
		return;
	drv_emit_text(r, r->text, r->text_len);
	r->text_len = 0;
	r->text[0] = '\0';
}

void drv_render_set_cwd(struct drv_render *r, const char *cwd)
{
	if (cwd && *cwd && strlen(cwd) < sizeof(r->cwd))
		snprintf(r->cwd, sizeof(r->cwd), "%s", cwd);
}

/* path without `dir` + "/", or NULL when it does not lie under dir. */
static const char *under(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	if (!n || strncmp(path, dir, n) != 0 || path[n] != '/' || !path[n + 1])
		return NULL;
	return path + n + 1;
}

const char *drv_short_path(const struct drv_render *r, const char *path)
{
	const char *s = under(path, r->cwd);
	if (!s)
		s = under(path, WORKSPACE);
	return s ? s : path;
}

/* The argument that says what a tool call does, by the key the CLIs use;
 * paths read "Write out.txt", the others "Bash: npm test". */
static const struct {
	const char *key;
	bool path;
} key_args[] = {
	{ "command", false },     { "cmd", false },       { "file_path", true },
	{ "filePath", true },     { "absolute_path", true }, { "notebook_path", true },
	{ "path", true },         { "dir_path", true },   { "pattern", false },
	{ "url", false },         { "query", false },     { "description", false },
	{ "prompt", false },
};

void drv_emit_tool(struct drv_render *r, const char *name, struct json_object *input)
{
	if (!name || !*name)
		name = "tool";
	for (size_t i = 0; i < sizeof(key_args) / sizeof(key_args[0]); i++) {
		struct json_object *v = drv_jget(input, key_args[i].key);
		const char *s = NULL;
		if (json_object_is_type(v, json_type_string))
			s = json_object_get_string(v);
		else if (json_object_is_type(v, json_type_array) && json_object_array_length(v) > 0)
			s = json_object_get_string(json_object_array_get_idx(v, json_object_array_length(v) - 1));
		if (!s || !*s)
			continue;
		/* A command's first line only: the rest is a script. */
		const char *nl = strchr(s, '\n');
		int n = nl ? (int)(nl - s) : (int)strnlen(s, DRV_RENDER_LINE_MAX);
		if (key_args[i].path)
			drv_emitf(r, PADDOCK_RENDER_TOOL, "%s %s", name, drv_short_path(r, s));
		else
			drv_emitf(r, PADDOCK_RENDER_TOOL, "%s: %.*s%s", name, n, s, nl ? " ..." : "");
		return;
	}
	drv_emit(r, PADDOCK_RENDER_TOOL, name, strlen(name));
}

void drv_emit_result(struct drv_render *r, bool ok, const char *why)
{
	if (ok) {
		drv_emit(r, PADDOCK_RENDER_RESULT, "ok", 2);
		return;
	}
	if (!why || !*why) {
		drv_emit(r, PADDOCK_RENDER_RESULT, "failed", 6);
		return;
	}
	while (*why == ' ' || *why == '\n')
		why++;
	const char *nl = strchr(why, '\n');
	int n = nl ? (int)(nl - why) : (int)strnlen(why, DRV_RENDER_LINE_MAX);
	drv_emitf(r, PADDOCK_RENDER_RESULT, "failed: %.*s", n, why);
}

/* "$0.0003": at most 4 decimals, trailing zeros dropped down to 2 (as the
 * CLI prints costs). */
static void cost_text(double usd, char *out, size_t n)
{
	if (usd > 0 && usd < 0.00005) {
		snprintf(out, n, "<$0.0001");
		return;
	}
	snprintf(out, n, "$%.4f", usd);
	size_t len = strlen(out);
	char *dot = strchr(out, '.');
	while (dot && len > (size_t)(dot - out) + 3 && out[len - 1] == '0')
		out[--len] = '\0';
}

static void show_usage(struct drv_render *r)
{
	const struct drv_parser *p = r->p;
	if (p->input_tokens == r->shown_in && p->output_tokens == r->shown_out &&
	    p->cost_usd == r->shown_cost)
		return;
	r->shown_in = p->input_tokens;
	r->shown_out = p->output_tokens;
	r->shown_cost = p->cost_usd;
	if (p->input_tokens <= 0 && p->output_tokens <= 0 && p->cost_usd <= 0)
		return; /* nothing spent: a failure before the first request */
	char cost[32] = "";
	if (p->cost_usd >= 0) {
		char c[24];
		cost_text(p->cost_usd, c, sizeof(c));
		snprintf(cost, sizeof(cost), ", %s", c);
	}
	drv_emitf(r, PADDOCK_RENDER_USAGE, "tokens %lld in / %lld out%s",
		  (long long)(p->input_tokens < 0 ? 0 : p->input_tokens),
		  (long long)(p->output_tokens < 0 ? 0 : p->output_tokens), cost);
}

static bool starts(const char *line, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);
	return len >= n && memcmp(line, prefix, n) == 0;
}

static bool is_noise(const struct drv_render *r, const char *line, size_t len)
{
	for (const char *const *n = r->ops->noise; n && *n; n++)
		if (starts(line, len, *n))
			return true;
	return false;
}

/* The outputs block: shown when it holds something, as NOTE lines. */
static bool outputs_line(struct drv_render *r, const char *line, size_t len)
{
	if (len == strlen(DRV_OUTPUTS_START) && starts(line, len, DRV_OUTPUTS_START)) {
		drv_text_flush(r);
		r->in_outputs = true;
		r->outputs_shown = false;
		return true;
	}
	if (len == strlen(DRV_OUTPUTS_END) && starts(line, len, DRV_OUTPUTS_END)) {
		r->in_outputs = false;
		return true;
	}
	if (!r->in_outputs)
		return false;
	if (!r->outputs_shown)
		drv_emit(r, PADDOCK_RENDER_NOTE, "outputs:", 8);
	r->outputs_shown = true;
	drv_emitf(r, PADDOCK_RENDER_NOTE, "  %.*s", (int)(len < DRV_RENDER_LINE_MAX ? len : DRV_RENDER_LINE_MAX), line);
	return true;
}

int drv_renderer_new(void *inst, void **renderer)
{
	struct drv *d = inst;
	if (!d || !renderer)
		return -EINVAL;
	if (!d->spec->render)
		return -ENOTSUP;
	struct drv_render *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	int rc = drv_parser_new(inst, (void **)&r->p);
	if (rc < 0) {
		free(r);
		return rc;
	}
	r->ops = d->spec->render;
	r->shown_in = -1;
	r->shown_out = -1;
	r->shown_cost = -1;
	*renderer = r;
	return 0;
}

void drv_renderer_line(void *renderer, const char *line, size_t len, paddock_emit_fn emit,
		       void *emit_ctx)
{
	struct drv_render *r = renderer;
	if (!r || !line)
		return;
	r->emit = emit;
	r->emit_ctx = emit_ctx;
	while (len && (line[len - 1] == '\r' || line[len - 1] == '\n'))
		len--;
	struct json_object *obj = NULL;
	drv_parser_feed(r->p, line, len, &obj);
	if (outputs_line(r, line, len) || !len)
		goto out;
	if (!obj && starts(line, len, SUPERVISOR_PREFIX)) {
		drv_text_flush(r);
		drv_emit(r, PADDOCK_RENDER_NOTE, line + strlen(SUPERVISOR_PREFIX),
			 len - strlen(SUPERVISOR_PREFIX));
		goto out;
	}
	if (!obj && is_noise(r, line, len))
		goto out;
	const char *type = drv_jstr(obj, "type");
	if (obj)
		r->state = 0; /* an event ends what raw lines were in (gemini's trace) */
	if (obj && type && r->ops->event)
		r->ops->event(r, obj, type);
	bool handled = obj || (r->ops->raw && r->ops->raw(r, line, len));
	if (!handled) {
		/* A line the driver does not know: short, never a JSON dump. */
		drv_text_flush(r);
		size_t i = 0;
		while (i < len && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (i < len && line[i] == '{')
			drv_emitf(r, PADDOCK_RENDER_NOTE, "(an event that could not be read, %zu bytes)", len);
		else if (i < len)
			drv_emit(r, PADDOCK_RENDER_NOTE, line + i, len - i);
	}
	if (r->p->failed && r->p->error[0] && !r->error_shown) {
		drv_text_flush(r);
		drv_emit(r, PADDOCK_RENDER_ERROR, r->p->error, strlen(r->p->error));
		r->error_shown = true;
	}
	show_usage(r);
out:
	json_object_put(obj);
}

void drv_renderer_free(void *renderer)
{
	struct drv_render *r = renderer;
	if (!r)
		return;
	drv_parser_free(r->p);
	free(r);
}

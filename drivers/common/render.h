/* SPDX-License-Identifier: MIT */
/*
 * render.h - readable agent activity (ABI 1.1 renderer ops), shared by
 * the in-tree drivers.
 *
 * A renderer runs the driver's own parser over the stream (so that its
 * totals and its verdict on errors are the parser's, never a second
 * reading) and a driver hook that turns each event into human lines.
 * The frame here owns what every stream has: the outputs block (shown
 * when it holds something), "[paddock] " lines written by the supervisor,
 * the error the parser found (once), running token and cost totals (when
 * they change), and a raw line that is not JSON (shown short, unless the
 * driver knows it as noise).  An event the hook does not handle is
 * dropped: a rendering never shows raw JSON.
 */
#ifndef PADDOCK_DRV_RENDER_H
#define PADDOCK_DRV_RENDER_H

#include "drv.h"

struct drv_render;

struct drv_render_ops {
	/* Prefixes of non-JSON lines the CLI prints that are noise. */
	const char *const *noise;
	/* A JSON event with a "type" (any other JSON line is dropped). */
	void (*event)(struct drv_render *r, struct json_object *obj, const char *type);
	/* A line that is not JSON: true when handled (emitted, or dropped on
	 * purpose); else the frame shows it short. */
	bool (*raw)(struct drv_render *r, const char *line, size_t len);
};

#define DRV_RENDER_TEXT_MAX 8192
/* A rendered line is cut here (a human line, not a dump), but for the
 * agent's own text (TEXT), which is shown whole. */
#define DRV_RENDER_LINE_MAX 400

struct drv_render {
	struct drv_parser *p; /* the driver's parser, fed every line first */
	const struct drv_render_ops *ops;
	paddock_emit_fn emit;
	void *emit_ctx;
	bool in_outputs, outputs_shown, error_shown;
	int64_t shown_in, shown_out;
	double shown_cost;
	char cwd[512];          /* the agent's working directory, when it said */
	char text[DRV_RENDER_TEXT_MAX]; /* assistant text still arriving (deltas) */
	size_t text_len;
	/* Free for the hooks. */
	char held[512];         /* an event held back until the next one says what it was */
	char last_item[128];    /* id of the item last shown as started */
	int state;              /* for the raw hook; every JSON line resets it to 0 */
};

/* Emit one line of `kind` (cut at DRV_RENDER_LINE_MAX at a UTF-8 boundary). */
void drv_emit(struct drv_render *r, int kind, const char *s, size_t n);
void drv_emitf(struct drv_render *r, int kind, const char *fmt, ...) PADDOCK_PRINTF(3, 4);
/* Assistant text: one TEXT line per non-empty line of s. */
void drv_emit_text(struct drv_render *r, const char *s, size_t n);
/* Pending text (deltas): append, and flush as TEXT lines. */
void drv_text_add(struct drv_render *r, const char *s, size_t n);
void drv_text_flush(struct drv_render *r);
/* A tool call: "Name path" or "Name: command" from the input's key
 * argument (command, file path, pattern, url, query ...). */
void drv_emit_tool(struct drv_render *r, const char *name, struct json_object *input);
/* A tool's result: "ok", or "failed" with the first line of `why`. */
void drv_emit_result(struct drv_render *r, bool ok, const char *why);
/* A path for people: relative to the agent's cwd or /workspace. */
const char *drv_short_path(const struct drv_render *r, const char *path);
void drv_render_set_cwd(struct drv_render *r, const char *cwd);

extern const struct drv_render_ops drv_render_claude, drv_render_codex, drv_render_gemini,
	drv_render_opencode, drv_render_exec;

int drv_renderer_new(void *inst, void **renderer);
void drv_renderer_line(void *renderer, const char *line, size_t len, paddock_emit_fn emit,
		       void *emit_ctx);
void drv_renderer_free(void *renderer);

#endif

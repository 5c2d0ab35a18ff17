/* SPDX-License-Identifier: MIT */
/*
 * gemini/render.c - the Gemini CLI's stream-json for people: the init
 * event (model), assistant text (deltas joined until the next event),
 * tool calls and their results.  Dropped: the start-up chatter on stdout
 * (256-colour warning, YOLO notice ...) and the stack trace gemini prints
 * after "Error when talking to Gemini API", whose error the result event
 * reports (the frame shows it from the parser).
 */
#include "config.h"
#include "../common/render.h"

#include <json-c/json.h>
#include <string.h>

static const char *const gemini_noise[] = {
	"Warning: 256-color support not detected",
	"YOLO mode is enabled",
	"Ripgrep is not available",
	"[STARTUP] ",
	"Loaded cached credentials",
	NULL,
};

enum { NORMAL, IN_TRACE };

/* gemini's tool names, as people know the tools. */
static const char *const tool_names[][2] = {
	{ "write_file", "Write" },      { "replace", "Edit" },     { "read_file", "Read" },
	{ "read_many_files", "Read" },  { "run_shell_command", "Bash" },
	{ "list_directory", "List" },   { "glob", "Glob" },        { "search_file_content", "Grep" },
	{ "web_fetch", "WebFetch" },    { "google_web_search", "WebSearch" },
};

static const char *tool_name(const char *name)
{
	for (size_t i = 0; name && i < sizeof(tool_names) / sizeof(tool_names[0]); i++)
		if (strcmp(tool_names[i][0], name) == 0)
			return tool_names[i][1];
	return name;
}

/* The error report and its stack trace, up to the next event. */
static bool gemini_raw(struct drv_render *r, const char *line, size_t len)
{
	if (len >= 32 && memcmp(line, "Error when talking to Gemini API", 32) == 0)
		r->state = IN_TRACE;
	return r->state == IN_TRACE;
}

static void gemini_event(struct drv_render *r, struct json_object *o, const char *type)
{
	if (strcmp(type, "message") == 0) {
		const char *role = drv_jstr(o, "role");
		const char *c = drv_jstr(o, "content");
		if (role && strcmp(role, "assistant") == 0 && c) {
			if (!drv_jbool(o, "delta", false))
				drv_text_flush(r);
			drv_text_add(r, c, strlen(c));
		}
		return;
	}
	drv_text_flush(r);
	if (strcmp(type, "init") == 0) {
		const char *model = drv_jstr(o, "model");
		drv_emitf(r, PADDOCK_RENDER_NOTE, "session started%s%s", model ? ", model " : "",
			  model ? model : "");
	} else if (strcmp(type, "tool_use") == 0) {
		drv_emit_tool(r, tool_name(drv_jstr(o, "tool_name")), drv_jget(o, "parameters"));
	} else if (strcmp(type, "tool_result") == 0) {
		const char *st = drv_jstr(o, "status");
		const char *why = drv_jstr(o, "error.message");
		drv_emit_result(r, st && strcmp(st, "success") == 0, why ? why : st);
	} else if (strcmp(type, "error") == 0) {
		const char *sev = drv_jstr(o, "severity");
		const char *msg = drv_jstr(o, "message");
		if (msg && !(sev && strcmp(sev, "error") == 0))
			drv_emitf(r, PADDOCK_RENDER_NOTE, "warning: %s", msg);
	}
}

const struct drv_render_ops drv_render_gemini = {
	.noise = gemini_noise,
	.event = gemini_event,
	.raw = gemini_raw,
};

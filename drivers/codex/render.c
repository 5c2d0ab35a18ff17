/* SPDX-License-Identifier: MIT */
/*
 * codex/render.c - `codex exec --json` for people: items (messages,
 * commands with their exit status, file changes, tool calls, searches),
 * turn totals and failures.  An "error" event is held until the next
 * event: before turn.failed it is the failure the frame shows from the
 * parser (once), otherwise it was a retry and is shown as a note.
 */
#include "config.h"
#include "../common/render.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

static const char *const codex_noise[] = { "Reading additional input from stdin", NULL };

static void file_changes(struct drv_render *r, struct json_object *item)
{
	struct json_object *ch = drv_jget(item, "changes");
	size_t n = json_object_is_type(ch, json_type_array) ? json_object_array_length(ch) : 0;
	for (size_t i = 0; i < n; i++) {
		struct json_object *c = json_object_array_get_idx(ch, i);
		const char *kind = drv_jstr(c, "kind");
		const char *path = drv_jstr(c, "path");
		const char *verb = !kind ? "Edit" : strcmp(kind, "add") == 0 ? "Write"
			: strcmp(kind, "delete") == 0 ? "Delete" : "Edit";
		if (path)
			drv_emitf(r, PADDOCK_RENDER_TOOL, "%s %s", verb, drv_short_path(r, path));
	}
}

/* The call an item stands for, shown once (item.started, or
 * item.completed of an item that never said it started). */
static void item_call(struct drv_render *r, struct json_object *item, const char *it)
{
	const char *id = drv_jstr(item, "id");
	if (id && strcmp(id, r->last_item) == 0)
		return;
	snprintf(r->last_item, sizeof(r->last_item), "%s", id ? id : "");
	if (strcmp(it, "command_execution") == 0)
		drv_emit_tool(r, "Bash", item);
	else if (strcmp(it, "file_change") == 0)
		file_changes(r, item);
	else if (strcmp(it, "mcp_tool_call") == 0)
		drv_emitf(r, PADDOCK_RENDER_TOOL, "%s.%s", drv_jstr(item, "server") ? drv_jstr(item, "server") : "mcp",
			  drv_jstr(item, "tool") ? drv_jstr(item, "tool") : "tool");
	else if (strcmp(it, "web_search") == 0)
		drv_emit_tool(r, "WebSearch", item);
}

static void item_done(struct drv_render *r, struct json_object *item, const char *it)
{
	const char *status = drv_jstr(item, "status");
	bool failed = status && strcmp(status, "failed") == 0;
	if (strcmp(it, "agent_message") == 0) {
		const char *t = drv_jstr(item, "text");
		if (t)
			drv_emit_text(r, t, strlen(t));
	} else if (strcmp(it, "reasoning") == 0) {
		const char *t = drv_jstr(item, "text");
		if (t)
			drv_emitf(r, PADDOCK_RENDER_NOTE, "thinking: %.*s", (int)strcspn(t, "\n"), t);
	} else if (strcmp(it, "error") == 0) {
		const char *m = drv_jstr(item, "message");
		drv_emitf(r, PADDOCK_RENDER_NOTE, "warning: %s", m ? m : "(no message)");
	} else if (strcmp(it, "command_execution") == 0) {
		item_call(r, item, it);
		int64_t code = drv_jint(item, "exit_code", failed ? 1 : 0);
		if (code == 0 && !failed) {
			drv_emit_result(r, true, NULL);
		} else {
			char why[64];
			snprintf(why, sizeof(why), "exit %lld", (long long)code);
			drv_emit_result(r, false, why);
		}
	} else if (strcmp(it, "file_change") == 0 || strcmp(it, "mcp_tool_call") == 0 ||
		   strcmp(it, "web_search") == 0) {
		item_call(r, item, it);
		drv_emit_result(r, !failed, drv_jstr(item, "error.message"));
	}
}

static void codex_event(struct drv_render *r, struct json_object *o, const char *type)
{
	bool failing = strcmp(type, "turn.failed") == 0;
	if (r->held[0] && !failing)
		drv_emitf(r, PADDOCK_RENDER_NOTE, "retrying: %s", r->held);
	r->held[0] = '\0';
	struct json_object *item = drv_jget(o, "item");
	const char *it = drv_jstr(item, "type");
	if (strcmp(type, "thread.started") == 0) {
		drv_emit(r, PADDOCK_RENDER_NOTE, "session started", 15);
	} else if (strcmp(type, "item.started") == 0 && it) {
		item_call(r, item, it);
	} else if (strcmp(type, "item.completed") == 0 && it) {
		item_done(r, item, it);
	} else if (strcmp(type, "error") == 0) {
		const char *m = drv_jstr(o, "message");
		snprintf(r->held, sizeof(r->held), "%s", m ? m : "error");
	}
}

const struct drv_render_ops drv_render_codex = {
	.noise = codex_noise,
	.event = codex_event,
};

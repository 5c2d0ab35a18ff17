/* SPDX-License-Identifier: MIT */
/*
 * claude-code/render.c - Claude Code's stream-json for people: the init
 * event (model), assistant text and tool calls, tool results from the
 * "user" turns, and the result event (its final text when no message
 * said it; its error and totals come from the
 * parser, through the frame in common/render.c).
 */
#include "config.h"
#include "../common/render.h"

#include <json-c/json.h>
#include <string.h>

/* A tool_result's content: a string, or blocks of {type:text, text}. */
static const char *result_text(struct json_object *b)
{
	struct json_object *c = drv_jget(b, "content");
	if (json_object_is_type(c, json_type_string))
		return json_object_get_string(c);
	if (json_object_is_type(c, json_type_array) && json_object_array_length(c) > 0)
		return drv_jstr(json_object_array_get_idx(c, 0), "text");
	return NULL;
}

static void blocks(struct drv_render *r, struct json_object *o, bool synthetic)
{
	struct json_object *content = drv_jpath(o, "message.content");
	if (!json_object_is_type(content, json_type_array))
		return;
	size_t n = json_object_array_length(content);
	for (size_t i = 0; i < n; i++) {
		struct json_object *b = json_object_array_get_idx(content, i);
		const char *bt = drv_jstr(b, "type");
		if (!bt)
			continue;
		const char *txt = drv_jstr(b, "text");
		/* claude's own "<synthetic>" message repeats the error that
		 * the result event reports. */
		if (strcmp(bt, "text") == 0 && txt && !synthetic) {
			drv_emit_text(r, txt, strlen(txt));
			drv_copy(r->held, sizeof(r->held), txt, strlen(txt));
		}
		else if (strcmp(bt, "tool_use") == 0)
			drv_emit_tool(r, drv_jstr(b, "name"), drv_jget(b, "input"));
		else if (strcmp(bt, "tool_result") == 0)
			drv_emit_result(r, !drv_jbool(b, "is_error", false), result_text(b));
	}
}

static void claude_event(struct drv_render *r, struct json_object *o, const char *type)
{
	if (strcmp(type, "system") == 0) {
		const char *sub = drv_jstr(o, "subtype");
		if (sub && strcmp(sub, "init") == 0) {
			drv_render_set_cwd(r, drv_jstr(o, "cwd"));
			const char *model = drv_jstr(o, "model");
			drv_emitf(r, PADDOCK_RENDER_NOTE, "session started%s%s", model ? ", model " : "",
				  model ? model : "");
		}
	} else if (strcmp(type, "assistant") == 0) {
		const char *model = drv_jstr(o, "message.model");
		blocks(r, o, model && strcmp(model, "<synthetic>") == 0);
	} else if (strcmp(type, "user") == 0) {
		blocks(r, o, false);
	} else if (strcmp(type, "result") == 0 && !drv_jbool(o, "is_error", false)) {
		/* The final text, unless the last message said it already. */
		const char *res = drv_jstr(o, "result");
		if (res && *res && strncmp(res, r->held, sizeof(r->held) - 1) != 0)
			drv_emit_text(r, res, strlen(res));
	}
}

const struct drv_render_ops drv_render_claude = {
	.event = claude_event,
};

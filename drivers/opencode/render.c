/* SPDX-License-Identifier: MIT */
/*
 * opencode/render.c - `opencode run --format json` for people: text
 * parts, tool calls (one event each, with their final state) and the
 * totals of each step (from the parser, through the frame).
 */
#include "config.h"
#include "../common/render.h"

#include <ctype.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

static void opencode_event(struct drv_render *r, struct json_object *o, const char *type)
{
	if (strcmp(type, "text") == 0) {
		const char *t = drv_jstr(o, "part.text");
		if (t)
			drv_emit_text(r, t, strlen(t));
	} else if (strcmp(type, "tool_use") == 0) {
		/* opencode names tools in lower case: "write" shows as "Write". */
		const char *tool = drv_jstr(o, "part.tool");
		char name[64];
		snprintf(name, sizeof(name), "%s", tool ? tool : "tool");
		name[0] = (char)toupper((unsigned char)name[0]);
		drv_emit_tool(r, name, drv_jpath(o, "part.state.input"));
		const char *st = drv_jstr(o, "part.state.status");
		if (st && strcmp(st, "completed") == 0)
			drv_emit_result(r, true, NULL);
		else if (st && strcmp(st, "error") == 0)
			drv_emit_result(r, false, drv_jstr(o, "part.state.error"));
	}
}

const struct drv_render_ops drv_render_opencode = {
	.event = opencode_event,
};

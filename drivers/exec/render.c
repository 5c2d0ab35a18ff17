/* SPDX-License-Identifier: MIT */
/*
 * exec/render.c - a command's plain output for people: each line as
 * text (the frame drops blank lines and shows the outputs block).
 */
#include "config.h"
#include "../common/render.h"

static bool exec_render_line(struct drv_render *r, struct json_object *o, const char *line,
			     size_t len)
{
	(void)o;
	drv_emit_text(r, line, len);
	return true;
}

const struct drv_render_ops drv_render_exec = {
	.line = exec_render_line,
};

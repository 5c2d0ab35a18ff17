/* SPDX-License-Identifier: MIT */
/*
 * exec/render.c - a command's plain output for people: each line as
 * text (the frame drops blank lines and shows the outputs block).
 */
#include "config.h"
#include "../common/render.h"

static bool exec_raw(struct drv_render *r, const char *line, size_t len)
{
	drv_emit_text(r, line, len);
	return true;
}

const struct drv_render_ops drv_render_exec = {
	.raw = exec_raw,
};

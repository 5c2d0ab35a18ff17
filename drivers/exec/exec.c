/* SPDX-License-Identifier: MIT */
/*
 * exec - the generic driver: runs any command template with the prompt as
 * $1 (and ./task.md in the workspace).  The template comes from the
 * Agent's spec.command or else drivers.exec.settings.command; the
 * entrypoint script runs it with `sh -c`.  Output is plain text: the
 * result is the last non-empty line, the outcome is the exit code.  A
 * line "PADDOCK_USAGE input=N output=N cost=USD" (any of the three, totals
 * so far) reports usage: the last one counts, and budgets see it at once.
 */
#include "config.h"
#include "../common/drv.h"
#include "../common/render.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DRIVER_NAME "exec"

static const char *command_of(struct drv *d, const struct paddock_task_view *t)
{
	const char *c = NULL;
	if (t->agent_field)
		c = t->agent_field(t, "command");
	if (!c || !*c)
		c = drv_setting(d, "command");
	return c && *c ? c : NULL;
}

static int exec_validate(struct drv *d, const struct paddock_task_view *t, char *err, size_t errlen)
{
	const char *c = command_of(d, t);
	if (!c)
		return drv_errf(err, errlen, -EINVAL,
				"spec.type exec: no command: set spec.command on the Agent or "
				"drivers.exec.settings.command in paddock.yaml");
	if (strlen(c) > 65536)
		return drv_errf(err, errlen, -E2BIG,
				"spec.command: %zu bytes, over the limit of 65536: put a long script in a file "
				"context and run that",
				strlen(c));
	return 0;
}

static int exec_entrypoint(struct drv *d, const struct paddock_task_view *t,
			   const struct paddock_plan_builder *plan, char *err, size_t errlen)
{
	int rc = exec_validate(d, t, err, errlen);
	if (rc < 0)
		return rc;
	return drv_env(plan, "PADDOCK_COMMAND", command_of(d, t), err, errlen);
}

#define USAGE_MARK "PADDOCK_USAGE "

/* "PADDOCK_USAGE input=12 output=3 cost=0.25": totals so far. */
static void exec_usage(struct drv_parser *p, const char *line, size_t len)
{
	char buf[256];
	if (len >= sizeof(buf))
		return;
	memcpy(buf, line, len);
	buf[len] = '\0';
	char *save = NULL;
	for (char *t = strtok_r(buf + strlen(USAGE_MARK), " \t", &save); t;
	     t = strtok_r(NULL, " \t", &save)) {
		char *end = NULL;
		if (!strncmp(t, "input=", 6)) {
			long long v = strtoll(t + 6, &end, 10);
			if (*end == '\0' && v >= 0)
				p->input_tokens = v;
		} else if (!strncmp(t, "output=", 7)) {
			long long v = strtoll(t + 7, &end, 10);
			if (*end == '\0' && v >= 0)
				p->output_tokens = v;
		} else if (!strncmp(t, "cost=", 5)) {
			double v = strtod(t + 5, &end);
			if (*end == '\0' && v >= 0 && v < 1e12)
				p->cost_usd = v;
		}
	}
}

static void exec_line(struct drv_parser *p, struct json_object *obj, const char *line, size_t len)
{
	(void)obj;
	size_t i = 0;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i == len)
		return;
	if (len - i >= strlen(USAGE_MARK) && !memcmp(line + i, USAGE_MARK, strlen(USAGE_MARK))) {
		exec_usage(p, line + i, len - i);
		return;
	}
	drv_copy(p->result, sizeof(p->result), line, len);
}

static void exec_finish(struct drv_parser *p, int exit_code, struct paddock_run_result *out)
{
	if (exit_code != 0) {
		snprintf(p->error, sizeof(p->error), "command exited with status %d", exit_code);
		drv_fill(p, PADDOCK_OUTCOME_FAILED, out);
		return;
	}
	drv_fill(p, PADDOCK_OUTCOME_SUCCESS, out);
}

static const struct drv_spec exec_spec = {
	.name = DRIVER_NAME,
	.cli = "command",
	.default_bin = NULL,
	.cred_types = PADDOCK_CRED_NONE | PADDOCK_CRED_API_KEY | PADDOCK_CRED_OAUTH,
	.any_effort = true, /* the command reads PADDOCK_EFFORT if it wants */
	.api_key_env = "PADDOCK_API_KEY",
	.oauth_env = "PADDOCK_OAUTH_TOKEN",
	.json = false,
	.validate = exec_validate,
	.entrypoint = exec_entrypoint,
	.line = exec_line,
	.finish = exec_finish,
	.render = &drv_render_exec,
};

DRV_DECLARE(exec_spec, DRIVER_NAME, exec_desc, exec_ops,
	    "Generic driver: runs a command template with the prompt as $1")

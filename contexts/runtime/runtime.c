/* SPDX-License-Identifier: MIT */
/*
 * runtime.c - the Runtime context source: platform awareness for the
 * agent, built from the task view: what Paddock is, which task this is,
 * the workspace layout, how outputs are reported, and that no human will
 * answer questions.  No fields of its own.
 */
#include "../common/ctxutil.h"

#include <errno.h>
#include <string.h>

#define RT_MAX_BYTES (64 * 1024)
#define RT_MAX_OUTPUTS 64

/* Manifest strings shown on one line: control bytes become '?', bounded. */
static void rt_put(struct cu_str *s, const char *v)
{
	size_t n = 0;
	for (; v && *v && n < 256; v++, n++) {
		char c = ((unsigned char)*v < 0x20 || *v == 0x7f) ? '?' : *v;
		cu_str_add(s, &c, 1);
	}
	if (v && *v)
		cu_str_puts(s, "...");
}

static int rt_validate(void *instance, const struct paddock_context_item *item, char *err,
		       size_t errlen)
{
	(void)instance;
	if (!item)
		return cu_errf(err, errlen, -EINVAL, "runtime context: no item");
	return cu_check_item(item, NULL, err, errlen);
}

static void rt_build(struct cu_str *s, const struct paddock_task_view *t)
{
	cu_str_puts(s, "# Paddock runtime\n\n"
		       "You are an autonomous coding agent running inside Paddock, a runtime that "
		       "runs AI coding agents in sandboxes. No human is watching this run and no one "
		       "will answer questions: do not ask for confirmation or clarification. Make "
		       "reasonable decisions, state your assumptions in your final answer, and "
		       "finish the task.\n\n");
	cu_str_puts(s, "Task: ");
	if (t && t->ns) {
		rt_put(s, t->ns);
		cu_str_puts(s, "/");
	}
	rt_put(s, t && t->name ? t->name : "(unnamed)");
	cu_str_puts(s, "\n");
	if (t && t->type) {
		cu_str_puts(s, "Agent driver: ");
		rt_put(s, t->type);
		cu_str_puts(s, "\n");
	}
	if (t && t->timeout_seconds > 0)
		cu_str_printf(s, "Time limit: %ld seconds; the run is stopped after that.\n",
			      t->timeout_seconds);

	cu_str_puts(s, "\n## Workspace\n\n"
		       "- Your current working directory is the workspace. Work there: what you "
		       "leave in it is the result of the run.\n"
		       "- task.md in the workspace holds the prompt and the contexts given with it.\n");
	if (t && t->workspace_repo) {
		cu_str_puts(s, "- The workspace is a git checkout of ");
		rt_put(s, t->workspace_repo);
		if (t->workspace_ref) {
			cu_str_puts(s, " at ");
			rt_put(s, t->workspace_ref);
		}
		cu_str_puts(s, ".\n");
	}
	cu_str_puts(s, "- $HOME is private to this run and discarded afterwards; keep nothing you "
		       "need there.\n");

	cu_str_puts(s, "\n## Outputs\n\n");
	size_t n = t ? t->n_outputs : 0;
	if (n && t->outputs) {
		cu_str_printf(s, "This task declares %zu output parameter%s. Before you finish, write "
				 "each value to its file (path relative to the workspace):\n\n",
			      n, n == 1 ? "" : "s");
		for (size_t i = 0; i < n && i < RT_MAX_OUTPUTS; i++) {
			const struct paddock_output_param *o = &t->outputs[i];
			cu_str_puts(s, "- ");
			rt_put(s, o->name ? o->name : "?");
			cu_str_puts(s, ": write it to ");
			rt_put(s, o->path ? o->path : "?");
			if (o->dflt) {
				cu_str_puts(s, " (default if the file is missing: ");
				rt_put(s, o->dflt);
				cu_str_puts(s, ")");
			}
			cu_str_puts(s, "\n");
		}
		if (n > RT_MAX_OUTPUTS)
			cu_str_printf(s, "- ... and %zu more\n", n - RT_MAX_OUTPUTS);
		cu_str_puts(s, "\nAfter you exit, the entrypoint reads those files and prints their "
			       "values in this block, which Paddock records as the task's results:\n\n"
			       "---PADDOCK_OUTPUTS_START---\n");
		rt_put(s, t->outputs[0].name ? t->outputs[0].name : "name");
		cu_str_puts(s, ": <value read from its file>\n"
			       "---PADDOCK_OUTPUTS_END---\n\n"
			       "You do not need to print this block yourself; write the files.\n");
	} else {
		cu_str_puts(s, "This task declares no output parameters. After you exit, the entrypoint "
			       "reports the branch and commit of the workspace (if it is a git "
			       "checkout) in a block of this form:\n\n"
			       "---PADDOCK_OUTPUTS_START---\n"
			       "name: value\n"
			       "---PADDOCK_OUTPUTS_END---\n\n"
			       "You do not need to print this block yourself.\n");
	}
}

static int rt_resolve(void *instance, const struct paddock_task_view *task,
		      const struct paddock_context_item *item,
		      const struct paddock_plan_builder *plan, char *err, size_t errlen)
{
	int rc = rt_validate(instance, item, err, errlen);
	if (rc < 0)
		return rc;
	struct cu_str s;
	cu_str_init(&s, RT_MAX_BYTES);
	rt_build(&s, task);
	if (s.rc < 0) {
		rc = cu_errf(err, errlen, s.rc, "%s: runtime text over %d bytes", cu_fp(item),
			     RT_MAX_BYTES);
		goto out;
	}
	rc = cu_emit(plan, item, cu_name(item, "paddock-runtime"), "Runtime", s.data, s.len, err,
		     errlen);
out:
	cu_str_free(&s);
	return rc;
}

static const struct paddock_context_ops rt_ops = {
	.size = sizeof(struct paddock_context_ops),
	.type = "Runtime",
	.create = cu_create,
	.destroy = cu_destroy,
	.validate = rt_validate,
	.resolve = rt_resolve,
};

static const struct paddock_plugin rt_plugin = {
	PADDOCK_PLUGIN_HEADER(PADDOCK_KIND_CONTEXT),
	.name = "runtime",
	.version = "0.1.0",
	.description = "Runtime context: what Paddock is and how this run reports its outputs",
	.license = "MIT",
	.ops = &rt_ops,
	.ops_size = sizeof(struct paddock_context_ops),
};

PADDOCK_PLUGIN(rt_plugin)

/* SPDX-License-Identifier: MIT */
/*
 * hello.c - a complete, minimal Paddock agent driver, built outside the
 * Paddock tree against the installed <paddock/plugin.h> only.
 *
 * The "agent" is /bin/echo: the entrypoint prints a greeting and the
 * prompt (the core passes the prompt as the last argument, $1 of an
 * entrypoint script).  The stream parser counts the lines the agent
 * printed and reports them as the result.
 *
 * Settings (paddock.yaml, drivers.hello.settings):
 *   greeting   text printed before the prompt (default "hello")
 */
#include <paddock/plugin.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One instance per enabled plugin: created by create(), freed by destroy(). */
struct hello {
	const struct paddock_host *host; /* borrowed until destroy() */
	char greeting[128];
};

/* One parser per run. */
struct hello_parser {
	unsigned long lines;
	char last[256];
};

static int hello_create(const struct paddock_host *host, void **instance, char *err,
			size_t errlen)
{
	/* Only use host services this plugin knows the host provides. */
	if (!PADDOCK_HAS_FIELD(host, struct paddock_host, config_get)) {
		snprintf(err, errlen, "host services table too old");
		return -ENOTSUP;
	}
	struct hello *h = calloc(1, sizeof(*h));
	if (!h) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	h->host = host;
	const char *g = host->config_get(host->ctx, "greeting"); /* borrowed */
	if (g && strlen(g) >= sizeof(h->greeting)) {
		snprintf(err, errlen, "settings.greeting: longer than %zu bytes: shorten it",
			 sizeof(h->greeting) - 1);
		free(h);
		return -EINVAL;
	}
	snprintf(h->greeting, sizeof(h->greeting), "%s", g ? g : "hello");
	host->log(host->ctx, PADDOCK_LOG_DEBUG, "hello driver ready (greeting %s)", h->greeting);
	*instance = h;
	return 0;
}

static void hello_destroy(void *instance)
{
	free(instance); /* NULL-safe, like every destructor */
}

static unsigned hello_credential_types(void *instance)
{
	(void)instance;
	return PADDOCK_CRED_NONE; /* echo needs no API key */
}

static int hello_validate(void *instance, const struct paddock_task_view *task, char *err,
			  size_t errlen)
{
	(void)instance;
	if (task->credentials_type && strcmp(task->credentials_type, "none")) {
		snprintf(err, errlen, "spec.credentials.type: unsupported value \"%s\": use none",
			 task->credentials_type);
		return -EINVAL;
	}
	if (task->effort && strcmp(task->effort, "low") && strcmp(task->effort, "medium") &&
	    strcmp(task->effort, "high")) {
		snprintf(err, errlen, "spec.effort: unsupported value \"%s\": use low, medium or "
			 "high", task->effort);
		return -EINVAL;
	}
	return 0;
}

static int hello_credentials(void *instance, const struct paddock_task_view *task,
			     const struct paddock_plan_builder *plan, char *err, size_t errlen)
{
	(void)instance; (void)plan; (void)err; (void)errlen;
	/* A real driver maps the Secret by reference only, e.g.
	 *   plan->set_env_secret(plan->ctx, "MY_API_KEY", task->credentials_secret,
	 *                        task->credentials_key);
	 * never reading the value itself. */
	(void)task;
	return 0;
}

static int hello_entrypoint(void *instance, const struct paddock_task_view *task,
			    const struct paddock_plan_builder *plan, char *err, size_t errlen)
{
	struct hello *h = instance;
	int rc;
	if ((rc = plan->set_image(plan->ctx, task->image ? task->image : "busybox:stable")) < 0 ||
	    (rc = plan->set_command(plan->ctx, "/bin/echo")) < 0 ||
	    (rc = plan->add_arg(plan->ctx, h->greeting)) < 0 ||
	    (rc = plan->set_env(plan->ctx, "PADDOCK_MODEL", task->model ? task->model : "")) < 0) {
		snprintf(err, errlen, "cannot build the plan (%d)", rc);
		return rc;
	}
	return 0;
}

static int hello_parser_new(void *instance, void **parser)
{
	(void)instance;
	struct hello_parser *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	*parser = p;
	return 0;
}

static void hello_parser_line(void *parser, const char *line, size_t len)
{
	struct hello_parser *p = parser;
	/* `line` is not NUL-terminated: copy at most what fits. */
	size_t n = len < sizeof(p->last) - 1 ? len : sizeof(p->last) - 1;
	memcpy(p->last, line, n);
	p->last[n] = '\0';
	p->lines++;
}

static void hello_parser_finish(void *parser, int exit_code, struct paddock_run_result *out)
{
	struct hello_parser *p = parser;
	out->input_tokens = -1;
	out->output_tokens = -1;
	out->cost_usd = -1;
	out->outcome = exit_code == 0 ? PADDOCK_OUTCOME_SUCCESS : PADDOCK_OUTCOME_FAILED;
	snprintf(out->result, sizeof(out->result), "%lu line%s; last: %s", p->lines,
		 p->lines == 1 ? "" : "s", p->last);
	if (exit_code != 0)
		snprintf(out->error, sizeof(out->error), "echo exited with status %d", exit_code);
}

static void hello_parser_free(void *parser)
{
	free(parser);
}

static const struct paddock_driver_ops hello_ops = {
	.size = sizeof(struct paddock_driver_ops),
	.create = hello_create,
	.destroy = hello_destroy,
	.credential_types = hello_credential_types,
	.validate = hello_validate,
	.credentials = hello_credentials,
	.entrypoint = hello_entrypoint,
	.parser_new = hello_parser_new,
	.parser_line = hello_parser_line,
	.parser_finish = hello_parser_finish,
	.parser_free = hello_parser_free,
};

static const struct paddock_plugin hello_plugin = {
	PADDOCK_PLUGIN_HEADER(PADDOCK_KIND_DRIVER),
	.name = "hello",
	.version = "0.1.0",
	.description = "example out-of-tree driver: echoes the prompt",
	.license = "MIT",
	.ops = &hello_ops,
	.ops_size = sizeof(hello_ops),
};

PADDOCK_PLUGIN(hello_plugin)

/* SPDX-License-Identifier: MIT */
/*
 * codex - drives OpenAI's Codex CLI (`codex exec --json`).
 * Credentials: api-key -> CODEX_API_KEY (codex does not send
 * OPENAI_API_KEY); oauth -> $CODEX_HOME/auth.json (a secret file, 0600).
 * Settings: bin; baseURL (a custom "paddock" provider speaking the
 * Responses API, because codex ignores OPENAI_BASE_URL); maxRetries (that
 * provider's request/stream retries, and unbounded reconnects off).
 *
 * Home files: ~/.codex/config.toml (updates, analytics and plugins off;
 * the provider when baseURL is set).
 *
 * Stream: thread.started, turn.started, item.* (agent_message items carry
 * the text), then turn.completed {usage} or turn.failed {error}; "error"
 * events carry retries and fatal errors.
 */
#include "config.h"
#include "../common/drv.h"
#include "../common/render.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DRIVER_NAME "codex"

static const char *const codex_efforts[] = { "none", "minimal", "low", "medium", "high", "xhigh",
					     NULL };

/* An API key is a bearer token to the Responses API.  ChatGPT sign-in
 * (oauth) is not routed: codex reads auth.json, refreshes the tokens in
 * it and writes it back, so the file must hold the real tokens (the
 * documented exception; the file is removed when the run ends). */
static bool codex_route(const struct drv *d, const struct paddock_task_view *t,
			struct drv_route *r)
{
	if (strcmp(drv_cred_type(t), "api-key") != 0)
		return false;
	r->upstream = drv_upstream(d, "https://api.openai.com/v1");
	r->header = "Authorization";
	r->prefix = "Bearer ";
	r->env = "CODEX_API_KEY";
	return true;
}

static int codex_credentials(struct drv *d, const struct paddock_task_view *t,
			     const struct paddock_plan_builder *plan, bool routed, char *err,
			     size_t errlen)
{
	(void)d;
	const char *type = drv_cred_type(t);
	if (routed)
		return 0;
	if (strcmp(type, "api-key") == 0)
		return drv_env_secret(t, plan, "CODEX_API_KEY", err, errlen);
	if (strcmp(type, "oauth") == 0) {
		const char *key = t->credentials_key && *t->credentials_key ? t->credentials_key
									    : "oauthToken";
		int rc = plan->add_secret_file(plan->ctx, PADDOCK_ROOT_HOME, ".codex/auth.json",
					       t->credentials_secret, key, 0600);
		if (rc < 0)
			return drv_errf(err, errlen, rc,
					"spec.credentials: cannot reference Secret \"%s\" key \"%s\" as ~/.codex/auth.json",
					t->credentials_secret, key);
	}
	return 0;
}

static int codex_entrypoint(struct drv *d, const struct paddock_task_view *t,
			    const struct paddock_plan_builder *plan, char *err, size_t errlen)
{
	long retries = -1;
	int rc = drv_setting_long(d, "maxRetries", 0, 100, &retries, err, errlen);
	if (rc < 0)
		return rc;
	const char *url = drv_base_url(d, t, plan);
	char toml[4096];
	int n = snprintf(toml, sizeof(toml),
			 "# Written by the paddock codex driver for this run.\n"
			 "check_for_update_on_startup = false\n"
			 "%s"
			 "\n[analytics]\nenabled = false\n"
			 /* shell_snapshot: codex dumps the whole environment,
			  * CODEX_API_KEY included, into ~/.codex/shell_snapshots/
			  * (0644), and leaves it behind when it exits early or is
			  * killed: the key would outlive the run on disk. */
			 "\n[features]\nplugins = false\nremote_plugin = false\napps = false\n"
			 "shell_snapshot = false\n"
			 "%s",
			 url ? "model_provider = \"paddock\"\n" : "",
			 retries >= 0 ? "unbounded_connection_retries = false\n" : "");
	if (n > 0 && (size_t)n < sizeof(toml) && url) {
		/* The URL was checked by validate: no quotes, backslashes or spaces. */
		const char *type = drv_cred_type(t);
		char env_key[64] = "";
		if (strcmp(type, "api-key") == 0)
			snprintf(env_key, sizeof(env_key), "env_key = \"CODEX_API_KEY\"\n");
		int m = snprintf(toml + n, sizeof(toml) - (size_t)n,
				 "\n[model_providers.paddock]\n"
				 "name = \"paddock\"\n"
				 "base_url = \"%s\"\n"
				 "wire_api = \"responses\"\n"
				 "%s%s",
				 url, env_key,
				 strcmp(type, "oauth") == 0 ? "requires_openai_auth = true\n" : "");
		n = m < 0 ? m : n + m;
		if (n > 0 && (size_t)n < sizeof(toml) && retries >= 0) {
			m = snprintf(toml + n, sizeof(toml) - (size_t)n,
				     "request_max_retries = %ld\nstream_max_retries = %ld\n", retries,
				     retries);
			n = m < 0 ? m : n + m;
		}
	}
	if (n < 0 || (size_t)n >= sizeof(toml))
		return drv_errf(err, errlen, -E2BIG, "drivers.codex.settings.baseURL: too long");
	rc = plan->add_file(plan->ctx, PADDOCK_ROOT_HOME, ".codex/config.toml", toml, (size_t)n,
			    0600);
	if (rc < 0)
		return drv_errf(err, errlen, rc, "entrypoint: cannot add ~/.codex/config.toml");
	return 0;
}

/* codex's error texts look like "unexpected status 401 Unauthorized: ...". */
static int status_in(const char *msg)
{
	const char *s = msg ? strstr(msg, "status ") : NULL;
	if (!s)
		return 0;
	long v = strtol(s + 7, NULL, 10);
	return v >= 100 && v <= 599 ? (int)v : 0;
}

static void codex_line(struct drv_parser *p, struct json_object *o, const char *line, size_t len)
{
	(void)line;
	(void)len;
	const char *type = drv_jstr(o, "type");
	if (!type)
		return;
	if (strcmp(type, "item.completed") == 0) {
		const char *it = drv_jstr(o, "item.type");
		const char *txt = drv_jstr(o, "item.text");
		if (it && strcmp(it, "agent_message") == 0 && txt)
			drv_copy(p->result, sizeof(p->result), txt, strlen(txt));
		else if (it && strcmp(it, "error") == 0 && drv_jstr(o, "item.message"))
			drv_copy(p->last_raw, sizeof(p->last_raw), drv_jstr(o, "item.message"),
				 strlen(drv_jstr(o, "item.message")));
	} else if (strcmp(type, "turn.completed") == 0) {
		p->saw_final = true;
		p->input_tokens = drv_count_add(p->input_tokens, drv_jcount(o, "usage.input_tokens"));
		p->output_tokens = drv_count_add(p->output_tokens, drv_jcount(o, "usage.output_tokens"));
	} else if (strcmp(type, "turn.failed") == 0) {
		p->saw_final = true;
		const char *msg = drv_jstr(o, "error.message");
		drv_fail(p, status_in(msg), msg ? msg : "codex reported turn.failed");
	} else if (strcmp(type, "error") == 0) {
		/* Also sent for retries ("Reconnecting... 1/5"): a hint, not a verdict. */
		const char *msg = drv_jstr(o, "message");
		if (msg)
			drv_copy(p->last_raw, sizeof(p->last_raw), msg, strlen(msg));
	}
}

static const struct drv_spec codex_spec = {
	.name = DRIVER_NAME,
	.cli = "codex",
	.default_bin = "codex",
	.cred_types = PADDOCK_CRED_NONE | PADDOCK_CRED_API_KEY | PADDOCK_CRED_OAUTH,
	.efforts = codex_efforts,
	.json = true,
	.credentials = codex_credentials,
	.route = codex_route,
	.entrypoint = codex_entrypoint,
	.line = codex_line,
	.render = &drv_render_codex,
};

DRV_DECLARE(codex_spec, DRIVER_NAME, codex_desc, codex_ops, "OpenAI Codex CLI (codex exec --json)")

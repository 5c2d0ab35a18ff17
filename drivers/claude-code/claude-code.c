/* SPDX-License-Identifier: MIT */
/*
 * claude-code - drives Anthropic's Claude Code CLI (`claude -p`) with
 * --output-format stream-json.  Credentials: api-key -> ANTHROPIC_API_KEY,
 * oauth -> CLAUDE_CODE_OAUTH_TOKEN; where the host routes credentials
 * (ABI 1.1), those hold a placeholder and ANTHROPIC_BASE_URL the proxy's
 * endpoint, which sends the key as x-api-key (the token as a bearer
 * token) to the baseURL setting or api.anthropic.com.  Settings: bin,
 * baseURL (ANTHROPIC_BASE_URL), maxRetries (CLAUDE_CODE_MAX_RETRIES).
 *
 * Stream: {"type":"system","subtype":"init"...}, "assistant"/"user"
 * messages, then exactly one {"type":"result",...} with is_error,
 * api_error_status, result, total_cost_usd and usage.
 */
#include "config.h"
#include "../common/drv.h"
#include "../common/render.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#define DRIVER_NAME "claude-code"

static const char *const claude_efforts[] = { "low", "medium", "high", "xhigh", "max", NULL };

/* An API key goes in x-api-key, an OAuth token as a bearer token, both
 * to the Anthropic API (or the baseURL setting). */
static bool claude_route(const struct drv *d, const struct paddock_task_view *t,
			 struct drv_route *r)
{
	bool oauth = strcmp(drv_cred_type(t), "oauth") == 0;
	r->upstream = drv_upstream(d, "https://api.anthropic.com");
	r->header = oauth ? "Authorization" : "x-api-key";
	r->prefix = oauth ? "Bearer " : "";
	return true;
}

static int claude_entrypoint(struct drv *d, const struct paddock_task_view *t,
			     const struct paddock_plan_builder *plan, char *err, size_t errlen)
{
	/* IS_SANDBOX: --dangerously-skip-permissions refuses to run as root
	 * otherwise, and the run is sandboxed by Paddock. */
	static const char *const fixed[][2] = {
		{ "IS_SANDBOX", "1" },
		{ "DISABLE_AUTOUPDATER", "1" },
		{ "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1" },
	};
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < sizeof(fixed) / sizeof(fixed[0]); i++)
		rc = drv_env(plan, fixed[i][0], fixed[i][1], err, errlen);
	const char *url = drv_base_url(d, t, plan);
	if (rc == 0 && url)
		rc = drv_env(plan, "ANTHROPIC_BASE_URL", url, err, errlen);
	const char *retries = drv_setting(d, "maxRetries");
	if (rc == 0 && retries)
		rc = drv_env(plan, "CLAUDE_CODE_MAX_RETRIES", retries, err, errlen);
	return rc;
}

static void claude_line(struct drv_parser *p, struct json_object *o, const char *line, size_t len)
{
	(void)line;
	(void)len;
	const char *type = drv_jstr(o, "type");
	if (!type)
		return;
	if (strcmp(type, "assistant") == 0) {
		struct json_object *content = drv_jpath(o, "message.content");
		if (!json_object_is_type(content, json_type_array))
			return;
		bool reset = false;
		size_t n = json_object_array_length(content);
		for (size_t i = 0; i < n; i++) {
			struct json_object *b = json_object_array_get_idx(content, i);
			const char *bt = drv_jstr(b, "type");
			const char *txt = drv_jstr(b, "text");
			if (bt && strcmp(bt, "text") == 0 && txt) {
				if (!reset) {
					drv_text_reset(p);
					reset = true;
				}
				drv_text_append(p, txt, strlen(txt));
			}
		}
		return;
	}
	if (strcmp(type, "result") != 0)
		return;
	p->saw_final = true;
	int64_t in = drv_jcount(o, "usage.input_tokens");
	if (in >= 0) {
		in = drv_count_add(in, drv_jcount(o, "usage.cache_creation_input_tokens"));
		in = drv_count_add(in, drv_jcount(o, "usage.cache_read_input_tokens"));
		p->input_tokens = in;
	}
	int64_t out = drv_jcount(o, "usage.output_tokens");
	if (out >= 0)
		p->output_tokens = out;
	double cost = drv_jcost(o, "total_cost_usd");
	if (cost >= 0)
		p->cost_usd = cost;
	const char *res = drv_jstr(o, "result");
	const char *sub = drv_jstr(o, "subtype");
	bool is_error = drv_jbool(o, "is_error", false) || (sub && strcmp(sub, "success") != 0);
	if (!is_error) {
		if (res)
			drv_copy(p->result, sizeof(p->result), res, strlen(res));
		return;
	}
	int status = (int)drv_jint(o, "api_error_status", 0);
	char msg[1024];
	if (res && *res)
		snprintf(msg, sizeof(msg), "%s", res);
	else if (sub && strcmp(sub, "error_max_turns") == 0)
		snprintf(msg, sizeof(msg), "claude stopped at its maximum number of turns");
	else
		snprintf(msg, sizeof(msg), "claude reported %s", sub ? sub : "an error");
	drv_fail(p, status, msg);
}

static const struct drv_spec claude_spec = {
	.name = DRIVER_NAME,
	.cli = "claude",
	.default_bin = "claude",
	.cred_types = PADDOCK_CRED_NONE | PADDOCK_CRED_API_KEY | PADDOCK_CRED_OAUTH,
	.efforts = claude_efforts,
	.api_key_env = "ANTHROPIC_API_KEY",
	.oauth_env = "CLAUDE_CODE_OAUTH_TOKEN",
	.json = true,
	.entrypoint = claude_entrypoint,
	.route = claude_route,
	.line = claude_line,
	.render = &drv_render_claude,
};

DRV_DECLARE(claude_spec, DRIVER_NAME, claude_desc, claude_ops,
	    "Claude Code (claude -p, stream-json)")

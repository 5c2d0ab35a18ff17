/* SPDX-License-Identifier: MIT */
/*
 * gemini - drives Google's Gemini CLI (`gemini -p ... --yolo -o stream-json`).
 * Credentials: api-key -> GEMINI_API_KEY (sent as x-goog-api-key);
 * oauth -> GEMINI_API_KEY with GEMINI_API_KEY_AUTH_MECHANISM=bearer (an
 * access token sent as "Authorization: Bearer").  Settings: bin, baseURL
 * (GOOGLE_GEMINI_BASE_URL), maxRetries (general.maxAttempts - 1, and no
 * retry of fetch errors).
 *
 * Home files: ~/.gemini/settings.json: auth type gemini-api-key (a base
 * URL alone makes gemini pick an auth type it then refuses headless),
 * telemetry, usage statistics and auto-update off.
 *
 * Stream: init, message (assistant deltas), tool_use, tool_result, error,
 * then {"type":"result","status":"success"|"error","stats":{...}}.
 * Errors before the stream starts are one JSON object
 * {"error":{"type","message","code"}} on stderr; gemini exits with
 * code & 0xff, so an HTTP 401 exits 145.
 */
#include "config.h"
#include "../common/drv.h"
#include "../common/render.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#define DRIVER_NAME "gemini"

/* An API key goes in x-goog-api-key, an access token as a bearer token. */
static bool gemini_route(const struct drv *d, const struct paddock_task_view *t,
			 struct drv_route *r)
{
	bool oauth = strcmp(drv_cred_type(t), "oauth") == 0;
	r->upstream = drv_upstream(d, "https://generativelanguage.googleapis.com");
	r->header = oauth ? "Authorization" : "x-goog-api-key";
	r->prefix = oauth ? "Bearer " : "";
	r->env = "GEMINI_API_KEY";
	return true;
}

static int gemini_credentials(struct drv *d, const struct paddock_task_view *t,
			      const struct paddock_plan_builder *plan, bool routed, char *err,
			      size_t errlen)
{
	(void)d;
	const char *type = drv_cred_type(t);
	if (strcmp(type, "none") == 0)
		return 0;
	int rc = routed ? 0 : drv_env_secret(t, plan, "GEMINI_API_KEY", err, errlen);
	if (rc == 0 && strcmp(type, "oauth") == 0)
		rc = drv_env(plan, "GEMINI_API_KEY_AUTH_MECHANISM", "bearer", err, errlen);
	return rc;
}

static int gemini_entrypoint(struct drv *d, const struct paddock_task_view *t,
			     const struct paddock_plan_builder *plan, char *err, size_t errlen)
{
	(void)t;
	long retries = -1;
	int rc = drv_setting_long(d, "maxRetries", 0, 100, &retries, err, errlen);
	if (rc < 0)
		return rc;
	char general[160];
	if (retries >= 0)
		snprintf(general, sizeof(general),
			 ",\"maxAttempts\":%ld,\"retryFetchErrors\":false", retries + 1);
	else
		general[0] = '\0';
	char json[1024];
	int n = snprintf(json, sizeof(json),
			 "{\"security\":{\"auth\":{\"selectedType\":\"gemini-api-key\"}},"
			 "\"privacy\":{\"usageStatisticsEnabled\":false},"
			 "\"telemetry\":{\"enabled\":false},"
			 "\"general\":{\"enableAutoUpdate\":false,\"enableAutoUpdateNotification\":false%s}}\n",
			 general);
	if (n < 0 || (size_t)n >= sizeof(json))
		return drv_errf(err, errlen, -E2BIG, "entrypoint: gemini settings too long");
	rc = plan->add_file(plan->ctx, PADDOCK_ROOT_HOME, ".gemini/settings.json", json, (size_t)n,
			    0600);
	if (rc < 0)
		return drv_errf(err, errlen, rc, "entrypoint: cannot add ~/.gemini/settings.json");
	rc = drv_env(plan, "GEMINI_CLI_TRUST_WORKSPACE", "true", err, errlen);
	const char *url = drv_base_url(d, t, plan);
	if (rc == 0 && url)
		rc = drv_env(plan, "GOOGLE_GEMINI_BASE_URL", url, err, errlen);
	return rc;
}

/* An API error's message often embeds the server's JSON body, e.g.
 * "[API Error: {\"error\":{\"code\":401,\"message\":\"...\"}}]". */
static void gemini_error(struct drv_parser *p, struct json_object *e)
{
	const char *msg = drv_jstr(e, "message");
	int code = (int)drv_jint(e, "code", 0);
	char buf[1024] = "";
	const char *brace = msg ? strchr(msg, '{') : NULL;
	if (brace) {
		struct json_tokener *tok = json_tokener_new_ex(DRV_JSON_DEPTH);
		struct json_object *inner =
			tok ? json_tokener_parse_ex(tok, brace, (int)strnlen(brace, 65536)) : NULL;
		const char *im = drv_jstr(inner, "error.message");
		int ic = (int)drv_jint(inner, "error.code", 0);
		if (im)
			snprintf(buf, sizeof(buf), "%s", im);
		if (ic && !code)
			code = ic;
		json_object_put(inner);
		if (tok)
			json_tokener_free(tok);
	}
	if (!buf[0])
		snprintf(buf, sizeof(buf), "%s", msg ? msg : "gemini reported an error");
	drv_fail(p, code >= 100 && code <= 599 ? code : 0, buf);
}

static void gemini_line(struct drv_parser *p, struct json_object *o, const char *line, size_t len)
{
	(void)line;
	(void)len;
	if (!o)
		return;
	const char *type = drv_jstr(o, "type");
	if (!type) {
		struct json_object *e = drv_jget(o, "error");
		if (e && json_object_is_type(e, json_type_object))
			gemini_error(p, e);
		return;
	}
	if (strcmp(type, "message") == 0) {
		const char *role = drv_jstr(o, "role");
		const char *c = drv_jstr(o, "content");
		if (role && strcmp(role, "assistant") == 0 && c) {
			if (!drv_jbool(o, "delta", false))
				drv_text_reset(p);
			drv_text_append(p, c, strlen(c));
		}
	} else if (strcmp(type, "tool_use") == 0 || strcmp(type, "tool_result") == 0) {
		/* The result is what the model said after its last tool call. */
		drv_text_reset(p);
	} else if (strcmp(type, "error") == 0) {
		const char *sev = drv_jstr(o, "severity");
		const char *msg = drv_jstr(o, "message");
		if (sev && strcmp(sev, "error") == 0)
			drv_fail(p, 0, msg);
		else if (msg)
			drv_copy(p->last_raw, sizeof(p->last_raw), msg, strlen(msg));
	} else if (strcmp(type, "result") == 0) {
		p->saw_final = true;
		int64_t in = drv_jcount(o, "stats.input_tokens"), out = drv_jcount(o, "stats.output_tokens");
		if (in >= 0)
			p->input_tokens = in;
		if (out >= 0)
			p->output_tokens = out;
		const char *status = drv_jstr(o, "status");
		if (status && strcmp(status, "success") != 0) {
			struct json_object *e = drv_jget(o, "error");
			if (e)
				gemini_error(p, e);
			else
				drv_fail(p, 0, "gemini reported status error");
		}
	}
}

static void gemini_finish(struct drv_parser *p, int exit_code, struct paddock_run_result *out)
{
	/* gemini calls process.exit(401) on an authentication error: 145. */
	if (exit_code == (401 & 0xff) && !p->auth_failed) {
		char why[1024];
		snprintf(why, sizeof(why), "%s",
			 p->error[0] ? p->error : "the model server refused the credentials (gemini exit status 145)");
		p->error[0] = '\0';
		drv_fail(p, 401, why);
	} else if (exit_code == 41 && !p->failed) {
		drv_fail(p, 0, "gemini: authentication is not configured (exit status 41): check spec.credentials");
	} else if (exit_code == 55 && !p->failed) {
		drv_fail(p, 0, "gemini: the workspace is not trusted (exit status 55)");
	}
	drv_finish_common(p, exit_code, out);
}

static const struct drv_spec gemini_spec = {
	.name = DRIVER_NAME,
	.cli = "gemini",
	.default_bin = "gemini",
	.cred_types = PADDOCK_CRED_NONE | PADDOCK_CRED_API_KEY | PADDOCK_CRED_OAUTH,
	.efforts = NULL,
	.json = true,
	.credentials = gemini_credentials,
	.route = gemini_route,
	.entrypoint = gemini_entrypoint,
	.line = gemini_line,
	.finish = gemini_finish,
	.render = &drv_render_gemini,
};

DRV_DECLARE(gemini_spec, DRIVER_NAME, gemini_desc, gemini_ops, "Gemini CLI (gemini -p, stream-json)")

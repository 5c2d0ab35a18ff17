/* SPDX-License-Identifier: MIT */
/*
 * opencode - drives OpenCode (`opencode run --format json`).
 *
 * Credentials: the Secret is exposed as the provider's own key variable,
 * chosen by the model's "provider/" prefix (table below); a provider that
 * is not in the table is reached through drivers.opencode.settings.baseURL
 * as an OpenAI-compatible gateway and gets OPENCODE_API_KEY, which the
 * generated config references as {env:OPENCODE_API_KEY}.
 * Settings: bin, baseURL (the provider's options.baseURL).
 *
 * Home files: ~/.config/opencode/opencode.json (autoupdate off, sharing
 * disabled, the provider's baseURL).
 *
 * Stream: step_start, tool_use, text {part.text}, step_finish {part.tokens,
 * part.cost, part.reason}, error {error.name, error.data.message,
 * error.data.statusCode}.  There is no final "result" event: the last
 * step_finish whose reason is not "tool-calls" ends a finished run.
 */
#include "config.h"
#include "../common/drv.h"
#include "../common/render.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#define DRIVER_NAME "opencode"

static const char *const opencode_efforts[] = { "minimal", "low", "medium", "high", "xhigh", "max",
						NULL };

/* provider prefix -> the variable opencode (the AI SDK) reads its key
 * from, the provider's default base URL and the header its key goes in
 * (NULL: "Authorization: Bearer"). */
static const struct provider {
	const char *name, *env, *url, *header;
} providers[] = {
	{ "anthropic", "ANTHROPIC_API_KEY", "https://api.anthropic.com/v1", "x-api-key" },
	{ "openai", "OPENAI_API_KEY", "https://api.openai.com/v1", NULL },
	{ "google", "GOOGLE_GENERATIVE_AI_API_KEY", "https://generativelanguage.googleapis.com/v1beta",
	  "x-goog-api-key" },
	{ "opencode", "OPENCODE_API_KEY", "https://opencode.ai/zen/v1", NULL },
	{ "openrouter", "OPENROUTER_API_KEY", "https://openrouter.ai/api/v1", NULL },
	{ "groq", "GROQ_API_KEY", "https://api.groq.com/openai/v1", NULL },
	{ "mistral", "MISTRAL_API_KEY", "https://api.mistral.ai/v1", NULL },
	{ "xai", "XAI_API_KEY", "https://api.x.ai/v1", NULL },
	{ "deepseek", "DEEPSEEK_API_KEY", "https://api.deepseek.com/v1", NULL },
	{ "togetherai", "TOGETHER_AI_API_KEY", "https://api.together.xyz/v1", NULL },
	{ "fireworks-ai", "FIREWORKS_API_KEY", "https://api.fireworks.ai/inference/v1", NULL },
	{ "cerebras", "CEREBRAS_API_KEY", "https://api.cerebras.ai/v1", NULL },
};

static const struct provider *provider_named(const char *name)
{
	for (size_t i = 0; i < sizeof(providers) / sizeof(providers[0]); i++)
		if (strcmp(providers[i].name, name) == 0)
			return &providers[i];
	return NULL;
}

/* The provider part of "provider/model" into buf; false if there is none. */
static bool provider_of(const char *model, char *buf, size_t n)
{
	const char *slash = model ? strchr(model, '/') : NULL;
	if (!slash || slash == model || !slash[1] || (size_t)(slash - model) >= n)
		return false;
	memcpy(buf, model, (size_t)(slash - model));
	buf[slash - model] = '\0';
	return true;
}

static const char *key_env_of(const char *provider)
{
	const struct provider *p = provider_named(provider);
	return p ? p->env : NULL;
}

static int opencode_validate(struct drv *d, const struct paddock_task_view *t, char *err,
			     size_t errlen)
{
	char prov[64];
	const char *type = drv_cred_type(t);
	if (!t->model || !*t->model) {
		if (strcmp(type, "none") != 0)
			return drv_errf(err, errlen, -EINVAL,
					"spec.model: required for driver opencode with credentials type %s: "
					"use provider/model (e.g. anthropic/claude-sonnet-4-5); the prefix picks the key variable",
					type);
		return 0;
	}
	if (!provider_of(t->model, prov, sizeof(prov)))
		return drv_errf(err, errlen, -EINVAL,
				"spec.model: invalid value \"%.64s\" for driver opencode: use provider/model, "
				"e.g. anthropic/claude-sonnet-4-5",
				t->model);
	if (strpbrk(t->model, "\"\\{}"))
		return drv_errf(err, errlen, -EINVAL,
				"spec.model: invalid value \"%.64s\" for driver opencode: quotes, backslashes and braces are not allowed",
				t->model);
	if (!key_env_of(prov) && !drv_setting(d, "baseURL"))
		return drv_errf(err, errlen, -EINVAL,
				"spec.model: unknown provider \"%s\" for driver opencode: use anthropic/, openai/, "
				"google/, opencode/, openrouter/, groq/, mistral/, xai/, deepseek/, togetherai/, "
				"fireworks-ai/ or cerebras/, or set drivers.opencode.settings.baseURL for an "
				"OpenAI-compatible gateway",
				prov);
	return 0;
}

/* The model's provider: its key to the baseURL setting (a gateway: as a
 * bearer token) or to the provider's own API. */
static bool opencode_route(const struct drv *d, const struct paddock_task_view *t,
			   struct drv_route *r)
{
	char prov[64];
	if (!t->model || !provider_of(t->model, prov, sizeof(prov)))
		return false;
	const struct provider *p = provider_named(prov);
	if (!p && !drv_setting(d, "baseURL"))
		return false;
	r->upstream = drv_upstream(d, p ? p->url : NULL);
	r->header = p && p->header ? p->header : "Authorization";
	r->prefix = p && p->header ? "" : "Bearer ";
	r->env = p ? p->env : "OPENCODE_API_KEY";
	return true;
}

static int opencode_credentials(struct drv *d, const struct paddock_task_view *t,
				const struct paddock_plan_builder *plan, bool routed, char *err,
				size_t errlen)
{
	if (strcmp(drv_cred_type(t), "none") == 0 || routed)
		return 0;
	int rc = opencode_validate(d, t, err, errlen);
	if (rc < 0)
		return rc;
	char prov[64];
	provider_of(t->model, prov, sizeof(prov));
	const char *env = key_env_of(prov);
	return drv_env_secret(t, plan, env ? env : "OPENCODE_API_KEY", err, errlen);
}

static int add_config(struct drv *d, const struct paddock_task_view *t,
		      const struct paddock_plan_builder *plan, char *err, size_t errlen)
{
	struct json_object *root = json_object_new_object();
	json_object_object_add(root, "$schema", json_object_new_string("https://opencode.ai/config.json"));
	json_object_object_add(root, "autoupdate", json_object_new_boolean(0));
	json_object_object_add(root, "share", json_object_new_string("disabled"));
	char prov[64];
	const char *url = drv_base_url(d, t, plan);
	if (t->model && provider_of(t->model, prov, sizeof(prov))) {
		json_object_object_add(root, "model", json_object_new_string(t->model));
		/* Titles and summaries use the same model: no second provider. */
		json_object_object_add(root, "small_model", json_object_new_string(t->model));
		if (url) {
			struct json_object *p = json_object_new_object();
			struct json_object *opts = json_object_new_object();
			json_object_object_add(opts, "baseURL", json_object_new_string(url));
			if (!key_env_of(prov)) {
				/* A gateway: OpenAI-compatible chat completions. */
				json_object_object_add(p, "npm", json_object_new_string("@ai-sdk/openai-compatible"));
				json_object_object_add(p, "name", json_object_new_string(prov));
				if (strcmp(drv_cred_type(t), "none") != 0)
					json_object_object_add(opts, "apiKey",
							       json_object_new_string("{env:OPENCODE_API_KEY}"));
				else
					json_object_object_add(opts, "apiKey", json_object_new_string("none"));
				struct json_object *models = json_object_new_object();
				struct json_object *m = json_object_new_object();
				const char *mname = strchr(t->model, '/') + 1;
				json_object_object_add(m, "name", json_object_new_string(mname));
				json_object_object_add(m, "tool_call", json_object_new_boolean(1));
				json_object_object_add(models, mname, m);
				json_object_object_add(p, "models", models);
			}
			json_object_object_add(p, "options", opts);
			struct json_object *provs = json_object_new_object();
			json_object_object_add(provs, prov, p);
			json_object_object_add(root, "provider", provs);
		}
	}
	const char *s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
							     JSON_C_TO_STRING_NOSLASHESCAPE);
	int rc = plan->add_file(plan->ctx, PADDOCK_ROOT_HOME, ".config/opencode/opencode.json", s,
				strlen(s), 0600);
	json_object_put(root);
	if (rc < 0)
		return drv_errf(err, errlen, rc, "entrypoint: cannot add ~/.config/opencode/opencode.json");
	return 0;
}

static int opencode_entrypoint(struct drv *d, const struct paddock_task_view *t,
			       const struct paddock_plan_builder *plan, char *err, size_t errlen)
{
	int rc = opencode_validate(d, t, err, errlen);
	if (rc == 0)
		rc = drv_env(plan, "OPENCODE_DISABLE_AUTOUPDATE", "1", err, errlen);
	if (rc == 0)
		rc = drv_env(plan, "OPENCODE_DISABLE_MODELS_FETCH", "1", err, errlen);
	if (rc == 0)
		rc = add_config(d, t, plan, err, errlen);
	return rc;
}

static void opencode_line(struct drv_parser *p, struct json_object *o, const char *line, size_t len)
{
	(void)line;
	(void)len;
	const char *type = drv_jstr(o, "type");
	if (!type)
		return;
	if (strcmp(type, "text") == 0) {
		const char *txt = drv_jstr(o, "part.text");
		if (txt) {
			drv_text_reset(p);
			drv_text_append(p, txt, strlen(txt));
		}
	} else if (strcmp(type, "step_start") == 0) {
		p->saw_final = false;
	} else if (strcmp(type, "step_finish") == 0) {
		int64_t in = drv_jcount(o, "part.tokens.input");
		int64_t out = drv_jcount(o, "part.tokens.output");
		if (in >= 0) {
			in = drv_count_add(in, drv_jcount(o, "part.tokens.cache.read"));
			in = drv_count_add(in, drv_jcount(o, "part.tokens.cache.write"));
			p->input_tokens = drv_count_add(p->input_tokens, in);
		}
		if (out >= 0) {
			out = drv_count_add(out, drv_jcount(o, "part.tokens.reasoning"));
			p->output_tokens = drv_count_add(p->output_tokens, out);
		}
		double c = drv_jcost(o, "part.cost");
		if (c >= 0)
			p->cost_usd = (p->cost_usd < 0 ? 0 : p->cost_usd) + c;
		const char *reason = drv_jstr(o, "part.reason");
		p->saw_final = !reason || strcmp(reason, "tool-calls") != 0;
	} else if (strcmp(type, "error") == 0) {
		const char *msg = drv_jstr(o, "error.data.message");
		const char *name = drv_jstr(o, "error.name");
		int status = (int)drv_jint(o, "error.data.statusCode", 0);
		char buf[1024];
		snprintf(buf, sizeof(buf), "%s%s%s", name ? name : "", name && msg ? ": " : "",
			 msg ? msg : (name ? "" : "opencode reported an error"));
		drv_fail(p, status, buf);
	}
}

static const struct drv_spec opencode_spec = {
	.name = DRIVER_NAME,
	.cli = "opencode",
	.default_bin = "opencode",
	.cred_types = PADDOCK_CRED_NONE | PADDOCK_CRED_API_KEY | PADDOCK_CRED_OAUTH,
	.efforts = opencode_efforts,
	.json = true,
	.validate = opencode_validate,
	.credentials = opencode_credentials,
	.route = opencode_route,
	.entrypoint = opencode_entrypoint,
	.line = opencode_line,
	.render = &drv_render_opencode,
};

DRV_DECLARE(opencode_spec, DRIVER_NAME, opencode_desc, opencode_ops,
	    "OpenCode (opencode run --format json)")

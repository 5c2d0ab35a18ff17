/* SPDX-License-Identifier: MIT */
/*
 * test_drivers - the five driver plugins as the core sees them: loaded
 * from the build tree with dlopen, their descriptors, validation
 * refusals (with the valid choices), credential mapping into a real
 * run_plan (secret references only, never values), the entrypoint plan,
 * and the stream parsers over streams recorded from the real CLIs
 * (tests/data/streams/, recorded by tests/e2e/test-entrypoints.sh --record).
 */
#include "config.h"
#include "control/plan.h"

#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NSET 8

struct drvh {
	void *dl;
	const struct paddock_plugin *desc;
	const struct paddock_driver_ops *ops;
	void *inst;
	struct paddock_host host;
	const char *set_k[NSET];
	const char *set_v[NSET];
	size_t nset;
	const char *fields[2]; /* agent_field "command" */
};

static const char *h_config_get(void *ctx, const char *key)
{
	struct drvh *h = ctx;
	for (size_t i = 0; i < h->nset; i++)
		if (strcmp(h->set_k[i], key) == 0)
			return h->set_v[i];
	return NULL;
}

static void h_log(void *ctx, int level, const char *fmt, ...)
{
	(void)ctx;
	(void)level;
	(void)fmt;
}

static void h_free(void *ctx, void *p)
{
	(void)ctx;
	free(p);
}

static void *load_so(const char *name, const struct paddock_plugin **desc)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/drivers/.libs/%s.so", TOP_BUILDDIR, name);
	void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	ck_assert_msg(dl != NULL, "dlopen %s: %s", path, dlerror());
	paddock_plugin_entry_fn fn = (paddock_plugin_entry_fn)dlsym(dl, PADDOCK_ENTRY_SYMBOL);
	ck_assert_msg(fn != NULL, "%s: no %s", path, PADDOCK_ENTRY_SYMBOL);
	*desc = fn();
	ck_assert_ptr_nonnull(*desc);
	return dl;
}

/* Open driver `name` with settings "k=v" (NULL-terminated). */
static struct drvh *drv_open(const char *name, const char *const *settings)
{
	struct drvh *h = calloc(1, sizeof(*h));
	h->dl = load_so(name, &h->desc);
	h->ops = h->desc->ops;
	for (size_t i = 0; settings && settings[i] && i < NSET; i += 2) {
		h->set_k[h->nset] = settings[i];
		h->set_v[h->nset++] = settings[i + 1];
	}
	h->host = (struct paddock_host){ .size = sizeof(h->host), .abi_major = PADDOCK_ABI_MAJOR,
					 .abi_minor = PADDOCK_ABI_MINOR, .ctx = h, .log = h_log,
					 .config_get = h_config_get, .free = h_free };
	char err[256] = "";
	ck_assert_msg(h->ops->create(&h->host, &h->inst, err, sizeof(err)) == 0, "create: %s", err);
	return h;
}

static void drv_close(struct drvh *h)
{
	h->ops->destroy(h->inst);
	/* No dlclose: other tests in this process reuse the mapping. */
	free(h);
}

static const char *g_command;
static const char *field_get(const struct paddock_task_view *self, const char *key)
{
	(void)self;
	return strcmp(key, "command") == 0 ? g_command : NULL;
}

static struct paddock_task_view task(const char *type, const char *cred, const char *model)
{
	struct paddock_task_view t = {
		.size = sizeof(t), .ns = "team", .name = "t1", .uid = "u1", .type = type,
		.prompt = "do it", .model = model, .credentials_type = cred,
		.credentials_secret = cred && strcmp(cred, "none") ? "llm" : NULL,
		.credentials_key = cred && !strcmp(cred, "oauth") ? "oauthToken" : "apiKey",
		.secret_ns = "team", .agent_field = field_get,
	};
	return t;
}

/* validate + credentials + entrypoint into `plan`; returns the first rc. */
static int plan_task(struct drvh *h, const struct paddock_task_view *t, struct run_plan *plan,
		     char *err, size_t errlen)
{
	plan_init(plan, "team", 0, 0);
	struct paddock_plan_builder b;
	plan_builder(plan, &b);
	int rc = h->ops->validate(h->inst, t, err, errlen);
	if (rc == 0)
		rc = h->ops->credentials(h->inst, t, &b, err, errlen);
	if (rc == 0)
		rc = h->ops->entrypoint(h->inst, t, &b, err, errlen);
	if (rc == 0 && plan->rc)
		rc = plan->rc;
	return rc;
}

static const struct plan_env *env_find(const struct run_plan *p, const char *name)
{
	for (size_t i = 0; i < p->n_env; i++)
		if (strcmp(p->env[i].name, name) == 0)
			return &p->env[i];
	return NULL;
}

static const struct plan_file *file_find(const struct run_plan *p, int root, const char *path)
{
	for (size_t i = 0; i < p->n_files; i++)
		if (p->files[i].root == root && strcmp(p->files[i].path, path) == 0)
			return &p->files[i];
	return NULL;
}

/* The env var is a reference to Secret llm/key, with no value. */
static void assert_secret_env(const struct run_plan *p, const char *name, const char *key)
{
	const struct plan_env *e = env_find(p, name);
	ck_assert_msg(e != NULL, "%s not in the plan", name);
	ck_assert_ptr_null(e->value);
	ck_assert_str_eq(e->secret_name, "llm");
	ck_assert_str_eq(e->secret_key, key);
}

static size_t n_secret_refs(const struct run_plan *p)
{
	size_t n = 0;
	for (size_t i = 0; i < p->n_env; i++)
		n += p->env[i].secret_name != NULL;
	for (size_t i = 0; i < p->n_files; i++)
		n += p->files[i].secret_name != NULL;
	return n;
}

static const char *const drivers[] = { "exec", "claude-code", "codex", "gemini", "opencode" };

/* ---- descriptors --------------------------------------------------- */

START_TEST(descriptor_is_well_formed)
{
	const char *name = drivers[_i];
	const struct paddock_plugin *d;
	load_so(name, &d);
	ck_assert_uint_eq(d->abi_major, PADDOCK_ABI_MAJOR);
	ck_assert_uint_le(d->abi_minor, PADDOCK_ABI_MINOR);
	ck_assert_uint_eq(d->size, sizeof(struct paddock_plugin));
	ck_assert_uint_eq(d->kind, PADDOCK_KIND_DRIVER);
	ck_assert_str_eq(d->name, name);
	ck_assert_str_eq(d->version, PACKAGE_VERSION);
	ck_assert_str_eq(d->license, "MIT");
	ck_assert_ptr_nonnull(d->description);
	ck_assert_uint_eq(d->ops_size, sizeof(struct paddock_driver_ops));
	const struct paddock_driver_ops *o = d->ops;
	ck_assert_uint_eq(o->size, sizeof(*o));
	ck_assert(o->create && o->destroy && o->credential_types && o->validate && o->credentials &&
		  o->entrypoint && o->parser_new && o->parser_line && o->parser_finish &&
		  o->parser_free);
	o->destroy(NULL);
	o->parser_free(NULL);
	struct drvh *h = drv_open(name, NULL);
	ck_assert_uint_eq(o->credential_types(h->inst),
			  PADDOCK_CRED_NONE | PADDOCK_CRED_API_KEY | PADDOCK_CRED_OAUTH);
	drv_close(h);
}
END_TEST

/* ---- credentials ----------------------------------------------------- */

struct cred_case {
	const char *driver, *type, *model, *env, *key;
};
static const struct cred_case cred_cases[] = {
	{ "exec", "api-key", NULL, "PADDOCK_API_KEY", "apiKey" },
	{ "exec", "oauth", NULL, "PADDOCK_OAUTH_TOKEN", "oauthToken" },
	{ "claude-code", "api-key", NULL, "ANTHROPIC_API_KEY", "apiKey" },
	{ "claude-code", "oauth", NULL, "CLAUDE_CODE_OAUTH_TOKEN", "oauthToken" },
	{ "codex", "api-key", NULL, "CODEX_API_KEY", "apiKey" },
	{ "gemini", "api-key", NULL, "GEMINI_API_KEY", "apiKey" },
	{ "gemini", "oauth", NULL, "GEMINI_API_KEY", "oauthToken" },
	{ "opencode", "api-key", "anthropic/claude-sonnet-4-5", "ANTHROPIC_API_KEY", "apiKey" },
	{ "opencode", "api-key", "openai/gpt-5.5", "OPENAI_API_KEY", "apiKey" },
	{ "opencode", "api-key", "google/gemini-2.5-pro", "GOOGLE_GENERATIVE_AI_API_KEY", "apiKey" },
	{ "opencode", "oauth", "opencode/big-pickle", "OPENCODE_API_KEY", "oauthToken" },
};

START_TEST(credentials_are_references)
{
	const struct cred_case *c = &cred_cases[_i];
	g_command = "true";
	struct drvh *h = drv_open(c->driver, NULL);
	struct paddock_task_view t = task(c->driver, c->type, c->model);
	struct run_plan p;
	char err[512] = "";
	ck_assert_msg(plan_task(h, &t, &p, err, sizeof(err)) == 0, "%s: %s", c->driver, err);
	assert_secret_env(&p, c->env, c->key);
	ck_assert_uint_eq(n_secret_refs(&p), 1);
	plan_free(&p);
	drv_close(h);
}
END_TEST

START_TEST(credentials_none_injects_nothing)
{
	g_command = "true";
	struct drvh *h = drv_open(drivers[_i], NULL);
	struct paddock_task_view t = task(drivers[_i], "none", NULL);
	struct run_plan p;
	char err[512] = "";
	ck_assert_msg(plan_task(h, &t, &p, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(n_secret_refs(&p), 0);
	plan_free(&p);
	drv_close(h);
}
END_TEST

START_TEST(codex_oauth_is_a_secret_file)
{
	struct drvh *h = drv_open("codex", NULL);
	struct paddock_task_view t = task("codex", "oauth", NULL);
	struct run_plan p;
	char err[512] = "";
	ck_assert_msg(plan_task(h, &t, &p, err, sizeof(err)) == 0, "%s", err);
	const struct plan_file *f = file_find(&p, PADDOCK_ROOT_HOME, ".codex/auth.json");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_null(f->data);
	ck_assert_str_eq(f->secret_name, "llm");
	ck_assert_str_eq(f->secret_key, "oauthToken");
	ck_assert_uint_eq(f->mode, 0600);
	ck_assert_ptr_null(env_find(&p, "CODEX_API_KEY"));
	ck_assert_uint_eq(n_secret_refs(&p), 1);
	plan_free(&p);
	drv_close(h);
}
END_TEST

START_TEST(opencode_gateway_uses_opencode_api_key)
{
	static const char *const set[] = { "baseURL", "http://127.0.0.1:9/v1", NULL };
	struct drvh *h = drv_open("opencode", set);
	struct paddock_task_view t = task("opencode", "api-key", "gw/some-model");
	struct run_plan p;
	char err[512] = "";
	ck_assert_msg(plan_task(h, &t, &p, err, sizeof(err)) == 0, "%s", err);
	assert_secret_env(&p, "OPENCODE_API_KEY", "apiKey");
	const struct plan_file *f = file_find(&p, PADDOCK_ROOT_HOME, ".config/opencode/opencode.json");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(strstr(f->data, "\"apiKey\":\"{env:OPENCODE_API_KEY}\""));
	ck_assert_ptr_nonnull(strstr(f->data, "\"baseURL\":\"http://127.0.0.1:9/v1\""));
	ck_assert_ptr_nonnull(strstr(f->data, "\"npm\":\"@ai-sdk/openai-compatible\""));
	ck_assert_ptr_nonnull(strstr(f->data, "\"autoupdate\":false"));
	ck_assert_ptr_nonnull(strstr(f->data, "\"share\":\"disabled\""));
	plan_free(&p);
	drv_close(h);
}
END_TEST

/* ---- validation refusals -------------------------------------------- */

struct refusal {
	const char *driver, *cred, *model, *effort, *setting, *value, *command, *msg;
};
static const struct refusal refusals[] = {
	{ "claude-code", "magic", NULL, NULL, NULL, NULL, NULL,
	  "spec.credentials.type: unsupported value \"magic\" for driver claude-code: use api-key, oauth or none" },
	{ "codex", NULL, NULL, "turbo", NULL, NULL, NULL,
	  "spec.effort: unsupported value \"turbo\" for driver codex: use none, minimal, low, medium, high or xhigh" },
	{ "claude-code", NULL, NULL, "extreme", NULL, NULL, NULL,
	  "spec.effort: unsupported value \"extreme\" for driver claude-code: use low, medium, high, xhigh or max" },
	{ "gemini", NULL, NULL, "high", NULL, NULL, NULL,
	  "spec.effort: driver gemini has no effort setting (got \"high\"): remove spec.effort" },
	{ "exec", NULL, NULL, NULL, NULL, NULL, NULL,
	  "spec.type exec: no command: set spec.command on the Agent or drivers.exec.settings.command in paddock.yaml" },
	{ "opencode", NULL, "claude-sonnet", NULL, NULL, NULL, NULL,
	  "spec.model: invalid value \"claude-sonnet\" for driver opencode: use provider/model, e.g. anthropic/claude-sonnet-4-5" },
	{ "opencode", "api-key", "acme/m1", NULL, NULL, NULL, NULL, "spec.model: unknown provider \"acme\"" },
	{ "opencode", "api-key", NULL, NULL, NULL, NULL, NULL, "spec.model: required for driver opencode" },
	{ "claude-code", NULL, "--help", NULL, NULL, NULL, NULL, "spec.model: invalid value \"--help\"" },
	{ "claude-code", NULL, NULL, NULL, "baseURL", "ftp://x", NULL,
	  "drivers.claude-code.settings.baseURL: invalid URL \"ftp://x\"" },
	{ "gemini", NULL, NULL, NULL, "maxRetries", "-1", NULL,
	  "drivers.gemini.settings.maxRetries: invalid value \"-1\": use an integer from 0 to 100" },
};

START_TEST(validation_refuses_with_choices)
{
	const struct refusal *r = &refusals[_i];
	const char *set[] = { r->setting, r->value, NULL };
	g_command = r->command;
	struct drvh *h = drv_open(r->driver, r->setting ? set : NULL);
	struct paddock_task_view t = task(r->driver, r->cred, r->model);
	t.effort = r->effort;
	if (r->cred && strcmp(r->cred, "magic") == 0)
		t.credentials_secret = "llm";
	char err[512] = "";
	int rc = h->ops->validate(h->inst, &t, err, sizeof(err));
	ck_assert_int_eq(rc, -EINVAL);
	ck_assert_msg(strncmp(err, r->msg, strlen(r->msg)) == 0, "got: %s\nwant: %s", err, r->msg);
	drv_close(h);
}
END_TEST

START_TEST(api_key_without_secret_is_refused)
{
	struct drvh *h = drv_open(drivers[_i], NULL);
	g_command = "true";
	struct paddock_task_view t = task(drivers[_i], "api-key", "anthropic/claude-sonnet-4-5");
	t.credentials_secret = NULL;
	char err[512] = "";
	ck_assert_int_eq(h->ops->validate(h->inst, &t, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "spec.credentials.secretRef: required for credentials type api-key"),
		      "%s", err);
	drv_close(h);
}
END_TEST

/* ---- entrypoint plans ----------------------------------------------- */

START_TEST(entrypoint_command_and_bin)
{
	static const char *const bins[] = { NULL, "claude", "codex", "gemini", "opencode" };
	g_command = "echo hi";
	struct drvh *h = drv_open(drivers[_i], NULL);
	struct paddock_task_view t = task(drivers[_i], "none", NULL);
	struct run_plan p;
	char err[512] = "";
	ck_assert_msg(plan_task(h, &t, &p, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(p.command, "/paddock_entrypoint.sh");
	ck_assert_uint_eq(p.args.n, 0); /* the prompt is the only argument */
	if (bins[_i])
		ck_assert_str_eq(plan_env_get(&p, "PADDOCK_AGENT_BIN"), bins[_i]);
	else
		ck_assert_str_eq(plan_env_get(&p, "PADDOCK_COMMAND"), "echo hi");
	plan_free(&p);
	drv_close(h);

	static const char *const set[] = { "bin", "/opt/agent/bin/x", NULL };
	h = drv_open(drivers[_i], set);
	ck_assert_int_eq(plan_task(h, &t, &p, err, sizeof(err)), 0);
	if (bins[_i])
		ck_assert_str_eq(plan_env_get(&p, "PADDOCK_AGENT_BIN"), "/opt/agent/bin/x");
	plan_free(&p);
	drv_close(h);
}
END_TEST

START_TEST(exec_command_from_settings)
{
	static const char *const set[] = { "command", "./run.sh \"$1\"", NULL };
	g_command = NULL;
	struct drvh *h = drv_open("exec", set);
	struct paddock_task_view t = task("exec", "api-key", NULL);
	t.effort = "anything";
	struct run_plan p;
	char err[512] = "";
	ck_assert_msg(plan_task(h, &t, &p, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(plan_env_get(&p, "PADDOCK_COMMAND"), "./run.sh \"$1\"");
	assert_secret_env(&p, "PADDOCK_API_KEY", "apiKey");
	plan_free(&p);
	drv_close(h);
	/* The Agent's spec.command wins over the setting. */
	g_command = "make agent";
	h = drv_open("exec", set);
	ck_assert_int_eq(plan_task(h, &t, &p, err, sizeof(err)), 0);
	ck_assert_str_eq(plan_env_get(&p, "PADDOCK_COMMAND"), "make agent");
	plan_free(&p);
	drv_close(h);
}
END_TEST

START_TEST(claude_settings_map_to_env)
{
	static const char *const set[] = { "baseURL", "http://127.0.0.1:8080", "maxRetries", "0", NULL };
	struct drvh *h = drv_open("claude-code", set);
	struct paddock_task_view t = task("claude-code", "api-key", "claude-sonnet-4-5");
	struct run_plan p;
	char err[512] = "";
	ck_assert_msg(plan_task(h, &t, &p, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(plan_env_get(&p, "ANTHROPIC_BASE_URL"), "http://127.0.0.1:8080");
	ck_assert_str_eq(plan_env_get(&p, "CLAUDE_CODE_MAX_RETRIES"), "0");
	ck_assert_str_eq(plan_env_get(&p, "IS_SANDBOX"), "1");
	ck_assert_str_eq(plan_env_get(&p, "DISABLE_AUTOUPDATER"), "1");
	ck_assert_str_eq(plan_env_get(&p, "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"), "1");
	plan_free(&p);
	drv_close(h);
}
END_TEST

START_TEST(codex_and_gemini_home_files)
{
	static const char *const set[] = { "baseURL", "http://127.0.0.1:9/v1", "maxRetries", "0", NULL };
	struct drvh *h = drv_open("codex", set);
	struct paddock_task_view t = task("codex", "api-key", "gpt-5.5");
	struct run_plan p;
	char err[512] = "";
	ck_assert_msg(plan_task(h, &t, &p, err, sizeof(err)) == 0, "%s", err);
	const struct plan_file *f = file_find(&p, PADDOCK_ROOT_HOME, ".codex/config.toml");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(strstr(f->data, "model_provider = \"paddock\""));
	ck_assert_ptr_nonnull(strstr(f->data, "base_url = \"http://127.0.0.1:9/v1\""));
	ck_assert_ptr_nonnull(strstr(f->data, "env_key = \"CODEX_API_KEY\""));
	ck_assert_ptr_nonnull(strstr(f->data, "request_max_retries = 0"));
	ck_assert_ptr_nonnull(strstr(f->data, "check_for_update_on_startup = false"));
	plan_free(&p);
	drv_close(h);

	h = drv_open("gemini", set);
	t = task("gemini", "oauth", NULL);
	ck_assert_msg(plan_task(h, &t, &p, err, sizeof(err)) == 0, "%s", err);
	f = file_find(&p, PADDOCK_ROOT_HOME, ".gemini/settings.json");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(strstr(f->data, "\"selectedType\":\"gemini-api-key\""));
	ck_assert_ptr_nonnull(strstr(f->data, "\"usageStatisticsEnabled\":false"));
	ck_assert_ptr_nonnull(strstr(f->data, "\"maxAttempts\":1"));
	ck_assert_str_eq(plan_env_get(&p, "GOOGLE_GEMINI_BASE_URL"), "http://127.0.0.1:9/v1");
	ck_assert_str_eq(plan_env_get(&p, "GEMINI_API_KEY_AUTH_MECHANISM"), "bearer");
	ck_assert_str_eq(plan_env_get(&p, "GEMINI_CLI_TRUST_WORKSPACE"), "true");
	plan_free(&p);
	drv_close(h);
}
END_TEST

/* ---- parsers over recorded streams ----------------------------------- */

static void parse_lines(struct drvh *h, void *parser, const char *data, size_t len)
{
	const char *s = data, *end = data + len;
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
		h->ops->parser_line(parser, s, n);
		s += n + (nl ? 1 : 0);
	}
}

static struct paddock_run_result parse_buf(const char *driver, const char *data, size_t len,
					   int exit_code)
{
	struct drvh *h = drv_open(driver, NULL);
	void *parser = NULL;
	ck_assert_int_eq(h->ops->parser_new(h->inst, &parser), 0);
	parse_lines(h, parser, data, len);
	struct paddock_run_result r;
	memset(&r, 0x5a, sizeof(r));
	r.size = sizeof(r);
	h->ops->parser_finish(parser, exit_code, &r);
	h->ops->parser_free(parser);
	drv_close(h);
	ck_assert_msg(memchr(r.result, '\0', sizeof(r.result)) && memchr(r.error, '\0', sizeof(r.error)),
		      "result/error not terminated");
	return r;
}

static struct paddock_run_result parse_stream(const char *driver, const char *kase, char **data,
					      size_t *len)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/tests/data/streams/%s-%s.jsonl", TOP_SRCDIR, driver, kase);
	ck_assert_msg(read_file(path, 16 << 20, data, len) == 0, "cannot read %s", path);
	char *ex = NULL;
	size_t exlen;
	snprintf(path, sizeof(path), "%s/tests/data/streams/%s-%s.exit", TOP_SRCDIR, driver, kase);
	ck_assert_msg(read_file(path, 64, &ex, &exlen) == 0, "cannot read %s", path);
	int code = atoi(ex);
	free(ex);
	return parse_buf(driver, *data, *len, code);
}

static const char *const clis[] = { "claude-code", "codex", "gemini", "opencode" };

START_TEST(recorded_success)
{
	char *data;
	size_t len;
	struct paddock_run_result r = parse_stream(clis[_i], "success", &data, &len);
	ck_assert_msg(r.outcome == PADDOCK_OUTCOME_SUCCESS, "%s: %s", clis[_i], r.error);
	ck_assert_str_eq(r.result, "SCRIPTED_OK");
	ck_assert_str_eq(r.error, "");
	/* The mock server bills 12 in / 7 out per request, two requests. */
	ck_assert_int_eq(r.input_tokens, 24);
	ck_assert_int_eq(r.output_tokens, 14);
	if (strcmp(clis[_i], "claude-code") == 0)
		ck_assert(r.cost_usd > 0);

	/* The same stream cut before its final event never counts as success. */
	const char *last = NULL;
	for (const char *s = data; (s = strstr(s, "\n{")) != NULL; s++)
		last = s;
	ck_assert_ptr_nonnull(last);
	r = parse_buf(clis[_i], data, (size_t)(last - data), 0);
	ck_assert_int_eq(r.outcome, PADDOCK_OUTCOME_FAILED);
	ck_assert_msg(strstr(r.error, "ended without its final result event"), "%s", r.error);
	free(data);
}
END_TEST

START_TEST(recorded_401)
{
	char *data;
	size_t len;
	struct paddock_run_result r = parse_stream(clis[_i], "401", &data, &len);
	ck_assert_int_eq(r.outcome, PADDOCK_OUTCOME_FAILED);
	ck_assert_msg(strncmp(r.error, "authentication failed (HTTP 401): ", 34) == 0, "%s: %s",
		      clis[_i], r.error);
	free(data);
}
END_TEST

START_TEST(recorded_unreachable)
{
	char *data;
	size_t len;
	struct paddock_run_result r = parse_stream(clis[_i], "unreachable", &data, &len);
	ck_assert_int_eq(r.outcome, PADDOCK_OUTCOME_FAILED);
	ck_assert_msg(strlen(r.error) > 10, "%s: %s", clis[_i], r.error);
	ck_assert_ptr_null(strstr(r.error, "authentication"));
	free(data);
}
END_TEST

START_TEST(exit_code_overrides_a_success_event)
{
	char *data;
	size_t len;
	struct paddock_run_result r = parse_stream(clis[_i], "success", &data, &len);
	r = parse_buf(clis[_i], data, len, 1);
	ck_assert_int_eq(r.outcome, PADDOCK_OUTCOME_FAILED);
	free(data);
}
END_TEST

START_TEST(claude_is_error_is_failed)
{
	static const char s[] =
		"{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":true,\"api_error_status\":null,"
		"\"result\":\"Credit balance is too low\",\"total_cost_usd\":0,\"usage\":{\"input_tokens\":0,"
		"\"output_tokens\":0}}\n";
	struct paddock_run_result r = parse_buf("claude-code", s, sizeof(s) - 1, 0);
	ck_assert_int_eq(r.outcome, PADDOCK_OUTCOME_FAILED);
	ck_assert_str_eq(r.error, "Credit balance is too low");
}
END_TEST

START_TEST(exec_parser)
{
	static const char s[] = "working\nthe answer is 42\n\n"
				"---PADDOCK_OUTPUTS_START---\nbranch: main\n"
				"---PADDOCK_OUTPUTS_END---\n";
	struct paddock_run_result r = parse_buf("exec", s, sizeof(s) - 1, 0);
	ck_assert_int_eq(r.outcome, PADDOCK_OUTCOME_SUCCESS);
	ck_assert_str_eq(r.result, "the answer is 42");
	ck_assert_int_eq(r.input_tokens, -1);
	ck_assert_int_eq(r.output_tokens, -1);
	ck_assert(r.cost_usd < 0);
	r = parse_buf("exec", s, sizeof(s) - 1, 3);
	ck_assert_int_eq(r.outcome, PADDOCK_OUTCOME_FAILED);
	ck_assert_str_eq(r.error, "command exited with status 3");
}
END_TEST

/* Huge and hostile lines: bounded results, no crash. */
START_TEST(huge_lines_are_bounded)
{
	size_t n = 6u << 20;
	char *big = malloc(n + 64);
	int off = snprintf(big, 64, "{\"type\":\"result\",\"subtype\":\"success\",\"result\":\"");
	memset(big + off, 'x', n - (size_t)off - 3);
	memcpy(big + n - 3, "\"}\n", 3);
	struct paddock_run_result r = parse_buf(drivers[_i], big, n, 0);
	ck_assert_uint_lt(strlen(r.result), sizeof(r.result));
	/* Deep nesting past the depth cap is ignored, not a crash. */
	memset(big, '[', 100000);
	big[0] = '{';
	r = parse_buf(drivers[_i], big, 100000, 0);
	ck_assert_uint_lt(strlen(r.result), sizeof(r.result));
	free(big);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("drivers");
	TCase *tc = tcase_create("descriptors");
	tcase_add_loop_test(tc, descriptor_is_well_formed, 0, 5);
	suite_add_tcase(s, tc);

	tc = tcase_create("credentials");
	tcase_add_loop_test(tc, credentials_are_references, 0, (int)(sizeof(cred_cases) / sizeof(cred_cases[0])));
	tcase_add_loop_test(tc, credentials_none_injects_nothing, 0, 5);
	tcase_add_test(tc, codex_oauth_is_a_secret_file);
	tcase_add_test(tc, opencode_gateway_uses_opencode_api_key);
	suite_add_tcase(s, tc);

	tc = tcase_create("validation");
	tcase_add_loop_test(tc, validation_refuses_with_choices, 0, (int)(sizeof(refusals) / sizeof(refusals[0])));
	tcase_add_loop_test(tc, api_key_without_secret_is_refused, 0, 5);
	suite_add_tcase(s, tc);

	tc = tcase_create("entrypoint");
	tcase_add_loop_test(tc, entrypoint_command_and_bin, 0, 5);
	tcase_add_test(tc, exec_command_from_settings);
	tcase_add_test(tc, claude_settings_map_to_env);
	tcase_add_test(tc, codex_and_gemini_home_files);
	suite_add_tcase(s, tc);

	tc = tcase_create("parsers");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, recorded_success, 0, 4);
	tcase_add_loop_test(tc, recorded_401, 0, 4);
	tcase_add_loop_test(tc, recorded_unreachable, 0, 4);
	tcase_add_loop_test(tc, exit_code_overrides_a_success_event, 0, 4);
	tcase_add_test(tc, claude_is_error_is_failed);
	tcase_add_test(tc, exec_parser);
	tcase_add_loop_test(tc, huge_lines_are_bounded, 0, 5);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

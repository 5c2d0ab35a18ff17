/* SPDX-License-Identifier: MIT */
/*
 * drv.h - the shared half of every in-tree agent driver.
 *
 * A driver is described by a `struct drv_spec` (its name, CLI, credential
 * mapping, effort values and three hooks) and gets the whole
 * paddock_driver_ops table from drv_ops_init().  This file owns: the
 * instance (host + spec), the checks every driver makes (credential type,
 * effort, secret reference), the common entrypoint settings (command,
 * PADDOCK_AGENT_BIN, settings), and the bounded line parser frame
 * (outputs-block skipping, JSON decoding with a depth and size cap,
 * bounded result/error text).  It links against nothing of the core:
 * plugins only see the ABI header.
 *
 * Symbols are drv_-prefixed and hidden (-fvisibility=hidden); only
 * paddock_plugin_entry leaves the module.
 */
#ifndef PADDOCK_DRV_H
#define PADDOCK_DRV_H

#include <paddock/plugin.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;

#define DRV_OUTPUTS_START "---PADDOCK_OUTPUTS_START---"
#define DRV_OUTPUTS_END "---PADDOCK_OUTPUTS_END---"
/* The entrypoint path inside the image (and the name the local backend
 * bind-mounts the installed script at). */
#define DRV_ENTRYPOINT "/paddock_entrypoint.sh"
/* JSON lines longer than this are not decoded (the host caps lines too). */
#define DRV_MAX_JSON_LINE (4u * 1024 * 1024)
#define DRV_JSON_DEPTH 64

struct drv;
struct drv_parser;
struct drv_render_ops;

/* Where a credential may go (ABI 1.1 credential routing). */
struct drv_route {
	const char *upstream; /* the base URL the CLI would use: the baseURL
			       * setting, else the provider's */
	const char *header;   /* "x-api-key", "Authorization" ... */
	const char *prefix;   /* "" or "Bearer " */
	const char *env;      /* the variable that gets the placeholder */
};

struct drv_spec {
	const char *name;             /* descriptor name, e.g. "claude-code" */
	const char *cli;              /* human name of the CLI, e.g. "claude" */
	const char *default_bin;      /* executable looked up on PATH, or NULL */
	unsigned cred_types;          /* enum paddock_cred bits */
	const char *const *efforts;   /* NULL-terminated; NULL: no effort support */
	bool any_effort;              /* accept any spec.effort (passed through) */
	const char *api_key_env;      /* env for api-key, or NULL (hook decides) */
	const char *oauth_env;        /* env for oauth, or NULL (hook decides) */
	bool json;                    /* stream lines are JSON events */

	/* Optional hooks; each returns 0 or a negative errno with `err` set. */
	int (*validate)(struct drv *d, const struct paddock_task_view *t, char *err,
			size_t errlen);
	/* `routed`: the credential already goes through the host's proxy
	 * (drv_route): set only what else the CLI needs, never the secret. */
	int (*credentials)(struct drv *d, const struct paddock_task_view *t,
			   const struct paddock_plan_builder *plan, bool routed, char *err,
			   size_t errlen);
	/* ABI 1.1: where the task's credential may be sent, for the host's
	 * proxy (fills *r and returns true), or false when this credential
	 * cannot be routed (the CLI reads it from a file it also rewrites,
	 * e.g. codex's auth.json): it is then injected as in ABI 1.0. */
	bool (*route)(const struct drv *d, const struct paddock_task_view *t, struct drv_route *r);
	int (*entrypoint)(struct drv *d, const struct paddock_task_view *t,
			  const struct paddock_plan_builder *plan, char *err, size_t errlen);

	/* Parser: `obj` is the decoded JSON object (NULL for a non-JSON line
	 * or when spec->json is false); `line` is the raw line. */
	void (*line)(struct drv_parser *p, struct json_object *obj, const char *line, size_t len);
	void (*finish)(struct drv_parser *p, int exit_code, struct paddock_run_result *out);
	/* Readable activity (render.h); NULL: the stream is shown raw. */
	const struct drv_render_ops *render;
};

struct drv {
	const struct paddock_host *host; /* borrowed until destroy */
	const struct drv_spec *spec;
};

/* One parser per run.  The fields below `in_outputs` are free for the
 * driver's hooks; all text is bounded. */
struct drv_parser {
	const struct drv_spec *spec;
	struct json_tokener *tok;
	bool in_outputs;       /* inside the outputs block: lines are not the agent's */
	bool saw_final;        /* the CLI's final event was seen */
	bool failed;           /* the CLI reported an error */
	bool auth_failed;
	int http_status;       /* status of a reported API error, 0 if none */
	int64_t input_tokens;  /* -1 when unknown */
	int64_t output_tokens;
	double cost_usd;       /* < 0 when unknown */
	char result[4096];
	char error[1024];
	char last_raw[512];    /* last non-empty line that was not JSON (a hint) */
	char text[4096];       /* accumulated assistant text (fallback result) */
	size_t text_len;
};

/* Error helper: formats into err and returns rc. */
int drv_errf(char *err, size_t errlen, int rc, const char *fmt, ...) PADDOCK_PRINTF(4, 5);

/* The driver's setting `key` (paddock.yaml drivers.<name>.settings), or
 * NULL when unset or empty.  Borrowed from the host. */
const char *drv_setting(const struct drv *d, const char *key);

/* Credential type of the task; NULL or "" is "none". */
const char *drv_cred_type(const struct paddock_task_view *t);

/* Set env `name` from the task's credential Secret, by reference. */
int drv_env_secret(const struct paddock_task_view *t, const struct paddock_plan_builder *plan,
		   const char *name, char *err, size_t errlen);
/* ABI 1.1: true when the host offers credential routing for this task
 * and the driver can route its credential type (spec->route); *r then
 * says where.  r may be NULL. */
bool drv_routing(const struct drv *d, const struct paddock_task_view *t,
		 const struct paddock_plan_builder *plan, struct drv_route *r);
/* The base URL the agent must use: the task's credential endpoint when
 * routed, else the baseURL setting; NULL when neither. */
const char *drv_base_url(const struct drv *d, const struct paddock_task_view *t,
			 const struct paddock_plan_builder *plan);
/* The baseURL setting, else `dflt`: a route's upstream. */
const char *drv_upstream(const struct drv *d, const char *dflt);

/* Plain env / arg through the builder, with an error naming what failed. */
int drv_env(const struct paddock_plan_builder *plan, const char *name, const char *value,
	    char *err, size_t errlen);
int drv_arg(const struct paddock_plan_builder *plan, const char *arg, char *err, size_t errlen);

/* A positive integer setting (e.g. maxRetries), range-checked; *out is
 * untouched (-1 by convention) when unset. */
int drv_setting_long(const struct drv *d, const char *key, long min, long max, long *out,
		     char *err, size_t errlen);

/* Check that a URL setting is http(s)://host... without whitespace. */
int drv_check_url(const struct drv *d, const char *key, char *err, size_t errlen);

/* JSON helpers over json-c, NULL-safe: a member by key, or by a dotted
 * path ("usage.input_tokens"). */
struct json_object *drv_jget(struct json_object *o, const char *key);
struct json_object *drv_jpath(struct json_object *o, const char *path);
const char *drv_jstr(struct json_object *o, const char *path);   /* NULL if not a string */
int64_t drv_jint(struct json_object *o, const char *path, int64_t dflt);
/* Token counts come from the agent's stream and are not trusted: a count
 * is an integer (or whole double) in [0, DRV_COUNT_MAX], else -1 (unknown),
 * and sums saturate instead of overflowing (found by fuzz_driver). */
#define DRV_COUNT_MAX ((int64_t)1 << 53)
int64_t drv_jcount(struct json_object *o, const char *path);
/* a + b where -1 means unknown: unknown b leaves a; saturates at the cap. */
int64_t drv_count_add(int64_t a, int64_t b);
/* A cost in USD at `path`: finite and in [0, 1e9], else -1 (unknown). */
double drv_jcost(struct json_object *o, const char *path);
bool drv_jbool(struct json_object *o, const char *path, bool dflt);

/* Largest m <= n that does not cut a UTF-8 sequence of s[0..full). */
size_t drv_utf8_cut(const char *s, size_t n, size_t full);
/* Bounded text: copy/append with truncation at a UTF-8 boundary. */
void drv_copy(char *dst, size_t dstlen, const char *src, size_t n);
void drv_text_append(struct drv_parser *p, const char *s, size_t n);
void drv_text_reset(struct drv_parser *p);

/* Record a failure once (the first reason wins); formats the message as
 * "authentication failed (HTTP 401): msg" when status is 401 or 403. */
void drv_fail(struct drv_parser *p, int http_status, const char *msg);

/* Fill *out from the common parser fields. */
void drv_fill(const struct drv_parser *p, int outcome, struct paddock_run_result *out);

/* Common finish: SUCCESS only if the final event was seen, nothing failed
 * and the exit code is 0; otherwise FAILED with the best reason. */
void drv_finish_common(struct drv_parser *p, int exit_code, struct paddock_run_result *out);

/* The ops table of a driver built from `spec` (the spec must be static). */
#define DRV_DECLARE(spec_, name_, desc_, ops_, description_)                            \
	static int ops_##_create(const struct paddock_host *host, void **inst, char *err, \
				 size_t errlen)                                           \
	{                                                                                 \
		return drv_create(&(spec_), host, inst, err, errlen);                     \
	}                                                                                 \
	static const struct paddock_driver_ops ops_ = {                                   \
		.size = sizeof(struct paddock_driver_ops),                                \
		.create = ops_##_create,                                                  \
		.destroy = drv_destroy,                                                   \
		.credential_types = drv_credential_types,                                 \
		.validate = drv_validate,                                                 \
		.credentials = drv_credentials,                                           \
		.entrypoint = drv_entrypoint,                                             \
		.parser_new = drv_parser_new,                                             \
		.parser_line = drv_parser_line,                                           \
		.parser_finish = drv_parser_finish,                                       \
		.parser_free = drv_parser_free,                                           \
		.parser_peek = drv_parser_peek,                                           \
		.renderer_new = drv_renderer_new,                                         \
		.renderer_line = drv_renderer_line,                                       \
		.renderer_free = drv_renderer_free,                                       \
	};                                                                                \
	static const struct paddock_plugin desc_ = {                                      \
		PADDOCK_PLUGIN_HEADER(PADDOCK_KIND_DRIVER),                               \
		.name = (name_),                                                          \
		.version = PACKAGE_VERSION,                                               \
		.description = (description_),                                            \
		.license = "MIT",                                                         \
		.ops = &(ops_),                                                           \
		.ops_size = sizeof(struct paddock_driver_ops),                            \
	};                                                                                \
	PADDOCK_PLUGIN(desc_)

int drv_create(const struct drv_spec *spec, const struct paddock_host *host, void **inst,
	       char *err, size_t errlen);
void drv_destroy(void *inst);
unsigned drv_credential_types(void *inst);
int drv_validate(void *inst, const struct paddock_task_view *t, char *err, size_t errlen);
int drv_credentials(void *inst, const struct paddock_task_view *t,
		    const struct paddock_plan_builder *plan, char *err, size_t errlen);
int drv_entrypoint(void *inst, const struct paddock_task_view *t,
		   const struct paddock_plan_builder *plan, char *err, size_t errlen);
int drv_parser_new(void *inst, void **parser);
void drv_parser_line(void *parser, const char *line, size_t len);
void drv_parser_finish(void *parser, int exit_code, struct paddock_run_result *out);
void drv_parser_free(void *parser);
/* ABI 1.1: the parser's running totals (tokens, cost) into *so_far. */
void drv_parser_peek(void *parser, struct paddock_run_result *so_far);
int drv_renderer_new(void *inst, void **renderer);
void drv_renderer_line(void *renderer, const char *line, size_t len, paddock_emit_fn emit,
		       void *emit_ctx);
void drv_renderer_free(void *renderer);
/* The parser's frame for one line: the outputs block markers, then the
 * decoded JSON object (owned, NULL for a non-JSON line) and the hook.
 * *obj_out, when given, receives the object instead of it being freed. */
void drv_parser_feed(struct drv_parser *p, const char *line, size_t len,
		     struct json_object **obj_out);

#endif

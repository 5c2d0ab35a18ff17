/* SPDX-License-Identifier: MIT */
/*
 * paddock/plugin.h - the Paddock plugin ABI.
 *
 * This header is the whole promise Paddock makes to plugin authors.  A
 * plugin is one shared object that exports exactly one symbol,
 * PADDOCK_ENTRY_SYMBOL, a function returning a pointer to a constant
 * struct paddock_plugin.  The plugin links against nothing of the core:
 * everything it needs from the host comes through struct paddock_host.
 *
 * Versioning rules
 *   - The host loads a plugin only if plugin abi_major == host major and
 *     plugin abi_minor <= host minor.
 *   - Every struct that crosses the boundary starts with (or carries) a
 *     `size` field.  Fields are only ever appended; a reader never reads a
 *     field that lies beyond the `size` the writer declared.  Use
 *     PADDOCK_HAS_FIELD() for that check.
 *   - Removing or reordering a field, or changing a signature, bumps the
 *     major.
 *
 * Conventions
 *   - Functions return 0 on success or a negative errno value.  On
 *     failure they write one human-readable line (no trailing newline)
 *     into the caller's `err` buffer of `errlen` bytes, and leave every
 *     out-parameter untouched.
 *   - "borrowed" means the callee may read the pointer only for the
 *     duration of the call (or for the stated lifetime); "owned" means the
 *     receiver must release it with the named function.
 *   - A plugin never calls exit() or abort() on bad input, and never
 *     writes to stdout or stderr: it returns an error or uses host->log.
 *   - All strings are NUL-terminated UTF-8 unless a length is given.
 *
 * Changelog of minor versions (append only)
 *   1.0  (Paddock 0.1)  first stable ABI: descriptor, host services,
 *        plan builder, driver ops, context ops.
 *   1.1  (Paddock 0.2)  credentials as placeholders: task view fields
 *        credential_endpoint and credential_placeholder, plan builder
 *        add_credential_route and struct paddock_credential_route; driver
 *        ops for people and budgets: renderer_new/renderer_line/
 *        renderer_free (readable agent activity, enum paddock_render_kind)
 *        and parser_peek (usage so far, while the stream runs).  A 1.0
 *        plugin keeps loading: its credentials are injected as in 1.0
 *        (`paddock plugins` warns), its stream is shown raw.
 */
#ifndef PADDOCK_PLUGIN_H
#define PADDOCK_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PADDOCK_ABI_MAJOR 1
#define PADDOCK_ABI_MINOR 1

/* The one symbol every plugin exports. */
#define PADDOCK_ENTRY_SYMBOL "paddock_plugin_entry"

#if defined(__GNUC__) || defined(__clang__)
#define PADDOCK_EXPORT __attribute__((visibility("default")))
#define PADDOCK_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define PADDOCK_EXPORT
#define PADDOCK_PRINTF(a, b)
#endif

/* True when `field` of *p lies wholly inside the size the writer declared. */
#define PADDOCK_HAS_FIELD(p, type, field) \
	((p)->size >= offsetof(type, field) + sizeof(((type *)0)->field))

enum paddock_kind {
	PADDOCK_KIND_DRIVER = 1,
	PADDOCK_KIND_CONTEXT = 2,
};

enum paddock_log_level {
	PADDOCK_LOG_ERROR = 0,
	PADDOCK_LOG_WARN = 1,
	PADDOCK_LOG_INFO = 2,
	PADDOCK_LOG_DEBUG = 3,
};

/* Credential types, as a bit set for paddock_driver_ops.credential_types. */
enum paddock_cred {
	PADDOCK_CRED_NONE = 1u << 0,
	PADDOCK_CRED_API_KEY = 1u << 1,
	PADDOCK_CRED_OAUTH = 1u << 2,
};

/* Where a file of the plan is placed. */
enum paddock_root {
	PADDOCK_ROOT_WORKSPACE = 0, /* relative to the run's workspace (its cwd) */
	PADDOCK_ROOT_HOME = 1,      /* relative to the run's private $HOME */
};

/* ------------------------------------------------------------------ */
/* Host services: handed to create(), valid until destroy() returns.   */
/* ------------------------------------------------------------------ */

/* One key/value pair of an object (e.g. a ConfigMap's data). */
struct paddock_kv {
	const char *key;   /* NUL-terminated */
	const char *value; /* `len` bytes, also NUL-terminated */
	size_t len;
};

/* An object returned by host->object_get; owned, release with object_free. */
struct paddock_object {
	uint32_t size;
	size_t n;                     /* number of items */
	const struct paddock_kv *items; /* sorted by key */
};

struct paddock_http_request {
	uint32_t size;
	const char *url;                /* http:// or https:// only */
	const char *const *headers;     /* "Name: value" lines, NULL-terminated; may be NULL */
	long timeout_ms;                /* 0: host default; capped by the host */
	size_t max_bytes;               /* 0: host default; capped by the host */
	long max_redirects;             /* -1: host default; capped by the host */
};

struct paddock_host {
	uint32_t size;        /* sizeof(struct paddock_host) as the host built it */
	uint32_t abi_major;   /* the host's ABI version */
	uint32_t abi_minor;
	void *ctx;            /* opaque; pass back to every service */

	/* Log one message.  Never pass secret values. */
	void (*log)(void *ctx, int level, const char *fmt, ...) PADDOCK_PRINTF(3, 4);

	/* This plugin's setting `key` from the config file (its `settings:`
	 * map), as a string.  Returns NULL if unset.  Borrowed: valid until
	 * destroy(). */
	const char *(*config_get)(void *ctx, const char *key);

	/* Look up key `key` of Secret `ns`/`name`.  On success *value is an
	 * owned NUL-terminated buffer of *len bytes: release it with
	 * secret_free, which zeroes it.  Returns -ENOENT if the Secret or key
	 * does not exist. */
	int (*secret_get)(void *ctx, const char *ns, const char *name, const char *key,
			  char **value, size_t *len, char *err, size_t errlen);
	void (*secret_free)(void *ctx, char *value, size_t len); /* NULL-safe */

	/* Look up an object of `kind` (e.g. "ConfigMap") from whichever
	 * backend is active.  Owned result: release with object_free.
	 * Returns -ENOENT if it does not exist. */
	int (*object_get)(void *ctx, const char *kind, const char *ns, const char *name,
			  struct paddock_object **out, char *err, size_t errlen);
	void (*object_free)(void *ctx, struct paddock_object *obj); /* NULL-safe */

	/* HTTP GET with the host's limits and address policy (the host refuses
	 * link-local, cloud-metadata and, unless allowed, loopback addresses,
	 * checking the address actually connected to).  On success *body is
	 * owned (release with host->free), NUL-terminated, *len bytes; *status
	 * is the final HTTP status.  A non-2xx status is not an error here. */
	int (*http_get)(void *ctx, const struct paddock_http_request *req,
			char **body, size_t *len, long *status, char *err, size_t errlen);

	void (*free)(void *ctx, void *p); /* NULL-safe */
};

/* ------------------------------------------------------------------ */
/* Read-only views handed to plugin ops; all pointers borrowed for the  */
/* duration of the call.  Unset strings are NULL.                       */
/* ------------------------------------------------------------------ */

struct paddock_output_param {
	const char *name;
	const char *path;    /* file to read, relative to the workspace */
	const char *dflt;    /* default value, or NULL */
};

struct paddock_task_view {
	uint32_t size;
	const char *ns;               /* metadata.namespace */
	const char *name;             /* metadata.name */
	const char *uid;
	const char *type;             /* driver name */
	const char *prompt;           /* the rendered prompt (templates expanded) */
	const char *model;
	const char *effort;
	const char *credentials_type; /* "api-key", "oauth" or "none" */
	const char *credentials_secret; /* Secret name in `secret_ns`, or NULL */
	const char *credentials_key;  /* key in that Secret; the core fills the
				       * default: "apiKey" for api-key,
				       * "oauthToken" for oauth */
	const char *secret_ns;        /* namespace where the run and its secrets live */
	const char *workspace_repo;
	const char *workspace_ref;
	const struct paddock_output_param *outputs;
	size_t n_outputs;
	long timeout_seconds;         /* 0: none */
	const char *image;            /* the Agent's image, or NULL */
	/* A setting of the Agent (spec.<key>, scalars only, dotted path
	 * e.g. "command") or NULL.  Borrowed. */
	const char *(*agent_field)(const struct paddock_task_view *self, const char *key);
	const void *priv;             /* host's, do not touch */

	/* 1.1.  When credential_endpoint is non-NULL, the host keeps the
	 * model credential out of the run: the driver gives the agent
	 * `credential_placeholder` where the secret would go (the CLIs insist
	 * on a non-empty key) and `credential_endpoint`, a plain-HTTP base URL
	 * served by the run's egress proxy, where its upstream base URL would
	 * go, and declares the upstream with plan->add_credential_route.  The
	 * proxy puts the real value in the declared header and forwards over
	 * TLS.  NULL (an older host, or credentials "none"): inject by
	 * reference as in 1.0.  Check with PADDOCK_HAS_FIELD first. */
	const char *credential_endpoint;
	const char *credential_placeholder;
};

/* One item of spec.contexts[] (an Agent's or a Task's). */
struct paddock_context_item {
	uint32_t size;
	const char *type;        /* as written: "Text", "ConfigMap", ... */
	const char *name;        /* item name, or NULL */
	const char *mount_path;  /* relative path, or NULL: aggregate into task.md */
	int file_mode;           /* -1 when unset */
	const char *ns;          /* namespace for object and secret lookups */
	const char *field_path;  /* e.g. "spec.contexts[2]", for error messages */
	/* A type-specific scalar, by dotted path ("text", "configMap.key",
	 * "git.secretRef.name", "url.headers.0" ...), or NULL.  Borrowed. */
	const char *(*field)(const struct paddock_context_item *self, const char *key);
	const void *priv;        /* host's, do not touch */
};

/* A git fetch the backend performs (workspace and Git contexts). */
struct paddock_git_fetch {
	uint32_t size;
	const char *repository;    /* URL */
	const char *ref;           /* branch, tag or full commit SHA; NULL: default branch */
	int depth;                 /* 0: full history */
	const char *subpath;       /* path within the repository to keep, or NULL */
	const char *dest;          /* relative to the workspace; "" or "." for the workspace itself */
	const char *secret_name;   /* Secret with `token` or `ssh-privatekey`, or NULL */
};

/* 1.1: where a credential may be sent.  The proxy accepts requests on the
 * task's credential_endpoint only when they carry the placeholder (in
 * `header`, after `prefix`), replaces it with the Secret's value and sends
 * the request to `upstream` + the request's path.  Nothing else is
 * forwarded with the credential. */
struct paddock_credential_route {
	uint32_t size;
	const char *upstream;     /* "https://api.anthropic.com" (http:// only where the
				   * operator allows plain HTTP, e.g. a local model server) */
	const char *header;       /* "x-api-key", "Authorization", "x-goog-api-key" ... */
	const char *prefix;       /* text before the value in that header ("Bearer "), or NULL */
	const char *secret_name;  /* Secret in the run's namespace */
	const char *secret_key;
};

/* The plan under construction.  Every method copies what it is given. */
struct paddock_plan_builder {
	uint32_t size;
	void *ctx;
	/* Container image (Kubernetes backend). */
	int (*set_image)(void *ctx, const char *image);
	/* The entrypoint program: an absolute path (inside the image), then
	 * its arguments.  The prompt is passed as $1 by the core; do not add it. */
	int (*set_command)(void *ctx, const char *path);
	int (*add_arg)(void *ctx, const char *arg);
	/* Plain environment.  Never put a secret value here. */
	int (*set_env)(void *ctx, const char *name, const char *value);
	/* Environment whose value comes from Secret `secret_name` key `key`
	 * in the run's namespace: a reference, resolved only at run time. */
	int (*set_env_secret)(void *ctx, const char *name, const char *secret_name,
			      const char *key);
	/* A file of `len` bytes at relative `path` under `root`, with `mode`.
	 * Parent directories are created 0755. */
	int (*add_file)(void *ctx, int root, const char *path, const void *data, size_t len,
			unsigned mode);
	/* A file whose content is Secret `secret_name` key `key`: a reference. */
	int (*add_secret_file)(void *ctx, int root, const char *path, const char *secret_name,
			       const char *key, unsigned mode);
	/* A directory at relative `path` under `root`. */
	int (*add_dir)(void *ctx, int root, const char *path, unsigned mode);
	/* A text fragment aggregated into task.md after the prompt. */
	int (*add_text)(void *ctx, const char *name, const char *type, const char *text,
			size_t len);
	int (*add_git)(void *ctx, const struct paddock_git_fetch *fetch);
	/* Report a problem with the field at `path` (e.g. "spec.model"). */
	void (*log)(void *ctx, int level, const char *msg);

	/* 1.1: declare the one credential route of this run (see
	 * struct paddock_credential_route); -EEXIST on a second call. */
	int (*add_credential_route)(void *ctx, const struct paddock_credential_route *route);
};

/* ------------------------------------------------------------------ */
/* Driver ops                                                          */
/* ------------------------------------------------------------------ */

/* What a driver's stream parser found; filled by parser_finish. */
struct paddock_run_result {
	uint32_t size;
	int64_t input_tokens;   /* -1 when unknown */
	int64_t output_tokens;  /* -1 when unknown */
	double cost_usd;        /* < 0 when unknown */
	int outcome;            /* enum paddock_outcome */
	char result[4096];      /* final result text, truncated, NUL-terminated */
	char error[1024];       /* failure reason, NUL-terminated, "" if none */
};

enum paddock_outcome {
	PADDOCK_OUTCOME_UNKNOWN = 0,   /* the stream never said: treated as failed */
	PADDOCK_OUTCOME_SUCCESS = 1,
	PADDOCK_OUTCOME_FAILED = 2,
};

/* 1.1: what a rendered line is, so a terminal or a page can style it. */
enum paddock_render_kind {
	PADDOCK_RENDER_TEXT = 0,   /* the assistant's text */
	PADDOCK_RENDER_TOOL = 1,   /* a tool call with its key argument: "Bash: npm test" */
	PADDOCK_RENDER_RESULT = 2, /* a tool's result, short: "ok", "failed: exit 1" */
	PADDOCK_RENDER_ERROR = 3,  /* an error the agent or its API reported */
	PADDOCK_RENDER_USAGE = 4,  /* running totals: "tokens 1200 in / 300 out, $0.0123" */
	PADDOCK_RENDER_NOTE = 5,   /* anything else worth a line: session start, final result */
};

typedef void (*paddock_emit_fn)(void *emit_ctx, int kind, const char *text, size_t len);

struct paddock_driver_ops {
	uint32_t size;
	/* Create an instance.  host is borrowed until destroy(). */
	int (*create)(const struct paddock_host *host, void **instance, char *err,
		      size_t errlen);
	void (*destroy)(void *instance); /* NULL-safe */

	/* The credential types this driver accepts (enum paddock_cred bits). */
	unsigned (*credential_types)(void *instance);

	/* Check the task at submit time.  The error names the field path and
	 * the fix, e.g. "spec.effort: unsupported value \"x\": use low, medium or high". */
	int (*validate)(void *instance, const struct paddock_task_view *task, char *err,
			size_t errlen);

	/* Map task->credentials_type and credentials_secret to env or files,
	 * only by reference (set_env_secret / add_secret_file). */
	int (*credentials)(void *instance, const struct paddock_task_view *task,
			   const struct paddock_plan_builder *plan, char *err, size_t errlen);

	/* The entrypoint contract: image, command, args, env, home files. */
	int (*entrypoint)(void *instance, const struct paddock_task_view *task,
			  const struct paddock_plan_builder *plan, char *err, size_t errlen);

	/* Stream parser: one instance per run, fed every line of the agent's
	 * output (without the newline; `len` bytes, not NUL-terminated, at
	 * most the host's line cap).  parser_finish fills *out once the
	 * stream has ended; exit_code is the agent's exit status. */
	int (*parser_new)(void *instance, void **parser);
	void (*parser_line)(void *parser, const char *line, size_t len);
	void (*parser_finish)(void *parser, int exit_code, struct paddock_run_result *out);
	void (*parser_free)(void *parser); /* NULL-safe */

	/* 1.1 (each may be NULL).  parser_peek fills the token and cost fields
	 * of *so_far with what the stream has reported up to now (-1 / < 0
	 * when unknown; the other fields are left untouched); the host calls
	 * it between parser_line calls, for live progress and budgets. */
	void (*parser_peek)(void *parser, struct paddock_run_result *so_far);

	/* A renderer turns the stream into lines for people: one instance per
	 * reader, fed every line of the stream in order.  For each line it
	 * calls emit zero times (noise it knows, or nothing worth showing) or
	 * more, once per human line: `text` is `len` bytes of UTF-8 without a
	 * newline, borrowed for the call; the host escapes control characters.
	 * A driver without a renderer is shown raw. */
	int (*renderer_new)(void *instance, void **renderer);
	void (*renderer_line)(void *renderer, const char *line, size_t len,
			      paddock_emit_fn emit, void *emit_ctx);
	void (*renderer_free)(void *renderer); /* NULL-safe */
};

/* ------------------------------------------------------------------ */
/* Context ops                                                         */
/* ------------------------------------------------------------------ */

struct paddock_context_ops {
	uint32_t size;
	/* The item `type` this plugin serves, e.g. "Text" (compared exactly). */
	const char *type;
	int (*create)(const struct paddock_host *host, void **instance, char *err,
		      size_t errlen);
	void (*destroy)(void *instance); /* NULL-safe */
	/* Check an item at submit time; errors start with item->field_path. */
	int (*validate)(void *instance, const struct paddock_context_item *item, char *err,
			size_t errlen);
	/* Turn the item into materials: add_text, add_file/add_dir or add_git. */
	int (*resolve)(void *instance, const struct paddock_task_view *task,
		       const struct paddock_context_item *item,
		       const struct paddock_plan_builder *plan, char *err, size_t errlen);
};

/* ------------------------------------------------------------------ */
/* The descriptor                                                      */
/* ------------------------------------------------------------------ */

struct paddock_plugin {
	/* These three first, forever. */
	uint32_t abi_major;
	uint32_t abi_minor;
	uint32_t size;          /* sizeof(struct paddock_plugin) as built */
	uint32_t kind;          /* enum paddock_kind */
	const char *name;       /* unique, [a-z0-9-]+, e.g. "claude-code" */
	const char *version;    /* the plugin's own version */
	const char *description;
	const char *license;
	const void *ops;        /* struct paddock_driver_ops or paddock_context_ops */
	uint32_t ops_size;      /* sizeof that ops struct as built */
};

typedef const struct paddock_plugin *(*paddock_plugin_entry_fn)(void);

/* Declare the entry point of a plugin:
 *   PADDOCK_PLUGIN(my_descriptor)
 * expands to the exported function returning &my_descriptor. */
#define PADDOCK_PLUGIN(desc)                                                     \
	PADDOCK_EXPORT const struct paddock_plugin *paddock_plugin_entry(void);  \
	PADDOCK_EXPORT const struct paddock_plugin *paddock_plugin_entry(void)   \
	{                                                                        \
		return &(desc);                                                  \
	}

/* Initializer for the leading fields of a descriptor. */
#define PADDOCK_PLUGIN_HEADER(kind_)                                             \
	.abi_major = PADDOCK_ABI_MAJOR, .abi_minor = PADDOCK_ABI_MINOR,          \
	.size = sizeof(struct paddock_plugin), .kind = (kind_)

#ifdef __cplusplus
}
#endif

#endif /* PADDOCK_PLUGIN_H */

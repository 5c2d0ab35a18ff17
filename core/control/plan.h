/* SPDX-License-Identifier: MIT */
/*
 * control/plan.h - the backend-neutral run plan.  Drivers and context plugins
 * fill it through struct paddock_plan_builder (plan_builder()); a backend
 * renders it (local: workspace + bwrap + supervisor; kubernetes: Job +
 * ConfigMap + init containers).  The plan never holds a secret value:
 * secrets are references resolved by the backend at run time.
 */
#ifndef PADDOCK_PLAN_H
#define PADDOCK_PLAN_H

#include <paddock/plugin.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/util.h"

struct plan_env {
	char *name;
	char *value;        /* plain value, or NULL when secret_name is set */
	char *secret_name;  /* reference: Secret in plan->secret_ns */
	char *secret_key;
};

struct plan_file {
	int root;           /* enum paddock_root */
	char *path;         /* normalized relative path, no "..", no leading '/' */
	char *data;         /* owned bytes, or NULL for a secret file or a dir */
	size_t len;
	unsigned mode;
	bool is_dir;
	char *secret_name;  /* reference, for add_secret_file */
	char *secret_key;
	char *origin;       /* who added it, e.g. "spec.contexts[1]", for errors */
};

struct plan_text {
	char *name;
	char *type;
	char *text;
	size_t len;
};

struct plan_git {
	char *repository;
	char *ref;
	int depth;
	char *subpath;
	char *dest;          /* normalized relative path, "" for the workspace */
	char *secret_name;
};

/* ABI 1.1: the run's credential route (a driver's add_credential_route):
 * the proxy serving `endpoint` inside the run replaces `placeholder` in
 * header `header` (after `prefix`) with the Secret's value and forwards
 * to `upstream`.  The value itself is never in the plan. */
struct plan_route {
	char *upstream;     /* "https://host[:port][/base]" */
	char *header;       /* "x-api-key", "Authorization" ... */
	char *prefix;       /* "" or "Bearer " */
	char *secret_name;  /* in secret_ns */
	char *secret_key;
};

struct run_plan {
	char *image;
	char *command;       /* entrypoint path; the prompt is passed as $1 */
	struct strv args;
	char *secret_ns;     /* namespace of every secret reference */
	struct plan_env *env;
	size_t n_env;
	struct plan_file *files;
	size_t n_files;
	struct plan_text *texts;
	size_t n_texts;
	struct plan_git *gits;
	size_t n_gits;
	size_t total_bytes;  /* file + text bytes, checked against max_total */
	size_t max_item;     /* per-file / per-text cap (0: none) */
	size_t max_total;    /* cap on total_bytes (0: none) */
	/* Credential routing, offered by the backend before pipeline_plan
	 * (plan_offer_route): the endpoint and placeholder the driver gives
	 * the agent; `route` once the driver declared one. */
	char *route_endpoint;    /* NULL: not offered (1.0 injection) */
	char *route_placeholder;
	struct plan_route *route;
	char *origin;        /* current origin label, set by plan_set_origin */
	char err[512];       /* first builder error, if any */
	int rc;              /* first builder error code, 0 if none */
};

void plan_init(struct run_plan *p, const char *secret_ns, size_t max_item, size_t max_total);
void plan_free(struct run_plan *p);
/* Offer the driver credential routing for this run: `endpoint` is the
 * plain-HTTP base URL the run's proxy serves inside the sandbox; a fresh
 * random placeholder is made here.  Call after plan_init, before
 * pipeline_plan. */
void plan_offer_route(struct run_plan *p, const char *endpoint);
/* Where the agent's credential routing stands, for messages. */
#define PLAN_ROUTE_PLACEHOLDER_PREFIX "paddock-placeholder-"
/* Label what is added next (e.g. "spec.contexts[2]") in error messages. */
void plan_set_origin(struct run_plan *p, const char *origin);
/* The builder table bound to `p`; valid while `p` lives. */
void plan_builder(struct run_plan *p, struct paddock_plan_builder *out);

/* Normalize a relative path: refuses absolute paths, "..", empty
 * components after cleaning, and NUL/control bytes.  Owned result in
 * *out.  `field` names the field in the error message. */
int plan_clean_path(const char *path, const char *field, char **out, char *err, size_t errlen);

/* Render task.md: the prompt, then each text as
 * <context name=".." type="..">...</context>.  Owned result. */
char *plan_render_task_md(const struct run_plan *p, const char *prompt);

/* In "http(s)://user:pass@host/...", the '@' that ends a userinfo
 * holding a password (user:pass); NULL for other URLs.  Both backends
 * keep such a password out of argv, logs and Job specs. */
const char *plan_url_password_at(const char *url);

/* The order the plan's git fetches run in, as indexes into p->gits
 * (p->n_gits of them): the workspace checkout (dest "") first, as it
 * needs an empty directory, then the others, each in plan order.  Owned. */
size_t *plan_git_order(const struct run_plan *p);

/* Lookup a plain env value set in the plan (NULL if absent or secret). */
const char *plan_env_get(const struct run_plan *p, const char *name);

#endif

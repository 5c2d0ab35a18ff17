/* SPDX-License-Identifier: MIT */
/*
 * ctx_harness.h - a test host for context plugins: loads a built plugin
 * with dlopen, hands it a paddock_host with in-memory Secrets, ConfigMaps
 * and settings, the real http_fetch() under a test policy, and a log that
 * tests can search; resolves items into a real run_plan (core/control/plan.c).
 * Also starts tests/url-server.py on 127.0.0.1.
 */
#ifndef PADDOCK_CTX_HARNESS_H
#define PADDOCK_CTX_HARNESS_H

#include <paddock/plugin.h>
#include <sys/types.h>

#include "plugin/http.h"
#include "control/plan.h"
#include "base/util.h"

struct ch_host {
	struct paddock_host table;
	struct http_policy policy;  /* used by http_get; tests may change it */
	struct buf log;             /* every log line, newline-separated */
	struct ch_entry *secrets, *objects, *settings;
	int secrets_out;            /* secret_get minus secret_free */
	int objects_out;            /* object_get minus object_free */
};

struct ch_host *ch_host_new(void);
void ch_host_free(struct ch_host *h);
void ch_secret_add(struct ch_host *h, const char *ns, const char *name, const char *key,
		   const char *value);
/* Adds key=value to ConfigMap ns/name (key NULL: an empty ConfigMap). */
void ch_configmap_add(struct ch_host *h, const char *ns, const char *name, const char *key,
		      const char *value);
void ch_setting_set(struct ch_host *h, const char *key, const char *value);

struct ch_plugin {
	void *dl;
	const struct paddock_plugin *desc;
	const struct paddock_context_ops *ops;
	void *instance;
};
/* Load TOP_BUILDDIR/contexts/.libs/<name>.so; NULL with a message in err. */
struct ch_plugin *ch_plugin_load(const char *name, struct ch_host *h, char *err, size_t errlen);
void ch_plugin_free(struct ch_plugin *p);

struct ch_item {
	struct paddock_context_item item;
	struct strv keys, values;
};
/* An item of `type` at `field_path` in namespace "default". */
struct ch_item *ch_item_new(const char *type, const char *field_path);
/* "name", "mountPath" and "fileMode" (octal) set the struct fields;
 * everything else is a field() key. */
void ch_item_set(struct ch_item *it, const char *key, const char *value);
void ch_item_free(struct ch_item *it);

/* A task view "default/demo" with no outputs. */
void ch_task_init(struct paddock_task_view *t);

int ch_validate(struct ch_plugin *p, struct ch_item *it, char *err, size_t errlen);
/* plan_set_origin(item path) then resolve into `plan`. */
int ch_resolve(struct ch_plugin *p, const struct paddock_task_view *task, struct ch_item *it,
	       struct run_plan *plan, char *err, size_t errlen);

/* Start tests/url-server.py; returns its port (>0) and pid, or -1. */
int ch_server_start(const char *token, pid_t *pid);
void ch_server_stop(pid_t pid);

#endif

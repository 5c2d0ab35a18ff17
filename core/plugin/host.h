/* SPDX-License-Identifier: MIT */
/*
 * plugin/host.h - builds the struct paddock_host handed to each plugin's
 * create().  Secrets and objects come from whichever store is active
 * (SQLite locally, the API server on Kubernetes) through a host_backend
 * that the runtime installs; HTTP goes through http_fetch() with the
 * config's limits.
 */
#ifndef PADDOCK_HOST_H
#define PADDOCK_HOST_H

#include <paddock/plugin.h>

#include "base/conf.h"

struct host_backend {
	void *ctx;
	/* Owned *value (NUL-terminated, *len bytes); -ENOENT when missing. */
	int (*secret_get)(void *ctx, const char *ns, const char *name, const char *key,
			  char **value, size_t *len, char *err, size_t errlen);
	/* Owned *out, built with host_object_new/host_object_add. */
	int (*object_get)(void *ctx, const char *kind, const char *ns, const char *name,
			  struct paddock_object **out, char *err, size_t errlen);
};

/* Install the backend used by every plugin's secret and object lookups
 * (process-wide; may be set after plugins were created). */
void host_set_backend(const struct host_backend *b);

/* A host table for the plugin `name` (its settings come from cfg).  The
 * table and cfg must outlive the plugin instance.  Owned; host_free(). */
struct paddock_host *host_new(const struct pd_config *cfg, const char *plugin_name);
void host_free(struct paddock_host *h);

/* Objects for host_backend implementations.  Keys are kept sorted. */
struct paddock_object *host_object_new(void);
void host_object_add(struct paddock_object *o, const char *key, const char *value, size_t len);
void host_object_free(struct paddock_object *o); /* NULL-safe */

#endif

/* SPDX-License-Identifier: MIT */
/*
 * loader.h - finds plugins in the configured directories, checks their
 * ABI and file permissions, and creates instances of the enabled ones.
 * One bad plugin never stops the others, unless the config enables it.
 */
#ifndef PADDOCK_LOADER_H
#define PADDOCK_LOADER_H

#include <paddock/plugin.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/conf.h"

struct loaded_plugin {
	char *path;                          /* the .so */
	void *dl;                            /* dlopen handle */
	const struct paddock_plugin *desc;   /* borrowed from the .so */
	bool enabled;                        /* listed enabled in the config */
	struct paddock_host *host;           /* owned, when instantiated */
	void *instance;                      /* from ops->create, when enabled */
};

struct plugin_refusal {
	char *path;
	char *reason;   /* one line: "ABI 2.0 not supported (host 1.0)" */
};

struct plugin_set {
	struct loaded_plugin *v;
	size_t n;
	struct plugin_refusal *refused;
	size_t n_refused;
};

/* Scan cfg->plugin_dirs (non-recursively, *.so), load every plugin, and
 * create instances of the enabled ones when `instantiate` is true.
 * Returns 0, or a negative errno with "PATH: reason" in err when an
 * enabled plugin was refused, missing or failed to create. */
int plugins_load(const struct pd_config *cfg, bool instantiate, struct plugin_set **out,
		 char *err, size_t errlen);
/* The same with the one plugin file `path` (checked as a scanned one):
 * a run's supervisor loads the driver the controller found, not every
 * plugin of every directory (dlopen of each costs its start-up). */
int plugins_load_file(const struct pd_config *cfg, const char *path, struct plugin_set **out,
		      char *err, size_t errlen);
void plugins_free(struct plugin_set *s); /* destroys instances, then dlclose */

/* Enabled, instantiated plugins only.  Borrowed. */
const struct loaded_plugin *plugins_driver(const struct plugin_set *s, const char *name);
const struct loaded_plugin *plugins_context(const struct plugin_set *s, const char *type);
static inline const struct paddock_driver_ops *plugin_driver_ops(const struct loaded_plugin *p)
{
	return (const struct paddock_driver_ops *)p->desc->ops;
}
/* The driver op `field` if the plugin was built with it (ABI 1.1 ops lie
 * beyond a 1.0 plugin's ops_size) and set, else NULL:
 *   PLUGIN_DRIVER_OP(p, renderer_line) */
#define PLUGIN_DRIVER_OP(p, field)                                                        \
	(plugin_ops_size(p) >= offsetof(struct paddock_driver_ops, field) +                \
					sizeof(((struct paddock_driver_ops *)0)->field)      \
		 ? plugin_driver_ops(p)->field                                              \
		 : NULL)
static inline uint32_t plugin_ops_size(const struct loaded_plugin *p)
{
	uint32_t own = *(const uint32_t *)p->desc->ops;
	return p->desc->ops_size < own ? p->desc->ops_size : own;
}
static inline const struct paddock_context_ops *plugin_context_ops(const struct loaded_plugin *p)
{
	return (const struct paddock_context_ops *)p->desc->ops;
}

#endif

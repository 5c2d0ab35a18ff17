/* SPDX-License-Identifier: MIT */
/*
 * conf.h - the operator's config file (paddock.yaml), parsed with
 * libyaml.  Unknown keys and wrong types are errors with line:column and
 * the valid choices.  See etc/paddock.yaml for every key and its default.
 */
#ifndef PADDOCK_CONFIG_H
#define PADDOCK_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "base/run_limits.h"
#include "base/util.h"

struct pd_setting {
	char *key;
	char *value; /* scalars only, as written */
};

struct pd_plugin_conf {
	char *name;        /* plugin name, e.g. "claude-code" */
	int kind;          /* PADDOCK_KIND_DRIVER or PADDOCK_KIND_CONTEXT */
	bool enabled;
	struct pd_setting *settings;
	size_t n_settings;
	int line, column;  /* where it was declared, for messages */
};

struct pd_limits {
	long max_concurrent_tasks;  /* global; default 4 */
	size_t prompt_bytes;        /* default 256 KiB */
	size_t manifest_bytes;      /* default 1 MiB */
	size_t log_bytes_per_run;   /* default 16 MiB */
	size_t output_bytes;        /* marker block cap; default 64 KiB */
	size_t context_item_bytes;  /* default 1 MiB */
	size_t context_total_bytes; /* default 8 MiB */
	size_t url_fetch_bytes;     /* default 1 MiB */
	long url_fetch_timeout_ms;  /* default 10000 */
	long url_max_redirects;     /* default 3 */
	long git_timeout_seconds;   /* default 300 */
	long concurrent_clones;     /* default 2 */
	long default_task_timeout;  /* seconds; default 3600 */
};

/* git: how SSH host keys of git servers are checked (the workspace clone
 * and Git contexts).  Without known hosts and without trustOnFirstUse an
 * SSH fetch is refused; a Task's Secret may bring its own "known_hosts". */
struct pd_git {
	char *known_hosts;        /* git.knownHosts: known_hosts lines, or NULL */
	char *known_hosts_file;   /* git.knownHostsFile: absolute path, read at each fetch */
	bool trust_on_first_use;  /* git.trustOnFirstUse: accept an unknown host's key */
	/* git.allowLocalRepositories: the one rule for repositories on the
	 * controller's file system (file://, a path) in spec.workspace.repo
	 * and Git contexts: refused unless true.  The Git context's setting
	 * allowFileRepositories is its old spelling: either turns it on, and
	 * the plugin is handed the outcome under that name. */
	bool allow_local;
};

struct pd_config {
	char *path;               /* file it was read from, or NULL for defaults */
	char *backend;            /* "local" (default) or "kubernetes" */
	struct strv plugin_dirs;  /* default: PADDOCK_PLUGINDIR */
	char *state_dir;          /* NULL: XDG state home, /var/lib/paddock for root */
	char *isolation;          /* "bwrap" (default) or "none" */
	int log_level;            /* enum log_level; default info */
	int log_format;           /* enum log_format; default kv */
	bool allow_loopback;      /* network.allowLoopback: URL contexts may reach 127/8, ::1 */
	bool allow_private;       /* network.allowPrivate: URL contexts may reach RFC 1918 */
	char *egress;             /* network.egress: "open" (the host's network),
				   * "none" (loopback only), "allowlist" (that, plus
				   * Paddock's egress proxy); NULL when unset: see
				   * pipeline_egress (allowlist as root with bwrap,
				   * else open) */
	struct strv egress_allow; /* network.allow: "host", "*.domain", "host:port" */
	/* github.baseURLs: the GitHub API URLs a Spawner's token may be sent
	 * to (spec.github.baseURL must be one); empty: https://api.github.com */
	struct strv github_base_urls;
	char *kubeconfig;         /* kubernetes.kubeconfig */
	char *kube_namespace;     /* kubernetes.namespace */
	char *kube_default_image; /* kubernetes.defaultImage: runs whose Agent and driver name none */
	char *kube_git_image;     /* kubernetes.gitImage: git init containers; NULL: the run's image */
	char *kube_proxy_image;   /* kubernetes.proxyImage: the egress sidecar (an image with this
				   * paddock binary, the controller's); NULL: no sidecar */
	char *kube_lease_ns;      /* kubernetes.leaseNamespace; NULL: $POD_NAMESPACE, else paddock-system */
	long kube_max_inflight;   /* kubernetes.maxRequestsInFlight: writes at once; 0: 16 */
	bool kube_network_policy; /* kubernetes.networkPolicy: a NetworkPolicy per run that
				   * is not open (kube/netpol.h); default false */
	char *listen;             /* controller.listen, default 127.0.0.1:9464 */
	/* dashboard: the web dashboard on controller.listen (core/web/).
	 * token: what stop and delete need (header X-Paddock-Token); NULL:
	 * read-only.  Never logged. */
	bool dashboard_enabled;   /* dashboard.enabled, default true */
	char *dashboard_token;    /* dashboard.token, or NULL */
	char *dashboard_listen;   /* dashboard.listen: a listener of its own, or NULL (controller.listen) */
	struct pd_git git;
	struct pd_limits limits;
	/* resources: the bounds of a run whose Task and Agent set none, field
	 * by field (0: none).  Limits default to cpu 2, memory 4Gi,
	 * ephemeral-storage 10Gi, pids 1024; requests (Kubernetes only) to
	 * none. */
	struct run_limits default_limits;
	struct run_limits default_requests; /* pids unused */
	/* sandbox: the host uids of local runs, one per concurrent run:
	 * uidBase .. uidBase + uidCount - 1.  Default 2100000000 and 256;
	 * uidCount >= limits.maxConcurrentTasks. */
	int64_t sandbox_uid_base;
	int64_t sandbox_uid_count;
	struct pd_plugin_conf *plugins;  /* drivers: and contexts: entries */
	size_t n_plugins;
};

/* Defaults, as if an empty file was read. */
struct pd_config *config_new_default(void);
/* Parse `path`.  On error returns negative errno and writes
 * "PATH:LINE:COL: message" into err. */
int config_load(const char *path, struct pd_config **out, char *err, size_t errlen);
/* Parse from memory (fuzzing, tests); `name` labels messages. */
int config_parse(const char *name, const char *data, size_t len, struct pd_config **out,
		 char *err, size_t errlen);
void config_free(struct pd_config *c); /* NULL-safe */

/* The default config path: $PADDOCK_CONFIG, else SYSCONFDIR/paddock/paddock.yaml. */
const char *config_default_path(void);

/* Borrowed; NULL when the plugin has no entry or no such setting. */
const struct pd_plugin_conf *config_plugin(const struct pd_config *c, const char *name);
const char *config_plugin_setting(const struct pd_config *c, const char *name, const char *key);

/* The known hosts of `g`: git.knownHosts, then the lines of
 * git.knownHostsFile (read now).  *out owned, NULL when neither is set.
 * Errors name the field ("git.knownHostsFile: cannot read ...") and the
 * line that is not "HOST KEYTYPE KEY". */
int config_git_known_hosts(const struct pd_git *g, char **out, char *err, size_t errlen);
/* Check known_hosts text (`what` names its source in messages). */
int config_known_hosts_check(const char *text, size_t len, const char *what, char *err,
			     size_t errlen);

/* Whether git would read `url` from the local file system: file://, a
 * path (absolute, ./, ../, or anything that is neither a URL nor
 * scp-like host:path). */
bool config_git_local(const char *url);
/* The path of a local repository's URL: after file:// (and localhost). */
const char *config_git_local_path(const char *url);
/* A local repository (config_git_local) refused unless
 * git.allowLocalRepositories: 0, or -EPERM with "FIELD: local repository
 * "URL" refused: ..." naming the setting.  Allowed, it must be an
 * absolute path or file:///path (-EINVAL: relative to what?). */
int config_git_local_check(const struct pd_git *g, const char *url, const char *field, char *err,
			   size_t errlen);

/* Whether git reaches `url` over SSH (ssh://, git+ssh://, ssh+git://, or
 * scp-like [user@]host:path); if so, its host as a known_hosts line names
 * it: "host", or "[host]:port" for a port other than 22. */
bool config_git_ssh_host(const char *url, char *host, size_t hostlen);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * cli/kube.h - the task commands' storage when they work against a
 * Kubernetes API server (paddock --kubeconfig FILE, or backend:
 * kubernetes in the config).
 *
 * cli/tasks.c owns the commands: option parsing, building documents,
 * validation messages, tables, YAML/JSON, describe, the -w loop.  It
 * calls either the local store/runtime or these functions, which have
 * the same shapes (store_obj_cb, store_event_cb, runtime_apply-like
 * validation), so every line the user reads is printed by one piece of
 * code.  Here is only what differs: REST calls, the watch, pod logs and
 * how API errors read.
 *
 * Objects: Task and Agent are custom resources paddock.dev/v1alpha1
 * (tasks, agents); Secret and ConfigMap are core v1.
 *
 * Errors follow HACKING: functions return 0 or a negative errno with one
 * line in err that never holds a token or Secret value:
 *   -EHOSTUNREACH  cannot reach the API server at URL: REASON (check ...)
 *   -ENOENT        task "x" not found in namespace y
 *   -EACCES        forbidden / unauthorized: which verb on which resource
 *   -EINVAL        invalid (the local validation message, or the server's
 *                  422 causes: "spec.prompt: Required value; ...")
 *   -EEXIST, -EPERM, -EIO  as the message says
 */
#ifndef PADDOCK_CMD_KUBE_H
#define PADDOCK_CMD_KUBE_H

#include <json-c/json.h>
#include <signal.h>
#include <stdbool.h>

#include "cli/cli.h"
#include "model/model.h"
#include "local/store.h"

struct kcli;
struct kube_client;

/* True when the task commands go to a cluster: --kubeconfig or --context
 * was given, or the config (ctx->cfg, loaded) says backend: kubernetes. */
bool kcli_wanted(const struct cli_ctx *ctx);

/*
 * Connect: the kubeconfig (--kubeconfig, else kubernetes.kubeconfig, else
 * $KUBECONFIG / ~/.kube/config / in-cluster) and its context (--context,
 * else current-context), and the namespace: ns_flag (-n), else
 * $PADDOCK_NAMESPACE, else kubernetes.namespace, else the context's, else
 * "default".  `plugins` (borrowed, may be NULL) validates Tasks at
 * apply like the local backend does.  Sends nothing yet.  Owned *out.
 */
int kcli_open(const struct cli_ctx *ctx, const char *ns_flag, const struct plugin_set *plugins,
	      struct kcli **out, char *err, size_t errlen);
void kcli_close(struct kcli *k); /* NULL-safe */
const char *kcli_namespace(const struct kcli *k); /* borrowed */
/* The client (borrowed): an informer of the caller's on it. */
struct kube_client *kcli_client(struct kcli *k);
/* No "waiting for the pod" notes on stderr (kcli_logs in the dashboard). */
void kcli_set_quiet(struct kcli *k, bool quiet);

/*
 * Validate `doc` as runtime_apply() does (model_validate, then for Tasks
 * the Agent from the server and the plugins' checks), then create it or
 * update it: spec (data for Secrets and ConfigMaps), metadata.labels and
 * metadata.annotations (paddock.dev/ annotations the document does not
 * set are kept), never status.  A started Task's spec cannot change.
 * `create_only`: -EEXIST when it exists.  doc is normalized in place.
 * *res (may be NULL): created, updated, or unchanged (the update would
 * change nothing, or the server kept the resourceVersion).
 */
int kcli_apply(struct kcli *k, json_object *doc, bool create_only, enum store_applied *res,
	       enum model_kind *kind, char *err, size_t errlen);

/* One object, as the server has it (owned *out; managedFields dropped). */
int kcli_get(struct kcli *k, enum model_kind kind, const char *ns, const char *name,
	     json_object **out, char *err, size_t errlen);

/* Call cb for each object of `kind` in ns (NULL: all namespaces), in
 * creation order, like store_list().  A non-zero cb return stops the walk. */
int kcli_list(struct kcli *k, enum model_kind kind, const char *ns, store_obj_cb cb, void *ctx,
	      char *err, size_t errlen);

/* Ask the controller to stop a Task: annotation paddock.dev/stop=true
 * (merge patch), 0.  A Task that has finished is left as it is: 1, with
 * its phase in *finished (static; finished may be NULL). */
int kcli_stop(struct kcli *k, const char *ns, const char *name, const char **finished, char *err,
	      size_t errlen);

/* DELETE with propagationPolicy Background (the Job goes by GC). */
int kcli_delete(struct kcli *k, enum model_kind kind, const char *ns, const char *name,
		char *err, size_t errlen);

/* The Task's core/v1 Events (involvedObject.uid), oldest first, like
 * store_events(). */
int kcli_events(struct kcli *k, json_object *task, store_event_cb cb, void *ctx, char *err,
		size_t errlen);

/* Watching one Task. */
/* Whether the run of `task` (status.jobName in status.runNamespace) has
 * its NetworkPolicy (kubernetes.networkPolicy): 1 yes, 0 no (or no run
 * yet), negative when the API server could not say (err). */
int kcli_netpol_exists(struct kcli *k, json_object *task, char *err, size_t errlen);

/* The run's egress traffic per host, read from its pod's sidecar log
 * (proxy/traffic.h egress_log_parse: the summary once the run ended, the
 * request lines so far while it runs): *doc owned, NULL when the run has
 * no pod or no sidecar.  Negative when the API server could not say. */
int kcli_egress_traffic(struct kcli *k, json_object *task, json_object **doc, char *err, size_t errlen);

struct kcli_watch;
int kcli_watch_open(struct kcli *k, const char *ns, const char *name, struct kcli_watch **out,
		    char *err, size_t errlen);
/* Wait up to timeout_ms for news; *task gets the Task as last seen (owned),
 * or NULL when nothing is known yet.  -ENOENT once the Task is gone. */
int kcli_watch_next(struct kcli_watch *w, int timeout_ms, json_object **task, char *err,
		    size_t errlen);
void kcli_watch_free(struct kcli_watch *w); /* NULL-safe */

/* get -w: every object of `kind` in ns (NULL: all namespaces) handed to cb
 * (tidied as kcli_list's, borrowed for the call): those there now in
 * creation order, then each one the API server adds or changes, from
 * one list+watch (an informer), until *stop.  A list refused or the
 * server unreachable is returned at once (as kcli_list); later failures
 * are the informer's to retry. */
int kcli_watch_kind(struct kcli *k, enum model_kind kind, const char *ns, store_obj_cb cb,
		    void *ctx, volatile sig_atomic_t *stop, char *err, size_t errlen);

/* Print the agent container's log of the Task's pod to stdout (at most
 * max_bytes).  With `follow`: waits for the Task to start (a GET every
 * second) and for its pod to be past Pending (every 0.5 s, at most the
 * task's timeout: -ETIMEDOUT), then streams the log with one request
 * (follow=true), each chunk written as it comes, until the server ends the
 * stream (the container ended), the pod has ended or is gone, or *stop is
 * set (0).  A stream that breaks, or that the server ends while the pod
 * still runs (API server restart), is not resumed: -EIO saying so, and no
 * byte is ever printed twice.
 * -EAGAIN with "task x is Queued: no logs yet" when it has not started
 * (without follow). */
/* Where kcli_logs puts the log, and what it asks for: NULL writes it to
 * stdout as captured (escaped on a terminal); else each piece in order to
 * write() (nonzero stops), and `query` (e.g. "tailLines=20&timestamps=true",
 * or NULL) is added to the log request. */
struct kcli_log_sink {
	int (*write)(void *ctx, const char *data, size_t len);
	void *ctx;
	const char *query;
};
int kcli_logs(struct kcli *k, const char *ns, const char *name, bool follow, size_t max_bytes,
	      const struct kcli_log_sink *sink, volatile sig_atomic_t *stop, char *err, size_t errlen);

/* The CLI exit code for an error of these functions. */
int kcli_exit_code(int rc);

#endif

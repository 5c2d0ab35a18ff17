/* SPDX-License-Identifier: MIT */
/*
 * control/pipeline.h - from a validated Task (and its Agent) to a run plan,
 * through the plugins: the view handed to plugins, submit-time
 * validation (driver + every context item), and plan building.  Backend
 * neutral: the local backend and the Kubernetes backend both render what
 * pipeline_plan() builds.
 */
#ifndef PADDOCK_PIPELINE_H
#define PADDOCK_PIPELINE_H

#include <paddock/plugin.h>

#include "base/conf.h"
#include "plugin/loader.h"
#include "model/model.h"
#include "control/plan.h"
#include "control/reconcile.h"
#include "proxy/egress.h"

struct outputs_parser;

/* The effective settings of a task: the Task's fields over its Agent's. */
struct pipeline_eff {
	const char *driver;       /* driver name */
	const char *model, *effort, *image;
	const char *cred_type;    /* "api-key", "oauth" or "none" */
	const char *cred_secret, *cred_key;
	const char *cred_field;   /* "spec.credentials" of whichever supplied them */
	const char *run_ns;       /* where the run and its secrets live (the Agent's) */
};
void pipeline_effective(const struct model_task *t, const struct model_agent *a,
			struct pipeline_eff *e);

/* A run's resource limits, field by field: the Task's spec.resources,
 * else its Agent's spec.resources, else the Agent's deprecated
 * spec.pod.resources, else paddock.yaml's resources.limits (cfg NULL: no
 * defaults).  0: none.  `a` may be NULL.  limits_format() (quantity.h)
 * writes it as text. */
void pipeline_limits(const struct pd_config *cfg, const struct model_task *t,
		     const struct model_agent *a, struct run_limits *out);
/* The same for requests (Kubernetes only; pids stays 0).  A request from
 * paddock.yaml above the run's limit is lowered to that limit. */
void pipeline_requests(const struct pd_config *cfg, const struct model_task *t,
		       const struct model_agent *a, struct run_limits *out);
/* A request the Task or its Agent sets above the run's limit (which may
 * come from another level): -EINVAL naming both fields, else 0. */
int pipeline_check_resources(const struct pd_config *cfg, const struct model_task *t,
			     const struct model_agent *a, char *err, size_t errlen);

/* ---- egress: a run's network (docs/sandbox.md "Per-Agent policy") ---- */

/* A run's effective egress. */
struct pipeline_net {
	enum egress_mode mode;
	const char *mode_from; /* "paddock.yaml network.egress" or "Agent spec.network.egress" */
	struct strv allow;     /* allowlist only: the rules, normalized, each once, in
				* order: paddock.yaml's network.allow, the Agent's
				* spec.network.allow, then the defaults (below) */
	size_t n_defaults;     /* how many of `allow`, at its end, are defaults */
};

/* The Agent's spec.network against paddock.yaml (the ceiling): its
 * egress may narrow the operator's (open > allowlist > none), never
 * widen it, and each allow entry must pass the proxy's parser
 * (egress_policy_add).  `a` may be NULL.  0 or -EINVAL with the field and
 * the paddock.yaml setting in err.  Run when an Agent is applied, when a
 * Task is resolved (a config changed since: InvalidSpec) and by
 * pipeline_egress. */
int pipeline_check_network(const struct pd_config *cfg, const struct model_agent *a, char *err,
			   size_t errlen);

/* THE combination of the operator's policy and the Agent's, for every
 * backend (the local backend's start_run, `paddock describe task`):
 *   mode   the Agent's spec.network.egress when set (checked by
 *          pipeline_check_network), else paddock.yaml's network.egress;
 *   allow  (allowlist only) paddock.yaml's network.allow, plus the
 *          Agent's spec.network.allow, plus the defaults that just work:
 *          the driver's model endpoint (the host of its baseURL setting,
 *          else the provider's known API host), the host of the Task's
 *          spec.workspace.repo and of every Git and URL context (the
 *          Agent's and the Task's).  Under none and open the list is empty.
 * `out` is zeroed first; release with pipeline_net_free (also on error). */
int pipeline_egress(const struct pd_config *cfg, const struct model_task *t,
		    const struct model_agent *a, struct pipeline_net *out, char *err, size_t errlen);
void pipeline_net_free(struct pipeline_net *n);
/* One line for describe: "open - unfenced: the host's network, as any
 * process (FROM)", "none - no network (FROM)" or "allowlist (FROM): a, b;
 * defaults: c, d" ("-" for an empty part), FROM being mode_from.  Owned. */
char *pipeline_net_describe(const struct pipeline_net *n);

/* Fill `v` (borrowing from t, a, e and prompt) for plugin calls. */
void pipeline_view(const struct model_task *t, const struct model_agent *a,
		   const struct pipeline_eff *e, const char *prompt, struct paddock_task_view *v);

/* Submit-time checks through the plugins: the driver exists and accepts
 * the credential type, its validate(), each context item's type has an
 * enabled plugin and passes its validate().  0 or -EINVAL with the field
 * path in err. */
int pipeline_validate(const struct plugin_set *ps, const struct model_task *t,
		      const struct model_agent *a, char *err, size_t errlen);

/* A Task's checks past the schema, the same for `paddock apply` (local
 * store or API server) and for the Kubernetes controller (Tasks made with
 * kubectl): its Agent - looked up by the caller, agent_rc being that
 * lookup's result (0, -ENOENT, or another error already described in err)
 * and `a` the Agent or NULL - exists and allows the Task's namespace; the
 * plugins accept it (pipeline_validate; skipped when ps is NULL); its
 * workspace is not a local repository unless cfg's
 * git.allowLocalRepositories (cfg NULL: refused); its templates name only
 * its dependencies.  0, or a negative errno with the field path and the
 * fix in err. */
int pipeline_check_task(const struct pd_config *cfg, const struct plugin_set *ps,
			const struct model_task *t, int agent_rc, const struct model_agent *a,
			char *err, size_t errlen);

/* Build the plan: driver credentials + entrypoint, the workspace fetch,
 * the Agent's contexts then the Task's, the Agent's spec.sandbox.env
 * (over the driver's and contexts' plain variables; a name they set from
 * a Secret is an error), and the core's env contract (PADDOCK_TASK,
 * PADDOCK_MODEL, PADDOCK_EFFORT, PADDOCK_OUTPUTS).  A request above the
 * run's limit (pipeline_check_resources) is an error too.  `plan`
 * must be plan_init'ed by the caller; on error it holds what was added so
 * far and err has the first problem. */
int pipeline_plan(const struct pd_config *cfg, const struct plugin_set *ps,
		  const struct model_task *t, const struct model_agent *a, const char *prompt,
		  struct run_plan *plan, char *err, size_t errlen);

/* Where the drivers' entrypoint scripts and paddock_lib.sh are installed
 * (DATA_DIR/drivers/NAME/paddock_entrypoint.sh, DATA_DIR/drivers/
 * paddock_lib.sh): $PADDOCK_DATA_DIR, else $(pkgdatadir).  Owned. */
char *pipeline_data_dir(void);

/* ---- resolution: what the reconciler needs to know before a run ------- */

/* Where a backend looks things up (its store, or its informer caches). */
struct pipeline_lookup {
	void *ctx;
	/* The phase of task ns/name: 0, or -ENOENT when it does not exist. */
	int (*task_phase)(void *ctx, const char *ns, const char *name, enum rec_phase *phase);
	/* The dependsOn of a task, for the cycle search (see rec_deps_fn; the
	 * namespace is the one passed to pipeline_resolve). */
	rec_deps_fn task_deps;
	/* Owned *out (model_agent_free), or -ENOENT. */
	int (*agent)(void *ctx, const char *ns, const char *name, struct model_agent **out);
	/* Does Secret ns/name hold `key`?  0, or negative errno with a
	 * one-line message (never a value).  NULL: not checked. */
	int (*secret)(void *ctx, const char *ns, const char *name, const char *key, char *err,
		      size_t errlen);
};

/* The part of the reconciler's input that comes from the Task itself:
 * phase (status.phase, Pending when unset), clocks (now, creation, start,
 * completion), the stop request, timeout (the config's default when the
 * Task sets none) and TTL.  `in` is zeroed first. */
void pipeline_rec_input(const struct pd_config *cfg, json_object *task, const struct model_task *t,
			struct rec_input *in);

/* What pipeline_resolve found; `in` points into it, so it must outlive
 * the rec_decide() call.  Release with pipeline_resolution_free. */
struct pipeline_resolution {
	char invalid[512];
	char cycle[512];
	struct model_agent *agent; /* owned, or NULL */
};

/* Fill the resolution part of `in` for task `t` (a missing or forbidden
 * Agent, an Agent's spec.network above paddock.yaml's (InvalidSpec; cfg
 * NULL: not checked), a driver that is not enabled, a missing credential
 * Secret, the dependencies' phases and a dependency cycle) - the same
 * rules for every backend.  Only for tasks that are neither Running nor
 * finished. */
void pipeline_resolve(const struct pd_config *cfg, const struct plugin_set *ps,
		      const struct model_task *t,
		      const struct pipeline_lookup *lk, struct rec_input *in,
		      struct pipeline_resolution *res);
void pipeline_resolution_free(struct pipeline_resolution *res);

/* ---- a run's result: the stream parsed by the driver and the outputs --- */

struct pipeline_sink {
	const struct paddock_driver_ops *ops;
	void *parser;                    /* the driver's, or NULL */
	struct outputs_parser *outputs;
};

/* Set up for driver `driver` (may be missing: then only outputs). */
void pipeline_sink_init(struct pipeline_sink *s, const struct pd_config *cfg,
			const struct plugin_set *ps, const char *driver);
/* One line of the run's output, without its newline. */
void pipeline_sink_line(struct pipeline_sink *s, const char *line, size_t len);
/* Feed a whole log (split into lines, each cut at `line_max`). */
void pipeline_sink_text(struct pipeline_sink *s, const char *text, size_t len, size_t line_max);
/* The result as a JSON object: outcome, inputTokens, outputTokens,
 * costUSD, result, error, outputs, outputsWarning.  Owned. */
json_object *pipeline_sink_finish(struct pipeline_sink *s, int exit_code);
void pipeline_sink_free(struct pipeline_sink *s);

/* Record what a finished run produced into a status object: results (all
 * outputs), outputs (the declared ones, with defaults), usage, result,
 * outputsWarning, exitCode, runStartTime/runEndTime (when known). */
void pipeline_fill_results(json_object *st, const struct model_task *t, json_object *result,
			   int exit_code, int64_t start_ms, int64_t end_ms);

/* Count a finished run in the metrics (m may be NULL): its duration
 * (start_ms/end_ms, 0 when unknown) and the result's tokens and cost. */
struct metrics;
void pipeline_count_run(struct metrics *m, const char *driver, json_object *result,
			int64_t start_ms, int64_t end_ms);

/* The plan a driver's entrypoint op makes for a minimal Task (no
 * credentials, empty prompt): what `config check` needs to know how the
 * driver's CLI is found (PADDOCK_AGENT_BIN). */
int pipeline_driver_entry(const struct plugin_set *ps, const char *driver, struct run_plan *plan,
			  char *err, size_t errlen);

#endif

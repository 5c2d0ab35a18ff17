/* SPDX-License-Identifier: MIT */
/*
 * pipeline.h - from a validated Task (and its Agent) to a run plan,
 * through the plugins: the view handed to plugins, submit-time
 * validation (driver + every context item), and plan building.  Backend
 * neutral: the local backend and the Kubernetes backend both render what
 * pipeline_plan() builds.
 */
#ifndef PADDOCK_PIPELINE_H
#define PADDOCK_PIPELINE_H

#include <paddock/plugin.h>

#include "conf.h"
#include "loader.h"
#include "model.h"
#include "plan.h"

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

/* Fill `v` (borrowing from t, a, e and prompt) for plugin calls. */
void pipeline_view(const struct model_task *t, const struct model_agent *a,
		   const struct pipeline_eff *e, const char *prompt, struct paddock_task_view *v);

/* Submit-time checks through the plugins: the driver exists and accepts
 * the credential type, its validate(), each context item's type has an
 * enabled plugin and passes its validate().  0 or -EINVAL with the field
 * path in err. */
int pipeline_validate(const struct plugin_set *ps, const struct model_task *t,
		      const struct model_agent *a, char *err, size_t errlen);

/* Build the plan: driver credentials + entrypoint, the Agent's contexts
 * then the Task's, the workspace fetch, and the core's env contract
 * (PADDOCK_TASK, PADDOCK_MODEL, PADDOCK_EFFORT, PADDOCK_OUTPUTS).  `plan`
 * must be plan_init'ed by the caller; on error it holds what was added so
 * far and err has the first problem. */
int pipeline_plan(const struct pd_config *cfg, const struct plugin_set *ps,
		  const struct model_task *t, const struct model_agent *a, const char *prompt,
		  struct run_plan *plan, char *err, size_t errlen);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * kube/budget.h - Budgets on the Kubernetes backend
 * (docs/triggers.md#budgets-on-kubernetes): the controller's budget op
 * over its caches of Budgets and Tasks.  The spend is control/budget.h's
 * count of the covered Tasks that started in the window (or were admitted,
 * their Job created or being created, their pod not running yet: a burst
 * cannot overshoot maxTasks while pods wait): finished ones
 * from status.usage, running ones from their usage so far as
 * kube/usage.h follows it from their log.
 */
#ifndef PADDOCK_KUBE_BUDGET_H
#define PADDOCK_KUBE_BUDGET_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "kube/client.h"

struct kube_usage;
struct kidx;

/* struct ctl_backend.budget over the caches: for a task about to start,
 * whether a Budget covering it has a cap reached; for a running one,
 * whether its usage so far (from `usage`) crossed its spec.maxCostUSD or
 * a Budget's cost or token cap.  true with the reason in msg. */
bool kube_budget(struct kube_informer *budgets, struct kube_informer *tasks,
		 struct kube_usage *usage, const struct kidx *idx, json_object *task, bool running,
		 char *msg, size_t n);

/* Each Budget's paddock_budget_* series on `m` (NULL: none). */
struct metrics;
void kube_budget_metrics(struct kube_informer *budgets, struct kube_informer *tasks,
			 struct kube_usage *usage, const struct kidx *idx, struct metrics *m);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * kube/budget.h - Budgets on the Kubernetes backend
 * (docs/triggers.md#budgets): the controller's budget op over its caches
 * of Budgets and Tasks.  The spend is control/budget.h's count of the
 * covered Tasks that started in the window, from their status.usage:
 * a finished Task's usage is complete, a running Task counts as started
 * with no usage yet (the agent pod holds no API token and the controller
 * does not read its log until it ends), so on Kubernetes a Budget holds
 * admission, and nothing stops a run midway.
 */
#ifndef PADDOCK_KUBE_BUDGET_H
#define PADDOCK_KUBE_BUDGET_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "kube/client.h"

/* struct ctl_backend.budget over the caches: for a task about to start,
 * whether a Budget covering it has a cap reached (reason in msg); for a
 * running one, false. */
bool kube_budget(struct kube_informer *budgets, struct kube_informer *tasks, json_object *task,
		 bool running, char *msg, size_t n);

#endif

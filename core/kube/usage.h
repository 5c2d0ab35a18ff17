/* SPDX-License-Identifier: MIT */
/*
 * kube/usage.h - the usage so far of running Tasks on Kubernetes, for
 * Budgets and spec.maxCostUSD (docs/triggers.md#budgets-on-kubernetes).
 * The agent pod holds no API token, so it cannot report; instead, for
 * each running Task that a cost or token cap could stop (its own
 * spec.maxCostUSD, or a Budget covering it with maxCostUSD or
 * maxTokens), the leader follows the agent container's log through the
 * API server (pods/log, follow) on a thread and a client of its own, feeds
 * it to the driver's stream parser, and reads the usage so far with the
 * parser's parser_peek (ABI 1.1), as the local supervisor does.  The
 * controller loop only looks at the result: a Task whose usage changed is
 * queued, and its budget op reads the usage.  A stream that ends while
 * the Task still runs is followed again (from the start, with a fresh
 * parser: the drivers report totals).
 */
#ifndef PADDOCK_KUBE_USAGE_H
#define PADDOCK_KUBE_USAGE_H

#include <json-c/json.h>
#include <stdbool.h>

#include "base/conf.h"
#include "kube/client.h"
#include "plugin/loader.h"

struct ctl;
struct kube_usage;

/* kubeconfig/context as the controller's (each follower loads its own
 * client).  cfg and ps are borrowed for the object's life. */
struct kube_usage *kube_usage_new(const char *kubeconfig, const char *context,
				  const struct pd_config *cfg, const struct plugin_set *ps);
void kube_usage_free(struct kube_usage *u); /* NULL-safe; ends and joins the followers */

/* Queue on `c` the Tasks whose usage so far changed; at most once a
 * second, follow the capped running Tasks of `tasks` whose pod is known
 * (pod_of: task uid -> "ns/pod"; the driver from spec.type or the Agent
 * in `agents`) and stop following the others.  The running ones are
 * found in `idx` (kube/taskindex.h), not by a walk over every Task. */
struct kidx;
void kube_usage_sync(struct kube_usage *u, struct kube_informer *tasks,
		     struct kube_informer *agents, struct kube_informer *budgets,
		     const struct kidx *idx, json_object *pod_of, struct ctl *c);

/* The usage so far of the Task with this uid ({inputTokens, outputTokens,
 * costUSD}, owned), or NULL when none is known. */
json_object *kube_usage_get(struct kube_usage *u, const char *uid);

#endif

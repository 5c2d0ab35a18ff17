/* SPDX-License-Identifier: MIT */
/*
 * kube/github.h - Spawners with spec.github on the Kubernetes backend
 * (docs/triggers.md#github-issues): control/github.h's poller on a thread
 * and an API client of its own (the informers' client is not
 * thread-safe), polling only while this controller leads.  Its operations
 * against the API server:
 *
 *  - the Spawners listed (in the controller's namespace, or all);
 *  - a Task through kube_spawner_take(): its deterministic name makes a
 *    second create answer 409, so a restart, a failover or two
 *    controllers make it once; an issue is "seen" when its Task exists;
 *  - the Tasks to report on: a LIST of the Spawner's Tasks by the label
 *    paddock.dev/spawner, in pages of 250;
 *  - the report marks: the Task's annotation paddock.dev/github-reported,
 *    by a merge PATCH;
 *  - the claimer id: from the Spawner's uid (the same for every
 *    controller and after a restart, another for another Spawner);
 *  - the poll state in the Spawner's status.github (status subresource,
 *    merge PATCH), which `paddock describe spawner` prints.
 */
#ifndef PADDOCK_KUBE_GITHUB_H
#define PADDOCK_KUBE_GITHUB_H

#include <stdbool.h>

#include "base/conf.h"

struct kube_github;
struct metrics;

/* kubeconfig/context as the controller's; ns the controller's namespace
 * (NULL: all).  NULL when its client cannot be made (logged). */
struct kube_github *kube_github_new(const char *kubeconfig, const char *context, const char *ns,
				    const struct pd_config *cfg, struct metrics *m);
/* Poll (true) or not: the controller loop says whether it leads, at each
 * turn; unsaid for 2 s (a stalled loop), polling stops as well. */
void kube_github_lead(struct kube_github *g, bool leading); /* NULL-safe */
void kube_github_free(struct kube_github *g);               /* NULL-safe; joins */

#endif

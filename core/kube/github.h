/* SPDX-License-Identifier: MIT */
/*
 * kube/github.h - Spawners with spec.github on the Kubernetes backend
 * (docs/triggers.md#github-issues): control/github.h's poller on a thread
 * and an API client of its own (the informers' client is not
 * thread-safe), polling only while this controller leads.  Its operations
 * against the API server:
 *
 *  - the Spawners with spec.github from the controller's cache (copied
 *    by the loop when a Spawner changed: the poller lists none itself);
 *  - a Task through kube_spawner_take(): its deterministic name makes a
 *    second create answer 409, so a restart, a failover or two
 *    controllers make it once; an issue is "seen" when its Task exists;
 *  - the report marks: the Task's annotation paddock.dev/github-reported,
 *    and a label of the same name and value, in one merge PATCH;
 *  - the Tasks to report on: a LIST (pages of 250) of the Spawner's Tasks
 *    (label paddock.dev/spawner) whose end is not reported (the label is
 *    not "end"): as many as are in flight, however many it made;
 *  - the claimer id: from the Spawner's uid (the same for every
 *    controller and after a restart, another for another Spawner);
 *  - the poll state in the Spawner's status.github (status subresource,
 *    merge PATCH), which `paddock describe spawner` prints.
 */
#ifndef PADDOCK_KUBE_GITHUB_H
#define PADDOCK_KUBE_GITHUB_H

#include <stdbool.h>
#include <stdint.h>

#include "base/conf.h"
#include "kube/client.h"

struct kube_github;
struct metrics;

/* kubeconfig/context as the controller's.  NULL when its client cannot
 * be made (logged). */
struct kube_github *kube_github_new(const char *kubeconfig, const char *context,
				    const struct pd_config *cfg, struct metrics *m);
/* At each turn of the controller loop: poll (leading) or not (unsaid for
 * 2 s, a stalled loop, polling stops as well); the Spawners with
 * spec.github are copied from `spawners` (the controller's cache) when
 * gen, its count of Spawner events, moved. */
void kube_github_sync(struct kube_github *g, bool leading, struct kube_informer *spawners,
		      uint64_t gen); /* NULL-safe */
/* A Task with a Spawner's label changed (the controller's watch): its
 * report may be due.  NULL-safe; from the loop thread. */
void kube_github_task_changed(struct kube_github *g);
void kube_github_free(struct kube_github *g);               /* NULL-safe; joins */

#endif

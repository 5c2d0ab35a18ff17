/* SPDX-License-Identifier: MIT */
/*
 * kube/hook.h - the Kubernetes backend's side of Spawners' webhooks
 * (control/hook.h): the Spawner and its Secret read from the API server,
 * and each event's Task created under its deterministic name, so the API
 * server answers 409 for a repeated delivery, whichever replica took it
 * first: exactly once across replicas and restarts.  Filtered and refused
 * deliveries are logged, not stored.  Runs in the HTTP thread on an API
 * client of its own.
 */
#ifndef PADDOCK_KUBE_HOOK_H
#define PADDOCK_KUBE_HOOK_H

#include <json-c/json.h>
#include <stddef.h>

struct kube_client;
struct kube_hook;
struct metrics;
struct spawner_result;

/* Make the Task of event `id` of a (validated) Spawner: filtered (202),
 * rejected (422: the Task it renders is not valid), created (accepted)
 * or, 409, there already (duplicate), in *r.  < 0 with err when nothing
 * was decided (the API server's trouble: try again).  Used by the hooks
 * and by schedules (kube/schedule.h). */
int kube_spawner_take(struct kube_client *kc, json_object *spawner, const char *event,
		      const char *id, json_object *ev, struct spawner_result *r, char *err,
		      size_t errlen);

/* kubeconfig/context as for the controller (NULL: the defaults).  Owned
 * *out; kube_hook_free() after metrics_free(). */
int kube_hook_start(const char *kubeconfig, const char *context, struct metrics *m,
		    struct kube_hook **out, char *err, size_t errlen);
void kube_hook_free(struct kube_hook *h); /* NULL-safe */

#endif

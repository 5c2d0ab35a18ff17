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

#include <stddef.h>

struct kube_hook;
struct metrics;

/* kubeconfig/context as for the controller (NULL: the defaults).  Owned
 * *out; kube_hook_free() after metrics_free(). */
int kube_hook_start(const char *kubeconfig, const char *context, struct metrics *m,
		    struct kube_hook **out, char *err, size_t errlen);
void kube_hook_free(struct kube_hook *h); /* NULL-safe */

#endif

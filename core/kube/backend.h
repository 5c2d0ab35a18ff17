/* SPDX-License-Identifier: MIT */
/*
 * kube/backend.h - the Kubernetes backend: the operations the shared
 * controller loop (control/controller.h) runs on.  Informers keep Tasks,
 * Agents and Paddock's Jobs in memory (list+watch, kube/client.h) and
 * feed the loop's work queue with the keys that changed; status goes
 * through the status subresource as a compare-and-swap on the
 * resourceVersion the decision was based on (a 409 refreshes the cache and
 * the task is decided again); runs are a Job + ConfigMap rendered from the
 * same plan (kube/render.h); outputs and usage are parsed from the agent
 * container's log when the pod ends; an Event per transition.
 *
 * Only the holder of the coordination.k8s.io Lease acts (kube/lease.h:
 * 15 s lease, renewed every 2 s, skew-safe; a replica that cannot renew
 * for 10 s stops acting); the others keep their caches warm.  SIGTERM
 * releases the Lease.
 *
 * Queued is FIFO by (creationTimestamp, uid) across restarts: the order
 * lives in the objects, not in the controller.
 */
#ifndef PADDOCK_KUBE_BACKEND_H
#define PADDOCK_KUBE_BACKEND_H

#include <signal.h>

#include "base/conf.h"
#include "kube/client.h"
#include "plugin/loader.h"

struct metrics;


struct kube_controller_opts {
	const char *kubeconfig;   /* NULL: kube_config_load's search */
	const char *context;      /* NULL: current context */
	const char *namespace;    /* watch only this namespace; NULL: all */
	const char *identity;     /* Lease holder; NULL: $POD_NAME, else host_pid */
	struct metrics *metrics;  /* may be NULL */
};

/* Run until *stop becomes non-zero.  Returns 0 after a graceful stop, or
 * a negative errno with err when it cannot start (no kubeconfig, ...). */
int kube_controller_run(const struct pd_config *cfg, const struct plugin_set *ps,
			const struct kube_controller_opts *o, volatile sig_atomic_t *stop, char *err,
			size_t errlen);

#endif

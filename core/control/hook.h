/* SPDX-License-Identifier: MIT */
/*
 * control/hook.h - Spawners' webhooks on the controller's listener
 * (docs/triggers.md), for both backends: POST /hooks/NAMESPACE/NAME is
 * routed here (control/metrics.h), checked and filtered by spawner.h,
 * and handed to the backend's `take`, which makes the Task exactly once
 * (the local store: in one transaction with the delivery record; the API
 * server: a create that answers 409 for a name that exists).  One
 * delivery at a time, so Tasks are made in arrival order.
 *
 * Runs in the HTTP thread: the source's ops must not share state with
 * the controller's thread (a store connection or API client of their own).
 * Counts paddock_spawner_events_total{spawner,outcome} and
 * paddock_spawner_tasks_created_total{spawner}.
 */
#ifndef PADDOCK_CONTROL_HOOK_H
#define PADDOCK_CONTROL_HOOK_H

#include <json-c/json.h>
#include <stddef.h>

#include "control/spawner.h"

struct metrics;

struct hook_source {
	void *ctx;
	/* The Spawner ns/name, validated, owned; NULL when there is none. */
	json_object *(*spawner)(void *ctx, const char *ns, const char *name);
	/* Secret ns/name key: owned *value of *len bytes (secure_free), or
	 * -errno with a message (never the value). */
	int (*secret)(void *ctx, const char *ns, const char *name, const char *key, char **value,
		      size_t *len, char *err, size_t errlen);
	/* Filter event `id` (spawner_wanted), make its Task, record it: 0
	 * with *r, or -errno when nothing was taken (the sender retries). */
	int (*take)(void *ctx, json_object *spawner, const char *event, const char *id,
		    json_object *ev, struct spawner_result *r, char *err, size_t errlen);
	/* A delivery refused before it was read (may be NULL). */
	void (*rejected)(void *ctx, const char *ns, const char *name, const char *event,
			 const char *why);
};

struct hook;
/* Take metrics' route (src copied; src->ctx borrowed).  Owned; free it
 * only after metrics_free() (the HTTP thread calls it). */
struct hook *hook_start(const struct hook_source *src, struct metrics *m);
void hook_free(struct hook *h); /* NULL-safe */

#endif

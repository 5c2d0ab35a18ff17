/* SPDX-License-Identifier: MIT */
/*
 * local/intake.h - the local backend's side of Spawners' webhooks
 * (control/hook.h): the Task stored in the same transaction as the
 * delivery record, so a repeated delivery or a controller killed in the
 * middle never makes a Task twice.  The controller's loop sees the new
 * Task as any other (the store's data version) and queues it FIFO.
 * Runs in the HTTP thread on a store connection of its own.
 */
#ifndef PADDOCK_LOCAL_INTAKE_H
#define PADDOCK_LOCAL_INTAKE_H

#include <json-c/json.h>
#include <stddef.h>

#include "control/spawner.h"

struct intake;
struct metrics;
struct store;

/* Take event `id` of `spawner` (validated; borrowed) with payload ev:
 * filter it, make its Task and record the delivery, in one store_tx on
 * st.  The webhooks' take (control/hook.h) and the schedule's way in
 * (local/schedule.c).  0 with *r filled, or -errno (nothing taken). */
int intake_take(struct store *st, json_object *spawner, const char *event, const char *id,
		json_object *ev, struct spawner_result *r, char *err, size_t errlen);

/* Open the store in state_dir and take metrics' route.  Owned *out;
 * intake_free() after metrics_free() (the HTTP thread uses it). */
int intake_start(const char *state_dir, struct metrics *m, struct intake **out, char *err,
		 size_t errlen);
void intake_free(struct intake *in); /* NULL-safe */

#endif

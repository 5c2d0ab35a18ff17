/* SPDX-License-Identifier: MIT */
/*
 * kube/schedule.h - Spawners with spec.schedule on the Kubernetes backend
 * (docs/triggers.md#schedules), run by the leader only.  The last start
 * time taken is the Spawner's status.lastScheduleTime (the status
 * subresource); control/schedule.h decides what is due and what
 * concurrencyPolicy makes of it (the Spawner's Tasks found by their
 * paddock.dev/spawner label in the controller's cache).  The Task of a
 * start time is created under its deterministic name before
 * lastScheduleTime moves on, so a restart or a failover in between
 * creates it again, the API server answers 409, and nothing is made
 * twice; a start time is never lost either.
 */
#ifndef PADDOCK_KUBE_SCHEDULE_H
#define PADDOCK_KUBE_SCHEDULE_H

#include <stdint.h>

#include "kube/client.h"

struct ctl;

/* Look at the schedules in `spawners` (at most every 100 ms, and only
 * when the minute changed, `gen` (a count of Spawner events) moved or
 * the last look left something to retry: control/schedule.h's gate);
 * `tasks` is the Task cache.  Made Tasks reach the controller through
 * its watch; Replace's stop requests are queued on `c`. */
void kube_schedule_tick(struct kube_client *kc, struct kube_informer *spawners,
			struct kube_informer *tasks, uint64_t gen, struct ctl *c);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * local/schedule.h - Spawners with spec.schedule on the local backend
 * (docs/triggers.md#schedules): on the controller's loop, each due start
 * time becomes one Task through intake_take(), event id
 * "schedule-UNIXTIME", so a restart never makes a time's Task twice; the
 * last start time taken is the newest "schedule" delivery record (else the
 * Spawner's creation), and a catch-up after an outage follows
 * base/cron.h's CronJob rule.  concurrencyPolicy: Forbid records the
 * time as skipped while a Task of the Spawner is not finished; Replace
 * asks those to stop (the stop annotation) and starts the new one.
 *
 * Test builds (--enable-test-hooks): $PADDOCK_TEST_CLOCK names a file
 * holding the unix time in seconds the schedules read instead of the
 * clock, so hours of schedule run in seconds.
 */
#ifndef PADDOCK_LOCAL_SCHEDULE_H
#define PADDOCK_LOCAL_SCHEDULE_H

struct runtime;

/* Look at the schedules (at most every 100 ms); queue what it made.
 * Returns the ms until it wants to look again while a schedule exists,
 * or -1 when there is none (the controller may then sleep on events). */
int local_schedule_tick(struct runtime *rt);

#endif

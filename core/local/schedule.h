/* SPDX-License-Identifier: MIT */
/*
 * local/schedule.h - Spawners with spec.schedule on the local backend
 * (docs/triggers.md#schedules): on the controller's loop, each due start
 * time (control/schedule.h decides which, and what concurrencyPolicy
 * makes of it) becomes one Task through intake_take(), event id
 * "schedule-UNIXTIME", so a restart never makes a time's Task twice; the
 * last start time taken is the newest "schedule" delivery record (else the
 * Spawner's creation).  Forbid records the time as skipped; Replace asks
 * the unfinished Tasks to stop (the stop annotation) and starts the new
 * one.
 */
#ifndef PADDOCK_LOCAL_SCHEDULE_H
#define PADDOCK_LOCAL_SCHEDULE_H

struct runtime;

/* Look at the schedules (at most every 100 ms); queue what it made.
 * Returns the ms until it wants to look again while a schedule exists,
 * or -1 when there is none (the controller may then sleep on events). */
int local_schedule_tick(struct runtime *rt);

#endif

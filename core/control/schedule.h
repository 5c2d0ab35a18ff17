/* SPDX-License-Identifier: MIT */
/*
 * control/schedule.h - what both backends share of a scheduled Spawner
 * (docs/triggers.md#schedules): the clock, which start time is due after
 * the last one taken (base/cron.h's CronJob rule: after an outage only the
 * latest runs, never when older than startingDeadlineSeconds), and what
 * concurrencyPolicy makes of it.  Pure but for the clock: the backend
 * knows the last start time taken (local: the newest delivery record;
 * Kubernetes: the Spawner's status.lastScheduleTime) and the Spawner's
 * unfinished Tasks, and makes the Task (event id "schedule-UNIXTIME": its
 * name is deterministic, so a start time is never made twice).
 *
 * Test builds (--enable-test-hooks): $PADDOCK_TEST_CLOCK names a file
 * holding the unix time in seconds that schedules read instead of the
 * clock, so hours of schedule run in seconds.
 */
#ifndef PADDOCK_CONTROL_SCHEDULE_H
#define PADDOCK_CONTROL_SCHEDULE_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/util.h"

enum schedule_what {
	SCHEDULE_NONE,    /* nothing due (or no schedule, suspended) */
	SCHEDULE_LATE,    /* due but past startingDeadlineSeconds: record as missed */
	SCHEDULE_DUE,     /* due: ask schedule_policy() */
	SCHEDULE_FORBID,  /* concurrencyPolicy Forbid and a Task still runs: record as skipped */
	SCHEDULE_REPLACE, /* concurrencyPolicy Replace: stop the unfinished Tasks, then start */
	SCHEDULE_START,   /* make the Task */
};

struct schedule_step {
	int64_t time;      /* the start time decided on, unix seconds */
	long missed;       /* earlier start times passed over */
	char id[48];       /* "schedule-UNIXTIME": the event id */
	char when[40];     /* the start time, RFC 3339 UTC */
	char detail[128];  /* "N earlier start times missed (only the latest runs) ", or "" */
	char why[448];     /* LATE, FORBID: the record's detail */
};

/* Seconds since the epoch (the test clock in test builds). */
int64_t schedule_now_s(void);

/* Whether a tick must look at the Spawners' crons (up to 10,080 matches
 * each, with time zone switches): a start time can come due only when
 * the wall-clock minute changes (crons have minute resolution), a
 * Spawner changes (`gen`, the caller's change count), or the last look
 * left a start time to retry (`retry`, set by the caller after it).
 * The first call says yes. */
struct schedule_gate {
	int64_t minute;
	uint64_t gen;
	bool looked, retry;
};
bool schedule_gate_open(struct schedule_gate *g, int64_t now_s, uint64_t gen);

/* Does `spawner` have a schedule that is not suspended? */
bool schedule_active(json_object *spawner);

/* The step of a Spawner whose last start time taken is last_s (else its
 * creation) at now_s: NONE, LATE or DUE, with *st filled for the last
 * two. */
enum schedule_what schedule_step(json_object *spawner, int64_t last_s, int64_t now_s,
				 struct schedule_step *st);

/* Does the policy look at the Spawner's unfinished Tasks (not Allow)? */
bool schedule_needs_active(json_object *spawner);

/* Is `task` an unfinished Task of the Spawner named `spawner`? */
bool schedule_task_active(json_object *task, const char *spawner);

/* What a DUE step becomes given the Spawner's unfinished Tasks (names):
 * FORBID (st->why filled), REPLACE or START. */
enum schedule_what schedule_policy(json_object *spawner, const struct strv *active,
				   struct schedule_step *st);

/* The event of a start time for the Task's templates ({time}), owned. */
json_object *schedule_event(const struct schedule_step *st);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * control/schedule.c - scheduled Spawners' decisions.  See schedule.h.
 */
#include "config.h"
#include "control/schedule.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cron.h"
#include "base/jsonutil.h"
#include "model/model.h"

int64_t schedule_now_s(void)
{
#ifdef PADDOCK_TEST_HOOKS
	const char *f = getenv("PADDOCK_TEST_CLOCK");
	if (f && *f) {
		FILE *fp = fopen(f, "r");
		long long v = 0;
		int ok = fp && fscanf(fp, "%lld", &v) == 1;
		if (fp)
			fclose(fp);
		if (ok)
			return v;
	}
#endif
	return now_wall_ms() / 1000;
}

bool schedule_gate_open(struct schedule_gate *g, int64_t now_s, uint64_t gen)
{
	int64_t minute = now_s / 60;
	if (g->looked && minute == g->minute && gen == g->gen && !g->retry)
		return false;
	g->looked = true;
	g->minute = minute;
	g->gen = gen;
	g->retry = false;
	return true;
}

bool schedule_active(json_object *spawner)
{
	json_object *spec = jget(spawner, "spec");
	return jget(spec, "schedule") && !json_object_get_boolean(jget(spec, "suspend"));
}

enum schedule_what schedule_step(json_object *spawner, int64_t last_s, int64_t now_s,
				 struct schedule_step *st)
{
	json_object *sc = jget(jget(spawner, "spec"), "schedule");
	struct cron c;
	char err[512];
	memset(st, 0, sizeof(*st));
	if (!schedule_active(spawner) || cron_parse(jstr(sc, "cron"), &c, err, sizeof(err)) < 0)
		return SCHEDULE_NONE; /* a bad cron was refused at apply: an older Paddock's */
	schedule_due(&c, jstr(sc, "timeZone"), last_s, now_s, &st->time, &st->missed);
	if (!st->time)
		return SCHEDULE_NONE;
	snprintf(st->id, sizeof(st->id), "schedule-%lld", (long long)st->time);
	format_time_ms(st->time * 1000, st->when, sizeof(st->when));
	if (st->missed)
		snprintf(st->detail, sizeof(st->detail),
			 "%ld earlier start time%s missed (only the latest runs) ", st->missed,
			 st->missed == 1 ? "" : "s");
	json_object *dl = jget(sc, "startingDeadlineSeconds");
	if (dl && now_s - st->time > json_object_get_int64(dl)) {
		snprintf(st->why, sizeof(st->why),
			 "%smissed %s: %llds late, over startingDeadlineSeconds", st->detail, st->when,
			 (long long)(now_s - st->time));
		return SCHEDULE_LATE;
	}
	return SCHEDULE_DUE;
}

static const char *policy(json_object *spawner)
{
	const char *p = jstr(jget(jget(spawner, "spec"), "schedule"), "concurrencyPolicy");
	return p ? p : "Allow";
}

bool schedule_needs_active(json_object *spawner)
{
	return !str_eq(policy(spawner), "Allow");
}

bool schedule_task_active(json_object *task, const char *spawner)
{
	json_object *md = jget(task, "metadata");
	const char *ph = jstr(jget(task, "status"), "phase");
	if (!str_eq(jstr(jget(md, "labels"), MODEL_LABEL_SPAWNER), spawner))
		return false;
	int p = model_phase_parse(ph ? ph : "Pending");
	return p >= 0 && !model_phase_finished((enum model_phase)p);
}

enum schedule_what schedule_policy(json_object *spawner, const struct strv *active,
				   struct schedule_step *st)
{
	if (!active->n || str_eq(policy(spawner), "Allow"))
		return SCHEDULE_START;
	if (str_eq(policy(spawner), "Replace"))
		return SCHEDULE_REPLACE;
	snprintf(st->why, sizeof(st->why),
		 "%sskipped %s: concurrencyPolicy Forbid and task %.64s has not finished", st->detail,
		 st->when, active->v[0]);
	return SCHEDULE_FORBID;
}

json_object *schedule_event(const struct schedule_step *st)
{
	json_object *ev = json_object_new_object();
	json_object_object_add(ev, "time", json_object_new_string(st->when));
	return ev;
}

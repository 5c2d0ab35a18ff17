/* SPDX-License-Identifier: MIT */
/*
 * local/schedule.c - scheduled Spawners on the local backend.  See
 * schedule.h.
 */
#include "config.h"
#include "local/schedule.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/cron.h"
#include "base/jsonutil.h"
#include "base/util.h"
#include "control/controller.h"
#include "local/backend.h"
#include "local/intake.h"
#include "local/store.h"

#define TICK_MS 100

static int64_t now_s(void)
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

/* The newest start time taken: from the last "schedule" record. */
static int last_cb(const struct store_delivery *d, void *ctx)
{
	int64_t *last = ctx;
	if (str_eq(d->event, "schedule") && d->id && !strncmp(d->id, "schedule-", 9)) {
		int64_t t = strtoll(d->id + 9, NULL, 10);
		if (t > *last)
			*last = t;
	}
	return 0;
}

struct active {
	const char *spawner;
	struct strv names; /* unfinished Tasks of the Spawner */
};

static int active_cb(json_object *task, void *ctx)
{
	struct active *a = ctx;
	json_object *md = jget(task, "metadata");
	const char *ph = jstr(jget(task, "status"), "phase");
	if (!str_eq(jstr(jget(md, "labels"), MODEL_LABEL_SPAWNER), a->spawner))
		return 0;
	int p = model_phase_parse(ph ? ph : "Pending");
	if (p >= 0 && !model_phase_finished((enum model_phase)p))
		strv_push(&a->names, jstr(md, "name"));
	return 0;
}

static void record(struct runtime *rt, const char *ns, const char *name, const char *id,
		   const char *outcome, const char *detail)
{
	struct store_delivery d = { .ns = ns, .spawner = name, .id = id, .event = "schedule",
				    .outcome = outcome, .detail = detail };
	char err[256];
	if (store_delivery_add(rt->store, &d, err, sizeof(err)) < 0 && !strstr(err, "taken already"))
		log_warn("schedule: cannot record a start time", "spawner", name, "error", err);
}

static bool any_schedule; /* seen by the last tick */

static int spawner_cb(json_object *sp, void *ctx)
{
	struct runtime *rt = ctx;
	json_object *md = jget(sp, "metadata"), *spec = jget(sp, "spec"), *sc = jget(spec, "schedule");
	if (!sc || json_object_get_boolean(jget(spec, "suspend")))
		return 0;
	any_schedule = true;
	const char *ns = jstr(md, "namespace"), *name = jstr(md, "name"), *tz = jstr(sc, "timeZone");
	struct cron c;
	char err[512];
	if (cron_parse(jstr(sc, "cron"), &c, err, sizeof(err)) < 0)
		return 0; /* validated at apply: only an older Paddock's document */
	int64_t now = now_s(), last = jtime(md, "creationTimestamp") / 1000, latest = 0;
	(void)store_deliveries(rt->store, ns, name, 1, last_cb, &last);
	long missed = 0;
	schedule_due(&c, tz, last, now, &latest, &missed);
	if (!latest)
		return 0;
	char id[64], detail[256] = "", when[40];
	snprintf(id, sizeof(id), "schedule-%lld", (long long)latest);
	format_time_ms(latest * 1000, when, sizeof(when));
	if (missed)
		snprintf(detail, sizeof(detail), "%ld earlier start time%s missed (only the latest runs) ",
			 missed, missed == 1 ? "" : "s");
	json_object *dl = jget(sc, "startingDeadlineSeconds");
	if (dl && now - latest > json_object_get_int64(dl)) {
		char why[384];
		snprintf(why, sizeof(why), "%smissed %s: %llds late, over startingDeadlineSeconds",
			 detail, when, (long long)(now - latest));
		record(rt, ns, name, id, "filtered", why);
		return 0;
	}
	const char *policy = jstr(sc, "concurrencyPolicy");
	struct active a = { name, { 0 } };
	if (!str_eq(policy, "Allow"))
		(void)store_list(rt->store, MODEL_TASK, ns, active_cb, &a);
	if (a.names.n && str_eq(policy, "Forbid")) {
		char why[384];
		snprintf(why, sizeof(why), "%sskipped %s: concurrencyPolicy Forbid and task %s has not finished",
			 detail, when, a.names.v[0]);
		record(rt, ns, name, id, "filtered", why);
		strv_free(&a.names);
		return 0;
	}
	for (size_t i = 0; a.names.n && i < a.names.n; i++) { /* Replace */
		if (store_set_annotation(rt->store, MODEL_TASK, ns, a.names.v[i], MODEL_ANNOTATION_STOP,
					 "true", err, sizeof(err)) == 0)
			ctl_enqueue(rt->ctl, ns, a.names.v[i]);
	}
	strv_free(&a.names);
	if (missed) /* before the start time's own record: that one must stay the newest */
		record(rt, ns, name, NULL, "missed", detail);
	json_object *ev = json_object_new_object();
	json_object_object_add(ev, "time", json_object_new_string(when));
	struct spawner_result r;
	if (intake_take(rt->store, sp, "schedule", id, ev, &r, err, sizeof(err)) < 0) {
		log_warn("schedule: cannot take a start time; retried", "spawner", name, "error", err);
	} else {
		if (r.task[0] && r.outcome == SPAWNER_ACCEPTED)
			ctl_enqueue(rt->ctl, ns, r.task);
		log_info("schedule: start time", "spawner", name, "time", when, "outcome",
			 spawner_outcome_name(r.outcome), "detail", *detail ? detail : r.why);
	}
	json_object_put(ev);
	return 0;
}

int local_schedule_tick(struct runtime *rt)
{
	static int64_t last_tick;
	int64_t t = now_mono_ms();
	if (t - last_tick < TICK_MS)
		return any_schedule ? (int)(TICK_MS - (t - last_tick)) : -1;
	last_tick = t;
	any_schedule = false;
	(void)store_list(rt->store, MODEL_SPAWNER, NULL, spawner_cb, rt);
	return any_schedule ? TICK_MS : -1;
}

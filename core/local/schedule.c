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

#include "base/jsonutil.h"
#include "base/util.h"
#include "control/controller.h"
#include "control/schedule.h"
#include "local/backend.h"
#include "local/intake.h"
#include "local/store.h"

#define TICK_MS 100

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
	if (schedule_task_active(task, a->spawner))
		strv_push(&a->names, jstr(jget(task, "metadata"), "name"));
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
static struct schedule_gate gate;
static int64_t tick_now_s;

static int spawner_cb(json_object *sp, void *ctx)
{
	struct runtime *rt = ctx;
	if (!schedule_active(sp))
		return 0;
	any_schedule = true;
	json_object *md = jget(sp, "metadata");
	const char *ns = jstr(md, "namespace"), *name = jstr(md, "name");
	char err[512];
	int64_t last = jtime(md, "creationTimestamp") / 1000;
	(void)store_deliveries(rt->store, ns, name, 1, last_cb, &last);
	struct schedule_step st;
	enum schedule_what w = schedule_step(sp, last, tick_now_s, &st);
	if (w == SCHEDULE_LATE)
		record(rt, ns, name, st.id, "filtered", st.why);
	if (w != SCHEDULE_DUE)
		return 0;
	struct active a = { name, { 0 } };
	if (schedule_needs_active(sp))
		(void)store_list(rt->store, MODEL_TASK, ns, active_cb, &a);
	w = schedule_policy(sp, &a.names, &st);
	if (w == SCHEDULE_FORBID)
		record(rt, ns, name, st.id, "filtered", st.why);
	for (size_t i = 0; w == SCHEDULE_REPLACE && i < a.names.n; i++) {
		if (store_set_annotation(rt->store, MODEL_TASK, ns, a.names.v[i], MODEL_ANNOTATION_STOP,
					 "true", err, sizeof(err)) == 0)
			ctl_enqueue(rt->ctl, ns, a.names.v[i]);
	}
	strv_free(&a.names);
	if (w == SCHEDULE_FORBID)
		return 0;
	if (st.missed) /* before the start time's own record: that one must stay the newest */
		record(rt, ns, name, NULL, "missed", st.detail);
	json_object *ev = schedule_event(&st);
	struct spawner_result r;
	if (intake_take(rt->store, sp, "schedule", st.id, ev, &r, err, sizeof(err)) < 0) {
		log_warn("schedule: cannot take a start time; retried", "spawner", name, "error", err);
		gate.retry = true;
	} else {
		if (r.task[0] && r.outcome == SPAWNER_ACCEPTED)
			ctl_enqueue(rt->ctl, ns, r.task);
		log_info("schedule: start time", "spawner", name, "time", st.when, "outcome",
			 spawner_outcome_name(r.outcome), "detail", *st.detail ? st.detail : r.why);
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
	/* Another connection's commit (an apply) moves data_version. */
	tick_now_s = schedule_now_s();
	if (!schedule_gate_open(&gate, tick_now_s, (uint64_t)store_data_version(rt->store)))
		return any_schedule ? TICK_MS : -1;
	any_schedule = false;
	(void)store_list(rt->store, MODEL_SPAWNER, NULL, spawner_cb, rt);
	return any_schedule ? TICK_MS : -1;
}

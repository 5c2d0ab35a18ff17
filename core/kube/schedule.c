/* SPDX-License-Identifier: MIT */
/*
 * kube/schedule.c - scheduled Spawners on Kubernetes.  See schedule.h.
 */
#include "config.h"
#include "kube/schedule.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jsonutil.h"
#include "base/util.h"
#include "control/controller.h"
#include "control/schedule.h"
#include "control/spawner.h"
#include "kube/hook.h"
#include "model/model.h"

#define TICK_MS 100

struct active {
	const char *ns, *spawner;
	struct strv names;
};

static int active_cb(void *ctx, json_object *task)
{
	struct active *a = ctx;
	json_object *md = jget(task, "metadata");
	if (str_eq(jstr(md, "namespace"), a->ns) && schedule_task_active(task, a->spawner))
		strv_push(&a->names, jstr(md, "name"));
	return 0;
}

struct mark {
	const char *time, *outcome;
};

static void mark_status(void *ctx, json_object *fresh)
{
	struct mark *m = ctx;
	json_object *st = jget(fresh, "status");
	if (!st || !json_object_is_type(st, json_type_object)) {
		st = json_object_new_object();
		json_object_object_add(fresh, "status", st);
	}
	jset_str(st, "lastScheduleTime", m->time);
	jset_str(st, "lastScheduleOutcome", m->outcome);
}

/* The start time is taken: status.lastScheduleTime, with what became of
 * it.  The answer goes into the cache at once, so the next tick does
 * not take it again.  false: not recorded, to retry. */
static bool mark(struct kube_client *kc, struct kube_informer *spawners, json_object *sp,
		 const char *when, const char *outcome)
{
	struct mark m = { when, outcome };
	json_object *copy = NULL, *updated = NULL;
	char err[512];
	if (json_object_deep_copy(sp, &copy, NULL) < 0)
		return false;
	mark_status(&m, copy);
	int st = kube_update_status(kc, &KUBE_SPAWNERS, copy, mark_status, &m, &updated, err,
				    sizeof(err));
	if (st == 200 && updated)
		kube_informer_store(spawners, updated);
	else if (st != 404)
		log_warn("schedule: cannot record the start time; retried", "spawner",
			 jstr(jget(sp, "metadata"), "name"), "error", err);
	json_object_put(updated);
	json_object_put(copy);
	return st == 200 || st == 404;
}

static void stop_task(struct kube_client *kc, const char *ns, const char *name, struct ctl *c)
{
	json_object *patch = json_object_new_object(), *md = json_object_new_object(),
		    *ann = json_object_new_object();
	json_object_object_add(ann, MODEL_ANNOTATION_STOP, json_object_new_string("true"));
	json_object_object_add(md, "annotations", ann);
	json_object_object_add(patch, "metadata", md);
	char err[512], *path = kube_path(&KUBE_TASKS, ns, name, NULL, NULL);
	int st = kube_request(kc, "PATCH", path, patch, "application/merge-patch+json", NULL, err,
			      sizeof(err));
	if (st != 200 && st != 404)
		log_warn("schedule: cannot stop a task for concurrencyPolicy Replace", "task", name,
			 "error", err);
	else if (c)
		ctl_enqueue(c, ns, name);
	free(path);
	json_object_put(patch);
}

struct tick {
	struct kube_client *kc;
	struct kube_informer *spawners, *tasks;
	struct ctl *c;
	int64_t now_s;
	bool retry;
};

static void step(struct tick *t, json_object *raw, json_object *sp)
{
	json_object *md = jget(sp, "metadata");
	const char *ns = jstr(md, "namespace"), *name = jstr(md, "name");
	int64_t last = jtime(jget(raw, "status"), "lastScheduleTime") / 1000;
	if (last <= 0)
		last = jtime(md, "creationTimestamp") / 1000;
	struct schedule_step st;
	enum schedule_what w = schedule_step(sp, last, t->now_s, &st);
	if (w == SCHEDULE_LATE) {
		log_info("schedule: start time missed", "spawner", name, "detail", st.why);
		t->retry |= !mark(t->kc, t->spawners, raw, st.when, st.why);
	}
	if (w != SCHEDULE_DUE)
		return;
	struct active a = { ns, name, { 0 } };
	if (schedule_needs_active(sp))
		(void)kube_informer_foreach(t->tasks, active_cb, &a);
	w = schedule_policy(sp, &a.names, &st);
	for (size_t i = 0; w == SCHEDULE_REPLACE && i < a.names.n; i++)
		stop_task(t->kc, ns, a.names.v[i], t->c);
	strv_free(&a.names);
	if (w == SCHEDULE_FORBID) {
		log_info("schedule: start time skipped", "spawner", name, "detail", st.why);
		t->retry |= !mark(t->kc, t->spawners, raw, st.when, st.why);
		return;
	}
	json_object *ev = schedule_event(&st);
	struct spawner_result r;
	char err[512], outcome[sizeof(r.why) + sizeof(st.detail) + 32];
	if (kube_spawner_take(t->kc, sp, "schedule", st.id, ev, &r, err, sizeof(err)) < 0) {
		log_warn("schedule: cannot take a start time; retried", "spawner", name, "error", err);
		t->retry = true;
	} else {
		log_info("schedule: start time", "spawner", name, "time", st.when, "outcome",
			 spawner_outcome_name(r.outcome), "detail", *st.detail ? st.detail : r.why);
		snprintf(outcome, sizeof(outcome), "%s%s: %s", st.detail,
			 spawner_outcome_name(r.outcome), r.why);
		t->retry |= !mark(t->kc, t->spawners, raw, st.when, outcome);
	}
	json_object_put(ev);
}

static int collect_cb(void *ctx, json_object *raw)
{
	if (schedule_active(raw))
		json_object_array_add(ctx, json_object_get(raw));
	return 0;
}

void kube_schedule_tick(struct kube_client *kc, struct kube_informer *spawners,
			struct kube_informer *tasks, uint64_t gen, struct ctl *c)
{
	static int64_t last_tick;
	static struct schedule_gate gate;
	int64_t now = now_mono_ms();
	if (now - last_tick < TICK_MS)
		return;
	last_tick = now;
	int64_t now_s = schedule_now_s();
	if (!schedule_gate_open(&gate, now_s, gen))
		return;
	/* A copy of the list: a start time taken writes into the cache. */
	json_object *due = json_object_new_array();
	(void)kube_informer_foreach(spawners, collect_cb, due);
	struct tick t = { kc, spawners, tasks, c, now_s, false };
	for (size_t i = 0; i < json_object_array_length(due); i++) {
		json_object *raw = json_object_array_get_idx(due, i), *sp = NULL;
		enum model_kind k;
		char err[512];
		if (model_from_server(raw, NULL, &k, &sp, err, sizeof(err)) < 0 || k != MODEL_SPAWNER)
			log_debug("schedule: spawner unreadable", "spawner",
				  jstr(jget(raw, "metadata"), "name"), "error", err);
		else
			step(&t, raw, sp);
		json_object_put(sp);
	}
	json_object_put(due);
	gate.retry = t.retry;
}

/* SPDX-License-Identifier: MIT */
/*
 * kube/taskindex.c - see taskindex.h.
 */
#include "config.h"
#include "kube/taskindex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jsonutil.h"
#include "control/reconcile.h"
#include "kube/render.h"
#include "model/model.h"

struct ent {
	char *uid;
	char *key;          /* "ns/name" of the task, or NULL while unknown */
	char akey[320];
	int64_t created_ms;
	bool task, running, queued; /* the task: cached, Running, Queued and not stop-requested */
	bool job;           /* a Job of it that has not ended */
	bool starting;      /* its Job is being created */
	bool holds;         /* counted in the slots */
	bool in_line;
	bool counted;       /* in the phase counts (and the depths when qdepth) */
	bool qdepth;        /* its phase is Queued (stop-requested or not) */
	int mphase;         /* its phase (model_phase_parse), counted while `counted` */
};

/* A FIFO line: entries sorted by (created_ms, uid). */
struct line {
	struct ent **v;
	size_t n, cap;
};

struct kidx {
	json_object *ents;   /* uid -> (userdata struct ent) */
	json_object *slots;  /* agent key -> int */
	json_object *lines;  /* agent key -> (userdata struct line) */
	json_object *waiting; /* "ns/name" of Waiting tasks -> null */
	json_object *depths; /* agent key ("(none)" for "") -> Tasks in phase Queued */
	json_object *runs;   /* "ns/name" of Running tasks -> null */
	json_object *runs_capped; /* ... of those with spec.maxCostUSD */
	long phases[KIDX_PHASES];
	struct line all;
	long total;
};

static void ent_free(json_object *o, void *p)
{
	(void)o;
	struct ent *e = p;
	free(e->uid);
	free(e->key);
	free(e);
}

static void line_free(json_object *o, void *p)
{
	(void)o;
	struct line *l = p;
	free(l->v);
	free(l);
}

struct kidx *kidx_new(void)
{
	struct kidx *x = xcalloc(1, sizeof(*x));
	x->ents = json_object_new_object();
	x->slots = json_object_new_object();
	x->lines = json_object_new_object();
	x->waiting = json_object_new_object();
	x->depths = json_object_new_object();
	x->runs = json_object_new_object();
	x->runs_capped = json_object_new_object();
	return x;
}

void kidx_free(struct kidx *x)
{
	if (!x)
		return;
	json_object_put(x->ents);
	json_object_put(x->slots);
	json_object_put(x->lines);
	json_object_put(x->waiting);
	json_object_put(x->depths);
	json_object_put(x->runs);
	json_object_put(x->runs_capped);
	free(x->all.v);
	free(x);
}

static int ent_cmp(const struct ent *a, const struct ent *b)
{
	if (a->created_ms != b->created_ms)
		return a->created_ms < b->created_ms ? -1 : 1;
	return strcmp(a->uid, b->uid);
}

/* Where `e` is or would go. */
static size_t line_pos(const struct line *l, const struct ent *e)
{
	size_t lo = 0, hi = l->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ent_cmp(l->v[mid], e) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void line_add(struct line *l, struct ent *e)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	size_t i = line_pos(l, e);
	memmove(l->v + i + 1, l->v + i, (l->n - i) * sizeof(*l->v));
	l->v[i] = e;
	l->n++;
}

static void line_del(struct line *l, struct ent *e)
{
	size_t i = line_pos(l, e);
	if (i < l->n && l->v[i] == e) {
		memmove(l->v + i, l->v + i + 1, (l->n - i - 1) * sizeof(*l->v));
		l->n--;
	}
}

static struct line *line_of(struct kidx *x, const char *akey, bool create)
{
	json_object *o = NULL;
	if (json_object_object_get_ex(x->lines, akey, &o))
		return json_object_get_userdata(o);
	if (!create)
		return NULL;
	struct line *l = xcalloc(1, sizeof(*l));
	o = json_object_new_int(0);
	json_object_set_userdata(o, l, line_free);
	json_object_object_add(x->lines, akey, o);
	return l;
}

/* map[key] += d, the key dropped at 0. */
static void count_add(json_object *map, const char *key, int d)
{
	json_object *o = NULL;
	long n = json_object_object_get_ex(map, key, &o) ? (long)json_object_get_int64(o) : 0;
	n += d;
	if (n <= 0)
		json_object_object_del(map, key);
	else
		json_object_object_add(map, key, json_object_new_int64(n));
}

static void slots_add(struct kidx *x, const char *akey, int d)
{
	count_add(x->slots, akey, d);
	x->total += d;
}

static void depth_add(struct kidx *x, const char *akey, int d)
{
	count_add(x->depths, akey[0] ? akey : "(none)", d);
}

/* Take `e` out of the counts and the lines (before a change). */
static void ent_out(struct kidx *x, struct ent *e)
{
	if (e->counted) {
		x->phases[e->mphase]--;
		if (e->qdepth)
			depth_add(x, e->akey, -1);
	}
	e->counted = false;
	if (e->holds)
		slots_add(x, e->akey, -1);
	e->holds = false;
	if (e->in_line) {
		struct line *l = line_of(x, e->akey, false);
		if (l) {
			line_del(l, e);
			if (!l->n)
				json_object_object_del(x->lines, e->akey);
		}
		line_del(&x->all, e);
	}
	e->in_line = false;
}

/* Put `e` back as its flags say (after a change); drop it when nothing
 * is known of it any more. */
static void ent_in(struct kidx *x, struct ent *e)
{
	if (e->task) {
		e->counted = true;
		x->phases[e->mphase]++;
		if (e->qdepth)
			depth_add(x, e->akey, 1);
	}
	if (e->running || e->job || e->starting) {
		e->holds = true;
		slots_add(x, e->akey, 1);
	}
	if (e->task && e->queued && !e->job && !e->starting && e->key) {
		e->in_line = true;
		line_add(line_of(x, e->akey, true), e);
		line_add(&x->all, e);
	}
	if (!e->task && !e->job && !e->starting)
		json_object_object_del(x->ents, e->uid);
}

static struct ent *ent_get(struct kidx *x, const char *uid)
{
	json_object *o = NULL;
	if (json_object_object_get_ex(x->ents, uid, &o))
		return json_object_get_userdata(o);
	struct ent *e = xcalloc(1, sizeof(*e));
	e->uid = xstrdup(uid);
	o = json_object_new_int(0);
	json_object_set_userdata(o, e, ent_free);
	json_object_object_add(x->ents, uid, o);
	return e;
}

void kidx_task(struct kidx *x, json_object *task, bool deleted)
{
	json_object *md = jget(task, "metadata");
	const char *uid = jstr(md, "uid");
	if (!uid)
		return;
	struct ent *e = ent_get(x, uid);
	ent_out(x, e);
	e->task = !deleted;
	const char *ph = jstr(jget(task, "status"), "phase");
	e->running = !deleted && str_eq(ph, "Running");
	e->queued = !deleted && str_eq(ph, "Queued") && !model_stop_requested(task);
	/* Counted as the metrics name it: no phase (or an unknown one) is
	 * Pending, as the reconciler reads it. */
	enum rec_phase rp = REC_PENDING;
	if (ph)
		(void)rec_phase_parse(ph, &rp);
	int mp = model_phase_parse(rec_phase_name(rp));
	e->mphase = mp >= 0 && mp < KIDX_PHASES ? mp : 0;
	e->qdepth = rp == REC_QUEUED;
	e->created_ms = jtime(md, "creationTimestamp");
	if (!e->key)
		e->key = xasprintf("%s/%s", jstr(md, "namespace") ?: "", jstr(md, "name") ?: "");
	model_task_agent_key(task, e->akey, sizeof(e->akey));
	if (!deleted && str_eq(ph, "Waiting"))
		json_object_object_add(x->waiting, e->key, NULL);
	else
		json_object_object_del(x->waiting, e->key);
	if (e->running)
		json_object_object_add(x->runs, e->key, NULL);
	else
		json_object_object_del(x->runs, e->key);
	if (e->running && jget(jget(task, "spec"), "maxCostUSD"))
		json_object_object_add(x->runs_capped, e->key, NULL);
	else
		json_object_object_del(x->runs_capped, e->key);
	ent_in(x, e);
}

static bool job_ended(json_object *job)
{
	json_object *conds = jget(jget(job, "status"), "conditions");
	size_t n = conds && json_object_is_type(conds, json_type_array) ?
			   json_object_array_length(conds) : 0;
	for (size_t i = 0; i < n; i++) {
		json_object *c = json_object_array_get_idx(conds, i);
		if ((str_eq(jstr(c, "type"), "Complete") || str_eq(jstr(c, "type"), "Failed")) &&
		    str_eq(jstr(c, "status"), "True"))
			return true;
	}
	return false;
}

void kidx_job(struct kidx *x, json_object *job, bool deleted)
{
	json_object *md = jget(job, "metadata");
	const char *uid = jstr(jget(md, "labels"), KUBE_LABEL_TASK_UID);
	if (!uid)
		return;
	struct ent *e = ent_get(x, uid);
	ent_out(x, e);
	e->job = !deleted && !job_ended(job);
	if (!e->task) {
		const char *akey = jstr(jget(md, "annotations"), KUBE_ANNOTATION_AGENT);
		snprintf(e->akey, sizeof(e->akey), "%s", akey ? akey : "");
	}
	ent_in(x, e);
}

long kidx_running(const struct kidx *x, const char *agent_key)
{
	if (!agent_key)
		return x->total;
	json_object *o = NULL;
	return json_object_object_get_ex(x->slots, agent_key, &o) ? (long)json_object_get_int64(o) : 0;
}

void kidx_queued_agents(const struct kidx *x, struct strv *keys)
{
	json_object_object_foreach(x->lines, k, v) {
		(void)v;
		strv_push(keys, k);
	}
}

const char *kidx_queue_head(const struct kidx *x, const char *agent_key)
{
	const struct line *l = &x->all;
	if (agent_key) {
		json_object *o = NULL;
		if (!json_object_object_get_ex(x->lines, agent_key, &o))
			return NULL;
		l = json_object_get_userdata(o);
	}
	return l && l->n ? l->v[0]->key : NULL;
}

bool kidx_job_active(const struct kidx *x, const char *uid)
{
	json_object *o = NULL;
	if (!uid || !json_object_object_get_ex(x->ents, uid, &o))
		return false;
	const struct ent *e = json_object_get_userdata(o);
	return e->job;
}

bool kidx_admitted(const struct kidx *x, const char *uid)
{
	json_object *o = NULL;
	if (!uid || !json_object_object_get_ex(x->ents, uid, &o))
		return false;
	const struct ent *e = json_object_get_userdata(o);
	return e->job || e->starting;
}

void kidx_waiting(const struct kidx *x, struct strv *keys)
{
	json_object_object_foreach(x->waiting, k, v) {
		(void)v;
		strv_push(keys, k);
	}
}

void kidx_starting(struct kidx *x, const char *uid, const char *agent_key, bool on)
{
	if (!uid)
		return;
	struct ent *e = ent_get(x, uid);
	ent_out(x, e);
	e->starting = on;
	if (!e->task && agent_key)
		snprintf(e->akey, sizeof(e->akey), "%s", agent_key);
	ent_in(x, e);
}

void kidx_phase_counts(const struct kidx *x, long counts[KIDX_PHASES])
{
	memcpy(counts, x->phases, sizeof(x->phases));
}

json_object *kidx_queue_depths(const struct kidx *x)
{
	return x->depths;
}

void kidx_running_tasks(const struct kidx *x, bool capped_only, struct strv *keys)
{
	json_object_object_foreach(capped_only ? x->runs_capped : x->runs, k, v) {
		(void)v;
		strv_push(keys, k);
	}
}

/* SPDX-License-Identifier: MIT */
/*
 * local/budget.c - Budgets on the local backend.  See budget.h.
 */
#include "config.h"
#include "local/budget.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/jsonutil.h"
#include "control/controller.h"
#include "control/metrics.h"
#include "local/backend.h"
#include "local/local.h"
#include "local/store.h"

/* The usage so far of a running Task (owned, {} when none yet). */
static json_object *usage_so_far(void *ctx, json_object *task)
{
	struct runtime *rt = ctx;
	char *dir = runtime_run_dir(rt, task);
	char *path = xasprintf("%s/" LOCAL_USAGE_FILE, dir);
	json_object *u = json_object_from_file(path);
	free(path);
	free(dir);
	if (!json_object_is_type(u, json_type_object)) {
		json_object_put(u);
		u = json_object_new_object();
	}
	return u;
}

int local_budget_spend(struct runtime *rt, json_object *budget, struct budget_spend *sp,
		       struct strv *waiting)
{
	struct budget_sum s;
	budget_sum_init(&s, budget, now_wall_ms(), usage_so_far, rt, waiting);
	int rc = store_list(rt->store, MODEL_TASK, jstr(jget(budget, "metadata"), "namespace"),
			    budget_sum_task, &s);
	*sp = s.sp;
	return rc;
}

struct check {
	struct runtime *rt;
	json_object *task;
	bool running, hit;
	char *msg;
	size_t n;
};

static int check_cb(json_object *budget, void *ctx)
{
	struct check *c = ctx;
	if (!budget_covers(budget, c->task))
		return 0;
	struct budget_spend sp;
	if (local_budget_spend(c->rt, budget, &sp, NULL) < 0)
		return 0;
	if (budget_reached(budget, &sp, c->running, c->msg, c->n)) {
		c->hit = true;
		return 1; /* the first one says it */
	}
	return 0;
}

bool local_budget(void *b, json_object *task, bool running, char *msg, size_t n)
{
	struct runtime *rt = b;
	if (running) {
		json_object *u = usage_so_far(rt, task);
		bool over = budget_task_crossed(task, u, msg, n);
		json_object_put(u);
		if (over)
			return true;
	}
	struct check c = { rt, task, running, false, msg, n };
	(void)runtime_budgets(rt, jstr(jget(task, "metadata"), "namespace"), check_cb, &c);
	return c.hit;
}

/* uid -> "mtime size" of usage.json as last seen.  One controller per
 * process: the map is the process's. */
static json_object *seen;

static int poll_cb(json_object *task, void *ctx)
{
	struct runtime *rt = ctx;
	const char *uid = jstr(jget(task, "metadata"), "uid");
	char *dir = runtime_run_dir(rt, task);
	char *path = xasprintf("%s/" LOCAL_USAGE_FILE, dir);
	struct stat st;
	if (uid && stat(path, &st) == 0) {
		char v[64];
		snprintf(v, sizeof(v), "%lld.%09ld %lld", (long long)st.st_mtim.tv_sec,
			 st.st_mtim.tv_nsec, (long long)st.st_ino);
		if (!str_eq(jstr(seen, uid), v)) {
			json_object_object_add(seen, uid, json_object_new_string(v));
			ctl_enqueue_task(rt->ctl, task);
		}
	}
	free(path);
	free(dir);
	return 0;
}

/* paddock_budget_*{budget="ns/name"}: the spend now and what remains. */
static int metrics_cb(json_object *budget, void *ctx)
{
	struct runtime *rt = ctx;
	struct budget_spend sp;
	if (local_budget_spend(rt, budget, &sp, NULL) == 0)
		budget_metrics(rt->metrics, budget, &sp);
	return 0;
}

#define METRICS_EVERY_MS 1000
#define USAGE_EVERY_MS 25

void local_budget_poll(struct runtime *rt, bool runs_live)
{
	static int64_t last_metrics, last_usage;
	int64_t t = now_mono_ms();
	if (rt->metrics && t - last_metrics >= METRICS_EVERY_MS) {
		last_metrics = t;
		(void)store_list(rt->store, MODEL_BUDGET, NULL, metrics_cb, rt);
	}
	/* The running tasks' usage so far: only while runs live, and not on
	 * every wake-up of a busy loop. */
	if (!runs_live || t - last_usage < USAGE_EVERY_MS)
		return;
	last_usage = t;
	if (!seen)
		seen = json_object_new_object();
	/* Forget ended runs now and then: the map stays as small as the
	 * number of running Tasks. */
	if (json_object_object_length(seen) > 4096) {
		json_object_put(seen);
		seen = json_object_new_object();
	}
	(void)store_list_phase(rt->store, MODEL_PHASE_RUNNING, poll_cb, rt);
}

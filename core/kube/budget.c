/* SPDX-License-Identifier: MIT */
/*
 * kube/budget.c - Budgets on Kubernetes.  See budget.h.
 */
#include "config.h"
#include "kube/budget.h"

#include <string.h>

#include "base/jsonutil.h"
#include "base/util.h"
#include "control/budget.h"
#include "kube/usage.h"

static int sum_cb(void *ctx, json_object *task)
{
	return budget_sum_task(task, ctx);
}

static json_object *so_far(void *ctx, json_object *task)
{
	return kube_usage_get(ctx, jstr(jget(task, "metadata"), "uid"));
}

struct check {
	struct kube_informer *tasks;
	struct kube_usage *usage;
	json_object *task;
	bool running;
	char *msg;
	size_t n;
};

static int check_cb(void *ctx, json_object *budget)
{
	struct check *c = ctx;
	if (!budget_covers(budget, c->task))
		return 0;
	struct budget_sum s;
	budget_sum_init(&s, budget, now_wall_ms(), so_far, c->usage, NULL);
	(void)kube_informer_foreach(c->tasks, sum_cb, &s);
	/* the first one says it */
	return budget_reached(budget, &s.sp, c->running, c->msg, c->n) ? 1 : 0;
}

bool kube_budget(struct kube_informer *budgets, struct kube_informer *tasks,
		 struct kube_usage *usage, json_object *task, bool running, char *msg, size_t n)
{
	if (running) {
		json_object *u = so_far(usage, task);
		bool over = u && budget_task_crossed(task, u, msg, n);
		json_object_put(u);
		if (over)
			return true;
		if (!u)
			return false; /* no usage reported yet: nothing crossed by it */
	}
	struct check c = { tasks, usage, task, running, msg, n };
	return kube_informer_foreach(budgets, check_cb, &c) == 1;
}

struct metrics_ctx {
	struct kube_informer *tasks;
	struct kube_usage *usage;
	struct metrics *m;
};

static int metrics_cb(void *ctx, json_object *budget)
{
	struct metrics_ctx *mc = ctx;
	struct budget_sum s;
	budget_sum_init(&s, budget, now_wall_ms(), so_far, mc->usage, NULL);
	(void)kube_informer_foreach(mc->tasks, sum_cb, &s);
	budget_metrics(mc->m, budget, &s.sp);
	return 0;
}

void kube_budget_metrics(struct kube_informer *budgets, struct kube_informer *tasks,
			 struct kube_usage *usage, struct metrics *m)
{
	struct metrics_ctx mc = { tasks, usage, m };
	if (m)
		(void)kube_informer_foreach(budgets, metrics_cb, &mc);
}

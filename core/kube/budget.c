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
#include "kube/taskindex.h"
#include "kube/usage.h"

/* What a spend reads besides the Tasks. */
struct src {
	struct kube_usage *usage;
	const struct kidx *idx;
};

static int sum_cb(void *ctx, json_object *task)
{
	return budget_sum_task(task, ctx);
}

static json_object *so_far(void *ctx, json_object *task)
{
	return kube_usage_get(((struct src *)ctx)->usage, jstr(jget(task, "metadata"), "uid"));
}

static bool admitted(void *ctx, json_object *task)
{
	return kidx_admitted(((struct src *)ctx)->idx, jstr(jget(task, "metadata"), "uid"));
}

static void sum(struct budget_sum *s, json_object *budget, struct kube_informer *tasks,
		struct src *src)
{
	budget_sum_init(s, budget, now_wall_ms(), so_far, src, NULL);
	s->admitted = admitted;
	(void)kube_informer_foreach(tasks, sum_cb, s);
}

struct check {
	struct kube_informer *tasks;
	struct src src;
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
	sum(&s, budget, c->tasks, &c->src);
	/* the first one says it */
	return budget_reached(budget, &s.sp, c->running, c->msg, c->n) ? 1 : 0;
}

bool kube_budget(struct kube_informer *budgets, struct kube_informer *tasks,
		 struct kube_usage *usage, const struct kidx *idx, json_object *task, bool running,
		 char *msg, size_t n)
{
	struct check c = { tasks, { usage, idx }, task, running, msg, n };
	if (running) {
		json_object *u = so_far(&c.src, task);
		bool over = u && budget_task_crossed(task, u, msg, n);
		json_object_put(u);
		if (over)
			return true;
		if (!u)
			return false; /* no usage reported yet: nothing crossed by it */
	}
	return kube_informer_foreach(budgets, check_cb, &c) == 1;
}

struct metrics_ctx {
	struct kube_informer *tasks;
	struct src src;
	struct metrics *m;
};

static int metrics_cb(void *ctx, json_object *budget)
{
	struct metrics_ctx *mc = ctx;
	struct budget_sum s;
	sum(&s, budget, mc->tasks, &mc->src);
	budget_metrics(mc->m, budget, &s.sp);
	return 0;
}

void kube_budget_metrics(struct kube_informer *budgets, struct kube_informer *tasks,
			 struct kube_usage *usage, const struct kidx *idx, struct metrics *m)
{
	struct metrics_ctx mc = { tasks, { usage, idx }, m };
	if (m)
		(void)kube_informer_foreach(budgets, metrics_cb, &mc);
}

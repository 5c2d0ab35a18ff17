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

static int sum_cb(void *ctx, json_object *task)
{
	return budget_sum_task(task, ctx);
}

struct check {
	struct kube_informer *tasks;
	json_object *task;
	char *msg;
	size_t n;
};

static int check_cb(void *ctx, json_object *budget)
{
	struct check *c = ctx;
	if (!budget_covers(budget, c->task))
		return 0;
	struct budget_sum s;
	budget_sum_init(&s, budget, now_wall_ms(), NULL, NULL, NULL);
	(void)kube_informer_foreach(c->tasks, sum_cb, &s);
	return budget_reached(budget, &s.sp, false, c->msg, c->n) ? 1 : 0; /* the first one says it */
}

bool kube_budget(struct kube_informer *budgets, struct kube_informer *tasks, json_object *task,
		 bool running, char *msg, size_t n)
{
	if (running)
		return false;
	struct check c = { tasks, task, msg, n };
	return kube_informer_foreach(budgets, check_cb, &c) == 1;
}

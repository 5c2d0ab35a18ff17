/* SPDX-License-Identifier: MIT */
/*
 * control/budget.h - what both backends share of a Budget
 * (docs/triggers.md#budgets): its window, which Tasks it covers, and
 * whether a spend reaches its caps.  Pure: the backend adds up the spend
 * (finished Tasks' status.usage, running ones' usage so far).
 */
#ifndef PADDOCK_CONTROL_BUDGET_H
#define PADDOCK_CONTROL_BUDGET_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/util.h"

struct budget_spend {
	double cost_usd;
	int64_t tokens; /* input + output */
	long tasks;     /* started in the window */
};

/* The window of a validated Budget at now_ms: [*start_ms, *reset_ms)
 * (day, week from Monday, month: UTC calendar; rollingHours: the last N
 * hours, *reset_ms = now_ms). */
void budget_window(json_object *budget, int64_t now_ms, int64_t *start_ms, int64_t *reset_ms);

/* Is `task` one the Budget counts (same namespace; its Agent or Spawner)? */
bool budget_covers(json_object *budget, json_object *task);

/* Add a usage object ({inputTokens, outputTokens, costUSD}) to sp. */
void budget_add_usage(struct budget_spend *sp, json_object *usage);

/* The spend of one Budget, Task by Task: budget_sum_init() (the window
 * at now_ms), then budget_sum_task() for each Task of its namespace (the
 * shape of a store or kcli list callback; always 0).  A covered Task that
 * started in the window counts: a running one with `so_far(ctx, task)`
 * (its usage so far, owned, or NULL: none known; so_far NULL: its
 * status.usage), another with status.usage.  A covered Task waiting
 * Queued with BudgetExhausted is pushed ("ns/name") onto `waiting` (may
 * be NULL).  Both backends' and the CLI's spend.  A covered Task with no
 * startTime yet counts as started now when `admitted(ctx, task)` (set
 * after init; NULL: none): on Kubernetes its Job exists while its pod
 * waits, and maxTasks must count it before the pod runs. */
typedef json_object *(*budget_so_far_fn)(void *ctx, json_object *task);
typedef bool (*budget_admitted_fn)(void *ctx, json_object *task);
struct budget_sum {
	json_object *budget;
	int64_t start_ms;
	budget_so_far_fn so_far;
	budget_admitted_fn admitted;
	void *ctx;
	struct strv *waiting;
	struct budget_spend sp;
};
void budget_sum_init(struct budget_sum *s, json_object *budget, int64_t now_ms,
		     budget_so_far_fn so_far, void *ctx, struct strv *waiting);
int budget_sum_task(json_object *task, void *sum);

/* Is a cap reached (spend >= cap: nothing more may start) or, `crossed`,
 * a cost or token cap passed (spend > cap: a running task is stopped)?
 * true with "budget NAME: $3.20 of $3.00 (maxCostUSD) spent this day"
 * in msg. */
bool budget_reached(json_object *budget, const struct budget_spend *sp, bool crossed, char *msg,
		    size_t n);

/* paddock_budget_*{budget="ns/name"} (docs/operations.md): the spend
 * `sp` of `budget` and what remains of its maxCostUSD. */
struct metrics;
void budget_metrics(struct metrics *m, json_object *budget, const struct budget_spend *sp);

/* A Task's own cap: its usage so far over spec.maxCostUSD? */
bool budget_task_crossed(json_object *task, json_object *usage, char *msg, size_t n);

#endif

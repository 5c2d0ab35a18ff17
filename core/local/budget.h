/* SPDX-License-Identifier: MIT */
/*
 * local/budget.h - Budgets on the local backend (docs/triggers.md#budgets):
 * the spend of a Budget from the store (finished Tasks' status.usage) and
 * the run directories (running Tasks' usage.json, written by the
 * supervisor as the stream goes), the controller's budget op, and the
 * watch that reconciles a running Task as soon as its usage changes.
 */
#ifndef PADDOCK_LOCAL_BUDGET_H
#define PADDOCK_LOCAL_BUDGET_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/util.h"
#include "control/budget.h"

struct runtime;

/* struct ctl_backend.budget: `b` is the runtime. */
bool local_budget(void *b, json_object *task, bool running, char *msg, size_t n);

/* Budgets' metrics, at most once a second; and while runs live
 * (`runs_live`), at most every 25 ms, queue the running Tasks whose usage
 * so far changed since the last look (one stat per running Task). */
void local_budget_poll(struct runtime *rt, bool runs_live);

/* The spend of `budget` now, and (waiting, may be NULL) the Tasks it
 * covers that wait Queued for it ("ns/name", pushed).  0 or -errno. */
int local_budget_spend(struct runtime *rt, json_object *budget, struct budget_spend *sp,
		       struct strv *waiting);

#endif

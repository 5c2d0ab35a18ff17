/* SPDX-License-Identifier: MIT */
/*
 * control/budget.c - Budget windows and caps.  See budget.h.
 */
#include "config.h"
#include "control/budget.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/jsonutil.h"
#include "base/util.h"
#include "control/metrics.h"
#include "model/model.h"

void budget_window(json_object *budget, int64_t now_ms, int64_t *start_ms, int64_t *reset_ms)
{
	json_object *spec = jget(budget, "spec"), *h = jget(spec, "rollingHours");
	if (h) {
		*start_ms = now_ms - json_object_get_int64(h) * 3600 * 1000;
		*reset_ms = now_ms;
		return;
	}
	const char *w = jstr(spec, "window");
	time_t now = (time_t)(now_ms / 1000);
	struct tm tm;
	gmtime_r(&now, &tm);
	tm.tm_sec = tm.tm_min = tm.tm_hour = 0;
	struct tm next = tm;
	if (str_eq(w, "month")) {
		tm.tm_mday = 1;
		next = tm;
		next.tm_mon++;
	} else if (str_eq(w, "week")) {
		tm.tm_mday -= (tm.tm_wday + 6) % 7; /* back to Monday */
		next = tm;
		next.tm_mday += 7;
	} else {
		next.tm_mday++;
	}
	*start_ms = (int64_t)timegm(&tm) * 1000;
	*reset_ms = (int64_t)timegm(&next) * 1000;
}

bool budget_covers(json_object *budget, json_object *task)
{
	json_object *bmd = jget(budget, "metadata"), *tmd = jget(task, "metadata");
	json_object *spec = jget(budget, "spec");
	if (!str_eq(jstr(bmd, "namespace"), jstr(tmd, "namespace")))
		return false;
	const char *agent = jstr(jget(spec, "agentRef"), "name");
	const char *spawner = jstr(jget(spec, "spawnerRef"), "name");
	if (spawner)
		return str_eq(jstr(jget(tmd, "labels"), MODEL_LABEL_SPAWNER), spawner);
	if (agent) {
		char key[320], want[320];
		model_task_agent_key(task, key, sizeof(key));
		snprintf(want, sizeof(want), "%s/%s", jstr(bmd, "namespace"), agent);
		return !strcmp(key, want);
	}
	return true;
}

void budget_add_usage(struct budget_spend *sp, json_object *usage)
{
	json_object *c = jget(usage, "costUSD"), *i = jget(usage, "inputTokens"),
		    *o = jget(usage, "outputTokens");
	if (c && json_object_get_double(c) > 0)
		sp->cost_usd += json_object_get_double(c);
	if (i && json_object_get_int64(i) > 0)
		sp->tokens += json_object_get_int64(i);
	if (o && json_object_get_int64(o) > 0)
		sp->tokens += json_object_get_int64(o);
}

void budget_sum_init(struct budget_sum *s, json_object *budget, int64_t now_ms,
		     budget_so_far_fn so_far, void *ctx, struct strv *waiting)
{
	int64_t reset;
	memset(s, 0, sizeof(*s));
	s->budget = budget;
	s->so_far = so_far;
	s->ctx = ctx;
	s->waiting = waiting;
	budget_window(budget, now_ms, &s->start_ms, &reset);
}

int budget_sum_task(json_object *task, void *sum)
{
	struct budget_sum *s = sum;
	if (!budget_covers(s->budget, task))
		return 0;
	json_object *st = jget(task, "status");
	const char *phase = jstr(st, "phase");
	if (s->waiting && str_eq(phase, "Queued") && str_eq(jstr(st, "reason"), "BudgetExhausted")) {
		json_object *md = jget(task, "metadata");
		char *k = xasprintf("%s/%s", jstr(md, "namespace"), jstr(md, "name"));
		strv_push(s->waiting, k);
		free(k);
	}
	int64_t started = jtime(st, "startTime");
	if (!started && s->admitted && s->admitted(s->ctx, task))
		started = s->start_ms; /* its run is being started: in this window */
	if (!started || started < s->start_ms)
		return 0;
	s->sp.tasks++;
	if (str_eq(phase, "Running") && s->so_far) {
		json_object *u = s->so_far(s->ctx, task);
		budget_add_usage(&s->sp, u);
		json_object_put(u);
	} else {
		budget_add_usage(&s->sp, jget(st, "usage"));
	}
	return 0;
}

static const char *window_name(json_object *spec, char *buf, size_t n)
{
	json_object *h = jget(spec, "rollingHours");
	if (h) {
		snprintf(buf, n, "in the last %lld hours", (long long)json_object_get_int64(h));
		return buf;
	}
	snprintf(buf, n, "this %s", jstr(spec, "window") ? jstr(spec, "window") : "day");
	return buf;
}

bool budget_reached(json_object *budget, const struct budget_spend *sp, bool crossed, char *msg,
		    size_t n)
{
	json_object *spec = jget(budget, "spec"), *c = jget(spec, "maxCostUSD"),
		    *t = jget(spec, "maxTokens"), *k = jget(spec, "maxTasks");
	const char *name = jstr(jget(budget, "metadata"), "name");
	char w[48];
	window_name(spec, w, sizeof(w));
	if (c) {
		double cap = json_object_get_double(c);
		if (crossed ? sp->cost_usd > cap : sp->cost_usd >= cap) {
			snprintf(msg, n, "budget %s: $%.4f of $%.4f (maxCostUSD) spent %s", name,
				 sp->cost_usd, cap, w);
			return true;
		}
	}
	if (t) {
		int64_t cap = json_object_get_int64(t);
		if (crossed ? sp->tokens > cap : sp->tokens >= cap) {
			snprintf(msg, n, "budget %s: %lld of %lld tokens (maxTokens) used %s", name,
				 (long long)sp->tokens, (long long)cap, w);
			return true;
		}
	}
	if (k && !crossed) {
		long cap = (long)json_object_get_int64(k);
		if (sp->tasks >= cap) {
			snprintf(msg, n, "budget %s: %ld of %ld tasks (maxTasks) started %s", name,
				 sp->tasks, cap, w);
			return true;
		}
	}
	return false;
}

bool budget_task_crossed(json_object *task, json_object *usage, char *msg, size_t n)
{
	json_object *cap = jget(jget(task, "spec"), "maxCostUSD");
	struct budget_spend sp = { 0 };
	budget_add_usage(&sp, usage);
	if (!cap || !(sp.cost_usd > json_object_get_double(cap)))
		return false;
	snprintf(msg, n, "$%.4f spent, over the task's spec.maxCostUSD of $%.4f", sp.cost_usd,
		 json_object_get_double(cap));
	return true;
}

void budget_metrics(struct metrics *m, json_object *budget, const struct budget_spend *sp)
{
	json_object *md = jget(budget, "metadata"), *spec = jget(budget, "spec");
	char key[160];
	snprintf(key, sizeof(key), "%s/%s", jstr(md, "namespace"), jstr(md, "name"));
	metrics_series(m, "paddock_budget_spend_usd", "gauge",
		       "Cost in US dollars of the Tasks a Budget covers in its current window.",
		       "budget", key, NULL, NULL, sp->cost_usd, false);
	metrics_series(m, "paddock_budget_tokens", "gauge",
		       "Tokens (input + output) of the Tasks a Budget covers in its current window.",
		       "budget", key, NULL, NULL, (double)sp->tokens, false);
	metrics_series(m, "paddock_budget_tasks", "gauge",
		       "Tasks a Budget covers started in its current window.", "budget", key, NULL,
		       NULL, (double)sp->tasks, false);
	json_object *c = jget(spec, "maxCostUSD");
	if (c) {
		double left = json_object_get_double(c) - sp->cost_usd;
		metrics_series(m, "paddock_budget_remaining_usd", "gauge",
			       "What remains of a Budget's maxCostUSD in its current window (0: exhausted).",
			       "budget", key, NULL, NULL, left > 0 ? left : 0, false);
	}
}

/* SPDX-License-Identifier: MIT */
/*
 * control/reconcile.c - the Task state machine (see control/reconcile.h and
 * docs/lifecycle.md).  rec_decide() must stay free of I/O, clock reads
 * and allocation: every transition is unit-tested from a table.
 */
#include "control/reconcile.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

static const char *const phase_names[] = {
	[REC_PENDING] = "Pending",     [REC_WAITING] = "Waiting",
	[REC_QUEUED] = "Queued",       [REC_RUNNING] = "Running",
	[REC_SUCCEEDED] = "Succeeded", [REC_FAILED] = "Failed",
	[REC_STOPPED] = "Stopped",
};

const char *rec_phase_name(enum rec_phase p)
{
	if ((unsigned)p >= ARRAY_SIZE(phase_names))
		return "Unknown";
	return phase_names[p];
}

int rec_phase_parse(const char *s, enum rec_phase *out)
{
	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(phase_names); i++) {
		if (strcmp(s, phase_names[i]) == 0) {
			*out = (enum rec_phase)i;
			return 0;
		}
	}
	return -EINVAL;
}

bool rec_phase_terminal(enum rec_phase p)
{
	return p == REC_SUCCEEDED || p == REC_FAILED || p == REC_STOPPED;
}

/* ---- helpers -------------------------------------------------------- */

/* start + secs*1000 without overflow (saturates at INT64_MAX). */
static int64_t deadline_ms(int64_t start, long secs)
{
	if (secs <= 0)
		return start;
	if ((int64_t)secs > (INT64_MAX - (start > 0 ? start : 0)) / 1000)
		return INT64_MAX;
	return start + (int64_t)secs * 1000;
}

/* "1h30m5s", "45s", "0s" */
static void fmt_dur(char *b, size_t n, int64_t secs)
{
	if (secs < 0)
		secs = 0;
	int64_t h = secs / 3600, m = (secs % 3600) / 60, s = secs % 60;
	size_t o = 0;
	b[0] = '\0';
	if (h)
		o += (size_t)snprintf(b + o, n - o, "%lldh", (long long)h);
	if (m && o < n)
		o += (size_t)snprintf(b + o, n - o, "%lldm", (long long)m);
	if ((s || (!h && !m)) && o < n)
		snprintf(b + o, n - o, "%llds", (long long)s);
}

static void say(struct rec_decision *out, enum rec_action a, enum rec_phase p,
		const char *reason, const char *fmt, ...) PD_PRINTF(5, 6);

static void say(struct rec_decision *out, enum rec_action a, enum rec_phase p,
		const char *reason, const char *fmt, ...)
{
	va_list ap;
	out->action = a;
	out->phase = p;
	out->reason = reason;
	va_start(ap, fmt);
	vsnprintf(out->message, sizeof(out->message), fmt, ap);
	va_end(ap);
}

/* Move to `p` unless already there (then NOOP with a fresh message). */
static void go(struct rec_decision *out, const struct rec_input *in, enum rec_phase p,
	       const char *reason, const char *fmt, ...) PD_PRINTF(5, 6);

static void go(struct rec_decision *out, const struct rec_input *in, enum rec_phase p,
	       const char *reason, const char *fmt, ...)
{
	va_list ap;
	out->action = in->phase == p ? REC_NOOP : REC_SET_PHASE;
	out->phase = p;
	out->reason = reason;
	va_start(ap, fmt);
	vsnprintf(out->message, sizeof(out->message), fmt, ap);
	va_end(ap);
}

static const char *nz(const char *s, const char *dflt)
{
	return s && *s ? s : dflt;
}

/* The exit status as words: "exit code 3" / "signal 9". */
static void fmt_exit(char *b, size_t n, int code)
{
	if (code < 0)
		snprintf(b, n, "killed by signal %d", -code);
	else
		snprintf(b, n, "exit code %d", code);
}

/* ---- terminal: absorbing, TTL only ---------------------------------- */

static void decide_terminal(const struct rec_input *in, struct rec_decision *out)
{
	out->action = REC_NOOP;
	out->phase = in->phase;
	out->reason = "Finished";
	snprintf(out->message, sizeof(out->message), "task is %s", rec_phase_name(in->phase));
	if (in->ttl_s < 0 || in->completion_ms <= 0)
		return;
	int64_t due = deadline_ms(in->completion_ms, in->ttl_s);
	if (in->now_ms >= due) {
		char d[32];
		fmt_dur(d, sizeof(d), in->ttl_s);
		say(out, REC_DELETE, in->phase, "TTLExpired",
		    "finished more than %s ago (ttlSecondsAfterFinished %ld): deleting", d,
		    in->ttl_s);
		return;
	}
	out->requeue_after_ms = due - in->now_ms;
}

/* ---- running --------------------------------------------------------- */

const char *const rec_limit_reasons[REC_N_LIMIT_REASONS] = {"OOMKilled", "PidsLimitReached",
								 "DiskQuotaExceeded"};

bool rec_is_limit_reason(const char *reason)
{
	for (size_t i = 0; i < REC_N_LIMIT_REASONS; i++)
		if (str_eq(reason, rec_limit_reasons[i]))
			return true;
	return false;
}

static void decide_ended(const struct rec_input *in, struct rec_decision *out)
{
	char ex[48];
	const char *err = nz(in->run_error, NULL);
	bool lost = in->run == REC_RUN_LOST;

	fmt_exit(ex, sizeof(ex), in->exit_code);
	/* A run that never started (its supervisor reported a failure, or
	 * died before reporting): as a start that failed at once. */
	if (str_eq(in->run_end_reason, "StartFailed")) {
		say(out, REC_SET_PHASE, REC_FAILED, "StartFailed", "%s",
		    nz(in->run_end_message, "the run could not be started"));
		return;
	}
	/* What the run itself recorded comes first: a run killed for its
	 * timeout is a timeout even if a stop was asked for meanwhile. */
	bool clean = !lost && in->exit_code == 0 && in->outcome == 1;
	int64_t start = in->start_ms > 0 ? in->start_ms : in->created_ms;
	bool timed_out = str_eq(in->run_end_reason, "Timeout") ||
			 (!clean && !str_eq(in->run_end_reason, "Stopped") && in->timeout_s > 0 &&
			  start > 0 && in->now_ms >= deadline_ms(start, in->timeout_s));
	if (timed_out) {
		char d[32];
		fmt_dur(d, sizeof(d), in->timeout_s);
		say(out, REC_SET_PHASE, REC_FAILED, "Timeout",
		    "timeout of %s exceeded: the run was killed (%s)", d,
		    lost ? "lost" : ex);
		return;
	}
	if (str_eq(in->run_end_reason, "BudgetExceeded")) {
		say(out, REC_SET_PHASE, REC_FAILED, "BudgetExceeded", "stopped (%s): %s", ex,
		    nz(in->budget_exceeded, "its usage crossed a budget"));
		return;
	}
	if (rec_is_limit_reason(in->run_end_reason)) {
		say(out, REC_SET_PHASE, REC_FAILED, in->run_end_reason, "%s: the run was killed (%s)",
		    nz(in->run_end_message, "a resource limit was exceeded"), ex);
		return;
	}
	if (str_eq(in->run_end_reason, "Stopped") || in->stop_requested) {
		if (lost)
			say(out, REC_SET_PHASE, REC_STOPPED, "Stopped",
			    "stopped by request; the run was lost before it reported");
		else
			say(out, REC_SET_PHASE, REC_STOPPED, "Stopped",
			    "stopped by request; the run ended (%s)", ex);
		return;
	}
	if (lost) {
		say(out, REC_SET_PHASE, REC_FAILED, "RunLost",
		    "the run vanished without reporting a result%s%s", err ? ": " : "",
		    err ? err : "");
		return;
	}
	if (in->exit_code != 0) {
		say(out, REC_SET_PHASE, REC_FAILED, "Error", "agent failed with %s%s%s", ex,
		    err ? ": " : "", err ? err : "");
		return;
	}
	if (in->outcome == 1) {
		say(out, REC_SET_PHASE, REC_SUCCEEDED, "Completed", "agent completed");
		return;
	}
	if (in->outcome == 2)
		say(out, REC_SET_PHASE, REC_FAILED, "AgentError",
		    "agent exited 0 but reported an error: %s", err ? err : "(no details)");
	else
		say(out, REC_SET_PHASE, REC_FAILED, "AgentError",
		    "agent exited 0 without reporting a result%s%s", err ? ": " : "",
		    err ? err : "");
}

static void decide_running(const struct rec_input *in, struct rec_decision *out)
{
	if (in->run == REC_RUN_EXITED || in->run == REC_RUN_LOST) {
		decide_ended(in, out);
		return;
	}
	/* ACTIVE, or NONE: started but not yet observed. */
	if (in->stop_requested) {
		say(out, REC_KILL, REC_RUNNING, "Stopped", "stop requested: killing the run");
		return;
	}
	if (in->budget_exceeded && in->run == REC_RUN_ACTIVE) {
		say(out, REC_KILL, REC_RUNNING, "BudgetExceeded", "%s: stopping the run",
		    in->budget_exceeded);
		return;
	}
	say(out, REC_NOOP, REC_RUNNING, "Running", "%s",
	    in->run == REC_RUN_ACTIVE ? "agent is running" : "run is starting");
	if (in->timeout_s <= 0)
		return;
	int64_t start = in->start_ms > 0 ? in->start_ms : in->created_ms;
	if (start <= 0)
		return;
	int64_t due = deadline_ms(start, in->timeout_s);
	if (in->now_ms >= due) {
		char d[32], e[32];
		fmt_dur(d, sizeof(d), in->timeout_s);
		fmt_dur(e, sizeof(e), (in->now_ms - start) / 1000);
		say(out, REC_KILL, REC_RUNNING, "Timeout",
		    "timeout of %s exceeded (running for %s): killing the run", d, e);
		return;
	}
	out->requeue_after_ms = due - in->now_ms;
}

/* ---- not started yet ------------------------------------------------ */

/* The run was made (a Job), its agent is not running yet: it stays out
 * of the line (it holds its slot) and says why it waits. */
static void decide_starting(const struct rec_input *in, struct rec_decision *out)
{
	if (in->stop_requested) {
		say(out, REC_KILL, in->phase, "Stopped", "stop requested before the agent ran");
		return;
	}
	if (!in->run_wait_normal) {
		say(out, REC_SET_PHASE, REC_QUEUED, nz(in->run_wait_reason, "Starting"), "%s",
		    nz(in->run_wait_message, "the agent does not run yet"));
		return;
	}
	/* The normal way up (scheduling, pulling, creating): one reason and
	 * one message whatever the step, so that it is written once. */
	say(out, REC_SET_PHASE, REC_QUEUED, "Starting", "%s",
	    "the run was created: waiting for its agent to start");
	int64_t quiet = in->run_wait_since_ms + REC_WAIT_QUIET_MS - in->now_ms;
	if (in->run_wait_since_ms > 0 && quiet > 0) {
		/* Nothing a reader needs yet: Running may come first. */
		out->action = REC_NOOP;
		out->phase = in->phase;
		out->requeue_after_ms = quiet;
	}
}

static void decide_before(const struct rec_input *in, struct rec_decision *out)
{
	if (in->run == REC_RUN_STARTING) {
		decide_starting(in, out);
		return;
	}
	if (in->run != REC_RUN_NONE) {
		/* A run exists although status never said Running: the
		 * controller died between START and recording it.  Adopt it;
		 * never start a second one (a stop request then kills it on
		 * the next pass). */
		if (in->run_awaited)
			say(out, REC_SET_PHASE, REC_RUNNING, "Started", "the agent is running");
		else
			say(out, REC_SET_PHASE, REC_RUNNING, "Started",
			    "found an existing run for this task: adopting it");
		return;
	}
	if (in->stop_requested) {
		say(out, REC_SET_PHASE, REC_STOPPED, "Stopped", "stopped before it started (was %s)",
		    rec_phase_name(in->phase));
		return;
	}
	if (in->invalid) {
		say(out, REC_SET_PHASE, REC_FAILED, nz(in->invalid_reason, "InvalidSpec"), "%s",
		    in->invalid);
		return;
	}
	if (in->dep_cycle) {
		say(out, REC_SET_PHASE, REC_FAILED, "DependencyCycle", "dependency cycle: %s",
		    nz(in->cycle_path, "(path unknown)"));
		return;
	}
	if (in->deps_failed > 0) {
		say(out, REC_SET_PHASE, REC_FAILED, "DependencyFailed",
		    "dependency \"%s\" did not succeed (%zu of %zu dependencies failed or stopped)",
		    nz(in->failed_dep, "?"), in->deps_failed, in->deps_total);
		return;
	}
	if (in->deps_missing > 0) {
		go(out, in, REC_WAITING, "DependencyNotFound",
		   "waiting for task \"%s\" to be created (%zu of %zu dependencies missing)",
		   nz(in->missing_dep, "?"), in->deps_missing, in->deps_total);
		return;
	}
	if (in->deps_succeeded < in->deps_total) {
		go(out, in, REC_WAITING, "WaitingForDependencies",
		   "waiting for %zu of %zu dependencies to succeed",
		   in->deps_total - in->deps_succeeded, in->deps_total);
		return;
	}
	if (in->budget_hold) {
		say(out, REC_SET_PHASE, REC_QUEUED, "BudgetExhausted", "%s", in->budget_hold);
		out->requeue_after_ms = REC_BUDGET_RECHECK_MS;
		return;
	}
	if (in->agent_max > 0 && in->agent_running >= in->agent_max) {
		go(out, in, REC_QUEUED, "AgentCapacity",
		   "waiting for a slot: %ld of %ld agent slots (maxConcurrentTasks) in use",
		   in->agent_running, in->agent_max);
		return;
	}
	if (in->global_max > 0 && in->global_running >= in->global_max) {
		go(out, in, REC_QUEUED, "GlobalCapacity",
		   "waiting for a slot: %ld of %ld global slots in use", in->global_running,
		   in->global_max);
		return;
	}
	if (!in->head_of_queue) {
		go(out, in, REC_QUEUED, "QueuedBehindOlder",
		   "waiting for older queued tasks to start first");
		return;
	}
	say(out, REC_START, REC_RUNNING, "Started", "starting the run");
}

void rec_decide(const struct rec_input *in, struct rec_decision *out)
{
	memset(out, 0, sizeof(*out));
	out->phase = in->phase;
	out->reason = "";
	if (rec_phase_terminal(in->phase))
		decide_terminal(in, out);
	else if (in->phase == REC_RUNNING)
		decide_running(in, out);
	else if (in->phase == REC_PENDING || in->phase == REC_WAITING ||
		 in->phase == REC_QUEUED)
		decide_before(in, out);
	else
		say(out, REC_SET_PHASE, REC_FAILED, "InvalidSpec", "unknown phase %d",
		    (int)in->phase);
}

/* ---- cycle search ----------------------------------------------------- */

struct cy_node {
	char *name;
	char **deps;     /* owned copies; filled when the node is expanded */
	size_t ndeps;
	size_t next;     /* next dep to visit */
	int color;       /* 0 white, 1 on the stack, 2 done */
};

struct cy_graph {
	struct cy_node *nodes;
	size_t n, alloc, max;
	size_t *slots;   /* open addressing: index+1, 0 empty */
	size_t nslots;
};

static uint64_t cy_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static void cy_rehash(struct cy_graph *g)
{
	size_t ns = g->nslots ? g->nslots * 2 : 64;
	size_t *s = xcalloc(ns, sizeof(*s));
	for (size_t i = 0; i < g->n; i++) {
		size_t h = (size_t)cy_hash(g->nodes[i].name) & (ns - 1);
		while (s[h])
			h = (h + 1) & (ns - 1);
		s[h] = i + 1;
	}
	free(g->slots);
	g->slots = s;
	g->nslots = ns;
}

/* Index of `name`, adding it (white) if new.  -E2BIG past the cap. */
static long cy_get(struct cy_graph *g, const char *name)
{
	if (g->nslots) {
		size_t h = (size_t)cy_hash(name) & (g->nslots - 1);
		while (g->slots[h]) {
			if (strcmp(g->nodes[g->slots[h] - 1].name, name) == 0)
				return (long)(g->slots[h] - 1);
			h = (h + 1) & (g->nslots - 1);
		}
	}
	if (g->n >= g->max)
		return -E2BIG;
	if (g->n == g->alloc) {
		g->alloc = g->alloc ? g->alloc * 2 : 32;
		g->nodes = xrealloc(g->nodes, g->alloc * sizeof(*g->nodes));
	}
	memset(&g->nodes[g->n], 0, sizeof(g->nodes[0]));
	g->nodes[g->n].name = xstrdup(name);
	g->n++;
	if (g->n * 2 > g->nslots) {
		cy_rehash(g);
	} else {
		size_t h = (size_t)cy_hash(name) & (g->nslots - 1);
		while (g->slots[h])
			h = (h + 1) & (g->nslots - 1);
		g->slots[h] = g->n;
	}
	return (long)(g->n - 1);
}

static void cy_free(struct cy_graph *g)
{
	for (size_t i = 0; i < g->n; i++) {
		for (size_t j = 0; j < g->nodes[i].ndeps; j++)
			free(g->nodes[i].deps[j]);
		free(g->nodes[i].deps);
		free(g->nodes[i].name);
	}
	free(g->nodes);
	free(g->slots);
}

static int cy_expand(struct cy_graph *g, size_t i, rec_deps_fn fn, void *ctx, char *err,
		     size_t errlen)
{
	const char *const *d = NULL;
	size_t n = 0;
	int rc = fn(ctx, g->nodes[i].name, &d, &n);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return errf(err, errlen, rc, "dependencies of task \"%s\": lookup failed (%s)",
			    g->nodes[i].name, strerror(-rc));
	if (n && !d)
		return errf(err, errlen, -EINVAL, "dependencies of task \"%s\": no list",
			    g->nodes[i].name);
	struct cy_node *nd = &g->nodes[i];
	nd->deps = n ? xcalloc(n, sizeof(*nd->deps)) : NULL;
	for (size_t j = 0; j < n; j++)
		if (d[j])
			nd->deps[nd->ndeps++] = xstrdup(d[j]);
	return 0;
}

/* Append "s" to path at *o, keeping room for "..." on overflow. */
static bool path_add(char *path, size_t len, size_t *o, const char *s)
{
	size_t sl = strlen(s);
	if (*o + sl + 4 > len) {
		if (*o + 4 <= len)
			memcpy(path + *o, "...", 4);
		*o = len;
		return false;
	}
	memcpy(path + *o, s, sl + 1);
	*o += sl;
	return true;
}

int rec_find_cycle(const char *start, rec_deps_fn fn, void *ctx, size_t max_nodes,
		   char *path, size_t pathlen, char *err, size_t errlen)
{
	struct cy_graph g = { .max = max_nodes ? max_nodes : 10000 };
	size_t stack[REC_CYCLE_MAX_DEPTH];
	size_t depth = 0;
	int rc = 0;

	if (!start || !fn)
		return errf(err, errlen, -EINVAL, "rec_find_cycle: no start task or callback");
	long s = cy_get(&g, start);
	if (s < 0) {
		rc = errf(err, errlen, -E2BIG, "dependency graph: max_nodes is 0");
		goto out;
	}
	rc = cy_expand(&g, (size_t)s, fn, ctx, err, errlen);
	if (rc < 0)
		goto out;
	g.nodes[s].color = 1;
	stack[depth++] = (size_t)s;

	while (depth) {
		struct cy_node *top = &g.nodes[stack[depth - 1]];
		if (top->next == top->ndeps) {
			top->color = 2;
			depth--;
			continue;
		}
		const char *dn = top->deps[top->next++];
		long c = cy_get(&g, dn);
		if (c < 0) {
			rc = errf(err, errlen, -E2BIG,
				  "dependency graph of \"%s\": more than %zu tasks reachable", start,
				  g.max);
			goto out;
		}
		struct cy_node *child = &g.nodes[c];
		if (child->color == 2)
			continue;
		if (child->color == 1) {
			size_t k = 0, o = 0;
			while (stack[k] != (size_t)c)
				k++;
			if (path && pathlen) {
				path[0] = '\0';
				for (size_t j = k; j < depth; j++) {
					if (!path_add(path, pathlen, &o, g.nodes[stack[j]].name) ||
					    !path_add(path, pathlen, &o, " -> "))
						break;
				}
				if (o < pathlen)
					path_add(path, pathlen, &o, child->name);
			}
			rc = 1;
			goto out;
		}
		if (depth == REC_CYCLE_MAX_DEPTH) {
			rc = errf(err, errlen, -ELOOP,
				  "dependency chain from \"%s\" deeper than %d tasks", start,
				  REC_CYCLE_MAX_DEPTH);
			goto out;
		}
		rc = cy_expand(&g, (size_t)c, fn, ctx, err, errlen);
		if (rc < 0)
			goto out;
		g.nodes[c].color = 1;
		stack[depth++] = (size_t)c;
	}
	rc = 0;
out:
	cy_free(&g);
	return rc;
}

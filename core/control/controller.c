/* SPDX-License-Identifier: MIT */
/*
 * control/controller.c - see controller.h.
 */
#include "config.h"
#include "control/controller.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/jsonutil.h"
#include "control/metrics.h"

#define RESYNC_MS 10000        /* every active task again: a safety net */
#define HOUSEKEEPING_MS 2000
#define KILL_RECHECK_MS 200    /* a killed run is looked at again after this */
#define RETRY_MS 5000          /* a failed clean-up or write is tried again */
#define CONFLICT_RETRIES 8     /* reconciles from fresh state after a conflict */
#define ADMIT_MAX 10000        /* starts per admission round */
#define DRAIN_MAX 100000       /* keys reconciled per ctl_process */

struct ctl {
	const struct pd_config *cfg;
	const struct plugin_set *ps;
	const struct ctl_backend *ops;
	void *b;
	struct metrics *m;
	/* The work queue: keys in order, and the set of queued keys. */
	char **q;
	size_t qhead, qlen, qcap;
	json_object *queued;
	/* Timers: key -> due wall ms (one per key, the earliest wins). */
	json_object *timers;
	int64_t timers_min;     /* no timer is due before this (0: none) */
	bool admit;
	unsigned long writes;
	json_object *collecting; /* ctl_enqueue_all's FIFO sort */
	/* Tasks found ready to start outside admission: admission starts
	 * them with the queue heads, oldest first (key -> agent key). */
	json_object *ready;
};

/* How a task is looked at: as any change (a start it would make waits
 * for admission), as admission's pick, or parked (admission left it: it
 * records why it waits). */
enum rec_mode { MODE_CHANGE, MODE_ADMIT, MODE_PARK };

/* ---- test hooks -------------------------------------------------------- */

void ctl_test_pause(const char *point, const char *key)
{
#ifdef PADDOCK_TEST_HOOKS
	const char *want = getenv("PADDOCK_TEST_PAUSE");
	const char *dir = getenv("PADDOCK_TEST_PAUSE_DIR");
	if (!want || !dir || !point)
		return;
	size_t pl = strlen(point);
	if (strncmp(want, point, pl) != 0 || (want[pl] && want[pl] != ':'))
		return;
	if (want[pl] == ':' && !str_eq(want + pl + 1, key))
		return;
	char *reached = xasprintf("%s/%s.reached", dir, point);
	char *cont = xasprintf("%s/%s.continue", dir, point);
	(void)write_file_atomic(reached, key ? key : "", key ? strlen(key) : 0, 0600);
	struct stat st;
	for (int i = 0; i < 6000 && stat(cont, &st) < 0; i++)
		usleep(10 * 1000);
	(void)unlink(cont);
	(void)unlink(reached);
	free(reached);
	free(cont);
#else
	(void)point;
	(void)key;
#endif
}

/* ---- the queue and the timers ------------------------------------------ */


struct ctl *ctl_new(const struct pd_config *cfg, const struct plugin_set *ps,
		    const struct ctl_backend *ops, void *b)
{
	struct ctl *c = xcalloc(1, sizeof(*c));
	c->cfg = cfg;
	c->ps = ps;
	c->ops = ops;
	c->b = b;
	c->queued = json_object_new_object();
	c->timers = json_object_new_object();
	c->ready = json_object_new_object();
	return c;
}

void ctl_free(struct ctl *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->qlen; i++)
		free(c->q[(c->qhead + i) % c->qcap]);
	free(c->q);
	json_object_put(c->queued);
	json_object_put(c->timers);
	json_object_put(c->ready);
	free(c);
}

void ctl_set_metrics(struct ctl *c, struct metrics *m)
{
	c->m = m;
}

unsigned long ctl_queue_len(const struct ctl *c)
{
	return c->qlen;
}

unsigned long ctl_writes(const struct ctl *c)
{
	return c->writes;
}

static void enqueue_key(struct ctl *c, const char *key)
{
	if (json_object_object_get_ex(c->queued, key, NULL))
		return;
	if (c->qlen == c->qcap) {
		size_t ncap = c->qcap ? c->qcap * 2 : 64;
		char **nq = xcalloc(ncap, sizeof(char *));
		for (size_t i = 0; i < c->qlen; i++)
			nq[i] = c->q[(c->qhead + i) % c->qcap];
		free(c->q);
		c->q = nq;
		c->qcap = ncap;
		c->qhead = 0;
	}
	c->q[(c->qhead + c->qlen) % c->qcap] = xstrdup(key);
	c->qlen++;
	json_object_object_add(c->queued, key, NULL);
}

static char *dequeue_key(struct ctl *c)
{
	if (!c->qlen)
		return NULL;
	char *k = c->q[c->qhead];
	c->qhead = (c->qhead + 1) % c->qcap;
	c->qlen--;
	json_object_object_del(c->queued, k);
	return k;
}

void ctl_enqueue(struct ctl *c, const char *ns, const char *name)
{
	if (!ns || !name)
		return;
	char *key = xasprintf("%s/%s", ns, name);
	enqueue_key(c, key);
	free(key);
}

void ctl_enqueue_task(struct ctl *c, json_object *task)
{
	json_object *md = jget(task, "metadata");
	ctl_enqueue(c, jstr(md, "namespace"), jstr(md, "name"));
}

static void enqueue_cb(struct ctl *c, json_object *task)
{
	ctl_enqueue_task(c, task);
}

static void enqueue_ttl_cb(struct ctl *c, json_object *task)
{
	if (jget(jget(task, "spec"), "ttlSecondsAfterFinished"))
		ctl_enqueue_task(c, task);
}

static void collect_cb(struct ctl *c, json_object *task)
{
	json_object_array_add(c->collecting, json_object_get(task));
}

static int fifo_cmp(const void *pa, const void *pb)
{
	json_object *a = *(json_object *const *)pa, *b = *(json_object *const *)pb;
	return ctl_fifo_before(a, b) ? -1 : ctl_fifo_before(b, a) ? 1 : 0;
}

void ctl_enqueue_all(struct ctl *c)
{
	/* Running tasks first (their ends free slots), then the others in
	 * FIFO order: the first of them to be found ready is the oldest, so a
	 * start made outside admission keeps the order. */
	(void)c->ops->list(c->b, REC_RUNNING, enqueue_cb, c);
	static const enum rec_phase waiting[] = { REC_PENDING, REC_WAITING, REC_QUEUED };
	json_object *all = c->collecting = json_object_new_array();
	for (size_t i = 0; i < ARRAY_SIZE(waiting); i++)
		(void)c->ops->list(c->b, waiting[i], collect_cb, c);
	c->collecting = NULL;
	size_t n = json_object_array_length(all);
	json_object_array_sort(all, fifo_cmp);
	for (size_t i = 0; i < n; i++)
		ctl_enqueue_task(c, json_object_array_get_idx(all, i));
	json_object_put(all);
	static const enum rec_phase done[] = { REC_SUCCEEDED, REC_FAILED, REC_STOPPED };
	for (size_t i = 0; i < ARRAY_SIZE(done); i++)
		(void)c->ops->list(c->b, done[i], enqueue_ttl_cb, c);
	if (c->ops->list_deleting)
		(void)c->ops->list_deleting(c->b, enqueue_cb, c);
	c->admit = true;
}

void ctl_admit(struct ctl *c)
{
	c->admit = true;
}

static void set_timer(struct ctl *c, const char *key, int64_t due)
{
	json_object *v = NULL;
	if (json_object_object_get_ex(c->timers, key, &v) && json_object_get_int64(v) <= due)
		return;
	json_object_object_add(c->timers, key, json_object_new_int64(due));
	if (!c->timers_min || due < c->timers_min)
		c->timers_min = due;
}

/* The earliest timer, or earlier when that one was dropped since: the
 * loop then wakes once for nothing, and fire_timers() finds the next. */
int64_t ctl_next_due(const struct ctl *c)
{
	return c->timers_min;
}

/* The timers are walked when the earliest is due, not at every pass:
 * a burst holds one per task (a write held back, a wait). */
static void fire_timers(struct ctl *c, int64_t now)
{
	if (!c->timers_min || now < c->timers_min)
		return;
	struct strv due = { 0 };
	int64_t next = 0;
	json_object_object_foreach(c->timers, key, v) {
		int64_t d = json_object_get_int64(v);
		if (d <= now)
			strv_push(&due, key);
		else if (!next || d < next)
			next = d;
	}
	c->timers_min = next;
	for (size_t i = 0; i < due.n; i++) {
		json_object_object_del(c->timers, due.v[i]);
		enqueue_key(c, due.v[i]);
	}
	strv_free(&due);
}

/* ---- acting ---------------------------------------------------------------- */

static json_object *status_copy(json_object *task)
{
	json_object *st = jget(task, "status"), *copy = NULL;
	if (st && json_object_deep_copy(st, &copy, NULL) == 0)
		return copy;
	return json_object_new_object();
}

static const char *task_ns(json_object *task)
{
	return jstr(jget(task, "metadata"), "namespace");
}

static const char *task_name(json_object *task)
{
	return jstr(jget(task, "metadata"), "name");
}

/* Write phase/reason/message (and completionTime on a terminal phase)
 * over `st` (taken), compare-and-swap on the task's version.  Logs and
 * counts success; -ESTALE is for the caller to reconcile again. */
static int write_phase(struct ctl *c, json_object *task, json_object *st, enum rec_phase phase,
		 const char *reason, const char *message)
{
	const char *pn = rec_phase_name(phase);
	jset_str(st, "phase", pn);
	jset_str(st, "reason", reason ? reason : "");
	jset_str(st, "message", message ? message : "");
	if (rec_phase_terminal(phase) && !jget(st, "completionTime"))
		jset_time(st, "completionTime", now_wall_ms());
	if (phase == REC_RUNNING && !jget(st, "startTime"))
		jset_time(st, "startTime", now_wall_ms());
	ctl_test_pause("before-write", task_name(task));
	int rc = c->ops->write_status(c->b, task, st, reason, message);
	const char *ns = task_ns(task), *name = task_name(task);
	if (rc == 0) {
		c->writes++;
		log_info("task phase", "namespace", ns, "task", name, "phase", pn, "reason",
			 reason ? reason : "", "message", message ? message : "");
		if (rec_phase_terminal(phase))
			ctl_enqueue(c, ns, name); /* its TTL timer, from the fresh state */
	} else if (rc == -ESTALE) {
		log_debug("status write conflict: reconciling again", "namespace", ns, "task", name);
	} else if (rc != -ENOENT) {
		log_error("status write failed: retrying", "namespace", ns, "task", name, "phase", pn);
		char *key = xasprintf("%s/%s", ns ? ns : "", name ? name : "");
		set_timer(c, key, now_wall_ms() + RETRY_MS);
		free(key);
	}
	return rc;
}

/* What changes for others when a task leaves a phase: a finished task
 * wakes its dependents and frees a slot; a newly Queued one is admitted. */
static void after_transition(struct ctl *c, enum rec_phase from, enum rec_phase to)
{
	if (rec_phase_terminal(to)) {
		/* Only a Waiting task depends on another's end: a Pending one
		 * has not been looked at yet and is in the queue already. */
		(void)c->ops->list(c->b, REC_WAITING, enqueue_cb, c);
	}
	if (from == REC_RUNNING || to == REC_QUEUED || rec_phase_terminal(to))
		c->admit = true;
}

static void count_finished(struct ctl *c, const struct model_task *t, const struct model_agent *a,
			   const struct ctl_run *run)
{
	if (!c->m)
		return;
	struct pipeline_eff e;
	pipeline_effective(t, a, &e);
	pipeline_count_run(c->m, e.driver, run->result, run->start_ms, run->end_ms);
	metrics_run_resources(c->m, run->end_reason[0] ? run->end_reason : NULL, run->cpu_seconds);
}

/* What the backend measured, beside the agent's own token counts. */
static void add_usage(json_object *st, const struct ctl_run *run)
{
	if (run->cpu_seconds <= 0 && run->memory_peak <= 0)
		return;
	json_object *u = jget(st, "usage");
	if (!u) {
		u = json_object_new_object();
		json_object_object_add(st, "usage", u);
	}
	if (run->cpu_seconds > 0) {
		char v[32];
		snprintf(v, sizeof(v), "%.3f", run->cpu_seconds);
		json_object_object_add(u, "cpuSeconds", json_object_new_double_s(run->cpu_seconds, v));
	}
	if (run->memory_peak > 0)
		json_object_object_add(u, "memoryPeakBytes", json_object_new_int64(run->memory_peak));
}

static void agent_key_of(const struct model_task *t, char *key, size_t n)
{
	if (t->agent_name)
		snprintf(key, n, "%s/%s", t->agent_ns ? t->agent_ns : t->ns, t->agent_name);
	else
		key[0] = '\0';
}

bool ctl_fifo_before(json_object *a, json_object *b)
{
	json_object *ma = jget(a, "metadata"), *mb = jget(b, "metadata");
	int64_t ca = jtime(ma, "creationTimestamp"), cb = jtime(mb, "creationTimestamp");
	if (ca != cb)
		return ca < cb;
	const char *ua = jstr(ma, "uid"), *ub = jstr(mb, "uid");
	return strcmp(ua ? ua : "", ub ? ub : "") < 0;
}

/* No older task waits in this agent's queue. */
static bool head_of_queue(struct ctl *c, json_object *task, const char *akey)
{
	json_object *head = c->ops->queue_head(c->b, akey);
	if (!head)
		return true;
	bool first = str_eq(jstr(jget(head, "metadata"), "uid"), jstr(jget(task, "metadata"), "uid")) ||
		     ctl_fifo_before(task, head);
	json_object_put(head);
	return first;
}

/* A task marked for deletion: kill its run, remove what it left, then
 * the task.  Returns 0, or 1 when it must be looked at again. */
static int finalize(struct ctl *c, json_object *task, const char *key)
{
	char err[1024] = "";
	const char *ns = task_ns(task), *name = task_name(task);
	int k = c->ops->kill(c->b, task, "Deleted");
	if (k > 0) {
		set_timer(c, key, now_wall_ms() + KILL_RECHECK_MS);
		return 1;
	}
	int rc = c->ops->purge(c->b, task, err, sizeof(err));
	if (rc == -EBUSY) {
		set_timer(c, key, now_wall_ms() + KILL_RECHECK_MS);
		return 1;
	}
	/* What cannot be removed now (a mount point inside, say) does not
	 * keep the task: the backend's orphan sweep tries again. */
	if (rc < 0)
		log_warn("the run of a deleted task left something: the orphan sweep retries", "namespace",
			 ns, "task", name, "error", err);
	rc = c->ops->remove(c->b, task, err, sizeof(err));
	if (rc < 0 && rc != -ENOENT) {
		log_warn("cannot delete the task: retrying", "namespace", ns, "task", name, "error", err);
		set_timer(c, key, now_wall_ms() + RETRY_MS);
		return 1;
	}
	log_info("task deleted", "namespace", ns, "task", name);
	json_object_object_del(c->timers, key);
	after_transition(c, REC_RUNNING, REC_STOPPED);
	return 0;
}

struct rec_state {
	json_object *task;
	struct model_task *t;
	struct model_agent *a;
	struct ctl_run run;
	struct pipeline_resolution res;
};

static void rec_state_free(struct rec_state *s)
{
	json_object_put(s->task);
	json_object_put(s->run.result);
	json_object_put(s->run.patch);
	pipeline_resolution_free(&s->res);
	model_agent_free(s->a);
	model_task_free(s->t);
}

/* Start the run of a task the reconciler admitted. */
static int act_start(struct ctl *c, struct rec_state *s, const struct rec_decision *d, bool *started)
{
	char err[1024] = "";
	int64_t now = now_wall_ms();
	json_object *task = s->task;
	json_object *st = status_copy(task);
	jset_time(st, "startTime", now);
	jset_str(st, "runId", s->t->uid ? s->t->uid : "");
	ctl_test_pause("before-running", s->t->name);
	if (c->ops->start_first) {
		json_object *patch = json_object_new_object();
		int rc = c->ops->start(c->b, task, s->t, s->a, patch, err, sizeof(err));
		if (rc < 0) {
			json_object_put(patch);
			log_warn("start failed", "namespace", s->t->ns, "task", s->t->name, "error", err);
			return write_phase(c, task, st, REC_FAILED, "StartFailed", err);
		}
		if (c->ops->await_running) {
			/* Recorded when the agent is seen running (or why it
			 * waits): the run's events bring the task back. */
			json_object_put(patch);
			json_object_put(st);
			*started = true;
			return 0;
		}
		json_object_object_foreach(patch, pk, pv)
			json_object_object_add(st, pk, json_object_get(pv));
		json_object_put(patch);
		rc = write_phase(c, task, st, REC_RUNNING, d->reason, d->message);
		if (rc == 0)
			*started = true;
		/* On a conflict the run exists: the fresh reconcile adopts it
		 * (or kills it when a stop or deletion came in between). */
		return rc;
	}
	/* Record the intent first: a crash after this starts the run on the
	 * next reconcile (Running without a run); a conflict means a stop,
	 * a deletion or a spec change came in between: nothing started. */
	int rc = write_phase(c, task, st, REC_RUNNING, d->reason, d->message);
	if (rc < 0)
		return rc;
	*started = true;
	json_object *fresh = c->ops->get(c->b, s->t->ns, s->t->name);
	if (!fresh)
		return 0; /* deleted meanwhile: finalize() kills what may start */
	ctl_test_pause("before-start", s->t->name);
	json_object *patch = json_object_new_object();
	rc = c->ops->start(c->b, fresh, s->t, s->a, patch, err, sizeof(err));
	json_object_put(patch);
	if (rc < 0) {
		log_warn("start failed", "namespace", s->t->ns, "task", s->t->name, "error", err);
		rc = write_phase(c, fresh, status_copy(fresh), REC_FAILED, "StartFailed", err);
		if (rc == -ESTALE)
			rc = 0; /* the fresh reconcile sees Running without a run */
	}
	json_object_put(fresh);
	return rc < 0 && rc != -ESTALE ? rc : 0;
}

/* Could a Budget hold this task?  Only one with no run that nothing else
 * stops or holds first (reconcile.c's decide_before, in its order). */
static bool budget_may_hold(const struct rec_input *in)
{
	return in->run == REC_RUN_NONE && !in->stop_requested && !in->invalid && !in->dep_cycle &&
	       !in->deps_failed && !in->deps_missing && in->deps_succeeded >= in->deps_total;
}

/* One reconcile of `key` from the task as it is now.  -ESTALE: the task
 * changed under the decision, reconcile again. */
static int reconcile_once(struct ctl *c, const char *key, enum rec_mode mode, bool *started)
{
	const char *slash = strchr(key, '/');
	if (!slash)
		return 0;
	char ns[256];
	snprintf(ns, sizeof(ns), "%.*s", (int)(slash - key), key);
	struct rec_state s = { 0 };
	s.task = c->ops->get(c->b, ns, slash + 1);
	if (!s.task) {
		json_object_object_del(c->timers, key);
		return 0;
	}
	json_object *task = s.task, *md = jget(task, "metadata");
	int rc = 0;
	enum rec_phase ph = REC_PENDING;
	if (jstr(jget(task, "status"), "phase"))
		(void)rec_phase_parse(jstr(jget(task, "status"), "phase"), &ph);
	char invalid[1024] = "";
	if (c->ops->view(c->b, task, ph, &s.t, invalid, sizeof(invalid)) < 0) {
		if (jstr(md, "deletionTimestamp"))
			rc = finalize(c, task, key) < 0 ? -EIO : 0;
		else
			log_error("unreadable task", "namespace", ns, "task", slash + 1, "error", invalid);
		goto out;
	}
	struct rec_input in;
	pipeline_rec_input(c->cfg, task, s.t, &in);
	if (jstr(md, "deletionTimestamp")) {
		/* Only what the run needs to end: no decision, no status. */
		if (ph == REC_RUNNING) {
			c->ops->observe(c->b, task, s.t, &s.a, &in, &s.run);
			if (in.run == REC_RUN_EXITED || in.run == REC_RUN_LOST)
				count_finished(c, s.t, s.a, &s.run);
		}
		rc = finalize(c, task, key) < 0 ? -EIO : 0;
		goto out;
	}
	char akey[320], budget_msg[400];
	agent_key_of(s.t, akey, sizeof(akey));
	if (!rec_phase_terminal(ph) && ph != REC_RUNNING) {
		struct pipeline_lookup lk = { 0 };
		c->ops->lookup(c->b, s.t->ns, mode == MODE_ADMIT, &lk);
		pipeline_resolve(c->cfg, c->ps, s.t, &lk, &in, &s.res);
		c->ops->lookup_done(c->b, &lk);
		s.a = s.res.agent;
		s.res.agent = NULL;
		if (invalid[0] && !in.invalid) {
			in.invalid = invalid;
			in.invalid_reason = "InvalidSpec";
		}
		in.agent_running = c->ops->running(c->b, akey);
		in.agent_max = s.a ? s.a->max_concurrent : c->ops->agent_max(c->b, akey);
		in.global_running = c->ops->running(c->b, NULL);
		in.global_max = c->cfg->limits.max_concurrent_tasks;
		in.head_of_queue = mode == MODE_ADMIT ||
				   (mode == MODE_CHANGE && head_of_queue(c, task, akey));
		/* A backend that creates the run before recording Running may
		 * have a run for a task still recorded before it (a crash or a
		 * conflict in between): the reconciler adopts it, never starts a
		 * second one. */
		if (c->ops->start_first)
			c->ops->observe(c->b, task, s.t, &s.a, &in, &s.run);
		/* The budget walks the cached Tasks per covering Budget: only
		 * for a task it could hold (rec_decide reads budget_hold after
		 * all of these), not one starting or waiting on something else. */
		if (c->ops->budget && budget_may_hold(&in) &&
		    c->ops->budget(c->b, task, false, budget_msg, sizeof(budget_msg)))
			in.budget_hold = budget_msg;
	}
	if (ph == REC_RUNNING) {
		c->ops->observe(c->b, task, s.t, &s.a, &in, &s.run);
		if (c->ops->budget && c->ops->budget(c->b, task, true, budget_msg, sizeof(budget_msg)))
			in.budget_exceeded = budget_msg;
		if (in.run == REC_RUN_NONE && !in.stop_requested && !c->ops->start_first) {
			/* Running recorded, the run never started (a crash in
			 * between): start it now. */
			char err[1024] = "";
			json_object *patch = json_object_new_object();
			if (!s.a && s.t->agent_name) {
				struct pipeline_lookup lk = { 0 };
				c->ops->lookup(c->b, s.t->ns, false, &lk);
				(void)lk.agent(lk.ctx, s.t->agent_ns, s.t->agent_name, &s.a);
				c->ops->lookup_done(c->b, &lk);
			}
			if (c->ops->start(c->b, task, s.t, s.a, patch, err, sizeof(err)) < 0)
				rc = write_phase(c, task, status_copy(task), REC_FAILED, "StartFailed", err);
			json_object_put(patch);
			if (rc == 0)
				after_transition(c, REC_RUNNING, REC_RUNNING);
			goto out;
		}
	}
	if (in.run_end_reason == NULL && s.run.end_reason[0])
		in.run_end_reason = s.run.end_reason;
	if (in.run_end_message == NULL && s.run.end_message[0])
		in.run_end_message = s.run.end_message;

	struct rec_decision d;
	rec_decide(&in, &d);
	if (d.requeue_after_ms > 0)
		set_timer(c, key, in.now_ms + d.requeue_after_ms);
	json_object *st = jget(task, "status");
	switch (d.action) {
	case REC_NOOP:
		break;
	case REC_SET_PHASE: {
		if (d.phase == ph && str_eq(jstr(st, "reason"), d.reason) &&
		    str_eq(jstr(st, "message"), d.message))
			break;
		json_object *ns_st = status_copy(task);
		bool finished = rec_phase_terminal(d.phase);
		if (s.run.patch) {
			json_object_object_foreach(s.run.patch, pk, pv)
				json_object_object_add(ns_st, pk, json_object_get(pv));
		}
		if (finished && ph == REC_RUNNING) {
			if (s.run.result)
				pipeline_fill_results(ns_st, s.t, s.run.result, s.run.exit_code,
						      s.run.start_ms, s.run.end_ms);
			add_usage(ns_st, &s.run);
		}
		rc = write_phase(c, task, ns_st, d.phase, d.reason, d.message);
		if (rc == 0) {
			if (finished && ph == REC_RUNNING)
				count_finished(c, s.t, s.a, &s.run);
			after_transition(c, ph, d.phase);
		}
		break;
	}
	case REC_START:
		if (mode == MODE_CHANGE) {
			/* Ready: admission starts it, in FIFO order with the
			 * other ready tasks and the queue heads. */
			json_object_object_add(c->ready, key, json_object_new_string(akey));
			c->admit = true;
			break;
		}
		rc = act_start(c, &s, &d, started);
		if (rc == 0)
			after_transition(c, ph, REC_RUNNING);
		break;
	case REC_KILL: {
		int k = c->ops->kill(c->b, task, d.reason);
		if (k > 0) {
			set_timer(c, key, now_wall_ms() + KILL_RECHECK_MS);
			break;
		}
		/* No live run any more and none was observed ending: record it. */
		rc = write_phase(c, task, status_copy(task),
			   str_eq(d.reason, "Stopped") ? REC_STOPPED : REC_FAILED, d.reason, d.message);
		if (rc == 0)
			after_transition(c, ph, REC_STOPPED);
		break;
	}
	case REC_DELETE: {
		char err[1024] = "";
		if (c->ops->purge(c->b, task, err, sizeof(err)) < 0)
			log_warn("run leftovers remain after TTL deletion: retried by the orphan sweep",
				 "namespace", ns, "task", slash + 1, "error", err);
		if (c->ops->remove(c->b, task, err, sizeof(err)) == 0)
			log_info("task deleted after TTL", "namespace", ns, "task", slash + 1);
		json_object_object_del(c->timers, key);
		break;
	}
	}
out:
	rec_state_free(&s);
	return rc;
}

static void reconcile(struct ctl *c, const char *key, enum rec_mode mode, bool *started)
{
	for (int i = 0; i < CONFLICT_RETRIES; i++) {
		bool st = false;
		int rc = reconcile_once(c, key, i == 0 ? mode : MODE_CHANGE, &st);
		if (st && started)
			*started = true;
		if (rc != -ESTALE)
			return;
	}
	/* Still conflicting: later, after other work. */
	set_timer(c, key, now_wall_ms() + KILL_RECHECK_MS);
}

/* ---- admission ------------------------------------------------------------ */

static bool has_slot(struct ctl *c, const char *akey)
{
	long max = c->ops->agent_max(c->b, akey);
	return max <= 0 || c->ops->running(c->b, akey) < max;
}

/* Keep the older of *best and `cand` (taken), with its key. */
static void consider(json_object **best, json_object *cand)
{
	if (!cand)
		return;
	if (!*best || ctl_fifo_before(cand, *best)) {
		json_object_put(*best);
		*best = cand;
	} else {
		json_object_put(cand);
	}
}

/* Repeatedly start the oldest task that may start: the queue head of
 * each Agent with a free slot (one indexed lookup each, whatever the
 * queue length) and the tasks found ready since the last round, while
 * the global limit allows (docs/lifecycle.md).  What is left ready
 * afterwards is parked: it records why it waits (AgentCapacity ...). */
static bool in_strv(const struct strv *v, const char *s)
{
	for (size_t i = 0; i < v->n; i++)
		if (str_eq(v->v[i], s))
			return true;
	return false;
}

static void admission(struct ctl *c)
{
	long global_max = c->cfg->limits.max_concurrent_tasks;
	/* Agents whose queue head a Budget holds: their queues wait, the
	 * others go on (a held head must not stall everyone younger). */
	struct strv held = { 0 };
	for (int n = 0; n < ADMIT_MAX; n++) {
		if (global_max > 0 && c->ops->running(c->b, NULL) >= global_max)
			break;
		json_object *best = NULL;
		struct strv keys = { 0 };
		(void)c->ops->queued_agents(c->b, &keys);
		for (size_t i = 0; i < keys.n; i++)
			if (!in_strv(&held, keys.v[i]) && has_slot(c, keys.v[i]))
				consider(&best, c->ops->queue_head(c->b, keys.v[i]));
		strv_free(&keys);
		struct strv gone = { 0 };
		json_object_object_foreach(c->ready, rkey, rakey) {
			const char *sl = strchr(rkey, '/');
			char ns[256];
			snprintf(ns, sizeof(ns), "%.*s", (int)(sl - rkey), rkey);
			json_object *t = c->ops->get(c->b, ns, sl + 1);
			if (!t)
				strv_push(&gone, rkey);
			else if (!in_strv(&held, json_object_get_string(rakey)) &&
				 has_slot(c, json_object_get_string(rakey)))
				consider(&best, t);
			else
				json_object_put(t);
		}
		for (size_t i = 0; i < gone.n; i++)
			json_object_object_del(c->ready, gone.v[i]);
		strv_free(&gone);
		if (!best)
			break;
		char *key = xasprintf("%s/%s", task_ns(best), task_name(best));
		json_object_put(best);
		json_object_object_del(c->ready, key);
		bool started = false;
		reconcile(c, key, MODE_ADMIT, &started);
		if (!started) {
			/* Still waiting (a conflict, a problem that keeps it
			 * waiting): the next round; a task that failed or was
			 * stopped left the line, so look at the next one at once. */
			const char *sl = strchr(key, '/');
			char ns[256];
			snprintf(ns, sizeof(ns), "%.*s", (int)(sl - key), key);
			json_object *after = c->ops->get(c->b, ns, sl + 1);
			enum rec_phase ph = REC_PENDING;
			if (after && jstr(jget(after, "status"), "phase"))
				(void)rec_phase_parse(jstr(jget(after, "status"), "phase"), &ph);
			bool waiting = after && !rec_phase_terminal(ph) && ph != REC_RUNNING;
			if (waiting && str_eq(jstr(jget(after, "status"), "reason"), "BudgetExhausted")) {
				char akey[320];
				model_task_agent_key(after, akey, sizeof(akey));
				strv_push(&held, akey);
				waiting = false; /* the next one at once */
			}
			json_object_put(after);
			if (waiting) {
				free(key);
				break;
			}
		}
		free(key);
	}
	strv_free(&held);
	/* The ready tasks that got no slot say why they wait. */
	struct strv left = { 0 };
	json_object_object_foreach(c->ready, lkey, lv) {
		(void)lv;
		strv_push(&left, lkey);
	}
	json_object_put(c->ready);
	c->ready = json_object_new_object();
	for (size_t i = 0; i < left.n; i++)
		reconcile(c, left.v[i], MODE_PARK, NULL);
	strv_free(&left);
}

/* ---- the loop ------------------------------------------------------------- */

int ctl_process(struct ctl *c)
{
	unsigned long before = c->writes;
	fire_timers(c, now_wall_ms());
	for (int round = 0; round < 16 && (c->qlen || c->admit); round++) {
		for (size_t n = 0; n < DRAIN_MAX && c->qlen; n++) {
			char *key = dequeue_key(c);
			reconcile(c, key, MODE_CHANGE, NULL);
			free(key);
		}
		if (c->admit) {
			c->admit = false;
			admission(c);
		}
	}
	return (int)(c->writes - before);
}

void ctl_run(struct ctl *c, volatile sig_atomic_t *stop)
{
	int64_t last_resync = now_mono_ms(), last_house = 0;
	bool act = true;
	ctl_enqueue_all(c);
	while (!*stop) {
		int timeout = 1000;
		int64_t next = ctl_next_due(c);
		/* A backend that did not let us act (a standby replica) keeps
		 * its queue for when it leads: waiting 0 on it would spin. */
		if (!act) {
			timeout = 1000;
		} else if (c->qlen || c->admit) {
			timeout = 0;
		} else if (next) {
			int64_t in = next - now_wall_ms();
			timeout = in <= 0 ? 0 : in < timeout ? (int)in : timeout;
		}
		act = c->ops->wait(c->b, c, timeout);
		if (*stop)
			break;
		int64_t mono = now_mono_ms();
		if (act && mono - last_resync >= RESYNC_MS) {
			ctl_enqueue_all(c);
			last_resync = mono;
		}
		if (act) {
			double t0 = metrics_now();
			(void)ctl_process(c);
			if (c->m)
				metrics_observe_tick(c->m, metrics_now() - t0, true, NULL);
		}
		if (c->ops->housekeeping && mono - last_house >= HOUSEKEEPING_MS) {
			c->ops->housekeeping(c->b, c);
			last_house = mono;
		}
	}
}

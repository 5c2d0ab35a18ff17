/* SPDX-License-Identifier: MIT */
/*
 * kube/usage.c - running Tasks' usage so far on Kubernetes.  See usage.h.
 */
#include "config.h"
#include "kube/usage.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jsonutil.h"
#include "base/util.h"
#include "control/budget.h"
#include "control/controller.h"
#include "control/pipeline.h"
#include "kube/taskindex.h"
#include "model/model.h"

#define SYNC_MS 1000
#define RETRY_MS 2000
#define LINE_MAX_BYTES (64 * 1024)

/* One followed run.  The fields under "mu" are shared with its thread. */
struct follow {
	struct follow *next;
	struct kube_usage *u;
	char *uid, *ns, *name, *pod_ns, *pod, *driver;
	pthread_t th;
	volatile sig_atomic_t stop;
	int64_t ended_ms; /* mono: when the thread ended, 0 while it runs */
	bool joined;
	/* under mu */
	bool done, changed;
	int64_t in, out;
	double cost;
};

struct kube_usage {
	char *kubeconfig, *context;
	const struct pd_config *cfg;
	const struct plugin_set *ps;
	pthread_mutex_t mu;
	struct follow *list;
	int64_t last_sync;
};

/* ---- the follower thread ------------------------------------------------ */

struct reader {
	struct follow *f;
	struct pipeline_sink sink;
	void (*peek)(void *parser, struct paddock_run_result *so_far);
	struct buf line; /* the line so far, cut at LINE_MAX_BYTES */
};

static void publish(struct reader *r)
{
	struct paddock_run_result u = { .size = sizeof(u), .input_tokens = -1, .output_tokens = -1,
					.cost_usd = -1 };
	r->peek(r->sink.parser, &u);
	struct follow *f = r->f;
	pthread_mutex_lock(&f->u->mu);
	if (u.input_tokens != f->in || u.output_tokens != f->out || u.cost_usd != f->cost) {
		f->in = u.input_tokens;
		f->out = u.output_tokens;
		f->cost = u.cost_usd;
		f->changed = true;
	}
	pthread_mutex_unlock(&f->u->mu);
}

static int chunk(void *ctx, const char *data, size_t len)
{
	struct reader *r = ctx;
	while (len) {
		const char *nl = memchr(data, '\n', len);
		size_t n = nl ? (size_t)(nl - data) : len;
		size_t room = LINE_MAX_BYTES - r->line.len; /* a longer line is cut */
		(void)buf_append(&r->line, data, n < room ? n : room);
		if (!nl)
			break;
		pipeline_sink_line(&r->sink, r->line.data ? r->line.data : "", r->line.len);
		buf_reset(&r->line);
		data = nl + 1;
		len -= n + 1;
	}
	if (data)
		publish(r);
	return r->f->stop ? 1 : 0;
}

static void *follow_main(void *arg)
{
	struct follow *f = arg;
	struct kube_usage *u = f->u;
	struct kube_config *kcfg = NULL;
	struct kube_client *kc = NULL;
	char err[512] = "";
	struct reader r = { .f = f };
	buf_init(&r.line, LINE_MAX_BYTES + 1);
	pipeline_sink_init(&r.sink, u->cfg, u->ps, f->driver);
	r.peek = PLUGIN_DRIVER_OP(plugins_driver(u->ps, f->driver), parser_peek);
	if (r.peek && r.sink.parser && kube_config_load(u->kubeconfig, u->context, &kcfg, err, sizeof(err)) == 0 &&
	    kube_client_new(kcfg, NULL, &kc, err, sizeof(err)) == 0) {
		/* No limitBytes: a log that reached it would no longer be
		 * followed, and an agent printing that much before its cost
		 * crosses a cap would never be stopped.  Each chunk is parsed
		 * and dropped; only the line being read is kept (LINE_MAX_BYTES). */
		char *path = kube_path(&KUBE_PODS, f->pod_ns, f->pod, "log",
				       "container=agent&follow=true");
		int st = kube_stream(kc, path, chunk, &r, &f->stop, err, sizeof(err));
		if (st >= 300 || st < 0)
			log_debug("usage so far: cannot follow the agent's log", "namespace", f->ns,
				  "task", f->name, "error", err);
		free(path);
	}
	kube_client_free(kc);
	kube_config_free(kcfg);
	pipeline_sink_free(&r.sink);
	buf_free(&r.line);
	pthread_mutex_lock(&u->mu);
	f->done = true;
	pthread_mutex_unlock(&u->mu);
	return NULL;
}

/* ---- the controller's side ---------------------------------------------- */

struct kube_usage *kube_usage_new(const char *kubeconfig, const char *context,
				  const struct pd_config *cfg, const struct plugin_set *ps)
{
	struct kube_usage *u = xcalloc(1, sizeof(*u));
	u->kubeconfig = kubeconfig ? xstrdup(kubeconfig) : NULL;
	u->context = context ? xstrdup(context) : NULL;
	u->cfg = cfg;
	u->ps = ps;
	pthread_mutex_init(&u->mu, NULL);
	return u;
}

static void follow_free(struct follow *f)
{
	f->stop = 1;
	if (!f->joined)
		(void)pthread_join(f->th, NULL);
	free(f->uid);
	free(f->ns);
	free(f->name);
	free(f->pod_ns);
	free(f->pod);
	free(f->driver);
	free(f);
}

void kube_usage_free(struct kube_usage *u)
{
	if (!u)
		return;
	for (struct follow *f = u->list, *n; f; f = n) {
		n = f->next;
		f->stop = 1;
	}
	for (struct follow *f = u->list, *n; f; f = n) {
		n = f->next;
		follow_free(f);
	}
	pthread_mutex_destroy(&u->mu);
	free(u->kubeconfig);
	free(u->context);
	free(u);
}

static struct follow *find(struct kube_usage *u, const char *uid)
{
	for (struct follow *f = u->list; f; f = f->next)
		if (str_eq(f->uid, uid))
			return f;
	return NULL;
}

struct capped {
	json_object *task;
	bool yes;
};

/* A Budget with a cost or token cap (maxTasks alone stops nothing running). */
static bool budget_has_cap(json_object *budget)
{
	json_object *spec = jget(budget, "spec");
	return jget(spec, "maxCostUSD") || jget(spec, "maxTokens");
}

static int capped_cb(void *ctx, json_object *budget)
{
	struct capped *c = ctx;
	if (budget_has_cap(budget) && budget_covers(budget, c->task))
		c->yes = true;
	return c->yes;
}

/* Could a cost or token cap stop this Task? */
static bool is_capped(struct kube_informer *budgets, json_object *task)
{
	if (jget(jget(task, "spec"), "maxCostUSD"))
		return true;
	struct capped c = { task, false };
	(void)kube_informer_foreach(budgets, capped_cb, &c);
	return c.yes;
}

/* The driver of a Task: spec.type, else its Agent's (from the cache). */
static const char *driver_of(struct kube_informer *agents, json_object *task)
{
	json_object *spec = jget(task, "spec"), *ref = jget(spec, "agentRef");
	if (jstr(spec, "type"))
		return jstr(spec, "type");
	const char *ns = jstr(ref, "namespace") ? jstr(ref, "namespace")
						 : jstr(jget(task, "metadata"), "namespace");
	json_object *a = kube_informer_get(agents, ns, jstr(ref, "name"));
	return jstr(jget(a, "spec"), "type");
}

struct sync {
	struct kube_usage *u;
	struct kube_informer *budgets, *agents;
	json_object *pod_of, *live; /* live: uid -> null, the capped running Tasks */
};

static void start(struct kube_usage *u, json_object *task, const char *driver,
		  const char *pod_key)
{
	json_object *md = jget(task, "metadata");
	const char *slash = strchr(pod_key, '/');
	if (!slash || !driver)
		return;
	struct follow *f = xcalloc(1, sizeof(*f));
	f->u = u;
	f->uid = xstrdup(jstr(md, "uid"));
	f->ns = xstrdup(jstr(md, "namespace"));
	f->name = xstrdup(jstr(md, "name"));
	f->pod_ns = xstrndup(pod_key, (size_t)(slash - pod_key));
	f->pod = xstrdup(slash + 1);
	f->driver = xstrdup(driver ? driver : "");
	f->in = f->out = -1;
	f->cost = -1;
	if (pthread_create(&f->th, NULL, follow_main, f) != 0) {
		log_warn("usage so far: cannot start a thread", "task", f->name);
		f->joined = true;
		follow_free(f);
		return;
	}
	f->next = u->list;
	u->list = f;
}

static int sync_cb(void *ctx, json_object *task)
{
	struct sync *s = ctx;
	json_object *md = jget(task, "metadata");
	const char *uid = jstr(md, "uid");
	if (!uid || !str_eq(jstr(jget(task, "status"), "phase"), "Running") ||
	    !is_capped(s->budgets, task))
		return 0;
	json_object_object_add(s->live, uid, NULL); /* its usage is kept while it is Running */
	json_object *pk = jget(s->pod_of, uid);
	if (!pk)
		return 0;
	struct follow *f = find(s->u, uid);
	if (!f) {
		start(s->u, task, driver_of(s->agents, task), json_object_get_string(pk));
		return 0;
	}
	if (f->ended_ms && now_mono_ms() - f->ended_ms >= RETRY_MS) {
		/* the stream ended while the Task runs: follow it again */
		struct follow **pp = &s->u->list;
		while (*pp != f)
			pp = &(*pp)->next;
		*pp = f->next;
		follow_free(f);
		start(s->u, task, driver_of(s->agents, task), json_object_get_string(pk));
	}
	return 0;
}

static int budget_capped_cb(void *ctx, json_object *budget)
{
	(void)ctx;
	return budget_has_cap(budget);
}

void kube_usage_sync(struct kube_usage *u, struct kube_informer *tasks,
		     struct kube_informer *agents, struct kube_informer *budgets,
		     const struct kidx *idx, json_object *pod_of, struct ctl *c)
{
	int64_t now = now_mono_ms();
	/* what changed is queued at every look; new followers once a second */
	pthread_mutex_lock(&u->mu);
	for (struct follow *f = u->list; f; f = f->next) {
		if (f->changed && c)
			ctl_enqueue(c, f->ns, f->name);
		f->changed = false;
		if (f->done && !f->ended_ms)
			f->ended_ms = now ? now : 1;
	}
	pthread_mutex_unlock(&u->mu);
	for (struct follow *f = u->list; f; f = f->next) {
		if (f->ended_ms && !f->joined) {
			(void)pthread_join(f->th, NULL);
			f->joined = true;
		}
	}
	if (now - u->last_sync < SYNC_MS)
		return;
	u->last_sync = now;
	struct sync s = { u, budgets, agents, pod_of, json_object_new_object() };
	/* The Running tasks from the index, not a walk over every task: all
	 * of them when a Budget has a cap, else those with their own. */
	bool budget_cap = kube_informer_foreach(budgets, budget_capped_cb, NULL) != 0;
	struct strv keys = { 0 };
	kidx_running_tasks(idx, !budget_cap, &keys);
	for (size_t i = 0; i < keys.n; i++) {
		char *sl = strchr(keys.v[i], '/');
		if (!sl)
			continue;
		*sl = '\0';
		json_object *task = kube_informer_get(tasks, keys.v[i], sl + 1);
		if (task)
			(void)sync_cb(&s, task);
	}
	strv_free(&keys);
	/* Stop following what no longer runs (or is no longer capped). */
	for (struct follow **pp = &u->list; *pp;) {
		struct follow *f = *pp;
		if (json_object_object_get_ex(s.live, f->uid, NULL)) {
			pp = &f->next;
			continue;
		}
		f->stop = 1;
		if (!f->ended_ms) {
			pp = &f->next; /* noticed within 0.2 s: joined at a later look */
			continue;
		}
		*pp = f->next;
		follow_free(f);
	}
	json_object_put(s.live);
}

json_object *kube_usage_get(struct kube_usage *u, const char *uid)
{
	if (!u || !uid)
		return NULL;
	json_object *o = NULL;
	pthread_mutex_lock(&u->mu);
	struct follow *f = find(u, uid);
	if (f && (f->in >= 0 || f->out >= 0 || f->cost >= 0)) {
		o = json_object_new_object();
		if (f->in >= 0)
			json_object_object_add(o, "inputTokens", json_object_new_int64(f->in));
		if (f->out >= 0)
			json_object_object_add(o, "outputTokens", json_object_new_int64(f->out));
		if (f->cost >= 0)
			json_object_object_add(o, "costUSD", json_object_new_double(f->cost));
	}
	pthread_mutex_unlock(&u->mu);
	return o;
}

/* SPDX-License-Identifier: MIT */
/*
 * kube/github.c - the github source of Spawners on Kubernetes:
 * control/github.c's operations against the API server.  See github.h.
 */
#include "config.h"
#include "kube/github.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jsonutil.h"
#include "base/sha256.h"
#include "base/util.h"
#include "control/github.h"
#include "kube/client.h"
#include "kube/hook.h"
#include "model/model.h"

#define LOOP_MS 1000
#define PAGE "250"
#define LEAD_GRACE_MS 2000 /* the loop says it leads several times a second */

struct kube_github {
	struct kube_client *kc; /* the poller thread's own */
	/* monotonic ms until which this controller leads, as its loop last
	 * said: a loop that stops saying so (stalled) stops the polls too */
	_Atomic int64_t lead_until;
	struct github *poller;
	char last_err[512]; /* the list error last logged (said once) */
	/* The Spawners with spec.github, validated from the controller's
	 * cache when its count of Spawner events moved (gen): the poller
	 * lists nothing itself, and a cluster without one costs nothing.
	 * Every reference count change of the array is made under mu (two
	 * threads hold it). */
	pthread_mutex_t mu;
	json_object *spawners; /* array of documents */
	uint64_t gen;
	bool synced;
	/* Events of Spawners' Tasks the controller's watch saw (the loop
	 * counts, the poller reads), and per Spawner (ns/name) the count at
	 * its last list when that list had no report due: until it moves,
	 * nothing can have become due and the list is not made again. */
	_Atomic uint64_t task_gen;
	json_object *quiet; /* poller thread only */
};

static bool op_active(void *ctx)
{
	struct kube_github *g = ctx;
	return now_mono_ms() < atomic_load(&g->lead_until);
}

/* Each object of a LIST of r in ns (selector: a label selector, or NULL),
 * page by page: cb(raw). */
static int list_pages(struct kube_github *g, const struct kube_resource *r, const char *ns,
		      const char *selector, github_obj_cb cb, void *arg)
{
	char *cont = NULL;
	int rc = 0;
	do {
		char *sel = selector ? kube_query_escape(selector) : NULL;
		char *ct = cont ? kube_query_escape(cont) : NULL;
		char *q = xasprintf("limit=" PAGE "%s%s%s%s", sel ? "&labelSelector=" : "",
				    sel ? sel : "", ct ? "&continue=" : "", ct ? ct : "");
		char *path = kube_path(r, ns, NULL, NULL, q), err[512];
		json_object *list = NULL;
		int st = kube_request(g->kc, "GET", path, NULL, NULL, &list, err, sizeof(err));
		free(sel);
		free(ct);
		free(q);
		free(path);
		free(cont);
		cont = NULL;
		if (st != 200 && strcmp(err, g->last_err)) /* once per error, not each turn */
			log_warn("github: cannot list", "resource", r->plural, "error", err);
		if (st != 200) {
			snprintf(g->last_err, sizeof(g->last_err), "%s", err);
			json_object_put(list);
			return st < 0 ? st : -EIO;
		}
		g->last_err[0] = '\0'; /* the same error coming back is said again */
		json_object *items = jget(list, "items");
		for (size_t i = 0; items && i < json_object_array_length(items) && rc == 0; i++)
			rc = cb(json_object_array_get_idx(items, i), arg);
		const char *c = jstr(jget(list, "metadata"), "continue");
		if (c && *c)
			cont = xstrdup(c);
		json_object_put(list);
	} while (cont && rc == 0);
	free(cont);
	return rc;
}

static int op_spawners(void *ctx, github_obj_cb cb, void *arg)
{
	struct kube_github *g = ctx;
	pthread_mutex_lock(&g->mu);
	json_object *all = json_object_get(g->spawners);
	pthread_mutex_unlock(&g->mu);
	int rc = 0;
	for (size_t i = 0; all && i < json_object_array_length(all) && rc == 0; i++)
		rc = cb(json_object_array_get_idx(all, i), arg);
	pthread_mutex_lock(&g->mu);
	json_object_put(all);
	pthread_mutex_unlock(&g->mu);
	return rc;
}

static int op_secret(void *ctx, const char *ns, const char *name, const char *key, char **value,
		     size_t *len, char *err, size_t errlen)
{
	struct kube_github *g = ctx;
	return kube_secret_get(g->kc, ns, name, key, value, len, err, errlen);
}

/* Taken when its Task exists (the name is the event's). */
static int op_seen(void *ctx, const char *ns, const char *spawner, const char *id, const char *task)
{
	struct kube_github *g = ctx;
	(void)spawner;
	(void)id;
	char err[512], *path = kube_path(&KUBE_TASKS, ns, task, NULL, NULL);
	int st = kube_request(g->kc, "GET", path, NULL, NULL, NULL, err, sizeof(err));
	free(path);
	return st == 200 ? 1 : st == 404 ? 0 : -EIO;
}

static int op_take(void *ctx, json_object *spawner, const char *id, json_object *ev,
		   struct spawner_result *r, char *err, size_t errlen)
{
	struct kube_github *g = ctx;
	return kube_spawner_take(g->kc, spawner, "github", id, ev, r, err, errlen);
}

/* The Spawner's Tasks whose end is not yet reported (the label set with
 * the annotation): the list stays as short as the Tasks in flight, however
 * many the Spawner made. */
struct tasks_walk {
	github_obj_cb cb;
	void *arg;
	bool due;
};

static int tasks_cb(json_object *task, void *arg)
{
	struct tasks_walk *w = arg;
	const char *sp;
	w->due |= github_report_due(task, &sp);
	return w->cb(task, w->arg);
}

static int op_tasks(void *ctx, const char *ns, const char *spawner, github_obj_cb cb, void *arg)
{
	struct kube_github *g = ctx;
	uint64_t gen = atomic_load(&g->task_gen);
	char key[320];
	snprintf(key, sizeof(key), "%s/%s", ns, spawner);
	json_object *q = jget(g->quiet, key);
	if (q && (uint64_t)json_object_get_int64(q) == gen)
		return 0; /* no Task of a Spawner changed since a list with nothing due */
	char *sel = xasprintf("%s=%s,%s!=end", MODEL_LABEL_SPAWNER, spawner, GITHUB_REPORTED);
	struct tasks_walk w = { cb, arg, false };
	int rc = list_pages(g, &KUBE_TASKS, ns, sel, tasks_cb, &w);
	free(sel);
	if (rc == 0 && !w.due)
		json_object_object_add(g->quiet, key, json_object_new_int64((int64_t)gen));
	else
		json_object_object_del(g->quiet, key);
	return rc;
}

/* merge PATCH body into path (an object, or its status). */
static int patch(struct kube_github *g, char *path, json_object *body, char *err, size_t errlen)
{
	int st = kube_request(g->kc, "PATCH", path, body, "application/merge-patch+json", NULL, err,
			      errlen);
	free(path);
	json_object_put(body);
	return st == 200 ? 0 : st < 0 ? st : -EIO;
}

static int op_mark(void *ctx, const char *ns, const char *task, const char *value, char *err,
		   size_t errlen)
{
	struct kube_github *g = ctx;
	json_object *b = json_object_new_object(), *md = json_object_new_object(),
		    *ann = json_object_new_object(), *lab = json_object_new_object();
	json_object_object_add(ann, GITHUB_REPORTED, json_object_new_string(value));
	json_object_object_add(lab, GITHUB_REPORTED, json_object_new_string(value));
	json_object_object_add(md, "annotations", ann);
	json_object_object_add(md, "labels", lab);
	json_object_object_add(b, "metadata", md);
	return patch(g, kube_path(&KUBE_TASKS, ns, task, NULL, NULL), b, err, errlen);
}

/* status.github as a merge patch: the fields the state leaves out are
 * removed (null), so a cleared error or wait does not linger. */
static int op_state_write(void *ctx, const char *ns, const char *name, json_object *state)
{
	struct kube_github *g = ctx;
	static const char *const fields[] = { "lastPoll", "nextPoll", "intervalSeconds",
					      "lastStatus", "rateLimitRemaining", "rateLimitLimit",
					      "rateLimitReset", "rateLimitedUntil", "lastError",
					      "tokenLogin", "tokenLoginOf" };
	json_object *gh = NULL, *b = json_object_new_object(), *st = json_object_new_object();
	(void)json_object_deep_copy(state, &gh, NULL);
	for (size_t i = 0; gh && i < ARRAY_SIZE(fields); i++)
		if (!json_object_object_get_ex(gh, fields[i], NULL))
			json_object_object_add(gh, fields[i], NULL);
	json_object_object_add(st, "github", gh);
	json_object_object_add(b, "status", st);
	char err[512];
	int rc = patch(g, kube_path(&KUBE_SPAWNERS, ns, name, "status", NULL), b, err, sizeof(err));
	if (rc < 0)
		log_warn("github: cannot write the poll state", "namespace", ns, "spawner", name,
			 "error", err);
	return rc;
}

static json_object *op_state_read(void *ctx, const char *ns, const char *name)
{
	struct kube_github *g = ctx;
	char err[512], *path = kube_path(&KUBE_SPAWNERS, ns, name, NULL, NULL);
	json_object *obj = NULL, *gh = NULL;
	if (kube_request(g->kc, "GET", path, NULL, NULL, &obj, err, sizeof(err)) == 200)
		gh = json_object_get(jget(jget(obj, "status"), "github"));
	json_object_put(obj);
	free(path);
	return gh;
}

/* From the Spawner's uid: every controller of the cluster, before and
 * after a restart, claims as the same; another Spawner as another. */
static void op_claimer(void *ctx, json_object *sp, char out[17])
{
	(void)ctx;
	json_object *md = jget(sp, "metadata");
	char id[600];
	snprintf(id, sizeof(id), "kubernetes\n%s\n%s/%s", jstr(md, "uid") ? jstr(md, "uid") : "",
		 jstr(md, "namespace"), jstr(md, "name"));
	sha256_hex(id, strlen(id), out, 16);
}

struct kube_github *kube_github_new(const char *kubeconfig, const char *context,
				    const struct pd_config *cfg, struct metrics *m)
{
	struct kube_config *kcfg = NULL;
	char err[512];
	struct kube_github *g = xcalloc(1, sizeof(*g));
	atomic_init(&g->lead_until, 0);
	atomic_init(&g->task_gen, 0);
	g->quiet = json_object_new_object();
	pthread_mutex_init(&g->mu, NULL);
	if (kube_config_load(kubeconfig, context, &kcfg, err, sizeof(err)) < 0 ||
	    kube_client_new(kcfg, NULL, &g->kc, err, sizeof(err)) < 0) {
		log_error("github polling disabled", "error", err);
		kube_config_free(kcfg);
		json_object_put(g->quiet);
		free(g);
		return NULL;
	}
	kube_config_free(kcfg);
	const struct github_ops ops = {
		.ctx = g, .active = op_active, .spawners = op_spawners, .secret = op_secret,
		.seen = op_seen, .take = op_take, .tasks = op_tasks, .mark = op_mark,
		.state_write = op_state_write, .state_read = op_state_read, .claimer = op_claimer,
	};
	if (github_start(&ops, cfg, m, LOOP_MS, &g->poller, err, sizeof(err)) < 0) {
		log_error("github polling disabled", "error", err);
		kube_github_free(g);
		return NULL;
	}
	return g;
}

/* A cached Spawner with spec.github, validated (said once per change
 * when it is not), into the array ctx. */
static int copy_cb(void *ctx, json_object *raw)
{
	if (!jget(jget(raw, "spec"), "github"))
		return 0;
	json_object *doc = NULL;
	enum model_kind k;
	char err[512];
	if (model_from_server(raw, NULL, &k, &doc, err, sizeof(err)) < 0 || k != MODEL_SPAWNER) {
		json_object *md = jget(raw, "metadata");
		log_warn("github: unreadable spawner", "namespace", jstr(md, "namespace"), "spawner",
			 jstr(md, "name"), "error", err);
		json_object_put(doc);
		return 0;
	}
	json_object_array_add(ctx, doc);
	return 0;
}

void kube_github_sync(struct kube_github *g, bool leading, struct kube_informer *spawners,
		      uint64_t gen)
{
	if (!g)
		return;
	if (leading && (!g->synced || gen != g->gen)) {
		json_object *all = json_object_new_array();
		(void)kube_informer_foreach(spawners, copy_cb, all);
		pthread_mutex_lock(&g->mu);
		json_object_put(g->spawners);
		g->spawners = all;
		pthread_mutex_unlock(&g->mu);
		g->gen = gen;
		g->synced = true;
	}
	atomic_store(&g->lead_until, leading ? now_mono_ms() + LEAD_GRACE_MS : 0);
}

void kube_github_task_changed(struct kube_github *g)
{
	if (g)
		atomic_fetch_add(&g->task_gen, 1);
}

void kube_github_free(struct kube_github *g)
{
	if (!g)
		return;
	github_free(g->poller);
	json_object_put(g->spawners);
	json_object_put(g->quiet);
	pthread_mutex_destroy(&g->mu);
	kube_client_free(g->kc);
	free(g);
}

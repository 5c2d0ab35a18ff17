/* SPDX-License-Identifier: MIT */
/*
 * kube/backend.c - see kube/backend.h.  One thread: the informers'
 * watch streams are pumped by kube_informers_poll(); requests the
 * controller makes (status, Jobs, Events, the Lease) are plain blocking
 * requests between polls.
 */
#include "config.h"
#include "kube/backend.h"
#include "base/quantity.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "plugin/host.h"
#include "base/jsonutil.h"
#include "kube/github.h"
#include "kube/lease.h"
#include "kube/render.h"
#include "kube/netpol.h"
#include "kube/budget.h"
#include "kube/schedule.h"
#include "kube/taskindex.h"
#include "kube/usage.h"
#include "proxy/sidecar.h"
#include "proxy/traffic.h"
#include "control/controller.h"
#include "control/metrics.h"
#include "model/model.h"
#include "control/pipeline.h"
#include "control/reconcile.h"
#include "control/template.h"

#define SWEEP_INTERVAL_MS 10000
#define TRIM_INTERVAL_MS 10000  /* free heap pages handed back, at most this often */
/* On a Job: when its task was admitted (status.startTime once it runs). */
#define KUBE_ANNOTATION_STARTED "paddock.dev/started-at"
#define LOG_LINE_MAX (64 * 1024)
#define SCRIPT_MAX (256 * 1024)

enum { INF_TASKS, INF_AGENTS, INF_JOBS, INF_PODS, INF_SPAWNERS, INF_BUDGETS, N_INF };

struct kctl {
	const struct pd_config *cfg;
	const struct plugin_set *ps;
	struct kube_client *kc;
	struct kube_informer *inf[N_INF];
	struct metrics *m;
	char *identity;
	char *lease_ns;
	struct kube_lease *lease;
	int64_t lease_next_ms;  /* monotonic: next lease attempt */
	bool was_leading;       /* leading and caches synced at the last look */
	uint64_t spawner_gen;   /* Spawner events seen: the schedule tick looks again */
	struct ctl *ctl;
	int64_t last_sweep_ms;
	int64_t last_trim_ms;
	bool trim_due; /* work was in flight since the last trim */
	json_object *events;    /* Events to send after the pass: array of {ns, event} */
	struct kidx *idx;       /* slots and the line, per change (kube/taskindex.h) */
	json_object *pod_of;    /* task uid -> "ns/name" of its newest pod */
	json_object *starting;  /* task uid -> null: its ConfigMap and Job are being created */
	json_object *start_err; /* task uid -> why creating them failed (StartFailed) */
	json_object *writing;   /* "ns/name" -> null: a status write in flight */
	struct kube_usage *usage; /* running Tasks' usage so far (kube/usage.h) */
	struct kube_github *github; /* Spawners' github source: the leader's (kube/github.h) */
	json_object *over;      /* task uid -> null: its run was killed BudgetExceeded */
	json_object *egress_done; /* task uid -> null: its sidecar's log is recorded */
	/* "ns/name" -> {"rv", "doc"}: an Agent checked and defaulted, reused
	 * while its resourceVersion stays (every reconcile resolves it). */
	json_object *agent_docs;
};

/* ---- Jobs and pods as the caches keep them --------------------------------
 *
 * A Job or a pod is cached as the few fields the controller reads, packed
 * in one allocation (kube_informer_set_compact): as trimmed JSON a Job was
 * some 8 json-c objects and a pod a dozen, about 700 bytes each. */

/* A struct of `size` bytes followed by copies of strs[i] (NULL: left
 * NULL), each pointed to by the char * at offs[i] of the struct. */
static void *packed_new(size_t size, const size_t *offs, const char *const *strs, size_t n)
{
	size_t total = size;
	for (size_t i = 0; i < n; i++)
		total += strs[i] ? strlen(strs[i]) + 1 : 0;
	char *p = xcalloc(1, total), *tail = p + size;
	for (size_t i = 0; i < n; i++) {
		if (!strs[i])
			continue;
		size_t l = strlen(strs[i]) + 1;
		memcpy(tail, strs[i], l);
		memcpy(p + offs[i], &tail, sizeof(tail));
		tail += l;
	}
	return p;
}

struct kjob {
	struct kube_compact c;      /* c.rv */
	const char *name, *ns;
	const char *task_uid, *task_ns, *task; /* its labels */
	const char *agent;          /* KUBE_ANNOTATION_AGENT */
	const char *started_at;     /* KUBE_ANNOTATION_STARTED */
	int64_t created_ms;
	int64_t deleted_ms;         /* metadata.deletionTimestamp */
	bool deleting;              /* it has a deletionTimestamp */
	bool complete, failed;      /* conditions Complete, Failed True */
	const char *failed_reason;  /* the Failed condition's reason */
};

/* The condition `type` is True (and *reason, when asked, its reason). */
static bool cond_true(json_object *conds, const char *type, const char **reason)
{
	size_t n = conds && json_object_is_type(conds, json_type_array) ? json_object_array_length(conds) : 0;
	for (size_t i = 0; i < n; i++) {
		json_object *c = json_object_array_get_idx(conds, i);
		if (str_eq(jstr(c, "type"), type) && str_eq(jstr(c, "status"), "True")) {
			if (reason)
				*reason = jstr(c, "reason");
			return true;
		}
	}
	return false;
}

static struct kube_compact *kjob_make(json_object *job)
{
	json_object *md = jget(job, "metadata"), *labels = jget(md, "labels"),
		    *ann = jget(md, "annotations");
	json_object *conds = jget(jget(job, "status"), "conditions");
	const char *why = NULL;
	bool complete = cond_true(conds, "Complete", NULL);
	bool failed = cond_true(conds, "Failed", &why);
	const char *strs[] = { jstr(md, "resourceVersion"), jstr(md, "name"), jstr(md, "namespace"),
			       jstr(labels, KUBE_LABEL_TASK_UID), jstr(labels, KUBE_LABEL_TASK_NS),
			       jstr(labels, KUBE_LABEL_TASK), jstr(ann, KUBE_ANNOTATION_AGENT),
			       jstr(ann, KUBE_ANNOTATION_STARTED), failed ? why : NULL };
	static const size_t offs[] = { offsetof(struct kjob, c.rv), offsetof(struct kjob, name),
				       offsetof(struct kjob, ns), offsetof(struct kjob, task_uid),
				       offsetof(struct kjob, task_ns), offsetof(struct kjob, task),
				       offsetof(struct kjob, agent), offsetof(struct kjob, started_at),
				       offsetof(struct kjob, failed_reason) };
	_Static_assert(ARRAY_SIZE(strs) == ARRAY_SIZE(offs), "one offset per string");
	struct kjob *j = packed_new(sizeof(*j), offs, strs, ARRAY_SIZE(strs));
	j->created_ms = jtime(md, "creationTimestamp");
	j->deleting = jstr(md, "deletionTimestamp") != NULL;
	j->deleted_ms = j->deleting ? jtime(md, "deletionTimestamp") : 0;
	j->complete = complete;
	j->failed = failed;
	return &j->c;
}

/* {metadata: {name, namespace, resourceVersion, labels: {the task's uid,
 * namespace and name}}} of a cached Job or pod found gone by a relist;
 * *md and *labels borrowed, for what the caller adds. */
static json_object *ident_new(const struct kube_compact *c, const char *name, const char *ns,
			      const char *task_uid, const char *task_ns, const char *task,
			      json_object **md, json_object **labels)
{
	json_object *o = json_object_new_object();
	*md = json_object_new_object();
	*labels = json_object_new_object();
	jset_str(*md, "name", name);
	jset_str(*md, "namespace", ns);
	jset_str(*md, "resourceVersion", c->rv);
	jset_str(*labels, KUBE_LABEL_TASK_UID, task_uid);
	jset_str(*labels, KUBE_LABEL_TASK_NS, task_ns);
	jset_str(*labels, KUBE_LABEL_TASK, task);
	json_object_object_add(*md, "labels", *labels);
	json_object_object_add(o, "metadata", *md);
	return o;
}

/* What the Job informer's callback reads of a Job found gone by a
 * relist: its name and its task's labels (kidx_job). */
static json_object *kjob_ident(const struct kube_compact *c)
{
	const struct kjob *j = (const struct kjob *)c;
	json_object *md = NULL, *labels = NULL, *ann = json_object_new_object();
	json_object *o = ident_new(c, j->name, j->ns, j->task_uid, j->task_ns, j->task, &md, &labels);
	jset_str(ann, KUBE_ANNOTATION_AGENT, j->agent);
	json_object_object_add(md, "annotations", ann);
	return o;
}

static const struct kjob *kjob_get(struct kctl *k, const char *ns, const char *name)
{
	return (const struct kjob *)kube_informer_get_compact(k->inf[INF_JOBS], ns, name);
}

struct kpod {
	struct kube_compact c;
	const char *name, *ns;
	const char *task_uid, *task_ns, *task, *job_name; /* its labels */
	const char *phase;            /* status.phase */
	const char *reason, *message; /* status.reason, status.message (an eviction) */
	bool scheduled;               /* PodScheduled True */
	const char *unsched_msg;      /* PodScheduled False Unschedulable: its message */
	bool unschedulable;
	const char *wait_reason, *wait_msg; /* the first container waiting: init ones first */
	bool wait_normal;             /* ContainerCreating or PodInitializing */
	bool agent_terminated;        /* the agent container has ended */
	bool has_exit;
	int exit_code;
	int64_t started_ms, finished_ms; /* the agent container's, when it has ended */
	bool oom;                     /* ... OOMKilled */
	bool sidecar;                 /* it has the egress sidecar */
};

/* A waiting reason of a container, unless it is the normal way up. */
static const char *container_wait(json_object *statuses, const char **msg, bool *normal)
{
	size_t n = statuses && json_object_is_type(statuses, json_type_array) ?
			   json_object_array_length(statuses) : 0;
	for (size_t i = 0; i < n; i++) {
		json_object *w = jget(jget(json_object_array_get_idx(statuses, i), "state"), "waiting");
		const char *r = jstr(w, "reason");
		if (!r)
			continue;
		*msg = jstr(w, "message");
		*normal = str_eq(r, "ContainerCreating") || str_eq(r, "PodInitializing");
		return r;
	}
	return NULL;
}

static struct kube_compact *kpod_make(json_object *pod)
{
	json_object *md = jget(pod, "metadata"), *labels = jget(md, "labels"), *ps = jget(pod, "status");
	json_object *conds = jget(ps, "conditions");
	bool scheduled = false, unsched = false;
	const char *unsched_msg = NULL;
	for (size_t i = 0; conds && json_object_is_type(conds, json_type_array) &&
			   i < json_object_array_length(conds); i++) {
		json_object *c = json_object_array_get_idx(conds, i);
		if (!str_eq(jstr(c, "type"), "PodScheduled"))
			continue;
		if (str_eq(jstr(c, "status"), "True"))
			scheduled = true;
		if (str_eq(jstr(c, "status"), "False") && str_eq(jstr(c, "reason"), "Unschedulable") &&
		    !unsched) {
			unsched = true;
			unsched_msg = jstr(c, "message");
		}
	}
	const char *wmsg = NULL;
	bool normal = true;
	const char *wr = container_wait(jget(ps, "initContainerStatuses"), &wmsg, &normal);
	if (!wr)
		wr = container_wait(jget(ps, "containerStatuses"), &wmsg, &normal);
	json_object *term = NULL;
	bool agent_term = false;
	json_object *cs = jget(ps, "containerStatuses");
	for (size_t i = 0; cs && json_object_is_type(cs, json_type_array) &&
			   i < json_object_array_length(cs); i++) {
		json_object *c = json_object_array_get_idx(cs, i);
		if (!str_eq(jstr(c, "name"), "agent"))
			continue;
		term = jget(jget(c, "state"), "terminated");
		agent_term = term != NULL;
		break;
	}
	const char *strs[] = { jstr(md, "resourceVersion"), jstr(md, "name"), jstr(md, "namespace"),
			       jstr(labels, KUBE_LABEL_TASK_UID), jstr(labels, KUBE_LABEL_TASK_NS),
			       jstr(labels, KUBE_LABEL_TASK), jstr(labels, "batch.kubernetes.io/job-name"),
			       jstr(ps, "phase"), jstr(ps, "reason"), jstr(ps, "message"), unsched_msg,
			       wr, wmsg };
	static const size_t offs[] = { offsetof(struct kpod, c.rv), offsetof(struct kpod, name),
				       offsetof(struct kpod, ns), offsetof(struct kpod, task_uid),
				       offsetof(struct kpod, task_ns), offsetof(struct kpod, task),
				       offsetof(struct kpod, job_name), offsetof(struct kpod, phase),
				       offsetof(struct kpod, reason), offsetof(struct kpod, message),
				       offsetof(struct kpod, unsched_msg), offsetof(struct kpod, wait_reason),
				       offsetof(struct kpod, wait_msg) };
	_Static_assert(ARRAY_SIZE(strs) == ARRAY_SIZE(offs), "one offset per string");
	struct kpod *p = packed_new(sizeof(*p), offs, strs, ARRAY_SIZE(strs));
	p->scheduled = scheduled;
	p->unschedulable = unsched;
	p->wait_normal = wr ? normal : true;
	p->agent_terminated = agent_term;
	json_object *ec = jget(term, "exitCode");
	p->has_exit = ec != NULL;
	p->exit_code = ec ? json_object_get_int(ec) : 0;
	p->started_ms = jtime(term, "startedAt");
	p->finished_ms = jtime(term, "finishedAt");
	p->oom = str_eq(jstr(term, "reason"), "OOMKilled");
	p->sidecar = kube_pod_has_sidecar(pod);
	return &p->c;
}

/* What the pod informer's callback reads of a pod found gone by a
 * relist: its name and its task's labels. */
static json_object *kpod_ident(const struct kube_compact *c)
{
	const struct kpod *p = (const struct kpod *)c;
	json_object *md = NULL, *labels = NULL;
	json_object *o = ident_new(c, p->name, p->ns, p->task_uid, p->task_ns, p->task, &md, &labels);
	jset_str(labels, "batch.kubernetes.io/job-name", p->job_name);
	return o;
}

/* Put what the controller wrote into its cache, and its indexes. */
static void cache_task(struct kctl *k, json_object *task)
{
	kube_informer_take(k->inf[INF_TASKS], task);
	json_object *md = jget(task, "metadata");
	json_object *now = kube_informer_get(k->inf[INF_TASKS], jstr(md, "namespace"), jstr(md, "name"));
	if (now)
		kidx_task(k->idx, now, false);
}

static void cache_job(struct kctl *k, json_object *job)
{
	/* Not cached: the cache holds a newer version, indexed already. */
	if (kube_informer_take(k->inf[INF_JOBS], job))
		kidx_job(k->idx, job, false);
}

static enum rec_phase task_phase_of(json_object *task)
{
	enum rec_phase ph = REC_PENDING;
	const char *s = jstr(jget(task, "status"), "phase");
	if (s)
		rec_phase_parse(s, &ph);
	return ph;
}

/* ---- host backend: secrets and ConfigMaps from the API server ---------- */

static int hb_secret_get(void *ctx, const char *ns, const char *name, const char *key, char **value,
			 size_t *len, char *err, size_t errlen)
{
	struct kctl *k = ctx;
	return kube_secret_get(k->kc, ns, name, key, value, len, err, errlen);
}

static int hb_object_get(void *ctx, const char *kind, const char *ns, const char *name,
			 struct paddock_object **out, char *err, size_t errlen)
{
	struct kctl *k = ctx;
	if (!str_eq(kind, "ConfigMap"))
		return errf(err, errlen, -ENOTSUP, "object kind \"%s\" is not available: use ConfigMap",
			    kind ? kind : "");
	char *path = kube_path(&KUBE_CONFIGMAPS, ns, name, NULL, NULL);
	json_object *o = NULL;
	char rerr[512];
	int st = kube_request(k->kc, "GET", path, NULL, NULL, &o, rerr, sizeof(rerr));
	free(path);
	if (st != 200) {
		json_object_put(o);
		return st == 404 ? errf(err, errlen, -ENOENT, "configmap \"%s/%s\" not found", ns, name)
				 : errf(err, errlen, -EIO, "configmap \"%s/%s\": %s", ns, name, rerr);
	}
	struct paddock_object *po = host_object_new();
	json_object *data = jget(o, "data");
	if (data) {
		json_object_object_foreach(data, dk, dv) {
			if (json_object_is_type(dv, json_type_string))
				host_object_add(po, dk, json_object_get_string(dv),
						(size_t)json_object_get_string_len(dv));
		}
	}
	json_object *bin = jget(o, "binaryData");
	if (bin) {
		json_object_object_foreach(bin, bk, bv) {
		char *raw = NULL;
		size_t rl = 0;
		const char *b64 = json_object_get_string(bv);
		if (b64 && model_b64_decode(b64, strlen(b64), &raw, &rl) == 0)
			host_object_add(po, bk, raw, rl);
		free(raw);
		}
	}
	json_object_put(o);
	*out = po;
	return 0;
}

/* ---- lookups for the shared resolution (pipeline_resolve) -------------- */

struct klookup {
	struct kctl *k;
	const char *ns;
	const char **deps;     /* lk_task_deps's answer, valid until its next call */
	size_t deps_cap;
};

static int lk_task_phase(void *ctx, const char *ns, const char *name, enum rec_phase *ph)
{
	struct klookup *l = ctx;
	json_object *t = kube_informer_get(l->k->inf[INF_TASKS], ns, name);
	if (!t)
		return -ENOENT;
	*ph = task_phase_of(t);
	return 0;
}

static int lk_task_deps(void *ctx, const char *name, const char *const **deps, size_t *n)
{
	struct klookup *l = ctx;
	json_object *t = kube_informer_get(l->k->inf[INF_TASKS], l->ns, name);
	if (!t)
		return -ENOENT;
	/* spec.dependsOn is validated: an array of strings, borrowed from the
	 * cache, which does not change during one reconcile. */
	json_object *arr = jget(jget(t, "spec"), "dependsOn");
	size_t m = arr ? json_object_array_length(arr) : 0;
	if (m > l->deps_cap) {
		l->deps_cap = m;
		l->deps = xrealloc(l->deps, m * sizeof(*l->deps));
	}
	for (size_t i = 0; i < m; i++)
		l->deps[i] = json_object_get_string(json_object_array_get_idx(arr, i));
	*deps = l->deps;
	*n = m;
	return 0;
}
static int lk_agent(void *ctx, const char *ns, const char *name, struct model_agent **out)
{
	struct klookup *l = ctx;
	json_object *a = kube_informer_get(l->k->inf[INF_AGENTS], ns, name), *doc = NULL;
	if (!a)
		return -ENOENT;
	/* The Agent's defaults, as `paddock apply` fills them; an Agent the
	 * checks refuse counts as missing (its message is in the log). */
	struct model_limits lim = { .prompt_bytes = l->k->cfg->limits.prompt_bytes };
	enum model_kind kind;
	char err[512], key[512];
	snprintf(key, sizeof(key), "%s/%s", ns ? ns : "", name ? name : "");
	const char *rv = jstr(jget(a, "metadata"), "resourceVersion");
	json_object *seen = jget(l->k->agent_docs, key);
	int rc = 0;
	if (rv && seen && str_eq(jstr(seen, "rv"), rv)) {
		doc = json_object_get(jget(seen, "doc"));
	} else {
		rc = model_from_server(a, &lim, &kind, &doc, err, sizeof(err));
		if (rc == 0 && rv) {
			seen = json_object_new_object();
			jset_str(seen, "rv", rv);
			json_object_object_add(seen, "doc", json_object_get(doc));
			json_object_object_add(l->k->agent_docs, key, seen);
		}
	}
	if (rc == 0)
		rc = model_agent_from_json(doc, out, err, sizeof(err));
	if (rc < 0) {
		log_warn("invalid agent", "namespace", ns, "agent", name, "error", err);
		rc = -ENOENT;
	}
	json_object_put(doc);
	return rc;
}

static int lk_secret(void *ctx, const char *ns, const char *name, const char *key, char *err,
		     size_t errlen)
{
	struct klookup *l = ctx;
	char *v = NULL;
	size_t vl = 0;
	int rc = hb_secret_get(l->k, ns, name, key, &v, &vl, err, errlen);
	secure_free(v, vl);
	return rc;
}

/* {{ deps.NAME.results.KEY }} from the cached dependency. */
static int dep_result(void *ctx, const char *dep, const char *key, const char **value, char *avail,
		      size_t availlen)
{
	struct klookup *l = ctx;
	json_object *t = kube_informer_get(l->k->inf[INF_TASKS], l->ns, dep);
	avail[0] = '\0';
	if (!t)
		return -ENOENT;
	json_object *res = jget(jget(t, "status"), "results");
	const char *v = jstr(res, key);
	if (v) {
		*value = v;
		return 0;
	}
	json_object_object_foreach(res, rk, rv) {
		(void)rv;
		size_t len = strlen(avail);
		snprintf(avail + len, availlen - len, "%s%s", len ? ", " : "", rk);
	}
	return -ENODATA;
}

/* ---- writes ---------------------------------------------------------- */

/* Record an Event about the task (what `paddock describe` lists). */
static void record_event_as(struct kctl *k, const struct model_task *t, const char *type,
			    const char *reason, const char *message)
{
	char ts[40];
	format_time(now_wall_ms(), ts, sizeof(ts));
	json_object *ev = json_object_new_object();
	json_object *md = json_object_new_object();
	char *gen = xasprintf("%.200s.", t->name);
	jset_str(md, "generateName", gen);
	free(gen);
	jset_str(md, "namespace", t->ns);
	json_object_object_add(ev, "metadata", md);
	json_object *io = json_object_new_object();
	jset_str(io, "apiVersion", "paddock.dev/v1alpha1");
	jset_str(io, "kind", "Task");
	jset_str(io, "name", t->name);
	jset_str(io, "namespace", t->ns);
	jset_str(io, "uid", t->uid);
	json_object_object_add(ev, "involvedObject", io);
	jset_str(ev, "reason", reason);
	jset_str(ev, "message", message);
	jset_str(ev, "type", type);
	jset_str(ev, "firstTimestamp", ts);
	jset_str(ev, "lastTimestamp", ts);
	json_object_object_add(ev, "count", json_object_new_int(1));
	json_object *src = json_object_new_object();
	jset_str(src, "component", "paddock-controller");
	json_object_object_add(ev, "source", src);
	jset_str(ev, "reportingComponent", "paddock-controller");
	jset_str(ev, "reportingInstance", k->identity);
	/* Sent after the pass: a third of the requests a start makes, and
	 * nothing waits for them. */
	json_object_array_add(k->events, ev);
}

static void record_event(struct kctl *k, const struct model_task *t, const char *phase,
			 const char *reason, const char *message)
{
	char *msg = xasprintf("%s: %.900s", phase, message ? message : "");
	record_event_as(k, t, str_eq(phase, "Failed") ? "Warning" : "Normal", reason && *reason ? reason : phase,
			msg);
	free(msg);
}

static void event_done(void *ctx, int status, json_object *resp, const char *err)
{
	(void)ctx;
	(void)resp;
	if (status != 201 && status != 200)
		log_warn("event not recorded", "error", err);
}

/* Sent in parallel, nothing waits for them. */
static void flush_events(struct kctl *k)
{
	size_t n = json_object_array_length(k->events);
	for (size_t i = 0; i < n; i++) {
		json_object *ev = json_object_array_get_idx(k->events, i);
		const char *ns = jstr(jget(ev, "metadata"), "namespace");
		char *path = kube_path(&KUBE_EVENTS, ns, NULL, NULL, NULL);
		size_t len = 0;
		const char *d = json_object_to_json_string_length(ev, JSON_C_TO_STRING_PLAIN, &len);
		(void)kube_submit_str(k->kc, "POST", path, xstrndup(d, len), len, KUBE_SUBMIT_NO_BODY,
				      event_done, NULL);
		free(path);
	}
	if (n)
		json_object_array_del_idx(k->events, 0, n);
}

/* A Job is deleted in the foreground: it stays (with a
 * deletionTimestamp) until its pod is gone, so that the controller, which
 * counts it until then, never frees its slot while the agent still runs. */
static int delete_object(struct kctl *k, const struct kube_resource *r, const char *ns,
			 const char *name)
{
	char *path = kube_path(r, ns, name, NULL, NULL);
	json_object *opts = json_object_new_object();
	jset_str(opts, "kind", "DeleteOptions");
	jset_str(opts, "apiVersion", "v1");
	jset_str(opts, "propagationPolicy", r == &KUBE_JOBS ? "Foreground" : "Background");
	char err[512];
	int st = kube_request(k->kc, "DELETE", path, opts, NULL, NULL, err, sizeof(err));
	json_object_put(opts);
	free(path);
	if (st != 200 && st != 202 && st != 404) {
		log_warn("delete failed", "namespace", ns, "name", name, "error", err);
		return -EIO;
	}
	return 0;
}

/* ---- starting a run: render and create the ConfigMap and the Job ------ */

/* A run being created: its ConfigMap, then its Job. */
struct kstart {
	struct kctl *k;
	char *uid, *key;        /* the task */
	char *run_ns, *name;    /* the Job's (and ConfigMap's) */
	/* Serialized when rendered: a parsed Job is some 40 objects, and a
	 * burst holds one per admitted task until its ConfigMap exists. */
	char *job;              /* to create once the ConfigMap exists */
	size_t job_len;
	char *cm;               /* to create once the NetworkPolicy exists */
	size_t cm_len;
};

/* The JSON text of `o`, malloc'd. */
static char *json_text(json_object *o, size_t *len)
{
	const char *d = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, len);
	return xstrndup(d, *len);
}

/* Done, either way: the task is looked at again (its Job observed, or
 * its failure recorded) and the slot may be free. */
static void start_end(struct kstart *ks, const char *fail)
{
	struct kctl *k = ks->k;
	json_object_object_del(k->starting, ks->uid);
	kidx_starting(k->idx, ks->uid, NULL, false);
	const char *sl = strchr(ks->key, '/');
	char ns[256];
	snprintf(ns, sizeof(ns), "%.*s", (int)(sl - ks->key), ks->key);
	if (fail) {
		json_object_object_add(k->start_err, ks->uid, json_object_new_string(fail));
		log_warn("start failed", "namespace", ns, "task", sl + 1, "error", fail);
	} else {
		log_info("job created", "namespace", ns, "task", sl + 1, "job", ks->name,
			 "job_namespace", ks->run_ns);
	}
	if (k->ctl) {
		ctl_enqueue(k->ctl, ns, sl + 1);
		ctl_admit(k->ctl);
	}
	free(ks->job);
	free(ks->cm);
	free(ks->uid);
	free(ks->key);
	free(ks->run_ns);
	free(ks->name);
	free(ks);
}

/* GET of a Job that existed already: ours to adopt only when it is of
 * this very task. */
static void start_get_done(void *ctx, int status, json_object *resp, const char *err)
{
	struct kstart *ks = ctx;
	const char *uid = jstr(jget(jget(resp, "metadata"), "labels"), KUBE_LABEL_TASK_UID);
	char msg[768];
	if (status == 200 && str_eq(uid, ks->uid)) {
		cache_job(ks->k, resp);
		start_end(ks, NULL);
		return;
	}
	if (status == 200)
		snprintf(msg, sizeof(msg), "Job %s/%s exists and belongs to another task: delete it",
			 ks->run_ns, ks->name);
	else
		snprintf(msg, sizeof(msg), "creating Job %s/%s: %s", ks->run_ns, ks->name, err);
	start_end(ks, msg);
}

static void start_job_done(void *ctx, int status, json_object *resp, const char *err)
{
	struct kstart *ks = ctx;
	if (status == 201 || status == 200) {
		cache_job(ks->k, resp);
		start_end(ks, NULL);
	} else if (status == 409) {
		/* Made by us before a restart, or a name collision. */
		char *path = kube_path(&KUBE_JOBS, ks->run_ns, ks->name, NULL, NULL);
		(void)kube_submit(ks->k->kc, "GET", path, NULL, NULL, start_get_done, ks);
		free(path);
	} else {
		char msg[768];
		snprintf(msg, sizeof(msg), "creating Job %s/%s: %s", ks->run_ns, ks->name, err);
		start_end(ks, msg);
	}
}

static void start_cm_done(void *ctx, int status, json_object *resp, const char *err)
{
	(void)resp;
	struct kstart *ks = ctx;
	if (status != 201 && status != 409) {
		char msg[768];
		snprintf(msg, sizeof(msg), "creating ConfigMap %s/%s: %s", ks->run_ns, ks->name, err);
		start_end(ks, msg);
		return;
	}
	char *path = kube_path(&KUBE_JOBS, ks->run_ns, NULL, NULL, NULL);
	char *job = ks->job;
	ks->job = NULL;
	(void)kube_submit_str(ks->k->kc, "POST", path, job, ks->job_len, 0, start_job_done, ks);
	free(path);
}

/* The run's NetworkPolicy (kubernetes.networkPolicy) exists: then its
 * ConfigMap.  No policy, no run: a pod the operator wants fenced never
 * starts unfenced. */
static void start_np_done(void *ctx, int status, json_object *resp, const char *err)
{
	(void)resp;
	struct kstart *ks = ctx;
	if (status != 201 && status != 409) {
		char msg[768];
		snprintf(msg, sizeof(msg), "creating NetworkPolicy %s/%s: %s", ks->run_ns, ks->name, err);
		start_end(ks, msg);
		return;
	}
	char *path = kube_path(&KUBE_CONFIGMAPS, ks->run_ns, NULL, NULL, NULL);
	char *cm = ks->cm;
	ks->cm = NULL;
	(void)kube_submit_str(ks->k->kc, "POST", path, cm, ks->cm_len, KUBE_SUBMIT_NO_BODY,
			      start_cm_done, ks);
	free(path);
}

/* Render the run and send its creation off (kube_submit): 0 once sent;
 * the outcome comes back through start_end(). */
static int start_job(struct kctl *k, const struct model_task *t, const struct model_agent *a,
		     char **job_name, char **run_ns, char *err, size_t errlen)
{
	struct pipeline_eff e;
	pipeline_effective(t, a, &e);
	struct run_plan plan;
	plan_init(&plan, e.run_ns, k->cfg->limits.context_item_bytes,
		  k->cfg->limits.context_total_bytes);
	char *prompt = NULL, *task_md = NULL, *entry = NULL, *lib = NULL, *known_hosts = NULL;
	json_object *job = NULL, *cm = NULL, *np = NULL;
	struct pipeline_net net = { 0 };
	struct klookup l = { k, t->ns, NULL, 0 };
	int rc = tmpl_render(t->prompt, dep_result, &l, k->cfg->limits.prompt_bytes, &prompt, err,
			     errlen);
	if (rc < 0)
		goto out;
	/* Behind the sidecar (allowlist with kubernetes.proxyImage) the model
	 * credential goes through it: the agent gets a placeholder. */
	if ((rc = pipeline_egress(k->cfg, t, a, &net, err, errlen)) < 0)
		goto out;
	const char *proxy_image = k->cfg->kube_proxy_image;
	bool sidecar = net.mode == EGRESS_ALLOWLIST && proxy_image && *proxy_image;
	if (sidecar)
		plan_offer_route(&plan, EGRESS_ROUTE_ENDPOINT);
	if ((rc = pipeline_plan(k->cfg, k->ps, t, a, prompt, &plan, err, errlen)) < 0)
		goto out;
	task_md = plan_render_task_md(&plan, prompt);
	/* The driver's entrypoint as this controller has it, when installed
	 * (else the image's own /paddock_entrypoint.sh runs). */
	char *dd = pipeline_data_dir();
	char *ep = xasprintf("%s/drivers/%s/paddock_entrypoint.sh", dd, e.driver ? e.driver : "");
	char *lp = xasprintf("%s/drivers/paddock_lib.sh", dd);
	size_t elen = 0, llen = 0;
	if (read_file(ep, SCRIPT_MAX, &entry, &elen) < 0 || read_file(lp, SCRIPT_MAX, &lib, &llen) < 0) {
		log_debug("entrypoint scripts not installed: the image's own runs", "path", ep);
		free(entry);
		free(lib);
		entry = lib = NULL;
	}
	free(dd);
	free(ep);
	free(lp);
	struct run_limits lim, req;
	pipeline_limits(k->cfg, t, a, &lim);
	pipeline_requests(k->cfg, t, a, &req);
	struct kube_render_in in = {
		.t = t,
		.a = a,
		.plan = &plan,
		.task_md = task_md,
		.run_ns = e.run_ns,
		.timeout_s = t->timeout_s > 0 ? t->timeout_s : k->cfg->limits.default_task_timeout,
		.default_image = k->cfg->kube_default_image,
		.git_image = k->cfg->kube_git_image,
		.entrypoint = entry,
		.lib = lib,
		.limits = &lim,
		.requests = &req,
		.trust_on_first_use = k->cfg->git.trust_on_first_use,
		.egress_image = sidecar ? proxy_image : NULL,
		.egress_allow = (const char *const *)net.allow.v,
		.egress_loopback = k->cfg->allow_loopback,
		.egress_private = k->cfg->allow_private,
	};
	/* SSH host keys for the git init containers (git.knownHosts/File). */
	if (plan.n_gits &&
	    (rc = config_git_known_hosts(&k->cfg->git, &known_hosts, err, errlen)) < 0)
		goto out;
	in.known_hosts = known_hosts;
	if ((rc = kube_render(&in, &job, &cm, err, errlen)) < 0)
		goto out;
	if (kube_netpol_wanted(k->cfg->kube_network_policy, net.mode)) {
		struct kube_np_dest *d = NULL;
		size_t nd = 0;
		const char **repos = xcalloc(plan.n_gits + 1, sizeof(*repos));
		for (size_t i = 0; i < plan.n_gits; i++)
			repos[i] = plan.gits[i].repository;
		kube_netpol_dests((const char *const *)net.allow.v, plan.route ? plan.route->upstream : NULL,
				  repos, k->cfg->allow_loopback, k->cfg->allow_private, &d, &nd);
		free(repos);
		rc = kube_render_netpol(&in, d, nd, &np, err, errlen);
		free(d);
		if (rc < 0)
			goto out;
	}
	/* When it was admitted, for status.startTime once it runs: the order
	 * and the slot count are the admission's, on the controller's clock
	 * (in the Job, so that another replica reads it too). */
	json_object *jmd = jget(job, "metadata"), *ann = jget(jmd, "annotations");
	if (!ann) {
		ann = json_object_new_object();
		json_object_object_add(jmd, "annotations", ann);
	}
	char ts[40];
	format_time_ms(now_wall_ms(), ts, sizeof(ts));
	jset_str(ann, KUBE_ANNOTATION_STARTED, ts);
	struct kstart *ks = xcalloc(1, sizeof(*ks));
	ks->k = k;
	ks->uid = xstrdup(t->uid);
	ks->key = xasprintf("%s/%s", t->ns, t->name);
	ks->run_ns = xstrdup(e.run_ns);
	ks->name = xstrdup(jstr(jget(job, "metadata"), "name"));
	ks->job = json_text(job, &ks->job_len);
	kidx_starting(k->idx, t->uid, NULL, true); /* the task is indexed: its agent key */
	json_object_object_add(k->starting, t->uid, NULL);
	/* ConfigMap, then Job (from the ConfigMap's answer), in parallel
	 * with the other tasks' requests. */
	char *path;
	size_t cm_len = 0;
	char *cm_text = json_text(cm, &cm_len);
	if (np) {
		ks->cm = cm_text;
		ks->cm_len = cm_len;
		path = kube_path(&KUBE_NETWORKPOLICIES, e.run_ns, NULL, NULL, NULL);
		(void)kube_submit(k->kc, "POST", path, np, NULL, start_np_done, ks);
	} else {
		path = kube_path(&KUBE_CONFIGMAPS, e.run_ns, NULL, NULL, NULL);
		(void)kube_submit_str(k->kc, "POST", path, cm_text, cm_len, KUBE_SUBMIT_NO_BODY,
				      start_cm_done, ks);
	}
	free(path);
	*job_name = xstrdup(ks->name);
	*run_ns = xstrdup(e.run_ns);
out:
	json_object_put(job);
	json_object_put(cm);
	json_object_put(np);
	plan_free(&plan);
	pipeline_net_free(&net);
	free(prompt);
	free(task_md);
	free(entry);
	free(lib);
	free(known_hosts);
	return rc;
}

/* ---- observing a run: the Job, its pod, the agent's log ------------------ */

struct kobs {
	json_object *result;   /* owned: pipeline_sink_finish's, or NULL */
	int exit_code;
	int64_t start_ms, end_ms;
	const char *end_reason; /* a limit the kubelet enforced, or NULL */
	char end_message[256];
};

/* The finished run's egress from its sidecar's log (proxy/traffic.h), as
 * the local backend records its proxy's: an EgressDenied Event per refused
 * destination (host, port, rule) with a count, the rest in one; an
 * EgressRejected per status; the paddock_egress_* metrics.  Once per run
 * (a status write that conflicts collects the run again). */
struct egress_report_ctx {
	struct kctl *k;
	const struct model_task *t;
};

static void egress_report(void *ctx, const char *reason, const char *message)
{
	struct egress_report_ctx *rc = ctx;
	record_event_as(rc->k, rc->t, "Warning", reason, message);
}

static void collect_egress(struct kctl *k, const struct model_task *t, const char *ns, const char *pod_name)
{
	if (!t->uid || json_object_object_get_ex(k->egress_done, t->uid, NULL))
		return;
	char *lpath = kube_path(&KUBE_PODS, ns, pod_name, "log", "container=" EGRESS_SIDECAR_NAME);
	char *log = NULL, err[512];
	size_t len = 0;
	int st = kube_get_log(k->kc, lpath, EGRESS_LOG_BYTES, &log, &len, NULL, err, sizeof(err));
	free(lpath);
	if (st != 200) {
		/* A run without the sidecar answers 400: nothing
		 * to say.  Else logged (a conflicting status write makes
		 * the run looked at again, and read again). */
		if (st == 400 || st == 404)
			json_object_object_add(k->egress_done, t->uid, NULL);
		else
			log_warn("the egress sidecar's log could not be read", "namespace", t->ns, "task", t->name,
				 "error", err);
		free(log);
		return;
	}
	json_object_object_add(k->egress_done, t->uid, NULL);
	struct egress_log el;
	egress_log_parse(log, len, &el);
	free(log);
	char agent[512];
	model_task_agent_key(t->obj, agent, sizeof(agent));
	struct egress_report_ctx rc = { k, t };
	(void)metrics_egress_log(k->m, agent, &el, "kubectl logs -c " EGRESS_SIDECAR_NAME, egress_report, &rc);
	egress_log_free(&el);
}

/* The finished run: exit code from the pod, outputs and usage from the
 * agent container's log, parsed by the driver's parser. */
static void collect_run(struct kctl *k, const struct model_task *t, const struct model_agent *a,
			const char *ns, const char *job_name, bool complete, struct kobs *o)
{
	o->exit_code = complete ? 0 : 1;
	json_object *pods = NULL;
	struct kube_compact *listed = NULL;
	const struct kpod *pod = NULL;
	char err[512] = "";
	int st = 200;
	/* The pod from the watch's cache; a LIST only when it is not there. */
	json_object *pk = t->uid ? jget(k->pod_of, t->uid) : NULL;
	const char *pkey = pk ? json_object_get_string(pk) : NULL;
	const char *psl = pkey ? strchr(pkey, '/') : NULL;
	const struct kpod *cached = psl ? (const struct kpod *)kube_informer_get_compact(
						  k->inf[INF_PODS], ns, psl + 1) : NULL;
	if (cached && str_eq(cached->job_name, job_name) && cached->agent_terminated)
		pod = cached; /* else the watch lags behind the Job's: ask */
	if (!pod) {
		char *sel = xasprintf("batch.kubernetes.io/job-name=%s", job_name);
		char *q = kube_query_escape(sel);
		char *query = xasprintf("labelSelector=%s", q);
		char *path = kube_path(&KUBE_PODS, ns, NULL, NULL, query);
		free(sel);
		free(q);
		free(query);
		st = kube_request(k->kc, "GET", path, NULL, NULL, &pods, err, sizeof(err));
		free(path);
		json_object *items = jget(pods, "items");
		if (items && json_object_is_type(items, json_type_array) && json_object_array_length(items))
			pod = (const struct kpod *)(listed = kpod_make(json_object_array_get_idx(items, 0)));
		json_object_put(pods);
	}
	const char *pod_name = pod ? pod->name : NULL;
	if (pod && pod->has_exit)
		o->exit_code = pod->exit_code;
	if (pod && pod->agent_terminated) {
		o->start_ms = pod->started_ms;
		o->end_ms = pod->finished_ms;
		if (pod->oom)
			o->end_reason = "OOMKilled";
	}
	/* The kubelet evicts a pod over its ephemeral-storage limit. */
	if (pod && !o->end_reason && str_eq(pod->reason, "Evicted") && pod->message &&
	    strstr(pod->message, "ephemeral"))
		o->end_reason = "DiskQuotaExceeded";
	if (o->end_reason) {
		struct run_limits lim;
		pipeline_limits(k->cfg, t, a, &lim);
		char qv[32] = "";
		bool mem = str_eq(o->end_reason, "OOMKilled");
		int64_t v = mem ? lim.memory_bytes : lim.storage_bytes;
		if (v > 0)
			quantity_format(v, QUANTITY_BYTES, qv, sizeof(qv));
		snprintf(o->end_message, sizeof(o->end_message), "%s limit %s exceeded: %s",
			 mem ? "memory" : "ephemeral-storage", qv[0] ? qv : "(none set)",
			 mem ? "the kernel killed the agent (OOMKilled)" : "the kubelet evicted the pod");
	}
	struct pipeline_eff e;
	pipeline_effective(t, a, &e);
	struct pipeline_sink sink;
	pipeline_sink_init(&sink, k->cfg, k->ps, e.driver);
	char *log = NULL;
	size_t len = 0;
	const char *warn = NULL;
	char werr[640] = "";
	if (st == 200 && pod_name) {
		/* Its head and its tail: the outputs block is at its end. */
		char *lpath = kube_path(&KUBE_PODS, ns, pod_name, "log", "container=agent");
		st = kube_get_log(k->kc, lpath, k->cfg->limits.log_bytes_per_run, &log, &len, NULL,
				  err, sizeof(err));
		free(lpath);
	}
	if (pod_name && pod->sidecar)
		collect_egress(k, t, ns, pod_name);
	if (st == 200 && log) {
		pipeline_sink_text(&sink, log, len, LOG_LINE_MAX);
	} else {
		snprintf(werr, sizeof(werr), "the agent's log could not be read: %s",
			 pod_name ? err : "no pod found for the Job");
		warn = werr;
	}
	o->result = pipeline_sink_finish(&sink, o->exit_code);
	pipeline_sink_free(&sink);
	if (warn && !jget(o->result, "outputsWarning"))
		jset_str(o->result, "outputsWarning", warn);
	free(log);
	free(listed); /* packed_new's: one allocation */
}

/* ---- validation: what `paddock apply` checks before storing ------------- */

/*
 * Tasks created with kubectl reach the controller without `paddock apply`'s
 * checks (the CRD schema holds only the declarative part).  The task as a
 * validated view - schema and defaults, as apply would - into *out; with
 * `plugins`, also apply's checks through the Agent and the plugins.  A
 * problem goes into `invalid` (the task then fails InvalidSpec); only a
 * document that cannot be read at all returns an error.
 */
static int task_view(struct kctl *k, json_object *task, bool plugins, struct model_task **out,
		     char *invalid, size_t invlen)
{
	struct model_limits lim = { .prompt_bytes = k->cfg->limits.prompt_bytes };
	enum model_kind kind;
	json_object *doc = NULL;
	invalid[0] = '\0';
	if (model_from_server(task, &lim, &kind, &doc, invalid, invlen) < 0)
		doc = json_object_get(task); /* read as it is, to fail it with the message */
	char rerr[512];
	int rc = model_task_from_json(doc, out, rerr, sizeof(rerr));
	json_object_put(doc); /* the view holds its own reference */
	if (rc < 0) {
		snprintf(invalid, invlen, "%s", rerr);
		return rc;
	}
	if (invalid[0] || !plugins)
		return 0;
	const struct model_task *t = *out;
	struct model_agent *a = NULL;
	struct klookup l = { k, t->ns, NULL, 0 };
	int arc = t->agent_name ? lk_agent(&l, t->agent_ns, t->agent_name, &a) : 0;
	/* a missing or forbidding Agent is the resolution's to report
	 * (AgentNotFound, Forbidden) */
	if (arc == 0 && (!a || model_agent_allows(a, t->ns)) &&
	    pipeline_check_task(k->cfg, k->ps, t, arc, a, invalid, invlen) == 0)
		invalid[0] = '\0';
	model_agent_free(a);
	return 0;
}

/* ---- the controller's operations on the API server ----------------------- */

static void sweep_orphans(struct kctl *k);



static json_object *op_get(void *b, const char *ns, const char *name)
{
	struct kctl *k = b;
	/* A status write in flight: the task is looked at again with its
	 * answer (write_done), not decided on a version about to change. */
	char key[512];
	snprintf(key, sizeof(key), "%s/%s", ns ? ns : "", name ? name : "");
	if (json_object_object_get_ex(k->writing, key, NULL))
		return NULL;
	json_object *t = kube_informer_get(k->inf[INF_TASKS], ns, name);
	return t ? json_object_get(t) : NULL;
}

struct kfilter {
	struct ctl *c;
	ctl_task_cb cb;
	enum rec_phase phase;
};

static int list_cb(void *ctx, json_object *task)
{
	struct kfilter *f = ctx;
	if (task_phase_of(task) == f->phase)
		f->cb(f->c, task);
	return 0;
}

static int op_list(void *b, enum rec_phase phase, ctl_task_cb cb, struct ctl *c)
{
	struct kctl *k = b;
	if (phase == REC_WAITING) {
		/* Every finished task asks: from the index, not a scan. */
		struct strv keys = { 0 };
		kidx_waiting(k->idx, &keys);
		for (size_t i = 0; i < keys.n; i++) {
			char *sl = strchr(keys.v[i], '/');
			if (!sl)
				continue;
			*sl = '\0';
			json_object *t = kube_informer_get(k->inf[INF_TASKS], keys.v[i], sl + 1);
			if (t && task_phase_of(t) == REC_WAITING)
				cb(c, t);
		}
		strv_free(&keys);
		return 0;
	}
	struct kfilter f = { .c = c, .cb = cb, .phase = phase };
	kube_informer_foreach(k->inf[INF_TASKS], list_cb, &f);
	return 0;
}

static int op_view(void *b, json_object *task, enum rec_phase ph, struct model_task **t,
		   char *invalid, size_t invlen)
{
	struct kctl *k = b;
	/* The spec's checks and defaults matter until the run starts: all of
	 * apply's checks when the task is first seen (Pending), the schema's
	 * defaults up to admission; a started task is read as it is. */
	if (ph == REC_PENDING || ph == REC_WAITING || ph == REC_QUEUED)
		return task_view(k, task, ph == REC_PENDING, t, invalid, invlen);
	invalid[0] = '\0';
	return model_task_from_json(task, t, invalid, invlen);
}

static void op_lookup(void *b, const char *ns, bool with_secret, struct pipeline_lookup *lk)
{
	struct klookup *l = xcalloc(1, sizeof(*l));
	l->k = b;
	l->ns = ns;
	/* The Secret is fetched only for a task about to start: one GET per
	 * admission, not one per task per reconcile. */
	*lk = (struct pipeline_lookup){ l, lk_task_phase, lk_task_deps, lk_agent,
					with_secret ? lk_secret : NULL };
}

static void op_lookup_done(void *b, struct pipeline_lookup *lk)
{
	(void)b;
	struct klookup *l = lk->ctx;
	if (l)
		free(l->deps);
	free(l);
	lk->ctx = NULL;
}

static long op_running(void *b, const char *akey)
{
	struct kctl *k = b;
	return kidx_running(k->idx, akey);
}

static long op_agent_max(void *b, const char *akey)
{
	struct kctl *k = b;
	const char *slash = akey ? strchr(akey, '/') : NULL;
	if (!slash)
		return 0;
	char ns[256];
	snprintf(ns, sizeof(ns), "%.*s", (int)(slash - akey), akey);
	json_object *a = kube_informer_get(k->inf[INF_AGENTS], ns, slash + 1);
	json_object *m = jget(jget(a, "spec"), "maxConcurrentTasks");
	return m ? (long)json_object_get_int64(m) : 0;
}

static int op_queued_agents(void *b, struct strv *keys)
{
	struct kctl *k = b;
	kidx_queued_agents(k->idx, keys);
	return 0;
}

static json_object *op_queue_head(void *b, const char *akey)
{
	struct kctl *k = b;
	const char *key = kidx_queue_head(k->idx, akey);
	const char *sl = key ? strchr(key, '/') : NULL;
	if (!sl)
		return NULL;
	char ns[256];
	snprintf(ns, sizeof(ns), "%.*s", (int)(sl - key), key);
	json_object *t = kube_informer_get(k->inf[INF_TASKS], ns, sl + 1);
	return t ? json_object_get(t) : NULL;
}

/* The Job of a task: status.jobName/runNamespace once recorded, else
 * the name it gets (kube_job_name) in its Agent's namespace. */
static const struct kjob *task_job(struct kctl *k, json_object *task, const struct model_task *t,
				   const struct model_agent *a, char *jn, size_t jnl, char *jns, size_t jnsl)
{
	json_object *st = jget(task, "status");
	if (jstr(st, "jobName") && jstr(st, "runNamespace")) {
		snprintf(jn, jnl, "%s", jstr(st, "jobName"));
		snprintf(jns, jnsl, "%s", jstr(st, "runNamespace"));
	} else {
		struct pipeline_eff e;
		pipeline_effective(t, a, &e);
		char *name = kube_job_name(t->ns, t->name, t->uid);
		snprintf(jn, jnl, "%s", name);
		snprintf(jns, jnsl, "%s", e.run_ns ? e.run_ns : t->ns);
		free(name);
	}
	const struct kjob *job = kjob_get(k, jns, jn);
	/* Only a Job of this very task (the uid label) is its run. */
	if (job && !str_eq(job->task_uid, t->uid))
		job = NULL;
	return job;
}


/* Where the run of a not yet Running task is: the agent's pod running
 * (ACTIVE), or why it waits (STARTING, with the pod's own reason). */
static void observe_pod(struct kctl *k, const struct kjob *job, const struct model_task *t,
			struct rec_input *in)
{
	json_object *pk = jget(k->pod_of, t->uid);
	const char *key = pk ? json_object_get_string(pk) : NULL;
	const char *sl = key ? strchr(key, '/') : NULL;
	const struct kpod *pod = NULL;
	if (sl) {
		char ns[256];
		snprintf(ns, sizeof(ns), "%.*s", (int)(sl - key), key);
		pod = (const struct kpod *)kube_informer_get_compact(k->inf[INF_PODS], ns, sl + 1);
	}
	const char *phase = pod ? pod->phase : NULL;
	in->run_awaited = true;
	in->run_wait_since_ms = job->created_ms;
	/* startTime is when the controller saw it run (write_phase): the
	 * pod's own startedAt has whole seconds only, and the slot it is
	 * compared with is freed on the controller's clock too. */
	if (str_eq(phase, "Running") || str_eq(phase, "Succeeded") || str_eq(phase, "Failed")) {
		in->run = REC_RUN_ACTIVE;
		return;
	}
	in->run = REC_RUN_STARTING;
	in->run_wait_normal = true;
	if (!pod) {
		in->run_wait_reason = "JobCreated";
		in->run_wait_message = "the Job exists: waiting for its pod";
		return;
	}
	if (pod->unschedulable) {
		in->run_wait_reason = "Unschedulable";
		in->run_wait_message = pod->unsched_msg ?: "the pod cannot be scheduled yet";
		in->run_wait_normal = false;
		return;
	}
	const char *r = pod->wait_reason;
	in->run_wait_normal = pod->wait_normal;
	in->run_wait_reason = r ?: pod->scheduled ? "ContainerCreating" : "Scheduling";
	in->run_wait_message = pod->wait_msg ?: r ? "the pod's containers are being created" :
						    "the pod waits to be scheduled";
}

static void op_observe(void *b, json_object *task, const struct model_task *t,
		       struct model_agent **a, struct rec_input *in, struct ctl_run *run)
{
	struct kctl *k = b;
	char jn[256], jns[256];
	if (t->uid && json_object_object_get_ex(k->starting, t->uid, NULL)) {
		in->run = REC_RUN_STARTING; /* start_end() brings it back */
		in->run_awaited = in->run_wait_normal = true;
		in->run_wait_since_ms = in->now_ms;
		in->run_wait_reason = "JobCreating";
		return;
	}
	const struct kjob *job = task_job(k, task, t, *a, jn, sizeof(jn), jns, sizeof(jns));
	json_object *failed = t->uid ? jget(k->start_err, t->uid) : NULL;
	if (!job && failed && task_phase_of(task) != REC_RUNNING) {
		in->invalid = json_object_get_string(failed);
		in->invalid_reason = "StartFailed";
		return;
	}
	/* A run killed for its budget ended for that, however the Job went. */
	if (t->uid && json_object_object_get_ex(k->over, t->uid, NULL))
		snprintf(run->end_reason, sizeof(run->end_reason), "BudgetExceeded");
	if (!job) {
		/* Before Running: no run yet.  Running: the Job is gone. */
		in->run = task_phase_of(task) == REC_RUNNING ? REC_RUN_LOST : REC_RUN_NONE;
		return;
	}
	bool before = task_phase_of(task) != REC_RUNNING;
	if (before) {
		/* Recorded with the phase the reconciler writes next. */
		run->patch = json_object_new_object();
		jset_str(run->patch, "jobName", jn);
		jset_str(run->patch, "runNamespace", jns);
		jset_str(run->patch, "runId", t->uid ? t->uid : "");
		if (job->started_at)
			jset_str(run->patch, "startTime", job->started_at);
	}
	const char *why = job->failed ? job->failed_reason : NULL;
	bool complete = job->complete;
	if (!complete && !job->failed) {
		if (before)
			observe_pod(k, job, t, in);
		else
			in->run = REC_RUN_ACTIVE;
		return;
	}
	if (before) {
		in->run_awaited = true;
		in->run = REC_RUN_EXITED; /* adopted first, collected next */
		return;
	}
	if (t->agent_name && !*a) {
		struct klookup l = { k, t->ns, NULL, 0 };
		(void)lk_agent(&l, t->agent_ns, t->agent_name, a);
		free(l.deps);
	}
	struct kobs o = { 0 };
	collect_run(k, t, *a, jns, jn, complete, &o);
	if (!complete && str_eq(why, "DeadlineExceeded"))
		snprintf(run->end_reason, sizeof(run->end_reason), "Timeout");
	if (o.end_reason && !run->end_reason[0]) {
		snprintf(run->end_reason, sizeof(run->end_reason), "%s", o.end_reason);
		snprintf(run->end_message, sizeof(run->end_message), "%s", o.end_message);
	}
	in->run = REC_RUN_EXITED;
	in->exit_code = o.exit_code;
	run->exit_code = o.exit_code;
	run->start_ms = o.start_ms;
	run->end_ms = o.end_ms;
	run->result = o.result;
	json_object *oc = jget(o.result, "outcome");
	in->outcome = oc ? json_object_get_int(oc) : 0;
	in->run_error = jstr(o.result, "error");
}

static int op_start(void *b, json_object *task, const struct model_task *t,
		    const struct model_agent *a, json_object *patch, char *err, size_t errlen)
{
	(void)task;
	struct kctl *k = b;
	char *job_name = NULL, *run_ns = NULL;
	int rc = start_job(k, t, a, &job_name, &run_ns, err, errlen);
	if (rc == 0) {
		jset_str(patch, "jobName", job_name);
		jset_str(patch, "runNamespace", run_ns);
	}
	free(job_name);
	free(run_ns);
	return rc;
}

/* The Job of a task as a document (task_job, with its Agent looked up):
 * *job borrowed from the cache or NULL.  False when the task cannot be
 * read at all. */
static bool job_of(struct kctl *k, json_object *task, const struct kjob **job, char *jn, size_t jnl,
		   char *jns, size_t jnsl)
{
	struct model_task *t = NULL;
	char err[256];
	if (model_task_from_json(task, &t, err, sizeof(err)) < 0)
		return false;
	struct model_agent *a = NULL;
	if (t->agent_name) {
		struct klookup l = { k, t->ns, NULL, 0 };
		(void)lk_agent(&l, t->agent_ns, t->agent_name, &a);
		free(l.deps);
	}
	*job = task_job(k, task, t, a, jn, jnl, jns, jnsl);
	model_agent_free(a);
	model_task_free(t);
	return true;
}

/* The task's Job and ConfigMap, by status or by name. */
static int delete_run(struct kctl *k, json_object *task, bool cm)
{
	char jn[256], jns[256];
	const struct kjob *job = NULL;
	if (!job_of(k, task, &job, jn, sizeof(jn), jns, sizeof(jns)))
		return 0;
	int rc = 0;
	if (job || jstr(jget(task, "status"), "jobName"))
		rc = delete_object(k, &KUBE_JOBS, jns, jn);
	if (rc == 0 && cm)
		rc = delete_object(k, &KUBE_CONFIGMAPS, jns, jn);
	/* A run's NetworkPolicy in the Task's namespace is the garbage
	 * collector's (owned by the Task); in another one it has no owner:
	 * deleted here, whatever kubernetes.networkPolicy says now. */
	if (rc == 0 && cm && !str_eq(jns, jstr(jget(task, "metadata"), "namespace")))
		rc = delete_object(k, &KUBE_NETWORKPOLICIES, jns, jn);
	return rc;
}

#define JOB_GONE_WAIT_MS (120 * 1000)

/* Delete the run's Job (foreground) and report it ending until it is
 * gone from the cache: its slot is not free before.  A Job that stays
 * longer than JOB_GONE_WAIT_MS after its deletion (a stuck garbage
 * collector) is given up on, with a warning. */
static int op_kill(void *b, json_object *task, const char *reason)
{
	struct kctl *k = b;
	char jn[256], jns[256];
	const struct kjob *job = NULL;
	const char *uid = jstr(jget(task, "metadata"), "uid");
	if (uid && str_eq(reason, "BudgetExceeded"))
		json_object_object_add(k->over, uid, NULL);
	if (!job_of(k, task, &job, jn, sizeof(jn), jns, sizeof(jns)))
		return 0;
	int rc = 0;
	bool ended = job && (job->complete || job->failed);
	if (ended) {
		(void)delete_object(k, &KUBE_JOBS, jns, jn); /* its pod has ended */
	} else if (job) {
		int64_t since = job->deleted_ms;
		if (!job->deleting) {
			(void)delete_object(k, &KUBE_JOBS, jns, jn);
			rc = 1;
		} else if (since > 0 && now_wall_ms() - since > JOB_GONE_WAIT_MS) {
			log_warn("a deleted Job is still there: its slot is freed anyway", "namespace",
				 jns, "job", jn);
		} else {
			rc = 1;
		}
	} else if (jstr(jget(task, "status"), "jobName")) {
		/* not in the cache (yet, or any more): make sure */
		(void)delete_object(k, &KUBE_JOBS, jns, jn);
	}
	return rc;
}

static int op_purge(void *b, json_object *task, char *err, size_t errlen)
{
	if (delete_run(b, task, true) < 0)
		return errf(err, errlen, -EIO, "deleting the task's Job and ConfigMap failed");
	return 0;
}

static int op_remove(void *b, json_object *task, char *err, size_t errlen)
{
	struct kctl *k = b;
	json_object *md = jget(task, "metadata");
	if (delete_object(k, &KUBE_TASKS, jstr(md, "namespace"), jstr(md, "name")) < 0)
		return errf(err, errlen, -EIO, "deleting the task failed");
	return 0;
}

static bool leading(struct kctl *k)
{
	int64_t mono = now_mono_ms();
	if (mono >= k->lease_next_ms) {
		(void)kube_lease_tick(k->lease, mono);
		k->lease_next_ms = now_mono_ms() + KUBE_LEASE_RENEW_MS;
		if (k->m)
			metrics_set_leader(k->m, kube_lease_leader(k->lease));
	}
	return kube_lease_leader_at(k->lease, now_mono_ms());
}

/* A status write in flight. */
struct kwrite {
	struct kctl *k;
	char *ns, *name, *uid;
	char *reason, *message;
};

static void write_end(struct kwrite *w)
{
	struct kctl *k = w->k;
	char *key = xasprintf("%s/%s", w->ns, w->name);
	json_object_object_del(k->writing, key);
	free(key);
	if (k->ctl) {
		ctl_enqueue(k->ctl, w->ns, w->name);
		ctl_admit(k->ctl);
	}
	free(w->ns);
	free(w->name);
	free(w->uid);
	free(w->reason);
	free(w->message);
	free(w);
}

static void write_fresh_done(void *ctx, int status, json_object *resp, const char *err)
{
	(void)err;
	struct kwrite *w = ctx;
	if (status == 200 && resp)
		cache_task(w->k, resp);
	write_end(w);
}

static void write_done(void *ctx, int status, json_object *resp, const char *err)
{
	struct kwrite *w = ctx;
	struct kctl *k = w->k;
	if (status == 200 && resp) {
		cache_task(k, resp);
		struct model_task view = { .ns = w->ns, .name = w->name, .uid = w->uid };
		record_event(k, &view, jstr(jget(resp, "status"), "phase"), w->reason, w->message);
	} else if (status == 409) {
		/* Decided on a version that is gone: read it, decide again. */
		log_debug("status write conflict: reconciling again", "namespace", w->ns, "task", w->name);
		char *path = kube_path(&KUBE_TASKS, w->ns, w->name, NULL, NULL);
		(void)kube_submit(k->kc, "GET", path, NULL, NULL, write_fresh_done, w);
		free(path);
		return;
	} else if (status != 404) {
		log_error("status write failed", "namespace", w->ns, "task", w->name, "error", err);
	}
	write_end(w);
}

/* PUT status with the resourceVersion the decision was based on, in
 * parallel with other tasks' writes: 0 once sent.  Until the answer the
 * task is not reconciled (op_get); then it is, from the answer (a 409
 * reads it again first). */
static int op_write_status(void *b, json_object *task, json_object *st, const char *reason,
			   const char *message)
{
	struct kctl *k = b;
	json_object *md = jget(task, "metadata");
	const char *ns = jstr(md, "namespace"), *name = jstr(md, "name");
	if (!leading(k)) {
		json_object_put(st);
		return -EPERM; /* another replica acts now */
	}
	json_object *copy = NULL;
	json_object_deep_copy(task, &copy, NULL);
	json_object_object_add(copy, "status", st);
	struct kwrite *w = xcalloc(1, sizeof(*w));
	w->k = k;
	w->ns = xstrdup(ns);
	w->name = xstrdup(name);
	w->uid = xstrdup(jstr(md, "uid"));
	w->reason = xstrdup(reason);
	w->message = xstrdup(message);
	char *key = xasprintf("%s/%s", ns ? ns : "", name ? name : "");
	json_object_object_add(k->writing, key, NULL);
	free(key);
	char *path = kube_path(&KUBE_TASKS, ns, name, "status", NULL);
	(void)kube_submit(k->kc, "PUT", path, copy, NULL, write_done, w);
	free(path);
	json_object_put(copy);
	return 0;
}

static bool op_wait(void *b, struct ctl *c, int timeout_ms)
{
	struct kctl *k = b;
	flush_events(k);
	k->ctl = c;
	kube_informers_poll(k->inf, N_INF, timeout_ms < 100 ? timeout_ms : 100);
	bool lead = leading(k);
	bool synced = kube_informer_synced(k->inf[INF_TASKS]) &&
		      kube_informer_synced(k->inf[INF_AGENTS]) &&
		      kube_informer_synced(k->inf[INF_JOBS]) &&
		      kube_informer_synced(k->inf[INF_PODS]) &&
		      kube_informer_synced(k->inf[INF_SPAWNERS]) &&
		      kube_informer_synced(k->inf[INF_BUDGETS]);
	if (lead && !k->was_leading && synced) {
		ctl_enqueue_all(c); /* taking over: look at everything */
		k->was_leading = true;
	} else if (!lead) {
		k->was_leading = false;
	}
	if (k->m)
		metrics_set_api(k->m, kube_client_errors(k->kc), kube_client_retries(k->kc));
	if (lead && synced && k->was_leading) { /* the leader alone */
		kube_schedule_tick(k->kc, k->inf[INF_SPAWNERS], k->inf[INF_TASKS], k->spawner_gen,
				   c);
		kube_usage_sync(k->usage, k->inf[INF_TASKS], k->inf[INF_AGENTS], k->inf[INF_BUDGETS],
				k->idx, k->pod_of, c);
	}
	kube_github_sync(k->github, lead && synced && k->was_leading, k->inf[INF_SPAWNERS],
			 k->spawner_gen);
	return lead && synced && k->was_leading;
}

static bool op_budget(void *b, json_object *task, bool running, char *msg, size_t n)
{
	struct kctl *k = b;
	return kube_budget(k->inf[INF_BUDGETS], k->inf[INF_TASKS], k->usage, k->idx, task, running,
			   msg, n);
}

_Static_assert(KIDX_PHASES >= METRICS_N_PHASES, "the index counts every phase the metrics show");

static void op_housekeeping(void *b, struct ctl *c)
{
	struct kctl *k = b;
	int64_t mono = now_mono_ms();
	if (k->was_leading && mono - k->last_sweep_ms >= SWEEP_INTERVAL_MS) {
		k->last_sweep_ms = mono;
		sweep_orphans(k);
	}
#ifdef __GLIBC__
	/* After a burst the heap holds the freed request bodies, answers and
	 * rendered runs; once nothing is in flight its free pages go back. */
	bool idle = !kube_submitted(k->kc) && !ctl_queue_len(c);
	if (!idle) {
		k->trim_due = true;
	} else if (k->trim_due && mono - k->last_trim_ms >= TRIM_INTERVAL_MS) {
		k->last_trim_ms = mono; /* once after work, not every interval while idle */
		k->trim_due = false;
		(void)malloc_trim(0);
	}
#endif
	if (!k->m)
		return;
	/* Kept per change by the index: no walk over every Task. */
	long phases[KIDX_PHASES];
	kidx_phase_counts(k->idx, phases);
	metrics_set_phase_counts(k->m, phases);
	json_object *depths = kidx_queue_depths(k->idx);
	size_t n = (size_t)json_object_object_length(depths), i = 0;
	const char **keys = xcalloc(n + 1, sizeof(char *));
	long *vals = xcalloc(n + 1, sizeof(long));
	json_object_object_foreach(depths, dk, dv) {
		keys[i] = dk;
		vals[i++] = (long)json_object_get_int64(dv);
	}
	metrics_set_queue_depths(k->m, keys, vals, n);
	kube_budget_metrics(k->inf[INF_BUDGETS], k->inf[INF_TASKS], k->usage, k->idx, k->m);
	free(keys);
	free(vals);
	if (!k->was_leading)
		metrics_observe_tick(k->m, 0, true, NULL); /* a standby is healthy too */
}

static const struct ctl_backend kube_ops = {
	.name = "kubernetes",
	.get = op_get,
	.list = op_list,
	.view = op_view,
	.lookup = op_lookup,
	.lookup_done = op_lookup_done,
	.running = op_running,
	.agent_max = op_agent_max,
	.queued_agents = op_queued_agents,
	.queue_head = op_queue_head,
	.observe = op_observe,
	.start = op_start,
	.kill = op_kill,
	.purge = op_purge,
	.remove = op_remove,
	.write_status = op_write_status,
	.wait = op_wait,
	.budget = op_budget,
	.housekeeping = op_housekeeping,
	.start_first = true,
	.await_running = true,
};

/* ---- orphans ------------------------------------------------------------- */

static int add_uid(void *ctx, json_object *task)
{
	const char *uid = jstr(jget(task, "metadata"), "uid");
	if (uid)
		json_object_object_add(ctx, uid, NULL);
	return 0;
}

struct orphans {
	json_object *uids;     /* every task's uid */
	struct strv found;     /* ns, name, task ns, task: of each Job whose task is gone */
};

static int find_orphan(void *ctx, const struct kube_compact *c)
{
	struct orphans *o = ctx;
	const struct kjob *j = (const struct kjob *)c;
	if (j->task_uid && !str_eq(j->task_ns, j->ns) &&
	    !json_object_object_get_ex(o->uids, j->task_uid, NULL)) {
		strv_push(&o->found, j->ns ? j->ns : "");
		strv_push(&o->found, j->name ? j->name : "");
		strv_push(&o->found, j->task_ns ? j->task_ns : "");
		strv_push(&o->found, j->task ? j->task : "");
	}
	return 0;
}

/* Cross-namespace runs have no ownerReference (those cannot cross
 * namespaces): their Jobs and ConfigMaps go when their Task has gone. */
static void sweep_orphans(struct kctl *k)
{
	struct orphans o = { json_object_new_object(), { 0 } };
	kube_informer_foreach(k->inf[INF_TASKS], add_uid, o.uids);
	kube_informer_foreach_compact(k->inf[INF_JOBS], find_orphan, &o);
	for (size_t i = 0; i + 3 < o.found.n; i += 4) {
		const char *ns = o.found.v[i], *name = o.found.v[i + 1];
		log_info("deleting the run of a deleted task", "namespace", o.found.v[i + 2], "task",
			 o.found.v[i + 3], "job", name, "job_namespace", ns);
		(void)delete_object(k, &KUBE_JOBS, ns, name);
		(void)delete_object(k, &KUBE_CONFIGMAPS, ns, name);
		(void)delete_object(k, &KUBE_NETWORKPOLICIES, ns, name); /* none: a 404 */
	}
	strv_free(&o.found);
	json_object_put(o.uids);
}

/* ---- the loop ------------------------------------------------------------ */

static void on_event(void *ctx, struct kube_informer *inf, enum kube_event_type type,
		     json_object *obj)
{
	struct kctl *k = ctx;
	if (inf == k->inf[INF_TASKS]) {
		kidx_task(k->idx, obj, type == KUBE_DELETED);
		const char *uid = jstr(jget(obj, "metadata"), "uid");
		if (uid && (type == KUBE_DELETED || rec_phase_terminal(task_phase_of(obj)))) {
			json_object_object_del(k->start_err, uid);
			json_object_object_del(k->over, uid);
			json_object_object_del(k->egress_done, uid);
		}
		if (jget(jget(jget(obj, "metadata"), "labels"), MODEL_LABEL_SPAWNER))
			kube_github_task_changed(k->github);
	}
	else if (inf == k->inf[INF_JOBS])
		kidx_job(k->idx, obj, type == KUBE_DELETED);
	if (inf == k->inf[INF_PODS]) {
		json_object *md = jget(obj, "metadata"), *labels = jget(md, "labels");
		const char *uid = jstr(labels, KUBE_LABEL_TASK_UID);
		if (!uid)
			return;
		if (type == KUBE_DELETED) {
			json_object *cur = jget(k->pod_of, uid);
			char *key = xasprintf("%s/%s", jstr(md, "namespace"), jstr(md, "name"));
			if (cur && str_eq(json_object_get_string(cur), key))
				json_object_object_del(k->pod_of, uid);
			free(key);
		} else {
			char *key = xasprintf("%s/%s", jstr(md, "namespace"), jstr(md, "name"));
			json_object_object_add(k->pod_of, uid, json_object_new_string(key));
			free(key);
		}
		/* Only a task not yet Running waits on its pod. */
		json_object *task = k->ctl ? kube_informer_get(k->inf[INF_TASKS],
				jstr(labels, KUBE_LABEL_TASK_NS), jstr(labels, KUBE_LABEL_TASK)) : NULL;
		if (task && task_phase_of(task) != REC_RUNNING && !rec_phase_terminal(task_phase_of(task)))
			ctl_enqueue_task(k->ctl, task);
		return;
	}
	if (!k->ctl)
		return;
	if (inf == k->inf[INF_TASKS]) {
		if (type == KUBE_DELETED && jstr(jget(obj, "status"), "jobName") &&
		    jstr(jget(obj, "status"), "runNamespace"))
			/* The garbage collector would too, in the background:
			 * in the foreground the Job counts until its pod is gone. */
			(void)delete_object(k, &KUBE_JOBS, jstr(jget(obj, "status"), "runNamespace"),
					    jstr(jget(obj, "status"), "jobName"));
		ctl_enqueue_task(k->ctl, obj);
		ctl_admit(k->ctl);
		return;
	}
	if (inf == k->inf[INF_JOBS]) {
		json_object *labels = jget(jget(obj, "metadata"), "labels");
		ctl_enqueue(k->ctl, jstr(labels, KUBE_LABEL_TASK_NS), jstr(labels, KUBE_LABEL_TASK));
		if (type == KUBE_DELETED || jget(jget(obj, "status"), "conditions"))
			ctl_admit(k->ctl); /* a slot may be free */
		return;
	}
	if (inf == k->inf[INF_SPAWNERS]) {
		k->spawner_gen++; /* schedules: looked at on the loop (kube_schedule_tick) */
		return;
	}
	/* An Agent changed: who waits for it may resolve differently; a
	 * Budget changed (raised, deleted): who waits for it may start. */
	if (inf == k->inf[INF_AGENTS] && type == KUBE_DELETED) {
		json_object *md = jget(obj, "metadata");
		char key[512];
		snprintf(key, sizeof(key), "%s/%s", jstr(md, "namespace") ? jstr(md, "namespace") : "",
			 jstr(md, "name") ? jstr(md, "name") : "");
		json_object_object_del(k->agent_docs, key); /* its checked document */
	}
	ctl_enqueue_all(k->ctl);
}

static void keep_only(json_object *o, const char *const *keep);

/* Of a Job the controller reads its name, labels, annotations, creation
 * time and its conditions' type, status and reason: the rest (the pod
 * template, owner references, counts, times) is dropped.  Each JSON
 * object kept costs some 700 bytes (json-c's table of 16 entries). */
static void trim_job(json_object *job)
{
	static const char *const top[] = { "apiVersion", "kind", "metadata", "status", NULL };
	static const char *const md[] = { "name", "namespace", "uid", "resourceVersion", "labels",
					   "annotations", "creationTimestamp", "deletionTimestamp",
					   NULL };
	static const char *const st[] = { "conditions", NULL };
	static const char *const cond[] = { "type", "status", "reason", NULL };
	keep_only(job, top);
	keep_only(jget(job, "metadata"), md);
	json_object *s = jget(job, "status");
	keep_only(s, st);
	json_object *conds = jget(s, "conditions");
	for (size_t i = 0; conds && json_object_is_type(conds, json_type_array) &&
			   i < json_object_array_length(conds); i++)
		keep_only(json_object_array_get_idx(conds, i), cond);
	/* A Job without conditions keeps no empty status object. */
	if (s && !conds)
		json_object_object_del(job, "status");
}

/* Keep the keys of `o` in `keep` only. */
static void keep_only(json_object *o, const char *const *keep)
{
	if (!o || !json_object_is_type(o, json_type_object))
		return;
	struct strv drop = { 0 };
	json_object_object_foreach(o, key, val) {
		(void)val;
		bool k = false;
		for (const char *const *p = keep; *p && !k; p++)
			k = str_eq(*p, key);
		if (!k)
			strv_push(&drop, key);
	}
	for (size_t i = 0; i < drop.n; i++)
		json_object_object_del(o, drop.v[i]);
	strv_free(&drop);
}

/* Of a pod the controller reads its name, its task's labels, its phase,
 * its scheduling condition and its containers' states: one pod per live
 * run is cached, so the rest (spec, images, ids, times) is dropped. */
static void trim_pod(json_object *pod)
{
	static const char *const top[] = { "apiVersion", "kind", "metadata", "status", NULL };
	static const char *const md[] = { "name", "namespace", "uid", "resourceVersion", "labels",
					   "deletionTimestamp", NULL };
	static const char *const labels[] = { KUBE_LABEL_TASK, KUBE_LABEL_TASK_NS, KUBE_LABEL_TASK_UID,
					      "batch.kubernetes.io/job-name", NULL };
	static const char *const st[] = { "phase", "reason", "message", "conditions",
					  "containerStatuses", "initContainerStatuses", NULL };
	static const char *const cs[] = { "name", "state", NULL };
	/* A running container's state ({"running": {"startedAt"}}) is read
	 * by nobody: two objects fewer per container. */
	static const char *const state[] = { "waiting", "terminated", NULL };
	static const char *const cond[] = { "type", "status", "reason", "message", NULL };
	keep_only(pod, top);
	keep_only(jget(pod, "metadata"), md);
	keep_only(jget(jget(pod, "metadata"), "labels"), labels);
	json_object *s = jget(pod, "status");
	keep_only(s, st);
	static const char *const lists[] = { "containerStatuses", "initContainerStatuses" };
	for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
		json_object *a = jget(s, lists[l]);
		for (size_t i = 0; a && json_object_is_type(a, json_type_array) &&
				   i < json_object_array_length(a); i++) {
			json_object *c = json_object_array_get_idx(a, i);
			keep_only(c, cs);
			keep_only(jget(c, "state"), state);
		}
	}
	json_object *conds = jget(s, "conditions");
	for (size_t i = 0; conds && json_object_is_type(conds, json_type_array) &&
			   i < json_object_array_length(conds);) {
		json_object *c = json_object_array_get_idx(conds, i);
		if (str_eq(jstr(c, "type"), "PodScheduled")) {
			keep_only(c, cond);
			i++;
		} else {
			json_object_array_del_idx(conds, i, 1);
		}
	}
}

static char *default_identity(void)
{
	const char *pod = getenv("POD_NAME");
	if (pod && *pod)
		return xstrdup(pod);
	char host[256] = "";
	(void)gethostname(host, sizeof(host) - 1);
	return xasprintf("%s_%ld", host[0] ? host : "paddock", (long)getpid());
}

int kube_controller_run(const struct pd_config *cfg, const struct plugin_set *ps,
			const struct kube_controller_opts *o, volatile sig_atomic_t *stop, char *err,
			size_t errlen)
{
	struct kube_config *kcfg = NULL;
	int rc = kube_config_load(o->kubeconfig ? o->kubeconfig : cfg->kubeconfig, o->context, &kcfg,
				  err, errlen);
	if (rc < 0)
		return rc;
	struct kctl k = { 0 };
	k.cfg = cfg;
	k.ps = ps;
	k.m = o->metrics;
	rc = kube_client_new(kcfg, NULL, &k.kc, err, errlen);
	if (rc < 0) {
		kube_config_free(kcfg);
		return rc;
	}
	k.identity = o->identity ? xstrdup(o->identity) : default_identity();
	k.events = json_object_new_array();
	const char *pns = getenv("POD_NAMESPACE");
	k.lease_ns = xstrdup(cfg->kube_lease_ns ? cfg->kube_lease_ns
				: pns && *pns ? pns : "paddock-system");
	k.lease = kube_lease_new(k.kc, k.lease_ns, KUBE_LEASE_NAME, k.identity);
	const char *ns = o->namespace;
	k.inf[INF_TASKS] = kube_informer_new(k.kc, &KUBE_TASKS, ns, NULL, on_event, &k);
	k.inf[INF_AGENTS] = kube_informer_new(k.kc, &KUBE_AGENTS, NULL, NULL, on_event, &k);
	k.inf[INF_JOBS] = kube_informer_new(k.kc, &KUBE_JOBS, NULL,
					    KUBE_LABEL_MANAGED "=paddock", on_event, &k);
	kube_informer_set_trim(k.inf[INF_JOBS], trim_job); /* a list's pages */
	kube_informer_set_compact(k.inf[INF_JOBS], kjob_make, kjob_ident);
	k.inf[INF_PODS] = kube_informer_new(k.kc, &KUBE_PODS, NULL,
					    KUBE_LABEL_MANAGED "=paddock", on_event, &k);
	kube_informer_set_trim(k.inf[INF_PODS], trim_pod); /* a list's pages */
	kube_informer_set_compact(k.inf[INF_PODS], kpod_make, kpod_ident);
	k.inf[INF_SPAWNERS] = kube_informer_new(k.kc, &KUBE_SPAWNERS, ns, NULL, on_event, &k);
	k.inf[INF_BUDGETS] = kube_informer_new(k.kc, &KUBE_BUDGETS, ns, NULL, on_event, &k);
	/* A new binary under an older install's RBAC or CRDs: the rest works. */
	kube_informer_set_optional(k.inf[INF_SPAWNERS], "Spawners (schedules, webhooks, github)");
	kube_informer_set_optional(k.inf[INF_BUDGETS], "Budgets");
	k.idx = kidx_new();
	k.pod_of = json_object_new_object();
	k.starting = json_object_new_object();
	k.start_err = json_object_new_object();
	k.writing = json_object_new_object();
	k.over = json_object_new_object();
	k.egress_done = json_object_new_object();
	k.agent_docs = json_object_new_object();
	k.usage = kube_usage_new(o->kubeconfig ? o->kubeconfig : cfg->kubeconfig, o->context, cfg, ps);
	k.github = kube_github_new(o->kubeconfig ? o->kubeconfig : cfg->kubeconfig, o->context, cfg,
				   k.m);
	kube_client_set_inflight(k.kc, cfg->kube_max_inflight > 0 ? (int)cfg->kube_max_inflight
								  : KUBE_INFLIGHT_DEFAULT);
	const struct host_backend hb = { &k, hb_secret_get, hb_object_get };
	host_set_backend(&hb);
	log_info("controller started", "backend", "kubernetes", "server", kcfg->server, "identity",
		 k.identity, "lease_namespace", k.lease_ns, "namespace", ns ? ns : "(all)");
	kube_config_free(kcfg);
	if (k.m)
		metrics_set_leader(k.m, false);
	struct ctl *c = ctl_new(cfg, ps, &kube_ops, &k);
	ctl_set_metrics(c, k.m);
	k.ctl = c;
	ctl_run(c, stop);
	flush_events(&k);
	/* What was sent goes out (status writes, Events), for a few seconds. */
	for (int64_t end = now_mono_ms() + 5000; kube_submitted(k.kc) && now_mono_ms() < end;)
		(void)kube_informers_poll(k.inf, N_INF, 100);
	log_info("controller stopping", "identity", k.identity);
	kube_lease_release(k.lease);
	if (k.m)
		metrics_set_leader(k.m, false);
	host_set_backend(NULL);
	ctl_free(c);
	kube_usage_free(k.usage);
	kube_github_free(k.github);
	json_object_put(k.over);
	json_object_put(k.egress_done);
	json_object_put(k.agent_docs);
	for (int i = 0; i < N_INF; i++)
		kube_informer_free(k.inf[i]);
	kube_lease_free(k.lease);
	kube_client_free(k.kc);
	json_object_put(k.events);
	kidx_free(k.idx);
	json_object_put(k.pod_of);
	json_object_put(k.starting);
	json_object_put(k.start_err);
	json_object_put(k.writing);
	free(k.identity);
	free(k.lease_ns);
	return 0;
}

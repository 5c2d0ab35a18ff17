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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "plugin/host.h"
#include "base/jsonutil.h"
#include "kube/render.h"
#include "control/metrics.h"
#include "model/model.h"
#include "control/pipeline.h"
#include "control/reconcile.h"
#include "control/template.h"

#define PASS_MIN_INTERVAL_MS 50
#define PASS_MAX_INTERVAL_MS 1000
#define SWEEP_INTERVAL_MS 10000
#define LOG_LINE_MAX (64 * 1024)
#define SCRIPT_MAX (256 * 1024)

enum { INF_TASKS, INF_AGENTS, INF_JOBS, N_INF };

struct kctl {
	const struct pd_config *cfg;
	const struct plugin_set *ps;
	struct kube_client *kc;
	struct kube_informer *inf[N_INF];
	struct metrics *m;
	char *identity;
	char *lease_ns;
	bool leader;
	int64_t lease_ok_ms;    /* monotonic: last successful acquire or renew */
	int64_t lease_next_ms;  /* monotonic: next lease attempt */
	bool dirty;             /* something changed since the last pass */
	int64_t next_due_ms;    /* wall: a timeout or TTL falls due */
	int64_t last_sweep_ms;
	json_object *events;    /* Events to send after the pass: array of {ns, event} */
};

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
	char *path = kube_path(&KUBE_SECRETS, ns, name, NULL, NULL);
	json_object *o = NULL;
	char rerr[512];
	int st = kube_request(k->kc, "GET", path, NULL, NULL, &o, rerr, sizeof(rerr));
	free(path);
	int rc;
	if (st == 404) {
		rc = errf(err, errlen, -ENOENT, "secret \"%s/%s\" not found", ns, name);
	} else if (st != 200) {
		rc = errf(err, errlen, -EIO, "secret \"%s/%s\": %s", ns, name, rerr);
	} else {
		const char *b64 = jstr(jget(o, "data"), key);
		if (!b64)
			rc = errf(err, errlen, -ENOENT, "secret \"%s/%s\" has no key \"%s\"", ns, name, key);
		else if (model_b64_decode(b64, strlen(b64), value, len) < 0)
			rc = errf(err, errlen, -EINVAL, "secret \"%s/%s\" key \"%s\": invalid base64", ns,
				  name, key);
		else
			rc = 0;
	}
	json_object *data = jget(o, "data");
	if (data) {
		/* scrub the values we were sent before letting go of them */
		json_object_object_foreach(data, dk, dv) {
			(void)dk;
			if (json_object_is_type(dv, json_type_string))
				explicit_bzero((char *)json_object_get_string(dv),
					       (size_t)json_object_get_string_len(dv));
		}
	}
	json_object_put(o);
	return rc;
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
	 * cache, which does not change during a pass. */
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
	char err[512];
	int rc = model_from_server(a, &lim, &kind, &doc, err, sizeof(err));
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

static void apply_status(void *ctx, json_object *fresh)
{
	json_object *patch = ctx;
	json_object *st = jget(fresh, "status");
	if (!st) {
		st = json_object_new_object();
		json_object_object_add(fresh, "status", st);
	}
	json_object_object_foreach(patch, key, val)
		json_object_object_add(st, key, val ? json_object_get(val) : NULL);
}

/* Record an Event about the task (what `paddock describe` lists). */
static void record_event(struct kctl *k, const struct model_task *t, const char *phase,
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
	jset_str(ev, "reason", reason && *reason ? reason : phase);
	char *msg = xasprintf("%s: %.900s", phase, message ? message : "");
	jset_str(ev, "message", msg);
	free(msg);
	bool bad = str_eq(phase, "Failed");
	jset_str(ev, "type", bad ? "Warning" : "Normal");
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

static void flush_events(struct kctl *k)
{
	size_t n = json_object_array_length(k->events);
	for (size_t i = 0; i < n; i++) {
		json_object *ev = json_object_array_get_idx(k->events, i);
		const char *ns = jstr(jget(ev, "metadata"), "namespace");
		char *path = kube_path(&KUBE_EVENTS, ns, NULL, NULL, NULL);
		char err[512];
		int st = kube_request(k->kc, "POST", path, ev, NULL, NULL, err, sizeof(err));
		if (st != 201 && st != 200)
			log_warn("event not recorded", "namespace", ns, "task",
				 jstr(jget(ev, "involvedObject"), "name"), "error", err);
		free(path);
	}
	if (n)
		json_object_array_del_idx(k->events, 0, n);
}

/* Write status fields in `patch` (taken) plus phase/reason/message. */
static int write_status(struct kctl *k, json_object *task, const struct model_task *t,
			json_object *patch, const char *phase, const char *reason,
			const char *message)
{
	jset_str(patch, "phase", phase);
	jset_str(patch, "reason", reason ? reason : "");
	jset_str(patch, "message", message ? message : "");
	json_object *copy = NULL;
	json_object_deep_copy(task, &copy, NULL);
	apply_status(patch, copy);
	json_object *updated = NULL;
	char err[512];
	int st = kube_update_status(k->kc, &KUBE_TASKS, copy, apply_status, patch, &updated, err,
				    sizeof(err));
	json_object_put(copy);
	int rc = 0;
	if (st == 200 && updated) {
		kube_informer_store(k->inf[INF_TASKS], updated);
		log_info("task phase", "namespace", t->ns, "task", t->name, "phase", phase, "reason",
			 reason ? reason : "", "message", message ? message : "");
		record_event(k, t, phase, reason, message);
	} else if (st == 404) {
		rc = -ENOENT;
	} else {
		log_error("status write failed", "namespace", t->ns, "task", t->name, "error", err);
		rc = -EIO;
	}
	json_object_put(updated);
	json_object_put(patch);
	return rc;
}

static int delete_object(struct kctl *k, const struct kube_resource *r, const char *ns,
			 const char *name)
{
	char *path = kube_path(r, ns, name, NULL, NULL);
	json_object *opts = json_object_new_object();
	jset_str(opts, "kind", "DeleteOptions");
	jset_str(opts, "apiVersion", "v1");
	jset_str(opts, "propagationPolicy", "Background");
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

static int create_object(struct kctl *k, const struct kube_resource *r, const char *ns,
			 json_object *obj, json_object **created, char *err, size_t errlen)
{
	char *path = kube_path(r, ns, NULL, NULL, NULL);
	int st = kube_request(k->kc, "POST", path, obj, NULL, created, err, errlen);
	free(path);
	return st;
}

static int start_job(struct kctl *k, const struct model_task *t, const struct model_agent *a,
		     char **job_name, char **run_ns, char *err, size_t errlen)
{
	struct pipeline_eff e;
	pipeline_effective(t, a, &e);
	struct run_plan plan;
	plan_init(&plan, e.run_ns, k->cfg->limits.context_item_bytes,
		  k->cfg->limits.context_total_bytes);
	char *prompt = NULL, *task_md = NULL, *entry = NULL, *lib = NULL;
	json_object *job = NULL, *cm = NULL, *created = NULL;
	struct klookup l = { k, t->ns, NULL, 0 };
	int rc = tmpl_render(t->prompt, dep_result, &l, k->cfg->limits.prompt_bytes, &prompt, err,
			     errlen);
	if (rc < 0)
		goto out;
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
	};
	if ((rc = kube_render(&in, &job, &cm, err, errlen)) < 0)
		goto out;
	const char *name = jstr(jget(job, "metadata"), "name");
	char cerr[512];
	int st = create_object(k, &KUBE_CONFIGMAPS, e.run_ns, cm, NULL, cerr, sizeof(cerr));
	if (st != 201 && st != 409) {
		rc = errf(err, errlen, -EIO, "creating ConfigMap %s/%s: %s", e.run_ns, name, cerr);
		goto out;
	}
	st = create_object(k, &KUBE_JOBS, e.run_ns, job, &created, cerr, sizeof(cerr));
	if (st == 409) {
		/* Made by us before a restart (Job first, then status), or a
		 * name collision: only the first is ours to adopt. */
		json_object_put(created);
		created = NULL;
		char *path = kube_path(&KUBE_JOBS, e.run_ns, name, NULL, NULL);
		st = kube_request(k->kc, "GET", path, NULL, NULL, &created, cerr, sizeof(cerr));
		free(path);
		const char *uid = jstr(jget(jget(created, "metadata"), "labels"), KUBE_LABEL_TASK_UID);
		if (st == 200 && !str_eq(uid, t->uid)) {
			rc = errf(err, errlen, -EEXIST,
				  "Job %s/%s exists and belongs to another task: delete it", e.run_ns, name);
			goto out;
		}
	}
	if (st != 201 && st != 200) {
		rc = errf(err, errlen, -EIO, "creating Job %s/%s: %s", e.run_ns, name, cerr);
		goto out;
	}
	kube_informer_store(k->inf[INF_JOBS], created);
	*job_name = xstrdup(name);
	*run_ns = xstrdup(e.run_ns);
	log_info("job created", "namespace", t->ns, "task", t->name, "job", name, "job_namespace",
		 e.run_ns);
out:
	json_object_put(job);
	json_object_put(cm);
	json_object_put(created);
	plan_free(&plan);
	free(prompt);
	free(task_md);
	free(entry);
	free(lib);
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

static bool job_condition(json_object *job, const char *type, const char **reason)
{
	json_object *conds = jget(jget(job, "status"), "conditions");
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

/* The finished run: exit code from the pod, outputs and usage from the
 * agent container's log, parsed by the driver's parser. */
static void collect_run(struct kctl *k, const struct model_task *t, const struct model_agent *a,
			const char *ns, const char *job_name, bool complete, struct kobs *o)
{
	o->exit_code = complete ? 0 : 1;
	char *sel = xasprintf("batch.kubernetes.io/job-name=%s", job_name);
	char *q = kube_query_escape(sel);
	char *query = xasprintf("labelSelector=%s", q);
	char *path = kube_path(&KUBE_PODS, ns, NULL, NULL, query);
	free(sel);
	free(q);
	free(query);
	json_object *pods = NULL;
	char err[512] = "";
	int st = kube_request(k->kc, "GET", path, NULL, NULL, &pods, err, sizeof(err));
	free(path);
	json_object *items = jget(pods, "items");
	json_object *pod = items && json_object_array_length(items) ? json_object_array_get_idx(items, 0) : NULL;
	const char *pod_name = jstr(jget(pod, "metadata"), "name");
	json_object *cs = jget(jget(pod, "status"), "containerStatuses");
	for (size_t i = 0; cs && i < json_object_array_length(cs); i++) {
		json_object *c = json_object_array_get_idx(cs, i);
		if (!str_eq(jstr(c, "name"), "agent"))
			continue;
		json_object *term = jget(jget(c, "state"), "terminated");
		json_object *ec = jget(term, "exitCode");
		if (ec)
			o->exit_code = json_object_get_int(ec);
		o->start_ms = jtime(term, "startedAt");
		o->end_ms = jtime(term, "finishedAt");
		if (str_eq(jstr(term, "reason"), "OOMKilled"))
			o->end_reason = "OOMKilled";
	}
	/* The kubelet evicts a pod over its ephemeral-storage limit. */
	const char *pmsg = jstr(jget(pod, "status"), "message");
	if (!o->end_reason && str_eq(jstr(jget(pod, "status"), "reason"), "Evicted") && pmsg &&
	    strstr(pmsg, "ephemeral"))
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
	bool truncated = false;
	const char *warn = NULL;
	char werr[640] = "";
	if (st == 200 && pod_name) {
		char *lpath = kube_path(&KUBE_PODS, ns, pod_name, "log", "container=agent");
		st = kube_get_raw(k->kc, lpath, k->cfg->limits.log_bytes_per_run, &log, &len, &truncated,
				  err, sizeof(err));
		free(lpath);
	}
	if (st == 200 && log) {
		pipeline_sink_text(&sink, log, len, LOG_LINE_MAX);
		if (truncated)
			warn = "the agent's log was cut at limits.logBytesPerRun: outputs may be missing";
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
	json_object_put(pods);
}

/* A Running task's Job.  Its Agent (*a, owned; for the driver's parser)
 * is looked up only once the Job has ended. */
static void observe_job(struct kctl *k, json_object *task, const struct model_task *t,
			struct model_agent **a, struct rec_input *in, struct kobs *o)
{
	json_object *st = jget(task, "status");
	const char *jn = jstr(st, "jobName"), *ns = jstr(st, "runNamespace");
	json_object *job = jn && ns ? kube_informer_get(k->inf[INF_JOBS], ns, jn) : NULL;
	if (!job) {
		in->run = REC_RUN_LOST;
		return;
	}
	const char *why = NULL;
	bool complete = job_condition(job, "Complete", NULL);
	if (!complete && !job_condition(job, "Failed", &why)) {
		in->run = REC_RUN_ACTIVE;
		return;
	}
	if (t->agent_name && !*a) {
		struct klookup l = { k, t->ns, NULL, 0 };
		lk_agent(&l, t->agent_ns, t->agent_name, a);
	}
	collect_run(k, t, *a, ns, jn, complete, o);
	if (!complete) {
		if (str_eq(why, "DeadlineExceeded"))
			in->run_end_reason = "Timeout";
	}
	if (o->end_reason) {
		in->run_end_reason = o->end_reason;
		in->run_end_message = o->end_message;
	}
	in->run = REC_RUN_EXITED;
	in->exit_code = o->exit_code;
	json_object *oc = jget(o->result, "outcome");
	in->outcome = oc ? json_object_get_int(oc) : 0;
	in->run_error = jstr(o->result, "error");
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
	    pipeline_check_task(k->ps, t, arc, a, invalid, invlen) == 0)
		invalid[0] = '\0';
	model_agent_free(a);
	return 0;
}

/* ---- reconcile one task ----------------------------------------------- */

struct kadmit {
	bool admit;
	long agent_running, agent_max, global_running, global_max;
	bool started;
};

static void reconcile_task(struct kctl *k, json_object *task, struct kadmit *ad)
{
	char err[1024] = "";
	struct model_task *t = NULL;
	struct model_agent *a = NULL;
	struct kobs o = { 0 };
	json_object *md = jget(task, "metadata");
	enum rec_phase ph = task_phase_of(task);
	char invalid[1024] = "";
	/* The spec's checks and defaults matter until the run starts: all of
	 * apply's checks once, when the task is first seen (Pending); the
	 * schema's defaults up to admission; a started task is read as is. */
	int vrc = ph == REC_PENDING || ph == REC_WAITING || ph == REC_QUEUED ?
			  task_view(k, task, ph == REC_PENDING, &t, invalid, sizeof(invalid)) :
			  model_task_from_json(task, &t, invalid, sizeof(invalid));
	if (vrc < 0) {
		log_error("unreadable task", "namespace", jstr(md, "namespace"), "task", jstr(md, "name"),
			  "error", invalid);
		return;
	}
	bool fresh = ph == REC_PENDING || ph == REC_WAITING;
	json_object *st = jget(task, "status");
	struct rec_input in;
	pipeline_rec_input(k->cfg, task, t, &in);
	struct klookup l = { k, t->ns, NULL, 0 };
	struct pipeline_resolution res = { 0 };
	if (!rec_phase_terminal(ph) && ph != REC_RUNNING) {
		/* The Secret is fetched only for a task about to start: one
		 * GET per admission, not one per task per pass. */
		const struct pipeline_lookup lk = { &l, lk_task_phase, lk_task_deps, lk_agent,
						    ad->admit ? lk_secret : NULL };
		pipeline_resolve(k->ps, t, &lk, &in, &res);
		a = res.agent;
		res.agent = NULL;
		if (fresh && invalid[0] && !in.invalid) {
			in.invalid = invalid;
			in.invalid_reason = "InvalidSpec";
		}
	}
	in.agent_running = ad->agent_running;
	in.agent_max = ad->agent_max;
	in.global_running = ad->global_running;
	in.global_max = ad->global_max;
	in.head_of_queue = ad->admit;
	if (ph == REC_RUNNING && !in.stop_requested)
		observe_job(k, task, t, &a, &in, &o);
	else if (ph == REC_RUNNING)
		in.run = REC_RUN_ACTIVE;

	struct rec_decision d;
	rec_decide(&in, &d);
	if (d.requeue_after_ms > 0) {
		int64_t due = in.now_ms + d.requeue_after_ms;
		if (k->next_due_ms == 0 || due < k->next_due_ms)
			k->next_due_ms = due;
	}
	switch (d.action) {
	case REC_NOOP:
		break;
	case REC_SET_PHASE: {
		if (d.phase == ph && str_eq(jstr(st, "reason"), d.reason) &&
		    str_eq(jstr(st, "message"), d.message))
			break;
		json_object *patch = json_object_new_object();
		bool finished = rec_phase_terminal(d.phase);
		if (finished) {
			jset_time(patch, "completionTime", in.now_ms);
			if (o.result)
				pipeline_fill_results(patch, t, o.result, o.exit_code, o.start_ms, o.end_ms);
		}
		if (write_status(k, task, t, patch, rec_phase_name(d.phase), d.reason, d.message) == 0 &&
		    finished && ph == REC_RUNNING) {
			struct pipeline_eff e;
			pipeline_effective(t, a, &e);
			pipeline_count_run(k->m, e.driver, o.result, o.start_ms, o.end_ms);
		}
		break;
	}
	case REC_START: {
		/* Job first, then status: a restart in between finds the Job
		 * (409) and adopts it, so the run is created once. */
		char *job_name = NULL, *run_ns = NULL;
		if (start_job(k, t, a, &job_name, &run_ns, err, sizeof(err)) < 0) {
			log_warn("start failed", "namespace", t->ns, "task", t->name, "error", err);
			json_object *patch = json_object_new_object();
			jset_time(patch, "completionTime", in.now_ms);
			write_status(k, task, t, patch, "Failed", "StartFailed", err);
			break;
		}
		json_object *patch = json_object_new_object();
		jset_time(patch, "startTime", in.now_ms);
		jset_str(patch, "runId", t->uid);
		jset_str(patch, "jobName", job_name);
		jset_str(patch, "runNamespace", run_ns);
		if (write_status(k, task, t, patch, "Running", d.reason, d.message) == 0)
			ad->started = true;
		free(job_name);
		free(run_ns);
		break;
	}
	case REC_KILL: {
		const char *jn = jstr(st, "jobName"), *ns = jstr(st, "runNamespace");
		if (jn && ns && delete_object(k, &KUBE_JOBS, ns, jn) < 0)
			break; /* try again next pass */
		json_object *patch = json_object_new_object();
		jset_time(patch, "completionTime", in.now_ms);
		write_status(k, task, t, patch, str_eq(d.reason, "Stopped") ? "Stopped" : "Failed",
			     d.reason, d.message);
		break;
	}
	case REC_DELETE:
		if (delete_object(k, &KUBE_TASKS, t->ns, t->name) == 0)
			log_info("task deleted after TTL", "namespace", t->ns, "task", t->name);
		break;
	}
	json_object_put(o.result);
	free(l.deps);
	pipeline_resolution_free(&res);
	model_agent_free(a);
	model_task_free(t);
}

/* ---- the pass ----------------------------------------------------------- */

struct entry {
	json_object *task;     /* borrowed from the cache (taken a reference) */
	enum rec_phase phase;
	int64_t created_ms;
	const char *uid;
	char key[320];         /* the Agent "ns/name", or "" */
};

struct pass {
	struct entry *v;       /* the tasks a pass may act on */
	size_t n, cap;
	long phases[METRICS_N_PHASES]; /* every task, by phase (metrics) */
};

static void agent_key(json_object *task, char *key, size_t n)
{
	json_object *spec = jget(task, "spec"), *ref = jget(spec, "agentRef");
	const char *name = jstr(ref, "name");
	if (!name) {
		key[0] = '\0';
		return;
	}
	const char *ns = jstr(ref, "namespace");
	if (!ns)
		ns = jstr(jget(task, "metadata"), "namespace");
	snprintf(key, n, "%s/%s", ns ? ns : "", name);
}

static int collect(void *ctx, json_object *task)
{
	struct pass *p = ctx;
	enum rec_phase ph = task_phase_of(task);
	int mp = model_phase_parse(rec_phase_name(ph));
	if (mp >= 0 && mp < METRICS_N_PHASES)
		p->phases[mp]++;
	/* A finished task is only counted, unless its TTL will delete it:
	 * the thousands a cluster keeps cost no pass any work. */
	if (rec_phase_terminal(ph) && !jget(jget(task, "spec"), "ttlSecondsAfterFinished"))
		return 0;
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 64;
		p->v = xrealloc(p->v, p->cap * sizeof(*p->v));
	}
	struct entry *e = &p->v[p->n++];
	e->task = json_object_get(task);
	e->phase = ph;
	json_object *md = jget(task, "metadata");
	e->created_ms = jtime(md, "creationTimestamp");
	e->uid = jstr(md, "uid");
	agent_key(task, e->key, sizeof(e->key));
	return 0;
}
static int fifo_cmp(const void *pa, const void *pb)
{
	const struct entry *a = pa, *b = pb;
	if (a->created_ms != b->created_ms)
		return a->created_ms < b->created_ms ? -1 : 1;
	return strcmp(a->uid ? a->uid : "", b->uid ? b->uid : "");
}

/* Running tasks per Agent key, counted from the cache. */
struct counts {
	char **keys;
	long *running, *queued, *max;
	size_t n;
};

static size_t count_slot(struct counts *c, struct kctl *k, const char *key)
{
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->keys[i], key))
			return i;
	c->keys = xrealloc(c->keys, (c->n + 1) * sizeof(char *));
	c->running = xrealloc(c->running, (c->n + 1) * sizeof(long));
	c->queued = xrealloc(c->queued, (c->n + 1) * sizeof(long));
	c->max = xrealloc(c->max, (c->n + 1) * sizeof(long));
	c->keys[c->n] = xstrdup(key);
	c->running[c->n] = c->queued[c->n] = 0;
	long max = 0;
	const char *slash = strchr(key, '/');
	if (slash) {
		char ns[256];
		snprintf(ns, sizeof(ns), "%.*s", (int)(slash - key), key);
		json_object *a = kube_informer_get(k->inf[INF_AGENTS], ns, slash + 1);
		json_object *m = jget(jget(a, "spec"), "maxConcurrentTasks");
		if (m)
			max = (long)json_object_get_int64(m);
	}
	c->max[c->n] = max;
	return c->n++;
}

static void counts_free(struct counts *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->keys[i]);
	free(c->keys);
	free(c->running);
	free(c->queued);
	free(c->max);
	memset(c, 0, sizeof(*c));
}

static int add_uid(void *ctx, json_object *task)
{
	const char *uid = jstr(jget(task, "metadata"), "uid");
	if (uid)
		json_object_object_add(ctx, uid, NULL);
	return 0;
}

struct orphans {
	json_object *uids;     /* every task's uid */
	json_object *found;    /* [job, ...] whose task is gone */
};

static int find_orphan(void *ctx, json_object *job)
{
	struct orphans *o = ctx;
	json_object *md = jget(job, "metadata"), *labels = jget(md, "labels");
	const char *uid = jstr(labels, KUBE_LABEL_TASK_UID);
	if (uid && !str_eq(jstr(labels, KUBE_LABEL_TASK_NS), jstr(md, "namespace")) &&
	    !json_object_object_get_ex(o->uids, uid, NULL))
		json_object_array_add(o->found, json_object_get(job));
	return 0;
}

/* Cross-namespace runs have no ownerReference (those cannot cross
 * namespaces): their Jobs and ConfigMaps go when their Task has gone. */
static void sweep_orphans(struct kctl *k)
{
	struct orphans o = { json_object_new_object(), json_object_new_array() };
	kube_informer_foreach(k->inf[INF_TASKS], add_uid, o.uids);
	kube_informer_foreach(k->inf[INF_JOBS], find_orphan, &o);
	for (size_t i = 0; i < json_object_array_length(o.found); i++) {
		json_object *md = jget(json_object_array_get_idx(o.found, i), "metadata");
		json_object *labels = jget(md, "labels");
		const char *ns = jstr(md, "namespace"), *name = jstr(md, "name");
		log_info("deleting the run of a deleted task", "namespace",
			 jstr(labels, KUBE_LABEL_TASK_NS), "task", jstr(labels, KUBE_LABEL_TASK), "job",
			 name, "job_namespace", ns);
		delete_object(k, &KUBE_JOBS, ns, name);
		delete_object(k, &KUBE_CONFIGMAPS, ns, name);
	}
	json_object_put(o.found);
	json_object_put(o.uids);
}
static void publish_metrics(struct kctl *k, const struct pass *p, const struct counts *c)
{
	if (!k->m)
		return;
	metrics_set_phase_counts(k->m, p->phases);
	const char **keys = xcalloc(c->n + 1, sizeof(char *));
	for (size_t i = 0; i < c->n; i++)
		keys[i] = c->keys[i][0] ? c->keys[i] : "(none)";
	metrics_set_queue_depths(k->m, keys, c->queued, c->n);
	free(keys);
}
static void lease_tick(struct kctl *k);

/* Renew the Lease when due, also in the middle of a long pass (1,000
 * admissions take longer than the Lease lasts).  False once another
 * replica leads: stop acting at once. */
static bool still_leader(struct kctl *k)
{
	if (now_mono_ms() >= k->lease_next_ms) {
		lease_tick(k);
		k->lease_next_ms = now_mono_ms() + KUBE_LEASE_RENEW_MS;
	}
	return k->leader;
}

/* The entry's task as the cache has it now (after our own writes). */
static void refresh(struct kctl *k, struct entry *e)
{
	json_object *md = jget(e->task, "metadata");
	json_object *now = kube_informer_get(k->inf[INF_TASKS], jstr(md, "namespace"), jstr(md, "name"));
	if (!now || now == e->task)
		return;
	json_object_get(now);
	json_object_put(e->task);
	e->task = now;
	e->phase = task_phase_of(now);
}

static void pass(struct kctl *k)
{
	struct pass p = { 0 };
	kube_informer_foreach(k->inf[INF_TASKS], collect, &p);
	if (p.n > 1)
		qsort(p.v, p.n, sizeof(*p.v), fifo_cmp);
	struct counts c = { 0 };
	long global_running = 0;
	for (size_t i = 0; i < p.n; i++) {
		size_t s = count_slot(&c, k, p.v[i].key);
		if (p.v[i].phase == REC_RUNNING) {
			c.running[s]++;
			global_running++;
		} else if (p.v[i].phase == REC_QUEUED) {
			c.queued[s]++;
		}
	}
	long global_max = k->cfg->limits.max_concurrent_tasks;
	bool *blocked = xcalloc(c.n + 1, sizeof(bool));
	k->next_due_ms = 0;
	/* Everything but the queue: Pending, Waiting and Running tasks, a
	 * stopped Queued one, and finished ones with a TTL (collect() kept
	 * no other finished ones).  A task that becomes Queued here is
	 * admitted below, in the same pass. */
	for (size_t i = 0; i < p.n; i++) {
		struct entry *e = &p.v[i];
		if (e->phase == REC_QUEUED && !model_stop_requested(e->task))
			continue;
		if (!still_leader(k))
			goto out;
		size_t s = count_slot(&c, k, e->key);
		struct kadmit ad = { false, c.running[s], c.max[s], global_running, global_max, false };
		enum rec_phase before = e->phase;
		reconcile_task(k, e->task, &ad);
		refresh(k, e);
		if (before == REC_RUNNING && e->phase != REC_RUNNING) {
			c.running[s]--;
			global_running--;
		}
		if (before != REC_QUEUED && e->phase == REC_QUEUED)
			c.queued[s]++;
		if (before == REC_QUEUED && e->phase != REC_QUEUED)
			c.queued[s]--;
	}
	/* Admission, oldest first (creationTimestamp, then uid).  A queue head
	 * that does not start holds its Agent's line. */
	for (size_t i = 0; i < p.n; i++) {
		struct entry *e = &p.v[i];
		if (e->phase != REC_QUEUED || model_stop_requested(e->task))
			continue;
		if (global_max > 0 && global_running >= global_max)
			break;
		size_t s = count_slot(&c, k, e->key);
		if (blocked[s] || (c.max[s] > 0 && c.running[s] >= c.max[s]))
			continue;
		if (!still_leader(k))
			goto out;
		struct kadmit ad = { true, c.running[s], c.max[s], global_running, global_max, false };
		reconcile_task(k, e->task, &ad);
		refresh(k, e);
		if (ad.started) {
			c.running[s]++;
			c.queued[s]--;
			global_running++;
		} else if (e->phase == REC_QUEUED) {
			blocked[s] = true;
		} else {
			c.queued[s]--;
		}
	}
	int64_t mono = now_mono_ms();
	if (mono - k->last_sweep_ms >= SWEEP_INTERVAL_MS) {
		k->last_sweep_ms = mono;
		sweep_orphans(k);
	}
	publish_metrics(k, &p, &c);
out:
	free(blocked);
	counts_free(&c);
	for (size_t i = 0; i < p.n; i++)
		json_object_put(p.v[i].task);
	free(p.v);
	flush_events(k);
}

/* ---- leader election on a coordination.k8s.io Lease ---------------------- */

static void micro_time(char *buf, size_t n)
{
	int64_t ms = now_wall_ms();
	char base[32];
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&s, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, n, "%s.%06dZ", base, (int)(ms % 1000) * 1000);
}

static void lease_spec(json_object *spec, const char *holder, bool acquire, long transitions)
{
	char ts[48];
	micro_time(ts, sizeof(ts));
	jset_str(spec, "holderIdentity", holder);
	json_object_object_add(spec, "leaseDurationSeconds", json_object_new_int(KUBE_LEASE_DURATION_S));
	jset_str(spec, "renewTime", ts);
	if (acquire) {
		jset_str(spec, "acquireTime", ts);
		json_object_object_add(spec, "leaseTransitions", json_object_new_int64(transitions));
	}
}

static void set_leader(struct kctl *k, bool leader, const char *why)
{
	if (leader == k->leader)
		return;
	k->leader = leader;
	k->dirty = true;
	if (leader)
		log_info("became the leader", "identity", k->identity, "lease", k->lease_ns);
	else
		log_warn("no longer the leader: not acting", "identity", k->identity, "reason", why);
	if (k->m)
		metrics_set_leader(k->m, leader);
}

static void lease_tick(struct kctl *k)
{
	char *path = kube_path(&KUBE_LEASES, k->lease_ns, KUBE_LEASE_NAME, NULL, NULL);
	json_object *lease = NULL;
	char err[512];
	int st = kube_request(k->kc, "GET", path, NULL, NULL, &lease, err, sizeof(err));
	int64_t mono = now_mono_ms();
	if (st == 404) {
		json_object *o = json_object_new_object();
		jset_str(o, "apiVersion", "coordination.k8s.io/v1");
		jset_str(o, "kind", "Lease");
		json_object *md = json_object_new_object();
		jset_str(md, "name", KUBE_LEASE_NAME);
		jset_str(md, "namespace", k->lease_ns);
		json_object_object_add(o, "metadata", md);
		json_object *spec = json_object_new_object();
		lease_spec(spec, k->identity, true, 0);
		json_object_object_add(o, "spec", spec);
		st = create_object(k, &KUBE_LEASES, k->lease_ns, o, NULL, err, sizeof(err));
		json_object_put(o);
		if (st == 201) {
			k->lease_ok_ms = mono;
			set_leader(k, true, NULL);
		} else if (st != 409) {
			log_warn("cannot create the leader Lease", "namespace", k->lease_ns, "error", err);
		}
	} else if (st == 200) {
		json_object *spec = jget(lease, "spec");
		if (!spec) {
			spec = json_object_new_object();
			json_object_object_add(lease, "spec", spec);
		}
		const char *holder = jstr(spec, "holderIdentity");
		int64_t renew = jtime(spec, "renewTime");
		json_object *dj = jget(spec, "leaseDurationSeconds");
		int64_t dur = dj ? json_object_get_int64(dj) : KUBE_LEASE_DURATION_S;
		bool mine = str_eq(holder, k->identity);
		bool expired = !holder || !*holder || renew + dur * 1000 < now_wall_ms();
		if (mine || expired) {
			json_object *tr = jget(spec, "leaseTransitions");
			long transitions = tr ? (long)json_object_get_int64(tr) : 0;
			lease_spec(spec, k->identity, !mine, mine ? transitions : transitions + 1);
			st = kube_request(k->kc, "PUT", path, lease, NULL, NULL, err, sizeof(err));
			if (st == 200) {
				k->lease_ok_ms = mono;
				set_leader(k, true, NULL);
			} else if (st == 409) {
				set_leader(k, false, "another replica took the Lease");
			} else {
				log_warn("cannot renew the leader Lease", "error", err);
			}
		} else {
			set_leader(k, false, "another replica holds the Lease");
		}
	} else {
		log_warn("cannot read the leader Lease", "namespace", k->lease_ns, "error", err);
	}
	if (k->leader && mono - k->lease_ok_ms > KUBE_LEASE_GIVEUP_MS)
		set_leader(k, false, "the Lease could not be renewed in time");
	json_object_put(lease);
	free(path);
}

/* On SIGTERM: hand the Lease over at once instead of letting it expire. */
static void lease_release(struct kctl *k)
{
	if (!k->leader)
		return;
	char *path = kube_path(&KUBE_LEASES, k->lease_ns, KUBE_LEASE_NAME, NULL, NULL);
	json_object *lease = NULL;
	char err[512];
	if (kube_request(k->kc, "GET", path, NULL, NULL, &lease, err, sizeof(err)) == 200 &&
	    str_eq(jstr(jget(lease, "spec"), "holderIdentity"), k->identity)) {
		json_object *spec = jget(lease, "spec");
		jset_str(spec, "holderIdentity", "");
		json_object_object_add(spec, "leaseDurationSeconds", json_object_new_int(1));
		if (kube_request(k->kc, "PUT", path, lease, NULL, NULL, err, sizeof(err)) == 200)
			log_info("released the leader Lease", "identity", k->identity);
	}
	k->leader = false;
	json_object_put(lease);
	free(path);
}

/* ---- the loop ------------------------------------------------------------ */

static void on_event(void *ctx, struct kube_informer *inf, enum kube_event_type type,
		     json_object *obj)
{
	(void)inf;
	(void)type;
	(void)obj;
	struct kctl *k = ctx;
	k->dirty = true;
}

/* Of a Job the controller reads metadata (name, labels) and
 * status.conditions only: the pod template is most of its size. */
static void trim_job(json_object *job)
{
	json_object_object_del(job, "spec");
}

static char *default_identity(void)
{
	const char *pod = getenv("POD_NAME");
	if (pod && *pod)
		return xstrdup(pod);
	char host[256] = "";
	gethostname(host, sizeof(host) - 1);
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
	const char *ns = o->namespace;
	k.inf[INF_TASKS] = kube_informer_new(k.kc, &KUBE_TASKS, ns, NULL, on_event, &k);
	k.inf[INF_AGENTS] = kube_informer_new(k.kc, &KUBE_AGENTS, NULL, NULL, on_event, &k);
	k.inf[INF_JOBS] = kube_informer_new(k.kc, &KUBE_JOBS, NULL,
					    KUBE_LABEL_MANAGED "=paddock", on_event, &k);
	kube_informer_set_trim(k.inf[INF_JOBS], trim_job);
	const struct host_backend hb = { &k, hb_secret_get, hb_object_get };
	host_set_backend(&hb);
	log_info("controller started", "backend", "kubernetes", "server", kcfg->server, "identity",
		 k.identity, "lease_namespace", k.lease_ns, "namespace", ns ? ns : "(all)");
	kube_config_free(kcfg);
	if (k.m)
		metrics_set_leader(k.m, false);

	int64_t last_pass = 0;
	while (!*stop) {
		int64_t mono = now_mono_ms();
		int wait = 100;
		if (k.leader && k.dirty && mono - last_pass < PASS_MIN_INTERVAL_MS)
			wait = (int)(PASS_MIN_INTERVAL_MS - (mono - last_pass));
		kube_informers_poll(k.inf, N_INF, wait);
		if (*stop)
			break;
		mono = now_mono_ms();
		if (mono >= k.lease_next_ms) {
			lease_tick(&k);
			k.lease_next_ms = now_mono_ms() + KUBE_LEASE_RENEW_MS;
		}
		bool synced = kube_informer_synced(k.inf[INF_TASKS]) &&
			      kube_informer_synced(k.inf[INF_AGENTS]) &&
			      kube_informer_synced(k.inf[INF_JOBS]);
		bool due = k.next_due_ms && now_wall_ms() >= k.next_due_ms;
		if (k.leader && synced &&
		    ((k.dirty && mono - last_pass >= PASS_MIN_INTERVAL_MS) ||
		     mono - last_pass >= PASS_MAX_INTERVAL_MS || due)) {
			k.dirty = false;
			double t0 = metrics_now();
			pass(&k);
			last_pass = now_mono_ms();
			if (k.m)
				metrics_observe_tick(k.m, metrics_now() - t0, true, NULL);
		} else if (k.m && (!k.leader || !synced) && mono - last_pass >= PASS_MAX_INTERVAL_MS) {
			/* A standby replica is healthy too: it keeps its caches warm. */
			metrics_observe_tick(k.m, 0, synced, synced ? NULL : "caches not synced yet");
			last_pass = mono;
		}
		if (k.m)
			metrics_set_api(k.m, kube_client_errors(k.kc), kube_client_retries(k.kc));
	}
	log_info("controller stopping", "identity", k.identity);
	lease_release(&k);
	host_set_backend(NULL);
	for (int i = 0; i < N_INF; i++)
		kube_informer_free(k.inf[i]);
	kube_client_free(k.kc);
	json_object_put(k.events);
	free(k.identity);
	free(k.lease_ns);
	return 0;
}

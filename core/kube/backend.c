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
#include "kube/lease.h"
#include "kube/render.h"
#include "control/controller.h"
#include "control/metrics.h"
#include "model/model.h"
#include "control/pipeline.h"
#include "control/reconcile.h"
#include "control/template.h"

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
	struct kube_lease *lease;
	int64_t lease_next_ms;  /* monotonic: next lease attempt */
	bool was_leading;       /* leading and caches synced at the last look */
	struct ctl *ctl;
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
	char *prompt = NULL, *task_md = NULL, *entry = NULL, *lib = NULL, *known_hosts = NULL;
	json_object *job = NULL, *cm = NULL, *created = NULL;
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

/* ---- the controller's operations on the API server ----------------------- */

static void sweep_orphans(struct kctl *k);



static json_object *op_get(void *b, const char *ns, const char *name)
{
	struct kctl *k = b;
	json_object *t = kube_informer_get(k->inf[INF_TASKS], ns, name);
	return t ? json_object_get(t) : NULL;
}

struct kfilter {
	struct kctl *k;
	struct ctl *c;
	ctl_task_cb cb;
	enum rec_phase phase;
	const char *key;       /* agent key filter, or NULL */
	long n;                /* counted */
	json_object *best;     /* queue head (borrowed) */
	struct strv *keys;
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
	struct kfilter f = { .k = k, .c = c, .cb = cb, .phase = phase };
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

static int count_cb(void *ctx, json_object *task)
{
	struct kfilter *f = ctx;
	if (task_phase_of(task) != f->phase)
		return 0;
	if (f->key) {
		char key[320];
		model_task_agent_key(task, key, sizeof(key));
		if (strcmp(key, f->key) != 0)
			return 0;
	}
	f->n++;
	return 0;
}

/* A Job counts against its Agent until it has ended and is gone, also
 * when its Task is no longer Running (stopped, deleted: the pod may still
 * be terminating). */
static int active_job_cb(void *ctx, json_object *job)
{
	struct kfilter *f = ctx;
	if (job_condition(job, "Complete", NULL) || job_condition(job, "Failed", NULL))
		return 0;
	json_object *md = jget(job, "metadata"), *labels = jget(md, "labels");
	const char *akey = jstr(jget(md, "annotations"), KUBE_ANNOTATION_AGENT);
	if (f->key && !str_eq(akey ? akey : "", f->key))
		return 0;
	json_object *task = kube_informer_get(f->k->inf[INF_TASKS], jstr(labels, KUBE_LABEL_TASK_NS),
					      jstr(labels, KUBE_LABEL_TASK));
	if (task && str_eq(jstr(jget(task, "metadata"), "uid"), jstr(labels, KUBE_LABEL_TASK_UID)) &&
	    task_phase_of(task) == REC_RUNNING)
		return 0; /* counted as its Running task */
	f->n++;
	return 0;
}

static long op_running(void *b, const char *akey)
{
	struct kctl *k = b;
	struct kfilter f = { .k = k, .phase = REC_RUNNING, .key = akey };
	kube_informer_foreach(k->inf[INF_TASKS], count_cb, &f);
	kube_informer_foreach(k->inf[INF_JOBS], active_job_cb, &f);
	return f.n;
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

static int queued_cb(void *ctx, json_object *task)
{
	struct kfilter *f = ctx;
	if (task_phase_of(task) != REC_QUEUED)
		return 0;
	char key[320];
	model_task_agent_key(task, key, sizeof(key));
	if (f->keys) {
		for (size_t i = 0; i < f->keys->n; i++)
			if (!strcmp(f->keys->v[i], key))
				return 0;
		strv_push(f->keys, key);
		return 0;
	}
	if (f->key && strcmp(key, f->key) != 0)
		return 0;
	if (model_stop_requested(task))
		return 0;
	if (!f->best || ctl_fifo_before(task, f->best))
		f->best = task;
	return 0;
}

static int op_queued_agents(void *b, struct strv *keys)
{
	struct kctl *k = b;
	struct kfilter f = { .k = k, .keys = keys };
	kube_informer_foreach(k->inf[INF_TASKS], queued_cb, &f);
	return 0;
}

static json_object *op_queue_head(void *b, const char *akey)
{
	struct kctl *k = b;
	struct kfilter f = { .k = k, .key = akey };
	kube_informer_foreach(k->inf[INF_TASKS], queued_cb, &f);
	return f.best ? json_object_get(f.best) : NULL;
}

/* The Job of a task: status.jobName/runNamespace once recorded, else
 * the name it gets (kube_job_name) in its Agent's namespace. */
static json_object *task_job(struct kctl *k, json_object *task, const struct model_task *t,
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
	json_object *job = kube_informer_get(k->inf[INF_JOBS], jns, jn);
	/* Only a Job of this very task (the uid label) is its run. */
	if (job && !str_eq(jstr(jget(jget(job, "metadata"), "labels"), KUBE_LABEL_TASK_UID), t->uid))
		job = NULL;
	return job;
}

static void op_observe(void *b, json_object *task, const struct model_task *t,
		       struct model_agent **a, struct rec_input *in, struct ctl_run *run)
{
	struct kctl *k = b;
	char jn[256], jns[256];
	json_object *job = task_job(k, task, t, *a, jn, sizeof(jn), jns, sizeof(jns));
	if (!job) {
		/* Before Running: no run yet.  Running: the Job is gone. */
		in->run = task_phase_of(task) == REC_RUNNING ? REC_RUN_LOST : REC_RUN_NONE;
		return;
	}
	const char *why = NULL;
	bool complete = job_condition(job, "Complete", NULL);
	if (!complete && !job_condition(job, "Failed", &why)) {
		in->run = REC_RUN_ACTIVE;
		return;
	}
	if (task_phase_of(task) != REC_RUNNING) {
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
	if (o.end_reason) {
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
static bool job_of(struct kctl *k, json_object *task, json_object **job, char *jn, size_t jnl,
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
	json_object *job = NULL;
	if (!job_of(k, task, &job, jn, sizeof(jn), jns, sizeof(jns)))
		return 0;
	int rc = 0;
	if (job || jstr(jget(task, "status"), "jobName"))
		rc = delete_object(k, &KUBE_JOBS, jns, jn);
	if (rc == 0 && cm)
		rc = delete_object(k, &KUBE_CONFIGMAPS, jns, jn);
	return rc;
}

#define JOB_GONE_WAIT_MS (120 * 1000)

/* Delete the run's Job (foreground) and report it ending until it is
 * gone from the cache: its slot is not free before.  A Job that stays
 * longer than JOB_GONE_WAIT_MS after its deletion (a stuck garbage
 * collector) is given up on, with a warning. */
static int op_kill(void *b, json_object *task, const char *reason)
{
	(void)reason;
	struct kctl *k = b;
	char jn[256], jns[256];
	json_object *job = NULL;
	if (!job_of(k, task, &job, jn, sizeof(jn), jns, sizeof(jns)))
		return 0;
	int rc = 0;
	bool ended = job && (job_condition(job, "Complete", NULL) || job_condition(job, "Failed", NULL));
	if (ended) {
		(void)delete_object(k, &KUBE_JOBS, jns, jn); /* its pod has ended */
	} else if (job) {
		const char *dts = jstr(jget(job, "metadata"), "deletionTimestamp");
		int64_t since = dts ? jtime(jget(job, "metadata"), "deletionTimestamp") : 0;
		if (!dts) {
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

/* PUT status with the resourceVersion the decision was based on: a 409
 * refreshes the cache from the server and says -ESTALE (decide again). */
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
	json_object *updated = NULL;
	char err[512];
	int code = kube_update_status(k->kc, &KUBE_TASKS, copy, NULL, NULL, &updated, err,
				      sizeof(err));
	json_object_put(copy);
	int rc = 0;
	if (code == 200 && updated) {
		kube_informer_store(k->inf[INF_TASKS], updated);
		struct model_task view = { .ns = (char *)ns, .name = (char *)name,
					   .uid = (char *)jstr(md, "uid") };
		record_event(k, &view, jstr(jget(updated, "status"), "phase"), reason, message);
	} else if (code == 409) {
		char *path = kube_path(&KUBE_TASKS, ns, name, NULL, NULL);
		json_object *fresh = NULL;
		if (kube_request(k->kc, "GET", path, NULL, NULL, &fresh, err, sizeof(err)) == 200)
			kube_informer_store(k->inf[INF_TASKS], fresh);
		json_object_put(fresh);
		free(path);
		rc = -ESTALE;
	} else if (code == 404) {
		rc = -ENOENT;
	} else {
		log_error("status write failed", "namespace", ns, "task", name, "error", err);
		rc = -EIO;
	}
	json_object_put(updated);
	return rc;
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
		      kube_informer_synced(k->inf[INF_JOBS]);
	if (lead && !k->was_leading && synced) {
		ctl_enqueue_all(c); /* taking over: look at everything */
		k->was_leading = true;
	} else if (!lead) {
		k->was_leading = false;
	}
	if (k->m)
		metrics_set_api(k->m, kube_client_errors(k->kc), kube_client_retries(k->kc));
	return lead && synced && k->was_leading;
}

static int phase_count_cb(void *ctx, json_object *task)
{
	long *phases = ctx;
	int mp = model_phase_parse(rec_phase_name(task_phase_of(task)));
	if (mp >= 0 && mp < METRICS_N_PHASES)
		phases[mp]++;
	return 0;
}

static int queue_depth_cb(void *ctx, json_object *task)
{
	json_object *depths = ctx;
	if (task_phase_of(task) != REC_QUEUED)
		return 0;
	char key[320];
	model_task_agent_key(task, key, sizeof(key));
	json_object *v = NULL;
	long n = json_object_object_get_ex(depths, key[0] ? key : "(none)", &v) ?
			 (long)json_object_get_int64(v) : 0;
	json_object_object_add(depths, key[0] ? key : "(none)", json_object_new_int64(n + 1));
	return 0;
}

static void op_housekeeping(void *b, struct ctl *c)
{
	(void)c;
	struct kctl *k = b;
	int64_t mono = now_mono_ms();
	if (k->was_leading && mono - k->last_sweep_ms >= SWEEP_INTERVAL_MS) {
		k->last_sweep_ms = mono;
		sweep_orphans(k);
	}
	if (!k->m)
		return;
	long phases[METRICS_N_PHASES] = { 0 };
	kube_informer_foreach(k->inf[INF_TASKS], phase_count_cb, phases);
	metrics_set_phase_counts(k->m, phases);
	json_object *depths = json_object_new_object();
	kube_informer_foreach(k->inf[INF_TASKS], queue_depth_cb, depths);
	size_t n = (size_t)json_object_object_length(depths), i = 0;
	const char **keys = xcalloc(n + 1, sizeof(char *));
	long *vals = xcalloc(n + 1, sizeof(long));
	json_object_object_foreach(depths, dk, dv) {
		keys[i] = dk;
		vals[i++] = (long)json_object_get_int64(dv);
	}
	metrics_set_queue_depths(k->m, keys, vals, n);
	free(keys);
	free(vals);
	json_object_put(depths);
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
	.housekeeping = op_housekeeping,
	.start_first = true,
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
		(void)delete_object(k, &KUBE_JOBS, ns, name);
		(void)delete_object(k, &KUBE_CONFIGMAPS, ns, name);
	}
	json_object_put(o.found);
	json_object_put(o.uids);
}

/* ---- the loop ------------------------------------------------------------ */

static void on_event(void *ctx, struct kube_informer *inf, enum kube_event_type type,
		     json_object *obj)
{
	struct kctl *k = ctx;
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
	ctl_enqueue_all(k->ctl); /* an Agent changed: who waits for it may resolve differently */
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
	kube_informer_set_trim(k.inf[INF_JOBS], trim_job);
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
	log_info("controller stopping", "identity", k.identity);
	kube_lease_release(k.lease);
	if (k.m)
		metrics_set_leader(k.m, false);
	host_set_backend(NULL);
	ctl_free(c);
	for (int i = 0; i < N_INF; i++)
		kube_informer_free(k.inf[i]);
	kube_lease_free(k.lease);
	kube_client_free(k.kc);
	json_object_put(k.events);
	free(k.identity);
	free(k.lease_ns);
	return 0;
}

/* SPDX-License-Identifier: MIT */
#include "config.h"
#include "local/backend.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plugin/host.h"
#include "base/jsonutil.h"
#include "local/local.h"
#include "control/metrics.h"
#include "control/outputs.h"
#include "control/pipeline.h"
#include "control/reconcile.h"
#include "control/template.h"

#define TTL_SCAN_INTERVAL_MS 10000

/* ---- host backend: secrets and ConfigMaps from the store ------------ */

static int hb_secret_get(void *ctx, const char *ns, const char *name, const char *key, char **value,
			 size_t *len, char *err, size_t errlen)
{
	return store_secret_get(ctx, ns, name, key, value, len, err, errlen);
}

static int hb_object_get(void *ctx, const char *kind, const char *ns, const char *name,
			 struct paddock_object **out, char *err, size_t errlen)
{
	if (!str_eq(kind, "ConfigMap"))
		return errf(err, errlen, -ENOTSUP, "object kind \"%s\" is not available locally: use ConfigMap",
			    kind ? kind : "");
	return store_configmap_get(ctx, ns, name, out, err, errlen);
}

static int ls_secret_get(void *ctx, const char *ns, const char *name, const char *key, char **value,
			 size_t *len, char *err, size_t errlen)
{
	return store_secret_get(ctx, ns, name, key, value, len, err, errlen);
}

/* ---- open / lock ---------------------------------------------------- */

int runtime_open(const struct pd_config *cfg, const struct plugin_set *ps, struct runtime **out,
		 char *err, size_t errlen)
{
	const char *dir = cfg->state_dir;
	const char *env = getenv("PADDOCK_STATE_DIR");
	if (env && *env)
		dir = env;
	if (!dir)
		dir = store_default_dir();
	struct store *st = NULL;
	int rc = store_open(dir, &st, err, errlen);
	if (rc < 0)
		return rc;
	struct runtime *rt = xcalloc(1, sizeof(*rt));
	rt->cfg = cfg;
	rt->plugins = ps;
	rt->store = st;
	rt->state_dir = xstrdup(dir);
	rt->data_dir = pipeline_data_dir();
	rt->lock_fd = -1;
	static struct host_backend hb;
	hb.ctx = st;
	hb.secret_get = hb_secret_get;
	hb.object_get = hb_object_get;
	host_set_backend(&hb);
	*out = rt;
	return 0;
}

void runtime_close(struct runtime *rt)
{
	if (!rt)
		return;
	host_set_backend(NULL);
	store_close(rt->store);
	if (rt->lock_fd >= 0)
		close(rt->lock_fd);
	free(rt->state_dir);
	free(rt->data_dir);
	free(rt);
}

int runtime_lock(struct runtime *rt)
{
	if (rt->lock_fd >= 0)
		return 1;
	char *path = xasprintf("%s/controller.lock", rt->state_dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(path);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		close(fd);
		return e == EWOULDBLOCK ? 0 : -e;
	}
	rt->lock_fd = fd;
	return 1;
}

char *runtime_run_dir(const struct runtime *rt, json_object *task)
{
	const char *uid = jstr(jget(task, "metadata"), "uid");
	return xasprintf("%s/runs/%s", rt->state_dir, uid ? uid : "unknown");
}

/* ---- apply ---------------------------------------------------------- */

static int load_agent(struct runtime *rt, const char *ns, const char *name, struct model_agent **out)
{
	json_object *doc = NULL;
	int rc = store_get(rt->store, MODEL_AGENT, ns, name, &doc);
	if (rc < 0)
		return rc;
	char err[256];
	rc = model_agent_from_json(doc, out, err, sizeof(err));
	json_object_put(doc);
	return rc;
}

/* What no sandbox may see: the state directory (Secrets, other runs)
 * and the directory of the config file.  `cfgdir` is owned scratch. */
static void private_paths(const struct runtime *rt, const char *v[3], char **cfgdir)
{
	*cfgdir = NULL;
	if (rt->cfg->path) {
		*cfgdir = xstrdup(rt->cfg->path);
		char *sl = strrchr(*cfgdir, '/');
		if (sl && sl != *cfgdir)
			*sl = '\0';
		else if (!sl)
			snprintf(*cfgdir, strlen(*cfgdir) + 1, ".");
	}
	v[0] = rt->state_dir;
	v[1] = *cfgdir;
	v[2] = NULL;
}

/* An Agent's readOnlyPaths must not expose Paddock's own files. */
static int check_agent_binds(struct runtime *rt, const struct model_agent *a, char *err,
			     size_t errlen)
{
	const char *priv[3];
	char *cfgdir;
	int rc = 0;
	private_paths(rt, priv, &cfgdir);
	for (size_t i = 0; rc == 0 && i < a->ro_paths.n; i++) {
		char field[64];
		snprintf(field, sizeof(field), "spec.sandbox.readOnlyPaths[%zu]", i);
		rc = local_check_bind(a->ro_paths.v[i], priv, field, err, errlen);
	}
	free(cfgdir);
	return rc;
}

int runtime_apply(struct runtime *rt, json_object *doc, bool *created, enum model_kind *kind,
		  char *err, size_t errlen)
{
	struct model_limits lim = { .prompt_bytes = rt->cfg->limits.prompt_bytes };
	enum model_kind k;
	int rc = model_validate(doc, &lim, &k, err, errlen);
	if (rc < 0)
		return rc;
	if (k == MODEL_TASK) {
		struct model_task *t = NULL;
		struct model_agent *a = NULL;
		if ((rc = model_task_from_json(doc, &t, err, errlen)) < 0)
			return rc;
		int arc = t->agent_name ? load_agent(rt, t->agent_ns, t->agent_name, &a) : 0;
		rc = pipeline_check_task(rt->plugins, t, arc, a, err, errlen);
		model_agent_free(a);
		model_task_free(t);
		if (rc < 0)
			return rc;
	}
	if (k == MODEL_AGENT) {
		struct model_agent *a = NULL;
		if ((rc = model_agent_from_json(doc, &a, err, errlen)) < 0)
			return rc;
		rc = check_agent_binds(rt, a, err, errlen);
		model_agent_free(a);
		if (rc < 0)
			return rc;
	}
	rc = store_apply(rt->store, doc, k, created, err, errlen);
	if (rc == 0 && kind)
		*kind = k;
	return rc;
}

/* ---- status writes --------------------------------------------------- */

/* Copy of the task's status (or a fresh one) to modify. */
static json_object *status_copy(json_object *task)
{
	json_object *st = jget(task, "status");
	json_object *c = NULL;
	if (st && json_object_deep_copy(st, &c, NULL) == 0)
		return c;
	return json_object_new_object();
}

static int write_status(struct runtime *rt, json_object *task, json_object *st, const char *phase,
			const char *reason, const char *message)
{
	json_object *md = jget(task, "metadata");
	const char *ns = jstr(md, "namespace"), *name = jstr(md, "name");
	json_object_object_add(st, "phase", json_object_new_string(phase));
	json_object_object_add(st, "reason", json_object_new_string(reason ? reason : ""));
	json_object_object_add(st, "message", json_object_new_string(message ? message : ""));
	char err[512];
	int rc = store_set_status(rt->store, ns, name, st, reason, message, err, sizeof(err));
	if (rc < 0 && rc != -ENOENT)
		log_error("status write failed", "task", name, "namespace", ns, "error", err);
	else if (rc == 0)
		rt->status_writes++;
	if (rc == 0)
		log_info("task phase", "namespace", ns, "task", name, "phase", phase, "reason",
			 reason ? reason : "", "message", message ? message : "");
	json_object_put(st);
	return rc;
}

/* ---- the run's stream sink (runs in the supervisor) ------------------ */

static void sink_line(void *ctx, const char *line, size_t len)
{
	pipeline_sink_line(ctx, line, len);
}

static void sink_finish(void *ctx, int exit_code, struct buf *out)
{
	json_object *o = pipeline_sink_finish(ctx, exit_code);
	buf_puts(out, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
}

/* ---- starting a run -------------------------------------------------- */

struct dep_lookup {
	struct runtime *rt;
	const char *ns;
	json_object *cache; /* name -> task doc */
};

static int dep_result(void *ctx, const char *dep, const char *key, const char **value, char *avail,
		      size_t availlen)
{
	struct dep_lookup *d = ctx;
	json_object *task = jget(d->cache, dep);
	if (!task) {
		if (store_get(d->rt->store, MODEL_TASK, d->ns, dep, &task) < 0) {
			snprintf(avail, availlen, "%s", "");
			return -ENOENT;
		}
		json_object_object_add(d->cache, dep, task);
	}
	json_object *res = jget(jget(task, "status"), "results");
	const char *v = jstr(res, key);
	if (v) {
		*value = v;
		return 0;
	}
	avail[0] = '\0';
	if (res) {
		json_object_object_foreach(res, k, val) {
			(void)val;
			size_t l = strlen(avail);
			snprintf(avail + l, availlen - l, "%s%s", l ? ", " : "", k);
		}
	}
	return -ENODATA;
}

static bool is_entrypoint_placeholder(const char *cmd)
{
	return str_eq(cmd, "/paddock_entrypoint.sh");
}

/* Prepare and start the run of `task`.  Returns 0, or a negative errno
 * with the reason (a failure of this task, not of the controller). */
static int start_run(struct runtime *rt, json_object *task, const struct model_task *t,
		     const struct model_agent *a, char *err, size_t errlen)
{
	struct pipeline_eff e;
	pipeline_effective(t, a, &e);
	char *prompt = NULL, *task_md = NULL, *run_dir = NULL, *entry = NULL, *lib = NULL;
	struct run_plan plan;
	plan_init(&plan, e.run_ns, rt->cfg->limits.context_item_bytes,
		  rt->cfg->limits.context_total_bytes);
	struct pipeline_sink sc = { 0 };
	struct dep_lookup dl = { rt, t->ns, json_object_new_object() };
	int rc = tmpl_render(t->prompt, dep_result, &dl, rt->cfg->limits.prompt_bytes, &prompt, err,
			     errlen);
	if (rc < 0)
		goto out;
	if ((rc = pipeline_plan(rt->cfg, rt->plugins, t, a, prompt, &plan, err, errlen)) < 0)
		goto out;
	task_md = plan_render_task_md(&plan, prompt);
	run_dir = runtime_run_dir(rt, task);
	if (is_entrypoint_placeholder(plan.command)) {
		entry = xasprintf("%s/drivers/%s/paddock_entrypoint.sh", rt->data_dir, e.driver);
		if (access(entry, R_OK) < 0) {
			rc = errf(err, errlen, -ENOENT,
				  "entrypoint script %s for driver %s not found: reinstall paddock or set PADDOCK_DATA_DIR",
				  entry, e.driver);
			goto out;
		}
	}
	lib = xasprintf("%s/drivers/paddock_lib.sh", rt->data_dir);
	if (access(lib, R_OK) < 0) {
		rc = errf(err, errlen, -ENOENT,
			  "entrypoint library %s not found: reinstall paddock or set PADDOCK_DATA_DIR", lib);
		goto out;
	}

	pipeline_sink_init(&sc, rt->cfg, rt->plugins, e.driver);
	struct local_sink sink = { &sc, sink_line, sink_finish };
	struct local_secrets secrets = { rt->store, ls_secret_get };
	const char *const *ro = a ? (const char *const *)a->ro_paths.v : NULL;
	char *git_locks = xasprintf("%s/git-slots", rt->state_dir);
	(void)mkdir_p(git_locks, 0700);
	char *uid_slots = xasprintf("%s/uid-slots", rt->state_dir);
	struct run_limits lim;
	pipeline_limits(rt->cfg, t, a, &lim);
	const char *priv[3];
	char *cfgdir;
	private_paths(rt, priv, &cfgdir);
	struct local_spec spec = {
		.run_dir = run_dir,
		.plan = &plan,
		.task_md = task_md,
		.entrypoint_path = entry,
		.lib_path = lib,
		.isolation = !str_eq(rt->cfg->isolation, "none"),
		.ro_paths = ro,
		.timeout_s = t->timeout_s > 0 ? t->timeout_s : rt->cfg->limits.default_task_timeout,
		.log_cap = rt->cfg->limits.log_bytes_per_run,
		.git_timeout_s = rt->cfg->limits.git_timeout_seconds,
		.git_lock_dir = git_locks,
		.git_max_concurrent = (int)rt->cfg->limits.concurrent_clones,
		.ns = e.run_ns,
		.secrets = &secrets,
		.sink = &sink,
		.uid_slot_dir = uid_slots,
		.uid_base = rt->cfg->sandbox_uid_base,
		.uid_count = rt->cfg->sandbox_uid_count,
		.limits = &lim,
		.private_paths = priv,
	};
	/* A crash between prepare and start leaves a half-made run dir:
	 * nothing ran yet, so it is safe to make it again. */
	struct local_obs obs = { 0 };
	if (local_observe(run_dir, &obs) == 0 && obs.state == LOCAL_NONE)
		rm_rf(run_dir);
	local_obs_free(&obs);
	rc = local_prepare(&spec, err, errlen);
	if (rc == 0)
		rc = local_start(&spec, err, errlen);
	free(git_locks);
	free(uid_slots);
	free(cfgdir);
out:
	pipeline_sink_free(&sc);
	json_object_put(dl.cache);
	plan_free(&plan);
	free(prompt);
	free(task_md);
	free(run_dir);
	free(entry);
	free(lib);
	return rc;
}

/* ---- reconcile one task ----------------------------------------------- */

struct deps_graph {
	struct runtime *rt;
	const char *ns;
	struct model_task *cur; /* last loaded, owns the deps array handed out */
};

static int graph_deps(void *ctx, const char *name, const char *const **deps, size_t *n)
{
	struct deps_graph *g = ctx;
	model_task_free(g->cur);
	g->cur = NULL;
	json_object *doc = NULL;
	if (store_get(g->rt->store, MODEL_TASK, g->ns, name, &doc) < 0)
		return -ENOENT;
	char err[128];
	int rc = model_task_from_json(doc, &g->cur, err, sizeof(err));
	json_object_put(doc);
	if (rc < 0)
		return -ENOENT;
	*deps = (const char *const *)g->cur->deps.v;
	*n = g->cur->deps.n;
	return 0;
}

static int lk_task_phase(void *ctx, const char *ns, const char *name, enum rec_phase *ph)
{
	struct deps_graph *g = ctx;
	json_object *dep = NULL;
	if (store_get(g->rt->store, MODEL_TASK, ns, name, &dep) < 0)
		return -ENOENT;
	*ph = REC_PENDING;
	rec_phase_parse(jstr(jget(dep, "status"), "phase") ?: "Pending", ph);
	json_object_put(dep);
	return 0;
}

static int lk_agent(void *ctx, const char *ns, const char *name, struct model_agent **out)
{
	struct deps_graph *g = ctx;
	return load_agent(g->rt, ns, name, out);
}

static int lk_secret(void *ctx, const char *ns, const char *name, const char *key, char *err,
		     size_t errlen)
{
	struct deps_graph *g = ctx;
	char *v = NULL;
	size_t vl = 0;
	int rc = store_secret_get(g->rt->store, ns, name, key, &v, &vl, err, errlen);
	secure_free(v, vl);
	return rc;
}

/* Fill the run observation of a Running task. */
static void observe_run(struct runtime *rt, json_object *task, struct rec_input *in,
			struct local_obs *obs, json_object **result)
{
	char *run_dir = runtime_run_dir(rt, task);
	if (local_observe(run_dir, obs) < 0)
		obs->state = LOCAL_LOST;
	free(run_dir);
	switch (obs->state) {
	case LOCAL_NONE: in->run = REC_RUN_NONE; break;
	case LOCAL_RUNNING: in->run = REC_RUN_ACTIVE; break;
	case LOCAL_LOST: in->run = REC_RUN_LOST; break;
	case LOCAL_EXITED:
		in->run = REC_RUN_EXITED;
		in->exit_code = obs->term_signal ? -obs->term_signal : obs->exit_code;
		in->run_end_reason = obs->end_reason[0] ? obs->end_reason : NULL;
		in->run_end_message = obs->end_message[0] ? obs->end_message : NULL;
		*result = obs->result_json ? json_tokener_parse(obs->result_json) : NULL;
		if (*result) {
			json_object *oc = jget(*result, "outcome");
			in->outcome = oc ? json_object_get_int(oc) : 0;
			in->run_error = jstr(*result, "error");
		}
		break;
	}
}

/* Metrics of a run that has just finished (controller only). */
static void observe_finished(struct runtime *rt, const struct model_task *t,
			     const struct model_agent *a, json_object *result, const struct local_obs *obs)
{
	if (!rt->metrics)
		return;
	struct model_agent *own = NULL;
	if (!a && t->agent_name && load_agent(rt, t->agent_ns, t->agent_name, &own) == 0)
		a = own;
	struct pipeline_eff e;
	pipeline_effective(t, a, &e);
	pipeline_count_run(rt->metrics, e.driver, result, obs->start_ms, obs->end_ms);
	metrics_run_resources(rt->metrics, obs->end_reason, obs->cpu_seconds);
	model_agent_free(own);
}

/* What the run's cgroup measured, beside the agent's own token counts. */
static void add_run_usage(json_object *st, const struct local_obs *obs)
{
	if (obs->state != LOCAL_EXITED || (obs->cpu_seconds <= 0 && obs->memory_peak <= 0))
		return;
	json_object *u = jget(st, "usage");
	if (!u) {
		u = json_object_new_object();
		json_object_object_add(st, "usage", u);
	}
	if (obs->cpu_seconds > 0) {
		char v[32];
		snprintf(v, sizeof(v), "%.3f", obs->cpu_seconds);
		json_object_object_add(u, "cpuSeconds", json_object_new_double_s(obs->cpu_seconds, v));
	}
	if (obs->memory_peak > 0)
		json_object_object_add(u, "memoryPeakBytes", json_object_new_int64(obs->memory_peak));
}

struct reconcile_ctx {
	bool admit;          /* the task is a queue head being considered */
	long agent_running, agent_max, global_running, global_max;
	int64_t next_ms;
	bool started;
};

static void reconcile_task(struct runtime *rt, json_object *task, struct reconcile_ctx *rc_ctx)
{
	char err[1024] = "";
	struct model_task *t = NULL;
	struct model_agent *a = NULL;
	json_object *result = NULL;
	struct local_obs obs = { 0 };
	struct deps_graph g = { rt, NULL, NULL };
	json_object *md = jget(task, "metadata");
	if (model_task_from_json(task, &t, err, sizeof(err)) < 0) {
		log_error("unreadable task", "task", jstr(md, "name"), "error", err);
		return;
	}
	g.ns = t->ns;
	json_object *st = jget(task, "status");
	struct rec_input in;
	pipeline_rec_input(rt->cfg, task, t, &in);
	enum rec_phase ph = in.phase;

	struct pipeline_resolution res = { 0 };
	if (!rec_phase_terminal(ph) && ph != REC_RUNNING) {
		const struct pipeline_lookup lk = { &g, lk_task_phase, graph_deps, lk_agent, lk_secret };
		pipeline_resolve(rt->plugins, t, &lk, &in, &res);
		a = res.agent;
		res.agent = NULL;
	}
	in.agent_running = rc_ctx->agent_running;
	in.agent_max = rc_ctx->agent_max;
	in.global_running = rc_ctx->global_running;
	in.global_max = rc_ctx->global_max;
	in.head_of_queue = rc_ctx->admit;
	if (ph == REC_RUNNING)
		observe_run(rt, task, &in, &obs, &result);

	/* A Running task whose run never started (the controller died
	 * between recording Running and starting it): start it now. */
	if (ph == REC_RUNNING && in.run == REC_RUN_NONE && !in.stop_requested) {
		if (a == NULL && t->agent_name)
			load_agent(rt, t->agent_ns, t->agent_name, &a);
		if (start_run(rt, task, t, a, err, sizeof(err)) < 0)
			write_status(rt, task, status_copy(task), "Failed", "StartFailed", err);
		goto out;
	}

	struct rec_decision d;
	rec_decide(&in, &d);
	if (d.requeue_after_ms > 0) {
		int64_t due = in.now_ms + d.requeue_after_ms;
		if (rc_ctx->next_ms == 0 || due < rc_ctx->next_ms)
			rc_ctx->next_ms = due;
	}
	const char *old_reason = jstr(st, "reason");
	switch (d.action) {
	case REC_NOOP:
		break;
	case REC_SET_PHASE: {
		bool same = d.phase == ph && str_eq(old_reason, d.reason) &&
			    str_eq(jstr(st, "message"), d.message);
		if (same)
			break;
		json_object *ns_st = status_copy(task);
		bool finished = rec_phase_terminal(d.phase);
		if (finished) {
			jset_time(ns_st, "completionTime", in.now_ms);
			if (result)
				pipeline_fill_results(ns_st, t, result, obs.exit_code, obs.start_ms,
						      obs.end_ms);
			add_run_usage(ns_st, &obs);
		}
		if (write_status(rt, task, ns_st, rec_phase_name(d.phase), d.reason, d.message) == 0 &&
		    finished && ph == REC_RUNNING)
			observe_finished(rt, t, a, result, &obs);
		break;
	}
	case REC_START: {
		/* Record the intent first: a crash after this restarts the run
		 * (see above); a crash before leaves the task Queued.  Either
		 * way it runs once. */
		json_object *ns_st = status_copy(task);
		jset_time(ns_st, "startTime", in.now_ms);
		json_object_object_add(ns_st, "runId", json_object_new_string(t->uid ? t->uid : ""));
		if (write_status(rt, task, ns_st, "Running", d.reason, d.message) < 0)
			break;
		rc_ctx->started = true;
		json_object *fresh = NULL;
		if (store_get(rt->store, MODEL_TASK, t->ns, t->name, &fresh) < 0)
			break;
		if (start_run(rt, fresh, t, a, err, sizeof(err)) < 0) {
			log_warn("start failed", "namespace", t->ns, "task", t->name, "error", err);
			write_status(rt, fresh, status_copy(fresh), "Failed", "StartFailed", err);
		}
		json_object_put(fresh);
		break;
	}
	case REC_KILL: {
		char *run_dir = runtime_run_dir(rt, task);
		int r = local_stop(run_dir, str_eq(d.reason, "Timeout") ? LOCAL_STOP_TIMEOUT : LOCAL_STOP_USER);
		free(run_dir);
		if (r == -ESRCH || r == -ENOENT) {
			json_object *ns_st = status_copy(task);
			jset_time(ns_st, "completionTime", in.now_ms);
			write_status(rt, task, ns_st, d.reason && !strcmp(d.reason, "Stopped") ? "Stopped" : "Failed",
				     d.reason, d.message);
		}
		if (rc_ctx->next_ms == 0 || in.now_ms + 500 < rc_ctx->next_ms)
			rc_ctx->next_ms = in.now_ms + 500;
		break;
	}
	case REC_DELETE: {
		/* The task goes even if its run dir cannot: sweep_orphans()
		 * tries that again. */
		char *run_dir = runtime_run_dir(rt, task);
		if (local_cleanup(run_dir, err, sizeof(err)) < 0)
			log_warn("run directory left after TTL deletion: retried later", "namespace", t->ns, "task",
				 t->name, "error", err);
		free(run_dir);
		store_delete(rt->store, MODEL_TASK, t->ns, t->name, err, sizeof(err));
		log_info("task deleted after TTL", "namespace", t->ns, "task", t->name);
		break;
	}
	}
out:
	if (result)
		json_object_put(result);
	local_obs_free(&obs);
	model_task_free(g.cur);
	model_agent_free(a);
	model_task_free(t);
}

/* ---- the pass ------------------------------------------------------- */

struct collect {
	json_object **v;
	size_t n, alloc;
};

static int collect_cb(json_object *obj, void *ctx)
{
	struct collect *c = ctx;
	if (c->n == c->alloc) {
		c->alloc = c->alloc ? c->alloc * 2 : 16;
		c->v = xrealloc(c->v, c->alloc * sizeof(*c->v));
	}
	c->v[c->n++] = json_object_get(obj);
	return 0;
}

static void collect_free(struct collect *c)
{
	for (size_t i = 0; i < c->n; i++)
		json_object_put(c->v[i]);
	free(c->v);
	memset(c, 0, sizeof(*c));
}

static long agent_limit(struct runtime *rt, const char *agent_key)
{
	if (!agent_key || !*agent_key)
		return 0;
	const char *slash = strchr(agent_key, '/');
	if (!slash)
		return 0;
	char *ns = xstrndup(agent_key, (size_t)(slash - agent_key));
	struct model_agent *a = NULL;
	long max = 0;
	if (load_agent(rt, ns, slash + 1, &a) == 0)
		max = a->max_concurrent;
	model_agent_free(a);
	free(ns);
	return max;
}

/* Admission: repeatedly take the oldest queue head whose Agent has a free
 * slot, while the global limit allows.  Each step costs one indexed
 * lookup per Agent, whatever the queue length (docs/lifecycle.md). */
static void admit(struct runtime *rt, struct reconcile_ctx *base)
{
	struct collect agents = { 0 };
	store_list(rt->store, MODEL_AGENT, NULL, collect_cb, &agents);
	size_t nkeys = agents.n + 1;
	char **keys = xcalloc(nkeys, sizeof(char *));
	long *limits = xcalloc(nkeys, sizeof(long));
	keys[0] = xstrdup("");
	for (size_t i = 0; i < agents.n; i++) {
		json_object *md = jget(agents.v[i], "metadata");
		keys[i + 1] = xasprintf("%s/%s", jstr(md, "namespace"), jstr(md, "name"));
		limits[i + 1] = agent_limit(rt, keys[i + 1]);
	}
	long global_max = rt->cfg->limits.max_concurrent_tasks;
	for (int guard = 0; guard < 10000; guard++) {
		long global_running = store_count_phase(rt->store, MODEL_PHASE_RUNNING, NULL);
		if (global_max > 0 && global_running >= global_max)
			break;
		json_object *best = NULL;
		size_t best_i = 0;
		int64_t best_seq = 0;
		for (size_t i = 0; i < nkeys; i++) {
			long running = store_count_phase(rt->store, MODEL_PHASE_RUNNING, keys[i]);
			if (limits[i] > 0 && running >= limits[i])
				continue;
			json_object *head = NULL;
			if (store_next_queued(rt->store, keys[i], &head) < 0)
				continue;
			/* Heads of different Agents are compared by creation time
			 * (milliseconds); within an Agent the store's sequence
			 * already decided. */
			int64_t order = jtime(jget(head, "metadata"), "creationTimestamp");
			if (!best || order < best_seq) {
				if (best)
					json_object_put(best);
				best = head;
				best_i = i;
				best_seq = order;
			} else {
				json_object_put(head);
			}
		}
		if (!best)
			break;
		struct reconcile_ctx c = *base;
		c.admit = true;
		c.global_running = global_running;
		c.global_max = global_max;
		c.agent_max = limits[best_i];
		c.agent_running = store_count_phase(rt->store, MODEL_PHASE_RUNNING, keys[best_i]);
		c.started = false;
		reconcile_task(rt, best, &c);
		json_object_put(best);
		if (c.next_ms && (base->next_ms == 0 || c.next_ms < base->next_ms))
			base->next_ms = c.next_ms;
		if (!c.started)
			break; /* the head did not start (e.g. failed validation): look again next pass */
	}
	for (size_t i = 0; i < nkeys; i++)
		free(keys[i]);
	free(keys);
	free(limits);
	collect_free(&agents);
}

int runtime_observe(struct runtime *rt)
{
	unsigned long before = rt->status_writes;
	struct reconcile_ctx base = { 0 };
	base.global_max = rt->cfg->limits.max_concurrent_tasks;
	struct collect c = { 0 };
	store_list_phase(rt->store, MODEL_PHASE_RUNNING, collect_cb, &c);
	for (size_t i = 0; i < c.n; i++)
		reconcile_task(rt, c.v[i], &base);
	collect_free(&c);
	return (int)(rt->status_writes - before);
}

/* ---- orphaned run directories ---------------------------------------- */

#define ORPHAN_SWEEP_INTERVAL_MS 30000
#define ORPHAN_SWEEP_MAX 4 /* removals tried per sweep */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int collect_uid(json_object *obj, void *ctx)
{
	const char *uid = jstr(jget(obj, "metadata"), "uid");
	if (uid)
		strv_push(ctx, uid);
	return 0;
}

/* Run directories whose task is gone: their removal failed (a mount
 * point, an entry root may not remove) or an older version left them.
 * Every ORPHAN_SWEEP_INTERVAL_MS, try ORPHAN_SWEEP_MAX of them, going
 * round the directory (after the last one tried) so that stuck ones do
 * not starve the others; runs still running are left alone.  One log
 * line per attempt. */
static void sweep_orphans(struct runtime *rt, int64_t now)
{
	static int64_t last_ms; /* one controller per process */
	static char after[128]; /* the last directory tried */
	if (now - last_ms < ORPHAN_SWEEP_INTERVAL_MS)
		return;
	last_ms = now;
	struct strv dirs = { 0 }, uids = { 0 };
	char *runs = xasprintf("%s/runs", rt->state_dir);
	DIR *d = opendir(runs);
	struct dirent *e;
	struct stat st;
	while (d && (e = readdir(d))) {
		bool dir = e->d_type == DT_DIR;
		if (e->d_type == DT_UNKNOWN)
			dir = fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
		if (dir && e->d_name[0] != '.')
			strv_push(&dirs, e->d_name);
	}
	if (d)
		closedir(d);
	/* The tasks after the directories: a task is stored before its run
	 * dir is made.  No list, no sweep. */
	if (!dirs.n || store_list(rt->store, MODEL_TASK, NULL, collect_uid, &uids) < 0)
		goto out;
	qsort(dirs.v, dirs.n, sizeof(char *), cmp_str);
	if (uids.n)
		qsort(uids.v, uids.n, sizeof(char *), cmp_str);
	size_t start = 0;
	while (start < dirs.n && strcmp(dirs.v[start], after) <= 0)
		start++;
	int tried = 0;
	for (size_t k = 0; k < dirs.n && tried < ORPHAN_SWEEP_MAX; k++) {
		const char *name = dirs.v[(start + k) % dirs.n];
		if (uids.n && bsearch(&name, uids.v, uids.n, sizeof(char *), cmp_str))
			continue;
		char *dir = xasprintf("%s/%s", runs, name);
		char err[1024];
		int rc = local_cleanup(dir, err, sizeof(err));
		if (rc != -EBUSY) {
			tried++;
			snprintf(after, sizeof(after), "%s", name);
		}
		if (rc == 0)
			log_info("orphaned run directory removed", "dir", dir);
		else if (rc != -EBUSY)
			log_warn("cannot remove an orphaned run directory: retrying later", "dir", dir, "error", err);
		free(dir);
	}
out:
	strv_free(&dirs);
	strv_free(&uids);
	free(runs);
}

int runtime_tick(struct runtime *rt, int64_t *next_ms)
{
	struct reconcile_ctx base = { 0 };
	base.global_max = rt->cfg->limits.max_concurrent_tasks;
	static const enum model_phase active[] = { MODEL_PHASE_RUNNING, MODEL_PHASE_PENDING,
						   MODEL_PHASE_WAITING };
	for (size_t p = 0; p < ARRAY_SIZE(active); p++) {
		struct collect c = { 0 };
		store_list_phase(rt->store, active[p], collect_cb, &c);
		for (size_t i = 0; i < c.n; i++)
			reconcile_task(rt, c.v[i], &base);
		collect_free(&c);
	}
	admit(rt, &base);
	int64_t now = now_wall_ms();
	if (now - rt->last_ttl_scan_ms >= TTL_SCAN_INTERVAL_MS) {
		rt->last_ttl_scan_ms = now;
		static const enum model_phase done[] = { MODEL_PHASE_SUCCEEDED, MODEL_PHASE_FAILED,
							 MODEL_PHASE_STOPPED };
		for (size_t p = 0; p < ARRAY_SIZE(done); p++) {
			struct collect c = { 0 };
			store_list_phase(rt->store, done[p], collect_cb, &c);
			for (size_t i = 0; i < c.n; i++) {
				json_object *spec = jget(c.v[i], "spec");
				if (jget(spec, "ttlSecondsAfterFinished"))
					reconcile_task(rt, c.v[i], &base);
			}
			collect_free(&c);
		}
	}
	sweep_orphans(rt, now);
	if (next_ms)
		*next_ms = base.next_ms;
	return 0;
}

/* ---- stop / delete ------------------------------------------------------ */

int runtime_stop(struct runtime *rt, const char *ns, const char *name, char *err, size_t errlen)
{
	json_object *task = NULL;
	if (store_get(rt->store, MODEL_TASK, ns, name, &task) < 0)
		return errf(err, errlen, -ENOENT, "task \"%s/%s\" not found", ns, name);
	int rc = store_set_annotation(rt->store, MODEL_TASK, ns, name, MODEL_ANNOTATION_STOP, "true", err,
				      errlen);
	if (rc == 0) {
		enum rec_phase ph = REC_PENDING;
		rec_phase_parse(jstr(jget(task, "status"), "phase") ?: "Pending", &ph);
		if (ph == REC_RUNNING) {
			char *run_dir = runtime_run_dir(rt, task);
			(void)local_stop(run_dir, LOCAL_STOP_USER);
			free(run_dir);
		} else if (!rec_phase_terminal(ph)) {
			json_object *st = status_copy(task);
			jset_time(st, "completionTime", now_wall_ms());
			write_status(rt, task, st, "Stopped", "Stopped", "stopped before it started");
		}
	}
	json_object_put(task);
	return rc;
}

int runtime_delete(struct runtime *rt, enum model_kind kind, const char *ns, const char *name,
		   char *err, size_t errlen)
{
	char left[1024] = "";
	int lrc = 0;
	if (kind == MODEL_TASK) {
		json_object *task = NULL;
		if (store_get(rt->store, MODEL_TASK, ns, name, &task) == 0) {
			char *run_dir = runtime_run_dir(rt, task);
			struct local_obs obs = { 0 };
			if (local_observe(run_dir, &obs) == 0 && obs.state == LOCAL_RUNNING) {
				(void)local_stop(run_dir, LOCAL_STOP_USER);
				for (int i = 0; i < 100; i++) {
					local_obs_free(&obs);
					if (local_observe(run_dir, &obs) < 0 || obs.state != LOCAL_RUNNING)
						break;
					usleep(100 * 1000);
				}
			}
			local_obs_free(&obs);
			lrc = local_cleanup(run_dir, left, sizeof(left));
			free(run_dir);
			json_object_put(task);
		}
	}
	/* The task goes even if its run dir cannot (say so: the caller
	 * fails); a controller's sweep_orphans() tries that again. */
	int rc = store_delete(rt->store, kind, ns, name, err, errlen);
	if (rc == 0 && lrc < 0)
		rc = errf(err, errlen, lrc,
			  "task \"%s/%s\" deleted, but its run directory remains: %s; `paddock controller` "
			  "retries removing it",
			  ns, name, left);
	return rc;
}

/* ---- config check: is each driver's CLI visible in a sandbox? -------- */

int runtime_probe_cli(struct runtime *rt, const char *driver, char *err, size_t errlen)
{
	struct run_plan plan;
	plan_init(&plan, "default", 1 << 20, 1 << 20);
	char *run_dir = NULL, *uid_slots = NULL, *cfgdir = NULL, *log = NULL;
	const char *bin = NULL;
	/* A driver that needs more of a Task than this to say how it runs
	 * (exec: the Agent's command) has no CLI of its own to look up. */
	char e2[256];
	int rc = 0;
	if (pipeline_driver_entry(rt->plugins, driver, &plan, e2, sizeof(e2)) < 0)
		goto out;
	for (size_t i = 0; i < plan.n_env; i++)
		if (!strcmp(plan.env[i].name, "PADDOCK_AGENT_BIN"))
			bin = plan.env[i].value;
	if (!bin || !*bin)
		goto out; /* a driver without a CLI of its own (exec) */
	/* The driver's lookup, in the sandbox a run of it gets. */
	free(plan.command);
	plan.command = xstrdup("/bin/sh");
	strv_free(&plan.args);
	strv_push(&plan.args, "-c");
	strv_push(&plan.args, "p=$(command -v \"$PADDOCK_AGENT_BIN\") && [ -x \"$p\" ] && [ -r \"$p\" ] ||"
			      " { echo \"not found or not executable\"; exit 127; }");
	run_dir = xasprintf("%s/probes/%s-%d", rt->state_dir, driver, (int)getpid());
	uid_slots = xasprintf("%s/uid-slots", rt->state_dir);
	const char *priv[3];
	private_paths(rt, priv, &cfgdir);
	struct local_spec spec = {
		.run_dir = run_dir, .plan = &plan, .isolation = !str_eq(rt->cfg->isolation, "none"),
		.timeout_s = 30, .uid_slot_dir = uid_slots, .uid_base = rt->cfg->sandbox_uid_base,
		.uid_count = rt->cfg->sandbox_uid_count, .private_paths = priv,
	};
	(void)rm_rf(run_dir);
	if ((rc = local_prepare(&spec, err, errlen)) < 0 || (rc = local_start(&spec, err, errlen)) < 0)
		goto out;
	struct local_obs o = { 0 };
	for (int i = 0; i < 400; i++) {
		local_obs_free(&o);
		if (local_observe(run_dir, &o) < 0 || o.state == LOCAL_EXITED || o.state == LOCAL_LOST)
			break;
		usleep(25 * 1000);
	}
	int code = o.state == LOCAL_EXITED ? o.exit_code : -1;
	local_obs_free(&o);
	if (code != 0) {
		char *lp = xasprintf("%s/log", run_dir);
		(void)read_file(lp, 512, &log, NULL);
		free(lp);
		char *nl = log ? strchr(log, '\n') : NULL;
		if (nl)
			*nl = '\0';
		rc = errf(err, errlen, -ENOENT,
			  "drivers.%s: its CLI \"%s\" is not visible inside the sandbox (%s): make it readable and executable by every user (each run has a uid of its own), install it below /usr, or set drivers.%s.settings.bin to its absolute path",
			  driver, bin, log && *log ? log : "the probe did not finish", driver);
	}
out:
	if (run_dir)
		(void)rm_rf(run_dir);
	plan_free(&plan);
	free(run_dir);
	free(uid_slots);
	free(cfgdir);
	free(log);
	return rc;
}

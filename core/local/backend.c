/* SPDX-License-Identifier: MIT */
#include "config.h"
#include "local/backend.h"
#include "local/budget.h"
#include "local/schedule.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plugin/host.h"
#include "base/jsonutil.h"
#include "local/local.h"
#include "proxy/egress.h"
#include "proxy/traffic.h"
#include "control/controller.h"
#include "control/metrics.h"
#include "control/outputs.h"
#include "control/pipeline.h"
#include "control/reconcile.h"
#include "control/template.h"

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

static void watch_free(struct runtime *rt);
static void watch_run(struct runtime *rt, json_object *task);
static void watch_unrun(struct runtime *rt, json_object *task);
static char *task_key(json_object *task);
static struct start_wait *start_find(struct runtime *rt, const char *key);
static void start_wait_add(struct runtime *rt, json_object *task, int fd, pid_t sid);
static void start_drop(struct runtime *rt, struct start_wait *sw);
static bool start_read(struct runtime *rt, struct start_wait *sw);
static void start_settle(struct runtime *rt, struct start_wait *sw, int rc);

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
	/* network.allow is the proxy's to read: a bad entry stops us here,
	 * not every run later. */
	struct egress_policy pol = { .mode = EGRESS_ALLOWLIST };
	for (size_t i = 0; i < cfg->egress_allow.n; i++) {
		char perr[256];
		if (egress_policy_add(&pol, cfg->egress_allow.v[i], perr, sizeof(perr)) < 0) {
			egress_policy_free(&pol);
			store_close(st);
			return errf(err, errlen, -EINVAL, "%s: network.allow[%zu]: %s",
				    cfg->path ? cfg->path : "paddock.yaml", i, perr);
		}
	}
	egress_policy_free(&pol);
	struct runtime *rt = xcalloc(1, sizeof(*rt));
	rt->live.own = true; /* the controller writes Tasks */
	rt->cfg = cfg;
	rt->plugins = ps;
	rt->store = st;
	rt->state_dir = xstrdup(dir);
	rt->data_dir = pipeline_data_dir();
	rt->lock_fd = -1;
	rt->ep_fd = rt->ino_fd = rt->store_wd = -1;
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
	watch_free(rt);
	json_object_put(rt->kinds.m[0]);
	json_object_put(rt->kinds.m[1]);
	json_object_put(rt->live.m[0]);
	json_object_put(rt->live.m[1]);
	store_close(rt->store);
	ctl_free(rt->ctl);
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

/* Is cache c still what the store holds (emptied when not)?  Asked at
 * each lookup, against the store as it is now: an Agent applied while a
 * wake-up's reconciles run reaches the next one.  Outside the serving
 * loop (runtime_sync, the CLI) nothing is cached. */
static bool cache_fresh(struct runtime *rt, struct read_cache *c)
{
	int64_t dv = rt->serving ? store_data_version(rt->store) : -1;
	int64_t ch = c->own ? store_own_changes(rt->store) : 0;
	if (!rt->serving || dv != c->dv || ch != c->changes) {
		for (size_t i = 0; i < ARRAY_SIZE(c->m); i++) {
			json_object_put(c->m[i]);
			c->m[i] = NULL;
		}
		c->dv = dv;
		c->changes = ch;
	}
	if (!rt->serving)
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(c->m); i++)
		if (!c->m[i])
			c->m[i] = json_object_new_object();
	return true;
}

/* The Agent's document (a reference), or NULL with -ENOENT or the error. */
static json_object *agent_doc(struct runtime *rt, const char *ns, const char *name, int *rc)
{
	bool cached = cache_fresh(rt, &rt->kinds);
	char *key = xasprintf("%s/%s", ns ? ns : "", name ? name : "");
	json_object *doc = NULL;
	if (cached && json_object_object_get_ex(rt->kinds.m[0], key, &doc)) {
		*rc = doc ? 0 : -ENOENT;
		free(key);
		return json_object_get(doc);
	}
	*rc = store_get(rt->store, MODEL_AGENT, ns, name, &doc);
	if (*rc < 0)
		doc = NULL;
	if (cached && (*rc == 0 || *rc == -ENOENT))
		json_object_object_add(rt->kinds.m[0], key, json_object_get(doc));
	free(key);
	return doc;
}

static json_object *doc_copy(json_object *doc)
{
	json_object *c = NULL;
	return json_object_deep_copy(doc, &c, NULL) == 0 ? c : NULL;
}

/* The Task now (a copy the caller owns), or NULL. */
static json_object *task_get(struct runtime *rt, const char *ns, const char *name)
{
	bool cached = cache_fresh(rt, &rt->live);
	char *key = xasprintf("%s/%s", ns ? ns : "", name ? name : "");
	json_object *doc = NULL;
	if (cached && json_object_object_get_ex(rt->live.m[0], key, &doc)) {
		free(key);
		return doc ? doc_copy(doc) : NULL;
	}
	int rc = store_get(rt->store, MODEL_TASK, ns, name, &doc);
	if (rc < 0)
		doc = NULL;
	if (cached && (rc == 0 || rc == -ENOENT))
		json_object_object_add(rt->live.m[0], key, doc ? doc_copy(doc) : NULL);
	free(key);
	return doc;
}

static int collect_doc(json_object *obj, void *ctx)
{
	json_object_array_add(ctx, json_object_get(obj));
	return 0;
}

int runtime_budgets(struct runtime *rt, const char *ns, store_obj_cb cb, void *ctx)
{
	if (!cache_fresh(rt, &rt->kinds))
		return store_list(rt->store, MODEL_BUDGET, ns, cb, ctx);
	json_object *list = NULL;
	if (!json_object_object_get_ex(rt->kinds.m[1], ns ? ns : "", &list)) {
		list = json_object_new_array();
		int rc = store_list(rt->store, MODEL_BUDGET, ns, collect_doc, list);
		if (rc < 0) {
			json_object_put(list);
			return rc;
		}
		json_object_object_add(rt->kinds.m[1], ns ? ns : "", list);
	}
	/* A callback may write (not a Budget): iterate over our own reference. */
	json_object_get(list);
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < json_object_array_length(list); i++)
		rc = cb(json_object_array_get_idx(list, i), ctx);
	json_object_put(list);
	return rc;
}

static int load_agent(struct runtime *rt, const char *ns, const char *name, struct model_agent **out)
{
	int rc = 0;
	json_object *doc = agent_doc(rt, ns, name, &rc);
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

int runtime_apply(struct runtime *rt, json_object *doc, enum store_applied *res,
		  enum model_kind *kind, char *err, size_t errlen)
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
		rc = pipeline_check_task(rt->cfg, rt->plugins, t, arc, a, err, errlen);
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
		if (rc == 0)
			rc = pipeline_check_network(rt->cfg, a, err, errlen);
		model_agent_free(a);
		if (rc < 0)
			return rc;
	}
	rc = store_apply_result(rt->store, doc, k, res, err, errlen);
	if (rc == 0 && kind)
		*kind = k;
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
		     const struct model_agent *a, int *sfd, pid_t *sid, char *err, size_t errlen)
{
	struct pipeline_eff e;
	pipeline_effective(t, a, &e);
	char *prompt = NULL, *task_md = NULL, *run_dir = NULL, *entry = NULL, *lib = NULL;
	struct run_plan plan;
	plan_init(&plan, e.run_ns, rt->cfg->limits.context_item_bytes,
		  rt->cfg->limits.context_total_bytes);
	struct pipeline_sink sc = { 0 };
	struct pipeline_net net = { 0 };
	struct dep_lookup dl = { rt, t->ns, json_object_new_object() };
	int rc = tmpl_render(t->prompt, dep_result, &dl, rt->cfg->limits.prompt_bytes, &prompt, err,
			     errlen);
	if (rc < 0)
		goto out;
	if ((rc = pipeline_egress(rt->cfg, t, a, &net, err, errlen)) < 0)
		goto out;
	/* Behind the proxy (allowlist, as root) the model credential goes
	 * through it: the agent gets a placeholder (plugin ABI 1.1). */
	bool isolated = !str_eq(rt->cfg->isolation, "none");
	if (net.mode == EGRESS_ALLOWLIST && isolated && geteuid() == 0)
		plan_offer_route(&plan, LOCAL_ROUTE_ENDPOINT);
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
	/* The supervisor, a fresh program, builds the driver's parser itself:
	 * nothing of this process parses the agent's output. */
	const struct loaded_plugin *dp = plugins_driver(rt->plugins, e.driver);
	const struct local_sink_rebuild rebuild = { e.driver, rt->cfg->path,
						    (const char *const *)rt->cfg->plugin_dirs.v,
						    dp ? dp->path : NULL };
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
		.isolation = isolated,
		.ro_paths = ro,
		.timeout_s = t->timeout_s > 0 ? t->timeout_s : rt->cfg->limits.default_task_timeout,
		.log_cap = rt->cfg->limits.log_bytes_per_run,
		.git_timeout_s = rt->cfg->limits.git_timeout_seconds,
		.git_lock_dir = git_locks,
		.git_max_concurrent = (int)rt->cfg->limits.concurrent_clones,
		.git_hosts = &rt->cfg->git,
		.ns = e.run_ns,
		.secrets = &secrets,
		.sink = &sink,
		.uid_slot_dir = uid_slots,
		.uid_base = rt->cfg->sandbox_uid_base,
		.uid_count = rt->cfg->sandbox_uid_count,
		.limits = &lim,
		.private_paths = priv,
		.sink_rebuild = &rebuild,
		.net = {
			.mode = net.mode == EGRESS_NONE	       ? LOCAL_NET_NONE
				: net.mode == EGRESS_ALLOWLIST ? LOCAL_NET_PROXY
							       : LOCAL_NET_HOST,
			.allow = (const char *const *)net.allow.v,
			.allow_loopback = rt->cfg->allow_loopback,
			.allow_private = rt->cfg->allow_private,
			.route_upstream = plan.route ? plan.route->upstream : NULL,
			.route_header = plan.route ? plan.route->header : NULL,
			.route_prefix = plan.route ? plan.route->prefix : NULL,
			.route_placeholder = plan.route ? plan.route_placeholder : NULL,
		},
	};
	/* A crash between prepare and start leaves a half-made run dir:
	 * nothing ran yet, so it is safe to make it again. */
	struct local_obs obs = { 0 };
	if (local_observe(run_dir, &obs) == 0 && obs.state == LOCAL_NONE)
		rm_rf(run_dir);
	local_obs_free(&obs);
	rc = local_prepare(&spec, err, errlen);
	if (rc == 0)
		rc = local_start_async(&spec, sfd, sid, err, errlen);
	free(git_locks);
	free(uid_slots);
	free(cfgdir);
out:
	pipeline_sink_free(&sc);
	pipeline_net_free(&net);
	json_object_put(dl.cache);
	plan_free(&plan);
	free(prompt);
	free(task_md);
	free(run_dir);
	free(entry);
	free(lib);
	return rc;
}

/* ---- the controller's operations on the local store and runs ---------- */

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
	(void)rec_phase_parse(jstr(jget(dep, "status"), "phase") ?: "Pending", ph);
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

static json_object *op_get(void *b, const char *ns, const char *name)
{
	return task_get(b, ns, name);
}

struct list_ctx {
	struct ctl *c;
	ctl_task_cb cb;
};

static int list_cb(json_object *obj, void *ctx)
{
	struct list_ctx *l = ctx;
	l->cb(l->c, obj);
	return 0;
}

static int op_list(void *b, enum rec_phase phase, ctl_task_cb cb, struct ctl *c)
{
	struct runtime *rt = b;
	int mp = model_phase_parse(rec_phase_name(phase));
	if (mp < 0)
		return -EINVAL;
	struct list_ctx l = { c, cb };
	return store_list_phase(rt->store, (enum model_phase)mp, list_cb, &l);
}

static int op_list_deleting(void *b, ctl_task_cb cb, struct ctl *c)
{
	struct runtime *rt = b;
	struct list_ctx l = { c, cb };
	return store_list_deleting(rt->store, list_cb, &l);
}

/* Local Tasks passed `paddock apply`'s checks when stored. */
static int op_view(void *b, json_object *task, enum rec_phase phase, struct model_task **t,
		   char *invalid, size_t invlen)
{
	(void)b;
	(void)phase;
	int rc = model_task_from_json(task, t, invalid, invlen);
	if (rc == 0)
		invalid[0] = '\0';
	return rc;
}

static void op_lookup(void *b, const char *ns, bool with_secret, struct pipeline_lookup *lk)
{
	(void)with_secret; /* a local Secret costs one indexed read */
	struct deps_graph *g = xcalloc(1, sizeof(*g));
	g->rt = b;
	g->ns = ns;
	*lk = (struct pipeline_lookup){ g, lk_task_phase, graph_deps, lk_agent, lk_secret };
}

static void op_lookup_done(void *b, struct pipeline_lookup *lk)
{
	(void)b;
	struct deps_graph *g = lk->ctx;
	if (g)
		model_task_free(g->cur);
	free(g);
	lk->ctx = NULL;
}

static long op_running(void *b, const char *agent_key)
{
	struct runtime *rt = b;
	bool cached = cache_fresh(rt, &rt->live);
	json_object *v = NULL;
	if (cached && json_object_object_get_ex(rt->live.m[1], agent_key ? agent_key : "", &v))
		return (long)json_object_get_int64(v);
	long n = store_count_phase(rt->store, MODEL_PHASE_RUNNING, agent_key);
	if (n < 0)
		return LONG_MAX; /* unknown: admit nothing */
	if (cached)
		json_object_object_add(rt->live.m[1], agent_key ? agent_key : "",
				       json_object_new_int64(n));
	return n;
}

static long op_agent_max(void *b, const char *agent_key)
{
	struct runtime *rt = b;
	const char *slash = agent_key ? strchr(agent_key, '/') : NULL;
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

static int op_queued_agents(void *b, struct strv *keys)
{
	struct runtime *rt = b;
	return store_queued_agents(rt->store, keys);
}

static json_object *op_queue_head(void *b, const char *agent_key)
{
	struct runtime *rt = b;
	json_object *head = NULL;
	return store_next_queued(rt->store, agent_key, &head) == 0 ? head : NULL;
}

/* An ended run's traffic per allowed host (RUN_DIR/egress-traffic.json,
 * written by its supervisor): what a supervisor that died before its
 * summary line left. */
static json_object *saved_traffic(const char *run_dir)
{
	char *path = xasprintf("%s/" LOCAL_EGRESS_TRAFFIC, run_dir);
	char *data = NULL;
	size_t len = 0;
	json_object *doc = read_file(path, 1 << 20, &data, &len) == 0 ? json_tokener_parse(data) : NULL;
	free(data);
	free(path);
	return doc;
}

struct egress_report_ctx {
	struct runtime *rt;
	const struct model_task *t;
};

static void egress_report(void *ctx, const char *reason, const char *message)
{
	struct egress_report_ctx *rc = ctx;
	char err[256];
	(void)store_add_event(rc->rt->store, rc->t->ns, rc->t->name, "Warning", reason, message, err,
			      sizeof(err));
}

/* The egress proxy's log of an ended run (RUN_DIR/egress.jsonl: its
 * refusals and its summary, the sidecar's lines) as Events on its task
 * and metrics, as the Kubernetes backend records its sidecar's
 * (metrics_egress_log); once (egress.recorded marks it). */
static void record_egress(struct runtime *rt, const struct model_task *t, const char *run_dir)
{
	char *path = xasprintf("%s/" LOCAL_EGRESS_EVENTS, run_dir);
	char *mark = xasprintf("%s/egress.recorded", run_dir);
	char agent[512];
	model_task_agent_key(t->obj, agent, sizeof(agent)); /* "ns/name", "" for spec.type */
	char *data = NULL;
	size_t len = 0;
	if (access(mark, F_OK) == 0 || read_file(path, 1 << 20, &data, &len) < 0)
		goto out;
	struct egress_log el;
	egress_log_parse(data, len, &el);
	if (!el.summary) { /* the lines hold refusals only */
		json_object_put(el.traffic);
		el.traffic = saved_traffic(run_dir);
	}
	struct egress_report_ctx rc = { rt, t };
	/* Recording nothing twice is harmless: a run that sent nothing and
	 * was refused nothing (every run without network use) leaves no
	 * mark, one file fewer to create per run. */
	if (metrics_egress_log(rt->metrics, agent, &el, path, egress_report, &rc))
		(void)write_file_atomic(mark, "", 0, 0600);
	egress_log_free(&el);
out:
	free(data);
	free(path);
	free(mark);
}

/* ---- starts the supervisor has not reported yet ----------------------- */

/* A run started with local_start_async(): its supervisor's report comes
 * on `fd`, watched by op_wait's epoll set.  "started" drops it (the run
 * is watched as any live run); a failure (or a supervisor that died
 * before reporting) is kept, with the reason, until the reconcile it
 * queues has recorded the task Failed (op_write_status).  One that does
 * not report by its deadline (stuck in its setup) has failed too, and
 * its session is killed (local_start_late). */
struct start_wait {
	struct start_wait *next;
	char *key, *run_dir;
	int fd;
	pid_t sid;          /* the supervisor's session */
	int64_t deadline;   /* now_mono_ms() by which it reports */
	int rc;         /* 1: waiting; < 0: failed, err says why */
	size_t len;
	char msg[256];
	char err[768];
};

/* How long a supervisor has to report; a test build may shorten it
 * (races.sh: a supervisor that hangs before reporting). */
static long start_report_ms(void)
{
#ifdef PADDOCK_TEST_HOOKS
	const char *v = getenv("PADDOCK_TEST_START_REPORT_MS");
	long ms = v ? strtol(v, NULL, 10) : 0;
	if (ms > 0)
		return ms;
#endif
	return LOCAL_START_REPORT_MS;
}

static char *task_key(json_object *task)
{
	json_object *md = jget(task, "metadata");
	return xasprintf("%s/%s", jstr(md, "namespace") ?: "", jstr(md, "name") ?: "");
}

static struct start_wait *start_find(struct runtime *rt, const char *key)
{
	for (struct start_wait *sw = rt->starts; sw; sw = sw->next)
		if (str_eq(sw->key, key))
			return sw;
	return NULL;
}

static void start_close(struct runtime *rt, struct start_wait *sw)
{
	if (sw->fd < 0)
		return;
	if (rt->ep_fd >= 0)
		(void)epoll_ctl(rt->ep_fd, EPOLL_CTL_DEL, sw->fd, NULL);
	(void)close(sw->fd);
	sw->fd = -1;
}

static void start_drop(struct runtime *rt, struct start_wait *sw)
{
	for (struct start_wait **pp = &rt->starts; *pp; pp = &(*pp)->next) {
		if (*pp == sw) {
			*pp = sw->next;
			break;
		}
	}
	start_close(rt, sw);
	free(sw->key);
	free(sw->run_dir);
	free(sw);
}

static void start_wait_add(struct runtime *rt, json_object *task, int fd, pid_t sid)
{
	struct start_wait *sw = xcalloc(1, sizeof(*sw));
	sw->key = task_key(task);
	sw->run_dir = runtime_run_dir(rt, task);
	sw->fd = fd;
	sw->sid = sid;
	sw->deadline = now_mono_ms() + start_report_ms();
	sw->rc = 1;
	sw->next = rt->starts;
	rt->starts = sw;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = sw };
	if (epoll_ctl(rt->ep_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		/* Cannot be watched: wait for the report here. */
		int rc = local_start_wait(fd, sw->msg, sizeof(sw->msg), &sw->len, sw->run_dir, sid,
					  start_report_ms(), sw->err, sizeof(sw->err));
		start_settle(rt, sw, rc);
	}
}

/* The report is complete (rc 0: started; < 0: failed, sw->err says why). */
static void start_settle(struct runtime *rt, struct start_wait *sw, int rc)
{
	start_close(rt, sw);
	if (rc == 0) {
		start_drop(rt, sw);
		return;
	}
	sw->rc = rc;
	log_warn("start failed", "task", sw->key, "error", sw->err);
	const char *sl = strchr(sw->key, '/');
	char ns[256];
	snprintf(ns, sizeof(ns), "%.*s", (int)(sl - sw->key), sw->key);
	if (rt->ctl)
		ctl_enqueue(rt->ctl, ns, sl + 1);
}

/* Read what the supervisor reported so far.  True while it has not (and
 * its deadline has not passed). */
static bool start_read(struct runtime *rt, struct start_wait *sw)
{
	if (sw->rc <= 0)
		return false;
	int rc = local_start_report(sw->fd, sw->msg, sizeof(sw->msg), &sw->len, sw->run_dir, sw->err,
				    sizeof(sw->err));
	if (rc > 0 && now_mono_ms() < sw->deadline)
		return true;
	if (rc > 0)
		rc = local_start_late(sw->run_dir, sw->sid, start_report_ms(), sw->err, sizeof(sw->err));
	start_settle(rt, sw, rc);
	return false;
}

/* Starts past their deadline fail; returns the ms until the next one's
 * (or `left` if that is sooner). */
static int start_expire(struct runtime *rt, int left)
{
	int64_t now = now_mono_ms();
	for (struct start_wait *sw = rt->starts, *next; sw; sw = next) {
		next = sw->next; /* start_read may drop it */
		if (sw->rc <= 0)
			continue;
		if (sw->deadline <= now)
			(void)start_read(rt, sw);
		else if (sw->deadline - now < left)
			left = (int)(sw->deadline - now);
	}
	return left;
}

static void op_observe(void *b, json_object *task, const struct model_task *t,
		       struct model_agent **a, struct rec_input *in, struct ctl_run *run)
{
	(void)t;
	(void)a;
	struct runtime *rt = b;
	/* A start not reported yet is a run starting; a failed one ends the
	 * task as the failure of a synchronous start did (StartFailed). */
	char *key = task_key(task);
	struct start_wait *sw = start_find(rt, key);
	if (sw && sw->rc > 0 && !start_read(rt, sw))
		sw = start_find(rt, key); /* gone when it reported started */
	free(key);
	if (sw && sw->rc < 0) {
		in->run = REC_RUN_EXITED;
		snprintf(run->end_reason, sizeof(run->end_reason), "StartFailed");
		snprintf(run->end_message, sizeof(run->end_message), "%s", sw->err);
		return;
	}
	struct local_obs obs = { 0 };
	char *run_dir = runtime_run_dir(rt, task);
	if (local_observe(run_dir, &obs) < 0)
		obs.state = LOCAL_LOST;
	free(run_dir);
	if (sw && sw->rc > 0 && obs.state == LOCAL_NONE)
		obs.state = LOCAL_RUNNING; /* its report is on the way */
	switch (obs.state) {
	case LOCAL_NONE: in->run = REC_RUN_NONE; break;
	case LOCAL_RUNNING:
		in->run = REC_RUN_ACTIVE;
		watch_run(rt, task);
		break;
	case LOCAL_LOST: in->run = REC_RUN_LOST; break;
	case LOCAL_EXITED:
		in->run = REC_RUN_EXITED;
		in->exit_code = obs.term_signal ? -obs.term_signal : obs.exit_code;
		run_dir = runtime_run_dir(rt, task);
		record_egress(rt, t, run_dir);
		free(run_dir);
		run->exit_code = obs.exit_code;
		run->start_ms = obs.start_ms;
		run->end_ms = obs.end_ms;
		run->cpu_seconds = obs.cpu_seconds;
		run->memory_peak = obs.memory_peak;
		snprintf(run->end_reason, sizeof(run->end_reason), "%s", obs.end_reason);
		snprintf(run->end_message, sizeof(run->end_message), "%s", obs.end_message);
		run->result = obs.result_json ? json_tokener_parse(obs.result_json) : NULL;
		if (run->result) {
			json_object *oc = jget(run->result, "outcome");
			in->outcome = oc ? json_object_get_int(oc) : 0;
			in->run_error = jstr(run->result, "error");
		}
		break;
	}
	local_obs_free(&obs);
}

static int op_start(void *b, json_object *task, const struct model_task *t,
		    const struct model_agent *a, json_object *patch, char *err, size_t errlen)
{
	(void)patch;
	struct runtime *rt = b;
	int sfd = -1;
	pid_t sid = 0;
	char *key = task_key(task);
	struct start_wait *old = start_find(rt, key);
	free(key);
	if (old)
		start_drop(rt, old); /* a failure already recorded, or a start redone */
	int rc = start_run(rt, task, t, a, &sfd, &sid, err, errlen);
	/* The supervisor reports through the loop (op_wait); outside
	 * `paddock controller` (runtime_sync), here. */
	if (rc == 0 && (!rt->serving || rt->ep_fd < 0)) {
		char msg[256], *run_dir = runtime_run_dir(rt, task);
		size_t len = 0;
		rc = local_start_wait(sfd, msg, sizeof(msg), &len, run_dir, sid, start_report_ms(), err,
				      errlen);
		free(run_dir);
		(void)close(sfd);
	} else if (rc == 0) {
		start_wait_add(rt, task, sfd, sid);
	}
	/* Started meanwhile (by a controller that died while starting it):
	 * that run is this task's run. */
	if (rc == 0 || rc == -EEXIST)
		watch_run(b, task);
	return rc == -EEXIST ? 0 : rc;
}

static int op_kill(void *b, json_object *task, const char *reason)
{
	struct runtime *rt = b;
	char *run_dir = runtime_run_dir(rt, task);
	struct local_obs obs = { 0 };
	int live = local_observe(run_dir, &obs) == 0 && obs.state == LOCAL_RUNNING;
	local_obs_free(&obs);
	if (live)
		(void)local_stop(run_dir, str_eq(reason, "Timeout")	   ? LOCAL_STOP_TIMEOUT :
					  str_eq(reason, "BudgetExceeded") ? LOCAL_STOP_BUDGET :
									     LOCAL_STOP_USER);
	free(run_dir);
	return live;
}

static int op_purge(void *b, json_object *task, char *err, size_t errlen)
{
	watch_unrun(b, task);
	char *key = task_key(task);
	struct start_wait *sw = start_find(b, key);
	free(key);
	if (sw)
		start_drop(b, sw);
	char *run_dir = runtime_run_dir(b, task);
	int rc = local_cleanup(run_dir, err, errlen);
	free(run_dir);
	return rc;
}

static int op_remove(void *b, json_object *task, char *err, size_t errlen)
{
	struct runtime *rt = b;
	json_object *md = jget(task, "metadata");
	return store_delete(rt->store, MODEL_TASK, jstr(md, "namespace"), jstr(md, "name"), err, errlen);
}

static int op_write_status(void *b, json_object *task, json_object *st, const char *reason,
			   const char *message)
{
	struct runtime *rt = b;
	json_object *md = jget(task, "metadata");
	char err[512];
	int rc = store_set_status_if(rt->store, jstr(md, "namespace"), jstr(md, "name"),
				     jstr(md, "resourceVersion"), st, reason, message, err, sizeof(err));
	/* A failed start is done with once its task is no longer Running. */
	if (rc == 0 && rt->starts && !str_eq(jstr(st, "phase"), "Running")) {
		char *key = task_key(task);
		struct start_wait *sw = start_find(rt, key);
		if (sw && sw->rc < 0)
			start_drop(rt, sw);
		free(key);
	}
	if (rc < 0 && rc != -ESTALE && rc != -ENOENT)
		log_error("status write failed", "namespace", jstr(md, "namespace"), "task",
			  jstr(md, "name"), "error", err);
	json_object_put(st);
	return rc;
}

/* ---- the watch: what changed in the store, and which runs ended -------- */

static int watch_task_cb(json_object *obj, void *ctx)
{
	struct runtime *rt = ctx;
	ctl_enqueue_task(rt->ctl, obj);
	const char *rv = jstr(jget(obj, "metadata"), "resourceVersion");
	int64_t v = rv ? strtoll(rv, NULL, 10) : 0;
	if (v > rt->watch_rv)
		rt->watch_rv = v;
	return 0;
}

static int ended_cb(json_object *obj, void *ctx)
{
	struct runtime *rt = ctx;
	char *run_dir = runtime_run_dir(rt, obj);
	struct local_obs obs = { 0 };
	if (local_observe(run_dir, &obs) < 0 || obs.state != LOCAL_RUNNING)
		ctl_enqueue_task(rt->ctl, obj);
	else
		watch_run(rt, obj);
	local_obs_free(&obs);
	free(run_dir);
	return 0;
}

/* Feed the controller what changed since the last look: Tasks written by
 * anyone (the store's resource versions), other kinds (an Agent or a
 * Secret changes what waiting tasks resolve to), and - `runs` - runs that
 * ended (a scan of the Running tasks: only when runs cannot be watched). */
static void poll_changes(struct runtime *rt, bool runs)
{
	int64_t dv = store_data_version(rt->store);
	if (dv != rt->watch_dv) {
		rt->watch_dv = dv;
		int64_t top = store_rv(rt->store);
		if (top > rt->watch_rv) {
			int64_t before = rt->watch_rv;
			(void)store_changed_tasks(rt->store, before, watch_task_cb, rt);
			/* Writes that were not Tasks (Agents, Secrets, ConfigMaps,
			 * deletions): every waiting task may resolve differently. */
			if (rt->watch_rv < top) {
				ctl_enqueue_all(rt->ctl);
				rt->watch_rv = top;
			}
		}
	}
	if (runs)
		(void)store_list_phase(rt->store, MODEL_PHASE_RUNNING, ended_cb, rt);
}

/* A live run the controller waits on: its supervisor's pidfd (readable
 * when it exits) and an inotify watch on its directory (result.json or
 * supervisor.pid appearing), whichever exists.  Either event queues the
 * task and drops the watch; the reconcile that follows watches it again
 * while the run is still live. */
struct run_watch {
	struct run_watch *next;
	char *key;
	int pidfd, wd;
};

#define RUN_POLL_MS 25   /* runs that cannot be watched are polled */
#define WATCH_EVENTS 64

static void watch_drop(struct runtime *rt, struct run_watch *w)
{
	for (struct run_watch **pp = &rt->runs; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	if (w->pidfd >= 0) {
		(void)epoll_ctl(rt->ep_fd, EPOLL_CTL_DEL, w->pidfd, NULL);
		(void)close(w->pidfd);
	}
	if (w->wd >= 0)
		(void)inotify_rm_watch(rt->ino_fd, w->wd);
	else
		rt->runs_unwatched_dir--;
	free(w->key);
	free(w);
}

static void watch_fire(struct runtime *rt, struct run_watch *w)
{
	const char *sl = strchr(w->key, '/');
	char ns[256];
	snprintf(ns, sizeof(ns), "%.*s", (int)(sl - w->key), w->key);
	ctl_enqueue(rt->ctl, ns, sl + 1);
	watch_drop(rt, w);
}

/* Wait on the run of `task` (live a moment ago) ending. */
static void watch_run(struct runtime *rt, json_object *task)
{
	if (rt->ep_fd < 0 || !rt->ctl)
		return;
	json_object *md = jget(task, "metadata");
	char *key = xasprintf("%s/%s", jstr(md, "namespace") ?: "", jstr(md, "name") ?: "");
	for (struct run_watch *w = rt->runs; w; w = w->next) {
		if (str_eq(w->key, key)) {
			free(key);
			return;
		}
	}
	struct run_watch *w = xcalloc(1, sizeof(*w));
	w->key = key;
	w->next = rt->runs;
	rt->runs = w;
	char *run_dir = runtime_run_dir(rt, task);
	w->wd = inotify_add_watch(rt->ino_fd, run_dir,
				  IN_CREATE | IN_MOVED_TO | IN_ONLYDIR | IN_DONT_FOLLOW);
	if (w->wd < 0)
		rt->runs_unwatched_dir++;
	w->pidfd = local_pidfd(run_dir);
	bool gone = w->pidfd == -ESRCH;
	if (w->pidfd >= 0) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = w };
		if (epoll_ctl(rt->ep_fd, EPOLL_CTL_ADD, w->pidfd, &ev) < 0) {
			(void)close(w->pidfd);
			w->pidfd = -1;
		}
	}
	/* Ended before the watch was in place, or cannot be watched at all. */
	char *res = xasprintf("%s/result.json", run_dir);
	if (gone || access(res, F_OK) == 0) {
		watch_fire(rt, w);
	} else if (w->pidfd < 0 && w->wd < 0) {
		rt->runs_blind = true;
		watch_drop(rt, w);
	}
	free(res);
	free(run_dir);
}

static void watch_unrun(struct runtime *rt, json_object *task)
{
	json_object *md = jget(task, "metadata");
	char *key = xasprintf("%s/%s", jstr(md, "namespace") ?: "", jstr(md, "name") ?: "");
	for (struct run_watch *w = rt->runs; w; w = w->next) {
		if (str_eq(w->key, key)) {
			watch_drop(rt, w);
			break;
		}
	}
	free(key);
}

/* The store's file and its write-ahead log, written by the CLI; and the
 * run directories. */
static bool watch_read_inotify(struct runtime *rt)
{
	bool store = false;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	for (;;) {
		ssize_t n = read(rt->ino_fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *e = (const void *)p;
			p += sizeof(*e) + e->len;
			if (e->mask & IN_Q_OVERFLOW) {
				store = true;
				rt->runs_blind = true;
				continue;
			}
			if (e->wd == rt->store_wd) {
				if (e->len && !strncmp(e->name, STORE_DB_NAME, strlen(STORE_DB_NAME)))
					store = true;
				continue;
			}
			/* Each usage.json (and egress-traffic.json) rewrite is a
			 * temporary file made then renamed: only the names acted
			 * on below are worth the walk of the runs.  IN_CREATE
			 * stays in the mask for supervisor.pid (a link()). */
			if (!(e->mask & IN_IGNORED) &&
			    !(e->len && (str_eq(e->name, LOCAL_USAGE_FILE) || str_eq(e->name, "result.json") ||
					 str_eq(e->name, "supervisor.pid"))))
				continue;
			for (struct run_watch *w = rt->runs; w; w = w->next) {
				if (w->wd != e->wd)
					continue;
				if (e->mask & IN_IGNORED) {
					w->wd = -1; /* the directory went */
					rt->runs_unwatched_dir++;
				} else if (e->len && str_eq(e->name, LOCAL_USAGE_FILE)) {
					/* The usage so far changed: budgets look
					 * at it in the task's reconcile. */
					const char *sl = strchr(w->key, '/');
					char ns[256];
					snprintf(ns, sizeof(ns), "%.*s", (int)(sl - w->key), w->key);
					ctl_enqueue(rt->ctl, ns, sl + 1);
				} else if (e->len && (str_eq(e->name, "result.json") ||
						    str_eq(e->name, "supervisor.pid")))
					watch_fire(rt, w);
				break;
			}
		}
	}
	return store;
}

static void watch_init(struct runtime *rt)
{
	rt->ep_fd = epoll_create1(EPOLL_CLOEXEC);
	rt->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	rt->store_wd = rt->ino_fd >= 0 ? inotify_add_watch(rt->ino_fd, rt->state_dir,
							   IN_MODIFY | IN_CREATE | IN_MOVED_TO |
							   IN_ONLYDIR) : -1;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	if (rt->ep_fd < 0 || rt->store_wd < 0 ||
	    epoll_ctl(rt->ep_fd, EPOLL_CTL_ADD, rt->ino_fd, &ev) < 0) {
		log_warn("no inotify or epoll: the controller polls the store and its runs");
		watch_free(rt);
	}
}

static void watch_free(struct runtime *rt)
{
	while (rt->runs)
		watch_drop(rt, rt->runs);
	while (rt->starts)
		start_drop(rt, rt->starts);
	if (rt->ino_fd >= 0)
		(void)close(rt->ino_fd);
	if (rt->ep_fd >= 0)
		(void)close(rt->ep_fd);
	rt->ino_fd = rt->ep_fd = rt->store_wd = -1;
}

/* Block until something changes: a write to the store by another
 * process, a run ending, or timeout_ms.  Our own store writes wake us
 * too (inotify cannot tell them apart): PRAGMA data_version can, and we
 * wait again.  Without epoll (or with a run that could not be watched)
 * the old polls stand in. */
static bool op_wait(void *b, struct ctl *c, int timeout_ms)
{
	(void)c;
	struct runtime *rt = b;
	int64_t end = now_mono_ms() + timeout_ms;
	unsigned long before = ctl_queue_len(rt->ctl);
	for (;;) {
		int64_t now = now_mono_ms();
		bool blind = rt->ep_fd < 0 || rt->runs_blind;
		int left = (int)(end > now ? end - now : 0);
		/* A live run's usage so far (usage.json, renamed into its
		 * directory) wakes us through its inotify watch; a run watched
		 * by its pidfd alone has its usage read each RUN_POLL_MS. */
		bool usage_blind = rt->runs_unwatched_dir > 0;
		if ((blind || usage_blind) && left > RUN_POLL_MS)
			left = RUN_POLL_MS;
		if (rt->schedule_in_ms >= 0 && left > rt->schedule_in_ms)
			left = rt->schedule_in_ms;
		left = start_expire(rt, left);
		bool store = rt->ep_fd < 0, runs = false;
		if (rt->ep_fd >= 0) {
			struct epoll_event ev[WATCH_EVENTS];
			int n = epoll_wait(rt->ep_fd, ev, WATCH_EVENTS, left);
			if (n < 0 && errno == EINTR)
				return true; /* a signal: the loop looks at its stop flag */
			/* Supervisors' reports first (a failure is reported
			 * before its result.json appears), then pidfds (a
			 * run's watch may go while inotify's events are read). */
			for (int i = 0; i < n; i++)
				for (struct start_wait *sw = rt->starts; ev[i].data.ptr && sw; sw = sw->next)
					if (sw == ev[i].data.ptr) {
						(void)start_read(rt, sw);
						ev[i].data.ptr = NULL;
						ev[i].events = 0;
						break;
					}
			for (int i = 0; i < n; i++)
				if (ev[i].data.ptr)
					for (struct run_watch *w = rt->runs; w; w = w->next)
						if (w == ev[i].data.ptr) {
							watch_fire(rt, w);
							break;
						}
			for (int i = 0; i < n; i++)
				if (!ev[i].data.ptr && ev[i].events && watch_read_inotify(rt))
					store = true;
		} else if (left > 0) {
			usleep((useconds_t)left * 1000);
			store = true;
		}
		if (blind && now_mono_ms() - rt->last_run_poll_ms >= RUN_POLL_MS) {
			rt->last_run_poll_ms = now_mono_ms();
			rt->runs_blind = false; /* watched again by the reconciles */
			runs = true;
		}
		if (store || runs || now_mono_ms() >= end)
			poll_changes(rt, runs);
		local_budget_poll(rt, usage_blind || runs);
		rt->schedule_in_ms = local_schedule_tick(rt); /* at most once a TICK_MS */
		if (ctl_queue_len(rt->ctl) > before || now_mono_ms() >= end)
			return true;
	}
}

/* ---- housekeeping: orphaned runs and metrics ----------------------------- */

#define ORPHAN_SWEEP_INTERVAL_MS 5000
#define ORPHAN_SWEEP_MAX 8 /* removals tried per sweep */

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

/* Run directories whose task is gone (deleted by an older Paddock, by
 * hand, or its removal failed): a live run is stopped first, then the
 * directory removed.  ORPHAN_SWEEP_MAX per sweep, going round the
 * directory (after the last one tried) so that stuck ones do not starve
 * the others.  One log line per attempt. */
static void sweep_orphans(struct runtime *rt)
{
	int64_t now = now_mono_ms();
	if (now - rt->last_sweep_ms < ORPHAN_SWEEP_INTERVAL_MS)
		return;
	rt->last_sweep_ms = now;
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
	while (start < dirs.n && strcmp(dirs.v[start], rt->sweep_after) <= 0)
		start++;
	int tried = 0;
	for (size_t k = 0; k < dirs.n && tried < ORPHAN_SWEEP_MAX; k++) {
		const char *name = dirs.v[(start + k) % dirs.n];
		if (uids.n && bsearch(&name, uids.v, uids.n, sizeof(char *), cmp_str))
			continue;
		char *dir = xasprintf("%s/%s", runs, name);
		char err[1024];
		tried++;
		snprintf(rt->sweep_after, sizeof(rt->sweep_after), "%s", name);
		struct local_obs obs = { 0 };
		bool live = local_observe(dir, &obs) == 0 && obs.state == LOCAL_RUNNING;
		local_obs_free(&obs);
		if (live) {
			log_info("stopping the run of a deleted task", "dir", dir);
			(void)local_stop(dir, LOCAL_STOP_USER);
			rt->last_sweep_ms = now - ORPHAN_SWEEP_INTERVAL_MS + 500; /* look again soon */
		} else if (local_cleanup(dir, err, sizeof(err)) == 0) {
			log_info("orphaned run directory removed", "dir", dir);
		} else {
			log_warn("cannot remove an orphaned run directory: retrying later", "dir", dir,
				 "error", err);
		}
		free(dir);
	}
out:
	strv_free(&dirs);
	strv_free(&uids);
	free(runs);
}

static long src_count(void *ctx, enum model_phase phase, const char *agent_key)
{
	return store_count_phase(ctx, phase, agent_key);
}

static int src_keys(void *ctx, struct strv *keys)
{
	return store_agent_keys(ctx, keys, METRICS_MAX_AGENTS);
}

static void op_housekeeping(void *b, struct ctl *c)
{
	(void)c;
	struct runtime *rt = b;
	sweep_orphans(rt);
	if (rt->metrics) {
		const struct metrics_source src = { rt->store, src_count, src_keys };
		(void)metrics_refresh(rt->metrics, &src);
	}
}

static const struct ctl_backend local_ops = {
	.name = "local",
	.get = op_get,
	.list = op_list,
	.list_deleting = op_list_deleting,
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
	.budget = local_budget,
	.housekeeping = op_housekeeping,
	.start_first = false,
};

static struct ctl *controller(struct runtime *rt)
{
	if (!rt->ctl) {
		rt->ctl = ctl_new(rt->cfg, rt->plugins, &local_ops, rt);
		watch_init(rt);
		rt->watch_rv = store_rv(rt->store);
		rt->watch_dv = store_data_version(rt->store);
		ctl_enqueue_all(rt->ctl);
	}
	return rt->ctl;
}

int runtime_sync(struct runtime *rt)
{
	if (rt->lock_fd < 0)
		return -EPERM;
	struct ctl *c = controller(rt);
	rt->last_run_poll_ms = now_mono_ms();
	poll_changes(rt, true);
	int n = ctl_process(c);
	op_housekeeping(rt, c);
	return n;
}

int runtime_serve(struct runtime *rt, volatile sig_atomic_t *stop)
{
	if (rt->lock_fd < 0)
		return -EPERM;
	struct ctl *c = controller(rt);
	rt->serving = true;
	ctl_set_metrics(c, rt->metrics);
	ctl_run(c, stop);
	return 0;
}

/* ---- stop / delete: intents ---------------------------------------------- */

struct stop_req {
	const char *ns, *name;
	const char *finished; /* the phase of a finished Task (static), else NULL */
};

/* In one transaction: a finished Task is left as it is; else the intent. */
static int stop_locked(struct store *s, void *vctx, char *err, size_t errlen)
{
	struct stop_req *r = vctx;
	json_object *task = NULL;
	int rc = store_get(s, MODEL_TASK, r->ns, r->name, &task);
	if (rc < 0)
		return rc;
	const char *phase = jstr(jget(task, "status"), "phase");
	int p = phase ? model_phase_parse(phase) : -1;
	json_object_put(task);
	if (p >= 0 && model_phase_finished((enum model_phase)p)) {
		r->finished = model_phase_name((enum model_phase)p);
		return 1;
	}
	return store_set_annotation(s, MODEL_TASK, r->ns, r->name, MODEL_ANNOTATION_STOP, "true",
				    err, errlen);
}

int runtime_stop(struct runtime *rt, const char *ns, const char *name, const char **finished,
		 char *err, size_t errlen)
{
	struct stop_req r = { ns, name, NULL };
	int rc = store_tx(rt->store, stop_locked, &r, err, errlen);
	if (rc == -ENOENT)
		return errf(err, errlen, -ENOENT, "task \"%s/%s\" not found", ns, name);
	if (finished)
		*finished = r.finished;
	return rc < 0 ? rc : rc > 0 ? 1 : 0;
}

int runtime_delete(struct runtime *rt, enum model_kind kind, const char *ns, const char *name,
		   char *err, size_t errlen)
{
	if (kind == MODEL_TASK)
		return store_mark_deleted(rt->store, kind, ns, name, err, errlen);
	return store_delete(rt->store, kind, ns, name, err, errlen);
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

/* SPDX-License-Identifier: MIT */
#include "config.h"
#include "control/pipeline.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <strings.h>

#include "base/jsonutil.h"
#include "control/metrics.h"
#include "control/outputs.h"
#include "base/quantity.h"
#include "control/template.h"

void pipeline_effective(const struct model_task *t, const struct model_agent *a,
			struct pipeline_eff *e)
{
	memset(e, 0, sizeof(*e));
	e->driver = a ? a->type : t->type;
	e->model = t->model ? t->model : a ? a->model : NULL;
	e->effort = t->effort ? t->effort : a ? a->effort : NULL;
	e->image = a ? a->image : NULL;
	if (t->cred_type) {
		e->cred_type = t->cred_type;
		e->cred_secret = t->cred_secret;
		e->cred_key = t->cred_key;
		e->cred_field = "spec.credentials";
	} else if (a && a->cred_type) {
		e->cred_type = a->cred_type;
		e->cred_secret = a->cred_secret;
		e->cred_key = a->cred_key;
		e->cred_field = "Agent spec.credentials";
	} else {
		e->cred_type = "none";
		e->cred_field = "spec.credentials";
	}
	e->run_ns = a ? a->ns : t->ns;
}

/* ---- resources ------------------------------------------------------ */

static const char RES_FROM_CONFIG[] = "paddock.yaml resources";

/* Field i of the run's limits (or requests) and where it comes from
 * (NULL when no level sets it). */
static int64_t res_pick(const struct pd_config *cfg, const struct model_task *t,
			const struct model_agent *a, bool req, size_t i, const char **from)
{
	struct {
		const struct run_limits *l;
		const char *from;
	} lv[] = {
		{ req ? &t->res.requests : &t->res.limits, "spec.resources" },
		{ !a ? NULL : req ? &a->res.requests : &a->res.limits, "Agent spec.resources" },
		{ !a ? NULL : req ? &a->pod_res.requests : &a->pod_res.limits,
		  "Agent spec.pod.resources" },
		{ !cfg ? NULL : req ? &cfg->default_requests : &cfg->default_limits, RES_FROM_CONFIG },
	};
	for (size_t k = 0; k < ARRAY_SIZE(lv); k++) {
		struct run_limits l = lv[k].l ? *lv[k].l : (struct run_limits){ 0 };
		int64_t v = *limits_field(&l, i);
		if (v > 0) {
			*from = lv[k].from;
			return v;
		}
	}
	*from = NULL;
	return 0;
}

void pipeline_limits(const struct pd_config *cfg, const struct model_task *t,
		     const struct model_agent *a, struct run_limits *out)
{
	const char *from;
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < LIMITS_N; i++)
		*limits_field(out, i) = res_pick(cfg, t, a, false, i, &from);
}

void pipeline_requests(const struct pd_config *cfg, const struct model_task *t,
		       const struct model_agent *a, struct run_limits *out)
{
	const char *from, *lfrom;
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < 3; i++) {
		int64_t rq = res_pick(cfg, t, a, true, i, &from);
		int64_t lq = res_pick(cfg, t, a, false, i, &lfrom);
		if (lq && rq > lq && from == RES_FROM_CONFIG)
			rq = lq;
		*limits_field(out, i) = rq;
	}
}

int pipeline_check_resources(const struct pd_config *cfg, const struct model_task *t,
			     const struct model_agent *a, char *err, size_t errlen)
{
	for (size_t i = 0; i < 3; i++) {
		const char *rfrom, *lfrom;
		int64_t rq = res_pick(cfg, t, a, true, i, &rfrom);
		int64_t lq = res_pick(cfg, t, a, false, i, &lfrom);
		if (!rq || !lq || rq <= lq || rfrom == RES_FROM_CONFIG)
			continue;
		enum quantity_kind k = i == 0 ? QUANTITY_CPU : QUANTITY_BYTES;
		char rs[32], ls[32];
		quantity_format(rq, k, rs, sizeof(rs));
		quantity_format(lq, k, ls, sizeof(ls));
		return errf(err, errlen, -EINVAL,
			    "%s.requests.%s: %s is above the run's %s limit %s (%s.limits.%s): lower the request or set spec.resources.limits.%s",
			    rfrom, limits_names[i], rs, limits_names[i], ls, lfrom, limits_names[i],
			    limits_names[i]);
	}
	return 0;
}

/* ---- the Agent's spec.sandbox.env ------------------------------------ */

/* A name of spec.sandbox.env that the plan has from a Secret (a
 * credential of the driver or of a context): -EINVAL. */
static int sandbox_env_check(const struct model_agent *a, const struct run_plan *plan, char *err,
			     size_t errlen)
{
	if (!a || !a->sandbox_env)
		return 0;
	json_object_object_foreach(a->sandbox_env, k, val) {
		(void)val;
		for (size_t i = 0; i < plan->n_env; i++)
			if (plan->env[i].secret_name && str_eq(plan->env[i].name, k))
				return errf(err, errlen, -EINVAL,
					    "Agent spec.sandbox.env[\"%.64s\"]: the run sets it from Secret \"%s\" (a credential): remove it from spec.sandbox.env",
					    k, plan->env[i].secret_name);
	}
	return 0;
}

/* spec.sandbox.env into the plan, over the plain variables already there. */
static int sandbox_env(const struct model_agent *a, struct run_plan *plan,
		       const struct paddock_plan_builder *b, char *err, size_t errlen)
{
	int rc = sandbox_env_check(a, plan, err, errlen);
	if (rc < 0 || !a || !a->sandbox_env)
		return rc;
	plan_set_origin(plan, "Agent spec.sandbox.env");
	json_object_object_foreach(a->sandbox_env, k, val) {
		/* Refused by validation since it applies; an older stored
		 * document may still have them. */
		if (!strcmp(k, "HOME") || !strcmp(k, "TMPDIR") || !strcmp(k, "PWD") ||
		    str_startswith(k, "PADDOCK_") || !json_object_is_type(val, json_type_string)) {
			log_warn("Agent spec.sandbox.env: reserved name ignored", "agent", a->name,
				 "name", k);
			continue;
		}
		b->set_env(b->ctx, k, json_object_get_string(val));
	}
	if (plan->rc < 0)
		return errf(err, errlen, plan->rc, "Agent spec.sandbox.env: %s", plan->err);
	return 0;
}

static const char *agent_field(const struct paddock_task_view *v, const char *key)
{
	const struct model_agent *a = v->priv;
	if (!a || !key)
		return NULL;
	char path[256];
	if ((size_t)snprintf(path, sizeof(path), "spec.%s", key) >= sizeof(path))
		return NULL;
	return model_field(a->obj, path);
}

void pipeline_view(const struct model_task *t, const struct model_agent *a,
		   const struct pipeline_eff *e, const char *prompt, struct paddock_task_view *v)
{
	memset(v, 0, sizeof(*v));
	v->size = sizeof(*v);
	v->ns = t->ns;
	v->name = t->name;
	v->uid = t->uid;
	v->type = e->driver;
	v->prompt = prompt ? prompt : t->prompt;
	v->model = e->model;
	v->effort = e->effort;
	v->credentials_type = e->cred_type;
	v->credentials_secret = e->cred_secret;
	v->credentials_key = e->cred_key;
	v->secret_ns = e->run_ns;
	v->workspace_repo = t->ws_repo;
	v->workspace_ref = t->ws_ref;
	v->outputs = t->outputs;
	v->n_outputs = t->n_outputs;
	v->timeout_seconds = t->timeout_s > 0 ? t->timeout_s : 0;
	v->image = e->image;
	v->agent_field = agent_field;
	v->priv = a;
}

static const char *item_field(const struct paddock_context_item *it, const char *key)
{
	return model_field((json_object *)it->priv, key);
}

/* Fill an item view for contexts[i] of `list`, labelled `prefix[i]`. */
static void item_view(json_object *item, const char *ns, const char *label,
		      struct paddock_context_item *v)
{
	memset(v, 0, sizeof(*v));
	v->size = sizeof(*v);
	v->type = model_field(item, "type");
	v->name = model_field(item, "name");
	v->mount_path = model_field(item, "mountPath");
	json_object *m = NULL;
	v->file_mode = json_object_object_get_ex(item, "fileMode", &m) ? json_object_get_int(m) : -1;
	v->ns = ns;
	v->field_path = label;
	v->field = item_field;
	v->priv = item;
}

static unsigned cred_bit(const char *t)
{
	if (str_eq(t, "api-key"))
		return PADDOCK_CRED_API_KEY;
	if (str_eq(t, "oauth"))
		return PADDOCK_CRED_OAUTH;
	return PADDOCK_CRED_NONE;
}

static void cred_choices(unsigned bits, char *out, size_t n)
{
	const char *names[3];
	size_t k = 0;
	if (bits & PADDOCK_CRED_API_KEY)
		names[k++] = "api-key";
	if (bits & PADDOCK_CRED_OAUTH)
		names[k++] = "oauth";
	if (bits & PADDOCK_CRED_NONE)
		names[k++] = "none";
	out[0] = '\0';
	for (size_t i = 0; i < k; i++)
		snprintf(out + strlen(out), n - strlen(out), "%s%s", i == 0 ? "" : i + 1 == k ? " or " : ", ",
			 names[i]);
}

typedef int (*item_fn)(void *ctx, const struct loaded_plugin *p, const struct paddock_context_item *it,
		       char *err, size_t errlen);

/* Walk the Agent's contexts, then the Task's, resolving each item's plugin. */
static int each_context(const struct plugin_set *ps, const struct model_task *t,
			const struct model_agent *a, item_fn fn, void *ctx, char *err, size_t errlen)
{
	struct {
		json_object *list;
		const char *prefix;
		const char *ns;
	} lists[2] = {
		{ a ? a->contexts : NULL, "Agent spec.contexts", a ? a->ns : NULL },
		{ t->contexts, "spec.contexts", t->ns },
	};
	for (size_t l = 0; l < 2; l++) {
		if (!lists[l].list)
			continue;
		size_t n = json_object_array_length(lists[l].list);
		for (size_t i = 0; i < n; i++) {
			json_object *item = json_object_array_get_idx(lists[l].list, i);
			char label[96];
			snprintf(label, sizeof(label), "%s[%zu]", lists[l].prefix, i);
			struct paddock_context_item v;
			item_view(item, lists[l].ns, label, &v);
			const struct loaded_plugin *p = plugins_context(ps, v.type);
			if (!p)
				return errf(err, errlen, -EINVAL,
					    "%s.type: no enabled context plugin for type \"%s\": enable it under contexts: in paddock.yaml (see `paddock plugins`)",
					    label, v.type ? v.type : "");
			int rc = fn(ctx, p, &v, err, errlen);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

static int validate_item(void *ctx, const struct loaded_plugin *p,
			 const struct paddock_context_item *it, char *err, size_t errlen)
{
	(void)ctx;
	const struct paddock_context_ops *ops = plugin_context_ops(p);
	if (!ops->validate)
		return 0;
	int rc = ops->validate(p->instance, it, err, errlen);
	return rc < 0 ? rc : 0;
}

int pipeline_validate(const struct plugin_set *ps, const struct model_task *t,
		      const struct model_agent *a, char *err, size_t errlen)
{
	struct pipeline_eff e;
	pipeline_effective(t, a, &e);
	const char *field = a ? "Agent spec.type" : "spec.type";
	const struct loaded_plugin *d = plugins_driver(ps, e.driver);
	if (!d)
		return errf(err, errlen, -EINVAL,
			    "%s: no enabled driver \"%s\": enable it under drivers: in paddock.yaml (see `paddock plugins`)",
			    field, e.driver ? e.driver : "");
	const struct paddock_driver_ops *ops = plugin_driver_ops(d);
	unsigned bits = ops->credential_types ? ops->credential_types(d->instance) : PADDOCK_CRED_NONE;
	if (!(bits & cred_bit(e.cred_type))) {
		char choices[64];
		cred_choices(bits, choices, sizeof(choices));
		return errf(err, errlen, -EINVAL,
			    "%s.type: unsupported value \"%s\" for driver %s: use %s", e.cred_field,
			    e.cred_type, e.driver, choices);
	}
	if (!str_eq(e.cred_type, "none") && !e.cred_secret)
		return errf(err, errlen, -EINVAL,
			    "%s.secretRef.name: required for credentials type %s: name the Secret that holds the %s (paddock apply -f secret.yaml)",
			    e.cred_field, e.cred_type, e.cred_key ? e.cred_key : "credential");
	struct paddock_task_view v;
	pipeline_view(t, a, &e, NULL, &v);
	if (ops->validate) {
		int rc = ops->validate(d->instance, &v, err, errlen);
		if (rc < 0)
			return rc;
	}
	if (a && a->sandbox_env && ops->credentials) {
		/* The driver's credential variables, to refuse a sandbox.env
		 * name among them now rather than when the run starts. */
		struct run_plan scratch;
		struct paddock_plan_builder sb;
		char cerr[256];
		plan_init(&scratch, e.run_ns, 0, 0);
		plan_builder(&scratch, &sb);
		int rc = ops->credentials(d->instance, &v, &sb, cerr, sizeof(cerr)) < 0
				 ? 0
				 : sandbox_env_check(a, &scratch, err, errlen);
		plan_free(&scratch);
		if (rc < 0)
			return rc;
	}
	return each_context(ps, t, a, validate_item, NULL, err, errlen);
}

struct resolve_ctx {
	const struct paddock_task_view *view;
	struct run_plan *plan;
	const struct paddock_plan_builder *b;
	const struct pd_git *git;
};

/* git.allowLocalRepositories over the plan's fetches from `from` on,
 * whichever plugin added them (the Git context checks it too). */
static int gits_local_check(const struct pd_git *g, const struct run_plan *plan, size_t from,
			    const char *field, char *err, size_t errlen)
{
	for (size_t i = from; i < plan->n_gits; i++) {
		int rc = config_git_local_check(g, plan->gits[i].repository, field, err, errlen);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int resolve_item(void *ctx, const struct loaded_plugin *p,
			const struct paddock_context_item *it, char *err, size_t errlen)
{
	struct resolve_ctx *rc = ctx;
	const struct paddock_context_ops *ops = plugin_context_ops(p);
	plan_set_origin(rc->plan, it->field_path);
	size_t gits = rc->plan->n_gits;
	int r = ops->resolve(p->instance, rc->view, it, rc->b, err, errlen);
	if (r >= 0 && rc->plan->rc < 0)
		r = errf(err, errlen, rc->plan->rc, "%s", rc->plan->err);
	if (r >= 0) {
		char *field = xasprintf("%s.git.repository", it->field_path);
		r = gits_local_check(rc->git, rc->plan, gits, field, err, errlen);
		free(field);
	}
	return r < 0 ? r : 0;
}

/* A driver that routes its credential must not also hand it to the
 * agent: no variable or file of the plan may reference the routed
 * Secret key. */
static int route_check(const struct run_plan *plan, const char *driver, char *err, size_t errlen)
{
	const struct plan_route *r = plan->route;
	if (!r)
		return 0;
	for (size_t i = 0; i < plan->n_env; i++)
		if (str_eq(plan->env[i].secret_name, r->secret_name) &&
		    str_eq(plan->env[i].secret_key, r->secret_key))
			return errf(err, errlen, -EINVAL,
				    "driver %s routes its credential through the proxy and also puts it in %s: a driver bug",
				    driver, plan->env[i].name);
	for (size_t i = 0; i < plan->n_files; i++)
		if (str_eq(plan->files[i].secret_name, r->secret_name) &&
		    str_eq(plan->files[i].secret_key, r->secret_key))
			return errf(err, errlen, -EINVAL,
				    "driver %s routes its credential through the proxy and also writes it to %s: a driver bug",
				    driver, plan->files[i].path);
	return 0;
}

int pipeline_plan(const struct pd_config *cfg, const struct plugin_set *ps,
		  const struct model_task *t, const struct model_agent *a, const char *prompt,
		  struct run_plan *plan, char *err, size_t errlen)
{
	struct pipeline_eff e;
	pipeline_effective(t, a, &e);
	const struct loaded_plugin *d = plugins_driver(ps, e.driver);
	if (!d)
		return errf(err, errlen, -ENOENT, "driver \"%s\" is not enabled", e.driver ? e.driver : "");
	int rc = pipeline_check_resources(cfg, t, a, err, errlen);
	if (rc < 0)
		return rc;
	const struct paddock_driver_ops *ops = plugin_driver_ops(d);
	struct paddock_task_view v;
	pipeline_view(t, a, &e, prompt, &v);
	if (plan->route_endpoint && !str_eq(e.cred_type, "none")) {
		v.credential_endpoint = plan->route_endpoint;
		v.credential_placeholder = plan->route_placeholder;
	}
	struct paddock_plan_builder b;
	plan_builder(plan, &b);

	plan_set_origin(plan, "driver credentials");
	if (ops->credentials && (rc = ops->credentials(d->instance, &v, &b, err, errlen)) < 0)
		goto out;
	plan_set_origin(plan, "driver entrypoint");
	if ((rc = ops->entrypoint(d->instance, &v, &b, err, errlen)) < 0)
		goto out;
	if (plan->rc < 0) {
		rc = errf(err, errlen, plan->rc, "driver %s: %s", e.driver, plan->err);
		goto out;
	}
	if ((rc = route_check(plan, e.driver, err, errlen)) < 0)
		goto out;
	if (t->ws_repo) {
		plan_set_origin(plan, "spec.workspace");
		if ((rc = config_git_local_check(cfg ? &cfg->git : NULL, t->ws_repo,
						 "spec.workspace.repo", err, errlen)) < 0)
			goto out;
		struct paddock_git_fetch g = {
			.size = sizeof(g),
			.repository = t->ws_repo,
			.ref = t->ws_ref,
			.dest = "",
			.secret_name = t->ws_secret,
		};
		if ((rc = b.add_git(b.ctx, &g)) < 0) {
			rc = errf(err, errlen, rc, "%s", plan->err);
			goto out;
		}
	}
	struct resolve_ctx rctx = { &v, plan, &b, cfg ? &cfg->git : NULL };
	if ((rc = each_context(ps, t, a, resolve_item, &rctx, err, errlen)) < 0)
		goto out;
	/* After the driver and the contexts, before the core's contract. */
	if ((rc = sandbox_env(a, plan, &b, err, errlen)) < 0)
		goto out;

	/* The core's half of the entrypoint contract (DESIGN §6). */
	char *task_id = xasprintf("%s/%s", t->ns, t->name);
	b.set_env(b.ctx, "PADDOCK_TASK", task_id);
	free(task_id);
	if (e.model)
		b.set_env(b.ctx, "PADDOCK_MODEL", e.model);
	if (e.effort)
		b.set_env(b.ctx, "PADDOCK_EFFORT", e.effort);
	struct buf outs;
	buf_init(&outs, 0);
	for (size_t i = 0; i < t->n_outputs; i++)
		buf_printf(&outs, "%s\t%s\n", t->outputs[i].name, t->outputs[i].path);
	if (outs.len)
		b.set_env(b.ctx, "PADDOCK_OUTPUTS", outs.data);
	buf_free(&outs);
	if (!plan->image && e.image)
		b.set_image(b.ctx, e.image);
	if (!plan->command)
		rc = errf(err, errlen, -EINVAL, "driver %s set no entrypoint command", e.driver);
	else if (plan->rc < 0)
		rc = errf(err, errlen, plan->rc, "%s", plan->err);
out:
	return rc;
}

char *pipeline_data_dir(void)
{
	const char *e = getenv("PADDOCK_DATA_DIR");
	return xstrdup(e && *e ? e : PADDOCK_DATADIR);
}

/* ---- egress -------------------------------------------------------- */

static const char NET_CFG[] = "paddock.yaml network.egress";
static const char NET_AGENT[] = "Agent spec.network.egress";

/* none < allowlist < open: how far a mode reaches. */
static int net_rank(enum egress_mode m)
{
	return m == EGRESS_NONE ? 0 : m == EGRESS_ALLOWLIST ? 1 : 2;
}

static const char NET_DEFAULT[] = "default: allowlist as root with isolation bwrap";
static const char NET_DEFAULT_OPEN[] =
	"default without root or bubblewrap: set network.egress to say so";
static const char NET_DEFAULT_KUBE[] = "default: allowlist with kubernetes.proxyImage";
static const char NET_DEFAULT_KUBE_OPEN[] =
	"default without kubernetes.proxyImage: set network.egress to say so";

/* The operator's mode.  Unset: allowlist where it can be enforced
 * (locally as root with bubblewrap: the proxy's socket is made in the
 * run's network namespace; on Kubernetes with kubernetes.proxyImage: the
 * sidecar), else open; *from says which. */
static enum egress_mode cfg_mode_from(const struct pd_config *cfg, const char **from)
{
	enum egress_mode m = EGRESS_OPEN;
	char e[128];
	*from = NET_CFG;
	if (cfg && cfg->egress && egress_mode_parse(cfg->egress, &m, e, sizeof(e)) == 0)
		return m; /* conf.c admits only the three names */
	bool kube = cfg && str_eq(cfg->backend, "kubernetes");
	bool fence = kube ? cfg->kube_proxy_image && *cfg->kube_proxy_image
			  : geteuid() == 0 && !(cfg && str_eq(cfg->isolation, "none"));
	*from = kube ? (fence ? NET_DEFAULT_KUBE : NET_DEFAULT_KUBE_OPEN)
		     : (fence ? NET_DEFAULT : NET_DEFAULT_OPEN);
	return fence ? EGRESS_ALLOWLIST : EGRESS_OPEN;
}

static enum egress_mode cfg_mode(const struct pd_config *cfg)
{
	const char *from;
	return cfg_mode_from(cfg, &from);
}

int pipeline_check_network(const struct pd_config *cfg, const struct model_agent *a, char *err,
			   size_t errlen)
{
	if (!a)
		return 0;
	enum egress_mode ceiling = cfg_mode(cfg), want = ceiling;
	char perr[256];
	if (a->net_egress) {
		if (egress_mode_parse(a->net_egress, &want, perr, sizeof(perr)) < 0)
			return errf(err, errlen, -EINVAL, "Agent spec.network.egress: %s", perr);
		if (net_rank(want) > net_rank(ceiling))
			return errf(err, errlen, -EINVAL,
				    "Agent spec.network.egress: %s is wider than paddock.yaml network.egress (%s): an Agent may only narrow the operator's egress (open > allowlist > none); use %s or narrower, or ask the operator to set network.egress: %s",
				    egress_mode_name(want), egress_mode_name(ceiling),
				    egress_mode_name(ceiling), egress_mode_name(want));
	}
	struct egress_policy pol = { .mode = EGRESS_ALLOWLIST };
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < a->net_allow.n; i++)
		if (egress_policy_add(&pol, a->net_allow.v[i], perr, sizeof(perr)) < 0)
			rc = errf(err, errlen, -EINVAL, "Agent spec.network.allow[%zu]: %s", i, perr);
	egress_policy_free(&pol);
	return rc;
}

/* The API host of a built-in driver (the provider's, for opencode's
 * "provider/model"), when its baseURL setting is not set.  A routed
 * credential (ABI 1.1) needs no entry: the proxy reaches the route's
 * upstream itself.  This list is for what is not routed: codex's oauth
 * (auth.json), a 1.0 plugin, and everything a CLI fetches beside its
 * model API from the same host.  The egress policy is decided before the
 * plan (it decides whether a route is offered), so the driver's own
 * route cannot feed it. */
static const char *driver_default_host(const char *driver, const char *model)
{
	static const char *const drivers[][2] = {
		{ "claude-code", "api.anthropic.com" },
		{ "codex", "api.openai.com" },
		{ "gemini", "generativelanguage.googleapis.com" },
	};
	static const char *const providers[][2] = {
		{ "anthropic", "api.anthropic.com" },
		{ "openai", "api.openai.com" },
		{ "google", "generativelanguage.googleapis.com" },
		{ "opencode", "opencode.ai" },
		{ "openrouter", "openrouter.ai" },
		{ "groq", "api.groq.com" },
		{ "mistral", "api.mistral.ai" },
		{ "xai", "api.x.ai" },
		{ "deepseek", "api.deepseek.com" },
		{ "togetherai", "api.together.xyz" },
		{ "fireworks-ai", "api.fireworks.ai" },
		{ "cerebras", "api.cerebras.ai" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(drivers); i++)
		if (str_eq(driver, drivers[i][0]))
			return drivers[i][1];
	const char *slash = model ? strchr(model, '/') : NULL;
	if (!str_eq(driver, "opencode") || !slash)
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(providers); i++)
		if (strlen(providers[i][0]) == (size_t)(slash - model) &&
		    !strncmp(model, providers[i][0], (size_t)(slash - model)))
			return providers[i][1];
	return NULL;
}

/* The allow entry for the host of `url`: "host" (ports 80 and 443), or
 * "host:PORT" for an http(s) URL that names its port; for ssh://, git://
 * and user@host:path the host alone (the same forge's HTTPS: git over SSH
 * does not go through an HTTP proxy).  file:// and paths: false. */
static bool url_allow_entry(const char *url, char *out, size_t n)
{
	if (!url || !*url || url[0] == '/')
		return false;
	const char *p = strstr(url, "://");
	bool http = false;
	if (p) {
		size_t sl = (size_t)(p - url);
		if ((sl == 4 && !strncasecmp(url, "file", 4)))
			return false;
		http = (sl == 4 && !strncasecmp(url, "http", 4)) ||
		       (sl == 5 && !strncasecmp(url, "https", 5));
		p += 3;
	} else {
		/* scp-like user@host:path (or host:path) */
		p = url;
	}
	size_t end = strcspn(p, p == url ? ":" : "/?#");
	const char *at = memchr(p, '@', end);
	if (at) {
		end -= (size_t)(at + 1 - p);
		p = at + 1;
	}
	if (end == 0 || end >= n)
		return false;
	memcpy(out, p, end);
	out[end] = '\0';
	if (!http || p == url) { /* the host alone */
		char *colon = out[0] == '[' ? strchr(out, ']') : out;
		if (colon && out[0] == '[')
			colon[1] = '\0';
		else if (colon && (colon = strchr(out, ':')))
			*colon = '\0';
	}
	return out[0] != '\0';
}

/* Append `entry` normalized (the proxy's form) unless it is there
 * already.  A bad entry: -EINVAL with perr. */
static int net_push(struct strv *allow, const char *entry, char *perr, size_t perrlen)
{
	struct egress_policy pol = { .mode = EGRESS_ALLOWLIST };
	int rc = egress_policy_add(&pol, entry, perr, perrlen);
	if (rc == 0) {
		bool seen = false;
		for (size_t i = 0; i < allow->n && !seen; i++)
			seen = str_eq(allow->v[i], pol.rules[0].text);
		if (!seen)
			strv_push(allow, pol.rules[0].text);
	}
	egress_policy_free(&pol);
	return rc;
}

static void net_push_url(struct strv *allow, const char *url)
{
	char host[300], perr[256];
	if (url_allow_entry(url, host, sizeof(host)))
		(void)net_push(allow, host, perr, sizeof(perr)); /* not a host: nothing to allow */
}

/* The Git and URL contexts' hosts of `list`. */
static void net_push_contexts(struct strv *allow, json_object *list)
{
	size_t n = list ? json_object_array_length(list) : 0;
	for (size_t i = 0; i < n; i++) {
		json_object *item = json_object_array_get_idx(list, i);
		const char *type = jstr(item, "type");
		if (type && !strcasecmp(type, "git"))
			net_push_url(allow, jstr(jget(item, "git"), "repository"));
		else if (type && !strcasecmp(type, "url"))
			net_push_url(allow, jstr(jget(item, "url"), "url"));
	}
}

int pipeline_egress(const struct pd_config *cfg, const struct model_task *t,
		    const struct model_agent *a, struct pipeline_net *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	out->mode = cfg_mode_from(cfg, &out->mode_from);
	int rc = pipeline_check_network(cfg, a, err, errlen);
	if (rc < 0)
		return rc;
	if (a && a->net_egress) {
		(void)egress_mode_parse(a->net_egress, &out->mode, err, errlen); /* checked above */
		out->mode_from = NET_AGENT;
	}
	if (out->mode != EGRESS_ALLOWLIST)
		return 0;
	char perr[256];
	for (size_t i = 0; cfg && i < cfg->egress_allow.n; i++)
		if (net_push(&out->allow, cfg->egress_allow.v[i], perr, sizeof(perr)) < 0)
			return errf(err, errlen, -EINVAL, "%s: network.allow[%zu]: %s",
				    cfg->path ? cfg->path : "paddock.yaml", i, perr);
	for (size_t i = 0; a && i < a->net_allow.n; i++)
		(void)net_push(&out->allow, a->net_allow.v[i], perr, sizeof(perr)); /* checked above */
	size_t before = out->allow.n;
	struct pipeline_eff e;
	pipeline_effective(t, a, &e);
	const char *base = cfg ? config_plugin_setting(cfg, e.driver, "baseURL") : NULL;
	if (base)
		net_push_url(&out->allow, base);
	else if (driver_default_host(e.driver, e.model))
		(void)net_push(&out->allow, driver_default_host(e.driver, e.model), perr, sizeof(perr));
	net_push_url(&out->allow, t->ws_repo);
	net_push_contexts(&out->allow, a ? a->contexts : NULL);
	net_push_contexts(&out->allow, t->contexts);
	out->n_defaults = out->allow.n - before;
	return 0;
}

void pipeline_net_free(struct pipeline_net *n)
{
	strv_free(&n->allow);
	memset(n, 0, sizeof(*n));
}

char *pipeline_net_describe(const struct pipeline_net *n)
{
	struct buf b;
	buf_init(&b, 0);
	const char *from = n->mode_from ? n->mode_from : NET_CFG;
	switch (n->mode) {
	case EGRESS_OPEN:
		(void)buf_printf(&b, "open - unfenced: the host's network, as any process (%s)", from);
		break;
	case EGRESS_NONE:
		(void)buf_printf(&b, "none - no network (%s)", from);
		break;
	default: {
		size_t own = n->allow.n - n->n_defaults;
		(void)buf_printf(&b, "allowlist (%s): ", from);
		for (size_t i = 0; i < own; i++)
			(void)buf_printf(&b, "%s%s", i ? ", " : "", n->allow.v[i]);
		if (!own)
			(void)buf_puts(&b, "-");
		(void)buf_puts(&b, "; defaults: ");
		for (size_t i = own; i < n->allow.n; i++)
			(void)buf_printf(&b, "%s%s", i > own ? ", " : "", n->allow.v[i]);
		if (!n->n_defaults)
			(void)buf_puts(&b, "-");
		break;
	}
	}
	return buf_steal(&b);
}

/* ---- resolution --------------------------------------------------- */

void pipeline_rec_input(const struct pd_config *cfg, json_object *task, const struct model_task *t,
			struct rec_input *in)
{
	json_object *md = jget(task, "metadata"), *st = jget(task, "status");
	memset(in, 0, sizeof(*in));
	enum rec_phase ph = REC_PENDING;
	if (jstr(st, "phase"))
		rec_phase_parse(jstr(st, "phase"), &ph);
	in->phase = ph;
	in->now_ms = now_wall_ms();
	in->created_ms = jtime(md, "creationTimestamp");
	in->start_ms = jtime(st, "startTime");
	in->completion_ms = jtime(st, "completionTime");
	in->stop_requested = model_stop_requested(task);
	in->timeout_s = t->timeout_s > 0 ? t->timeout_s : cfg->limits.default_task_timeout;
	in->ttl_s = t->ttl_s;
}

void pipeline_resolve(const struct pd_config *cfg, const struct plugin_set *ps,
		      const struct model_task *t,
		      const struct pipeline_lookup *lk, struct rec_input *in,
		      struct pipeline_resolution *res)
{
	memset(res, 0, sizeof(*res));
	const char *reason = NULL;
	struct model_agent *a = NULL;
	if (t->agent_name) {
		if (lk->agent(lk->ctx, t->agent_ns, t->agent_name, &a) < 0) {
			snprintf(res->invalid, sizeof(res->invalid), "agent \"%s/%s\" not found",
				 t->agent_ns, t->agent_name);
			reason = "AgentNotFound";
		} else if (!model_agent_allows(a, t->ns)) {
			snprintf(res->invalid, sizeof(res->invalid),
				 "agent \"%s/%s\" does not allow namespace \"%s\"", t->agent_ns,
				 t->agent_name, t->ns);
			reason = "Forbidden";
		}
	}
	if (!reason && cfg && a &&
	    pipeline_check_network(cfg, a, res->invalid, sizeof(res->invalid)) < 0)
		reason = "InvalidSpec";
	res->agent = a;
	struct pipeline_eff e;
	pipeline_effective(t, a, &e);
	if (!reason && !plugins_driver(ps, e.driver)) {
		snprintf(res->invalid, sizeof(res->invalid), "driver \"%s\" is not enabled",
			 e.driver ? e.driver : "");
		reason = "DriverNotFound";
	}
	if (!reason && lk->secret && !str_eq(e.cred_type, "none") && e.cred_secret) {
		char serr[256];
		if (lk->secret(lk->ctx, e.run_ns, e.cred_secret, e.cred_key ? e.cred_key : "apiKey",
			       serr, sizeof(serr)) < 0) {
			snprintf(res->invalid, sizeof(res->invalid), "%s: %s", e.cred_field, serr);
			reason = "SecretNotFound";
		}
	}
	in->deps_total = t->deps.n;
	for (size_t i = 0; i < t->deps.n; i++) {
		enum rec_phase dph = REC_PENDING;
		if (lk->task_phase(lk->ctx, t->ns, t->deps.v[i], &dph) < 0) {
			in->deps_missing++;
			in->missing_dep = t->deps.v[i];
		} else if (dph == REC_SUCCEEDED) {
			in->deps_succeeded++;
		} else if (dph == REC_FAILED || dph == REC_STOPPED) {
			in->deps_failed++;
			in->failed_dep = t->deps.v[i];
		}
	}
	if (t->deps.n && lk->task_deps) {
		char cerr[256];
		if (rec_find_cycle(t->name, lk->task_deps, lk->ctx, 0, res->cycle, sizeof(res->cycle),
				   cerr, sizeof(cerr)) == 1) {
			in->dep_cycle = true;
			in->cycle_path = res->cycle;
		}
	}
	if (reason) {
		in->invalid = res->invalid;
		in->invalid_reason = reason;
	}
}

void pipeline_resolution_free(struct pipeline_resolution *res)
{
	model_agent_free(res->agent);
	res->agent = NULL;
}

/* ---- the run's result ---------------------------------------------- */

void pipeline_sink_init(struct pipeline_sink *s, const struct pd_config *cfg,
			const struct plugin_set *ps, const char *driver)
{
	memset(s, 0, sizeof(*s));
	const struct loaded_plugin *d = plugins_driver(ps, driver);
	s->ops = d ? plugin_driver_ops(d) : NULL;
	s->outputs = outputs_new(cfg->limits.output_bytes);
	if (s->ops && s->ops->parser_new && s->ops->parser_new(d->instance, &s->parser) < 0)
		s->parser = NULL;
}

static int sink_line(void *ctx, const char *line, size_t len, bool truncated)
{
	struct pipeline_sink *s = ctx;
	outputs_feed_line(s->outputs, line, len, truncated);
	if (s->parser && s->ops->parser_line)
		s->ops->parser_line(s->parser, line, len);
	return 0;
}

void pipeline_sink_line(struct pipeline_sink *s, const char *line, size_t len)
{
	sink_line(s, line, len, false);
}

void pipeline_sink_text(struct pipeline_sink *s, const char *text, size_t len, size_t line_max)
{
	struct line_splitter *ls = lines_new(line_max, sink_line, s);
	lines_feed(ls, text, len);
	lines_finish(ls);
	lines_free(ls);
}
json_object *pipeline_sink_finish(struct pipeline_sink *s, int exit_code)
{
	outputs_finish(s->outputs);
	struct paddock_run_result r;
	memset(&r, 0, sizeof(r));
	r.size = sizeof(r);
	r.input_tokens = r.output_tokens = -1;
	r.cost_usd = -1;
	if (s->parser && s->ops->parser_finish)
		s->ops->parser_finish(s->parser, exit_code, &r);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "outcome", json_object_new_int(r.outcome));
	if (r.input_tokens >= 0)
		json_object_object_add(o, "inputTokens", json_object_new_int64(r.input_tokens));
	if (r.output_tokens >= 0)
		json_object_object_add(o, "outputTokens", json_object_new_int64(r.output_tokens));
	if (r.cost_usd >= 0)
		json_object_object_add(o, "costUSD", json_object_new_double(r.cost_usd));
	r.result[sizeof(r.result) - 1] = '\0';
	r.error[sizeof(r.error) - 1] = '\0';
	if (r.result[0])
		json_object_object_add(o, "result", json_object_new_string(r.result));
	if (r.error[0])
		json_object_object_add(o, "error", json_object_new_string(r.error));
	if (outputs_found(s->outputs))
		json_object_object_add(o, "outputs", outputs_to_json(s->outputs));
	if (outputs_warning(s->outputs))
		json_object_object_add(o, "outputsWarning",
				       json_object_new_string(outputs_warning(s->outputs)));
	return o;
}

void pipeline_sink_free(struct pipeline_sink *s)
{
	if (s->parser && s->ops->parser_free)
		s->ops->parser_free(s->parser);
	outputs_free(s->outputs);
	memset(s, 0, sizeof(*s));
}

void pipeline_fill_results(json_object *st, const struct model_task *t, json_object *result,
			   int exit_code, int64_t start_ms, int64_t end_ms)
{
	json_object *outs = jget(result, "outputs");
	json_object *results = json_object_new_object();
	if (outs) {
		json_object_object_foreach(outs, k, v)
			json_object_object_add(results, k, json_object_get(v));
	}
	json_object *declared = json_object_new_object();
	for (size_t i = 0; i < t->n_outputs; i++) {
		const char *v = jstr(outs, t->outputs[i].name);
		if (!v)
			v = t->outputs[i].dflt;
		if (v)
			json_object_object_add(declared, t->outputs[i].name, json_object_new_string(v));
	}
	json_object_object_add(st, "results", results);
	json_object_object_add(st, "outputs", declared);
	json_object *usage = json_object_new_object();
	static const char *const keys[] = { "inputTokens", "outputTokens", "costUSD" };
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		json_object *v = jget(result, keys[i]);
		if (v)
			json_object_object_add(usage, keys[i], json_object_get(v));
	}
	json_object_object_add(st, "usage", usage);
	const char *text = jstr(result, "result");
	if (text)
		json_object_object_add(st, "result", json_object_new_string(text));
	json_object_object_add(st, "exitCode", json_object_new_int(exit_code));
	if (start_ms)
		jset_time(st, "runStartTime", start_ms);
	if (end_ms)
		jset_time(st, "runEndTime", end_ms);
	const char *w = jstr(result, "outputsWarning");
	if (w)
		json_object_object_add(st, "outputsWarning", json_object_new_string(w));
}

void pipeline_count_run(struct metrics *m, const char *driver, json_object *result,
			int64_t start_ms, int64_t end_ms)
{
	if (!m)
		return;
	double secs = start_ms && end_ms >= start_ms ? (double)(end_ms - start_ms) / 1000.0 : -1;
	json_object *v;
	long long in = (v = jget(result, "inputTokens")) ? (long long)json_object_get_int64(v) : -1;
	long long out = (v = jget(result, "outputTokens")) ? (long long)json_object_get_int64(v) : -1;
	double cost = (v = jget(result, "costUSD")) ? json_object_get_double(v) : -1;
	metrics_run_finished(m, driver, secs, in, out, cost);
}

int pipeline_check_task(const struct pd_config *cfg, const struct plugin_set *ps,
			const struct model_task *t, int agent_rc, const struct model_agent *a,
			char *err, size_t errlen)
{
	if (t->agent_name) {
		if (agent_rc == -ENOENT)
			return errf(err, errlen, -ENOENT,
				    "spec.agentRef: agent \"%s/%s\" not found: apply the Agent first (paddock get agents)",
				    t->agent_ns, t->agent_name);
		if (agent_rc < 0)
			return agent_rc;
		if (!model_agent_allows(a, t->ns))
			return errf(err, errlen, -EPERM,
				    "spec.agentRef: agent \"%s/%s\" does not allow namespace \"%s\": add it to the Agent's spec.allowedNamespaces",
				    t->agent_ns, t->agent_name, t->ns);
	}
	int rc = t->ws_repo ? config_git_local_check(cfg ? &cfg->git : NULL, t->ws_repo,
						     "spec.workspace.repo", err, errlen)
			    : 0;
	if (rc == 0 && ps)
		rc = pipeline_validate(ps, t, a, err, errlen);
	if (rc == 0) /* Task against Agent; paddock.yaml's defaults at run time */
		rc = pipeline_check_resources(NULL, t, a, err, errlen);
	if (rc == 0)
		rc = tmpl_check_deps(t->prompt, (const char *const *)t->deps.v, t->deps.n, err, errlen);
	return rc;
}

static const char *no_agent_field(const struct paddock_task_view *v, const char *key)
{
	(void)v;
	(void)key;
	return NULL;
}

int pipeline_driver_entry(const struct plugin_set *ps, const char *driver, struct run_plan *plan,
			  char *err, size_t errlen)
{
	const struct loaded_plugin *d = plugins_driver(ps, driver);
	if (!d)
		return errf(err, errlen, -ENOENT, "driver \"%s\" is not enabled", driver ? driver : "");
	struct paddock_task_view v = {
		.size = sizeof(v), .ns = "default", .name = "config-check", .uid = "config-check",
		.type = driver, .prompt = "", .credentials_type = "none", .secret_ns = "default",
		.agent_field = no_agent_field,
	};
	struct paddock_plan_builder b;
	plan_builder(plan, &b);
	int rc = plugin_driver_ops(d)->entrypoint(d->instance, &v, &b, err, errlen);
	if (rc >= 0 && plan->rc < 0)
		rc = errf(err, errlen, plan->rc, "driver %s: %s", driver, plan->err);
	return rc < 0 ? rc : 0;
}

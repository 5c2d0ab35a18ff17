/* SPDX-License-Identifier: MIT */
/*
 * cli/kube.c - the task commands' storage on a Kubernetes API server
 * (see cli/kube.h).  REST calls through kube/client.h; every answer is turned
 * into 0 or a negative errno with one line for the user.  Nothing here
 * prints to stdout except pod logs.
 */
#include "config.h"
#include "cli/kube.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kube/client.h"
#include "kube/render.h"
#include "proxy/sidecar.h"
#include "proxy/traffic.h"
#include "control/pipeline.h"
#include "control/template.h"
#include "base/term.h"
#include "base/util.h"

struct kcli {
	const struct pd_config *cfg;     /* borrowed */
	const struct plugin_set *ps;     /* borrowed, may be NULL */
	struct kube_config *conf;        /* owned */
	struct kube_client *cl;          /* owned */
	char *ns;                        /* owned */
	bool quiet;                      /* no "waiting" notes on stderr */
};

/* ---- small JSON helpers ------------------------------------------------ */

/* A scalar by dotted path ("status.phase"), borrowed, or NULL. */
static const char *field(json_object *o, const char *path)
{
	return o ? model_field(o, path) : NULL;
}

static json_object *member(json_object *o, const char *key)
{
	json_object *v = NULL;
	if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

/* o[key], created as an empty object when missing. */
static json_object *member_obj(json_object *o, const char *key)
{
	json_object *v = member(o, key);
	if (!v || !json_object_is_type(v, json_type_object)) {
		v = json_object_new_object();
		json_object_object_add(o, key, v);
	}
	return v;
}

/* Remove o[key]; NULL-safe. */
static void del(json_object *o, const char *key)
{
	if (o && json_object_is_type(o, json_type_object))
		json_object_object_del(o, key);
}

static json_object *deep_copy(json_object *o)
{
	json_object *c = NULL;
	if (!o || json_object_deep_copy(o, &c, NULL) < 0)
		return NULL;
	return c;
}

/* ---- kinds --------------------------------------------------------------- */

static const struct kind_info {
	const struct kube_resource *r;
	const char *api_version, *kind, *what; /* what: for messages */
	const char *group;                     /* for RBAC messages */
} kinds[] = {
	[MODEL_TASK] = { &KUBE_TASKS, MODEL_API_GROUP_VERSION, "Task", "task", "paddock.dev" },
	[MODEL_AGENT] = { &KUBE_AGENTS, MODEL_API_GROUP_VERSION, "Agent", "agent", "paddock.dev" },
	[MODEL_SECRET] = { &KUBE_SECRETS, "v1", "Secret", "secret", "" },
	[MODEL_CONFIGMAP] = { &KUBE_CONFIGMAPS, "v1", "ConfigMap", "configmap", "" },
	[MODEL_SPAWNER] = { &KUBE_SPAWNERS, MODEL_API_GROUP_VERSION, "Spawner", "spawner", "paddock.dev" },
	[MODEL_BUDGET] = { &KUBE_BUDGETS, MODEL_API_GROUP_VERSION, "Budget", "budget", "paddock.dev" },
};

static const struct kind_info *kind_info(enum model_kind k)
{
	return (unsigned)k < ARRAY_SIZE(kinds) ? &kinds[k] : &kinds[MODEL_TASK];
}

/* Kinds without a custom resource: refused, never sent as a Task. */
static int kind_unsupported(enum model_kind k, char *err, size_t errlen)
{
	if ((unsigned)k < ARRAY_SIZE(kinds) && kinds[k].r)
		return 0;
	return errf(err, errlen, -EOPNOTSUPP,
		    "kind %s is not served by the Kubernetes backend yet: use the local backend",
		    model_kind_name(k) ? model_kind_name(k) : "?");
}

/* What the server gives back, made to look like a local object:
 * apiVersion and kind first (list items have neither), no managedFields.
 * Takes `obj`; returns the tidied object, owned. */
static json_object *tidy(json_object *obj, enum model_kind k)
{
	json_object *t = json_object_new_object();
	json_object *av = member(obj, "apiVersion"), *kd = member(obj, "kind");
	json_object_object_add(t, "apiVersion", av ? json_object_get(av)
						  : json_object_new_string(kind_info(k)->api_version));
	json_object_object_add(t, "kind", kd ? json_object_get(kd)
					    : json_object_new_string(kind_info(k)->kind));
	json_object_object_foreach(obj, key, val) {
		if (strcmp(key, "apiVersion") && strcmp(key, "kind"))
			json_object_object_add(t, key, json_object_get(val));
	}
	json_object_put(obj);
	del(member(t, "metadata"), "managedFields");
	return t;
}

/* ---- errors ---------------------------------------------------------- */

int kcli_exit_code(int rc)
{
	switch (rc) {
	case 0:
		return CLI_EXIT_OK;
	case -ENOENT:
	case -ENXIO:
	case -ESRCH:
	case -EAGAIN:
		return CLI_EXIT_NOT_FOUND;
	default:
		return CLI_EXIT_FAILED;
	}
}

/* The reason in kube/client.c's "METHOD /path: curl error[: detail]": the
 * detail when there is one ("Failed to connect to 127.0.0.1 port 1 ...",
 * "SSL certificate problem: ..."), else the curl error. */
static const char *transport_reason(const char *kerr)
{
	const char *p = kerr, *sp = strchr(p, ' ');
	if (sp && sp[1] == '/' && strstr(sp, ": "))
		p = strstr(sp, ": ") + 2;
	const char *detail = strstr(p, ": ");
	if (detail && detail[2])
		p = detail + 2;
	return *p ? p : "no answer";
}

static int unreachable(const struct kcli *k, const char *kerr, char *err, size_t errlen)
{
	return errf(err, errlen, -EHOSTUNREACH,
		    "cannot reach the API server at %s: %s (check --kubeconfig / kubectl cluster-info)",
		    k->conf->server, transport_reason(kerr));
}

/* The RBAC verb of a request. */
static const char *verb_of(const char *method, const char *name, const char *query)
{
	if (!strcmp(method, "GET"))
		return name ? "get" : query && strstr(query, "watch=true") ? "watch" : "list";
	if (!strcmp(method, "POST"))
		return "create";
	if (!strcmp(method, "PUT"))
		return "update";
	if (!strcmp(method, "PATCH"))
		return "patch";
	if (!strcmp(method, "DELETE"))
		return "delete";
	return method;
}

/* The causes of a 422 Status: "spec.x: message; spec.y: message". */
static void causes(json_object *status, const char *fallback, char *out, size_t n)
{
	json_object *cs = member(member(status, "details"), "causes");
	struct buf b;
	buf_init(&b, n > 1 ? n - 1 : 1);
	size_t nc = cs && json_object_is_type(cs, json_type_array) ? json_object_array_length(cs) : 0;
	for (size_t i = 0; i < nc; i++) {
		json_object *c = json_object_array_get_idx(cs, i);
		const char *f = field(c, "field"), *m = field(c, "message");
		/* "<nil>: some validation rules were not checked ...": noise
		 * next to the real causes */
		if (nc > 1 && (!f || !strcmp(f, "<nil>")))
			continue;
		if (buf_printf(&b, "%s%s%s%s", b.len ? "; " : "", f ? f : "", f ? ": " : "",
			       m ? m : "") < 0)
			break;
	}
	snprintf(out, n, "%s", b.len ? b.data : fallback);
	buf_free(&b);
}

struct call {
	const char *method;
	const struct kube_resource *r;
	const char *what;       /* "task", "pod", ... */
	const char *group;      /* "paddock.dev", "" */
	const char *ns, *name, *sub, *query;
	json_object *body;      /* borrowed */
	const char *ctype;
};

/* A status >= 400 as -errno and a line for the user. */
static int api_error(const struct kcli *k, const struct call *c, int st, json_object *resp,
		     const char *kerr, char *err, size_t errlen)
{
	const char *reason = field(resp, "reason"), *msg = field(resp, "message");
	json_object *details = member(resp, "details");
	const char *name = c->name ? c->name : field(details, "name") ? field(details, "name") : "";
	char ns_part[160] = "";
	if (c->ns)
		snprintf(ns_part, sizeof(ns_part), " in namespace %s", c->ns);
	char res[160];
	snprintf(res, sizeof(res), "%s%s%s%s%s", c->r->plural, c->sub ? "/" : "", c->sub ? c->sub : "",
		 *c->group ? "." : "", c->group);
	switch (st) {
	case 401:
		return errf(err, errlen, -EACCES,
			    "unauthorized: the API server at %s did not accept the credentials of context \"%s\": check the user in the kubeconfig",
			    k->conf->server, k->conf->context ? k->conf->context : "");
	case 403:
		return errf(err, errlen, -EACCES,
			    "forbidden: the kubeconfig's user may not %s %s%s (RBAC): %s",
			    verb_of(c->method, c->name, c->query), res, ns_part, msg ? msg : kerr);
	case 404:
		if (str_eq(field(details, "kind"), "namespaces"))
			return errf(err, errlen, -ENXIO,
				    "namespace \"%s\" not found: create it first (kubectl create namespace %s)",
				    c->ns, c->ns);
		if (*c->group && (!str_eq(reason, "NotFound") || !field(details, "name") || !c->name))
			return errf(err, errlen, -ENOTSUP,
				    "the API server at %s does not serve %s.%s: install Paddock's CRDs (kubectl apply -f etc/kubernetes/crds.yaml)",
				    k->conf->server, c->r->plural, c->group);
		return errf(err, errlen, -ENOENT, "%s \"%s\" not found%s", c->what, name, ns_part);
	case 409:
		if (str_eq(reason, "AlreadyExists"))
			return errf(err, errlen, -EEXIST, "%s \"%s\" already exists%s", c->what, name,
				    ns_part);
		return errf(err, errlen, -EBUSY, "%s \"%s\"%s changed meanwhile: try again (%s)", c->what,
			    name, ns_part, msg ? msg : kerr);
	case 422: {
		char why[768];
		causes(resp, msg ? msg : kerr, why, sizeof(why));
		return errf(err, errlen, -EINVAL, "the API server refused %s \"%s\": %s", c->what, name,
			    why);
	}
	default:
		return errf(err, errlen, -EIO, "%s", kerr);
	}
}

/* One request.  Returns the HTTP status (2xx) or -errno with err; *out
 * (may be NULL) gets the answer, owned. */
static int call(struct kcli *k, const struct call *c, json_object **out, char *err, size_t errlen)
{
	char *path = kube_path(c->r, c->ns, c->name, c->sub, c->query);
	json_object *resp = NULL;
	char kerr[1024] = "";
	int st = kube_request(k->cl, c->method, path, c->body, c->ctype, &resp, kerr, sizeof(kerr));
	free(path);
	if (st == -E2BIG)
		st = errf(err, errlen, -EIO, "%s", kerr);
	else if (st < 0)
		st = unreachable(k, kerr, err, errlen);
	else if (st >= 400 || st < 200)
		st = api_error(k, c, st, resp, kerr, err, errlen);
	if (st >= 0 && out) {
		*out = resp;
		resp = NULL;
	}
	json_object_put(resp);
	return st;
}

static struct call kind_call(const char *method, enum model_kind kind, const char *ns,
			     const char *name)
{
	const struct kind_info *ki = kind_info(kind);
	return (struct call){ .method = method, .r = ki->r, .what = ki->what, .group = ki->group,
			      .ns = ns, .name = name };
}

/* ---- open ------------------------------------------------------------- */

bool kcli_wanted(const struct cli_ctx *ctx)
{
	return ctx->kubeconfig || ctx->kube_context ||
	       (ctx->cfg && str_eq(ctx->cfg->backend, "kubernetes"));
}

int kcli_open(const struct cli_ctx *ctx, const char *ns_flag, const struct plugin_set *plugins,
	      struct kcli **out, char *err, size_t errlen)
{
	const char *path = ctx->kubeconfig ? ctx->kubeconfig : ctx->cfg->kubeconfig;
	struct kube_config *conf = NULL;
	struct kube_client *cl = NULL;
	char kerr[1024];
	int rc = kube_config_load(path, ctx->kube_context, &conf, kerr, sizeof(kerr));
	if (rc < 0)
		return errf(err, errlen, rc, "kubeconfig: %s", kerr);
	rc = kube_client_new(conf, NULL, &cl, kerr, sizeof(kerr));
	if (rc < 0) {
		kube_config_free(conf);
		return errf(err, errlen, rc, "kubeconfig: %s", kerr);
	}
	const char *env = getenv("PADDOCK_NAMESPACE");
	const char *ns = ns_flag               ? ns_flag
			 : env && *env         ? env
			 : ctx->cfg->kube_namespace ? ctx->cfg->kube_namespace
			 : conf->namespace     ? conf->namespace
					       : MODEL_DEFAULT_NAMESPACE;
	if (!model_dns1123_label(ns)) {
		kube_client_free(cl);
		kube_config_free(conf);
		return errf(err, errlen, -EINVAL,
			    "namespace \"%.64s\": use lowercase letters, digits and '-', at most 63 characters",
			    ns);
	}
	struct kcli *k = xcalloc(1, sizeof(*k));
	k->cfg = ctx->cfg;
	k->ps = plugins;
	k->conf = conf;
	k->cl = cl;
	k->ns = xstrdup(ns);
	*out = k;
	return 0;
}

void kcli_close(struct kcli *k)
{
	if (!k)
		return;
	kube_client_free(k->cl);
	kube_config_free(k->conf);
	free(k->ns);
	free(k);
}

const char *kcli_namespace(const struct kcli *k)
{
	return k->ns;
}

struct kube_client *kcli_client(struct kcli *k)
{
	return k->cl;
}

void kcli_set_quiet(struct kcli *k, bool quiet)
{
	k->quiet = quiet;
}

/* ---- get / list --------------------------------------------------------- */

int kcli_get(struct kcli *k, enum model_kind kind, const char *ns, const char *name,
	     json_object **out, char *err, size_t errlen)
{
	if (kind_unsupported(kind, err, errlen) < 0)
		return -EOPNOTSUPP;
	struct call c = kind_call("GET", kind, ns, name);
	json_object *obj = NULL;
	int st = call(k, &c, &obj, err, errlen);
	if (st < 0)
		return st;
	if (!obj || !json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		return errf(err, errlen, -EIO, "GET %s \"%s\": the API server sent no object", c.what,
			    name);
	}
	*out = tidy(obj, kind);
	return 0;
}

/* Creation order, as the local store lists: creationTimestamp, then
 * namespace and name. */
static int by_creation(const void *a, const void *b)
{
	json_object *x = *(json_object *const *)a, *y = *(json_object *const *)b;
	const char *keys[] = { "metadata.creationTimestamp", "metadata.namespace", "metadata.name" };
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		const char *p = field(x, keys[i]), *q = field(y, keys[i]);
		int d = strcmp(p ? p : "", q ? q : "");
		if (d)
			return d;
	}
	return 0;
}

/* GET a whole list (pages of 500) into *items (owned array). */
static int list_all(struct kcli *k, struct call *c, json_object **items, char *err, size_t errlen)
{
	json_object *all = json_object_new_array();
	char *cont = NULL;
	const char *base = c->query;
	int rc = 0;
	do {
		char *esc = cont ? kube_query_escape(cont) : NULL;
		char *q = xasprintf("%s%slimit=500%s%s", base ? base : "", base ? "&" : "",
				    esc ? "&continue=" : "", esc ? esc : "");
		free(esc);
		free(cont);
		cont = NULL;
		c->query = q;
		json_object *page = NULL;
		rc = call(k, c, &page, err, errlen);
		c->query = base;
		free(q);
		if (rc < 0)
			break;
		json_object *its = member(page, "items");
		size_t n = its && json_object_is_type(its, json_type_array) ? json_object_array_length(its) : 0;
		for (size_t i = 0; i < n; i++)
			json_object_array_add(all, json_object_get(json_object_array_get_idx(its, i)));
		const char *next = field(page, "metadata.continue");
		if (next && *next)
			cont = xstrdup(next);
		json_object_put(page);
		rc = 0;
	} while (cont);
	if (rc < 0) {
		json_object_put(all);
		return rc;
	}
	*items = all;
	return 0;
}

/* List what `param` ("fieldSelector", "labelSelector") = KEY=VALUE
 * selects, into *items (owned array). */
static int list_selected(struct kcli *k, struct call *c, const char *param, const char *key,
			 const char *value, json_object **items, char *err, size_t errlen)
{
	char *sel = xasprintf("%s=%s", key, value);
	char *esc = kube_query_escape(sel);
	char *q = xasprintf("%s=%s", param, esc);
	c->query = q;
	int rc = list_all(k, c, items, err, errlen);
	c->query = NULL;
	free(q);
	free(esc);
	free(sel);
	return rc;
}

int kcli_list(struct kcli *k, enum model_kind kind, const char *ns, store_obj_cb cb, void *ctx,
	      char *err, size_t errlen)
{
	if (kind_unsupported(kind, err, errlen) < 0)
		return -EOPNOTSUPP;
	struct call c = kind_call("GET", kind, ns, NULL);
	json_object *items = NULL;
	int rc = list_all(k, &c, &items, err, errlen);
	if (rc < 0)
		return rc;
	size_t n = json_object_array_length(items);
	for (size_t i = 0; i < n; i++) {
		json_object *it = json_object_get(json_object_array_get_idx(items, i));
		json_object_array_put_idx(items, i, tidy(it, kind));
	}
	json_object_array_sort(items, by_creation);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = cb(json_object_array_get_idx(items, i), ctx);
	json_object_put(items);
	return rc;
}

/* ---- apply -------------------------------------------------------------- */

/* The Agent ns/name from the server, as a validated view (owned *out). */
static int server_agent(struct kcli *k, const char *ns, const char *name, struct model_agent **out,
			char *err, size_t errlen)
{
	json_object *obj = NULL;
	int rc = kcli_get(k, MODEL_AGENT, ns, name, &obj, err, errlen);
	if (rc < 0)
		return rc;
	struct model_limits lim = { .prompt_bytes = k->cfg->limits.prompt_bytes };
	enum model_kind kind;
	char verr[768];
	json_object *doc = NULL;
	rc = model_from_server(obj, &lim, &kind, &doc, verr, sizeof(verr));
	json_object_put(obj);
	if (rc == 0)
		rc = model_agent_from_json(doc, out, verr, sizeof(verr));
	if (rc < 0)
		errf(err, errlen, rc, "spec.agentRef: agent \"%s/%s\" on the server is invalid: %s", ns,
		     name, verr);
	json_object_put(doc);
	return rc;
}

/* A Task's submit-time checks past the schema, as runtime_apply() makes
 * them locally: its Agent (here from the server) exists and allows the
 * namespace, the plugins accept it, its templates name its dependencies. */
static int check_task(struct kcli *k, json_object *doc, char *err, size_t errlen)
{
	struct model_task *t = NULL;
	struct model_agent *a = NULL;
	int rc = model_task_from_json(doc, &t, err, errlen);
	if (rc < 0)
		return rc;
	int arc = t->agent_name ? server_agent(k, t->agent_ns, t->agent_name, &a, err, errlen) : 0;
	rc = pipeline_check_task(k->cfg, k->ps, t, arc, a, err, errlen);
	model_agent_free(a);
	model_task_free(t);
	return rc;
}

/* Past Pending, Waiting and Queued (the phases are in that order). */
static bool started(const char *phase)
{
	return model_phase_parse(phase) >= MODEL_PHASE_RUNNING;
}

/* spec without spec.stop (a stop request is not a spec change). */
static bool same_spec(json_object *a, json_object *b)
{
	json_object *x = deep_copy(member(a, "spec")), *y = deep_copy(member(b, "spec"));
	del(x, "stop");
	del(y, "stop");
	bool eq = json_object_equal(x, y);
	json_object_put(x);
	json_object_put(y);
	return eq;
}

/* The update of `cur` (the server's object) to `doc`: doc's content
 * (spec, data, ...), labels and annotations, keeping paddock.dev/
 * annotations doc does not set; resourceVersion and status as they are.
 * Owned, or NULL with err when a started Task's spec would change. */
static json_object *updated(json_object *cur, json_object *doc, enum model_kind kind, char *err,
			    size_t errlen)
{
	const char *phase = field(cur, "status.phase");
	if (kind == MODEL_TASK && started(phase) && !same_spec(cur, doc)) {
		errf(err, errlen, -EPERM,
		     "task \"%s/%s\" is %s: its spec cannot change once started; only metadata.labels and metadata.annotations can (delete and re-create it to run again)",
		     field(cur, "metadata.namespace"), field(cur, "metadata.name"), phase);
		return NULL;
	}
	json_object *u = deep_copy(cur);
	/* content: every top-level key but these comes from doc */
	const char *own[] = { "apiVersion", "kind", "metadata", "status" };
	json_object *drop = json_object_new_array();
	json_object_object_foreach(u, key, val) {
		(void)val;
		bool keep = false;
		for (size_t i = 0; i < ARRAY_SIZE(own); i++)
			keep = keep || !strcmp(key, own[i]);
		if (!keep && !member(doc, key))
			json_object_array_add(drop, json_object_new_string(key));
	}
	for (size_t i = 0; i < json_object_array_length(drop); i++)
		json_object_object_del(u, json_object_get_string(json_object_array_get_idx(drop, i)));
	json_object_put(drop);
	json_object_object_foreach(doc, dkey, dval) {
		bool skip = false;
		for (size_t i = 0; i < ARRAY_SIZE(own); i++)
			skip = skip || !strcmp(dkey, own[i]);
		if (!skip)
			json_object_object_add(u, dkey, json_object_get(dval));
	}
	json_object *umd = member_obj(u, "metadata"), *dmd = member(doc, "metadata");
	json_object *labels = member(dmd, "labels"), *ann = deep_copy(member(dmd, "annotations"));
	if (labels)
		json_object_object_add(umd, "labels", json_object_get(labels));
	else
		json_object_object_del(umd, "labels");
	json_object *cann = member(member(cur, "metadata"), "annotations");
	if (cann && json_object_is_type(cann, json_type_object)) {
		json_object_object_foreach(cann, ak, av) {
			if (!str_startswith(ak, "paddock.dev/") || member(ann, ak))
				continue;
			if (!ann)
				ann = json_object_new_object();
			json_object_object_add(ann, ak, json_object_get(av));
		}
	}
	if (ann)
		json_object_object_add(umd, "annotations", ann);
	else
		json_object_object_del(umd, "annotations");
	return u;
}

int kcli_apply(struct kcli *k, json_object *doc, bool create_only, enum store_applied *res,
	       enum model_kind *kind, char *err, size_t errlen)
{
	struct model_limits lim = { .prompt_bytes = k->cfg->limits.prompt_bytes };
	enum model_kind kd;
	int rc = model_validate(doc, &lim, &kd, err, errlen);
	if (rc < 0 || (rc = kind_unsupported(kd, err, errlen)) < 0)
		return rc;
	if (kd == MODEL_TASK && (rc = check_task(k, doc, err, errlen)) < 0)
		return rc;
	if (kd == MODEL_AGENT) { /* its egress within paddock.yaml's, as runtime_apply() */
		struct model_agent *a = NULL;
		if ((rc = model_agent_from_json(doc, &a, err, errlen)) < 0)
			return rc;
		rc = pipeline_check_network(k->cfg, a, err, errlen);
		model_agent_free(a);
		if (rc < 0)
			return rc;
	}
	const char *ns = field(doc, "metadata.namespace"), *name = field(doc, "metadata.name");
	json_object *body = deep_copy(doc);
	json_object_object_del(body, "status");
	del(member(body, "metadata"), "resourceVersion");
	del(member(body, "metadata"), "uid");
	del(member(body, "metadata"), "generation");
	del(member(body, "metadata"), "creationTimestamp");
	/* Create; on AlreadyExists read it and replace it (with its
	 * resourceVersion: a concurrent writer makes us start over). */
	rc = -EBUSY;
	for (int attempt = 0; attempt < 5 && rc == -EBUSY; attempt++) {
		struct call c = kind_call("POST", kd, ns, NULL);
		c.body = body;
		rc = call(k, &c, NULL, err, errlen);
		if (rc >= 0) {
			if (res)
				*res = STORE_APPLY_CREATED;
			break;
		}
		if (rc == -EEXIST && create_only) {
			errf(err, errlen, rc, "%s \"%s\" already exists in namespace %s",
			     kind_info(kd)->what, name, ns);
			break;
		}
		if (rc != -EEXIST)
			break;
		json_object *cur = NULL;
		rc = kcli_get(k, kd, ns, name, &cur, err, errlen);
		if (rc == -ENOENT) { /* deleted meanwhile: create again */
			rc = -EBUSY;
			continue;
		}
		if (rc < 0)
			break;
		json_object *u = updated(cur, body, kd, err, errlen);
		if (!u) {
			json_object_put(cur);
			rc = -EPERM;
			break;
		}
		/* The same object: nothing to send.  Else the server's answer
		 * tells: a no-op update keeps the resourceVersion. */
		if (json_object_equal(u, cur)) {
			json_object_put(u);
			json_object_put(cur);
			rc = 0;
			if (res)
				*res = STORE_APPLY_UNCHANGED;
			break;
		}
		c = kind_call("PUT", kd, ns, name);
		c.body = u;
		json_object *answer = NULL;
		rc = call(k, &c, &answer, err, errlen);
		json_object_put(u);
		if (rc == -ENOENT)
			rc = -EBUSY;
		if (rc >= 0 && res) {
			const char *rv0 = field(cur, "metadata.resourceVersion");
			const char *rv1 = field(answer, "metadata.resourceVersion");
			*res = rv0 && rv1 && !strcmp(rv0, rv1) ? STORE_APPLY_UNCHANGED
							       : STORE_APPLY_CONFIGURED;
		}
		json_object_put(answer);
		json_object_put(cur);
	}
	json_object_put(body);
	if (rc < 0)
		return rc;
	if (kind)
		*kind = kd;
	return 0;
}

/* ---- stop / delete ------------------------------------------------------ */

int kcli_stop(struct kcli *k, const char *ns, const char *name, const char **finished, char *err,
	      size_t errlen)
{
	if (finished)
		*finished = NULL;
	/* Read, then patch with that resourceVersion: the server refuses
	 * (409) when the task changed in between, and we look again. */
	int rc = -EBUSY;
	for (int attempt = 0; attempt < 5 && rc == -EBUSY; attempt++) {
		json_object *cur = NULL;
		if ((rc = kcli_get(k, MODEL_TASK, ns, name, &cur, err, errlen)) < 0)
			break;
		const char *phase = field(cur, "status.phase");
		int p = phase ? model_phase_parse(phase) : -1;
		if (p >= 0 && model_phase_finished((enum model_phase)p)) {
			if (finished)
				*finished = model_phase_name((enum model_phase)p);
			json_object_put(cur);
			return 1;
		}
		json_object *patch = json_object_new_object();
		json_object *md = member_obj(patch, "metadata");
		const char *rv = field(cur, "metadata.resourceVersion");
		if (rv)
			json_object_object_add(md, "resourceVersion", json_object_new_string(rv));
		json_object *ann = member_obj(md, "annotations");
		json_object_object_add(ann, MODEL_ANNOTATION_STOP, json_object_new_string("true"));
		json_object_put(cur);
		struct call c = kind_call("PATCH", MODEL_TASK, ns, name);
		c.body = patch;
		c.ctype = "application/merge-patch+json";
		rc = call(k, &c, NULL, err, errlen);
		json_object_put(patch);
	}
	return rc < 0 ? rc : 0;
}

int kcli_delete(struct kcli *k, enum model_kind kind, const char *ns, const char *name, char *err,
		size_t errlen)
{
	if (kind_unsupported(kind, err, errlen) < 0)
		return -EOPNOTSUPP;
	json_object *opts = json_object_new_object();
	json_object_object_add(opts, "apiVersion", json_object_new_string("v1"));
	json_object_object_add(opts, "kind", json_object_new_string("DeleteOptions"));
	json_object_object_add(opts, "propagationPolicy", json_object_new_string("Background"));
	struct call c = kind_call("DELETE", kind, ns, name);
	c.body = opts;
	int rc = call(k, &c, NULL, err, errlen);
	json_object_put(opts);
	return rc < 0 ? rc : 0;
}

/* ---- events ---------------------------------------------------------- */

/* When an Event happened: eventTime (micro), else lastTimestamp, else
 * firstTimestamp, else its creation. */
static int64_t event_ms(json_object *ev)
{
	const char *keys[] = { "eventTime", "lastTimestamp", "firstTimestamp",
			       "metadata.creationTimestamp" };
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		int64_t ms;
		const char *s = field(ev, keys[i]);
		if (s && parse_time(s, &ms) == 0)
			return ms;
	}
	return 0;
}

/* Oldest first; the same second keeps the order the server wrote them
 * (resourceVersion, then name). */
static int by_time(const void *a, const void *b)
{
	json_object *x = *(json_object *const *)a, *y = *(json_object *const *)b;
	int64_t tx = event_ms(x), ty = event_ms(y);
	if (tx != ty)
		return tx < ty ? -1 : 1;
	const char *rx = field(x, "metadata.resourceVersion"), *ry = field(y, "metadata.resourceVersion");
	unsigned long long vx = rx ? strtoull(rx, NULL, 10) : 0, vy = ry ? strtoull(ry, NULL, 10) : 0;
	if (vx != vy)
		return vx < vy ? -1 : 1;
	const char *nx = field(x, "metadata.name"), *ny = field(y, "metadata.name");
	return strcmp(nx ? nx : "", ny ? ny : "");
}

int kcli_events(struct kcli *k, json_object *task, store_event_cb cb, void *ctx, char *err,
		size_t errlen)
{
	const char *uid = field(task, "metadata.uid");
	if (!uid)
		return 0;
	struct call c = { .method = "GET", .r = &KUBE_EVENTS, .what = "event", .group = "",
			  .ns = field(task, "metadata.namespace") };
	json_object *items = NULL;
	int rc = list_selected(k, &c, "fieldSelector", "involvedObject.uid", uid, &items, err,
			       errlen);
	if (rc < 0)
		return rc;
	json_object_array_sort(items, by_time);
	size_t n = json_object_array_length(items);
	for (size_t i = 0; i < n && rc == 0; i++) {
		json_object *ev = json_object_array_get_idx(items, i);
		rc = cb(event_ms(ev), field(ev, "type"), field(ev, "reason"), field(ev, "message"), ctx);
	}
	json_object_put(items);
	return rc;
}

int kcli_netpol_exists(struct kcli *k, json_object *task, char *err, size_t errlen)
{
	const char *job = field(task, "status.jobName");
	const char *ns = field(task, "status.runNamespace") ?: field(task, "metadata.namespace");
	if (!job || !ns)
		return 0;
	char *path = kube_path(&KUBE_NETWORKPOLICIES, ns, job, NULL, NULL);
	int st = kube_request(k->cl, "GET", path, NULL, NULL, NULL, err, errlen);
	free(path);
	return st == 200 ? 1 : st == 404 ? 0 : st < 0 ? st : -EIO;
}

/* ---- watching one task -------------------------------------------------- */

struct kcli_watch {
	struct kcli *k;
	struct kube_informer *inf; /* NULL: polling */
	char *ns, *name;
	json_object *first;        /* the state read at open, not yet handed out */
	int64_t opened_ms;
};

static void watch_event(void *ctx, struct kube_informer *inf, enum kube_event_type type,
			json_object *obj)
{
	(void)ctx;
	(void)inf;
	(void)type;
	(void)obj; /* the cache has it; kcli_watch_next reads it */
}

int kcli_watch_open(struct kcli *k, const char *ns, const char *name, struct kcli_watch **out,
		    char *err, size_t errlen)
{
	/* Fail now, with the usual message, if the task is not there or we
	 * may not read it; the informer only logs and retries. */
	json_object *first = NULL;
	int rc = kcli_get(k, MODEL_TASK, ns, name, &first, err, errlen);
	if (rc < 0)
		return rc;
	/* May we list (and so watch) tasks here?  If not, poll with GET. */
	struct call c = kind_call("GET", MODEL_TASK, ns, NULL);
	json_object *items = NULL;
	char lerr[512];
	rc = list_selected(k, &c, "fieldSelector", "metadata.name", name, &items, lerr, sizeof(lerr));
	json_object_put(items);
	struct kcli_watch *w = xcalloc(1, sizeof(*w));
	w->k = k;
	w->ns = xstrdup(ns);
	w->name = xstrdup(name);
	w->first = first;
	if (rc >= 0) {
		w->inf = kube_informer_new(k->cl, &KUBE_TASKS, ns, NULL, watch_event, w);
		char *sel = xasprintf("metadata.name=%s", name);
		kube_informer_set_field_selector(w->inf, sel);
		free(sel);
	}
	w->opened_ms = now_mono_ms();
	*out = w;
	return 0;
}

/* A watch (list+watch of this one Task, fieldSelector metadata.name: one
 * stream, no polling, no other task's events).
 * Where tasks may not be listed, or the watch does not sync within 5 s
 * (watch forbidden, say), a GET every half second instead. */
int kcli_watch_next(struct kcli_watch *w, int timeout_ms, json_object **task, char *err,
		    size_t errlen)
{
	*task = NULL;
	if (w->first) {
		*task = w->first;
		w->first = NULL;
		return 0;
	}
	if (!w->inf || (!kube_informer_synced(w->inf) && now_mono_ms() - w->opened_ms > 5000)) {
		kube_informer_free(w->inf);
		w->inf = NULL;
		usleep((useconds_t)(timeout_ms > 500 ? 500 : timeout_ms) * 1000);
		return kcli_get(w->k, MODEL_TASK, w->ns, w->name, task, err, errlen);
	}
	int rc = kube_informers_poll(&w->inf, 1, timeout_ms);
	if (rc < 0)
		return errf(err, errlen, rc, "watching task %s/%s: %s", w->ns, w->name, strerror(-rc));
	if (!kube_informer_synced(w->inf))
		return 0;
	json_object *obj = kube_informer_get(w->inf, w->ns, w->name);
	if (!obj)
		return -ENOENT;
	*task = tidy(deep_copy(obj), MODEL_TASK);
	return 0;
}

void kcli_watch_free(struct kcli_watch *w)
{
	if (!w)
		return;
	kube_informer_free(w->inf);
	json_object_put(w->first);
	free(w->ns);
	free(w->name);
	free(w);
}

struct kind_watch {
	enum model_kind kind;
	store_obj_cb cb;
	void *ctx;
};

static void kind_event(void *ctx, struct kube_informer *inf, enum kube_event_type type,
		       json_object *obj)
{
	struct kind_watch *kw = ctx;
	(void)inf;
	if (type != KUBE_ADDED && type != KUBE_MODIFIED)
		return;
	json_object *t = tidy(deep_copy(obj), kw->kind);
	(void)kw->cb(t, kw->ctx);
	json_object_put(t);
}

int kcli_watch_kind(struct kcli *k, enum model_kind kind, const char *ns, store_obj_cb cb,
		    void *ctx, volatile sig_atomic_t *stop, char *err, size_t errlen)
{
	int rc = kcli_list(k, kind, ns, cb, ctx, err, errlen);
	if (rc < 0)
		return rc;
	struct kind_watch kw = { kind, cb, ctx };
	struct kube_informer *inf = kube_informer_new(k->cl, kind_info(kind)->r, ns, NULL, kind_event,
						      &kw);
	if (!inf)
		return errf(err, errlen, -EINVAL, "watching %ss: cannot make an informer",
			    kind_info(kind)->what);
	while (!*stop) {
		rc = kube_informers_poll(&inf, 1, 250);
		if (rc < 0) {
			rc = errf(err, errlen, rc, "watching %ss: %s", kind_info(kind)->what,
				  strerror(-rc));
			break;
		}
		rc = 0;
	}
	kube_informer_free(inf);
	return rc;
}

/* ---- logs -------------------------------------------------------------- */

/* The newest pod of Job `job` in ns: owned *pod, or -ESRCH. */
static int job_pod(struct kcli *k, const char *ns, const char *job, json_object **pod, char *err,
		   size_t errlen)
{
	struct call c = { .method = "GET", .r = &KUBE_PODS, .what = "pod", .group = "", .ns = ns };
	json_object *items = NULL;
	int rc = list_selected(k, &c, "labelSelector", "batch.kubernetes.io/job-name", job, &items,
			       err, errlen);
	if (rc < 0)
		return rc;
	json_object_array_sort(items, by_creation);
	size_t n = json_object_array_length(items);
	if (n == 0)
		rc = -ESRCH;
	else
		*pod = json_object_get(json_object_array_get_idx(items, n - 1));
	json_object_put(items);
	return rc;
}


int kcli_egress_traffic(struct kcli *k, json_object *task, json_object **doc, char *err, size_t errlen)
{
	const char *job = field(task, "status.jobName");
	const char *ns = field(task, "status.runNamespace") ?: field(task, "metadata.namespace");
	json_object *pod = NULL;
	*doc = NULL;
	if (!job || !ns)
		return 0;
	int rc = job_pod(k, ns, job, &pod, err, errlen);
	if (rc < 0)
		return rc == -ESRCH ? 0 : rc;
	if (!kube_pod_has_sidecar(pod)) {
		json_object_put(pod);
		return 0;
	}
	char *path = kube_path(&KUBE_PODS, ns, field(pod, "metadata.name"), "log",
			       "container=" EGRESS_SIDECAR_NAME);
	char *log = NULL;
	size_t len = 0;
	int st = kube_get_log(k->cl, path, EGRESS_LOG_BYTES, &log, &len, NULL, err, errlen);
	free(path);
	json_object_put(pod);
	if (st == 200) {
		struct egress_log el;
		egress_log_parse(log, len, &el);
		*doc = el.traffic; /* taken: egress_log_free not needed */
	}
	free(log);
	/* 400: no sidecar (egress none or open), or it has not started. */
	return st == 200 || st == 400 || st == 404 ? 0 : st < 0 ? st : -EIO;
}

static bool pod_done(json_object *pod)
{
	const char *ph = field(pod, "status.phase");
	return str_eq(ph, "Succeeded") || str_eq(ph, "Failed");
}

static bool task_done(json_object *task)
{
	int p = model_phase_parse(field(task, "status.phase"));
	return p >= 0 && model_phase_finished((enum model_phase)p);
}

/* A log request's answer >= 300 as -errno with a line for the user:
 * -EAGAIN when the agent container has not started. */
static int log_answer_error(struct kcli *k, const char *ns, const char *pod, int st,
			    const char *kerr, char *err, size_t errlen)
{
	if (st == 400 && (strstr(kerr, "waiting to start") || strstr(kerr, "PodInitializing") ||
			  strstr(kerr, "ContainerCreating")))
		return errf(err, errlen, -EAGAIN, "pod %s/%s: the agent container has not started yet",
			    ns, pod);
	if (st == 400) {
		const char *m = strstr(kerr, ": 400 ");
		return errf(err, errlen, -EINVAL, "pod %s/%s: %s", ns, pod, m ? m + 2 : kerr);
	}
	struct call c = { .method = "GET", .r = &KUBE_PODS, .what = "pod", .group = "", .ns = ns,
			  .name = pod, .sub = "log" };
	return api_error(k, &c, st, NULL, kerr, err, errlen);
}

/* One GET of the agent container's log, its head and its tail within
 * `max` bytes (the cut marked in it); *out owned.  400 (the container
 * has not started) is -EAGAIN. */
static int fetch_log(struct kcli *k, const char *ns, const char *pod, const char *query,
		     size_t max, char **out, size_t *len, char *err, size_t errlen)
{
	char *path = kube_path(&KUBE_PODS, ns, pod, "log", query);
	char kerr[1024] = "";
	int st = kube_get_log(k->cl, path, max, out, len, NULL, kerr, sizeof(kerr));
	free(path);
	if (st < 0)
		return unreachable(k, kerr, err, errlen);
	if (st >= 300)
		return log_answer_error(k, ns, pod, st, kerr, err, errlen);
	return 0;
}

/* Has container "agent" of the pod ended (or the whole pod)? */
static bool agent_ended(json_object *pod)
{
	if (pod_done(pod))
		return true;
	json_object *cs = member(member(pod, "status"), "containerStatuses");
	size_t n = cs && json_object_is_type(cs, json_type_array) ? json_object_array_length(cs) : 0;
	for (size_t i = 0; i < n; i++) {
		json_object *c = json_object_array_get_idx(cs, i);
		if (str_eq(field(c, "name"), "agent"))
			return member(member(c, "state"), "terminated") != NULL;
	}
	return false;
}

/* The pod ns/name, owned *out; -ENOENT when it is gone. */
static int get_pod(struct kcli *k, const char *ns, const char *name, json_object **out, char *err,
		   size_t errlen)
{
	struct call c = { .method = "GET", .r = &KUBE_PODS, .what = "pod", .group = "", .ns = ns,
			  .name = name };
	int rc = call(k, &c, out, err, errlen);
	return rc < 0 ? rc : 0;
}

/* The task's timeout (spec.timeout, else limits.defaultTaskTimeout) in
 * seconds: how long -f waits for its pod to start. */
static long task_timeout_s(const struct kcli *k, json_object *task)
{
	struct model_task *t = NULL;
	char terr[256];
	long s = -1;
	if (model_task_from_json(task, &t, terr, sizeof(terr)) == 0)
		s = t->timeout_s;
	model_task_free(t);
	if (s <= 0 && k->cfg)
		s = k->cfg->limits.default_task_timeout;
	if (s <= 0)
		s = 3600;
	return s;
}

/* A log stream being followed (kube_stream's callback). */
struct follow {
	struct kcli *k;
	const char *ns, *pod;  /* borrowed */
	size_t bytes;          /* written to stdout */
	int64_t last_data_ms;  /* when bytes last came */
	int64_t next_check_ms; /* the next look at the pod */
	int64_t done_ms;       /* when the pod was first seen ended, or 0 */
	bool gone;             /* the pod was deleted */
	int werr;              /* errno of a failed write to stdout, or 0 */
	struct term_stream *ts; /* stdout is a terminal: escape through this; else NULL */
	const struct kcli_log_sink *sink; /* instead of stdout, or NULL */
};

#define FOLLOW_CHECK_MS 2000 /* how often the pod is looked at while following */
#define FOLLOW_QUIET_MS 1000 /* an ended pod's stream is closed after this much silence */
#define FOLLOW_DRAIN_MS 10000 /* ... or this long after the end was seen */

/* Bytes go to stdout as they come.  A tick (no data) looks at the pod
 * every FOLLOW_CHECK_MS: a kubelet ends the stream itself when the
 * container ends, but a server that does not (kwok, a node that lost the
 * container) is left once the pod has ended and the stream is quiet. */
static int follow_chunk(void *ctx, const char *data, size_t len)
{
	struct follow *f = ctx;
	int64_t now = now_mono_ms();
	if (len) {
		errno = 0;
		int wrc = 0;
		if (f->sink)
			wrc = f->sink->write(f->sink->ctx, data, len) ? -EPIPE : 0;
		else if (f->ts) /* stdout is a terminal */
			wrc = term_stream_write(f->ts, stdout, data, len);
		else if (fwrite(data, 1, len, stdout) != len)
			wrc = -(errno ? errno : EIO);
		if (wrc == 0 && fflush(stdout) != 0)
			wrc = -(errno ? errno : EIO);
		if (wrc < 0) {
			f->werr = -wrc;
			return 1;
		}
		f->bytes += len;
		f->last_data_ms = now;
		return 0;
	}
	if (!f->done_ms && now >= f->next_check_ms) {
		json_object *pod = NULL;
		char perr[512];
		int rc = get_pod(f->k, f->ns, f->pod, &pod, perr, sizeof(perr));
		if (rc == -ENOENT) {
			f->gone = true;
			return 1;
		}
		if (rc == 0 && pod_done(pod))
			f->done_ms = now;
		json_object_put(pod);
		f->next_check_ms = now_mono_ms() + FOLLOW_CHECK_MS;
	}
	return f->done_ms &&
	       (now - f->last_data_ms >= FOLLOW_QUIET_MS || now - f->done_ms >= FOLLOW_DRAIN_MS);
}

/* Wait (a look every 0.5 s, until `deadline`) for the newest pod of Job
 * run_ns/job to be past Pending; owned *pod_name.  0 with *pod_name NULL
 * when *stop was set.  Task ns/task is looked at every 5 s: -EAGAIN when
 * it finished meanwhile (stopped, say) and the pod never started. */
static int wait_pod_started(struct kcli *k, const char *ns, const char *task, const char *run_ns,
			    const char *job, int64_t deadline, long timeout_s,
			    volatile sig_atomic_t *stop, char **pod_name, char *err, size_t errlen)
{
	bool said_none = false, said_pending = false;
	for (unsigned round = 1;; round++) {
		json_object *pod = NULL;
		if (round % 10 == 0) {
			json_object *t = NULL;
			int trc = kcli_get(k, MODEL_TASK, ns, task, &t, err, errlen);
			if (trc == 0 && task_done(t))
				trc = errf(err, errlen, -EAGAIN,
					   "task %s is %s and its pod never started: no logs (paddock describe task %s)",
					   task, field(t, "status.phase"), task);
			json_object_put(t);
			if (trc < 0)
				return trc;
		}
		int rc = job_pod(k, run_ns, job, &pod, err, errlen);
		if (rc < 0 && rc != -ESRCH)
			return rc;
		const char *phase = rc == 0 ? field(pod, "status.phase") : NULL;
		if (rc == 0 && phase && !str_eq(phase, "Pending")) {
			*pod_name = xstrdup(field(pod, "metadata.name"));
			json_object_put(pod);
			return 0;
		}
		if (k->quiet) {
			/* the dashboard: nobody reads stderr */
		} else if (rc == -ESRCH && !said_none) {
			cli_error_escaped("task %s: Job %s/%s has no pod yet; waiting", task, run_ns, job);
			said_none = true;
		} else if (rc == 0 && !said_pending) {
			cli_error_escaped("pod %s/%s is Pending; waiting for it to start", run_ns,
			    field(pod, "metadata.name"));
			said_pending = true;
		}
		if (now_mono_ms() >= deadline) {
			rc = rc == -ESRCH
				     ? errf(err, errlen, -ETIMEDOUT,
					    "task %s: Job %s/%s still has no pod after %lds (the task's timeout): kubectl describe job -n %s %s",
					    task, run_ns, job, timeout_s, run_ns, job)
				     : errf(err, errlen, -ETIMEDOUT,
					    "task %s: pod %s/%s is still Pending after %lds (the task's timeout): kubectl describe pod -n %s %s",
					    task, run_ns, field(pod, "metadata.name"), timeout_s, run_ns,
					    field(pod, "metadata.name"));
			json_object_put(pod);
			return rc;
		}
		json_object_put(pod);
		for (int i = 0; i < 5 && !*stop; i++)
			usleep(100 * 1000);
		if (*stop)
			return 0;
	}
}

/* Follow the agent container's log of pod run_ns/pod with one stream
 * (follow=true) until the server ends it, the pod ends or *stop.  Not
 * resumed when it breaks: nothing is ever printed twice. */
/* "container=agent" and the sink's query, owned. */
static char *log_query(const struct kcli_log_sink *sink, bool follow)
{
	return xasprintf("container=agent%s%s%s", follow ? "&follow=true" : "",
			 sink && sink->query ? "&" : "", sink && sink->query ? sink->query : "");
}

static int follow_pod(struct kcli *k, const char *task, const char *run_ns, const char *pod,
		      int64_t deadline, const struct kcli_log_sink *sink, volatile sig_atomic_t *stop,
		      char *err, size_t errlen)
{
	char *q = log_query(sink, true);
	char *path = kube_path(&KUBE_PODS, run_ns, pod, "log", q);
	free(q);
	bool said_waiting = false;
	struct term_stream tstream;
	term_stream_init(&tstream, TERM_MULTILINE);
	struct term_stream *ts = isatty(1) && !sink ? &tstream : NULL;
	int rc;
	for (;;) {
		struct follow f = { .k = k, .ns = run_ns, .pod = pod, .ts = ts, .sink = sink };
		f.last_data_ms = f.next_check_ms = now_mono_ms(); /* the first tick looks */
		char kerr[1024] = "";
		int st = kube_stream(k->cl, path, follow_chunk, &f, stop, kerr, sizeof(kerr));
		if (f.werr) {
			/* `paddock logs -f | head`: the reader has gone; not an error */
			rc = f.werr == EPIPE ? 0
					     : errf(err, errlen, -EIO, "writing the log to stdout: %s",
						    strerror(f.werr));
			break;
		}
		if (*stop) {
			rc = 0;
			break;
		}
		if (st < 0 && f.bytes) {
			rc = errf(err, errlen, -EIO,
				  "pod %s/%s: the log stream broke: %s (not resumed: paddock logs -f %s prints it again from the start)",
				  run_ns, pod, transport_reason(kerr), task);
			break;
		}
		if (st < 0) {
			rc = unreachable(k, kerr, err, errlen);
			break;
		}
		if (st >= 300) {
			rc = log_answer_error(k, run_ns, pod, st, kerr, err, errlen);
			if (rc == -EAGAIN && now_mono_ms() < deadline) {
				if (!said_waiting && !k->quiet)
					cli_error_escaped("%s; waiting", err);
				said_waiting = true;
				for (int i = 0; i < 5 && !*stop; i++)
					usleep(100 * 1000);
				if (*stop) {
					rc = 0;
					break;
				}
				continue;
			}
			break;
		}
		if (f.gone || f.done_ms) {
			rc = 0;
			break;
		}
		/* The server ended the stream: the container has ended (its
		 * status may take a moment to say so), or the stream was cut
		 * (API server restart). */
		rc = 0;
		for (int i = 0; i < 10; i++) {
			json_object *p = NULL;
			char perr[512];
			int prc = get_pod(k, run_ns, pod, &p, perr, sizeof(perr));
			bool ended = prc == -ENOENT || (prc == 0 && agent_ended(p));
			const char *phase = field(p, "status.phase") ? field(p, "status.phase") : "Running";
			if (!ended && i == 9)
				rc = errf(err, errlen, -EIO,
					  "pod %s/%s is still %s but the API server ended its log stream (restarted?): not resumed: paddock logs -f %s prints it again from the start",
					  run_ns, pod, phase, task);
			json_object_put(p);
			if (ended || *stop)
				break;
			if (i < 9)
				usleep(500 * 1000);
		}
		break;
	}
	if (ts) {
		term_stream_end(ts, stdout);
		fflush(stdout);
	}
	free(path);
	return rc;
}

int kcli_logs(struct kcli *k, const char *ns, const char *name, bool follow, size_t max_bytes,
	      const struct kcli_log_sink *sink, volatile sig_atomic_t *stop, char *err, size_t errlen)
{
	json_object *task = NULL;
	int rc;
	int64_t noted = now_mono_ms();
	/* the run: status.jobName in status.runNamespace */
	for (;;) {
		if ((rc = kcli_get(k, MODEL_TASK, ns, name, &task, err, errlen)) < 0)
			return rc;
		if (field(task, "status.jobName") && field(task, "status.runNamespace"))
			break;
		const char *phase = field(task, "status.phase") ? field(task, "status.phase") : "Pending";
		if (!follow || task_done(task)) {
			rc = errf(err, errlen, -EAGAIN, "task %s is %s: no logs yet%s", name, phase,
				  task_done(task) ? " (it never ran: paddock describe task)" : "");
			json_object_put(task);
			return rc;
		}
		json_object_put(task);
		task = NULL;
		if (now_mono_ms() - noted > 30000 && !k->quiet) {
			cli_error_escaped("task %s is %s: no logs yet; still waiting", name, phase);
			noted = now_mono_ms();
		}
		if (*stop)
			return 0;
		usleep(1000 * 1000);
	}
	char *run_ns = xstrdup(field(task, "status.runNamespace"));
	char *job = xstrdup(field(task, "status.jobName"));
	bool finished = task_done(task);
	char *phase = xstrdup(field(task, "status.phase") ? field(task, "status.phase") : "Pending");
	long timeout_s = task_timeout_s(k, task);
	json_object_put(task);
	task = NULL;
	json_object *pod = NULL;
	char *pod_name = NULL;
	if (follow && !finished) {
		int64_t deadline = now_mono_ms() + (int64_t)timeout_s * 1000;
		rc = wait_pod_started(k, ns, name, run_ns, job, deadline, timeout_s, stop, &pod_name,
				      err, errlen);
		if (rc == 0 && pod_name)
			rc = follow_pod(k, name, run_ns, pod_name, deadline, sink, stop, err, errlen);
		goto out;
	}
	rc = job_pod(k, run_ns, job, &pod, err, errlen);
	if (rc == -ESRCH && finished)
		errf(err, errlen, rc,
		     "task %s is %s and the pod of Job %s/%s is gone: no logs (its outputs: paddock describe task %s)",
		     name, phase, run_ns, job, name);
	else if (rc == -ESRCH)
		rc = errf(err, errlen, -EAGAIN, "task %s is %s: no logs yet (Job %s/%s has no pod yet)",
			  name, phase, run_ns, job);
	if (rc < 0)
		goto out;
	pod_name = xstrdup(field(pod, "metadata.name"));
	if (follow && !pod_done(pod)) {
		/* the task has finished but its pod still runs: follow it to its end */
		rc = follow_pod(k, name, run_ns, pod_name, now_mono_ms() + (int64_t)timeout_s * 1000,
				sink, stop, err, errlen);
		goto out;
	}
	char *data = NULL;
	size_t len = 0;
	char *q = log_query(sink, false);
	rc = fetch_log(k, run_ns, pod_name, q, max_bytes, &data, &len, err, errlen);
	free(q);
	if (rc == 0) {
		if (sink) {
			(void)sink->write(sink->ctx, data, len);
		} else if (isatty(1)) { /* on a terminal, escaped; else exact */
			struct buf e;
			buf_init(&e, 0);
			term_sanitize(&e, data, len, TERM_MULTILINE);
			fwrite(e.data, 1, e.len, stdout);
			buf_free(&e);
		} else {
			fwrite(data, 1, len, stdout);
		}
		fflush(stdout);
	}
	free(data);
out:
	json_object_put(pod);
	free(pod_name);
	free(phase);
	free(run_ns);
	free(job);
	return rc < 0 ? rc : 0;
}

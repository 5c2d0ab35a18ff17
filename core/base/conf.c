/* SPDX-License-Identifier: MIT */
/*
 * base/conf.c - paddock.yaml.  The document is first read with libyaml's event
 * API into a small tree that keeps each node's line and column (so
 * duplicate keys, aliases and oversized input are refused before any
 * meaning is given to it), then walked against the schema below.  Every
 * error is one line "PATH:LINE:COL: field: problem: fix".
 */
#include "config.h"
#include "base/conf.h"

#include <paddock/plugin.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "base/headtail.h"
#include "base/quantity.h"

#define CONFIG_MAX_BYTES (1024 * 1024)
#define CONFIG_MAX_DEPTH 32
#define CONFIG_MAX_ITEMS 10000 /* per mapping or list: keeps duplicate checks cheap */
#define PLUGIN_NAME_MAX 64

/* ---- the node tree ------------------------------------------------ */

enum cnode_type { CN_SCALAR, CN_MAP, CN_SEQ };

struct cnode {
	enum cnode_type type;
	int line, col;        /* 1-based */
	char *value;          /* scalar */
	bool plain;           /* scalar written without quotes */
	struct cnode **kids;  /* map: key, value, key, value...; seq: items */
	size_t n, alloc;
};

static void cnode_free(struct cnode *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++)
		cnode_free(n->kids[i]);
	free(n->kids);
	free(n->value);
	free(n);
}

static struct cnode *cnode_new(enum cnode_type t, const yaml_mark_t *m)
{
	struct cnode *n = xcalloc(1, sizeof(*n));
	n->type = t;
	n->line = (int)m->line + 1;
	n->col = (int)m->column + 1;
	return n;
}

static void cnode_add(struct cnode *parent, struct cnode *kid)
{
	if (parent->n == parent->alloc) {
		parent->alloc = parent->alloc ? parent->alloc * 2 : 8;
		parent->kids = xrealloc(parent->kids, parent->alloc * sizeof(*parent->kids));
	}
	parent->kids[parent->n++] = kid;
}

static const char *type_name(const struct cnode *n)
{
	switch (n->type) {
	case CN_MAP: return "a mapping";
	case CN_SEQ: return "a list";
	default: return "a scalar";
	}
}

/* A plain ~, null or empty scalar: YAML's null. */
static bool cnode_is_null(const struct cnode *n)
{
	if (!n)
		return true;
	if (n->type != CN_SCALAR || !n->plain)
		return false;
	return !*n->value || !strcmp(n->value, "~") || !strcmp(n->value, "null") ||
	       !strcmp(n->value, "Null") || !strcmp(n->value, "NULL");
}

struct reader {
	const char *name;
	yaml_parser_t parser;
	char *err;
	size_t errlen;
};

static int rerr(struct reader *r, const yaml_mark_t *m, const char *fmt, ...) PD_PRINTF(3, 4);
static int rerr(struct reader *r, const yaml_mark_t *m, const char *fmt, ...)
{
	char msg[384];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return errf(r->err, r->errlen, -EINVAL, "%s:%zu:%zu: %s", r->name, m->line + 1,
		    m->column + 1, msg);
}

static int next_event(struct reader *r, yaml_event_t *ev)
{
	if (yaml_parser_parse(&r->parser, ev))
		return 0;
	const yaml_parser_t *p = &r->parser;
	const char *problem = p->problem ? p->problem : "invalid YAML";
	if (p->context)
		return errf(r->err, r->errlen, -EINVAL, "%s:%zu:%zu: YAML syntax error: %s %s",
			    r->name, p->problem_mark.line + 1, p->problem_mark.column + 1,
			    problem, p->context);
	return errf(r->err, r->errlen, -EINVAL, "%s:%zu:%zu: YAML syntax error: %s", r->name,
		    p->problem_mark.line + 1, p->problem_mark.column + 1, problem);
}

static int refuse_anchor(struct reader *r, const yaml_event_t *ev, const yaml_char_t *anchor)
{
	return rerr(r, &ev->start_mark,
		    "anchor \"&%s\" is not supported: write the value out in full",
		    (const char *)anchor);
}

/* Read one node whose first event is *ev (consumed by the caller's
 * yaml_event_delete).  *out is owned on success. */
static int read_node(struct reader *r, yaml_event_t *ev, int depth, struct cnode **out)
{
	if (depth > CONFIG_MAX_DEPTH)
		return rerr(r, &ev->start_mark, "nesting deeper than %d levels", CONFIG_MAX_DEPTH);
	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		return rerr(r, &ev->start_mark,
			    "alias \"*%s\" is not supported: write the value out in full",
			    (const char *)ev->data.alias.anchor);
	case YAML_SCALAR_EVENT: {
		if (ev->data.scalar.anchor)
			return refuse_anchor(r, ev, ev->data.scalar.anchor);
		if (memchr(ev->data.scalar.value, '\0', ev->data.scalar.length))
			return rerr(r, &ev->start_mark, "NUL byte in a value");
		struct cnode *n = cnode_new(CN_SCALAR, &ev->start_mark);
		n->value = xstrndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
		n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		*out = n;
		return 0;
	}
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		break;
	default:
		return rerr(r, &ev->start_mark, "unexpected YAML event");
	}

	bool is_map = ev->type == YAML_MAPPING_START_EVENT;
	const yaml_char_t *anchor = is_map ? ev->data.mapping_start.anchor
					   : ev->data.sequence_start.anchor;
	if (anchor)
		return refuse_anchor(r, ev, anchor);
	struct cnode *n = cnode_new(is_map ? CN_MAP : CN_SEQ, &ev->start_mark);
	int rc = 0;
	for (;;) {
		yaml_event_t kev;
		rc = next_event(r, &kev);
		if (rc < 0)
			goto out;
		if (kev.type == YAML_MAPPING_END_EVENT || kev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&kev);
			break;
		}
		struct cnode *kid = NULL;
		if (n->n >= (is_map ? 2 : 1) * CONFIG_MAX_ITEMS) {
			rc = rerr(r, &kev.start_mark, "more than %d items in one %s",
				  CONFIG_MAX_ITEMS, is_map ? "mapping" : "list");
			yaml_event_delete(&kev);
			goto out;
		}
		if (is_map && kev.type != YAML_SCALAR_EVENT && kev.type != YAML_ALIAS_EVENT) {
			rc = rerr(r, &kev.start_mark, "mapping keys must be plain strings");
			yaml_event_delete(&kev);
			goto out;
		}
		rc = read_node(r, &kev, depth + 1, &kid);
		yaml_event_delete(&kev);
		if (rc < 0)
			goto out;
		if (is_map) {
			for (size_t i = 0; i < n->n; i += 2) {
				if (strcmp(n->kids[i]->value, kid->value))
					continue;
				rc = errf(r->err, r->errlen, -EINVAL,
					  "%s:%d:%d: duplicate key \"%s\" (first at line %d): "
					  "keep only one", r->name, kid->line, kid->col,
					  kid->value, n->kids[i]->line);
				cnode_free(kid);
				goto out;
			}
			cnode_add(n, kid);
			/* The value. */
			yaml_event_t vev;
			rc = next_event(r, &vev);
			if (rc < 0)
				goto out;
			struct cnode *val = NULL;
			rc = read_node(r, &vev, depth + 1, &val);
			yaml_event_delete(&vev);
			if (rc < 0)
				goto out;
			cnode_add(n, val);
		} else {
			cnode_add(n, kid);
		}
	}
out:
	if (rc < 0) {
		cnode_free(n);
		return rc;
	}
	*out = n;
	return 0;
}

/* Parse a whole stream; *root is NULL for an empty stream. */
static int read_tree(struct reader *r, const char *data, size_t len, struct cnode **root)
{
	struct cnode *doc = NULL;
	int rc = 0;
	bool done = false;
	if (!yaml_parser_initialize(&r->parser))
		return errf(r->err, r->errlen, -ENOMEM, "%s: cannot initialize the YAML parser",
			    r->name);
	yaml_parser_set_input_string(&r->parser, (const unsigned char *)data, len);
	while (!done) {
		yaml_event_t ev;
		rc = next_event(r, &ev);
		if (rc < 0)
			break;
		switch (ev.type) {
		case YAML_STREAM_START_EVENT:
		case YAML_DOCUMENT_END_EVENT:
			break;
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT: {
			if (doc) {
				rc = rerr(r, &ev.start_mark,
					  "more than one YAML document: keep only one");
				break;
			}
			yaml_event_t nev;
			rc = next_event(r, &nev);
			if (rc < 0)
				break;
			rc = read_node(r, &nev, 0, &doc);
			yaml_event_delete(&nev);
			break;
		}
		default:
			rc = rerr(r, &ev.start_mark, "unexpected YAML event");
			break;
		}
		yaml_event_delete(&ev);
		if (rc < 0)
			break;
	}
	yaml_parser_delete(&r->parser);
	if (rc < 0) {
		cnode_free(doc);
		return rc;
	}
	*root = doc;
	return 0;
}

/* ---- schema walk -------------------------------------------------- */

struct walk {
	const char *name;
	char *err;
	size_t errlen;
};

static int werr(struct walk *w, const struct cnode *n, const char *fmt, ...) PD_PRINTF(3, 4);
static int werr(struct walk *w, const struct cnode *n, const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return errf(w->err, w->errlen, -EINVAL, "%s:%d:%d: %s", w->name, n->line, n->col, msg);
}

/* "a, b or c" */
static void join_choices(char *out, size_t outlen, const char *const *v, size_t n,
			 const char *last_sep)
{
	struct buf b;
	buf_init(&b, 0);
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_puts(&b, i + 1 == n ? last_sep : ", ");
		buf_puts(&b, v[i]);
	}
	snprintf(out, outlen, "%s", b.data ? b.data : "");
	buf_free(&b);
}

/* Check that n is a mapping (or null: empty section) whose keys are all in
 * `keys`; `path` names it ("limits"), NULL for the top level. */
static int map_check(struct walk *w, const struct cnode *n, const char *path,
		     const char *const *keys, size_t nkeys)
{
	if (cnode_is_null(n))
		return 0;
	if (n->type != CN_MAP)
		return werr(w, n, "%s: expected a mapping, got %s", path ? path : "top level",
			    type_name(n));
	for (size_t i = 0; i < n->n; i += 2) {
		const struct cnode *k = n->kids[i];
		bool ok = false;
		for (size_t j = 0; j < nkeys && !ok; j++)
			ok = !strcmp(k->value, keys[j]);
		if (ok)
			continue;
		char choices[512];
		join_choices(choices, sizeof(choices), keys, nkeys, " and ");
		if (path)
			return werr(w, k, "unknown key \"%s\" in %s: valid keys are %s", k->value,
				    path, choices);
		return werr(w, k, "unknown key \"%s\": valid keys are %s", k->value, choices);
	}
	return 0;
}

static const struct cnode *map_get(const struct cnode *n, const char *key)
{
	if (!n || n->type != CN_MAP)
		return NULL;
	for (size_t i = 0; i < n->n; i += 2)
		if (!strcmp(n->kids[i]->value, key))
			return n->kids[i + 1];
	return NULL;
}

/* 1: n is a scalar to read; 0: n is null (the default stays); or the
 * error for anything else. */
static int want_scalar(struct walk *w, const struct cnode *n, const char *path)
{
	if (cnode_is_null(n))
		return 0;
	if (n->type != CN_SCALAR)
		return werr(w, n, "%s: expected a scalar, got %s", path, type_name(n));
	return 1;
}

/* Optional string: null leaves *dst as it was. */
static int get_str(struct walk *w, const struct cnode *n, const char *path, char **dst)
{
	int rc = want_scalar(w, n, path);
	if (rc <= 0)
		return rc;
	free(*dst);
	*dst = xstrdup(n->value);
	return 0;
}

static int get_enum(struct walk *w, const struct cnode *n, const char *path,
		    const char *const *choices, size_t nchoices, int *idx)
{
	int rc = want_scalar(w, n, path);
	if (rc <= 0)
		return rc;
	for (size_t i = 0; i < nchoices; i++) {
		if (!strcmp(n->value, choices[i])) {
			*idx = (int)i;
			return 0;
		}
	}
	char list[256];
	join_choices(list, sizeof(list), choices, nchoices, " or ");
	return werr(w, n, "%s: unsupported value \"%s\": use %s", path, n->value, list);
}

/* An enum whose value is kept as an owned copy in *dst. */
static int get_enum_str(struct walk *w, const struct cnode *n, const char *path,
			const char *const *choices, size_t nchoices, char **dst)
{
	int idx = -1;
	int rc = get_enum(w, n, path, choices, nchoices, &idx);
	if (rc == 0 && idx >= 0) {
		free(*dst);
		*dst = xstrdup(choices[idx]);
	}
	return rc;
}

/* A list of non-empty strings (absent: nothing) appended to out:
 * "PATH: expected a list of LIST, got ..." / "PATH[i]: expected ITEM". */
static int get_str_list(struct walk *w, const struct cnode *n, const char *path, const char *list,
			const char *item, struct strv *out)
{
	if (cnode_is_null(n))
		return 0;
	if (n->type != CN_SEQ)
		return werr(w, n, "%s: expected a list of %s, got %s", path, list, type_name(n));
	for (size_t i = 0; i < n->n; i++) {
		const struct cnode *k = n->kids[i];
		if (k->type != CN_SCALAR || !k->value[0])
			return werr(w, k, "%s[%zu]: expected %s, got %s", path, i, item,
				    k->type == CN_SCALAR ? "an empty string" : type_name(k));
		strv_push(out, k->value);
	}
	return 0;
}

static int get_bool(struct walk *w, const struct cnode *n, const char *path, bool *dst)
{
	static const char *const choices[] = { "false", "true" };
	int idx = -1;
	int rc = get_enum(w, n, path, choices, ARRAY_SIZE(choices), &idx);
	if (rc == 0 && idx >= 0)
		*dst = idx == 1;
	return rc;
}

static bool parse_ulong(const char *s, unsigned long long *v, const char **end)
{
	if (*s < '0' || *s > '9')
		return false;
	unsigned long long x = 0;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');
		if (x > (ULLONG_MAX - d) / 10)
			return false;
		x = x * 10 + d;
	}
	*v = x;
	*end = s;
	return true;
}

/* A count between min and max. */
static int get_long(struct walk *w, const struct cnode *n, const char *path, long min, long max,
		    long *dst)
{
	int rc = want_scalar(w, n, path);
	if (rc <= 0)
		return rc;
	unsigned long long v;
	const char *end;
	if (!parse_ulong(n->value, &v, &end) || *end || v < (unsigned long long)min ||
	    v > (unsigned long long)max)
		return werr(w, n, "%s: invalid value \"%s\": use a whole number from %ld to %ld",
			    path, n->value, min, max);
	*dst = (long)v;
	return 0;
}

/* A byte count: 262144, 256Ki, 1Mi, 1Gi, 1M, 1e6 (a quantity, quantity.h;
 * K is also taken for k, as it always was here). */
static int get_bytes(struct walk *w, const struct cnode *n, const char *path, size_t *dst)
{
	int rc = want_scalar(w, n, path);
	if (rc <= 0)
		return rc;
	char *s = xstrdup(n->value);
	size_t len = strlen(s);
	if (len > 1 && s[len - 1] == 'K')
		s[len - 1] = 'k';
	int64_t v = 0;
	rc = quantity_parse(s, QUANTITY_BYTES, &v, NULL);
	free(s);
	if (rc == 0 && v > 0 && (uint64_t)v <= SIZE_MAX) {
		*dst = (size_t)v;
		return 0;
	}
	return werr(w, n, "%s: invalid size \"%s\": use a positive byte count such as 65536, "
		    "64Ki or 1Mi", path, n->value);
}

/* A resource quantity (resources.limits.memory: 4Gi); 0 is none. */
static int get_quantity(struct walk *w, const struct cnode *n, const char *path,
			enum quantity_kind kind, int64_t *dst)
{
	int rc = want_scalar(w, n, path);
	if (rc <= 0)
		return rc;
	const char *why = NULL;
	int64_t v = 0;
	if (quantity_parse(n->value, kind, &v, &why) < 0)
		return werr(w, n, "%s: invalid quantity \"%s\": %s%s%s", path, n->value,
			    why ? why : "", why ? ": " : "", quantity_hint(kind));
	*dst = v;
	return 0;
}

static int get_duration(struct walk *w, const struct cnode *n, const char *path, bool allow_zero,
			long *seconds)
{
	int rc = want_scalar(w, n, path);
	if (rc <= 0)
		return rc;
	long s;
	if (parse_duration(n->value, &s) < 0 || (s == 0 && !allow_zero))
		return werr(w, n, "%s: invalid duration \"%s\": use e.g. 30s, 15m, 2h or 1h30m%s",
			    path, n->value, allow_zero ? " (0: none)" : "");
	*seconds = s;
	return 0;
}

static const char *const top_keys[] = {
	"backend", "pluginDirs", "stateDir", "isolation", "log", "network",
	"kubernetes", "controller", "limits", "resources", "sandbox", "drivers", "contexts",
	"git", "dashboard", "github",
};
static const char *const git_keys[] = { "knownHosts", "knownHostsFile", "trustOnFirstUse",
					"allowLocalRepositories" };
static const char *const github_keys[] = { "baseURLs" };
static const char *const log_keys[] = { "level", "format" };
static const char *const network_keys[] = { "allowLoopback", "allowPrivate", "egress", "allow" };
static const char *const egress_modes[] = { "open", "none", "allowlist" };

static const char *const kube_keys[] = { "kubeconfig", "namespace", "defaultImage", "gitImage",
					 "leaseNamespace", "proxyImage", "maxRequestsInFlight",
					 "networkPolicy" };
static const char *const controller_keys[] = { "listen" };
static const char *const dashboard_keys[] = { "enabled", "token", "listen" };
static const char *const limits_keys[] = {
	"maxConcurrentTasks", "promptBytes", "manifestBytes", "logBytesPerRun", "outputBytes",
	"contextItemBytes", "contextTotalBytes", "urlFetchBytes", "urlFetchTimeout",
	"urlMaxRedirects", "gitTimeout", "concurrentClones", "defaultTaskTimeout",
};
static const char *const resources_keys[] = { "limits", "requests" };
static const char *const res_limits_keys[] = { "cpu", "memory", "ephemeral-storage", "pids" };
static const char *const res_requests_keys[] = { "cpu", "memory", "ephemeral-storage" };
static const char *const sandbox_keys[] = { "uidBase", "uidCount" };
static const char *const plugin_keys[] = { "enabled", "settings" };
static const char *const backends[] = { "local", "kubernetes" };
static const char *const isolations[] = { "bwrap", "none" };
static const char *const log_levels[] = { "error", "warn", "info", "debug" };
static const char *const log_formats[] = { "kv", "json" };

#define MAP_CHECK(w, n, path, keys) map_check(w, n, path, keys, ARRAY_SIZE(keys))

#define DASHBOARD_TOKEN_MIN 16
#define DASHBOARD_TOKEN_MAX 256

/* dashboard.token travels in an HTTP header: printable ASCII without
 * spaces, long enough not to be guessed. */
static int walk_dashboard(struct walk *w, const struct cnode *n, struct pd_config *c)
{
	int rc = MAP_CHECK(w, n, "dashboard", dashboard_keys);
	if (rc < 0 ||
	    (rc = get_bool(w, map_get(n, "enabled"), "dashboard.enabled", &c->dashboard_enabled)) < 0 ||
	    (rc = get_str(w, map_get(n, "token"), "dashboard.token", &c->dashboard_token)) < 0 ||
	    (rc = get_str(w, map_get(n, "listen"), "dashboard.listen", &c->dashboard_listen)) < 0)
		return rc;
	if (c->dashboard_listen && !strchr(c->dashboard_listen, ':'))
		return werr(w, map_get(n, "listen"), "dashboard.listen: invalid value \"%s\": use HOST:PORT, e.g. "
			    "127.0.0.1:9465", c->dashboard_listen);
	/* The same address as controller.listen (a fixed port): one listener,
	 * as without dashboard.listen; two binds of it would leave the
	 * dashboard nowhere. */
	size_t dl = c->dashboard_listen ? strlen(c->dashboard_listen) : 0;
	if (dl && c->listen && str_eq(c->dashboard_listen, c->listen) &&
	    !(dl >= 2 && !strcmp(c->dashboard_listen + dl - 2, ":0"))) {
		free(c->dashboard_listen);
		c->dashboard_listen = NULL;
	}
	const char *t = c->dashboard_token;
	if (!t)
		return 0;
	size_t len = strlen(t);
	bool printable = true;
	for (const char *p = t; *p; p++)
		if (*p <= ' ' || *p > '~')
			printable = false;
	/* The message never repeats the token: it is a secret. */
	if (len < DASHBOARD_TOKEN_MIN || len > DASHBOARD_TOKEN_MAX || !printable)
		return werr(w, map_get(n, "token"),
			    "dashboard.token: invalid value (%zu bytes%s): use %d to %d printable "
			    "ASCII characters without spaces, e.g. the output of `openssl rand -hex 32`",
			    len, printable ? "" : ", with spaces or control characters",
			    DASHBOARD_TOKEN_MIN, DASHBOARD_TOKEN_MAX);
	return 0;
}

static int walk_limits(struct walk *w, const struct cnode *n, struct pd_limits *l)
{
	int rc = MAP_CHECK(w, n, "limits", limits_keys);
	long secs;
	if (rc < 0)
		return rc;
#define BYTES(key, field)                                                              \
	if ((rc = get_bytes(w, map_get(n, key), "limits." key, &l->field)) < 0)         \
		return rc
	BYTES("promptBytes", prompt_bytes);
	BYTES("manifestBytes", manifest_bytes);
	BYTES("logBytesPerRun", log_bytes_per_run);
	BYTES("outputBytes", output_bytes);
	BYTES("contextItemBytes", context_item_bytes);
	BYTES("contextTotalBytes", context_total_bytes);
	BYTES("urlFetchBytes", url_fetch_bytes);
#undef BYTES
	if (l->log_bytes_per_run < HEADTAIL_CAP_MIN)
		return werr(w, map_get(n, "logBytesPerRun"),
			    "limits.logBytesPerRun: %zu bytes is below the minimum of %d (4Ki): the log "
			    "keeps its head and its tail, each needs room; use 4Ki or more",
			    l->log_bytes_per_run, HEADTAIL_CAP_MIN);
	if ((rc = get_long(w, map_get(n, "maxConcurrentTasks"), "limits.maxConcurrentTasks", 1,
			   100000, &l->max_concurrent_tasks)) < 0 ||
	    (rc = get_long(w, map_get(n, "urlMaxRedirects"), "limits.urlMaxRedirects", 0, 20,
			   &l->url_max_redirects)) < 0 ||
	    (rc = get_long(w, map_get(n, "concurrentClones"), "limits.concurrentClones", 1, 1000,
			   &l->concurrent_clones)) < 0 ||
	    (rc = get_duration(w, map_get(n, "gitTimeout"), "limits.gitTimeout", false,
			       &l->git_timeout_seconds)) < 0 ||
	    (rc = get_duration(w, map_get(n, "defaultTaskTimeout"), "limits.defaultTaskTimeout",
			       true, &l->default_task_timeout)) < 0)
		return rc;
	secs = -1;
	if ((rc = get_duration(w, map_get(n, "urlFetchTimeout"), "limits.urlFetchTimeout", false,
			       &secs)) < 0)
		return rc;
	if (secs >= 0) {
		if (secs > LONG_MAX / 1000)
			return werr(w, map_get(n, "urlFetchTimeout"),
				    "limits.urlFetchTimeout: duration too long");
		l->url_fetch_timeout_ms = secs * 1000;
	}
	if (l->context_item_bytes > l->context_total_bytes)
		return errf(w->err, w->errlen, -EINVAL,
			    "%s: limits.contextItemBytes (%zu) is larger than "
			    "limits.contextTotalBytes (%zu): raise contextTotalBytes",
			    w->name, l->context_item_bytes, l->context_total_bytes);
	return 0;
}

/* Linux's highest pid_max (PID_MAX_LIMIT on 64-bit). */
#define PIDS_MAX 4194304L
/* Sandbox uids stay below 2^31: some tools still take a uid as a signed int. */
#define UID_TOP 2147483647L

static int walk_resources(struct walk *w, const struct cnode *n, struct pd_config *c)
{
	static const char *const names[] = { "cpu", "memory", "ephemeral-storage" };
	static const enum quantity_kind kinds[] = { QUANTITY_CPU, QUANTITY_BYTES, QUANTITY_BYTES };
	int64_t *lim[] = { &c->default_limits.cpu_milli, &c->default_limits.memory_bytes,
			   &c->default_limits.storage_bytes };
	int64_t *req[] = { &c->default_requests.cpu_milli, &c->default_requests.memory_bytes,
			   &c->default_requests.storage_bytes };
	int rc = MAP_CHECK(w, n, "resources", resources_keys);
	if (rc < 0)
		return rc;
	const struct cnode *ln = map_get(n, "limits"), *rn = map_get(n, "requests");
	if ((rc = MAP_CHECK(w, ln, "resources.limits", res_limits_keys)) < 0 ||
	    (rc = MAP_CHECK(w, rn, "resources.requests", res_requests_keys)) < 0)
		return rc;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		char path[64];
		snprintf(path, sizeof(path), "resources.limits.%s", names[i]);
		if ((rc = get_quantity(w, map_get(ln, names[i]), path, kinds[i], lim[i])) < 0)
			return rc;
		snprintf(path, sizeof(path), "resources.requests.%s", names[i]);
		if ((rc = get_quantity(w, map_get(rn, names[i]), path, kinds[i], req[i])) < 0)
			return rc;
	}
	long pids = -1;
	if ((rc = get_long(w, map_get(ln, "pids"), "resources.limits.pids", 0, PIDS_MAX,
			   &pids)) < 0)
		return rc;
	if (pids >= 0)
		c->default_limits.pids = pids;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (!*req[i] || !*lim[i] || *req[i] <= *lim[i])
			continue;
		char rq[32], lq[32];
		quantity_format(*req[i], kinds[i], rq, sizeof(rq));
		quantity_format(*lim[i], kinds[i], lq, sizeof(lq));
		return werr(w, map_get(rn, names[i]),
			    "resources.requests.%s: %s is above resources.limits.%s (%s): lower "
			    "the request or raise the limit", names[i], rq, names[i], lq);
	}
	return 0;
}

/* sandbox: (after limits:, which it is checked against). */
static int walk_sandbox(struct walk *w, const struct cnode *n, const struct cnode *lim,
			struct pd_config *c)
{
	long base = -1, count = -1;
	int rc = MAP_CHECK(w, n, "sandbox", sandbox_keys);
	if (rc < 0 ||
	    (rc = get_long(w, map_get(n, "uidBase"), "sandbox.uidBase", 65536, UID_TOP,
			   &base)) < 0 ||
	    (rc = get_long(w, map_get(n, "uidCount"), "sandbox.uidCount", 1, 1000000,
			   &count)) < 0)
		return rc;
	if (base >= 0)
		c->sandbox_uid_base = base;
	if (count >= 0)
		c->sandbox_uid_count = count;
	const struct cnode *at = map_get(n, "uidCount") ? map_get(n, "uidCount")
							: map_get(n, "uidBase");
	if (c->sandbox_uid_base + c->sandbox_uid_count - 1 > UID_TOP)
		return werr(w, at,
			    "sandbox: uidBase %lld + uidCount %lld goes past uid %ld: lower "
			    "sandbox.uidBase", (long long)c->sandbox_uid_base,
			    (long long)c->sandbox_uid_count, UID_TOP);
	/* Kubernetes runs are pods: no host uid is taken per run. */
	if (c->sandbox_uid_count >= c->limits.max_concurrent_tasks || str_eq(c->backend, "kubernetes"))
		return 0;
	if (!at)
		at = map_get(lim, "maxConcurrentTasks");
	char msg[384];
	snprintf(msg, sizeof(msg),
		 "sandbox.uidCount (%lld) is less than limits.maxConcurrentTasks (%ld): the local "
		 "backend runs each concurrent task as its own uid: raise sandbox.uidCount or "
		 "lower limits.maxConcurrentTasks", (long long)c->sandbox_uid_count,
		 c->limits.max_concurrent_tasks);
	if (at)
		return werr(w, at, "%s", msg);
	return errf(w->err, w->errlen, -EINVAL, "%s: %s", w->name, msg);
}

static bool plugin_name_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > PLUGIN_NAME_MAX)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
			return false;
	return true;
}

static void plugin_conf_clear(struct pd_plugin_conf *p)
{
	for (size_t i = 0; i < p->n_settings; i++) {
		free(p->settings[i].key);
		free(p->settings[i].value);
	}
	free(p->settings);
	free(p->name);
}

/* drivers: or contexts: */
static int walk_plugins(struct walk *w, struct pd_config *c, const struct cnode *n,
			const char *section, int kind)
{
	if (cnode_is_null(n))
		return 0;
	if (n->type != CN_MAP)
		return werr(w, n, "%s: expected a mapping of plugin names, got %s", section,
			    type_name(n));
	for (size_t i = 0; i < n->n; i += 2) {
		const struct cnode *k = n->kids[i], *v = n->kids[i + 1];
		char path[160];
		snprintf(path, sizeof(path), "%s.%s", section, k->value);
		if (!plugin_name_valid(k->value))
			return werr(w, k, "%s: invalid plugin name \"%s\": use lowercase letters, "
				    "digits and '-' (at most %d)", section, k->value,
				    PLUGIN_NAME_MAX);
		const struct pd_plugin_conf *other = config_plugin(c, k->value);
		if (other)
			return werr(w, k, "%s: plugin \"%s\" is already listed at line %d: "
				    "list it once, under drivers or contexts", path, k->value,
				    other->line);
		int rc = MAP_CHECK(w, v, path, plugin_keys);
		if (rc < 0)
			return rc;
		struct pd_plugin_conf p = {
			.name = xstrdup(k->value), .kind = kind, .enabled = true,
			.line = k->line, .column = k->col,
		};
		char sub[200];
		snprintf(sub, sizeof(sub), "%s.enabled", path);
		rc = get_bool(w, map_get(v, "enabled"), sub, &p.enabled);
		const struct cnode *s = map_get(v, "settings");
		snprintf(sub, sizeof(sub), "%s.settings", path);
		if (rc == 0 && !cnode_is_null(s) && s->type != CN_MAP)
			rc = werr(w, s, "%s: expected a mapping of scalars, got %s", sub,
				  type_name(s));
		for (size_t j = 0; rc == 0 && s && s->type == CN_MAP && j < s->n; j += 2) {
			const struct cnode *sk = s->kids[j], *sv = s->kids[j + 1];
			if (sv->type != CN_SCALAR) {
				rc = werr(w, sv, "%s.%s: settings values must be scalars, got %s: "
					  "write it as a string", sub, sk->value, type_name(sv));
				break;
			}
			p.settings = xrealloc(p.settings, (p.n_settings + 1) * sizeof(*p.settings));
			p.settings[p.n_settings].key = xstrdup(sk->value);
			p.settings[p.n_settings].value = xstrdup(cnode_is_null(sv) ? "" : sv->value);
			p.n_settings++;
		}
		if (rc < 0) {
			plugin_conf_clear(&p);
			return rc;
		}
		c->plugins = xrealloc(c->plugins, (c->n_plugins + 1) * sizeof(*c->plugins));
		c->plugins[c->n_plugins++] = p;
	}
	return 0;
}

/* git.allowLocalRepositories and the Git context's old spelling of it,
 * contexts.git.settings.allowFileRepositories: "true", are one rule;
 * the plugin reads the outcome under its old name. */
static void git_local_rule(struct pd_config *c)
{
	struct pd_plugin_conf *p = NULL;
	for (size_t i = 0; i < c->n_plugins && !p; i++)
		if (c->plugins[i].kind == PADDOCK_KIND_CONTEXT && str_eq(c->plugins[i].name, "git"))
			p = &c->plugins[i];
	if (!p)
		return;
	struct pd_setting *s = NULL;
	for (size_t i = 0; i < p->n_settings && !s; i++)
		if (str_eq(p->settings[i].key, "allowFileRepositories"))
			s = &p->settings[i];
	if (s && str_eq(s->value, "true"))
		c->git.allow_local = true;
	if (!s) {
		p->settings = xrealloc(p->settings, (p->n_settings + 1) * sizeof(*p->settings));
		s = &p->settings[p->n_settings++];
		s->key = xstrdup("allowFileRepositories");
		s->value = NULL;
	}
	free(s->value);
	s->value = xstrdup(c->git.allow_local ? "true" : "false");
}

static int walk_root(struct walk *w, struct pd_config *c, const struct cnode *root)
{
	int rc = MAP_CHECK(w, root, NULL, top_keys);
	if (rc < 0 || cnode_is_null(root))
		return rc;

	if ((rc = get_enum_str(w, map_get(root, "backend"), "backend", backends,
			       ARRAY_SIZE(backends), &c->backend)) < 0 ||
	    (rc = get_enum_str(w, map_get(root, "isolation"), "isolation", isolations,
			       ARRAY_SIZE(isolations), &c->isolation)) < 0)
		return rc;
	if ((rc = get_str(w, map_get(root, "stateDir"), "stateDir", &c->state_dir)) < 0)
		return rc;
	if (c->state_dir && c->state_dir[0] != '/')
		return werr(w, map_get(root, "stateDir"),
			    "stateDir: relative path \"%s\": use an absolute path", c->state_dir);

	const struct cnode *dirs = map_get(root, "pluginDirs");
	if (!cnode_is_null(dirs)) {
		if (dirs->type != CN_SEQ)
			return werr(w, dirs, "pluginDirs: expected a list of directories, got %s",
				    type_name(dirs));
		struct strv v = { 0 };
		for (size_t i = 0; i < dirs->n; i++) {
			const struct cnode *d = dirs->kids[i];
			char path[64];
			snprintf(path, sizeof(path), "pluginDirs[%zu]", i);
			if (d->type != CN_SCALAR || d->value[0] != '/') {
				strv_free(&v);
				return werr(w, d, "%s: expected an absolute directory path, got %s",
					    path, d->type == CN_SCALAR ? d->value : type_name(d));
			}
			strv_push(&v, d->value);
		}
		strv_free(&c->plugin_dirs);
		c->plugin_dirs = v;
	}

	const struct cnode *log = map_get(root, "log");
	if ((rc = MAP_CHECK(w, log, "log", log_keys)) < 0 ||
	    (rc = get_enum(w, map_get(log, "level"), "log.level", log_levels,
			   ARRAY_SIZE(log_levels), &c->log_level)) < 0 ||
	    (rc = get_enum(w, map_get(log, "format"), "log.format", log_formats,
			   ARRAY_SIZE(log_formats), &c->log_format)) < 0)
		return rc;

	const struct cnode *net = map_get(root, "network");
	if ((rc = MAP_CHECK(w, net, "network", network_keys)) < 0 ||
	    (rc = get_bool(w, map_get(net, "allowLoopback"), "network.allowLoopback",
			   &c->allow_loopback)) < 0 ||
	    (rc = get_bool(w, map_get(net, "allowPrivate"), "network.allowPrivate",
			   &c->allow_private)) < 0 ||
	    (rc = get_enum_str(w, map_get(net, "egress"), "network.egress", egress_modes,
			       ARRAY_SIZE(egress_modes), &c->egress)) < 0)
		return rc;
	/* The entries' syntax is the proxy's to check (egress_policy_add),
	 * when the controller starts. */
	if ((rc = get_str_list(w, map_get(net, "allow"), "network.allow",
			       "hosts (\"api.example.com\", \"*.example.com\", \"host:port\")", "a host",
			       &c->egress_allow)) < 0)
		return rc;

	const struct cnode *kube = map_get(root, "kubernetes");
	if ((rc = MAP_CHECK(w, kube, "kubernetes", kube_keys)) < 0 ||
	    (rc = get_str(w, map_get(kube, "kubeconfig"), "kubernetes.kubeconfig",
			  &c->kubeconfig)) < 0 ||
	    (rc = get_str(w, map_get(kube, "namespace"), "kubernetes.namespace",
			  &c->kube_namespace)) < 0 ||
	    (rc = get_str(w, map_get(kube, "defaultImage"), "kubernetes.defaultImage",
			  &c->kube_default_image)) < 0 ||
	    (rc = get_str(w, map_get(kube, "gitImage"), "kubernetes.gitImage", &c->kube_git_image)) < 0 ||
	    (rc = get_str(w, map_get(kube, "leaseNamespace"), "kubernetes.leaseNamespace",
			  &c->kube_lease_ns)) < 0 ||
	    (rc = get_str(w, map_get(kube, "proxyImage"), "kubernetes.proxyImage",
			  &c->kube_proxy_image)) < 0 ||
	    (rc = get_long(w, map_get(kube, "maxRequestsInFlight"), "kubernetes.maxRequestsInFlight",
			   1, 256, &c->kube_max_inflight)) < 0 ||
	    (rc = get_bool(w, map_get(kube, "networkPolicy"), "kubernetes.networkPolicy",
			   &c->kube_network_policy)) < 0)
		return rc;

	const struct cnode *gh = map_get(root, "github"), *urls = map_get(gh, "baseURLs");
	if ((rc = MAP_CHECK(w, gh, "github", github_keys)) < 0 ||
	    (rc = get_str_list(w, urls, "github.baseURLs",
			       "GitHub API URLs (\"https://api.github.com\", \"https://github.example.com/api/v3\")",
			       "a GitHub API URL", &c->github_base_urls)) < 0)
		return rc;
	for (size_t i = 0; i < c->github_base_urls.n; i++) {
		const char *u = c->github_base_urls.v[i];
		if (strncmp(u, "https://", 8) && strncmp(u, "http://", 7))
			return werr(w, urls->kids[i], "github.baseURLs[%zu]: expected an http(s) URL such as https://github.example.com/api/v3", i);
	}

	const struct cnode *git = map_get(root, "git");
	char kerr[256];
	if ((rc = MAP_CHECK(w, git, "git", git_keys)) < 0 ||
	    (rc = get_str(w, map_get(git, "knownHosts"), "git.knownHosts", &c->git.known_hosts)) < 0 ||
	    (rc = get_str(w, map_get(git, "knownHostsFile"), "git.knownHostsFile",
			  &c->git.known_hosts_file)) < 0 ||
	    (rc = get_bool(w, map_get(git, "trustOnFirstUse"), "git.trustOnFirstUse",
			   &c->git.trust_on_first_use)) < 0 ||
	    (rc = get_bool(w, map_get(git, "allowLocalRepositories"), "git.allowLocalRepositories",
			   &c->git.allow_local)) < 0)
		return rc;
	if (c->git.known_hosts &&
	    config_known_hosts_check(c->git.known_hosts, strlen(c->git.known_hosts),
				     "git.knownHosts", kerr, sizeof(kerr)) < 0)
		return werr(w, map_get(git, "knownHosts"), "%s", kerr);
	if (c->git.known_hosts_file && c->git.known_hosts_file[0] != '/')
		return werr(w, map_get(git, "knownHostsFile"),
			    "git.knownHostsFile: relative path \"%s\": use an absolute path",
			    c->git.known_hosts_file);

	const struct cnode *ctl = map_get(root, "controller");
	if ((rc = MAP_CHECK(w, ctl, "controller", controller_keys)) < 0 ||
	    (rc = get_str(w, map_get(ctl, "listen"), "controller.listen", &c->listen)) < 0)
		return rc;
	if (!strchr(c->listen, ':'))
		return werr(w, map_get(ctl, "listen"),
			    "controller.listen: invalid address \"%s\": use HOST:PORT, e.g. "
			    "127.0.0.1:9464", c->listen);

	if ((rc = walk_dashboard(w, map_get(root, "dashboard"), c)) < 0)
		return rc;

	if ((rc = walk_limits(w, map_get(root, "limits"), &c->limits)) < 0 ||
	    (rc = walk_resources(w, map_get(root, "resources"), c)) < 0 ||
	    (rc = walk_sandbox(w, map_get(root, "sandbox"), map_get(root, "limits"), c)) < 0)
		return rc;
	if ((rc = walk_plugins(w, c, map_get(root, "drivers"), "drivers",
			       PADDOCK_KIND_DRIVER)) < 0 ||
	    (rc = walk_plugins(w, c, map_get(root, "contexts"), "contexts",
			       PADDOCK_KIND_CONTEXT)) < 0)
		return rc;
	git_local_rule(c);
	return 0;
}

/* ---- public ------------------------------------------------------- */

/* PADDOCK_PLUGIN_PATH (colon-separated) replaces pluginDirs: build trees
 * and tests point the core at their own plugins without a config file. */
static void apply_env(struct pd_config *c)
{
	const char *env = getenv("PADDOCK_PLUGIN_PATH");
	if (!env || !*env)
		return;
	strv_free(&c->plugin_dirs);
	const char *p = env;
	while (*p) {
		const char *e = strchr(p, ':');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n)
			strv_push_owned(&c->plugin_dirs, xstrndup(p, n));
		p += n;
		if (*p == ':')
			p++;
	}
}

static struct pd_config *config_alloc(void)
{
	struct pd_config *c = xcalloc(1, sizeof(*c));
	c->backend = xstrdup("local");
	c->isolation = xstrdup("bwrap");
	strv_push(&c->plugin_dirs, PADDOCK_PLUGINDIR);
	c->log_level = LOG_INFO;
	c->log_format = LOG_FORMAT_KV;
	c->listen = xstrdup("127.0.0.1:9464");
	c->dashboard_enabled = true;
	c->kube_default_image = xstrdup("debian:bookworm-slim");
	c->limits = (struct pd_limits){
		.max_concurrent_tasks = 4,
		.prompt_bytes = 256 * 1024,
		.manifest_bytes = 1024 * 1024,
		.log_bytes_per_run = 16 * 1024 * 1024,
		.output_bytes = 64 * 1024,
		.context_item_bytes = 1024 * 1024,
		.context_total_bytes = 8 * 1024 * 1024,
		.url_fetch_bytes = 1024 * 1024,
		.url_fetch_timeout_ms = 10000,
		.url_max_redirects = 3,
		.git_timeout_seconds = 300,
		.concurrent_clones = 2,
		.default_task_timeout = 3600,
	};
	c->default_limits = (struct run_limits){
		.cpu_milli = 2000,
		.memory_bytes = (int64_t)4 << 30,
		.storage_bytes = (int64_t)10 << 30,
		.pids = 1024,
	};
	c->sandbox_uid_base = 2100000000;
	c->sandbox_uid_count = 256;
	return c;
}

struct pd_config *config_new_default(void)
{
	struct pd_config *c = config_alloc();
	apply_env(c);
	return c;
}

int config_parse(const char *name, const char *data, size_t len, struct pd_config **out,
		 char *err, size_t errlen)
{
	struct reader r = { .name = name, .err = err, .errlen = errlen };
	struct walk w = { .name = name, .err = err, .errlen = errlen };
	struct cnode *root = NULL;
	struct pd_config *c = NULL;
	if (len > CONFIG_MAX_BYTES)
		return errf(err, errlen, -E2BIG, "%s: larger than %d bytes: is this the right file?",
			    name, CONFIG_MAX_BYTES);
	int rc = read_tree(&r, data, len, &root);
	if (rc < 0)
		return rc;
	c = config_alloc();
	rc = walk_root(&w, c, root);
	cnode_free(root);
	if (rc < 0) {
		config_free(c);
		return rc;
	}
	apply_env(c);
	c->path = xstrdup(name);
	*out = c;
	return 0;
}

int config_load(const char *path, struct pd_config **out, char *err, size_t errlen)
{
	char *data = NULL;
	size_t len = 0;
	int rc = read_file(path, CONFIG_MAX_BYTES, &data, &len);
	if (rc == -E2BIG)
		return errf(err, errlen, rc, "%s: larger than %d bytes: is this the right file?",
			    path, CONFIG_MAX_BYTES);
	if (rc < 0)
		return errf(err, errlen, rc, "%s: cannot read the config file: %s", path,
			    strerror(-rc));
	struct pd_config *c = NULL;
	rc = config_parse(path, data, len, &c, err, errlen);
	free(data);
	if (rc < 0)
		return rc;
	*out = c;
	return 0;
}

void config_free(struct pd_config *c)
{
	if (!c)
		return;
	free(c->path);
	free(c->backend);
	strv_free(&c->plugin_dirs);
	free(c->state_dir);
	free(c->isolation);
	free(c->egress);
	strv_free(&c->egress_allow);
	strv_free(&c->github_base_urls);
	free(c->kubeconfig);
	free(c->kube_namespace);
	free(c->kube_default_image);
	free(c->kube_git_image);
	free(c->kube_proxy_image);
	free(c->kube_lease_ns);
	free(c->listen);
	free(c->dashboard_listen);
	if (c->dashboard_token)
		secure_free(c->dashboard_token, strlen(c->dashboard_token));
	free(c->git.known_hosts);
	free(c->git.known_hosts_file);
	for (size_t i = 0; i < c->n_plugins; i++)
		plugin_conf_clear(&c->plugins[i]);
	free(c->plugins);
	free(c);
}

const char *config_default_path(void)
{
	const char *env = getenv("PADDOCK_CONFIG");
	if (env && *env)
		return env;
	return PADDOCK_SYSCONFDIR "/paddock/paddock.yaml";
}

const struct pd_plugin_conf *config_plugin(const struct pd_config *c, const char *name)
{
	if (!c || !name)
		return NULL;
	for (size_t i = 0; i < c->n_plugins; i++)
		if (!strcmp(c->plugins[i].name, name))
			return &c->plugins[i];
	return NULL;
}

const char *config_plugin_setting(const struct pd_config *c, const char *name, const char *key)
{
	const struct pd_plugin_conf *p = config_plugin(c, name);
	if (!p || !key)
		return NULL;
	for (size_t i = 0; i < p->n_settings; i++)
		if (!strcmp(p->settings[i].key, key))
			return p->settings[i].value;
	return NULL;
}

/* ---- git: SSH host keys ------------------------------------------- */

#define KNOWN_HOSTS_MAX ((size_t)1024 * 1024)

int config_known_hosts_check(const char *text, size_t len, const char *what, char *err,
			     size_t errlen)
{
	if (memchr(text, '\0', len))
		return errf(err, errlen, -EINVAL, "%s: contains a NUL byte: give known_hosts lines",
			    what);
	size_t lineno = 0, entries = 0;
	for (size_t i = 0; i < len;) {
		const char *line = text + i;
		const char *nl = memchr(line, '\n', len - i);
		size_t n = nl ? (size_t)(nl - line) : len - i;
		i += n + 1;
		lineno++;
		size_t fields = 0;
		bool marker = false;
		for (size_t j = 0; j < n;) {
			while (j < n && (line[j] == ' ' || line[j] == '\t' || line[j] == '\r'))
				j++;
			if (j >= n)
				break;
			if (fields == 0 && line[j] == '#')
				break;
			if (fields == 0 && line[j] == '@')
				marker = true;
			fields++;
			while (j < n && line[j] != ' ' && line[j] != '\t' && line[j] != '\r')
				j++;
		}
		if (fields == 0)
			continue;
		if (fields < (marker ? 4u : 3u))
			return errf(err, errlen, -EINVAL,
				    "%s: line %zu is not a known_hosts line \"HOST KEYTYPE KEY\": "
				    "take them from `ssh-keyscan HOST` run over a trusted network",
				    what, lineno);
		entries++;
	}
	if (!entries)
		return errf(err, errlen, -EINVAL,
			    "%s: no known_hosts line: give \"HOST KEYTYPE KEY\" lines (`ssh-keyscan HOST` over a trusted network)",
			    what);
	return 0;
}

int config_git_known_hosts(const struct pd_git *g, char **out, char *err, size_t errlen)
{
	*out = NULL;
	if (!g)
		return 0;
	struct buf b;
	buf_init(&b, 0);
	if (g->known_hosts && *g->known_hosts) {
		(void)buf_puts(&b, g->known_hosts);
		if (g->known_hosts[strlen(g->known_hosts) - 1] != '\n')
			(void)buf_puts(&b, "\n");
	}
	if (g->known_hosts_file) {
		char *data = NULL;
		size_t len = 0;
		int rc = read_file(g->known_hosts_file, KNOWN_HOSTS_MAX, &data, &len);
		if (rc < 0) {
			buf_free(&b);
			return errf(err, errlen, rc, "git.knownHostsFile: cannot read %s: %s",
				    g->known_hosts_file, strerror(-rc));
		}
		char what[300];
		snprintf(what, sizeof(what), "git.knownHostsFile %s", g->known_hosts_file);
		rc = config_known_hosts_check(data, len, what, err, errlen);
		if (rc == 0) {
			(void)buf_append(&b, data, len);
			if (len && data[len - 1] != '\n')
				(void)buf_puts(&b, "\n");
		}
		free(data);
		if (rc < 0) {
			buf_free(&b);
			return rc;
		}
	}
	if (!b.len) {
		buf_free(&b);
		return 0;
	}
	*out = buf_steal(&b);
	return 0;
}

bool config_git_local(const char *url)
{
	if (!url || !*url)
		return false;
	if (!strncasecmp(url, "file://", 7) || url[0] == '/' || url[0] == '.')
		return true;
	if (strstr(url, "://"))
		return false; /* another scheme: a remote, or refused as such */
	/* git's own rule: a ':' before any '/' is scp-like host:path, else
	 * it is a path relative to where git runs */
	char host[256];
	return !config_git_ssh_host(url, host, sizeof(host));
}

const char *config_git_local_path(const char *url)
{
	if (!strncasecmp(url, "file://", 7)) {
		url += 7;
		if (!strncasecmp(url, "localhost/", 10))
			url += 9;
	}
	return url;
}

int config_git_local_check(const struct pd_git *g, const char *url, const char *field, char *err,
			   size_t errlen)
{
	if (!config_git_local(url))
		return 0;
	/* Relative to the controller's working directory: never meant. */
	if (g && g->allow_local)
		return config_git_local_path(url)[0] == '/'
			       ? 0
			       : errf(err, errlen, -EINVAL,
				      "%s: local repository \"%.200s\": give an absolute path (or file:///path)",
				      field, url);
	return errf(err, errlen, -EPERM,
		    "%s: local repository \"%.200s\" refused: a Task may not read the controller's "
		    "files; use a remote URL (an operator may allow local repositories with "
		    "git.allowLocalRepositories: true in paddock.yaml)",
		    field, url);
}

bool config_git_ssh_host(const char *url, char *host, size_t hostlen)
{
	static const char *const schemes[] = { "ssh://", "git+ssh://", "ssh+git://" };
	if (!url || !*url)
		return false;
	const char *h = NULL, *end = NULL, *port = NULL, *port_end = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(schemes) && !h; i++)
		if (!strncasecmp(url, schemes[i], strlen(schemes[i])))
			h = url + strlen(schemes[i]);
	if (h) {
		const char *auth_end = h + strcspn(h, "/?#");
		const char *at = NULL;
		for (const char *p = h; p < auth_end; p++)
			if (*p == '@')
				at = p;
		if (at)
			h = at + 1;
		if (*h == '[') {
			const char *rb = memchr(h, ']', (size_t)(auth_end - h));
			if (!rb)
				return false;
			end = rb;
			h++;
			if (rb + 1 < auth_end && rb[1] == ':')
				port = rb + 2;
		} else {
			const char *colon = memchr(h, ':', (size_t)(auth_end - h));
			end = colon ? colon : auth_end;
			if (colon)
				port = colon + 1;
		}
		port_end = auth_end;
	} else {
		/* scp-like: no "://", a ':' before any '/' (git's own rule). */
		if (strstr(url, "://") || url[0] == '/' || url[0] == '.')
			return false;
		const char *colon = strchr(url, ':');
		const char *slash = strchr(url, '/');
		const char *lb = strchr(url, '[');
		if (lb && colon && lb < colon) {
			const char *rb = strchr(lb, ']');
			colon = rb ? strchr(rb, ':') : NULL;
		}
		if (!colon || colon == url || (slash && slash < colon))
			return false;
		h = url;
		for (const char *p = url; p < colon; p++)
			if (*p == '@')
				h = p + 1;
		end = colon;
		if (*h == '[' && end > h + 1 && end[-1] == ']') {
			h++;
			end--;
		}
	}
	if (end <= h)
		return false;
	size_t plen = port ? (size_t)(port_end - port) : 0;
	if (plen && !(plen == 2 && !strncmp(port, "22", 2)))
		snprintf(host, hostlen, "[%.*s]:%.*s", (int)(end - h), h, (int)plen, port);
	else
		snprintf(host, hostlen, "%.*s", (int)(end - h), h);
	return true;
}

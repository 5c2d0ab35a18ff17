/* SPDX-License-Identifier: MIT */
/*
 * plugin/host.c - the services table handed to plugins.  Each plugin gets its own
 * table whose ctx names the plugin (for logs and settings); secrets and
 * objects go to the process-wide host_backend installed by the runtime.
 */
#include "config.h"
#include "plugin/host.h"

#include "plugin/http.h"
#include "base/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOST_LOG_MAX 2048

struct host_ctx {
	struct paddock_host table;  /* first: host_free() gets &table */
	const struct pd_config *cfg; /* borrowed; outlives the plugin */
	char *name;                 /* owned plugin name */
};

/* Owned objects keep a mutable items array behind the const view. */
struct host_object {
	struct paddock_object obj;  /* first */
	struct paddock_kv *items;
	size_t alloc;
};

static struct host_backend backend; /* all NULL: none installed */

void host_set_backend(const struct host_backend *b)
{
	if (b)
		backend = *b;
	else
		memset(&backend, 0, sizeof(backend));
}

static void h_log(void *ctx, int level, const char *fmt, ...) PD_PRINTF(3, 4);
static void h_log(void *ctx, int level, const char *fmt, ...)
{
	const struct host_ctx *hc = ctx;
	char msg[HOST_LOG_MAX];
	if (!fmt)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (level < PADDOCK_LOG_ERROR)
		level = PADDOCK_LOG_ERROR;
	if (level > PADDOCK_LOG_DEBUG)
		level = PADDOCK_LOG_DEBUG;
	/* enum paddock_log_level and enum log_level share their values. */
	log_kv(level, msg, "plugin", hc->name, (char *)NULL);
}

static const char *h_config_get(void *ctx, const char *key)
{
	const struct host_ctx *hc = ctx;
	return config_plugin_setting(hc->cfg, hc->name, key);
}

static int h_secret_get(void *ctx, const char *ns, const char *name, const char *key,
			char **value, size_t *len, char *err, size_t errlen)
{
	(void)ctx;
	if (!ns || !name || !key || !value || !len)
		return errf(err, errlen, -EINVAL, "secret_get: namespace, name, key, value and "
			    "len must not be NULL");
	if (!backend.secret_get)
		return errf(err, errlen, -ENOENT,
			    "secret %s/%s key \"%s\": no secret store is available here (secrets "
			    "are only resolved while a run is being prepared)", ns, name, key);
	return backend.secret_get(backend.ctx, ns, name, key, value, len, err, errlen);
}

static void h_secret_free(void *ctx, char *value, size_t len)
{
	(void)ctx;
	secure_free(value, len);
}

static int h_object_get(void *ctx, const char *kind, const char *ns, const char *name,
			struct paddock_object **out, char *err, size_t errlen)
{
	(void)ctx;
	if (!kind || !ns || !name || !out)
		return errf(err, errlen, -EINVAL, "object_get: kind, namespace, name and out "
			    "must not be NULL");
	if (!backend.object_get)
		return errf(err, errlen, -ENOENT,
			    "%s %s/%s: no object store is available here (objects are only "
			    "resolved while a run is being prepared)", kind, ns, name);
	return backend.object_get(backend.ctx, kind, ns, name, out, err, errlen);
}

static void h_object_free(void *ctx, struct paddock_object *obj)
{
	(void)ctx;
	host_object_free(obj);
}

static int h_http_get(void *ctx, const struct paddock_http_request *req, char **body,
		      size_t *len, long *status, char *err, size_t errlen)
{
	const struct host_ctx *hc = ctx;
#ifdef PADDOCK_HOST_NO_HTTP
	/* paddock-supervisor (local/build.am): a driver's parser reads the
	 * run's output and fetches nothing; the program links no HTTP client. */
	(void)hc;
	(void)req;
	(void)body;
	(void)len;
	(void)status;
	return errf(err, errlen, -EPERM, "http_get: not available to a driver's parser in a run's supervisor");
#else
	if (!req || !body || !len || !status)
		return errf(err, errlen, -EINVAL, "http_get: req, body, len and status must not "
			    "be NULL");
	if (!PADDOCK_HAS_FIELD(req, struct paddock_http_request, url) || !req->url)
		return errf(err, errlen, -EINVAL, "http_get: request without a URL (size %u)",
			    (unsigned)req->size);
	/* Copy what the plugin declared; fields it does not know keep defaults. */
	struct paddock_http_request r = { .size = sizeof(r), .max_redirects = -1 };
	size_t n = req->size < sizeof(r) ? req->size : sizeof(r);
	memcpy(&r, req, n);
	r.size = sizeof(r);
	const struct pd_limits *l = &hc->cfg->limits;
	struct http_policy pol = {
		.max_bytes = l->url_fetch_bytes,
		.timeout_ms = l->url_fetch_timeout_ms,
		.max_redirects = l->url_max_redirects,
		.allow_loopback = hc->cfg->allow_loopback,
		.allow_private = hc->cfg->allow_private,
	};
	return http_fetch(&pol, &r, body, len, status, err, errlen);
#endif
}

static void h_free(void *ctx, void *p)
{
	(void)ctx;
	free(p);
}

struct paddock_host *host_new(const struct pd_config *cfg, const char *plugin_name)
{
	struct host_ctx *hc = xcalloc(1, sizeof(*hc));
	hc->cfg = cfg;
	hc->name = xstrdup(plugin_name ? plugin_name : "?");
	hc->table = (struct paddock_host){
		.size = sizeof(struct paddock_host),
		.abi_major = PADDOCK_ABI_MAJOR,
		.abi_minor = PADDOCK_ABI_MINOR,
		.ctx = hc,
		.log = h_log,
		.config_get = h_config_get,
		.secret_get = h_secret_get,
		.secret_free = h_secret_free,
		.object_get = h_object_get,
		.object_free = h_object_free,
		.http_get = h_http_get,
		.free = h_free,
	};
	return &hc->table;
}

void host_free(struct paddock_host *h)
{
	if (!h)
		return;
	struct host_ctx *hc = (struct host_ctx *)h;
	free(hc->name);
	free(hc);
}

struct paddock_object *host_object_new(void)
{
	struct host_object *o = xcalloc(1, sizeof(*o));
	o->obj.size = sizeof(o->obj);
	return &o->obj;
}

void host_object_add(struct paddock_object *obj, const char *key, const char *value, size_t len)
{
	struct host_object *o = (struct host_object *)obj;
	if (!o || !key)
		return;
	size_t i = 0;
	while (i < o->obj.n && strcmp(o->items[i].key, key) < 0)
		i++;
	if (i < o->obj.n && !strcmp(o->items[i].key, key)) {
		/* Same key again: the last value wins. */
		free((char *)o->items[i].value);
	} else {
		if (o->obj.n == o->alloc) {
			o->alloc = o->alloc ? o->alloc * 2 : 8;
			o->items = xrealloc(o->items, o->alloc * sizeof(*o->items));
		}
		memmove(&o->items[i + 1], &o->items[i], (o->obj.n - i) * sizeof(*o->items));
		o->items[i].key = xstrdup(key);
		o->obj.n++;
	}
	o->items[i].value = xstrndup(value ? value : "", value ? len : 0);
	o->items[i].len = value ? len : 0;
	o->obj.items = o->items;
}

void host_object_free(struct paddock_object *obj)
{
	struct host_object *o = (struct host_object *)obj;
	if (!o)
		return;
	for (size_t i = 0; i < o->obj.n; i++) {
		free((char *)o->items[i].key);
		free((char *)o->items[i].value);
	}
	free(o->items);
	free(o);
}

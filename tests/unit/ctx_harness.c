/* SPDX-License-Identifier: MIT */
#include "config.h"
#include "ctx_harness.h"

#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct ch_entry {
	char *ns, *name, *key, *value;
	struct ch_entry *next;
};

static void entry_add(struct ch_entry **list, const char *ns, const char *name, const char *key,
		      const char *value)
{
	struct ch_entry *e = xcalloc(1, sizeof(*e));
	e->ns = xstrdup(ns);
	e->name = xstrdup(name);
	e->key = xstrdup(key);
	e->value = xstrdup(value);
	e->next = *list;
	*list = e;
}

static void entries_free(struct ch_entry *e)
{
	while (e) {
		struct ch_entry *n = e->next;
		free(e->ns);
		free(e->name);
		free(e->key);
		free(e->value);
		free(e);
		e = n;
	}
}

static void h_log(void *ctx, int level, const char *fmt, ...) PD_PRINTF(3, 4);
static void h_log(void *ctx, int level, const char *fmt, ...)
{
	struct ch_host *h = ctx;
	va_list ap;
	char line[1024];
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	buf_printf(&h->log, "%d %s\n", level, line);
}

static const char *h_config_get(void *ctx, const char *key)
{
	struct ch_host *h = ctx;
	for (struct ch_entry *e = h->settings; e; e = e->next)
		if (str_eq(e->key, key))
			return e->value;
	return NULL;
}

static int h_secret_get(void *ctx, const char *ns, const char *name, const char *key,
			char **value, size_t *len, char *err, size_t errlen)
{
	struct ch_host *h = ctx;
	for (struct ch_entry *e = h->secrets; e; e = e->next) {
		if (str_eq(e->ns, ns) && str_eq(e->name, name) && str_eq(e->key, key)) {
			*value = xstrdup(e->value);
			*len = strlen(e->value);
			h->secrets_out++;
			return 0;
		}
	}
	return errf(err, errlen, -ENOENT, "Secret %s/%s has no key %s", ns ? ns : "", name, key);
}

static void h_secret_free(void *ctx, char *value, size_t len)
{
	struct ch_host *h = ctx;
	if (!value)
		return;
	h->secrets_out--;
	secure_free(value, len);
}

static int h_object_get(void *ctx, const char *kind, const char *ns, const char *name,
			struct paddock_object **out, char *err, size_t errlen)
{
	struct ch_host *h = ctx;
	size_t n = 0;
	bool found = false;
	if (!str_eq(kind, "ConfigMap"))
		return errf(err, errlen, -ENOTSUP, "kind %s not served by the test host", kind);
	for (struct ch_entry *e = h->objects; e; e = e->next) {
		if (str_eq(e->ns, ns) && str_eq(e->name, name)) {
			found = true;
			n += e->key != NULL;
		}
	}
	if (!found)
		return errf(err, errlen, -ENOENT, "ConfigMap %s/%s not found", ns ? ns : "", name);
	struct paddock_object *o = xcalloc(1, sizeof(*o));
	struct paddock_kv *kv = xcalloc(n ? n : 1, sizeof(*kv));
	size_t i = 0;
	for (struct ch_entry *e = h->objects; e; e = e->next) {
		if (str_eq(e->ns, ns) && str_eq(e->name, name) && e->key) {
			kv[i].key = xstrdup(e->key);
			kv[i].value = xstrdup(e->value);
			kv[i].len = strlen(e->value);
			i++;
		}
	}
	/* sorted by key, as the ABI promises */
	for (size_t a = 1; a < n; a++)
		for (size_t b = a; b > 0 && strcmp(kv[b - 1].key, kv[b].key) > 0; b--) {
			struct paddock_kv t = kv[b];
			kv[b] = kv[b - 1];
			kv[b - 1] = t;
		}
	o->size = sizeof(*o);
	o->n = n;
	o->items = kv;
	*out = o;
	h->objects_out++;
	return 0;
}

static void h_object_free(void *ctx, struct paddock_object *o)
{
	struct ch_host *h = ctx;
	if (!o)
		return;
	h->objects_out--;
	for (size_t i = 0; i < o->n; i++) {
		free((char *)o->items[i].key);
		free((char *)o->items[i].value);
	}
	free((void *)o->items);
	free(o);
}

static int h_http_get(void *ctx, const struct paddock_http_request *req, char **body, size_t *len,
		      long *status, char *err, size_t errlen)
{
	struct ch_host *h = ctx;
	return http_fetch(&h->policy, req, body, len, status, err, errlen);
}

static void h_free(void *ctx, void *p)
{
	(void)ctx;
	free(p);
}

struct ch_host *ch_host_new(void)
{
	struct ch_host *h = xcalloc(1, sizeof(*h));
	h->table.size = sizeof(h->table);
	h->table.abi_major = PADDOCK_ABI_MAJOR;
	h->table.abi_minor = PADDOCK_ABI_MINOR;
	h->table.ctx = h;
	h->table.log = h_log;
	h->table.config_get = h_config_get;
	h->table.secret_get = h_secret_get;
	h->table.secret_free = h_secret_free;
	h->table.object_get = h_object_get;
	h->table.object_free = h_object_free;
	h->table.http_get = h_http_get;
	h->table.free = h_free;
	h->policy.max_bytes = 1024 * 1024;
	h->policy.timeout_ms = 10000;
	h->policy.max_redirects = 3;
	h->policy.allow_loopback = true;
	buf_init(&h->log, 0);
	buf_puts(&h->log, "");
	return h;
}

void ch_host_free(struct ch_host *h)
{
	if (!h)
		return;
	entries_free(h->secrets);
	entries_free(h->objects);
	entries_free(h->settings);
	buf_free(&h->log);
	free(h);
}

void ch_secret_add(struct ch_host *h, const char *ns, const char *name, const char *key,
		   const char *value)
{
	entry_add(&h->secrets, ns, name, key, value);
}

void ch_configmap_add(struct ch_host *h, const char *ns, const char *name, const char *key,
		      const char *value)
{
	entry_add(&h->objects, ns, name, key, value);
}

void ch_setting_set(struct ch_host *h, const char *key, const char *value)
{
	entry_add(&h->settings, NULL, NULL, key, value);
}

struct ch_plugin *ch_plugin_load(const char *name, struct ch_host *h, char *err, size_t errlen)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/contexts/.libs/%s.so", TOP_BUILDDIR, name);
	void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		errf(err, errlen, -ENOENT, "%s: %s", path, dlerror());
		return NULL;
	}
	paddock_plugin_entry_fn fn;
	*(void **)&fn = dlsym(dl, PADDOCK_ENTRY_SYMBOL);
	const struct paddock_plugin *d = fn ? fn() : NULL;
	if (!d || d->abi_major != PADDOCK_ABI_MAJOR || d->kind != PADDOCK_KIND_CONTEXT ||
	    !d->ops || d->ops_size < sizeof(struct paddock_context_ops)) {
		errf(err, errlen, -EINVAL, "%s: not a context plugin of ABI %d", path,
		     PADDOCK_ABI_MAJOR);
		dlclose(dl);
		return NULL;
	}
	struct ch_plugin *p = xcalloc(1, sizeof(*p));
	p->dl = dl;
	p->desc = d;
	p->ops = d->ops;
	if (p->ops->create(&h->table, &p->instance, err, errlen) < 0) {
		dlclose(dl);
		free(p);
		return NULL;
	}
	return p;
}

void ch_plugin_free(struct ch_plugin *p)
{
	if (!p)
		return;
	p->ops->destroy(p->instance);
	dlclose(p->dl);
	free(p);
}

static const char *item_field(const struct paddock_context_item *self, const char *key)
{
	const struct ch_item *it = (const struct ch_item *)self;
	for (size_t i = 0; i < it->keys.n; i++)
		if (str_eq(it->keys.v[i], key))
			return it->values.v[i];
	return NULL;
}

struct ch_item *ch_item_new(const char *type, const char *field_path)
{
	struct ch_item *it = xcalloc(1, sizeof(*it));
	it->item.size = sizeof(it->item);
	it->item.type = xstrdup(type);
	it->item.field_path = xstrdup(field_path);
	it->item.ns = xstrdup("default");
	it->item.file_mode = -1;
	it->item.field = item_field;
	return it;
}

void ch_item_set(struct ch_item *it, const char *key, const char *value)
{
	if (str_eq(key, "name")) {
		free((char *)it->item.name);
		it->item.name = xstrdup(value);
	} else if (str_eq(key, "mountPath")) {
		free((char *)it->item.mount_path);
		it->item.mount_path = xstrdup(value);
	} else if (str_eq(key, "fileMode")) {
		it->item.file_mode = value ? (int)strtol(value, NULL, 8) : -1;
	} else {
		strv_push(&it->keys, key);
		strv_push(&it->values, value);
	}
}

void ch_item_free(struct ch_item *it)
{
	if (!it)
		return;
	free((char *)it->item.type);
	free((char *)it->item.field_path);
	free((char *)it->item.ns);
	free((char *)it->item.name);
	free((char *)it->item.mount_path);
	strv_free(&it->keys);
	strv_free(&it->values);
	free(it);
}

void ch_task_init(struct paddock_task_view *t)
{
	memset(t, 0, sizeof(*t));
	t->size = sizeof(*t);
	t->ns = "default";
	t->name = "demo";
	t->type = "claude-code";
	t->prompt = "Fix the bug.";
	t->secret_ns = "default";
}

int ch_validate(struct ch_plugin *p, struct ch_item *it, char *err, size_t errlen)
{
	return p->ops->validate(p->instance, &it->item, err, errlen);
}

int ch_resolve(struct ch_plugin *p, const struct paddock_task_view *task, struct ch_item *it,
	       struct run_plan *plan, char *err, size_t errlen)
{
	struct paddock_plan_builder b;
	plan_builder(plan, &b);
	plan_set_origin(plan, it->item.field_path);
	return p->ops->resolve(p->instance, task, &it->item, &b, err, errlen);
}

int ch_server_start(const char *token, pid_t *pid)
{
	int fd[2];
	if (pipe(fd) < 0)
		return -1;
	pid_t c = fork();
	if (c < 0) {
		close(fd[0]);
		close(fd[1]);
		return -1;
	}
	if (c == 0) {
		char script[4096];
		snprintf(script, sizeof(script), "%s/tests/url-server.py", TOP_SRCDIR);
		dup2(fd[1], 1);
		close(fd[0]);
		close(fd[1]);
		execlp("python3", "python3", script, "--token", token ? token : "", "--lifetime",
		       "120", (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	char line[32] = "";
	size_t n = 0;
	int64_t deadline = now_mono_ms() + 10000;
	while (n < sizeof(line) - 1 && !memchr(line, '\n', n)) {
		struct pollfd pfd = { .fd = fd[0], .events = POLLIN };
		int64_t left = deadline - now_mono_ms();
		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			break;
		ssize_t r = read(fd[0], line + n, sizeof(line) - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		line[n] = '\0';
	}
	close(fd[0]);
	int port = atoi(line);
	if (port <= 0) {
		ch_server_stop(c);
		return -1;
	}
	*pid = c;
	return port;
}

void ch_server_stop(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

/* SPDX-License-Identifier: MIT */
#include "config.h"
#include "control/plan.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

void plan_init(struct run_plan *p, const char *secret_ns, size_t max_item, size_t max_total)
{
	memset(p, 0, sizeof(*p));
	p->secret_ns = xstrdup(secret_ns);
	p->max_item = max_item;
	p->max_total = max_total;
}

void plan_free(struct run_plan *p)
{
	if (!p)
		return;
	free(p->image);
	free(p->command);
	strv_free(&p->args);
	free(p->secret_ns);
	for (size_t i = 0; i < p->n_env; i++) {
		free(p->env[i].name);
		free(p->env[i].value);
		free(p->env[i].secret_name);
		free(p->env[i].secret_key);
	}
	free(p->env);
	for (size_t i = 0; i < p->n_files; i++) {
		free(p->files[i].path);
		free(p->files[i].data);
		free(p->files[i].secret_name);
		free(p->files[i].secret_key);
		free(p->files[i].origin);
	}
	free(p->files);
	free(p->route_endpoint);
	free(p->route_placeholder);
	if (p->route) {
		free(p->route->upstream);
		free(p->route->header);
		free(p->route->prefix);
		free(p->route->secret_name);
		free(p->route->secret_key);
		free(p->route);
	}
	for (size_t i = 0; i < p->n_texts; i++) {
		free(p->texts[i].name);
		free(p->texts[i].type);
		free(p->texts[i].text);
	}
	free(p->texts);
	for (size_t i = 0; i < p->n_gits; i++) {
		free(p->gits[i].repository);
		free(p->gits[i].ref);
		free(p->gits[i].subpath);
		free(p->gits[i].dest);
		free(p->gits[i].secret_name);
	}
	free(p->gits);
	free(p->origin);
	memset(p, 0, sizeof(*p));
}

void plan_set_origin(struct run_plan *p, const char *origin)
{
	free(p->origin);
	p->origin = xstrdup(origin);
}

/* Record the first error only: later ones are usually consequences. */
static int fail(struct run_plan *p, int rc, const char *fmt, ...) PD_PRINTF(3, 4);
static int fail(struct run_plan *p, int rc, const char *fmt, ...)
{
	if (p->rc == 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(p->err, sizeof(p->err), fmt, ap);
		va_end(ap);
		p->rc = rc;
	}
	return rc;
}

int plan_clean_path(const char *path, const char *field, char **out, char *err, size_t errlen)
{
	if (!path || !*path)
		return errf(err, errlen, -EINVAL, "%s: empty path: give a path relative to the workspace", field);
	if (path[0] == '/')
		return errf(err, errlen, -EINVAL,
			    "%s: absolute path \"%s\" not allowed: give a path relative to the workspace",
			    field, path);
	if (strlen(path) > 1024)
		return errf(err, errlen, -ENAMETOOLONG, "%s: path longer than 1024 bytes", field);
	struct buf b;
	buf_init(&b, 0);
	const char *s = path;
	while (*s) {
		const char *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		for (size_t i = 0; i < n; i++) {
			if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
				buf_free(&b);
				return errf(err, errlen, -EINVAL, "%s: control character in path", field);
			}
		}
		if (n == 2 && s[0] == '.' && s[1] == '.') {
			buf_free(&b);
			return errf(err, errlen, -EINVAL,
				    "%s: \"..\" not allowed in \"%s\": the path must stay inside the workspace",
				    field, path);
		}
		if (n && !(n == 1 && s[0] == '.')) {
			if (b.len)
				buf_puts(&b, "/");
			buf_append(&b, s, n);
		}
		s += n;
		if (*s == '/')
			s++;
	}
	*out = buf_steal(&b);
	return 0;
}

static int charge(struct run_plan *p, size_t len, const char *what)
{
	const char *o = p->origin ? p->origin : "plan";
	if (p->max_item && len > p->max_item)
		return fail(p, -E2BIG, "%s: %s is %zu bytes, over the limit of %zu bytes per item", o,
			    what, len, p->max_item);
	if (p->max_total && (len > p->max_total || p->total_bytes > p->max_total - len))
		return fail(p, -E2BIG,
			    "%s: %s would bring the run's contexts to %zu bytes, over the total limit of %zu bytes",
			    o, what, p->total_bytes + len, p->max_total);
	p->total_bytes += len;
	return 0;
}

static int b_set_image(void *ctx, const char *image)
{
	struct run_plan *p = ctx;
	free(p->image);
	p->image = xstrdup(image);
	return 0;
}

static int b_set_command(void *ctx, const char *path)
{
	struct run_plan *p = ctx;
	if (!path || !*path)
		return fail(p, -EINVAL, "entrypoint: empty command");
	free(p->command);
	p->command = xstrdup(path);
	return 0;
}

static int b_add_arg(void *ctx, const char *arg)
{
	struct run_plan *p = ctx;
	if (!arg)
		return fail(p, -EINVAL, "entrypoint: NULL argument");
	strv_push(&p->args, arg);
	return 0;
}

static bool env_name_ok(const char *n)
{
	if (!n || !*n || (*n >= '0' && *n <= '9'))
		return false;
	for (; *n; n++)
		if (!((*n >= 'A' && *n <= 'Z') || (*n >= 'a' && *n <= 'z') ||
		      (*n >= '0' && *n <= '9') || *n == '_'))
			return false;
	return true;
}

static struct plan_env *env_slot(struct run_plan *p, const char *name)
{
	for (size_t i = 0; i < p->n_env; i++) {
		if (str_eq(p->env[i].name, name)) {
			struct plan_env *e = &p->env[i];
			free(e->value);
			free(e->secret_name);
			free(e->secret_key);
			e->value = e->secret_name = e->secret_key = NULL;
			return e;
		}
	}
	p->env = xrealloc(p->env, (p->n_env + 1) * sizeof(*p->env));
	struct plan_env *e = &p->env[p->n_env++];
	memset(e, 0, sizeof(*e));
	e->name = xstrdup(name);
	return e;
}

static int b_set_env(void *ctx, const char *name, const char *value)
{
	struct run_plan *p = ctx;
	if (!env_name_ok(name))
		return fail(p, -EINVAL, "invalid environment variable name \"%s\"", name ? name : "");
	struct plan_env *e = env_slot(p, name);
	e->value = xstrdup(value ? value : "");
	return 0;
}

static int b_set_env_secret(void *ctx, const char *name, const char *secret, const char *key)
{
	struct run_plan *p = ctx;
	if (!env_name_ok(name))
		return fail(p, -EINVAL, "invalid environment variable name \"%s\"", name ? name : "");
	if (!secret || !*secret || !key || !*key)
		return fail(p, -EINVAL, "%s: secret reference needs a Secret name and a key", name);
	struct plan_env *e = env_slot(p, name);
	e->secret_name = xstrdup(secret);
	e->secret_key = xstrdup(key);
	return 0;
}

static struct plan_file *file_slot(struct run_plan *p, int root, const char *path, int *rc)
{
	char *clean = NULL;
	char err[256];
	const char *o = p->origin ? p->origin : "plan";
	char *field = xasprintf("%s.mountPath", o);
	*rc = plan_clean_path(path, field, &clean, err, sizeof(err));
	free(field);
	if (*rc < 0) {
		fail(p, *rc, "%s", err);
		return NULL;
	}
	if (root != PADDOCK_ROOT_WORKSPACE && root != PADDOCK_ROOT_HOME) {
		free(clean);
		*rc = fail(p, -EINVAL, "%s: unknown file root %d", o, root);
		return NULL;
	}
	for (size_t i = 0; i < p->n_files; i++) {
		struct plan_file *f = &p->files[i];
		if (f->root == root && str_eq(f->path, clean) && !(f->is_dir)) {
			*rc = fail(p, -EEXIST, "%s and %s both target \"%s\": give each a distinct mountPath",
				   f->origin ? f->origin : "plan", o, clean);
			free(clean);
			return NULL;
		}
	}
	p->files = xrealloc(p->files, (p->n_files + 1) * sizeof(*p->files));
	struct plan_file *f = &p->files[p->n_files++];
	memset(f, 0, sizeof(*f));
	f->root = root;
	f->path = clean;
	f->origin = xstrdup(o);
	*rc = 0;
	return f;
}

static int b_add_file(void *ctx, int root, const char *path, const void *data, size_t len,
		      unsigned mode)
{
	struct run_plan *p = ctx;
	int rc = charge(p, len, "file");
	if (rc < 0)
		return rc;
	struct plan_file *f = file_slot(p, root, path, &rc);
	if (!f)
		return rc;
	f->data = xmalloc(len + 1);
	if (len)
		memcpy(f->data, data, len);
	f->data[len] = '\0';
	f->len = len;
	f->mode = mode & 07777;
	return 0;
}

static int b_add_secret_file(void *ctx, int root, const char *path, const char *secret,
			     const char *key, unsigned mode)
{
	struct run_plan *p = ctx;
	if (!secret || !*secret || !key || !*key)
		return fail(p, -EINVAL, "%s: secret file needs a Secret name and a key", path ? path : "");
	int rc;
	struct plan_file *f = file_slot(p, root, path, &rc);
	if (!f)
		return rc;
	f->secret_name = xstrdup(secret);
	f->secret_key = xstrdup(key);
	f->mode = mode & 07777;
	return 0;
}

static int b_add_dir(void *ctx, int root, const char *path, unsigned mode)
{
	struct run_plan *p = ctx;
	int rc;
	struct plan_file *f = file_slot(p, root, path, &rc);
	if (!f)
		return rc;
	f->is_dir = true;
	f->mode = mode & 07777;
	return 0;
}

static int b_add_text(void *ctx, const char *name, const char *type, const char *text, size_t len)
{
	struct run_plan *p = ctx;
	int rc = charge(p, len, "text");
	if (rc < 0)
		return rc;
	p->texts = xrealloc(p->texts, (p->n_texts + 1) * sizeof(*p->texts));
	struct plan_text *t = &p->texts[p->n_texts++];
	t->name = xstrdup(name ? name : "");
	t->type = xstrdup(type ? type : "");
	t->text = xstrndup(text ? text : "", text ? len : 0);
	t->len = text ? len : 0;
	return 0;
}

static int b_add_git(void *ctx, const struct paddock_git_fetch *g)
{
	struct run_plan *p = ctx;
	const char *o = p->origin ? p->origin : "plan";
	if (!g || !g->repository || !*g->repository)
		return fail(p, -EINVAL, "%s: git fetch needs a repository", o);
	if (g->repository[0] == '-')
		return fail(p, -EINVAL, "%s: repository \"%s\" must not start with '-'", o, g->repository);
	if (g->ref && g->ref[0] == '-')
		return fail(p, -EINVAL, "%s: ref \"%s\" must not start with '-'", o, g->ref);
	char *dest = NULL;
	if (g->dest && *g->dest && strcmp(g->dest, ".") != 0) {
		char err[256];
		char *field = xasprintf("%s.mountPath", o);
		int rc = plan_clean_path(g->dest, field, &dest, err, sizeof(err));
		free(field);
		if (rc < 0)
			return fail(p, rc, "%s", err);
	} else {
		dest = xstrdup("");
	}
	for (size_t i = 0; i < p->n_gits; i++) {
		if (str_eq(p->gits[i].dest, dest)) {
			free(dest);
			return fail(p, -EEXIST, "%s: two git checkouts target the same path", o);
		}
	}
	p->gits = xrealloc(p->gits, (p->n_gits + 1) * sizeof(*p->gits));
	struct plan_git *pg = &p->gits[p->n_gits++];
	memset(pg, 0, sizeof(*pg));
	pg->repository = xstrdup(g->repository);
	pg->ref = g->ref && *g->ref ? xstrdup(g->ref) : NULL;
	pg->depth = g->depth > 0 ? g->depth : 0;
	pg->subpath = g->subpath && *g->subpath ? xstrdup(g->subpath) : NULL;
	pg->dest = dest;
	pg->secret_name = g->secret_name && *g->secret_name ? xstrdup(g->secret_name) : NULL;
	return 0;
}

void plan_offer_route(struct run_plan *p, const char *endpoint)
{
	unsigned char rnd[16];
	char hex[2 * sizeof(rnd) + 1];
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		/* No randomness: no routing (the 1.0 injection still works). */
		return;
	}
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
	free(p->route_endpoint);
	free(p->route_placeholder);
	p->route_endpoint = xstrdup(endpoint);
	p->route_placeholder = xasprintf(PLAN_ROUTE_PLACEHOLDER_PREFIX "%s", hex);
}

/* "http(s)://host[:port][/path]" without userinfo, query, fragment,
 * spaces or control bytes. */
static bool route_url_ok(const char *u)
{
	const char *rest = !strncmp(u, "https://", 8) ? u + 8 : !strncmp(u, "http://", 7) ? u + 7 : NULL;
	if (!rest || !*rest || *rest == '/' || strlen(u) > 2048)
		return false;
	for (const char *c = rest; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f || *c == '@' || *c == '?' || *c == '#' ||
		    *c == '"' || *c == '\\')
			return false;
	return true;
}

static bool header_name_ok(const char *h)
{
	size_t n = strlen(h);
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)h[i]) && h[i] != '-')
			return false;
	return true;
}

static int b_add_credential_route(void *ctx, const struct paddock_credential_route *r)
{
	struct run_plan *p = ctx;
	if (!p->route_endpoint)
		return fail(p, -EPERM, "credential route: the host did not offer one for this run");
	if (p->route)
		return fail(p, -EEXIST, "credential route: a run has one credential route");
	if (!r || r->size < offsetof(struct paddock_credential_route, secret_key) + sizeof(r->secret_key))
		return fail(p, -EINVAL, "credential route: struct too small");
	if (!r->upstream || !route_url_ok(r->upstream))
		return fail(p, -EINVAL, "credential route: invalid upstream \"%.128s\": use http(s)://host[:port][/path]",
			    r->upstream ? r->upstream : "");
	if (!r->header || !header_name_ok(r->header))
		return fail(p, -EINVAL, "credential route: invalid header name \"%.64s\"", r->header ? r->header : "");
	if (r->prefix && (strlen(r->prefix) > 32 || strpbrk(r->prefix, "\r\n")))
		return fail(p, -EINVAL, "credential route: invalid prefix");
	if (!r->secret_name || !*r->secret_name || !r->secret_key || !*r->secret_key)
		return fail(p, -EINVAL, "credential route: needs a Secret name and a key");
	struct plan_route *pr = xcalloc(1, sizeof(*pr));
	size_t n = strlen(r->upstream);
	pr->upstream = xstrdup(r->upstream);
	if (n > 1 && pr->upstream[n - 1] == '/')
		pr->upstream[n - 1] = '\0';
	pr->header = xstrdup(r->header);
	pr->prefix = xstrdup(r->prefix ? r->prefix : "");
	pr->secret_name = xstrdup(r->secret_name);
	pr->secret_key = xstrdup(r->secret_key);
	p->route = pr;
	return 0;
}

static void b_log(void *ctx, int level, const char *msg)
{
	(void)ctx;
	log_kv(level, msg, (char *)NULL);
}

void plan_builder(struct run_plan *p, struct paddock_plan_builder *b)
{
	memset(b, 0, sizeof(*b));
	b->size = sizeof(*b);
	b->ctx = p;
	b->set_image = b_set_image;
	b->set_command = b_set_command;
	b->add_arg = b_add_arg;
	b->set_env = b_set_env;
	b->set_env_secret = b_set_env_secret;
	b->add_file = b_add_file;
	b->add_secret_file = b_add_secret_file;
	b->add_dir = b_add_dir;
	b->add_text = b_add_text;
	b->add_git = b_add_git;
	b->log = b_log;
	b->add_credential_route = b_add_credential_route;
}

static void put_attr(struct buf *b, const char *v)
{
	for (; *v; v++) {
		switch (*v) {
		case '&': buf_puts(b, "&amp;"); break;
		case '"': buf_puts(b, "&quot;"); break;
		case '<': buf_puts(b, "&lt;"); break;
		case '>': buf_puts(b, "&gt;"); break;
		case '\n': buf_puts(b, "&#10;"); break;
		default: buf_append(b, v, 1);
		}
	}
}

/* Content is kept verbatim except that any "</context" (any case) is
 * written as "<\/context", so that text cannot close its own block or
 * forge a new one.  Documented in docs/contexts.md. */
static void put_content(struct buf *b, const char *s, size_t len)
{
	static const char tag[] = "</context";
	size_t tl = sizeof(tag) - 1;
	size_t i = 0;
	while (i < len) {
		if (s[i] == '<' && len - i >= tl && strncasecmp(s + i, tag, tl) == 0) {
			buf_puts(b, "<\\/");
			buf_append(b, s + i + 2, tl - 2);
			i += tl;
			continue;
		}
		buf_append(b, s + i, 1);
		i++;
	}
}

char *plan_render_task_md(const struct run_plan *p, const char *prompt)
{
	struct buf b;
	buf_init(&b, 0);
	buf_puts(&b, prompt ? prompt : "");
	if (b.len && b.data[b.len - 1] != '\n')
		buf_puts(&b, "\n");
	for (size_t i = 0; i < p->n_texts; i++) {
		const struct plan_text *t = &p->texts[i];
		buf_puts(&b, "\n<context name=\"");
		put_attr(&b, t->name);
		buf_puts(&b, "\" type=\"");
		put_attr(&b, t->type);
		buf_puts(&b, "\">\n");
		put_content(&b, t->text, t->len);
		if (t->len && t->text[t->len - 1] != '\n')
			buf_puts(&b, "\n");
		buf_puts(&b, "</context>\n");
	}
	return buf_steal(&b);
}

const char *plan_env_get(const struct run_plan *p, const char *name)
{
	for (size_t i = 0; i < p->n_env; i++)
		if (str_eq(p->env[i].name, name))
			return p->env[i].value;
	return NULL;
}

const char *plan_url_password_at(const char *url)
{
	if (!url || (!str_startswith(url, "http://") && !str_startswith(url, "https://")))
		return NULL;
	const char *a = strstr(url, "://") + 3;
	size_t alen = strcspn(a, "/?#");
	const char *at = NULL;
	for (size_t i = 0; i < alen; i++)
		if (a[i] == '@')
			at = a + i;
	return at && memchr(a, ':', (size_t)(at - a)) ? at : NULL;
}

size_t *plan_git_order(const struct run_plan *p)
{
	size_t *order = xcalloc(p->n_gits + 1, sizeof(size_t)), n = 0;
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < p->n_gits; i++) {
			const char *dest = p->gits[i].dest;
			if ((pass == 0) == (!dest || !*dest))
				order[n++] = i;
		}
	return order;
}

/* SPDX-License-Identifier: MIT */
/*
 * plugin/loader.c - plugin discovery and ABI checks.
 *
 * Every *.so of every plugin directory is considered in sorted order, so
 * that which of two duplicates wins never depends on readdir().  A file is
 * refused before dlopen() when it (or the directory holding it) could be
 * replaced by someone else: writable by group or others, or owned by a
 * user who is neither root nor us.  After dlopen() the descriptor is read
 * field by field, never past the size it declares.  A refusal is one line
 * naming the file and the reason; it only stops startup when the config
 * enables that plugin.
 */
#include "config.h"
#include "plugin/loader.h"

#include "plugin/host.h"
#include "base/util.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The descriptor as ABI 1.0 laid it out: a plugin built against 1.0 has
 * exactly this size, and no valid plugin is smaller.  Frozen: never edit. */
struct paddock_plugin_v1_0 {
	uint32_t abi_major, abi_minor, size, kind;
	const char *name, *version, *description, *license;
	const void *ops;
	uint32_t ops_size;
};
_Static_assert(offsetof(struct paddock_plugin_v1_0, ops_size) ==
		       offsetof(struct paddock_plugin, ops_size),
	       "struct paddock_plugin changed incompatibly");
#define DESC_SIZE_V1_0 ((uint32_t)sizeof(struct paddock_plugin_v1_0))

/* The 1.0 ops tables end with these fields; fields appended later do not
 * move them. */
#define END_OF(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))
#define DRIVER_OPS_SIZE_V1_0 ((uint32_t)END_OF(struct paddock_driver_ops, parser_free))
#define CONTEXT_OPS_SIZE_V1_0 ((uint32_t)END_OF(struct paddock_context_ops, resolve))

#define PLUGIN_NAME_MAX 64

static const char *kind_name(uint32_t kind)
{
	return kind == PADDOCK_KIND_DRIVER ? "driver" : kind == PADDOCK_KIND_CONTEXT ? "context"
										     : "unknown";
}

static void refuse(struct plugin_set *s, const char *path, const char *fmt, ...) PD_PRINTF(3, 4);
static void refuse(struct plugin_set *s, const char *path, const char *fmt, ...)
{
	char reason[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	s->refused = xrealloc(s->refused, (s->n_refused + 1) * sizeof(*s->refused));
	s->refused[s->n_refused].path = xstrdup(path);
	s->refused[s->n_refused].reason = xstrdup(reason);
	s->n_refused++;
	log_debug("plugin refused", "path", path, "reason", reason);
}

static bool name_valid(const char *s)
{
	size_t n = strnlen(s, PLUGIN_NAME_MAX + 1);
	if (n == 0 || n > PLUGIN_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

/* Check the ops table of a driver or context; NULL if fine. */
static const char *check_ops(const struct paddock_plugin *d, char *buf, size_t len)
{
	if (!d->ops)
		return "no ops table";
	uint32_t need = d->kind == PADDOCK_KIND_DRIVER ? DRIVER_OPS_SIZE_V1_0
						       : CONTEXT_OPS_SIZE_V1_0;
	uint32_t own = *(const uint32_t *)d->ops; /* every ops table starts with size */
	if (d->ops_size < need || own < need) {
		snprintf(buf, len, "%s ops size %u too small (need %u)", kind_name(d->kind),
			 (unsigned)(d->ops_size < own ? d->ops_size : own), (unsigned)need);
		return buf;
	}
	const char *missing = NULL;
	if (d->kind == PADDOCK_KIND_DRIVER) {
		const struct paddock_driver_ops *o = d->ops;
		missing = !o->create ? "create" : !o->destroy ? "destroy"
			: !o->credential_types ? "credential_types" : !o->validate ? "validate"
			: !o->credentials ? "credentials" : !o->entrypoint ? "entrypoint"
			: !o->parser_new ? "parser_new" : !o->parser_line ? "parser_line"
			: !o->parser_finish ? "parser_finish" : !o->parser_free ? "parser_free"
			: NULL;
	} else {
		const struct paddock_context_ops *o = d->ops;
		if (!o->type || !*o->type)
			return "context ops: no type (e.g. \"Text\")";
		missing = !o->create ? "create" : !o->destroy ? "destroy"
			: !o->validate ? "validate" : !o->resolve ? "resolve" : NULL;
	}
	if (missing) {
		snprintf(buf, len, "%s ops: %s is NULL: every op must be set", kind_name(d->kind),
			 missing);
		return buf;
	}
	return NULL;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static const struct loaded_plugin *find_loaded(const struct plugin_set *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i].desc->name, name))
			return &s->v[i];
	return NULL;
}

/* Load one file; a refusal is recorded, never returned. */
static void load_one(struct plugin_set *s, const struct pd_config *cfg, const char *path)
{
	char why[512];
	struct stat st;
	if (lstat(path, &st) < 0) {
		refuse(s, path, "cannot stat: %s", strerror(errno));
		return;
	}
	if (S_ISLNK(st.st_mode) && stat(path, &st) < 0) {
		refuse(s, path, "dangling symlink: %s", strerror(errno));
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		refuse(s, path, "not a regular file");
		return;
	}
	const char *bad = file_mode_unsafe(&st, why, sizeof(why));
	if (bad) {
		refuse(s, path, "%s", bad);
		return;
	}

	dlerror();
	void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		const char *e = dlerror();
		refuse(s, path, "cannot load: %s", e ? e : "unknown dlopen error");
		return;
	}
	paddock_plugin_entry_fn entry;
	void *sym = dlsym(dl, PADDOCK_ENTRY_SYMBOL);
	/* ISO C forbids casting void * to a function pointer; POSIX allows it. */
	memcpy(&entry, &sym, sizeof(entry));
	if (!sym) {
		refuse(s, path, "no symbol %s: not a Paddock plugin", PADDOCK_ENTRY_SYMBOL);
		goto fail;
	}
	const struct paddock_plugin *d = entry();
	if (!d) {
		refuse(s, path, "%s() returned NULL", PADDOCK_ENTRY_SYMBOL);
		goto fail;
	}
	if (d->abi_major != PADDOCK_ABI_MAJOR) {
		refuse(s, path, "ABI %u.%u not supported (host %d.%d)", (unsigned)d->abi_major,
		       (unsigned)d->abi_minor, PADDOCK_ABI_MAJOR, PADDOCK_ABI_MINOR);
		goto fail;
	}
	if (d->abi_minor > PADDOCK_ABI_MINOR) {
		refuse(s, path, "ABI %u.%u is newer than the host's %d.%d: upgrade paddock",
		       (unsigned)d->abi_major, (unsigned)d->abi_minor, PADDOCK_ABI_MAJOR,
		       PADDOCK_ABI_MINOR);
		goto fail;
	}
	if (d->size < DESC_SIZE_V1_0) {
		refuse(s, path, "descriptor size %u too small (need %u)", (unsigned)d->size,
		       (unsigned)DESC_SIZE_V1_0);
		goto fail;
	}
	if (d->kind != PADDOCK_KIND_DRIVER && d->kind != PADDOCK_KIND_CONTEXT) {
		refuse(s, path, "unknown kind %u", (unsigned)d->kind);
		goto fail;
	}
	if (!d->name || !name_valid(d->name)) {
		refuse(s, path, "invalid name \"%.*s\": use 1 to %d lowercase letters, digits or '-'",
		       PLUGIN_NAME_MAX, d->name ? d->name : "", PLUGIN_NAME_MAX);
		goto fail;
	}
	bad = check_ops(d, why, sizeof(why));
	if (bad) {
		refuse(s, path, "%s", bad);
		goto fail;
	}
	const struct loaded_plugin *dup = find_loaded(s, d->name);
	if (dup) {
		refuse(s, path, "duplicate plugin name \"%s\" (already loaded from %s)", d->name,
		       dup->path);
		goto fail;
	}
	if (d->kind == PADDOCK_KIND_CONTEXT) {
		const char *type = ((const struct paddock_context_ops *)d->ops)->type;
		for (size_t i = 0; i < s->n; i++) {
			if (s->v[i].desc->kind != PADDOCK_KIND_CONTEXT ||
			    strcmp(plugin_context_ops(&s->v[i])->type, type))
				continue;
			refuse(s, path, "duplicate context type \"%s\" (already served by %s)", type,
			       s->v[i].path);
			goto fail;
		}
	}

	s->v = xrealloc(s->v, (s->n + 1) * sizeof(*s->v));
	const struct pd_plugin_conf *pc = config_plugin(cfg, d->name);
	s->v[s->n++] = (struct loaded_plugin){
		.path = xstrdup(path), .dl = dl, .desc = d, .enabled = pc && pc->enabled,
	};
	log_debug("plugin loaded", "path", path, "name", d->name, "kind", kind_name(d->kind));
	return;
fail:
	dlclose(dl);
}

static void scan_dir(struct plugin_set *s, const struct pd_config *cfg, const char *dir)
{
	char why[512];
	struct stat st;
	if (stat(dir, &st) < 0) {
		/* A missing directory is normal (nothing installed there yet). */
		if (errno != ENOENT)
			refuse(s, dir, "cannot stat plugin directory: %s", strerror(errno));
		else
			log_debug("plugin directory does not exist", "dir", dir);
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		refuse(s, dir, "plugin directory is not a directory");
		return;
	}
	const char *bad = file_mode_unsafe(&st, why, sizeof(why));
	if (bad) {
		refuse(s, dir, "plugin directory %s", bad);
		return;
	}
	DIR *d = opendir(dir);
	if (!d) {
		refuse(s, dir, "cannot open plugin directory: %s", strerror(errno));
		return;
	}
	struct strv names = { 0 };
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && str_endswith(e->d_name, ".so"))
			strv_push(&names, e->d_name);
	closedir(d);
	if (names.n)
		qsort(names.v, names.n, sizeof(char *), name_cmp);
	for (size_t i = 0; i < names.n; i++) {
		char *path = xasprintf("%s%s%s", dir, str_endswith(dir, "/") ? "" : "/",
				       names.v[i]);
		load_one(s, cfg, path);
		free(path);
	}
	strv_free(&names);
}

/* The refusal that most likely concerns plugin `name`: its file is NAME.so
 * (the convention) or the descriptor named it. */
static const struct plugin_refusal *refusal_for(const struct plugin_set *s, const char *name)
{
	for (size_t i = 0; i < s->n_refused; i++) {
		const char *base = strrchr(s->refused[i].path, '/');
		base = base ? base + 1 : s->refused[i].path;
		size_t n = strlen(name);
		if (!strncmp(base, name, n) && !strcmp(base + n, ".so"))
			return &s->refused[i];
		const char *q = strstr(s->refused[i].reason, "name \"");
		if (q && !strncmp(q + 6, name, n) && q[6 + n] == '"')
			return &s->refused[i];
	}
	return NULL;
}

static int check_enabled(const struct plugin_set *s, const struct pd_config *cfg, char *err,
			 size_t errlen)
{
	const char *cfgname = cfg->path ? cfg->path : "(default config)";
	for (size_t i = 0; i < cfg->n_plugins; i++) {
		const struct pd_plugin_conf *pc = &cfg->plugins[i];
		if (!pc->enabled)
			continue;
		const char *section = pc->kind == PADDOCK_KIND_DRIVER ? "drivers" : "contexts";
		const struct loaded_plugin *lp = find_loaded(s, pc->name);
		if (!lp) {
			const struct plugin_refusal *r = refusal_for(s, pc->name);
			if (r)
				return errf(err, errlen, -ENOEXEC, "%s: %s", r->path, r->reason);
			struct buf dirs;
			buf_init(&dirs, 0);
			for (size_t j = 0; j < cfg->plugin_dirs.n; j++)
				buf_printf(&dirs, "%s%s", j ? ":" : "", cfg->plugin_dirs.v[j]);
			int rc = errf(err, errlen, -ENOENT,
				      "%s:%d:%d: %s.%s: plugin \"%s\" is enabled but was not found "
				      "in %s: install it, fix pluginDirs (or PADDOCK_PLUGIN_PATH) "
				      "or set enabled: false", cfgname, pc->line, pc->column,
				      section, pc->name, pc->name,
				      dirs.data ? dirs.data : "(no plugin directories)");
			buf_free(&dirs);
			return rc;
		}
		if ((int)lp->desc->kind != pc->kind)
			return errf(err, errlen, -EINVAL,
				    "%s: plugin \"%s\" is a %s plugin but %s:%d:%d lists it under "
				    "%s: move it to %s", lp->path, pc->name,
				    kind_name(lp->desc->kind), cfgname, pc->line, pc->column,
				    section, lp->desc->kind == PADDOCK_KIND_DRIVER ? "drivers"
										   : "contexts");
	}
	return 0;
}

static int instantiate_all(struct plugin_set *s, const struct pd_config *cfg, char *err,
			   size_t errlen)
{
	for (size_t i = 0; i < s->n; i++) {
		struct loaded_plugin *lp = &s->v[i];
		if (!lp->enabled)
			continue;
		char perr[512] = "";
		struct paddock_host *h = host_new(cfg, lp->desc->name);
		void *inst = NULL;
		int rc = lp->desc->kind == PADDOCK_KIND_DRIVER
				 ? plugin_driver_ops(lp)->create(h, &inst, perr, sizeof(perr))
				 : plugin_context_ops(lp)->create(h, &inst, perr, sizeof(perr));
		if (rc < 0) {
			host_free(h);
			return errf(err, errlen, rc, "%s: create failed: %s", lp->path,
				    perr[0] ? perr : strerror(-rc));
		}
		lp->host = h;
		lp->instance = inst;
	}
	return 0;
}

static int load_set(const struct pd_config *cfg, const char *file, bool instantiate,
		    struct plugin_set **out, char *err, size_t errlen)
{
	struct plugin_set *s = xcalloc(1, sizeof(*s));
	if (file)
		load_one(s, cfg, file);
	for (size_t i = 0; !file && i < cfg->plugin_dirs.n; i++)
		scan_dir(s, cfg, cfg->plugin_dirs.v[i]);
	int rc = check_enabled(s, cfg, err, errlen);
	if (rc == 0 && instantiate)
		rc = instantiate_all(s, cfg, err, errlen);
	if (rc < 0) {
		plugins_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

int plugins_load(const struct pd_config *cfg, bool instantiate, struct plugin_set **out,
		 char *err, size_t errlen)
{
	return load_set(cfg, NULL, instantiate, out, err, errlen);
}

int plugins_load_file(const struct pd_config *cfg, const char *path, struct plugin_set **out,
		      char *err, size_t errlen)
{
	return load_set(cfg, path, true, out, err, errlen);
}

void plugins_free(struct plugin_set *s)
{
	if (!s)
		return;
	/* Every instance first: no dlclose while an instance lives. */
	for (size_t i = 0; i < s->n; i++) {
		struct loaded_plugin *lp = &s->v[i];
		if (!lp->host)
			continue;
		if (lp->desc->kind == PADDOCK_KIND_DRIVER)
			plugin_driver_ops(lp)->destroy(lp->instance);
		else
			plugin_context_ops(lp)->destroy(lp->instance);
		host_free(lp->host);
		lp->host = NULL;
		lp->instance = NULL;
	}
	for (size_t i = 0; i < s->n; i++) {
		dlclose(s->v[i].dl);
		free(s->v[i].path);
	}
	free(s->v);
	for (size_t i = 0; i < s->n_refused; i++) {
		free(s->refused[i].path);
		free(s->refused[i].reason);
	}
	free(s->refused);
	free(s);
}

const struct loaded_plugin *plugins_driver(const struct plugin_set *s, const char *name)
{
	if (!s || !name)
		return NULL;
	for (size_t i = 0; i < s->n; i++) {
		const struct loaded_plugin *lp = &s->v[i];
		if (lp->host && lp->desc->kind == PADDOCK_KIND_DRIVER && !strcmp(lp->desc->name, name))
			return lp;
	}
	return NULL;
}

const struct loaded_plugin *plugins_context(const struct plugin_set *s, const char *type)
{
	if (!s || !type)
		return NULL;
	for (size_t i = 0; i < s->n; i++) {
		const struct loaded_plugin *lp = &s->v[i];
		if (lp->host && lp->desc->kind == PADDOCK_KIND_CONTEXT &&
		    !strcmp(plugin_context_ops(lp)->type, type))
			return lp;
	}
	return NULL;
}

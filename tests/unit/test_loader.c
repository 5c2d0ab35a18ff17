/* SPDX-License-Identifier: MIT */
/* test_loader.c - plugin discovery, ABI refusals, permissions, enabling
 * and instantiating, and the host services table. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <paddock/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/conf.h"
#include "plugin/host.h"
#include "plugin/loader.h"
#include "control/plan.h"
#include "base/util.h"

#define FIXDIR TOP_BUILDDIR "/tests/fixtures/.libs"

static char err[1024];

/* A config with pluginDirs: [dir] followed by `extra` YAML. */
static struct pd_config *cfg_for(const char *dir, const char *extra)
{
	unsetenv("PADDOCK_PLUGIN_PATH");
	char *yaml = xasprintf("pluginDirs: [\"%s\"]\n%s", dir, extra ? extra : "");
	struct pd_config *c = NULL;
	int rc = config_parse("test.yaml", yaml, strlen(yaml), &c, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	free(yaml);
	return c;
}

static const char *refusal(const struct plugin_set *s, const char *file)
{
	char *path = xasprintf("%s/%s", FIXDIR, file);
	const char *r = NULL;
	for (size_t i = 0; i < s->n_refused; i++)
		if (!strcmp(s->refused[i].path, path))
			r = s->refused[i].reason;
	free(path);
	return r;
}

static const struct loaded_plugin *loaded(const struct plugin_set *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i].desc->name, name))
			return &s->v[i];
	return NULL;
}

START_TEST(refusals)
{
	struct pd_config *c = cfg_for(FIXDIR, NULL);
	struct plugin_set *s = NULL;
	int rc = plugins_load(c, false, &s, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);

	ck_assert_str_eq(refusal(s, "bad-major.so"), "ABI 2.1 not supported (host 1.1)");
	ck_assert_str_eq(refusal(s, "bad-minor.so"),
			 "ABI 1.9 is newer than the host's 1.1: upgrade paddock");
	ck_assert_str_eq(refusal(s, "short-size.so"), "descriptor size 16 too small (need 64)");
	ck_assert_str_eq(refusal(s, "no-entry.so"),
			 "no symbol paddock_plugin_entry: not a Paddock plugin");
	ck_assert_str_eq(refusal(s, "unknown-kind.so"), "unknown kind 7");
	ck_assert_str_eq(refusal(s, "bad-name.so"),
			 "invalid name \"Bad_Name\": use 1 to 64 lowercase letters, digits or '-'");
	ck_assert_str_eq(refusal(s, "dup-b.so"), "duplicate plugin name \"dup\" (already loaded "
			 "from " FIXDIR "/dup-a.so)");
	ck_assert_uint_eq(s->n_refused, 7);

	/* The bad ones did not stop the good ones; order is sorted by file. */
	ck_assert_uint_eq(s->n, 5);
	ck_assert_str_eq(s->v[0].path, FIXDIR "/create-fail.so");
	ck_assert_str_eq(s->v[1].path, FIXDIR "/dup-a.so");
	ck_assert_str_eq(s->v[2].path, FIXDIR "/good-context.so");
	ck_assert_str_eq(s->v[3].path, FIXDIR "/good-driver.so");
	ck_assert_str_eq(s->v[4].path, FIXDIR "/old-abi.so");
	/* A 1.0 driver loads; its 1.1 ops, beyond its table, read as NULL. */
	const struct loaded_plugin *lp = loaded(s, "old-abi");
	ck_assert_uint_eq(lp->desc->abi_minor, 0);
	ck_assert_ptr_null(PLUGIN_DRIVER_OP(lp, parser_peek));
	ck_assert_ptr_null(PLUGIN_DRIVER_OP(lp, renderer_line));
	ck_assert_ptr_nonnull(PLUGIN_DRIVER_OP(lp, parser_free));
	lp = loaded(s, "good-driver");
	ck_assert_uint_eq(lp->desc->kind, PADDOCK_KIND_DRIVER);
	ck_assert_str_eq(lp->desc->version, "0.0.1");
	ck_assert(!lp->enabled);
	ck_assert_ptr_null(lp->instance);
	/* Nothing enabled: nothing to look up. */
	ck_assert_ptr_null(plugins_driver(s, "good-driver"));
	ck_assert_ptr_null(plugins_context(s, "FixtureText"));
	plugins_free(s);
	config_free(c);
	plugins_free(NULL);
}
END_TEST

START_TEST(instantiate_enabled)
{
	struct pd_config *c = cfg_for(FIXDIR, "drivers:\n"
					      "  good-driver: {settings: {greeting: bonjour}}\n"
					      "  dup: {enabled: false}\n"
					      "contexts:\n"
					      "  good-context: {}\n");
	struct plugin_set *s = NULL;
	int rc = plugins_load(c, true, &s, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);

	const struct loaded_plugin *d = plugins_driver(s, "good-driver");
	ck_assert_ptr_nonnull(d);
	ck_assert(d->enabled);
	ck_assert_ptr_nonnull(d->instance);
	ck_assert_ptr_nonnull(d->host);
	ck_assert_ptr_null(plugins_driver(s, "dup"));          /* disabled */
	ck_assert_ptr_null(plugins_driver(s, "create-fail"));  /* not listed */
	ck_assert_ptr_null(plugins_driver(s, "good-context")); /* not a driver */
	const struct loaded_plugin *x = plugins_context(s, "FixtureText");
	ck_assert_ptr_nonnull(x);
	ck_assert_str_eq(x->desc->name, "good-context");
	ck_assert_ptr_null(plugins_context(s, "Text"));

	/* The driver read its setting through host->config_get. */
	struct run_plan p;
	plan_init(&p, "default", 0, 0);
	struct paddock_plan_builder b;
	plan_builder(&p, &b);
	struct paddock_task_view task = { .size = sizeof(task), .name = "t" };
	rc = plugin_driver_ops(d)->entrypoint(d->instance, &task, &b, err, sizeof(err));
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(p.command, "/bin/echo");
	ck_assert_uint_eq(p.args.n, 1);
	ck_assert_str_eq(p.args.v[0], "bonjour");
	plan_free(&p);
	plugins_free(s);
	config_free(c);
}
END_TEST

/* Enabling a plugin that cannot be used stops startup with its reason. */
static void enabled_fails(const char *yaml, bool instantiate, const char *want)
{
	struct pd_config *c = cfg_for(FIXDIR, yaml);
	struct plugin_set *s = NULL;
	int rc = plugins_load(c, instantiate, &s, err, sizeof(err));
	ck_assert_int_lt(rc, 0);
	ck_assert_ptr_null(s);
	ck_assert_str_eq(err, want);
	config_free(c);
}

START_TEST(enabled_bad)
{
	enabled_fails("drivers:\n  good-driver: {}\n  bad-major: {}\n", false,
		      FIXDIR "/bad-major.so: ABI 2.1 not supported (host 1.1)");
	enabled_fails("drivers:\n  short-size: {}\n", true,
		      FIXDIR "/short-size.so: descriptor size 16 too small (need 64)");
	enabled_fails("drivers:\n  no-entry: {}\n", true,
		      FIXDIR "/no-entry.so: no symbol paddock_plugin_entry: not a Paddock plugin");
	enabled_fails("drivers:\n  good-driver: {}\n  create-fail: {}\n", true,
		      FIXDIR "/create-fail.so: create failed: settings.token: required: set it in "
		      "the config");
	enabled_fails("drivers:\n  good-driver: {}\n  nope: {}\n", false,
		      "test.yaml:4:3: drivers.nope: plugin \"nope\" is enabled but was not found in "
		      FIXDIR ": install it, fix pluginDirs (or PADDOCK_PLUGIN_PATH) or set "
		      "enabled: false");
	enabled_fails("contexts:\n  good-driver: {}\n", false,
		      FIXDIR "/good-driver.so: plugin \"good-driver\" is a driver plugin but "
		      "test.yaml:3:3 lists it under contexts: move it to drivers");

	/* create-fail is fine while it is not instantiated. */
	struct pd_config *c = cfg_for(FIXDIR, "drivers:\n  create-fail: {}\n");
	struct plugin_set *s = NULL;
	ck_assert_int_eq(plugins_load(c, false, &s, err, sizeof(err)), 0);
	plugins_free(s);
	config_free(c);
}
END_TEST

static char *tmpdir_with_driver(unsigned file_mode)
{
	char tmpl[] = "/tmp/paddock-loader-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	char *data = NULL;
	size_t len = 0;
	ck_assert_int_eq(read_file(FIXDIR "/good-driver.so", 64 << 20, &data, &len), 0);
	char *dst = xasprintf("%s/good-driver.so", tmpl);
	ck_assert_int_eq(write_file_atomic(dst, data, len, file_mode), 0);
	free(dst);
	free(data);
	return xstrdup(tmpl);
}

static struct plugin_set *load_dir(const char *dir, const char *yaml, int want_rc)
{
	struct pd_config *c = cfg_for(dir, yaml);
	struct plugin_set *s = NULL;
	int rc = plugins_load(c, false, &s, err, sizeof(err));
	ck_assert_msg(rc == want_rc, "rc %d: %s", rc, err);
	config_free(c);
	return s;
}

START_TEST(permissions)
{
	char *dir = tmpdir_with_driver(0755);
	char *so = xasprintf("%s/good-driver.so", dir);

	struct plugin_set *s = load_dir(dir, NULL, 0);
	ck_assert_uint_eq(s->n, 1);
	ck_assert_uint_eq(s->n_refused, 0);
	plugins_free(s);

	/* Group-writable file. */
	ck_assert_int_eq(chmod(so, 0664), 0);
	s = load_dir(dir, NULL, 0);
	ck_assert_uint_eq(s->n, 0);
	ck_assert_uint_eq(s->n_refused, 1);
	ck_assert_str_eq(s->refused[0].path, so);
	ck_assert_str_eq(s->refused[0].reason,
			 "writable by group or others (mode 0664): chmod go-w");
	plugins_free(s);

	/* ... and it is the reason startup fails when it is enabled. */
	s = load_dir(dir, "drivers:\n  good-driver: {}\n", -ENOEXEC);
	char *want = xasprintf("%s: writable by group or others (mode 0664): chmod go-w", so);
	ck_assert_str_eq(err, want);
	free(want);

	/* A symlink to a world-writable file is refused as the file would be. */
	ck_assert_int_eq(chmod(so, 0666), 0);
	char *real = xasprintf("%s/real.bin", dir);
	ck_assert_int_eq(rename(so, real), 0);
	ck_assert_int_eq(symlink(real, so), 0);
	s = load_dir(dir, NULL, 0);
	ck_assert_uint_eq(s->n, 0);
	ck_assert_uint_eq(s->n_refused, 1);
	ck_assert_str_eq(s->refused[0].reason,
			 "writable by group or others (mode 0666): chmod go-w");
	plugins_free(s);
	/* A symlink to a safe file loads. */
	ck_assert_int_eq(chmod(real, 0755), 0);
	s = load_dir(dir, NULL, 0);
	ck_assert_uint_eq(s->n, 1);
	plugins_free(s);

	/* Group-writable directory: nothing in it is loaded. */
	ck_assert_int_eq(chmod(dir, 0770), 0);
	s = load_dir(dir, NULL, 0);
	ck_assert_uint_eq(s->n, 0);
	ck_assert_uint_eq(s->n_refused, 1);
	ck_assert_str_eq(s->refused[0].path, dir);
	ck_assert_str_eq(s->refused[0].reason,
			 "plugin directory writable by group or others (mode 0770): chmod go-w");
	plugins_free(s);
	ck_assert_int_eq(chmod(dir, 0700), 0);

	/* A missing directory is no error (nothing installed there yet). */
	char *missing = xasprintf("%s/none", dir);
	s = load_dir(missing, NULL, 0);
	ck_assert_uint_eq(s->n, 0);
	ck_assert_uint_eq(s->n_refused, 0);
	plugins_free(s);
	free(missing);

	ck_assert_int_eq(rm_rf(dir), 0);
	free(real);
	free(so);
	free(dir);
}
END_TEST

START_TEST(plugin_path_env)
{
	/* PADDOCK_PLUGIN_PATH replaces pluginDirs. */
	setenv("PADDOCK_PLUGIN_PATH", "/nonexistent:" FIXDIR, 1);
	const char *yaml = "pluginDirs: [/elsewhere]\n";
	struct pd_config *c = NULL;
	ck_assert_int_eq(config_parse("t.yaml", yaml, strlen(yaml), &c, err, sizeof(err)), 0);
	unsetenv("PADDOCK_PLUGIN_PATH");
	struct plugin_set *s = NULL;
	ck_assert_int_eq(plugins_load(c, false, &s, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(loaded(s, "good-driver"));
	plugins_free(s);
	config_free(c);
}
END_TEST

/* ---- host services ------------------------------------------------ */

static int fake_secret(void *ctx, const char *ns, const char *name, const char *key,
		       char **value, size_t *len, char *e, size_t elen)
{
	ck_assert_str_eq(ctx, "backend");
	if (strcmp(ns, "default") || strcmp(name, "creds") || strcmp(key, "apiKey"))
		return errf(e, elen, -ENOENT, "secret %s/%s has no key %s", ns, name, key);
	*value = xstrdup("s3cret");
	*len = 6;
	return 0;
}

static int fake_object(void *ctx, const char *kind, const char *ns, const char *name,
		       struct paddock_object **out, char *e, size_t elen)
{
	(void)ctx;
	if (strcmp(kind, "ConfigMap") || strcmp(ns, "default") || strcmp(name, "cm"))
		return errf(e, elen, -ENOENT, "%s %s/%s not found", kind, ns, name);
	struct paddock_object *o = host_object_new();
	host_object_add(o, "zeta", "z", 1);
	host_object_add(o, "alpha", "a\0b", 3);
	host_object_add(o, "mid", "old", 3);
	host_object_add(o, "mid", "new", 3);
	*out = o;
	return 0;
}

START_TEST(host_services)
{
	struct pd_config *c = cfg_for("/nonexistent", "drivers:\n  x: {settings: {k: v}}\n");
	struct paddock_host *h = host_new(c, "x");
	ck_assert_uint_eq(h->size, sizeof(struct paddock_host));
	ck_assert_uint_eq(h->abi_major, PADDOCK_ABI_MAJOR);
	ck_assert_uint_eq(h->abi_minor, PADDOCK_ABI_MINOR);
	ck_assert_str_eq(h->config_get(h->ctx, "k"), "v");
	ck_assert_ptr_null(h->config_get(h->ctx, "other"));
	h->log(h->ctx, PADDOCK_LOG_DEBUG, "hello %d", 42);

	/* No backend installed: a clear -ENOENT. */
	host_set_backend(NULL);
	char *val = NULL;
	size_t len = 0;
	int rc = h->secret_get(h->ctx, "default", "creds", "apiKey", &val, &len, err, sizeof(err));
	ck_assert_int_eq(rc, -ENOENT);
	ck_assert_ptr_null(val);
	ck_assert_str_eq(err, "secret default/creds key \"apiKey\": no secret store is available "
			      "here (secrets are only resolved while a run is being prepared)");
	struct paddock_object *o = NULL;
	rc = h->object_get(h->ctx, "ConfigMap", "default", "cm", &o, err, sizeof(err));
	ck_assert_int_eq(rc, -ENOENT);
	ck_assert_ptr_null(o);

	struct host_backend be = { .ctx = (void *)"backend", .secret_get = fake_secret,
				   .object_get = fake_object };
	host_set_backend(&be);
	rc = h->secret_get(h->ctx, "default", "creds", "apiKey", &val, &len, err, sizeof(err));
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(val, "s3cret");
	ck_assert_uint_eq(len, 6);
	h->secret_free(h->ctx, val, len);
	h->secret_free(h->ctx, NULL, 0);
	rc = h->secret_get(h->ctx, "default", "creds", "other", &val, &len, err, sizeof(err));
	ck_assert_int_eq(rc, -ENOENT);
	ck_assert_str_eq(err, "secret default/creds has no key other");

	rc = h->object_get(h->ctx, "ConfigMap", "default", "cm", &o, err, sizeof(err));
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(o->n, 3);
	ck_assert_str_eq(o->items[0].key, "alpha");
	ck_assert_uint_eq(o->items[0].len, 3);
	ck_assert_int_eq(memcmp(o->items[0].value, "a\0b", 4), 0);
	ck_assert_str_eq(o->items[1].key, "mid");
	ck_assert_str_eq(o->items[1].value, "new");
	ck_assert_str_eq(o->items[2].key, "zeta");
	h->object_free(h->ctx, o);
	h->object_free(h->ctx, NULL);
	host_set_backend(NULL);

	/* Requests without a URL are refused before any network access. */
	struct paddock_http_request req = { .size = sizeof(req) };
	char *body = NULL;
	long status = 0;
	rc = h->http_get(h->ctx, &req, &body, &len, &status, err, sizeof(err));
	ck_assert_int_eq(rc, -EINVAL);
	ck_assert_ptr_null(body);
	h->free(h->ctx, NULL);
	host_free(h);
	host_free(NULL);
	config_free(c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("loader");
	TCase *tc = tcase_create("loader");
	tcase_add_test(tc, refusals);
	tcase_add_test(tc, instantiate_enabled);
	tcase_add_test(tc, enabled_bad);
	tcase_add_test(tc, permissions);
	tcase_add_test(tc, plugin_path_env);
	tcase_add_test(tc, host_services);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

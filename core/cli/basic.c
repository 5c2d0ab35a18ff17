/* SPDX-License-Identifier: MIT */
/*
 * cli/basic.c - `paddock version`, `paddock plugins`, `paddock config check`.
 */
#include "config.h"
#include "cli/cli.h"
#include "cli/ctlinfo.h"
#include "local/backend.h"

#include "base/util.h"

#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct cli_command cmd_version;
extern const struct cli_command cmd_plugins;
extern const struct cli_command cmd_config;

static const char *kind_str(uint32_t kind)
{
	return kind == PADDOCK_KIND_DRIVER ? "driver" : "context";
}

/* ---- version ------------------------------------------------------ */

static int version_fn(struct cli_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	if (argc > 1)
		return cli_usage_error(&cmd_version, "unexpected argument \"%s\"", argv[1]);
	printf("%s %s (plugin ABI %d.%d)\n", PACKAGE_NAME, PACKAGE_VERSION, PADDOCK_ABI_MAJOR,
	       PADDOCK_ABI_MINOR);
#ifdef PADDOCK_TEST_HOOKS
	printf("test hooks: compiled in (a test build: not for production)\n");
#endif
	return CLI_EXIT_OK;
}

const struct cli_command cmd_version = {
	.name = "version",
	.summary = "print the version and the plugin ABI version",
	.usage =
		"Usage: paddock version\n"
		"\n"
		"Print the Paddock version and the plugin ABI version it loads.  Plugins\n"
		"built for ABI MAJOR.MINOR load when MAJOR matches and MINOR is not newer.\n"
		"\n"
		"Example:\n"
		"  $ paddock version\n"
		"  paddock " PACKAGE_VERSION " (plugin ABI 1.1)\n",
	.fn = version_fn,
};

/* ---- plugins ------------------------------------------------------ */

static const char *plugin_status(const struct pd_config *cfg, const struct loaded_plugin *lp)
{
	const struct pd_plugin_conf *pc = config_plugin(cfg, lp->desc->name);
	return pc && pc->enabled ? "enabled" : "available";
}

static void print_table(const struct pd_config *cfg, const struct plugin_set *s)
{
	int wk = 7, wn = 4, wv = 7;
	for (size_t i = 0; i < s->n; i++) {
		const struct paddock_plugin *d = s->v[i].desc;
		int n = (int)strlen(d->name);
		int v = (int)strlen(d->version ? d->version : "-");
		wn = wn > n ? wn : n;
		wv = wv > v ? wv : v;
	}
	printf("%-*s  %-*s  %-*s  %-5s  %-9s  %s\n", wk, "KIND", wn, "NAME", wv, "VERSION", "ABI",
	       "STATUS", "PATH");
	for (size_t i = 0; i < s->n; i++) {
		const struct loaded_plugin *lp = &s->v[i];
		char abi[24];
		snprintf(abi, sizeof(abi), "%u.%u", (unsigned)lp->desc->abi_major,
			 (unsigned)lp->desc->abi_minor);
		printf("%-*s  %-*s  %-*s  %-5s  %-9s  %s\n", wk, kind_str(lp->desc->kind), wn,
		       lp->desc->name, wv, lp->desc->version ? lp->desc->version : "-", abi,
		       plugin_status(cfg, lp), lp->path);
	}
	if (s->n == 0) {
		printf("(no plugins found in");
		for (size_t i = 0; i < cfg->plugin_dirs.n; i++)
			printf(" %s", cfg->plugin_dirs.v[i]);
		printf(")\n");
	}
	bool old = false;
	for (size_t i = 0; i < s->n; i++) {
		const struct paddock_plugin *d = s->v[i].desc;
		if (d->kind != PADDOCK_KIND_DRIVER || d->abi_minor >= 1)
			continue;
		if (!old)
			printf("\nwarnings:\n");
		old = true;
		printf("  driver %s is built for ABI %u.%u: it cannot route its credential through the egress proxy, so its agents hold their key; rebuild it against this Paddock's headers\n",
		       d->name, (unsigned)d->abi_major, (unsigned)d->abi_minor);
	}
	if (s->n_refused) {
		printf("\nrefused:\n");
		for (size_t i = 0; i < s->n_refused; i++)
			printf("  %s: %s\n", s->refused[i].path, s->refused[i].reason);
	}
}

static json_object *jstr(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

static void print_json(const struct pd_config *cfg, const struct plugin_set *s, const char *error)
{
	json_object *root = json_object_new_object();
	json_object *arr = json_object_new_array();
	for (size_t i = 0; i < s->n; i++) {
		const struct loaded_plugin *lp = &s->v[i];
		const struct paddock_plugin *d = lp->desc;
		json_object *o = json_object_new_object();
		char abi[24];
		snprintf(abi, sizeof(abi), "%u.%u", (unsigned)d->abi_major, (unsigned)d->abi_minor);
		json_object_object_add(o, "kind", jstr(kind_str(d->kind)));
		json_object_object_add(o, "name", jstr(d->name));
		json_object_object_add(o, "version", jstr(d->version));
		json_object_object_add(o, "abi", jstr(abi));
		json_object_object_add(o, "status", jstr(plugin_status(cfg, lp)));
		json_object_object_add(o, "path", jstr(lp->path));
		json_object_object_add(o, "description", jstr(d->description));
		json_object_object_add(o, "license", jstr(d->license));
		if (d->kind == PADDOCK_KIND_CONTEXT)
			json_object_object_add(o, "type", jstr(plugin_context_ops(lp)->type));
		json_object_array_add(arr, o);
	}
	json_object_object_add(root, "plugins", arr);
	arr = json_object_new_array();
	for (size_t i = 0; i < s->n_refused; i++) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "path", jstr(s->refused[i].path));
		json_object_object_add(o, "reason", jstr(s->refused[i].reason));
		json_object_array_add(arr, o);
	}
	json_object_object_add(root, "refused", arr);
	if (error)
		json_object_object_add(root, "error", jstr(error));
	puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
							  JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
}

static int plugins_fn(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	bool json = false;
	int c;
	while ((c = getopt_long(argc, argv, ":o:", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			if (!strcmp(optarg, "json"))
				json = true;
			else if (!strcmp(optarg, "table"))
				json = false;
			else
				return cli_usage_error(&cmd_plugins, "-o: unsupported value \"%s\": "
						       "use table or json", optarg);
			break;
		default:
			return cli_option_error(&cmd_plugins, c, argc, argv);
		}
	}
	if (optind < argc)
		return cli_usage_error(&cmd_plugins, "unexpected argument \"%s\"", argv[optind]);
	if (cli_load_config(ctx) < 0)
		return CLI_EXIT_CONFIG;

	struct pd_config *cfg = ctx->cfg;
	char err[1024] = "";
	struct plugin_set *s = NULL;
	int rc = plugins_load(cfg, false, &s, err, sizeof(err));
	if (rc < 0) {
		/* Still show what is there: scan again without requiring the
		 * enabled plugins, then report why startup would fail. */
		bool *saved = xcalloc(cfg->n_plugins, sizeof(bool));
		for (size_t i = 0; i < cfg->n_plugins; i++) {
			saved[i] = cfg->plugins[i].enabled;
			cfg->plugins[i].enabled = false;
		}
		char err2[1024];
		int rc2 = plugins_load(cfg, false, &s, err2, sizeof(err2));
		for (size_t i = 0; i < cfg->n_plugins; i++)
			cfg->plugins[i].enabled = saved[i];
		free(saved);
		if (rc2 < 0)
			s = NULL;
	}
	if (s) {
		if (json)
			print_json(cfg, s, rc < 0 ? err : NULL);
		else
			print_table(cfg, s);
	}
	plugins_free(s);
	if (rc < 0) {
		cli_error("%s", err);
		return CLI_EXIT_CONFIG;
	}
	return CLI_EXIT_OK;
}

const struct cli_command cmd_plugins = {
	.name = "plugins",
	.summary = "list the plugins found, their ABI and status, and refused ones",
	.usage =
		"Usage: paddock plugins [-o table|json]\n"
		"\n"
		"List every plugin found in the plugin directories (pluginDirs in the\n"
		"config, or $PADDOCK_PLUGIN_PATH), in the order they are loaded:\n"
		"\n"
		"  KIND     driver or context\n"
		"  NAME     the name used in the config and in Task.spec.type\n"
		"  VERSION  the plugin's own version\n"
		"  ABI      the plugin ABI it was built for (MAJOR.MINOR)\n"
		"  STATUS   enabled (the config enables it) or available\n"
		"  PATH     the shared object\n"
		"\n"
		"Plugins that were refused follow under \"refused:\", one line each with\n"
		"the file and the reason (wrong ABI, writable by group or others,\n"
		"duplicate name, ...).\n"
		"\n"
		"Options:\n"
		"  -o, --output FMT   table (default) or json\n"
		"\n"
		"Exit status: 0 (also when some plugins were refused), 4 when a plugin the\n"
		"config enables is refused or missing.\n"
		"\n"
		"Examples:\n"
		"  $ paddock plugins\n"
		"  KIND     NAME         VERSION  ABI    STATUS     PATH\n"
		"  driver   claude-code  0.1.0    1.0    enabled    /usr/local/lib/paddock/plugins/claude-code.so\n"
		"  context  text         0.1.0    1.0    enabled    /usr/local/lib/paddock/plugins/text.so\n"
		"\n"
		"  refused:\n"
		"    /usr/local/lib/paddock/plugins/old.so: ABI 2.0 not supported (host 1.1)\n"
		"\n"
		"  $ PADDOCK_PLUGIN_PATH=$HOME/.local/lib/paddock paddock plugins -o json\n",
	.fn = plugins_fn,
};

/* ---- config ------------------------------------------------------- */

/* Each enabled driver's CLI, looked up in a real sandbox (local backend). */
static int probe_clis(struct cli_ctx *ctx)
{
	if (!str_eq(ctx->cfg->backend, "local"))
		return 0;
	char err[1024];
	struct runtime *rt = NULL;
	if (runtime_open(ctx->cfg, ctx->plugins, &rt, err, sizeof(err)) < 0) {
		cli_error("%s", err);
		return -1;
	}
	int bad = 0;
	for (size_t i = 0; i < ctx->plugins->n; i++) {
		const struct loaded_plugin *lp = &ctx->plugins->v[i];
		if (!lp->enabled || lp->desc->kind != PADDOCK_KIND_DRIVER)
			continue;
		if (runtime_probe_cli(rt, lp->desc->name, err, sizeof(err)) < 0) {
			cli_error("%s", err);
			bad++;
		}
	}
	runtime_close(rt);
	return bad ? -1 : 0;
}

static int config_check(struct cli_ctx *ctx, int argc, char **argv)
{
	if (argc > 2)
		return cli_usage_error(&cmd_config, "check: expected at most one FILE");
	if (argc == 2) {
		ctx->config_path = argv[1];
		ctx->config_explicit = true;
	}
	if (cli_load_config(ctx) < 0)
		return CLI_EXIT_FAILED;
	/* Not cli_load_plugins(): refusals are reported here, as warnings. */
	char err[1024];
	if (!ctx->plugins &&
	    plugins_load(ctx->cfg, true, &ctx->plugins, err, sizeof(err)) < 0) {
		cli_error("%s", err);
		return CLI_EXIT_FAILED;
	}
	const struct pd_config *cfg = ctx->cfg;
	size_t nd = 0, nc = 0;
	for (size_t i = 0; i < ctx->plugins->n; i++) {
		const struct loaded_plugin *lp = &ctx->plugins->v[i];
		if (!lp->enabled)
			continue;
		if (lp->desc->kind == PADDOCK_KIND_DRIVER)
			nd++;
		else
			nc++;
	}
	for (size_t i = 0; i < ctx->plugins->n_refused; i++)
		fprintf(stderr, "paddock: warning: %s: %s\n", ctx->plugins->refused[i].path,
			ctx->plugins->refused[i].reason);
	if (probe_clis(ctx) < 0)
		return CLI_EXIT_FAILED;
	if (cfg->path)
		printf("config OK: %s (%zu driver%s, %zu context%s enabled)\n", cfg->path, nd,
		       nd == 1 ? "" : "s", nc, nc == 1 ? "" : "s");
	else
		printf("config OK: %s does not exist, using defaults (%zu drivers, %zu contexts "
		       "enabled)\n", ctx->config_path, nd, nc);
	fflush(stdout);
	ctl_config_note(cfg);
	return CLI_EXIT_OK;
}

static int config_fn(struct cli_ctx *ctx, int argc, char **argv)
{
	if (argc < 2)
		return cli_usage_error(&cmd_config, "missing subcommand: use check");
	if (!strcmp(argv[1], "check"))
		return config_check(ctx, argc - 1, argv + 1);
	return cli_usage_error(&cmd_config, "unknown subcommand \"%s\": use check", argv[1]);
}

const struct cli_command cmd_config = {
	.name = "config",
	.summary = "check the config file and the plugins it enables",
	.usage =
		"Usage: paddock config check [FILE]\n"
		"\n"
		"Read the config file (FILE, else --config, else $PADDOCK_CONFIG, else\n"
		"the default path), load every plugin and create an instance of each\n"
		"enabled one, exactly as the controller does at startup.  On the local\n"
		"backend, also look each enabled driver's CLI up inside a real sandbox,\n"
		"as its runs see it (a CLI the sandbox cannot see fails the check).\n"
		"Prints\n"
		"\"config OK: PATH (N drivers, M contexts enabled)\" or the first problem,\n"
		"as FILE:LINE:COLUMN: field: problem: fix.  Plugins that were refused but\n"
		"are not enabled are printed as warnings.\n"
		"\n"
		"Exit status: 0 when the check passes, 1 when it fails.\n"
		"\n"
		"Examples:\n"
		"  $ paddock config check /etc/paddock/paddock.yaml\n"
		"  config OK: /etc/paddock/paddock.yaml (5 drivers, 5 contexts enabled)\n"
		"\n"
		"  $ paddock --config bad.yaml config check\n"
		"  paddock: bad.yaml:3:1: unknown key \"limit\": valid keys are backend, ...\n",
	.fn = config_fn,
};
